"""Validation accuracy of the mnist default at the end of a first cosine cycle, for other batches,
rates and cycle lengths (issue 48: a shorter or cheaper way to keras-io's 99.22%, chosen on validation).

    ZOO_DATA_DIR=../shared/data python benchmarks/first_cycle.py BATCH,RATE,EPOCHS[,KEY=VALUE...] [...]
    e.g. 128,2e-3,2 (the default's first cycle)  64,3e-3,1  256,4e-3,2
         128,2e-3,2,policy=float32  128,2e-3,2,seed=1,without_batch_norm=block1a+block1b
         (policy: a Keras dtype policy; seed; other keys: keywords of mnist_default)

Each candidate is set up as ``zoo.fit`` sets up the default's 30-epoch recipe, with its first cosine
cycle (``restart_epochs``) made EPOCHS long, and fitted for that cycle only: the schedule, dtype
policy (the recipe's, unless ``policy=`` names one) and batches are those of the real fit, so a
candidate's last line is the real fit's validation after its first cycle (until stop 51 the cycle was
a plain cosine over EPOCHS, whose end differs from the recipe's by a few images). It prints each
epoch's seconds and validation accuracy; the test split is never read.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    import keras

    from zoo.core import machine
    from zoo.training import EpochSeconds, build_and_compile, resolve

    report = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(
        f"  epoch {epoch + 1}: {logs['seconds']:.1f} s, validation accuracy {logs['val_accuracy']:.4f}, "
        f"loss {logs['val_loss']:.4f}", flush=True))

    print(f"machine: {machine()}")
    splits = None
    for candidate in sys.argv[1:] or ["128,2e-3,2"]:
        batch, rate, epochs, *extras = candidate.split(",")
        build = dict(e.split("=") for e in extras)
        if "without_batch_norm" in build:
            build["without_batch_norm"] = tuple(build["without_batch_norm"].split("+"))
        policy, seed = build.pop("policy", None), int(build.pop("seed", 0))
        plan = resolve("mnist", "default", batch_size=int(batch), seed=seed, build_overrides=build,
                       recipe_overrides={"learning_rate": float(rate), "restart_epochs": int(epochs)},
                       mixed_precision=policy)
        splits = splits or plan.task.load_with(plan.spec)
        model, train_data, val_data = build_and_compile(plan, splits, None)
        print(f"batch {batch}, rate {rate}, a cycle of {epochs} epoch(s), {plan.mixed_precision or 'float32'}",
              *extras, flush=True)
        model.fit(**train_data, validation_data=val_data, epochs=int(epochs), verbose=0, callbacks=[EpochSeconds(), report])


if __name__ == "__main__":
    main()
