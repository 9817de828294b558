"""Export a zoo model for serving: ``python -m zoo.export MODEL.keras --format {saved_model,onnx} [--out DIR]``.

- ``saved_model``: Keras' own ``model.export(format="tf_saved_model")``, what TF Serving
  loads (``OUT/NAME.saved_model/``; its ``serve`` endpoint takes the model's raw inputs).
- ``onnx``: Keras' ONNX exporter (``OUT/NAME.onnx``; needs ``pip install -e ".[export]"``).

Augmentation layers (``Random*``, active only in training) are replaced by identities
before the export, so that the exported graph is the inference graph and nothing random
reaches it (ONNX has no such ops). Every export is verified before it is reported done:
the artifact is reloaded by its own runtime (``tf.saved_model.load``,
``onnxruntime.InferenceSession``), predicts on real test inputs of the model's task, and
its largest difference from the ``.keras`` model, relative to the output's scale, must be
at most 1e-4. The figures go into an export card beside the artifact (``….export.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from data_prep.errors import ZooError
from zoo import artifacts
from zoo.cli import run

# Keras' tf2onnx shim probes np.object, which NumPy 2 warns about: not the user's concern.
warnings.filterwarnings("ignore", message="In the future `np.object`", category=FutureWarning)
FORMATS = {"saved_model": ".saved_model", "onnx": ".onnx"}
TOLERANCE = 1e-4  # of the output's scale (its largest absolute value, at least 1)
EXAMPLES = 64


def inference_model(model):
    """``model`` called with ``training=False`` inside a functional wrapper over the same raw
    inputs: augmentation layers (whose ``call`` defaults to ``training=True``) pass images
    through and batch norm uses its moving statistics in whatever graph an exporter traces.
    A model without declared inputs (the subclassed scratch MLP) has no such layers: as it is."""
    import keras

    if not getattr(model, "inputs", None):
        return model
    read_statistics_in_graph(model)
    inputs = keras.tree.map_structure(lambda t: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name),
                                      model.input)
    return keras.Model(inputs, model(inputs, training=False), name=f"{model.name}_inference")


def read_statistics_in_graph(model):
    """Point each adapted ``Normalization`` layer's ``mean`` / ``variance`` at its variables.

    Keras keeps them as eager tensors reshaped from the variables (``finalize_state``); a traced
    function captures such tensors as extra inputs, and tf2onnx left them as inputs of the ONNX
    graph (house_prices and curve could not be exported). Read from the variables, they are
    frozen into the graph like any weight. Only where the variables already broadcast as the
    tensors do (the kept axes are the last ones, the usual ``axis=-1``) and in the same dtype."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, keras.layers.Normalization) or layer.input_mean is not None or not layer.built:
            continue
        ndim, kept = len(layer._broadcast_shape), tuple(layer._keep_axis)
        if kept == tuple(range(ndim - len(kept), ndim)) and layer.adapt_mean.dtype == layer.compute_dtype:
            layer.mean, layer.variance = layer.adapt_mean, layer.adapt_variance


def test_inputs(card: dict, data_dir=None):
    """Up to ``EXAMPLES`` real test inputs of the model's task, as arrays (or a dict of them)."""
    from data_prep.splits import take
    from zoo.registry import get_task

    task = get_task(card["task"])
    variant = card.get("variant") if card.get("variant") in task.variants else card.get("base_variant")
    splits = task.load_for(variant, data_dir=data_dir, seed=card.get("recipe", {}).get("seed", 0))
    x = splits.x_test
    if hasattr(x, "dataset"):  # image files: decoded at the training size
        return next(iter(x.dataset(None, EXAMPLES, cache=False))).numpy().astype("float32")
    return take(x, slice(0, EXAMPLES))


def as_array(outputs) -> np.ndarray:
    """All outputs of a model, flattened side by side (a dict's in name order)."""
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return np.concatenate([np.asarray(o).reshape(len(o), -1) for o in outputs], axis=1)
    outputs = np.asarray(outputs)
    return outputs.reshape(len(outputs), -1)


def run_saved_model(path: Path, x, output_names) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # kept referenced: its variables live as long as it does
    outputs = loaded.serve(x)
    if isinstance(outputs, dict):
        outputs = {k: v.numpy() for k, v in outputs.items()}
    elif isinstance(outputs, (list, tuple)):
        outputs = dict(zip(output_names, (o.numpy() for o in outputs)))
    else:
        outputs = outputs.numpy()
    return as_array(outputs)


