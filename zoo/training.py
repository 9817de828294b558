"""The fit loop: train a registered task's variant and ship the model, its card, history and curves.

:func:`fit` is the public entry point, and reads as its steps, each a function below: resolve the
task and recipe (:func:`resolve`), prepare the work folder, build and compile, feed, fit with
checkpoints, pick the best epoch, test, ship. Compiling, feeding, evaluating and the run record
are :mod:`zoo.core`'s; the distribution engines are :mod:`zoo.distribute`'s and the members of a
deep ensemble :mod:`zoo.members`'. The commands above (``zoo.fit``, ``zoo.ensemble``, studies,
searches) call down into this module; it imports none of them.

Arguments of :func:`fit`:

- ``epochs``, ``batch_size``, ``folds`` (k-fold cross-validation before the final fit): the recipe's
  unless given. ``seed``: weights, shuffling and augmentation (and the round, for tasks whose data
  is drawn per seed).
- ``recipe_overrides`` (Recipe fields) and ``build_overrides`` (builder keyword arguments) are how
  studies vary a variant, e.g. ``{"optimizer": "sgd"}`` or ``{"activation": "tanh"}``; the card
  records them.
- ``mixed_precision`` names a Keras dtype policy (``mixed_float16`` on GPUs, ``mixed_bfloat16`` on
  recent CPUs/TPUs, ``float32``), or ``native_bfloat16`` (:func:`zoo.core.training_policy`); the
  recipe's when not given. The model is trained under it and shipped in float32
  (:func:`zoo.core.shipped_model`); the card's ``dtype_policy`` records it. ``jit_compile`` is
  passed to ``model.compile`` (``"auto"``: XLA on JAX and on TF with a GPU).
- ``spec``: a variant made outside the registry (a searched one), saved under the name ``variant``.
- ``overwrite=False`` (``zoo.fit`` without ``--overwrite``) refuses to replace a model whose card
  records another recipe: see :func:`refuse_replacing_another_recipe`.
- ``tensorboard``: a folder for ``keras.callbacks.TensorBoard`` logs (``tensorboard --logdir DIR``).
- ``distribute``: data-parallel over every device, with the backend's engine (:mod:`zoo.distribute`);
  ``batch_size`` is then the global batch.

An interrupted fit resumes from its last finished epoch when called again with the same task,
variant and output folder (``keras.callbacks.BackupAndRestore``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from data_prep.splits import concat, take
from zoo import artifacts, members
from zoo import distribute as engines
from zoo.calibration import calibrated_card
from zoo.checkpoints import AtomicBackupAndRestore, KeepBestWeights, trim_history
from zoo.core import (  # noqa: F401  (build_training_state, environment: part of this module's face)
    NATIVE_BFLOAT16, build_training_state, compile_model, dtype_policy, environment, evaluate_model, feed, mixed,
    shipped_model, run_record, steps, training_policy, validation_data,
)
from zoo.plots import plot_curves
from zoo.registry import OPTIONAL_RECIPE_FIELDS, Recipe, Task, Variant, get_task


def fit(task_name: str, variant: str | None = None, epochs: int | None = None, batch_size: int | None = None,
        seed: int = 0, data_dir=None, out_dir="saved_models", folds: int | None = None, verbose="auto",
        command: str | None = None, recipe_overrides: dict | None = None, build_overrides: dict | None = None,
        mixed_precision: str | None = None, jit_compile="auto", spec: Variant | None = None,
        overwrite: bool = True, tensorboard: str | None = None, distribute: bool = False) -> dict:
    """Train a task's variant, test it, save it atomically; return its card (the module's doc says
    what each argument does). Rerun after an interruption, it resumes from its last finished epoch."""
    plan = resolve(task_name, variant, spec, epochs, batch_size, seed, folds, recipe_overrides, build_overrides,
                   mixed_precision, jit_compile)
    paths = run_paths(plan, out_dir, distribute)
    lock = artifacts.FolderLock(paths["work"].with_name(paths["work"].name + ".lock"), plan.command_name(),
                                str(out_dir), command)
    distribution = None
    try:
        plan.check(distribute)
        distribution = engines.start(plan.batch_size) if distribute else None
        if not overwrite:
            refuse_replacing_another_recipe(paths, plan.recipe_card(), plan.overrides_card())
        if plan.recipe.members > 1:
            return fit_members(plan, paths, data_dir=data_dir, verbose=verbose, command=command)
        splits = plan.task.load_with(plan.spec, data_dir=data_dir, seed=plan.seed)
        print(splits.describe())
        cv = cross_validate(plan.spec, splits, plan.folds, plan.epochs, plan.batch_size, plan.seed) if plan.folds else None
        model, train_data, val_data = build_and_compile(plan, splits, distribution)
        work = prepare_work_dir(paths["work"], plan.work_record(distribution))
        log, seconds = fit_with_checkpoints(model, plan, train_data, val_data, work, verbose, tensorboard, distribution)
        if distribution and not distribution.is_chief:  # process 0 ships the model
            return leave_to_the_chief(plan, distribution, log, seconds, paths)
        if distribution:  # what is evaluated and saved is the model as it loads anywhere
            model = engines.gathered(model, work)
        card = fit_card(plan, model, splits, log, seconds, command, distribution, cv)
        refuse_diverged(log, card, paths)
        keep_best_epoch(model, plan.recipe, log, work, card)
        model = shipped_model(model, plan.spec.at_inference)
        if plan.spec.at_inference:  # the history's validation figures are the network's alone
            card["at_inference"] = plan.spec.at_inference.__name__
            card["val_metrics"] = evaluate_model(model, splits, plan.batch_size, split="val")
        card["test_metrics"] = evaluate_model(model, splits, plan.batch_size, plan.spec.extra_metrics)
        card["calibration"] = calibrated_card(plan.task.name, model, splits, plan.batch_size)
        card["status"] = "ok"
        return ship_fit(model, log, card, paths, title=f"{plan.task.name} / {plan.variant}")
    finally:
        if distribution:
            distribution.close()
        lock.release()


@dataclasses.dataclass
class Plan:
    """A fit's task, variant and recipe, resolved: the overrides applied, the recipe's defaults filled in."""

    task: Task
    variant: str
    spec: Variant
    epochs: int
    batch_size: int
    seed: int
    folds: int
    overrides: dict  # {"recipe": {...}, "build": {...}} as given
    mixed_precision: str | None  # the dtype policy it trains under (None: the global one)
    jit_compile: object
    unregistered: bool  # a spec made outside the registry (a searched one)

    @property
    def recipe(self):
        return self.spec.recipe

    def command_name(self) -> str:
        return f"zoo.fit {self.task.name}{'' if self.variant == self.task.default else ' --model ' + self.variant}"

    def check(self, distribute: bool) -> None:
        if self.recipe.members > 1 and (distribute or self.folds):
            raise ZooError(f"{self.task.name}/{self.variant}'s recipe is an ensemble of {self.recipe.members} members, "
                           "trained one after another: not with --distribute or cross-validation folds (members=1 "
                           "allows both)")

    def recipe_card(self) -> dict:
        return {**self.recipe.describe(), "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed,
                "folds": self.folds, "dtype_policy": self.mixed_precision or keras.config.dtype_policy().name,
                "jit_compile": self.jit_compile}

    def overrides_card(self) -> dict | None:
        """The overrides as the card records them (``None`` without any)."""
        if not any(self.overrides.values()):
            return None
        return {k: {n: _name_of(v) for n, v in d.items()} for k, d in self.overrides.items()}

    def work_record(self, distribution) -> dict:
        """What the work folder's checkpoints belong to: a rerun with other settings discards them."""
        return {
            "task": self.task.name, "variant": self.variant, "epochs": self.epochs, "batch_size": self.batch_size,
            "seed": self.seed,
            **({"overrides": repr(self.overrides)} if any(self.overrides.values()) else {}),
            **({"mixed_precision": self.mixed_precision} if self.mixed_precision else {}),
            **({"spec": self.spec.description} if self.unregistered else {}),
            **({"distribution": distribution.engine, "replicas": distribution.replicas} if distribution else {}),
        }


