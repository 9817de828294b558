"""Validation accuracy of saved cats_dogs models, alone and averaged, and of one model's weights at other
input sizes (issue 55): what an ensemble or a larger test-time image would buy.

    python benchmarks/cats_dogs_compare.py MODEL.keras [MODEL.keras ...] [--sizes 144 160 176]

Each model is measured as it ships (float32, its mirror-image average) on the recorded split's 1,000
validation photos; the test photos' figures are printed too, for the record (the test split chooses
nothing). With several models, their averaged score is a row. ``--sizes``: the first model's weights in
the default builder at each input size, the photos decoded at that size (the trunk is convolutions and
global pooling, so its weights fit any size).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--sizes", nargs="*", type=int, default=[])
    args = p.parse_args()

    import keras
    import numpy as np

    import zoo  # noqa: F401  (registers the zoo's layers)
    from data_prep.cats_dogs import ImageFiles, load_cats_dogs
    from zoo.tasks.cats_dogs import cats_dogs_default

    splits = load_cats_dogs()
    parts = {"validation": (splits.x_val, splits.y_val), "test": (splits.x_test, splits.y_test)}
    models = {name: keras.saving.load_model(name) for name in args.models}

    def accuracies(model, size=None):
        scores = {}
        for part, (x, y) in parts.items():
            x = x if size is None else ImageFiles(x.paths, size)
            scores[part] = model.predict(x.dataset(batch_size=64), verbose=0).ravel()
        return scores

    def row(label, scores):
        y = {part: labels for part, (_, labels) in parts.items()}
        print(f"| {label} | " + " | ".join(f"{100 * np.mean((scores[part] > 0.5) == y[part]):.1f}%"
                                            for part in parts) + " |", flush=True)

    print("| model | validation | test (listed, never chooses) |\n|---|---|---|")
    scores = {name: accuracies(model) for name, model in models.items()}
    for name, s in scores.items():
        row(name, s)
    if len(scores) > 1:
        row("average of all", {part: np.mean([s[part] for s in scores.values()], axis=0) for part in parts})
    first = next(iter(models.values()))
    for size in args.sizes:
        resized = cats_dogs_default(size=size, fused=False)
        resized.get_layer("dog").set_weights(first.get_layer("dog").get_weights())
        row(f"{args.models[0]} at {size} px", accuracies(resized, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
