"""Widgets of notebook 07 (robustness): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _sweep():
    rows = []
    for method, base in (("early", 0.9), ("late", 0.95)):
        for corruption, slope in (("image: noise", 0.4), ("audio: noise", 0.2)):
            for severity in (0.0, 0.5, 1.0):
                rows.append((method, corruption, severity, base - slope * severity))
    return pd.DataFrame(rows, columns=list(widgets.SWEEP_COLUMNS))


def _examples():
    return {(c, s): np.full((4, 5), s) for c in ("image: noise", "audio: noise")
            for s in (0.0, 0.5, 1.0)}


def test_corruption_figure_draws_each_method_at_the_chosen_setting():
    sweep = _sweep()
    assert widgets.sweep_levels(sweep) == (["image: noise", "audio: noise"], [0.0, 0.5, 1.0])
    fig = widgets.corruption_figure(sweep, _examples(), "image: noise", 0.5)
    ax, ax_x = fig.axes
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.9 - 0.2, 0.95 - 0.2])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["early", "late"]
    ticks = ax.collections[0].get_offsets()[:, 0]
    assert list(ticks) == pytest.approx([0.9, 0.95]), "black ticks: the uncorrupted accuracy"
    assert "image: noise" in ax.get_title() and "0.5" in ax.get_title()
    assert np.all(ax_x.images[0].get_array() == 0.5)
    plt.close("all")


def test_corruption_figure_rejects_bad_arguments():
    sweep, examples = _sweep(), _examples()
    with pytest.raises(TypeError, match="sweep must be a pandas DataFrame"):
        widgets.corruption_figure(sweep.to_dict(), examples, "image: noise", 0.5)
    with pytest.raises(ValueError, match="lacking \\['value'\\]"):
        widgets.corruption_figure(sweep.drop(columns="value"), examples, "image: noise", 0.5)
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        widgets.corruption_figure(sweep.assign(value=90.0), examples, "image: noise", 0.5)
    with pytest.raises(ValueError, match="corruption must be one of .* got 'blur'"):
        widgets.corruption_figure(sweep, examples, "blur", 0.5)
    with pytest.raises(ValueError, match="severity must be one of .* got 0.3"):
        widgets.corruption_figure(sweep, examples, "image: noise", 0.3)
    with pytest.raises(TypeError, match="severity must be a number, got str"):
        widgets.corruption_figure(sweep, examples, "image: noise", "0.5")
    with pytest.raises(ValueError, match="missing \\('audio: noise', 1.0\\)"):
        widgets.corruption_figure(sweep, {}, "audio: noise", 1.0)
    bad = {**examples, ("image: noise", 0.5): np.zeros(3)}
    with pytest.raises(ValueError, match="must be a 2-D array, got shape \\(3,\\)"):
        widgets.corruption_figure(sweep, bad, "image: noise", 0.5)


def test_corruption_explorer_snapshots_and_redraws(monkeypatch):
    from mmlib.widgets import robustness

    calls = []
    original = robustness.corruption_figure

    def recording(sweep, examples, corruption, severity):
        calls.append((corruption, severity))
        return original(sweep, examples, corruption, severity)

    monkeypatch.setattr(robustness, "corruption_figure", recording)
    view = widgets.corruption_explorer(_sweep(), _examples())
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    menu, slider = view.widget.children[0].children
    assert menu.value == "image: noise" and slider.value == 1.0
    slider.value = 0.0
    menu.value = "audio: noise"
    assert calls == [("image: noise", 1.0), ("image: noise", 0.0), ("audio: noise", 0.0)]
    plt.close("all")