def run_paths(plan: Plan, out_dir, distribute: bool = False) -> dict:
    """Where the fit writes (``artifacts.output_paths``). Process k > 0 of a fit over several
    processes keeps its own work folder (its checkpoints and history, for resuming) and writes
    nothing else: process 0 ships the model."""
    paths = artifacts.output_paths(artifacts.check_writable_folder(out_dir), plan.task.name, plan.variant,
                                   plan.task.default)
    process = engines.process_id() if distribute else 0  # the cluster's variables mean nothing without it
    if process:
        paths["work"] = paths["work"].with_name(f"{paths['work'].name}.process{process}")
    return paths


def resolve(task_name: str, variant: str | None = None, spec: Variant | None = None, epochs: int | None = None,
            batch_size: int | None = None, seed: int = 0, folds: int | None = None, recipe_overrides: dict | None = None,
            build_overrides: dict | None = None, mixed_precision: str | None = None, jit_compile="auto") -> Plan:
    """The task and its variant (or the unregistered ``spec``), with the overrides applied. With
    :func:`build_and_compile`, what anything that trains a zoo recipe (benchmarks included) sets up."""
    task = get_task(task_name)
    unregistered = spec is not None
    variant, spec = (variant, spec) if unregistered else task.variant(variant)
    if recipe_overrides or build_overrides:
        spec = dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, **(recipe_overrides or {})),
                                   build=functools.partial(spec.build, **(build_overrides or {})))
    recipe = spec.recipe
    return Plan(task, variant, spec, recipe.epochs if epochs is None else epochs,
                recipe.batch_size if batch_size is None else batch_size, seed, recipe.folds if folds is None else folds,
                {"recipe": recipe_overrides or {}, "build": build_overrides or {}},
                training_policy(mixed_precision or recipe.mixed_precision), jit_compile, unregistered)


