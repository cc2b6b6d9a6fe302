"""Robustness of multimodal models: corruptions per modality, sweeps, robustness metrics, FGSM.

A multimodal model is only as useful as its behaviour when one input is noisy, partly missing or
attacked. This module provides

* **corruptions** (数据损坏) for every modality kind, each a function ``f(x, severity, seed)`` with
  ``severity`` in ``[0, 1]`` (``0`` returns the input unchanged, bit for bit; ``1`` is the strongest
  setting of that corruption), seeded, and preserving shape and dtype; they are collected in the
  registry :data:`CORRUPTIONS` and reachable through :func:`corrupt`;
* :func:`robustness_sweep`, which corrupts **one named modality** of a test set at a list of
  severities and returns a tidy :class:`pandas.DataFrame`; every other modality, and every sample
  that is not selected for corruption, is passed to the model bit-identical;
* the two robustness summaries of MultiBench (Liang et al. 2021): :func:`relative_robustness` (area
  under the accuracy-severity curve) and :func:`effective_robustness` (accuracy above a late-fusion
  reference shifted to the same clean accuracy);
* the fast gradient sign method per modality (:func:`fgsm`, Goodfellow et al. 2015), an
  epsilon sweep (:func:`fgsm_sweep`) and a ``keras.Model`` wrapper for adversarial training
  (:class:`FGSMAdversarialModel`).

Shape conventions (axis 0 is always the sample axis):

====================  =================================================================
kind                  array shape
====================  =================================================================
``"image"``           ``(batch, height, width)`` or ``(batch, height, width, channels)``
``"audio"``           ``(batch, time)`` or ``(batch, time, channels)`` (raw waveform)
``"text"``            ``(batch, seq_len)`` integer token ids (0 = padding), or strings
``"tabular"``         ``(batch, n_features)``
``"point_cloud"``     ``(batch, n_points, n_dims)`` with xyz in the first three columns
``"video"``           ``(batch, frames, ...)`` (e.g. ``(batch, frames, height, width, channels)``)
====================  =================================================================

References:
    Liang, Lyu, Fan, Wu, Cheng, Wu, Chen, Wu, Lee, Zhu, Salakhutdinov, Morency (2021).
    "MultiBench: Multiscale Benchmarks for Multimodal Representation Learning". NeurIPS Datasets
    and Benchmarks Track.

    Hendrycks, Dietterich (2019). "Benchmarking Neural Network Robustness to Common Corruptions
    and Perturbations". ICLR.

    Goodfellow, Shlens, Szegedy (2015). "Explaining and Harnessing Adversarial Examples". ICLR.
"""

from __future__ import annotations

import numbers
import string
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy import ndimage

from mmlib._common import (
    accuracy,
    check_inputs,
    predict_single_output,
)
from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "CORRUPTIONS",
    "DETERMINISTIC_CORRUPTIONS",
    "FGSMAdversarialModel",
    "audio_additive_noise",
    "audio_segment_dropout",
    "corrupt",
    "effective_robustness",
    "fgsm",
    "fgsm_sweep",
    "image_brightness",
    "image_contrast",
    "image_gaussian_blur",
    "image_gaussian_noise",
    "image_occlusion",
    "point_drop",
    "point_jitter",
    "relative_robustness",
    "remove_modality",
    "robustness_summary",
    "robustness_sweep",
    "snr_db_for_severity",
    "tabular_entry_drop",
    "tabular_noise",
    "text_typos",
    "text_word_drop",
    "video_frame_drop",
]

# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def _check_severity(severity: Any) -> float:
    return check_float("severity", severity, minimum=0.0, maximum=1.0)


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(check_int("seed", seed, minimum=0))


def _array(x: Any, name: str = "x", *, min_ndim: int = 1, max_ndim: int | None = None,
           shape_text: str = "") -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim < min_ndim or (max_ndim is not None and arr.ndim > max_ndim):
        expected = shape_text or f"an array with at least {min_ndim} dimension(s)"
        raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample on axis 0, got shape {arr.shape}.")
    return arr


def _check_numeric(arr: np.ndarray, name: str = "x") -> None:
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers (integer or floating dtype), got dtype "
                         f"{arr.dtype}.")


def _cast_like(y: np.ndarray, like: np.ndarray, lo: float | None = None,
               hi: float | None = None) -> np.ndarray:
    """Return ``y`` in the dtype of ``like``; integer outputs are rounded and clipped."""
    if np.issubdtype(like.dtype, np.integer):
        info = np.iinfo(like.dtype)
        lo = info.min if lo is None else max(lo, info.min)
        hi = info.max if hi is None else min(hi, info.max)
        return np.clip(np.rint(y), lo, hi).astype(like.dtype)
    return y.astype(like.dtype, copy=False)


def _ordered_pair(name: str, value: Any, text: str = "(low, high) with low < high",
                  *, decreasing: bool = False) -> tuple[float, float]:
    """``value`` as two finite floats ``(a, b)`` with ``a < b`` (``a > b`` if ``decreasing``)."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):  # not iterable, wrong length, not numbers
        raise ValueError(f"{name} must be a pair {text}, got {value!r}.") from None
    ordered = a > b if decreasing else a < b
    if not (ordered and np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{name} must be a pair {text}, got {value!r}.")
    return a, b


def _check_fill(fill: Any, name: str = "fill") -> float:
    """A numeric fill value (NaN allowed) or a ValueError naming the argument."""
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real):
        raise ValueError(f"{name} must be a number, got {fill!r} of type {type(fill).__name__}.")
    return float(fill)


def _value_range(x: np.ndarray, value_range: tuple[float, float] | None) -> tuple[float, float]:
    """The range the pixel values live in (see :func:`image_gaussian_noise` for the rule)."""
    if value_range is not None:
        return _ordered_pair("value_range", value_range)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if np.issubdtype(x.dtype, np.integer) and lo >= 0 and hi <= 255:
        return 0.0, 255.0
    if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return lo, hi


def _n_affected(severity: float, n: int, *, at_most: int | None = None) -> int:
    """``round(severity * n)``, at least 1 when ``severity > 0``, at most ``at_most`` (or n)."""
    if severity == 0.0:
        return 0
    k = max(1, int(round(severity * n)))
    return min(k, n if at_most is None else at_most)


def _image(x: Any) -> np.ndarray:
    arr = _array(x, min_ndim=3, max_ndim=4,
                 shape_text="an image batch of shape (batch, height, width) or "
                            "(batch, height, width, channels)")
    _check_numeric(arr)
    return arr


def _waveform(x: Any) -> np.ndarray:
    arr = _array(x, min_ndim=2, max_ndim=3,
                 shape_text="a waveform batch of shape (batch, time) or (batch, time, channels)")
    _check_numeric(arr)
    return arr


def _video(x: Any) -> np.ndarray:
    arr = _array(x, min_ndim=2, shape_text="a video batch of shape (batch, frames, ...)")
    _check_numeric(arr)
    return arr


def _prologue(x: Any, severity: Any, seed: Any, check: Callable[[Any], Any]
              ) -> tuple[Any, float, np.random.Generator]:
    """Checks shared by every corruption: ``(check(x), severity in [0, 1], seeded generator)``."""
    severity = _check_severity(severity)
    rng = _rng(seed)
    return check(x), severity, rng


# --------------------------------------------------------------------------------------------
# image corruptions
# --------------------------------------------------------------------------------------------


def image_gaussian_noise(x: np.ndarray, severity: float, seed: int = 0, *,
                         value_range: tuple[float, float] | None = None,
                         clip: bool = True) -> np.ndarray:
    """Add i.i.d. Gaussian pixel noise with standard deviation ``severity * (high - low)``.

    ``(low, high)`` is ``value_range`` if given; otherwise ``(0, 1)`` for float images whose values
    lie in [0, 1], ``(0, 255)`` for integer images with values in [0, 255], else the minimum and
    maximum of ``x``. With ``clip=True`` the result is clipped to that range (as in ImageNet-C,
    Hendrycks & Dietterich 2019, ICLR).

    Args:
        x: images ``(batch, height, width[, channels])``, float or integer.
        severity: in [0, 1]; 0 returns a copy of ``x``.
        seed: seed of the noise.
        value_range: ``(low, high)`` of valid pixel values.
        clip: clip the noisy image to ``value_range``.

    Returns:
        The noisy images, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    lo, hi = _value_range(x, value_range)
    y = x.astype(np.float64) + rng.normal(0.0, severity * (hi - lo), size=x.shape)
    if clip:
        y = np.clip(y, lo, hi)
    return _cast_like(y, x, lo, hi)


