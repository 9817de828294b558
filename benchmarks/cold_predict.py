"""The cold one-shot command (issue 56, part 4): where ``python -m zoo.predict MODEL FILE`` spends
its seconds, and what an ONNX Runtime path would start in.

    ZOO_DATA_DIR=../shared/data python benchmarks/cold_predict.py [--runs 3]

Each row is a fresh Python process, timed from outside (median of ``--runs``): the zoo's command on
one photo (cats_dogs) and on one house (house_prices-gaussian); ``import tensorflow``, ``import keras``
and ``import zoo`` alone; and the same two models exported to ONNX (``zoo.export``, verified; exported
once, before the clock) run by ONNX Runtime in a process that imports only onnxruntime, NumPy and
Pillow. The photo's ONNX row resizes with Pillow: the zoo's photos are resized with TensorFlow's
antialiased kernel (``ScaleAndTranslate``), which tf2onnx cannot convert, so that row's answer is
not the zoo's (it prints both).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ONNX_HOUSE = """
import json, sys, numpy as np, onnxruntime as ort
card = json.load(open(sys.argv[2]))
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
row = dict(zip(*[line.strip().split(",") for line in open(sys.argv[3])][:2]))
feeds = {i.name: np.array([[float(row[i.name])]], "float32") for i in session.get_inputs()}
print([o.ravel().tolist() for o in session.run(None, feeds)])
"""
ONNX_PHOTO = """
import sys, numpy as np, onnxruntime as ort
from PIL import Image
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
image = Image.open(sys.argv[2]).convert("RGB").resize((128, 128), Image.Resampling.BILINEAR)
x = np.asarray(image, "float32")[None]
print(session.run(None, {session.get_inputs()[0].name: x})[0].ravel().tolist())
"""


def seconds(argv: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        times.append(time.perf_counter() - start)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        out = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return statistics.median(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    from data_prep.locate import search_roots
    from zoo.core import machine

    photo = search_roots()[0] / "cats_dogs_fullres" / "train" / "cat.1.jpg"
    py = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        house = folder / "house.csv"
        house.write_text("OverallQual,YearBuilt,TotalBsmtSF,GrLivArea\n7,2001,1000,1800\n")
        for name in ("cats_dogs", "house_prices-gaussian"):  # exported and verified once, before the clock
            subprocess.run([py, "-m", "zoo.export", f"saved_models/{name}.keras", "--format", "onnx", "--out",
                            str(folder)], cwd=REPO, check=True, capture_output=True)
        rows = [
            ("`python -m zoo.predict cats_dogs photo.jpg`", [py, "-m", "zoo.predict", "cats_dogs", str(photo), "--json"]),
            ("`python -m zoo.predict house_prices-gaussian house.csv`",
             [py, "-m", "zoo.predict", "house_prices-gaussian", str(house), "--json"]),
            ("`import tensorflow` alone", [py, "-c", "import tensorflow"]),
            ("`import keras` alone (TensorFlow backend)", [py, "-c", "import keras"]),
            ("`import zoo` alone", [py, "-c", "import zoo"]),
            ("ONNX Runtime, house_prices-gaussian (import, session, run)",
             [py, "-c", ONNX_HOUSE, str(folder / "house_prices-gaussian.onnx"),
              "saved_models/house_prices-gaussian.json", str(house)]),
            ("ONNX Runtime, cats_dogs, Pillow's resize (not the zoo's answer)",
             [py, "-c", ONNX_PHOTO, str(folder / "cats_dogs.onnx"), str(photo)]),
        ]
        print(f"machine: {machine()}; median of {args.runs} fresh processes")
        print("| command | seconds | what it printed |")
        print("|---|---|---|")
        for label, argv in rows:
            took, out = seconds(argv, args.runs)
            print(f"| {label} | {took:.2f} | {json.dumps(out)[:120]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
