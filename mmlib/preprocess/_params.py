"""Argument checks shared by the files of :mod:`mmlib.preprocess` (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from mmlib._validate import check_float, check_int


def pair(name: str, value: Any) -> tuple[int, int]:
    """``(height, width)`` as two positive ints."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be (height, width), got {value!r}.")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(value))


def float_vector(name: str, value: Any) -> np.ndarray:
    """A finite float32 vector (per-channel statistics)."""
    try:
        arr = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers (one per channel), got "
                         f"{value!r}.") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers, one per channel, got {arr.tolist()}.")
    return arr


class LogMelParams(NamedTuple):
    """The checked parameters of a log-mel spectrogram (NumPy function and Keras layer)."""

    sample_rate: float
    frame_length: int
    frame_step: int
    fft_length: int
    n_mels: int
    fmin: float
    fmax: float
    power: float
    log_offset: float


def log_mel_params(sample_rate: Any, frame_length: Any, frame_step: Any, fft_length: Any,
                   n_mels: Any, fmin: Any, fmax: Any, power: Any,
                   log_offset: Any) -> LogMelParams:
    """Check the log-mel parameters; ``fft_length=None`` becomes the next power of two
    ``>= frame_length`` and ``fmax=None`` the Nyquist frequency ``sample_rate / 2``."""
    check_float("sample_rate", sample_rate, minimum=0.0, include_min=False)  # keeps an int an int
    frame_length = check_int("frame_length", frame_length, minimum=1)
    frame_step = check_int("frame_step", frame_step, minimum=1)
    if fft_length is None:
        fft_length = max(2, 1 << (frame_length - 1).bit_length())
    fft_length = check_int("fft_length", fft_length, minimum=max(2, frame_length))
    n_mels = check_int("n_mels", n_mels, minimum=1)
    nyquist = float(sample_rate) / 2.0
    fmax = nyquist if fmax is None else check_float("fmax", fmax, minimum=0.0, maximum=nyquist)
    fmin = check_float("fmin", fmin, minimum=0.0, maximum=fmax, include_max=False)
    power = check_float("power", power, minimum=0.0, include_min=False)
    log_offset = check_float("log_offset", log_offset, minimum=0.0, include_min=False)
    return LogMelParams(sample_rate, frame_length, frame_step, fft_length, n_mels, fmin, fmax,
                        power, log_offset)
