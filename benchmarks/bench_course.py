"""The course budget: each notebook's wall time in a fresh kernel, and the total.

Each notebook of ``notebooks/`` (the numbered ones and the capstone template) is executed the way
``mmcourse execute`` does it -- a fresh ``python3`` kernel, working directory ``notebooks/``,
``PYTHONHASHSEED=0`` -- but the executed copy is thrown away: the stored notebooks are not
touched. A run that raises, or leaves outputs that must not be stored (tracebacks, TensorFlow log
lines, absolute paths: :func:`mmlib.cli.output_problems`), fails the benchmark.

The whole sequence runs ``--repeats`` times (rounds, so that a burst of load on the machine hits
one round rather than one notebook's three runs). Per notebook: the median wall time with
min--max, and the kernel's CPU time (user + system, median); the total is the median of the
rounds' totals. The cells are timed too, and the slowest cell of each notebook is named.

Goals (issue 16): total ≤ 15 min and no notebook over 3 min on a 2-core CPU; aim ≤ 90 s each.

Run: ``python benchmarks/bench_course.py [--repeats 3] [--json out.json] [NOTEBOOK ...]``
(about 15 minutes per round on 2 cores). ``--quick`` runs notebook 00 once.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import nbformat
from _stats import median_range  # benchmarks/_stats.py: the script's own folder
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mmlib.cli import output_problems
from mmlib.env import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
GOAL_TOTAL_S, LIMIT_S, AIM_S = 15 * 60, 180, 90


def course_notebooks() -> list[Path]:
    """The numbered notebooks in order, then the capstone template."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(NOTEBOOKS.glob("capstone*.ipynb"))


def _seconds(cell: dict) -> float | None:
    meta = cell.get("metadata", {}).get("execution", {})
    start, end = meta.get("iopub.execute_input"), meta.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def run_notebook(path: Path, timeout: int = 900) -> dict:
    """Execute a copy of ``path`` in a fresh kernel: wall and kernel CPU seconds, slowest cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.parent)}})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        raise SystemExit(f"{path.name} failed: {exc.ename}: {exc.evalue}") from None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel, reaped at shutdown
    problems = output_problems(nb)
    if problems:
        raise SystemExit(f"{path.name} left outputs that must not be stored: {problems}")
    cells = [(s, i) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (s := _seconds(c)) is not None]
    slowest_s, slowest_i = max(cells) if cells else (0.0, -1)
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime),
            "slowest_cell": slowest_i, "slowest_cell_s": slowest_s}


def fmt(values: list[float], digits: int = 0) -> str:
    return median_range(values, digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: the whole course)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the notebooks")
    parser.add_argument("--quick", action="store_true", help="notebook 00 once (a smoke test)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    os.environ["PYTHONHASHSEED"] = "0"  # as `mmcourse execute`: set-ordering is reproducible
    if args.quick:
        paths, repeats = course_notebooks()[:1], 1
    else:
        paths = [Path(p).resolve() for p in args.notebooks] or course_notebooks()
        repeats = args.repeats
    runs: dict[str, list[dict]] = {p.stem: [] for p in paths}
    totals = []
    for round_ in range(repeats):
        total = 0.0
        for path in paths:
            result = run_notebook(path)
            runs[path.stem].append(result)
            total += result["wall"]
            print(f"round {round_ + 1}/{repeats}  {path.stem:<34} {result['wall']:6.1f} s",
                  file=sys.stderr, flush=True)
        totals.append(total)

    columns = ["notebook", "wall s, median (min–max)", "kernel CPU s", "slowest cell (s)",
               "≤ 90 s aim"]
    rows = []
    for name, results in runs.items():
        walls = [r["wall"] for r in results]
        slow = max(results, key=lambda r: r["slowest_cell_s"])
        slow_s = statistics.median(r["slowest_cell_s"] for r in results)
        rows.append([name, fmt(walls), fmt([r["cpu"] for r in results]),
                     f"cell {slow['slowest_cell']} ({slow_s:.0f})",
                     "yes" if statistics.median(walls) <= AIM_S else "no"])
    rows.append(["**total**", f"**{fmt(totals)}** (= {statistics.median(totals) / 60:.1f} min)",
                 fmt([sum(r[i]["cpu"] for r in runs.values()) for i in range(repeats)]), "", ""])
    total_med = statistics.median(totals)
    worst_name, worst = max(((n, statistics.median(r["wall"] for r in rs))
                             for n, rs in runs.items()), key=lambda t: t[1])
    over_aim = [n for n, rs in runs.items() if statistics.median(r["wall"] for r in rs) > AIM_S]
    verdict = (f"Total {total_med / 60:.1f} min (goal ≤ 15 min: "
               f"{'holds' if total_med <= GOAL_TOTAL_S else 'misses'} by "
               f"{abs(GOAL_TOTAL_S - total_med):.0f} s); the slowest notebook is {worst_name} at "
               f"{worst:.0f} s (limit 180 s: {'holds' if worst <= LIMIT_S else 'misses'}). "
               + (f"Over the 90 s aim: {', '.join(over_aim)}." if over_aim
                  else "Every notebook is within the 90 s aim."))
    width = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    for r in [columns, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, width, strict=True)))
    print(verdict)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "benchmark": "course", "title": "Course budget: every notebook in a fresh kernel",
            "description": (
                f"Each notebook executed as `mmcourse execute` does (fresh `python3` kernel, "
                f"working directory `notebooks/`, `PYTHONHASHSEED=0`), the executed copy "
                f"discarded; {repeats} round(s) over the {len(paths)} notebooks. Wall time "
                f"includes starting the kernel and importing TensorFlow (about 7 s of CPU per "
                f"notebook). Kernel CPU is user + system time of the kernel process; above the "
                f"wall time means both cores were busy."),
            "columns": columns, "rows": rows,
            "goal": "total ≤ 15 min, none over 3 min (aim ≤ 90 s each)",
            "verdict": verdict, "figures": [],
            "raw": {"repeats": repeats, "totals": totals, "runs": runs}},
            indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
