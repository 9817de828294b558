"""Validation accuracy of the mnist default at the end of a first cosine cycle, for other batches,
rates and cycle lengths (issue 48: a shorter or cheaper way to keras-io's 99.22%, chosen on validation).

    ZOO_DATA_DIR=../shared/data python benchmarks/first_cycle.py BATCH,RATE,EPOCHS [...]
    e.g. 128,2e-3,2 (the default's first cycle)  64,3e-3,1  256,4e-3,2

Each candidate is fitted for its cycle's epochs only, through ``zoo.fit``'s set-up (with ``epochs``
equal to the cycle, the rate falls to 0 at its end, as the 30-epoch recipe's first cycle does). It
prints each epoch's seconds and validation accuracy; the test split is never read.
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
        batch, rate, epochs = candidate.split(",")
        plan = resolve("mnist", "default", epochs=int(epochs), batch_size=int(batch),
                       recipe_overrides={"learning_rate": float(rate)})
        splits = splits or plan.task.load_with(plan.spec)
        model, train_data, val_data = build_and_compile(plan, splits, None)
        print(f"batch {batch}, rate {rate}, a cycle of {epochs} epoch(s)", flush=True)
        model.fit(**train_data, validation_data=val_data, epochs=int(epochs), verbose=0, callbacks=[EpochSeconds(), report])


if __name__ == "__main__":
    main()
