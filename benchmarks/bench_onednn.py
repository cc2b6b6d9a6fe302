"""What does switching oneDNN off cost? (``mmlib`` sets ``TF_ENABLE_ONEDNN_OPTS=0``.)

oneDNN's custom CPU kernels can be faster but make results depend on the thread schedule (floating
point sums in a different order), and TensorFlow prints a banner about them into notebook outputs.
This script trains the same small CNN + MLP two-input model with oneDNN off and on, each in a fresh
process, and prints the median epoch time of each.

Run: ``python benchmarks/bench_onednn.py``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

CHILD = r"""
import os, time
import numpy as np
import tensorflow as tf
import keras
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
img = rng.normal(size=(2048, 28, 28, 1)).astype("float32")
vec = rng.normal(size=(2048, 32)).astype("float32")
y = rng.integers(0, 10, size=2048)
a = keras.Input((28, 28, 1), name="image"); b = keras.Input((32,), name="vector")
h = keras.layers.Conv2D(16, 3, activation="relu")(a)
h = keras.layers.MaxPooling2D()(h)
h = keras.layers.Conv2D(32, 3, activation="relu")(h)
h = keras.layers.GlobalAveragePooling2D()(h)
g = keras.layers.Dense(64, activation="relu")(b)
out = keras.layers.Dense(10)(keras.layers.Concatenate()([h, g]))
model = keras.Model([a, b], out)
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
times = []
for _ in range(4):
    t = time.perf_counter()
    model.fit({"image": img, "vector": vec}, y, batch_size=64, epochs=1, verbose=0)
    times.append(time.perf_counter() - t)
print(" ".join(f"{x:.3f}" for x in times[1:]))
"""


def run(flag: str) -> list[float]:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": flag, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         check=True)
    return [float(x) for x in out.stdout.split()]


if __name__ == "__main__":
    print("oneDNN  median epoch (s)  epochs (s)")
    for flag in ("0", "1"):
        times = run(flag)
        label = "off" if flag == "0" else "on"
        print(f"{label:<7} {statistics.median(times):>17.3f}  {times}")
