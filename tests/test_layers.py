"""zoo.layers.FusedBatchNormalization: Keras' batch norm, with TensorFlow's fused kernel in training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.layers import FusedBatchNormalization

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fused kernel is TensorFlow's")


def pair(shape, policy="float32", **kwargs):
    """A Keras batch norm and a fused one with the same (non-trivial) weights, built for ``shape``."""
    rng = np.random.default_rng(0)
    layers = [cls(momentum=0.9, dtype=policy, **kwargs) for cls in (keras.layers.BatchNormalization, FusedBatchNormalization)]
    weights = None
    for layer in layers:
        layer.build(shape)
        weights = weights or [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()]
        layer.set_weights(weights)
    return layers


def step(layer, x, upstream):
    """Training-mode output, the gradients of <output, upstream> by input, gamma and beta, moving stats."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        objective = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    grads = tape.gradient(objective, [x, layer.gamma.value, layer.beta.value])
    return [np.asarray(tf.cast(t, "float32")) for t in (y, *grads, layer.moving_mean.value, layer.moving_variance.value)]


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-4), ("mixed_bfloat16", 3e-2)])
def test_fused_batch_norm_trains_as_keras_does(policy, tolerance):
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (16, 6, 6, 5)).astype("float32")  # mean far from 0: the variance is not E[x^2]
    upstream = rng.normal(size=x.shape).astype("float32")
    keras_bn, fused_bn = pair(x.shape, policy)
    start_variance = fused_bn.moving_variance.numpy()
    expected, got = step(keras_bn, x, upstream), step(fused_bn, x, upstream)
    for name, e, g in zip(("output", "d input", "d gamma", "d beta", "moving mean", "moving variance"), expected, got):
        scale = max(1.0, float(np.abs(e).max()))
        assert np.abs(e - g).max() <= tolerance * scale, name
    # The moving variance is the plain batch variance's average, not the kernel's Bessel-corrected one.
    assert np.allclose(got[-1], 0.9 * start_variance + 0.1 * x.var(axis=(0, 1, 2)), rtol=3e-2)
    # Inference is Keras' own code: equal to the bit, given the same moving statistics.
    fused_bn.set_weights(keras_bn.get_weights())
    assert np.array_equal(np.asarray(keras_bn(x, training=False)), np.asarray(fused_bn(x, training=False)))


def test_the_fused_kernel_runs_only_where_it_computes_the_same():
    import tensorflow as tf

    def ops_of(layer, shape, training=True):
        layer.build(shape)
        graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(
            tf.TensorSpec(shape, "float32")).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in ops_of(FusedBatchNormalization(), (8, 4, 4, 3))
    assert "FusedBatchNormV3" not in ops_of(FusedBatchNormalization(), (8, 4, 4, 3), training=False)
    assert "FusedBatchNormV3" not in ops_of(FusedBatchNormalization(), (8, 5))  # a dense layer's output
    assert "FusedBatchNormV3" not in ops_of(FusedBatchNormalization(axis=1), (8, 4, 4, 3))  # channels first
    assert "FusedBatchNormV3" not in ops_of(FusedBatchNormalization(renorm=True), (8, 4, 4, 3))
    assert "FusedBatchNormV3" not in ops_of(FusedBatchNormalization(scale=False), (8, 4, 4, 3))
    frozen = FusedBatchNormalization()
    frozen.trainable = False  # Keras runs a frozen batch norm in inference mode
    assert "FusedBatchNormV3" not in ops_of(frozen, (8, 4, 4, 3))
