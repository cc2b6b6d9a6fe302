"""Shared machinery of the notebook widgets.

The static view a stored widget falls back to (:class:`WithStaticView`), figures inlined as HTML
(:func:`figure_html`) and a figure redrawn by its controls (:func:`interactive_figure`).
"""


from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUN_TO_INTERACT = "Static view: run the cell to interact."




def figure_html(fig: Figure, *, dpi: int = 80, close: bool = True) -> str:
    """A matplotlib figure as an ``<img>`` tag with the PNG inlined (base64); closes the figure."""
    from matplotlib.figure import Figure as _Figure

    if not isinstance(fig, _Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}.")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


class WithStaticView:
    """A live widget and a static HTML snapshot of it, displayed as one output.

    Jupyter picks the richest representation it can render. With a kernel (and a trusted
    notebook) that is the live widget; without one -- a fresh clone is untrusted, a stored widget
    has no kernel behind it, GitHub and nbviewer render no widgets -- it falls back to the
    snapshot (sanitised HTML, safe in untrusted notebooks) instead of the widget's Python repr.

    Args:
        widget: the ipywidgets widget (its ``_repr_mimebundle_`` supplies the live view).
        snapshot_html: HTML of the widget's current state (a table, a figure from
            :func:`figure_html`, ...).
        title: one line naming what the widget shows; also the plain-text fallback.
    """

    def __init__(self, widget: ipywidgets.Widget, snapshot_html: str, title: str) -> None:
        import ipywidgets as w

        if not isinstance(widget, w.Widget):
            raise TypeError(f"widget must be an ipywidgets Widget, got {type(widget).__name__}.")
        for name, value in (("snapshot_html", snapshot_html), ("title", title)):
            if not isinstance(value, str) or not value.strip():
                raise TypeError(f"{name} must be a non-empty string, got {value!r}.")
        self.widget, self.snapshot_html, self.title = widget, snapshot_html, title

    def static_html(self) -> str:
        """The stored view: the title, the snapshot and the note to run the cell."""
        return (f"<div><p><b>{html.escape(self.title)}</b> <i>({RUN_TO_INTERACT})</i></p>"
                f"{self.snapshot_html}</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = f"{self.title} ({RUN_TO_INTERACT})"
        return bundle

    def __repr__(self) -> str:
        return f"WithStaticView({self.title!r})"


def interactive_figure(controls: Mapping[str, ipywidgets.ValueWidget],
                       draw: Callable[..., Figure], title: str) -> WithStaticView:
    """Controls above a figure redrawn by ``draw(**values)`` whenever a control changes.

    ``draw`` is a plain function of the controls' values returning a matplotlib figure (tested
    without widgets); its figure for the initial values is the static snapshot.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not isinstance(controls, Mapping) or not controls:
        raise TypeError(f"controls must be a non-empty mapping of name -> widget, "
                        f"got {controls!r}.")
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}.")
    out = w.Output()

    def values() -> dict[str, Any]:
        return {name: c.value for name, c in controls.items()}

    def redraw(change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            fig = draw(**values())
            display(fig)
            plt.close(fig)

    for c in controls.values():
        c.observe(redraw, names="value")
    snapshot = figure_html(draw(**values()))
    box = w.VBox([w.HBox(list(controls.values())), out])
    return WithStaticView(box, snapshot, title)


def check_table(name: str, table: Any, columns: Sequence[str], fractions: Sequence[str] = ()
                ) -> Any:
    """``table`` if it is a non-empty pandas DataFrame with ``columns`` whose ``fractions``
    columns hold values in [0, 1]; otherwise a ``TypeError`` / ``ValueError`` naming ``name``,
    what was given and what was expected (the precomputed tables behind the widgets)."""
    import numpy as np
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame with columns {list(columns)}, got "
                        f"{type(table).__name__}.")
    missing = [c for c in columns if c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"{name} must be a non-empty table with columns {list(columns)}, got "
                         f"{len(table)} row(s) lacking {missing}.")
    for col in fractions:
        values = table[col].to_numpy(dtype=float)
        if not np.all((values >= 0) & (values <= 1)):
            raise ValueError(f"{name}[{col!r}] must hold fractions in [0, 1], got values from "
                             f"{np.nanmin(values):.3g} to {np.nanmax(values):.3g}.")
    return table
