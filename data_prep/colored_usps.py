"""colored_usps (seed 000 §3): USPS digits colorized with one of five colors.

Each 16x16 gray digit x in [0, 1] becomes the 16x16x3 image x * rgb (black background,
ink of the chosen color). The color of every image is drawn from a fixed seed, so the
data set is the same on every machine; splits are USPS's (6000 / 1291 / 2007).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from data_prep.usps import load_usps

COLORS = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (1, 1, 0), "magenta": (1, 0, 1)}
COLOR_SEED = 559


def colorize(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 16, 16, 1) gray images -> ((N, 16, 16, 3) colored images, (N,) color indices)."""
    color = np.random.default_rng(seed).integers(0, len(COLORS), len(images))
    palette = np.array(list(COLORS.values()), dtype="float32")
    return images * palette[color][:, None, None, :], color.astype("int64")


def load_colored_usps(data_dir=None):
    """USPS splits with ``x`` colored and ``y = {"digit": …, "color": …}``."""
    usps = load_usps(data_dir)
    parts = {}
    for offset, part in enumerate(("train", "val", "test")):
        x, color = colorize(getattr(usps, f"x_{part}"), COLOR_SEED + offset)
        parts[f"x_{part}"] = x
        parts[f"y_{part}"] = {"digit": getattr(usps, f"y_{part}"), "color": color}
    return dataclasses.replace(usps, name="colored_usps", **parts,
                               info={**usps.info, "input_shape": (16, 16, 3), "colors": list(COLORS)})
