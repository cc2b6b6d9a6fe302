"""Widgets of notebook 11 (smart security): the alert trade-off of an anomaly detector.

A detector flags a clip when its anomaly score is at least a threshold. Raising the threshold
trades false alarms (误报) for missed events (漏报); what an operator feels is *per hour*: how many
alerts come in and how many real events slip through. With ``r`` clips per hour, event rate
``pi`` (the prevalence), recall ``TPR`` and false-positive rate ``FPR`` at the threshold::

    alerts / hour        = r (pi TPR + (1 - pi) FPR)
    false alarms / hour  = r (1 - pi) FPR
    missed events / hour = r pi (1 - TPR)
    precision            = pi TPR / (pi TPR + (1 - pi) FPR)

``TPR`` and ``FPR`` are measured on labelled clips; ``pi`` may be the labelled set's own event
rate or the (much lower) rate of the place where the camera hangs — precision depends on it,
recall and the false-positive rate do not (Saito & Rehmsmeier 2015, "The Precision-Recall Plot Is
More Informative than the ROC Plot When Evaluating Binary Classifiers on Imbalanced Datasets",
*PLoS ONE* 10(3)).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ALERT_CLIPS_PER_HOUR = 3600
"""Default clip rate: one camera, one 1-second clip analysed every second."""
ALERT_EVENT_RATES = (None, 0.01, 0.001)
"""Event rates offered by :func:`alert_tradeoff_explorer`: ``None`` = the labelled clips' own
rate, then one clip in 100 and one in 1,000 showing an event."""
ALERT_KEYS = ("threshold", "recall", "false_positive_rate", "precision", "event_rate",
              "alerts_per_hour", "false_alarms_per_hour", "missed_per_hour", "events_per_hour")
"""Keys of the dictionary returned by :func:`alert_tradeoff` (and columns of
:func:`alert_curve`)."""


def _scores_and_labels(scores: Any, is_event: Any) -> tuple[np.ndarray, np.ndarray]:
    from mmlib._validate import check_numeric_array

    s = check_numeric_array("scores", scores)
    y = np.asarray(is_event)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError(f"scores must be a non-empty 1-D array of finite anomaly scores, got "
                         f"shape {s.shape}.")
    if y.shape != s.shape:
        raise ValueError(f"is_event must have one entry per score, shape {s.shape}, got shape "
                         f"{y.shape}.")
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise ValueError("is_event must hold only 0/1 or False/True (1 = the clip shows an "
                         "event).")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError(f"is_event must contain both events and normal clips, got "
                         f"{int(y.sum())} event(s) among {y.size} clips.")
    return s, y


def _rate(name: str, value: Any, *, low: float, high: float, closed: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    ok = low <= value <= high if closed else low < value < high
    if not ok:
        where = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise ValueError(f"{name} must be a number in {where}, got {value}.")
    return value


def alert_tradeoff(scores: Any, is_event: Any, threshold: float, *,
                   clips_per_hour: float = ALERT_CLIPS_PER_HOUR,
                   event_rate: float | None = None) -> dict[str, float]:
    """What a threshold on anomaly scores means per hour of camera time.

    A clip raises an alert when ``score >= threshold``. ``recall`` (the fraction of events
    flagged) and ``false_positive_rate`` (the fraction of normal clips flagged) are measured on
    the labelled clips; the hourly counts and the precision use ``event_rate`` (see the module
    docstring for the formulas).

    Args:
        scores: ``(n,)`` anomaly scores (higher = more unusual).
        is_event: ``(n,)`` 0/1, 1 = the clip shows an event; both kinds must occur.
        threshold: the alert threshold on the scores.
        clips_per_hour: clips analysed per hour (> 0).
        event_rate: fraction of clips that show an event where the camera hangs, in (0, 1);
            ``None`` = the fraction among the labelled clips.

    Returns:
        A dict with the keys :data:`ALERT_KEYS`. ``precision`` is NaN when nothing is flagged.
    """
    s, y = _scores_and_labels(scores, is_event)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number, got {threshold!r} of type "
                        f"{type(threshold).__name__}.")
    threshold = float(threshold)
    rate = _rate("clips_per_hour", clips_per_hour, low=0.0, high=np.inf)
    pi = float(y.mean()) if event_rate is None else _rate("event_rate", event_rate,
                                                           low=0.0, high=1.0)
    flagged = s >= threshold
    tpr, fpr = float(flagged[y].mean()), float(flagged[~y].mean())
    true_alerts, false_alerts = pi * tpr, (1 - pi) * fpr
    total = true_alerts + false_alerts
    return {"threshold": threshold, "recall": tpr, "false_positive_rate": fpr,
            "precision": true_alerts / total if total > 0 else float("nan"), "event_rate": pi,
            "alerts_per_hour": rate * total, "false_alarms_per_hour": rate * false_alerts,
            "missed_per_hour": rate * pi * (1 - tpr), "events_per_hour": rate * pi}


def alert_curve(scores: Any, is_event: Any, thresholds: Sequence[float] | np.ndarray, *,
                clips_per_hour: float = ALERT_CLIPS_PER_HOUR,
                event_rate: float | None = None) -> Any:
    """:func:`alert_tradeoff` at every threshold: a ``pandas.DataFrame`` with the columns
    :data:`ALERT_KEYS`, one row per threshold (in the given order)."""
    import pandas as pd

    thresholds = np.asarray(thresholds, dtype=float).reshape(-1)
    if thresholds.size == 0:
        raise ValueError("thresholds must hold at least one threshold, got none.")
    return pd.DataFrame([alert_tradeoff(scores, is_event, float(t),
                                        clips_per_hour=clips_per_hour, event_rate=event_rate)
                         for t in thresholds], columns=list(ALERT_KEYS))


def rate_label(event_rate: float | None) -> str:
    """``"as labelled"`` for ``None``, else e.g. ``"1 in 1,000"``."""
    if event_rate is None:
        return "as labelled"
    return f"1 in {round(1 / event_rate):,}"


def _grid(scores: np.ndarray, points: int = 121) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    return np.linspace(low, high + 1e-9 * max(1.0, abs(high)), points)


def alert_figure(scores: Any, is_event: Any, threshold: float, *,
                 clips_per_hour: float = ALERT_CLIPS_PER_HOUR,
                 event_rate: float | None = None) -> Figure:
    """The plain function behind :func:`alert_tradeoff_explorer`.

    Left: histograms of the scores of normal clips and of event clips, with the threshold.
    Right: false alarms and missed events per hour against the threshold (log scale), the
    current threshold marked; the title gives recall, precision and alerts per hour there.

    Args:
        scores, is_event, threshold, clips_per_hour, event_rate: as for :func:`alert_tradeoff`.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    now = alert_tradeoff(scores, is_event, threshold, clips_per_hour=clips_per_hour,
                         event_rate=event_rate)
    s, y = _scores_and_labels(scores, is_event)
    curve = alert_curve(s, y, _grid(s), clips_per_hour=clips_per_hour, event_rate=event_rate)
    fig, (ax_h, ax_c) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    bins = np.linspace(s.min(), s.max(), 31)
    ax_h.hist(s[~y], bins=bins, alpha=0.6, color="#0173b2", label=f"normal clips ({(~y).sum()})")
    ax_h.hist(s[y], bins=bins, alpha=0.6, color="#d55e00", label=f"event clips ({y.sum()})")
    ax_h.axvline(now["threshold"], color="black", linestyle="--", label="threshold")
    ax_h.set(xlabel="anomaly score", ylabel="clips", title="Scores of labelled clips")
    ax_h.legend(fontsize="small")
    for key, colour, label in (("false_alarms_per_hour", "#0173b2", "false alarms per hour"),
                               ("missed_per_hour", "#d55e00", "missed events per hour")):
        values = curve[key].where(curve[key] > 0)  # none at all: no point on a log scale
        ax_c.plot(curve["threshold"], values, color=colour, label=label)
    ax_c.axvline(now["threshold"], color="black", linestyle="--")
    ax_c.set_yscale("log")
    ax_c.set(xlabel="threshold (alert when score ≥ threshold)", ylabel="clips per hour (log)",
             title=f"{clips_per_hour:,.0f} clips/h, events {rate_label(event_rate)}")
    ax_c.legend(fontsize="small", loc="center right")
    precision = "n/a" if np.isnan(now["precision"]) else f"{now['precision']:.2f}"
    fig.suptitle(f"threshold {now['threshold']:.3g}: recall {now['recall']:.2f}, precision "
                 f"{precision}, {now['alerts_per_hour']:,.1f} alerts/h "
                 f"({now['false_alarms_per_hour']:,.1f} false), "
                 f"{now['missed_per_hour']:,.2f} missed events/h")
    fig.tight_layout()
    return fig


