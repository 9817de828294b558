"""Losses and metrics of the zoo, written with ``keras.ops`` so every backend runs them,
and registered so a saved ``.keras`` reloads without ``custom_objects``.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class GaussianNLL(keras.losses.Loss):
    """Negative log-likelihood of ``y_true`` under N(mu, sigma^2), per example.

    ``y_pred[..., 0]`` is the mean, ``y_pred[..., 1]`` the standard deviation (> 0).
    NLL = log(sigma) + (y - mu)^2 / (2 sigma^2) + log(2 pi) / 2.
    """

    def __init__(self, name="gaussian_nll", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1,))
        mu, sigma = y_pred[:, 0], y_pred[:, 1]
        return ops.log(sigma) + ops.square(y_true - mu) / (2.0 * ops.square(sigma)) + 0.5 * math.log(2 * math.pi)


@keras.saving.register_keras_serializable(package="zoo")
class MeanRMSE(keras.metrics.RootMeanSquaredError):
    """RMSE of the predicted mean (column 0 of a Gaussian head)."""

    def __init__(self, name="rmse", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(ops.reshape(y_true, (-1, 1)), y_pred[:, :1], sample_weight)


@keras.saving.register_keras_serializable(package="zoo")
class LogRMSE(keras.metrics.RootMeanSquaredError):
    """RMSE between log prices (Kaggle's House Prices score); uses column 0 of y_pred."""

    def __init__(self, name="log_rmse", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
        floor = ops.convert_to_tensor(1.0, y_pred.dtype)
        return super().update_state(ops.log(ops.maximum(y_true, floor)), ops.log(ops.maximum(y_pred[:, :1], floor)),
                                    sample_weight)


@keras.saving.register_keras_serializable(package="zoo")
class IntervalCoverage(keras.metrics.Mean):
    """Fraction of targets inside the central interval mu +- z sigma (z = 1.96: 95%)."""

    def __init__(self, z=1.959964, name="coverage95", **kwargs):
        super().__init__(name=name, **kwargs)
        self.z = z

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1,))
        inside = ops.cast(ops.abs(y_true - y_pred[:, 0]) <= self.z * y_pred[:, 1], y_pred.dtype)
        return super().update_state(inside, sample_weight)

    def get_config(self):
        return {**super().get_config(), "z": self.z}


@keras.saving.register_keras_serializable(package="zoo")
class SparseMeanSquaredError(keras.losses.Loss):
    """MSE between a class-probability output and the one-hot code of an integer label
    (the MSE side of seed 002's cross-entropy vs MSE comparison on usps)."""

    def __init__(self, name="sparse_mse", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        one_hot = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), classes)
        return ops.mean(ops.square(one_hot - y_pred), axis=-1)
