"""How every benchmark reports a repeated measurement: ``median (min–max)``."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median_range(values: Sequence[float], digits: int = 0, *, thousands: bool = False,
                 unit: str = "") -> str:
    """``"761 (706–794)"``: the median with the min–max of ``values``; one value alone.

    Args:
        values: the runs' measurements (at least one).
        digits: decimals shown.
        thousands: group thousands with commas (``"31,200"``).
        unit: appended after a space when given (``"1.82 (1.75–1.90) s"``).
    """
    if not values:
        raise ValueError("values must hold at least one measurement, got none")
    spec = f"{',' if thousands else ''}.{digits}f"
    text = format(statistics.median(values), spec)
    if len(values) > 1:
        text += f" ({format(min(values), spec)}–{format(max(values), spec)})"
    return f"{text} {unit}" if unit else text
