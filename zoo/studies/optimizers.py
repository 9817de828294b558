"""optimizers: SGD vs Adam vs RMSprop on two_spirals and house_prices (seeds 000 §1.1, 002)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import artifacts
from zoo.plots import plot_histories, pyplot
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import diverged, history, report, summarize, trained


@register("optimizers")
def optimizers_study(rounds: int, out: Path, data_dir=None) -> str:
    """SGD vs Adam vs RMSprop at each recipe's learning rate (seeds 000 §1.1, 002)."""
    cases = [("two_spirals", "mlp", "accuracy"), ("house_prices", "mlp", "rmse")]
    rows, logs = [], {}
    for seed in range(rounds):
        for task, variant, metric in cases:
            for optimizer in ("sgd", "adam", "rmsprop"):
                card, path = trained(task, variant, seed, out, data_dir, f"{task}-{optimizer}", {"optimizer": optimizer})
                log = history(path)
                rows.append({"model": f"{task} / {optimizer}", "seed": seed,
                             f"test_{metric}": card.get("test_metrics", {}).get(metric, np.nan),
                             "final_train_loss": float(log["loss"].iloc[-1]) if len(log) else np.nan,
                             "diverged": diverged(card)})
                logs.setdefault(task, {}).setdefault(optimizer, log)
    table = summarize(rows, "model", ["test_accuracy", "test_rmse", "final_train_loss", "diverged"])
    mean = table.xs("mean", axis=1, level=1)
    checks = [("Adam >= SGD on two_spirals (test accuracy)",
               mean.loc["two_spirals / adam", "test_accuracy"] >= mean.loc["two_spirals / sgd", "test_accuracy"])]
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (task, by_optimizer) in zip(axes, logs.items()):
        plot_histories(ax, by_optimizer, "val_loss", f"{task}: validation loss (seed 0)")
    artifacts.save_figure(fig, out / "optimizers.png")
    plt.close("all")
    return report("optimizers", rounds, get_task("two_spirals").load(), table, checks,
                  "seed 000: only Adam made two_spirals train (SGD stayed near chance); house prices: RMSprop "
                  "best on the final architecture (seed 000), Adam fastest and least sensitive (seeds 000, 002)",
                  ["optimizers.png"])
