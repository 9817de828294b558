"""Run under one backend (KERAS_BACKEND=jax|torch|tensorflow) by tests/test_backends.py.

``python tests/backend_suite.py variants DATA_DIR OUT_JSON [PART PARTS]``: for every variant (or
every PARTS-th from PART, so that test workers share the work), build -> 1-epoch fit on a small
slice -> save -> load (safe mode) -> predict the same (on JAX compiled with XLA, before and after
the reload); writes {"task/variant": "ok" | "refused: message" | "error: ..."}.
``python tests/backend_suite.py predict MODELS_DIR``: load each ``NAME.keras`` saved
under another backend and write its predictions of ``NAME.inputs.npz`` to
``NAME.<backend>.npz``.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
import traceback
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.errors import ZooError  # noqa: E402
from data_prep.splits import take  # noqa: E402
from zoo.evaluate import load_model  # noqa: E402
from zoo.registry import get_task, list_tasks  # noqa: E402
from zoo.core import feed  # noqa: E402
from zoo.training import build_and_compile, resolve  # noqa: E402

SLICE = 64
# Builders that take an image size (cats_dogs) build at this one: compiling their train step at
# 128 px took most of the JAX suite's time; the layers and ops are the same at any size.
IMAGE_SIZE = 48


def small(splits):
    """The first SLICE examples of each split: a 1-epoch fit in seconds."""
    import dataclasses

    rows = slice(0, SLICE)
    return dataclasses.replace(splits, **{f"{k}_{p}": take(getattr(splits, f"{k}_{p}"), rows)
                                          for k in ("x", "y") for p in ("train", "val", "test")})


def op_by_op_on_jax(model) -> bool:
    return keras.backend.backend() == "jax" and not model.jit_compile


def round_trip(task, variant, data_dir, tmp: Path) -> str:
    splits = small(task.load_for(variant, data_dir=data_dir))
    sized = "size" in inspect.signature(task.variants[variant].build).parameters
    # Set up as zoo.fit sets it up; cats_dogs: the same layers on smaller images.
    plan = resolve(task.name, variant, epochs=1, batch_size=16, build_overrides={"size": IMAGE_SIZE} if sized else None)
    model, train_data, val_data = build_and_compile(plan, splits, None)
    model.fit(**train_data, validation_data=val_data, epochs=1, verbose=0)
    if op_by_op_on_jax(model):
        return "error: on JAX Keras would train it op by op, not compiled with XLA (jit_compile False)"
    x = feed(take(splits.x_test, slice(0, 4)), None, 4)["x"]
    before = model.predict(x, verbose=0)
    path = tmp / f"{task.name}-{variant}.keras"
    model.save(path)
    loaded = load_model(path)
    if op_by_op_on_jax(loaded):
        return "error: reloaded on JAX, it would predict op by op (jit_compile False)"
    after = loaded.predict(x, verbose=0)
    for a, b in zip(keras.tree.flatten(after), keras.tree.flatten(before)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    return "ok"


def every_variant() -> list[tuple[str, str]]:
    """(task, variant) for every registered variant; a PART takes every PARTS-th, so that a task's
    variants (cats_dogs' are the slowest) spread over the parts."""
    return [(name, variant) for name in list_tasks() for variant in get_task(name).variants]


def variants(data_dir, out_json, part="0", parts="1"):
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, variant in every_variant()[int(part)::int(parts)]:
            key, start = f"{name}/{variant}", time.perf_counter()
            try:
                results[key] = round_trip(get_task(name), variant, data_dir, Path(tmp))
            except ZooError as refused:  # a documented limit, said clearly
                results[key] = f"refused: {refused}"
            except Exception as err:  # noqa: BLE001  (reported, the test decides)
                results[key] = f"error: {type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
            print(f"{key} {time.perf_counter() - start:.1f} s:", results[key].splitlines()[0], flush=True)
    Path(out_json).write_text(json.dumps(results, indent=1))


def predict(models_dir):
    backend = keras.backend.backend()
    for path in sorted(Path(models_dir).glob("*.keras")):
        stored = dict(np.load(path.with_suffix(".inputs.npz")))
        x = stored["x"] if "x" in stored else {k[2:]: v for k, v in stored.items()}  # named inputs: "x:NAME"
        prediction = load_model(path).predict(x, verbose=0)
        flat = {str(i): np.asarray(p) for i, p in enumerate(keras.tree.flatten(prediction))}
        np.savez(path.with_suffix(f".{backend}.npz"), **flat)


if __name__ == "__main__":
    {"variants": variants, "predict": predict}[sys.argv[1]](*sys.argv[2:])