def training_batches(x, y, batch_size: int, recipe: Recipe, seed: int) -> dict:
    """``fit``'s training data: shuffled each epoch from the seed, mixed as ``recipe.mix`` says."""
    data = feed(x, y, batch_size, shuffle=True, seed=seed)
    return mixed(data, recipe.mix, seed) if recipe.mix else data


def build_and_compile(plan: Plan, splits, distribution) -> tuple:
    """(model, training data, validation data): the data fed as ``fit`` reads it (even shards when
    distributed), the model built under the dtype policy (and the engine's scope) and compiled."""
    keras.utils.set_random_seed(plan.seed)
    x_train, y_train, x_val, y_val = splits.x_train, splits.y_train, splits.x_val, splits.y_val
    if distribution:
        x_train, y_train = distribution.even("train", x_train, y_train)
        x_val, y_val = distribution.even("validation", x_val, y_val)
    batch_size = distribution.batch_size(plan.batch_size) if distribution else plan.batch_size  # this process' share
    train_data = training_batches(x_train, y_train, batch_size, plan.recipe, plan.seed)
    with dtype_policy(plan.mixed_precision), distribution.scope() if distribution else contextlib.nullcontext():
        model = plan.spec.build(splits)
        compile_model(model, plan.recipe, steps(x_train, batch_size), plan.epochs, plan.jit_compile,
                      example=train_data)
    return model, train_data, validation_data(x_val, y_val)


