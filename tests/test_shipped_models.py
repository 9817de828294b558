"""The models in saved_models/ load in safe mode and reproduce their cards' test metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from data_prep.splits import take
from zoo.core import feed, named_outputs, predict_outputs
from zoo.evaluate import evaluate_loaded, load_with_splits

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "saved_models").glob("*.keras"))
REAL_DATA = os.environ.get("ZOO_DATA_DIR")  # read before the autouse fixture hides it
GENERATED = {"two_spirals", "curve"}  # tasks whose data is generated from a seed, no files


def test_there_are_shipped_models():
    assert {p.stem for p in SHIPPED} >= {"two_spirals", "usps", "house_prices", "curve", "mnist_scratch", "mnist",
                                         "mnist_pairs", "colored_usps", "cats_dogs"}


MNIST_TASKS = {"mnist", "mnist_scratch", "mnist_pairs"}


def test_every_shipped_mnist_model_was_measured_on_the_standard_split():
    cards = {p.name: json.loads(p.with_suffix(".json").read_text()) for p in SHIPPED}
    mnist_cards = {name: card for name, card in cards.items() if card["task"] in MNIST_TASKS}
    assert len(mnist_cards) >= 7 + 3 + 9
    for name, card in mnist_cards.items():
        assert "standard split" in card["data"]["info"]["split"], name
        if card["task"] != "mnist_pairs":  # pdcnn adds its Perlin images to training and validation
            splits = card["data"]["splits"]
            assert splits["train"] >= 50_000 and splits["val"] >= 10_000 and splits["test"] == 10_000, name


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_model_reproduces_its_card(path, monkeypatch):
    card = json.loads(path.with_suffix(".json").read_text())
    needs_files = card["task"] not in GENERATED
    if needs_files and not REAL_DATA:
        pytest.skip(f"{path.name} is measured on real data: set ZOO_DATA_DIR (CI sets it to ../shared/data)")
    if needs_files:
        monkeypatch.setenv("ZOO_DATA_DIR", REAL_DATA)
    model, card, task, spec, splits = load_with_splits(path)
    # The zoo's inference path (predict_outputs: the compiled step, chunk by chunk) answers as Keras' predict.
    x = take(splits.x_test, slice(0, 100))
    ours, data = predict_outputs(model, x, 64), feed(x, None, 64)
    theirs = named_outputs(model, model.predict(data["x"], batch_size=data["batch_size"], verbose=0))
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-5, err_msg=name)
        if ours[name].shape[-1] > 1:
            assert (ours[name].argmax(-1) == theirs[name].argmax(-1)).all(), name
    result = evaluate_loaded(model, card, task, spec, splits)
    for name, value in card["test_metrics"].items():
        assert result["metrics"][name] == pytest.approx(value, rel=1e-4), name
    recorded = card["calibration"]["test"]  # the calibrated answers' figures (zoo.calibration)
    for head, figures in recorded.items():
        if head == "coverage":
            continue
        measured = result["calibration"][head]
        assert measured["covered"] == figures["covered"] and measured["n"] == figures["n"], head
        for name in ("mean_set_size", "mean_width", "ece_before", "ece_after"):
            if name in figures:
                assert measured[name] == pytest.approx(figures[name], rel=1e-3, abs=1e-4), (head, name)


def test_every_shipped_model_is_calibrated_on_data_it_never_trained_on():
    for path in SHIPPED:
        block = json.loads(path.with_suffix(".json").read_text())["calibration"]
        assert block["split"] and block["why"] and block["size"] >= 300, path.name
        assert all(len(head["quantiles"]) == 50 for head in block["heads"].values()), path.name
