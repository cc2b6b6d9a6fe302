"""Classroom tools: student versions of the notebooks (exercise answers replaced by stubs).

A notebook's exercise has two cells: the learner's answer, tagged ``solution`` in the full
notebook (it holds the reference answer), then a cell that checks it with :mod:`mmlib.check`.
:func:`student_notebook` keeps every cell byte for byte except the ``solution`` cells, which
become stubs with their outputs cleared:

* every top-level assignment ``name = <answer>`` becomes ``name = ...  # your code here``: the
  check cell then fails with the check's "replace the `...` placeholder" hint;
* every top-level function keeps its signature and docstring; its body becomes
  ``raise NotImplementedError("<exercise>: write the body of <name>")``;
* anything else (imports, loops, prints) is dropped: it was part of the answer.

A ``solution`` cell that assigns and defines nothing cannot be stubbed and is an error (the
exercise would silently pass in the student version). ``mmcourse student [--out DIR]`` writes
the student copies; the full notebooks stay where they are.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

from mmlib.env import REPO_ROOT

SOLUTION_TAG = "solution"
"""Cell tag of an exercise's reference answer."""

STUDENT_DIR = "student"
"""Default output folder of ``mmcourse student`` (relative to the current directory)."""

_EXERCISE = re.compile(r"\*\*(Exercise\s+\d+[a-z]?)\b")


def _exercise_name(cells: list[Any], index: int) -> str:
    """The name (e.g. ``Exercise 2``) of the last exercise announced before cell ``index``."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            found = _EXERCISE.findall(cell.source)
            if found:
                return found[-1]
    return "this exercise"


def solution_stub(source: str, exercise: str = "this exercise") -> str:
    """The student stub of a ``solution`` cell's ``source`` (see the module docstring).

    Raises:
        ValueError: ``source`` is not valid Python, or assigns and defines nothing.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a string, got {type(source).__name__}.")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"source must be valid Python (a solution cell), got a syntax error: "
                         f"{exc.msg} at line {exc.lineno}.") from None
    lines = source.splitlines()
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            header = lines[node.lineno - 1 - len(node.decorator_list):node.body[0].lineno - 1]
            doc = ast.get_docstring(node, clean=False)
            first = node.body[0]
            if doc is not None and isinstance(first, ast.Expr):
                header = lines[node.lineno - 1 - len(node.decorator_list):first.end_lineno]
            indent = " " * (node.body[0].col_offset)
            out += header + [f'{indent}raise NotImplementedError("{exercise}: write the body of '
                             f'{node.name}")']
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Tuple | ast.List):  # a, b = ... -> a, b = ..., ...
                names = ", ".join(ast.unparse(t) for t in target.elts)
                out.append(f"{names} = {', '.join(['...'] * len(target.elts))}  # your code here")
            else:
                out.append(f"{ast.unparse(target)} = ...  # your code here")
    if not out:
        raise ValueError(f"source of a solution cell must assign a name or define a function "
                         f"(the check reads it), got nothing to stub in:\n{source}")
    return "\n".join(out)


def student_notebook(nb: Any) -> Any:
    """A student copy of the notebook ``nb`` (nbformat v4): ``solution`` cells become stubs."""
    student = copy.deepcopy(nb)
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = solution_stub(cell.source, _exercise_name(student.cells, i))
            cell.outputs = []
            cell.execution_count = None
    return student


def exercises(notebooks: list[Path] | None = None) -> list[tuple[str, str, str]]:
    """Every exercise of the course: ``(notebook slug, "Exercise N", its first sentence)``.

    Read from the markdown cells that announce an exercise (``**Exercise N.** ...``, or with its
    difficulty, ``**Exercise N (★★).** ...``), in notebook order; the instructor guide's
    exercise table is checked against this list.
    """
    import nbformat

    if notebooks is None:
        notebooks = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    found = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for match in re.finditer(r"\*\*(Exercise\s+\d+[a-z]?)(?:\s*\([^)]*\))?\.?\*\*\.?"
                                     r"\s*(.+?)(?:(?<=[.?!])\s|\n\n|$)", cell.source, re.S):
                found.append((Path(path).stem, match.group(1),
                              " ".join(match.group(2).split())))
    return found


def write_student_versions(out: Path | str = STUDENT_DIR,
                           notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student copy of every notebook (default: all of ``notebooks/``) into ``out``.

    Returns the written paths. The student copies import :mod:`mmlib` like the full ones, so
    they run wherever the course is installed.
    """
    import nbformat

    out = Path(out)
    if notebooks is None:
        notebooks = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise ValueError("notebooks must name at least one notebook, got none.")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        path = Path(path)
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"notebooks must be existing .ipynb files, got {str(path)!r}.")
        target = out / path.name
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written
