"""Training images per second of cats_dogs trunks: what sets the pace (issue 20's "profile first").

    python benchmarks/cats_dogs_profile.py [--steps 12] [--batch-size 32] [--bfloat16]

Random 128x128 inputs in memory (the input pipeline is measured by cats_dogs_pipeline.py),
seed 004's augmentation layers inside each model, one warm-up fit, then one timed epoch of
``--steps`` batches. Rows: the previous default (separable convolutions), the default's trunk
(plain 3x3 convolutions) at several widths, with TensorFlow's fused batch norm (the default's, issue
55) and with Keras' own (the 8,000-photo default's), and the augmentation layers alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def images_per_second(build, steps: int, batch_size: int, size: int = 128) -> tuple[int, float]:
    import keras
    import numpy as np

    from zoo.core import build_training_state

    model = build()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (batch_size * steps, size, size, 3)).astype("float32")
    y = rng.integers(0, 2, (batch_size * steps, 1)).astype("float32")
    if keras.backend.backend() == "tensorflow":  # as zoo.fit does: no retrace in the timed fit
        build_training_state(model, {"x": x, "y": y})
    model.fit(x[: batch_size * 3], y[: batch_size * 3], batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    return model.count_params(), len(x) / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--bfloat16", action="store_true", help="also under the mixed_bfloat16 dtype policy")
    args = p.parse_args()

    import keras
    from keras import layers

    from zoo.tasks.cats_dogs import cats_dogs_default, cats_dogs_separable, raw_image_input, seed004_augmentation
    from zoo.core import dtype_policy

    def augmentation_alone():
        inputs, x = raw_image_input(128)
        x = layers.GlobalAveragePooling2D()(seed004_augmentation(x))
        return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))

    rows = {
        "separable (previous default), 64-128-256-384": cats_dogs_separable,
        "default trunk, 24-48-96-192": lambda: cats_dogs_default(widths=(24, 48, 96, 192)),
        "default trunk, 32-64-128-256, Keras' batch norm (the 8,000-photo default)":
            lambda: cats_dogs_default(fused=False),
        "default trunk, 32-64-128-256, fused batch norm (the default)": cats_dogs_default,
        "default trunk, 48-96-192-384": lambda: cats_dogs_default(widths=(48, 96, 192, 384)),
        "default trunk, 32-64-128-256, 1-2-3-2 residual blocks (issue 55's deeper candidate)":
            lambda: cats_dogs_default(blocks=(1, 2, 3, 2)),
        "augmentation layers alone": augmentation_alone,
    }
    policies = [None, "mixed_bfloat16"] if args.bfloat16 else [None]
    from zoo.core import machine

    print(f"machine: {machine()}")
    print(f"| network | params | {' | '.join(p or 'float32' for p in policies)} |")
    print("|---|---|" + "---|" * len(policies))
    for name, build in rows.items():
        cells = []
        for policy in policies:
            with dtype_policy(policy):
                params, rate = images_per_second(build, args.steps, args.batch_size)
            cells.append(f"{rate:.1f}")
        print(f"| {name} | {params:,} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
