"""Widgets of notebook 07 (robustness): each method's accuracy as one modality is corrupted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, check_table, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


SWEEP_COLUMNS = ("method", "corruption", "severity", "value")
"""Columns of the sweep table behind :func:`corruption_explorer` (one row per method,
corruption and severity; ``value`` is the accuracy, as in :func:`mmlib.robust.robustness_sweep`)."""


def _check_sweep(sweep: Any) -> Any:
    return check_table("sweep", sweep, SWEEP_COLUMNS, ["value"])


def sweep_levels(sweep: Any) -> tuple[list[str], list[float]]:
    """The corruptions (in order of appearance) and the severities (ascending) of a sweep."""
    sweep = _check_sweep(sweep)
    return (list(dict.fromkeys(sweep["corruption"])),
            sorted(float(s) for s in sweep["severity"].unique()))


def corruption_figure(sweep: Any, examples: Mapping[tuple[str, float], Any], corruption: str,
                      severity: float) -> Figure:
    """Accuracy of every method at one corruption and severity, beside an example input.

    The plain function behind :func:`corruption_explorer`. Left: one horizontal bar per method
    (in the order of the sweep) with its accuracy; a black tick marks the same method at the
    lowest severity of the sweep (normally 0: no corruption). Right: ``examples[(corruption,
    severity)]``, a 2-D array (an image, or a spectrogram with frequency on the first axis) drawn
    as a grey-scale picture.

    Args:
        sweep: ``pandas.DataFrame`` with the columns :data:`SWEEP_COLUMNS`.
        examples: ``{(corruption, severity): 2-D array}`` for every corruption and severity.
        corruption: one of the sweep's corruptions.
        severity: one of the sweep's severities.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    corruptions, severities = sweep_levels(sweep)
    if corruption not in corruptions:
        raise ValueError(f"corruption must be one of the sweep's corruptions {corruptions}, got "
                         f"{corruption!r}.")
    if isinstance(severity, bool) or not isinstance(severity, int | float | np.floating):
        raise TypeError(f"severity must be a number, got {type(severity).__name__}.")
    level = next((s for s in severities if abs(s - float(severity)) < 1e-9), None)
    if level is None:
        raise ValueError(f"severity must be one of the sweep's severities {severities}, got "
                         f"{severity}.")
    if not isinstance(examples, Mapping) or (corruption, level) not in examples:
        raise ValueError(f"examples must map (corruption, severity) to a 2-D array; missing "
                         f"{(corruption, level)!r}.")
    picture = np.asarray(examples[(corruption, level)], dtype=float)
    if picture.ndim != 2:
        raise ValueError(f"examples[{(corruption, level)!r}] must be a 2-D array, got shape "
                         f"{picture.shape}.")
    part = sweep[sweep["corruption"] == corruption]
    methods = list(dict.fromkeys(part["method"]))
    table = part.groupby(["method", "severity"])["value"].mean()
    now = [table.get((m, level), np.nan) for m in methods]
    base = [table.get((m, severities[0]), np.nan) for m in methods]
    fig, (ax, ax_x) = plt.subplots(1, 2, figsize=(9.5, 0.35 * len(methods) + 2.4),
                                   gridspec_kw={"width_ratios": [2.2, 1]})
    y = range(len(methods))
    ax.barh(y, now, color="#0173b2", height=0.65)
    ax.scatter(base, y, marker="|", s=250, color="black", zorder=3, label="uncorrupted")
    for yi, acc in zip(y, now, strict=True):
        ax.text(acc - 0.01, yi, f"{acc:.2f}", va="center", ha="right", color="white",
                fontsize="small")
    ax.set_yticks(list(y), methods)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="test accuracy", title=f"{corruption}, severity {level:g}")
    ax.legend(loc="lower left", fontsize="small")
    ax_x.imshow(picture, cmap="gray", origin="lower" if "audio" in corruption else "upper",
                aspect="auto")
    ax_x.set(xticks=[], yticks=[], title="one test input")
    fig.tight_layout()
    return fig


def corruption_explorer(sweep: Any, examples: Mapping[tuple[str, float], Any]) -> WithStaticView:
    """A corruption menu and a severity slider over a precomputed sweep; the figure is
    :func:`corruption_figure`. Nothing is evaluated while dragging. The static view shows the
    first corruption at its highest severity."""
    import ipywidgets as w

    corruptions, severities = sweep_levels(sweep)
    menu = w.Dropdown(options=corruptions, value=corruptions[0], description="Corruption")
    slider = w.SelectionSlider(options=[(f"{s:g}", s) for s in severities],
                               value=severities[-1], description="Severity",
                               layout=w.Layout(width="320px"))

    def draw(corruption: str, severity: float) -> Figure:
        return corruption_figure(sweep, examples, corruption, severity)

    return interactive_figure({"corruption": menu, "severity": slider}, draw,
                              "Accuracy of each fusion method as one modality is corrupted")
