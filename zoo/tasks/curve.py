"""curve (seed 001 §2): regression of a 1-D scalar function, tested inside two gaps
left in the training data — how well a network interpolates where it saw nothing.

Variants:
- ``basic``: 2 hidden layers of 128 sigmoid units, Adam 1e-3, batch 10, 2000 epochs,
  10% of the training points for validation (seed: test MSE 0.3417).
- ``best``: the seed's random-search winner: hidden layers 32, 128, 64, 256 with tanh,
  dropout 0.5 after the second and third, Adam 1e-3, batch 30, early stopping with
  patience 400 that restores the best weights, at most 4000 epochs (the seed allowed 10^4;
  on a 2-core CPU each epoch costs ~50 ms of Keras overhead) (seed: 0.1216).

Both recipes run 5-fold cross-validation (scikit-learn ``KFold``) on the 100 training
points before the final fit; the card records the validation loss of every fold.
"""

import keras
from keras import layers

from data_prep.generated import load_curve
from zoo.registry import Recipe, Task, Variant, register


def curve_mlp(splits, hidden=(128, 128), activation="sigmoid", dropout_after=(), dropout=0.5) -> keras.Model:
    inputs = keras.Input(shape=(1,), name="x")
    norm = layers.Normalization(name="standardize")
    norm.adapt(splits.x_train)
    x = norm(inputs)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation=activation, name=f"hidden{i + 1}")(x)
        if i + 1 in dropout_after:
            x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
    outputs = layers.Dense(1, name="y")(x)
    return keras.Model(inputs, outputs, name="curve_mlp")


def basic(splits) -> keras.Model:
    return curve_mlp(splits)


def best(splits) -> keras.Model:
    return curve_mlp(splits, hidden=(32, 128, 64, 256), activation="tanh", dropout_after=(2, 3))


def early_stopping():
    return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=400)]


register(Task(
    name="curve",
    load=load_curve,
    variants={
        "best": Variant(
            best,
            Recipe("mse", ["mse"], "adam", 1e-3, epochs=4000, batch_size=30, callbacks=early_stopping,
                   monitor="val_loss", mode="min", folds=5),
            "test MSE 0.1216 (seed 001)", "32-128-64-256 tanh, dropout 0.5, early stopping (patience 400)",
        ),
        "basic": Variant(
            basic, Recipe("mse", ["mse"], "adam", 1e-3, epochs=2000, batch_size=10, folds=5),
            "test MSE 0.3417 (seed 001)", "2 x 128 sigmoid, 2000 epochs",
        ),
    },
    default="best",
    description="1-D regression with two gaps in the training data (generated, 90/10 train/val, 100 test in the gaps)",
    reference="seed 001: test MSE 0.1216 (basic: 0.3417)",
))
