"""lr_batch: usps (seed 002's CNN) over learning rate x batch size, with time per epoch (seed 002 §2.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import artifacts
from zoo.plots import plot_histories, pyplot
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import diverged, history, report, summarize, trained


@register("lr_batch")
def lr_batch_study(rounds: int, out: Path, data_dir=None) -> str:
    """usps (seed 002's CNN) over learning rate x batch size, 20 epochs, with time per epoch (seed 002 §2.2)."""
    rows, logs = [], {}
    for seed in range(rounds):
        for rate in (1e-4, 1e-3, 1e-2, 1e-1):
            for batch in (10, 100, 1000):
                config = f"lr{rate:g}-batch{batch}"
                card, path = trained("usps", "seed002", seed, out, data_dir, config,
                                     {"learning_rate": rate, "batch_size": batch}, epochs=20)
                runs = card.get("epochs_run") or card.get("failed_epoch") or 1
                rows.append({"model": config, "seed": seed,
                             "test_accuracy": card.get("test_metrics", {}).get("accuracy", np.nan),
                             "s_per_epoch": card["fit_seconds"] / runs if "fit_seconds" in card else np.nan,
                             "diverged": diverged(card)})
                if batch == 100:
                    logs.setdefault(f"lr {rate:g}", history(path))
    table = summarize(rows, "model", ["test_accuracy", "s_per_epoch", "diverged"])
    mean = table.xs("mean", axis=1, level=1)
    checks = [("lr 0.1 is worse than lr 1e-3 at batch 100 (too high a rate diverges or stalls, seed 002)",
               not mean.loc["lr0.1-batch100", "test_accuracy"] >= mean.loc["lr0.001-batch100", "test_accuracy"]),
              ("an epoch at batch 10 takes longer than at batch 1000",
               mean.loc["lr0.001-batch10", "s_per_epoch"] > mean.loc["lr0.001-batch1000", "s_per_epoch"])]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_histories(ax, logs, "val_loss", "usps seed002 CNN, batch 100: validation loss (seed 0)")
    artifacts.save_figure(fig, out / "lr_curves.png")
    plt.close("all")
    return report("lr_batch", rounds, get_task("usps").load(data_dir=data_dir), table, checks,
                  "seed 002: lr 0.01 made the dense net diverge; small batches (10) train noisily and slowly, "
                  "large ones smoothly but may need more epochs; chosen lr 0.01 (CNN), batch 1000",
                  ["lr_curves.png"])
