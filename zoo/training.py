"""Fit a registered task's variant and write the model, its card, history and curves."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import platform
import shutil
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from data_prep.splits import concat, length, take
from zoo import artifacts
from zoo.checkpoints import AtomicBackupAndRestore, KeepBestWeights, trim_history
from zoo.layers import allow_xla_on_jax
from zoo.plots import plot_curves
from zoo.registry import OPTIONAL_RECIPE_FIELDS, Variant, get_task


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


def steps(x, batch_size) -> int:
    return max(1, -(-length(x) // batch_size))


def ship_fit(model, history: pd.DataFrame, card: dict, paths: dict, *, title: str) -> dict:
    """Write a finished fit's files (model, history, curves, then the card last, each atomically) and
    remove its work folder; returns the card with the files' paths, as ``fit`` does."""
    artifacts.save_model(model, paths["model"])
    with artifacts.atomic_path(paths["history"]) as tmp:
        history.to_csv(tmp, index=False)
    plot_curves(history, paths["curves"], title=title)
    artifacts.write_json(paths["card"], card)
    shutil.rmtree(paths["work"], ignore_errors=True)
    with contextlib.suppress(OSError):
        paths["work"].parent.rmdir()  # the checkpoints folder, when no other fit is unfinished
    return {**card, "paths": {k: str(v) for k, v in paths.items() if k != "work"}}