def image_gaussian_blur(x: np.ndarray, severity: float, seed: int = 0) -> np.ndarray:
    """Blur every image with a Gaussian kernel of ``sigma = severity * min(height, width) / 8``.

    The filter acts on the two spatial axes only (not across samples or channels), with the
    kernel truncated at 4 sigma and edges extended by repeating the border pixel
    (``scipy.ndimage.gaussian_filter`` with ``mode="nearest"``). The corruption is deterministic:
    ``seed`` is accepted for the common signature and checked, but does not change the output.

    Args:
        x: images ``(batch, height, width[, channels])``.
        severity: in [0, 1]; 0 returns a copy of ``x``; 1 blurs with sigma = min(H, W) / 8 pixels.
        seed: unused (deterministic corruption).

    Returns:
        The blurred images, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    sigma_px = severity * min(x.shape[1], x.shape[2]) / 8.0
    sigmas = (0.0, sigma_px, sigma_px) + ((0.0,) if x.ndim == 4 else ())
    y = ndimage.gaussian_filter(x.astype(np.float64), sigma=sigmas, mode="nearest", truncate=4.0)
    return _cast_like(y, x)


def image_occlusion(x: np.ndarray, severity: float, seed: int = 0, *,
                    fill: float | None = None,
                    value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Occlude one random rectangle per image covering a fraction ``severity`` of its area.

    The rectangle has sides ``round(sqrt(severity) * height)`` and ``round(sqrt(severity) *
    width)`` (at least one pixel) and a uniformly random position per image; it is filled with
    ``fill`` (default: the low end of the value range, i.e. black; see
    :func:`image_gaussian_noise` for how the range is found). Severity 1 occludes the whole image.

    Args:
        x: images ``(batch, height, width[, channels])``.
        severity: occluded area fraction in [0, 1].
        seed: seed of the rectangle positions.
        fill: value written into the rectangle.
        value_range: ``(low, high)`` of valid pixel values (only used for the default ``fill``).

    Returns:
        The occluded images, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    fill = _value_range(x, value_range)[0] if fill is None else _check_fill(fill)
    height, width = x.shape[1], x.shape[2]
    side_h = min(height, max(1, int(round(np.sqrt(severity) * height))))
    side_w = min(width, max(1, int(round(np.sqrt(severity) * width))))
    tops = rng.integers(0, height - side_h + 1, size=x.shape[0])
    lefts = rng.integers(0, width - side_w + 1, size=x.shape[0])
    y = x.copy()
    for i, (top, left) in enumerate(zip(tops, lefts, strict=True)):
        y[i, top:top + side_h, left:left + side_w] = fill
    return y


def image_brightness(x: np.ndarray, severity: float, seed: int = 0, *,
                     value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Brighten: add ``severity * (high - low)`` to every pixel and clip to ``[low, high]``.

    Severity 1 saturates every pixel to ``high`` (a white image: no information left). The value
    range is found as in :func:`image_gaussian_noise`. Deterministic: ``seed`` does not change the
    output.

    Args:
        x: images ``(batch, height, width[, channels])``.
        severity: in [0, 1]; the added fraction of the value range (1: all white).
        seed: unused (deterministic corruption).
        value_range: ``(low, high)`` of valid pixel values.

    Returns:
        The brightened images, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    lo, hi = _value_range(x, value_range)
    y = np.clip(x.astype(np.float64) + severity * (hi - lo), lo, hi)
    return _cast_like(y, x, lo, hi)


def image_contrast(x: np.ndarray, severity: float, seed: int = 0) -> np.ndarray:
    """Lower the contrast: ``m + (1 - severity) * (x - m)`` with ``m`` the mean of each image.

    ``m`` is taken over all pixels and channels of one image, so the image mean is kept and
    severity 1 gives a flat grey image. Deterministic: ``seed`` does not change the output.

    Args:
        x: images ``(batch, height, width[, channels])``.
        severity: in [0, 1]; the contrast removed (1: a flat image at its mean).
        seed: unused (deterministic corruption).

    Returns:
        The low-contrast images, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    xf = x.astype(np.float64)
    mean = xf.mean(axis=tuple(range(1, x.ndim)), keepdims=True)
    return _cast_like(mean + (1.0 - severity) * (xf - mean), x)


# --------------------------------------------------------------------------------------------
# audio corruptions
# --------------------------------------------------------------------------------------------