def run_onnx(path: Path, x, output_names) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    specs = session.get_inputs()
    expected = set(x) if isinstance(x, dict) else None
    stray = [i.name for i in specs if expected is not None and i.name not in expected]
    if stray or (expected is None and len(specs) != 1):
        raise ZooError(f"the ONNX graph asks for inputs the model does not have ({', '.join(stray) or len(specs)}): "
                       "tf2onnx turned a constant the model captures into an input; "
                       "export this model as saved_model; nothing was written")
    dtypes = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(uint8)": "uint8"}
    feeds = {i.name: np.asarray(x[i.name] if isinstance(x, dict) else x, dtype=dtypes.get(i.type)) for i in specs}
    outputs = session.run(None, feeds)
    by_name = {o.name: v for o, v in zip(session.get_outputs(), outputs)}
    if len(outputs) > 1 and set(output_names) <= set(by_name):
        return as_array({n: by_name[n] for n in output_names})
    return as_array(outputs if len(outputs) > 1 else outputs[0])


def export(model_path, fmt: str, out_dir=None, data_dir=None, unsafe: bool = False) -> dict:
    """Export, reload with the format's runtime, compare on real test inputs; return the export card."""
    from zoo.evaluate import load_model, read_card

    if fmt not in FORMATS:
        raise ZooError(f"unknown format {fmt!r}; choose {' or '.join(FORMATS)}")
    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
            import tf2onnx  # noqa: F401  (Keras' ONNX exporter on the TensorFlow backend)
        except ImportError:
            raise ZooError('ONNX export needs its optional packages: pip install -e ".[export]"') from None
    model_path = Path(model_path)
    model, card = load_model(model_path, unsafe), read_card(model_path)
    out = artifacts.check_writable_folder(out_dir or model_path.parent)
    target = out / f"{model_path.stem}{FORMATS[fmt]}"
    x = test_inputs(card, data_dir)
    model = inference_model(model)
    expected = model.predict(x, verbose=0)  # also builds a model that was never called
    output_names = list(getattr(model, "output_names", None) or ["output"])
    expected = as_array(expected if not isinstance(expected, (list, tuple)) else dict(zip(output_names, expected)))

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=out) as scratch:
        artifact = Path(scratch) / target.name
        try:
            if fmt == "onnx":
                model.export(str(artifact), format="onnx", verbose=False)
            else:
                model.export(str(artifact), format="tf_saved_model", verbose=False)
        except Exception as err:  # exporters raise many types for a graph they cannot convert
            raise ZooError(f"{model_path} could not be exported as {fmt}: {type(err).__name__}: "
                           f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}") from None
        got = (run_onnx if fmt == "onnx" else run_saved_model)(artifact, x, output_names)
        scale = max(float(np.max(np.abs(expected))), 1.0)
        difference = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
        if not difference <= TOLERANCE * scale:
            raise ZooError(f"the {fmt} export of {model_path} predicts differently from the .keras model "
                           f"(max |difference| {difference:.3g}, allowed {TOLERANCE * scale:.3g}); nothing was written")
        _replace(artifact, target)
    export_card = {
        "source": str(model_path), "source_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "task": card.get("task"), "variant": card.get("variant"), "format": fmt, "artifact": str(target),
        "runtime": "onnxruntime" if fmt == "onnx" else "tensorflow.saved_model.load",
        "verified_on": f"{len(expected)} test inputs of {card.get('task')}",
        "max_abs_difference": difference, "output_scale": scale, "tolerance": TOLERANCE * scale,
        "versions": _versions(fmt),
    }
    artifacts.write_json(target.with_name(target.name + ".export.json"), export_card)
    return export_card


def _replace(source: Path, target: Path):
    """Move a finished artifact (file or folder) into place; an old one goes only once the new is there."""
    if target.is_dir() and source.is_dir():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(source, target)


def _versions(fmt: str) -> dict:
    import keras
    import tensorflow as tf

    versions = {"keras": keras.__version__, "tensorflow": tf.__version__}
    if fmt == "onnx":
        import onnx
        import onnxruntime

        versions.update(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)
    return versions


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.export", description=__doc__.splitlines()[0])
    p.add_argument("model", help="path of a .keras file with its card")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="saved_model (TF Serving) or onnx")
    p.add_argument("--out", help="output folder (default: beside the model)")
    p.add_argument("--data-dir", help="folder holding the task's data, for the verification's test inputs")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (Lambda layers); trusted files only")
    args = p.parse_args(argv)
    card = export(args.model, args.format, args.out, args.data_dir, args.unsafe)
    print(f"exported {card['artifact']} ({args.format}); verified with {card['runtime']} on {card['verified_on']}: "
          f"max |difference| {card['max_abs_difference']:.2e} (allowed {card['tolerance']:.0e})")
    return 0


if __name__ == "__main__":
    run(main)
