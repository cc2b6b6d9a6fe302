"""Run every benchmark and regenerate ``docs/benchmarks.md`` from the results.

One command for issue 16's report::

    python benchmarks/run_all.py                  # all seven, 3 repeats each (about an hour)
    python benchmarks/run_all.py --only training pipeline
    python benchmarks/run_all.py --render-only    # rebuild the page from the stored JSON

Each benchmark runs in a fresh process (``benchmarks/bench_<name>.py --repeats N --json
docs/benchmarks/<name>.json``; the fusion benchmark also draws ``docs/benchmarks/fusion.png``).
The page's generated part -- the machine and one section per benchmark (description, table,
goal, verdict, figures) -- sits between the ``results`` markers of ``docs/benchmarks.md``; the
hand-written text around it is kept. Run it on a quiet machine: other work on the CPU shows up
in every number.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
# issue 16's order: budget, training, input pipeline, generators, fusion, deployment, CPU settings
BENCHMARKS = ("course", "training", "pipeline", "data", "fusion", "deploy", "cpu")
EXTRA_ARGS = {"fusion": ["--plot", "docs/benchmarks/fusion.png"]}  # relative to ROOT (cwd)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    versions = subprocess.run(
        [sys.executable, "-c", "import mmlib.env; mmlib.env.quiet_tensorflow()\n"
         "import numpy, tensorflow as tf, keras; "
         "print(tf.__version__, keras.__version__, numpy.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    return {"CPU": f"{cpu}, {os.cpu_count()} cores", "memory": memory, "GPU": "none used",
            "OS": f"{platform.system()} {platform.release()}",
            "Python": platform.python_version(), "TensorFlow": versions[0],
            "Keras": versions[1], "NumPy": versions[2],
            "date": datetime.date.today().isoformat()}


def run(name: str, repeats: int) -> float:
    """Run one benchmark in a fresh process; return its wall seconds."""
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--repeats", str(repeats),
           "--json", str(OUT / f"{name}.json"), *EXTRA_ARGS.get(name, [])]
    print(f"== {name}: {' '.join(Path(c).name if '/' in c else c for c in cmd[1:])}",
          flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def table(columns: list[str], rows: list[list[str]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(info: dict[str, str], took: dict[str, float]) -> str:
    parts = ["## Machine", "", table(["", ""], [[k, v] for k, v in info.items()]), ""]
    for number, name in enumerate(BENCHMARKS, start=1):
        path = OUT / f"{name}.json"
        if not path.exists():
            parts += [f"## {number}. {name}", "", "*Not run yet.*", ""]
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        parts += [f"## {number}. {result['title']}", "",
                  f"`python benchmarks/bench_{name}.py`"
                  + (f" (took {took[name] / 60:.1f} min in the last full run)"
                     if name in took else ""), "",
                  result["description"], "", table(result["columns"], result["rows"]), "",
                  f"**Goal:** {result['goal']}", "", f"**Measured:** {result['verdict']}", ""]
        for figure in result.get("figures", []):
            rel = os.path.relpath(ROOT / figure if not Path(figure).is_absolute() else figure,
                                  PAGE.parent)
            parts += [f"![{result['title']}]({rel})", ""]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--render-only", action="store_true",
                        help="do not run anything: rebuild the page from the stored JSON")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    timing_file = OUT / "run_times.json"
    took = json.loads(timing_file.read_text()) if timing_file.exists() else {}
    info_file = OUT / "machine.json"
    if not args.render_only:
        for name in args.only or BENCHMARKS:
            took[name] = run(name, args.repeats)
        timing_file.write_text(json.dumps(took, indent=2) + "\n")
        info_file.write_text(json.dumps(machine(), indent=2) + "\n")
    info = json.loads(info_file.read_text()) if info_file.exists() else machine()
    page = PAGE.read_text(encoding="utf-8")
    if START not in page or END not in page:
        raise SystemExit(f"{PAGE} lacks the markers {START} and {END}")
    head, rest = page.split(START, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(f"{head}{START}\n{render(info, took)}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
