"""Helpers shared by the dataset generators of :mod:`mmlib.data` (private)."""

from __future__ import annotations

import numpy as np

from mmlib._common import derive_seed
from mmlib._validate import check_float, check_int
from mmlib.data.container import MultimodalDataset


def check_common(n_samples: int, seed: int, missing_rate: float) -> None:
    """Check the three arguments every loader has."""
    check_int("n_samples", n_samples, minimum=1)
    check_int("seed", seed, minimum=0)
    check_float("missing_rate", missing_rate, minimum=0.0, maximum=1.0, include_max=False)


def finish(ds: MultimodalDataset, missing_rate: float, seed: int) -> MultimodalDataset:
    """Drop modalities at ``missing_rate`` (seeded from ``seed`` and the dataset name)."""
    if missing_rate > 0:
        return ds.drop_modalities(missing_rate, seed=derive_seed(seed, ds.name, "missing"))
    return ds


def colored_noise(gen: np.random.Generator, n: int, length: int, exponent: float,
                  scale: np.ndarray | None = None, bank_rows: int = 128) -> np.ndarray:
    """``(n, length)`` float32 noise with power spectrum ~ 1/f**exponent (0 white, 1 pink).

    Cut from a bank of ``bank_rows`` long noise rows at random offsets and signs (one FFT for the
    bank instead of one per sample); each row has unit RMS, times ``scale[i]`` if given.
    """
    bank_len = 2 * length
    spec = (gen.standard_normal((bank_rows, bank_len // 2 + 1), dtype=np.float32)
            + 1j * gen.standard_normal((bank_rows, bank_len // 2 + 1), dtype=np.float32))
    f = np.arange(bank_len // 2 + 1, dtype=np.float32)
    f[0] = 1.0
    spec *= f ** np.float32(-exponent / 2)
    spec[:, 0] = 0.0
    bank = np.fft.irfft(spec, n=bank_len, axis=1).astype(np.float32)
    bank /= bank.std(axis=1, keepdims=True)
    row = gen.integers(bank_rows, size=n)
    off = gen.integers(bank_len - length + 1, size=n)
    gain = np.where(gen.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    if scale is not None:
        gain *= np.asarray(scale, dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(bank, length, axis=1)
    out = windows[row, off]  # (n, length) copy of contiguous slices
    out *= gain[:, None]
    return out
