"""The shared machinery of the widgets: the static view, inlined figures, a figure with controls."""


from __future__ import annotations

import ipywidgets as w
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def test_static_view_replaces_the_raw_repr_but_keeps_the_live_widget():
    view = widgets.WithStaticView(w.Button(description="go"), "<p>snapshot</p>", "A <title>")
    bundle = view._repr_mimebundle_()
    assert bundle[widgets.WIDGET_VIEW]["model_id"] == view.widget.model_id
    assert "Button(" not in bundle["text/plain"] and "run the cell" in bundle["text/plain"]
    assert "<p>snapshot</p>" in bundle["text/html"]
    assert "A &lt;title&gt;" in bundle["text/html"], "the title is escaped"


def test_static_view_rejects_bad_arguments():
    with pytest.raises(TypeError, match="widget must be an ipywidgets Widget, got str"):
        widgets.WithStaticView("button", "<p/>", "t")
    with pytest.raises(TypeError, match="snapshot_html must be a non-empty string"):
        widgets.WithStaticView(w.Button(), "", "t")


def test_figure_html_inlines_a_png_and_closes_the_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    n_before = len(plt.get_fignums())
    text = widgets.figure_html(fig)
    assert text.startswith('<img src="data:image/png;base64,iVBOR')
    assert len(plt.get_fignums()) == n_before - 1
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        widgets.figure_html(ax)


def test_interactive_figure_snapshots_the_first_state_and_redraws_on_change():
    calls = []

    def draw(k: int):
        calls.append(k)
        fig, ax = plt.subplots()
        ax.set_title(f"k={k}")
        return fig

    slider = w.IntSlider(value=2, min=1, max=5)
    view = widgets.interactive_figure({"k": slider}, draw, "k plot")
    assert calls == [2] and "base64" in view.snapshot_html
    slider.value = 4
    assert calls == [2, 4]
    with pytest.raises(TypeError, match="controls must be a non-empty mapping"):
        widgets.interactive_figure({}, draw, "t")
