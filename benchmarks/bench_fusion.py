"""Benchmark: TensorFusion (+ Dense) vs LowRankFusion as modalities and feature sizes grow.

TFN (Zadeh et al., 2017) forms the full outer product of the M modality vectors extended by a
constant 1, a tensor of ``∏_m (d_m + 1)`` entries per sample, and a ``Dense(units)`` on top has
``units·∏_m (d_m + 1)`` weights. LMF (Liu et al., 2018) computes the same kind of map with
rank-R modality-specific factors, ``R·units·Σ_m (d_m + 1)`` weights, never forming the tensor.

For each configuration (all modalities of size d) this prints:

* ``params``: trainable parameters (TFN: of the Dense layer after TensorFusion; LMF: all);
* ``fwd ms``: median wall time of one forward pass of a batch (``tf.function``, CPU), after a
  warm-up call;
* ``memory MB``: **analytic** bytes (float32), ``parameter bytes + activation bytes``, where the
  activations counted are the fused tensor (TFN: ``batch·∏(d_m+1)``; LMF: the
  ``(batch, rank, units)`` product of factor projections) plus the ``(batch, units)`` output.
  This is what the method must hold at once; it is computed, not measured (TensorFlow has no
  per-op memory statistics on CPU).

TFN configurations whose memory would exceed ``--max-mb`` are not run; their row shows the
analytic numbers and ``skipped`` as time.

Run: ``python benchmarks/bench_fusion.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations  # noqa: I001  (mmlib before keras: it quiets TF logs)

import argparse
import math
import statistics
import time

import mmlib  # noqa: F401
import keras
import numpy as np
import tensorflow as tf

from mmlib.fusion import LowRankFusion, TensorFusion

BYTES = 4  # float32


def tfn_numbers(m: int, d: int, batch: int, units: int) -> tuple[int, float]:
    size = (d + 1) ** m
    params = size * units + units
    mem = (params + batch * size + batch * units) * BYTES
    return params, mem / 2**20


def lmf_numbers(m: int, d: int, batch: int, units: int, rank: int) -> tuple[int, float]:
    params = rank * units * m * (d + 1) + rank + units
    mem = (params + batch * rank * units + batch * units) * BYTES
    return params, mem / 2**20


def time_forward(fn, inputs, repeats: int) -> float:
    fn(inputs)  # trace + warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(inputs)
        _ = out.numpy()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run(modalities=(2, 3, 4), sizes=(8, 16, 32, 64), batch=32, units=16, rank=4, repeats=20,
        max_mb=512.0, seed=0) -> list[dict]:
    """Run the benchmark grid; returns one dict per (M, d) row."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in modalities:
        for d in sizes:
            keras.backend.clear_session()
            xs = [tf.constant(rng.normal(size=(batch, d)), "float32") for _ in range(m)]
            t_params, t_mem = tfn_numbers(m, d, batch, units)
            l_params, l_mem = lmf_numbers(m, d, batch, units, rank)
            lmf = LowRankFusion(units, rank, seed=seed)
            lmf(xs)
            assert lmf.count_params() == l_params
            l_ms = time_forward(tf.function(lambda z, layer=lmf: layer(z)), xs, repeats)
            if t_mem <= max_mb:
                fusion = TensorFusion()
                dense = keras.layers.Dense(units)
                dense(fusion(xs))
                assert dense.count_params() == t_params
                t_ms = time_forward(tf.function(lambda z, f=fusion, h=dense: h(f(z))), xs,
                                    repeats)
            else:
                t_ms = math.nan
            rows.append(dict(M=m, d=d, fused=(d + 1) ** m, tfn_params=t_params, tfn_ms=t_ms,
                             tfn_mb=t_mem, lmf_params=l_params, lmf_ms=l_ms, lmf_mb=l_mem))
    return rows


def format_table(rows: list[dict], batch: int, units: int, rank: int) -> str:
    head = (f"batch={batch}, units={units}, LMF rank={rank}; memory = analytic float32 bytes of "
            "parameters + fused activations + output\n\n"
            "| M | d | ∏(d+1) | TFN params | LMF params | TFN fwd ms | LMF fwd ms | TFN MB | "
            "LMF MB |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        t_ms = "skipped" if math.isnan(r["tfn_ms"]) else f"{r['tfn_ms']:.2f}"
        lines.append(f"| {r['M']} | {r['d']} | {r['fused']:,} | {r['tfn_params']:,} | "
                     f"{r['lmf_params']:,} | {t_ms} | {r['lmf_ms']:.2f} | {r['tfn_mb']:,.2f} | "
                     f"{r['lmf_mb']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--max-mb", type=float, default=512.0,
                        help="skip running TFN configurations needing more memory than this")
    args = parser.parse_args()
    rows = run(batch=args.batch, units=args.units, rank=args.rank, repeats=args.repeats,
               max_mb=args.max_mb)
    print(format_table(rows, args.batch, args.units, args.rank))


if __name__ == "__main__":
    main()
