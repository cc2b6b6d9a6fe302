"""Input pipeline: ``model.fit`` fed by ``to_tf_dataset`` against the same tensors in memory.

Trains the course fusion model of ``bench_training.py`` (``av_digits`` image + log-mel audio, a
2-D ``image_cnn`` encoder each, ``EarlyFusion``, a 10-way head) from the same initial weights
with ``model.fit`` (graph, op determinism on as in the notebooks), one epoch at a time, at each
batch size of ``--batch-sizes`` (default 64 and 16), fed four ways:

* ``to_tf_dataset``: ``ds.to_tf_dataset(batch_size=b, tasks=["digit"])`` as the course does;
* ``to_tf_dataset + .cache()``: the same, batches cached after the first (warm-up) epoch;
* ``NumPy arrays``: ``model.fit(x, y, batch_size=b, shuffle=False)`` on the in-memory arrays;
* ``tf.constant tensors``: the same with eager tensors built once beforehand.

It also iterates the ``to_tf_dataset`` pipeline alone (no model: batches/s and samples/s) to
show whether it could be the bottleneck. Every variant is warmed up (tracing, first epoch)
before ``--repeats`` timed epochs, run round-robin so that a busy machine slows all alike. The
ratio is ``to_tf_dataset`` samples/s ÷ the best in-memory feed's, same run and batch size; the
issue's goal is ≥ 90 %.

Run: ``python benchmarks/bench_pipeline.py [--repeats 3] [--batch-sizes 64 16] [--quick]
[--json out.json]`` (``--quick``: 64 samples, 1 repeat, a smoke test). Takes about 2 minutes
on 2 quiet cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mmlib

mmlib.env.quiet_tensorflow()  # before TensorFlow loads: no C++ log lines

import keras
import tensorflow as tf

from mmlib import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_training as bt  # the course model, data, timing and report helpers

GOAL = 0.90
FEEDS = ("to_tf_dataset", "to_tf_dataset + .cache()", "NumPy arrays", "tf.constant tensors")
IN_MEMORY = ("NumPy arrays", "tf.constant tensors")
RAW = "pipeline alone (no model)"


def iterate(dataset: tf.data.Dataset) -> int:
    """Pull every batch of ``dataset`` (what the pipeline alone can deliver); returns the count."""
    count = 0
    for _ in dataset:
        count += 1
    return count


def fit_epoch(model: keras.Model, feed: str, batch: int, ds: data.MultimodalDataset,
              in_memory: dict[str, tuple[Any, Any]]) -> Callable[[], object]:
    """One ``model.fit`` epoch fed by ``feed`` (a :data:`FEEDS` name)."""
    fit_kw: dict[str, Any] = {"epochs": 1, "verbose": 0, "shuffle": False}
    if feed.startswith("to_tf_dataset"):
        tf_data = ds.to_tf_dataset(batch_size=batch, tasks=["digit"])
        if feed.endswith(".cache()"):
            tf_data = tf_data.cache()
        return lambda: model.fit(tf_data, **fit_kw)
    inputs, labels = in_memory[feed]
    return lambda: model.fit(inputs, labels, batch_size=batch, **fit_kw)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per variant")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, bt.SEED_BATCH])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: first {bt.QUICK_SAMPLES} samples, 1 repeat")
    parser.add_argument("--json", help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        args.repeats = 1
    mmlib.setup_notebook(seed=0)
    bt.quiet_retracing_warning()

    ds = bt.load_course_data(bt.QUICK_SAMPLES if args.quick else None)
    x, y = bt.course_arrays(ds)
    n = len(y)
    x_const = {m: tf.constant(v) for m, v in x.items()}
    y_const = {"digit": tf.constant(y)}
    reference = bt.make_model(ds)
    weights = reference.get_weights()
    print(f"av_digits: {n} samples, {reference.count_params():,} parameters, batch sizes "
          f"{args.batch_sizes}, {args.repeats} timed epoch(s) per variant after a warm-up\n")

    variants: list[bt.Variant] = []
    for batch in args.batch_sizes:
        for feed in FEEDS:
            model = bt.make_model(ds, weights)
            bt.compile_for_fit(model, jit_compile=False)
            variants.append(bt.Variant(feed, batch, run=fit_epoch(model, feed, batch, ds, {
                "NumPy arrays": (x, {"digit": y}), "tf.constant tensors": (x_const, y_const)})))
        pipeline = ds.to_tf_dataset(batch_size=batch, tasks=["digit"])
        variants.append(bt.Variant(RAW, batch, run=lambda d=pipeline: iterate(d)))
    bt.measure(variants, args.repeats)

    raw: dict[str, Any] = {"samples": n, "repeats": args.repeats,
                           "batch_sizes": args.batch_sizes, "results": {}}
    for v in variants:
        stats = bt.rate_stats(n, v.times)
        stats["batches_per_s"] = stats["median"] / n * math.ceil(n / v.batch)
        raw["results"].setdefault(str(v.batch), {})[v.name] = stats
    raw["elapsed_s"] = time.perf_counter() - started

    columns = ["batch", "feed", "samples/s", "batches/s", "% of best in-memory"]
    rows = []
    for batch in args.batch_sizes:
        results = raw["results"][str(batch)]
        best = max(results[f]["median"] for f in IN_MEMORY)
        for name, stats in results.items():
            share = "–" if name == RAW else f"{stats['median'] / best:.0%}"
            if name != RAW:
                stats["share_of_best_in_memory"] = stats["median"] / best
            rows.append([str(batch), name, bt.fmt_rate(stats),
                         f"{stats['batches_per_s']:,.1f}", share])
    bt.print_table(columns, rows)
    print(f"\n{n} samples; run time {raw['elapsed_s']:.0f} s")
    verdict = make_verdict(args.batch_sizes, raw)
    print(f"\n{verdict}")
    if args.json:
        description = (
            f"{bt.MODEL_DESCRIPTION}, compiled without XLA, op determinism on; {n} samples, the "
            f"same initial weights for every variant. Timed: one `model.fit` epoch (samples/s, "
            f"median of {args.repeats} with min–max, after an untimed warm-up epoch that "
            f"traces) at batch {' and '.join(map(str, args.batch_sizes))}, fed by "
            "`to_tf_dataset` (as the course does, and with `.cache()`), by the NumPy arrays "
            "and by pre-built `tf.constant` tensors (`fit(x, y, batch_size=…, shuffle=False)`); "
            "plus one pass over the `to_tf_dataset` pipeline alone, without a model. The ratio "
            "is to the best in-memory feed at the same batch size, measured in the same run.")
        bt.write_json(args.json, benchmark="pipeline",
                      title="Input pipeline: to_tf_dataset vs in-memory tensors",
                      description=description, columns=columns, rows=rows,
                      goal=f"`model.fit` on `to_tf_dataset` ≥ {GOAL:.0%} of the samples/s of "
                           "the same tensors fed from memory",
                      verdict=verdict, raw=raw)


def make_verdict(batch_sizes: Sequence[int], raw: dict[str, Any]) -> str:
    """Does ``to_tf_dataset`` reach 90 % of the best in-memory feed, by how much, and why."""
    parts, headroom, cache, overlap = [], [], [], []
    holds, bottleneck_free = True, True
    for batch in batch_sizes:
        res = raw["results"][str(batch)]
        best_name = max(IN_MEMORY, key=lambda f: res[f]["median"])
        tfd, best = res["to_tf_dataset"], res[best_name]
        share = tfd["median"] / best["median"]
        holds &= share >= GOAL
        parts.append(f"{share:.0%} of the best in-memory feed ({best_name}) at batch {batch}, "
                     f"{(share - GOAL) * 100:+.0f} points from the goal")
        spare = res[RAW]["median"] / tfd["median"]
        bottleneck_free &= spare >= 2
        headroom.append(f"{spare:.0f}× at batch {batch} ({res[RAW]['median']:,.0f} samples/s)")
        cached = res["to_tf_dataset + .cache()"]["median"] / tfd["median"]
        cache.append(f"{cached:.2f}× at batch {batch}")
        overlap.append(tfd["max"] >= best["min"] and best["max"] >= tfd["min"])
    text = (f"The goal {'holds' if holds else 'does not hold'}: `to_tf_dataset` feeds `fit` at "
            f"{'; '.join(parts)}. The pipeline alone delivers {', '.join(headroom)} the rate at "
            f"which the model trains on it, ")
    text += ("so it is not the bottleneck: each step's time is the CNN's compute, and `fit` "
             "overlaps the next batch with it (`prefetch`). " if bottleneck_free else
             "so at that margin it may limit training. ")
    text += (f"Keras turns in-memory arrays and tensors into a `tf.data` pipeline of its own "
             f"(batches gathered by index), so every feed ends up as the same kind of graph "
             f"input. `.cache()` gives {', '.join(cache)} the uncached rate.")
    if all(overlap) and raw["repeats"] > 1:
        text += (" The min–max ranges of `to_tf_dataset` and the best in-memory feed overlap at "
                 "every batch size: the difference is within the run-to-run spread.")
    return text

if __name__ == "__main__":
    main()
