"""Answers that mean what they say: calibrated probabilities, conformal prediction sets and intervals.

Fitted on a split the model never trained on (the calibration split: validation for every task but
``curve``, :func:`calibration_split` says why), and changing no weight, so any saved model can be
calibrated after the fact (``python -m zoo.calibrate``). Each output ("head") of a model gets:

- a class head (softmax, or a sigmoid read as two classes): a temperature ``T`` (Guo et al., 2017),
  the one number that minimizes the calibration split's log-loss of ``softmax(log p / T)``; then a
  split-conformal threshold on ``1 - p(class)`` of the tempered probabilities ("LAC", as MAPIE
  and crepes call it). The prediction set at coverage ``c`` holds the classes whose score is at most
  the threshold: it holds the true class for at least ``c`` of new examples drawn like the
  calibration split. A set may hold one class, several (the model is unsure), or none (an input
  unlike the calibration examples: no class is probable enough);
- a gaussian head (``mean_sigma``): the interval ``mean ± q sigma``, ``q`` the conformal quantile of
  ``|y - mean| / sigma`` (normalized conformal regression);
- a value head (``price``, ``y``): ``value ± q``, ``q`` the conformal quantile of ``|y - value|``.

The quantiles are kept for the coverage levels in :data:`LEVELS` (a card holds numbers, not the
calibration split): ``q`` at level ``c`` is the ``ceil((n + 1) c)``-th smallest of the ``n``
calibration scores, infinite where ``n`` is too small for ``c``. tests/test_calibration.py checks
these sets and intervals against crepes' on the same scores.
"""

from __future__ import annotations

import math

import numpy as np

from data_prep.errors import ZooError
from data_prep.splits import SPLIT_SEED, length, take

LEVELS = tuple(round(0.50 + 0.01 * i, 2) for i in range(50))  # 0.50, 0.51, ..., 0.99
DEFAULT_COVERAGE = 0.95
ECE_BINS = 10
GAUSSIAN, VALUE, CLASSES = "gaussian", "value", "classes"
METHOD = ("temperature scaling (Guo et al., 2017), then split conformal prediction: sets of the classes whose "
          "tempered 1 - p is at most the conformal quantile (LAC); intervals mean ± q sigma (gaussian) or "
          "value ± q (others), q the conformal quantile of the calibration split's (normalized) residuals")


def head_kind(name: str) -> str:
    return GAUSSIAN if name == "mean_sigma" else VALUE if name in ("price", "y") else CLASSES


def as_classes(values) -> np.ndarray:
    """A class head's probabilities as (n, classes) float64; a sigmoid's p(class 1) as two columns."""
    values = np.asarray(values, dtype="float64").reshape(len(values), -1)
    return np.concatenate([1 - values, values], axis=1) if values.shape[1] == 1 else values


