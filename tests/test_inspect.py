"""python -m zoo.inspect on small trained models: every view writes its figure."""

from __future__ import annotations

import pytest

from tests.test_cli import call_main
from zoo import inspect
from zoo.training import fit

IMAGE_VIEWS = {
    "curves": ["curves.png"], "weights": ["weights.png"], "filters": ["filters.png"],
    "feature-maps": ["feature_maps.png"], "errors": ["errors_confident.png", "errors_hardest.png"],
    "activations": ["activations.png", "activations.md"], "maximize": ["maximize.png"],
    "embedding": ["embedding.png"],
}


@pytest.fixture(scope="module")
def usps_model(tmp_path_factory):
    from tests.conftest import write_usps_h5

    root = tmp_path_factory.mktemp("inspect")
    write_usps_h5(root / "data" / "usps" / "usps.h5")
    fit("usps", "seed002", epochs=2, data_dir=root / "data", out_dir=root, verbose=0)
    return root / "usps-seed002.keras", root / "data"


@pytest.mark.parametrize("what", sorted(IMAGE_VIEWS))
def test_every_view_of_an_image_classifier(what, usps_model, tmp_path, capsys):
    model, data = usps_model
    argv = [str(model), what, "--data-dir", str(data), "--out", str(tmp_path), "--steps", "3", "--count", "4"]
    code, _, err = call_main(inspect.main, argv, capsys)
    assert code == 0, err
    for name in IMAGE_VIEWS[what]:
        assert (tmp_path / name).stat().st_size > 0


def test_sigma_view_of_the_gaussian_regressor_and_refusal_elsewhere(house_dir, tmp_path, capsys):  # noqa: F811
    fit("house_prices", "gaussian", epochs=2, data_dir=house_dir, out_dir=tmp_path, verbose=0)
    argv = [str(tmp_path / "house_prices-gaussian.keras"), "sigma", "--data-dir", str(house_dir),
            "--out", str(tmp_path / "views")]
    code, _, err = call_main(inspect.main, argv, capsys)
    assert code == 0, err
    assert (tmp_path / "views" / "sigma_vs_error.png").stat().st_size > 0
    argv[1] = "maximize"
    code, _, err = call_main(inspect.main, argv, capsys)
    assert code == 2 and "image classifiers" in err


def test_a_model_that_only_averages_views_of_its_input_is_inspected_as_its_network():
    """The mnist default ships wrapped in its 9 views: activations and embedding show the network's layers on
    one image (the wrapper alone has none to show); a model with layers of its own before the wrapper (cats_dogs')
    is shown as it is."""
    import keras

    from zoo.layers import FlipAveraged
    from zoo.registry import get_task
    from zoo.tasks.mnist import mean_over_shifts_and_rotations

    network = get_task("mnist").build("fcn", None)
    assert inspect.network_of(mean_over_shifts_and_rotations(network)) is network
    assert inspect.network_of(network) is network
    inputs = keras.Input((8, 8, 3))
    trunk = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(1)])
    mirrored = keras.Model(inputs, FlipAveraged(trunk)(keras.layers.Rescaling(1 / 255)(inputs)))
    assert inspect.network_of(mirrored) is mirrored
