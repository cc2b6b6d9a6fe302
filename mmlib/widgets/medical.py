"""Widgets of notebook 09 (case study: medical diagnosis): a decision-threshold explorer.

A screening decision turns a score (e.g. the calibrated probability of a malignant lesion) into
"refer" / "do not refer" with a threshold ``t``: refer when ``score >= t``. Moving ``t`` trades
sensitivity (the fraction of positives referred) against specificity (the fraction of negatives
not referred); the widget shows both, the 2×2 confusion matrix and the point on the ROC curve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


THRESHOLD_STEPS = 101
"""Number of positions of the threshold slider (0, 0.01, ..., 1) besides the chosen threshold."""


def _scores_and_positives(scores: Any, positives: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(n,)`` float scores in [0, 1] and ``(n,)`` bool positives (both classes)."""
    import numpy as np

    from mmlib._validate import check_numeric_array

    s = check_numeric_array("scores", scores)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores must be a 1-D array (one score per patient), got shape "
                         f"{s.shape}.")
    if not np.all(np.isfinite(s)) or s.min() < 0 or s.max() > 1:
        raise ValueError(f"scores must be probabilities in [0, 1], got values from "
                         f"{np.nanmin(s):.3g} to {np.nanmax(s):.3g}.")
    p = np.asarray(positives)
    if p.shape != s.shape:
        raise ValueError(f"positives must have the shape of scores {s.shape}, got {p.shape}.")
    if p.dtype != bool:
        if not np.isin(p, (0, 1)).all():
            raise ValueError("positives must be booleans or 0/1 (1 = has the condition), got "
                             f"values {sorted(set(np.unique(p).tolist()))[:5]}.")
        p = p.astype(bool)
    if p.all() or not p.any():
        raise ValueError(f"positives must hold both classes, got {int(p.sum())} positive(s) "
                         f"among {p.size}.")
    return s, p


def _threshold(threshold: Any) -> float:
    from mmlib._validate import check_float

    return check_float("threshold", threshold, minimum=0.0, maximum=1.0)


def threshold_metrics(scores: Any, positives: Any, threshold: float) -> dict[str, float]:
    """Confusion counts, sensitivity and specificity of the rule ``score >= threshold``.

    Args:
        scores: ``(n,)`` scores in [0, 1] (e.g. probabilities of the positive class).
        positives: ``(n,)`` bool or 0/1, True for patients who have the condition.
        threshold: in [0, 1]; a patient is called positive when ``score >= threshold``.

    Returns:
        ``{"tp", "fn", "fp", "tn"}`` (counts), ``"sensitivity"`` = TP / (TP + FN) (recall of the
        positives, 敏感性) and ``"specificity"`` = TN / (TN + FP) (特异性).
    """
    s, p = _scores_and_positives(scores, positives)
    called = s >= _threshold(threshold)
    tp, fn = int((called & p).sum()), int((~called & p).sum())
    fp, tn = int((called & ~p).sum()), int((~called & ~p).sum())
    return {"tp": tp, "fn": fn, "fp": fp, "tn": tn, "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp)}


def roc_points(scores: Any, positives: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve: false-positive rates and true-positive rates ``(k,)`` of every threshold
    (every distinct score, plus one above the largest), from (0, 0) to (1, 1)."""
    import numpy as np

    s, p = _scores_and_positives(scores, positives)
    cuts = np.r_[np.inf, np.unique(s)[::-1]]
    called = s[None, :] >= cuts[:, None]
    return (called & ~p).sum(1) / (~p).sum(), (called & p).sum(1) / p.sum()


def threshold_figure(scores: Any, positives: Any, threshold: float, *,
                     chosen: float | None = None, positive_name: str = "positive") -> Figure:
    """The rule ``score >= threshold``: its 2×2 confusion matrix and its point on the ROC curve.

    The plain function behind :func:`threshold_explorer`. Left: patients by truth (rows) and
    decision (columns), counts and row fractions; right: the ROC curve (1 - specificity against
    sensitivity), the current threshold's point and, if given, the ``chosen`` threshold's point.

    Args:
        scores: ``(n,)`` scores in [0, 1].
        positives: ``(n,)`` bool or 0/1 truth.
        threshold: current threshold in [0, 1].
        chosen: a threshold to mark for reference (e.g. the one picked on validation data).
        positive_name: what a positive is called, e.g. ``"malignant"``.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not isinstance(positive_name, str) or not positive_name.strip():
        raise TypeError(f"positive_name must be a non-empty string, got {positive_name!r}.")
    now = threshold_metrics(scores, positives, threshold)
    fpr, tpr = roc_points(scores, positives)
    fig, (ax_cm, ax_roc) = plt.subplots(1, 2, figsize=(9.5, 3.9),
                                        gridspec_kw={"width_ratios": [1, 1.15]})
    counts = np.array([[now["tp"], now["fn"]], [now["fp"], now["tn"]]])
    rows = counts / counts.sum(axis=1, keepdims=True)
    ax_cm.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax_cm.text(j, i, f"{counts[i, j]}\n({rows[i, j]:.2f})", ha="center", va="center",
                       color="white" if rows[i, j] > 0.6 else "black")
    ax_cm.set_xticks([0, 1], [f"called {positive_name}", "called negative"])
    ax_cm.set_yticks([0, 1], [f"truly {positive_name}", "truly negative"])
    ax_cm.set_title(f"threshold {threshold:.2f}\nsensitivity {now['sensitivity']:.2f}, "
                    f"specificity {now['specificity']:.2f}", fontsize="medium")
    ax_cm.grid(False)
    ax_roc.plot(fpr, tpr, color="#0173b2", label="ROC curve (all thresholds)")
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax_roc.scatter([1 - now["specificity"]], [now["sensitivity"]], s=70, color="#d55e00",
                   zorder=3, label=f"threshold {threshold:.2f}")
    if chosen is not None:
        ref = threshold_metrics(scores, positives, chosen)
        ax_roc.scatter([1 - ref["specificity"]], [ref["sensitivity"]], s=90, marker="x",
                       color="black", zorder=4, label=f"chosen threshold {chosen:.2f}")
    ax_roc.set(xlabel="1 - specificity (negatives referred)",
               ylabel=f"sensitivity ({positive_name} patients referred)",
               xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=f"ROC curve: {positive_name} vs rest")
    ax_roc.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def threshold_explorer(scores: Any, positives: Any, chosen: float = 0.5, *,
                       positive_name: str = "positive") -> WithStaticView:
    """A threshold slider over :func:`threshold_figure`; it starts at (and marks) ``chosen``.

    Nothing is re-evaluated but the counts, so dragging is instant. The static view shows the
    ``chosen`` threshold.
    """
    import ipywidgets as w
    import numpy as np

    _scores_and_positives(scores, positives)
    chosen = _threshold(chosen)
    steps = sorted({*np.round(np.linspace(0, 1, THRESHOLD_STEPS), 2).tolist(), chosen})
    slider = w.SelectionSlider(options=[(f"{v:.3f}", v) for v in steps], value=chosen,
                               description="Threshold", layout=w.Layout(width="420px"))

    def draw(threshold: float) -> Figure:
        return threshold_figure(scores, positives, threshold, chosen=chosen,
                                positive_name=positive_name)

    return interactive_figure({"threshold": slider}, draw,
                              f"Refer a patient when p({positive_name}) ≥ threshold")
