"""mnist (seeds 001 §3 and 004 §2): 28x28 handwritten digits, 10 classes.

Every model takes raw (28, 28) images with values 0..255 and scales them itself.

Variants (seed 001, Adam 1e-3, batch 256, early stopping with patience 10):
- ``fcn``: 784 -> 128 -> 16 -> 10, ReLU.
- ``cnn``: three 3x3 stride-2 convolutions of 8, 16, 32 channels (padding 1, 1, 0),
  then 128 -> 16 -> 10; trained, unlike seed 001, with Adam 2e-3 and cosine decay over 30
  epochs, batch 128, weight decay 1e-4, keeping the best validation accuracy (chosen on validation).
- ``dcnn``: ``cnn`` with dropout 0.5 before the two hidden dense layers.
- ``pdcnn``: seed 001's PDCNN idea, an 11th class, "not a digit", trained with Perlin-noise
  images mixed into training and validation at p = 0.09 (``data_prep.perlin``); seed 001 put
  it on ``dcnn``, the zoo on ``default``'s network (with one cosine over 20 epochs). Its
  card adds ``perlin_rejection``: the share of 10,000 fresh Perlin images (a seed never
  used in training) predicted "not a digit".
Variants of seed 004:
- ``light``: conv 32 -> pool -> conv 32 -> pool -> 10 (25,258 parameters), 3 epochs.
- ``wide``: conv 64 -> pool -> conv 128 -> conv 128 -> pool -> 64 -> 10 (624,202
  parameters), SGD 0.01, 10 epochs.
Ours:
- ``default``: C. Deotte's Kaggle MNIST CNN (32C3-32C3-32C5S2-64C3-64C3-64C5S2-128, batch
  norm, dropout 0.4), small rotations/shifts/zooms as
  augmentation layers, Adam 2e-3, batch 128, a 2-epoch cosine cycle (past keras-io's 99.22% test
  already, sooner than keras-io's simple convnet gets there) then a restart decaying over 28 more
  epochs; trained in mixed_bfloat16 where the CPU computes bfloat16 natively, shipped in float32,
  answering with its mean over 9 views of each image (:func:`mean_over_shifts_and_rotations`).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers

from data_prep.mnist import load_mnist
from data_prep.perlin import perlin_images
from zoo.core import NATIVE_BFLOAT16, predict_outputs
from zoo.layers import DIGIT_VIEW_ANGLES, FusedBatchNormalization, ShiftAveraged
from zoo.registry import Recipe, Task, Variant, register

NOT_A_DIGIT = 10
PERLIN_RATE = 0.09
PERLIN_TRAIN_SEED, PERLIN_VAL_SEED, PERLIN_FRESH_SEED = 11, 12, 2026  # the last is never trained on


def image_input():
    """Raw (28, 28) images -> scaled (28, 28, 1) tensors."""
    inputs = keras.Input(shape=(28, 28), name="image")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    return inputs, layers.Reshape((28, 28, 1), name="channel")(x)


def mnist_fcn(splits=None) -> keras.Model:
    inputs, x = image_input()
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="hidden1")(x)
    x = layers.Dense(16, activation="relu", name="hidden2")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="digit")(x), name="mnist_fcn")


def mnist_cnn(splits=None, dropout=0.0, classes=10, name="mnist_cnn") -> keras.Model:
    inputs, x = image_input()
    for i, (channels, padding) in enumerate(zip((8, 16, 32), ("same", "same", "valid"))):
        x = layers.Conv2D(channels, 3, strides=2, padding=padding, activation="relu", name=f"conv{i + 1}")(x)
    x = layers.Flatten()(x)
    for i, units in enumerate((128, 16)):
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
        x = layers.Dense(units, activation="relu", name=f"hidden{i + 1}")(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", name="digit")(x), name=name)


def mnist_dcnn(splits=None) -> keras.Model:
    return mnist_cnn(dropout=0.5, name="mnist_dcnn")


def mnist_pdcnn(splits=None) -> keras.Model:
    """Seed 001's idea, an 11th "not a digit" class learnt from Perlin noise, on the default CNN
    (seed 001 put it on its 45k-parameter dcnn: 98.98%; that network reaches 98.95% here)."""
    return mnist_default(classes=11, name="mnist_pdcnn")


def mnist_light(splits=None) -> keras.Model:
    inputs, x = image_input()
    for i in (1, 2):
        x = layers.Conv2D(32, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="digit")(x), name="mnist_light")


def mnist_wide(splits=None) -> keras.Model:
    inputs, x = image_input()
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name="hidden")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="digit")(x), name="mnist_wide")


def conv_bn_relu(x, channels: int, kernel: int, strides: int, padding: str, name: str, batch_norm: bool = True):
    """Convolution, batch norm (TensorFlow's fused kernel in training: a third off the default's
    bfloat16 step, reports/mnist/tried.md; Keras' own layer in the shipped model), ReLU."""
    x = layers.Conv2D(channels, kernel, strides=strides, padding=padding, use_bias=not batch_norm,
                      name=f"{name}_conv")(x)
    if batch_norm:
        x = FusedBatchNormalization(momentum=0.9, name=f"{name}_bn")(x)  # 0.9: settled statistics after epoch 1
    return layers.ReLU(name=f"{name}_relu")(x)


def mnist_default(splits=None, classes=10, name="mnist_default", without_batch_norm=()) -> keras.Model:
    """Deotte's "32C3-32C3-32C5S2 - 64C3-64C3-64C5S2 - 128" MNIST CNN with batch norm and dropout;
    a strided 5x5 convolution downsamples where a pooling layer would. ``without_batch_norm``: the
    convolutions (e.g. ``block1a``) with a bias instead, tried for speed (reports/mnist/tried.md)."""
    inputs, x = image_input()
    x = layers.RandomRotation(10 / 360, fill_mode="constant", name="augment_rotation")(x)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="augment_shift")(x)
    x = layers.RandomZoom(0.1, fill_mode="constant", name="augment_zoom")(x)
    for block, channels in enumerate((32, 64), start=1):
        for part, kernel, strides, padding in (("a", 3, 1, "valid"), ("b", 3, 1, "valid"), ("_down", 5, 2, "same")):
            conv = f"block{block}{part}"
            x = conv_bn_relu(x, channels, kernel, strides, padding, conv, batch_norm=conv not in without_batch_norm)
        x = layers.Dropout(0.4)(x)
    x = layers.Dense(128, use_bias=False, name="hidden")(layers.Flatten()(x))
    x = layers.Dropout(0.4)(layers.ReLU()(layers.BatchNormalization(momentum=0.9, name="hidden_bn")(x)))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", name="digit")(x), name=name)


