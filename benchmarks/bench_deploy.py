"""Size / accuracy / latency of LiteRT float32, float16 and int8 variants of a small fusion model.

Trains a two-input classifier (image 8×8×1 + vector 16 → 3 classes, ~44 k parameters) on a
synthetic task where both modalities carry class information (each modality = class template ×
amplitude + unit Gaussian noise; the task of ``tests/test_deploy.py``, rebuilt here so that the
benchmark stands alone), converts it with :func:`mmlib.deploy.export_litert_variants` (int8
calibrated on 200 training samples), and prints :func:`mmlib.deploy.deployment_report`. Then
prunes a copy gradually to 80 % sparsity during a short fine-tuning (Zhu & Gupta 2017 schedule)
and prints sparsity, gzip size and accuracy.

Run:  python benchmarks/bench_deploy.py [--n-runs 500] [--seed 0]
Nothing is written outside a temporary directory. Latencies depend on the machine and its load;
the script pins the interpreter to one thread.
"""

from __future__ import annotations  # noqa: I001  (quiet TensorFlow before it loads)

import argparse
import tempfile
import time
import types

import mmlib.env

mmlib.env.quiet_tensorflow()  # before TensorFlow loads: no C++ log lines in the output

import keras
import numpy as np
import pandas as pd

from mmlib import deploy

N_TRAIN, N_TEST = 2000, 1000


def make_task(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``({"image": (n, 8, 8, 1), "vector": (n, 16)}, labels (n,))``, 3 balanced classes."""
    rng = np.random.default_rng(seed)
    t_img, t_vec = rng.normal(size=(3, 8, 8, 1)), rng.normal(size=(3, 16))
    y = rng.integers(0, 3, n)
    image = (0.25 * t_img[y] + rng.normal(size=(n, 8, 8, 1))).astype("float32")
    vector = (0.4 * t_vec[y] + rng.normal(size=(n, 16))).astype("float32")
    return {"image": image, "vector": vector}, y


def build_model() -> keras.Model:
    """Conv image branch + dense vector branch, concatenated (intermediate fusion) → softmax."""
    image = keras.Input((8, 8, 1), name="image")
    vector = keras.Input((16,), name="vector")
    x = keras.layers.Conv2D(16, 3, activation="relu")(image)
    x = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(x))
    z = keras.layers.Dense(32, activation="relu")(vector)
    h = keras.layers.Dense(64, activation="relu")(keras.layers.Concatenate()([x, z]))
    out = keras.layers.Dense(3, activation="softmax", name="probs")(h)
    model = keras.Model([image, vector], out)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-runs", type=int, default=500, help="timed single-sample calls")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)  # seeds the initialisers and the shuffling of fit
    x, y = make_task(N_TRAIN + N_TEST, args.seed)
    train = {k: v[:N_TRAIN] for k, v in x.items()}
    test = {k: v[N_TRAIN:] for k, v in x.items()}
    y_train, y_test = y[:N_TRAIN], y[N_TRAIN:]
    model = build_model()
    start = time.perf_counter()
    model.fit(train, y_train, epochs=6, batch_size=64, verbose=0)
    print(f"trained {model.count_params()} parameters in {time.perf_counter() - start:.1f} s")

    pd.set_option("display.width", 140)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = types.SimpleNamespace(modalities=train)  # any object with .modalities works
        start = time.perf_counter()
        paths = deploy.export_litert_variants(model, tmp, representative_data=dataset)
        print(f"converted 3 variants in {time.perf_counter() - start:.1f} s\n")
        report = deploy.deployment_report(model, paths, test, y_test, n_runs=args.n_runs,
                                          warmup=50)
    print(f"LiteRT variants (test set of {N_TEST}; latency = median of "
          f"{args.n_runs} single-sample calls, 1 thread):")
    print(report.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    f32 = report.set_index("variant").loc["float32", "size_bytes"]
    i8 = report.set_index("variant").loc["int8", "size_bytes"]
    print(f"\nint8 / float32 file size = {i8 / f32:.3f}; int8 - float32/4 = {i8 - f32 / 4:.0f} "
          "bytes (int32 biases, per-channel scales and zero points, quantize/dequantize ops)")

    # gradual magnitude pruning of a copy during fine-tuning
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    pruned.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    steps = int(np.ceil(N_TRAIN / 64))
    schedule = deploy.PruningSchedule(0.8, end_step=2 * steps, frequency=8)
    pruned.fit(train, y_train, epochs=3, batch_size=64, verbose=0,
               callbacks=[deploy.PruningCallback(schedule, scope="global")])
    rows = []
    for name, m in (("dense", model), ("pruned 80 %", pruned)):
        acc = float(np.mean(m.predict(test, verbose=0).argmax(1) == y_test))
        rows.append({"model": name, "sparsity": deploy.sparsity(m),
                     "gzip_kb": deploy.compressed_size(m) / 1024,
                     "raw_kb": sum(w.nbytes for w in m.get_weights()) / 1024, "accuracy": acc})
    print("\nMagnitude pruning (Zhu & Gupta schedule, 3 epochs fine-tuning):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
