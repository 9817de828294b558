"""two_spirals (seed 000 §1): which of two interleaved spirals a 2-D point lies on.

Seed 000: two hidden layers of 20 ReLU units, Adam (lr 1e-3), binary cross-entropy,
batch 64, 100 epochs -> 100% validation and test accuracy.
"""

import keras
from keras import layers

from data_prep.generated import load_two_spirals
from zoo.registry import Recipe, Task, Variant, register


def spirals_mlp(splits=None, hidden=(20, 20), activation="relu") -> keras.Model:
    inputs = keras.Input(shape=(2,), name="point")
    x = inputs
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation=activation, name=f"hidden{i + 1}")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="spiral")(x)
    return keras.Model(inputs, outputs, name="spirals_mlp")


SEED_RECIPE = Recipe(
    loss="binary_crossentropy", metrics=["accuracy"], optimizer="adam", learning_rate=1e-3,
    epochs=100, batch_size=64, monitor="val_loss", mode="min",
)

register(Task(
    name="two_spirals",
    load=load_two_spirals,
    variants={"mlp": Variant(spirals_mlp, SEED_RECIPE, "100% test (seed 000)", "2x20 ReLU MLP, sigmoid output")},
    default="mlp",
    description="2-D points on two interleaved spirals, binary classification (generated, 4000 points)",
    reference="seed 000: 100% test accuracy",
))
