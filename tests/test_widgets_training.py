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


def _sweep():
    return pd.DataFrame({"risk_weight": [0.1, 1.0, 10.0], "diagnosis accuracy": [0.96, 0.95, 0.9],
                         "risk RMSE": [0.2, 0.15, 0.11]})


def test_loss_weight_figure_marks_the_chosen_weight_and_its_values():
    fig = widgets.loss_weight_figure(_sweep(), 10.0)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Diagnosis accuracy (higher is better): 0.900",
                      "Risk RMSE (lower is better): 0.110"]
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [0.1, 1.0, 10.0])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"risk_weight must be one of the swept weights "
                                         r"\[0.1, 1.0, 10.0\], got 3"):
        widgets.loss_weight_figure(_sweep(), 3)
    with pytest.raises(ValueError, match=r"sweep must be a non-empty table with columns"):
        widgets.loss_weight_figure(_sweep().drop(columns="risk RMSE"), 1.0)


def test_loss_weight_explorer_starts_at_weight_one_and_redraws_on_change(monkeypatch):
    drawn = []
    real = widgets.training.loss_weight_figure
    monkeypatch.setattr(widgets.training, "loss_weight_figure",
                        lambda sweep, w: drawn.append(w) or real(sweep, w))
    view = widgets.loss_weight_explorer(_sweep())
    assert "base64" in view._repr_mimebundle_()["text/html"]
    (slider,) = view.widget.children[0].children
    assert slider.value == 1.0 and drawn == [1.0]  # the static view shows w2 = 1
    slider.value = 10.0
    assert drawn == [1.0, 10.0]
    plt.close("all")
    with pytest.raises(TypeError, match="sweep must be a pandas DataFrame"):
        widgets.loss_weight_explorer([1, 2])
