"""Rank candidate recipes for the mnist_pairs default on held-out training-pool pairs, never the test.

A round's own 500 validation pairs cannot separate 1.2% from 1.0% error (one pair is 0.2 points), so
each candidate is also scored on 5,000 more pairs drawn from the training images that round left
unused (``data_prep.mnist_pairs.held_out_pairs``): comparison error and digit error (10,000 digits).
Each candidate is one network (the default's recipe is an ensemble of two: ``default+default_m1``
here). Ensembles are scored from their members' saved models: the mean of the digit distributions,
then P(a <= b) from it (the saved default averages its members' P(a <= b) instead: the same errors on
rounds 10-13). Fits are resumable and reused (one folder a fit).
Candidates are built with the default's view averaging; ``--plain`` also scores each without it,
``--angles`` with other rotated views beside the shifts (the default's own: +-5 and +-10 degrees).

    python benchmarks/mnist_pairs_recipes.py --rounds 10 11 12 --candidates default zoom wide \
        --ensembles default+default_m1 --out reports/mnist_pairs_recipes
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.mnist_pairs import held_out_pairs
from zoo import artifacts
from zoo.members import member_build
from zoo.layers import ProbabilityLessOrEqual
from zoo.registry import get_task
from zoo.studies.common import markdown, summarize

# name -> builder keyword arguments, Recipe overrides, init member and epochs (None: the recipe's).
# Member k > 0 draws other initial weights (and augmentation draws) on the same round's pairs.
CANDIDATES = {
    "default": {},
    **{f"default_m{k}": {"member": k} for k in (1, 2)},
    "zoom": {"build": {"zoom": 0.1}},
    "elastic": {"build": {"elastic": 8.5}},  # Simard et al.'s 28x28 setting scaled to 14x14
    "elastic_light": {"build": {"elastic": 5.0}},
    "wide": {"build": {"width": 48}},
    **{f"e60_m{k}": {"member": k, "epochs": 60} for k in range(3)},
    "adamw": {"recipe": {"optimizer": "adamw", "weight_decay": 0.05}},
    "strong_aug": {"build": {"rotation": 15, "shift": 0.15, "zoom": 0.1}},
    "light_aug": {"build": {"rotation": 5, "shift": 0.07}},
    "shift_only": {"build": {"rotation": 0, "shift": 0.1}},
}


def member_spec(candidate: dict, round_: int):
    """One network of the default's recipe (members=1), as the candidate changes it; member k > 0 is
    seeded as the default's own ensemble members are (``zoo.ensemble.member_build``)."""
    spec = get_task("mnist_pairs").variants["default"]
    build = functools.partial(spec.build, **candidate.get("build", {}))
    recipe = dataclasses.replace(spec.recipe, **{"members": 1, **candidate.get("recipe", {})})
    return dataclasses.replace(spec, build=member_build(build, candidate.get("member", 0), round_), recipe=recipe,
                               description=f"{spec.description}; candidate {candidate}")


def fitted(name: str, round_: int, out: Path, data_dir=None, fit_missing=True) -> Path:
    from zoo.training import fit

    folder = out / "models" / name / f"round{round_}"  # models/: ignored by git, like every study's
    model = folder / "mnist_pairs.keras"
    if not model.exists() and fit_missing:
        candidate = CANDIDATES[name]
        fit("mnist_pairs", "default", seed=round_, epochs=candidate.get("epochs"), data_dir=data_dir, out_dir=folder,
            verbose=0, spec=member_spec(candidate, round_))
    return model


