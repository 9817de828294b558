"""Fixtures that write tiny data sets in each publisher's real format."""

from __future__ import annotations

import gzip
import struct

import h5py
import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_data(monkeypatch, tmp_path_factory):
    """No test sees the user's data or network: an empty Keras cache, no $ZOO_DATA_DIR."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setenv("ZOO_OFFLINE", "1")


def write_usps_h5(path, n_train=1500, n_test=60, seed=0):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for part, n in (("train", n_train), ("test", n_test)):
            f.create_dataset(f"{part}/data", data=rng.uniform(0, 1, (n, 256)).astype("float32"))
            f.create_dataset(f"{part}/target", data=np.arange(n) % 10)
    return path


def write_esl_gz(path, n, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    pixels = rng.uniform(-1, 1, (n, 256))
    with gzip.open(path, "wt") as f:
        for label, row in zip(labels, pixels):
            f.write(f"{label}.0000 " + " ".join(f"{v:.4f}" for v in row) + "\n")
    return labels, (pixels.astype("float32") + 1) / 2


def write_idx_gz(path, array: np.ndarray):
    codes = {np.dtype("uint8"): 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_mnist_npz(path, n_train=2_400, n_test=2_000, seed=0):
    """Keras' mnist.npz layout with random images (labels cycle through 0..9). The default sizes
    are what mnist_pairs needs (a round's 1000 training pairs take 2,000 distinct images, its 1000
    test pairs 2,000); the mnist tasks split the training part 5:1 into train and validation."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), y_train=np.arange(n_train) % 10,
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), y_test=np.arange(n_test) % 10)
    return path


def write_house_prices_all_columns(folder, n=120, seed=0):
    """De Cock's AmesHousing.csv dialect with every column any house_prices variant reads."""
    import pandas as pd

    from data_prep.house_prices import MORE_NUMERIC

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.integers(1, 2000, n) for name in MORE_NUMERIC})
    frame["Neighborhood"] = rng.choice(["NAmes", "CollgCr", "OldTown"], n)
    frame["ExterQual"] = rng.choice(["TA", "Gd", "Ex"], n)
    frame["KitchenQual"] = rng.choice(["TA", "Gd"], n)
    frame["CentralAir"] = rng.choice(["Y", "N"], n)
    frame["SalePrice"] = rng.integers(50_000, 400_000, n)
    (folder / "house_prices").mkdir(parents=True, exist_ok=True)
    frame.rename(columns={"GrLivArea": "Gr Liv Area"}).to_csv(folder / "house_prices" / "AmesHousing.csv", index=False)
    return folder


def write_jpeg(path, size=(40, 30), color=(200, 100, 50)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG")


@pytest.fixture
def usps_dir(tmp_path):
    write_usps_h5(tmp_path / "usps" / "usps.h5")
    return tmp_path


@pytest.fixture
def mnist_dir(tmp_path):
    write_mnist_npz(tmp_path / "mnist" / "mnist.npz")
    return tmp_path


@pytest.fixture
def small_mnist_dir(tmp_path):
    """Enough for the mnist tasks (500 train / 100 validation / 500 test), not for mnist_pairs."""
    write_mnist_npz(tmp_path / "small" / "mnist" / "mnist.npz", n_train=600, n_test=500)
    return tmp_path / "small"


@pytest.fixture
def house_dir(tmp_path):
    import pandas as pd

    from tests.test_loaders import KAGGLE_COLUMNS, _sales

    (tmp_path / "house_prices").mkdir()
    pd.DataFrame(_sales(200, seed=3), columns=KAGGLE_COLUMNS).to_csv(tmp_path / "house_prices" / "train.csv",
                                                                      index=False)
    return tmp_path
