"""Widgets of notebook 00 (welcome): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402
from mmlib.course import SYLLABUS  # noqa: E402


def test_course_map_static_view_lists_every_lesson():
    view = widgets.course_map()
    html_text = view._repr_mimebundle_()["text/html"]
    assert all(f"{s.slug}.ipynb" in html_text for s in SYLLABUS)
    with pytest.raises(ValueError, match="slug must be one of"):
        widgets.lesson_html("99_nothing")