def snr_db_for_severity(severity: float, snr_db_range: tuple[float, float] = (40.0, -10.0)
                        ) -> float:
    """Signal-to-noise ratio (dB) used by :func:`audio_additive_noise` at a severity.

    Linear in severity: ``SNR(s) = snr_max - s * (snr_max - snr_min)`` with
    ``(snr_max, snr_min) = snr_db_range``; the default goes from 40 dB (barely audible noise) at
    ``s -> 0`` down to -10 dB (noise ten times more powerful than the signal) at ``s = 1``.
    """
    severity = _check_severity(severity)
    snr_max, snr_min = _ordered_pair("snr_db_range", snr_db_range,
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
    x, severity, rng = _prologue(x, severity, seed, _waveform)
    snr_db = snr_db_for_severity(severity, snr_db_range)
    if severity == 0.0:
        return x.copy()
    xf = x.astype(np.float64)
    power = np.mean(xf ** 2, axis=tuple(range(1, x.ndim)), keepdims=True)
    noise_std = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return _cast_like(xf + noise_std * rng.standard_normal(x.shape), x)


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
    x, severity, rng = _prologue(x, severity, seed, _waveform)
    n_segments = check_int("n_segments", n_segments, minimum=1, maximum=x.shape[1])
    if severity == 0.0:
        return x.copy()
    bounds = np.linspace(0, x.shape[1], n_segments + 1).round().astype(int)
    k = _n_affected(severity, n_segments)
    y = x.copy()
    for i in range(x.shape[0]):
        for seg in rng.choice(n_segments, size=k, replace=False):
            y[i, bounds[seg]:bounds[seg + 1]] = 0
    return y


# --------------------------------------------------------------------------------------------
# text corruptions
# --------------------------------------------------------------------------------------------


def _text(x: Any) -> tuple[np.ndarray, bool]:
    """Return (array, is_strings); token ids must be a 2-D integer array."""
    if isinstance(x, str):
        raise ValueError("x must be a batch of texts (a list or array of strings) or token ids "
                         f"(batch, seq_len), got a single string {x[:30]!r}.")
    arr = np.asarray(x)
    if arr.size and arr.dtype.kind in "UO" and all(isinstance(v, str) for v in arr.ravel()):
        return arr, True
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 2:
        raise ValueError("x must be integer token ids of shape (batch, seq_len) or a batch of "
                         f"strings, got dtype {arr.dtype} and shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample, got shape {arr.shape}.")
    return arr, False


def _edit_strings(x_in: Any, arr: np.ndarray, severity: float, edit: Callable[[str], str]) -> Any:
    """Apply ``edit`` to every string of ``arr`` (none at severity 0), in ``x_in``'s container."""
    texts = list(arr.ravel())
    return _strings_like(texts if severity == 0.0 else [edit(t) for t in texts], x_in, arr)


def _drop_words(text: str, p: float, rng: np.random.Generator) -> str:
    words = text.split()
    keep = rng.random(len(words)) >= p
    return " ".join(w for w, k in zip(words, keep, strict=True) if k)


def _strings_like(out: list[str], x_in: Any, arr: np.ndarray) -> Any:
    if isinstance(x_in, list | tuple):
        return type(x_in)(out) if isinstance(x_in, list) else tuple(out)
    res = np.empty(arr.shape, dtype=object)
    res.ravel()[:] = out
    return res if arr.dtype.kind == "O" else res.astype(str)


def _typo_string(text: str, p: float, rng: np.random.Generator) -> str:
    letters = string.ascii_lowercase
    chars, out, i = list(text), [], 0
    while i < len(chars):
        c = chars[i]
        if c.isalpha() and rng.random() < p:
            op = int(rng.integers(4))
            new = letters[int(rng.integers(26))]
            new = new.upper() if c.isupper() else new
            if op == 0:  # substitute
                out.append(new)
            elif op == 1:  # delete
                pass
            elif op == 2:  # insert a letter after c
                out.extend([c, new])
            elif i + 1 < len(chars):  # swap with the next character
                out.extend([chars[i + 1], c])
                i += 2
                continue
            else:
                out.append(new)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def text_typos(x: Any, severity: float, seed: int = 0, *, vocab_size: int | None = None,
               pad_id: int = 0) -> Any:
    """Typos: character edits for strings, random token substitution for token ids.

    *Strings* (a list, tuple or array of ``str``): every letter is, with probability
    ``severity``, substituted by a random letter, deleted, followed by an inserted random letter,
    or swapped with the next character (one of the four, equally likely). Non-letters are kept.
    The container type and shape are kept (a fixed-width ``str`` array may get a wider width).

    *Token ids* ``(batch, seq_len)``: every non-padding token is, with probability ``severity``,
    replaced by a different id drawn uniformly from ``[0, vocab_size)`` without ``pad_id`` and
    without the original id. Padding positions (``== pad_id``, 0 by default) are never touched
    and padding is never introduced, so sequence lengths are unchanged.

    Args:
        x: strings or integer token ids ``(batch, seq_len)``.
        severity: per-character / per-token probability, in [0, 1].
        seed: seed of the edits.
        vocab_size: size of the id vocabulary (default ``x.max() + 1``); must be >= 3.
        pad_id: padding id (never edited, never produced).

    Returns:
        Same container, shape and dtype as ``x``.
    """
    (arr, is_str), severity, rng = _prologue(x, severity, seed, _text)
    if is_str:
        return _edit_strings(x, arr, severity, lambda t: _typo_string(t, severity, rng))
    pad_id = check_int("pad_id", pad_id)
    if arr.min() < 0:
        raise ValueError(f"token ids must be >= 0, got ids in [{arr.min()}, {arr.max()}].")
    if vocab_size is None:
        vocab_size = int(arr.max()) + 1
    vocab_size = check_int("vocab_size", vocab_size, minimum=3)
    if arr.max() >= vocab_size:
        raise ValueError(f"token ids must lie in [0, vocab_size={vocab_size}), got ids in "
                         f"[{arr.min()}, {arr.max()}].")
    if severity == 0.0:
        return arr.copy()
    hit = (arr != pad_id) & (rng.random(arr.shape) < severity)
    r = rng.integers(0, vocab_size - 2, size=arr.shape)
    low = np.minimum(arr, pad_id)
    high = np.maximum(arr, pad_id)
    new = r + (r >= low)  # skip the smaller excluded id, then the larger one
    new = new + (new >= high)
    y = arr.copy()
    y[hit] = new[hit].astype(arr.dtype)
    return y


def text_word_drop(x: Any, severity: float, seed: int = 0, *, pad_id: int = 0) -> Any:
    """Drop each word (string input) or each non-padding token (token ids) with prob. severity.

    *Strings*: split on whitespace, drop words, re-join with single spaces.
    *Token ids* ``(batch, seq_len)``: the kept tokens keep their order and move to the front of the
    row; the freed positions at the end are filled with ``pad_id`` (right padding, as produced by
    ``keras.layers.TextVectorization``). Padding is never counted as a word and is never dropped
    "into" the middle of a sequence, so the result is a valid right-padded batch of the same shape.

    Args:
        x: strings or integer token ids ``(batch, seq_len)``.
        severity: per-word drop probability, in [0, 1]; 1 empties every text.
        seed: seed of the drops.
        pad_id: padding id, also written into the positions freed at the end of a row.

    Returns:
        Same container, shape and dtype as ``x``.
    """
    (arr, is_str), severity, rng = _prologue(x, severity, seed, _text)
    if is_str:
        return _edit_strings(x, arr, severity, lambda t: _drop_words(t, severity, rng))
    pad_id = check_int("pad_id", pad_id)
    if severity == 0.0:
        return arr.copy()
    keep = (arr != pad_id) & (rng.random(arr.shape) >= severity)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept tokens first, in original order
    y = np.take_along_axis(arr, order, axis=1)
    y[~np.take_along_axis(keep, order, axis=1)] = pad_id
    return y


# --------------------------------------------------------------------------------------------
# tabular corruptions
# --------------------------------------------------------------------------------------------


def _tabular(x: Any) -> np.ndarray:
    arr = _array(x, min_ndim=2, max_ndim=2, shape_text="a table of shape (batch, n_features)")
    _check_numeric(arr)
    return arr


def tabular_entry_drop(x: np.ndarray, severity: float, seed: int = 0, *,
                       fill: float = np.nan) -> np.ndarray:
    """Replace each entry, independently with probability ``severity``, by ``fill`` (NaN).

    Models that cannot read NaN need an imputer first (or pass ``fill=0.0``). Integer tables need
    an integer ``fill`` (NaN does not exist for integers).

    Args:
        x: table ``(batch, n_features)``.
        severity: per-entry drop probability, in [0, 1].
        seed: seed of the drops.
        fill: value written into dropped entries.

    Returns:
        The table with dropped entries, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _tabular)
    fill = _check_fill(fill)
    if np.issubdtype(x.dtype, np.integer) and not fill.is_integer():
        raise ValueError(f"fill must be an integer for an integer table (dtype {x.dtype}), got "
                         f"{fill!r}.")
    if severity == 0.0:
        return x.copy()
    y = x.copy()
    y[rng.random(x.shape) < severity] = fill
    return y


def tabular_noise(x: np.ndarray, severity: float, seed: int = 0, *,
                  scale: np.ndarray | float | None = None) -> np.ndarray:
    """Add Gaussian noise with standard deviation ``severity * scale`` per column.

    ``scale`` defaults to each column's standard deviation in ``x`` (``ddof=0``, over its finite
    entries; 0 for a column without any), so severity 1 adds noise as large as the feature's own
    spread. NaN entries stay NaN.

    Args:
        x: table ``(batch, n_features)``.
        severity: in [0, 1]; noise std in units of ``scale``.
        seed: seed of the noise.
        scale: scalar or ``(n_features,)`` noise scale.

    Returns:
        The noisy table, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _tabular)
    if scale is None:
        finite = np.isfinite(x.astype(np.float64))
        with warnings.catch_warnings():  # an all-NaN column has no spread: scale 0
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nan_to_num(np.nanstd(np.where(finite, x, np.nan), axis=0), nan=0.0)
    scale_arr = np.asarray(scale)
    if (scale_arr.dtype.kind not in "biuf" or scale_arr.shape not in ((), (1,), (x.shape[1],))
            or not np.all(np.isfinite(scale_arr)) or np.any(scale_arr < 0)):
        raise ValueError(f"scale must be a number >= 0 or an array of shape ({x.shape[1]},) "
                         f"(one per feature) of numbers >= 0, got {scale!r}.")
    scale = np.broadcast_to(scale_arr.astype(np.float64), (x.shape[1],))
    if severity == 0.0:
        return x.copy()
    y = x.astype(np.float64) + severity * scale * rng.standard_normal(x.shape)
    return _cast_like(y, x)


