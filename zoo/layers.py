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
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training step runs TensorFlow's fused kernel there.

    On TensorFlow, Keras (3.15) computes a training step's batch norm from separate ops (moments, then
    the normalization, each differentiated op by op), in float32 even under a mixed policy: a third
    of a ``mixed_bfloat16`` step of the mnist default. ``FusedBatchNormV3`` does it in one pass each
    way, in the activations' own dtype (oneDNN's bfloat16 kernels), the statistics in float32 as
    Keras keeps them. Same weights, config, moving-average update and numbers up to rounding
    (tests/test_layers.py); inference, the other backends and anything else (a mask, renorm,
    synchronized, no scale or center, a non-last or non-image axis) run Keras' own code. The zoo
    ships models with Keras' layer in its place (:func:`zoo.core.shipped_model`).
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
        # The kernel returns the batch variance with Bessel's correction; Keras' moving average uses
        # the plain one (the one it normalizes by).
        count = keras.ops.cast(keras.ops.size(inputs) // inputs.shape[-1], "float32")
        variance = variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return keras.ops.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, mask) -> bool:
        rank = len(inputs.shape)
        return (keras.backend.backend() == "tensorflow" and mask is None and self.scale and self.center
                and not self.renorm and not self.synchronized and rank == 4 and self.axis % rank == rank - 1
                and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "bfloat16", "float16"))


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

    def all_views(self, images) -> list:
        """The images and their :meth:`views`; grey images without a channel axis (mnist's raw
        ``(batch, 28, 28)``) get one for the views, which are computed channels-last."""
        if len(images.shape) == 3:
            return [images, *(view[..., 0] for view in self.views(images[..., None]))]
        return [images, *self.views(images)]

    def call(self, images, training=None):
        if training:
            return self.net(images, training=True)
        views = self.all_views(images)
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


@keras.saving.register_keras_serializable(package="zoo")
class FlipZoomAveraged(ViewAveraged):
    """:class:`ViewAveraged` over the images, their central 90% enlarged back to full size (a 10% zoom-in),
    and the mirror images of both: the cats_dogs default's views, chosen on validation
    (reports/cats_dogs/tried.md)."""

    def views(self, images):
        height, width = images.shape[1:3]
        top, left = round(height * 0.05), round(width * 0.05)  # equal margins: the mirror of a view is a view
        zoomed = keras.ops.image.resize(images[:, top : height - top, left : width - left], (height, width))
        return [zoomed, *(keras.ops.flip(view, axis=-2) for view in (images, zoomed))]  # -2: the width


def shifted(images, dy: int, dx: int):
    """Channels-last ``images`` moved down ``dy`` and right ``dx`` pixels (negative: up, left),
    zeros (the background) shifted in."""
    height, width = images.shape[1:3]
    padded = keras.ops.pad(images, [[0, 0], [max(dy, 0), max(-dy, 0)], [max(dx, 0), max(-dx, 0)], [0, 0]])
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[:, top : top + height, left : left + width]


def resampled(images, rows, cols):
    """Channels-last ``images`` read at the (fractional) source ``rows`` and ``cols`` of every output
    pixel, arrays of (batch or 1, height, width): bilinear, zeros (the background) outside. Written with
    ``keras.ops.take``, so it runs on every backend and exports (a Gather in ONNX)."""
    height, width, channels = images.shape[1:]
    flat = keras.ops.reshape(images, (-1, channels))
    first = (keras.ops.arange(keras.ops.shape(images)[0]) * (height * width))[:, None, None]
    rows, cols = keras.ops.convert_to_tensor(rows, "float32"), keras.ops.convert_to_tensor(cols, "float32")
    top, left = keras.ops.floor(rows), keras.ops.floor(cols)
    out = 0.0
    for r, wr in ((top, 1 - (rows - top)), (top + 1, rows - top)):  # the 4 neighbours
        for c, wc in ((left, 1 - (cols - left)), (left + 1, cols - left)):
            inside = (r >= 0) & (r <= height - 1) & (c >= 0) & (c <= width - 1)
            index = first + keras.ops.cast(keras.ops.clip(r, 0, height - 1) * width + keras.ops.clip(c, 0, width - 1),
                                           "int32")
            weight = keras.ops.where(inside, wr * wc, 0.0)[..., None]
            neighbour = keras.ops.take(flat, keras.ops.reshape(index, (-1,)), axis=0)
            out = out + weight * keras.ops.reshape(neighbour, (-1, height, width, channels))
    return keras.ops.cast(out, images.dtype)


