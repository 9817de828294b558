"""What every command needs, at the bottom of the zoo: compile a model with its recipe, feed it
data, evaluate it, load a ``.keras`` file, and the run record every card carries.

Nothing here imports another zoo command: the fit loop (:mod:`zoo.training`), ensembles,
distribution, plots and the command lines all call down into this module.
"""

from __future__ import annotations

import contextlib
import platform
import re
import sys
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

from data_prep.errors import ZooError
from data_prep.pipelines import array_pipeline, without_autotune
from data_prep.splits import length, take
from zoo.layers import FusedBatchNormalization, allow_xla_on_jax


def compile_model(model, recipe, steps_per_epoch=1, epochs=None, jit_compile="auto", example=None):
    """``model.compile`` with the recipe's optimizer, loss and metrics. ``example``: the data that
    ``fit`` will read (``feed``'s keyword arguments), to create the optimizer's and the metrics'
    variables now, from the data's shapes; see :func:`build_training_state`."""
    allow_xla_on_jax(model)
    optimizer = recipe.make_optimizer(steps_per_epoch, epochs)
    if model.dtype_policy.name == "mixed_float16":
        # Keras would wrap it itself, but its compile config would then name the bare optimizer:
        # a model loaded under the float32 policy got one without the loss scale's variables and
        # warned "Skipping variable loading for optimizer" (its state lost). Wrapped here, it is saved.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, **recipe.compile_args(), jit_compile=jit_compile)
    if example is not None and keras.backend.backend() == "tensorflow":
        build_training_state(model, example)
    return model


def build_training_state(model, data: dict) -> None:
    """Create the optimizer's and compiled metrics' variables before ``fit`` traces its train step.

    On TensorFlow, Keras defers this to the first trace of the train step (when no distribution
    strategy is set); a ``tf.function`` whose first trace creates variables is traced a second
    time, so each fit compiled its train step twice (tracing is most of a tiny fit's time).
    Built here from symbolic tensors, as Keras' own ``_symbolic_build`` does under a distribution
    strategy, it is traced once, and trains the same. Only TensorFlow needs it: JAX and PyTorch
    build in ``fit`` without a second trace (an early build there would change the order of the
    shuffled batches).
    """
    x = data["x"]
    if hasattr(x, "element_spec"):  # a tf.data pipeline: its (x, y[, weights]) specs
        batch = x.element_spec
    else:
        batch = (take(x, slice(0, 1)), None if data.get("y") is None else take(data["y"], slice(0, 1)))
    model._symbolic_build(data_batch=batch)


@contextlib.contextmanager
def dtype_policy(name: str | None):
    """Build layers under a Keras dtype policy (e.g. ``mixed_float16``), then restore the global one.

    Under ``mixed_float16`` Keras' ``compile`` wraps the optimizer in a ``LossScaleOptimizer``;
    the saved ``.keras`` keeps each layer's policy.
    """
    previous = keras.config.dtype_policy()
    if name:
        try:
            keras.config.set_dtype_policy(name)
        except ValueError:
            raise ZooError(f"unknown dtype policy {name!r}: use mixed_float16 (GPU) or mixed_bfloat16 (CPU/TPU)") from None
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# A recipe's precision rule (``Recipe.mixed_precision``): mixed_bfloat16 where the machine computes
# bfloat16 natively, float32 elsewhere (emulated bfloat16 would be slower than float32).
NATIVE_BFLOAT16 = "native_bfloat16"


def training_policy(name: str | None) -> str | None:
    """The Keras dtype policy a fit trains under (``None``: the global one, float32), for a policy
    name or the rule ``native_bfloat16``: mixed_bfloat16 on TensorFlow on a CPU with AVX512_BF16 or
    AMX-BF16 (oneDNN's bfloat16 kernels) and no GPU; measured there only (benchmarks/RESULTS.md)."""
    if name != NATIVE_BFLOAT16:
        return name
    return "mixed_bfloat16" if native_bfloat16() else None


