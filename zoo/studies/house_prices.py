"""house_prices: the zoo's networks against gradient boosting, and the gaussian's sigma plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.plots import plot_sigma
from zoo.registry import get_task
from zoo.studies.registry import register
from zoo.studies.common import report, summarize, trained


@register("house_prices", rounds=3)
def house_prices_study(rounds: int, out: Path, data_dir=None) -> str:
    """linear / mlp / deep / gaussian networks vs scikit-learn's HistGradientBoostingRegressor."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    splits = get_task("house_prices").load(data_dir=data_dir)
    features = splits.info["features"]
    matrix = lambda x: np.concatenate([x[f] for f in features], axis=1)  # noqa: E731
    rows = []
    for seed in range(rounds):
        for variant in ("linear", "mlp", "deep", "gaussian"):
            card, _ = trained("house_prices", variant, seed, out, data_dir)
            m = card["test_metrics"]
            rows.append({"model": variant, "seed": seed, "rmse": m["rmse"], "log_rmse": m["log_rmse"],
                         "nll": m["loss"] if variant == "gaussian" else np.nan,
                         "coverage95": m.get("coverage95", np.nan)})
        hgb = HistGradientBoostingRegressor(random_state=seed).fit(matrix(splits.x_train), splits.y_train)
        pred = hgb.predict(matrix(splits.x_test))
        rows.append({"model": "HistGradientBoosting (sklearn)", "seed": seed,
                     "rmse": float(np.sqrt(np.mean((pred - splits.y_test) ** 2))),
                     "log_rmse": float(np.sqrt(np.mean((np.log(np.maximum(pred, 1)) - np.log(splits.y_test)) ** 2))),
                     "nll": np.nan, "coverage95": np.nan})
    table = summarize(rows, "model", ["rmse", "log_rmse", "nll", "coverage95"])
    mean = table.xs("mean", axis=1, level=1)
    checks = [
        ("mlp RMSE <= HistGradientBoosting RMSE", mean.loc["mlp", "rmse"] <= mean.loc["HistGradientBoosting (sklearn)", "rmse"]),
        ("gaussian RMSE within 3% of mlp", mean.loc["gaussian", "rmse"] <= 1.03 * mean.loc["mlp", "rmse"]),
        ("gaussian 95% coverage in [0.92, 0.98]", 0.92 <= mean.loc["gaussian", "coverage95"] <= 0.98),
    ]
    _, model_path = trained("house_prices", "gaussian", 0, out, data_dir)
    plot_sigma(model_path, splits, out)
    return report("house_prices", rounds, splits, table, checks,
                  "seed 000: test RMSE $30,000 ± 2,000 (mlp, with or without the Gaussian loss); "
                  "linear baseline about $80,000", ["sigma_vs_error.png", "sigma_vs_grlivarea.png"])
