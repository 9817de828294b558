"""cats_dogs: the image pipeline on awkward files, raw-image models, folder evaluation, inspection."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_prep.cats_dogs import ImageFiles, image_files, list_images
from data_prep.errors import ZooError
from tests.conftest import write_jpeg
from tests.test_cli import call_main
from tests.test_resume import StopAfter
from zoo import evaluate, inspect
from zoo.registry import get_task
from zoo.core import mixed
from zoo.training import fit, training_batches


def awkward_folder(root):
    """Both layouts' worth of trouble: a corrupt JPEG, a grayscale one, a PNG named .jpg."""
    for i in range(4):
        write_jpeg(root / "PetImages" / "Cat" / f"{i}.jpg", size=(40 + 7 * i, 30 + 5 * i), color=(200, 90, 40))
        write_jpeg(root / "PetImages" / "Dog" / f"{i}.jpg", size=(33, 61), color=(30, 60, 210))
    Image.new("L", (50, 40), 128).save(root / "PetImages" / "Cat" / "gray.jpg", "JPEG")
    Image.new("RGB", (45, 45), (10, 200, 10)).save(root / "PetImages" / "Dog" / "png.jpg", "PNG")
    (root / "PetImages" / "Dog" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_pipeline_decodes_every_readable_file_to_rgb_at_the_training_size(tmp_path, capsys):
    x, y = image_files(awkward_folder(tmp_path))
    assert len(x) == 10 and "skipped 1" in capsys.readouterr().out  # the corrupt one
    batches = list(x.dataset(y, batch_size=4).as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.shape == (10, 128, 128, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, y)
    gray = images[[i for i, p in enumerate(x.paths) if p.endswith("gray.jpg")][0]]
    assert np.all(gray[..., 0] == gray[..., 1])  # grayscale became 3 equal channels


def test_a_file_that_fails_to_decode_is_dropped_not_fatal(tmp_path):
    root = awkward_folder(tmp_path)
    unscreened = list_images(root, screen=False)  # the corrupt file gets into the pipeline
    x = ImageFiles(np.array([str(p) for p in unscreened.paths]), size=32)
    assert len(x) == 11
    images = list(x.dataset(unscreened.labels, batch_size=64).as_numpy_iterator())[0][0]
    assert len(images) == 10


@pytest.fixture(scope="module")
def cats_dogs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cats_dogs_data")
    rng = np.random.default_rng(0)
    for label, color in (("cat", (220, 120, 60)), ("dog", (60, 90, 220))):
        for i in range(20):
            size = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
            write_jpeg(root / "cats_dogs" / "train" / f"{label}.{i}.jpg", size=size, color=color)
    return root


@pytest.mark.parametrize("variant", ["default", "seed004"])
def test_models_take_raw_images_of_any_size_and_augment_only_in_training(variant):
    model = get_task("cats_dogs").build(variant, None)
    for shape in [(1, 50, 70, 3), (2, 300, 200, 3)]:
        x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
        first, again = model.predict(x, verbose=0), model.predict(x, verbose=0)
        assert first.shape == (shape[0], 1)
        np.testing.assert_array_equal(first, again)  # inference: no augmentation, no dropout
    training = np.asarray(model(x, training=True))
    assert not np.allclose(training, first)


def test_fit_resumes_then_evaluates_on_any_folder_and_inspects(cats_dogs_dir, tmp_path, monkeypatch, capsys):
    variant = get_task("cats_dogs").variants["seed004"]
    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: [StopAfter(1)]))
    with pytest.raises(KeyboardInterrupt):
        fit("cats_dogs", "seed004", epochs=3, data_dir=cats_dogs_dir, out_dir=tmp_path, verbose=0)
    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: []))
    card = fit("cats_dogs", "seed004", epochs=3, data_dir=cats_dogs_dir, out_dir=tmp_path, verbose=0)
    assert "resuming at epoch 2" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "cats_dogs-seed004.history.csv")["epoch"].tolist() == [0, 1, 2]
    assert card["data"]["splits"] == {"train": 32, "val": 4, "test": 4}

    model = str(tmp_path / "cats_dogs-seed004.keras")
    code, out, _ = call_main(evaluate.main, [model, "--images", str(cats_dogs_dir / "cats_dogs")], capsys)
    assert code == 0 and "40 images" in out and "accuracy" in out

    for what, files in [("errors", ["errors_confident.png", "errors_hardest.png"]),
                        ("feature-maps", ["feature_maps.png"]), ("curves", ["curves.png"])]:
        code, _, err = call_main(inspect.main, [model, what, "--data-dir", str(cats_dogs_dir),
                                                "--out", str(tmp_path / "inspect")], capsys)
        assert code == 0, err
        for name in files:
            assert (tmp_path / "inspect" / name).stat().st_size > 0


