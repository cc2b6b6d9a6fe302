"""Student versions: exercise answers become stubs, everything else is kept, and the stubs fail
exactly where the exercises are (checked structurally for every notebook, by execution for one)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from mmlib import classroom, cli
from mmlib.env import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = ["00_welcome.ipynb"]
"""Student copies executed in full (the others are checked structurally: cheap)."""


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and classroom.SOLUTION_TAG in cell.metadata.get("tags", [])


def test_stub_of_assignments_functions_and_the_rest():
    source = ('import numpy as np\nx = np.ones(3) * 2\na, b = 1, 2\nn: int = 4\n'
              'def f(x: float) -> float:\n    """Twice x."""\n    y = 2 * x\n    return y\n'
              'print(x)\n')
    stub = classroom.solution_stub(source, "Exercise 3")
    assert stub.splitlines() == [
        "x = ...  # your code here", "a, b = ..., ...  # your code here",
        "n = ...  # your code here", "def f(x: float) -> float:", '    """Twice x."""',
        '    raise NotImplementedError("Exercise 3: write the body of f")']
    compile(stub, "<stub>", "exec")


def test_stub_refuses_what_it_cannot_stub():
    with pytest.raises(ValueError, match="must assign a name or define a function"):
        classroom.solution_stub("print('the answer is 4')")
    with pytest.raises(ValueError, match="syntax error"):
        classroom.solution_stub("x = (")
    with pytest.raises(TypeError, match="source must be a string, got int"):
        classroom.solution_stub(3)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_changes_only_the_solution_cells(path):
    nb = nbformat.read(path, as_version=4)
    student = classroom.student_notebook(nb)
    assert len(student.cells) == len(nb.cells)
    n_solutions = 0
    for full, stud in zip(nb.cells, student.cells, strict=True):
        if is_solution(full):
            n_solutions += 1
            assert stud.outputs == []
            assert "= ..." in stud.source or "NotImplementedError" in stud.source
            assert stud.source != full.source
            compile(stud.source, path.name, "exec")
        else:
            assert stud == full, "a cell that is not a solution must be kept as it is"
    assert n_solutions >= 2, f"{path.name}: a notebook has at least two exercises"


def test_mmcourse_student_writes_every_notebook(tmp_path, capsys):
    assert cli.main(["student", "--out", str(tmp_path / "s")]) == 0
    assert sorted(p.name for p in (tmp_path / "s").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert cli.main(["student", "--out", str(tmp_path), "README.md"]) == 1
    assert "must be existing .ipynb files, got 'README.md'" in capsys.readouterr().err


@pytest.mark.parametrize("name", EXECUTED)
def test_student_copy_fails_only_at_the_exercises(tmp_path, name):
    from nbclient import NotebookClient

    path = classroom.write_student_versions(tmp_path, [REPO_ROOT / "notebooks" / name])[0]
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(REPO_ROOT / "notebooks")}}).execute()
    failed = {i: next(o for o in c.outputs if o.output_type == "error")
              for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
                  o.output_type == "error" for o in c.outputs)}
    exercises = [i for i, c in enumerate(nb.cells) if is_solution(c)]
    checks = [next(j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code")
              for i in exercises]
    assert set(failed) == set(checks), (
        f"only the check after each exercise may fail; failed cells {sorted(failed)}, "
        f"exercise checks {checks}: "
        + "; ".join(f"{i}: {e.ename}: {e.evalue}" for i, e in failed.items()))
    for i in checks:
        err = failed[i]
        assert err.ename in ("ExerciseFailed", "NotImplementedError"), (err.ename, err.evalue)
        assert "placeholder" in err.evalue or "write the body" in err.evalue, err.evalue


def test_student_folder_is_not_committed():
    assert "student/" in Path(REPO_ROOT / ".gitignore").read_text().splitlines()


def test_instructor_guide_lists_every_exercise():
    text = (REPO_ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    body = text.split("<!-- exercises:start -->", 1)[1].split("<!-- exercises:end -->", 1)[0]
    listed = set()
    for line in body.strip().splitlines()[2:]:  # after the header and its separator
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4 and set(cells[2]) <= {"★"} and cells[2], line
        listed.add((cells[0].strip("`"), cells[1]))
    found = {(slug, name) for slug, name, _ in classroom.exercises()}
    assert listed == found, (f"docs/teaching.md lacks {sorted(found - listed)} and lists "
                             f"exercises that do not exist: {sorted(listed - found)}")


def test_exercises_are_found_with_or_without_a_stated_difficulty(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("**Exercise 1.** Count the weights. Then more."),
        nbformat.v4.new_markdown_cell("**Exercise 2 (★★).** Quantize $W$ to int8.\n\nHint."),
        nbformat.v4.new_markdown_cell("An **Exercise** without a number is not one.")])
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    assert classroom.exercises([path]) == [("07_demo", "Exercise 1", "Count the weights."),
                                           ("07_demo", "Exercise 2", "Quantize $W$ to int8.")]
