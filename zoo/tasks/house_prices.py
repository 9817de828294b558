"""house_prices (seeds 000 §4 and 002 §1.2): a house's sale price from its features.

Inputs are the raw feature values (one named input per column); a ``Normalization``
layer adapted on the training split standardizes them, and a ``Rescaling`` layer maps
the network's standardized output back to dollars with the training split's price
mean and standard deviation. So the saved ``.keras`` takes raw values and predicts
dollars, and no statistic of the validation or test split reaches the model.

Variants:
- ``linear``: the affine baseline (seed 000: RMSE about $80,000 with SGD).
- ``mlp``: seed 000's best: 1 hidden layer of 30 ReLU, RMSprop lr 0.01, batch 20,
  ReduceLROnPlateau, 300 epochs (validation RMSE $28,000; test $30,000 +- 2,000).
- ``mlp_more``: the ``mlp`` on 10 numeric and 4 categorical columns (Neighborhood,
  ExterQual, KitchenQual, CentralAir), the strings one-hot encoded by ``StringLookup``
  layers inside the model (TensorFlow backend: string inputs are TensorFlow's).
- ``deep``: seed 002's 5 x 200 ReLU, Adam, batch 100, 100 epochs.
- ``gaussian``: predicts the mean and the standard deviation of the price (a softplus
  head), trained with the Gaussian negative log-likelihood (:class:`zoo.losses.GaussianNLL`).
  Output column 0 is the mean, column 1 sigma, both in dollars.
"""

import keras
import numpy as np
from keras import layers

from data_prep.house_prices import load_house_prices, load_house_prices_more
from zoo.losses import GaussianNLL, IntervalCoverage, LogRMSE, MeanRMSE
from zoo.registry import Recipe, Task, Variant, register


def feature_block(splits):
    """Named raw inputs -> one vector: numeric columns standardized, categorical (string)
    columns one-hot encoded, every statistic and vocabulary from the training split."""
    numeric = [f for f in splits.info["features"] if splits.x_train[f].dtype.kind == "f"]
    categorical = [f for f in splits.info["features"] if f not in numeric]
    inputs = {name: keras.Input(shape=(1,), name=name) for name in numeric}
    inputs.update({name: keras.Input(shape=(1,), name=name, dtype="string") for name in categorical})
    x = layers.Concatenate(name="features")([inputs[name] for name in numeric]) if len(numeric) > 1 \
        else inputs[numeric[0]]
    norm = layers.Normalization(name="standardize")
    norm.adapt(np.concatenate([splits.x_train[name] for name in numeric], axis=1).astype("float32"))
    parts = [norm(x)]
    for name in categorical:
        lookup = layers.StringLookup(output_mode="one_hot", name=f"{name}_onehot")
        lookup.adapt(splits.x_train[name].ravel())
        parts.append(lookup(inputs[name]))
    return inputs, parts[0] if len(parts) == 1 else layers.Concatenate(name="all_features")(parts)


def to_dollars(x, splits, name="price"):
    """Standardized output -> dollars, with the training split's price mean and std."""
    y = np.asarray(splits.y_train, dtype="float64")
    return layers.Rescaling(scale=float(y.std()), offset=float(y.mean()), name=name)(x)


def dense_stack(x, hidden, activation="relu"):
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation=activation, name=f"hidden{i + 1}")(x)
    return x


def price_regressor(splits, hidden=(30,), activation="relu") -> keras.Model:
    inputs, x = feature_block(splits)
    x = dense_stack(x, hidden, activation)
    outputs = to_dollars(layers.Dense(1, name="standardized_price")(x), splits)
    return keras.Model(inputs, outputs, name="price_regressor")


def linear(splits) -> keras.Model:
    return price_regressor(splits, hidden=())


def deep(splits) -> keras.Model:
    return price_regressor(splits, hidden=(200,) * 5)


def gaussian(splits, hidden=(64, 64)) -> keras.Model:
    """Mean and standard deviation of the price: output (N, 2) = [mu, sigma] in dollars."""
    inputs, x = feature_block(splits)
    x = dense_stack(x, hidden)
    mu = to_dollars(layers.Dense(1, name="standardized_mean")(x), splits, name="mean")
    price_std = float(np.std(splits.y_train))
    raw_sigma = layers.Dense(1, activation="softplus", name="standardized_sigma")(x)
    sigma = layers.Rescaling(scale=price_std, offset=1.0, name="sigma")(raw_sigma)  # >= $1
    outputs = layers.Concatenate(name="mean_sigma")([mu, sigma])
    return keras.Model(inputs, outputs, name="gaussian_regressor")


def reduce_lr(patience=10):
    return lambda: [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=patience, min_lr=1e-5)]


def point_metrics():
    return [keras.metrics.RootMeanSquaredError(name="rmse"), LogRMSE()]


KEEP_BEST = dict(monitor="val_loss", mode="min")

register(Task(
    name="house_prices",
    load=load_house_prices,
    variants={
        "mlp": Variant(
            price_regressor,
            Recipe("mse", point_metrics(), "rmsprop", 1e-2, epochs=300, batch_size=20,
                   callbacks=reduce_lr(), **KEEP_BEST),
            "test RMSE $30,000 +- 2,000 (seed 000)", "1 hidden layer of 30 ReLU (seed 000), RMSprop",
        ),
        "mlp_more": Variant(
            price_regressor,
            Recipe("mse", point_metrics(), "rmsprop", 1e-2, epochs=300, batch_size=20,
                   callbacks=reduce_lr(), **KEEP_BEST),
            "", "mlp on 10 numeric + 4 categorical columns (StringLookup one-hot inside the model)",
            load=load_house_prices_more,
        ),
        "linear": Variant(
            linear, Recipe("mse", point_metrics(), "adam", 5e-2, epochs=100, batch_size=20, **KEEP_BEST),
            "test RMSE about $80,000 (seed 000, SGD)", "affine baseline",
        ),
        "deep": Variant(
            deep, Recipe("mse", point_metrics(), "adam", 1e-3, epochs=100, batch_size=100,
                         callbacks=reduce_lr(), **KEEP_BEST),
            "test MSE 0.0030 on targets scaled by the price range (seed 002)", "5 x 200 ReLU (seed 002)",
        ),
        "gaussian": Variant(
            gaussian,
            Recipe(GaussianNLL(), [MeanRMSE(), LogRMSE(), IntervalCoverage()], "adam", 1e-3, epochs=300,
                   batch_size=20, callbacks=reduce_lr(), **KEEP_BEST),
            "RMSE as the MSE model (seeds 000, 002)", "mean and sigma heads, Gaussian NLL",
        ),
    },
    default="mlp",
    description="Ames house sale prices in dollars from 4 features (real data, 70/15/15 split)",
    reference="seed 000: test RMSE $30,000 +- 2,000",
))
