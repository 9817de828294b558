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


# Keras marks its geometric augmentation layers ``supports_jit = False`` for TensorFlow's sake
# (ImageProjectiveTransformV3 has no XLA kernel), and one such layer turns XLA off for the whole
# model: on JAX every train step of usps, mnist, mnist_pairs and cats_dogs ran op by op. Their JAX
# code (keras.ops.image.affine_transform, jnp) traces and compiles like any other op.
JIT_SAFE_ON_JAX = (keras.layers.RandomRotation, keras.layers.RandomTranslation, keras.layers.RandomZoom,
                   keras.layers.RandomShear)


def allow_xla_on_jax(model):
    """On the JAX backend, let ``jit_compile="auto"`` compile a model whose only obstacle to XLA is
    Keras' augmentation layers; a no-op on TensorFlow and PyTorch. Call it before ``compile`` (or on a
    loaded, compiled model: its ``auto`` is resolved again)."""
    if keras.backend.backend() != "jax":
        return model
    blocked = [layer for layer in model._flatten_layers()
               if isinstance(layer, JIT_SAFE_ON_JAX) and not layer.supports_jit]
    for layer in blocked:
        layer.supports_jit = True
    if blocked and model.compiled and (model.get_compile_config() or {}).get("jit_compile", "auto") in ("auto", True):
        model.jit_compile = True
    return model


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


class ViewAveraged(keras.layers.Layer):
    """Test-time augmentation inside the model: at inference, the mean of ``net``'s outputs on the
    images and on the other views :meth:`views` makes of them, all in one batch; in training, ``net``
    on the images alone, so a training step costs one pass. Saved with the model, so every backend
    and tool (predict, export, the demo page) gets it."""

    def __init__(self, net: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def views(self, images) -> list:
        raise NotImplementedError

    def build(self, input_shape):
        self.net.build(input_shape)

    def call(self, images, training=None):
        if training:
            return self.net(images, training=True)
        views = [images, *self.views(images)]
        outputs = self.net(keras.ops.concatenate(views, axis=0), training=False)
        per_view = keras.ops.reshape(outputs, (len(views), -1, *outputs.shape[1:]))
        return keras.ops.mean(per_view, axis=0)

    def compute_output_shape(self, input_shape):
        return self.net.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "net": keras.saving.serialize_keras_object(self.net)}

    @classmethod
    def from_config(cls, config):
        config["net"] = keras.saving.deserialize_keras_object(config["net"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="zoo")
class FlipAveraged(ViewAveraged):
    """:class:`ViewAveraged` over the images and their mirror images (left-right): cats_dogs."""

    def views(self, images):
        return [keras.ops.flip(images, axis=-2)]  # channels-last: axis -2 is the width


def shifted(images, dy: int, dx: int):
    """Channels-last ``images`` moved down ``dy`` and right ``dx`` pixels (negative: up, left),
    zeros (the background) shifted in."""
    height, width = images.shape[1:3]
    padded = keras.ops.pad(images, [[0, 0], [max(dy, 0), max(-dy, 0)], [max(dx, 0), max(-dx, 0)], [0, 0]])
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[:, top : top + height, left : left + width]


@keras.saving.register_keras_serializable(package="zoo")
class ShiftAveraged(ViewAveraged):
    """:class:`ViewAveraged` over the images and their four one-pixel shifts (up, down, left, right):
    mnist_pairs' digits, which are centred by their mass and vary by a pixel or so."""

    SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))

    def views(self, images):
        return [shifted(images, dy, dx) for dy, dx in self.SHIFTS]
