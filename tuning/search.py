"""KerasTuner searches with k-fold cross-validation inside each trial:
``python -m tuning.search TASK --tuner {hyperband,random,bayesian,grid} …``.

- Objective: the mean over K folds (scikit-learn ``KFold`` on train + validation; K=1: the
  task's own validation split) of each fold's best validation loss (or ``--objective``, e.g.
  ``val_accuracy``, maximized), made worse by ``--time-penalty`` x the trial's training
  minutes (seed 001 §3.1).
- Pruning: hyper-parameters whose feature maps vanish are detected while building, before
  any training, and the trial is recorded as ``invalid`` (KerasTuner's FailedTrialError),
  never a crash; a trial whose completed folds average ``--prune-factor`` times worse than the
  best objective so far stops there and is recorded as ``pruned`` (seed 001 §2.2).
- The first trial of a fresh search (Hyperband: of each bracket) takes the space's defaults
  (for usps: the hand-made ``default`` recipe), so the search starts from what it has to beat.
- Grid (``--tuner grid``): KerasTuner's ``GridSearch``, every combination once, in order;
  ``--choices NAME=V1,V2`` narrows any hyper-parameter to those values (any tuner).
- Variant (``--variant``): a space over the recipe alone (mnist_pairs: seed 003's batch size x
  epochs) trains that variant's architecture; for a task that draws data per seed, ``--seed``
  is also the round of fresh data.
- Resume: rerunning the same command continues in ``--directory`` (``overwrite=False``):
  finished trials are not redone.
- Output in ``--directory``/PROJECT (the task; ``-VARIANT`` when not the base, ``-roundN`` for
  a task that draws data per seed): ``trials.csv`` (a row a trial: hyper-parameters, per-fold
  values, each fold's final model on its training and validation folds, objective, status,
  seconds), ``objective.png``, and (unless ``--no-retrain``) the best hyper-parameters
  retrained on the training split, saved as ``TASK-searched.keras`` + card (``--out``);
  ``--retrain-seeds 0 1 2`` retrains with each seed and gives the test metrics' mean and
  spread in the card (the model of the first seed is saved), for a fair comparison.
- Distributed (KerasTuner's own engine): ``--chief`` runs the oracle on
  ``--oracle-address``, ``--worker N`` runs trials for it; they share ``--directory``.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from zoo import artifacts
from zoo.cli import non_negative_int, positive_int, run


def project_of(args) -> str:
    """The search's folder under ``--directory``: the task, ``-VARIANT`` when the architecture is
    the variant's (a space over the recipe alone) or the search starts from another variant than
    the base, ``-roundN`` when the task draws its data per seed."""
    from tuning.spaces import OBJECTIVES, RECIPE_ONLY
    from zoo.registry import get_task

    plain = args.variant == OBJECTIVES[args.task][2] and args.task not in RECIPE_ONLY
    name = args.task if plain else f"{args.task}-{args.variant}"
    return f"{name}-round{args.seed}" if get_task(args.task).data_per_seed else name


def parse_choices(items) -> dict:
    """``["batch_size=50,100", "activation=relu"]`` -> {"batch_size": [50, 100], "activation": ["relu"]}."""
    def value(text):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    choices = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ZooError(f"--choices {item}: write NAME=V1,V2 (e.g. batch_size=50,100)")
        choices[name] = [value(v) for v in values.split(",")]
    return choices


def objective_of(task_name, args) -> tuple[str, str]:
    """(history metric, "min" or "max"): the task's default, or ``--objective`` (a loss or
    error is minimized, anything else maximized)."""
    from tuning.spaces import OBJECTIVES
    from zoo.registry import get_task

    if not args.objective:
        return OBJECTIVES[task_name][:2]
    metrics = get_task(task_name).variants[args.variant].recipe.metrics
    names = ["loss"] + [m for m in (metrics if isinstance(metrics, (list, tuple)) else []) if isinstance(m, str)]
    known = [f"val_{m}" for m in names] + names
    if args.objective not in known:
        raise ZooError(f"--objective {args.objective}: {task_name} trainings record {', '.join(known)}; "
                       f"pick one of them")
    return args.objective, "min" if ("loss" in args.objective or "error" in args.objective) else "max"


def far_worse(value, best, direction, factor) -> bool:
    """``value`` is ``factor`` times worse than ``best`` (larger for "min", smaller for "max")."""
    return value > factor * best if direction == "min" else value * factor < best


def check_search_state(project: Path) -> None:
    """Resuming reads every JSON file KerasTuner and this module left in ``project``; one that
    a kill or a hand edit corrupted is named, with what to do, before KerasTuner trips on it."""
    for path in sorted(project.glob("**/*.json")) if project.is_dir() else []:
        try:
            json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            hint = (f"delete its folder {path.parent} to run that trial again" if path.parent.name.startswith("trial")
                    else f"start afresh with another --directory (or delete {project})")
            raise ZooError(f"the search state {path} is unreadable ({type(err).__name__}: {err}); {hint}") from None


def make_tuner(kind, task_name, splits, args):
    import keras
    import keras_tuner as kt
    from sklearn.model_selection import KFold

    from data_prep.splits import concat, take
    from tuning.spaces import InvalidArchitecture, build
    from zoo.core import compile_model, feed, steps, validation_data

    base = {"hyperband": kt.Hyperband, "random": kt.RandomSearch, "bayesian": kt.BayesianOptimization,
            "grid": kt.Tuner}[kind]
    metric, direction = objective_of(task_name, args)
    sign = 1 if direction == "min" else -1
    project = project_of(args)
    results = Path(args.directory) / project / "trial_results"

    class CrossValidated(base):
        """``base`` whose trial trains K folds and returns their mean best validation loss."""

        def run_trial(self, trial, *unused, **unused_kw):
            hp = trial.hyperparameters
            epochs = trial_epochs(hp.values, args.max_epochs)
            start, losses, val_losses, finals, status = time.perf_counter(), [], [], {}, "ok"
            if args.folds > 1:
                x, y = ((splits.x_train, splits.y_train) if args.folds_within_train  # validation stays out
                        else (concat(splits.x_train, splits.x_val), concat(splits.y_train, splits.y_val)))
                folds = [(take(x, a), take(y, a), take(x, b), take(y, b)) for a, b in
                         KFold(args.folds, shuffle=True, random_state=args.seed).split(np.arange(len(y)))]
            else:
                folds = [(splits.x_train, splits.y_train, splits.x_val, splits.y_val)]
            try:
                for k, (x_train, y_train, x_val, y_val) in enumerate(folds):
                    fold = _with(splits, x_train, y_train, x_val, y_val)
                    keras.utils.set_random_seed(args.seed + k)
                    model, recipe = build(task_name, hp, fold, args.variant)
                    train_data = feed(x_train, y_train, recipe.batch_size, shuffle=True, seed=args.seed + k)
                    compile_model(model, recipe, steps(x_train, recipe.batch_size), epochs, example=train_data)
                    history = model.fit(**train_data,
                                        validation_data=validation_data(x_val, y_val), epochs=epochs,
                                        callbacks=recipe.callbacks(), verbose=0)
                    values = np.asarray(history.history[metric], dtype=float)
                    losses.append(float(np.nanmin(values) if direction == "min" else np.nanmax(values)))
                    val_losses.append(float(np.nanmin(history.history["val_loss"])))
                    # The final model on both folds (seed 003's Table 1 reports train and validation error)
                    on_train = model.evaluate(**feed(x_train, y_train), verbose=0, return_dict=True)
                    finals.update({f"fold_{k + 1}_train_{name}": float(v) for name, v in on_train.items()})
                    finals.update({f"fold_{k + 1}_{name}": float(v[-1]) for name, v in history.history.items()
                                   if name.startswith("val_")})
                    best = self.oracle.get_best_trials(1)
                    best_score = best[0].score if best and best[0].score is not None else None
                    if (best_score is not None and k + 1 < len(folds)
                            and far_worse(np.mean(losses), best_score, direction, args.prune_factor)):
                        status = f"pruned after fold {k + 1}"
                        break
            except InvalidArchitecture as err:
                self._record(trial, hp, [], None, None, f"invalid: {err}", time.perf_counter() - start, {})
                raise kt.errors.FailedTrialError(f"invalid architecture: {err}") from None
            seconds = round(time.perf_counter() - start, 3)
            objective = float(np.mean(losses)) + sign * args.time_penalty * seconds / 60
            self._record(trial, hp, losses, objective, float(np.mean(val_losses)), status, seconds, finals)
            return {"objective": objective}

        def _record(self, trial, hp, losses, objective, val_loss, status, seconds, finals):
            """One file a trial (workers of a distributed search write side by side)."""
            row = {"trial": trial.trial_id, "status": status, "objective": objective, "seconds": round(seconds, 3),
                   "tie_break_val_loss": val_loss,
                   **{f"fold_{i + 1}": v for i, v in enumerate(losses)}, **finals, **dict(hp.values)}
            artifacts.write_json(results / f"trial_{trial.trial_id}.json", row)

    # Declare the space up front (one build with the defaults): Hyperband draws values only
    # from declared hyper-parameters; those of deeper layers join as trials use them.
    choices = parse_choices(args.choices)
    if choices:
        names = [hp.name for hp in declared_space(task_name, splits, args.variant).space]
        unknown = sorted(set(choices) - set(names))
        if unknown:
            raise ZooError(f"--choices {', '.join(unknown)}: not a hyper-parameter of {task_name}'s space; it has "
                           f"{', '.join(names)}")
    space = declared_space(task_name, splits, args.variant, choices)
    options = dict(objective=kt.Objective("objective", direction), hyperparameters=space,
                   # KerasTuner swaps a falsy seed (0) for a random one: shift so every --seed reproduces
                   seed=args.seed + 1, max_retries_per_trial=0, max_consecutive_failed_trials=50)
    if kind == "grid":  # every combination: --max-trials does not apply
        from tuning.grid import ResumableGridOracle

        options = {"oracle": ResumableGridOracle(**options, max_trials=None)}
    elif kind == "hyperband":
        options.update(max_epochs=args.max_epochs, factor=args.factor, hyperband_iterations=1)
    else:
        options.update(max_trials=args.max_trials)
    tuner = CrossValidated(hypermodel=None, directory=args.directory, project_name=project, overwrite=False, **options)
    if kind != "grid":  # a grid starts from the defaults anyway, and walks them in order
        start_from_defaults(tuner.oracle)
    return tuner


def declared_space(task_name, splits, variant, choices=None):
    """The hyper-parameters the task's space declares when built with its defaults; ``choices``
    (name -> values) are declared first, so the space's own declarations of those names reuse them."""
    import keras_tuner as kt

    from tuning.spaces import InvalidArchitecture, build

    space = kt.HyperParameters()
    for name, values in (choices or {}).items():
        space.Choice(name, values)
    try:
        build(task_name, space, splits, variant)
    except InvalidArchitecture:
        pass
    return space


