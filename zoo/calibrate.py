"""Calibrate saved models without retraining: ``python -m zoo.calibrate MODEL.keras... | --shipped``.

Fits each model's temperature(s) and conformal quantiles on its task's calibration split
(:mod:`zoo.calibration`), measures them on the test split, and writes the ``calibration`` block
into the model's card (atomically; no weight changes). ``zoo.fit`` does the same at the end of
every fit; this command brings models trained before that, or trained elsewhere, up to date.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo import artifacts
from zoo.cli import run

SAVED_MODELS = Path(__file__).resolve().parents[1] / "saved_models"


def calibrate_saved(path, data_dir=None, unsafe: bool = False) -> dict:
    """Calibrate one saved model and write the block into its card; return the block."""
    from zoo.calibration import calibrated_card
    from zoo.evaluate import load_with_splits

    model, card, task, _, splits = load_with_splits(path, data_dir, unsafe=unsafe)
    block = calibrated_card(task.name, model, splits, card.get("recipe", {}).get("batch_size", 256))
    artifacts.write_json(artifacts.card_path(path), {**card, "calibration": block})
    return block


def summary(block: dict) -> str:
    parts = []
    for head, f in block["test"].items():
        if head == "coverage":
            continue
        spec = block["heads"][head]
        what = (f"T {spec['temperature']:.3f}, mean set {f['mean_set_size']:.3f}, ECE {f['ece_before']:.4f} -> "
                f"{f['ece_after']:.4f}" if "temperature" in spec else f"mean width {f['mean_width']:,.4f}")
        parts.append(f"{head}: covered {f['covered']}/{f['n']} = {f['coverage']:.4f}; {what}")
    return "; ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.calibrate", description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help=".keras files written by zoo.fit")
    p.add_argument("--shipped", action="store_true", help="every model in saved_models/")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--unsafe", action="store_true", help="allow code in the file (Lambda layers); trusted files only")
    args = p.parse_args(argv)
    paths = [Path(m) for m in args.models] + (sorted(SAVED_MODELS.glob("*.keras")) if args.shipped else [])
    if not paths:
        p.error("name .keras files, or --shipped")
    for path in paths:
        block = calibrate_saved(path, args.data_dir, args.unsafe)
        print(f"{path.name} (calibrated on {block['split']}, {block['size']}; 95% on test): {summary(block)}",
              flush=True)
    return 0


if __name__ == "__main__":
    run(main)
