"""activations_depth_width: house_prices MLPs over activation x hidden layers x neurons (seed 000 §4.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zoo import artifacts
from zoo.plots import pyplot
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import report, summarize, trained

ACTIVATIONS, DEPTHS, WIDTHS = ("relu", "sigmoid", "tanh", "relu6"), (1, 2, 3, 4), (5, 10, 20, 30)


@register("activations_depth_width")
def activations_depth_width_study(rounds: int, out: Path, data_dir=None) -> str:
    """house_prices MLPs over activation x hidden layers x neurons (seed 000 §4.3); the mlp recipe
    (RMSprop 1e-2, best epoch by validation RMSE) with batch 64 and 100 epochs, to fit 64 networks in minutes."""
    rows = []
    for seed in range(rounds):
        for activation in ACTIVATIONS:
            for depth in DEPTHS:
                for width in WIDTHS:
                    config = f"{activation}-{depth}x{width}"
                    card, _ = trained("house_prices", "mlp", seed, out, data_dir, config, {"batch_size": 64},
                                      {"hidden": (width,) * depth, "activation": activation}, epochs=100)
                    rows.append({"model": config, "activation": activation, "depth": depth, "width": width,
                                 "seed": seed, "test_rmse": card.get("test_metrics", {}).get("rmse", np.nan)})
    frame = pd.DataFrame(rows)
    by_activation = summarize(rows, "activation", ["test_rmse"])
    best = frame.groupby("model")["test_rmse"].mean().nsmallest(5)
    plot_rmse_grid(frame, out)
    best_depth = frame.groupby("model")["depth"].first()[best.index[0]]
    checks = [("best configuration has 1 or 2 hidden layers (seed 000: 1 layer, 30 neurons)", best_depth <= 2)]
    splits = get_task("house_prices").load(data_dir=data_dir)
    text = report("activations_depth_width", rounds, splits, by_activation, checks,
                  "seed 000 (figs. 3, 4): ReLU, 1 hidden layer and more neurons best; chosen 1 x 30 ReLU",
                  ["rmse_grid.png"])
    return text + ("\nPer activation: mean ± std over its 16 depth x width configurations (and the seeds).\n"
                   "\nBest five configurations (mean test RMSE):\n\n") + "\n".join(
        f"- {name}: ${value:,.0f}" for name, value in best.items()) + "\n"


def plot_rmse_grid(frame: pd.DataFrame, out: Path):
    """Mean test RMSE per depth x width, one panel per activation."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(ACTIVATIONS), figsize=(4 * len(ACTIVATIONS), 3.6), sharey=True)
    for ax, activation in zip(axes, ACTIVATIONS):
        grid = frame[frame.activation == activation].groupby(["depth", "width"])["test_rmse"].mean().unstack()
        image = ax.imshow(grid.to_numpy(), cmap="viridis_r")
        ax.set(xticks=range(len(WIDTHS)), xticklabels=WIDTHS, yticks=range(len(DEPTHS)), yticklabels=DEPTHS,
               xlabel="neurons per layer", ylabel="hidden layers", title=activation)
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, f"{value / 1000:.0f}k", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(image, ax=axes, label="test RMSE ($)")
    artifacts.save_figure(fig, out / "rmse_grid.png")
    plt.close("all")
