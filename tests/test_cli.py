"""The spine end to end: fit -> save -> evaluate, and every bad input's message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from tuning import search
from zoo import evaluate, fit
from zoo.registry import get_task, list_tasks

REPO = Path(__file__).resolve().parents[1]


def run_cli(module, *args, cwd=REPO, **env):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def call_main(main, argv, capsys):
    """Run a CLI's main in-process the way ``python -m`` does; return (exit code, stdout, stderr)."""
    from zoo.cli import run

    with pytest.raises(SystemExit) as stop:
        run(lambda: main(argv))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_fit_save_evaluate_round_trip(tmp_path):
    fitted = run_cli("zoo.fit", "two_spirals", "--epochs", "2", "--quiet", "--out", tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    card = json.loads((tmp_path / "two_spirals.json").read_text())
    assert card["task"] == "two_spirals" and card["variant"] == "mlp" and card["status"] == "ok"
    assert card["epochs_run"] == 2 and card["recipe"]["epochs"] == 2
    assert card["data"]["splits"] == {"train": 3000, "val": 500, "test": 500}
    assert card["command"].startswith("python -m zoo.fit two_spirals")
    assert card["environment"]["backend"] == keras.backend.backend()
    for suffix in (".keras", ".history.csv", ".curves.png"):
        assert (tmp_path / f"two_spirals{suffix}").stat().st_size > 0
    assert not (tmp_path / ".work").exists() or not any((tmp_path / ".work").iterdir())

    result = evaluate.evaluate(tmp_path / "two_spirals.keras")
    for name, value in card["test_metrics"].items():
        assert result["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-7)

    shown = run_cli("zoo.evaluate", tmp_path / "two_spirals.keras")
    assert shown.returncode == 0, shown.stderr
    assert "accuracy" in shown.stdout and "(card:" in shown.stdout


def test_fit_on_usps_fixture_writes_variant_named_files(usps_dir, tmp_path):
    out = tmp_path / "out"
    card = fit_in_process("usps", "seed002", usps_dir, out)
    assert (out / "usps-seed002.keras").exists() and card["data"]["files"][0]["sha256"]
    assert card["data"]["splits"]["test"] == 60
    model = evaluate.load_model(out / "usps-seed002.keras")
    raw = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 1)).astype("float32")
    assert model.predict(raw, verbose=0).shape == (3, 10)


def fit_in_process(task, variant, data_dir, out, epochs=1):
    from zoo.training import fit as fit_task

    return fit_task(task, variant, epochs=epochs, batch_size=256, data_dir=data_dir, out_dir=out, verbose=0)


def test_list_shows_every_task_variant_and_reference(capsys):
    code, out, _ = call_main(fit.main, ["--list"], capsys)
    assert code == 0
    for name in list_tasks():
        assert name in out
        for variant in get_task(name).variants:
            assert variant in out
    assert "100% test" in out


@pytest.mark.parametrize("argv,expected", [
    (["no_such_task"], "unknown task 'no_such_task'; the zoo has: " + ", ".join(list_tasks())),
    (["usps", "--model", "nope"], "no variant 'nope'; choose one of: default"),
    (["usps"], "usps data not found: expected {usps.h5} or {zip.train.gz, zip.test.gz}"),
    (["usps", "--data-dir", "/no/such/folder"], "'/no/such/folder' does not exist"),
])
def test_fit_bad_input_exits_2_with_a_message(argv, expected, capsys):
    code, _, err = call_main(fit.main, argv, capsys)
    assert code == 2
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--epochs", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3", "ten"])
def test_fit_refuses_non_positive_counts(option, value, capsys):
    code, _, err = call_main(fit.main, ["two_spirals", option, value], capsys)
    assert code == 2 and option in err


@pytest.mark.parametrize("command,argv", [
    (fit.main, ["two_spirals", "--seed", "-1"]),
    (search.main, ["two_spirals", "--seed", "-1"]),
    (search.main, ["two_spirals", "--retrain-seeds", "0", "-2"]),
])
def test_negative_seeds_are_refused(command, argv, capsys):
    code, _, err = call_main(command, argv, capsys)
    assert code == 2 and "must be at least 0, got -" in err and "Traceback" not in err


def test_evaluate_missing_file(tmp_path, capsys):
    code, _, err = call_main(evaluate.main, [str(tmp_path / "absent.keras")], capsys)
    assert code == 2 and "does not exist" in err


def test_evaluate_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 this is not a finished archive")
    code, _, err = call_main(evaluate.main, [str(bad)], capsys)
    assert code == 2 and "not a .keras model file" in err

    with zipfile.ZipFile(tmp_path / "broken.keras", "w") as archive:
        archive.writestr("config.json", "{ not json")
    code, _, err = call_main(evaluate.main, [str(tmp_path / "broken.keras")], capsys)
    assert code == 2 and "corrupt" in err


def test_evaluate_refuses_lambda_layers_unless_unsafe(tmp_path, capsys):
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    path = tmp_path / "two_spirals.keras"
    keras.Model(inputs, outputs).save(path)
    (tmp_path / "two_spirals.json").write_text(json.dumps({"task": "two_spirals"}))
    code, _, err = call_main(evaluate.main, [str(path)], capsys)
    assert code == 2 and "--unsafe" in err
    code, out, _ = call_main(evaluate.main, [str(path), "--unsafe"], capsys)
    assert code == 0 and "accuracy" in out


def test_evaluate_model_of_another_task_is_refused(usps_dir, tmp_path, capsys):
    fit_in_process("usps", "seed002", usps_dir, tmp_path)
    code, _, err = call_main(
        evaluate.main, [str(tmp_path / "usps-seed002.keras"), "--task", "two_spirals"], capsys)
    assert code == 2 and "trained for another task" in err


def test_evaluate_without_card_says_what_to_do(tmp_path, capsys):
    inputs = keras.Input((2,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(tmp_path / "m.keras")
    code, _, err = call_main(evaluate.main, [str(tmp_path / "m.keras")], capsys)
    assert code == 2 and "--task" in err


def test_mixed_precision_and_jit_compile_train_save_and_reload(tmp_path, capsys):
    code, out, err = call_main(fit.main, ["two_spirals", "--epochs", "1", "--quiet", "--out", str(tmp_path),
                                          "--mixed-precision", "--jit-compile", "on"], capsys)
    assert code == 0, err
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    card = json.loads((tmp_path / "two_spirals.json").read_text())
    assert card["recipe"]["dtype_policy"] == "mixed_float16" and card["recipe"]["jit_compile"] is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(tmp_path / "two_spirals.keras")
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    # trained in float16, shipped computing in float32 (zoo.core.shipped_model): it answers alike anywhere
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense and all(layer.dtype_policy.name == "float32" for layer in dense)
    assert dense[0].compute_dtype == "float32" and dense[0].kernel.dtype == "float32"
    assert np.all(np.isfinite(np.asarray(model.predict(np.zeros((4, 2), "float32"), verbose=0), dtype=float)))
    assert 0.0 <= card["test_metrics"]["accuracy"] <= 1.0


def test_unknown_dtype_policy_is_named(tmp_path, capsys):
    code, _, err = call_main(fit.main, ["two_spirals", "--epochs", "1", "--out", str(tmp_path),
                                        "--mixed-precision", "float17"], capsys)
    assert code == 2 and "float17" in err and "mixed_bfloat16" in err
    assert not (tmp_path / "two_spirals.keras").exists()
