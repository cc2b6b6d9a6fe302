"""Widgets of notebook 02 (preprocessing pipelines): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def test_log_mel_summary_matches_the_layer_and_counts_empty_bands():
    from mmlib import preprocess as P

    s = widgets.log_mel_summary(6400, 8000, frame_length=200, frame_step=80, n_mels=24)
    layer = P.LogMelSpectrogram(8000, frame_length=200, frame_step=80, n_mels=24)
    assert (s["frames"], s["n_mels"]) == (layer.n_frames(6400), 24) == (78, 24)
    assert s["fft_length"] == layer.fft_length == 256
    assert s["window_ms"] == 25.0 and s["hop_ms"] == 10.0 and s["bin_hz"] == 8000 / 256
    assert s["empty_bands"] == 0
    fine = widgets.log_mel_summary(6400, 8000, frame_length=64, frame_step=20, n_mels=96)
    weights = P.mel_filterbank(96, 64, 8000)
    assert fine["empty_bands"] == int((weights.sum(axis=0) == 0).sum()) > 0
    with pytest.raises(ValueError, match="n_samples must be an integer >= 256, got 100"):
        widgets.log_mel_summary(100, 8000, 256, 80, 32)
    with pytest.raises(ValueError, match="frame_step must be an integer >= 1, got 0"):
        widgets.log_mel_summary(6400, 8000, 256, 0, 32)
    with pytest.raises(ValueError, match="n_mels must be an integer >= 1, got 0"):
        widgets.log_mel_summary(6400, 8000, 256, 80, 0)


def test_log_mel_figure_shows_the_shape_and_the_explorer_redraws():
    import numpy as np

    wave = np.random.default_rng(0).normal(size=4000).astype("float32")
    fig = widgets.log_mel_figure(wave, 8000, frame_length=128, frame_step=40, n_mels=16)
    title = fig.axes[0].get_title()
    assert "(97, 16)" in title and "16 ms" in title and "empty" not in title
    image = fig.axes[1].images[0]
    assert image.get_array().shape == (16, 97)  # bands x frames
    assert fig.axes[1].get_xlim() == (0.0, 0.5)  # the clip's duration in s
    plt.close(fig)
    fine = widgets.log_mel_figure(wave, 8000, frame_length=64, frame_step=20, n_mels=96)
    assert "empty bands (grey)" in fine.axes[0].get_title()
    assert np.ma.count_masked(fine.axes[1].images[0].get_array()) > 0  # empty bands: NaN
    plt.close(fine)
    with pytest.raises(ValueError, match=r"wave must be one waveform .* got \(2, 4000\)"):
        widgets.log_mel_figure(np.zeros((2, 4000)), 8000)
    view = widgets.log_mel_explorer(wave, 8000)
    assert isinstance(view, widgets.WithStaticView) and "base64" in view.snapshot_html
    controls = view.widget.children[0].children
    assert [c.value for c in controls] == [256, 80, 32]
    controls[2].value = 48  # redraws without error
