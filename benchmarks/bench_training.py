"""Training throughput: ``model.fit`` on ``to_tf_dataset`` against the seed article's loop.

The seed article (§5.2) trains with an eager loop at ``batch_size = 16``: Python batching,
``tf.GradientTape`` and an optimizer step per batch, no ``tf.function``. This script trains the
*same* course fusion model (``av_digits`` image 28×28 + log-mel audio 77×32, a 2-D ``image_cnn``
encoder on each, ``EarlyFusion``, a 10-way head: :func:`mmlib.train.build_fusion_model`) from the
*same* initial weights on the same data, at each batch size of ``--batch-sizes`` (default: the
seed's 16 and the course's 64), five ways:

* ``eager loop``: the seed's style -- NumPy slices in a Python loop, ``GradientTape``, eager;
* ``loop + tf.function``: the same loop, its step compiled to a graph (``@tf.function``);
* ``loop + jit_compile``: the step compiled by XLA (``@tf.function(jit_compile=True)``);
* ``fit (graph)``: ``model.compile(jit_compile=False)`` + ``model.fit`` on
  :meth:`MultimodalDataset.to_tf_dataset` (as the course does);
* ``fit (XLA)``: the same with ``jit_compile=True``.

Every variant is warmed up first (tracing and XLA compilation are not counted), then the timed
epochs run round-robin over the variants (``--repeats`` each) so that a busy machine slows all of
them alike. Each figure is the median samples/s with min--max; the ratio is to the eager loop at
the same batch size, measured in the same run. The issue's goal: ``fit`` ≥ 5× the eager loop.

Op determinism (on in every notebook, and here unless ``--no-determinism``) rules XLA out: TF has
no deterministic XLA MaxPool gradient, and Keras silently turns ``jit_compile=True`` off. Those
rows read "n/a" with the reason, and the script re-runs the XLA variants in a child process
without op determinism (rows marked "no op determinism"; their ratios are to this run's eager
loop).

Run: ``python benchmarks/bench_training.py [--repeats 3] [--batch-sizes 16 64] [--quick]
[--json out.json]`` (``--quick``: 64 samples, 1 repeat, no XLA child -- its compilations
alone take ~25 s -- a smoke test). Takes about 4--5 minutes on 2 quiet cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mmlib

mmlib.env.quiet_tensorflow()  # before TensorFlow loads: no C++ log lines

import keras
import numpy as np
import tensorflow as tf

from mmlib import data, train

QUICK_SAMPLES = 64  # --quick: 4 batches of 16, 1 of 64
SEED_BATCH = 16  # the seed article's batch_size (§5.2)
GOAL = 5.0
XLA_OFF_REASON = ("Keras turned jit_compile=True off: op determinism is enabled, which "
                  "model_supports_jit() rejects")
NO_DET = " (no op determinism)"

MODEL_DESCRIPTION = (
    "The course fusion model: `av_digits` (image 28×28 + log-mel audio 77×32), a 2-D `image_cnn` "
    "encoder per modality, `EarlyFusion`, a 10-way `digit` head "
    "(`train.build_fusion_model`, seed 0), Adam(1e-3), sparse categorical cross-entropy")


# -- shared with bench_pipeline.py --------------------------------------------------------------

class _DropRetracingWarning(logging.Filter):
    """Drops TF's "N out of the last N calls to ... triggered tf.function retracing" warning.

    It counts traces across *instances*: every fresh model traces its own ``train_function`` once
    (checked: one trace per model, none in timed epochs), which is warm-up, not retracing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_retracing_warning() -> None:
    tf.get_logger().addFilter(_DropRetracingWarning())


def load_course_data(samples: int | None = None) -> data.MultimodalDataset:
    """``av_digits`` with log-mel audio (seed 0), optionally only its first ``samples``."""
    ds = data.load("av_digits", seed=0, audio_features="log_mel")
    return ds if samples is None else ds.subset(np.arange(min(samples, len(ds))))


def course_arrays(ds: data.MultimodalDataset) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model inputs as float32 NumPy arrays and the ``digit`` labels."""
    x = {m: np.asarray(v, dtype="float32") for m, v in ds.modalities.items()}
    return x, np.asarray(ds.labels["digit"])


def make_model(ds: data.MultimodalDataset, weights: list[np.ndarray] | None = None
               ) -> keras.Model:
    """The course fusion model, optionally set to ``weights`` (same start for every variant)."""
    model = train.build_fusion_model(
        ds, encoders={"image": "image_cnn", "audio": "image_cnn"}, fusion="EarlyFusion",
        heads={"digit": 10}, seed=0)
    if weights is not None:
        model.set_weights(weights)
    return model


def op_determinism_enabled() -> bool:
    """Whether ``tf.config.experimental.enable_op_determinism()`` is in force."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    return bool(is_op_determinism_enabled())


