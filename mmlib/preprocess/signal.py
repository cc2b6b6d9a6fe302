"""Signal processing in NumPy: mel scale, mel filters, log-mel spectrograms, image resizing.

No TensorFlow here: :mod:`mmlib.data` builds its datasets with these functions and stays light.
The Keras layer :class:`mmlib.preprocess.LogMelSpectrogram` computes the same log-mel spectrogram
with ``tf.signal`` (same parameter names, same mel filters; tested to agree).

**The mel scale.** A perceptual pitch scale (Stevens, Volkmann & Newman, 1937, "A Scale for the
Measurement of the Psychological Magnitude Pitch", JASA 8(3)), here in its HTK form
``mel(f) = 2595·log10(1 + f/700) = 1127·ln(1 + f/700)`` (O'Shaughnessy, 1987, *Speech
Communication: Human and Machine*, Addison-Wesley; Young et al., *The HTK Book*) — the two
constants are the same formula, ``2595 / ln(10) = 1127``. It is also the scale of
``tf.signal.linear_to_mel_weight_matrix``.
"""

from __future__ import annotations

import numpy as np

from mmlib._validate import check_float, check_int
from mmlib.preprocess._params import log_mel_params

__all__ = ["hz_to_mel", "log_mel_spectrogram", "mel_filterbank", "resize_images"]


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale of frequencies in Hz: ``2595·log10(1 + f/700)`` (= ``1127·ln(1 + f/700)``).

    Mel scale: Stevens, Volkmann & Newman, 1937, JASA; this HTK formula: O'Shaughnessy, 1987,
    *Speech Communication: Human and Machine*, Addison-Wesley.
    """
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(n_mels: int, fft_length: int, sample_rate: float, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters, ``(fft_length // 2 + 1, n_mels)`` float32; multiply a power
    spectrum ``(..., fft_length // 2 + 1)`` by it to get mel band energies ``(..., n_mels)``.

    Same definition as ``tf.signal.linear_to_mel_weight_matrix``: band edges equally spaced on
    the HTK mel scale (:func:`hz_to_mel`) from ``fmin`` to ``fmax`` (default ``sample_rate / 2``),
    triangles with peak 1 in mel space, the DC bin left out. Computed in float64.
    """
    n_mels = check_int("n_mels", n_mels, minimum=1)
    fft_length = check_int("fft_length", fft_length, minimum=2)
    sample_rate = check_float("sample_rate", sample_rate, minimum=0.0, include_min=False)
    fmax = sample_rate / 2 if fmax is None else fmax
    check_float("fmax", fmax, minimum=0.0, maximum=sample_rate / 2, include_min=False)
    check_float("fmin", fmin, minimum=0.0, maximum=fmax, include_max=False)
    n_bins = fft_length // 2 + 1
    bin_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))[1:, None]
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (bin_mel - lower) / (center - lower)
    down = (upper - bin_mel) / (upper - center)
    w = np.maximum(0.0, np.minimum(up, down))
    return np.concatenate([np.zeros((1, n_mels)), w], axis=0).astype(np.float32)


def log_mel_spectrogram(waveforms: np.ndarray, sample_rate: float, *, frame_length: int = 256,
                        frame_step: int = 80, fft_length: int | None = None, n_mels: int = 32,
                        fmin: float = 0.0, fmax: float | None = None, power: float = 2.0,
                        log_offset: float = 1e-6) -> np.ndarray:
    """Log-mel spectrogram of a batch of waveforms, in NumPy (float32).

    Frames of ``frame_length`` samples every ``frame_step`` samples (no padding), a periodic Hann
    window, zero-padded to ``fft_length``; ``S = |rfft(frames)|**power`` (the power spectrum for
    ``power=2``); ``M = S @ mel_filterbank(n_mels, fft_length, sample_rate, fmin, fmax)`` (the HTK
    mel scale, see :func:`hz_to_mel`); output ``log(M + log_offset)``. The same computation, with
    the same parameter names, as the Keras layer :class:`mmlib.preprocess.LogMelSpectrogram`
    (``tf.signal.stft`` -> ``abs()**power`` -> mel filters -> ``log``).

    Args:
        waveforms: ``(n, samples)`` or ``(samples,)``, at least ``frame_length`` samples.
        sample_rate: samples per second.
        frame_length: window length in samples.
        frame_step: hop between frames in samples.
        fft_length: FFT size (default: the next power of two >= ``frame_length``).
        n_mels: number of mel bands.
        fmin, fmax: band limits in Hz (``fmax`` default ``sample_rate / 2``).
        power: exponent of the magnitude (1 = magnitude, 2 = power).
        log_offset: added before the log to avoid ``log(0)``.

    Returns:
        float32 ``(n, frames, n_mels)`` (or ``(frames, n_mels)``) with
        ``frames = 1 + (samples - frame_length) // frame_step``.
    """
    p = log_mel_params(sample_rate, frame_length, frame_step, fft_length, n_mels, fmin, fmax,
                       power, log_offset)
    x = np.asarray(waveforms)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"waveforms must hold numbers, got dtype {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    single = x.ndim == 1
    if single:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"waveforms must have shape (n, samples) or (samples,), got {x.shape}.")
    if x.shape[1] < p.frame_length:
        raise ValueError(f"waveforms must have at least frame_length={p.frame_length} samples, "
                         f"got {x.shape[1]}.")
    frames = np.lib.stride_tricks.sliding_window_view(x, p.frame_length, axis=1)
    frames = frames[:, ::p.frame_step]
    k = np.arange(p.frame_length)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * k / p.frame_length)).astype(np.float32)
    spec = np.fft.rfft(frames * window, n=p.fft_length, axis=-1)
    mag = np.abs(spec) ** np.float32(p.power)
    mel = mag.astype(np.float32, copy=False) @ mel_filterbank(p.n_mels, p.fft_length,
                                                              p.sample_rate, p.fmin, p.fmax)
    out = np.log(mel + np.float32(p.log_offset)).astype(np.float32, copy=False)
    return out[0] if single else out


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` linear-interpolation matrix (pixel centres aligned, edges clamped)."""
    src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def resize_images(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a batch of images ``(n, h, w)`` or ``(n, h, w, c)`` to ``size``.

    Pixel centres are aligned (as in ``tf.image.resize(..., "bilinear")`` with
    ``antialias=False``); returns float32 ``(n, H, W[, c])``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}.")
    out_h, out_w = (size, size) if np.isscalar(size) else size
    check_int("size", int(out_h), minimum=1)
    check_int("size", int(out_w), minimum=1)
    a = _interp_matrix(images.shape[1], int(out_h)).astype(np.float32)
    b = _interp_matrix(images.shape[2], int(out_w)).astype(np.float32)
    x = images.astype(np.float32)
    if images.ndim == 3:
        out = a @ (x @ b.T)  # (H, h) @ (n, h, W)
    else:
        out = np.einsum("oh,nhwc->nowc", a, np.einsum("nhwc,pw->nhpc", x, b))
    return out.astype(np.float32)
