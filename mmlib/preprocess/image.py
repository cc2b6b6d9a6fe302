"""Images: per-channel statistics (:func:`image_stats`) and a resize → rescale → standardise
preprocessor as one Keras model (:func:`image_preprocessor`)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from mmlib._validate import check_choice, check_float
from mmlib.preprocess._params import float_vector, pair

__all__ = ["image_preprocessor", "image_stats"]


def image_stats(images: np.ndarray, scale: float = 1.0 / 255.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``images * scale``.

    Args:
        images: ``(n, H, W, C)`` array (channels last), e.g. uint8 training images.
        scale: factor applied first (``1/255`` maps uint8 to [0, 1]).

    Returns:
        ``(mean, std)``, each of shape ``(C,)`` (float32); feed them to :func:`image_preprocessor`.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, H, W, C), got {images.shape}.")
    if images.dtype.kind not in "biuf":
        raise TypeError(f"images must hold numbers, got dtype {images.dtype}.")
    if images.size == 0:
        raise ValueError(f"images must hold at least one pixel, got shape {images.shape}.")
    x = images.astype(np.float64) * check_float("scale", scale, minimum=0.0, include_min=False)
    return x.mean(axis=(0, 1, 2)).astype(np.float32), x.std(axis=(0, 1, 2)).astype(np.float32)


def image_preprocessor(size: tuple[int, int] | None = None, scale: float = 1.0 / 255.0,
                       mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                       interpolation: str = "bilinear",
                       name: str = "image_preprocessor") -> keras.Sequential:
    """Image normalisation as one Keras model: ``Resizing(size)`` → ``x · scale`` →
    ``(x - mean) / std`` (per channel).

    Use the same preprocessor (same ``mean``/``std``, from :func:`image_stats` on the training
    split) for training, validation and test images.

    Args:
        size: ``(height, width)`` to resize to, or ``None`` to keep the size.
        scale: rescaling factor (``1/255`` for uint8 images).
        mean, std: per-channel statistics of the *scaled* images, or ``None`` to skip
            standardisation.
        interpolation: resizing method (``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``).
        name: model name.

    Returns:
        ``keras.Sequential``: ``(batch, H, W, C)`` → ``(batch, height, width, C)`` float32.
    """
    steps: list[keras.layers.Layer] = []
    if size is not None:
        h, w = pair("size", size)
        check_choice("interpolation", interpolation, ("bilinear", "nearest", "bicubic", "area"))
        steps.append(keras.layers.Resizing(h, w, interpolation=interpolation, name="resize"))
    steps.append(keras.layers.Rescaling(check_float("scale", scale, minimum=0.0,
                                                    include_min=False), name="rescale"))
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together (both None to skip "
                         f"standardisation), got mean={mean!r}, std={std!r}.")
    if mean is not None:
        mean_a, std_a = float_vector("mean", mean), float_vector("std", std)
        if mean_a.shape != std_a.shape or not np.all(std_a > 0):
            raise ValueError(f"std must be positive and match mean's shape {mean_a.shape}, got "
                             f"{std_a.tolist()}.")
        norm = keras.layers.Normalization(mean=mean_a.tolist(), variance=(std_a ** 2).tolist(),
                                          name="standardize")
        # the statistics fix the number of channels: Keras reports a mismatch as a clear error
        norm.input_spec = keras.InputSpec(min_ndim=3, axes={-1: mean_a.size})
        steps.append(norm)
    return keras.Sequential(steps, name=name)

