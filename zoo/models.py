"""The shipped models, from their cards: ``python -m zoo.models [--markdown]``.

One row a ``.keras`` in ``saved_models/``: task, variant, parameters, the main test metric(s), how
often its calibrated 95% sets or intervals held the truth on the test split (:mod:`zoo.calibration`),
the seed's figure, training time and its card. ``--markdown`` prints the README's models table,
which is this output verbatim (a test compares them), so no figure there is typed by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo.cli import run

SAVED_MODELS = Path(__file__).resolve().parents[1] / "saved_models"
TASK_ORDER = ["two_spirals", "usps", "colored_usps", "house_prices", "curve", "mnist_scratch", "mnist",
              "mnist_pairs", "cats_dogs"]  # the seeds' order: simplest first


def shipped(folder=SAVED_MODELS) -> list[dict]:
    """The card of every ``.keras`` in ``folder``, with its ``name`` (file stem), in task order."""
    folder = Path(folder)
    cards = []
    for model in sorted(folder.glob("*.keras")):
        card_file = model.with_suffix(".json")
        if card_file.is_file():
            cards.append({"name": model.stem, **json.loads(card_file.read_text())})

    def order(card):
        task = card.get("task", "")
        rank = TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER)
        return rank, card["name"] != task, card["name"]  # the task's default model first

    return sorted(cards, key=order)


def main_metrics(card: dict) -> str:
    """The figures a reader compares, in the units the seeds give them."""
    m, task = card.get("test_metrics", {}), card.get("task")
    if task == "mnist_pairs":  # the seed reports test error of the comparison
        accuracy = m.get("comparison_accuracy", m.get("accuracy"))
        return f"{100 * (1 - accuracy):.2f}% error"
    if "digit_accuracy" in m:
        return f"{100 * m['digit_accuracy']:.2f}% digit, {100 * m['color_accuracy']:.2f}% color"
    if "rmse" in m:
        coverage = f", {100 * m['coverage95']:.1f}% within its ±1.96 sigma" if "coverage95" in m else ""
        return f"RMSE ${m['rmse']:,.0f}{coverage}"
    if "mse" in m:
        return f"MSE {m['mse']:.4f}"
    text = f"{100 * m['accuracy']:.2f}%" if "accuracy" in m else ", ".join(f"{k} {v:.4g}" for k, v in m.items())
    if "perlin_rejection" in m:
        text += f", {100 * m['perlin_rejection']:.1f}% of noise rejected"
    return text


def calibrated_coverage(card: dict) -> str:
    """How often the calibrated 95% sets or intervals held the truth on the test split (the main head's)."""
    test = card.get("calibration", {}).get("test", {})
    heads = [h for h in ("comparison", "digit") if h in test] or [h for h in test if h != "coverage"]
    return f"{100 * test[heads[0]]['coverage']:.1f}%" if heads else "-"


def training_time(card: dict) -> str:
    seconds = card.get("fit_seconds")
    if seconds is None:  # a seeds' ensemble: its members' cards hold their times
        return f"{len(card.get('members', []))} fits"
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds:.0f} s"


def rows(folder=SAVED_MODELS) -> list[list[str]]:
    return [[card["task"], card.get("variant", ""), f"{card.get('params', 0):,}", main_metrics(card),
             calibrated_coverage(card), card.get("reference", ""), training_time(card), card["name"]]
            for card in shipped(folder)]


HEADER = ["task", "variant", "params", "test", "95% sets cover", "seed's figure", "training", "card"]


def markdown(folder=SAVED_MODELS, link_prefix: str = "saved_models/") -> str:
    """The models table in Markdown, each card linked (``link_prefix``: from where the table is read)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for *cells, name in rows(folder):
        cells = [c.replace("|", "\\|") for c in cells]
        lines.append("| " + " | ".join([f"`{cells[0]}`", f"`{cells[1]}`", *cells[2:],
                                        f"[{name}]({link_prefix}{name}.json)"]) + " |")
    return "\n".join(lines) + "\n"


def text_table(folder=SAVED_MODELS) -> str:
    table = [HEADER] + rows(folder)
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.models", description=__doc__.splitlines()[0])
    p.add_argument("--markdown", action="store_true", help="the README's models table (Markdown)")
    p.add_argument("--folder", default=str(SAVED_MODELS), help="where the models are (default saved_models/)")
    args = p.parse_args(argv)
    print(markdown(args.folder) if args.markdown else text_table(args.folder), end="")
    return 0


if __name__ == "__main__":
    run(main)
