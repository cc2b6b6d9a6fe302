"""Repository hygiene: layout, lint, notebook template, clean stored outputs, docs in sync."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from mmlib import cli, course
from mmlib.env import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 40  # "no cell longer than a screen"


def test_layout():
    for name in ("README.md", "environment.yml", "pyproject.toml", "LICENSE", ".gitignore",
                 "notebooks", "mmlib", "datasets", "tests", "slides", ".ci/run"):
        assert (REPO_ROOT / name).exists(), f"{name} is missing"
    assert NOTEBOOKS, "no notebooks found"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed (pip install -e '.[dev]')"
    out = subprocess.run([ruff, "check", "--no-cache", "."], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_shows_the_two_commands_and_ci_runs_them():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    ci = (REPO_ROOT / ".ci/run").read_text(encoding="utf-8")
    for command in ('python -m pip install -e ".[dev]"', "pytest"):
        assert command in readme, command
        assert re.search(rf"^{re.escape(command)}(\s|$)", ci, re.M), f".ci/run lacks {command}"
    assert "jupyter lab" in readme


def test_readme_syllabus_matches_the_course():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_syllabus_block(readme) == course.syllabus_markdown(), (
        "README syllabus is stale: python -c 'import mmlib.course as c; c.write_readme_syllabus()'")
    for lesson in course.SYLLABUS:
        assert lesson.available == (f"{lesson.slug}.ipynb" in {p.name for p in NOTEBOOKS})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert cli.output_problems(nb) == []
    assert nb.metadata.get("kernelspec") == cli.KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_paired_script_is_in_sync(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{script.name} missing: jupytext --set-formats ipynb,py:percent"
    nb, py = nbformat.read(path, as_version=4), jupytext.read(script)
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        (c.cell_type, c.source) for c in py.cells], f"{path.name} and {script.name} differ"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_template(path):
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {number} · ")
    for needed in ("**Learning objectives.**", "**Prerequisites.**", "**Estimated CPU time.**"):
        assert needed in first.source, f"first cell lacks {needed}"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "mmlib.setup_notebook(" in code[0].source, "first code cell must call setup_notebook"
    for heading in ("## Summary", "## References"):
        assert heading in markdown, f"missing {heading}"
    assert re.search(r"[\u4e00-\u9fff]", markdown), "give the Chinese term beside a new term"
    assert "$" in markdown, "explain the idea with math"
    assert any("widgets." in c.source for c in code), "at least one interactive widget"
    assert any("check." in c.source for c in code), "exercises with automatic checks"
    assert any("solution" in c.metadata.get("tags", []) for c in code), "exercise solutions tagged"
    assert any("assert " in c.source for c in code), "claims are asserts on measured values"
    assert any(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
    long = [i for i, c in enumerate(nb.cells) if len(c.source.splitlines()) > MAX_CELL_LINES
            and c.cell_type == "code"]
    assert not long, f"code cells {long} are longer than {MAX_CELL_LINES} lines"


# ---------------------------------------------------------------------------------------------
# mmlib's module graph: one direction only, no module reaching into another's privates
# ---------------------------------------------------------------------------------------------


def _mmlib_imports() -> list[tuple[str, str, list[str], str]]:
    """(importing unit, imported module, imported names, file) for every mmlib import, including
    imports inside functions; a *unit* is a top-level module or package of mmlib."""
    import ast

    root = REPO_ROOT / "mmlib"
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if rel.parts == ("__init__",):
            continue  # the package facade: lazy attribute access only
        unit = rel.parts[0]
        package = ".".join(("mmlib", *rel.parts[:-1])) if rel.name == "__init__" else ".".join(
            ("mmlib", *rel.parts[:-1]))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join([*base, module] if module else base)
                names = [a.name for a in node.names]
                if module == "mmlib":  # from mmlib import data, fusion
                    for n in names:
                        found.append((unit, f"mmlib.{n}", [], str(rel)))
                elif module.startswith("mmlib."):
                    found.append((unit, module, names, str(rel)))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("mmlib."):
                        found.append((unit, a.name, [], str(rel)))
    return found


def test_mmlib_has_no_import_cycles():
    edges: dict[str, set[str]] = {}
    for unit, module, _, _ in _mmlib_imports():
        target = module.split(".")[1]
        if target != unit:
            edges.setdefault(unit, set()).add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])


def test_no_module_imports_another_modules_private_names():
    shared = {"_common", "_validate"}  # the private modules meant to be shared
    offences = []
    for unit, module, names, where in _mmlib_imports():
        target = module.split(".")[1]
        if target == unit or target in shared:
            continue
        private = [n for n in names if n.startswith("_")]
        if private or any(part.startswith("_") for part in module.split(".")[1:]):
            offences.append(f"{where}: from {module} import {', '.join(names)}")
    assert offences == []
