"""MNIST digits, 28x28 uint8: 60000 training and 10000 test images.

Formats read:
- Keras' ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``), downloaded
  from Keras' bucket when absent (same file and hash as ``keras.datasets.mnist``).
- The publisher's four IDX files, gzip-compressed (``train-images-idx3-ubyte.gz`` …).
"""

from __future__ import annotations

import gzip
import zlib

import numpy as np

from data_prep.errors import ZooError
from data_prep.locate import RemoteFile, find_file
from data_prep.splits import Splits, split_two

KERAS_NPZ = RemoteFile(
    "mnist.npz",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
)
_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # LeCun's files, as mirrored for torchvision
IDX_FILES = [
    RemoteFile("train-images-idx3-ubyte.gz", _MIRROR + "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    RemoteFile("train-labels-idx1-ubyte.gz", _MIRROR + "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    RemoteFile("t10k-images-idx3-ubyte.gz", _MIRROR + "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", _MIRROR + "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
]
FORMATS = [[KERAS_NPZ], IDX_FILES]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as a NumPy array of its stored shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # zlib.error: a damaged compressed stream
        raise ZooError(f"{path} could not be read as an IDX file: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ZooError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">i4", count=ndim, offset=4)
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = 4 + 4 * ndim + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise ZooError(f"{path}: IDX header promises {expected} bytes, file holds {len(raw)} (truncated?)")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(tuple(dims))


def read_npz(path):
    try:
        with np.load(path) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    except (OSError, KeyError, ValueError) as err:
        raise ZooError(f"{path} is not Keras' mnist.npz (x_train, y_train, x_test, y_test): {err}") from None


def load_mnist_arrays(data_dir=None):
    """(x_train, y_train, x_test, y_test, paths) as uint8 (N,28,28) images and int labels."""
    paths = find_file("mnist", FORMATS, data_dir)
    if paths[0].name.endswith(".npz"):
        arrays = read_npz(paths[0])
    else:
        arrays = tuple(read_idx(p) for p in paths)
    x_train, y_train, x_test, y_test = arrays
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ZooError(f"MNIST files disagree: {len(x_train)} train images, {len(y_train)} labels; "
                       f"{len(x_test)} test images, {len(y_test)} labels")
    return x_train, y_train.astype("int64"), x_test, y_test.astype("int64"), paths


STANDARD_SPLIT = "standard split: 50,000 / 10,000 from MNIST's 60,000 training images; its 10,000 test images"


def load_mnist(data_dir=None) -> Splits:
    """MNIST as (N, 28, 28) uint8 images (models scale them) and int labels, split the
    standard way: 50,000 train / 10,000 validation (seeded, stratified, from the
    publisher's training part) / the publisher's 10,000 test images. Validation is one sixth
    of the training part, 10,000 of the publisher's 60,000 (and of a smaller file, its sixth)."""
    x_train_all, y_train_all, x_test, y_test, paths = load_mnist_arrays(data_dir)
    x_tr, y_tr, x_va, y_va = split_two(x_train_all, y_train_all, len(y_train_all) // 6)
    return Splits("mnist", x_tr, y_tr, x_va, y_va, x_test, y_test, files=paths,
                  info={"num_classes": 10, "split": STANDARD_SPLIT})
