"""Train a zoo model: ``python -m zoo.fit TASK [--model VARIANT] [--epochs N] …``.

Writes ``OUT/TASK[-VARIANT].keras`` with its card (``.json``), history (``.history.csv``)
and learning curves (``.curves.png``). ``python -m zoo.fit --list`` shows every task.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from zoo.cli import non_negative_int, positive_int, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zoo.fit", description=__doc__.splitlines()[0])
    p.add_argument("task", nargs="?", help="task name (see --list)")
    p.add_argument("--list", action="store_true", help="list tasks, variants and the seeds' figures")
    p.add_argument("--model", "--variant", dest="variant", help="variant of the task (default: the task's default)")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: the variant's recipe)")
    p.add_argument("--batch-size", type=positive_int,
                   help="batch size (default: the variant's recipe); with --distribute, the global batch")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of weights, shuffling and augmentation (default 0)")
    p.add_argument("--folds", type=int, help="k-fold cross-validation before the final fit (0: none; "
                   "default: the recipe's)")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--out", default="saved_models", help="output folder (default saved_models/)")
    p.add_argument("--mixed-precision", nargs="?", const="mixed_float16", metavar="POLICY",
                   help="train under a dtype policy (default: the recipe's; when given alone: mixed_float16, "
                        "for GPUs; mixed_bfloat16 for CPUs/TPUs; float32 to opt out); shipped in float32")
    p.add_argument("--jit-compile", choices=["auto", "on", "off"], default="auto",
                   help="XLA compilation of the train step (auto: Keras decides: on for JAX and TF on GPU)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model in --out made by another recipe (without it such a fit is refused; "
                        "rerunning a model's recorded command is always allowed)")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over every device of this machine: tf.distribute.MirroredStrategy "
                        "(TensorFlow) or keras.distribution.DataParallel (JAX); see README, Scaling out")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR (view: tensorboard --logdir DIR)")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of the progress bar")
    return p


def describe_tasks() -> str:
    from zoo.registry import get_task, list_tasks

    lines = []
    for name in list_tasks():
        task = get_task(name)
        lines.append(f"{name}: {task.description}\n  seed figure: {task.reference}")
        for vname, variant in task.variants.items():
            mark = " (default)" if vname == task.default else ""
            ref = f"  [seed: {variant.reference}]" if variant.reference else ""
            lines.append(f"    {vname}{mark}: {variant.description}{ref}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        print(describe_tasks())
        return 0
    if args.folds is not None and (args.folds == 1 or args.folds < 0):
        parser().error("--folds must be 0 (no cross-validation) or at least 2")
    if not args.task:
        parser().error("name a task (python -m zoo.fit --list shows them)")
    from zoo import distribute
    from zoo.training import fit

    if args.distribute and distribute.Cluster.from_environment() and not os.environ.get(distribute.SUPERVISED):
        # One process of several: run it in a child whose fatal end (a lost peer) becomes one line.
        return distribute.supervise(["-m", "zoo.fit", *(sys.argv[1:] if argv is None else argv)])

    command = "python -m zoo.fit " + shlex.join(sys.argv[1:] if argv is None else argv)
    card = fit(
        args.task, args.variant, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, folds=args.folds,
        data_dir=args.data_dir, out_dir=args.out, verbose=2 if args.quiet else "auto", command=command,
        mixed_precision=args.mixed_precision, jit_compile={"on": True, "off": False}.get(args.jit_compile, "auto"),
        overwrite=args.overwrite, tensorboard=args.tensorboard, distribute=args.distribute,
    )
    if card.get("shipped_by"):  # process k > 0 of several
        print(f"process {card['process']}: trained {card['epochs_run']} epochs ({card['fit_seconds']:.1f} s); "
              f"{card['shipped_by']} ships the model")
        return 0
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in card["test_metrics"].items())
    print(f"test: {metrics}  ({card['epochs_run']} epochs, {card['fit_seconds']:.1f} s)")
    print(f"saved {card['paths']['model']} (card {card['paths']['card']})")
    return 0


if __name__ == "__main__":
    run(main)
