"""Keras 3 multi-backend as a tested fact: every variant on JAX and PyTorch, and models
saved under TensorFlow predicting the same under the other two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.backend_suite import every_variant
from tests.conftest import write_house_prices_all_columns, write_mnist_npz, write_usps_h5
from tests.test_cli import REPO
from zoo.registry import get_task

SUITE = Path(__file__).with_name("backend_suite.py")
# What a backend is documented not to do, with the message that says so (README, "Backends").
REFUSED = {
    ("jax", "house_prices/mlp_more"): "need the TensorFlow backend",
    ("torch", "house_prices/mlp_more"): "need the TensorFlow backend",
}


def run_backend(backend, *args):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu",
           # XLA compiles the same programs but optimizes their CPU code less: these 4-step fits spend
           # most of their time compiling (the augmentation layers' train step most), about half as long so.
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()}
    done = subprocess.run([sys.executable, str(SUITE), *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def every_data_set(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("all_data")
    write_usps_h5(root / "usps" / "usps.h5")
    write_mnist_npz(root / "mnist" / "mnist.npz")
    write_house_prices_all_columns(root, n=200)
    (root / "cats_dogs" / "train").mkdir(parents=True)
    for i in range(40):
        Image.new("RGB", (40 + i, 50), (200, 100, 50)).save(root / "cats_dogs" / "train" / f"{'cat' if i % 2 else 'dog'}.{i}.jpg")
    return root


PARTS = 2  # the variants in halves: parallel test workers share a backend's slowest test


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_variant_fits_saves_loads_and_predicts(backend, part, every_data_set, tmp_path):
    pytest.importorskip(backend, reason=f"{backend} is installed by `make test` (.[dev,backends])")
    run_backend(backend, "variants", every_data_set, tmp_path / "results.json", part, PARTS)
    results = json.loads((tmp_path / "results.json").read_text())
    expected = {f"{t}/{v}" for t, v in every_variant()[part::PARTS]}
    assert set(results) == expected
    for key, result in results.items():
        if (backend, key) in REFUSED:
            assert result.startswith("refused") and REFUSED[backend, key] in result, (key, result)
        else:
            assert result == "ok", (key, result)


FAMILIES = {  # one model per architecture family: (task, variant, input shape)
    "mlp": ("two_spirals", "mlp", (5, 2)),
    "cnn": ("usps", "seed002", (5, 16, 16, 1)),
    "multi_output": ("colored_usps", "default", (5, 16, 16, 3)),
    "siamese": ("mnist_pairs", "default", (5, 14, 14, 2)),
    "gaussian": ("house_prices", "gaussian", None),
}


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_models_saved_under_tensorflow_predict_the_same_elsewhere(backend, every_data_set, tmp_path):
    pytest.importorskip(backend, reason=f"{backend} is installed by `make test` (.[dev,backends])")
    assert keras.backend.backend() == "tensorflow"
    expected = {}
    for family, (task_name, variant, shape) in FAMILIES.items():
        task = get_task(task_name)
        splits = task.load_for(variant, data_dir=every_data_set)
        model = task.build(variant, splits)
        x = (np.random.default_rng(0).uniform(0, 1, shape).astype("float32") if shape
             else {k: v[:5] for k, v in splits.x_test.items()})
        model.save(tmp_path / f"{family}.keras")
        np.savez(tmp_path / f"{family}.inputs.npz", **({f"x:{k}": v for k, v in x.items()} if isinstance(x, dict)
                                                      else {"x": x}))
        expected[family] = keras.tree.flatten(model.predict(x, verbose=0))
    run_backend(backend, "predict", tmp_path)
    for family, outputs in expected.items():
        got = np.load(tmp_path / f"{family}.{backend}.npz")
        for i, output in enumerate(outputs):
            # atol 1e-5 relative to the output's scale: the gaussian regressor predicts dollars
            # (~2e5), where float32 itself only resolves ~0.02.
            scale = max(1.0, float(np.max(np.abs(output))))
            np.testing.assert_allclose(got[str(i)], output, rtol=0, atol=1e-5 * scale, err_msg=family)