# --------------------------------------------------------------------------------------------
# point clouds and video
# --------------------------------------------------------------------------------------------


def _cloud(x: Any) -> np.ndarray:
    arr = _array(x, min_ndim=3, max_ndim=3,
                 shape_text="a point-cloud batch of shape (batch, n_points, n_dims)")
    _check_numeric(arr)
    return arr


def point_drop(x: np.ndarray, severity: float, seed: int = 0, *,
               mode: str = "duplicate") -> np.ndarray:
    """Drop a fraction ``severity`` of the points of each cloud, keeping ``n_points`` fixed.

    ``k = round(severity * n_points)`` points (at least 1 if severity > 0, at most
    ``n_points - 1`` so one point always survives) are chosen at random per cloud. The kept points
    stay where they were; each dropped slot is refilled

    * ``mode="duplicate"`` (default): with a copy of a kept point drawn uniformly with
      replacement, so the cloud is a subsample of the original (max-pooling models such as
      PointNet see exactly the kept set);
    * ``mode="zero"``: with the all-zero point.

    Args:
        x: clouds ``(batch, n_points, n_dims)``.
        severity: dropped fraction, in [0, 1].
        seed: seed of the choice.
        mode: ``"duplicate"`` or ``"zero"``.

    Returns:
        The thinned clouds, with the shape and dtype of ``x``.
    """
    mode = check_choice("mode", mode, ["duplicate", "zero"])
    x, severity, rng = _prologue(x, severity, seed, _cloud)
    n_points = x.shape[1]
    if n_points < 2:
        raise ValueError(f"x must hold at least 2 points per cloud (one always survives), got "
                         f"shape {x.shape}.")
    if severity == 0.0:
        return x.copy()
    k = _n_affected(severity, n_points, at_most=n_points - 1)
    y = x.copy()
    for i in range(x.shape[0]):
        perm = rng.permutation(n_points)
        dropped, kept = perm[:k], perm[k:]
        if mode == "duplicate":
            y[i, dropped] = x[i, rng.choice(kept, size=k, replace=True)]
        else:
            y[i, dropped] = 0
    return y


def point_jitter(x: np.ndarray, severity: float, seed: int = 0, *, sigma_max: float = 0.1,
                 n_coords: int = 3) -> np.ndarray:
    """Jitter the coordinates: Gaussian noise of std ``severity * sigma_max * r_rms`` per cloud.

    ``r_rms`` is the root-mean-square distance of the cloud's points from its centroid, so the
    corruption does not depend on the cloud's units. Only the first ``n_coords`` columns (xyz) are
    jittered; extra per-point features (normals, colours) are kept.

    Args:
        x: clouds ``(batch, n_points, n_dims)``.
        severity: in [0, 1]; noise std in units of ``sigma_max * r_rms``.
        seed: seed of the noise.
        sigma_max: noise std at severity 1, in units of ``r_rms``.
        n_coords: number of leading coordinate columns to jitter.

    Returns:
        The jittered clouds, with the shape and dtype of ``x``.
    """
    x, severity, rng = _prologue(x, severity, seed, _cloud)
    sigma_max = check_float("sigma_max", sigma_max, minimum=0.0)
    n_coords = check_int("n_coords", n_coords, minimum=1, maximum=x.shape[2])
    if severity == 0.0:
        return x.copy()
    xyz = x[:, :, :n_coords].astype(np.float64)
    centred = xyz - xyz.mean(axis=1, keepdims=True)
    r_rms = np.sqrt(np.mean(np.sum(centred ** 2, axis=2), axis=1))[:, None, None]
    y = x.astype(np.float64)
    y[:, :, :n_coords] += severity * sigma_max * r_rms * rng.standard_normal(xyz.shape)
    return _cast_like(y, x)


def video_frame_drop(x: np.ndarray, severity: float, seed: int = 0, *,
                     mode: str = "repeat") -> np.ndarray:
    """Drop a fraction ``severity`` of the frames of each clip.

    ``k = round(severity * frames)`` frames (at least 1 if severity > 0) are chosen at random per
    clip. ``mode="repeat"`` (default) replaces a dropped frame by the last kept frame before it
    (a frozen stream), or the first kept frame after it when none comes before; when every frame
    is dropped (severity 1) the clip becomes zeros. ``mode="zero"`` writes black frames.

    Args:
        x: clips ``(batch, frames, ...)``.
        severity: dropped fraction of frames, in [0, 1].
        seed: seed of the choice.
        mode: ``"repeat"`` or ``"zero"``.

    Returns:
        The clips with dropped frames, with the shape and dtype of ``x``.
    """
    mode = check_choice("mode", mode, ["repeat", "zero"])
    x, severity, rng = _prologue(x, severity, seed, _video)
    if severity == 0.0:
        return x.copy()
    n_frames = x.shape[1]
    k = _n_affected(severity, n_frames)
    y = x.copy()
    for i in range(x.shape[0]):
        dropped = np.zeros(n_frames, dtype=bool)
        dropped[rng.choice(n_frames, size=k, replace=False)] = True
        kept = np.flatnonzero(~dropped)
        for t in np.flatnonzero(dropped):
            if mode == "zero" or kept.size == 0:
                y[i, t] = 0
            else:
                before = kept[kept < t]
                y[i, t] = x[i, before[-1] if before.size else kept[0]]
    return y


