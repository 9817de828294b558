"""colored_usps (seed 000 §3): one model, two tasks — the digit and its color.

A shared convolutional trunk feeds two heads; the model has two named outputs,
``digit`` (10 classes) and ``color`` (5 classes), each with its own loss and accuracy.

Variants:
- ``seed000``: the seed's network: shared 5x5 conv of 150 features + pooling; color head
  dense + softmax; digit head 3x3 conv of 900 features + pooling, dense + softmax. Adam
  1e-3, batch 100, up to 100 epochs with early stopping on the validation loss -> 95.27%
  digit / 100% color on the test split (seed 000).
- ``default``: the usps default's trunk (3 conv blocks with batch norm, dropout and
  geometric augmentation) shared by a dense digit head (on the last block) and a color
  head (global max-pooling of the first block).
"""

import keras
from keras import layers

from data_prep.colored_usps import COLORS, load_colored_usps
from zoo.registry import Recipe, Task, Variant, register
from zoo.tasks.usps import augmentation, conv_block


def colored_usps_seed000(splits=None) -> keras.Model:
    inputs = keras.Input(shape=(16, 16, 3), name="image")
    shared = layers.Conv2D(150, 5, padding="same", activation="relu", name="shared_conv")(inputs)
    shared = layers.MaxPooling2D(2, name="shared_pool")(shared)
    color = layers.Dense(len(COLORS), activation="softmax", name="color")(layers.Flatten()(shared))
    x = layers.Conv2D(6 * 150, 3, padding="same", activation="relu", name="digit_conv")(shared)
    x = layers.MaxPooling2D(2, name="digit_pool")(x)
    digit = layers.Dense(10, activation="softmax", name="digit")(layers.Flatten()(x))
    return keras.Model(inputs, {"digit": digit, "color": color}, name="colored_usps_seed000")


def colored_usps_default(splits=None, widths=(32, 64, 128), augment=1.0) -> keras.Model:
    inputs = keras.Input(shape=(16, 16, 3), name="image")
    x = augmentation(inputs, augment)
    trunk = []
    for i, channels in enumerate(widths):
        x = conv_block(x, channels, f"trunk{i + 1}")
        trunk.append(x)
    # Color is a property of the ink anywhere in the image: the strongest response of
    # each early trunk feature, wherever it is, says it (a thin or faint digit included).
    color = layers.GlobalMaxPooling2D(name="color_pool")(trunk[0])
    color = layers.Dense(len(COLORS), activation="softmax", name="color")(color)
    digit = layers.Dense(256, activation="relu", name="digit_dense")(layers.Flatten()(x))
    digit = layers.Dropout(0.4)(digit)
    digit = layers.Dense(10, activation="softmax", name="digit")(digit)
    return keras.Model(inputs, {"digit": digit, "color": color}, name="colored_usps_default")


TWO_TASKS = dict(
    loss={"digit": "sparse_categorical_crossentropy", "color": "sparse_categorical_crossentropy"},
    metrics={"digit": ["accuracy"], "color": ["accuracy"]},
)

register(Task(
    name="colored_usps",
    load=load_colored_usps,
    variants={
        "default": Variant(
            colored_usps_default,
            Recipe(**TWO_TASKS, learning_rate=2e-3, schedule="cosine", epochs=40, batch_size=64,
                   monitor="val_loss", mode="min"),
            "", "usps default trunk (3 conv blocks) shared by a digit head and a max-pooled color head",
        ),
        "seed000": Variant(
            colored_usps_seed000,
            Recipe(**TWO_TASKS, learning_rate=1e-3, epochs=100, batch_size=100, monitor="val_loss", mode="min",
                   callbacks=lambda: [keras.callbacks.EarlyStopping("val_loss", patience=5)]),
            "95.27% digit / 100% color test (seed 000)", "seed 000's shared 5x5 conv (150) + per-task heads",
        ),
    },
    default="default",
    description="USPS digits colorized with 5 colors, 16x16x3: digit (10) + color (5) (real data, 6000/1291/2007)",
    reference="seed 000: 95.27% digit, 100% color test accuracy",
))
