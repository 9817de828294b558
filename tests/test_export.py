"""zoo.export: every export is reloaded by its own runtime and verified against the .keras model
on test inputs; augmentation never reaches the exported graph; a failed export writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.test_careless_use import exits_2_with_one_line, files_under

SHIPPED = Path(__file__).resolve().parents[1] / "saved_models"
FAMILIES = {  # one model of each family, with the fixture that gives its task's test inputs
    "two_spirals": None,  # MLP (generated data)
    "usps": "usps_dir",  # CNN with augmentation layers
    "colored_usps": "usps_dir",  # two outputs
    "mnist_pairs": "mnist_dir",  # siamese, three outputs
    "house_prices-gaussian": "house_dir",  # four named inputs, a Normalization layer, [mean, sigma] out
    "mnist_scratch": "mnist_dir",  # subclassed, hand-written backprop
}


def export(name, fmt, request, out):
    from zoo.export import export as run_export

    fixture = FAMILIES[name]
    data_dir = request.getfixturevalue(fixture) if fixture else None
    return run_export(SHIPPED / f"{name}.keras", fmt, out, data_dir)


@pytest.mark.parametrize("name", FAMILIES)
def test_saved_model_exports_of_every_family_reload_and_predict_as_the_keras_model(name, request, tmp_path):
    card = export(name, "saved_model", request, tmp_path)
    assert (tmp_path / f"{name}.saved_model" / "saved_model.pb").is_file()
    written = json.loads((tmp_path / f"{name}.saved_model.export.json").read_text())
    assert written == json.loads(json.dumps(card))
    assert card["max_abs_difference"] <= card["tolerance"] and card["verified_on"].endswith(card["task"])


@pytest.mark.parametrize("name", ["two_spirals", "usps", "mnist_pairs", "mnist_scratch"])
def test_onnx_exports_reload_in_onnxruntime_and_predict_as_the_keras_model(name, request, tmp_path):
    pytest.importorskip("onnxruntime", reason='ONNX export needs pip install -e ".[export]" (make test installs it)')
    card = export(name, "onnx", request, tmp_path)
    assert (tmp_path / f"{name}.onnx").is_file() and card["runtime"] == "onnxruntime"
    assert card["max_abs_difference"] <= card["tolerance"]


def test_augmentation_does_not_reach_the_exported_graph(usps_dir, tmp_path):
    onnx = pytest.importorskip("onnx")
    import onnxruntime

    from data_prep.splits import take
    from zoo.evaluate import load_model
    from zoo.export import export as run_export
    from zoo.registry import get_task

    run_export(SHIPPED / "usps.keras", "onnx", tmp_path, usps_dir)
    graph = onnx.load(str(tmp_path / "usps.onnx")).graph
    operations = {node.op_type for node in graph.node}
    assert not {op for op in operations if "Random" in op or "ImageProjective" in op}, operations
    x = take(get_task("usps").load(usps_dir).x_test, slice(0, 16)).astype("float32")
    session = onnxruntime.InferenceSession(str(tmp_path / "usps.onnx"))
    name = session.get_inputs()[0].name
    first, second = session.run(None, {name: x})[0], session.run(None, {name: x})[0]
    np.testing.assert_array_equal(first, second)  # nothing random at inference
    keras_model = load_model(SHIPPED / "usps.keras")
    np.testing.assert_allclose(first, keras_model.predict(x, verbose=0), atol=1e-5)


def test_house_prices_exports_to_onnx_with_its_normalization_statistics_inside(house_dir, tmp_path):
    """Keras' Normalization keeps its adapted statistics as captured tensors, which tf2onnx used to
    leave as inputs of the graph; the export reads them from the variables, so they are frozen in."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from zoo.export import export as run_export

    card = run_export(SHIPPED / "house_prices-gaussian.keras", "onnx", tmp_path, house_dir)
    graph = onnx.load(str(tmp_path / "house_prices-gaussian.onnx")).graph
    assert sorted(i.name for i in graph.input) == sorted(["GrLivArea", "OverallQual", "TotalBsmtSF", "YearBuilt"])
    assert card["max_abs_difference"] <= card["tolerance"]


def test_an_export_that_cannot_be_verified_writes_nothing(house_dir, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    from zoo import export as export_cli

    # An exporter that silently changes the answers: the runtime's predictions are off by 1.
    real_run_onnx = export_cli.run_onnx
    monkeypatch.setattr(export_cli, "run_onnx", lambda *args: real_run_onnx(*args) + 1.0)
    out = tmp_path / "exports"
    err = exits_2_with_one_line(export_cli.main, [str(SHIPPED / "two_spirals.keras"), "--format", "onnx",
                                                  "--out", str(out)], capsys)
    assert "predicts differently from the .keras model" in err and "nothing was written" in err
    assert not files_under(out)


@pytest.mark.parametrize("argv,expected", [
    (["{tmp}/none.keras", "--format", "saved_model"], "does not exist"),
    (["{shipped}/usps.keras", "--format", "saved_model", "--out", "{tmp}/file.txt"], "is a file, not a folder"),
])
def test_bad_export_commands_are_one_line(argv, expected, tmp_path, capsys):
    from zoo import export as export_cli

    (tmp_path / "file.txt").write_text("x")
    err = exits_2_with_one_line(export_cli.main, [a.format(tmp=tmp_path, shipped=SHIPPED) for a in argv], capsys)
    assert expected in err


def test_a_model_trained_in_mixed_precision_exports_to_onnx(tmp_path):
    """Trained under mixed_bfloat16, a model ships in float32 (zoo.core.shipped_model): before, its
    bfloat16 graph made onnxruntime refuse the export with a traceback."""
    pytest.importorskip("onnxruntime", reason='ONNX export needs pip install -e ".[export]" (make test installs it)')
    from zoo.export import export as run_export
    from zoo.training import fit

    card = fit("two_spirals", epochs=2, out_dir=tmp_path, verbose=0, mixed_precision="mixed_bfloat16")
    assert card["recipe"]["dtype_policy"] == "mixed_bfloat16"
    exported = run_export(tmp_path / "two_spirals.keras", "onnx", tmp_path / "export", None)
    assert exported["max_abs_difference"] <= exported["tolerance"]
