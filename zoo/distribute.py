"""Data-parallel training on the engines the backends ship: ``python -m zoo.fit TASK --distribute``.

- TensorFlow: ``tf.distribute.MirroredStrategy`` over every GPU (without one: every logical CPU
  device); the model is built and compiled inside ``strategy.scope()``.
- JAX: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``. Every
  batch is split evenly over the devices, so the global batch must be a multiple of their
  number, and each split fed to ``fit`` keeps a multiple of it (at most devices - 1 examples
  of the training and validation splits are left out, as the card says).
- PyTorch: Keras' distribution API does not cover it: refused. JAX on CPU devices with a file
  pipeline (cats_dogs' tf.data) is refused too: its first step deadlocked in XLA's CPU all-reduce here.
- Several machines: refused, with why. TensorFlow's ``MultiWorkerMirroredStrategy`` (a
  ``TF_CONFIG`` cluster) fails inside Keras 3's own ``fit`` (keras-team/keras#20585), and
  JAX's multi-process runtime could not be shown here to synchronize the workers on CPU.

``--batch-size`` is the **global** batch: each of N replicas computes on batch/N examples, and
the gradients are averaged, so a fit on N devices follows the single-device recipe. Once
trained, the model is saved and loaded back outside the engine: what the card's test metrics
measure is the ``.keras`` that loads and predicts anywhere, without a strategy.
``ZOO_CPU_DEVICES=N`` splits the CPU into N devices (TensorFlow logical devices; JAX host
devices), to try ``--distribute`` on a machine without GPUs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import keras
import numpy as np

from data_prep.errors import ZooError
from data_prep.splits import length, take


@dataclass
class Distribution:
    engine: str
    devices: list[str]
    strategy: object = None  # the tf.distribute strategy (TensorFlow)
    left_out: dict = field(default_factory=dict)  # split -> examples left out for even shards (JAX)

    @property
    def replicas(self) -> int:
        return len(self.devices)

    def scope(self):
        """Where the model is built and compiled."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def even(self, name: str, x, y):
        """(x, y) with a multiple of the replicas (JAX shards each batch evenly; TF needs nothing)."""
        if self.strategy is None and hasattr(x, "dataset") and all(d.startswith("cpu") for d in self.devices):
            raise ZooError("--distribute: under JAX, a file pipeline (tf.data, as cats_dogs') deadlocks in XLA's "
                           "all-reduce across CPU devices (seen here with 2); use the TensorFlow backend "
                           "(MirroredStrategy) for it, or JAX on GPUs")
        if self.strategy is not None or hasattr(x, "dataset"):
            return x, y
        n = length(x)
        kept = n - n % self.replicas
        if kept < n:
            self.left_out[name] = n - kept
            x, y = take(x, np.arange(kept)), take(y, np.arange(kept))
        return x, y

    def card(self, batch_size: int) -> dict:
        return {"engine": self.engine, "replicas": self.replicas, "workers": 1, "devices": self.devices,
                "global_batch_size": batch_size, "per_replica_batch_size": batch_size / self.replicas,
                **({"examples_left_out_for_even_shards": self.left_out} if self.left_out else {})}

    def close(self):
        if self.strategy is None:
            keras.distribution.set_distribution(None)


def start(batch_size: int) -> Distribution:
    """The data-parallel engine of the running backend, over every device it sees."""
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ZooError(f"--distribute: Keras has no data-parallel engine for the {backend} backend; use "
                       f"KERAS_BACKEND=tensorflow (tf.distribute.MirroredStrategy) or KERAS_BACKEND=jax "
                       f"(keras.distribution.DataParallel)")
    several = [name for name in ("TF_CONFIG", "KERAS_DISTRIBUTION_JOB_ADDRESSES") if os.environ.get(name)]
    if several:
        raise ZooError(f"--distribute: {several[0]} describes several machines, and training across machines "
                       f"is not supported: Keras 3's fit fails under TensorFlow's MultiWorkerMirroredStrategy "
                       f"(keras-team/keras#20585); unset {several[0]} to train on this machine's devices, or scale "
                       f"a search out instead (tuning.search --chief/--worker)")
    if backend == "tensorflow":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                  [d.name for d in tf.config.list_logical_devices("CPU")]
        return Distribution("tf.distribute.MirroredStrategy", devices, tf.distribute.MirroredStrategy(devices))
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        lower, upper = batch_size - batch_size % len(devices), batch_size + len(devices) - batch_size % len(devices)
        raise ZooError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices: use a multiple "
                       f"of {len(devices)}, e.g. {lower or upper} or {upper}")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return Distribution("keras.distribution.DataParallel", [str(d) for d in devices])


def gathered(model, work_dir) -> keras.Model:
    """The trained model saved and loaded back outside the engine: one device, no strategy."""
    from zoo import artifacts
    from zoo.core import load_model

    path = work_dir / "distributed.keras"
    artifacts.save_model(model, path)
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(None)
    return load_model(path)
