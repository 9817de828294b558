"""Bad data and careless commands: one line, exit code 2, nothing written (never a traceback,
never a silently wrong model, never a lost shipped model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import write_jpeg
from tests.test_loaders import AMES_COLUMNS, _sales

SHIPPED_SPIRALS = Path(__file__).resolve().parents[1] / "saved_models" / "two_spirals.keras"


def exits_2_with_one_line(main, argv, capsys) -> str:
    """Run a CLI's ``main`` under the zoo's error contract; return its one-line message."""
    from zoo.cli import run

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run(lambda: main(argv))
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def ames(tmp_path, frame) -> Path:
    (tmp_path / "house_prices").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "house_prices" / "AmesHousing.csv", index=False)
    return tmp_path


# --- the rows ---------------------------------------------------------------
def test_text_and_infinite_cells_are_named_by_row_and_column_not_blamed_on_the_learning_rate(tmp_path, capsys):
    from zoo import fit

    frame = pd.DataFrame(_sales(), columns=AMES_COLUMNS).astype(object)
    frame.loc[5, "Gr Liv Area"] = "big"
    ames(tmp_path, frame)
    out = tmp_path / "out"
    err = exits_2_with_one_line(fit.main, ["house_prices", "--epochs", "1", "--data-dir", str(tmp_path),
                                           "--out", str(out)], capsys)
    assert "data row 6 (line 7), column 'GrLivArea': 'big' is not a finite number" in err
    assert "learning rate" not in err and not files_under(out)
    frame.loc[5, "Gr Liv Area"] = 1000
    frame.loc[9, "SalePrice"] = np.inf
    ames(tmp_path, frame)
    err = exits_2_with_one_line(fit.main, ["house_prices", "--epochs", "1", "--data-dir", str(tmp_path),
                                           "--out", str(out)], capsys)
    assert "data row 10" in err and "'SalePrice'" in err and not files_under(out)


def test_a_table_with_only_its_header_is_too_small_to_split(tmp_path, capsys):
    from zoo import fit

    ames(tmp_path, pd.DataFrame(columns=AMES_COLUMNS))
    err = exits_2_with_one_line(fit.main, ["house_prices", "--epochs", "1", "--data-dir", str(tmp_path),
                                           "--out", str(tmp_path / "out")], capsys)
    assert "0 usable example(s) are too few" in err and not files_under(tmp_path / "out")


def test_cats_only_is_refused_before_training(tmp_path, capsys):
    from zoo import fit

    for i in range(12):
        write_jpeg(tmp_path / "cats_dogs" / "train" / f"cat.{i}.jpg")
    (tmp_path / "cats_dogs" / "train" / "dog.0.jpg").write_bytes(b"")
    (tmp_path / "cats_dogs" / "train" / "dog.1.jpg").write_bytes(b"not a jpeg")
    err = exits_2_with_one_line(fit.main, ["cats_dogs", "--epochs", "1", "--data-dir", str(tmp_path),
                                           "--out", str(tmp_path / "out")], capsys)
    assert "only 12 cat readable image(s)" in err and "2 unreadable skipped" in err and "needs both" in err
    assert not files_under(tmp_path / "out")


def test_single_class_and_tiny_classes_are_refused_by_the_split():
    from data_prep.errors import ZooError
    from data_prep.splits import split_three

    x = np.arange(40)
    with pytest.raises(ZooError, match="at least two classes"):
        split_three(x, np.zeros(40), 0.1, 0.1)
    with pytest.raises(ZooError, match="class 1 has only 2 example"):
        split_three(x, np.r_[np.zeros(38, int), np.ones(2, int)], 0.1, 0.1)


def test_out_naming_an_existing_file_is_refused(tmp_path, capsys):
    from zoo import fit

    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    err = exits_2_with_one_line(fit.main, ["two_spirals", "--epochs", "1", "--out", str(target)], capsys)
    assert "is a file, not a folder" in err and target.read_text() == "keep me"


def test_a_model_made_by_another_recipe_is_not_replaced_without_overwrite(tmp_path, capsys):
    from zoo import fit

    out = tmp_path / "shipped"
    out.mkdir()
    for path in SHIPPED_SPIRALS.parent.glob("two_spirals.*"):
        shutil.copy(path, out / path.name)
    before = {p.name: p.read_bytes() for p in files_under(out)}
    recorded = json.loads((out / "two_spirals.json").read_text())
    err = exits_2_with_one_line(fit.main, ["two_spirals", "--epochs", "1", "--out", str(out)], capsys)
    assert f"epochs {recorded['recipe']['epochs']} -> 1" in err and "--overwrite" in err
    err = exits_2_with_one_line(fit.main, ["two_spirals", "--seed", "1", "--epochs", "1", "--out", str(out)], capsys)
    assert "seed 0 -> 1" in err
    assert {p.name: p.read_bytes() for p in files_under(out)} == before  # nothing lost, nothing written
    assert fit.main(["two_spirals", "--epochs", "1", "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert json.loads((out / "two_spirals.json").read_text())["recipe"]["epochs"] == 1


def test_rerunning_the_recorded_command_reproduces_a_model_in_place(tmp_path):
    from zoo import fit

    out = tmp_path / "models"
    assert fit.main(["two_spirals", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    first = json.loads((out / "two_spirals.json").read_text())["test_metrics"]
    assert fit.main(["two_spirals", "--epochs", "2", "--out", str(out), "--quiet"]) == 0  # same recipe: allowed
    assert json.loads((out / "two_spirals.json").read_text())["test_metrics"] == first


def test_a_corrupt_trial_json_is_named_when_a_search_resumes(tmp_path, capsys):
    from tuning import search

    project = tmp_path / "runs" / "two_spirals" / "trial_0001"
    project.mkdir(parents=True)
    (project / "trial.json").write_text('{"trial_id": "0001", "hyperparameters": {')  # cut by a kill
    err = exits_2_with_one_line(search.main, ["two_spirals", "--max-trials", "1", "--max-epochs", "1",
                                              "--directory", str(tmp_path / "runs"), "--out", str(tmp_path / "o")],
                                capsys)
    assert "trial_0001/trial.json is unreadable" in err and "delete its folder" in err


# --- every CLI, the wrong kinds of paths -----------------------------------------------
def _clis(tmp_path):
    from tuning import search
    from zoo import ensemble, evaluate, fit, inspect

    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    a_folder = tmp_path / "a_folder"
    a_folder.mkdir()
    missing = tmp_path / "missing.keras"
    unwritable = "/proc/zoo-cannot-write-here"  # refused even to root
    spirals = str(SHIPPED_SPIRALS)
    return [
        (fit.main, ["two_spirals", "--epochs", "1", "--out", str(a_file)], "is a file, not a folder"),
        (fit.main, ["two_spirals", "--epochs", "1", "--out", str(a_file / "sub")], "is a file"),
        (fit.main, ["two_spirals", "--epochs", "1", "--out", unwritable], "not writable"),
        (fit.main, ["usps", "--epochs", "1", "--data-dir", str(a_file), "--out", str(a_folder)], "is a file"),
        (fit.main, ["usps", "--epochs", "1", "--data-dir", str(tmp_path / "nowhere"), "--out", str(a_folder)],
         "does not exist"),
        (evaluate.main, [str(a_folder)], "is a folder"),
        (evaluate.main, [str(missing)], "does not exist"),
        (evaluate.main, [str(a_file)], "not a .keras model file"),
        (inspect.main, [str(missing), "curves"], "does not exist"),
        (inspect.main, [spirals, "curves", "--out", str(a_file)], "is a file, not a folder"),
        (inspect.main, [spirals, "curves", "--out", unwritable], "not writable"),
        (ensemble.main, ["two_spirals", "--seeds", "0", "1", "--epochs", "1", "--out", str(a_file)], "is a file"),
        (ensemble.main, ["two_spirals", "--seeds", "0", "1", "--epochs", "1", "--out", unwritable], "not writable"),
        (search.main, ["two_spirals", "--directory", str(a_file)], "is a file, not a folder"),
        (search.main, ["two_spirals", "--directory", str(tmp_path / "d"), "--out", str(a_file)], "is a file"),
        (search.main, ["two_spirals", "--directory", unwritable], "not writable"),
    ]


def test_every_cli_refuses_wrong_paths_in_one_line(tmp_path, capsys):
    for main, argv, expected in _clis(tmp_path):
        before = files_under(tmp_path)
        err = exits_2_with_one_line(main, argv, capsys)
        assert expected in err, (argv, err)
        assert files_under(tmp_path) == before, argv


def test_a_recipe_field_recorded_only_when_set_still_counts_as_a_difference(tmp_path):
    """A card without restart_epochs had none: a restart fit must not replace it unasked (nor the reverse)."""
    from data_prep.errors import ZooError
    from zoo.training import refuse_replacing_another_recipe

    paths = {"card": tmp_path / "mnist.json", "model": tmp_path / "mnist.keras"}
    paths["model"].write_bytes(b"a model")
    plain = {"optimizer": "adam", "learning_rate": 2e-3, "schedule": "cosine", "epochs": 20}
    paths["card"].write_text(json.dumps({"recipe": plain, "command": "python -m zoo.fit mnist"}))
    with pytest.raises(ZooError, match=r"restart_epochs 0 -> 2.*--overwrite"):
        refuse_replacing_another_recipe(paths, {**plain, "restart_epochs": 2}, None)
    refuse_replacing_another_recipe(paths, dict(plain), None)  # the same recipe: allowed
    paths["card"].write_text(json.dumps({"recipe": {**plain, "weight_decay": 0.05}}))
    with pytest.raises(ZooError, match=r"weight_decay 0.05 -> None"):
        refuse_replacing_another_recipe(paths, dict(plain), None)


def test_the_native_bfloat16_rule_lets_another_machine_rerun_the_recorded_command(tmp_path):
    """The recipe names a rule and the machine picks the policy: the same command on a CPU without
    bfloat16 (float32) may replace the model, while a policy asked for by name is a recipe of its own."""
    from data_prep.errors import ZooError
    from zoo.training import refuse_replacing_another_recipe

    paths = {"card": tmp_path / "mnist.json", "model": tmp_path / "mnist.keras"}
    paths["model"].write_bytes(b"a model")
    rule = {"optimizer": "adam", "epochs": 30, "mixed_precision": "native_bfloat16"}
    paths["card"].write_text(json.dumps({"recipe": {**rule, "dtype_policy": "mixed_bfloat16"}}))
    refuse_replacing_another_recipe(paths, {**rule, "dtype_policy": "float32"}, None)
    with pytest.raises(ZooError, match=r"mixed_precision 'native_bfloat16' -> None"):
        refuse_replacing_another_recipe(paths, {"optimizer": "adam", "epochs": 30, "dtype_policy": "float32"}, None)