def fit(
    task_name: str,
    variant: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    data_dir=None,
    out_dir="saved_models",
    folds: int | None = None,
    verbose="auto",
    command: str | None = None,
    recipe_overrides: dict | None = None,
    build_overrides: dict | None = None,
    mixed_precision: str | None = None,
    jit_compile="auto",
    spec: Variant | None = None,
    overwrite: bool = True,
    tensorboard: str | None = None,
    distribute: bool = False,
) -> dict:
    """Train, evaluate on the test split, save atomically; return the card.

    An interrupted fit resumes from its last finished epoch when called again with
    the same task, variant and output folder (``keras.callbacks.BackupAndRestore``).
    ``recipe_overrides`` (Recipe fields) and ``build_overrides`` (builder keyword
    arguments) are how studies vary a variant, e.g. ``{"optimizer": "sgd"}`` or
    ``{"activation": "tanh"}``; the card records them. ``mixed_precision`` names a Keras
    dtype policy (``mixed_float16`` on GPUs, ``mixed_bfloat16`` on recent CPUs/TPUs);
    ``jit_compile`` is passed to ``model.compile`` (``"auto"``: XLA on JAX and on TF with a GPU).
    ``spec``: a variant made outside the registry (a searched one), saved under the name ``variant``.
    ``overwrite=False`` (``zoo.fit`` without ``--overwrite``) refuses to replace a model whose card
    records another recipe: see :func:`refuse_replacing_another_recipe`. ``tensorboard``: a folder
    for ``keras.callbacks.TensorBoard`` logs (``tensorboard --logdir DIR`` shows them).
    ``distribute``: data-parallel over every device, with the backend's engine (:mod:`zoo.distribute`);
    ``batch_size`` is then the global batch.
    """
    task = get_task(task_name)
    unregistered = spec is not None
    variant_name, spec = (variant, spec) if unregistered else task.variant(variant)
    if recipe_overrides or build_overrides:
        spec = dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, **(recipe_overrides or {})),
                                   build=functools.partial(spec.build, **(build_overrides or {})))
    recipe = spec.recipe
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    paths = artifacts.output_paths(artifacts.check_writable_folder(out_dir), task.name, variant_name, task.default)
    lock = artifacts.FolderLock(paths["work"].with_name(paths["work"].name + ".lock"),
                                f"zoo.fit {task.name}{'' if variant_name == task.default else ' --model ' + variant_name}",
                                str(out_dir), command)
    distribution = None
    try:
        folds = recipe.folds if folds is None else folds
        if recipe.members > 1 and (distribute or folds):
            raise ZooError(f"{task.name}/{variant_name}'s recipe is an ensemble of {recipe.members} members, trained "
                           "one after another: not with --distribute or cross-validation folds (members=1 allows both)")
        if distribute:
            from zoo import distribute as engines

            distribution = engines.start(batch_size)
        recipe_card = {**recipe.describe(), "epochs": epochs, "batch_size": batch_size, "seed": seed, "folds": folds,
                       "dtype_policy": mixed_precision or keras.config.dtype_policy().name, "jit_compile": jit_compile}
        overrides = {"recipe": recipe_overrides or {}, "build": build_overrides or {}}
        overrides_card = {k: {n: _name_of(v) for n, v in d.items()} for k, d in overrides.items()}
        if not overwrite:
            refuse_replacing_another_recipe(paths, recipe_card,
                                            overrides_card if recipe_overrides or build_overrides else None)
        if recipe.members > 1:
            from zoo.ensemble import fit_members

            return fit_members(task, variant_name, spec, paths, recipe_card,
                               overrides_card if recipe_overrides or build_overrides else None,
                               seed=seed, epochs=epochs, batch_size=batch_size, data_dir=data_dir, verbose=verbose,
                               command=command, mixed_precision=mixed_precision, jit_compile=jit_compile)
        splits = task.load_with(spec, data_dir=data_dir, seed=seed)
        print(splits.describe())
        cv = cross_validate(spec, splits, folds, epochs, batch_size, seed) if folds else None
        keras.utils.set_random_seed(seed)
        x_train, y_train, x_val, y_val = splits.x_train, splits.y_train, splits.x_val, splits.y_val
        if distribution:
            x_train, y_train = distribution.even("train", x_train, y_train)
            x_val, y_val = distribution.even("validation", x_val, y_val)
        train_data = feed(x_train, y_train, batch_size, shuffle=True, seed=seed)
        with dtype_policy(mixed_precision), distribution.scope() if distribution else contextlib.nullcontext():
            model = spec.build(splits)
            compile_model(model, recipe, steps(x_train, batch_size), epochs, jit_compile, example=train_data)

        work = prepare_work_dir(paths["work"], {
            "task": task.name, "variant": variant_name, "epochs": epochs, "batch_size": batch_size, "seed": seed,
            **({"overrides": repr(overrides)} if recipe_overrides or build_overrides else {}),
            **({"mixed_precision": mixed_precision} if mixed_precision else {}),
            **({"spec": spec.description} if unregistered else {}),
            **({"distribution": distribution.engine, "replicas": distribution.replicas} if distribution else {}),
        })
        history_log = work / "history.csv"
        best_weights = work / "best.weights.h5"
        # Order matters at an epoch's end: history row, best weights, then the checkpoint,
        # so that a kill in between leaves the history ahead (trimmed on resume), never behind.
        backup = AtomicBackupAndRestore(work / "backup")
        trim_history(history_log, backup.latest_epoch())
        callbacks = [keras.callbacks.TerminateOnNaN(), *recipe.callbacks(),
                     keras.callbacks.CSVLogger(str(history_log), append=True)]
        if tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
        if recipe.monitor:
            callbacks.append(KeepBestWeights(best_weights, recipe.monitor, recipe.mode,
                                             _best_so_far(history_log, recipe)))
        callbacks.append(backup)

        start = time.perf_counter()
        history = model.fit(
            **train_data,
            validation_data=validation_data(x_val, y_val), epochs=epochs, callbacks=callbacks, verbose=verbose,
            validation_freq=validation_epochs(recipe.validation_freq, epochs),
        )
        seconds = time.perf_counter() - start
        if distribution:  # what is evaluated and saved is the model as it loads anywhere
            model = engines.gathered(model, work)
        log = pd.read_csv(history_log) if history_log.exists() else pd.DataFrame(history.history)

        card = {
            "task": task.name, "variant": variant_name, "description": spec.description,
            "reference": spec.reference or task.reference,
            "recipe": recipe_card,
            "epochs_run": len(log), "fit_seconds": round(seconds, 2),
            **run_record(model, splits, command),
        }
        if recipe_overrides or build_overrides:
            card["overrides"] = overrides_card
        if distribution:
            card["distribution"] = distribution.card(batch_size)
        if cv:
            card["cross_validation"] = cv
        if _diverged(log):
            card.update(status="failed: loss became NaN/inf", failed_epoch=len(log))
            artifacts.write_json(paths["card"].with_suffix(".failed.json"), card)
            raise ZooError(
                f"training diverged at epoch {len(log)} (loss NaN/inf); no model saved. "
                f"Try a lower learning rate. Details: {paths['card'].with_suffix('.failed.json')}"
            )
        if recipe.monitor and best_weights.exists():
            model.load_weights(str(best_weights))
            card["best_epoch"] = int(_best_epoch(log, recipe)) + 1
        card["test_metrics"] = evaluate_model(model, splits, batch_size, spec.extra_metrics)
        card["status"] = "ok"

        return ship_fit(model, log, card, paths, title=f"{task.name} / {variant_name}")
    finally:
        if distribution:
            distribution.close()
        lock.release()


