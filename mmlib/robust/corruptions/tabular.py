"""Corruptions of feature tables and feature vectors: per-column noise and dropped entries.

Each function takes a batch ``(batch, n_features)``: a table of named features (kind
``tabular``, NaN = not recorded) or an unnamed feature vector (kind ``vector``); the maths is the
same, so the registry uses these functions for both kinds. ``severity`` 0 returns the input bit
for bit.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mmlib.robust._arrays import cast_like, check_fill, numeric_batch, prologue

__all__ = ["tabular_entry_drop", "tabular_noise"]


def _table(x: Any) -> np.ndarray:
    return numeric_batch(x, "a table or feature-vector batch of shape (batch, n_features)", 2, 2)


def tabular_entry_drop(x: np.ndarray, severity: float, seed: int = 0, *,
                       fill: float = np.nan) -> np.ndarray:
    """Replace each entry, independently with probability ``severity``, by ``fill`` (NaN).

    Models that cannot read NaN need an imputer first (or pass ``fill=0.0``). Integer tables need
    an integer ``fill`` (NaN does not exist for integers). Also the ``entry_drop`` of the
    ``vector`` kind.

    Args:
        x: table ``(batch, n_features)``.
        severity: per-entry drop probability, in [0, 1].
        seed: seed of the drops.
        fill: value written into dropped entries.

    Returns:
        The table with dropped entries, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _table)
    fill = check_fill(fill)
    if np.issubdtype(x.dtype, np.integer) and not fill.is_integer():
        raise ValueError(f"fill must be an integer for an integer table (dtype {x.dtype}), got "
                         f"{fill!r}.")
    if severity == 0.0:
        return x.copy()
    y = x.copy()
    y[rng.random(x.shape) < severity] = fill
    return y


def tabular_noise(x: np.ndarray, severity: float, seed: int = 0, *,
                  scale: np.ndarray | float | None = None) -> np.ndarray:
    """Add Gaussian noise with standard deviation ``severity * scale`` per column.

    ``scale`` defaults to each column's standard deviation in ``x`` (``ddof=0``, over its finite
    entries; 0 for a column without any), so severity 1 adds noise as large as the feature's own
    spread. NaN entries stay NaN. Also the ``noise`` of the ``vector`` kind.

    Args:
        x: table ``(batch, n_features)``.
        severity: in [0, 1]; noise std in units of ``scale``.
        seed: seed of the noise.
        scale: scalar or ``(n_features,)`` noise scale.

    Returns:
        The noisy table, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _table)
    if scale is None:
        finite = np.isfinite(x.astype(np.float64))
        with warnings.catch_warnings():  # an all-NaN column has no spread: scale 0
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nan_to_num(np.nanstd(np.where(finite, x, np.nan), axis=0), nan=0.0)
    scale_arr = np.asarray(scale)
    if (scale_arr.dtype.kind not in "biuf" or scale_arr.shape not in ((), (1,), (x.shape[1],))
            or not np.all(np.isfinite(scale_arr)) or np.any(scale_arr < 0)):
        raise ValueError(f"scale must be a number >= 0 or an array of shape ({x.shape[1]},) "
                         f"(one per feature) of numbers >= 0, got {scale!r}.")
    scale = np.broadcast_to(scale_arr.astype(np.float64), (x.shape[1],))
    if severity == 0.0:
        return x.copy()
    y = x.astype(np.float64) + severity * scale * rng.standard_normal(x.shape)
    return cast_like(y, x)
