"""The README and docs/: short, generated where the cards can give the figures, links that hold,
and the adding-a-task page run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TABLE = re.compile(r"<!-- models table: python -m zoo.models --markdown -->\n(.*?)<!-- end of models table -->", re.S)


def test_the_readme_is_read_in_five_minutes():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200 and len(text.encode()) <= 20_000
    assert "make demo" in text and "make test" in text


def test_the_readmes_models_table_is_what_the_cards_say():
    from zoo.models import markdown

    found = TABLE.search((REPO / "README.md").read_text())
    assert found, "the README lost its models table markers"
    assert found[1] == markdown(), "README's models table differs from the cards: paste python -m zoo.models --markdown"
    shipped = sorted(p.stem for p in (REPO / "saved_models").glob("*.keras"))
    assert sorted(re.findall(r"\[([\w-]+)\]\(saved_models/[\w-]+\.json\)", found[1])) == shipped


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code is not a link
        for target in re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", text):
            if re.match(r"(https?|mailto):", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, broken


def test_docs_has_a_page_per_topic():
    names = {p.stem for p in PAGES}
    assert {"tasks", "studies", "command-line", "using-a-model", "search", "backends", "scaling-out", "reliability",
            "data-formats", "adding-a-task"} <= names


DRIVER = """
import importlib, shlex, sys
sys.path.insert(0, ".")
import zoo
import sine  # the page's module: importing it registers the task
for line in sys.argv[1:]:
    argv = shlex.split(line)
    assert argv[:2] == ["python", "-m"], line
    print("$", line, flush=True)
    status = importlib.import_module(argv[2]).main(argv[3:])
    assert status == 0, (line, status)
"""


def test_the_adding_a_task_page_works_as_written(tmp_path):
    import numpy as np

    page = (REPO / "docs" / "adding-a-task.md").read_text()
    module = next(block for block in re.findall(r"```python\n(.*?)```", page, re.S)
                  if block.startswith("# zoo/tasks/sine.py"))
    (tmp_path / "sine.py").write_text(module)
    commands = [line for block in re.findall(r"```bash\n(.*?)```", page, re.S) for line in block.splitlines()
                if line.startswith("python -m ")]
    assert [c.split()[2] for c in commands] == ["zoo.fit", "zoo.evaluate", "zoo.predict", "zoo.models"]
    np.save(tmp_path / "points.npy", np.array([[0.5], [-2.0], [5.0]], "float32"))
    run = subprocess.run([sys.executable, "-c", DRIVER, *commands], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    card = json.loads((tmp_path / "saved_models" / "sine.json").read_text())
    assert card["task"] == "sine" and card["status"] == "ok" and card["test_metrics"]["mse"] < 0.05
    assert card["data"]["input_ranges"]["x[0]"][0] >= -3 and card["data"]["input_ranges"]["x[0]"][1] <= 3
    evaluated = re.search(r"mse\s+([\d.]+)\s+\(card: ([\d.]+)\)", run.stdout)
    assert evaluated and evaluated[1] == evaluated[2]  # the .keras reproduces its card
    predictions = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"input"')]
    assert [p["out_of_range"] for p in predictions] == [[], [], ["x[0]"]]
    assert abs(predictions[0]["y"] - np.sin(0.5)) < 0.2
    assert "| `sine` | `mlp` |" in run.stdout
