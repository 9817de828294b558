"""When does ``fit`` trace its train step, and what does each trace cost?

    ZOO_DATA_DIR=../shared/data python benchmarks/retrace_probe.py [--images 10000] [--epochs 2]

Fits the mnist default on the first ``--images`` training images twice: compiled without its
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


def probe(with_state: bool, images: int, epochs: int) -> None:
    import keras

    from zoo.core import compile_model, feed, machine, steps
    from zoo.training import build_and_compile, resolve

    plan = resolve("mnist", "default", epochs=epochs)
    splits = plan.task.load_with(plan.spec)
    splits = dataclasses.replace(splits, x_train=splits.x_train[:images], y_train=splits.y_train[:images])
    if with_state:
        model, train_data, _ = build_and_compile(plan, splits, None)
    else:
        keras.utils.set_random_seed(0)
        model = compile_model(plan.spec.build(splits), plan.recipe, steps(splits.x_train, plan.batch_size), epochs)
        train_data = feed(splits.x_train, splits.y_train, plan.batch_size, shuffle=True)
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

    clock = Steps()
    model.fit(**train_data, epochs=epochs, callbacks=[clock], verbose=0)
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
    args = p.parse_args()
    for with_state in (False, True):
        if args.only in (None, "with" if with_state else "without"):
            probe(with_state, args.images, args.epochs)


if __name__ == "__main__":
    main()