def compile_for_fit(model: keras.Model, jit_compile: bool) -> str | None:
    """Compile for ``fit``; returns why XLA is off if ``jit_compile=True`` was not honoured.

    Keras replaces ``jit_compile=True`` by ``False`` (with a ``UserWarning``) when op
    determinism is on; the warning is swallowed here and reported as a reason instead.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
        model.compile(keras.optimizers.Adam(1e-3),
                      {"digit": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                      jit_compile=jit_compile)
    if jit_compile and not model.jit_compile:
        if op_determinism_enabled():
            return XLA_OFF_REASON
        return "Keras turned jit_compile=True off (model_supports_jit() rejects this model)"
    return None


@dataclass
class Variant:
    """One way to train (or feed) an epoch: ``warm_up`` once untimed, then ``run`` timed."""

    name: str
    batch: int
    run: Callable[[], object]
    warm_up: Callable[[], object] | None = None  # default: one untimed ``run``
    unavailable: str | None = None  # why it cannot run here (then it is not timed)
    times: list[float] = field(default_factory=list)


def measure(variants: Sequence[Variant], repeats: int) -> None:
    """Warm every variant up, then time ``repeats`` runs of each, round-robin.

    A variant whose warm-up raises an XLA/unimplemented error gets ``unavailable`` set to the
    error's first line, and so do the later variants of the same name (other batch sizes).
    """
    failed: dict[str, str] = {}
    for v in variants:
        v.unavailable = v.unavailable or failed.get(v.name)  # same error at every batch size
        if v.unavailable:
            continue
        try:
            (v.warm_up or v.run)()
        except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError) as e:
            v.unavailable = failed[v.name] = str(e).strip().splitlines()[0]
    for _ in range(repeats):
        for v in variants:
            if v.unavailable:
                continue
            start = time.perf_counter()
            v.run()
            v.times.append(time.perf_counter() - start)


def rate_stats(samples: int, times: Sequence[float]) -> dict[str, Any]:
    """samples/s of each timed run: median, min, max and the runs."""
    rates = [samples / t for t in times]
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "runs": rates}


def fmt_rate(stats: dict[str, Any]) -> str:
    """``"761 (706–794)"``; just the median for a single run."""
    med = f"{stats['median']:,.0f}"
    if len(stats["runs"]) < 2:
        return med
    return f"{med} ({stats['min']:,.0f}–{stats['max']:,.0f})"


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def write_json(path: str, *, benchmark: str, title: str, description: str,
               columns: Sequence[str], rows: Sequence[Sequence[str]], goal: str, verdict: str,
               raw: dict[str, Any]) -> None:
    report = {"benchmark": benchmark, "title": title, "description": description,
              "columns": list(columns), "rows": [list(r) for r in rows], "goal": goal,
              "verdict": verdict, "figures": [], "raw": raw}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)


# -- this benchmark -----------------------------------------------------------------------------

def make_step(model: keras.Model, optimizer: keras.Optimizer) -> Callable:
    """The seed's training step: forward under a tape, gradients, one optimizer update."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # heads give logits

    def step(batch: dict, labels: np.ndarray) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(batch, training=True)["digit"])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def loop_epoch(step: Callable, x: dict[str, np.ndarray], y: np.ndarray, batch_size: int,
               starts: Sequence[int] | None = None) -> None:
    """One epoch of the seed's loop: Python batching over NumPy arrays (or only ``starts``)."""
    for start in range(0, len(y), batch_size) if starts is None else starts:
        batch = {k: v[start:start + batch_size] for k, v in x.items()}
        step(batch, y[start:start + batch_size])


def loop_variant(name: str, mode: str, ds: data.MultimodalDataset, weights: list[np.ndarray],
                 x: dict[str, np.ndarray], y: np.ndarray, batch: int) -> Variant:
    model = make_model(ds, weights)
    step = make_step(model, keras.optimizers.Adam(1e-3))
    if mode != "eager":
        step = tf.function(step, jit_compile=mode == "xla", reduce_retracing=True)
    # Warm-up: a full batch, the short last batch, a full batch again -- every trace, XLA
    # compilation and the optimizer's slots, without paying a whole (slow, eager) epoch.
    last = (len(y) - 1) // batch * batch
    return Variant(name, batch, run=lambda: loop_epoch(step, x, y, batch),
                   warm_up=lambda: loop_epoch(step, x, y, batch, starts=(0, last, 0)))


