"""Widgets of notebook 02 (preprocessing pipelines): the log-mel explorer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


LOG_MEL_WINDOWS = (64, 128, 256, 512, 1024)
"""Window lengths (samples) the log-mel explorer offers."""
LOG_MEL_HOPS = (20, 40, 80, 160, 320)
"""Hops (samples) the log-mel explorer offers."""


def log_mel_summary(n_samples: int, sample_rate: float, frame_length: int, frame_step: int,
                    n_mels: int) -> dict[str, float]:
    """What a log-mel spectrogram of ``n_samples`` samples looks like for these parameters.

    The plain function behind :func:`log_mel_explorer`'s title: the output shape
    ``(frames, n_mels)`` with ``frames = 1 + (n_samples - frame_length) // frame_step``, the time
    step and window in ms, the FFT size and its bin spacing ``sample_rate / fft_length`` in Hz,
    and how many mel bands are *empty* (narrower than one FFT bin, so no bin falls in them —
    too many mel bands for a short window).

    Returns:
        dict with ``frames``, ``n_mels``, ``fft_length``, ``window_ms``, ``hop_ms``,
        ``bin_hz`` and ``empty_bands``.
    """
    from mmlib._validate import check_float, check_int
    from mmlib.preprocess import mel_filterbank

    sample_rate = check_float("sample_rate", sample_rate, minimum=0.0, include_min=False)
    frame_length = check_int("frame_length", frame_length, minimum=1)
    frame_step = check_int("frame_step", frame_step, minimum=1)
    n_samples = check_int("n_samples", n_samples, minimum=frame_length)
    fft_length = max(2, 1 << (frame_length - 1).bit_length())  # as LogMelSpectrogram's default
    weights = mel_filterbank(n_mels, fft_length, sample_rate)  # checks n_mels
    return {"frames": 1 + (n_samples - frame_length) // frame_step, "n_mels": int(n_mels),
            "fft_length": fft_length, "window_ms": 1000.0 * frame_length / sample_rate,
            "hop_ms": 1000.0 * frame_step / sample_rate, "bin_hz": sample_rate / fft_length,
            "empty_bands": int((weights.sum(axis=0) == 0).sum())}


def log_mel_figure(wave: Any, sample_rate: float, frame_length: int = 256,
                   frame_step: int = 80, n_mels: int = 32) -> Figure:
    """The waveform and its log-mel spectrogram (power in dB) for one set of parameters.

    The plain function behind :func:`log_mel_explorer`; the spectrogram is
    :func:`mmlib.preprocess.log_mel_spectrogram` (periodic Hann window, HTK mel bands from 0 Hz
    to ``sample_rate / 2``), its title gives the shape and :func:`log_mel_summary`.

    Args:
        wave: one waveform ``(n_samples,)``.
        sample_rate: samples per second.
        frame_length, frame_step: window and hop in samples.
        n_mels: number of mel bands.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from mmlib import viz
    from mmlib.preprocess import hz_to_mel, log_mel_spectrogram, mel_filterbank

    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"wave must be one waveform of shape (n_samples,), got {wave.shape}.")
    s = log_mel_summary(wave.size, sample_rate, frame_length, frame_step, n_mels)
    db = log_mel_spectrogram(wave, sample_rate, frame_length=frame_length,
                             frame_step=frame_step, n_mels=n_mels, log_offset=1e-10)
    db = db * (10.0 / np.log(10.0))
    weights = mel_filterbank(n_mels, s["fft_length"], sample_rate)
    db[:, weights.sum(axis=0) == 0] = np.nan  # empty bands: drawn grey, left out of the colours
    mels = np.linspace(0.0, float(hz_to_mel(sample_rate / 2)), n_mels + 2)[1:-1]
    band_hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    fig, (ax_w, ax_s) = plt.subplots(2, 1, figsize=(7.5, 4.6), height_ratios=(1, 2.4),
                                     sharex=True, layout="constrained")
    viz.draw_waveform(ax_w, wave, sample_rate, xlabel=False)
    lo, hi = np.nanpercentile(db, (5, 99.5))
    im = viz.draw_spectrogram(ax_s, db, duration=1.0, vmin=float(lo), vmax=float(hi),
                              band_hz=band_hz)
    im.set_cmap(im.get_cmap().with_extremes(bad="#c8c8c8"))
    # frame k covers samples [k·hop, k·hop + window): its column is centred on the window
    centre, hop = frame_length / 2 / sample_rate, frame_step / sample_rate
    im.set_extent((centre - hop / 2, centre + (s["frames"] - 0.5) * hop, 0, n_mels))
    ax_s.set_xlim(0, wave.size / sample_rate)
    fig.colorbar(im, ax=ax_s, label="power (dB)")
    empty = f", {s['empty_bands']} empty bands (grey)" if s["empty_bands"] else ""
    ax_w.set_title(f"log-mel shape ({s['frames']}, {n_mels}) = frames × mel bands\n"
                   f"window {frame_length} ({s['window_ms']:.0f} ms), hop {frame_step} "
                   f"({s['hop_ms']:.1f} ms), FFT bins every {s['bin_hz']:.0f} Hz{empty}")
    return fig


def log_mel_explorer(wave: Any, sample_rate: float) -> WithStaticView:
    """Sliders for the window, the hop and the number of mel bands over one waveform; the
    figure is :func:`log_mel_figure` (the spectrogram, its shape and resolution)."""
    import ipywidgets as w

    style = {"description_width": "110px"}
    layout = w.Layout(width="330px")
    controls = {
        "frame_length": w.SelectionSlider(options=list(LOG_MEL_WINDOWS), value=256,
                                          description="window (samples)", style=style,
                                          layout=layout, continuous_update=False),
        "frame_step": w.SelectionSlider(options=list(LOG_MEL_HOPS), value=80,
                                        description="hop (samples)", style=style,
                                        layout=layout, continuous_update=False),
        "n_mels": w.IntSlider(value=32, min=8, max=96, step=8, description="mel bands",
                              style=style, layout=layout, continuous_update=False),
    }

    def draw(frame_length: int, frame_step: int, n_mels: int) -> Figure:
        return log_mel_figure(wave, sample_rate, frame_length, frame_step, n_mels)

    return interactive_figure(controls, draw, "Log-mel spectrogram: window, hop and mel bands")
