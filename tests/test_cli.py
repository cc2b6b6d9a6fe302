"""The ``mmcourse`` command: doctor's verdicts and execute's reproducible, clean notebooks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mmlib import cli
from mmlib.env import REPO_ROOT

WELCOME = REPO_ROOT / "notebooks" / "00_welcome.ipynb"


def _mmcourse(*args: str, pre: str = "") -> subprocess.CompletedProcess:
    code = f"{pre}\nimport sys\nfrom mmlib.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, check=False)


def test_entry_point_is_installed():
    exe = shutil.which("mmcourse", path=str(Path(sys.executable).parent))
    assert exe, "the mmcourse console script is not installed next to this Python"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "doctor" in out.stdout and "execute" in out.stdout


def test_doctor_passes_here():
    out = _mmcourse("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Verdict: READY" in out.stdout
    for item in ("Python", "tensorflow", "keras", "jupyterlab", "ipywidgets", "devices",
                 "datasets", "free memory"):
        assert item in out.stdout


def test_doctor_names_missing_tensorflow_and_fails():
    # sys.modules[name] = None makes every import of the name fail, as if it were not installed
    out = _mmcourse("doctor", pre="import sys; sys.modules['tensorflow'] = None")
    assert out.returncode == 1, out.stdout
    assert "Verdict: NOT READY" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("tensorflow "))
    assert "missing" in row and "FAIL" in row
    assert "tensorflow: missing. Fix: pip install 'tensorflow>=" in out.stdout


def test_doctor_flags_too_old_version(monkeypatch):
    monkeypatch.setattr(cli, "requirements", lambda: [("json", "json", "99.0", True)])
    monkeypatch.setattr(json, "__version__", "2.0.9", raising=False)
    (row,) = [c for c in cli.doctor_checks() if c.item == "json"]
    assert row.status == "FAIL" and row.found == "2.0.9" and "--upgrade 'json>=99.0'" in row.fix


def _checked_outputs(path: Path) -> list[list[dict]]:
    nb = nbformat.read(path, as_version=4)
    return [c.outputs for c in nb.cells
            if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]


def test_execute_recreates_welcome_with_identical_checked_outputs(tmp_path):
    copy = tmp_path / "notebooks" / WELCOME.name
    copy.parent.mkdir()
    shutil.copy(WELCOME, copy)
    out = _mmcourse("execute", str(copy))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "seconds" in out.stdout and "ok" in out.stdout
    stored, fresh = _checked_outputs(WELCOME), _checked_outputs(copy)
    assert stored, "00_welcome must have checked outputs"
    assert fresh == stored
    assert cli.output_problems(nbformat.read(copy, as_version=4)) == []
    assert nbformat.read(copy, as_version=4).metadata["kernelspec"] == cli.KERNELSPEC
    # the saved widget state and the outputs that point into it come back unchanged: widget ids
    # are renumbered in creation order, so a re-run does not rewrite them (reviewable diffs)
    stored_nb, fresh_nb = (json.loads(p.read_text()) for p in (WELCOME, copy))
    assert stored_nb["metadata"]["widgets"], "00_welcome must store its widget's state"
    assert fresh_nb["metadata"] == stored_nb["metadata"]
    assert _widget_views(fresh_nb) == _widget_views(stored_nb) != []


def _widget_views(nb: dict) -> list:
    return [out["data"]["application/vnd.jupyter.widget-view+json"] for cell in nb["cells"]
            for out in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]


def test_execute_names_notebook_and_cell_that_fails(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# broken"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('boom for the test')"),
    ])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    out = _mmcourse("execute", str(path))
    assert out.returncode == 1
    assert "broken.ipynb cell 2: ValueError: boom for the test" in out.stderr
    assert path.read_text() == before, "a failed notebook must not be overwritten"


def test_execute_rejects_missing_files(tmp_path):
    out = _mmcourse("execute", str(tmp_path / "nope.ipynb"))
    assert out.returncode == 2 and "must be existing .ipynb files" in out.stderr


@pytest.mark.parametrize("text, problem", [
    ("I0000 00:00:1795710426.499720 2581 cudart_stub.cc:31] Could not find cuda",
     "TensorFlow log noise"),
    ("saved to /root/project/model.keras", "machine path"),
])
def test_output_problems_finds_noise_and_paths(text, problem):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print()")])
    nb.cells[0].execution_count = 1
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text=text)]
    assert any(problem in p for p in cli.output_problems(nb))


def test_doctor_version_floors_are_pyprojects():
    """One source of the floors: pyproject.toml, read back from the installed metadata."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    declared += [f'{r}; extra == "dev"' for r in project["optional-dependencies"]["dev"]]
    declared += [f'{r}; extra == "gpu"' for r in project["optional-dependencies"]["gpu"]]
    from_pyproject = cli.requirements(declared)
    assert cli.requirements() == from_pyproject, "reinstall: pip install -e '.[dev]'"
    floors = {dist: floor for _, dist, floor, _ in from_pyproject}
    assert floors["tensorflow"] == "2.16" and floors["keras"] == "3.3"
    assert ("pytest", "pytest", "8", False) in from_pyproject  # dev extra: optional
    assert all(dist != "tensorflow" or req for _, dist, _, req in from_pyproject)  # gpu skipped
    with pytest.raises(ValueError, match="requirement"):
        cli.requirements(["!!"])
