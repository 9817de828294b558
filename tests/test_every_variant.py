"""Every registered variant builds, saves as .keras, reloads in safe mode and predicts the same."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from data_prep.splits import take
from tests.conftest import write_house_prices_all_columns, write_jpeg, write_mnist_npz, write_usps_h5
from zoo.evaluate import load_model
from zoo.registry import get_task, list_tasks
from zoo.training import feed


def fixture_data(task, tmp_path):
    """A tiny data folder for the tasks that read files; None for generated data."""
    if task in ("usps", "colored_usps"):
        write_usps_h5(tmp_path / "usps" / "usps.h5")
    elif task == "house_prices":
        write_house_prices_all_columns(tmp_path, n=60)
    elif task.startswith("mnist"):
        write_mnist_npz(tmp_path / "mnist" / "mnist.npz")
    elif task == "cats_dogs":
        for i in range(20):
            write_jpeg(tmp_path / "cats_dogs" / "train" / f"{'cat' if i % 2 else 'dog'}.{i}.jpg", size=(30 + i, 40))
    else:
        return None
    return tmp_path


ALL = [(t, v) for t in list_tasks() for v in get_task(t).variants]


@pytest.mark.parametrize("task_name,variant", ALL)
def test_variant_round_trips_through_keras_file(task_name, variant, tmp_path):
    task = get_task(task_name)
    splits = task.load_for(variant, data_dir=fixture_data(task_name, tmp_path))
    model = task.build(variant, splits)
    x = feed(take(splits.x_test, slice(0, 3)), None, 3)["x"]
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    after = load_model(tmp_path / "m.keras").predict(x, verbose=0)
    if isinstance(before, dict):  # multi-output models: the same named outputs
        assert set(after) == set(before)
    for a, b in zip(keras.tree.flatten(after), keras.tree.flatten(before)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
