"""Widgets of notebook 05 (fusion): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _noise_grid():
    import numpy as np
    import pandas as pd

    rows = []
    for method, family, base in [("image only", "unimodal", 0.8), ("audio only", "unimodal", 0.7),
                                 ("late mean", "late", 0.95), ("tensor", "intermediate", 0.9)]:
        for sigma in (0.0, 0.3):
            for snr in (np.inf, 0.0):
                hit = 0.3 * sigma * (family != "unimodal" or method == "image only")
                hit += 0.2 * (snr == 0.0) * (family != "unimodal" or method == "audio only")
                rows.append((method, family, sigma, snr, base - hit))
    return pd.DataFrame(rows, columns=list(widgets.NOISE_GRID_COLUMNS))


def test_fusion_noise_figure_draws_one_bar_per_method_at_the_chosen_setting():
    grid = _noise_grid()
    assert widgets.noise_levels(grid) == ([0.0, 0.3], [float("inf"), 0.0])
    fig = widgets.fusion_noise_figure(grid, 0.3, 0.0)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.71, 0.5, 0.66, 0.61])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(dict.fromkeys(grid["method"]))
    assert ax.lines[0].get_xdata()[0] == pytest.approx(0.71), "dashed line: best unimodal"
    assert "0.30" in ax.get_title() and "0 dB" in ax.get_title()
    clean = widgets.fusion_noise_figure(grid, 0.0, float("inf")).axes[0]
    assert "audio: no noise added" in clean.get_title()
    plt.close("all")


def test_fusion_noise_figure_rejects_bad_arguments():
    grid = _noise_grid()
    with pytest.raises(TypeError, match="grid must be a pandas DataFrame"):
        widgets.fusion_noise_figure(grid.to_dict(), 0.0, 0.0)
    with pytest.raises(ValueError, match="lacking \\['family'\\]"):
        widgets.fusion_noise_figure(grid.drop(columns="family"), 0.0, 0.0)
    with pytest.raises(ValueError, match="image_noise must be one of the grid's levels"):
        widgets.fusion_noise_figure(grid, 0.2, 0.0)
    with pytest.raises(TypeError, match="audio_snr must be a number, got str"):
        widgets.fusion_noise_figure(grid, 0.0, "0 dB")
    with pytest.raises(ValueError, match="family'\\] must hold only"):
        widgets.fusion_noise_figure(grid.assign(family="hybrid"), 0.0, 0.0)
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        widgets.fusion_noise_figure(grid.assign(accuracy=95.0), 0.0, 0.0)


def test_fusion_noise_explorer_snapshots_the_clean_setting_and_redraws():
    view = widgets.fusion_noise_explorer(_noise_grid())
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    image_slider, audio_slider = view.widget.children[0].children
    assert audio_slider.options[0][0] == "none" and audio_slider.value == float("inf")
    audio_slider.value = 0.0  # redraws without error
    image_slider.value = 0.3
    plt.close("all")
