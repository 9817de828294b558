"""mnist_pairs: seed 003's table 2, every variant over rounds of fresh pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zoo import artifacts
from zoo.plots import pyplot
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import report, summarize, trained


@register("mnist_pairs", rounds=20)
def mnist_pairs_study(rounds: int, out: Path, data_dir=None) -> str:
    """Seed 003's table 2: train and test error of every variant over rounds of fresh pairs."""
    from zoo.core import load_model
    from zoo.core import evaluate_model

    task = get_task("mnist_pairs")
    rows, histories = [], {}
    for seed in range(rounds):
        for variant in task.variants:
            card, path = trained("mnist_pairs", variant, seed, out, data_dir)
            splits = task.load_for(variant, data_dir=data_dir, seed=seed)
            model = load_model(path)
            on_train = evaluate_model(model, splits, split="train")
            accuracy = lambda m: m.get("comparison_accuracy", m.get("accuracy"))  # noqa: E731
            rows.append({"model": variant, "seed": seed, "train_error_pct": 100 * (1 - accuracy(on_train)),
                         "test_error_pct": 100 * (1 - accuracy(card["test_metrics"])), "params": card["params"],
                         "s_per_epoch": card["fit_seconds"] / card["epochs_run"]})
            histories.setdefault(variant, []).append(pd.read_csv(path.with_suffix(".history.csv"))["loss"])
    table = summarize(rows, "model", ["train_error_pct", "test_error_pct", "params", "s_per_epoch"])
    mean = table.xs("mean", axis=1, level=1)["test_error_pct"]
    params = table.xs("mean", axis=1, level=1)["params"]
    checks = [("default <= 1.0% mean test error", mean["default"] <= 1.0),
              *[(f"{b}_ws parameters about half of {b}", 0.45 <= params[f"{b}_ws"] / params[b] <= 0.55)
                for b in ("convnet", "mlp")]]
    plot_loss_curves(histories, out)
    splits = task.load(data_dir=data_dir)
    return report("mnist_pairs", rounds, splits, table, checks,
                  "seed 003 table 2, test error: convnet 18% ± 4.99, convnet_ws 15.04% ± 0.67, convnet_al "
                  "12.02% ± 1.19, convnet_ws_al 13.27% ± 1.16, mlp 18.32% ± 3.33, mlp_ws 14.86% ± 0.91, "
                  "mlp_al 10.01% ± 1.45, mlp_ws_al 9.89% ± 1.36 (20 rounds); each round here draws new pairs "
                  "and new initial weights (seed = round)", ["loss_curves.png"])


def plot_loss_curves(histories: dict, out: Path):
    """Mean training loss over the rounds per variant: convnets (and the default) left, MLPs right."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for variant, losses in histories.items():
        ax = axes[0] if variant.startswith("convnet") or variant == "default" else axes[1]
        ax.plot(np.arange(1, len(losses[0]) + 1), pd.concat(losses, axis=1).mean(axis=1), label=variant)
    for ax, title in zip(axes, ("convnet variants (and default)", "mlp variants")):
        ax.set(xlabel="epoch", ylabel="training loss (all outputs)", yscale="log", title=title)
        ax.legend(fontsize=8)
    artifacts.save_figure(fig, out / "loss_curves.png")
    plt.close("all")