def mean_over_shifts_and_rotations(model) -> keras.Model:
    """The trained default answering with its mean output over 9 views of each image: the image,
    its four one-pixel shifts and its rotations by -10, -5, 5 and 10 degrees, one batch
    (:class:`zoo.layers.ShiftAveraged`). Chosen on validation: on 15 trainings of this network it
    lowered the validation loss in each and raised the accuracy in 14 (reports/mnist/tried.md)."""
    inputs = keras.Input(shape=model.inputs[0].shape[1:], name=model.inputs[0].name)  # the raw image, as the network's
    # Named as the network's output ("digit"), which predictions and the demo page are read by.
    averaged = ShiftAveraged(model, angles=DIGIT_VIEW_ANGLES, name=model.output_names[0])(inputs)
    return keras.Model(inputs, averaged, name=model.name)


def with_perlin_noise(images, labels, seed: int, rate: float = PERLIN_RATE):
    """Add Perlin images labelled "not a digit" so that they are a ``rate`` share of the result."""
    n = int(round(len(images) * rate / (1 - rate)))
    x = np.concatenate([images, perlin_images(n, size=images.shape[1], seed=seed)])
    y = np.concatenate([labels, np.full(n, NOT_A_DIGIT, dtype=labels.dtype)])
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order], y[order]


def load_mnist_with_noise(data_dir=None):
    """MNIST with Perlin noise in training and validation; the test split stays MNIST's."""
    splits = load_mnist(data_dir)
    x_train, y_train = with_perlin_noise(splits.x_train, splits.y_train, PERLIN_TRAIN_SEED)
    x_val, y_val = with_perlin_noise(splits.x_val, splits.y_val, PERLIN_VAL_SEED)
    return dataclasses.replace(splits, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                               info={**splits.info, "num_classes": 11, "perlin_rate": PERLIN_RATE})


