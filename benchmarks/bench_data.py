"""Benchmark the dataset generators: time for 5,000 samples on one core, memory at default size.

Usage::

    python benchmarks/bench_data.py              # all datasets, 3 repeats
    python benchmarks/bench_data.py --repeats 5 drive watch

For each dataset it reports, on ONE CPU core (the process is pinned with ``sched_setaffinity``
where the OS allows it, and BLAS / OpenMP pools are limited to one thread):

* the wall-clock and CPU time to generate 5,000 samples (best of ``--repeats`` runs, after one
  warm-up run that also fills the caches of the shipped audio and scikit-learn's digits);
* the CPU time to load the *default* size (best of ``--repeats`` runs);
* the peak memory of loading the *default* size, measured in a fresh subprocess: the peak of
  Python/NumPy allocations (``tracemalloc``) and the process's peak resident set size.

The course's requirements are <= 3 s for 5,000 samples, <= 1 s for the default size and < 500 MB
at the default size. On a busy machine the wall-clock time includes waiting for the CPU; the CPU
time does not (but it still grows a little when other processes share the CPU's caches).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

N_BENCH = 5000
LIMIT_S = 3.0
LIMIT_DEFAULT_S = 1.0
LIMIT_MB = 500.0

_MEMORY_PROBE = """
import json, sys, tracemalloc
from mmlib import data

def peak_rss_mb():  # VmHWM: this process's own high-water mark (ru_maxrss survives exec)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3

name = sys.argv[1]
data.load(name, n_samples=8)  # imports and caches first, so the peak is the dataset itself
base = peak_rss_mb()
tracemalloc.start()
ds = data.load(name)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
size = sum(a.nbytes for d in (ds.modalities, ds.labels, ds.masks, ds.metadata) for a in d.values())
print(json.dumps({"n": len(ds), "peak_mb": peak / 1e6, "rss_mb": peak_rss_mb(),
                  "base_rss_mb": base, "size_mb": size / 1e6}))
"""


def pin_to_one_core() -> str:
    """Pin this process to one CPU core; return a description."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core} of {os.cpu_count()}"
    return "not pinned (no sched_setaffinity on this OS); BLAS limited to 1 thread"


def time_generation(name: str, repeats: int) -> tuple[float, float, float, float]:
    """(best wall s, best CPU s, first-call wall s) for N_BENCH samples, and the best CPU s of
    loading the default size."""
    from mmlib import data

    t0 = time.perf_counter()
    data.load(name, n_samples=N_BENCH, seed=0)  # warm-up: imports, caches
    first = time.perf_counter() - t0
    walls, cpus, defaults = [], [], []
    for r in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        data.load(name, n_samples=N_BENCH, seed=r + 1)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        c0 = time.process_time()
        data.load(name, seed=r + 1)
        defaults.append(time.process_time() - c0)
    return min(walls), min(cpus), first, min(defaults)


def memory_of_default(name: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, name], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from mmlib import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(data.DATASETS),
                        help=f"datasets to benchmark (default: all of {list(data.DATASETS)})")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in data.DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {list(data.DATASETS)}")
    where = pin_to_one_core()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"mmlib.data benchmark: {N_BENCH} samples, {where}, load average {load:.2f}")
    header = (f"{'dataset':<16} {'5k wall s':>9} {'5k CPU s':>9} {'1st call s':>10} "
              f"{'default n':>9} {'default s':>9} {'arrays MB':>9} {'peak MB':>8} "
              f"{'peak RSS MB':>11}  verdict")
    print(header)
    print("-" * len(header))
    ok = True
    for name in args.names:
        wall, cpu, first, default = time_generation(name, args.repeats)
        mem = memory_of_default(name)
        good = (cpu <= LIMIT_S and default <= LIMIT_DEFAULT_S and mem["peak_mb"] < LIMIT_MB
                and mem["rss_mb"] < LIMIT_MB)
        ok &= good
        print(f"{name:<16} {wall:9.2f} {cpu:9.2f} {first:10.2f} {mem['n']:9d} {default:9.2f} "
              f"{mem['size_mb']:9.1f} {mem['peak_mb']:8.1f} {mem['rss_mb']:11.0f}  "
              f"{'ok' if good else 'TOO SLOW / TOO BIG'}")
    print(f"\nlimits: 5k samples <= {LIMIT_S:.0f} s of one core (CPU time); the default size <= "
          f"{LIMIT_DEFAULT_S:.0f} s (CPU time); loading the default "
          f"size < {LIMIT_MB:.0f} MB, both for NumPy allocations at peak (tracemalloc) and for the "
          f"whole process (peak RSS, which includes Python, NumPy and scikit-learn: "
          f"~{mem['base_rss_mb']:.0f} MB before loading).")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
