"""Spectrogram corruptions: SpecAugment time and frequency masking.

Each function takes spectrograms ``(batch, frames, bins)`` or ``(batch, frames, bins,
channels)`` (e.g. the log-mel features of ``load_av_digits(audio_features="log_mel")``, time on
axis 1 and frequency on axis 2); ``severity`` 0 returns the input bit for bit. The registry adds
:func:`~mmlib.robust.corruptions.image.image_gaussian_noise` as the spectrogram's
``gaussian_noise`` (the same maths on a 2-D grid).

Reference:
    Park, Chan, Zhang, Chiu, Zoph, Cubuk, Le (2019). "SpecAugment: A Simple Data Augmentation
    Method for Automatic Speech Recognition". Interspeech.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._validate import check_int
from mmlib.robust._arrays import cast_like, check_fill, numeric_batch, prologue

__all__ = ["spectrogram_frequency_mask", "spectrogram_time_mask"]


def _spectrogram(x: Any) -> np.ndarray:
    return numeric_batch(x, "a spectrogram batch of shape (batch, frames, bins) or (batch, "
                            "frames, bins, channels)", 3, 4)


def _mask_bands(x: Any, severity: Any, seed: Any, axis: int, n_masks: Any,
                fill: Any) -> np.ndarray:
    """Fill ``n_masks`` bands of ``round(severity * length / n_masks)`` rows along ``axis``."""
    x, severity, rng = prologue(x, severity, seed, _spectrogram)
    n_masks = check_int("n_masks", n_masks, minimum=1)
    fill = None if fill is None else check_fill(fill)
    if np.issubdtype(x.dtype, np.integer) and fill is not None and not fill.is_integer():
        raise ValueError(f"fill must be an integer for an integer spectrogram (dtype {x.dtype}), "
                         f"got {fill!r}.")
    if severity == 0.0:
        return x.copy()
    batch, length = x.shape[0], x.shape[axis]
    width = min(length, max(1, int(round(severity * length / n_masks))))
    starts = rng.integers(0, length - width + 1, size=(batch, n_masks))
    pos = np.arange(length)
    band = ((pos[None, None, :] >= starts[:, :, None])
            & (pos[None, None, :] < starts[:, :, None] + width)).any(axis=1)  # (batch, length)
    shape = [batch] + [1] * (x.ndim - 1)
    shape[axis] = length
    band = band.reshape(shape)
    if fill is None:  # SpecAugment: the mean value (0 after per-utterance normalisation)
        value = x.astype(np.float64).mean(axis=tuple(range(1, x.ndim)), keepdims=True)
    else:
        value = np.float64(fill)
    return cast_like(np.where(band, value, x.astype(np.float64)), x)


def spectrogram_time_mask(x: np.ndarray, severity: float, seed: int = 0, *, n_masks: int = 1,
                          fill: float | None = None) -> np.ndarray:
    """SpecAugment time masking: hide bands of consecutive frames (Park et al. 2019).

    In every spectrogram ``n_masks`` bands of ``w = round(severity * frames / n_masks)``
    consecutive frames (at least one when severity > 0) are filled with ``fill``; each band starts
    at a uniformly random frame ``t0`` in ``[0, frames - w]``, as in SpecAugment. Bands may overlap
    (as in SpecAugment), so at most a fraction ``severity`` of the frames is hidden; with one band
    exactly that fraction, and severity 1 hides the whole spectrogram. Unlike SpecAugment, whose
    band width is drawn from ``U[0, T]``, the width here is fixed by the severity, so that the
    severity is the hidden fraction. ``fill`` defaults to the mean of each spectrogram (SpecAugment
    sets masked values to 0 after normalising each utterance to zero mean).

    Args:
        x: spectrograms ``(batch, frames, bins[, channels])``.
        severity: fraction of frames hidden, in [0, 1].
        seed: seed of the band positions.
        n_masks: number of bands per spectrogram (>= 1).
        fill: value written into the bands (default: each spectrogram's mean).

    Returns:
        The masked spectrograms, with the shape and dtype of ``x``.
    """
    return _mask_bands(x, severity, seed, 1, n_masks, fill)


def spectrogram_frequency_mask(x: np.ndarray, severity: float, seed: int = 0, *,
                               n_masks: int = 1, fill: float | None = None) -> np.ndarray:
    """SpecAugment frequency masking: hide bands of consecutive bins (Park et al. 2019).

    As :func:`spectrogram_time_mask` on the frequency axis (axis 2): ``n_masks`` bands of
    ``w = round(severity * bins / n_masks)`` consecutive frequency bins (mel channels), starting
    at a uniformly random bin in ``[0, bins - w]``, are filled with ``fill`` in every frame
    (default: the spectrogram's mean).

    Args:
        x: spectrograms ``(batch, frames, bins[, channels])``.
        severity: fraction of frequency bins hidden, in [0, 1].
        seed: seed of the band positions.
        n_masks: number of bands per spectrogram (>= 1).
        fill: value written into the bands (default: each spectrogram's mean).

    Returns:
        The masked spectrograms, with the shape and dtype of ``x``.
    """
    return _mask_bands(x, severity, seed, 2, n_masks, fill)
