"""The shape of the code: layers that point one way, a fit that reads as its steps, a public face."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CYCLES_TOOL = REPO.parent / "shared" / "tools" / "import_cycles.py"


@pytest.mark.skipif(not CYCLES_TOOL.is_file(), reason="../shared/tools/import_cycles.py is not beside this checkout")
def test_no_import_cycle_among_the_zoos_modules():
    result = subprocess.run([sys.executable, str(CYCLES_TOOL), str(REPO)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_registries_know_no_task_and_no_study():
    import ast

    for path, package in (("zoo/registry.py", "zoo.tasks"), ("zoo/studies/registry.py", "zoo.studies")):
        tree = ast.parse((REPO / path).read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith(package)], (path, imported)


def test_fit_reads_as_its_steps_in_at_most_60_lines():
    from zoo import training

    assert len(inspect.getsource(training.fit).splitlines()) <= 60


def test_the_package_face_is_its_public_api():
    import zoo

    assert sorted(dir(zoo)) == sorted(zoo.__all__)
    assert not [name for name in dir(zoo) if isinstance(getattr(zoo, name), types.ModuleType)
                and name != "predict"]  # zoo.predict is a callable module: the API's verb
    assert callable(zoo.predict) and callable(zoo.load) and "usps" in zoo.list_tasks()
    for name in zoo.__all__:
        assert getattr(zoo, name) is not None
