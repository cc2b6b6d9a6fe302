"""Argument checks shared by every public function (scikit-learn style messages).

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose message names the
argument, shows what was given and says what was expected, e.g.::

    ValueError: n_samples must be an integer >= 1, got 0.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as int, or raise naming ``name`` when it is not an integer in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {_range_text(minimum, maximum)}, got {value}.")
    return value


def check_float(name: str, value: Any, *, minimum: float | None = None,
                maximum: float | None = None, include_min: bool = True,
                include_max: bool = True) -> float:
    """Return ``value`` as float, or raise naming ``name`` when it is not a number in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    low_bad = minimum is not None and (value < minimum or (not include_min and value == minimum))
    high_bad = maximum is not None and (value > maximum or (not include_max and value == maximum))
    if low_bad or high_bad or value != value:
        lo = "" if minimum is None else ("[" if include_min else "(") + f"{minimum}"
        hi = "" if maximum is None else f"{maximum}" + ("]" if include_max else ")")
        interval = f"in {lo or '(-inf'}, {hi or 'inf)'}"
        raise ValueError(f"{name} must be a number {interval}, got {value}.")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise listing the allowed values."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
    return value


def check_numeric_array(name: str, value: Any) -> np.ndarray:
    """Return ``value`` as a float64 array, or raise naming ``name``: ``TypeError`` for values of
    the wrong type (strings, objects), ``ValueError`` for ragged nested lists."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array, got a {type(value).__name__} that numpy "
                         f"cannot turn into one ({err}).") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (integer or floating dtype), got dtype "
                         f"{arr.dtype} from a {type(value).__name__}.")
    return arr.astype(np.float64, copy=False)


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    if maximum is not None:
        return f"<= {maximum}"
    return ""
