"""``mmcourse``: the course's command line.

``mmcourse doctor``
    A table of what the course needs and what this machine has, ending with a verdict. Exits 1 when
    something required is missing or too old, naming the fix.
``mmcourse execute [NOTEBOOK ...]``
    Runs notebooks in place, each in a fresh kernel (all of ``notebooks/`` by default), stores clean
    outputs and prints each notebook's wall time. Exits 1 naming the notebook and cell that failed.
``mmcourse student [--out DIR] [NOTEBOOK ...]``
    Writes student copies of the notebooks into ``DIR`` (default ``student/``): each exercise's
    ``solution`` cell becomes a stub (see :mod:`mmlib.classroom`); nothing else changes.
``mmcourse slides [--vendor] [NOTEBOOK ...]``
    Builds one offline reveal.js deck per notebook into ``slides/NN_slug.slides.html`` (all of
    ``notebooks/`` by default; see :mod:`mmlib.slides`). ``--vendor`` instead refreshes
    ``slides/vendor/`` (reveal.js and MathJax) from the npm packages pinned in ``slides/``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmlib.env import REPO_ROOT, datasets_dir, quiet_tensorflow

# --------------------------------------------------------------------------------------- doctor

#: distribution name -> import name, where they differ
IMPORT_NAMES: dict[str, str] = {"scikit-learn": "sklearn", "pytest-xdist": "xdist"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)(?:;(.*))?$")


def requirements(declared: Sequence[str] | None = None) -> list[tuple[str, str, str, bool]]:
    """What ``mmcourse doctor`` checks: ``(import name, distribution, minimum version, required)``.

    The one source of the version floors is ``pyproject.toml``: its ``dependencies`` (required)
    and ``dev`` extra (optional, for tests), read back from the installed package's metadata
    (``declared``: requirement strings, for tests). The ``gpu`` extra is not checked.
    """
    if declared is None:
        from importlib import metadata

        try:
            declared = metadata.requires("mmlib") or []
        except metadata.PackageNotFoundError:  # running from a checkout that was never installed
            declared = []
    out = []
    for text in declared:
        match = _REQUIREMENT.match(text)
        if match is None:
            raise ValueError(f"requirement {text!r} is not of the form 'name>=version; marker'.")
        dist, _extras, spec, marker = match.groups()
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", marker or "")
        if extra is not None and extra.group(1) != "dev":
            continue
        floor = re.search(r">=\s*([0-9][^,\s]*)", spec)
        out.append((IMPORT_NAMES.get(dist, dist.replace("-", "_")), dist,
                    floor.group(1) if floor else "0", extra is None))
    return out


MIN_PYTHON = (3, 10)
MIN_FREE_GIB = 2.0


@dataclass
class Check:
    """One row of the doctor's table."""

    item: str
    found: str
    needed: str
    status: str  # "ok", "warn" or "FAIL"
    fix: str = ""


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in re.split(r"[.+-]", text):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def _check_package(module: str, dist: str, minimum: str, required: bool) -> Check:
    from importlib import metadata

    bad = "FAIL" if required else "warn"
    extra = "" if required else " (for tests: pip install -e '.[dev]')"
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install failing inside its import
        why = "missing" if isinstance(exc, ImportError) else f"broken ({type(exc).__name__})"
        return Check(dist, why, f">= {minimum}", bad, f"pip install '{dist}>={minimum}'{extra}")
    version = getattr(mod, "__version__", None)
    if not isinstance(version, str):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
    if _version_tuple(version) < _version_tuple(minimum):
        return Check(dist, version, f">= {minimum}", bad,
                     f"pip install --upgrade '{dist}>={minimum}'{extra}")
    return Check(dist, version, f">= {minimum}", "ok")


