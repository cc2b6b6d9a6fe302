"""Waveform corruptions: additive white noise at a falling SNR, and silenced segments.

Each function takes waveforms ``(batch, time)`` or ``(batch, time, channels)``; ``severity`` 0
returns the input bit for bit. Corruptions of log-mel spectrograms are in
:mod:`mmlib.robust.corruptions.spectrogram`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._validate import check_int
from mmlib.robust._arrays import (
    cast_like,
    check_severity,
    n_affected,
    numeric_batch,
    ordered_pair,
    prologue,
)

__all__ = ["audio_additive_noise", "audio_segment_dropout", "snr_db_for_severity"]


def _waveform(x: Any) -> np.ndarray:
    return numeric_batch(x, "a waveform batch of shape (batch, time) or (batch, time, channels)",
                         2, 3)


def snr_db_for_severity(severity: float, snr_db_range: tuple[float, float] = (40.0, -10.0)
                        ) -> float:
    """Signal-to-noise ratio (dB) used by :func:`audio_additive_noise` at a severity.

    Linear in severity: ``SNR(s) = snr_max - s * (snr_max - snr_min)`` with
    ``(snr_max, snr_min) = snr_db_range``; the default goes from 40 dB (barely audible noise) at
    ``s -> 0`` down to -10 dB (noise ten times more powerful than the signal) at ``s = 1``.
    """
    severity = check_severity(severity)
    snr_max, snr_min = ordered_pair("snr_db_range", snr_db_range,
                                    "(snr_max, snr_min) with snr_max > snr_min", decreasing=True)
    return snr_max - severity * (snr_max - snr_min)


def audio_additive_noise(x: np.ndarray, severity: float, seed: int = 0, *,
                         snr_db_range: tuple[float, float] = (40.0, -10.0)) -> np.ndarray:
    """Add white Gaussian noise at a signal-to-noise ratio that falls as severity rises.

    For each clip, the noise power is ``P_signal / 10**(SNR/10)`` with ``P_signal`` the mean
    square of that clip (over time and channels) and ``SNR`` from :func:`snr_db_for_severity`
    (default: 40 dB at severity -> 0 down to -10 dB at severity 1, linear in dB). A silent clip
    stays silent. Integer waveforms (e.g. int16) are rounded and clipped to their dtype's range.

    Args:
        x: waveforms ``(batch, time)`` or ``(batch, time, channels)``.
        severity: in [0, 1]; 0 returns a copy of ``x``.
        seed: seed of the noise.
        snr_db_range: ``(snr_max, snr_min)`` in dB.

    Returns:
        The noisy waveforms, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _waveform)
    snr_db = snr_db_for_severity(severity, snr_db_range)
    if severity == 0.0:
        return x.copy()
    xf = x.astype(np.float64)
    power = np.mean(xf ** 2, axis=tuple(range(1, x.ndim)), keepdims=True)
    noise_std = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return cast_like(xf + noise_std * rng.standard_normal(x.shape), x)


def audio_segment_dropout(x: np.ndarray, severity: float, seed: int = 0, *,
                          n_segments: int = 20) -> np.ndarray:
    """Silence (set to 0) random segments of each waveform.

    The time axis is cut into ``n_segments`` contiguous, nearly equal segments; in every clip
    ``k = round(severity * n_segments)`` of them (at least one when severity > 0) are chosen at
    random without replacement and zeroed, so severity is the dropped fraction of the clip.

    Args:
        x: waveforms ``(batch, time)`` or ``(batch, time, channels)``.
        severity: fraction of segments dropped, in [0, 1].
        seed: seed of the segment choice.
        n_segments: number of segments (1 <= n_segments <= time).

    Returns:
        The waveforms with silenced segments, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _waveform)
    n_segments = check_int("n_segments", n_segments, minimum=1, maximum=x.shape[1])
    if severity == 0.0:
        return x.copy()
    bounds = np.linspace(0, x.shape[1], n_segments + 1).round().astype(int)
    k = n_affected(severity, n_segments)
    y = x.copy()
    for i in range(x.shape[0]):
        for seg in rng.choice(n_segments, size=k, replace=False):
            y[i, bounds[seg]:bounds[seg + 1]] = 0
    return y
