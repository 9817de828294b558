"""zoo.core.feed on TensorFlow: tf.data pipelines without autotuning, which train as the arrays do.

Issue 48: an autotuned tf.data iterator, deleted by Keras at the next epoch's first step, made a fit
sit idle up to a minute there. The stall itself needs epochs of tens of seconds to show
(benchmarks/iterator_stall.py); these tests check what closes it, on every path into ``fit``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from data_prep.cats_dogs import ImageFiles
from tests.conftest import write_jpeg
from zoo.core import feed, steps

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data is TensorFlow's")


def trained_weights(data: dict, epochs=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(**data, epochs=epochs, verbose=0)
    return model.get_weights()


def spirals_like(n=100):
    x = np.random.default_rng(0).normal(size=(n, 2)).astype("float32")
    return x, (x[:, 0] * x[:, 1] > 0).astype("int32")


def test_fed_arrays_train_exactly_as_keras_fed_the_arrays_themselves():
    """The same batches in the same order, reshuffled each epoch: the weights after 3 epochs agree
    to the bit, so shipped recipes train as they did before the pipeline."""
    x, y = spirals_like()
    by_keras = trained_weights({"x": x, "y": y, "batch_size": 16, "shuffle": True})
    by_feed = trained_weights(feed(x, y, 16, shuffle=True))
    for a, b in zip(by_keras, by_feed):
        np.testing.assert_array_equal(a, b)
    unshuffled = trained_weights({"x": x, "y": y, "batch_size": 16, "shuffle": False})
    assert any(not np.array_equal(a, b) for a, b in zip(by_feed, unshuffled))  # shuffling did something


def test_every_labelled_path_into_fit_is_a_pipeline_without_autotuning(tmp_path):
    x, y = spirals_like(50)
    houses = {"GrLivArea": np.arange(50, dtype="float32"), "Neighborhood": np.array(["NAmes", "OldTown"] * 25)}
    for label in ("cat", "dog"):
        for i in range(3):
            write_jpeg(tmp_path / f"{label}.{i}.jpg")
    photos = ImageFiles(np.array(sorted(str(p) for p in tmp_path.glob("*.jpg"))))
    for what, inputs, labels in [("arrays", x, y), ("string columns", houses, y), ("image files", photos, y[:6])]:
        for shuffle in (True, False):
            data = feed(inputs, labels, 16, shuffle=shuffle)
            assert data["x"].options().autotune.enabled is False, what
            assert int(data["x"].cardinality()) == steps(labels, 16), what  # Keras knows the steps from epoch 1


def test_inputs_to_predict_stay_arrays():
    x, _ = spirals_like(10)
    data = feed(x, None, 4)
    assert data["x"] is x and data["batch_size"] == 4
