"""Plots shared by fits, studies, searches and ``zoo.inspect`` (matplotlib, drawn off-screen).

Each plot is written atomically with :func:`zoo.artifacts.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zoo import artifacts


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported only when a plot is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(log: pd.DataFrame, target, title=""):
    """Loss and each metric, training and validation, against the epoch."""
    plt = pyplot()
    names = [c for c in log.columns if c not in ("epoch", "learning_rate", "seconds") and not c.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False,
                             layout="constrained")  # keeps the suptitle clear of the axes titles
    for ax, name in zip(axes[0], names):
        ax.plot(np.arange(1, len(log) + 1), log[name], label="train")
        if f"val_{name}" in log:
            validated = log[f"val_{name}"].notna().to_numpy()  # Recipe(validation_freq=N): every Nth epoch
            ax.plot(np.arange(1, len(log) + 1)[validated], log[f"val_{name}"][validated], label="validation",
                    marker="o" if not validated.all() else None, markersize=3)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        if name.endswith("loss") and (log[name] > 0).all() and log[name].max() / max(log[name].min(), 1e-12) > 50:
            ax.set_yscale("log")
        ax.legend()
    fig.suptitle(title)
    artifacts.save_figure(fig, target)
    plt.close(fig)


def plot_histories(ax, logs: dict, column: str, title: str, log_scale=True):
    """One ``column`` of several histories (label: history frame) on one axis."""
    for label, log in logs.items():
        if column in log:
            ax.plot(np.arange(1, len(log) + 1), log[column], label=label)
    ax.set(xlabel="epoch", ylabel=column, title=title, yscale="log" if log_scale else "linear")
    ax.legend(fontsize=7)


def plot_sigma(model_path, splits, out):
    """|error| against predicted sigma (seed 000 fig. 5), sigma against GrLivArea (seed 002 fig. 3)."""
    from zoo.core import load_model, predict_outputs

    plt = pyplot()
    (prediction,) = predict_outputs(load_model(model_path), splits.x_test).values()
    mu, sigma = prediction[:, 0], prediction[:, 1]
    error = np.abs(splits.y_test - mu)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(sigma, error, s=10, alpha=0.6)
    top = max(sigma.max(), error.max())
    ax.plot([0, top / 1.96], [0, top], "k--", lw=1, label="|error| = 1.96 sigma")
    ax.set(xlabel="predicted sigma ($)", ylabel="|price - predicted mean| ($)", title="test split")
    ax.legend()
    artifacts.save_figure(fig, out / "sigma_vs_error.png")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(splits.x_test["GrLivArea"].ravel(), sigma, s=10, alpha=0.6)
    ax.set(xlabel="GrLivArea (sq ft)", ylabel="predicted sigma ($)", title="test split")
    artifacts.save_figure(fig, out / "sigma_vs_grlivarea.png")
    plt.close("all")
