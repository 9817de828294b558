"""Digit tasks: colored_usps, the mnist family with Perlin noise, and mnist_pairs."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from data_prep.colored_usps import COLORS, colorize, load_colored_usps
from data_prep.mnist_pairs import downsample, held_out_pairs, load_mnist_pairs
from data_prep.perlin import perlin_images
from zoo.layers import ProbabilityLessOrEqual
from zoo.registry import get_task
from zoo.tasks.mnist import NOT_A_DIGIT, load_mnist_with_noise
from zoo.training import fit


def test_colorize_is_deterministic_and_paints_the_ink():
    gray = np.random.default_rng(0).uniform(0, 1, (50, 16, 16, 1)).astype("float32")
    colored, color = colorize(gray, seed=3)
    again, color_again = colorize(gray, seed=3)
    np.testing.assert_array_equal(colored, again)
    np.testing.assert_array_equal(color, color_again)
    assert set(color) <= set(range(len(COLORS))) and len(set(color)) > 1
    rgb = np.array(list(COLORS.values()))[color]
    np.testing.assert_allclose(colored, gray * rgb[:, None, None, :])


def test_colored_usps_splits_have_both_targets(usps_dir):
    splits = load_colored_usps(usps_dir)
    assert splits.x_train.shape[1:] == (16, 16, 3)
    assert set(splits.y_test) == {"digit", "color"}
    assert len(splits.y_train["digit"]) == len(splits.y_train["color"]) == len(splits.x_train)


def test_perlin_images_are_deterministic_per_seed():
    a, b, other = perlin_images(20, seed=1), perlin_images(20, seed=1), perlin_images(20, seed=2)
    assert a.shape == (20, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, other)
    assert a.min() == 0 and a.max() == 255  # scaled to the MNIST range per image
    # smooth noise: neighbouring pixels are strongly correlated, unlike white noise
    assert np.corrcoef(a[:, :, :-1].ravel(), a[:, :, 1:].ravel())[0, 1] > 0.8


def test_noise_is_mixed_into_training_at_the_documented_rate(mnist_dir):
    splits = load_mnist_with_noise(mnist_dir)
    share = np.mean(splits.y_train == NOT_A_DIGIT)
    assert share == pytest.approx(0.09, abs=0.01)
    assert NOT_A_DIGIT not in splits.y_test  # the test split stays MNIST's


def test_pairs_are_deterministic_per_round_and_targets_match_digits(mnist_dir):
    first, again, other = (load_mnist_pairs(mnist_dir, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(first.x_train, again.x_train)
    assert not np.array_equal(first.x_train, other.x_train)
    assert first.x_train.shape == (1000, 14, 14, 2) and first.x_test.shape == (1000, 14, 14, 2)
    y = first.y_test
    np.testing.assert_array_equal(y["comparison"], (y["digit_a"] <= y["digit_b"]).astype(int))
    assert load_mnist_pairs(mnist_dir, auxiliary=False).y_train.ndim == 1


def test_pairs_are_drawn_as_seed_003_does_train_from_train_images_test_from_test_images(tmp_path):
    from tests.conftest import write_idx_gz

    def marked(ids):
        """Random images, each marked with its id in two 2x2 blocks (2x2 average pooling keeps them)."""
        images = np.random.default_rng(0).integers(0, 256, (len(ids), 28, 28), dtype=np.uint8)
        images[:, :2, :2] = (ids % 256)[:, None, None]
        images[:, :2, 2:4] = (ids // 256)[:, None, None]
        return images

    train_ids, test_ids = np.arange(3_100), 10_000 + np.arange(2_100)
    (tmp_path / "mnist").mkdir()
    for name, array in (("train-images-idx3-ubyte.gz", marked(train_ids)), ("t10k-images-idx3-ubyte.gz", marked(test_ids)),
                        ("train-labels-idx1-ubyte.gz", (train_ids % 10).astype(np.uint8)),
                        ("t10k-labels-idx1-ubyte.gz", (test_ids % 10).astype(np.uint8))):
        write_idx_gz(tmp_path / "mnist" / name, array)
    splits = load_mnist_pairs(tmp_path, pairs=1000)
    assert "standard split" in splits.info["split"]

    def ids(x):
        marks = np.round(x[:, 0, :2, :] * 255).astype(int)  # (pairs, 2 marks, 2 channels)
        return set((marks[:, 0, :] + 256 * marks[:, 1, :]).ravel())

    train, val, test = ids(splits.x_train), ids(splits.x_val), ids(splits.x_test)
    assert len(train) == 2000 and len(test) == 2000  # no image twice
    assert train | val <= set(train_ids) and test <= set(test_ids)
    assert not train & val
    held_out = ids(held_out_pairs(tmp_path, seed=0, n=50, pairs=1000)[0])  # the 100 images the round left
    assert len(held_out) == 100 and held_out <= set(train_ids) and not held_out & (train | val)


def test_downsample_averages_2x2_blocks():
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, :2, :2] = [[255, 0], [255, 255]]
    assert downsample(image)[0, 0, 0] == pytest.approx(0.75)


def test_probability_less_or_equal_matches_brute_force():
    rng = np.random.default_rng(0)
    p_a, p_b = rng.dirichlet(np.ones(10), 5).astype("float32"), rng.dirichlet(np.ones(10), 5).astype("float32")
    expected = [sum(p_a[n, i] * p_b[n, j] for i in range(10) for j in range(10) if i <= j) for n in range(5)]
    got = np.asarray(ProbabilityLessOrEqual()([p_a, p_b]))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def one_pixel_shifts_by_hand(digits):
    down, up, right, left = (np.zeros_like(digits) for _ in range(4))
    down[:, 1:], up[:, :-1] = digits[:, :-1], digits[:, 1:]
    right[:, :, 1:], left[:, :, :-1] = digits[:, :, :-1], digits[:, :, 1:]
    return [digits, down, up, right, left]


def test_shift_averaged_averages_the_views_at_inference_and_trains_on_the_digit_alone():
    from zoo.layers import ShiftAveraged

    inputs = keras.Input((14, 14, 1))
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))  # deterministic
    x = np.random.default_rng(3).uniform(0, 1, (5, 14, 14, 1)).astype("float32")
    averaged = ShiftAveraged(net)
    by_hand = np.mean([np.asarray(net(v)) for v in one_pixel_shifts_by_hand(x)], axis=0)
    np.testing.assert_allclose(np.asarray(averaged(x, training=False)), by_hand, atol=1e-5)
    np.testing.assert_allclose(np.asarray(averaged(x, training=True)), np.asarray(net(x)), atol=1e-6)


def test_shift_averaged_takes_grey_images_without_a_channel_axis_as_mnist_models_do():
    from zoo.layers import ShiftAveraged, rotated

    inputs = keras.Input((14, 14))
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(5).uniform(0, 255, (5, 14, 14)).astype("float32")
    views = one_pixel_shifts_by_hand(x) + [np.asarray(rotated(x[..., None], a))[..., 0] for a in (-5, 5)]
    by_hand = np.mean([net.predict(v, verbose=0) for v in views], axis=0)
    averaged = ShiftAveraged(net, angles=(-5, 5))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(averaged(x, training=False)), by_hand, rtol=1e-5, atol=1e-3)
    assert not np.allclose(net.predict(x, verbose=0), by_hand, atol=1e-2)


def test_rotated_views_match_scipy_and_join_the_shifts_when_asked(tmp_path):
    from scipy import ndimage

    from zoo.layers import ShiftAveraged, rotated

    x = np.random.default_rng(4).uniform(0, 1, (3, 14, 14, 1)).astype("float32")
    for degrees in (-10, 5, 15):
        by_scipy = np.stack([ndimage.rotate(image[..., 0], degrees, reshape=False, order=1, mode="grid-constant")
                             for image in x])[..., None]
        np.testing.assert_allclose(np.asarray(rotated(x, degrees)), by_scipy, atol=1e-5)
    np.testing.assert_allclose(np.asarray(rotated(x, 0)), x, atol=1e-6)

    inputs = keras.Input((14, 14, 1))
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    averaged = ShiftAveraged(net, angles=(-8, 8))
    views = one_pixel_shifts_by_hand(x) + [np.asarray(rotated(x, a)) for a in (-8, 8)]
    by_hand = np.mean([net.predict(v, verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(averaged(x, training=False)), by_hand, atol=1e-5)
    model = keras.Model(inputs, averaged(inputs))
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert reloaded.layers[-1].angles == (-8.0, 8.0)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), by_hand, atol=1e-5)


def test_elastic_distortion_moves_ink_smoothly_in_training_only_and_reloads(tmp_path):
    from zoo.layers import RandomElasticDistortion

    x = np.zeros((6, 14, 14, 1), "float32")
    x[:, 3:11, 6:8] = 1.0  # a vertical bar
    layer = RandomElasticDistortion(alpha=8.5, sigma=2.0, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(RandomElasticDistortion(alpha=0.0)(x, training=True)), x)
    moved = np.asarray(layer(x, training=True))
    assert moved.shape == x.shape and 0 <= moved.min() and moved.max() <= 1 + 1e-6
    assert not np.allclose(moved, x, atol=0.05) and not np.allclose(moved[0], moved[1])  # each image its own field
    assert abs(moved.sum() - x.sum()) / x.sum() < 0.4  # moved and stretched, not erased
    field = np.asarray(layer.smoothed_field(2, 14, 14))
    assert np.abs(np.diff(field, axis=1)).mean() < 0.5 * np.abs(field).mean()  # neighbours move together
    inputs = keras.Input((14, 14, 1))
    model = keras.Model(inputs, RandomElasticDistortion(alpha=5.0, name="augment_elastic")(inputs))
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras").get_layer("augment_elastic")
    assert (reloaded.alpha, reloaded.sigma) == (5.0, 2.0)


def test_the_mnist_pairs_default_averages_each_digit_over_its_shifts_and_rotations_and_reloads_so(tmp_path):
    from zoo.layers import DIGIT_VIEW_ANGLES, rotated

    model = get_task("mnist_pairs").build("default", None)
    x = np.random.default_rng(2).uniform(0, 1, (4, 14, 14, 2)).astype("float32")
    scores = model.predict(x, batch_size=4, verbose=0)
    branch = model.get_layer("shift_averaged").net  # the digit branch both digits share
    for channel, output in enumerate(("digit_a", "digit_b")):
        digit = x[..., channel : channel + 1]
        views = one_pixel_shifts_by_hand(digit) + [np.asarray(rotated(digit, a)) for a in DIGIT_VIEW_ANGLES]
        by_hand = np.mean([branch.predict(v, verbose=0) for v in views], axis=0)
        np.testing.assert_allclose(scores[output], by_hand, atol=1e-6)
        assert not np.allclose(branch.predict(views[0], verbose=0), scores[output], atol=1e-4)  # not one pass
    assert model.count_params() == get_task("mnist_pairs").variants["default"].build(None, shift_averaged=False).count_params()
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras").predict(x, batch_size=4, verbose=0)
    np.testing.assert_allclose(reloaded["comparison"], scores["comparison"], atol=1e-6)


def test_weight_sharing_halves_the_parameters():
    task = get_task("mnist_pairs")
    for branch in ("convnet", "mlp"):
        full, shared = (task.build(v, None).count_params() for v in (branch, f"{branch}_ws"))
        assert 0.49 < shared / full < 0.51


@pytest.mark.parametrize("task_name,variant,outputs", [
    ("colored_usps", "default", {"digit": 10, "color": 5}),
    ("colored_usps", "seed000", {"digit": 10, "color": 5}),
    ("mnist_pairs", "default", {"comparison": 1, "digit_a": 10, "digit_b": 10}),
    ("mnist_pairs", "mlp_ws_al", {"comparison": 2, "digit_a": 10, "digit_b": 10}),
    ("mnist_pairs", "convnet", {"comparison": 2}),
    ("mnist", "pdcnn", {"digit": 11}),
    ("mnist", "light", {"digit": 10}),
])
def test_builders_give_the_documented_outputs(task_name, variant, outputs):
    model = get_task(task_name).build(variant, None)
    assert sorted(model.output_names) == sorted(outputs)
    shapes = dict(zip(model.output_names, model.outputs))
    for name, units in outputs.items():
        assert tuple(shapes[name].shape) == (None, units)


def test_tiny_fits_of_each_digit_task(usps_dir, mnist_dir, small_mnist_dir, tmp_path):
    card = fit("colored_usps", epochs=1, data_dir=usps_dir, out_dir=tmp_path, verbose=0)
    assert {"digit_accuracy", "color_accuracy"} <= set(card["test_metrics"])
    card = fit("mnist_pairs", epochs=1, seed=2, data_dir=mnist_dir, out_dir=tmp_path, verbose=0)
    assert card["data"]["info"]["round"] == 2 and "comparison_accuracy" in card["test_metrics"]
    card = fit("mnist", "pdcnn", epochs=1, data_dir=small_mnist_dir, out_dir=tmp_path, verbose=0)
    assert 0 <= card["test_metrics"]["perlin_rejection"] <= 1
    card = fit("mnist", "fcn", epochs=1, data_dir=small_mnist_dir, out_dir=tmp_path, verbose=0)
    assert 0 <= card["test_metrics"]["accuracy"] <= 1


def test_a_round_is_evaluated_on_its_own_pairs(mnist_dir, tmp_path):
    from zoo.evaluate import evaluate

    card = fit("mnist_pairs", "mlp_ws", epochs=1, seed=3, data_dir=mnist_dir, out_dir=tmp_path, verbose=0)
    result = evaluate(tmp_path / "mnist_pairs-mlp_ws.keras", data_dir=mnist_dir)
    assert result["metrics"]["accuracy"] == pytest.approx(card["test_metrics"]["accuracy"], rel=1e-6)


@pytest.mark.parametrize("study,rows", [
    ("mnist_pairs", ["default", "convnet", "convnet_ws_al", "mlp", "mlp_ws_al"]),
    ("mnist_variants", ["fcn", "cnn", "dcnn", "pdcnn", "light", "wide", "default"]),
    ("colored_usps", ["default", "epochs80", "augment0.5"]),
    ("mnist_light", ["adam-1e-3-b32", "adam-5e-3-b128-cos", "sgd-0.1-b32-cos"]),
])
def test_digit_studies_write_their_table_and_resume(study, rows, request, tmp_path, capsys):
    from zoo import experiment

    fixture = {"colored_usps": "usps_dir", "mnist_pairs": "mnist_dir"}.get(study, "small_mnist_dir")
    data_dir = request.getfixturevalue(fixture)
    argv = [study, "--rounds", "1", "--epochs", "1", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    assert experiment.main(argv) == 0
    results = (tmp_path / study / "results.md").read_text()
    for row in rows:
        assert f"| {row} |" in results
    assert "PASS" in results or "FAIL" in results
    capsys.readouterr()
    experiment.main(argv)
    assert "training…" not in capsys.readouterr().out  # every run read back, none redone


def test_mnist_default_restarts_its_cosine_after_two_epochs_and_ends_at_zero():
    recipe = get_task("mnist").variants["default"].recipe
    assert (recipe.restart_epochs, recipe.epochs) == (2, 30)
    schedule = recipe.rate(steps_per_epoch=10, epochs=30)
    rates = [float(schedule(step)) for step in (0, 10, 19, 20, 160, 299)]
    # Half-way down at epoch 1, near 0 at the end of epoch 2, back at the peak, half-way down the 28-epoch cycle.
    np.testing.assert_allclose(rates, [2e-3, 1e-3, 0.0, 2e-3, 1e-3, 0.0], atol=2e-5)
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(recipe.make_optimizer(10, 30)))
    assert float(optimizer.learning_rate) == pytest.approx(2e-3)  # iteration 0; the schedule survives saving
    assert recipe.describe()["restart_epochs"] == 2
    # A fit too short for the restart (a test's epochs=1) gets the plain cosine.
    assert isinstance(recipe.rate(10, epochs=2), keras.optimizers.schedules.CosineDecay)
    with pytest.raises(ValueError, match="not both"):
        dataclasses.replace(recipe, warmup_epochs=1).rate(10)


def test_mnist_default_trains_in_bfloat16_by_rule_and_can_drop_batch_norm_where_asked():
    from zoo.core import NATIVE_BFLOAT16
    from zoo.tasks.mnist import mnist_default

    task = get_task("mnist")
    assert task.variants["default"].recipe.mixed_precision == NATIVE_BFLOAT16
    assert task.variants["pdcnn"].recipe.mixed_precision is None  # its shipped model's recipe, in float32
    assert task.variants["default"].recipe.describe()["mixed_precision"] == NATIVE_BFLOAT16  # so in the card
    full, lighter = mnist_default(), mnist_default(without_batch_norm=("block1a", "block1b"))
    names = {layer.name for layer in lighter.layers}
    assert "block1a_bn" not in names and "block1b_bn" not in names and "block1_down_bn" in names
    assert lighter.get_layer("block1a_conv").use_bias and not full.get_layer("block1a_conv").use_bias
    assert full.count_params() - lighter.count_params() == 2 * 32 * 4 - 2 * 32  # two norms out, two biases in
