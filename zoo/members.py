"""A deep ensemble's members (Lakshminarayanan et al., 2017): how each one is seeded, and how the
trained members are joined into one model that averages their outputs.

Used by the fit loop for ``Recipe(members=N)`` (:mod:`zoo.training`) and by the seeds' ensemble
(:mod:`zoo.ensemble`); it imports neither.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.core import nestable


def average(members: list, name: str):
    """One functional model over the members' (single) raw input whose outputs are the ``Average`` of
    theirs, named as theirs so that metric names stay the same. Members must have distinct names."""
    members = [nestable(member) for member in members]
    first = members[0].inputs[0]
    inputs = keras.Input(shape=first.shape[1:], dtype=first.dtype, name=first.name)
    predictions = [member(inputs) for member in members]
    if isinstance(predictions[0], dict):  # a multi-output model (colored_usps, mnist_pairs): average each output
        outputs = {key: layers.Average(name=key)([p[key] for p in predictions]) for key in predictions[0]}
    else:
        outputs = layers.Average(name=members[0].layers[-1].name)(predictions)
    model = keras.Model(inputs, outputs, name=name)
    # An ensemble is for inference: its members are trained. Frozen, its compiled optimizer owns no
    # slot variables, so the saved (never built) optimizer matches the one Keras builds on loading,
    # which otherwise warns "Skipping variable loading for optimizer".
    model.trainable = False
    return model


def member_build(build, member: int, seed: int):
    """The builder of ensemble member ``member`` of a fit seeded ``seed``: member 0 is the variant's own
    fit; member k > 0 reseeds (1000 k + seed) before building, so that its initial weights, and the
    shuffling, augmentation and dropout draws after, are its own, on the same data."""
    if not member:
        return build

    def build_member(splits):
        keras.utils.set_random_seed(1000 * member + seed)
        return build(splits)

    return build_member
