"""Layers the zoo needs beyond Keras' own, registered so saved models reload."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="zoo")
class RandomShear(keras.layers.RandomShear):
    """``keras.layers.RandomShear`` that reloads from its own config.

    Keras (3.15) writes a symmetric factor f as the range [-f, f] in get_config but its
    constructor refuses negative numbers, so a saved model with RandomShear cannot be
    loaded. This subclass writes the magnitude back for symmetric ranges.
    """

    def get_config(self):
        config = super().get_config()
        for key in ("x_factor", "y_factor"):
            low, high = config[key]
            if low == -high:
                config[key] = high
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TakeChannel(keras.layers.Layer):
    """Channel ``index`` of a channels-last image, kept as a 1-channel image."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, images):
        return images[..., self.index : self.index + 1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="zoo")
class ProbabilityLessOrEqual(keras.layers.Layer):
    """P(a <= b) for independent class distributions p_a, p_b over 0..K-1:
    sum over i <= j of p_a[i] p_b[j] = p_a^T U p_b with U upper-triangular ones."""

    def call(self, inputs):
        p_a, p_b = inputs
        k = p_a.shape[-1]
        upper = keras.ops.triu(keras.ops.ones((k, k), dtype=p_a.dtype))
        value = keras.ops.sum(keras.ops.matmul(p_a, upper) * p_b, axis=-1, keepdims=True)
        return keras.ops.clip(value, 1e-7, 1 - 1e-7)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


@keras.saving.register_keras_serializable(package="zoo")
class RandomElastic(keras.layers.Layer):
    """Elastic distortion (Simard, Steinkraus & Platt 2003), in training only: every pixel
    moves along a random displacement field, Gaussian noise smoothed over ``smoothness``
    pixels and scaled to a root-mean-square of ``displacement`` pixels, so strokes bend as
    a hand would bend them; bilinear sampling, zeros outside the image.

    Not ``keras.layers.RandomElasticTransform`` (Keras 3.15): it ties the smoothing to the
    image size (0.8 px at 16x16: pixel noise, not bent strokes), draws the x and y fields
    from one seed (every pixel moves along the diagonal) and one field for a whole batch of
    unknown size.
    """

    def __init__(self, displacement: float = 1.0, smoothness: float = 2.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.displacement, self.smoothness, self.seed = float(displacement), float(smoothness), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        radius = max(1, round(3 * self.smoothness))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / self.smoothness) ** 2)
        gaussian = np.outer(taps, taps) / taps.sum() ** 2
        self.kernel = np.repeat(gaussian[:, :, None, None], 2, axis=2).astype("float32")  # (k, k, 2 fields, 1)

    def call(self, images, training=None):
        if not training or self.displacement == 0:
            return images
        ops = keras.ops
        batch, (height, width, channels) = ops.shape(images)[0], images.shape[1:]
        noise = keras.random.normal((batch, height, width, 2), seed=self.seed_generator)
        field = ops.depthwise_conv(noise, self.kernel, padding="same")
        field = field * (self.displacement / (ops.sqrt(ops.mean(field**2, axis=(1, 2, 3), keepdims=True)) + 1e-6))
        rows = ops.cast(ops.arange(height), "float32")[None, :, None] + field[..., 0]
        cols = ops.cast(ops.arange(width), "float32")[None, None, :] + field[..., 1]
        top, left = ops.floor(rows), ops.floor(cols)
        flat = ops.reshape(images, (batch, height * width, channels))
        out = 0.0
        for row, col, weight in ((top, left, (top + 1 - rows) * (left + 1 - cols)),
                                 (top, left + 1, (top + 1 - rows) * (cols - left)),
                                 (top + 1, left, (rows - top) * (left + 1 - cols)),
                                 (top + 1, left + 1, (rows - top) * (cols - left))):
            inside = (row >= 0) & (row <= height - 1) & (col >= 0) & (col <= width - 1)
            index = ops.cast(ops.clip(row, 0, height - 1) * width + ops.clip(col, 0, width - 1), "int32")
            index = ops.broadcast_to(ops.reshape(index, (batch, height * width, 1)), (batch, height * width, channels))
            weight = ops.reshape(ops.where(inside, weight, 0.0), (batch, height * width, 1))
            out = out + ops.take_along_axis(flat, index, axis=1) * ops.cast(weight, images.dtype)
        return ops.reshape(out, (batch, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "displacement": self.displacement, "smoothness": self.smoothness,
                "seed": self.seed}