def _free_memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def doctor_checks() -> list[Check]:
    """Everything ``mmcourse doctor`` looks at, as a list of :class:`Check` rows."""
    checks: list[Check] = []
    py = platform.python_version()
    ok_py = sys.version_info[:2] >= MIN_PYTHON
    checks.append(Check("Python", py, ">= 3.10 (tested 3.11)", "ok" if ok_py else "FAIL",
                        "" if ok_py else "install Python 3.11 (see README, conda alternative)"))
    reqs = requirements()
    if not reqs:
        checks.append(Check("mmlib", "not installed", "pip install -e \".[dev]\"", "FAIL",
                            'run python -m pip install -e ".[dev]" in the course checkout'))
    checks += [_check_package(*req) for req in reqs]

    tf_ok = any(c.item == "tensorflow" and c.status == "ok" for c in checks)
    if tf_ok:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        found = f"{len(gpus)} GPU" if gpus else f"CPU only ({os.cpu_count()} cores)"
        checks.append(Check("devices", found, "CPU (a GPU is optional)", "ok"))
    else:
        checks.append(Check("devices", "unknown (TensorFlow missing)", "CPU", "FAIL",
                            "install TensorFlow first"))

    checks.append(_datasets_check())
    free = _free_memory_gib()
    if free is None:
        checks.append(Check("free memory", "unknown", f">= {MIN_FREE_GIB:.0f} GiB", "warn"))
    else:
        status = "ok" if free >= MIN_FREE_GIB else "warn"
        fix = "" if status == "ok" else "close other programs; notebooks need ~2 GiB"
        checks.append(Check("free memory", f"{free:.1f} GiB", f">= {MIN_FREE_GIB:.0f} GiB", status,
                            fix))
    return checks


def _datasets_check() -> Check:
    folder = datasets_dir()
    if not folder.is_dir():
        return Check("datasets", f"no folder {folder.name}/", "datasets/ of the checkout", "FAIL",
                     "run from a full clone of the course, or set MMLIB_DATASETS")
    try:
        from mmlib import data
    except ImportError:  # the data module is not there yet
        return Check("datasets", "folder present", "datasets/ of the checkout", "ok")
    verify = getattr(data, "verify_shipped", None)
    if verify is None:
        return Check("datasets", "folder present", "shipped files", "ok")
    status = verify()
    bad = {name: state for name, state in status.items() if state != "ok"}
    if bad:
        return Check("datasets", ", ".join(f"{k}: {v}" for k, v in bad.items()), "all files ok",
                     "FAIL", "restore them: git checkout -- datasets/")
    return Check("datasets", f"{len(status)} shipped files verified", "all files ok", "ok")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def doctor() -> int:
    """Print the doctor's table and verdict; return the exit code."""
    quiet_tensorflow()
    checks = doctor_checks()
    _print_table(["check", "found", "needed", "status"],
                 [(c.item, c.found, c.needed, c.status) for c in checks])
    failed = [c for c in checks if c.status == "FAIL"]
    warned = [c for c in checks if c.status == "warn"]
    print()
    if failed:
        print(f"Verdict: NOT READY — {len(failed)} problem(s):")
        for c in failed:
            print(f"  - {c.item}: {c.found}. Fix: {c.fix}")
        return 1
    note = f" ({len(warned)} warning(s): " + "; ".join(
        f"{c.item}: {c.fix or c.found}" for c in warned) + ")" if warned else ""
    print(f"Verdict: READY — the course runs on this machine{note}.")
    return 0


# -------------------------------------------------------------------------------------- execute

_NOISE = re.compile(
    r"oneDNN custom operations|^[IWE]0000 |Unable to register cu|TF_ENABLE_ONEDNN_OPTS|"
    r"absl::InitializeLog|could not find cuda drivers|rebuild TensorFlow with", re.M)
_ABSPATH = re.compile(r"(/root/|/work/|/tmp/tmp|/home/\w+/|/Users/\w+/|[A-Z]:\\\\Users\\\\)")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
MAX_WIDGET_STATE = 200_000


def output_problems(nb: dict) -> list[str]:
    """What a learner should never see in stored outputs: errors, TF log noise, machine paths."""
    problems = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if code and all(c.get("execution_count") is None for c in code):
        problems.append("stored without outputs")
    for i, cell in enumerate(code):
        tags = set(cell.get("metadata", {}).get("tags", []))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not tags & {"raises-exception",
                                                                  "nbval-raises-exception"}:
                problems.append(f"code cell {i}: stored error {out.get('ename')}")
            texts = [out.get("text", "")] + list(out.get("data", {}).values())
            text = "".join("".join(t) if isinstance(t, list) else str(t) for t in texts)
            if _NOISE.search(text):
                problems.append(f"code cell {i}: TensorFlow log noise")
            if _ABSPATH.search(text):
                problems.append(f"code cell {i}: machine path in output")
    if len(json.dumps(nb.get("metadata", {}).get("widgets", {}))) > MAX_WIDGET_STATE:
        problems.append("large saved widget state")
    return problems