def fit_with_checkpoints(model, plan: Plan, train_data: dict, val_data, work: Path, verbose, tensorboard,
                         distribution=None):
    """``model.fit`` with the recipe's callbacks, checkpointed in ``work`` (resumed from it when a
    checkpoint is there; over several processes, from the newest epoch they all have); returns the
    history of every epoch, resumed ones included, and the seconds."""
    recipe = plan.recipe
    history_log = work / "history.csv"
    # Order matters at an epoch's end: history row, best weights, then the checkpoint,
    # so that a kill in between leaves the history ahead (trimmed on resume), never behind.
    several = distribution is not None and distribution.processes > 1
    backup = AtomicBackupAndRestore(work / "backup", keep=2 if several else 1)
    backup.restore_epoch = distribution.agreed_epoch(backup.latest_epoch()) if several else None
    trim_history(history_log, backup.latest_epoch() if backup.restore_epoch is None else backup.restore_epoch)
    callbacks = [EpochSeconds(), keras.callbacks.TerminateOnNaN(), *recipe.callbacks(),
                 keras.callbacks.CSVLogger(str(history_log), append=True)]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
    if recipe.monitor:
        callbacks.append(KeepBestWeights(work / "best.weights.h5", recipe.monitor, recipe.mode,
                                         _best_so_far(history_log, recipe)))
    callbacks.append(backup)
    start = time.perf_counter()
    with distribution.watch() if several else contextlib.nullcontext():
        history = model.fit(**train_data, validation_data=val_data, epochs=plan.epochs, callbacks=callbacks,
                            verbose=verbose, validation_freq=validation_epochs(recipe.validation_freq, plan.epochs))
    seconds = time.perf_counter() - start
    return (pd.read_csv(history_log) if history_log.exists() else pd.DataFrame(history.history)), seconds


def leave_to_the_chief(plan: Plan, distribution, log: pd.DataFrame, seconds: float, paths: dict) -> dict:
    """Process k > 0 of a fit over several processes, once trained: nothing to ship (process 0 does),
    its checkpoints no longer needed."""
    shutil.rmtree(paths["work"], ignore_errors=True)
    return {"task": plan.task.name, "variant": plan.variant, "status": "ok", "epochs_run": len(log),
            "fit_seconds": round(seconds, 2), "process": distribution.cluster.process_id,
            "distribution": distribution.card(plan.batch_size), "shipped_by": "process 0", "paths": {}}


