"""Faults injected for real: SIGKILL mid-fit and mid-save, NaN, and same seed -> same numbers."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

from tests.test_cli import REPO, call_main, run_cli
from zoo import fit as fit_cli
from zoo.checkpoints import AtomicBackupAndRestore, trim_history
from zoo.registry import get_task
from zoo.training import fit

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def wait_for(condition, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the child ended before the fault could be injected"
        assert time.monotonic() < deadline, "timed out waiting for the child"
        time.sleep(0.02)


def test_sigkill_mid_fit_resumes_at_the_killed_epoch(tmp_path):
    epochs = 60
    command = [sys.executable, "-m", "zoo.fit", "two_spirals", "--epochs", str(epochs), "--out", str(tmp_path),
               "--quiet"]
    backup = tmp_path / ".work" / "two_spirals" / "backup"
    child = subprocess.Popen(command, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(list(backup.glob("epoch-0000[3-9]"))) > 0, child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "two_spirals.keras").exists()

    rerun = run_cli("zoo.fit", "two_spirals", "--epochs", epochs, "--out", tmp_path, "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    resumed_at = int(re.search(r"resuming at epoch (\d+)", rerun.stdout).group(1))
    assert 4 <= resumed_at < epochs  # not from epoch 1
    history = pd.read_csv(tmp_path / "two_spirals.history.csv")
    assert history["epoch"].tolist() == list(range(epochs))  # each epoch once, none lost
    card = json.loads((tmp_path / "two_spirals.json").read_text())
    assert card["epochs_run"] == epochs and card["status"] == "ok"
    assert not (tmp_path / ".work" / "two_spirals").exists()


SAVE_LOOP = """
import sys, keras
from zoo.artifacts import save_model
inputs = keras.Input((64,))
model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(1500)(keras.layers.Dense(1500)(inputs))))
print("saving", flush=True)
while True:
    save_model(model, sys.argv[1])
"""


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.9])
def test_sigkill_during_save_leaves_the_old_or_the_new_model(tmp_path, delay):
    target = tmp_path / "model.keras"
    inputs = keras.Input((64,))
    keras.Model(inputs, keras.layers.Dense(3)(inputs)).save(target)  # the old, complete file
    child = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(target)], cwd=REPO, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "saving"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    model = keras.saving.load_model(target)  # never a truncated file
    assert model.output_shape in [(None, 3), (None, 1)]


def test_history_rows_of_an_epoch_killed_before_its_checkpoint_are_dropped(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,0.9\n1,0.8\n2,0.7\n3,0.")  # epoch 2 not checkpointed, 3 half-written
    trim_history(history, 2)
    assert pd.read_csv(history)["epoch"].tolist() == [0, 1]
    trim_history(history, 0)
    assert not history.exists()  # the logger will write a fresh header


def test_an_incomplete_checkpoint_is_ignored_on_restore(tmp_path):
    backup = tmp_path / "backup"
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("adam", "mse")
    model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0, callbacks=[_NoCleanup(backup)])
    (backup / ".incomplete-123").mkdir()
    (backup / ".incomplete-123" / "model.weights.h5").write_bytes(b"\x89HDF truncated")
    restored = _NoCleanup(backup)
    assert restored.latest_epoch() == 2
    model.fit(np.ones((8, 2)), np.ones(8), epochs=3, verbose=0, callbacks=[restored])
    assert not (backup / ".incomplete-123").exists()
    assert restored.latest_epoch() == 3


class _NoCleanup(AtomicBackupAndRestore):
    def on_train_end(self, logs=None):  # keep the checkpoints to look at them
        pass


class PoisonWeights(keras.callbacks.Callback):
    """Turn the weights into NaN at the start of epoch ``epoch`` (what a diverging fit does)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            for weight in self.model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, dtype="float32"))


def test_nan_stops_the_fit_and_no_model_is_saved(tmp_path, monkeypatch, capsys):
    variant = get_task("two_spirals").variants["mlp"]
    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: [PoisonWeights(2)]))
    code, _, err = call_main(fit_cli.main, ["two_spirals", "--epochs", "6", "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 2 and "diverged at epoch 3" in err and "Traceback" not in err
    assert not (tmp_path / "two_spirals.keras").exists() and not (tmp_path / "two_spirals.json").exists()
    failed = json.loads((tmp_path / "two_spirals.failed.json").read_text())
    assert failed["failed_epoch"] == 3 and failed["status"].startswith("failed")


def test_same_seed_gives_identical_card_metrics(tmp_path, usps_dir):
    for task, variant, data in [("two_spirals", None, None), ("usps", "default", usps_dir)]:
        cards = [fit(task, variant, epochs=2, seed=3, data_dir=data, out_dir=tmp_path / f"{task}{run}", verbose=0)
                 for run in (1, 2)]
        assert cards[0]["test_metrics"] == cards[1]["test_metrics"], task
        other = fit(task, variant, epochs=2, seed=4, data_dir=data, out_dir=tmp_path / f"{task}3", verbose=0)
        assert other["test_metrics"] != cards[0]["test_metrics"], task  # the seed matters


def test_a_second_fit_into_the_same_folder_is_refused_until_the_first_ends_even_by_sigkill(tmp_path, capsys):
    """Two fits of one task into one folder would interleave their rows in one history file: the
    second is refused at once (an OS lock, which a SIGKILL releases with its process)."""
    from tests.test_careless_use import exits_2_with_one_line

    argv = ["two_spirals", "--epochs", "10", "--out", str(tmp_path), "--quiet"]
    lock = tmp_path / ".work" / "two_spirals.lock"
    first = subprocess.Popen([sys.executable, "-m", "zoo.fit", *argv], cwd=REPO, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: lock.exists() and "process" in lock.read_text(), first)
    err = exits_2_with_one_line(fit_cli.main, argv, capsys)
    assert f"process {first.pid}: python -m zoo.fit two_spirals" in err and "already running" in err
    assert first.wait(timeout=300) == 0, first.stderr.read()
    card = json.loads((tmp_path / "two_spirals.json").read_text())
    assert card["epochs_run"] == 10 and not lock.exists()

    killed = subprocess.Popen([sys.executable, "-m", "zoo.fit", *argv[:-2], str(tmp_path / "again"), "--quiet"],
                              cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: any((tmp_path / "again" / ".work" / "two_spirals" / "backup").glob("epoch-*")), killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (tmp_path / "again" / ".work" / "two_spirals.lock").exists()  # left behind, but not held
    code, out, _ = call_main(fit_cli.main, [*argv[:-2], str(tmp_path / "again"), "--quiet"], capsys)
    assert code == 0 and "resuming" in out


def test_a_second_search_in_the_same_directory_is_refused(tmp_path, capsys):
    import fcntl

    from tests.test_careless_use import exits_2_with_one_line
    from tuning import search

    (tmp_path / "runs").mkdir()
    with open(tmp_path / "runs" / ".two_spirals.lock", "w") as held:  # what a running search holds
        held.write("process 4242: python -m tuning.search two_spirals")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        err = exits_2_with_one_line(search.main, ["two_spirals", "--tuner", "random", "--max-trials", "1",
                                                  "--directory", str(tmp_path / "runs"), "--out", str(tmp_path)],
                                    capsys)
    assert "a two_spirals search is already running" in err and "process 4242" in err
