"""Widgets of notebook 08 (efficient deployment): size, accuracy and latency per precision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, check_table, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


PRECISION_COLUMNS = ("precision", "batch_size", "size_kb", "accuracy", "latency_ms")
"""Columns of the table behind :func:`precision_explorer`: one row per deployed variant
(``precision``, e.g. ``"float32"``, ``"float16"``, ``"int8"``, ``"keras"``) and batch size, with
the file size in kB, the test accuracy (a fraction) and the median latency **per sample** in
milliseconds at that batch size."""
_HIGHLIGHT, _OTHER = "#0173b2", "#c8c8c8"


def _check_table(table: Any) -> Any:
    import numpy as np

    table = check_table("table", table, PRECISION_COLUMNS, ["accuracy"])
    for col in ("size_kb", "latency_ms"):
        values = table[col].to_numpy(dtype=float)
        if not np.all(values > 0):
            raise ValueError(f"table[{col!r}] must hold positive numbers, got minimum "
                             f"{np.nanmin(values):.3g}.")
    if table.duplicated(["precision", "batch_size"]).any():
        raise ValueError("table must have one row per (precision, batch_size), got duplicates.")
    return table


def precision_options(table: Any) -> tuple[list[str], list[int]]:
    """The precisions (in the table's order) and the batch sizes (ascending) of ``table``."""
    table = _check_table(table)
    return (list(dict.fromkeys(str(p) for p in table["precision"])),
            sorted(int(b) for b in table["batch_size"].unique()))


def precision_figure(table: Any, precision: str, batch_size: int) -> Figure:
    """Three bar charts — file size, test accuracy, latency per sample — one bar per precision.

    The plain function behind :func:`precision_explorer`. Size and accuracy do not depend on the
    batch size; latency is the column for ``batch_size``, on a log scale (a Keras graph call and
    a LiteRT interpreter call can differ a hundredfold). The bars of ``precision`` are
    highlighted and labelled with their values.

    Args:
        table: ``pandas.DataFrame`` with the columns :data:`PRECISION_COLUMNS`.
        precision: one of the table's precisions.
        batch_size: one of the table's batch sizes.

    Returns:
        The matplotlib ``Figure`` (three axes: size, accuracy, latency).
    """
    import matplotlib.pyplot as plt

    precisions, sizes = precision_options(table)
    if precision not in precisions:
        raise ValueError(f"precision must be one of the table's precisions {precisions}, got "
                         f"{precision!r}.")
    if isinstance(batch_size, bool) or batch_size not in sizes:
        raise ValueError(f"batch_size must be one of the table's batch sizes {sizes}, got "
                         f"{batch_size!r}.")
    rows = table[table["batch_size"] == batch_size].set_index("precision")
    rows = rows.reindex(precisions)
    colours = [_HIGHLIGHT if p == precision else _OTHER for p in precisions]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    panels = [("size_kb", "file size (kB)", "{:.1f}"), ("accuracy", "test accuracy", "{:.3f}"),
              ("latency_ms", f"latency per sample at batch {batch_size}\n(ms, log scale)",
               "{:.3g}")]
    for ax, (col, label, fmt) in zip(axes, panels, strict=True):
        values = rows[col].to_numpy(dtype=float)
        ax.bar(precisions, values, color=colours)
        ax.set_title(label, fontsize="medium")
        ax.tick_params(axis="x", labelrotation=30)
        i = precisions.index(precision)
        ax.annotate(fmt.format(values[i]), (i, values[i]), ha="center", va="bottom",
                    fontsize="small")
        ax.set_ylim(0, 1.15 * max(values))
    axes[1].set_ylim(0, 1.05)
    latency = rows["latency_ms"].to_numpy(dtype=float)
    axes[2].set_yscale("log")  # a graph call and an interpreter call differ by orders of magnitude
    axes[2].set_ylim(latency.min() / 2, latency.max() * 3)
    fig.suptitle(f"{precision} at batch size {batch_size}", fontsize="medium")
    fig.tight_layout()
    return fig


def precision_explorer(table: Any) -> WithStaticView:
    """Buttons for the precision and the batch size over a measured table; the figure is
    :func:`precision_figure`. Nothing is converted or timed while clicking: every setting is a
    row of ``table``. The static view shows the first precision at the smallest batch size."""
    import ipywidgets as w

    precisions, sizes = precision_options(table)
    precision = w.ToggleButtons(options=precisions, value=precisions[0], description="Precision")
    batch = w.ToggleButtons(options=[(str(b), b) for b in sizes], value=sizes[0],
                            description="Batch size")

    def draw(precision: str, batch_size: int) -> Figure:
        return precision_figure(table, precision, batch_size)

    return interactive_figure({"precision": precision, "batch_size": batch}, draw,
                              "File size, accuracy and latency of each deployed precision")
