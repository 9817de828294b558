"""Property-based fuzzing of every loader (Hypothesis): small valid fixtures in each publisher's
format are corrupted (truncated at a random offset, bytes flipped, cells replaced by text, NaN,
inf or nothing, columns dropped or added). Each corrupted input either loads into a usable split
or raises the zoo's own :class:`ZooError` with a message; any other exception fails.

Examples per run: ``EXAMPLES`` per strategy below (derandomized, so CI tries the same inputs
every run); the README's reliability section gives the total.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import write_idx_gz, write_jpeg, write_usps_h5
from tests.test_loaders import AMES_COLUMNS, KAGGLE_COLUMNS, _sales

from data_prep import cats_dogs, house_prices, mnist, usps
from data_prep.errors import ZooError

EXAMPLES = 25
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def corrupt(raw: bytes, data) -> bytes:
    """Truncate at a random offset, or flip a few random bytes."""
    if not raw:
        return raw
    if data.draw(st.booleans(), label="truncate"):
        return raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), label="offset")]
    out = bytearray(raw)
    for position in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8), label="flips"):
        out[position] ^= data.draw(st.integers(1, 255), label="mask")
    return bytes(out)


def loads_or_says_why(load, *args):
    """The contract: a result, or a ZooError with a message; nothing else escapes."""
    try:
        return load(*args)
    except ZooError as err:
        assert str(err).strip()
        return None


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as root:
        yield Path(root)


def fresh(folder: Path, name: str) -> Path:
    target = folder / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target


# --- usps h5 --------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_usps_h5_corrupted(folder, data):
    valid = write_usps_h5(folder / "valid" / "usps.h5", n_train=1400, n_test=30).read_bytes()
    root = fresh(folder, "usps_case")
    (root / "usps").mkdir()
    (root / "usps" / "usps.h5").write_bytes(corrupt(valid, data))
    splits = loads_or_says_why(usps.load_usps, root)
    if splits is not None:
        assert splits.x_train.shape[1:] == (16, 16, 1) and len(splits.y_test) > 0


# --- MNIST IDX --------------------------------------------------------------------------
@FUZZ
@given(data=st.data(), which=st.sampled_from([f.name for f in mnist.IDX_FILES]), gzipped=st.booleans())
def test_mnist_idx_corrupted(folder, data, which, gzipped):
    root = fresh(folder, "mnist_case")
    (root / "mnist").mkdir()
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (10_050, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": (np.arange(10_050) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": (np.arange(40) % 10).astype(np.uint8)}
    for name, array in arrays.items():
        write_idx_gz(root / "mnist" / name, array)
    path = root / "mnist" / which
    if gzipped:  # the compressed stream itself is damaged
        path.write_bytes(corrupt(path.read_bytes(), data))
    else:  # the IDX content is damaged, then compressed again
        raw = gzip.open(path).read()
        with gzip.open(path, "wb") as f:
            f.write(corrupt(raw, data))
    splits = loads_or_says_why(mnist.load_mnist, root)
    if splits is not None:
        assert splits.x_train.shape[1:] == (28, 28) and len(splits.x_test) == len(splits.y_test)


# --- house prices, both dialects ---------------------------------------------------------
CELLS = st.sampled_from(["", "big", "nan", "NaN", "inf", "-inf", "1e400", "12,5", "  ", "None", "0"])


@FUZZ
@given(data=st.data(), dialect=st.sampled_from(["kaggle", "ames"]))
def test_house_prices_csv_corrupted(folder, data, dialect):
    columns, name = (KAGGLE_COLUMNS, "train.csv") if dialect == "kaggle" else (AMES_COLUMNS, "AmesHousing.csv")
    frame = pd.DataFrame(_sales(), columns=columns).astype(object)
    for _ in range(data.draw(st.integers(0, 4), label="cells")):
        row, column = data.draw(st.integers(0, len(frame) - 1)), data.draw(st.sampled_from(columns))
        frame.loc[row, column] = data.draw(CELLS)
    if data.draw(st.booleans(), label="drop a column"):
        frame = frame.drop(columns=data.draw(st.sampled_from(columns)))
    if data.draw(st.booleans(), label="add a column"):
        frame["Extra Column"] = "x"
    root = fresh(folder, "house_case")
    (root / "house_prices").mkdir()
    text = frame.to_csv(index=False).encode()
    if data.draw(st.booleans(), label="damage the bytes"):
        text = corrupt(text, data)
    (root / "house_prices" / name).write_bytes(text)
    splits = loads_or_says_why(house_prices.load_house_prices, root)
    if splits is not None:
        for part in (splits.x_train, splits.x_val, splits.x_test):
            assert all(np.isfinite(values).all() for values in part.values())
        assert np.isfinite(splits.y_train).all() and len(splits.y_test) > 0


# --- image folders, both layouts ---------------------------------------------------------
@FUZZ
@given(data=st.data(), layout=st.sampled_from(["flat", "petimages"]))
def test_image_folders_corrupted(folder, data, layout):
    root = fresh(folder, "images_case")
    paths = []
    for i in range(12):
        for label in ("cat", "dog"):
            path = (root / "cats_dogs" / "train" / f"{label}.{i}.jpg" if layout == "flat"
                    else root / "PetImages" / label.capitalize() / f"{i}.jpg")
            write_jpeg(path, color=(40 * i % 255, 90, 200))
            paths.append(path)
    for index in data.draw(st.lists(st.integers(0, len(paths) - 1), min_size=1, max_size=6), label="damaged"):
        paths[index].write_bytes(corrupt(paths[index].read_bytes(), data))
    splits = loads_or_says_why(cats_dogs.load_cats_dogs, root)
    if splits is not None:
        assert set(splits.y_train.tolist()) == {0, 1}


# --- .keras and its card -----------------------------------------------------------------
SPIRALS = Path(__file__).resolve().parents[1] / "saved_models" / "two_spirals.keras"


@FUZZ
@given(data=st.data(), damaged=st.sampled_from(["model", "card"]))
def test_keras_file_and_card_corrupted(folder, data, damaged):
    from zoo.evaluate import evaluate

    root = fresh(folder, "keras_case")
    model, card = root / "two_spirals.keras", root / "two_spirals.json"
    shutil.copy(SPIRALS, model)
    shutil.copy(SPIRALS.with_suffix(".json"), card)
    target = model if damaged == "model" else card
    target.write_bytes(corrupt(target.read_bytes(), data))
    result = loads_or_says_why(evaluate, model)
    if result is not None:
        assert 0.0 <= result["metrics"]["accuracy"] <= 1.0


def test_the_fixtures_are_valid_before_corruption(folder):
    """What the fuzzing corrupts loads cleanly when left alone."""
    root = fresh(folder, "clean")
    write_usps_h5(root / "usps" / "usps.h5", n_train=1400, n_test=30)
    assert len(usps.load_usps(root).y_test) == 30
    with h5py.File(root / "usps" / "usps.h5") as f:
        assert f["train/data"].shape == (1400, 256)
    json.loads(SPIRALS.with_suffix(".json").read_text())
