"""Each loader on a tiny fixture in its publisher's format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import write_esl_gz, write_idx_gz, write_jpeg

from data_prep import cats_dogs, house_prices, mnist, usps
from data_prep.errors import ZooError
from data_prep.generated import CURVE_GAPS, load_curve, load_two_spirals
from data_prep.locate import find_local


# --- usps -------------------------------------------------------------------------
def test_usps_h5_splits_publisher_train_into_train_and_validation(usps_dir):
    splits = usps.load_usps(data_dir=usps_dir)
    assert splits.sizes == {"train": 1500 - 1291, "val": 1291, "test": 60}
    assert splits.x_train.shape[1:] == (16, 16, 1) and splits.x_train.dtype == np.float32
    assert splits.files[0].name == "usps.h5"


def test_usps_esl_text_maps_pixels_to_unit_range(tmp_path):
    folder = tmp_path / "usps"
    folder.mkdir()
    write_esl_gz(folder / "zip.train.gz", 1400, seed=1)
    test_labels, test_pixels = write_esl_gz(folder / "zip.test.gz", 30, seed=2)
    splits = usps.load_usps(data_dir=tmp_path)
    np.testing.assert_array_equal(splits.y_test, test_labels)
    np.testing.assert_allclose(splits.x_test.reshape(30, 256), test_pixels, atol=1e-4)
    assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0


def test_usps_same_split_every_time(usps_dir):
    a, b = usps.load_usps(data_dir=usps_dir), usps.load_usps(data_dir=usps_dir)
    np.testing.assert_array_equal(a.x_val, b.x_val)


def test_usps_wrong_file_format_is_named(tmp_path):
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.h5").write_text("not hdf5")
    with pytest.raises(ZooError, match="usps.h5"):
        usps.load_usps(data_dir=tmp_path)


def test_missing_data_names_the_expected_files(tmp_path):
    with pytest.raises(ZooError) as err:
        usps.load_usps(data_dir=tmp_path)
    assert "usps.h5" in str(err.value) and "zip.train.gz" in str(err.value)


def test_nonexistent_data_dir_is_refused(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        usps.load_usps(data_dir=tmp_path / "nope")


def test_search_order_data_dir_then_env_then_keras_cache(tmp_path, monkeypatch):
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "home" / "datasets"
    for root in (explicit, env, cache):
        (root / "usps").mkdir(parents=True)
        (root / "usps" / "usps.h5").write_text("x")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_DATA_DIR", str(env))
    assert find_local("usps", "usps.h5", explicit).parent.parent == explicit
    assert find_local("usps", "usps.h5").parent.parent == env
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert find_local("usps", "usps.h5").parent.parent == cache


# --- mnist ------------------------------------------------------------------------
def _digits(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def test_mnist_idx_gz(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (xtr, ytr), (xte, yte) = _digits(20, 0), _digits(8, 1)
    for name, array in zip([f.name for f in mnist.IDX_FILES], (xtr, ytr, xte, yte)):
        write_idx_gz(folder / name, array)
    x_train, y_train, x_test, y_test, paths = mnist.load_mnist_arrays(tmp_path)
    np.testing.assert_array_equal(x_train, xtr)
    np.testing.assert_array_equal(y_test, yte)
    assert len(paths) == 4


def test_mnist_npz(tmp_path):
    (xtr, ytr), (xte, yte) = _digits(20, 0), _digits(8, 1)
    np.savez(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    x_train, _, _, y_test, _ = mnist.load_mnist_arrays(tmp_path)
    np.testing.assert_array_equal(x_train, xtr)
    np.testing.assert_array_equal(y_test, yte)


def test_idx_truncated_file_is_refused(tmp_path):
    path = tmp_path / "x.idx.gz"
    write_idx_gz(path, np.zeros((4, 28, 28), np.uint8))
    import gzip

    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(ZooError, match="truncated"):
        mnist.read_idx(path)


def test_mnist_with_only_test_files_names_the_missing_ones(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx_gz(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", _digits(3, 0)[0])
    with pytest.raises(ZooError) as error:
        mnist.load_mnist(tmp_path)
    message = str(error.value)
    assert "found t10k-images-idx3-ubyte.gz" in message  # what is there
    assert "missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    assert "Put the files there" in message  # and how to get them


# --- house prices -----------------------------------------------------------------
KAGGLE_COLUMNS = ["Id", "OverallQual", "YearBuilt", "YearRemodAdd", "TotalBsmtSF", "GrLivArea", "SalePrice"]
AMES_COLUMNS = ["Order", "Overall Qual", "Year Built", "Year Remod/Add", "Total Bsmt SF", "Gr Liv Area", "SalePrice"]


def _sales(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([
        np.arange(n), rng.integers(1, 11, n), rng.integers(1900, 2010, n), rng.integers(1950, 2010, n),
        rng.integers(0, 2000, n), rng.integers(500, 3000, n), rng.integers(50_000, 500_000, n),
    ])


@pytest.mark.parametrize("columns,name,sep", [
    (KAGGLE_COLUMNS, "train.csv", ","), (AMES_COLUMNS, "AmesHousing.csv", ","), (AMES_COLUMNS, "AmesHousing.txt", "\t"),
])
def test_house_prices_dialects_load_the_same(tmp_path, columns, name, sep):
    (tmp_path / "house_prices").mkdir()
    pd.DataFrame(_sales(), columns=columns).to_csv(tmp_path / "house_prices" / name, index=False, sep=sep)
    splits = house_prices.load_house_prices(data_dir=tmp_path)
    assert set(splits.x_train) == set(house_prices.SEED_FEATURES)
    assert splits.sizes == {"train": 28, "val": 6, "test": 6}
    everything = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
    np.testing.assert_array_equal(np.sort(everything), np.sort(_sales()[:, -1]).astype("float32"))


def test_column_names_normalize_to_kaggle():
    assert house_prices.normalize_column("Gr Liv Area") == "GrLivArea"
    assert house_prices.normalize_column("Year Remod/Add") == "YearRemodAdd"
    assert house_prices.normalize_column("1st Flr SF") == "1stFlrSF"


def test_house_prices_missing_column_is_named(tmp_path):
    (tmp_path / "house_prices").mkdir()
    frame = pd.DataFrame(_sales(), columns=KAGGLE_COLUMNS).drop(columns="GrLivArea")
    frame.to_csv(tmp_path / "house_prices" / "train.csv", index=False)
    with pytest.raises(ZooError, match="GrLivArea"):
        house_prices.load_house_prices(data_dir=tmp_path)


def test_house_prices_rows_with_missing_values_are_dropped_and_reported(tmp_path, capsys):
    (tmp_path / "house_prices").mkdir()
    frame = pd.DataFrame(_sales(), columns=KAGGLE_COLUMNS).astype(float)
    frame.loc[[3, 7], "TotalBsmtSF"] = np.nan
    frame.to_csv(tmp_path / "house_prices" / "train.csv", index=False)
    splits = house_prices.load_house_prices(data_dir=tmp_path)
    assert sum(splits.sizes.values()) == 38 and splits.info["dropped_rows"] == 2
    assert "dropped 2 row" in capsys.readouterr().out


# --- cats and dogs ----------------------------------------------------------------
def test_cats_dogs_kaggle_flat_layout(tmp_path):
    for i in range(3):
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"cat.{i}.jpg")
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"dog.{i}.jpg", size=(64, 48))
    images = cats_dogs.list_images(tmp_path / "cats_dogs")
    assert images.layout == "flat" and len(images.paths) == 6
    assert sorted(images.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert all((p.name.startswith("dog")) == bool(y) for p, y in zip(images.paths, images.labels))


def test_cats_dogs_petimages_layout_skips_corrupt_and_non_images(tmp_path, capsys):
    root = tmp_path / "PetImages"
    for i in range(3):
        write_jpeg(root / "Cat" / f"{i}.jpg")
        write_jpeg(root / "Dog" / f"{i}.jpg")
    (root / "Cat" / "666.jpg").write_bytes(b"")  # zero bytes, as in the real zip
    good = (root / "Dog" / "0.jpg").read_bytes()
    (root / "Dog" / "11702.jpg").write_bytes(good[:20])  # truncated header
    (root / "Dog" / "fake.jpg").write_bytes(b"GIF89a not really an image")
    (root / "Cat" / "Thumbs.db").write_bytes(b"\x00" * 100)
    images = cats_dogs.list_images(tmp_path)
    assert images.layout == "petimages"
    assert len(images.paths) == 6 and len(images.skipped) == 4
    assert "skipped 4" in capsys.readouterr().out


def test_cats_dogs_split_is_stratified_and_disjoint(tmp_path):
    for i in range(20):
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"cat.{i}.jpg")
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"dog.{i}.jpg")
    splits = cats_dogs.load_cats_dogs(data_dir=tmp_path)
    assert splits.sizes == {"train": 32, "val": 4, "test": 4}
    assert not set(splits.x_train.paths) & set(splits.x_test.paths)
    assert splits.y_test.sum() == 2


def test_cats_dogs_reads_every_folder_and_counts_a_photo_found_twice_once(tmp_path, capsys):
    for i in range(10):
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"cat.{i}.jpg")
        write_jpeg(tmp_path / "cats_dogs_more" / "train" / f"dog.{i}.jpg")
    write_jpeg(tmp_path / "cats_dogs_more" / "train" / "cat.3.jpg")  # the same photo (class and number) again
    roots = cats_dogs.locate_image_roots(tmp_path)
    assert [r.name for r in roots] == ["cats_dogs", "cats_dogs_more"]
    images = cats_dogs.list_all_images(roots)
    assert len(images.paths) == 20 and images.labels.sum() == 10
    assert "1 photo(s) found in more than one folder" in capsys.readouterr().out
    splits = cats_dogs.load_cats_dogs(data_dir=tmp_path)  # too few of the recorded split's photos: seeded
    assert sum(splits.sizes.values()) == 20 and splits.info["split"].startswith("seeded")
    assert splits.info["folders"] == ["cats_dogs", "cats_dogs_more"]


def test_cats_dogs_recorded_split_keeps_its_test_photos_when_more_arrive(tmp_path):
    record = {"test": ["cat.0", "dog.0", "cat.1", "dog.1"], "val": ["cat.2", "dog.2"]}
    (tmp_path / "split.json").write_text(json.dumps(record))
    names = np.array([f"{c}.{i}" for c in ("cat", "dog") for i in range(6)])
    part = cats_dogs.recorded_split(names, tmp_path / "split.json")
    assert sorted(names[part == "test"]) == sorted(record["test"]) and sorted(names[part == "val"]) == ["cat.2", "dog.2"]
    more = np.concatenate([names, [f"dog.{i}" for i in range(6, 50)]])  # a user with more photos
    part_more = cats_dogs.recorded_split(more, tmp_path / "split.json")
    assert (part_more[: len(names)] == part).all() and set(part_more[len(names):]) == {"train"}
    assert cats_dogs.recorded_split(np.array(["cat.0", "dog.9"]), tmp_path / "split.json") is None  # another collection


def test_cats_dogs_shipped_split_record_names_1000_test_and_1000_validation_photos():
    record = json.loads(cats_dogs.SPLIT_RECORD.read_text())
    test, val = set(record["test"]), set(record["val"])
    assert len(test) == len(val) == 1000 and not test & val
    assert sum(n.startswith("dog.") for n in test) == 500 and sum(n.startswith("dog.") for n in val) == 500
    # a photo's identity is its class and number, whichever layout or folder holds it
    assert cats_dogs.photo_name(Path("PetImages/Dog/123.jpg"), 1) == "dog.123"
    assert cats_dogs.photo_name(Path("cats_dogs_more/train/cat.5001.jpg"), 0) == "cat.5001"


def test_cats_dogs_empty_folder_says_so(tmp_path):
    (tmp_path / "cats_dogs" / "train").mkdir(parents=True)
    with pytest.raises(ZooError, match="no cat/dog images"):
        cats_dogs.load_cats_dogs(data_dir=tmp_path)


# --- generated --------------------------------------------------------------------
def test_two_spirals_is_deterministic_and_balanced():
    a, b = load_two_spirals(), load_two_spirals()
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.sizes == {"train": 3000, "val": 500, "test": 500}
    assert a.y_test.mean() == 0.5


def test_curve_test_points_fill_the_gaps_training_points_avoid_them():
    splits = load_curve()
    in_gap = lambda x: np.any([(lo <= x) & (x <= hi) for lo, hi in CURVE_GAPS], axis=0)  # noqa: E731
    assert in_gap(splits.x_test.ravel()).all()
    assert not in_gap(np.concatenate([splits.x_train, splits.x_val]).ravel()).any()
    assert splits.sizes == {"train": 90, "val": 10, "test": 100}