def digit_distributions(model_path: Path, x, plain: bool, angle_sets=()) -> dict:
    """{"": (2 digits, pairs, 10)}: the model's digit distributions on the pairs (shift-averaged, as
    the default predicts); with ``plain`` also " plain": its digit branch once on each digit, without
    the averaging; for each set of ``angle_sets`` " rot A,B": the shifts and rotations by those
    degrees averaged (``ShiftAveraged(angles=...)``). Paired comparisons on the same fit, loaded once."""
    import keras

    from zoo.core import load_model
    from zoo.layers import ShiftAveraged

    model = load_model(model_path)
    out = model.predict(x, batch_size=500, verbose=0)
    kinds = {"": np.stack([out["digit_a"], out["digit_b"]])}
    branch = model.get_layer("shift_averaged").net
    if plain:
        kinds[" plain"] = np.stack([branch.predict(x[..., i : i + 1], batch_size=500, verbose=0) for i in (0, 1)])
    for angles in angle_sets:
        inputs = keras.Input((14, 14, 1))
        views = keras.Model(inputs, ShiftAveraged(branch, angles=angles)(inputs))
        label = f" rot {','.join(f'{a:g}' for a in angles)}" if angles else " shifts only"
        kinds[label] = np.stack(
            [views.predict(x[..., i : i + 1], batch_size=500, verbose=0) for i in (0, 1)])
    return kinds


def scores(p_a, p_b, y) -> dict:
    p_less_equal = np.asarray(ProbabilityLessOrEqual()([p_a, p_b]))[:, 0]  # as the default computes it
    comparison = (p_less_equal > 0.5) == (y["comparison"] == 1)
    digits = np.concatenate([p_a.argmax(1) == y["digit_a"], p_b.argmax(1) == y["digit_b"]])
    return {"comparison_error_pct": 100 * (1 - comparison.mean()), "digit_error_pct": 100 * (1 - digits.mean())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--candidates", nargs="+", default=["default"], choices=sorted(CANDIDATES))
    parser.add_argument("--ensembles", nargs="*", default=[], help="members joined by +, e.g. default+default_m1")
    parser.add_argument("--held-out", type=int, default=5000, help="held-out training-pool pairs a round")
    parser.add_argument("--out", type=Path, default=Path("reports/mnist_pairs_recipes"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--plain", action="store_true",
                        help="also score each row without the shift averaging (same fits)")
    parser.add_argument("--angles", nargs="*", default=[], metavar="A,B,...",
                        help="also score each row with rotations by +-these degrees added to the shifts (same "
                             "fits), each set one row, e.g. --angles 5,10 8; none: the four shifts alone")
    parser.add_argument("--scores-only", action="store_true", help="score the finished fits, start none")
    args = parser.parse_args(argv)

    angle_sets = [() if angles == "none" else tuple(sign * float(a) for a in angles.split(",") for sign in (-1, 1))
                  for angles in args.angles]
    rows = []
    for round_ in args.rounds:
        x, y = held_out_pairs(args.data_dir, round_, args.held_out)
        for name in args.candidates + args.ensembles:
            members = name.split("+")
            paths = [fitted(member, round_, args.out, args.data_dir, not args.scores_only) for member in members]
            if not all(p.exists() for p in paths):
                continue
            cards = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
            members = [digit_distributions(p, x, args.plain, angle_sets) for p in paths]
            for kind in members[0]:
                p_a, p_b = np.mean([m[kind] for m in members], axis=0)  # the ensemble's mean distributions
                rows.append({"candidate": name + kind, "round": round_, **scores(p_a, p_b, y),
                             "fit_seconds": sum(c["fit_seconds"] for c in cards)})
                print(json.dumps(rows[-1]), flush=True)
    if not rows:
        raise SystemExit(f"no finished fit under {args.out / 'models'} for these candidates and rounds")
    table = summarize(rows, "candidate", ["comparison_error_pct", "digit_error_pct", "fit_seconds"])
    table[("rounds", "mean")] = pd.DataFrame(rows).groupby("candidate", sort=False).size()
    table[("rounds", "std")] = 0.0
    text = (f"# mnist_pairs default: candidate recipes on held-out training-pool pairs\n\n"
            f"{args.held_out} held-out pairs ({2 * args.held_out} digits) a round from the training images the "
            f"round left unused; never the test pairs. Mean ± std over the rounds each candidate has of "
            f"{args.rounds}. Command: `python benchmarks/mnist_pairs_recipes.py {' '.join(argv or sys.argv[1:])}`\n\n"
            f"{markdown(table)}\n")
    print(text)
    with artifacts.atomic_path(args.out / "results.md") as tmp:
        tmp.write_text(text)


if __name__ == "__main__":
    main()