def perlin_rejection(model, n: int = 10_000) -> dict:
    """Share of ``n`` fresh Perlin images (seed never trained on) predicted "not a digit"."""
    noise = perlin_images(n, seed=PERLIN_FRESH_SEED)
    (scores,) = predict_outputs(model, noise, batch_size=500).values()
    predicted = np.argmax(scores, axis=-1)
    return {"perlin_rejection": float(np.mean(predicted == NOT_A_DIGIT))}


CROSS_ENTROPY = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
SEED001 = dict(**CROSS_ENTROPY, learning_rate=1e-3, epochs=100, batch_size=256, monitor="val_loss", mode="min",
               callbacks=lambda: [keras.callbacks.EarlyStopping("val_loss", patience=10)])

# A 2-epoch cosine cycle, then a restart decaying over 28 more: the model after epoch 2 is already
# near 99% (the race to keras-io's 99.22%, benchmarks/RESULTS.md); the long cycle makes the final one.
# Trained in mixed_bfloat16 where the CPU computes bfloat16 natively (an epoch about a sixth shorter on
# the AMD EPYC, the same validation accuracy: reports/mnist/tried.md), with the convolutions' batch norm
# in TensorFlow's fused kernel (another third off); shipped in float32 with Keras' own layers.
DEFAULT_RECIPE = Recipe(**CROSS_ENTROPY, learning_rate=2e-3, schedule="cosine", restart_epochs=2, epochs=30,
                        batch_size=128, monitor="val_loss", mode="min", mixed_precision=NATIVE_BFLOAT16)
# The default's recipe before the restart, on which the shipped pdcnn was trained: one cosine over 20 epochs.
ONE_CYCLE_RECIPE = dataclasses.replace(DEFAULT_RECIPE, restart_epochs=0, epochs=20, mixed_precision=None)

register(Task(
    name="mnist",
    load=load_mnist,
    variants={
        "default": Variant(mnist_default, DEFAULT_RECIPE,
                           "", "32C3-32C3-32C5S2-64C3-64C3-64C5S2-128 with batch norm, "
                               "dropout, rotation/shift/zoom augmentation; answers averaged over "
                               "9 shifted and rotated views",
                           at_inference=mean_over_shifts_and_rotations),
        "fcn": Variant(mnist_fcn, Recipe(**SEED001), "97.35% test (seed 001)", "seed 001's FCN 128-16"),
        # Chosen on validation (reports/mnist/tried.md): seed 001's recipe keeps 98.22% validation accuracy,
        # this one 98.50-98.52% (60 epochs: 98.57%, not separable from 30).
        "cnn": Variant(mnist_cnn, Recipe(**CROSS_ENTROPY, learning_rate=2e-3, schedule="cosine", epochs=30,
                                         batch_size=128, weight_decay=1e-4, monitor="val_accuracy", mode="max"),
                       "98.19% test (seed 001)",
                       "seed 001's CNN: 3 stride-2 convs (8, 16, 32), 128-16"),
        "dcnn": Variant(mnist_dcnn, Recipe(**SEED001, weight_decay=1e-4), "98.87% test (seed 001)",
                        "seed 001's CNN with dropout 0.5"),
        "pdcnn": Variant(mnist_pdcnn, ONE_CYCLE_RECIPE, "98.98% test (seed 001)",
                         "the default CNN with an 11th 'not a digit' class trained on Perlin noise (p = 0.09)",
                         load=load_mnist_with_noise, extra_metrics=perlin_rejection),
        # Chosen on validation by `python -m zoo.experiment mnist_light` (seed 004's Adam 1e-3, batch 32 is its first row).
        "light": Variant(mnist_light, Recipe(**CROSS_ENTROPY, learning_rate=1e-2, schedule="cosine", epochs=3,
                                             batch_size=128),
                         "97% validation after 3 epochs (seed 004)", "seed 004's light CNN (25,258 parameters)"),
        "wide": Variant(mnist_wide, Recipe(**CROSS_ENTROPY, optimizer="sgd", learning_rate=0.01, epochs=10,
                                           batch_size=32), "97% validation after 2 epochs (seed 004)",
                        "seed 004's CNN (624,202 parameters)"),
    },
    default="default",
    description="MNIST handwritten digits 28x28, 10 classes (standard split 50,000/10,000/10,000)",
    reference="seed 001: 98.98% test accuracy (pdcnn); keras-io simple convnet 99.22%",
))
