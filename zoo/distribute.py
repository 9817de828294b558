"""Data-parallel training on the engines the backends ship: ``python -m zoo.fit TASK --distribute``.

- TensorFlow: ``tf.distribute.MirroredStrategy`` over every GPU (without one: every logical CPU
  device); the model is built and compiled inside ``strategy.scope()``.
- JAX: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``. Every
  batch is split evenly over the devices, so the global batch must be a multiple of their
  number, and each split fed to ``fit`` keeps a multiple of it (at most devices - 1 examples
  of the training and validation splits are left out, as the card says).
- PyTorch: Keras' distribution API does not cover it: refused. JAX on CPU devices with a file
  pipeline (cats_dogs' tf.data) is refused too: its first step deadlocked in XLA's CPU all-reduce here.
- Several processes or machines: JAX's multi-process runtime, started from Keras' own variables
  ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator's ``host:port``, or every process's, comma
  separated: the first is the coordinator), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and
  ``KERAS_DISTRIBUTION_PROCESS_ID``: the same command on every machine trains one model over every
  process's devices (:class:`Cluster`). On CPUs JAX needs its gloo collectives, set here. Each
  process feeds its share of every global batch; process 0 alone ships the model, card, history
  and curves; each process keeps its own checkpoints (what resuming needs). A process that dies
  is found by the others' next collective, or by the runtime's heartbeat (:data:`HEARTBEAT_SECONDS`),
  and they stop with one line naming it (:func:`supervise` turns the runtime's fatal abort into
  that line). TensorFlow's ``MultiWorkerMirroredStrategy`` (a ``TF_CONFIG`` cluster) stays refused:
  it fails inside Keras 3's own ``fit`` (keras-team/keras#20585).

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
import re
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from data_prep.errors import ZooError
from data_prep.splits import length, take


# A process that stops sending heartbeats is declared lost after this many seconds (JAX's default
# is 100): the others then stop within a minute, not after their whole fit.
HEARTBEAT_SECONDS = 20
VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")
SUPERVISED = "ZOO_DISTRIBUTION_SUPERVISED"  # set in the worker process that supervise() starts


@dataclass(frozen=True)
class Cluster:
    """This process's place among several, from Keras' own variables (what
    ``keras.distribution.initialize()`` reads); ``ZOO_DISTRIBUTION_TIMEOUT``: seconds to wait for
    every process to join (default 300)."""

    coordinator: str
    processes: int
    process_id: int
    timeout: int = 300

    @staticmethod
    def from_environment() -> "Cluster | None":
        addresses = os.environ.get(VARIABLES[0], "").strip()
        if not addresses:
            return None
        values = {}
        for name in VARIABLES[1:]:
            value = os.environ.get(name, "").strip()
            if not value.isdigit():
                raise ZooError(f"{name}={value!r}: set it to a whole number on every process ({VARIABLES[0]} is set, "
                               f"so this is one process of several)")
            values[name] = int(value)
        processes, process_id = values[VARIABLES[1]], values[VARIABLES[2]]
        if processes < 1 or process_id >= processes:
            raise ZooError(f"{VARIABLES[2]}={process_id} with {VARIABLES[1]}={processes}: process ids run from 0 "
                           f"to {processes - 1}, one per process")
        listed = [a.strip() for a in addresses.split(",")]
        if len(listed) > 1 and len(listed) != processes:
            raise ZooError(f"{VARIABLES[0]} lists {len(listed)} addresses but {VARIABLES[1]}={processes}: list the "
                           "coordinator's host:port alone, or every process's")
        if not re.fullmatch(r"[\w.\-\[\]:]+:\d+", listed[0]):
            raise ZooError(f"{VARIABLES[0]}={listed[0]!r}: give the coordinator (process 0) as host:port, "
                           "e.g. 10.0.0.1:1234")
        timeout = os.environ.get("ZOO_DISTRIBUTION_TIMEOUT", "300").strip()
        if not timeout.isdigit() or int(timeout) < 1:
            raise ZooError(f"ZOO_DISTRIBUTION_TIMEOUT={timeout!r}: seconds to wait for every process, e.g. 300")
        return Cluster(listed[0], processes, process_id, int(timeout))

    def join(self) -> None:
        """Start JAX's multi-process runtime (before any JAX computation), and check that every
        process was started with the same count."""
        import jax

        if jax.distributed.is_initialized():  # joined at start-up (zoo.startup.join_cluster)
            return
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():  # e.g. zoo.training.fit called from Python after import zoo
            raise ZooError("training across processes must join JAX's runtime before any JAX computation, and "
                           "importing the zoo makes some: start it with python -m zoo.fit TASK --distribute")
        # Without gloo, JAX runs no collective across processes on CPUs (GPUs have their own).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=self.coordinator, num_processes=self.processes,
                                   process_id=self.process_id, initialization_timeout=self.timeout,
                                   heartbeat_timeout_seconds=HEARTBEAT_SECONDS)
        declared = self.gather(self.processes)
        if jax.process_count() != self.processes or len(set(declared)) > 1:
            raise ZooError(f"{VARIABLES[1]} disagrees between processes ({', '.join(map(str, declared))}; the "
                           f"coordinator runs {jax.process_count()}): set the same count on every machine")

    def gather(self, value: int) -> list[int]:
        """``value`` of every process, in process order (a collective: every process calls it)."""
        from jax.experimental import multihost_utils

        return [int(v) for v in np.asarray(multihost_utils.process_allgather(np.int32(value)))]


@dataclass
class Distribution:
    engine: str
    devices: list[str]
    strategy: object = None  # the tf.distribute strategy (TensorFlow)
    left_out: dict = field(default_factory=dict)  # split -> examples left out for even shards (JAX)
    cluster: Cluster | None = None  # several processes (JAX)

    @property
    def replicas(self) -> int:
        return len(self.devices)

    @property
    def processes(self) -> int:
        return self.cluster.processes if self.cluster else 1

    @property
    def is_chief(self) -> bool:
        """Whether this process ships the model (process 0, or the only one)."""
        return not self.cluster or self.cluster.process_id == 0

    def scope(self):
        """Where the model is built and compiled."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def batch_size(self, global_batch: int) -> int:
        """The batch this process feeds: its share of every global batch."""
        return global_batch // self.processes

    def even(self, name: str, x, y):
        """(x, y) with a multiple of the replicas (JAX shards each batch evenly; TF needs nothing);
        with several processes, this process's share of them (a contiguous block, the same size on each)."""
        if self.strategy is None and hasattr(x, "dataset") and (self.cluster or all(d.startswith("cpu")
                                                                                     for d in self.devices)):
            raise ZooError("--distribute: under JAX, a file pipeline (tf.data, as cats_dogs') deadlocks in XLA's "
                           "all-reduce across CPU devices (seen here with 2), and is not sharded over processes; use "
                           "the TensorFlow backend (MirroredStrategy) on one machine for it, or JAX on GPUs")
        if self.strategy is not None or hasattr(x, "dataset"):
            return x, y
        n = length(x)
        kept = n - n % self.replicas
        if kept < n:
            self.left_out[name] = n - kept
        share = kept // self.processes
        rows = np.arange(share) + share * (self.cluster.process_id if self.cluster else 0)
        return (take(x, rows), take(y, rows)) if len(rows) < n else (x, y)

    @contextlib.contextmanager
    def watch(self):
        """Around a fit over several processes: a collective that fails because a peer is gone ends
        this process at once with one line naming it (the runtime's own shutdown would wait for the
        lost peer)."""
        try:
            yield
        except Exception as err:
            line = peer_loss(f"{type(err).__name__}: {err}")
            if not line:
                raise
            if self.processes == 2:  # then the lost one is the other
                line = line.replace("lost a peer process", f"lost peer process {1 - self.cluster.process_id}", 1)
            print(f"error: {line}; no model was shipped. Rerun the same command on every machine to resume from "
                  "the last complete checkpoint", file=sys.stderr, flush=True)
            os._exit(2)

    def agreed_epoch(self, latest: int) -> int:
        """The epoch every process resumes from: the oldest of their newest checkpoints."""
        return min(self.cluster.gather(latest)) if self.cluster else latest

    def card(self, batch_size: int) -> dict:
        return {"engine": self.engine, "replicas": self.replicas, "workers": self.processes, "devices": self.devices,
                "global_batch_size": batch_size, "per_replica_batch_size": batch_size / self.replicas,
                **({"processes": self.processes, "per_process_batch_size": batch_size // self.processes,
                    "coordinator": self.cluster.coordinator} if self.cluster else {}),
                **({"examples_left_out_for_even_shards": self.left_out} if self.left_out else {})}

    def close(self):
        if self.strategy is None:
            keras.distribution.set_distribution(None)


