"""Search spaces: for a task, hyper-parameters -> (a model from the zoo's builders, a recipe).

Each space mirrors its seed: curve follows seed 001 §2.2 (neurons 8..256, dropout 0..0.5,
tanh/ReLU, learning rate, weight decay, patience, batch size); mnist follows seed 001 §3.1
(2-4 convolutions, channels 4..4*2^j, kernel 2..6, stride 1..4, padding, dropout 0..0.7,
dense 16..256 and 4..128, learning rate 1e-5..1e-1, weight decay 1e-7..1e-1); mnist_pairs
follows seed 003 §3 (batch size and epochs only, for a fixed architecture: its Table 1 grid).

A space returns ``(model, recipe overrides)``; a space over the recipe alone returns no model,
and the search trains the chosen ``--variant``'s own architecture.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from zoo.registry import get_task


class InvalidArchitecture(ValueError):
    """The hyper-parameters give a network whose feature maps vanish (seed 001: pruned)."""


def two_spirals(hp, splits):
    from zoo.tasks.two_spirals import spirals_mlp

    depth = hp.Int("layers", 1, 3)
    model = spirals_mlp(splits, hidden=(hp.Int("units", 8, 64, step=8),) * depth,
                        activation=hp.Choice("activation", ["relu", "tanh"]))
    return model, {"learning_rate": hp.Float("learning_rate", 1e-4, 1e-1, sampling="log"),
                   "batch_size": hp.Choice("batch_size", [32, 64, 128])}


def curve(hp, splits):
    from zoo.tasks.curve import curve_mlp

    depth = hp.Int("layers", 2, 4)
    hidden = tuple(hp.Int(f"units_{i}", 8, 256, sampling="log") for i in range(depth))
    dropout = hp.Float("dropout", 0.0, 0.5)
    model = curve_mlp(splits, hidden=hidden, activation=hp.Choice("activation", ["tanh", "relu"]),
                      dropout_after=tuple(range(depth)) if dropout > 0 else (), dropout=dropout)
    patience = hp.Int("patience", 50, 500, step=50)
    return model, {"learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
                   "weight_decay": hp.Float("weight_decay", 1e-7, 1e-2, sampling="log"),
                   "batch_size": hp.Int("batch_size", 5, 50, step=5),
                   "callbacks": lambda: [keras.callbacks.EarlyStopping("val_loss", patience=patience,
                                                                       restore_best_weights=True)]}


def house_prices(hp, splits):
    from zoo.tasks.house_prices import price_regressor

    depth = hp.Int("layers", 1, 3)
    model = price_regressor(splits, hidden=(hp.Int("units", 5, 64, sampling="log"),) * depth,
                            activation=hp.Choice("activation", ["relu", "tanh", "sigmoid", "relu6"]))
    return model, {"learning_rate": hp.Float("learning_rate", 1e-4, 3e-2, sampling="log"),
                   "batch_size": hp.Choice("batch_size", [16, 32, 64])}


def usps(hp, splits):
    from zoo.tasks.usps import usps_default

    # The defaults are the hand-made `default` recipe: a search's first trial (see tuning.search).
    base = hp.Choice("base_channels", [16, 32, 48], default=32)
    widths = tuple(base * 2**i for i in range(hp.Int("blocks", 2, 3, default=3)))
    model = usps_default(splits, widths=widths, augment=hp.Float("augment", 0.5, 1.5, default=1.0),
                         dropout=hp.Float("block_dropout", 0.0, 0.4, default=0.2),
                         dense_dropout=hp.Float("dense_dropout", 0.0, 0.6, default=0.4))
    return model, {
        "learning_rate": hp.Float("learning_rate", 3e-4, 5e-3, sampling="log", default=2e-3),
        "batch_size": hp.Choice("batch_size", [32, 64, 128], default=64)}


def mnist(hp, splits):
    """Seed 001 §3.1's CNN space; a combination whose feature maps vanish raises InvalidArchitecture."""
    from zoo.tasks.mnist import image_input

    inputs, x = image_input()
    size = 28
    for j in range(hp.Int("conv_layers", 2, 4)):
        kernel, stride = hp.Int(f"kernel_{j}", 2, 6), hp.Int(f"stride_{j}", 1, 4)
        padding = hp.Choice(f"padding_{j}", ["valid", "same"])
        size = -(-size // stride) if padding == "same" else (size - kernel) // stride + 1
        if size < 1:
            raise InvalidArchitecture(f"convolution {j + 1} leaves no pixel (kernel {kernel}, stride {stride}, "
                                      f"padding {padding})")
        x = layers.Conv2D(hp.Int(f"channels_{j}", 4, 4 * 2 ** (j + 1)), kernel, strides=stride, padding=padding,
                          activation="relu", name=f"conv{j + 1}")(x)
    x = layers.Flatten()(x)
    for i, (low, high) in enumerate(((16, 256), (4, 128))):
        x = layers.Dropout(hp.Float(f"dropout_{i}", 0.0, 0.7))(x)
        x = layers.Dense(hp.Int(f"dense_{i}", low, high, sampling="log"), activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(10, activation="softmax", name="digit")(x), name="mnist_searched")
    return model, {"learning_rate": hp.Float("learning_rate", 1e-5, 1e-1, sampling="log"),
                   "weight_decay": hp.Float("weight_decay", 1e-7, 1e-1, sampling="log")}


def mnist_pairs(hp, splits):
    """Seed 003's Table 1 grid: batch size and epochs; the architecture is the --variant's."""
    return None, {"batch_size": hp.Choice("batch_size", [25, 50, 100]), "epochs": hp.Choice("epochs", [25, 50])}


SPACES = {"two_spirals": two_spirals, "curve": curve, "house_prices": house_prices, "usps": usps, "mnist": mnist,
          "mnist_pairs": mnist_pairs}
# What each search optimizes: (metric, direction), and the registered variant whose recipe
# (loss, metrics, optimizer, epochs) the searched values override.
OBJECTIVES = {"two_spirals": ("val_loss", "min", "mlp"), "curve": ("val_loss", "min", "best"),
              "house_prices": ("val_loss", "min", "mlp"), "usps": ("val_loss", "min", "default"),
              "mnist": ("val_loss", "min", "fcn"), "mnist_pairs": ("val_loss", "min", "convnet")}
RECIPE_ONLY = {"mnist_pairs"}  # spaces that leave the architecture to the --variant


def searchable_variants(task_name: str) -> tuple[str, ...]:
    """The variants a search of this task may start from: any, for a space over the recipe
    alone; otherwise only the base variant, whose architecture the space replaces."""
    return tuple(get_task(task_name).variants) if task_name in RECIPE_ONLY else (OBJECTIVES[task_name][2],)


def build(task_name: str, hp, splits, variant: str | None = None):
    """(compiled-ready model, recipe) for these hyper-parameter values: the base variant's recipe
    (its best-epoch rule included, for the retrain) with the searched values; a trial's own
    K folds replace the recipe's. ``variant``: the base (default: the task's in OBJECTIVES)."""
    model, overrides = SPACES[task_name](hp, splits)
    base = get_task(task_name).variants[variant or OBJECTIVES[task_name][2]]
    return (model or base.build(splits)), dataclasses.replace(base.recipe, folds=0, **overrides)
