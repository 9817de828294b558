"""zoo.training's compile step: what it builds before ``fit``, and why."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.registry import get_task
from zoo.training import compile_model, feed, steps


def traces_of_a_fit(example: bool) -> int:
    spec = get_task("two_spirals").variants["mlp"]
    keras.utils.set_random_seed(0)
    model = spec.build(None)
    data = feed(np.random.default_rng(0).normal(size=(64, 2)).astype("float32"), np.arange(64) % 2, 16, shuffle=True)
    compile_model(model, spec.recipe, steps(data["x"], 16), 2, example=data if example else None)
    traced = []
    train_step = model.train_step
    model.train_step = lambda batch: traced.append(1) or train_step(batch)  # runs only when traced
    model.fit(**data, epochs=2, verbose=0)
    return len(traced)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the double trace is TensorFlow's")
def test_the_train_step_is_traced_once_when_compile_builds_the_optimizer_and_metrics():
    assert traces_of_a_fit(example=False) == 2  # Keras alone: variables made in the first trace -> traced again
    assert traces_of_a_fit(example=True) == 1
