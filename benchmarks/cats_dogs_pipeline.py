"""How close the cats_dogs training input pipeline is to raw decode speed.

    ZOO_DATA_DIR=../shared/data python benchmarks/cats_dogs_pipeline.py [--images N] [--variant default]

Measures, on the first N training images of the real data (images/s):
  (a) decode + resize alone (parallel map, nothing else),
  (b) the full training input pipeline on a cold cache (decode, resize, cache, shuffle,
      batch, prefetch), i.e. the first epoch, the only one that decodes,
  (b') the same pipeline on later epochs (from the in-memory cache),
  (c) training steps of the variant's model on cached batches.
Prints the ratios; the target is (b)/(a) >= 0.8, and (b') far above (c), so that the
model, not the input pipeline, sets the pace.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rate(n, seconds):
    return n / seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--variant", default="default")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()

    from data_prep.cats_dogs import load_cats_dogs
    from zoo.core import machine
    from zoo.training import build_and_compile, resolve

    splits = load_cats_dogs()
    files, labels = splits.x_train[: args.images], splits.y_train[: args.images]
    n = len(files)

    start = time.perf_counter()
    for _ in files.decoded().as_numpy_iterator():
        pass
    decode = rate(n, time.perf_counter() - start)

    data = files.dataset(labels, args.batch_size, shuffle=True)
    start = time.perf_counter()
    for _ in data.as_numpy_iterator():
        pass
    cold = rate(n, time.perf_counter() - start)
    start = time.perf_counter()
    for _ in data.as_numpy_iterator():
        pass
    warm = rate(n, time.perf_counter() - start)

    # Set up as zoo.fit sets it up (the training state built from the data's shapes).
    plan = resolve("cats_dogs", args.variant, batch_size=args.batch_size)
    model, _, _ = build_and_compile(plan, dataclasses.replace(splits, x_train=files, y_train=labels), None)
    batches = list(data.take(args.steps + 3).as_numpy_iterator())
    for x, y in batches[:3]:
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for x, y in batches[3:]:
        model.train_on_batch(x, y)
    train = rate(args.batch_size * len(batches[3:]), time.perf_counter() - start)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {machine()}")
    print(f"{n} training images of ../shared/data/cats_dogs, {files.size}px, batch {args.batch_size}, {cores} cores")
    print(f"(a)  decode + resize alone        {decode:8.0f} images/s")
    print(f"(b)  full pipeline, first epoch   {cold:8.0f} images/s   (b)/(a) = {cold / decode:.2f}  (target >= 0.8)")
    print(f"(b') full pipeline, cached epochs {warm:8.0f} images/s   (b')/(a) = {warm / decode:.1f}")
    print(f"(c)  training steps ({args.variant})  {train:8.0f} images/s   (b')/(c) = {warm / train:.1f}")


if __name__ == "__main__":
    main()
