"""mnist_pairs (seed 003, EE-559 project 1): is the first of two digits <= the second?

As the course's ``generate_pair_sets``: MNIST digits downsampled 28x28 -> 14x14 (2x2
average pooling), two per example as 2 channels, ``n`` random pairs drawn per round
from the training pool and ``n`` from the test pool, without replacement. Targets:
``comparison`` (1 when digit_a <= digit_b) and both digit classes for auxiliary losses.

Pools, as seed 003: training (and validation) pairs from MNIST's 60,000 training images,
test pairs from its 10,000 test images. A round is a seed: it draws the pairs (the same
seed always gives the same pairs). The validation pairs are drawn from the training
pool, disjoint from the training pairs; the zoo's pair recipes keep the last epoch, so
they are watched, never used to choose a model.
"""

from __future__ import annotations

import numpy as np

from data_prep.errors import ZooError
from data_prep.mnist import load_mnist_arrays
from data_prep.splits import Splits

PAIRS = 1000
VAL_PAIRS = 500
POOLS = ("standard split, as seed 003: training and validation pairs from MNIST's 60,000 training images, "
         "test pairs from its 10,000 test images")


def downsample(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 14, 14) float32 in [0, 1] by 2x2 average pooling."""
    x = images.astype("float32") / 255.0
    return x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4))


def draw_pairs(images, labels, n: int, rng, exclude=()):
    available = np.setdiff1d(np.arange(len(images)), np.asarray(exclude, dtype=int))
    if len(available) < 2 * n:
        raise ZooError(f"mnist_pairs: {n} pairs need {2 * n} distinct images, the pool has {len(available)}")
    chosen = rng.permutation(available)[: 2 * n]
    a, b = chosen[:n], chosen[n:]
    x = np.stack([downsample(images[a]), downsample(images[b])], axis=-1)  # (n, 14, 14, 2)
    y = {"comparison": (labels[a] <= labels[b]).astype("int64"), "digit_a": labels[a], "digit_b": labels[b]}
    return x, y, chosen


def _draw_round(train_x, train_y, test_x, test_y, seed: int, pairs: int):
    """A round's train / validation / test pairs, and the training-pool images they took."""
    rng = np.random.default_rng([20210419, seed])
    x_train, y_train, used = draw_pairs(train_x, train_y, pairs, rng)
    x_val, y_val, used_val = draw_pairs(train_x, train_y, min(VAL_PAIRS, (len(train_x) - len(used)) // 2), rng, used)
    x_test, y_test, _ = draw_pairs(test_x, test_y, pairs, rng)
    return (x_train, y_train, x_val, y_val, x_test, y_test), np.concatenate([used, used_val])


def load_mnist_pairs(data_dir=None, seed: int = 0, auxiliary: bool = True, pairs: int = PAIRS) -> Splits:
    """One round's pairs: train ``pairs`` / validation ``VAL_PAIRS`` / test ``pairs``.
    ``auxiliary=False`` keeps only the ``comparison`` target (for models without digit outputs)."""
    train_x, train_y, test_x, test_y, files = load_mnist_arrays(data_dir)
    (x_train, y_train, x_val, y_val, x_test, y_test), _ = _draw_round(train_x, train_y, test_x, test_y, seed, pairs)
    if not auxiliary:
        y_train, y_val, y_test = (y["comparison"] for y in (y_train, y_val, y_test))
    return Splits("mnist_pairs", x_train, y_train, x_val, y_val, x_test, y_test, files=files,
                  info={"split": POOLS, "round": seed, "input_shape": (14, 14, 2)})


def held_out_pairs(data_dir=None, seed: int = 0, n: int = 5000, pairs: int = PAIRS):
    """``n`` more pairs from the training pool, disjoint from round ``seed``'s training and validation
    pairs: a validation set large enough to rank recipes (10x the round's own), never the test images."""
    train_x, train_y, test_x, test_y, _ = load_mnist_arrays(data_dir)
    _, used = _draw_round(train_x, train_y, test_x, test_y, seed, pairs)
    x, y, _ = draw_pairs(train_x, train_y, n, np.random.default_rng([20210419, seed, 1]), used)
    return x, y
