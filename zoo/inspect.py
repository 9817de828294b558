"""Look inside a saved zoo model: ``python -m zoo.inspect MODEL.keras WHAT [--out DIR]``.

WHAT:
- ``curves``: loss and metrics per epoch, from the history CSV beside the model.
- ``weights``: a histogram of the weights of each layer (seed 001 fig. 3).
- ``filters``: the first convolution's kernels as images.
- ``feature-maps``: the first convolution's outputs for one image (seed 004 §3.3):
  ``--image FILE`` (cats_dogs) or ``--index N`` (the N-th test example of the task).
- ``errors``: the most confidently misclassified and the hardest (score nearest the
  decision boundary) test examples, with their scores (seed 004 §3.3).
- ``activations``: each layer's activation distribution and share of zero (dead)
  units on ``--count`` test examples.
- ``maximize``: for each class, the input that maximizes its output (seed 001 fig. 5):
  Adam (lr 0.1, weight decay 0.01) on an image squashed by a sigmoid, from gray.
- ``embedding``: the penultimate layer of the test examples in 2-D (PCA, or t-SNE with
  ``--tsne``), coloured by class (seed 001 fig. 7).
- ``sigma``: gaussian regressors: |error| against predicted sigma, sigma against a feature.

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
from zoo.plots import plot_curves, plot_sigma, pyplot
from zoo.core import feed, predict_outputs


def nested_model(layer):
    """The model inside ``layer``: the layer itself when it is a model (a siamese branch), the network
    a wrapper holds (``zoo.layers.ViewAveraged.net``: cats_dogs' mirror, mnist_pairs' shifts), or None
    for a plain layer."""
    inner = getattr(layer, "net", layer)
    return inner if hasattr(inner, "layers") else None


def all_layers(model):
    """Every layer, nested models included, in order."""
    for layer in model.layers:
        yield layer
        inner = nested_model(layer)
        if inner is not None:
            if inner is not layer:
                yield inner
            yield from all_layers(inner)


def network_of(model):
    """The network a model runs on each view, when the model is only a test-time average over its raw
    input (the mnist default's 9 views: ``zoo.layers.ViewAveraged``), so that its layers are shown as
    they see one image; any other model as it is."""
    import keras

    from zoo.layers import ViewAveraged

    top = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return top[0].net if len(top) == 1 and isinstance(top[0], ViewAveraged) else model


def probe_to(model, layer):
    """model's inputs -> ``layer``'s output, also for a layer inside a nested model that is called once
    (cats_dogs' mirror-averaged trunk); a siamese branch, called on two inputs, has no single path."""
    import keras

    if layer in model.layers:
        return keras.Model(model.input, layer.output)
    for outer in model.layers:
        inner = nested_model(outer)
        if inner is not None and layer in all_layers(inner) and len(outer._inbound_nodes) == 1:
            head, tail = keras.Model(model.input, outer.input), probe_to(inner, layer)
            return lambda x, training=False: tail(head(x, training=training), training=training)
    raise ZooError(f"{layer.name} is inside a nested model called more than once; "
                   "feature maps need a convolution on one path from the input")


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
    plt = pyplot()
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
    plt = pyplot()
    weighted = [layer for layer in all_layers(model) if layer.weights and nested_model(layer) is None]
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
    maps = keras.ops.convert_to_numpy(probe_to(model, layer)(x, training=False))[0]
    maps = (maps - maps.min(axis=(0, 1))) / (np.ptp(maps, axis=(0, 1)) + 1e-12)
    pictures = [picture] + [maps[:, :, i] for i in range(maps.shape[-1])]
    show_grid(pictures, ["input"] + [str(i) for i in range(maps.shape[-1])], out / "feature_maps.png",
              title=f"{layer.name} outputs")
    return [out / "feature_maps.png"]


def inspect_errors(model_path, model, card, out, args):
    splits = test_examples(card, args.data_dir)
    outputs = predict_outputs(model, splits.x_test, 64)
    scores = next(iter(outputs.values()))
    if len(outputs) > 1 or scores.ndim != 2:
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


def layer_outputs(model, count, data_dir, card):
    """(layers, their outputs on ``count`` test examples) for the top-level layers."""
    import keras

    splits = test_examples(card, data_dir)
    x = take(splits.x_test, slice(0, count))
    shown = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
             and not layer.name.startswith("augment")]
    probe = keras.Model(model.inputs, [layer.output for layer in shown])
    return shown, list(predict_outputs(probe, x, 64).values())


def inspect_activations(model_path, model, card, out, args):
    shown, outputs = layer_outputs(network_of(model), args.count * 8, args.data_dir, card)
    plt = pyplot()
    columns, rows = 4, -(-len(shown) // 4)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    lines = ["| layer | mean | std | share of zeros |", "|---|---|---|---|"]
    for ax, layer, values in zip(axes.ravel(), shown, outputs):
        values = np.ravel(np.asarray(values, dtype="float64"))
        ax.axis("on")
        ax.hist(values, bins=50)
        ax.set_title(layer.name, fontsize=8)
        lines.append(f"| {layer.name} | {values.mean():.4g} | {values.std():.4g} | {np.mean(values == 0):.1%} |")
    artifacts.save_figure(fig, out / "activations.png")
    plt.close("all")
    with artifacts.atomic_path(out / "activations.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return [out / "activations.png", out / "activations.md"]


def value_and_gradient(function, z: np.ndarray):
    """``function(z)`` (a scalar built with keras.ops) and its gradient, on any backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(z)
        with tf.GradientTape() as tape:
            value = function(variable)
        return float(value), tape.gradient(value, variable).numpy()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(function)(z)
        return float(value), np.asarray(grad)
    if backend == "torch":
        import torch

        variable = torch.tensor(z, requires_grad=True)
        value = function(variable)
        value.backward()
        return float(value.detach()), variable.grad.numpy()
    raise ZooError(f"maximize needs gradients; backend {backend!r} has none here")


def inspect_maximize(model_path, model, card, out, args):
    import keras

    splits = test_examples(card, args.data_dir)
    if isinstance(splits.x_test, dict) or hasattr(splits.x_test, "dataset") or np.ndim(splits.x_test) < 3:
        raise ZooError("maximize is for image classifiers taking image arrays (usps, mnist, …)")
    sample = np.asarray(take(splits.x_test, slice(0, 64)), dtype="float32")
    scale = 255.0 if sample.max() > 1.5 else 1.0  # raw 0..255 inputs or [0, 1] ones
    classes = int(model.outputs[0].shape[-1])
    z = np.zeros((classes, *sample.shape[1:]), dtype="float32")  # sigmoid(0) = 0.5: gray
    target = keras.ops.one_hot(keras.ops.arange(classes), classes)

    def objective(z):  # minus the log-probability of class k for image k
        probabilities = model(keras.ops.sigmoid(z) * scale, training=False)
        return -keras.ops.sum(target * keras.ops.log(probabilities + 1e-9))

    m, v = np.zeros_like(z), np.zeros_like(z)
    for step in range(1, args.steps + 1):  # Adam with decoupled weight decay 0.01, lr 0.1
        _, grad = value_and_gradient(objective, z)
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad**2
        z -= 0.1 * ((m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8) + 0.01 * z)
    images = 1 / (1 + np.exp(-z))
    probabilities = keras.ops.convert_to_numpy(model(images * scale, training=False))
    pictures = [im[..., 0] if im.ndim == 3 and im.shape[-1] == 1 else im for im in images]
    show_grid(pictures, [f"class {k}: p={probabilities[k, k]:.3f}" for k in range(classes)], out / "maximize.png",
              columns=min(classes, 11), title="inputs that maximize each output")
    return [out / "maximize.png"]


def inspect_embedding(model_path, model, card, out, args):
    import keras

    splits = test_examples(card, args.data_dir)
    count = min(args.count * 50, len(splits.y_test) if not isinstance(splits.y_test, dict) else 10**9)
    x, y = take(splits.x_test, slice(0, count)), np.asarray(splits.y_test)[:count]
    model = network_of(model)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    penultimate = model.layers[model.layers.index(dense[-1]) - 1] if dense else model.layers[-2]
    (features,) = predict_outputs(keras.Model(model.inputs, penultimate.output), x, 128).values()
    features = features.reshape(len(features), -1)
    if args.tsne:
        from sklearn.manifold import TSNE

        points, method = TSNE(2, random_state=0, init="pca").fit_transform(features), "t-SNE"
    else:
        from sklearn.decomposition import PCA

        points, method = PCA(2, random_state=0).fit_transform(features), "PCA"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    scatter = ax.scatter(points[:, 0], points[:, 1], c=y.ravel(), cmap="tab10", s=6)
    ax.legend(*scatter.legend_elements(), fontsize=7, title="class")
    ax.set(title=f"{penultimate.name} outputs, {method}, {len(y)} test examples")
    artifacts.save_figure(fig, out / "embedding.png")
    plt.close("all")
    return [out / "embedding.png"]


def inspect_sigma(model_path, model, card, out, args):
    if card.get("task") != "house_prices" or int(model.outputs[0].shape[-1]) != 2:
        raise ZooError("sigma is for gaussian regressors (house_prices --model gaussian)")
    plot_sigma(model_path, test_examples(card, args.data_dir), out)
    return [out / "sigma_vs_error.png", out / "sigma_vs_grlivarea.png"]


WHAT = {"curves": inspect_curves, "weights": inspect_weights, "filters": inspect_filters,
        "feature-maps": inspect_feature_maps, "errors": inspect_errors, "activations": inspect_activations,
        "maximize": inspect_maximize, "embedding": inspect_embedding, "sigma": inspect_sigma}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.inspect", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a .keras file written by zoo.fit (its card beside it)")
    p.add_argument("what", choices=sorted(WHAT))
    p.add_argument("--out", help="folder for the figures (default: MODEL_inspect/ beside the model)")
    p.add_argument("--image", help="feature-maps: an image file (RGB models)")
    p.add_argument("--index", type=int, default=0, help="feature-maps: which test example (default 0)")
    p.add_argument("--count", type=int, default=16, help="errors: examples per grid (default 16)")
    p.add_argument("--steps", type=int, default=200, help="maximize: optimization steps (default 200)")
    p.add_argument("--tsne", action="store_true", help="embedding: t-SNE instead of PCA")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (trusted files only)")
    args = p.parse_args(argv)
    model_path = Path(args.model)
    model = load_model(model_path, args.unsafe)
    card = read_card(model_path)
    out = artifacts.check_writable_folder(args.out or model_path.with_name(model_path.stem + "_inspect"))
    for path in WHAT[args.what](model_path, model, card, out, args):
        print(f"written {path}")
    return 0


if __name__ == "__main__":
    run(main)
