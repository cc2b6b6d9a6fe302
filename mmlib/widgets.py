"""Interactive widgets (ipywidgets 8) used across the notebooks.

Each widget function returns a :class:`WithStaticView`: the live widget plus a static snapshot of
its first state. A running kernel shows the widget; a notebook opened without a kernel, or not
trusted (every fresh clone), shows the snapshot and "run the cell to interact" instead of the
widget's raw Python repr. The logic behind each widget is a plain function in this module (tested
without a browser), so everything a widget shows can also be computed without it.

Sections: shared machinery; 00 welcome; 01 multimodal data; 02 preprocessing; 03 feature
extraction (one section per notebook, each with its plain functions and its widget).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mmlib.course import SYLLABUS

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUN_TO_INTERACT = "Static view: run the cell to interact."


# --- shared machinery -----------------------------------------------------------------------

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


# --- 00 welcome ------------------------------------------------------------------------------


def lesson_html(slug: str) -> str:
    """What the lesson ``slug`` teaches, its seed sections and datasets, as HTML."""
    s = next((x for x in SYLLABUS if x.slug == slug), None)
    if s is None:
        raise ValueError(f"slug must be one of {[x.slug for x in SYLLABUS]}, got {slug!r}.")
    status = "ready" if s.available else "coming"
    data = ", ".join(s.datasets) or "none"
    return (f"<b>{html.escape(s.slug)}.ipynb</b> ({status})<br>"
            f"<i>Teaches:</i> {html.escape(s.teaches)}<br>"
            f"<i>Seed article §</i> {s.seed_sections} &nbsp; <i>Datasets:</i> {data}")


def course_map() -> WithStaticView:
    """A drop-down over the syllabus showing what each notebook teaches and which data it uses.

    The static view lists every lesson (what the drop-down would show one at a time).
    """
    import ipywidgets as w

    options = [(f"{s.number} · {s.title}", s.slug) for s in SYLLABUS]
    pick = w.Dropdown(options=options, description="Notebook", layout=w.Layout(width="420px"))
    body = w.HTML()

    def show(change: Any = None) -> None:
        body.value = lesson_html(pick.value)

    pick.observe(show, names="value")
    show()
    snapshot = "<br>".join(f"<p>{lesson_html(s.slug)}</p>" for s in SYLLABUS)
    return WithStaticView(w.VBox([pick, body]), snapshot, "Course map: pick a notebook")


# --- 01 multimodal data ----------------------------------------------------------------------


# --- 02 preprocessing pipelines --------------------------------------------------------------


# --- 03 feature extraction -------------------------------------------------------------------

