"""Data sets generated from a seed (no download): two spirals and a 1-D curve with gaps."""

from __future__ import annotations

import numpy as np

from data_prep.splits import Splits, split_three

DATA_SEED = 0


def two_spirals(n_points: int = 4000, turns: float = 1.5, noise: float = 0.02, seed: int = DATA_SEED):
    """Two interleaved spirals in the unit disc: ``x`` (n, 2) float32, ``y`` (n,) in {0, 1}.

    Spiral 0 is r = t, angle 2*pi*turns*t; spiral 1 is the same turned by pi. t is
    drawn so that points are uniform along the arc, and starts at 0.15 so the two
    classes do not meet at the centre (the task is separable: 100% is reachable).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n_points) % 2
    t = np.sqrt(rng.uniform(0.15**2, 1.0, n_points))
    angle = 2 * np.pi * turns * t + np.pi * labels
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    points += rng.normal(0.0, noise, points.shape)
    return points.astype("float32"), labels.astype("int64")


def load_two_spirals(data_dir=None) -> Splits:
    """4000 points, split 3000 / 500 / 500 (stratified)."""
    x, y = two_spirals()
    parts = split_three(x, y, 500, 500)
    return Splits("two_spirals", *parts, info={"input_shape": (2,), "generator": "two_spirals(seed=0)"})


def curve_function(x):
    """The 1-D target of the curve task: a damped oscillation on a slope."""
    return np.sin(2.0 * x) * np.exp(-0.1 * x**2) + 0.3 * x


CURVE_RANGE = (-4.0, 4.0)
CURVE_GAPS = ((-2.0, -1.0), (1.5, 2.5))


def curve(n_train: int = 100, n_test: int = 100, noise: float = 0.1, seed: int = DATA_SEED):
    """100 noisy training points on [-4, 4] outside two gaps, 100 test points inside them."""
    rng = np.random.default_rng(seed)
    in_gap = lambda x: np.any([(lo <= x) & (x <= hi) for lo, hi in CURVE_GAPS], axis=0)  # noqa: E731
    x_train = rng.uniform(*CURVE_RANGE, 4 * n_train)
    x_train = x_train[~in_gap(x_train)][:n_train]
    gap_choice = rng.integers(0, len(CURVE_GAPS), n_test)
    lows, highs = np.array(CURVE_GAPS).T
    x_test = rng.uniform(lows[gap_choice], highs[gap_choice])
    y_train = curve_function(x_train) + rng.normal(0, noise, n_train)
    y_test = curve_function(x_test) + rng.normal(0, noise, n_test)
    as_column = lambda a: a.astype("float32").reshape(-1, 1)  # noqa: E731
    return as_column(x_train), as_column(y_train), as_column(x_test), as_column(y_test)


def load_curve(data_dir=None, val_fraction: float = 0.1) -> Splits:
    """Train 90 / validation 10 (random, as in seed 001) of the 100 training points; test 100 in the gaps."""
    x_train, y_train, x_test, y_test = curve()
    n_val = round(val_fraction * len(x_train))
    rng = np.random.default_rng(DATA_SEED + 1)
    order = rng.permutation(len(x_train))
    val, train = order[:n_val], order[n_val:]
    return Splits(
        "curve", x_train[train], y_train[train], x_train[val], y_train[val], x_test, y_test,
        info={"input_shape": (1,), "gaps": CURVE_GAPS, "generator": "curve(seed=0)"},
    )
