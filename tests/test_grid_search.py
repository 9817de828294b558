"""tuning.search --tuner grid with K folds (seed 003's Table 1), resumed after a kill; the table writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.test_cli import REPO, call_main
from tuning import search

GRID = ["--choices", "batch_size=50,100", "epochs=1,2"]


def grid_argv(tmp_path, data_dir, *extra):
    return ["mnist_pairs", "--tuner", "grid", "--variant", "convnet", "--folds", "2", "--folds-within-train",
            *GRID, "--no-retrain", "--seed", "1", "--directory", str(tmp_path / "runs"), "--data-dir", str(data_dir),
            *extra]


def test_a_killed_grid_search_resumes_and_runs_every_combination_once(tmp_path, mnist_dir, capsys):
    project = tmp_path / "runs" / "mnist_pairs-convnet-round1"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen([sys.executable, "-m", "tuning.search", *grid_argv(tmp_path, mnist_dir)], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while not (project / "trial_0001").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)  # killed inside the second combination, after the first one's result
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert len(list((project / "trial_results").glob("*.json"))) < 4  # the kill left work to do

    code, _, err = call_main(search.main, grid_argv(tmp_path, mnist_dir), capsys)  # the same command resumes
    assert code == 0, err
    table = pd.read_csv(project / "trials.csv")
    combinations = sorted(zip(table["batch_size"], table["epochs"]))
    assert combinations == [(50, 1), (50, 2), (100, 1), (100, 2)]  # the whole grid, each cell once
    assert set(table["status"]) == {"ok"}
    pd.testing.assert_series_equal(table["objective"], table[["fold_1", "fold_2"]].mean(axis=1), check_names=False)
    for k in (1, 2):  # each fold's final model on its own training and validation folds
        assert table[f"fold_{k}_train_accuracy"].between(0, 1).all()
        assert table[f"fold_{k}_val_accuracy"].between(0, 1).all()
    assert not (tmp_path / "saved_models").exists()  # --no-retrain

    # seed 003's Table 1 from the same trials: a row per architecture x epochs, a column per batch size
    from zoo.studies.mnist_pairs_table1 import fold_errors, table1_markdown

    folds = fold_errors(tmp_path / "runs", "convnet", 1)
    assert len(folds) == 4 * 2 and folds["val_error"].between(0, 100).all()
    text = table1_markdown(folds)
    rows = text.splitlines()
    assert rows[0] == "| architecture | epochs | batch 25 | batch 50 | batch 100 |" and len(rows) == 4
    assert rows[2].startswith("| convnet | 1 | – | train ") and "seed:" not in rows[2]  # no seed cell at 1 epoch
    mean = folds[(folds["epochs"] == 2) & (folds["batch_size"] == 100)]["val_error"].mean()
    assert f"val {mean:.2f}%" in rows[3]


def test_grid_flags_are_checked_before_searching(tmp_path, mnist_dir, capsys):
    code, _, err = call_main(search.main, grid_argv(tmp_path, mnist_dir, "--choices", "width=3"), capsys)
    assert code == 2 and "--choices width: not a hyper-parameter of mnist_pairs's space; it has batch_size, epochs" in err
    code, _, err = call_main(search.main, ["two_spirals", "--variant", "nope", "--directory", str(tmp_path)], capsys)
    assert code == 2 and "--variant nope: two_spirals's space searches from mlp" in err
    code, _, err = call_main(search.main, grid_argv(tmp_path, mnist_dir, "--choices", "epochs"), capsys)
    assert code == 2 and "write NAME=V1,V2" in err


def test_the_grid_oracle_rebuilds_its_walk_on_reload(tmp_path):
    """KerasTuner's own GridSearchOracle forgets its walk order on reload (keras-tuner#1055)."""
    import keras_tuner as kt

    from tuning.grid import ResumableGridOracle

    space = kt.HyperParameters()
    space.Choice("a", [1, 2, 3])
    space.Choice("b", [1, 2])

    def walk(oracle, limit=None):
        seen = []
        while limit is None or len(seen) < limit:
            trial = oracle.create_trial("tuner0")
            if trial.status != "RUNNING":
                return seen
            seen.append((trial.hyperparameters["a"], trial.hyperparameters["b"]))
            oracle.update_trial(trial.trial_id, {"score": 1.0})
            oracle.end_trial(trial)
            oracle.save()  # as the tuner does after each trial (BaseTuner.on_trial_end)
        return seen

    walks = {}
    for name, make in (("ours", ResumableGridOracle), ("keras_tuner", kt.oracles.GridSearchOracle)):
        oracles = [make(objective=kt.Objective("score", "min"), hyperparameters=space, max_trials=None)
                   for _ in range(2)]
        for oracle in oracles:
            oracle._set_project_dir(str(tmp_path / name), "p")
        assert walk(oracles[0], limit=2) == [(1, 1), (1, 2)]
        oracles[1].reload()  # a new process resumes the same project
        try:
            walks[name] = walk(oracles[1])
        except KeyError as error:
            walks[name] = f"KeyError {error}"
    assert walks["ours"] == [(2, 1), (2, 2), (3, 1), (3, 2)]
    # the bug worked around: the plain oracle stops early or fails (here: KeyError '0001')
    assert walks["keras_tuner"] == [] or walks["keras_tuner"].startswith("KeyError")