def native_bfloat16() -> bool:
    if keras.backend.backend() != "tensorflow" or not {"avx512_bf16", "amx_bf16"} & cpu_flags():
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def shipped_model(model, at_inference=None):
    """``model`` as the zoo ships and tests it: the same weights in a copy compiled as ``model`` was,
    with every layer computing in float32 (a model trained under a mixed dtype policy then answers
    alike on every machine, and exports: ONNX runtimes refuse the mixed graph) and Keras' own
    BatchNormalization for the zoo's training-time :class:`zoo.layers.FusedBatchNormalization` (the
    same weights and inference; a shipped file then needs no zoo code for them). A model with neither
    is returned as it is. ``at_inference``, a variant's (:class:`zoo.registry.Variant`), then wraps
    it for inference, compiled as ``model`` was."""
    config = keras.saving.serialize_keras_object(model)
    shipped_config = _as_shipped(config)
    if shipped_config == config and at_inference is None:
        return model
    shipped = keras.saving.deserialize_keras_object(shipped_config)  # a copy: ``model`` may be training still
    shipped.set_weights(model.get_weights())
    if at_inference is None:
        return shipped
    wrapped = at_inference(nestable(shipped))
    if model.compiled:
        wrapped.compile_from_config(model.get_compile_config())
    return wrapped


def nestable(model):
    """A trained ``model`` made a part of a larger one for inference (an ensemble, a test-time average):
    its compile settings and optimizer state dropped. Otherwise the whole would count its unbuilt
    metrics among its own, and saved nested they mismatch on loading, with a warning."""
    model.optimizer, model.compiled = None, False
    return model


_FUSED_BATCH_NORM = keras.saving.get_registered_name(FusedBatchNormalization)
_KERAS_BATCH_NORM = {"module": "keras.layers", "class_name": "BatchNormalization", "registered_name": None}


def _as_shipped(config):
    if isinstance(config, list):
        return [_as_shipped(item) for item in config]
    if not isinstance(config, dict):
        return config
    if "DTypePolicy" in str(config.get("class_name", "")) and str(config["config"].get("name")).startswith("mixed_"):
        return {**config, "config": {**config["config"], "name": "float32"}}
    if config.get("registered_name") == _FUSED_BATCH_NORM:
        config = {**config, **_KERAS_BATCH_NORM}
    return {key: _as_shipped(value) for key, value in config.items()}


