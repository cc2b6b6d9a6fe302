"""Benchmark: TensorFusion (+ Dense) vs LowRankFusion: parameters, time and peak memory.

TFN (Zadeh et al., 2017) forms the full outer product of the M modality vectors extended by a
constant 1, a tensor of ``∏_m (d_m + 1)`` entries per sample, and a ``Dense(units)`` on top has
``units·∏_m (d_m + 1)`` weights. LMF (Liu et al., 2018) computes the same kind of map with
rank-R modality-specific factors, ``R·units·Σ_m (d_m + 1)`` weights, never forming the tensor.

For each configuration (M modalities, all of size d; a fixed batch) this measures, on the CPU:

* ``params``: trainable parameters (TFN: of the Dense layer after TensorFusion; LMF: all);
* ``fwd ms``: wall time of one forward pass of the batch (``tf.function``, output fetched);
* ``step ms``: wall time of one training step: forward, mean-squared-error loss against a fixed
  target, ``GradientTape`` backward and a plain SGD update (``tf.function``);
* ``weights MB``: float32 bytes of the parameters (resident before the call, so not part of
  the growth below);
* ``fwd MB`` / ``step MB``: **measured** peak memory of one forward pass / one training step: the
  growth of the process's peak resident set size (``VmHWM`` in ``/proc/self/status``) above its
  current size, after the peak was reset (``echo 5 > /proc/self/clear_refs``) right before the
  call. glibc's malloc is told (``mallopt``, before TensorFlow loads) to serve every block above
  64 kB with its own ``mmap`` and to give freed memory back at once, so each call starts from the
  same state and the measurement can be repeated in one process (TensorFlow's CPU allocator does
  not pool; oneDNN is off), instead of paying a TensorFlow import per run in fresh processes.
  Smaller blocks come from memory malloc already holds, and pages are 4 kB, so values below
  about 0.1 MB read as 0: LMF's activations are that small;
* ``fwd activations MB (analytic)``: float32 bytes of the fused activations + output of a
  forward pass (TFN: ``batch·∏(d_m+1) + batch·units``; LMF: the ``(batch, rank, units)`` product
  of factor projections + output), what the measured forward growth should be close to. A
  training step adds the gradients (of the weights, and for TFN of the fused tensor). Where
  ``/proc`` or glibc is missing (not Linux), memory is not measured (NaN).

Every time and memory figure is the median of ``--repeats`` runs (default 3) with min–max; a
time run is the mean of enough back-to-back calls (at most 50) to last about 0.1 s; untimed
warm-up calls (tracing) come first. TFN configurations whose weights + forward activations
exceed ``--max-mb`` are not run (their row shows the analytic numbers and "skipped").

Run: ``python benchmarks/bench_fusion.py [--repeats 3] [--json out.json] [--plot fusion.png]``
(about 90 s of CPU time: 2 minutes on a quiet 2-core machine, 5 on a busy one); ``--quick`` is
a smoke test (tiny sizes, 1 repeat; a ``--plot`` goes to a temporary directory).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from _stats import median_range  # benchmarks/_stats.py: the script's own folder


def _configure_malloc() -> bool:
    """Large blocks via their own mmap, no dynamic threshold, no retention (glibc only)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 64 * 1024)
                    and libc.mallopt(m_trim_threshold, 128 * 1024))
    except (OSError, AttributeError):
        return False


MALLOC_CONFIGURED = _configure_malloc()  # before NumPy / TensorFlow allocate anything

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

import mmlib.env  # noqa: E402

mmlib.env.quiet_tensorflow()  # before TensorFlow loads: no C++ log lines in the output

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmlib.fusion import LowRankFusion, TensorFusion  # noqa: E402

BYTES = 4  # float32
MB = 2**20
METHODS = ("TFN", "LMF")


# --------------------------------------------------------------------------------------------
# analytic numbers
# --------------------------------------------------------------------------------------------
def tfn_numbers(m: int, d: int, batch: int, units: int) -> tuple[int, float]:
    """(parameters, analytic MB of the forward activations) of TensorFusion + Dense(units)."""
    size = (d + 1) ** m
    params = size * units + units
    return params, (batch * size + batch * units) * BYTES / MB


