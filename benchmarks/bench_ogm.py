"""OGM-GE vs plain joint training on a two-modality problem where one modality dominates.

The problem is :func:`mmlib.train.imbalanced_toy_problem` with the data seed
``derive_seed(seed, "data")``, as in
``tests/test_train.py::test_ogm_ge_raises_weak_modality_probe_accuracy``: 4 classes; modality A
(64-d) is clean and easy (class means of norm 6), modality B (32-d) is weaker but informative
(class means of norm 1.5); each encoder is ``Dense(16, relu) → Dense(4)``; a concatenation head;
SGD(0.01, momentum 0.9), batch 32. For every seed it trains the same initialisation three ways --
plain, OGM (no noise), OGM-GE (α given) -- and reports, on held-out data:

* ``probe_B``: accuracy of a logistic-regression probe on the frozen B-encoder features (the
  weak modality's *unimodal* accuracy, what OGM-GE is meant to raise),
* ``branch_B``: accuracy of B's own share of the logits (``h_B W_B + b/2``),
* ``probe_A``, ``fused``: the strong modality's probe and the fused model's accuracy,
* ``ratio_A``: the mean discrepancy ratio ρ_A = s_A / s_B during training.

Run:  python benchmarks/bench_ogm.py [--seeds 0 1 2] [--epochs 8] [--alpha 1.0]
                                     [--modulate-until EPOCH]
"""

from __future__ import annotations  # noqa: I001  (mmlib before keras: it quiets TF logs)

import argparse
import time

import mmlib  # noqa: F401
import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from mmlib import train
from mmlib._common import derive_seed


def probe(features, y, features_test, y_test) -> float:
    return LogisticRegression(max_iter=2000).fit(features, y).score(features_test, y_test)


def run(seed: int, variant: str, epochs: int, alpha: float, until: int | None) -> dict:
    (x, y), (xt, yt) = train.imbalanced_toy_problem(600, 600, seed=derive_seed(seed, "data"))
    keras.utils.set_random_seed(seed)
    encoders = {m: keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                     keras.layers.Dense(4)]) for m in "ab"}
    model = train.OGMGEModel(encoders, 4, alpha=alpha, ge=(variant == "OGM-GE"),
                             modulate=(variant != "plain"), seed=seed,
                             modulation_steps=None if until is None
                             else (0, until * -(-len(y) // 32)))  # epochs -> optimizer steps
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    feats = {m: np.asarray(encoders[m](x[m])) for m in "ab"}
    feats_t = {m: np.asarray(encoders[m](xt[m])) for m in "ab"}
    branch = model.modality_logits(xt)
    return {
        "seed": seed, "variant": variant,
        "probe_B": probe(feats["b"], y, feats_t["b"], yt),
        "branch_B": float(np.mean(np.argmax(np.asarray(branch["b"]), 1) == yt)),
        "probe_A": probe(feats["a"], y, feats_t["a"], yt),
        "fused": float(np.mean(np.argmax(np.asarray(model(xt)), 1) == yt)),
        "ratio_A": float(np.mean(hist.history["ratio_a"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--modulate-until", type=int, default=None,
                        help="last epoch (exclusive) with modulation (default: all epochs)")
    args = parser.parse_args()
    tf.config.experimental.enable_op_determinism()
    start = time.time()
    rows = [run(seed, variant, args.epochs, args.alpha, args.modulate_until)
            for seed in args.seeds for variant in ("plain", "OGM", "OGM-GE")]
    table = pd.DataFrame(rows)
    pd.set_option("display.precision", 3)
    print(f"epochs={args.epochs}  alpha={args.alpha}  modulate_until={args.modulate_until}  "
          "(probe chance level 0.25)")
    print(table.to_string(index=False))
    print("\nmean over seeds:")
    print(table.drop(columns="seed").groupby("variant", sort=False).mean().to_string())
    print(f"\n{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