def validation_epochs(every: int, epochs: int):
    """``fit``'s validation_freq: every epoch (1), or every ``every`` epochs and always the last one,
    so that the card's curves end on a validated epoch."""
    return 1 if every == 1 else sorted({*range(every, epochs + 1, every), epochs})


def refuse_replacing_another_recipe(paths: dict, recipe_card: dict, overrides_card: dict | None) -> None:
    """A model already in the output folder is replaced only by a fit of the same recipe (the same
    epochs, batch size, seed, folds, optimizer, rate, overrides…: rerunning the command its card
    records reproduces it); a different one is refused before any work, unless ``--overwrite``.
    Fields an older card does not record are not compared, except the optional ones, read as their
    defaults when absent (``OPTIONAL_RECIPE_FIELDS``): a restart schedule never replaces a plain one unasked."""
    if not paths["card"].exists() or not paths["model"].exists():
        return
    try:
        card = json.loads(paths["card"].read_text())
    except (OSError, ValueError):
        raise ZooError(f"{paths['card']} (the card of the model this fit would replace) is unreadable; "
                       "pass --overwrite to replace both, or write elsewhere with --out DIR") from None
    new = {**OPTIONAL_RECIPE_FIELDS, **json.loads(json.dumps(recipe_card, default=artifacts._jsonable))}
    old = {**OPTIONAL_RECIPE_FIELDS, **card.get("recipe", {})}
    differences = [f"{k} {old[k]!r} -> {new[k]!r}" for k in new if k in old and old[k] != new[k]]
    if (card.get("overrides") or None) != (json.loads(json.dumps(overrides_card)) if overrides_card else None):
        differences.append(f"overrides {card.get('overrides')} -> {overrides_card}")
    if differences:
        raise ZooError(
            f"{paths['model']} was made by another recipe ({'; '.join(differences)}) and this fit would replace it. "
            f"Rerun its recorded command to reproduce it ({card.get('command', '?')}), write elsewhere with "
            "--out DIR, or pass --overwrite"
        )


def cross_validate(spec, splits, folds: int, epochs: int, batch_size: int, seed: int) -> dict:
    """K-fold cross-validation (scikit-learn ``KFold``) on the training + validation parts.

    Each fold trains a fresh model with the variant's recipe; its score is the
    validation loss at the epoch the recipe would keep (the best by its monitor, else
    the last). The test split is never touched.
    """
    from sklearn.model_selection import KFold

    recipe = spec.recipe
    x, y = concat(splits.x_train, splits.x_val), concat(splits.y_train, splits.y_val)
    losses = []
    for k, (train, val) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(y)))):
        fold = dataclasses.replace(splits, x_train=take(x, train), y_train=take(y, train),
                                   x_val=take(x, val), y_val=take(y, val))
        keras.utils.set_random_seed(seed + k)
        train_data = feed(fold.x_train, fold.y_train, batch_size, shuffle=True, seed=seed + k)
        model = compile_model(spec.build(fold), recipe, steps(fold.x_train, batch_size), epochs, example=train_data)
        history = model.fit(**train_data,
                            validation_data=validation_data(fold.x_val, fold.y_val), epochs=epochs,
                            callbacks=recipe.callbacks(), verbose=0)
        log = pd.DataFrame(history.history)
        kept = _best_epoch(log, recipe) if recipe.monitor else len(log) - 1
        losses.append(float(log["val_loss"].iloc[kept]))
        print(f"fold {k + 1}/{folds}: validation loss {losses[-1]:.4f} (epoch {kept + 1} of {len(log)})")
    print(f"{folds}-fold validation loss: {np.mean(losses):.4f} +- {np.std(losses):.4f}")
    return {"folds": folds, "val_loss": losses, "val_loss_mean": float(np.mean(losses)),
            "val_loss_std": float(np.std(losses))}


def prepare_work_dir(work: Path, run: dict) -> Path:
    """The checkpoint folder of this run; checkpoints of a run with other settings are discarded."""
    stamp = work / "run.json"
    if stamp.exists() and json.loads(stamp.read_text()) != run:
        print(f"discarding checkpoints in {work}: they belong to a fit with other settings")
        shutil.rmtree(work)
    if stamp.exists():
        print(f"resuming the unfinished fit checkpointed in {work}")
    work.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(stamp, run)
    return work


def _has_strings(x) -> bool:
    arrays = x.values() if isinstance(x, dict) else [x]
    return any(getattr(a, "dtype", None) is not None and a.dtype.kind in "OUS" for a in arrays)


