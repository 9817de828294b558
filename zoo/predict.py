"""Predict with a zoo model on your own inputs: ``python -m zoo.predict MODEL INPUT...``.

MODEL is a ``.keras`` file or the name of a shipped model (``cats_dogs``, ``mnist-pdcnn``:
``saved_models/NAME.keras``). Its card says which task it is (``--task`` only for a bare
file). INPUT: image files or folders of them (digits, cats and dogs; mnist_pairs takes
its images two by two), a CSV of houses (house_prices), or CSV / ``.npy`` arrays of what
the model takes. One row per input: the predicted class and its probability (``-k`` for
the top k), the price (with sigma for a gaussian model), or the value; a calibrated model (every
shipped one, :mod:`zoo.calibration`) tempers its probabilities and adds its prediction ``set`` or
``interval`` at ``--coverage`` (default 0.95), which the row names; ``--json`` writes JSON lines
instead. Where the card records the training inputs' ranges (house prices, two spirals, curve),
each row names the inputs outside them (``out_of_range``):
the answer there is an extrapolation, whatever confidence it shows. Impossible values (a
negative area, a quality outside 1..10) are refused.

The same from Python::

    import zoo
    model, card = zoo.load("cats_dogs")
    zoo.predict((model, card), ["my_cat.jpg"])   # [{'input': 'my_cat.jpg', 'dog': 'cat', ...}]
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data_prep.errors import ZooError
from zoo import calibration
from zoo.calibration import DEFAULT_COVERAGE
from zoo.cli import positive_int, run
from zoo.core import predict_outputs

SAVED_MODELS = Path(__file__).resolve().parents[1] / "saved_models"
DIGIT_FRAMES = {"mnist": (28, 20), "mnist_scratch": (28, 20), "mnist_pairs": (28, 20),  # (side, box of the ink)
                "usps": (16, 16), "colored_usps": (16, 16)}
NOT_A_DIGIT = "not a digit"


class Loaded(NamedTuple):
    model: object
    card: dict


def load(name, unsafe: bool = False) -> Loaded:
    """A shipped model by name (``"cats_dogs"``, ``"mnist-pdcnn"``) or any ``.keras`` path, with its
    card (``{}`` when the file has none beside it)."""
    from zoo.artifacts import card_path
    from zoo.evaluate import load_model, read_card

    path = Path(name)
    if path.suffix != ".keras" and not path.exists():
        path = SAVED_MODELS / f"{name}.keras"
        if not path.is_file():
            shipped = sorted(p.stem for p in SAVED_MODELS.glob("*.keras"))
            raise ZooError(f"no shipped model {name!r}; saved_models/ has {', '.join(shipped)} (or name a .keras file)")
    model = load_model(path, unsafe)
    return Loaded(model, read_card(path) if card_path(path).is_file() else {})


def predict(model, inputs, task: str | None = None, top_k: int = 1, coverage: float = DEFAULT_COVERAGE,
            infer=None) -> list[dict]:
    """One dict per input: its name and what the model says of it (see the module's doc).

    ``model``: what :func:`load` returns, a ``.keras`` path or shipped name, or a bare
    ``keras.Model`` with ``task``. ``inputs``: paths (files, folders) as on the command line
    (unreadable files inside folders are skipped: :func:`predict_counting` counts them), files'
    contents in memory (:class:`data_prep.user_inputs.Upload`), or houses as dicts of their
    features (``{"OverallQual": 7, ...}``). ``infer``:
    what runs the model on the prepared inputs (default :func:`zoo.core.predict_outputs`; the demo
    passes its batcher, which runs concurrent requests' inputs as one batch)."""
    return predict_counting(model, inputs, task, top_k, coverage, infer)[0]


def predict_counting(model, inputs, task: str | None = None, top_k: int = 1,
                     coverage: float = DEFAULT_COVERAGE, infer=None) -> tuple[list[dict], int]:
    """:func:`predict`, and how many unreadable files in the folders were skipped."""
    if isinstance(model, tuple) and len(model) == 2:  # (model, card), as load returns it
        model = Loaded(*model)
    elif isinstance(model, (str, Path)):
        model = load(model)
    else:
        model = Loaded(model, {})
    task = task_of(model.card, task)
    calibration.level_key(coverage)  # refused before any work
    names, x, skipped = model_inputs(task, inputs, model.card)
    check_shape(model.model, x, task)
    outputs = infer(x) if infer else predict_outputs(model.model, x, batch_size=64)
    rows = describe(model.card, outputs, top_k, coverage)
    ranges = model.card.get("data", {}).get("input_ranges")
    if ranges:  # the inputs outside what the model was trained on, named in each row
        rows = [{**row, "out_of_range": outside} for row, outside in zip(rows, out_of_range(x, ranges))]
    return [{"input": name, **row} for name, row in zip(names, rows)], skipped


def out_of_range(x, ranges: dict) -> list[list[str]]:
    """For each input row, the names of its values outside the training range the card records
    (``input_ranges``: ``{name: [min, max]}``; array columns are named ``x[0]``, ``x[1]``…)."""
    columns = x if isinstance(x, dict) else {f"x[{i}]": x[:, i] for i in range(x.shape[1])}
    outside = [[] for _ in range(len(next(iter(columns.values()))))]
    for name, (low, high) in ranges.items():
        if name in columns:
            for row in np.flatnonzero(~((columns[name] >= low) & (columns[name] <= high)).reshape(len(outside), -1)
                                      .all(axis=1)):
                outside[row].append(name)
    return outside


def check_shape(model, x, task: str):
    """Refuse arrays that are not what the model takes (e.g. inputs of another task), in one line."""
    if not getattr(model, "inputs", None) or isinstance(x, (dict, list)):
        return
    expected = tuple(model.inputs[0].shape[1:])
    if len(expected) != x.ndim - 1 or any(e not in (None, g) for e, g in zip(expected, x.shape[1:])):
        raise ZooError(f"the model takes inputs of shape {expected}, these are {tuple(x.shape[1:])}: "
                       f"give {task} inputs (or a model of their task)")


def task_of(card: dict, task: str | None) -> str:
    from zoo.registry import get_task

    if task and card.get("task") and task != card["task"]:
        raise ZooError(f"the model is a {card['task']} model (its card says so), not {task}; drop --task or pick "
                       "a model of that task")
    if not (task or card.get("task")):
        raise ZooError("the model has no card beside it to name its task: pass --task TASK")
    return get_task(task or card["task"]).name


def model_inputs(task: str, inputs, card: dict) -> tuple[list[str], object, int]:
    """(names, the model's input, skipped files) for the task, from paths as people have them."""
    from data_prep import user_inputs

    if task == "house_prices" and inputs and all(isinstance(i, dict) for i in inputs):  # houses as a server has them
        ids, x = user_inputs.read_house_records(inputs, house_features(card))
        return ids, x, 0
    files, skipped = user_inputs.expand(inputs)
    tables = [f for f in files if f.suffix.lower() in user_inputs.TABLE_SUFFIXES | {".npy"}]
    images = [f for f in files if f not in tables]
    if task == "house_prices":
        if images or not tables:
            raise ZooError("house_prices models take a CSV of houses (columns OverallQual, YearBuilt, TotalBsmtSF, "
                           f"GrLivArea), not {', '.join(map(str, images or files))}")
        features = house_features(card)
        parts = [user_inputs.read_houses(path, features) for path in tables]
        return ([f"{p.name}:{i}" for p, (ids, _) in zip(tables, parts) for i in ids],
                {f: np.concatenate([x[f] for _, x in parts]) for f in features}, skipped)
    if task in ("two_spirals", "curve"):
        if images:
            raise ZooError(f"{task} models take numbers (.csv or .npy), not images: {images[0]}")
        arrays = [user_inputs.read_numbers(path, 2 if task == "two_spirals" else 1) for path in tables]
        return ([f"{p.name}:{i + 1}" for p, a in zip(tables, arrays) for i in range(len(a))],
                np.concatenate(arrays), skipped)
    names, x = [], []
    for path in tables:  # arrays already in the model's input form
        array = np.load(path, allow_pickle=False) if path.suffix == ".npy" else None
        if array is None:
            raise ZooError(f"{task} models take images or .npy arrays, not a table: {path}")
        names += [f"{path.name}:{i + 1}" for i in range(len(array))]
        x += list(array.astype("float32"))
    if images:
        pictures = [user_inputs.read_image(path) for path in images]
        if task == "cats_dogs":
            x += [photo_array(p) for p in pictures]
            names += [str(p) for p in images]
        elif task == "mnist_pairs":
            if len(pictures) % 2:
                raise ZooError(f"mnist_pairs compares two digits: give images two by two ({len(pictures)} given)")
            digits = [digit_array(task, p) for p in pictures]
            x += [np.stack([_pooled(a), _pooled(b)], axis=-1) for a, b in zip(digits[::2], digits[1::2])]
            names += [f"{a} <= {b}?" for a, b in zip(images[::2], images[1::2])]
        else:
            x += [digit_array(task, p) for p in pictures]
            names += [str(p) for p in images]
    return names, np.stack(x), skipped


def house_features(card: dict) -> list[str]:
    """The features a house_prices model takes: its card's, else the seed's four."""
    from data_prep.house_prices import SEED_FEATURES

    return card.get("data", {}).get("info", {}).get("features") or SEED_FEATURES


def digit_array(task: str, picture) -> np.ndarray:
    """A picture as the task's training digits: MNIST 28x28 in 0..255, USPS 16x16x1 in [0, 1],
    colored USPS 16x16x3 in [0, 1] (its ink's colour kept)."""
    from data_prep.user_inputs import digit_image

    if task not in DIGIT_FRAMES:
        raise ZooError(f"{task} models do not take images")
    ink, colour = digit_image(picture, *DIGIT_FRAMES[task])
    if task == "colored_usps":  # the ink's hue at full brightness; grey or black ink is taken as white
        hue = colour / np.maximum(colour.max(axis=-1, keepdims=True), 1e-6)
        grey = (colour.max(axis=-1) - colour.min(axis=-1) < 0.2)[..., None]
        return ink[..., None] * np.where(grey, 1.0, hue)
    return ink[..., None] if task == "usps" else ink * 255.0


def photo_array(picture) -> np.ndarray:
    """A photo as the training pipeline feeds it (``data_prep.cats_dogs``): resized with antialiasing
    to the cached side, rounded to whole pixel values; the model's own layers do the rest."""
    import keras

    from data_prep.cats_dogs import TRAINING_SIZE

    image = np.asarray(picture, dtype="float32")
    resized = keras.ops.image.resize(image, (TRAINING_SIZE, TRAINING_SIZE), antialias=True)
    return np.clip(np.round(keras.ops.convert_to_numpy(resized)), 0, 255).astype("float32")


def _pooled(digit: np.ndarray) -> np.ndarray:
    from data_prep.mnist_pairs import downsample

    return downsample(digit[None].astype("uint8"))[0]


def class_names(output: str, width: int, card: dict) -> list[str]:
    if output == "color":
        return list(card.get("data", {}).get("info", {}).get("colors") or range(width))
    binary = {"dog": ["cat", "dog"], "comparison": ["first > second", "first <= second"], "spiral": ["0", "1"]}
    if output in binary:
        return binary[output]
    return [str(i) for i in range(10)] + ([NOT_A_DIGIT] if width == 11 else [])


def describe(card: dict, outputs: dict, top_k: int, coverage: float = DEFAULT_COVERAGE) -> list[dict]:
    """Each output of each input as readable fields: a class and its probability, or a value. A model
    whose card is calibrated (:mod:`zoo.calibration`) reports tempered probabilities, and adds the
    prediction set (``set``; ``{head}_set`` where the model has several class heads) or the interval
    (``interval``) at ``coverage``, which each row carries."""
    rows = [{} for _ in range(len(next(iter(outputs.values()))))]
    heads = card.get("calibration", {}).get("heads", {})
    class_heads = [o for o in outputs if calibration.head_kind(o) == calibration.CLASSES]
    for output, values in outputs.items():
        values = values.reshape(len(values), -1)
        said = calibration.answer(heads[output], values, coverage) if output in heads else {}
        if output == "mean_sigma":  # the gaussian regressor: price, its sigma and interval
            # Uncalibrated, the interval takes the sigma at its word (a normal distribution).
            intervals = said.get("intervals",
                                 values[:, :1] + np.outer(values[:, 1], [-1, 1]) * normal_quantile(coverage))
            for row, (mean, sigma), (low, high) in zip(rows, values, intervals):
                row.update(price=round(float(mean), 2), sigma=round(float(sigma), 2),
                           interval=[round(float(low), 2), round(float(high), 2)])
        elif output in ("price", "y"):
            for i, (row, (value,)) in enumerate(zip(rows, values)):
                row[output] = round(float(value), 2 if output == "price" else 6)
                if said:
                    row["interval"] = [round(float(v), 2 if output == "price" else 6) for v in said["intervals"][i]]
        else:
            probabilities = said.get("probabilities", calibration.as_classes(values))
            labels = class_names(output, probabilities.shape[1], card)
            field = "class" if output in ("dog", "spiral") else output  # a sigmoid output is named after class 1
            set_field = "set" if len(class_heads) == 1 else f"{field}_set"
            for i, (row, p) in enumerate(zip(rows, probabilities)):
                best = np.argsort(-p)[:top_k]
                row[field] = labels[best[0]]
                row[f"{field}_probability"] = round(float(p[best[0]]), 4)
                if top_k > 1:
                    row[f"{field}_top{top_k}"] = [[labels[k], round(float(p[k]), 4)] for k in best]
                if said:  # the set's classes, most probable first
                    row[set_field] = [labels[k] for k in np.argsort(-p) if said["sets"][i, k]]
    if heads or "mean_sigma" in outputs:
        rows = [{**row, "coverage": coverage} for row in rows]
    return rows


def normal_quantile(coverage: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + coverage / 2))


def table(results: list[dict]) -> str:
    """The results as an aligned text table; top-k lists and intervals on one cell each."""
    import pandas as pd

    def cell(value):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):  # out_of_range: names
            return ", ".join(value) or "-"
        if isinstance(value, list) and value and isinstance(value[0], list):  # top k: label probability, ...
            return ", ".join(f"{label} {p:.4f}" for label, p in value)
        if isinstance(value, list):  # an interval of dollars
            return f"[{value[0]:,.0f}, {value[1]:,.0f}]"
        return value

    return pd.DataFrame([{k: cell(v) for k, v in row.items()} for row in results]).to_string(index=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.predict", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a .keras file, or a shipped model's name (cats_dogs, mnist-pdcnn, ...)")
    p.add_argument("inputs", nargs="+", help="image files or folders, a CSV of houses, CSV or .npy arrays")
    p.add_argument("--task", help="the model's task, for a .keras file without a card")
    p.add_argument("-k", "--top-k", type=positive_int, default=1, help="show the k most probable classes")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--coverage", type=float, default=DEFAULT_COVERAGE,
                   help="coverage of the prediction sets and intervals of a calibrated model (0.50, 0.51, ..., "
                        "0.99; default 0.95)")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (Lambda layers); trusted files only")
    args = p.parse_args(argv)
    results, skipped = predict_counting(load(args.model, args.unsafe), args.inputs, args.task, args.top_k,
                                        args.coverage)
    if skipped:
        print(f"skipped {skipped} unreadable file(s) in the folders given", file=sys.stderr)
    print("\n".join(json.dumps(r) for r in results) if args.json else table(results))
    return 0


class _CallableModule(types.ModuleType):
    """``zoo.predict(model, inputs)`` as torchvision users call a model getter: the module itself
    is callable, so the name means the same whether or not ``zoo.predict`` was imported as a module."""

    def __call__(self, *args, **kwargs):
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    run(main)
