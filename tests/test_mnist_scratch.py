"""The hand-written MLP: gradients right, zero-init symmetry, the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from zoo.evaluate import load_model
from zoo.tasks.mnist_scratch import ScratchMLP, autodiff_gradients, numerical_gradient_check
from zoo.training import fit


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28)).astype("uint8"), rng.integers(0, 10, n)


def tiny(init="glorot", **kwargs):
    model = ScratchMLP(h1=12, h2=7, init=init, dtype="float64", **kwargs)
    model(batch(1)[0])
    return model


def test_finite_differences_agree_with_the_analytic_gradient():
    x, y = batch()
    rows = numerical_gradient_check(tiny(), x, y, ns=(100, 1000, 10_000))
    assert rows[0]["max_abs_difference"] < 1e-5
    assert rows[1]["max_abs_difference"] < rows[0]["max_abs_difference"] / 10  # O(eps^2) shrinkage
    assert rows[2]["max_abs_difference"] < 1e-9


def test_analytic_gradients_equal_autodiff_in_float64():
    x, y = batch()
    model = tiny(l2=0.01)
    analytic, _ = model.gradients(x, y)
    for mine, auto in zip(analytic, autodiff_gradients(model, x, y)):
        mine = ops.convert_to_numpy(mine)
        assert np.max(np.abs(mine - auto)) <= 1e-6 * max(np.max(np.abs(auto)), 1e-12)


def test_zero_init_keeps_hidden_units_identical_after_steps():
    x, y = batch(64)
    model = tiny("zero")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    w1, w2 = (ops.convert_to_numpy(w) for w in model.kernels[:2])
    assert np.abs(w2).max() > 0  # it did move
    np.testing.assert_allclose(w1, w1[:, :1].repeat(w1.shape[1], axis=1))  # every layer-1 unit the same
    np.testing.assert_allclose(w2, w2[:, :1].repeat(w2.shape[1], axis=1))


def test_random_init_breaks_the_symmetry():
    w1 = ops.convert_to_numpy(tiny("normal").kernels[0])
    assert not np.allclose(w1[:, 0], w1[:, 1])


def test_learning_rate_schedule_matches_the_formula():
    model = tiny(alpha0=4.0, delta=2e-3)
    for t in (0, 1, 10, 1000):
        assert model.learning_rate(t) == pytest.approx(4.0 / (1 + 2e-3 * t))
    x, y = batch(64)
    model.compile(loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert float(ops.convert_to_numpy(model.step)) == 8  # one step a batch: the t of alpha_t


def test_glorot_limits():
    w1 = ops.convert_to_numpy(ScratchMLP(h1=400, h2=700).kernels[0])
    limit = np.sqrt(6 / (784 + 400))
    assert np.abs(w1).max() <= limit and np.abs(w1).max() > 0.95 * limit


def test_fit_saves_a_scratch_model_that_reloads_and_predicts(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = (np.arange(30) % 10).astype(np.uint8)
    np.savez(folder / "mnist.npz", x_train=np.concatenate([images] * 100), y_train=np.concatenate([labels] * 100),
             x_test=images, y_test=labels)
    card = fit("mnist_scratch", "glorot", epochs=1, batch_size=512, data_dir=tmp_path, out_dir=tmp_path / "out",
               verbose=0)
    assert card["data"]["splits"] == {"train": 2500, "val": 500, "test": 30}  # validation: a sixth
    model = load_model(tmp_path / "out" / "mnist_scratch.keras")
    probabilities = model.predict(images[:4], verbose=0)
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
