"""What every study shares: fit-or-reuse a run, summarize runs, write the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from zoo import artifacts
from zoo.registry import get_task

EPOCHS: int | None = None  # --epochs: cap every fit of a study (quick looks, tests)


def trained(task_name, variant, seed, out: Path, data_dir=None, config: str = "", recipe_overrides=None,
            build_overrides=None, epochs=None) -> tuple[dict, Path]:
    """The card of (task, variant[, config], seed) in this study, fitting it first if needed.

    ``config`` names a modified variant (``recipe_overrides``/``build_overrides``, see
    :func:`zoo.training.fit`); a diverged fit gives its ``failed`` card instead of stopping the study.
    """
    from data_prep.errors import ZooError
    from zoo.training import fit_unless_done

    task = get_task(task_name)
    folder = out / "models" / config / f"seed{seed}" if config else out / "models" / f"seed{seed}"
    paths = artifacts.output_paths(folder, task.name, variant, task.default)
    failed = paths["card"].with_suffix(".failed.json")
    label = f"{task_name}/{variant} {config} seed {seed}"
    if failed.exists():
        print(f"{label}: diverged before, reading its card")
        return json.loads(failed.read_text()), paths["model"]
    try:
        return fit_unless_done(label, task_name, variant, folder, seed=seed, epochs=EPOCHS or epochs,
                               data_dir=data_dir, folds=0, verbose=0, recipe_overrides=recipe_overrides,
                               build_overrides=build_overrides)
    except ZooError as error:
        if not failed.exists():
            raise
        print(f"  {error}")
        return json.loads(failed.read_text()), paths["model"]


def diverged(card: dict) -> float:
    """1.0 for a run whose loss became NaN/inf (its card says failed), else 0.0: the share of such runs."""
    return float(str(card.get("status", "ok")).startswith("failed"))


def history(model_path: Path) -> pd.DataFrame:
    path = model_path.with_suffix(".history.csv")
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def kept_epoch_row(card: dict, model_path: Path) -> pd.Series:
    """The history row of the epoch whose weights the model kept."""
    log = pd.read_csv(model_path.with_suffix(".history.csv"))
    return log.iloc[card.get("best_epoch", len(log)) - 1]


def summarize(rows: list[dict], by: str, columns: list[str]) -> pd.DataFrame:
    """Mean and std of ``columns`` per value of ``by`` (a row a run)."""
    return pd.DataFrame(rows).groupby(by, sort=False)[columns].agg(["mean", "std"])


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def markdown(table: pd.DataFrame) -> str:
    columns = list(dict.fromkeys(c for c, _ in table.columns))
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in table.iterrows():
        cells = [f"{_number(row[(c, 'mean')])} ± {_number(row[(c, 'std')] if np.isfinite(row[(c, 'std')]) else 0)}"
                 if np.isfinite(row[(c, "mean")]) else "–" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(study, rounds, splits, table, checks, seed_figure, plots) -> str:
    """The text of results.md: data, machine, command, the table, the seed's figure, checks, plots."""
    from zoo.core import environment

    env = environment()
    lines = [
        f"# {study}: {rounds} seed(s)", "",
        f"Data: {splits.describe()}; figures on the test split, mean ± std over seeds 0..{rounds - 1}.",
        f"Machine: {env['machine']}; keras {env['keras']}, {env['backend']} {env['backend_version']}.",
        f"Command: `python -m zoo.experiment {study} --rounds {rounds}"
        + (f" --epochs {EPOCHS}`" if EPOCHS else "`") + (f" (every fit runs {EPOCHS} epochs)" if EPOCHS else ""),
        "",
        markdown(table), "", f"Seed's figure: {seed_figure}.", "",
        *[f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in checks], "",
        *[f"![{p}]({p})" for p in plots],
    ]
    return "\n".join(lines) + "\n"


def validation_sweep(study, task_name, variant, configs: dict, rounds, out, data_dir, target: float, when: str,
                     seed_figure: str) -> str:
    """Fit ``variant`` under each config (name: (recipe overrides, build overrides)) over the rounds, choose
    the config of the best mean validation accuracy at the kept epoch, and check its test accuracy."""
    rows = []
    for seed in range(rounds):
        for config, (recipe_overrides, build_overrides) in configs.items():
            card, path = trained(task_name, variant, seed, out, data_dir, config, recipe_overrides or None,
                                 build_overrides or None)
            runs = card.get("epochs_run") or card.get("failed_epoch") or 1
            rows.append({"model": config, "seed": seed, "val_accuracy": float(kept_epoch_row(card, path)["val_accuracy"])
                         if not diverged(card) else np.nan,
                         "test_accuracy": card.get("test_metrics", {}).get("accuracy", np.nan),
                         "s_per_epoch": card["fit_seconds"] / runs if "fit_seconds" in card else np.nan,
                         "diverged": diverged(card)})
    table = summarize(rows, "model", ["val_accuracy", "test_accuracy", "s_per_epoch", "diverged"])
    mean = table.xs("mean", axis=1, level=1)
    chosen = mean["val_accuracy"].idxmax()
    checks = [(f"chosen on validation: {chosen}; its test accuracy >= {target:.1%} {when}",
               mean.loc[chosen, "test_accuracy"] >= target - 1e-6)]
    return report(study, rounds, get_task(task_name).load(data_dir=data_dir), table, checks, seed_figure, [])