def normalise(nb: dict) -> None:
    """Make a notebook's stored form independent of the machine that ran it."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    lang = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {k: lang[k] for k in ("name", "pygments_lexer") if k in lang}
    if len(json.dumps(nb.metadata.get("widgets", {}))) > MAX_WIDGET_STATE:
        del nb.metadata["widgets"]
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    _renumber_widgets(nb)


_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _renumber_widgets(nb) -> None:
    """Replace the random widget model ids by ``0000…0001``, ``0000…0002``, … in creation order.

    ipywidgets names every model with a fresh UUID, so without this each re-execution rewrites the
    saved widget state and the outputs that point into it, and a diff shows changes where nothing
    changed.
    """
    import nbformat

    state = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state")
    if not state:
        return
    new_ids = {old: f"{i:032x}" for i, old in enumerate(state, start=1)}
    pattern = re.compile("|".join(map(re.escape, new_ids)))

    def swap(text: str) -> str:
        return pattern.sub(lambda m: new_ids[m.group(0)], text)

    renumbered = nbformat.from_dict(json.loads(swap(json.dumps(state))))
    nb.metadata["widgets"][_WIDGET_STATE]["state"] = renumbered
    for cell in nb.cells:
        if cell.get("outputs"):
            cell["outputs"] = nbformat.from_dict(json.loads(swap(json.dumps(cell["outputs"]))))


def execute_notebook(path: Path, timeout: int = 600) -> float:
    """Execute ``path`` in place in a fresh kernel; return wall seconds. Raises on failure."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no TCP warning
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        raise NotebookFailed(path, index, f"{exc.ename}: {exc.evalue}") from None
    seconds = time.perf_counter() - start
    normalise(nb)
    problems = output_problems(nb)
    if problems:
        raise NotebookFailed(path, None, "; ".join(problems))
    nbformat.write(nb, path)
    paired = path.with_suffix(".py")
    if paired.exists():
        import jupytext

        jupytext.write(nb, paired, fmt="py:percent")
    return seconds


class NotebookFailed(RuntimeError):
    """A notebook raised, or left outputs that must not be stored."""

    def __init__(self, path: Path, cell: int | None, why: str) -> None:
        where = f" cell {cell}" if cell is not None else ""
        super().__init__(f"{_show(path)}{where}: {why}")


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def execute(paths: Sequence[str], timeout: int) -> int:
    """Execute notebooks (all of ``notebooks/`` when none are named); print a timing table."""
    if paths:
        files = [Path(p) for p in paths]
    else:
        files = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(f) for f in files if f.suffix != ".ipynb" or not f.is_file()]
    if missing:
        print(f"mmcourse execute: NOTEBOOK must be existing .ipynb files, got {missing}",
              file=sys.stderr)
        return 2
    rows, failed = [], []
    for f in files:
        print(f"executing {_show(f)} ...", flush=True)
        try:
            seconds = execute_notebook(f, timeout=timeout)
            rows.append((_show(f), f"{seconds:7.1f}", "ok"))
        except NotebookFailed as exc:
            rows.append((_show(f), "-", "FAILED"))
            failed.append(str(exc))
    print()
    _print_table(["notebook", "seconds", "status"], rows)
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


# ----------------------------------------------------------------------------------------- main

def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mmcourse`` (doctor, execute, student, slides); returns the exit status."""
    parser = argparse.ArgumentParser(prog="mmcourse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check that this machine can run the course")
    ex = sub.add_parser("execute", help="run notebooks in place, store clean outputs, time them")
    ex.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="default: all of notebooks/")
    ex.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    st = sub.add_parser("student", help="write student copies (exercise answers as stubs)")
    st.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="default: all of notebooks/")
    st.add_argument("--out", default="student", help="output folder (default: student/)")
    sl = sub.add_parser("slides", help="build offline reveal.js decks into slides/")
    sl.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="default: all of notebooks/")
    sl.add_argument("--vendor", action="store_true",
                    help="refresh slides/vendor/ from the pinned npm packages (runs npm ci)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor()
    if args.command == "student":
        return student(args.notebooks, args.out)
    if args.command == "slides":
        from mmlib.slides import main as slides_main

        return slides_main(args.notebooks, refresh_vendor=args.vendor)
    return execute(args.notebooks, args.timeout)


def student(paths: Sequence[str], out: str) -> int:
    """Write the student copies; print where each went."""
    from mmlib.classroom import write_student_versions

    try:
        written = write_student_versions(out, [Path(p) for p in paths] or None)
    except ValueError as exc:
        print(f"mmcourse student: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
