"""curve: basic vs best over seeds, test MSE in the gaps, and the fitted curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import artifacts
from zoo.plots import pyplot
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import report, summarize, trained


@register("curve", rounds=5)
def curve_study(rounds: int, out: Path, data_dir=None) -> str:
    """basic vs best over seeds: test MSE in the gaps."""
    splits = get_task("curve").load()
    rows, models = [], {}
    for seed in range(rounds):
        for variant in ("basic", "best"):
            card, path = trained("curve", variant, seed, out)
            rows.append({"model": variant, "seed": seed, "test_mse": card["test_metrics"]["mse"],
                         "epochs_run": card["epochs_run"]})
            models.setdefault(variant, path)
    table = summarize(rows, "model", ["test_mse", "epochs_run"])
    mean = table.xs("mean", axis=1, level=1)
    checks = [("best test MSE <= half of basic", mean.loc["best", "test_mse"] <= 0.5 * mean.loc["basic", "test_mse"])]
    plot_curve_fits(models, splits, out)
    return report("curve", rounds, splits, table, checks, "seed 001: test MSE 0.1216 (best) vs 0.3417 (basic)",
                  ["fits.png"])


def plot_curve_fits(models: dict, splits, out: Path):
    """The fitted curves with training, validation and test points (seed 001 fig. 2)."""
    from data_prep.generated import CURVE_RANGE, curve_function
    from zoo.core import load_model, predict_outputs

    plt = pyplot()
    grid = np.linspace(*CURVE_RANGE, 400, dtype="float32").reshape(-1, 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(grid, curve_function(grid), "k:", lw=1, label="true function")
    ax.scatter(splits.x_train, splits.y_train, s=12, label="train")
    ax.scatter(splits.x_val, splits.y_val, s=12, label="validation")
    ax.scatter(splits.x_test, splits.y_test, s=12, label="test (in the gaps)")
    for variant, path in models.items():
        ax.plot(grid, predict_outputs(load_model(path), grid)["y"], lw=2, label=f"{variant} (seed 0)")
    ax.set(xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    artifacts.save_figure(fig, out / "fits.png")
    plt.close("all")