def fit_variant(name: str, jit: bool, ds: data.MultimodalDataset, weights: list[np.ndarray],
                batch: int) -> Variant:
    model = make_model(ds, weights)
    reason = compile_for_fit(model, jit)
    tf_data = ds.to_tf_dataset(batch_size=batch, tasks=["digit"])
    return Variant(name, batch, unavailable=reason,
                   run=lambda: model.fit(tf_data, epochs=1, verbose=0, shuffle=False))


def run_xla_child(args: argparse.Namespace) -> dict[str, Any]:
    """Re-run this script's XLA variants in a child process without op determinism."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "xla.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--no-determinism", "--only-xla",
               "--repeats", str(args.repeats), "--json", out,
               "--batch-sizes", *map(str, args.batch_sizes)]
        if args.quick:
            cmd.append("--quick")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return {"error": f"child process failed: {lines[-1] if lines else proc.returncode}"}
        with open(out, encoding="utf-8") as f:
            return json.load(f)["raw"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per variant")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[SEED_BATCH, 64])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: first {QUICK_SAMPLES} samples, 1 repeat")
    parser.add_argument("--json", help="also write the report to this JSON file")
    parser.add_argument("--no-determinism", action="store_true",
                        help="do not enable op determinism (lets XLA compile MaxPool gradients)")
    parser.add_argument("--only-xla", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        args.repeats = 1
    deterministic = not args.no_determinism
    mmlib.setup_notebook(seed=0, deterministic=deterministic, quiet=args.only_xla)
    quiet_retracing_warning()

    ds = load_course_data(QUICK_SAMPLES if args.quick else None)
    x, y = course_arrays(ds)
    n = len(y)
    reference = make_model(ds)
    weights = reference.get_weights()
    params = reference.count_params()
    if not args.only_xla:
        print(f"av_digits: {n} samples, inputs {({m: v.shape[1:] for m, v in x.items()})}, "
              f"{params:,} parameters, batch sizes {args.batch_sizes}, {args.repeats} timed "
              f"epoch(s) per variant after a warm-up\n")

    kinds = [("eager loop", "loop", "eager"), ("loop + tf.function", "loop", "graph"),
             ("loop + jit_compile", "loop", "xla"), ("fit (graph)", "fit", "graph"),
             ("fit (XLA)", "fit", "xla")]
    if args.only_xla:
        kinds = [k for k in kinds if k[2] == "xla"]
    variants = []
    for batch in args.batch_sizes:
        for name, how, mode in kinds:
            if how == "loop":
                variants.append(loop_variant(name, mode, ds, weights, x, y, batch))
            else:
                variants.append(fit_variant(name, mode == "xla", ds, weights, batch))
    measure(variants, args.repeats)

    raw: dict[str, Any] = {"samples": n, "parameters": params, "repeats": args.repeats,
                           "batch_sizes": args.batch_sizes, "op_determinism": deterministic,
                           "results": {}}
    for v in variants:
        entry = {"unavailable": v.unavailable} if v.unavailable else rate_stats(n, v.times)
        raw["results"].setdefault(str(v.batch), {})[v.name] = entry
    if args.only_xla:  # the parent formats and reports these
        raw["elapsed_s"] = time.perf_counter() - started
        if args.json:
            write_json(args.json, benchmark="training", title="", description="", columns=[],
                       rows=[], goal="", verdict="", raw=raw)
        return

    child = None
    if deterministic and any(v.unavailable for v in variants):
        child = {"skipped": "--quick"} if args.quick else run_xla_child(args)
        raw["xla_without_determinism"] = {k: v for k, v in child.items() if k != "results"}
        for batch, results in child.get("results", {}).items():
            for name, entry in results.items():
                raw["results"][batch][name + NO_DET] = entry
    raw["elapsed_s"] = time.perf_counter() - started
    report(args, raw, child)


def report(args: argparse.Namespace, raw: dict[str, Any], child: dict[str, Any] | None) -> None:
    n = raw["samples"]
    columns = ["batch", "variant", "samples/s", "× eager loop", "ms/step", "note"]
    rows = []
    for batch in args.batch_sizes:
        results = raw["results"][str(batch)]
        base = results["eager loop"]["median"]
        steps = math.ceil(n / batch)
        for name, entry in results.items():
            if "unavailable" in entry:
                rows.append([str(batch), name, "n/a", "n/a", "–", entry["unavailable"]])
                continue
            entry["ratio"] = entry["median"] / base
            rows.append([str(batch), name, fmt_rate(entry), f"{entry['ratio']:.1f}×",
                         f"{n / entry['median'] / steps * 1e3:.1f}",
                         "child process" if name.endswith(NO_DET) else ""])
    print_table(columns, rows)
    if child is not None and ("error" in child or "skipped" in child):
        print(f"\nXLA without op determinism: {child.get('error') or 'skipped in --quick'}")
    print(f"\n{n} samples; run time {raw['elapsed_s']:.0f} s")

    verdict = make_verdict(args, raw)
    print(f"\n{verdict}")
    if args.json:
        description = (
            f"{MODEL_DESCRIPTION}; {n} samples, from the same initial weights for every variant. "
            f"Timed: one training epoch (samples/s, median of {args.repeats} with min–max, "
            f"after an untimed warm-up that traces and compiles) at batch "
            f"{' and '.join(map(str, args.batch_sizes))}, for the seed article's loop "
            "(eager `GradientTape`, Python batching, no `tf.function`), the same loop under "
            "`tf.function` and `jit_compile`, and `model.fit` on `to_tf_dataset` without and "
            "with XLA. Ratios are to the eager loop at the same batch size, measured in the same "
            "run. With op determinism on (as in the notebooks) XLA is unavailable, so the XLA "
            "variants are re-run in a child process without it.")
        write_json(args.json, benchmark="training",
                   title="Training throughput: model.fit vs the seed's eager loop",
                   description=description, columns=columns, rows=rows,
                   goal=f"`model.fit` on `to_tf_dataset` ≥ {GOAL:g}× the seed's eager loop",
                   verdict=verdict, raw=raw)


def make_verdict(args: argparse.Namespace, raw: dict[str, Any]) -> str:
    """The goal (fit (graph) ≥ 5× the eager loop) at each batch size, and why."""
    n = raw["samples"]
    parts, overheads, ratios, saved = [], [], {}, {}
    for batch in args.batch_sizes:
        res = raw["results"][str(batch)]
        eager, fit = res["eager loop"], res["fit (graph)"]
        ratio = ratios[batch] = fit["median"] / eager["median"]
        steps = math.ceil(n / batch)
        removed = saved[batch] = (n / eager["median"] - n / fit["median"]) / steps * 1e3
        overheads.append(f"{removed:.0f} ms/step at batch {batch}")
        parts.append(f"batch {batch}: {ratio:.1f}× ({'meets' if ratio >= GOAL else 'misses'} "
                     f"the goal)")
    text = (f"`model.fit` (graph) vs the seed's eager loop at the same batch size: "
            f"{'; '.join(parts)}. ")
    if SEED_BATCH in args.batch_sizes and 64 in args.batch_sizes:
        fit64 = raw["results"]["64"]["fit (graph)"]["median"]
        seed = raw["results"][str(SEED_BATCH)]["eager loop"]["median"]
        text += (f"The course's fit at batch 64 trains {fit64 / seed:.1f}× as many samples/s as "
                 f"the seed's loop at its batch {SEED_BATCH}. ")
    text += (f"The speed-up is the per-step Python/eager dispatch overhead that a compiled graph "
             f"removes (each eager step launches every op, its gradient and the Adam update "
             f"one by one from Python): fit saves about {', '.join(overheads)}. ")
    small, large = min(ratios), max(ratios)
    if small != large:
        grows = ratios[small] > ratios[large]
        per_step = saved[large] / saved[small] < 0.5 * large / small
        text += (f"With {large / small:g}× the samples per step the saving per step changes "
                 f"by a factor of {saved[large] / saved[small]:.1f}: it is "
                 f"{'mostly' if per_step else 'only partly'} a per-step cost, so it weighs most "
                 f"at small batches: the ratio "
                 f"{'falls' if grows else 'does not fall (unexpectedly; a noisy machine?)'} from "
                 f"{ratios[small]:.1f}× at batch {small} to {ratios[large]:.1f}× at batch "
                 f"{large}, where more of each step is the {raw['parameters']:,}-parameter "
                 f"CNN's own compute (its convolutions), which no compiler removes.")
    xla = []
    for batch in args.batch_sizes:
        res = raw["results"][str(batch)]
        fx = res.get("fit (XLA)" + NO_DET) or res.get("fit (XLA)")
        if fx and "median" in fx:
            xla.append(f"{fx['median'] / res['fit (graph)']['median']:.2f}× at batch {batch}")
    if xla:
        text += (f" With XLA (possible only without op determinism) fit runs at "
                 f"{', '.join(xla)} the speed of fit (graph).")
    return text


if __name__ == "__main__":
    main()
