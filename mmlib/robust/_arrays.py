"""Checks and array helpers shared by the files of :mod:`mmlib.robust` (private).

Every corruption starts with :func:`prologue` (severity in [0, 1], a seeded generator, the shape
check of its kind) and ends with :func:`cast_like` (the input's dtype, integers rounded and
clipped).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from mmlib._common import rng
from mmlib._validate import check_float


def check_severity(severity: Any) -> float:
    """``severity`` as a float in [0, 1], or a ValueError naming ``severity``."""
    return check_float("severity", severity, minimum=0.0, maximum=1.0)


def batch_array(x: Any, name: str = "x", *, min_ndim: int = 1, max_ndim: int | None = None,
                shape_text: str = "") -> np.ndarray:
    """``x`` as an array with ``min_ndim <= ndim <= max_ndim`` and at least one sample."""
    arr = np.asarray(x)
    if arr.ndim < min_ndim or (max_ndim is not None and arr.ndim > max_ndim):
        expected = shape_text or f"an array with at least {min_ndim} dimension(s)"
        raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample on axis 0, got shape {arr.shape}.")
    return arr


def check_numeric(arr: np.ndarray, name: str = "x") -> None:
    """Raise unless ``arr`` has an integer or floating dtype."""
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers (integer or floating dtype), got dtype "
                         f"{arr.dtype}.")


def numeric_batch(x: Any, shape_text: str, min_ndim: int, max_ndim: int | None = None
                  ) -> np.ndarray:
    """:func:`batch_array` plus :func:`check_numeric`: the input check of most corruptions."""
    arr = batch_array(x, min_ndim=min_ndim, max_ndim=max_ndim, shape_text=shape_text)
    check_numeric(arr)
    return arr


def cast_like(y: np.ndarray, like: np.ndarray, lo: float | None = None,
              hi: float | None = None) -> np.ndarray:
    """Return ``y`` in the dtype of ``like``; integer outputs are rounded and clipped."""
    if np.issubdtype(like.dtype, np.integer):
        info = np.iinfo(like.dtype)
        lo = info.min if lo is None else max(lo, info.min)
        hi = info.max if hi is None else min(hi, info.max)
        return np.clip(np.rint(y), lo, hi).astype(like.dtype)
    return y.astype(like.dtype, copy=False)


def ordered_pair(name: str, value: Any, text: str = "(low, high) with low < high",
                 *, decreasing: bool = False) -> tuple[float, float]:
    """``value`` as two finite floats ``(a, b)`` with ``a < b`` (``a > b`` if ``decreasing``)."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):  # not iterable, wrong length, not numbers
        raise ValueError(f"{name} must be a pair {text}, got {value!r}.") from None
    ordered = a > b if decreasing else a < b
    if not (ordered and np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{name} must be a pair {text}, got {value!r}.")
    return a, b


def check_fill(fill: Any, name: str = "fill") -> float:
    """A numeric fill value (NaN allowed) as float, or a TypeError naming the argument."""
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real):
        raise TypeError(f"{name} must be a number, got {fill!r} of type {type(fill).__name__}.")
    return float(fill)


def n_affected(severity: float, n: int, *, at_most: int | None = None) -> int:
    """``round(severity * n)``, at least 1 when ``severity > 0``, at most ``at_most`` (or n)."""
    if severity == 0.0:
        return 0
    k = max(1, int(round(severity * n)))
    return min(k, n if at_most is None else at_most)


def prologue(x: Any, severity: Any, seed: Any, check: Callable[[Any], Any]
             ) -> tuple[Any, float, np.random.Generator]:
    """Checks shared by every corruption: ``(check(x), severity in [0, 1], seeded generator)``.

    The generator is :func:`mmlib._common.rng` of ``seed`` (no keys: the stream of
    ``np.random.default_rng(seed)``).
    """
    severity = check_severity(severity)
    generator = rng(seed)
    return check(x), severity, generator
