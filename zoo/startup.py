"""The backend's start-up, without its native chatter: imported first by the ``zoo`` package.

TF_CPP_MIN_LOG_LEVEL cannot silence everything: TensorFlow's shared libraries log through absl
while they load, before TensorFlow installs the logger that reads the variable ("All log messages
before absl::InitializeLog() is called are written to STDERR"), and CUDA's probe of a machine
without a GPU logs an "E" line of its own. So the start-up runs with the process' stderr (fd 2)
captured, and what it wrote is replayed less these known lines: real warnings and errors stay.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

START_UP_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I0000 [\d:. ]+\d+ \S+\] "  # absl INFO lines: oneDNN is on, no CUDA drivers, CPU instructions
    r"|To enable the following instructions: .* rebuild TensorFlow"  # the CPU-instructions line's tail
)
NO_GPU = re.compile(r"E0000 [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit")


@contextlib.contextmanager
def quiet_native_start_up():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines()
            no_driver = any("Could not find cuda drivers" in line for line in lines)
            kept = [line for line in lines if not START_UP_CHATTER.match(line)
                    and not (no_driver and NO_GPU.match(line))]  # no driver: no GPU expected, not an error
            if kept:
                print("\n".join(kept), file=sys.stderr)


def cpu_devices() -> int:
    """``ZOO_CPU_DEVICES=N``: split the CPU into N devices, to try ``zoo.fit --distribute`` without GPUs."""
    value = os.environ.get("ZOO_CPU_DEVICES", "").strip()
    if not value:
        return 0
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"ZOO_CPU_DEVICES={value}: give a whole number of CPU devices, e.g. 2")
    return int(value)


def start_backend() -> None:
    """Import Keras (and so its backend) quietly, with the CPU split as ``ZOO_CPU_DEVICES`` asks."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own INFO and WARNING lines
    devices = cpu_devices()
    if devices > 1:  # JAX reads its flag when it starts
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={devices}").strip()
    with quiet_native_start_up():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA's probe, here rather than at the first operation
            if devices > 1:  # before TensorFlow's runtime starts
                tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                                           [tf.config.LogicalDeviceConfiguration()] * devices)
    if os.environ.get("ZOO_DISTRIBUTION_SUPERVISED") and keras.backend.backend() == "jax":
        join_cluster()


def join_cluster() -> None:
    """One process of a fit over several (``zoo.fit --distribute`` under ``zoo.distribute.supervise``):
    JAX's multi-process runtime must start before any JAX computation, and importing the tasks
    makes some (their recipes' metrics hold variables), so it starts here."""
    from data_prep.errors import ZooError
    from zoo.distribute import Cluster

    try:
        Cluster.from_environment().join()
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
