"""The object every loader returns, and the one function that splits data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from data_prep.errors import ZooError
from data_prep.locate import sha256

# The split never depends on the training seed: every model of a task is measured on
# the same test examples, whatever --seed it was trained with.
SPLIT_SEED = 20210101


@dataclass
class Splits:
    """Train / validation / test parts of one data set.

    ``x_*`` are arrays (or dicts of arrays for multi-input models); ``y_*`` arrays
    or dicts of arrays for multi-output models. ``files`` are the source files, so
    a model card can name them with their sha256; ``info`` holds anything a builder
    needs to know (number of classes, class names, …).
    """

    name: str
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    files: list[Path] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {part: length(getattr(self, f"x_{part}")) for part in ("train", "val", "test")}

    def describe(self) -> str:
        s = self.sizes
        return f"{self.name}: train {s['train']} / validation {s['val']} / test {s['test']}"

    def file_records(self) -> list[dict]:
        return [{"path": str(p), "sha256": sha256(p)} for p in self.files if Path(p).is_file()]

    def input_ranges(self) -> dict[str, list[float]]:
        """{input: [min, max]} over the training split, for numbers a person types (named numeric
        columns, or rows of at most a few numbers: ``x[0]``, ``x[1]``…); ``{}`` for images and text.
        A card keeps them, so that a prediction far outside what the model saw is flagged."""
        x = self.x_train
        columns = x if isinstance(x, dict) else {f"x[{i}]": x[:, i] for i in range(x.shape[1])} \
            if getattr(x, "ndim", 0) == 2 and x.shape[1] <= MAX_RANGED_COLUMNS else {}
        return {name: [float(np.min(values)), float(np.max(values))] for name, values in columns.items()
                if getattr(values, "dtype", np.dtype("O")).kind in "iuf" and np.size(values)}


MAX_RANGED_COLUMNS = 16  # rows of more numbers than this are images or signals, not typed features


def length(x) -> int:
    """Number of examples in an array or a dict of arrays (one per named input)."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    return len(x)


def take(x, rows):
    """Rows of an array or of every array of a dict."""
    return {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]


def concat(a, b):
    """Examples of ``b`` after those of ``a`` (arrays or dicts of arrays)."""
    if isinstance(a, dict):
        return {k: np.concatenate([a[k], b[k]]) for k in a}
    return np.concatenate([a, b])


def check_splittable(y, held_out: dict[str, int], stratify: bool, what: str) -> None:
    """Refuse, before any training, data that cannot make a train / validation / test split:
    too few examples for a part, or (for a classifier) a single class or a nearly empty one."""
    n = len(y)
    labels, counts = np.unique(y, return_counts=True) if stratify and n else ([], [])
    if stratify and len(labels) == 1:
        raise ZooError(f"{what}: every one of the {n} examples has the label {labels[0].item()!r}; a classifier needs "
                       "examples of at least two classes: add data of the others")
    if stratify and len(counts) and counts.min() < 3:
        raise ZooError(f"{what}: the class {labels[counts.argmin()].item()!r} has only {counts.min()} example(s), too few "
                       "to appear in training, validation and test: add examples of it")
    least = max(len(labels), 1)
    parts = {"train": n - sum(held_out.values()), **held_out}
    if min(parts.values()) < least:
        sizes = ", ".join(f"{k} {v}" for k, v in parts.items())
        raise ZooError(f"{what}: {n} usable example(s) are too few for a {' / '.join(parts)} split "
                       f"({sizes}; each needs at least {least}): add data")


def split_three(x, y, val_size, test_size, stratify=True, seed=SPLIT_SEED, what="data"):
    """Stratified, seeded split of (x, y) into train / val / test.

    Sizes are counts (int) or fractions of the whole (float); ``what`` names the data in errors.
    """
    n = len(y)
    n_test = test_size if isinstance(test_size, int) else round(test_size * n)
    n_val = val_size if isinstance(val_size, int) else round(val_size * n)
    check_splittable(y, {"validation": n_val, "test": n_test}, stratify, what)
    strat = y if stratify else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=n_test, stratify=strat, random_state=seed
    )
    strat = y_rest if stratify else None
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=n_val, stratify=strat, random_state=seed + 1
    )
    return x_train, y_train, x_val, y_val, x_test, y_test


def split_two(x, y, val_size, stratify=True, seed=SPLIT_SEED, what="data"):
    """Seeded split of a publisher's training part into train / val."""
    check_splittable(y, {"validation": val_size if isinstance(val_size, int) else round(val_size * len(y))},
                     stratify, what)
    strat = y if stratify else None
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=val_size, stratify=strat, random_state=seed
    )
    return x_train, y_train, x_val, y_val


def as_float32(*arrays):
    return [np.asarray(a, dtype="float32") for a in arrays]
