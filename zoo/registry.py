"""The registry: a task name -> its loader, its model variants and their recipes.

A task is one module in ``zoo/tasks/`` that builds a :class:`Task` and calls
:func:`register`; adding a task is that module plus its name in
``zoo/tasks/__init__.py``. As timm's ``_registry``, this module knows no task: the
``zoo.tasks`` package imports it, then every task module (and ``import zoo`` imports
``zoo.tasks``), so the registry is full once ``zoo`` is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras

from data_prep.errors import ZooError
from data_prep.splits import Splits
from zoo.core import BATCH_MIXES


# Recipe fields a card records only when set; a card without one had the default (cards written
# before the field existed could not have set it), so that is what a comparison of cards reads there.
OPTIONAL_RECIPE_FIELDS = {"weight_decay": None, "warmup_epochs": 0, "restart_epochs": 0, "loss_weights": None,
                          "validation_freq": 1, "members": 1, "mixed_precision": None, "mix": None}


@dataclass
class Recipe:
    """How a variant is compiled and fitted; every field is recorded in the model card."""

    loss: object
    metrics: object
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    epochs: int = 10
    batch_size: int = 32
    # Extra callbacks, made fresh for each fit (callbacks hold state).
    callbacks: Callable[[], list] = field(default=lambda: [])
    # Keep the weights of the best epoch by this validation metric ("" keeps the last).
    monitor: str = ""
    mode: str = "max"
    # K-fold cross-validation on train + validation before the final fit (0: none).
    folds: int = 0

    # "constant", or "cosine": cosine decay to 0 over the whole fit, after ``warmup_epochs`` of a
    # linear rise from 0 to learning_rate (counted in the fit's epochs). With ``restart_epochs``, a
    # first cosine cycle of that many epochs, then a restart at learning_rate decaying to 0 over the
    # rest (SGDR, Loshchilov & Hutter 2017): the model at the end of the short cycle is already a good one.
    schedule: str = "constant"
    warmup_epochs: int = 0
    restart_epochs: int = 0
    weight_decay: float | None = None  # decoupled (AdamW-style), as the optimizer's own argument
    loss_weights: dict | None = None  # multi-output models: weight of each output's loss
    # Validate every this many epochs (and at the last): the validation metrics are watched, and a
    # costly validation (mnist_pairs' shift averaging) need not run each epoch; it changes no weight.
    validation_freq: int = 1
    # A deep ensemble: this many members trained independently on the same data (their own initial
    # weights and augmentation draws), saved as one model averaging their outputs (zoo.ensemble).
    members: int = 1
    # The dtype policy it trains under: None (float32), a Keras policy, or "native_bfloat16":
    # mixed_bfloat16 where the CPU computes bfloat16 natively (zoo.core.training_policy), float32
    # elsewhere. The shipped model computes in float32 either way (zoo.core.shipped_model).
    mixed_precision: str | None = None
    # Training batches mixed in pairs, their labels in proportion: "cutmix" (a box of one image pasted
    # into another, Yun et al. 2019) or "mixup" (a blend, Zhang et al. 2018), by Keras' layers in the
    # input pipeline (zoo.core.mixed). Validation and test images are never mixed.
    mix: str | None = None

    def __post_init__(self):  # refused when the recipe is made (or overridden), not when a fit compiles it
        if self.restart_epochs and self.warmup_epochs:
            raise ValueError("a recipe has warmup_epochs or restart_epochs, not both")
        if self.validation_freq < 1 or self.members < 1:
            raise ValueError("validation_freq and members are positive integers")
        if self.monitor and self.validation_freq > 1:
            raise ValueError(f"keeping the best epoch by {self.monitor} needs validation_freq 1 (each epoch validated)")
        if self.mix not in (None, *BATCH_MIXES):
            raise ValueError(f"mix is one of {', '.join(BATCH_MIXES)} (or None), not {self.mix!r}")

    def compile_args(self) -> dict:
        return {"loss": self.loss, "metrics": self.metrics, "loss_weights": self.loss_weights}

    def make_optimizer(self, steps_per_epoch: int = 1, epochs: int | None = None):
        config = {"learning_rate": self.rate(steps_per_epoch, epochs)}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        return keras.optimizers.get({"class_name": self.optimizer, "config": config})

    def rate(self, steps_per_epoch: int = 1, epochs: int | None = None):
        """The learning rate: a number, or a schedule of the step for ``schedule="cosine"``."""
        if self.schedule != "cosine":
            return self.learning_rate
        epochs = epochs or self.epochs
        if 0 < self.restart_epochs < epochs:  # two cycles: restart_epochs, then the rest
            return keras.optimizers.schedules.CosineDecayRestarts(
                self.learning_rate, steps_per_epoch * self.restart_epochs,
                t_mul=(epochs - self.restart_epochs) / self.restart_epochs)
        warmup = steps_per_epoch * min(self.warmup_epochs, epochs - 1)
        decay = steps_per_epoch * epochs - warmup
        if warmup > 0:
            return keras.optimizers.schedules.CosineDecay(0.0, decay, warmup_target=self.learning_rate,
                                                          warmup_steps=warmup)
        return keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=decay)

    def describe(self) -> dict:
        return {
            "optimizer": self.optimizer, "learning_rate": self.learning_rate, "schedule": self.schedule,
            "loss": _name(self.loss), "metrics": _name(self.metrics),
            "epochs": self.epochs, "batch_size": self.batch_size,
            "callbacks": [type(c).__name__ for c in self.callbacks()],
            "keep_best": self.monitor or "last epoch", "folds": self.folds,
            **{name: getattr(self, name) for name, default in OPTIONAL_RECIPE_FIELDS.items()
               if getattr(self, name) != default},
        }


def _name(obj):
    if isinstance(obj, dict):
        return {k: _name(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_name(v) for v in obj]
    if isinstance(obj, str):
        return obj
    if getattr(obj, "label_smoothing", 0):
        return f"{obj.name}(label_smoothing={obj.label_smoothing})"
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__


@dataclass
class Variant:
    """One architecture of a task: ``build(splits) -> keras.Model`` and its recipe."""

    build: Callable[[Splits], keras.Model]
    recipe: Recipe
    reference: str = ""  # the seed's figure for this architecture, if any
    description: str = ""
    load: Callable[..., Splits] | None = None  # its own data (e.g. more columns); default: the task's
    # Metrics beyond the test split's, e.g. how much fresh noise a model rejects: model -> {name: value}.
    extra_metrics: Callable[[keras.Model], dict] | None = None
    # The trained network wrapped for inference (test-time views averaged, say): model -> model.
    # Applied to the model that ships (zoo.core.shipped_model), after its best epoch is kept, so
    # training and its per-epoch validation run the network alone, at one pass an image.
    at_inference: Callable[[keras.Model], keras.Model] | None = None


@dataclass
class Task:
    name: str
    load: Callable[..., Splits]  # load(data_dir=None) -> Splits
    variants: dict[str, Variant]
    default: str
    description: str = ""
    reference: str = ""  # the seed's best figure for the task
    # True when each training seed draws its own data (mnist_pairs: pairs drawn per round).
    data_per_seed: bool = False

    def variant(self, name: str | None) -> tuple[str, Variant]:
        name = name or self.default
        if name not in self.variants:
            raise ZooError(
                f"task {self.name!r} has no variant {name!r}; choose one of: {', '.join(self.variants)}"
            )
        return name, self.variants[name]

    def load_for(self, variant: str | None, data_dir=None, seed: int = 0) -> Splits:
        """The data a variant trains and is evaluated on (``seed``: the round, if data_per_seed)."""
        return self.load_with(self.variant(variant)[1], data_dir, seed)

    def load_with(self, spec: Variant, data_dir=None, seed: int = 0) -> Splits:
        load = spec.load or self.load
        return load(data_dir=data_dir, seed=seed) if self.data_per_seed else load(data_dir=data_dir)

    def build(self, variant: str | None, splits: Splits) -> keras.Model:
        return self.variant(variant)[1].build(splits)


_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in _TASKS:
        raise ValueError(f"task {task.name!r} registered twice")
    _TASKS[task.name] = task
    return task


def list_tasks() -> list[str]:
    return list(_TASKS)


def get_task(name: str) -> Task:
    if name not in _TASKS:
        raise ZooError(f"unknown task {name!r}; the zoo has: {', '.join(_TASKS)} (see python -m zoo.fit --list)")
    return _TASKS[name]

