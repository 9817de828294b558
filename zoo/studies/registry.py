"""The studies' registry: a study name -> the function that runs it. Like ``zoo.registry`` for
tasks, it knows no study: the ``zoo.studies`` package imports it, then every study module."""

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
