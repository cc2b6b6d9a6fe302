"""Automatic checks for the exercises.

An exercise cell ends with a check such as ``check.close("softmax", my_softmax(x), expected)``.
A passing check prints one line; a failing one raises :class:`ExerciseFailed` (an
``AssertionError``) with a hint that says what differs, never the answer itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ExerciseFailed(AssertionError):
    """An exercise's check did not pass; the message says what to look at."""


def _passed(name: str) -> None:
    print(f"✔ {name}: passed")


def _as_array(name: str, value: Any) -> np.ndarray:
    if value is Ellipsis or value is None:
        raise ExerciseFailed(f"{name}: replace the `...` placeholder with your code.")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        kind = type(value).__name__
        raise ExerciseFailed(f"{name}: expected numbers, got {kind} ({exc}).") from None


def shape(name: str, got: Any, expected: Sequence[int | None]) -> None:
    """Pass when ``got`` has shape ``expected`` (``None`` matches any size)."""
    arr = _as_array(name, got)
    expected = tuple(expected)
    ok = len(arr.shape) == len(expected) and all(
        e is None or e == g for g, e in zip(arr.shape, expected, strict=True))
    if not ok:
        raise ExerciseFailed(f"{name}: expected shape {expected}, got {arr.shape}.")
    _passed(name)


def close(name: str, got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Pass when ``got`` equals ``expected`` element-wise within tolerance."""
    got_a, exp_a = _as_array(name, got), _as_array(name, expected)
    if got_a.shape != exp_a.shape:
        raise ExerciseFailed(f"{name}: expected shape {exp_a.shape}, got {got_a.shape}.")
    if not np.allclose(got_a, exp_a, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got_a - exp_a)))
        raise ExerciseFailed(f"{name}: values differ from the reference (largest difference "
                             f"{worst:.3g}, tolerance rtol={rtol}, atol={atol}).")
    _passed(name)


def equal(name: str, got: Any, expected: Any) -> None:
    """Pass when ``got == expected`` (for labels, strings, counts)."""
    if got is Ellipsis:
        raise ExerciseFailed(f"{name}: replace the `...` placeholder with your code.")
    same = np.array_equal(np.asarray(got), np.asarray(expected)) if isinstance(
        got, (np.ndarray, list, tuple)) else got == expected
    if not same:
        raise ExerciseFailed(f"{name}: expected {expected!r}, got {got!r}.")
    _passed(name)


def true(name: str, condition: bool, hint: str) -> None:
    """Pass when ``condition`` holds; otherwise show ``hint``."""
    if not bool(condition):
        raise ExerciseFailed(f"{name}: {hint}")
    _passed(name)