def steps(x, batch_size) -> int:
    return max(1, -(-length(x) // batch_size))


def _has_strings(x) -> bool:
    arrays = x.values() if isinstance(x, dict) else [x]
    return any(getattr(a, "dtype", None) is not None and a.dtype.kind in "OUS" for a in arrays)


# An input pipeline of unknown length (one built outside data_prep.cats_dogs, which now asserts
# its count) is measured by Keras in the first epoch, with a "ran out of data" warning: expected.
warnings.filterwarnings("ignore", message="Your input ran out of data")


def feed(x, y, batch_size=256, shuffle=False, seed=0) -> dict:
    """The data keyword arguments of ``fit`` / ``evaluate`` (``y=None``: ``predict``'s inputs).

    On TensorFlow, labelled data goes in as a tf.data pipeline without autotuning
    (:mod:`data_prep.pipelines`: its thread stalled fits up to a minute at an epoch's start):
    NumPy arrays as the same batches Keras would make of them; inputs with string columns
    (categorical features, which Keras' array adapter refuses) sliced, batched, prefetched;
    files that build their own pipeline (``data_prep.cats_dogs.ImageFiles``) as they build it.
    Other backends read NumPy arrays directly (no tf.data). ``shuffle=True`` (for ``fit``
    only): a new order every epoch, from the seed."""
    if hasattr(x, "dataset"):  # files that build their own input pipeline (data_prep.cats_dogs.ImageFiles)
        return _pipeline(x.dataset(y, batch_size, shuffle=shuffle, seed=seed), shuffle)
    strings, tensorflow = _has_strings(x), keras.backend.backend() == "tensorflow"
    if strings and not tensorflow:
        raise ZooError("string (categorical) inputs need the TensorFlow backend; use a numeric-only variant")
    if not tensorflow or (y is None and not strings):
        return {"x": x, "y": y, "batch_size": batch_size, **({"shuffle": True} if shuffle else {})}
    if not strings:
        return _pipeline(array_pipeline(x, y, batch_size, shuffle), shuffle)
    import tensorflow as tf

    x = {k: v.astype(str) if v.dtype.kind in "OUS" else v for k, v in x.items()}
    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        data = data.shuffle(length(x), seed=seed, reshuffle_each_iteration=True)
    return _pipeline(without_autotune(data.batch(batch_size).prefetch(tf.data.AUTOTUNE)), shuffle)


# Recipe.mix's names: Keras' label-mixing layers at their papers' settings (CutMix: Beta(1, 1) box areas).
BATCH_MIXES = {"cutmix": lambda seed: keras.layers.CutMix(factor=1.0, seed=seed),
               "mixup": lambda seed: keras.layers.MixUp(alpha=0.2, seed=seed)}


def mixed(train: dict, mix: str, seed: int = 0) -> dict:
    """``feed``'s training keywords with each batch's images mixed in pairs and their labels in the
    same proportion (``Recipe.mix``). Keras' layers run in the tf.data pipeline on any backend. A label
    stays whole only where both images of a pair share it, so Keras' training accuracy counts only those."""
    import tensorflow as tf

    spec = train["x"].element_spec if isinstance(train["x"], tf.data.Dataset) else None
    if not (isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec)):
        raise ZooError(f"mix={mix!r} mixes batches of (images, labels) in a tf.data pipeline: it needs the "
                       "TensorFlow backend, or an image task fed from files; fit without mix otherwise")
    layer = BATCH_MIXES[mix](seed)

    def mix_batch(images, labels):
        out = layer({"images": images, "labels": tf.reshape(tf.cast(labels, "float32"), (-1, 1))}, training=True)
        return out["images"], tf.reshape(out["labels"], tf.shape(labels))

    return {**train, "x": without_autotune(train["x"].map(mix_batch).prefetch(1))}


def _pipeline(dataset, shuffle: bool) -> dict:
    """``fit``'s keywords for a batched pipeline: it shuffles itself, so ``fit`` must not ask to."""
    return {"x": dataset, "batch_size": None, **({"shuffle": False} if shuffle else {})}


def validation_data(x, y):
    """``fit``'s validation_data, fed the same way as the training data."""
    data = feed(x, y)
    return (data["x"], data["y"]) if "y" in data else data["x"]


def predict_outputs(model, x, batch_size=256) -> dict:
    """The model's outputs on ``x`` (arrays, a dict of them, or files that build their own pipeline), by
    output name: the zoo's one inference path. It calls the model's compiled predict step chunk by chunk
    (``predict_on_batch``, compiled once per model): Keras' ``predict`` builds a data adapter and an
    iterator on every call, about 80 ms before one house is priced (issue 56), where the step takes 1 ms."""
    if hasattr(x, "dataset"):  # image files: decoded and resized by their pipeline, a batch at a time
        chunks = x.dataset(None, batch_size, cache=False).as_numpy_iterator()
    else:
        chunks = (take(x, slice(start, start + batch_size)) for start in range(0, length(x), batch_size))
    parts = [named_outputs(model, model.predict_on_batch(chunk)) for chunk in chunks]
    if not parts:
        raise ZooError("nothing to predict: no inputs were given")
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def named_outputs(model, outputs) -> dict:
    """A model's outputs (an array, a list or a dict of them) as ``{output name: array}``."""
    names = list(getattr(model, "output_names", None) or ["digit"])  # the scratch MLP names no output
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return {name: np.asarray(value) for name, value in zip(names, outputs)}
    return {names[0]: np.asarray(outputs)}


def evaluate_model(model, splits, batch_size=256, extra_metrics=None, split="test") -> dict:
    """The compiled loss and metrics on one split: ``"test"`` for a card, ``"val"`` (or ``"train"``) to
    compare models without reading the test split."""
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    metrics = model.evaluate(**feed(x, y, batch_size), verbose=0, return_dict=True)
    metrics = {k: float(v) for k, v in metrics.items()}
    return {**metrics, **(extra_metrics(model) if extra_metrics else {})}


def load_model(path, unsafe: bool = False):
    """A ``.keras`` file as a model, with clear errors for every way it can be wrong.

    Loaded with ``safe_mode=True``: a file that would run arbitrary code (a ``Lambda`` layer) is
    refused unless ``unsafe``. The zoo's own layers and losses are registered when ``zoo`` is imported."""
    path = Path(path)
    if path.is_dir():
        raise ZooError(f"{str(path)!r} is a folder; name a .keras model file inside it")
    if not path.is_file():
        raise ZooError(f"model file {str(path)!r} does not exist")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ZooError(f"{path} is not a .keras model file (a zip archive written by model.save)")
    try:
        model = keras.saving.load_model(path, safe_mode=not unsafe)
    except ValueError as err:
        if "safe_mode" in str(err) or "Lambda" in str(err):
            raise ZooError(
                f"{path} contains code (e.g. a Lambda layer) that safe mode refuses to run; "
                "load it with --unsafe only if you trust where it came from"
            ) from None
        raise ZooError(f"{path} could not be loaded as a Keras model: {err}") from None
    except Exception as err:  # a corrupt archive fails in h5py, zipfile, json…
        unknown = re.search(r"Could not locate (class|function) '([^']+)'", str(err))
        if unknown:  # Keras nests the whole config in its message: name just what is missing
            raise ZooError(f"{path} references the {unknown[1]} {unknown[2]!r}, which neither Keras nor the zoo "
                           "defines: it is not a zoo model (load it with the code that wrote it)") from None
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ZooError(f"{path} is corrupt or not a Keras 3 model: {type(err).__name__}: {first_line}") from None
    return allow_xla_on_jax(model)


def run_record(model, splits, command: str | None = None) -> dict:
    """The card fields every saved model carries: its size, its data, where and how it was made."""
    return {
        "params": model.count_params(),
        "data": {"splits": splits.sizes, "files": splits.file_records(), "info": splits.info,
                 **({"input_ranges": ranges} if (ranges := splits.input_ranges()) else {})},
        "environment": environment(),
        "command": command or " ".join(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def environment() -> dict:
    return {
        "keras": keras.__version__, "backend": keras.backend.backend(),
        "backend_version": _backend_version(), "python": platform.python_version(),
        "machine": f"{platform.machine()}, {cpu_model()}, {_cpu_count()} CPU core(s)", "platform": platform.platform(),
    }


def machine() -> str:
    """One line naming where a figure was measured: CPU model and cores, backend, versions (benchmarks
    print it with every table; compare times only between rows of the same line)."""
    return (f"{cpu_model()}, {_cpu_count()} cores; {keras.backend.backend()} {_backend_version()}, "
            f"keras {keras.__version__}, Python {platform.python_version()}")


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or "unknown CPU"


def cpu_flags() -> set:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    return set(_cpuinfo("flags").split())


def _cpuinfo(field: str) -> str:
    """The first CPU's ``field`` in /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith(field)), "")
    except OSError:
        return ""


def _backend_version():
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}[keras.backend.backend()]
    return getattr(sys.modules.get(module) or __import__(module), "__version__", "?")


def _cpu_count():
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