def trial_epochs(values: dict, default: int) -> int:
    """Hyperband's budget, else a searched number of epochs (mnist_pairs), else ``default``."""
    return values.get("tuner/epochs", values.get("epochs", default))


def start_from_defaults(oracle):
    """The first trial of a fresh search, and with Hyperband the first of each bracket, takes
    every hyper-parameter's default (for usps: the hand-made recipe), so the search is judged
    against what it has to beat at every budget, as Optuna's ``enqueue_trial`` allows; the
    other trials draw as the tuner does. KerasTuner has no public hook for this: its oracles
    draw new values in ``_random_values`` (Hyperband: called from ``_random_trial``). In a
    distributed search only the chief holds the oracle; workers ask it over gRPC."""
    import keras_tuner as kt

    if not isinstance(oracle, kt.Oracle):
        return  # a distributed worker's client: the chief's oracle draws every trial
    draw = oracle._random_values
    pending = {"defaults": not oracle.trials}  # a resumed search has trials already

    def defaults_when_pending():
        if not pending["defaults"]:
            return draw()
        pending["defaults"] = False
        values = kt.HyperParameters()
        for hp in oracle.hyperparameters.space:
            values.merge([hp])
            if values.is_active(hp):
                values.values[hp.name] = hp.default
        return values.values

    oracle._random_values = defaults_when_pending
    if hasattr(oracle, "_random_trial"):
        random_trial = oracle._random_trial

        def bracket_starts_from_defaults(trial_id, bracket):
            if not bracket["rounds"][0]:  # the bracket's first trial
                pending["defaults"] = True
            return random_trial(trial_id, bracket)

        oracle._random_trial = bracket_starts_from_defaults