class EpochSeconds(keras.callbacks.Callback):
    """``seconds`` in each epoch's logs (so in history.csv): its wall time, validation included, so
    that a stall shows in every fit's history. First in the callbacks, so the CSV logger sees it."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self.start, 3)


def fit_card(plan: Plan, model, splits, log, seconds, command, distribution, cv) -> dict:
    """The card of a finished fit, before its test metrics."""
    card = {
        "task": plan.task.name, "variant": plan.variant, "description": plan.spec.description,
        "reference": plan.spec.reference or plan.task.reference,
        "recipe": plan.recipe_card(),
        "epochs_run": len(log), "fit_seconds": round(seconds, 2),
        **run_record(model, splits, command),
    }
    if plan.overrides_card():
        card["overrides"] = plan.overrides_card()
    if distribution:
        card["distribution"] = distribution.card(plan.batch_size)
    if cv:
        card["cross_validation"] = cv
    return card


def refuse_diverged(log: pd.DataFrame, card: dict, paths: dict) -> None:
    """A fit whose loss became NaN/inf ships nothing: its card goes to ``.failed.json``, and it says so."""
    if "loss" in log and not np.all(np.isfinite(log["loss"].to_numpy(dtype=float))):
        card.update(status="failed: loss became NaN/inf", failed_epoch=len(log))
        artifacts.write_json(paths["card"].with_suffix(".failed.json"), card)
        raise ZooError(
            f"training diverged at epoch {len(log)} (loss NaN/inf); no model saved. "
            f"Try a lower learning rate. Details: {paths['card'].with_suffix('.failed.json')}"
        )


def keep_best_epoch(model, recipe, log: pd.DataFrame, work: Path, card: dict) -> None:
    """With a monitored metric, the model takes the weights of its best epoch, and the card says which."""
    best_weights = work / "best.weights.h5"
    if recipe.monitor and best_weights.exists():
        model.load_weights(str(best_weights))
        card["best_epoch"] = int(_best_epoch(log, recipe)) + 1


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


def fit_members(plan: Plan, paths: dict, *, data_dir, verbose, command) -> dict:
    """:func:`fit` of a recipe with ``members`` > 1 (under the output folder's lock): each member is an
    ordinary fit of the same data, with its own seeded builder (:func:`zoo.members.member_build`),
    checkpointed and resumable in the fit's work folder; then the members are joined by
    :func:`zoo.members.average`, evaluated and saved as one model + card at ``paths``. The card's
    ``members`` give each one's validation and test metrics; ``fit_seconds`` is their sum."""
    task, spec, recipe, seed = plan.task, plan.spec, plan.recipe, plan.seed
    overrides_card = plan.overrides_card()
    work = prepare_work_dir(paths["work"], json.loads(json.dumps(
        {"task": task.name, "variant": plan.variant, "recipe": plan.recipe_card(), "overrides": overrides_card,
         "spec": spec.description}, default=artifacts._jsonable)))
    single = dataclasses.replace(spec, recipe=dataclasses.replace(recipe, members=1))
    trained, member_cards, histories = [], [], []
    for k in range(recipe.members):
        card, path = fit_unless_done(
            f"member {k + 1} of {recipe.members}", task.name, plan.variant, work / f"member{k}", seed=seed,
            epochs=plan.epochs, batch_size=plan.batch_size, data_dir=data_dir, verbose=verbose, command=command,
            spec=dataclasses.replace(single, build=members.member_build(spec.build, k, seed)),
            mixed_precision=plan.mixed_precision, jit_compile=plan.jit_compile)
        model = keras.saving.load_model(path)
        name = model.name  # the ensemble's, e.g. mnist_pairs_default
        model.name = f"member{k}"  # the members share their variant's name; layer names must differ
        trained.append(model)
        histories.append(pd.read_csv(path.with_suffix(".history.csv")))
        member_cards.append({"member": k, "init_seed": seed if k == 0 else 1000 * k + seed,
                             "fit_seconds": card["fit_seconds"], "test_metrics": card["test_metrics"]})

    splits = task.load_with(spec, data_dir=data_dir, seed=seed)
    for model, member_card in zip(trained, member_cards):
        member_card["val_metrics"] = evaluate_model(model, splits, plan.batch_size, split="val")
    model = compile_model(members.average(trained, name), recipe)
    history = pd.concat(histories).groupby(level=0).mean()  # the members' mean, epoch by epoch
    card = {
        "task": task.name, "variant": plan.variant,
        "description": f"{spec.description}; a deep ensemble: the mean output of {recipe.members} members",
        "reference": spec.reference or task.reference, "recipe": plan.recipe_card(),
        "epochs_run": len(history), "fit_seconds": round(sum(c["fit_seconds"] for c in member_cards), 2),
        **run_record(model, splits, command),
        **({"overrides": overrides_card} if overrides_card else {}),
        "members": member_cards,
        "val_metrics": evaluate_model(model, splits, plan.batch_size, split="val"),
        "test_metrics": evaluate_model(model, splits, plan.batch_size, spec.extra_metrics),
        "calibration": calibrated_card(task.name, model, splits, plan.batch_size),
        "status": "ok",
    }
    return ship_fit(model, history, card, paths,
                    title=f"{task.name} / {plan.variant} (mean of {recipe.members} members)")


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
    if new["mixed_precision"] == NATIVE_BFLOAT16 == old["mixed_precision"]:
        old.pop("dtype_policy", None)  # the recipe's rule is the same; the machine picks the policy
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
        train_data = training_batches(fold.x_train, fold.y_train, batch_size, recipe, seed + k)
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


def _name_of(value):
    return value if isinstance(value, (int, float, str, bool, type(None), list, tuple)) else \
        getattr(value, "name", None) or type(value).__name__


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