def tempered(probabilities, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: the same ranking of classes, the confidence softened (T > 1) or sharpened."""
    logits = np.log(np.maximum(as_classes(probabilities), 1e-300)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def log_loss(probabilities, labels) -> float:
    p = as_classes(probabilities)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(p, 1e-300))))


def fit_temperature(probabilities, labels) -> float:
    """The temperature that minimizes the log-loss of the tempered probabilities (searched on log T)."""
    from scipy.optimize import minimize_scalar

    labels = class_labels(labels)
    found = minimize_scalar(lambda log_t: log_loss(tempered(probabilities, math.exp(log_t)), labels),
                            bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-5})
    return float(math.exp(found.x))


def class_labels(y) -> np.ndarray:
    return np.asarray(y).reshape(len(y), -1)[:, 0].astype("int64") if np.ndim(y) > 1 else np.asarray(y, "int64")


def nonconformity(probabilities) -> np.ndarray:
    """``1 - p`` of every class, as the sum of the other classes' probabilities: exact where p rounds to 1."""
    p = as_classes(probabilities)
    return p.sum(axis=1, keepdims=True) - p


def conformal_quantile(scores, level: float) -> float:
    """The ``ceil((n + 1) level)``-th smallest score; infinite where there are too few scores."""
    scores = np.sort(np.asarray(scores, dtype="float64"))
    rank = math.ceil((len(scores) + 1) * level - 1e-9)
    return float(scores[rank - 1]) if rank <= len(scores) else math.inf


def quantiles(scores) -> dict[str, float | None]:
    """The conformal quantile at every level in :data:`LEVELS`; ``None`` (JSON's null) where infinite."""
    found = {f"{level:.2f}": conformal_quantile(scores, level) for level in LEVELS}
    return {key: None if math.isinf(q) else q for key, q in found.items()}


def level_key(coverage: float) -> str:
    key = f"{coverage:.2f}"
    if abs(float(key) - coverage) > 1e-9 or float(key) not in LEVELS:
        raise ZooError(f"coverage {coverage} is not one of the calibrated levels 0.50, 0.51, ..., 0.99")
    return key


def residual_scores(kind: str, output, y) -> np.ndarray:
    output = np.asarray(output, dtype="float64").reshape(len(output), -1)
    y = np.asarray(y, dtype="float64").reshape(len(output))
    if kind == GAUSSIAN:
        return np.abs(y - output[:, 0]) / np.maximum(output[:, 1], 1e-12)
    return np.abs(y - output[:, 0])


def calibrate_head(name: str, output, y) -> dict:
    """One head's calibration: its kind, temperature (class heads) and conformal quantiles."""
    kind = head_kind(name)
    if kind != CLASSES:
        return {"kind": kind, "quantiles": quantiles(residual_scores(kind, output, y))}
    labels = class_labels(y)
    temperature = fit_temperature(output, labels)
    scores = nonconformity(tempered(output, temperature))[np.arange(len(labels)), labels]
    return {"kind": kind, "temperature": round(temperature, 6), "quantiles": quantiles(scores)}


def labels_of(y, head: str, heads: list[str]):
    """A head's labels from a split's ``y``: a dict by output name, or one array for a one-output model."""
    if isinstance(y, dict):
        return y[head]
    if len(heads) > 1:
        raise ValueError(f"the model has outputs {heads} but the data has one label array")
    return y


def calibrate(outputs: dict, y, split: str, why: str) -> dict:
    """A card's ``calibration`` block from the model's outputs on the calibration split."""
    heads = list(outputs)
    return {"method": METHOD, "split": split, "why": why, "size": len(next(iter(outputs.values()))),
            "heads": {head: calibrate_head(head, outputs[head], labels_of(y, head, heads)) for head in heads}}


def answer(head: dict, output, coverage: float = DEFAULT_COVERAGE) -> dict:
    """What a calibrated head says of each input: ``probabilities`` (tempered) and ``sets`` (a boolean
    (n, classes) mask), or ``intervals`` ((n, 2) lows and highs)."""
    q = head["quantiles"][level_key(coverage)]
    q = math.inf if q is None else q  # too few calibration examples for this level: every class, any value
    if head["kind"] == CLASSES:
        probabilities = tempered(output, head["temperature"])
        return {"probabilities": probabilities, "sets": nonconformity(probabilities) <= q}
    output = np.asarray(output, dtype="float64").reshape(len(output), -1)
    half = q * output[:, 1] if head["kind"] == GAUSSIAN else np.full(len(output), q)
    return {"intervals": np.stack([output[:, 0] - half, output[:, 0] + half], axis=1)}


def reliability(probabilities, labels, bins: int = ECE_BINS) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of each non-empty equal-width bin of the top class's probability."""
    p = as_classes(probabilities)
    confidence, correct = p.max(axis=1), p.argmax(axis=1) == class_labels(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return [(float(confidence[which == b].mean()), float(correct[which == b].mean()), int((which == b).sum()))
            for b in range(bins) if np.any(which == b)]


def expected_calibration_error(probabilities, labels, bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-width bins of the top class's probability (Guo et al., 2017)."""
    binned = reliability(probabilities, labels, bins)
    total = sum(count for _, _, count in binned)
    return float(sum(abs(accuracy - confidence) * count for confidence, accuracy, count in binned) / total)


def binomial_interval(k: int, n: int, level: float = 0.95) -> list[float]:
    """Clopper-Pearson interval of a proportion ``k / n``: where the true coverage lies, given n."""
    from scipy.stats import beta

    low = 0.0 if k == 0 else float(beta.ppf((1 - level) / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - (1 - level) / 2, k + 1, n - k))
    return [round(low, 4), round(high, 4)]


def head_figures(head: dict, output, y, coverage: float = DEFAULT_COVERAGE) -> dict:
    """A head's figures on labelled data (the test split): how often its sets or intervals hold the
    truth (with the count and the binomial interval), their mean size or width, and ECE before and after."""
    said = answer(head, output, coverage)
    if head["kind"] == CLASSES:
        labels = class_labels(y)
        hit = said["sets"][np.arange(len(labels)), labels]
        extra = {"mean_set_size": round(float(said["sets"].sum(axis=1).mean()), 4),
                 "empty_sets": int((said["sets"].sum(axis=1) == 0).sum()),
                 "ece_before": round(expected_calibration_error(output, labels), 4),
                 "ece_after": round(expected_calibration_error(said["probabilities"], labels), 4)}
    else:
        y = np.asarray(y, dtype="float64").reshape(len(said["intervals"]))
        low, high = said["intervals"].T
        hit = (low <= y) & (y <= high)
        extra = {"mean_width": round(float(np.mean(high - low)), 6)}
    covered, n = int(hit.sum()), len(hit)
    return {"covered": covered, "n": n, "coverage": round(covered / n, 4), "binomial_95": binomial_interval(covered, n),
            **extra}


def figures(block: dict, outputs: dict, y, coverage: float = DEFAULT_COVERAGE) -> dict:
    heads = list(block["heads"])
    return {"coverage": coverage, **{head: head_figures(block["heads"][head], outputs[head],
                                                        labels_of(y, head, heads), coverage) for head in heads}}


def coverage_curve(head: dict, output, y) -> dict[str, float]:
    """Coverage on labelled data at every calibrated level (the study's coverage-against-nominal plot)."""
    return {key: head_figures(head, output, y, float(key))["coverage"] for key in head["quantiles"]}


VALIDATION_WHY = ("the validation split: never trained on, drawn as the test split is (both held out at random "
                  "from one pool, or, for MNIST, from the publisher's training and test writers alike), and already "
                  "held out, so calibrating costs no training data; it also chose the kept epoch, one choice "
                  "among a few dozen, which leaves its scores slightly optimistic")
USPS_WHY = ("1,000 of the publisher's 2,007 test digits (stratified, seeded), the figures measured on the other "
            "1,007: USPS's test digits come from other writers than its training digits and are harder (the "
            "default is right on 99.4% of validation, 97.6% of test), so validation's conformal quantile is too "
            "tight for them (its 95% sets held 0.896 of the test digits). Calibration changes no class the model "
            "picks, so the accuracy figures stay on all 2,007 test digits; no training data is spent")
CURVE_WHY = ("1,000 fresh points drawn as the test split is, inside the curve's gaps (data seed 1): the "
             "validation split has 10 points, too few for any level above 10/11, and lies outside the gaps "
             "the test points are in, so its residuals say nothing of them; only a generated task can draw more")
USPS_TASKS = ("usps", "colored_usps")
USPS_CALIBRATION_SIZE = 1000


def calibration_parts(task: str, splits):
    """``(x_cal, y_cal, x_eval, y_eval, what, why)``: the split a task's models are calibrated on, and the
    labelled data their calibrated figures are measured on (the test split, or the part of it left)."""
    if task == "curve":
        from data_prep.generated import curve

        _, _, x, y = curve(n_test=1000, seed=1)
        return x, y, splits.x_test, splits.y_test, "1,000 fresh points in the gaps (curve(seed=1))", CURVE_WHY
    if task in USPS_TASKS:
        digits = splits.y_test["digit"] if isinstance(splits.y_test, dict) else splits.y_test
        order = np.random.default_rng(SPLIT_SEED).permutation(len(digits))
        cal = np.sort(np.concatenate([c[: round(USPS_CALIBRATION_SIZE * len(c) / len(digits))]
                                      for c in (order[digits[order] == k] for k in np.unique(digits))]))
        rest = np.setdiff1d(np.arange(len(digits)), cal)
        what = f"{len(cal)} of the test digits (the other {len(rest)} measure it)"
        return (take(splits.x_test, cal), take(splits.y_test, cal), take(splits.x_test, rest),
                take(splits.y_test, rest), what, USPS_WHY)
    return splits.x_val, splits.y_val, splits.x_test, splits.y_test, "val", VALIDATION_WHY


def calibrated_card(task: str, model, splits, batch_size: int = 256) -> dict:
    """The card's ``calibration`` block of a trained model: fitted on its calibration split, with its
    figures (on the test split, or the part the calibration left) at the default coverage."""
    from zoo.core import predict_outputs

    from data_prep.splits import length

    x, y, x_eval, y_eval, split, why = calibration_parts(task, splits)
    if not (length(x) and length(x_eval)):  # a fixture's empty split: nothing to fit or measure on
        return {"method": METHOD, "split": split, "why": why, "size": length(x), "heads": {}, "test": {}}
    block = calibrate(predict_outputs(model, x, batch_size), y, split, why)
    block["test"] = figures(block, predict_outputs(model, x_eval, batch_size), y_eval)
    return block
