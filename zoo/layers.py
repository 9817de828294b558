"""Layers the zoo needs beyond Keras' own, registered so saved models reload."""

import keras


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
class FlipAveraged(keras.layers.Layer):
    """Test-time augmentation inside the model: at inference, the mean of ``net``'s outputs on the
    images and on their mirror images (left-right); in training, ``net`` on the images alone, so
    a training step costs one pass. Saved with the model, so every backend and tool gets it."""

    def __init__(self, net: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def build(self, input_shape):
        self.net.build(input_shape)

    def call(self, images, training=None):
        if training:
            return self.net(images, training=True)
        mirrored = keras.ops.flip(images, axis=-2)  # channels-last: axis -2 is the width
        return (self.net(images, training=False) + self.net(mirrored, training=False)) / 2

    def compute_output_shape(self, input_shape):
        return self.net.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "net": keras.saving.serialize_keras_object(self.net)}

    @classmethod
    def from_config(cls, config):
        config["net"] = keras.saving.deserialize_keras_object(config["net"])
        return cls(**config)
