"""The cats_dogs default's test-time views ranked on the validation split (issue 55): which views the
shipped model averages.

    python benchmarks/cats_dogs_views.py [saved_models/cats_dogs.keras]

The saved model's trained network scores each of the 1,000 validation photos of the recorded split under
every view: the image, 6 and 12-pixel shifts (zeros shifted in), central 90% and 80% crops enlarged back
to 128 px (zoom-ins), and the mirror images of all. Rows average subsets of those scores. The test split
is not read: it chooses nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    import keras
    import numpy as np

    import zoo  # noqa: F401  (registers the zoo's layers)
    from data_prep.cats_dogs import load_cats_dogs
    from zoo.layers import shifted

    model = keras.saving.load_model(sys.argv[1] if len(sys.argv) > 1 else "saved_models/cats_dogs.keras")
    net = model.get_layer("dog").net
    splits = load_cats_dogs()
    images = np.concatenate(list(splits.x_val.dataset(batch_size=200).as_numpy_iterator())).astype("float32") / 255
    size = images.shape[1]

    def zoomed(x, fraction):  # as zoo.layers.FlipZoomAveraged crops: equal margins
        margin = round(size * (1 - fraction) / 2)
        return np.asarray(keras.ops.image.resize(x[:, margin : size - margin, margin : size - margin], (size, size)))

    scores = {}
    for mirror, x in (("", images), (" mirrored", images[:, :, ::-1])):
        views = {"image": x, **{f"zoom {f}": zoomed(x, f) for f in (0.9, 0.8)},
                 **{f"shift {d} {dy},{dx}": np.asarray(shifted(x, dy, dx))
                    for d in (6, 12) for dy, dx in ((d, 0), (-d, 0), (0, d), (0, -d))}}
        for name, view in views.items():
            scores[name + mirror] = net.predict(view, batch_size=100, verbose=0).ravel()

    def accuracy(names):
        return np.mean((np.mean([scores[n] for n in names], axis=0) > 0.5) == splits.y_val)

    rows = {"one pass": ["image"], "+ mirror (the previous default)": ["image", "image mirrored"]}
    for name, prefix in (("+ mirror, zoom 0.9 (the default)", "zoom 0.9"), ("+ mirror, zoom 0.8", "zoom 0.8"),
                         ("+ mirror, 6-pixel shifts", "shift 6"), ("+ mirror, 12-pixel shifts", "shift 12")):
        rows[name] = [n for n in scores if n.startswith(prefix) or n.startswith("image")]
    rows["all of them"] = list(scores)
    print("| views | count | validation accuracy |\n|---|---|---|")
    for name, names in rows.items():
        print(f"| {name} | {len(names)} | {100 * accuracy(names):.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