def _with(splits, x_train, y_train, x_val, y_val):
    import dataclasses

    return dataclasses.replace(splits, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


def collect_table(directory: Path) -> Path:
    """``trials.csv`` from the per-trial result files, one row a trial, in trial order."""
    rows = [json.loads(p.read_text()) for p in sorted((directory / "trial_results").glob("trial_*.json"))]
    if not rows:
        raise ZooError(f"the search ran no trial; see {directory}")
    table = directory / "trials.csv"
    with artifacts.atomic_path(table) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return table


def plot_objective(table: Path, target: Path, title: str, metric="val_loss", direction="min"):
    from zoo.plots import pyplot

    frame = pd.read_csv(table)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    done = frame[frame["objective"].notna()]
    best = done["objective"].cummin() if direction == "min" else done["objective"].cummax()
    ax.scatter(pd.to_numeric(done["trial"]), done["objective"], s=14, label="trial")
    ax.plot(pd.to_numeric(done["trial"]), best, "k-", lw=1, label="best so far")
    ax.set(xlabel="trial", ylabel=f"objective (mean fold {metric})", title=title,
           yscale="log" if direction == "min" else "linear")
    ax.legend()
    artifacts.save_figure(fig, target)
    plt.close("all")


def pick_best(ranked, results: Path):
    """The best of KerasTuner's ``ranked`` trials. Among trials with the same best objective
    (a saturated validation accuracy ties several: 4 errors in 1291 for four usps recipes), the
    one with the lowest validation loss (mean over folds of each fit's best) rather than
    whichever KerasTuner lists first."""
    scored = [t for t in ranked if t.score is not None]
    if not scored:
        raise ZooError("no trial completed (all invalid or failed): nothing to retrain; see trials.csv")

    def val_loss(trial):
        path = results / f"trial_{trial.trial_id}.json"
        value = json.loads(path.read_text()).get("tie_break_val_loss") if path.exists() else None
        return float("inf") if value is None else value

    return min((t for t in scored if t.score == scored[0].score), key=val_loss)


def retrain_best(tuner, task_name, splits, args, command: str) -> dict:
    """The best hyper-parameters trained as ``zoo.fit`` trains its base variant (same callbacks,
    best epoch kept by the same validation metric, resumable), once per ``--retrain-seeds``,
    and evaluated on the test split; the first seed's model is saved with its card."""
    import tempfile

    from tuning.spaces import build
    from zoo.registry import Variant, get_task
    from zoo.training import fit

    ranked = tuner.oracle.get_best_trials(len(tuner.oracle.trials))
    best = pick_best(ranked, Path(args.directory) / project_of(args) / "trial_results").hyperparameters
    base_variant = args.variant
    searched = Variant(lambda data: build(task_name, best, data, base_variant)[0],
                       build(task_name, best, splits, base_variant)[1],
                       description=f"{args.tuner} search over {task_name}'s space: {json.dumps(dict(best.values))}",
                       load=get_task(task_name).variants[base_variant].load)
    epochs = args.retrain_epochs or trial_epochs(best.values, args.max_epochs)
    retrain = functools.partial(fit, task_name, "searched", epochs=epochs, data_dir=args.data_dir, verbose=0,
                                command=command, spec=searched)
    seeds = args.retrain_seeds or [args.seed]
    rounds = []
    for seed in seeds:
        if seed == seeds[0]:
            result = card = retrain(seed=seed, out_dir=args.out)  # the model that is saved
        else:  # the other seeds give their figures only
            with tempfile.TemporaryDirectory(dir=args.out, prefix=".other-seed-") as scratch:
                result = retrain(seed=seed, out_dir=scratch)
        rounds.append({"seed": seed, "fit_seconds": result["fit_seconds"], "test_metrics": result["test_metrics"]})
        print(f"retrained with seed {seed}: test {result['test_metrics']}")
    paths = card.pop("paths")
    card.update(base_variant=base_variant, search=vars(args), hyperparameters=dict(best.values))
    if len(rounds) > 1:
        card["retrain_rounds"] = rounds
        card["test_metrics_over_seeds"] = {
            name: {"mean": float(np.mean(values)), "std": float(np.std(values))}
            for name, values in pd.DataFrame([r["test_metrics"] for r in rounds]).items()}
    artifacts.write_json(Path(paths["card"]), card)
    return card


def main(argv=None) -> int:
    from tuning.spaces import OBJECTIVES, SPACES, searchable_variants

    p = argparse.ArgumentParser(prog="python -m tuning.search", description=__doc__.splitlines()[0])
    p.add_argument("task", choices=sorted(SPACES))
    p.add_argument("--tuner", choices=["hyperband", "random", "bayesian", "grid"], default="hyperband",
                   help="grid: every combination of the space's choices, once (default hyperband)")
    p.add_argument("--variant", help="the variant whose recipe (and, for mnist_pairs, architecture) the "
                                     "search starts from (default: the task's base in tuning.spaces.OBJECTIVES)")
    p.add_argument("--choices", nargs="+", metavar="NAME=V1,V2",
                   help="narrow hyper-parameters to these values, e.g. batch_size=50,100 epochs=1,2")
    p.add_argument("--no-retrain", action="store_true", help="search and report only: no retrain of the best")
    p.add_argument("--max-trials", type=positive_int, default=10, help="random/bayesian: trials (default 10)")
    p.add_argument("--max-epochs", type=positive_int, default=20, help="epochs of a trial (hyperband: the most)")
    p.add_argument("--retrain-epochs", type=positive_int,
                   help="epochs of the final fit of the best hyper-parameters (default: its trial's epochs)")
    p.add_argument("--retrain-seeds", type=non_negative_int, nargs="+",
                   help="retrain the best once per seed; the card gives the test metrics' mean and std "
                        "(default: --seed only)")
    p.add_argument("--objective", help="history metric to optimize, e.g. val_accuracy (default: the task's, "
                                       "val_loss); losses and errors are minimized, the rest maximized")
    p.add_argument("--factor", type=int, default=3, help="hyperband: keep 1/factor of the trials a round (default 3)")
    p.add_argument("--folds", type=positive_int, default=1,
                   help="K-fold CV inside a trial, on train + validation (default 1: no CV)")
    p.add_argument("--folds-within-train", action="store_true",
                   help="the K folds split the training split alone (seed 003 cross-validated its 1000 "
                        "training pairs)")
    p.add_argument("--time-penalty", type=float, default=0.0, help="added to the objective per training minute")
    p.add_argument("--prune-factor", type=float, default=3.0,
                   help="stop a trial whose completed folds average this many times worse than the best objective")
    p.add_argument("--directory", default="tuning_runs", help="search state and results (default tuning_runs/)")
    p.add_argument("--out", default="saved_models", help="where the retrained best model goes")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the tuner's draws, the data splits and the fits (default 0)")
    p.add_argument("--data-dir")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true", help="distributed: run the oracle (no trials)")
    role.add_argument("--worker", type=int, help="distributed: run trials as worker N")
    p.add_argument("--oracle-address", default="127.0.0.1:8000", help="distributed: IP:PORT of the chief")
    args = p.parse_args(argv)
    if args.factor < 2:
        p.error(f"--factor {args.factor}: hyperband keeps 1/factor of the trials a round; use 2 or more")
    args.variant = args.variant or OBJECTIVES[args.task][2]
    if args.variant not in searchable_variants(args.task):
        p.error(f"--variant {args.variant}: {args.task}'s space searches from "
                f"{', '.join(searchable_variants(args.task))}")
    if args.chief or args.worker is not None:
        ip, port = args.oracle_address.rsplit(":", 1)
        os.environ.update(KERASTUNER_TUNER_ID="chief" if args.chief else f"tuner{args.worker}",
                          KERASTUNER_ORACLE_IP=ip, KERASTUNER_ORACLE_PORT=port)
    artifacts.check_writable_folder(args.directory, "--directory")
    artifacts.check_writable_folder(args.out, "--out")
    command = "python -m tuning.search " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.worker is not None:  # workers share the chief's directory, and take its state from its oracle
        return search(args, command)
    check_search_state(Path(args.directory) / project_of(args))
    lock = artifacts.FolderLock(Path(args.directory) / f".{project_of(args)}.lock", f"a {args.task} search",
                                args.directory, command)  # the chief or a lone search owns the directory
    try:
        return search(args, command)
    finally:
        lock.release()


def search(args, command: str) -> int:
    """The search itself (and the chief's or lone search's report and retrain)."""
    from zoo.registry import get_task

    splits = get_task(args.task).load_for(args.variant, data_dir=args.data_dir, seed=args.seed)
    print(splits.describe())
    metric, direction = objective_of(args.task, args)
    tuner = make_tuner(args.tuner, args.task, splits, args)
    tuner.search(verbose=0)
    if args.worker is not None:
        return 0
    table = collect_table(Path(args.directory) / project_of(args))
    plot_objective(table, table.with_name("objective.png"), f"{args.task}: {args.tuner} search", metric, direction)
    frame = pd.read_csv(table)
    print(frame.drop(columns=[c for c in frame.columns if c.startswith("tuner/")]).to_string(index=False))
    if not args.chief and not args.no_retrain:
        card = retrain_best(tuner, args.task, splits, args, command)
        print(f"best hyper-parameters: {json.dumps(card['hyperparameters'])}")
        print(f"retrained: test {card['test_metrics']} -> {Path(args.out) / (args.task + '-searched.keras')}")
    return 0


if __name__ == "__main__":
    run(main)
