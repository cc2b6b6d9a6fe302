"""LiteRT float32 / float16 / int8 vs Keras: size, accuracy and latency at batch 1 and 64.

The model is the one notebook 08 deploys, rebuilt here from ``mmlib`` calls (about 15 s of
single-threaded training): the ``clinic`` dataset (``mmlib.data.load("clinic", n_samples=2000,
scan_size=32, genes=False)``, split 60/20/20 stratified by diagnosis), a 32×32 scan CNN + a dense
layer on the log-transformed, standardised health record (``TabularPreprocessor``) + an
embedding/Conv1D note branch, concatenated under a dense head, 4 diagnoses, ~15 k parameters,
trained 12 epochs with Adam. It is converted with :func:`mmlib.deploy.export_litert_variants`
(int8: full-integer post-training quantization calibrated on 200 training samples).

Per variant, and for the Keras model itself (float32, ``tf.function`` graph mode) as the
reference row:

* file size (kB; Keras: the ``.keras`` file of the uncompiled model, weights + config, no
  optimizer state) and the ratio to the LiteRT float32 file;
* accuracy on the 400 held-out test patients, agreement of the predicted class with the Keras
  model, and the largest absolute difference of the predicted probabilities;
* latency at batch 1 (ms per call = per sample) and at batch 64 (ms per batch and per sample):
  a timing run is the mean over enough back-to-back calls on one fixed batch to last about
  0.25 s, after untimed warm-up calls; the figure is the median (min–max) of ``--repeats`` runs.
  **Everything runs on one thread**: the LiteRT interpreter with ``num_threads=1`` (its default
  CPU delegate XNNPACK, or the built-in kernels where XNNPACK rejects an int8 graph: column
  ``kernels``), TensorFlow with one intra-op and one inter-op thread (set before it starts, so
  training is single-threaded too). The LiteRT call timed is the interpreter call itself
  (setting the named inputs, ``invoke``, reading the output), as ``deploy.batch_latency_ms``
  times it; the Keras call includes fetching the result as NumPy.

Then a copy is pruned gradually to 80 % sparsity during 3 epochs of fine-tuning (Zhu & Gupta
2017 schedule) and its sparsity, gzip size and accuracy are printed (one training run: these are
not timings).

Run:  ``python benchmarks/bench_deploy.py [--repeats 3] [--json out.json]`` (about a minute on a
quiet 2-core machine); ``--quick`` is a smoke test (small data, 2 epochs, 1 repeat, no pruning).
Nothing is written outside a temporary directory except the ``--json`` file.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _stats import median_range  # benchmarks/_stats.py: the script's own folder

import mmlib.env

mmlib.env.quiet_tensorflow()  # before TensorFlow loads: no C++ log lines in the output

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)  # before the runtime starts
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mmlib import data, deploy  # noqa: E402
from mmlib.preprocess.tabular import TabularPreprocessor  # noqa: E402

BATCHES = (1, 64)
TARGET_S = 0.25  # seconds per timing run


# --------------------------------------------------------------------------------------------
# the model of notebook 08
# --------------------------------------------------------------------------------------------
def clinic_data(n_samples: int, seed: int) -> tuple[dict, dict, int]:
    """``({"train"|"test": inputs}, {"train"|"test": labels}, vocabulary size)``."""
    ds = data.load("clinic", n_samples=n_samples, seed=seed, scan_size=32, genes=False)
    train, _val, test = ds.split((0.6, 0.2, 0.2), seed=seed, stratify="diagnosis")
    ehr = TabularPreprocessor(indicators="missing-only").fit(np.log1p(train.modalities["ehr"]))

    def model_inputs(part: data.MultimodalDataset) -> dict[str, np.ndarray]:
        m = part.modalities
        return {"scan": m["scan"], "ehr": ehr.transform(np.log1p(m["ehr"])), "note": m["note"]}

    x = {"train": model_inputs(train), "test": model_inputs(test)}
    y = {"train": train.labels["diagnosis"], "test": test.labels["diagnosis"]}
    return x, y, len(ds.info["vocab"])


def build_model(n_ehr: int, vocab: int, seed: int) -> keras.Model:
    """scan (32,32,1) + ehr (n_ehr,) + note (48,) int32 -> softmax over 4 diagnoses (nb 08)."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    scan = keras.Input((32, 32, 1), name="scan")
    ehr = keras.Input((n_ehr,), name="ehr")
    note = keras.Input((48,), dtype="int32", name="note")
    h = layers.Conv2D(8, 3, activation="relu")(scan)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(32, 3, activation="relu")(h)
    h = layers.GlobalMaxPooling2D()(h)
    e = layers.Dense(32, activation="relu", name="ehr_dense")(ehr)
    t = layers.Embedding(vocab, 16)(note)
    t = layers.Conv1D(32, 3, activation="relu")(t)
    t = layers.GlobalMaxPooling1D()(t)
    z = layers.Concatenate()([h, e, t])
    z = layers.Dense(64, activation="relu")(z)
    out = layers.Dense(4, activation="softmax", name="diagnosis")(z)
    model = keras.Model({"scan": scan, "ehr": ehr, "note": note}, out)
    model.compile(keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy")
    return model


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------
def latency_runs(fn: Callable[[dict], Any], batch: dict[str, np.ndarray], repeats: int
                 ) -> list[float]:
    """``repeats`` timing runs of ``fn(batch)``: ms per call, each run ~``TARGET_S`` long."""
    once = deploy.time_ms(fn, batch, repeats=3, number=1, warmup=3)  # warm-up + sizing
    number = int(min(2000, max(3, math.ceil(TARGET_S * 1e3 / float(np.median(once))))))
    return [float(t) for t in deploy.time_ms(fn, batch, repeats=repeats, number=number,
                                             warmup=0)]


def first(arrays: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The first ``n`` samples (cycled if there are fewer)."""
    size = next(iter(arrays.values())).shape[0]
    rows = np.arange(n) % size
    return {k: v[rows] for k, v in arrays.items()}


def measure_variants(model: keras.Model, paths: dict[str, Path], x_test: dict, y_test: np.ndarray,
                     repeats: int, tmp: Path) -> list[dict]:
    """One dict per row (Keras first): size, accuracy, agreement, latency runs per batch size."""
    reference = model.predict(x_test, verbose=0, batch_size=256)
    ref_class = reference.argmax(1)
    keras_file = tmp / "model.keras"
    bare = keras.models.clone_model(model)  # not compiled: the file holds no optimizer state
    bare.set_weights(model.get_weights())
    bare.save(keras_file)
    serve = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    rows = [{"variant": "keras", "kernels": "TensorFlow graph",
             "size_bytes": keras_file.stat().st_size, "probs": reference, "call": serve}]
    for name, path in paths.items():
        lite = deploy.LiteRTModel(path, num_threads=1)
        rows.append({"variant": name, "size_bytes": lite.size_bytes,
                     "probs": np.asarray(lite.predict(x_test)), "lite": lite,
                     "call": lite._run})  # the interpreter call, as deploy.batch_latency_ms
    for row in rows:
        probs = row.pop("probs")
        row["accuracy"] = float(np.mean(probs.argmax(1) == y_test))
        row["agreement"] = float(np.mean(probs.argmax(1) == ref_class))
        row["max_abs_diff"] = float(np.max(np.abs(probs.astype(np.float64) - reference)))
    for b in BATCHES:  # interleaved by batch size, each variant measured back to back
        batch = first(x_test, b)
        for row in rows:
            row[f"b{b}_ms"] = latency_runs(row["call"], batch, repeats)
    for row in rows:
        del row["call"]
        lite = row.pop("lite", None)
        if lite is not None:
            row["kernels"] = lite.delegate if lite.delegate != "none" else "built-in"
    return rows


def pruning_rows(model: keras.Model, x: dict, y: dict, seed: int) -> list[dict]:
    """Gradual magnitude pruning of a copy to 80 % during 3 epochs of fine-tuning."""
    keras.utils.set_random_seed(seed)
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    pruned.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    steps = int(np.ceil(len(y["train"]) / 64))
    schedule = deploy.PruningSchedule(0.8, end_step=2 * steps, frequency=8)
    pruned.fit(x["train"], y["train"], epochs=3, batch_size=64, verbose=0,
               callbacks=[deploy.PruningCallback(schedule, scope="global")])
    rows = []
    for name, m in (("dense", model), ("pruned 80 %", pruned)):
        acc = float(np.mean(m.predict(x["test"], verbose=0).argmax(1) == y["test"]))
        rows.append({"model": name, "sparsity": deploy.sparsity(m),
                     "gzip_kb": deploy.compressed_size(m) / 1024,
                     "raw_kb": sum(w.nbytes for w in m.get_weights()) / 1024, "accuracy": acc})
    return rows


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------
def med(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt(values: Sequence[float], digits: int = 3) -> str:
    """``median (min–max)``; a single run alone."""
    return median_range(values, digits)


COLUMNS = ["variant", "kernels", "size kB", "size / float32", "test accuracy",
           "agreement with Keras", "max |Δp|", "batch 1: ms per sample", "batch 64: ms per batch",
           "batch 64: ms per sample"]


def table_rows(rows: list[dict]) -> list[list[str]]:
    f32 = next(r["size_bytes"] for r in rows if r["variant"] == "float32")
    return [[r["variant"], r["kernels"], f"{r['size_bytes'] / 1024:.1f}",
             f"{r['size_bytes'] / f32:.2f}", f"{r['accuracy']:.3f}", f"{r['agreement']:.3f}",
             f"{r['max_abs_diff']:.1e}", fmt(r["b1_ms"]), fmt(r["b64_ms"], 2),
             fmt([t / 64 for t in r["b64_ms"]], 4)] for r in rows]


def markdown(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def verdict(rows: list[dict]) -> str:
    by = {r["variant"]: r for r in rows}
    k, f32, f16, i8 = by["keras"], by["float32"], by["float16"], by["int8"]
    fastest_b1 = min(("float32", "float16", "int8"), key=lambda v: med(by[v]["b1_ms"]))
    return (
        f"float16 is {f16['size_bytes'] / f32['size_bytes']:.2f}× and int8 "
        f"{i8['size_bytes'] / f32['size_bytes']:.2f}× the float32 file "
        f"({f32['size_bytes'] / 1024:.0f} kB). Test accuracy: Keras {k['accuracy']:.3f}, "
        f"float32 / float16 / int8 {f32['accuracy']:.3f} / {f16['accuracy']:.3f} / "
        f"{i8['accuracy']:.3f}; int8 predicts the same class as Keras for "
        f"{100 * i8['agreement']:.1f} % of the test patients. At batch 1 the fastest LiteRT "
        f"variant ({fastest_b1}, {med(by[fastest_b1]['b1_ms']):.3f} ms) is "
        f"{med(k['b1_ms']) / med(by[fastest_b1]['b1_ms']):.0f}× faster than the Keras graph "
        f"({med(k['b1_ms']):.2f} ms); at batch 64 per sample, Keras takes "
        f"{med(k['b64_ms']) / 64:.4f} ms and LiteRT float32 / float16 / int8 "
        f"{med(f32['b64_ms']) / 64:.4f} / {med(f16['b64_ms']) / 64:.4f} / "
        f"{med(i8['b64_ms']) / 64:.4f} ms (one thread each).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 300 patients, 2 epochs, 1 repeat, no pruning")
    parser.add_argument("--no-pruning", action="store_true", help="skip the pruning table")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    global TARGET_S
    n_samples, epochs, repeats = (300, 2, 1) if args.quick else (2000, 12, args.repeats)
    if args.quick:
        TARGET_S = 0.05
    if repeats < 1:
        parser.error("--repeats must be >= 1")

    start = time.perf_counter()
    x, y, vocab = clinic_data(n_samples, args.seed)
    model = build_model(x["train"]["ehr"].shape[1], vocab, args.seed)
    t0 = time.perf_counter()
    model.fit(x["train"], y["train"], epochs=epochs, batch_size=64, verbose=0)
    train_s = time.perf_counter() - t0
    print(f"trained the clinic model ({model.count_params():,} parameters, {epochs} epochs on "
          f"{len(y['train'])} patients) in {train_s:.1f} s", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench_deploy_") as tmp:
        t0 = time.perf_counter()
        paths = deploy.export_litert_variants(model, tmp, representative_data=x["train"],
                                              num_calibration_samples=200, seed=args.seed)
        convert_s = time.perf_counter() - t0
        print(f"converted 3 variants in {convert_s:.1f} s", file=sys.stderr)
        rows = measure_variants(model, paths, x["test"], y["test"], repeats, Path(tmp))
    pruning = [] if args.quick or args.no_pruning else pruning_rows(model, x, y, args.seed)

    n_test = len(y["test"])
    head = (f"clinic model of notebook 08, test set of {n_test} patients; latency median "
            f"(min–max) of {repeats} timing run(s), ONE thread (LiteRT num_threads=1, "
            "TensorFlow intra/inter-op threads = 1)")
    rows_fmt = table_rows(rows)
    print(head + "\n")
    print(markdown(COLUMNS, rows_fmt))
    text = verdict(rows)
    print("\n" + text)
    if pruning:
        print("\nMagnitude pruning (Zhu & Gupta schedule to 80 %, 3 epochs fine-tuning):\n")
        print(markdown(["model", "sparsity", "gzip kB", "raw kB", "test accuracy"],
                       [[p["model"], f"{p['sparsity']:.3f}", f"{p['gzip_kb']:.1f}",
                         f"{p['raw_kb']:.1f}", f"{p['accuracy']:.3f}"] for p in pruning]))
    total_s = time.perf_counter() - start
    print(f"\n(total {total_s:.0f} s after imports)", file=sys.stderr)
    if args.json:
        description = (
            f"The clinic model of notebook 08 (scan + health record + note → 4 diagnoses, "
            f"{model.count_params():,} parameters, trained {epochs} epochs on "
            f"{len(y['train'])} patients) against its LiteRT float32, float16 and int8 "
            f"(full-integer, calibrated on 200 training samples) conversions. Accuracy on "
            f"{n_test} held-out patients; agreement = same predicted class as the Keras model. "
            "Latency on **one thread** (LiteRT `num_threads=1`; TensorFlow 1 intra-op and 1 "
            "inter-op thread; Keras row = `tf.function` graph mode) at batch 1 and 64, median "
            f"(min–max) of {repeats} timing runs, each the mean of back-to-back calls on one "
            "fixed batch after warm-up. Keras size = its `.keras` file (weights + config, no "
            "optimizer state).")
        doc = {"benchmark": "deploy",
               "title": "Deployment: LiteRT float32 / float16 / int8 size, accuracy and latency",
               "description": description, "columns": COLUMNS, "rows": rows_fmt,
               "goal": "Deployment: float32 / float16 / int8 size, accuracy and latency at "
                       "batch 1 and 64.",
               "verdict": text, "figures": [],
               "raw": {"n_train": len(y["train"]), "n_test": n_test, "epochs": epochs,
                       "params": model.count_params(), "repeats": repeats, "threads": 1,
                       "train_s": train_s, "convert_s": convert_s, "variants": rows,
                       "pruning": pruning}}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
