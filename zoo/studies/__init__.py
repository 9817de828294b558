"""Studies, one module a study: ``python -m zoo.experiment STUDY`` runs one.

A study retrains variants over seeds with :func:`zoo.studies.common.trained` (one folder
per run under ``OUT/STUDY/models/``, read back when done, so an interrupted study
resumes) and returns the text of ``OUT/STUDY/results.md``: its table (mean ± std over
the seeds) next to the seed's figure, its checks and plots. Adding a study is one file:
a function decorated with :func:`register`, and its module named on the import line below.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from data_prep.errors import ZooError


@dataclass(frozen=True)
class Study:
    name: str
    run: Callable[..., str]  # (rounds, out folder, data_dir) -> the text of results.md
    rounds: int  # seeds per variant unless --rounds says otherwise
    summary: str  # the first line of its module's docstring, less the name

    def __call__(self, rounds: int | None, out: Path, data_dir=None) -> str:
        return self.run(rounds or self.rounds, out, data_dir)


_STUDIES: dict[str, Study] = {}


def register(name: str, rounds: int = 1):
    """Decorator: register ``function(rounds, out, data_dir) -> str`` as the study ``name``."""
    def add(function):
        if name in _STUDIES:
            raise ValueError(f"study {name!r} registered twice")
        doc = (sys.modules[function.__module__].__doc__ or "").strip().splitlines()
        _STUDIES[name] = Study(name, function, rounds, doc[0].split(": ", 1)[-1] if doc else "")
        return function
    return add


def list_studies() -> list[str]:
    return sorted(_STUDIES)


def get_study(name: str) -> Study:
    if name not in _STUDIES:
        raise ZooError(f"unknown study {name!r}; the zoo has: {', '.join(list_studies())}")
    return _STUDIES[name]


from zoo.studies import (  # noqa: E402, F401  (importing a module registers its study)
    activations_depth_width, colored_usps, curve, gradcheck, house_prices, init, losses, lr_batch, mnist_light,
    mnist_pairs, mnist_pairs_table1, mnist_variants, optimizers, scratch_rates,
)
