"""zoo.training's compile step: what it builds before ``fit``, and why."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
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


def train_step_traces(model, fit) -> int:
    """How many times ``fit()`` traces ``model``'s train step."""
    traced = []
    train_step = model.train_step
    model.train_step = lambda batch: traced.append(1) or train_step(batch)  # runs only when traced
    fit()
    return len(traced)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the double trace is TensorFlow's")
def test_the_race_benchmark_sets_up_its_fit_as_zoo_fit_does_and_traces_once(mnist_dir):
    """benchmarks/time_to_accuracy.py times zoo.fit's own set-up (issue 48: its former copy compiled
    without the training state, so its train step was traced twice), so one trace, over epochs."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_accuracy.py"
    spec = importlib.util.spec_from_file_location("time_to_accuracy", path)
    race = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(race)
    plan, splits, model, train_data, val_data = race.zoo_setup("mnist", "default", data_dir=mnist_dir)
    small = {**train_data, "x": train_data["x"].take(4)}  # 4 batches of its pipeline (zoo.core.feed)
    assert train_step_traces(model, lambda: model.fit(**small, validation_data=val_data, epochs=3, verbose=0)) == 1


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the double trace is TensorFlow's")
@pytest.mark.parametrize("benchmark", ["step_time", "cats_dogs_profile"])
def test_the_step_benchmarks_build_the_training_state_before_timing(benchmark, monkeypatch):
    """The step-time benchmarks compile their own models (steps_per_execution, raw trunks): they build the
    training state as zoo.fit does, so their timed epochs hold no second trace."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{benchmark}.py"
    spec = importlib.util.spec_from_file_location(benchmark, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    traced = []
    real_fit = keras.Model.fit

    def counting_fit(model, *args, **kwargs):  # count the traces of every fit the benchmark runs
        if not hasattr(model, "_counted"):
            model._counted, train_step = True, model.train_step
            model.train_step = lambda batch: traced.append(1) or train_step(batch)
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", counting_fit)
    if benchmark == "step_time":
        module.keras_step_ms("usps", "seed002", (16, 16, 1), 10, 16, steps=4, epochs=2)
    else:
        module.images_per_second(lambda: keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3),
                                                           keras.layers.GlobalAveragePooling2D(),
                                                           keras.layers.Dense(1, activation="sigmoid")]),
                                 steps=3, batch_size=8, size=32)
    assert len(traced) == 1


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the rule picks bfloat16 on TensorFlow only")
def test_native_bfloat16_means_mixed_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    from zoo import core

    monkeypatch.setattr(core, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert core.training_policy(core.NATIVE_BFLOAT16) == "mixed_bfloat16"
    monkeypatch.setattr(core, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert core.training_policy(core.NATIVE_BFLOAT16) == "mixed_bfloat16"
    monkeypatch.setattr(core, "cpu_flags", lambda: {"avx2", "avx512f"})  # emulated bfloat16: float32 is faster
    assert core.training_policy(core.NATIVE_BFLOAT16) is None
    assert core.training_policy("mixed_float16") == "mixed_float16" and core.training_policy(None) is None


def test_a_mixed_precision_model_ships_as_the_same_weights_computing_in_float32():
    from zoo.core import dtype_policy, shipped_model

    spec = get_task("mnist").variants["default"]
    keras.utils.set_random_seed(0)
    with dtype_policy("mixed_bfloat16"):
        model = spec.build(None)
        compile_model(model, spec.recipe, 4, 1)
    images, labels = np.random.default_rng(0).integers(0, 256, (64, 28, 28)).astype("uint8"), np.arange(64) % 10
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    shipped = shipped_model(model)
    assert {layer.dtype_policy.name for layer in shipped.layers} == {"float32"}
    assert {layer.dtype_policy.name for layer in model.layers} == {"mixed_bfloat16"}  # the trained one is untouched
    assert all(np.array_equal(a, b) for a, b in zip(shipped.get_weights(), model.get_weights()))
    assert shipped.predict(images, verbose=0).dtype == np.float32
    np.testing.assert_allclose(shipped.predict(images, verbose=0), model.predict(images, verbose=0).astype("float32"),
                               atol=0.03)  # bfloat16 keeps 8 bits of mantissa
    assert "accuracy" in shipped.evaluate(images, labels, verbose=0, return_dict=True)  # compiled as trained
    assert shipped_model(shipped) is shipped


def test_a_variant_with_an_inference_wrapper_trains_the_network_alone_and_ships_it_wrapped(small_mnist_dir, tmp_path):
    """Variant.at_inference (the mnist default's 9 views averaged) wraps the model that ships: the fit's
    per-epoch validation is the network's (one pass an image), the card's val and test metrics the
    wrapped model's, and the file reloads and evaluates to its card."""
    import dataclasses

    from data_prep.mnist import load_mnist
    from zoo.core import load_model
    from zoo.evaluate import evaluate
    from zoo.layers import ShiftAveraged
    from zoo.tasks.mnist import mean_over_shifts_and_rotations
    from zoo.training import fit

    spec = dataclasses.replace(get_task("mnist").variants["fcn"], at_inference=mean_over_shifts_and_rotations)
    card = fit("mnist", "fcn_views", spec=spec, epochs=2, data_dir=small_mnist_dir, out_dir=tmp_path, verbose=0)
    assert card["at_inference"] == "mean_over_shifts_and_rotations"
    shipped = load_model(tmp_path / "mnist-fcn_views.keras")
    wrapper = shipped.layers[-1]
    assert isinstance(wrapper, ShiftAveraged) and wrapper.angles == (-10.0, -5.0, 5.0, 10.0)
    assert shipped.output_names == wrapper.net.output_names == ["digit"]  # what predictions are read by
    splits = load_mnist(small_mnist_dir)
    wrapped = shipped.evaluate(splits.x_val, splits.y_val, batch_size=256, verbose=0, return_dict=True)
    assert card["val_metrics"]["loss"] == pytest.approx(wrapped["loss"], rel=1e-4)  # the card: the wrapped model's
    network = wrapper.net
    network.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    alone = network.evaluate(splits.x_val, splits.y_val, verbose=0, return_dict=True)
    kept_epoch = pd.read_csv(card["paths"]["history"]).iloc[card.get("best_epoch", 2) - 1]
    assert kept_epoch["val_loss"] == pytest.approx(alone["loss"], rel=1e-4)  # the fit validated the network alone
    assert wrapped["loss"] != pytest.approx(alone["loss"], rel=1e-3)
    result = evaluate(tmp_path / "mnist-fcn_views.keras", data_dir=small_mnist_dir)
    assert result["metrics"]["accuracy"] == pytest.approx(card["test_metrics"]["accuracy"], rel=1e-6)
    # Calibrated at the end of the fit, as shipped (the views averaged): a temperature and sets that evaluate reproduces.
    digit = card["calibration"]["heads"]["digit"]
    assert digit["kind"] == "classes" and digit["temperature"] > 0
    assert result["calibration"]["digit"] == card["calibration"]["test"]["digit"]


def test_a_model_trained_with_the_fused_batch_norm_ships_with_keras_own():
    """zoo.layers.FusedBatchNormalization is a training-time kernel: the shipped model has Keras'
    BatchNormalization in its place (a float32 model too), the same weights, the same answers."""
    from zoo.core import shipped_model
    from zoo.layers import FusedBatchNormalization

    spec = get_task("mnist").variants["default"]
    keras.utils.set_random_seed(0)
    model = spec.build(None)
    compile_model(model, spec.recipe, 4, 1)
    images, labels = np.random.default_rng(0).integers(0, 256, (64, 28, 28)).astype("uint8"), np.arange(64) % 10
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    fused = [layer.name for layer in model.layers if isinstance(layer, FusedBatchNormalization)]
    assert len(fused) == 6  # the six convolutions' (the dense layer's is Keras' own)
    shipped = shipped_model(model)
    assert shipped is not model and not any(isinstance(layer, FusedBatchNormalization) for layer in shipped.layers)
    assert all(type(shipped.get_layer(name)) is keras.layers.BatchNormalization for name in fused)
    assert all(np.array_equal(a, b) for a, b in zip(shipped.get_weights(), model.get_weights()))
    np.testing.assert_array_equal(shipped.predict(images, verbose=0), model.predict(images, verbose=0))
    assert "zoo>FusedBatchNormalization" not in json.dumps(keras.saving.serialize_keras_object(shipped))
    assert shipped_model(shipped) is shipped
