"""Widgets of notebook 00 (welcome): the lesson card and the course map."""

from __future__ import annotations

import html
from typing import Any

from mmlib.course import SYLLABUS
from mmlib.widgets._base import WithStaticView


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
        body.value = f'<div style="line-height:1.4">{lesson_html(pick.value)}</div>'

    pick.observe(show, names="value")
    show()
    snapshot = "".join(f'<p style="line-height:1.4">{lesson_html(s.slug)}</p>' for s in SYLLABUS)
    return WithStaticView(w.VBox([pick, body]), snapshot, "Course map: pick a notebook")