def test_the_default_averages_each_image_a_zoom_in_and_their_mirror_images_and_reloads_so(tmp_path):
    model = get_task("cats_dogs").build("default", None)
    x = np.random.default_rng(1).uniform(0, 255, (3, 90, 70, 3)).astype("float32")
    scores = model.predict(x, verbose=0)
    # The mean over views that include each one's mirror image cannot tell an image from its mirror image.
    np.testing.assert_allclose(model.predict(x[:, :, ::-1], verbose=0), scores, atol=1e-6)
    trunk = model.get_layer("dog").net
    scaled = np.asarray(model.get_layer("scale")(model.get_layer("resize")(x)))
    zoomed = np.asarray(keras.ops.image.resize(scaled[:, 6:122, 6:122], (128, 128)))  # the central 116 of 128 px
    views = [scaled, scaled[:, :, ::-1], zoomed, zoomed[:, :, ::-1]]
    by_hand = np.mean([trunk.predict(v, verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(scores, by_hand, atol=1e-6)
    assert not np.allclose(trunk.predict(scaled, verbose=0), scores)  # the average is not one pass
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), scores, atol=1e-6)


def test_warm_up_then_cosine_rises_linearly_to_the_rate_then_decays_to_zero():
    recipe = get_task("cats_dogs").variants["default"].recipe
    recipe = dataclasses.replace(recipe, learning_rate=0.01, warmup_epochs=2)
    schedule = recipe.rate(steps_per_epoch=10, epochs=6)
    rates = [float(schedule(step)) for step in (0, 10, 20, 40, 60)]
    np.testing.assert_allclose(rates, [0.0, 0.005, 0.01, 0.005, 0.0], atol=1e-6)
    assert recipe.describe()["warmup_epochs"] == 2
    assert recipe.describe()["loss"] == "binary_crossentropy(label_smoothing=0.1)"


@pytest.mark.parametrize("mix", ["cutmix", "mixup"])
def test_mixed_batches_carry_each_label_in_the_proportion_of_its_pixels(mix):
    # Cats all black, dogs all white: after mixing, an image's share of white pixels is its dog share.
    labels = np.array([0, 1] * 16, "float32")
    images = np.broadcast_to(labels[:, None, None, None] * 255, (32, 64, 64, 3)).astype("uint8")
    recipe = dataclasses.replace(get_task("cats_dogs").variants["default"].recipe, mix=mix)
    data = training_batches(images, labels, 8, recipe, seed=3)["x"]
    x, y = map(np.concatenate, zip(*data.as_numpy_iterator()))
    # Keras' CutMix labels a box by its fractional area, whose pixels are whole: a row and a column apart at most.
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)) / 255, y, atol=2 / 64 if mix == "cutmix" else 1e-4)
    assert np.any((y > 0.01) & (y < 0.99))  # some images were mixed
    assert recipe.describe()["mix"] == mix


def test_a_mix_that_is_not_known_or_has_no_image_batches_to_mix_is_refused_saying_why():
    import tensorflow as tf

    with pytest.raises(ValueError, match="cutmix, mixup"):
        dataclasses.replace(get_task("cats_dogs").variants["default"].recipe, mix="cutmx")
    arrays = {"x": np.zeros((4, 8, 8, 3)), "y": np.zeros(4), "batch_size": 2}  # as feed gives JAX or PyTorch
    two_inputs = tf.data.Dataset.from_tensor_slices(({"a": np.zeros((4, 3)), "b": np.zeros((4, 3))}, np.zeros(4)))
    for train in (arrays, {"x": two_inputs.batch(2)}):
        with pytest.raises(ZooError, match="batches of \\(images, labels\\) in a tf.data pipeline"):
            mixed(train, "cutmix")
