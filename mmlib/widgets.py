"""Interactive widgets (ipywidgets 8) used across the notebooks.

Each function returns a widget ready to display; the callbacks call plain ``mmlib`` functions, so
everything a widget shows can also be computed without it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from mmlib.course import SYLLABUS

if TYPE_CHECKING:
    import ipywidgets


def course_map() -> ipywidgets.VBox:
    """A drop-down over the syllabus showing what each notebook teaches and which data it uses."""
    import ipywidgets as w

    options = [(f"{s.number} · {s.title}", s.slug) for s in SYLLABUS]
    pick = w.Dropdown(options=options, description="Notebook", layout=w.Layout(width="420px"))
    body = w.HTML()

    def show(change=None) -> None:
        s = next(x for x in SYLLABUS if x.slug == pick.value)
        status = "ready" if s.available else "coming"
        data = ", ".join(s.datasets) or "none"
        body.value = (f"<b>{html.escape(s.slug)}.ipynb</b> ({status})<br>"
                      f"<i>Teaches:</i> {html.escape(s.teaches)}<br>"
                      f"<i>Seed article §</i> {s.seed_sections} &nbsp; <i>Datasets:</i> {data}")

    pick.observe(show, names="value")
    show()
    return w.VBox([pick, body])
