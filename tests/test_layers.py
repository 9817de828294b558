"""The zoo's own layers: what they do to an image, and that saved models holding them reload."""

from __future__ import annotations

import keras
import numpy as np

from zoo.layers import RandomElastic


def coordinate_images(batch=4, size=16) -> np.ndarray:
    """Channel 0 holds each pixel's row, channel 1 its column: bilinear sampling of a linear
    image returns the sampled position, so output - input is the displacement itself."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.broadcast_to(np.stack([rows, cols], -1), (batch, size, size, 2)).astype("float32")


def test_random_elastic_moves_pixels_by_the_asked_displacement_in_training_only():
    images = coordinate_images()
    layer = RandomElastic(displacement=0.7, smoothness=3.0, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    moved = keras.ops.convert_to_numpy(layer(images, training=True)) - images
    inner = moved[:, 4:-4, 4:-4]  # away from the border, where zeros come in
    rms = np.sqrt(np.mean(inner**2))
    assert 0.4 < rms < 1.0, rms
    assert np.abs(inner[..., 0] - inner[..., 1]).mean() > 0.2  # rows and columns move independently
    assert np.abs(inner[0] - inner[1]).mean() > 0.2  # each image its own field
    # smooth: neighbours move alike, unlike pixel noise
    assert np.abs(np.diff(inner, axis=1)).mean() < 0.5 * np.abs(inner).mean()
    still = RandomElastic(displacement=0.0, seed=1)(images, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(still), images)


def test_random_elastic_is_seeded_and_keeps_values_in_range():
    images = np.random.default_rng(0).random((3, 16, 16, 1)).astype("float32")
    first, second = (keras.ops.convert_to_numpy(RandomElastic(1.0, seed=7)(images, training=True)) for _ in range(2))
    np.testing.assert_allclose(first, second)
    assert first.min() >= 0.0 and first.max() <= 1.0 and first.shape == images.shape


def test_a_model_with_random_elastic_reloads(tmp_path):
    inputs = keras.Input((16, 16, 1))
    x = RandomElastic(0.7, smoothness=3.0, seed=2, name="augment_elastic")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    layer = again.get_layer("augment_elastic")
    assert (layer.displacement, layer.smoothness, layer.seed) == (0.7, 3.0, 2)
    images = np.random.default_rng(1).random((2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(again.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-6)
