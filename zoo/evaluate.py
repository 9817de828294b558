"""Evaluate a saved zoo model on its task's test split: ``python -m zoo.evaluate PATH.keras``.

The model is loaded with ``safe_mode=True``: a file that would run arbitrary code
(a ``Lambda`` layer) is refused unless ``--unsafe`` is given.
"""

from __future__ import annotations

import argparse
import json

from data_prep.errors import ZooError
from data_prep.splits import take
from zoo import calibration
from zoo.artifacts import card_path
from zoo.cli import run
from zoo.core import compile_model, evaluate_model, load_model, predict_outputs
from zoo.registry import get_task


def read_card(model_path) -> dict:
    path = card_path(model_path)
    if not path.is_file():
        raise ZooError(
            f"no model card {path} beside the model; it names the task to evaluate on "
            "(pass --task TASK to choose one)"
        )
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ZooError(f"model card {path} is not valid JSON: {err}") from None


def check_inputs(model, splits, task_name):
    """Refuse a model whose inputs do not fit the task's data (e.g. a model of another task)."""
    x = splits.x_test
    if not hasattr(model, "inputs"):  # a subclassed model declares no input shapes: try it
        try:
            model.predict(take(x, slice(0, 2)), verbose=0)
        except Exception as err:
            raise ZooError(f"the model cannot take task {task_name!r}'s inputs ({err}): "
                           "it was trained for another task") from None
        return
    data_shapes = {k: v.shape[1:] for k, v in x.items()} if isinstance(x, dict) else {None: x.shape[1:]}
    model_shapes = [tuple(t.shape[1:]) for t in model.inputs]
    given = sorted(str(tuple(s)) for s in data_shapes.values())
    if len(model_shapes) != len(data_shapes) or sorted(str(s) for s in model_shapes) != given:
        if not all(None in s for s in model_shapes):  # a model taking any size can't be judged here
            raise ZooError(
                f"the model takes inputs of shape {model_shapes} but task {task_name!r} gives {given}: "
                "it was trained for another task"
            )


def evaluate_folder(path, folder, unsafe=False) -> dict:
    """A cats_dogs model on every labelled image under ``folder`` (either layout)."""
    from data_prep.cats_dogs import image_files

    model = load_model(path, unsafe)
    card = read_card(path) if card_path(path).is_file() else {"task": "cats_dogs"}
    if card.get("task") != "cats_dogs":
        raise ZooError(f"--images evaluates cat/dog image classifiers; {path} is a {card.get('task')} model")
    x, y = image_files(folder)
    print(f"{folder}: {len(x)} images")
    if not model.compiled:
        compile_model(model, get_task("cats_dogs").variant(card.get("variant"))[1].recipe)
    from data_prep.splits import Splits

    splits = Splits("folder", x[:0], y[:0], x[:0], y[:0], x, y)
    return {"task": "cats_dogs", "metrics": evaluate_model(model, splits, batch_size=64), "card": {}}


def load_with_splits(path, data_dir=None, task=None, unsafe=False):
    """(model, card, task, variant spec, splits): a saved model and the data its card was measured on."""
    model = load_model(path, unsafe)
    card = {} if task else read_card(path)
    task = get_task(task or card["task"])
    variant = card.get("variant") if card.get("task") == task.name else None
    if variant not in task.variants:  # a searched or ensembled model: measured like the variant it derives from
        variant = card.get("base_variant")
    seed = card.get("recipe", {}).get("seed", 0)  # the round whose data it was measured on
    splits = task.load_for(variant, data_dir=data_dir, seed=seed)
    check_inputs(model, splits, task.name)
    spec = task.variant(variant)[1]
    if not model.compiled:  # saved without compile(): measure it with its variant's recipe
        compile_model(model, spec.recipe)
    return model, card, task, spec, splits


def evaluate(path, data_dir=None, task=None, unsafe=False, coverage=calibration.DEFAULT_COVERAGE) -> dict:
    """The card's test figures measured again: the compiled metrics and, for a calibrated model, its
    sets' or intervals' coverage at ``coverage`` and the ECE before and after calibration."""
    return evaluate_loaded(*load_with_splits(path, data_dir, task, unsafe), coverage)


def evaluate_loaded(model, card, task, spec, splits, coverage=calibration.DEFAULT_COVERAGE) -> dict:
    """:func:`evaluate` of what :func:`load_with_splits` returns."""
    # The card's batch size: Keras averages a multi-output model's per-output losses over
    # batches, so those figures depend (slightly) on how the test split is batched.
    batch_size = card.get("recipe", {}).get("batch_size", 256)
    metrics = evaluate_model(model, splits, batch_size, extra_metrics=spec.extra_metrics)
    result = {"task": task.name, "metrics": metrics, "card": card}
    if card.get("calibration", {}).get("heads"):
        _, _, x, y, _, _ = calibration.calibration_parts(task.name, splits)
        result["calibration"] = calibration.figures(card["calibration"], predict_outputs(model, x, batch_size), y,
                                                    coverage)
    return result


def print_calibration(figures: dict, card: dict) -> None:
    """The calibrated answers' figures, each head's coverage beside the card's (when at its level)."""
    block = card["calibration"]
    recorded = block["test"] if block["test"].get("coverage") == figures["coverage"] else {}
    print(f"  calibrated (on {block['split']}, {block['size']:,}) at coverage {figures['coverage']:.2f}:")
    for head, f in figures.items():
        if head == "coverage":
            continue
        size = (f"mean set size {f['mean_set_size']:.3f} ({f['empty_sets']} empty), ECE {f['ece_before']:.4f} -> "
                f"{f['ece_after']:.4f}" if "mean_set_size" in f else f"mean width {f['mean_width']:,.4f}")
        print(f"  {head:<20} covered {f['covered']}/{f['n']} = {f['coverage']:.4f} "
              f"(binomial 95%: {f['binomial_95'][0]:.4f}-{f['binomial_95'][1]:.4f}); {size}"
              + (f"   (card: {recorded[head]['coverage']:.4f})" if head in recorded else ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("model", help="path of a .keras file written by zoo.fit")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--task", help="evaluate on this task's test split instead of the card's")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (Lambda layers); trusted files only")
    p.add_argument("--images", help="cats_dogs: evaluate on every cat/dog image in this folder (either layout)")
    p.add_argument("--coverage", type=float, default=calibration.DEFAULT_COVERAGE,
                   help="coverage of the calibrated sets and intervals (0.50, 0.51, ..., 0.99; default 0.95)")
    args = p.parse_args(argv)
    calibration.level_key(args.coverage)  # refused before any work
    if args.images:
        result = evaluate_folder(args.model, args.images, args.unsafe)
    else:
        result = evaluate(args.model, args.data_dir, args.task, args.unsafe, args.coverage)
    card_metrics = result["card"].get("test_metrics", {})
    print(f"{args.model} on " + (args.images if args.images else f"the {result['task']} test split") + ":")
    for name, value in result["metrics"].items():
        recorded = f"   (card: {card_metrics[name]:.6f})" if name in card_metrics else ""
        print(f"  {name:<20} {value:.6f}{recorded}")
    if "calibration" in result:
        print_calibration(result["calibration"], result["card"])
    return 0


if __name__ == "__main__":
    run(main)
