"""house_prices and curve: no leaks from validation/test, the Gaussian loss, saving, CV."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.evaluate import load_model
from zoo.losses import GaussianNLL, IntervalCoverage, LogRMSE
from zoo.registry import get_task
from zoo.training import fit


def test_gaussian_nll_matches_numpy_reference():
    rng = np.random.default_rng(0)
    y = rng.normal(200_000, 50_000, 64).astype("float32")
    mu = y + rng.normal(0, 20_000, 64).astype("float32")
    sigma = rng.uniform(5_000, 60_000, 64).astype("float32")
    reference = np.mean(np.log(sigma) + (y - mu) ** 2 / (2 * sigma**2) + 0.5 * np.log(2 * np.pi))
    got = float(GaussianNLL()(y, np.stack([mu, sigma], axis=1)))
    assert got == pytest.approx(reference, rel=1e-5)


def test_interval_coverage_and_log_rmse():
    y = np.array([100.0, 200.0, 300.0, 400.0], dtype="float32")
    pred = np.array([[100, 1], [210, 1], [300, 1], [400, 100]], dtype="float32")
    coverage = IntervalCoverage()
    coverage.update_state(y, pred)
    assert float(coverage.result()) == pytest.approx(0.75)
    log_rmse = LogRMSE()
    log_rmse.update_state(y, pred)
    assert float(log_rmse.result()) == pytest.approx(np.sqrt(np.mean(np.log(pred[:, 0] / y) ** 2)), rel=1e-5)


def test_normalization_statistics_come_from_the_training_split_only(house_dir):
    task = get_task("house_prices")
    splits = task.load(data_dir=house_dir)
    model = task.build("mlp", splits)
    norm = model.get_layer("standardize")
    train = np.concatenate([splits.x_train[f] for f in splits.info["features"]], axis=1)
    np.testing.assert_allclose(np.ravel(norm.mean), train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(norm.variance), train.var(axis=0), rtol=1e-4)
    everything = np.concatenate([train] + [np.concatenate([s[f] for f in splits.info["features"]], axis=1)
                                           for s in (splits.x_val, splits.x_test)])
    assert not np.allclose(np.ravel(norm.mean), everything.mean(axis=0), rtol=1e-6)
    rescale = model.get_layer("price")
    assert rescale.offset == pytest.approx(float(splits.y_train.mean()), rel=1e-6)


def test_saved_gaussian_model_reloads_and_predicts_mean_and_positive_sigma(house_dir, tmp_path):
    card = fit("house_prices", "gaussian", epochs=2, batch_size=64, data_dir=house_dir, out_dir=tmp_path, verbose=0)
    assert set(card["test_metrics"]) >= {"loss", "rmse", "log_rmse", "coverage95"}
    model = load_model(tmp_path / "house_prices-gaussian.keras")
    raw = {"OverallQual": np.array([[5], [9]]), "YearBuilt": np.array([[1960], [2005]]),
           "TotalBsmtSF": np.array([[800], [1600]]), "GrLivArea": np.array([[1200], [2500]])}
    prediction = model.predict(raw, verbose=0)
    assert prediction.shape == (2, 2) and (prediction[:, 1] > 0).all()
    assert isinstance(model.loss, GaussianNLL)
    # Calibrated at the end of the fit, on the validation houses: mean -+ q sigma, q the conformal quantile.
    block = card["calibration"]
    assert block["split"] == "val" and block["size"] == card["data"]["splits"]["val"]
    q = block["heads"]["mean_sigma"]["quantiles"]
    assert block["heads"]["mean_sigma"]["kind"] == "gaussian" and q["0.50"] < q["0.90"]
    assert q["0.99"] is None  # 18 validation houses are too few for 99%: the interval is unbounded there
    assert block["test"]["mean_sigma"]["n"] == card["data"]["splits"]["test"]
    from zoo.evaluate import evaluate

    again = evaluate(tmp_path / "house_prices-gaussian.keras", data_dir=house_dir)["calibration"]
    assert again["mean_sigma"] == block["test"]["mean_sigma"]


def test_curve_cross_validation_records_every_fold(tmp_path):
    card = fit("curve", "basic", epochs=2, folds=3, out_dir=tmp_path, verbose=0)
    cv = card["cross_validation"]
    assert cv["folds"] == 3 and len(cv["val_loss"]) == 3
    assert cv["val_loss_mean"] == pytest.approx(np.mean(cv["val_loss"]))


@pytest.mark.parametrize("study", ["house_prices", "curve"])
def test_study_runs_in_one_round_and_resumes(study, house_dir, tmp_path, capsys):
    from zoo import experiment

    argv = [study, "--rounds", "1", "--epochs", "2", "--out", str(tmp_path / "reports"), "--data-dir", str(house_dir)]
    assert experiment.main(argv) == 0
    results = (tmp_path / "reports" / study / "results.md").read_text()
    assert "| best |" in results or "| mlp |" in results
    assert "PASS" in results or "FAIL" in results
    for png in {"house_prices": ["sigma_vs_error.png", "sigma_vs_grlivarea.png"], "curve": ["fits.png"]}[study]:
        assert (tmp_path / "reports" / study / png).stat().st_size > 0
    capsys.readouterr()
    experiment.main(argv)
    assert "training" not in capsys.readouterr().out  # every run read back, none redone


def test_more_columns_with_categorical_ones_train_save_and_take_raw_strings(tmp_path):
    from data_prep.house_prices import MORE_CATEGORICAL, MORE_NUMERIC
    from tests.conftest import write_house_prices_all_columns

    write_house_prices_all_columns(tmp_path)
    card = fit("house_prices", "mlp_more", epochs=1, data_dir=tmp_path, out_dir=tmp_path / "out", verbose=0)
    assert set(card["data"]["info"]["features"]) == set(MORE_NUMERIC + MORE_CATEGORICAL)
    model = load_model(tmp_path / "out" / "house_prices-mlp_more.keras")
    vocabulary = model.get_layer("Neighborhood_onehot").get_vocabulary()
    assert set(vocabulary) - {"[UNK]"} <= {"NAmes", "CollgCr", "OldTown"}
    import tensorflow as tf

    raw = {name: tf.constant([[1500.0]]) for name in MORE_NUMERIC}
    raw.update({"Neighborhood": tf.constant([["NAmes"]]), "ExterQual": tf.constant([["Gd"]]),
                "KitchenQual": tf.constant([["TA"]]), "CentralAir": tf.constant([["Y"]])})
    assert model.predict(raw, verbose=0).shape == (1, 1)


@pytest.mark.parametrize("study,rows", [
    ("optimizers", ["two_spirals / sgd", "two_spirals / adam", "house_prices / rmsprop"]),
    ("losses", ["two_spirals / BCE", "two_spirals / MSE", "usps / CE", "usps / MSE", "house_prices / Gaussian NLL"]),
    ("activations_depth_width", ["relu", "sigmoid", "tanh", "relu6"]),
    ("lr_batch", ["lr0.0001-batch10", "lr0.1-batch1000"]),
])
def test_every_study_smoke_runs_in_one_round_and_one_epoch(study, rows, house_dir, tmp_path, capsys, monkeypatch):
    from tests.conftest import write_usps_h5
    from zoo import experiment
    from zoo.studies import activations_depth_width as grid

    monkeypatch.setattr(grid, "DEPTHS", (1, 3))  # 4 activations x 2 x 2 fits, not 64: the
    monkeypatch.setattr(grid, "WIDTHS", (5, 30))  # grid's code paths with a quarter of the grid

    write_usps_h5(house_dir / "usps" / "usps.h5")
    argv = [study, "--rounds", "1", "--epochs", "1", "--out", str(tmp_path), "--data-dir", str(house_dir)]
    assert experiment.main(argv) == 0
    results = (tmp_path / study / "results.md").read_text()
    for row in rows:
        assert f"| {row} |" in results, row
    assert "PASS" in results or "FAIL" in results
    assert all((tmp_path / study / png).stat().st_size > 0 for png in
               [line[line.index("(") + 1:-1] for line in results.splitlines() if line.startswith("![")])