def alert_tradeoff_explorer(scores: Any, is_event: Any, *, threshold: float | None = None,
                            clips_per_hour: float = ALERT_CLIPS_PER_HOUR,
                            event_rates: Sequence[float | None] = ALERT_EVENT_RATES
                            ) -> WithStaticView:
    """A threshold slider and an event-rate menu over :func:`alert_figure`.

    Args:
        scores, is_event: as for :func:`alert_tradeoff` (e.g. a detector's test-set scores).
        threshold: initial threshold (e.g. the one chosen on validation data); ``None`` = the
            median score. The static view shows it.
        clips_per_hour: clips analysed per hour.
        event_rates: the menu's event rates (``None`` = as labelled).
    """
    import ipywidgets as w

    s, y = _scores_and_labels(scores, is_event)
    rates = list(event_rates)
    if not rates:
        raise ValueError("event_rates must offer at least one event rate, got none.")
    for r in rates:
        if r is not None:
            _rate("event_rates", r, low=0.0, high=1.0)
    start = float(np.median(s)) if threshold is None else float(threshold)
    grid = _grid(s)
    slider = w.FloatSlider(value=min(max(start, grid[0]), grid[-1]), min=grid[0], max=grid[-1],
                           step=(grid[-1] - grid[0]) / 200, description="Threshold",
                           readout_format=".3g", continuous_update=False,
                           layout=w.Layout(width="380px"))
    menu = w.Dropdown(options=[(rate_label(r), r) for r in rates], value=rates[0],
                      description="Events")

    def draw(threshold: float, event_rate: float | None) -> Figure:
        return alert_figure(s, y, threshold, clips_per_hour=clips_per_hour,
                            event_rate=event_rate)

    return interactive_figure({"threshold": slider, "event_rate": menu}, draw,
                              "Alert trade-off: false alarms and missed events per hour")
