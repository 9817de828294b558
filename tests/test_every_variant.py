"""Every registered variant builds, saves as .keras, reloads in safe mode and predicts the same."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_mnist_npz, write_usps_h5
from tests.test_loaders import KAGGLE_COLUMNS, _sales
from zoo.evaluate import load_model
from zoo.registry import get_task, list_tasks


def fixture_data(task, tmp_path):
    """A tiny data folder for the tasks that read files; None for generated data."""
    if task in ("usps", "colored_usps"):
        write_usps_h5(tmp_path / "usps" / "usps.h5")
    elif task == "house_prices":
        (tmp_path / "house_prices").mkdir()
        pd.DataFrame(_sales(60), columns=KAGGLE_COLUMNS).to_csv(tmp_path / "house_prices" / "train.csv", index=False)
    elif task.startswith("mnist"):
        write_mnist_npz(tmp_path / "mnist" / "mnist.npz")
    else:
        return None
    return tmp_path


ALL = [(t, v) for t in list_tasks() for v in get_task(t).variants if (t, v) != ("house_prices", "mlp_more")]


@pytest.mark.parametrize("task_name,variant", ALL)
def test_variant_round_trips_through_keras_file(task_name, variant, tmp_path):
    task = get_task(task_name)
    splits = task.load_for(variant, data_dir=fixture_data(task_name, tmp_path))
    model = task.build(variant, splits)
    x = {k: v[:3] for k, v in splits.x_test.items()} if isinstance(splits.x_test, dict) else splits.x_test[:3]
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    after = load_model(tmp_path / "m.keras").predict(x, verbose=0)
    if isinstance(before, dict):  # multi-output models: the same named outputs
        assert set(after) == set(before)
    for a, b in zip(keras.tree.flatten(after), keras.tree.flatten(before)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
