"""Average a variant trained with several seeds: ``python -m zoo.ensemble TASK --seeds 0 1 2``.

A deep ensemble (Lakshminarayanan et al., 2017): members trained independently (other
initialization, shuffling and augmentation) make partly different mistakes, so the mean
of their class probabilities is more accurate than a typical member. Each member is an
ordinary ``zoo.fit`` run (card, resume) in ``OUT/TASK-ensemble/seedN/``, reused when its
model and card exist, whatever recipe made it (git keeps the members' cards, not their weights,
which the ensemble holds); the ensemble is one functional model over the same raw inputs whose
output is the ``Average`` of the members' outputs, saved as ``OUT/TASK-ensemble.keras`` + card.
The card gives each member's recipe, and the ensemble's and each member's validation metrics
beside the test ones, so that ensembles (of more seeds, say) are compared on validation, never on
the test split.

Single-input variants whose outputs can be averaged (class probabilities, point
predictions; each output of a multi-output model) qualify: not the gaussian regressor
(its sigma would be averaged, not mixed), not tasks whose data changes with the seed
(mnist_pairs rounds).

A recipe can also be an ensemble itself (``Recipe(members=N)``, mnist_pairs' default): ``zoo.fit``
then trains N members on the same data, each with its own seeded initial weights and draws
(:func:`zoo.training.fit_members`), and saves their average (:func:`zoo.members.average`) as the
variant's one model.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import keras

from data_prep.errors import ZooError
from zoo import artifacts
from zoo.calibration import calibrated_card
from zoo.cli import non_negative_int, positive_int, run
from zoo.core import compile_model, evaluate_model, run_record
from zoo.losses import GaussianNLL
from zoo.members import average
from zoo.registry import get_task
from zoo.training import fit_unless_done


def ensemble(task_name: str, variant: str | None = None, seeds=(0, 1, 2), data_dir=None, out_dir="saved_models",
             epochs: int | None = None, verbose="auto", command: str | None = None) -> dict:
    task = get_task(task_name)
    variant_name, spec = task.variant(variant)
    if task.data_per_seed:
        raise ZooError(f"{task.name}'s data changes with the seed (one round each): its seeds cannot be ensembled")
    if isinstance(spec.recipe.loss, GaussianNLL):
        raise ZooError(f"{task.name}/{variant_name} predicts [mean, sigma]: averaging sigmas is not a mixture; "
                       "ensemble a point-prediction variant instead")
    if len(set(seeds)) < 2:
        raise ZooError("an ensemble needs at least two different --seeds")

    out = Path(out_dir)
    members, member_cards = [], []
    for seed in seeds:
        card, model_path = fit_unless_done(f"member seed {seed}", task.name, variant_name,
                                           out / f"{task.name}-ensemble" / f"seed{seed}", seed=seed, epochs=epochs,
                                           data_dir=data_dir, verbose=verbose, command=command)
        model = keras.saving.load_model(model_path)
        if len(model.inputs) != 1:
            raise ZooError(f"{task.name}/{variant_name} takes {len(model.inputs)} inputs: only single-input "
                           "models can be ensembled")
        model.name = f"member_seed{seed}"  # the members share their variant's name; layer names must differ
        members.append(model)
        # A member trained before is reused as it is, so each member's card keeps its own recipe.
        member_cards.append({"seed": seed, "recipe": card["recipe"], "test_metrics": card["test_metrics"],
                             "model": str(model_path)})

    splits = task.load_for(variant_name, data_dir=data_dir)
    batch_size = spec.recipe.batch_size
    for member, member_card in zip(members, member_cards):
        member_card["val_metrics"] = evaluate_model(member, splits, batch_size, split="val")

    model = compile_model(average(members, f"{task.name}_ensemble"), spec.recipe)

    card = {
        "task": task.name, "variant": "ensemble", "base_variant": variant_name,
        "description": f"mean output of {len(members)} {variant_name} models (seeds {', '.join(map(str, seeds))})",
        "reference": spec.reference or task.reference,
        "recipe": {**spec.recipe.describe(), "epochs": epochs or spec.recipe.epochs, "batch_size": batch_size,
                   "seed": seeds[0], "seeds": list(seeds)},
        "members": member_cards,
        **run_record(model, splits, command),
        # Validation first: ensembles (of other seeds, other sizes) are compared on it, not on the test split.
        "val_metrics": evaluate_model(model, splits, batch_size, split="val"),
        "test_metrics": evaluate_model(model, splits, batch_size, spec.extra_metrics),
        "calibration": calibrated_card(task.name, model, splits, batch_size),
        "status": "ok",
    }
    paths = artifacts.output_paths(out, task.name, "ensemble", "")
    artifacts.save_model(model, paths["model"])
    artifacts.write_json(paths["card"], card)
    return {**card, "paths": {"model": str(paths["model"]), "card": str(paths["card"])}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.ensemble", description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--model", "--variant", dest="variant", help="variant to ensemble (default: the task's default)")
    p.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2],
                   help="one member per seed (default 0 1 2)")
    p.add_argument("--epochs", type=positive_int, help="epochs of each member (default: the variant's recipe)")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--out", default="saved_models", help="output folder (default saved_models/)")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of the progress bar")
    args = p.parse_args(argv)
    artifacts.check_writable_folder(args.out)
    command = "python -m zoo.ensemble " + shlex.join(sys.argv[1:] if argv is None else argv)
    card = ensemble(args.task, args.variant, tuple(args.seeds), args.data_dir, args.out, args.epochs,
                    2 if args.quiet else "auto", command)

    def line(metrics: dict) -> str:
        return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())

    for member in card["members"]:
        print(f"  member seed {member['seed']}: validation {line(member['val_metrics'])}; test {line(member['test_metrics'])}")
    print(f"ensemble: validation {line(card['val_metrics'])}; test {line(card['test_metrics'])}")
    print(f"saved {card['paths']['model']} (card {card['paths']['card']})")
    return 0


if __name__ == "__main__":
    run(main)
