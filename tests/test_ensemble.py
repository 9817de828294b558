"""python -m zoo.ensemble: members are zoo.fit runs, the saved ensemble averages them and evaluates."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pandas as pd
import pytest

from tests.test_cli import call_main
from zoo import ensemble, members
from zoo.evaluate import evaluate
from zoo.registry import get_task


def test_ensemble_averages_its_members_reuses_them_and_evaluates(tmp_path, capsys):
    argv = ["two_spirals", "--seeds", "0", "1", "--epochs", "2", "--quiet", "--out", str(tmp_path)]
    code, out, err = call_main(ensemble.main, argv, capsys)
    assert code == 0, err
    card = json.loads((tmp_path / "two_spirals-ensemble.json").read_text())
    assert card["variant"] == "ensemble" and card["base_variant"] == "mlp" and [m["seed"] for m in card["members"]] == [0, 1]
    assert [m["recipe"]["epochs"] for m in card["members"]] == [2, 2]  # each member's own recipe

    model = keras.saving.load_model(tmp_path / "two_spirals-ensemble.keras")
    members = [keras.saving.load_model(tmp_path / "two_spirals-ensemble" / f"seed{s}" / "two_spirals.keras")
               for s in (0, 1)]
    x = np.random.default_rng(0).uniform(-5, 5, (16, 2)).astype("float32")
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)
    assert model.count_params() == sum(m.count_params() for m in members)

    result = evaluate(tmp_path / "two_spirals-ensemble.keras")
    assert result["metrics"]["accuracy"] == pytest.approx(card["test_metrics"]["accuracy"], abs=1e-6)

    # Validation figures, to compare ensembles without the test split: the averaged prediction's, by hand.
    splits = get_task("two_spirals").load_for("mlp")
    for member, member_model in zip(card["members"], members):
        right = (member_model.predict(splits.x_val, verbose=0).ravel() > 0.5) == splits.y_val.ravel()
        assert member["val_metrics"]["accuracy"] == pytest.approx(right.mean(), abs=1e-6)
    mean = np.mean([m.predict(splits.x_val, verbose=0) for m in members], axis=0).ravel()
    assert card["val_metrics"]["accuracy"] == pytest.approx(np.mean((mean > 0.5) == splits.y_val.ravel()), abs=1e-6)
    assert "validation accuracy" in out

    member_card = tmp_path / "two_spirals-ensemble" / "seed0" / "two_spirals.json"
    before = member_card.stat().st_mtime_ns
    code, out, err = call_main(ensemble.main, argv, capsys)  # members exist: reused, not retrained
    assert code == 0 and "trained before" in out and member_card.stat().st_mtime_ns == before


@pytest.mark.parametrize("argv, expected", [
    (["mnist_pairs"], "changes with the seed"),
    (["house_prices", "--model", "gaussian"], "sigma"),
    (["two_spirals", "--seeds", "3", "3"], "at least two different"),
])
def test_ensembles_that_make_no_sense_are_refused(argv, expected, tmp_path, capsys):
    code, _, err = call_main(ensemble.main, [*argv, "--out", str(tmp_path)], capsys)
    assert code == 2 and expected in err
    assert not list(tmp_path.glob("*.keras"))


def test_a_multi_output_ensemble_averages_each_output(usps_dir, tmp_path, capsys):
    out = tmp_path / "models"
    code, _, err = call_main(ensemble.main, ["colored_usps", "--seeds", "0", "1", "--epochs", "1", "--quiet",
                                             "--data-dir", str(usps_dir), "--out", str(out)], capsys)
    assert code == 0, err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(out / "colored_usps-ensemble.keras")
    assert not [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]  # the frozen optimizer matches
    members = [keras.saving.load_model(out / "colored_usps-ensemble" / f"seed{s}" / "colored_usps.keras")
               for s in (0, 1)]
    x = np.random.default_rng(0).uniform(0, 1, (4, 16, 16, 3)).astype("float32")
    got = model.predict(x, verbose=0)
    for name in ("digit", "color"):
        expected = np.mean([m.predict(x, verbose=0)[name] for m in members], axis=0)
        np.testing.assert_allclose(got[name], expected, atol=1e-6)
    card = json.loads((out / "colored_usps-ensemble.json").read_text())
    assert {"digit_accuracy", "color_accuracy"} <= set(card["test_metrics"])
    assert evaluate(out / "colored_usps-ensemble.keras", data_dir=usps_dir)["metrics"]["digit_accuracy"] == \
        pytest.approx(card["test_metrics"]["digit_accuracy"], abs=1e-6)


def test_a_recipe_of_members_fits_each_on_the_same_data_and_saves_their_average(tmp_path, capsys, monkeypatch):
    from zoo.training import fit

    keep_last = {"monitor": ""}  # two_spirals keeps its best epoch, which needs each epoch validated
    single = fit("two_spirals", epochs=2, seed=3, out_dir=tmp_path / "single", verbose=0, recipe_overrides=keep_last)
    real_member_build = members.member_build

    def interrupted_at_member_1(build, member, seed):
        if member == 1:
            raise KeyboardInterrupt  # the session is cut off once member 0 is saved
        return real_member_build(build, member, seed)

    overrides = {**keep_last, "members": 2, "validation_freq": 2}
    monkeypatch.setattr(members, "member_build", interrupted_at_member_1)
    with pytest.raises(KeyboardInterrupt):
        fit("two_spirals", epochs=2, seed=3, out_dir=tmp_path, verbose=0, recipe_overrides=overrides)
    assert not (tmp_path / "two_spirals.keras").exists()  # nothing half-made where the model goes
    monkeypatch.setattr(members, "member_build", real_member_build)
    capsys.readouterr()
    card = fit("two_spirals", epochs=2, seed=3, out_dir=tmp_path, verbose=0, recipe_overrides=overrides)
    assert "member 1 of 2: trained before" in capsys.readouterr().out  # resumed: member 0 was not refitted

    assert card["recipe"]["members"] == 2 and [m["init_seed"] for m in card["members"]] == [3, 1003]
    assert card["fit_seconds"] == pytest.approx(sum(m["fit_seconds"] for m in card["members"]), abs=0.02)
    assert not (tmp_path / ".work").exists()  # the members' checkpoints and models went with the work folder
    model = keras.saving.load_model(tmp_path / "two_spirals.keras")
    assert model.count_params() == 2 * single["params"]
    x = np.random.default_rng(0).uniform(-5, 5, (32, 2)).astype("float32")
    first, second = (model.get_layer(f"member{k}").predict(x, verbose=0) for k in (0, 1))
    np.testing.assert_allclose(model.predict(x, verbose=0), (first + second) / 2, atol=1e-6)
    # Member 0 is the variant's own fit; member 1 starts from other weights, on the same data.
    np.testing.assert_allclose(first, keras.saving.load_model(tmp_path / "single" / "two_spirals.keras").predict(x, verbose=0),
                               atol=1e-5)
    assert not np.allclose(first, second, atol=1e-3)

    history = pd.read_csv(tmp_path / "two_spirals.history.csv")  # the members' mean, validated at epoch 2 only
    assert len(history) == 2 and np.isnan(history["val_loss"][0]) and np.isfinite(history["val_loss"][1])


def test_validation_every_n_epochs_always_ends_on_a_validated_epoch_and_cannot_keep_the_best():
    from zoo.registry import Recipe
    from zoo.training import validation_epochs

    assert validation_epochs(1, 25) == 1 and validation_epochs(10, 25) == [10, 20, 25]
    with pytest.raises(ValueError, match="validation_freq 1"):
        Recipe("mse", [], monitor="val_loss", mode="min", validation_freq=5)
    with pytest.raises(ValueError, match="positive"):
        Recipe("mse", [], members=0)