# An input pipeline of unknown length (one built outside data_prep.cats_dogs, which now asserts
# its count) is measured by Keras in the first epoch, with a "ran out of data" warning: expected.
warnings.filterwarnings("ignore", message="Your input ran out of data")


def feed(x, y, batch_size=256, shuffle=False, seed=0) -> dict:
    """The data keyword arguments of ``fit`` / ``evaluate``: NumPy arrays as they are;
    inputs with string columns (categorical features) as a batched tf.data pipeline,
    since Keras' array adapter refuses string arrays (TensorFlow backend only).
    ``shuffle=True`` (for ``fit`` only): arrays are shuffled by ``fit``, pipelines shuffle themselves."""
    if hasattr(x, "dataset"):  # files that build their own input pipeline (data_prep.cats_dogs.ImageFiles)
        return {"x": x.dataset(y, batch_size, shuffle=shuffle, seed=seed), "batch_size": None,
                **({"shuffle": False} if shuffle else {})}
    if not _has_strings(x):
        return {"x": x, "y": y, "batch_size": batch_size, **({"shuffle": True} if shuffle else {})}
    if keras.backend.backend() != "tensorflow":
        raise ZooError("string (categorical) inputs need the TensorFlow backend; use a numeric-only variant")
    import tensorflow as tf

    x = {k: v.astype(str) if v.dtype.kind in "OUS" else v for k, v in x.items()}
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return {"x": data.batch(batch_size).prefetch(tf.data.AUTOTUNE), "batch_size": None,
            **({"shuffle": False} if shuffle else {})}


def validation_data(x, y):
    """``fit``'s validation_data, fed the same way as the training data."""
    data = feed(x, y)
    return (data["x"], data["y"]) if "y" in data else data["x"]


def evaluate_model(model, splits, batch_size=256, extra_metrics=None, split="test") -> dict:
    """The compiled loss and metrics on one split: ``"test"`` for a card, ``"val"`` (or ``"train"``) to
    compare models without reading the test split."""
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    metrics = model.evaluate(**feed(x, y, batch_size), verbose=0, return_dict=True)
    metrics = {k: float(v) for k, v in metrics.items()}
    return {**metrics, **(extra_metrics(model) if extra_metrics else {})}


def _name_of(value):
    return value if isinstance(value, (int, float, str, bool, type(None), list, tuple)) else \
        getattr(value, "name", None) or type(value).__name__


def _diverged(log: pd.DataFrame) -> bool:
    return "loss" in log and not np.all(np.isfinite(log["loss"].to_numpy(dtype=float)))


def _best_epoch(log, recipe):
    values = log[recipe.monitor].to_numpy(dtype=float)
    return np.nanargmax(values) if recipe.mode == "max" else np.nanargmin(values)


def _best_so_far(history_log: Path, recipe):
    """The best monitored value of epochs already run (a resumed fit must not lose it)."""
    if not history_log.exists():
        return None
    log = pd.read_csv(history_log)
    if recipe.monitor not in log or log.empty:
        return None
    return float(log[recipe.monitor].iloc[_best_epoch(log, recipe)])


def run_record(model, splits, command: str | None = None) -> dict:
    """The card fields every saved model carries: its size, its data, where and how it was made."""
    return {
        "params": model.count_params(),
        "data": {"splits": splits.sizes, "files": splits.file_records(), "info": splits.info},
        "environment": environment(),
        "command": command or " ".join(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def fit_unless_done(label: str, task_name: str, variant: str | None, out_dir, **fit_args) -> tuple[dict, Path]:
    """(card, model path) of this fit in ``out_dir``: read back when its card and model are there,
    else trained with :func:`fit` (``fit_args``: its keyword arguments, ``seed`` included)."""
    task = get_task(task_name)
    paths = artifacts.output_paths(out_dir, task.name, variant, task.default)
    if paths["card"].exists() and paths["model"].exists():
        print(f"{label}: trained before, reading its card")
        return json.loads(paths["card"].read_text()), paths["model"]
    print(f"{label}: training…", flush=True)
    return fit(task_name, variant, out_dir=out_dir, **fit_args), paths["model"]


def environment() -> dict:
    return {
        "keras": keras.__version__, "backend": keras.backend.backend(),
        "backend_version": _backend_version(), "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpu_count()} CPU core(s)", "platform": platform.platform(),
    }


def _backend_version():
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}[keras.backend.backend()]
    return getattr(sys.modules.get(module) or __import__(module), "__version__", "?")


def _cpu_count():
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
