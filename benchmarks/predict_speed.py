"""Per-call latency of ``zoo.predict`` against Keras' ``predict`` and ``predict_on_batch`` (issue 56).

    ZOO_DATA_DIR=../shared/data python benchmarks/predict_speed.py [--calls 30] [--photos 500]

For one house (house_prices-gaussian, from a CSV), one digit (the mnist default, from a PNG) and one
photo (cats_dogs, a JPEG of ../shared/data/cats_dogs_fullres), each warm (the model loaded and
called once before the clock): the median seconds of ``zoo.predict((model, card), [file])`` (reading
the file included), of ``model.predict`` and of ``model.predict_on_batch`` on the same prepared
input. Then images/s of ``zoo.predict`` on a folder of ``--photos`` photos (links to cats_dogs'
training photos, in a temporary folder). Prints the machine first: compare within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_seconds(call, calls: int) -> float:
    call()  # warm: traced, cached
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--photos", type=int, default=500)
    args = p.parse_args()

    from PIL import Image

    import zoo
    from data_prep.locate import search_roots
    from zoo.core import machine
    from zoo.predict import model_inputs

    data = search_roots()[0]
    print(f"machine: {machine()}")
    print("| input | model | zoo.predict | model.predict | predict_on_batch | zoo.predict / model.predict |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "house.csv").write_text("OverallQual,YearBuilt,TotalBsmtSF,GrLivArea\n7,2001,1000,1800\n")
        from data_prep.mnist import load_mnist

        digit = load_mnist().x_test[0]
        Image.fromarray(255 - digit.astype("uint8")).resize((200, 200)).save(folder / "digit.png")  # dark on white
        photo = data / "cats_dogs_fullres" / "train" / "cat.1.jpg"
        cases = [("one house (CSV)", "house_prices-gaussian", folder / "house.csv"),
                 ("one digit (PNG)", "mnist", folder / "digit.png"), ("one photo (JPEG)", "cats_dogs", photo)]
        for label, name, path in cases:
            model, card = zoo.load(name)
            _, x, _ = model_inputs(card["task"], [str(path)], card)
            ours = median_seconds(lambda: zoo.predict((model, card), [str(path)]), args.calls)
            keras_predict = median_seconds(lambda: model.predict(x, verbose=0), args.calls)
            on_batch = median_seconds(lambda: model.predict_on_batch(x), args.calls)
            print(f"| {label} | `{name}` | {1000 * ours:.2f} ms | {1000 * keras_predict:.2f} ms | "
                  f"{1000 * on_batch:.2f} ms | {ours / keras_predict:.3f} |", flush=True)

        photos = folder / "photos"
        photos.mkdir()
        for path in sorted((data / "cats_dogs" / "train").glob("*.jpg"))[: args.photos]:
            os.symlink(path, photos / path.name)
        model, card = zoo.load("cats_dogs")
        zoo.predict((model, card), [str(next(photos.iterdir()))])
        start = time.perf_counter()
        rows = zoo.predict((model, card), [str(photos)])
        seconds = time.perf_counter() - start
        print(f"\nzoo.predict on a folder of {len(rows)} photos (cats_dogs): {seconds:.1f} s, "
              f"{len(rows) / seconds:.1f} photos/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