# --------------------------------------------------------------------------------------------
# whole-modality removal, registry
# --------------------------------------------------------------------------------------------


def remove_modality(x: Any, severity: float = 1.0, seed: int = 0, *, fill: Any = None,
                    return_mask: bool = False) -> Any:
    """Remove the whole modality from a random fraction ``severity`` of the samples.

    ``k = round(severity * batch)`` samples (at least 1 if severity > 0; all of them at the default
    severity 1) are chosen at random without replacement; their entry is replaced by ``fill``
    (default: 0 for numbers, which is also the padding id of token ids, and ``""`` for strings).
    With ``return_mask=True`` the presence mask ``(batch,)`` (``True`` = present, the convention of
    ``MultimodalDataset.masks``) is returned as well, to feed models that take a modality mask.

    Args:
        x: any modality array ``(batch, ...)`` or a batch of strings.
        severity: fraction of samples that lose the modality, in [0, 1].
        seed: seed of the choice.
        fill: replacement value.
        return_mask: also return the presence mask.

    Returns:
        The array (same shape and dtype), or ``(array, mask)`` when ``return_mask``.
    """
    severity = _check_severity(severity)
    rng = _rng(seed)
    if isinstance(x, str):
        raise ValueError(f"x must be a batch (array or list), got a single string {x[:30]!r}.")
    arr = _array(x)
    n = arr.shape[0]
    k = _n_affected(severity, n)
    mask = np.ones(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = False
    is_text = arr.dtype.kind in "UO"
    if fill is None:
        fill = "" if is_text else 0
    elif is_text and not isinstance(fill, str):
        raise ValueError(f"fill must be a string for a batch of texts, got {fill!r}.")
    elif not is_text:
        fill = _check_fill(fill)
        if np.issubdtype(arr.dtype, np.integer) and not fill.is_integer():
            raise ValueError(f"fill must be an integer for an integer array (dtype {arr.dtype}), "
                             f"got {fill!r}.")
    y = arr.copy()
    if k:
        y[~mask] = fill
    if isinstance(x, list):
        y = y.tolist()
    return (y, mask) if return_mask else y


CORRUPTIONS: dict[str, dict[str, Callable[..., Any]]] = {
    "image": {
        "gaussian_noise": image_gaussian_noise,
        "gaussian_blur": image_gaussian_blur,
        "occlusion": image_occlusion,
        "brightness": image_brightness,
        "contrast": image_contrast,
        "remove_modality": remove_modality,
    },
    "audio": {
        "additive_noise": audio_additive_noise,
        "segment_dropout": audio_segment_dropout,
        "remove_modality": remove_modality,
    },
    "text": {
        "typos": text_typos,
        "word_drop": text_word_drop,
        "remove_modality": remove_modality,
    },
    "tabular": {
        "entry_drop": tabular_entry_drop,
        "noise": tabular_noise,
        "remove_modality": remove_modality,
    },
    "point_cloud": {
        "point_drop": point_drop,
        "jitter": point_jitter,
        "remove_modality": remove_modality,
    },
    "video": {
        "frame_drop": video_frame_drop,
        "remove_modality": remove_modality,
    },
}
"""Registry ``CORRUPTIONS[kind][name] -> f(x, severity, seed, **kwargs)``."""

DETERMINISTIC_CORRUPTIONS = frozenset({("image", "gaussian_blur"), ("image", "brightness"),
                                       ("image", "contrast")})
"""(kind, name) pairs whose output does not depend on the seed."""


def _lookup(kind: str, name: str) -> Callable[..., Any]:
    check_choice("kind", kind, sorted(CORRUPTIONS))
    check_choice("corruption", name, sorted(CORRUPTIONS[kind]))
    return CORRUPTIONS[kind][name]


def corrupt(kind: str, name: str, x: Any, severity: float, seed: int = 0, **kwargs: Any) -> Any:
    """Apply the corruption ``CORRUPTIONS[kind][name]`` to ``x``.

    Args:
        kind: modality kind, one of ``"image"``, ``"audio"``, ``"text"``, ``"tabular"``,
            ``"point_cloud"``, ``"video"``.
        name: corruption name within that kind (see :data:`CORRUPTIONS`).
        x: the modality batch (shape per kind: see the module docstring).
        severity: in [0, 1].
        seed: seed of the corruption.
        **kwargs: extra keyword arguments of the corruption function.

    Returns:
        The corrupted batch (same shape and dtype).

    Raises:
        ValueError: unknown ``kind`` or ``name`` (the message lists the allowed values), or
            ``severity`` outside [0, 1].
    """
    return _lookup(kind, name)(x, severity, seed, **kwargs)


# --------------------------------------------------------------------------------------------
# evaluation sweep and robustness metrics
# --------------------------------------------------------------------------------------------


_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy,
    "mse": lambda y, p: float(np.mean((np.asarray(p).reshape(len(y), -1)
                                       - np.asarray(y).reshape(len(y), -1)) ** 2)),
    "mae": lambda y, p: float(np.mean(np.abs(np.asarray(p).reshape(len(y), -1)
                                             - np.asarray(y).reshape(len(y), -1)))),
}


