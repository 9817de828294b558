"""Look inside a saved zoo model: ``python -m zoo.inspect MODEL.keras WHAT [--out DIR]``.

WHAT:
- ``curves``: loss and metrics per epoch, from the history CSV beside the model.
- ``weights``: a histogram of the weights of each layer (seed 001 fig. 3).
- ``filters``: the first convolution's kernels as images.
- ``feature-maps``: the first convolution's outputs for one image (seed 004 §3.3):
  ``--image FILE`` (cats_dogs) or ``--index N`` (the N-th test example of the task).
- ``errors``: the most confidently misclassified and the hardest (score nearest the
  decision boundary) test examples, with their scores (seed 004 §3.3).

Written with ``keras.Model``/``keras.ops`` so that it runs on every backend;
matplotlib draws. Figures go to ``--out`` (default: beside the model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from data_prep.splits import take
from zoo import artifacts
from zoo.cli import run
from zoo.evaluate import load_model, read_card
from zoo.experiment import _plt
from zoo.training import feed, plot_curves


def all_layers(model):
    """Every layer, nested models (siamese branches) included, in order."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def first_conv(model):
    import keras

    for layer in all_layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D)):
            return layer
    raise ZooError(f"{model.name} has no convolution layer to show")


def test_examples(card, data_dir=None):
    from zoo.registry import get_task

    task = get_task(card["task"])
    return task.load_for(card.get("variant"), data_dir=data_dir, seed=card.get("recipe", {}).get("seed", 0))


def as_pictures(x) -> np.ndarray:
    """Model inputs as displayable images (N, H, W[, 3]) in [0, 1]."""
    if hasattr(x, "decoded"):  # image files: decode them as the pipeline does
        return np.stack([np.asarray(image) for image in x.decoded().as_numpy_iterator()]) / 255.0
    x = np.asarray(x, dtype="float32")
    x = x / 255.0 if x.max() > 1.5 else x
    return x[..., 0] if x.ndim == 4 and x.shape[-1] == 1 else x


