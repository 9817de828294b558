"""When does ``fit`` trace its train step, and what does each trace cost?

    ZOO_DATA_DIR=../shared/data python benchmarks/retrace_probe.py [--images 10000] [--epochs 2]

Fits the mnist default on the first ``--images`` training images (validated on the validation
split; with ``--race``, the test split evaluated after each epoch as the race's clock does) twice: compiled without its
training state (``compile_model`` with no ``example``: Keras builds the optimizer's and metrics'
variables inside the first trace) and through ``zoo.training.build_and_compile`` (the path
``zoo.fit`` takes: they are built first). For each, it prints when the train step was traced
(epoch, step) and the slowest steps with their seconds, so a stall shows where it happens.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def probe(with_state: bool, images: int, epochs: int, race: bool) -> None:
    import keras

    from zoo.core import compile_model, evaluate_model, feed, machine, steps, validation_data
    from zoo.training import build_and_compile, resolve

    plan = resolve("mnist", "default")  # compiled for the recipe's 30 epochs (its schedule), fitted for ``epochs``
    splits = plan.task.load_with(plan.spec)
    splits = dataclasses.replace(splits, x_train=splits.x_train[:images], y_train=splits.y_train[:images])
    if with_state:
        model, train_data, val_data = build_and_compile(plan, splits, None)
    else:
        keras.utils.set_random_seed(0)
        model = compile_model(plan.spec.build(splits), plan.recipe, steps(splits.x_train, plan.batch_size), plan.epochs)
        train_data = feed(splits.x_train, splits.y_train, plan.batch_size, shuffle=True)
        val_data = validation_data(splits.x_val, splits.y_val)
    traces, where = [], {"epoch": 0, "step": 0}
    train_step = model.train_step
    model.train_step = lambda batch: traces.append(dict(where)) or train_step(batch)  # runs when traced

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            where["epoch"] = epoch + 1

        def on_train_batch_begin(self, batch, logs=None):
            where["step"], self.start = batch + 1, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append((time.perf_counter() - self.start, where["epoch"], batch + 1))

        def on_epoch_end(self, epoch, logs=None):
            if race:  # as benchmarks/time_to_accuracy.py's clock does: the test split after each epoch
                evaluate_model(self.model, splits)

    clock = Steps()
    model.fit(**train_data, validation_data=val_data, epochs=epochs, callbacks=[clock], verbose=0)
    label = "build_and_compile (zoo.fit's path)" if with_state else "compile_model without example"
    slowest = sorted(clock.seconds, reverse=True)[:4]
    median = sorted(s for s, _, _ in clock.seconds)[len(clock.seconds) // 2]
    print(f"{label}: {len(traces)} trace(s) of the train step, at "
          + ", ".join(f"epoch {t['epoch']} step {t['step']}" for t in traces)
          + f"; median step {median * 1000:.0f} ms; slowest: "
          + ", ".join(f"{s:.2f} s (epoch {e} step {b})" for s, e, b in slowest), flush=True)
    print(f"  machine: {machine()}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--only", choices=["with", "without"], help="probe one set-up only")
    p.add_argument("--race", action="store_true", help="evaluate the test split after each epoch, as the race does")
    p.add_argument("--after-peer", action="store_true",
                   help="first fit keras-io's convnet for one epoch in this process, as the race does before the default")
    args = p.parse_args()
    if args.after_peer:
        import importlib.util

        spec = importlib.util.spec_from_file_location("race", Path(__file__).with_name("time_to_accuracy.py"))
        race = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(race)
        race.keras_io_recipe(0.0)  # every figure is reached after its first epoch: one epoch
    for with_state in (False, True):
        if args.only in (None, "with" if with_state else "without"):
            probe(with_state, args.images, args.epochs, args.race)


if __name__ == "__main__":
    main()
