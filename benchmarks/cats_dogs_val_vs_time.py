"""Validation accuracy against training time of cats_dogs fits (issue 55): what more time would buy.

    python benchmarks/cats_dogs_val_vs_time.py HISTORY.csv:LABEL[:TOTAL_SECONDS] ... --out PNG

Each history is a fit's ``….history.csv`` (``zoo.fit`` writes one beside every model: each epoch's
metrics and wall ``seconds``, validation included). The x axis is the fit's cumulative seconds; a history
older than the ``seconds`` column (the 8,000-photo default's) takes ``:TOTAL`` seconds, the card's
``fit_seconds``, spread evenly over its epochs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("histories", nargs="+", help="HISTORY.csv:LABEL[:TOTAL_SECONDS]")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import pandas as pd

    from zoo import artifacts
    from zoo.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for spec in args.histories:
        path, label, *total = spec.split(":")
        log = pd.read_csv(path)
        seconds = log["seconds"] if "seconds" in log else pd.Series(float(total[0]) / len(log), index=log.index)
        minutes = seconds.cumsum() / 60
        ax.plot(minutes, 100 * log["val_accuracy"], lw=1.2, label=label)
        best = log["val_accuracy"].idxmax()
        ax.plot(minutes[best], 100 * log["val_accuracy"][best], "o", ms=4, color=ax.lines[-1].get_color())
        print(f"{label}: best validation {100 * log['val_accuracy'][best]:.1f}% at epoch {best + 1}, "
              f"{minutes[best]:.0f} min; last epoch {len(log)} at {minutes.iloc[-1]:.0f} min")
    ax.axvline(120, color="0.6", ls=":", lw=1)
    ax.text(119, 61, "2 h", color="0.4", fontsize=8, ha="right")
    ax.set(xlabel="training time, minutes (the fit's wall seconds, validation included)",
           ylabel="validation accuracy, %", ylim=(60, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    artifacts.save_figure(fig, args.out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
