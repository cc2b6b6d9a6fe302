"""Widgets of notebook 06 (training strategies): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _tables():
    rows, curves = [], []
    for method, (fused, image, audio) in {"joint": (0.84, 0.74, 0.48),
                                          "OGM-GE": (0.83, 0.69, 0.55)}.items():
        for seed, shift in ((0, -0.01), (1, 0.01)):
            rows.append((method, seed, fused + shift, image, audio + 2 * shift))
            for epoch in range(1, 4):
                curves.append((method, seed, epoch, fused * epoch / 3 + shift))
    return (pd.DataFrame(rows, columns=list(widgets.PROBE_COLUMNS)),
            pd.DataFrame(curves, columns=list(widgets.CURVE_COLUMNS)))


def test_probe_summary_gives_mean_and_std_over_seeds():
    results, _ = _tables()
    summary = widgets.probe_summary(results)
    assert list(summary.index) == ["joint", "OGM-GE"]
    assert summary.loc["OGM-GE", "audio"] == pytest.approx(0.55)
    assert summary.loc["joint", "fused_std"] == pytest.approx(np.std([0.83, 0.85], ddof=1))
    assert summary.loc["joint", "image_std"] == pytest.approx(0.0)


def test_imbalance_figure_draws_the_chosen_method_against_the_baseline():
    results, curves = _tables()
    fig = widgets.imbalance_figure(results, curves, "OGM-GE")
    ax_c, ax_b = fig.axes
    heights = [p.get_height() for p in ax_b.patches]
    assert heights == pytest.approx([0.83, 0.69, 0.55])
    from matplotlib.collections import PathCollection

    (marks,) = [c for c in ax_b.collections if isinstance(c, PathCollection)]
    ticks = marks.get_offsets()[:, 1]
    assert list(ticks) == pytest.approx([0.84, 0.74, 0.48]), "black ticks: the baseline"
    chosen = [line for line in ax_c.lines if line.get_linewidth() == 2.5]
    assert len(chosen) == 1
    assert list(chosen[0].get_ydata()) == pytest.approx([0.83 * e / 3 for e in (1, 2, 3)])
    assert "OGM-GE" in ax_b.get_title()
    plt.close("all")


def test_imbalance_figure_rejects_bad_arguments():
    results, curves = _tables()
    with pytest.raises(TypeError, match="results must be a pandas DataFrame"):
        widgets.imbalance_figure(results.to_dict(), curves, "joint")
    with pytest.raises(ValueError, match="lacking \\['audio'\\]"):
        widgets.imbalance_figure(results.drop(columns="audio"), curves, "joint")
    with pytest.raises(ValueError, match="method must be one of \\['joint', 'OGM-GE'\\], got 'x'"):
        widgets.imbalance_figure(results, curves, "x")
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        widgets.imbalance_figure(results.assign(fused=84.0), curves, "joint")
    with pytest.raises(ValueError, match="curves has no rows for the methods \\['OGM-GE'\\]"):
        widgets.imbalance_figure(results, curves[curves["method"] == "joint"], "joint")


def test_imbalance_explorer_snapshots_the_baseline_and_redraws():
    results, curves = _tables()
    view = widgets.imbalance_explorer(results, curves)
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    (menu,) = view.widget.children[0].children
    assert menu.value == "joint" and list(menu.options) == ["joint", "OGM-GE"]
    menu.value = "OGM-GE"  # redraws without error
    plt.close("all")