def robustness_sweep(model: Any, inputs: Mapping[str, Any], labels: Any,
                     corruptions: Sequence[tuple], severities: Sequence[float] | None = None,
                     metric: str | Callable[[np.ndarray, np.ndarray], float] = "accuracy",
                     seed: int = 0, batch_size: int = 256, fraction: float = 1.0,
                     mask_inputs: Mapping[str, tuple[str, int]] | None = None) -> pd.DataFrame:
    """Evaluate a model while one modality at a time is corrupted at increasing severities.

    For each ``(modality_key, kind, corruption_name)`` (optionally a 4th element: a dict of
    keyword arguments for the corruption) and each severity, a copy of ``inputs`` is made in which
    **only** ``inputs[modality_key]`` is replaced, and in it only the selected samples are
    corrupted: all samples when ``fraction == 1`` (the default), else a seeded random subset of
    ``round(fraction * n)`` samples, the same subset at every severity. Every other modality and
    every unselected sample reaches the model bit-identical (tested). For ``remove_modality`` the
    severity is the fraction of the *selected* samples that lose the modality.

    The corruption seed is ``seed`` for every severity (common random numbers), so the curve
    changes only through the severity. When ``mask_inputs`` maps a modality key to
    ``(mask_input_name, column)``, ``remove_modality`` also writes 0 into that column of the mask
    input for the removed samples (models with a presence mask ``(batch, M)``).

    Args:
        model: a ``keras.Model`` (anything with ``predict``) or a callable on a dict of inputs,
            returning class probabilities ``(n, K)``, a sigmoid probability ``(n,)``/``(n, 1)``,
            or regression outputs (with ``metric="mse"``/``"mae"``).
        inputs: ``{input name: array (n, ...)}``.
        labels: ``(n,)`` class ids, one-hot ``(n, K)``, or regression targets.
        corruptions: list of ``(modality_key, kind, corruption_name[, kwargs])``.
        severities: severities in [0, 1] (default ``0, 0.1, ..., 1``).
        metric: ``"accuracy"`` (argmax, or threshold 0.5 for one output), ``"mse"``, ``"mae"`` or a
            callable ``metric(labels, predictions) -> float``.
        seed: seed of sample selection and corruptions.
        batch_size: prediction batch size.
        fraction: fraction of samples to corrupt, in (0, 1].
        mask_inputs: ``{modality_key: (mask input name, column)}``.

    Returns:
        Tidy DataFrame with one row per (corruption, severity) and columns ``modality``,
        ``kind``, ``corruption``, ``severity``, ``metric``, ``value``, ``n_corrupted`` (samples
        passed through the corruption; for ``remove_modality``, samples that lost the modality).
    """
    if labels is None:
        raise ValueError("labels must be given (n,) class ids, one-hot (n, K) or regression "
                         "targets, got None.")
    arrays, labels, n = check_inputs(inputs, labels)
    if severities is None:
        severities = np.round(np.linspace(0.0, 1.0, 11), 10)
    severities = [_check_severity(s) for s in np.atleast_1d(severities).tolist()]
    if not severities:
        raise ValueError("severities must hold at least one value in [0, 1], got none.")
    if isinstance(metric, str):
        metric_name = metric
        metric_fn = _METRICS[check_choice("metric", metric, sorted(_METRICS))]
    elif callable(metric):
        metric_name, metric_fn = getattr(metric, "__name__", "custom"), metric
    else:
        raise ValueError(f"metric must be one of {sorted(_METRICS)} or a callable, got {metric!r}.")
    seed = check_int("seed", seed, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    fraction = check_float("fraction", fraction, minimum=0.0, maximum=1.0, include_min=False)
    mask_inputs = dict(mask_inputs or {})
    for key, target in mask_inputs.items():
        if (not isinstance(target, tuple | list) or len(target) != 2
                or not isinstance(target[1], numbers.Integral)):
            raise ValueError(f"mask_inputs[{key!r}] must be a pair (mask input name, column), "
                             f"got {target!r}.")
        check_choice(f"mask_inputs[{key!r}][0] (the mask input name)", target[0], list(arrays))
    if fraction == 1.0:
        selected = np.arange(n)
    else:
        selected = np.sort(np.random.default_rng(seed).choice(
            n, size=max(1, int(round(fraction * n))), replace=False))
    if not corruptions:
        raise ValueError("corruptions must be a non-empty list of (modality_key, kind, "
                         "corruption_name) tuples, got an empty list.")
    rows = []
    for spec in corruptions:
        if not isinstance(spec, tuple | list) or len(spec) not in (3, 4):
            raise ValueError("each corruption must be (modality_key, kind, corruption_name[, "
                             f"kwargs]), got {spec!r}.")
        key, kind, name = spec[:3]
        if len(spec) == 4 and not isinstance(spec[3], Mapping):
            raise ValueError(f"the 4th element of a corruption must be a dict of keyword "
                             f"arguments, got {spec[3]!r} in {spec!r}.")
        kwargs = dict(spec[3]) if len(spec) == 4 else {}
        check_choice("modality_key", key, list(arrays))
        fn = _lookup(kind, name)
        for severity in severities:
            x = arrays[key]
            # fixed-width strings would truncate longer corrupted texts: hold them as objects
            x_new = x.astype(object) if x.dtype.kind == "U" else x.copy()
            batch = dict(arrays)  # other modalities: the very same arrays
            if fn is remove_modality:
                part, present = fn(x[selected], severity, seed, return_mask=True, **kwargs)
                n_corrupted = int(np.sum(~present))
                if key in mask_inputs:
                    mask_name, column = mask_inputs[key]
                    mask = arrays[mask_name].copy()
                    mask[selected[~present], column] = 0
                    batch[mask_name] = mask
            else:
                part = fn(x[selected], severity, seed, **kwargs)
                n_corrupted = 0 if severity == 0.0 else len(selected)
            x_new[selected] = np.asarray(part)
            batch[key] = x_new
            value = float(metric_fn(labels, predict_single_output(model, batch, batch_size)))
            rows.append({"modality": key, "kind": kind, "corruption": name,
                         "severity": severity, "metric": metric_name, "value": value,
                         "n_corrupted": n_corrupted})
    return pd.DataFrame(rows, columns=["modality", "kind", "corruption", "severity", "metric",
                                       "value", "n_corrupted"])


def _curve(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a 1-D sequence of numbers, got "
                         f"{values!r}.") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}.")
    return arr


def relative_robustness(accuracies: Sequence[float],
                        severities: Sequence[float] | None = None) -> float:
    """Relative robustness: normalised area under the accuracy-severity curve.

    .. math::

        \\tau^R = \\frac{1}{s_{K} - s_0} \\sum_{k=0}^{K-1}
                  \\frac{(s_{k+1} - s_k)\\,(a_k + a_{k+1})}{2}

    i.e. the trapezoid-rule integral of accuracy ``a`` over severity ``s``, divided by the
    severity range, so it is the mean accuracy over the range and lies in [0, 1] for accuracies in
    [0, 1]. This is the relative robustness of MultiBench (Liang et al. 2021, "MultiBench:
    Multiscale Benchmarks for Multimodal Representation Learning", NeurIPS Datasets and
    Benchmarks), whose evaluation script integrates 11 noise levels 0, 0.1, ..., 1 with the
    trapezoid rule (step 0.1, range 1); MultiBench additionally min-max normalises the score
    across the compared methods, which is left to the caller here.

    Args:
        accuracies: ``(K + 1,)`` accuracy (or any metric) at each severity.
        severities: ``(K + 1,)`` strictly increasing severities (default: evenly spaced on
            [0, 1]).

    Returns:
        The normalised area (float).
    """
    acc = _curve(accuracies, "accuracies")
    if acc.ndim != 1 or acc.size < 2:
        raise ValueError(f"accuracies must hold at least 2 values, got {acc.size}.")
    sev = (np.linspace(0.0, 1.0, acc.size) if severities is None
           else _curve(severities, "severities"))
    if sev.shape != acc.shape:
        raise ValueError(f"severities must have the same length as accuracies ({acc.size}), got "
                         f"{sev.size}.")
    if np.any(np.diff(sev) <= 0):
        raise ValueError(f"severities must be strictly increasing, got {sev.tolist()}.")
    area = np.sum(np.diff(sev) * (acc[1:] + acc[:-1]) / 2.0)
    return float(area / (sev[-1] - sev[0]))


