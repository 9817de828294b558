"""zoo.calibration: temperature scaling, conformal sets and intervals, checked against crepes' numbers."""

from __future__ import annotations

import numpy as np
import pytest
from crepes import ConformalClassifier, ConformalRegressor

from data_prep.errors import ZooError
from zoo import calibration


def draw(rng, probabilities):
    """One class per row, drawn with the row's probabilities."""
    return (rng.random((len(probabilities), 1)) < probabilities.cumsum(axis=1)).argmax(axis=1)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("coverage", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_sets_match_crepes_on_the_same_scores(coverage):
    rng = np.random.default_rng(0)
    cal_p, test_p = softmax(rng.normal(0, 2, (500, 4))), softmax(rng.normal(0, 2, (300, 4)))
    cal_y = rng.integers(0, 4, 500)
    cal_scores = calibration.nonconformity(cal_p)[np.arange(500), cal_y]
    head = {"kind": "classes", "temperature": 1.0, "quantiles": calibration.quantiles(cal_scores)}
    ours = calibration.answer(head, test_p, coverage)["sets"]
    theirs = ConformalClassifier().fit(cal_scores).predict_set(calibration.nonconformity(test_p), confidence=coverage,
                                                                smoothing=False)
    assert np.array_equal(ours, theirs.astype(bool))


@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("coverage", [0.5, 0.9, 0.95, 0.99])
def test_intervals_match_crepes_on_the_same_residuals(coverage, normalized):
    rng = np.random.default_rng(1)
    sigma_cal, sigma_test = rng.uniform(0.5, 2, 400), rng.uniform(0.5, 2, 200)
    mean_cal, mean_test = rng.normal(size=400), rng.normal(size=200)
    y_cal = mean_cal + rng.normal(size=400) * sigma_cal
    kind, out_cal, out_test = (("gaussian", np.stack([mean_cal, sigma_cal], 1), np.stack([mean_test, sigma_test], 1))
                               if normalized else ("value", mean_cal[:, None], mean_test[:, None]))
    head = {"kind": kind, "quantiles": calibration.quantiles(calibration.residual_scores(kind, out_cal, y_cal))}
    ours = calibration.answer(head, out_test, coverage)["intervals"]
    regressor = ConformalRegressor().fit(y_cal - mean_cal, sigmas=sigma_cal if normalized else None)
    theirs = regressor.predict_int(mean_test, sigmas=sigma_test if normalized else None, confidence=coverage)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_too_few_calibration_examples_give_every_class_and_an_unbounded_interval():
    head = {"kind": "value", "quantiles": calibration.quantiles([0.1, 0.2, 0.3])}  # 3 examples: levels <= 0.75
    assert head["quantiles"]["0.75"] == 0.3 and head["quantiles"]["0.95"] is None  # JSON's null
    low, high = calibration.answer(head, np.zeros((1, 1)), 0.95)["intervals"][0]
    assert low == -np.inf and high == np.inf


def test_temperature_recovers_the_one_that_made_the_labels():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (20_000, 5))
    labels = draw(rng, softmax(logits / 2.5))  # the model is overconfident by 2.5
    overconfident = softmax(logits)
    temperature = calibration.fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(2.5, rel=0.05)
    before = calibration.expected_calibration_error(overconfident, labels)
    after = calibration.expected_calibration_error(calibration.tempered(overconfident, temperature), labels)
    assert before > 0.1 and after < 0.02


def test_a_sigmoid_is_read_as_two_classes_and_tempered_as_a_logit():
    p = np.array([[0.9], [0.2]])
    assert np.allclose(calibration.as_classes(p), [[0.1, 0.9], [0.8, 0.2]])
    logit = np.log(0.9 / 0.1)
    assert calibration.tempered(p, 2.0)[0, 1] == pytest.approx(1 / (1 + np.exp(-logit / 2)))


def test_sets_cover_new_exchangeable_examples_at_the_level_asked():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (6000, 3))
    labels = draw(rng, softmax(logits))
    probabilities = softmax(logits * 1.7)  # overconfident
    block = calibration.calibrate({"digit": probabilities[:3000]}, labels[:3000], "val", "a test")
    assert block["heads"]["digit"]["temperature"] == pytest.approx(1.7, rel=0.1)
    for coverage in (0.8, 0.9, 0.95):
        f = calibration.figures(block, {"digit": probabilities[3000:]}, labels[3000:], coverage)["digit"]
        low, high = f["binomial_95"]
        assert low - 0.01 <= coverage <= high + 0.01 and f["n"] == 3000


def test_the_confidence_that_is_no_level_is_refused_in_one_line():
    with pytest.raises(ZooError, match="0.50, 0.51, ..., 0.99"):
        calibration.level_key(0.975)
    assert calibration.level_key(0.95) == "0.95"


def test_binomial_interval_is_clopper_pearsons():
    assert calibration.binomial_interval(95, 100) == [0.8872, 0.9836]
    assert calibration.binomial_interval(0, 10)[0] == 0.0 and calibration.binomial_interval(10, 10)[1] == 1.0


def test_the_study_bins_every_example_once_and_judges_each_head_against_the_band():
    from zoo.calibration import reliability
    from zoo.studies.calibration import table

    rng = np.random.default_rng(4)
    probabilities = softmax(rng.normal(0, 2, (1000, 3)))
    bins = reliability(probabilities, draw(rng, probabilities))
    assert sum(count for _, _, count in bins) == 1000 and all(0 <= acc <= 1 for _, acc, _ in bins)
    row = {"model": "m", "head": "digit", "kind": "classes", "split": "val", "size": 500, "temperature": 1.1,
           "covered": 951, "n": 1000, "coverage": 0.951, "binomial_95": calibration.binomial_interval(951, 1000),
           "mean_set_size": 0.97, "empty_sets": 30, "ece_before": 0.03, "ece_after": 0.01}
    low = {**row, "covered": 930, "coverage": 0.93, "binomial_95": calibration.binomial_interval(930, 1000)}
    lines = table([row, low]).splitlines()
    assert "| yes |" in lines[2] and "| no |" in lines[3] and "951/1,000" in lines[2]