def process_id() -> int:
    """This process's id among several (0 when alone), for the files it may write."""
    cluster = Cluster.from_environment()
    return cluster.process_id if cluster else 0


def start(batch_size: int) -> Distribution:
    """The data-parallel engine of the running backend, over every device it sees (with several
    processes, every device of every process)."""
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ZooError(f"--distribute: Keras has no data-parallel engine for the {backend} backend; use "
                       f"KERAS_BACKEND=tensorflow (tf.distribute.MirroredStrategy) or KERAS_BACKEND=jax "
                       f"(keras.distribution.DataParallel)")
    if os.environ.get("TF_CONFIG"):
        raise ZooError("--distribute: TF_CONFIG describes a TensorFlow cluster, and Keras 3's fit fails under "
                       "TensorFlow's MultiWorkerMirroredStrategy (keras-team/keras#20585): unset it, and train across "
                       f"machines with KERAS_BACKEND=jax and {', '.join(VARIABLES)} (README, scaling out)")
    cluster = Cluster.from_environment()
    if cluster and backend != "jax":
        raise ZooError(f"--distribute: training across processes runs on JAX's multi-process runtime: set "
                       f"KERAS_BACKEND=jax ({VARIABLES[0]} is set; TensorFlow's own fails in Keras 3's fit, "
                       "keras-team/keras#20585)")
    if backend == "tensorflow":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                  [d.name for d in tf.config.list_logical_devices("CPU")]
        return Distribution("tf.distribute.MirroredStrategy", devices, tf.distribute.MirroredStrategy(devices))
    if cluster:
        cluster.join()
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        lower, upper = batch_size - batch_size % len(devices), batch_size + len(devices) - batch_size % len(devices)
        raise ZooError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices: use a multiple "
                       f"of {len(devices)}, e.g. {lower or upper} or {upper}")
    # Several processes: each feeds its own share (Distribution.even), so Keras must not shard again.
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices,
                                                                        auto_shard_dataset=not cluster))
    return Distribution("keras.distribution.DataParallel", [str(d) for d in devices], cluster=cluster)