def effective_robustness(acc_model_clean: float, acc_model_corrupted: Any,
                         acc_ref_clean: float, acc_ref_corrupted: Any, *,
                         reduction: str = "none") -> float | np.ndarray:
    """Effective robustness: accuracy above a reference shifted to the model's clean accuracy.

    .. math::

        \\tau^E(s) = a_f(s) - \\big[a_{ref}(s) + (a_f(0) - a_{ref}(0))\\big]

    with ``a_f`` the model's accuracy, ``a_ref`` the accuracy of a late-fusion reference model on
    the same corrupted data and ``s = 0`` the clean data: the reference curve is shifted to the
    model's clean accuracy, and what remains is the accuracy the model keeps *beyond* what its
    clean accuracy predicts (positive = drops more slowly than late fusion). This follows
    MultiBench (Liang et al. 2021, "MultiBench: Multiscale Benchmarks for Multimodal
    Representation Learning", NeurIPS Datasets and Benchmarks), after Taori et al. (2020,
    "Measuring Robustness to Natural Distribution Shifts in Image Classification", NeurIPS);
    MultiBench's script sums ``tau^E(s)`` over its noise levels (``reduction="sum"``).

    Args:
        acc_model_clean: ``a_f(0)``.
        acc_model_corrupted: ``a_f(s)``, scalar or ``(K,)`` over severities.
        acc_ref_clean: ``a_ref(0)``.
        acc_ref_corrupted: ``a_ref(s)``, same shape as ``acc_model_corrupted``.
        reduction: ``"none"`` (per severity), ``"sum"`` or ``"mean"``.

    Returns:
        ``tau^E`` as a float (scalar input or reduced) or a ``(K,)`` array.
    """
    reduction = check_choice("reduction", reduction, ["none", "sum", "mean"])
    a_f0 = check_float("acc_model_clean", acc_model_clean)
    a_r0 = check_float("acc_ref_clean", acc_ref_clean)
    a_f = _curve(acc_model_corrupted, "acc_model_corrupted")
    a_r = _curve(acc_ref_corrupted, "acc_ref_corrupted")
    if a_f.shape != a_r.shape:
        raise ValueError(f"acc_ref_corrupted must have the shape of acc_model_corrupted "
                         f"{a_f.shape}, got {a_r.shape}.")
    gap = a_f - (a_r + (a_f0 - a_r0))
    if reduction == "sum":
        return float(np.sum(gap))
    if reduction == "mean":
        return float(np.mean(gap))
    return float(gap) if gap.ndim == 0 else gap


def robustness_summary(sweep: pd.DataFrame, reference: pd.DataFrame | None = None
                       ) -> pd.DataFrame:
    """Relative (and effective) robustness per (modality, corruption) of a sweep table.

    Args:
        sweep: output of :func:`robustness_sweep` for the model; must include severity 0.
        reference: the same sweep for a late-fusion reference model (optional).

    Returns:
        DataFrame with columns ``modality``, ``corruption``, ``clean``, ``worst``,
        ``relative_robustness`` and, with a reference, ``effective_robustness`` (mean over the
        severities of :func:`effective_robustness`).
    """
    needed = {"modality", "corruption", "severity", "value"}
    for name, df in (("sweep", sweep), ("reference", reference)):
        if df is not None and not isinstance(df, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame from robustness_sweep, got "
                            f"{type(df).__name__}.")
        if df is not None and not needed.issubset(df.columns):
            raise ValueError(f"{name} must have the columns {sorted(needed)}, got "
                             f"{list(df.columns)}.")
    rows = []
    for (mod, corr), grp in sweep.groupby(["modality", "corruption"], sort=False):
        grp = grp.sort_values("severity")
        if grp["severity"].iloc[0] != 0.0:
            raise ValueError(f"sweep must include severity 0 for ({mod!r}, {corr!r}).")
        acc = grp["value"].to_numpy()
        row = {"modality": mod, "corruption": corr, "clean": acc[0], "worst": acc.min(),
               "relative_robustness": relative_robustness(acc, grp["severity"].to_numpy())}
        if reference is not None:
            ref = reference[(reference["modality"] == mod) & (reference["corruption"] == corr)]
            ref = ref.sort_values("severity")
            if not np.array_equal(ref["severity"].to_numpy(), grp["severity"].to_numpy()):
                raise ValueError(f"reference must have the same severities as sweep for "
                                 f"({mod!r}, {corr!r}).")
            ref_acc = ref["value"].to_numpy()
            row["effective_robustness"] = effective_robustness(
                acc[0], acc, ref_acc[0], ref_acc, reduction="mean")
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# FGSM per modality and adversarial training
# --------------------------------------------------------------------------------------------


def _loss_fn(y_pred_shape: Sequence[int | None], labels_ndim: int, from_logits: bool
             ) -> Callable[[Any, Any], Any]:
    if len(y_pred_shape) == 1 or y_pred_shape[-1] == 1:
        def loss(y, p):
            return keras.losses.binary_crossentropy(
                keras.ops.reshape(keras.ops.cast(y, p.dtype), (-1, 1)),
                keras.ops.reshape(p, (-1, 1)), from_logits=from_logits)
    elif labels_ndim >= 2:
        def loss(y, p):
            return keras.losses.categorical_crossentropy(keras.ops.cast(y, p.dtype), p,
                                                         from_logits=from_logits)
    else:
        def loss(y, p):
            return keras.losses.sparse_categorical_crossentropy(y, p, from_logits=from_logits)
    return loss


def _check_class_labels(labels: np.ndarray, pred_shape: tuple) -> None:
    """Labels fit the default FGSM loss: ids in [0, K), 0/1 for one output, or (n, K) one-hot."""
    n_out = 1 if len(pred_shape) == 1 else int(pred_shape[-1])
    if labels.ndim >= 2:
        if labels.shape[1:] != tuple(pred_shape[1:]):
            raise ValueError(f"one-hot labels must have shape (n, {n_out}) like the model output, "
                             f"got {labels.shape}.")
        return
    high = 2 if n_out == 1 else n_out
    if not np.all((labels >= 0) & (labels < high) & (labels == np.round(labels))):
        raise ValueError(f"labels must be integer class ids in [0, {high}) for a model with "
                         f"{n_out} output(s), got values in [{labels.min()}, {labels.max()}].")


def _clip_bounds(clip: Any, name: str = "clip") -> tuple[float, float] | None:
    return None if clip is None else _ordered_pair(name, clip, "(low, high) with low < high, or "
                                                               "None")


