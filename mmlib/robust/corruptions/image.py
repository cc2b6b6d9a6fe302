"""Image corruptions (ImageNet-C style): noise, blur, occlusion, brightness, contrast.

Each function takes images ``(batch, height, width)`` or ``(batch, height, width, channels)``;
``severity`` 0 returns the input bit for bit. Gaussian noise and occlusion act on any 2-D grid,
so the registry also uses them for the ``spectrogram`` and ``heatmap`` kinds.

Reference:
    Hendrycks, Dietterich (2019). "Benchmarking Neural Network Robustness to Common Corruptions
    and Perturbations". ICLR.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from mmlib.robust._arrays import cast_like, check_fill, numeric_batch, ordered_pair, prologue

__all__ = ["image_brightness", "image_contrast", "image_gaussian_blur", "image_gaussian_noise",
           "image_occlusion"]


def _image(x: Any) -> np.ndarray:
    return numeric_batch(x, "an image batch of shape (batch, height, width) or (batch, height, "
                            "width, channels) (also spectrograms and heatmaps)", 3, 4)


def _value_range(x: np.ndarray, value_range: tuple[float, float] | None) -> tuple[float, float]:
    """The range the pixel values live in (see :func:`image_gaussian_noise` for the rule)."""
    if value_range is not None:
        return ordered_pair("value_range", value_range)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if np.issubdtype(x.dtype, np.integer) and lo >= 0 and hi <= 255:
        return 0.0, 255.0
    if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return lo, hi


def image_gaussian_noise(x: np.ndarray, severity: float, seed: int = 0, *,
                         value_range: tuple[float, float] | None = None,
                         clip: bool = True) -> np.ndarray:
    """Add i.i.d. Gaussian pixel noise with standard deviation ``severity * (high - low)``.

    ``(low, high)`` is ``value_range`` if given; otherwise ``(0, 1)`` for float images whose values
    lie in [0, 1], ``(0, 255)`` for integer images with values in [0, 255], else the minimum and
    maximum of ``x``. With ``clip=True`` the result is clipped to that range (as in ImageNet-C,
    Hendrycks & Dietterich 2019, ICLR). Also the ``gaussian_noise`` of the ``spectrogram`` and
    ``heatmap`` kinds (their values, e.g. log-mel or dB, span the batch's minimum to maximum).

    Args:
        x: images ``(batch, height, width[, channels])``, float or integer.
        severity: in [0, 1]; 0 returns a copy of ``x``.
        seed: seed of the noise.
        value_range: ``(low, high)`` of valid pixel values.
        clip: clip the noisy image to ``value_range``.

    Returns:
        The noisy images, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    lo, hi = _value_range(x, value_range)
    y = x.astype(np.float64) + rng.normal(0.0, severity * (hi - lo), size=x.shape)
    if clip:
        y = np.clip(y, lo, hi)
    return cast_like(y, x, lo, hi)


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
    x, severity, _ = prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    sigma_px = severity * min(x.shape[1], x.shape[2]) / 8.0
    sigmas = (0.0, sigma_px, sigma_px) + ((0.0,) if x.ndim == 4 else ())
    y = ndimage.gaussian_filter(x.astype(np.float64), sigma=sigmas, mode="nearest", truncate=4.0)
    return cast_like(y, x)


def image_occlusion(x: np.ndarray, severity: float, seed: int = 0, *,
                    fill: float | None = None,
                    value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Occlude one random rectangle per image covering a fraction ``severity`` of its area.

    The rectangle has sides ``round(sqrt(severity) * height)`` and ``round(sqrt(severity) *
    width)`` (at least one pixel) and a uniformly random position per image; it is filled with
    ``fill`` (default: the low end of the value range, i.e. black; see
    :func:`image_gaussian_noise` for how the range is found). Severity 1 occludes the whole image.
    Also the ``occlusion`` of the ``heatmap`` kind (a blocked patch of a sensor map).

    Args:
        x: images ``(batch, height, width[, channels])``.
        severity: occluded area fraction in [0, 1].
        seed: seed of the rectangle positions.
        fill: value written into the rectangle.
        value_range: ``(low, high)`` of valid pixel values (only used for the default ``fill``).

    Returns:
        The occluded images, with the shape and dtype of ``x``.
    """
    x, severity, rng = prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    fill = _value_range(x, value_range)[0] if fill is None else check_fill(fill)
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
    x, severity, _ = prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    lo, hi = _value_range(x, value_range)
    y = np.clip(x.astype(np.float64) + severity * (hi - lo), lo, hi)
    return cast_like(y, x, lo, hi)


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
    x, severity, _ = prologue(x, severity, seed, _image)
    if severity == 0.0:
        return x.copy()
    xf = x.astype(np.float64)
    mean = xf.mean(axis=tuple(range(1, x.ndim)), keepdims=True)
    return cast_like(mean + (1.0 - severity) * (xf - mean), x)