def gathered(model, work_dir) -> keras.Model:
    """The trained model saved and loaded back outside the engine: one device, no strategy."""
    from zoo import artifacts
    from zoo.core import load_model

    path = work_dir / "distributed.keras"
    if keras.backend.backend() == "jax":
        # Off the distribution first: saving creates variables (a fresh optimizer's), and under a
        # distribution over several processes that is a collective the others, done, never join.
        keras.distribution.set_distribution(None)
    artifacts.save_model(model, path)
    return load_model(path)


# --- several processes: one line when a peer is lost ------------------------------------------------

LOST = [  # what the runtime says when a process is gone -> what to tell the user
    (re.compile(r"Task (\d+) heartbeat timeout"), "lost peer process {0}: its heartbeat stopped"),
    (re.compile(r"DEADLINE_EXCEEDED.*\n?.*RegisterTask|RegisterTask.*DEADLINE_EXCEEDED", re.S),
     "not every process joined within ZOO_DISTRIBUTION_TIMEOUT={timeout} s, so nothing was trained: start the same "
     "command on every machine, with the same KERAS_DISTRIBUTION_NUM_PROCESSES"),
    (re.compile(r"Connection closed by peer|Connection reset by peer|Gloo .* failed|UNAVAILABLE|coordination service",
                re.I), "lost a peer process: {detail}"),
]


def peer_loss(text: str) -> str | None:
    """The one line that says which process was lost, from what the runtime printed (``None``: not that)."""
    for pattern, message in LOST:
        found = pattern.search(text)
        if found:
            detail = next((line.strip() for line in text.splitlines() if pattern.search(line)), found[0])
            return message.format(*found.groups(), detail=detail[:200],
                                  timeout=os.environ.get("ZOO_DISTRIBUTION_TIMEOUT", "300"))
    return None


def supervise(argv: list[str]) -> int:
    """Run this command (one process of several) in a child and translate its end: JAX's runtime ends
    a process whose peer is lost with a fatal abort and a C++ stack trace; here that becomes one line
    naming the lost peer, and exit status 2. The child dies with this process (PR_SET_PDEATHSIG)."""
    def die_with_parent():
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    with warnings.catch_warnings():  # JAX warns of any fork; this one is followed by exec at once
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        child = subprocess.Popen([sys.executable, *argv], env={**os.environ, SUPERVISED: "1"}, stderr=subprocess.PIPE,
                                 text=True, errors="replace",
                                 preexec_fn=die_with_parent if sys.platform == "linux" else None)
    fatal, tail = [], []

    def relay():
        for line in child.stderr:
            if fatal or re.match(r"F\d{4} |\*\*\* Check failure", line):
                fatal.append(line)  # the runtime's abort: summarized below, not shown
            elif not line.startswith("[Gloo] Rank"):
                sys.stderr.write(line)
                sys.stderr.flush()
                tail.append(line)
                del tail[:-50]

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        status = child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        status = child.wait()
    reader.join(timeout=10)
    if status in (0, 2, 130):  # done, or a one-line error of its own already shown
        return status
    line = peer_loss("".join(fatal + tail)) or f"this process ended with status {status}"
    if "nothing was trained" not in line:
        line += ("; no model was shipped. Rerun the same command on every machine to resume from the last complete "
                 "checkpoint")
    print(f"error: {line}", file=sys.stderr)
    return 2
