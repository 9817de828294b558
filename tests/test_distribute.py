"""zoo.fit --distribute: MirroredStrategy (TensorFlow) and DataParallel (JAX) on a CPU split in two."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.test_cli import REPO, run_cli
from tests.test_reliability import ENV, wait_for


def write_learnable_usps(path, n_train=1801, n_test=200, seed=0):
    """USPS' layout with a digit that can be learned: class k lights row k of the 16x16 image."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for part, n in (("train", n_train), ("test", n_test)):
            labels = np.arange(n) % 10
            images = rng.uniform(0, 0.5, (n, 16, 16)).astype("float32")
            images[np.arange(n), labels + 3, :] += 0.5
            f.create_dataset(f"{part}/data", data=images.reshape(n, 256))
            f.create_dataset(f"{part}/target", data=labels)


@pytest.fixture(scope="module")
def learnable_usps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("usps_data")
    write_learnable_usps(folder / "usps" / "usps.h5")
    return folder


def fit_usps(out, data, backend, *flags):
    args = ["usps", "--model", "seed002", "--epochs", "3", "--batch-size", "100", "--seed", "0", "--data-dir", data,
            "--out", out, "--quiet", *flags]
    return run_cli("zoo.fit", *args, KERAS_BACKEND=backend, ZOO_CPU_DEVICES="2")


@pytest.mark.parametrize("backend, engine", [("tensorflow", "tf.distribute.MirroredStrategy"),
                                             ("jax", "keras.distribution.DataParallel")])
def test_two_replicas_train_like_one_device_and_the_model_loads_without_a_strategy(tmp_path, learnable_usps,
                                                                                  backend, engine):
    single = fit_usps(tmp_path / "one", learnable_usps, backend)
    assert single.returncode == 0, single.stderr
    distributed = fit_usps(tmp_path / "two", learnable_usps, backend, "--distribute")
    assert distributed.returncode == 0, distributed.stderr
    one = json.loads((tmp_path / "one" / "usps-seed002.json").read_text())
    two = json.loads((tmp_path / "two" / "usps-seed002.json").read_text())
    expected = {"engine": engine, "replicas": 2, "workers": 1, "global_batch_size": 100, "per_replica_batch_size": 50.0}
    assert {k: two["distribution"][k] for k in expected} == expected and len(two["distribution"]["devices"]) == 2
    # 510 training and 1291 validation images: JAX shards evenly, so it leaves one validation image out, and says so
    left_out = {"validation": 1} if backend == "jax" else None
    assert two["distribution"].get("examples_left_out_for_even_shards") == left_out
    assert "distribution" not in one
    assert one["test_metrics"]["accuracy"] > 0.5  # it learned something worth comparing
    # the same data, seed and global batch: the same training, up to the order of float additions
    assert two["test_metrics"]["accuracy"] == pytest.approx(one["test_metrics"]["accuracy"], abs=0.01)
    assert two["test_metrics"]["loss"] == pytest.approx(one["test_metrics"]["loss"], rel=0.01)

    from zoo.evaluate import evaluate  # this process has one device and no strategy

    result = evaluate(tmp_path / "two" / "usps-seed002.keras", data_dir=learnable_usps)
    assert result["metrics"]["accuracy"] == pytest.approx(two["test_metrics"]["accuracy"], abs=1e-6)


def test_a_distributed_fit_killed_mid_way_resumes(tmp_path):
    epochs = 8
    command = [sys.executable, "-m", "zoo.fit", "two_spirals", "--distribute", "--epochs", str(epochs),
               "--batch-size", "512", "--out", str(tmp_path), "--quiet"]
    backup = tmp_path / ".work" / "two_spirals" / "backup"
    child = subprocess.Popen(command, cwd=REPO, env={**ENV, "ZOO_CPU_DEVICES": "2"}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for(lambda: len(list(backup.glob("epoch-0000[3-9]"))) > 0, child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    rerun = run_cli(*command[2:], ZOO_CPU_DEVICES="2")
    assert rerun.returncode == 0, rerun.stderr
    assert 4 <= int(re.search(r"resuming at epoch (\d+)", rerun.stdout).group(1)) < epochs
    assert pd.read_csv(tmp_path / "two_spirals.history.csv")["epoch"].tolist() == list(range(epochs))
    card = json.loads((tmp_path / "two_spirals.json").read_text())
    assert card["status"] == "ok" and card["distribution"]["replicas"] == 2
    assert not (tmp_path / ".work").exists()


@pytest.mark.parametrize("env, flags, message", [
    ({"KERAS_BACKEND": "torch"}, [], "Keras has no data-parallel engine for the torch backend; use "
                                     "KERAS_BACKEND=tensorflow"),
    ({"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}}'}, [],
     "TF_CONFIG describes several machines, and training across machines is not supported"),
    ({"KERAS_BACKEND": "jax", "ZOO_CPU_DEVICES": "2"}, ["--batch-size", "33"],
     "--batch-size 33 does not split evenly over 2 devices: use a multiple of 2, e.g. 32 or 34"),
])
def test_what_cannot_be_distributed_is_refused_in_one_line(tmp_path, env, flags, message):
    result = run_cli("zoo.fit", "two_spirals", "--distribute", "--epochs", "1", "--out", tmp_path, *flags, **env)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.glob("*.keras"))


def test_jax_on_cpu_devices_refuses_a_file_pipeline_before_training(tmp_path):
    from tests.conftest import write_jpeg

    for label, color in (("cat", (220, 120, 60)), ("dog", (60, 90, 220))):
        for i in range(20):
            write_jpeg(tmp_path / "data" / "cats_dogs" / "train" / f"{label}.{i}.jpg", size=(40, 30), color=color)
    result = run_cli("zoo.fit", "cats_dogs", "--distribute", "--epochs", "1", "--batch-size", "8", "--data-dir",
                     tmp_path / "data", "--out", tmp_path / "out", KERAS_BACKEND="jax", ZOO_CPU_DEVICES="2")
    assert result.returncode == 2 and "a file pipeline (tf.data, as cats_dogs') deadlocks" in result.stderr
    assert not (tmp_path / "out" / ".work").exists() or not any((tmp_path / "out" / ".work").rglob("*.h5"))