def fgsm(model: Any, inputs: Mapping[str, Any], labels: Any, epsilon: float,
         modality: str, *, loss: Callable[[Any, Any], Any] | None = None,
         from_logits: bool = False, clip: tuple[float, float] | None = None,
         batch_size: int = 256) -> dict[str, np.ndarray]:
    """Fast gradient sign method on one modality (Goodfellow, Shlens, Szegedy 2015, ICLR).

    .. math:: x_m^{adv} = \\operatorname{clip}\\big(x_m + \\epsilon\\,
              \\operatorname{sign}(\\nabla_{x_m} L(f(x_1, \\dots, x_M), y))\\big)

    Only the input ``modality`` changes; the returned dict holds the very same array objects for
    every other input (bit-identical). Samples whose gradient is exactly zero (e.g. a saturated
    softmax) are not moved; pass a model with logit outputs and ``from_logits=True`` to avoid
    saturation.

    Args:
        model: a Keras model (or callable) on a dict of inputs.
        inputs: ``{input name: array (n, ...)}``; the attacked input must be floating point.
        labels: ``(n,)`` class ids, ``(n, K)`` one-hot, or ``(n,)`` 0/1 for one sigmoid output.
        epsilon: L-infinity size of the perturbation (>= 0).
        modality: name of the input to attack.
        loss: ``loss(y_true, y_pred) -> (batch,)``; default: (sparse) categorical or binary
            cross-entropy chosen from the output and label shapes.
        from_logits: whether the model outputs logits (for the default loss).
        clip: ``(low, high)`` valid range of the attacked input, applied after the step.
        batch_size: samples per gradient computation.

    Returns:
        A new dict of inputs with ``inputs[modality]`` replaced by its adversarial version
        (same shape and dtype).
    """
    if not callable(model):
        raise TypeError(f"model must be a Keras model (or a differentiable callable) on a dict of "
                        f"inputs, got {type(model).__name__}.")
    arrays, labels, n = check_inputs(inputs, labels)
    epsilon = check_float("epsilon", epsilon, minimum=0.0)
    check_choice("modality", modality, list(arrays))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    bounds = _clip_bounds(clip)
    x = arrays[modality]
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"inputs[{modality!r}] must be floating point to be attacked by FGSM "
                         f"(gradients do not exist for dtype {x.dtype}, e.g. token ids; attack "
                         "their embeddings instead).")
    signs = np.empty(x.shape, dtype=np.float64)
    loss_fn = loss
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        batch = {k: tf.convert_to_tensor(v[sl]) for k, v in arrays.items()}
        y = tf.convert_to_tensor(labels[sl])
        with tf.GradientTape() as tape:
            tape.watch(batch[modality])
            pred = model(batch, training=False)
            if loss_fn is None:
                _check_class_labels(labels, tuple(pred.shape))
                loss_fn = _loss_fn(tuple(pred.shape), labels.ndim, from_logits)
            value = keras.ops.sum(loss_fn(y, pred))
        grad = tape.gradient(value, batch[modality])
        if grad is None:
            raise ValueError(f"the model output does not depend on inputs[{modality!r}] "
                             "(no gradient).")
        signs[sl] = np.sign(keras.ops.convert_to_numpy(grad))
    adv = x.astype(np.float64) + epsilon * signs
    if bounds is not None:
        adv = np.clip(adv, *bounds)
    out = dict(arrays)
    out[modality] = adv.astype(x.dtype)
    return out


def fgsm_sweep(model: Any, inputs: Mapping[str, Any], labels: Any, epsilons: Sequence[float],
               modalities: Sequence[str] | None = None, *, from_logits: bool = False,
               clip: Mapping[str, tuple[float, float]] | tuple[float, float] | None = None,
               batch_size: int = 256) -> pd.DataFrame:
    """Accuracy under FGSM, attacking one modality at a time, for several epsilons.

    Args:
        model: Keras model on a dict of inputs (class outputs).
        inputs: ``{input name: array (n, ...)}``.
        labels: class labels ``(n,)`` (or one-hot).
        epsilons: attack sizes (>= 0; a single number is accepted); 0 gives the clean accuracy.
        modalities: inputs to attack (default: every floating-point input).
        from_logits: whether the model outputs logits.
        clip: one ``(low, high)`` range for all modalities or ``{modality: (low, high)}``.
        batch_size: samples per gradient computation.

    Returns:
        Tidy DataFrame with columns ``modality``, ``epsilon``, ``accuracy``.
    """
    arrays, labels, _ = check_inputs(inputs, labels)
    epsilons = [check_float("epsilons entry", e, minimum=0.0) for e in np.atleast_1d(epsilons)]
    if not epsilons:
        raise ValueError("epsilons must hold at least one attack size >= 0, got none.")
    if modalities is None:
        modalities = [k for k, v in arrays.items() if np.issubdtype(v.dtype, np.floating)]
    elif isinstance(modalities, str):
        modalities = [modalities]
    rows = []
    for mod in modalities:
        bounds = clip.get(mod) if isinstance(clip, Mapping) else clip
        for eps in epsilons:
            adv = fgsm(model, arrays, labels, eps, mod, from_logits=from_logits, clip=bounds,
                       batch_size=batch_size)
            pred = predict_single_output(model, adv, batch_size)
            rows.append({"modality": mod, "epsilon": float(eps),
                         "accuracy": accuracy(labels, pred)})
    return pd.DataFrame(rows, columns=["modality", "epsilon", "accuracy"])


@keras.saving.register_keras_serializable(package="mmlib")
class FGSMAdversarialModel(keras.Model):
    """Wrap a model so that ``fit`` trains on clean and FGSM batches (adversarial training).

    At every training step the FGSM example of the batch is built on the fly from the current
    weights, attacking ``modality`` with ``epsilon`` (Goodfellow et al. 2015, ICLR, "Explaining and
    Harnessing Adversarial Examples", eq. 6), and the loss is

    .. math:: (1 - w)\\, L(f(x), y) + w\\, L(f(x^{adv}), y)

    with ``w = adv_weight`` and ``L`` the loss given to ``compile``. Inference, evaluation and the
    compiled metrics use the clean inputs. The wrapped model's weights are trained in place.

    Args:
        model: the Keras model to train, taking a dict of inputs.
        epsilon: FGSM step size (L-infinity).
        modality: name of the input attacked during training.
        adv_weight: weight ``w`` of the adversarial loss, in [0, 1].
        clip: optional ``(low, high)`` valid range of the attacked input.

    Example::

        adv = FGSMAdversarialModel(model, epsilon=0.1, modality="a")
        adv.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        adv.fit({"a": xa, "b": xb}, y, epochs=10)
    """

    def __init__(self, model: keras.Model, epsilon: float, modality: str,
                 adv_weight: float = 0.5, clip: tuple[float, float] | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model taking a dict of inputs, got "
                            f"{type(model).__name__}.")
        if not isinstance(modality, str):
            raise TypeError(f"modality must be the name (str) of the attacked input, got "
                            f"{modality!r}.")
        super().__init__(**kwargs)
        self.model = model
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0)
        self.modality = modality
        self.adv_weight = check_float("adv_weight", adv_weight, minimum=0.0, maximum=1.0)
        self.clip = _clip_bounds(clip)

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.model(inputs, training=training)

    def adversarial_inputs(self, x: Mapping[str, Any], y: Any) -> dict[str, Any]:
        """FGSM version of the batch ``x`` (only ``x[modality]`` changes), as tensors."""
        if self.modality not in x:
            raise ValueError(f"modality must be one of the inputs {list(x)}, got "
                             f"{self.modality!r}.")
        x = dict(x)
        xm = tf.convert_to_tensor(x[self.modality])
        with tf.GradientTape() as tape:
            tape.watch(xm)
            x[self.modality] = xm
            loss = self.compute_loss(x=x, y=y, y_pred=self.model(x, training=False))
        grad = tape.gradient(loss, xm)
        adv = xm + self.epsilon * tf.sign(grad)
        if self.clip is not None:
            adv = tf.clip_by_value(adv, self.clip[0], self.clip[1])
        x[self.modality] = tf.stop_gradient(adv)
        return x

    def train_step(self, data: Any) -> dict[str, Any]:
        """One step on ``(1 - w) L(clean) + w L(FGSM)``; metrics are those of the clean batch."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.adversarial_inputs(x, y)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            y_adv = self(x_adv, training=True)
            loss = ((1.0 - self.adv_weight)
                    * self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
                    + self.adv_weight
                    * self.compute_loss(x=x_adv, y=y, y_pred=y_adv,
                                        sample_weight=sample_weight))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"model": keras.saving.serialize_keras_object(self.model),
                       "epsilon": self.epsilon, "modality": self.modality,
                       "adv_weight": self.adv_weight,
                       "clip": None if self.clip is None else list(self.clip)})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FGSMAdversarialModel:
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
