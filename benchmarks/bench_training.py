"""Training throughput: ``model.fit`` on ``to_tf_dataset`` against the seed article's loop.

The seed article (§5.2) trains with an eager loop: Python batching, ``tf.GradientTape`` and an
optimizer step per batch, no ``tf.function``. This script trains the *same* course fusion model
(``av_digits`` image 28×28 + log-mel audio 77×32, a 2-D ``image_cnn`` encoder on each,
``EarlyFusion``, a 10-way head: :func:`mmlib.train.build_fusion_model`) from the *same* initial
weights on the same data, five ways:

* ``eager loop``: the seed's style -- NumPy slices in a Python loop, ``GradientTape``, eager;
* ``loop + tf.function``: the same loop, its step compiled to a graph (``@tf.function``);
* ``loop + jit_compile``: the step compiled by XLA (``@tf.function(jit_compile=True)``);
* ``fit (graph)``: ``model.compile(jit_compile=False)`` + ``model.fit`` on
  :meth:`MultimodalDataset.to_tf_dataset`;
* ``fit (XLA)``: the same with ``jit_compile=True``.

For each it times ``--repeats`` epochs after one warm-up epoch (tracing and compiling are not
counted) and prints the median samples/s with min--max and the ratio to the eager loop, all
measured in the same run. The issue's goal: ``fit`` ≥ 5× the eager loop.

Run: ``python benchmarks/bench_training.py [--repeats 3] [--batch-size 64] [--json out.json]``
"""

from __future__ import annotations  # noqa: I001  (mmlib before keras: it quiets TF logs)

import argparse
import json
import statistics
import time
from collections.abc import Callable

import sys

import mmlib

# before TensorFlow loads: quiet logs, seeds and (unless --no-determinism) op determinism, as in
# every notebook. XLA cannot compile some gradients deterministically (MaxPool's), so the XLA
# rows read "n/a" with the reason unless --no-determinism is given.
mmlib.setup_notebook(seed=0, deterministic="--no-determinism" not in sys.argv)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmlib import data, train  # noqa: E402


def make_model(ds: data.MultimodalDataset) -> keras.Model:
    return train.build_fusion_model(
        ds, encoders={"image": "image_cnn", "audio": "image_cnn"}, fusion="EarlyFusion",
        heads={"digit": 10}, seed=0)


def loop_epoch(model: keras.Model, step: Callable, x: dict, y: np.ndarray,
               batch_size: int) -> None:
    """One epoch of the seed's loop: Python batching over NumPy arrays."""
    for start in range(0, len(y), batch_size):
        batch = {k: v[start:start + batch_size] for k, v in x.items()}
        step(batch, y[start:start + batch_size])


def make_step(model: keras.Model, optimizer: keras.Optimizer) -> Callable:
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=False)

    def step(batch: dict, labels: np.ndarray) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(batch, training=True)["digit"])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def time_epochs(run_epoch: Callable[[], None], repeats: int) -> list[float] | str:
    """Seconds per timed epoch, or the reason the variant cannot run here."""
    try:
        run_epoch()  # warm-up: tracing, XLA compilation, first allocations
    except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError) as e:
        return str(e).strip().splitlines()[0]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--no-determinism", action="store_true",
                        help="do not enable op determinism (lets XLA compile MaxPool gradients)")
    args = parser.parse_args()

    ds = data.load("av_digits", seed=0, audio_features="log_mel")
    x = {m: np.asarray(v, dtype="float32") for m, v in ds.modalities.items()}
    y = np.asarray(ds.labels["digit"])
    n = len(y)
    reference = make_model(ds)
    weights = reference.get_weights()
    print(f"av_digits: {n} samples, inputs {({m: v.shape[1:] for m, v in x.items()})}, "
          f"{reference.count_params():,} parameters, batch {args.batch_size}, "
          f"{args.repeats} timed epochs each after a warm-up\n")

    results = {}
    for name, mode in (("eager loop", "eager"), ("loop + tf.function", "graph"),
                       ("loop + jit_compile", "xla")):
        model = make_model(ds)
        model.set_weights(weights)
        step = make_step(model, keras.optimizers.Adam(1e-3))
        if mode != "eager":
            step = tf.function(step, jit_compile=mode == "xla", reduce_retracing=True)
        results[name] = time_epochs(lambda m=model, s=step: loop_epoch(m, s, x, y,
                                                                      args.batch_size),
                                    args.repeats)
    tf_data = ds.to_tf_dataset(batch_size=args.batch_size, tasks=["digit"]).cache()
    for name, jit in (("fit (graph)", False), ("fit (XLA)", True)):
        model = make_model(ds)
        model.set_weights(weights)
        model.compile(keras.optimizers.Adam(1e-3), {"digit": "sparse_categorical_crossentropy"},
                      jit_compile=jit)
        results[name] = time_epochs(lambda m=model: m.fit(tf_data, epochs=1, verbose=0,
                                                          shuffle=False),
                                    args.repeats)

    base = statistics.median(n / t for t in results["eager loop"])
    print(f"{'variant':<20} {'samples/s':>10} {'min-max':>15} {'× eager':>8}")
    table = {}
    for name, times in results.items():
        if isinstance(times, str):
            table[name] = {"unavailable": times}
            print(f"{name:<20} {'n/a':>10}  ({times})")
            continue
        rates = [n / t for t in times]
        med = statistics.median(rates)
        table[name] = {"median": med, "min": min(rates), "max": max(rates), "ratio": med / base}
        print(f"{name:<20} {med:>10,.0f} {min(rates):>7,.0f}-{max(rates):<7,.0f} "
              f"{med / base:>7.1f}×")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"samples": n, "batch_size": args.batch_size, "repeats": args.repeats,
                       "results": table}, f, indent=2)


if __name__ == "__main__":
    main()