def show_grid(pictures, titles, target, columns=8, title=""):
    plt = _plt()
    rows = max(1, -(-len(pictures) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2.0 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, picture, text in zip(axes.ravel(), pictures, titles):
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(text, fontsize=7)
    fig.suptitle(title)
    artifacts.save_figure(fig, target)
    plt.close("all")


def inspect_curves(model_path, model, card, out, args):
    history = Path(model_path).with_suffix(".history.csv")
    if not history.is_file():
        raise ZooError(f"no history {history} beside the model (zoo.fit writes it)")
    plot_curves(pd.read_csv(history), out / "curves.png", title=card.get("task", ""))
    return [out / "curves.png"]


def inspect_weights(model_path, model, card, out, args):
    plt = _plt()
    weighted = [layer for layer in all_layers(model) if layer.weights and not hasattr(layer, "layers")]
    columns = 4
    rows = -(-len(weighted) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, layer in zip(axes.ravel(), weighted):
        ax.axis("on")
        ax.hist(np.concatenate([np.ravel(w) for w in layer.get_weights()]), bins=50)
        ax.set_title(layer.name, fontsize=8)
    artifacts.save_figure(fig, out / "weights.png")
    plt.close("all")
    return [out / "weights.png"]


def inspect_filters(model_path, model, card, out, args):
    layer = first_conv(model)
    kernel = np.asarray(layer.get_weights()[0])  # (kh, kw, in, out); depthwise kernels for separable convs
    kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], kernel.shape[2], -1)
    low, high = kernel.min(), kernel.max()
    pictures = [(kernel[:, :, :, i] - low) / (high - low + 1e-12) for i in range(kernel.shape[-1])]
    pictures = [p if p.shape[-1] == 3 else p.mean(axis=-1) for p in pictures]
    show_grid(pictures, [str(i) for i in range(len(pictures))], out / "filters.png", title=f"{layer.name} kernels")
    return [out / "filters.png"]


def inspect_feature_maps(model_path, model, card, out, args):
    import keras

    if args.image:
        from PIL import Image

        with Image.open(args.image) as image:
            x = np.asarray(image.convert("RGB"), dtype="float32")[None]
        picture = x[0] / 255.0
    else:
        splits = test_examples(card, args.data_dir)
        x = take(splits.x_test, slice(args.index, args.index + 1))
        picture = as_pictures(x)[0]
        x = np.asarray(next(iter(feed(x, None, 1)["x"])), dtype="float32") if hasattr(x, "dataset") else x
    layer = first_conv(model)
    probe = keras.Model(model.inputs, layer.output) if layer in model.layers else None
    if probe is None:
        raise ZooError(f"{layer.name} is inside a nested model; feature maps need a top-level convolution")
    maps = keras.ops.convert_to_numpy(probe(x, training=False))[0]
    maps = (maps - maps.min(axis=(0, 1))) / (np.ptp(maps, axis=(0, 1)) + 1e-12)
    pictures = [picture] + [maps[:, :, i] for i in range(maps.shape[-1])]
    show_grid(pictures, ["input"] + [str(i) for i in range(maps.shape[-1])], out / "feature_maps.png",
              title=f"{layer.name} outputs")
    return [out / "feature_maps.png"]


def inspect_errors(model_path, model, card, out, args):
    splits = test_examples(card, args.data_dir)
    scores = model.predict(feed(splits.x_test, None, 64)["x"], verbose=0)
    if isinstance(scores, dict) or scores.ndim != 2:
        raise ZooError("errors: only single-output classifiers can be shown")
    y = np.asarray(splits.y_test).ravel()
    if scores.shape[1] == 1:  # binary: the score is P(class 1)
        p1 = scores[:, 0]
        predicted, confidence, margin = (p1 >= 0.5).astype(int), np.maximum(p1, 1 - p1), np.abs(p1 - 0.5)
        label = lambda i: f"{p1[i]:.3f}"  # noqa: E731
    else:
        predicted, confidence = scores.argmax(axis=1), scores.max(axis=1)
        top2 = np.sort(scores, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        label = lambda i: f"{predicted[i]} ({confidence[i]:.2f})"  # noqa: E731
    names = card.get("data", {}).get("info", {}).get("classes")
    truth = lambda i: names[y[i]] if names else str(y[i])  # noqa: E731
    wrong = np.flatnonzero(predicted != y)
    worst = wrong[np.argsort(-confidence[wrong])][: args.count]
    hardest = np.argsort(margin)[: args.count]
    written = []
    for rows, name, title in [(worst, "errors_confident.png", "most confidently misclassified"),
                              (hardest, "errors_hardest.png", "hardest (nearest the boundary)")]:
        pictures = as_pictures(take(splits.x_test, rows)) if len(rows) else []
        show_grid(pictures, [f"true {truth(i)}\nscore {label(i)}" for i in rows], out / name,
                  title=f"{title}: {len(wrong)} of {len(y)} test examples misclassified")
        written.append(out / name)
    return written


WHAT = {"curves": inspect_curves, "weights": inspect_weights, "filters": inspect_filters,
        "feature-maps": inspect_feature_maps, "errors": inspect_errors}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.inspect", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a .keras file written by zoo.fit (its card beside it)")
    p.add_argument("what", choices=sorted(WHAT))
    p.add_argument("--out", help="folder for the figures (default: MODEL_inspect/ beside the model)")
    p.add_argument("--image", help="feature-maps: an image file (RGB models)")
    p.add_argument("--index", type=int, default=0, help="feature-maps: which test example (default 0)")
    p.add_argument("--count", type=int, default=16, help="errors: examples per grid (default 16)")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (trusted files only)")
    args = p.parse_args(argv)
    model_path = Path(args.model)
    model = load_model(model_path, args.unsafe)
    card = read_card(model_path)
    out = Path(args.out) if args.out else model_path.with_name(model_path.stem + "_inspect")
    for path in WHAT[args.what](model_path, model, card, out, args):
        print(f"written {path}")
    return 0


if __name__ == "__main__":
    run(main)
