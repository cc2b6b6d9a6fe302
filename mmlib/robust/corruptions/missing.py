"""A whole modality missing: :func:`remove_modality`, registered for every kind.

Unlike the other corruptions, which degrade a modality, this one takes it away from a random
fraction of the samples (a sensor that fails, a test that was not ordered) and can return the
presence mask ``(batch,)`` that models with a ``modality_mask`` input read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._common import rng
from mmlib.robust._arrays import batch_array, check_fill, check_severity, n_affected

__all__ = ["remove_modality"]


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
    severity = check_severity(severity)
    generator = rng(seed)
    if isinstance(x, str):
        raise ValueError(f"x must be a batch (array or list), got a single string {x[:30]!r}.")
    arr = batch_array(x)
    n = arr.shape[0]
    k = n_affected(severity, n)
    mask = np.ones(n, dtype=bool)
    mask[generator.choice(n, size=k, replace=False)] = False
    is_text = arr.dtype.kind in "UO"
    if fill is None:
        fill = "" if is_text else 0
    elif is_text and not isinstance(fill, str):
        raise TypeError(f"fill must be a string for a batch of texts, got {fill!r} of type "
                        f"{type(fill).__name__}.")
    elif not is_text:
        fill = check_fill(fill)
        if np.issubdtype(arr.dtype, np.integer) and not fill.is_integer():
            raise ValueError(f"fill must be an integer for an integer array (dtype {arr.dtype}), "
                             f"got {fill!r}.")
    y = arr.copy()
    if k:
        y[~mask] = fill
    if isinstance(x, list):
        y = y.tolist()
    return (y, mask) if return_mask else y
