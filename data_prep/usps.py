"""USPS handwritten digits, 16x16 grey levels: 7291 training and 2007 test images.

Formats read:
- Kaggle's ``usps.h5``: ``train/data`` (N, 256) in [0, 1], ``train/target`` (N,); same
  under ``test/``. Kaggle needs a login, so it is never downloaded.
- Hastie's ESL text files ``zip.train.gz`` / ``zip.test.gz``: one image a line, the
  label then 256 values in [-1, 1]; downloaded from the ESL site when absent.

Split: the publisher's test part is the test split (2007); the 7291 training
images are split, stratified and seeded, into 6000 train / 1291 validation — the
sizes of seed 000's colored-USPS experiment.
"""

from __future__ import annotations

import gzip
import zlib

import h5py
import numpy as np

from data_prep.errors import ZooError
from data_prep.locate import RemoteFile, find_file
from data_prep.splits import Splits, split_two

ESL = "https://hastie.su.domains/ElemStatLearn/datasets/"
FORMATS = [
    [RemoteFile("usps.h5")],
    [RemoteFile("zip.train.gz", ESL + "zip.train.gz"), RemoteFile("zip.test.gz", ESL + "zip.test.gz")],
]
VALIDATION_SIZE = 1291


def read_h5(path):
    """(x_train, y_train, x_test, y_test) from Kaggle's usps.h5, images (N,16,16,1) in [0,1]."""
    try:
        with h5py.File(path, "r") as f:
            parts = [(f[s]["data"][:], f[s]["target"][:]) for s in ("train", "test")]
    except (OSError, KeyError) as err:
        raise ZooError(
            f"{path} is not Kaggle's usps.h5 (need HDF5 datasets train/data, train/target, "
            f"test/data, test/target): {err}"
        ) from None
    (xtr, ytr), (xte, yte) = parts
    return _images(xtr, path), ytr.astype("int64"), _images(xte, path), yte.astype("int64")


def read_esl(path):
    """(images, labels) from one ESL ``zip.*.gz`` file; values mapped from [-1,1] to [0,1]."""
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, dtype="float32")
    except (OSError, ValueError, EOFError, zlib.error) as err:
        raise ZooError(
            f"{path} is not an ESL zip.*.gz file (gzip text, a label then 256 values a line): {err}"
        ) from None
    if table.ndim != 2 or table.shape[1] != 257:
        raise ZooError(f"{path}: expected 257 columns (label + 256 pixels), found shape {table.shape}")
    return _images((table[:, 1:] + 1.0) / 2.0, path), table[:, 0].astype("int64")


def _images(flat, path):
    flat = np.asarray(flat, dtype="float32")
    if flat.ndim != 2 or flat.shape[1] != 256:
        raise ZooError(f"{path}: expected images of 256 pixels, found array of shape {flat.shape}")
    return flat.reshape(-1, 16, 16, 1)


def load_usps(data_dir=None) -> Splits:
    paths = find_file("usps", FORMATS, data_dir)
    if paths[0].name.endswith(".h5"):
        x_train_all, y_train_all, x_test, y_test = read_h5(paths[0])
    else:
        x_train_all, y_train_all = read_esl(paths[0])
        x_test, y_test = read_esl(paths[1])
    x_train, y_train, x_val, y_val = split_two(x_train_all, y_train_all, VALIDATION_SIZE)
    return Splits(
        "usps", x_train, y_train, x_val, y_val, x_test, y_test,
        files=paths, info={"num_classes": 10, "input_shape": (16, 16, 1)},
    )