def rotated(images, degrees: float):
    """Channels-last ``images`` rotated ``degrees`` counter-clockwise about their centre, as
    ``scipy.ndimage.rotate(image, degrees, order=1, mode="grid-constant")``."""
    height, width = images.shape[1:3]
    theta = -np.deg2rad(degrees)  # rows grow downwards: counter-clockwise on screen
    rows, cols = np.mgrid[0:height, 0:width]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    # Source coordinates in NumPy: constants of the graph, the same for every batch.
    source_rows = cy + np.cos(theta) * (rows - cy) - np.sin(theta) * (cols - cx)
    source_cols = cx + np.sin(theta) * (rows - cy) + np.cos(theta) * (cols - cx)
    return resampled(images, source_rows[None], source_cols[None])


DIGIT_VIEW_ANGLES = (-10.0, -5.0, 5.0, 10.0)  # a digit's rotated views, degrees: within the 10 its training rotates


@keras.saving.register_keras_serializable(package="zoo")
class ShiftAveraged(ViewAveraged):
    """:class:`ViewAveraged` over the images, their four one-pixel shifts (up, down, left, right)
    and, if ``angles`` are given, their rotations by those degrees: mnist_pairs' digits, which are
    centred by their mass and vary by a pixel or so and by a few degrees of slant."""

    SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))

    def __init__(self, net: keras.Model, angles=(), **kwargs):
        super().__init__(net, **kwargs)
        self.angles = tuple(float(a) for a in angles)

    def views(self, images):
        return [shifted(images, dy, dx) for dy, dx in self.SHIFTS] + [rotated(images, a) for a in self.angles]

    def get_config(self):
        return {**super().get_config(), "angles": list(self.angles)}


@keras.saving.register_keras_serializable(package="zoo")
class RandomElasticDistortion(keras.layers.Layer):
    """Elastic distortion (Simard, Steinkraus and Platt, 2003), in training only: every pixel moves
    by a random field, uniform noise in [-1, 1] per pixel and axis, smoothed by a Gaussian of
    ``sigma`` pixels and scaled by ``alpha``; bilinear, zeros (the background) outside. Their MNIST
    setting, alpha 34 and sigma 4 at 28x28, is alpha 8.5 and sigma 2 at 14x14. Keras'
    ``RandomElasticTransform`` ties sigma to the image size (0.7 pixel at 14x14: pixel noise, not
    a smooth deformation) and needs a known batch size."""

    def __init__(self, alpha: float = 8.5, sigma: float = 2.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.sigma, self.seed = float(alpha), float(sigma), seed
        self.generator = keras.random.SeedGenerator(seed)
        radius = max(1, int(3 * sigma))
        taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
        self.taps = (taps / taps.sum()).astype("float32")  # a normalized 1-D Gaussian, applied per axis

    def smoothed_field(self, batch, height, width):
        field = keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.generator)
        taps = keras.ops.convert_to_tensor(self.taps)
        k = self.taps.shape[0]
        down = keras.ops.tile(keras.ops.reshape(taps, (k, 1, 1, 1)), (1, 1, 2, 1))
        across = keras.ops.tile(keras.ops.reshape(taps, (1, k, 1, 1)), (1, 1, 2, 1))
        field = keras.ops.depthwise_conv(field, down, padding="same")
        return self.alpha * keras.ops.depthwise_conv(field, across, padding="same")

    def call(self, images, training=None):
        if not training:
            return images
        batch = keras.ops.shape(images)[0]
        height, width = images.shape[1:3]
        field = self.smoothed_field(batch, height, width)
        rows = keras.ops.arange(height, dtype="float32")[None, :, None] + field[..., 0]
        cols = keras.ops.arange(width, dtype="float32")[None, None, :] + field[..., 1]
        return resampled(images, rows, cols)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "sigma": self.sigma, "seed": self.seed}
