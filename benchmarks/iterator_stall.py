"""The idle stall of issue 48: fits of the mnist default fed NumPy arrays as Keras feeds them, and
fed as ``zoo.core.feed`` feeds them (tf.data without autotuning, ``data_prep.pipelines``).

    ZOO_DATA_DIR=../shared/data python benchmarks/iterator_stall.py [--feed arrays zoo] [--batch-size 256] [--epochs 2]
    python benchmarks/iterator_stall.py --tensorflow-only [--seconds 50] [--runs 3]

For each epoch it prints the wall and CPU seconds (a stall is wall time with no CPU time), and
the seconds ``fit`` takes to return after its last epoch ended. With Keras' arrays, each
epoch's tf.data iterator runs an autotuning thread; deleting the iterator (at the next epoch's
first step, or as ``fit`` returns) waits for that thread's current wait, up to a minute, once
the epochs last tens of seconds. TensorFlow backend only.

``--tensorflow-only`` reproduces it without Keras or data files (for an upstream report): a busy
loop pulls batches through a ``tf.function`` (as Keras' train step does) for ``--seconds``, then
deletes the iterator, with autotuning on and off, ``--runs`` times. It is a race: here, after 50 s,
the deletion waited 32.2 s in 2 of 7 runs with autotuning on (0.2-0.3 s in the others), 0.2 s with it
off, and never in the 2 runs (45 and 60 s) that pulled the batches eagerly (``next(iterator)``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed_fit(feed_kind: str, batch_size: int, epochs: int) -> None:
    import keras

    from zoo.training import build_and_compile, resolve

    plan = resolve("mnist", "default", batch_size=batch_size)  # the recipe's schedule, fitted ``epochs``
    splits = plan.task.load_with(plan.spec)
    model, train_data, val_data = build_and_compile(plan, splits, None)
    if feed_kind == "arrays":  # how the zoo fed NumPy arrays before: Keras builds (and autotunes) the pipeline
        train_data = {"x": splits.x_train, "y": splits.y_train, "batch_size": batch_size, "shuffle": True}
        val_data = (splits.x_val, splits.y_val)

    class Seconds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
            print(f"  {feed_kind}: epoch {epoch + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                  f"validation accuracy {logs['val_accuracy']:.4f}", flush=True)
            self.ended = time.perf_counter()

    seconds = Seconds()
    model.fit(**train_data, validation_data=val_data, epochs=epochs, verbose=0, callbacks=[seconds])
    print(f"  {feed_kind}: fit returned {time.perf_counter() - seconds.ended:.1f} s after its last epoch ended",
          flush=True)


def tensorflow_only(seconds: float, runs: int) -> None:
    import gc

    import numpy as np
    import tensorflow as tf

    images = np.random.default_rng(0).integers(0, 255, size=(50_000, 28, 28), dtype=np.uint8)
    for autotune in [True, False] * runs:
        data = tf.data.Dataset.from_tensor_slices(images).shuffle(50_000).batch(128)
        data = data.map(lambda batch: tf.cast(batch, tf.float32), num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        options.autotune.enabled = autotune
        iterator = iter(data.prefetch(tf.data.AUTOTUNE).repeat().with_options(options))

        @tf.function
        def step(iterator):
            return tf.reduce_sum(next(iterator))

        work, start = tf.random.normal((600, 600)), time.perf_counter()
        while time.perf_counter() - start < seconds:
            step(iterator)
            for _ in range(20):  # a busy consumer, as training is
                work = tf.tanh(work @ work)
        start = time.perf_counter()
        del iterator
        gc.collect()
        print(f"  autotuning {'on' if autotune else 'off'}: after {seconds:.0f} s of use, deleting the iterator "
              f"took {time.perf_counter() - start:.2f} s", flush=True)


def main():
    import keras

    from zoo.core import machine

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feed", nargs="+", choices=["arrays", "zoo"], default=["arrays", "zoo"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--tensorflow-only", action="store_true", help="the stall in tf.data alone, no Keras")
    p.add_argument("--seconds", type=float, default=50, help="with --tensorflow-only: how long the iterator is used")
    p.add_argument("--runs", type=int, default=3, help="with --tensorflow-only: runs with autotuning on, and off")
    args = p.parse_args()
    if keras.backend.backend() != "tensorflow":
        sys.exit("the stall is TensorFlow's tf.data; run with KERAS_BACKEND=tensorflow")
    print(f"machine: {machine()}")
    if args.tensorflow_only:
        return tensorflow_only(args.seconds, args.runs)
    for kind in args.feed:
        timed_fit(kind, args.batch_size, args.epochs)


if __name__ == "__main__":
    main()
