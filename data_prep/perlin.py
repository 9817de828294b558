"""Perlin noise images (seed 001's "not a digit" class), vectorized over the batch.

Classic gradient noise: a random unit gradient at each lattice point, the dot product
with the offset of the pixel from each of the 4 surrounding corners, blended with the
fade curve 6t^5 - 15t^4 + 10t^3. Each image sums ``octaves`` of doubling frequency
with a random base lattice size, and is min-max scaled to the MNIST range (uint8).
"""

from __future__ import annotations

import numpy as np


def _fade(t):
    return t * t * t * (t * (t * 6 - 15) + 10)


def _octave(rng, n: int, size: int, cells: int) -> np.ndarray:
    angles = rng.uniform(0, 2 * np.pi, (n, cells + 1, cells + 1))
    gx, gy = np.cos(angles), np.sin(angles)
    p = np.arange(size) * cells / size  # pixel coordinates in lattice units
    i = np.floor(p).astype(int)
    f = p - i
    fy, fx = f[:, None], f[None, :]  # rows are y, columns x
    iy, ix = i[:, None], i[None, :]

    def corner(dy, dx):
        return gx[:, iy + dy, ix + dx] * (fx - dx) + gy[:, iy + dy, ix + dx] * (fy - dy)

    u, v = _fade(fx), _fade(fy)
    top = corner(0, 0) + u * (corner(0, 1) - corner(0, 0))
    bottom = corner(1, 0) + u * (corner(1, 1) - corner(1, 0))
    return top + v * (bottom - top)


def perlin_images(n: int, size: int = 28, seed: int = 0, octaves: int = 3,
                  base_cells=(2, 3, 4)) -> np.ndarray:
    """``n`` Perlin-noise images, (n, size, size) uint8, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    base = rng.choice(base_cells, n)
    images = np.zeros((n, size, size))
    for cells in np.unique(base):
        rows = np.flatnonzero(base == cells)
        noise = sum(_octave(rng, len(rows), size, cells * 2 ** k) / 2 ** k for k in range(octaves))
        images[rows] = noise
    low = images.min(axis=(1, 2), keepdims=True)
    high = images.max(axis=(1, 2), keepdims=True)
    return np.round(255 * (images - low) / np.maximum(high - low, 1e-9)).astype("uint8")
