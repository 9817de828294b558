"""zoo.predict on people's own inputs, with the shipped models: images of any size and
polarity, CSVs of houses in both dialects, pairs, JSON lines, the Python API, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from tests.test_careless_use import exits_2_with_one_line
from tests.test_demo import png_header


def drawn_digit(path, digit: str, size=(240, 300), ink=(20, 20, 20), paper=(250, 250, 245)):
    """A digit drawn with a pen on paper (dark on light, larger than MNIST), as a person makes one."""
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    w, h = size
    if digit == "1":
        draw.line([(w * 0.5, h * 0.15), (w * 0.5, h * 0.85)], fill=ink, width=w // 12)
    elif digit == "0":
        draw.ellipse([w * 0.25, h * 0.15, w * 0.75, h * 0.85], outline=ink, width=w // 12)
    elif digit == "7":
        draw.line([(w * 0.25, h * 0.2), (w * 0.75, h * 0.2), (w * 0.4, h * 0.85)], fill=ink, width=w // 12)
    image.save(path)
    return path


@pytest.fixture
def digits(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    paths = [drawn_digit(folder / f"{d}.{fmt}", d) for d, fmt in (("0", "png"), ("1", "jpg"), ("7", "bmp"))]
    (folder / "notes.png").write_bytes(b"not an image")  # a folder's unreadable file is skipped, not fatal
    return folder, paths


def predict(*argv, **options):
    from zoo import predict

    return predict.predict_counting(predict.load(argv[0]), list(argv[1:]), **options)


def load(name):
    from zoo import predict

    return predict.load(name)


@pytest.mark.parametrize("model", ["mnist", "usps", "mnist_scratch"])
def test_drawn_digits_of_any_size_and_format_are_read_as_the_training_digits(model, digits):
    folder, _ = digits
    results, skipped = predict(model, str(folder))
    assert skipped == 1
    assert [(r["input"].rsplit("/", 1)[-1], r["digit"]) for r in results] == [("0.png", "0"), ("1.jpg", "1"),
                                                                              ("7.bmp", "7")]
    assert all(0.5 < r["digit_probability"] <= 1 for r in results)


def test_pdcnn_says_not_a_digit_for_noise_and_reads_digits(digits, tmp_path):
    from data_prep.perlin import perlin_images

    noise = tmp_path / "noise.png"
    Image.fromarray(perlin_images(1, size=28, seed=7)[0].astype("uint8")).save(noise)  # MNIST's own form
    results, _ = predict("mnist-pdcnn", str(noise), str(digits[1][1]))
    assert [r["digit"] for r in results] == ["not a digit", "1"]


def test_top_k_lists_the_k_most_probable_classes(digits):
    from zoo import predict

    (result,) = predict.predict(predict.load("mnist-light"), [str(digits[1][1])], top_k=3)
    top = result["digit_top3"]
    assert len(top) == 3 and top[0][0] == result["digit"] == "1"
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


def test_houses_in_both_column_dialects_get_a_price_sigma_and_interval(tmp_path):
    houses = {"OverallQual": [5, 8], "YearBuilt": [1960, 2005], "TotalBsmtSF": [800, 1500], "GrLivArea": [1100, 2400]}
    pd.DataFrame({"Id": [1, 2], **houses}).to_csv(tmp_path / "kaggle.csv", index=False)
    publisher = {"Overall Qual": houses["OverallQual"], "Year Built": houses["YearBuilt"],
                 "Total Bsmt SF": houses["TotalBsmtSF"], "Gr Liv Area": houses["GrLivArea"]}
    pd.DataFrame(publisher).to_csv(tmp_path / "ames.tsv", sep="\t", index=False)
    kaggle, _ = predict("house_prices-gaussian", str(tmp_path / "kaggle.csv"))
    ames, _ = predict("house_prices-gaussian", str(tmp_path / "ames.tsv"))
    assert [r["price"] for r in kaggle] == [r["price"] for r in ames]
    assert kaggle[0]["price"] < kaggle[1]["price"]  # a larger, newer, better house costs more
    scale = load("house_prices-gaussian").card["calibration"]["heads"]["mean_sigma"]["quantiles"]
    for row in kaggle:  # the conformal interval: mean -+ q sigma, q calibrated on the validation houses
        low, high = row["interval"]
        assert row["sigma"] > 0 and low < row["price"] < high and row["coverage"] == 0.95
        assert high - low == pytest.approx(2 * scale["0.95"] * row["sigma"], rel=1e-3)
    (narrow, _), _ = predict("house_prices-gaussian", str(tmp_path / "kaggle.csv"), coverage=0.8)
    assert narrow["interval"][1] - narrow["interval"][0] == pytest.approx(2 * scale["0.80"] * narrow["sigma"], rel=1e-3)
    (mlp_row, _), _ = predict("house_prices", str(tmp_path / "kaggle.csv"))
    assert set(mlp_row) == {"input", "price", "interval", "coverage", "out_of_range"} and mlp_row["out_of_range"] == []
    assert mlp_row["interval"][0] < mlp_row["price"] < mlp_row["interval"][1]


def test_inputs_in_memory_get_the_answers_of_the_files_they_would_be(tmp_path):
    """A server's inputs (houses as dicts, a photo's bytes) read without a file: the same rows as the
    CSV and the JPEG, and the same refusals, naming the input as the caller does."""
    import zoo
    from data_prep.errors import ZooError
    from data_prep.user_inputs import Upload
    from tests.conftest import write_jpeg

    houses = [{"OverallQual": 5, "YearBuilt": 1960, "TotalBsmtSF": 800, "GrLivArea": 1100},
              {"OverallQual": "8", "YearBuilt": 2005.0, "TotalBsmtSF": 1500, "GrLivArea": 2400}]
    pd.DataFrame(houses).to_csv(tmp_path / "houses.csv", index=False)
    gaussian = load("house_prices-gaussian")
    strip = lambda rows: [{k: v for k, v in row.items() if k != "input"} for row in rows]  # noqa: E731
    assert strip(zoo.predict(gaussian, houses)) == strip(zoo.predict(gaussian, [str(tmp_path / "houses.csv")]))
    for house, words in [({**houses[0], "GrLivArea": "big"}, 'the house: GrLivArea "big" is not a finite number'),
                         ({**houses[0], "YearBuilt": True}, "the house: YearBuilt true is not a finite number"),
                         ({**houses[0], "OverallQual": 10**400}, "OverallQual 1000"),
                         ({**houses[0], "GrLivArea": None}, "the house: column 'GrLivArea' is empty"),
                         ({**houses[0], "GrLivArea": -3}, "the house: GrLivArea -3 is impossible")]:
        with pytest.raises(ZooError, match=words):
            zoo.predict(gaussian, [house])
    with pytest.raises(ZooError, match="the house, house 2: column 'TotalBsmtSF' is empty"):
        zoo.predict(gaussian, [houses[0], {**houses[1], "TotalBsmtSF": ""}])

    write_jpeg(tmp_path / "photo.jpg", size=(333, 250))
    cats_dogs = load("cats_dogs")
    from_file, = strip(zoo.predict(cats_dogs, [str(tmp_path / "photo.jpg")]))
    assert strip(zoo.predict(cats_dogs, [Upload("the photo", (tmp_path / "photo.jpg").read_bytes())])) == [from_file]
    with pytest.raises(ZooError, match="^the photo is not an image Pillow can read"):
        zoo.predict(cats_dogs, [Upload("the photo", b"not an image")])


def test_pairs_take_images_two_by_two(digits):
    paths = [str(p) for p in digits[1]]  # 0, 1, 7
    results, _ = predict("mnist_pairs", paths[0], paths[2], paths[2], paths[1])
    assert [(r["digit_a"], r["digit_b"], r["comparison"]) for r in results] == [
        ("0", "7", "first <= second"), ("7", "1", "first > second")]


def test_cats_dogs_prints_a_class_and_its_probability(tmp_path):
    from tests.conftest import write_jpeg

    photo = tmp_path / "photo.jpg"
    write_jpeg(photo, size=(333, 250))
    ((row,), _) = predict("cats_dogs", str(photo))
    assert row["class"] in ("cat", "dog") and 0.5 <= row["class_probability"] <= 1
    # The calibrated set: the classes whose tempered 1 - p passes the conformal threshold, most probable first.
    assert row["coverage"] == 0.95 and set(row["set"]) <= {"cat", "dog"} and row["set"][:1] in ([], [row["class"]])


def test_json_lines_and_the_table_carry_the_same_predictions(digits, capsys):
    from zoo import predict

    folder = str(digits[0])
    assert predict.main(["mnist-light", folder, "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["digit"] for r in rows] == ["0", "1", "7"] and "skipped 1 unreadable" in captured.err
    assert all(r["set"] in ([], [r["digit"]]) and r["coverage"] == 0.95 for r in rows)
    assert predict.main(["mnist-light", folder]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["input", "digit", "digit_probability", "set", "coverage"] and len(table) == 4
    err = exits_2_with_one_line(predict.main, ["mnist-light", folder, "--coverage", "0.975"], capsys)
    assert "0.50, 0.51, ..., 0.99" in err  # not a calibrated level


def test_the_python_api_loads_a_shipped_model_with_its_card_and_predicts(digits):
    import zoo
    import zoo.predict  # importing the module keeps zoo.predict callable

    model, card = zoo.load("mnist-light")
    assert card["task"] == "mnist" and card["variant"] == "light"
    (result,) = zoo.predict((model, card), [str(digits[1][1])])
    assert result["digit"] == "1"
    (bare,) = zoo.predict(model, [str(digits[1][1])], task="mnist")  # a bare keras.Model needs its task
    # Without its card the model is uncalibrated: the same class, its raw probability, no set.
    assert bare["digit"] == result["digit"] and "set" not in bare and result["set"] in ([], ["1"])
    (raw,) = zoo.predict(model, [str(digits[1][1])], task="mnist", top_k=10)
    logits = np.log(np.maximum([p for _, p in sorted(raw["digit_top10"], key=lambda pair: pair[0])], 1e-12))
    tempered = np.exp(logits / card["calibration"]["heads"]["digit"]["temperature"])
    assert result["digit_probability"] == pytest.approx(tempered[1] / tempered.sum(), abs=2e-4)


@pytest.mark.parametrize("argv,expected", [
    (["mnist", "{tmp}/broken.jpg"], "is not an image Pillow can read"),
    (["mnist", "{tmp}/houses.csv"], "mnist models take images or .npy arrays, not a table"),
    (["house_prices", "{tmp}/houses.csv"], "lacks column(s) OverallQual"),
    (["house_prices", "{tmp}/1.png"], "house_prices models take a CSV of houses"),
    (["saved_models/usps.keras", "{tmp}/1.png", "--task", "mnist"], "is a usps model (its card says so), not mnist"),
    (["mnist", "{tmp}/points.npy"], "the model takes inputs of shape (28, 28), these are (2,)"),
    (["mnist", "{tmp}/missing.png"], "does not exist"),
    (["no_such_model", "{tmp}/1.png"], "no shipped model 'no_such_model'"),
    (["mnist_pairs", "{tmp}/1.png"], "give images two by two"),
    (["cats_dogs", "{tmp}/bomb.png"], "bomb.png is 400 megapixels; the zoo reads images up to 50 megapixels"),
    (["mnist", "{tmp}/wide.png"], "wide.png is 12000 x 12000 pixels (144 megapixels)"),
    (["house_prices-gaussian", "{tmp}/negative.csv"], "data row 1: OverallQual -5 is impossible"),
    (["house_prices", "{tmp}/no_area.csv"], "data row 2: GrLivArea 0 is impossible"),
])
def test_bad_input_is_one_line_and_exit_2(argv, expected, tmp_path, capsys, monkeypatch):
    from pathlib import Path

    from zoo import predict

    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # saved_models/ relative, as a user types it
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    pd.DataFrame({"GrLivArea": [1000], "YearBuilt": [1990]}).to_csv(tmp_path / "houses.csv", index=False)
    drawn_digit(tmp_path / "1.png", "1")
    np.save(tmp_path / "points.npy", np.zeros((3, 2), "float32"))
    (tmp_path / "bomb.png").write_bytes(png_header(20000, 20000))
    (tmp_path / "wide.png").write_bytes(png_header(12000, 12000))
    pd.DataFrame({"OverallQual": [-5], "YearBuilt": [-2001], "TotalBsmtSF": [-1000], "GrLivArea": [-1800]}).to_csv(
        tmp_path / "negative.csv", index=False)
    pd.DataFrame({"OverallQual": [5, 5], "YearBuilt": [1990, 1990], "TotalBsmtSF": [0, 0], "GrLivArea": [900, 0]}).to_csv(
        tmp_path / "no_area.csv", index=False)
    err = exits_2_with_one_line(predict.main, [a.format(tmp=tmp_path) for a in argv], capsys)
    assert expected in err, err


def test_houses_outside_the_training_range_are_priced_and_flagged_in_json_and_table(tmp_path, capsys):
    import time

    from zoo import predict as predict_cli

    houses = pd.DataFrame({"OverallQual": [7, 10], "YearBuilt": [2001, 2020], "TotalBsmtSF": [1000, 6000],
                           "GrLivArea": [1800, 9000]})
    houses.to_csv(tmp_path / "houses.csv", index=False)
    assert predict_cli.main(["house_prices-gaussian", str(tmp_path / "houses.csv"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["out_of_range"] for r in rows] == [[], ["YearBuilt", "TotalBsmtSF", "GrLivArea"]]
    assert predict_cli.main(["house_prices-gaussian", str(tmp_path / "houses.csv")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "out_of_range" in table[0] and table[2].rstrip().endswith("YearBuilt, TotalBsmtSF, GrLivArea")
    # The same for arrays whose range a card records: a two_spirals point far from the spirals.
    np.save(tmp_path / "points.npy", np.array([[0.1, 0.2], [40.0, 0.0]], "float32"))
    spirals, _ = predict("two_spirals", str(tmp_path / "points.npy"))
    assert [r["out_of_range"] for r in spirals] == [[], ["x[0]"]]
    # A bomb inside a folder is skipped and counted, from its header, like any unreadable file.
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(png_header(20000, 20000))
    Image.new("RGB", (64, 48), (200, 150, 90)).save(folder / "cat.jpg")
    start = time.perf_counter()
    rows, skipped = predict("cats_dogs", str(folder))
    assert skipped == 1 and len(rows) == 1 and time.perf_counter() - start < 30
