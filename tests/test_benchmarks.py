"""The benchmark scripts still run, and docs/benchmarks.md shows what their stored results say.

Each script runs once in ``--quick`` mode (tiny sizes, one repeat) in a fresh process: this
checks that it works and writes the JSON that ``benchmarks/run_all.py`` renders, not its numbers.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUN_ALL = _run_all()


@pytest.mark.parametrize("name", RUN_ALL.BENCHMARKS)
def test_benchmark_runs_quick_and_writes_its_json(name, tmp_path):
    out = tmp_path / f"{name}.json"
    proc = subprocess.run([sys.executable, str(BENCH / f"bench_{name}.py"), "--quick",
                           "--json", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    for key in ("benchmark", "title", "description", "columns", "rows", "goal", "verdict"):
        assert result.get(key), f"bench_{name}.py --json lacks {key!r}"
    assert all(len(row) == len(result["columns"]) for row in result["rows"])
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [out], "a benchmark wrote files outside --json"


def test_every_benchmark_is_listed_in_run_all():
    scripts = {p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py")}
    assert scripts - set(RUN_ALL.BENCHMARKS) == {"ogm"}  # an experiment, described in the page


def test_benchmarks_page_matches_the_stored_results():
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    generated = page.split(RUN_ALL.START, 1)[1].split(RUN_ALL.END, 1)[0].strip()
    info = json.loads((RUN_ALL.OUT / "machine.json").read_text(encoding="utf-8"))
    took = json.loads((RUN_ALL.OUT / "run_times.json").read_text(encoding="utf-8"))
    assert generated == RUN_ALL.render(info, took).strip(), (
        "docs/benchmarks.md is out of date: run python benchmarks/run_all.py --render-only")
    for name in RUN_ALL.BENCHMARKS:
        assert (RUN_ALL.OUT / f"{name}.json").is_file(), f"no stored result for {name}"
    for figure in (ROOT / "docs" / "benchmarks").glob("*.png"):
        assert f"benchmarks/{figure.name}" in page


def test_readme_links_the_benchmarks_page():
    assert "docs/benchmarks.md" in (ROOT / "README.md").read_text(encoding="utf-8")