def lmf_numbers(m: int, d: int, batch: int, units: int, rank: int) -> tuple[int, float]:
    """(parameters, analytic MB of the forward activations) of LowRankFusion(units, rank)."""
    params = rank * units * m * (d + 1) + rank + units
    return params, (batch * rank * units + batch * units) * BYTES / MB


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_growth_mb(fn: Callable[[], object]) -> float:
    """Growth of the peak RSS (MB) during ``fn()``, after resetting the peak; NaN if unknown."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # reset VmHWM to the current VmRSS (Linux >= 4.0)
    except OSError:
        return math.nan
    before = _status_kb("VmRSS")
    fn()
    peak = _status_kb("VmHWM")
    if before is None or peak is None:
        return math.nan
    return max(peak - before, 0) / 1024


TARGET_S = 0.1  # seconds per timing run (--quick: less)


def time_runs_ms(fn: Callable[[], object], repeats: int) -> list[float]:
    """``repeats`` runs, each the mean ms per call over enough calls to last ~``TARGET_S``."""
    start = time.perf_counter()
    fn()  # one more untimed call: sizes the runs
    once = time.perf_counter() - start
    number = int(min(50, max(1, math.ceil(TARGET_S / max(once, 1e-6)))))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append(1e3 * (time.perf_counter() - start) / number)
    return runs


def build(method: str, m: int, d: int, units: int, rank: int, seed: int
          ) -> tuple[keras.Model, int]:
    """A model ``[(batch, d)] * m -> (batch, units)`` and its trainable parameter count."""
    inputs = [keras.Input((d,), name=f"z{i}") for i in range(m)]
    if method == "TFN":
        out = keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(seed))(
            TensorFusion()(inputs))
    else:
        out = LowRankFusion(units, rank, seed=seed)(inputs)
    model = keras.Model(inputs, out)
    return model, model.count_params()


def measure(method: str, m: int, d: int, batch: int, units: int, rank: int, repeats: int,
            seed: int) -> dict:
    """Time and peak-memory runs of the forward pass and of one training step (+ ``count``)."""
    keras.backend.clear_session()
    gc.collect()
    rng = np.random.default_rng(seed)
    xs = [tf.constant(rng.normal(size=(batch, d)), tf.float32) for _ in range(m)]
    target = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    model, count = build(method, m, d, units, rank, seed)
    weights = model.trainable_variables
    optimizer = keras.optimizers.SGD(1e-4)
    optimizer.build(weights)

    @tf.function
    def forward(z: list[tf.Tensor]) -> tf.Tensor:
        return model(z, training=False)

    @tf.function
    def train_step(z: list[tf.Tensor], y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(z, training=True) - y))
        optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    calls = {"fwd": lambda: forward(xs).numpy(), "step": lambda: train_step(xs, target).numpy()}
    result: dict = {"count": count}
    for name, call in calls.items():
        call()  # warm-up: tracing, first allocations
        result[f"{name}_mb"] = [peak_growth_mb(call) for _ in range(repeats)]
        result[f"{name}_ms"] = time_runs_ms(call, repeats)
    return result


def run(modalities: Sequence[int] = (2, 3, 4), sizes: Sequence[int] = (8, 16, 32, 64),
        batch: int = 32, units: int = 16, rank: int = 4, repeats: int = 3,
        max_mb: float = 512.0, seed: int = 0) -> list[dict]:
    """Run the grid; one dict per (M, d) with analytic numbers and the raw runs of both methods."""
    rows = []
    for m in modalities:
        for d in sizes:
            t_params, t_mem = tfn_numbers(m, d, batch, units)
            l_params, l_mem = lmf_numbers(m, d, batch, units, rank)
            row: dict = dict(M=m, d=d, fused=(d + 1) ** m,
                             TFN=dict(params=t_params, analytic_mb=t_mem),
                             LMF=dict(params=l_params, analytic_mb=l_mem))
            for method in METHODS:
                if method == "TFN" and t_mem + t_params * BYTES / MB > max_mb:
                    row[method]["skipped"] = True
                    continue
                row[method].update(measure(method, m, d, batch, units, rank, repeats, seed))
                assert row[method].pop("count") == row[method]["params"], (method, m, d)
            rows.append(row)
            print(f"  M={m} d={d:3d} done", file=sys.stderr, flush=True)
    return rows


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------
def med(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt(values: Sequence[float] | None, digits: int = 2) -> str:
    """``median (min–max)``; a single run is printed alone."""
    if not values:
        return "skipped"
    if any(math.isnan(v) for v in values):
        return "n/a"
    return median_range(values, digits)


COLUMNS = ["M", "d", "∏(d+1)", "method", "params", "weights MB", "fwd ms", "step ms",
           "fwd MB (measured)", "fwd activations MB (analytic)", "step MB (measured)"]


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        for method in METHODS:
            x = r[method]
            out.append([str(r["M"]), str(r["d"]), f"{r['fused']:,}", method, f"{x['params']:,}",
                        f"{x['params'] * BYTES / MB:.3f}", fmt(x.get("fwd_ms")),
                        fmt(x.get("step_ms")), fmt(x.get("fwd_mb")), f"{x['analytic_mb']:.3f}",
                        fmt(x.get("step_mb"))])
    return out


def markdown(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    """Ratios TFN / LMF at the largest configuration where both ran (same run's medians)."""
    both = [r for r in rows if not r["TFN"].get("skipped")]
    if not both:
        return "No configuration ran both methods."
    r = max(both, key=lambda row: row["fused"])
    t, low = r["TFN"], r["LMF"]
    parts = [f"At M={r['M']}, d={r['d']} (fused tensor {r['fused']:,} per sample), TFN has "
             f"{t['params'] / low['params']:,.0f}× the parameters of LMF and takes "
             f"{med(t['fwd_ms']) / med(low['fwd_ms']):.1f}× the time per forward pass and "
             f"{med(t['step_ms']) / med(low['step_ms']):.1f}× per training step"]
    t_mb, l_mb = med(t["step_mb"]), med(low["step_mb"])
    if not math.isnan(t_mb):
        lmf_text = (f"{l_mb:.2f} MB" if l_mb >= 0.1 else "below the 0.1 MB noise level")
        parts.append(f"; its training step's measured peak memory growth is {t_mb:.1f} MB "
                     f"(LMF: {lmf_text})")
    skipped = [f"M={x['M']}, d={x['d']}" for x in rows if x["TFN"].get("skipped")]
    if skipped:
        parts.append(f". TFN was not run at {', '.join(skipped)} (analytic weights + "
                     "activations above the limit), where LMF still ran")
    small = min(both, key=lambda row: row["fused"])
    ratio = med(small["TFN"]["fwd_ms"]) / med(small["LMF"]["fwd_ms"])
    parts.append(f". At the smallest size (M={small['M']}, d={small['d']}) the TFN / LMF forward "
                 f"time ratio is only {ratio:.1f}: per-call overhead dominates there.")
    return "".join(parts)


def plot(rows: list[dict], path: str, batch: int, units: int, rank: int) -> None:
    """2×2 panels vs feature size d, for M = 2 and 3: params, forward ms, step ms, step MB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = [("params", "Trainable parameters", "parameters"),
              ("fwd_ms", f"Forward pass (batch {batch})", "time per call (ms)"),
              ("step_ms", "Training step: forward + backward + SGD", "time per step (ms)"),
              ("step_mb", "Measured peak memory growth of a training step", "peak RSS growth (MB)")]
    colors = {"TFN": "tab:red", "LMF": "tab:blue"}
    styles = {2: ("-", "o"), 3: ("--", "s")}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    floor = 0.01  # MB: measured growths below this are shown at the floor (log scale)
    for ax, (key, title, ylabel) in zip(axes.flat, panels, strict=True):
        for method in METHODS:
            for m, (ls, marker) in styles.items():
                sel = [r for r in rows
                       if r["M"] == m and (key == "params" or key in r[method])]
                if not sel:
                    continue
                ds = [r["d"] for r in sel]
                label = f"{method}, M={m}"
                if key == "params":
                    ax.plot(ds, [r[method]["params"] for r in sel], ls=ls, marker=marker,
                            color=colors[method], label=label)
                    continue
                runs = [r[method][key] for r in sel]
                mid = np.array([max(med(v), floor) for v in runs])
                lo = np.array([max(min(v), floor) for v in runs])
                hi = np.array([max(max(v), floor) for v in runs])
                ax.errorbar(ds, mid, yerr=[mid - lo, hi - mid], ls=ls, marker=marker,
                            color=colors[method], capsize=3, label=label)
        if key == "step_mb":
            for method in METHODS:
                for m in styles:
                    sel = [r for r in rows if r["M"] == m]
                    ax.plot([r["d"] for r in sel], [r[method]["analytic_mb"] for r in sel],
                            ls=":", color=colors[method], alpha=0.6, lw=1)
            ax.plot([], [], ls=":", color="gray", label="analytic forward activations")
            ax.axhline(floor, color="gray", lw=0.5)
            ax.text(0.99, 0.01, f"values ≤ {floor} MB (page-level noise) drawn on the grey line",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="gray")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["d"] for r in rows}))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_yscale("log")
        if key == "step_mb":
            ax.set_ylim(floor / 4, 3 * ax.get_ylim()[1])
        ax.set_title(title)
        ax.set_xlabel("feature size d of each modality (log scale)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"TensorFusion + Dense (TFN) vs LowRankFusion (LMF): units={units}, "
                 f"rank={rank}, batch={batch}; CPU, median and min–max of runs")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _no_nan(x: object) -> object:
    """NaN -> None (strict JSON), recursively."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_no_nan(v) for v in x]
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-mb", type=float, default=512.0,
                        help="skip running TFN configurations whose analytic memory exceeds this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write the figure (PNG) here")
    args = parser.parse_args()
    if args.quick:
        modalities, sizes, repeats = (2, 3), (4, 8), 1
        global TARGET_S
        TARGET_S = 0.01
    else:
        modalities, sizes, repeats = (2, 3, 4), (8, 16, 32, 64), args.repeats
    if repeats < 1:
        parser.error("--repeats must be >= 1")

    start = time.perf_counter()
    rows = run(modalities, sizes, args.batch, args.units, args.rank, repeats, args.max_mb,
               args.seed)
    figures = []
    if args.plot:
        path = args.plot
        if args.quick:  # smoke test: never overwrite the real figure
            path = os.path.join(tempfile.mkdtemp(prefix="bench_fusion_"),
                                os.path.basename(args.plot))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        plot(rows, path, args.batch, args.units, args.rank)
        figures.append(path if os.path.isabs(path) else os.path.relpath(path))
    memory_note = ("measured" if MALLOC_CONFIGURED and not math.isnan(
        rows[0]["LMF"]["fwd_mb"][0]) else "NOT measured on this system (no /proc or glibc)")
    head = (f"batch={args.batch}, units={args.units}, LMF rank={args.rank}; median (min–max) of "
            f"{repeats} run(s); memory {memory_note}: peak RSS growth during one call")
    rows_fmt = table_rows(rows)
    print(head + "\n")
    print(markdown(COLUMNS, rows_fmt))
    text = verdict(rows)
    print("\n" + text)
    print(f"\n(total {time.perf_counter() - start:.0f} s)", file=sys.stderr)
    if args.json:
        description = (
            "TensorFusion + Dense (TFN) against LowRankFusion (LMF) for M modalities of equal "
            f"size d, batch {args.batch}, {args.units} output units, LMF rank {args.rank}, on "
            "the CPU. Times: one forward pass and one training step (forward, MSE loss, "
            "backward, SGD update) as `tf.function`s, after warm-up. Memory: **measured** growth "
            "of the process's peak resident set size during one call (VmHWM after resetting it "
            "via /proc/self/clear_refs; glibc malloc set to mmap and release blocks above "
            "64 kB, so repeated calls start from the same state); values below ~0.1 MB read "
            "as about 0 (LMF's activations are that small). The analytic column counts the float32 "
            "fused activations + output of a forward pass; the weights (resident before the "
            "call) are listed separately. TFN configurations whose weights + activations exceed "
            f"{args.max_mb:.0f} MB are skipped.")
        doc = {"benchmark": "fusion",
               "title": "TensorFusion vs LowRankFusion: parameters, time and peak memory",
               "description": description, "columns": COLUMNS, "rows": rows_fmt,
               "goal": "TensorFusion vs LowRankFusion: parameters, time and peak memory vs "
                       "modalities and feature size (a plot).",
               "verdict": text, "figures": figures,
               "raw": {"batch": args.batch, "units": args.units, "rank": args.rank,
                       "repeats": repeats, "memory_measured": memory_note == "measured",
                       "rows": rows}}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(_no_nan(doc), f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
