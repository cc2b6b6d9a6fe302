"""Video corruptions: dropped frames (a stuttering or frozen stream).

Each function takes clips ``(batch, frames, ...)``, e.g. ``(batch, frames, height, width,
channels)``; ``severity`` 0 returns the input bit for bit. Per-frame image corruptions can be
applied with :mod:`mmlib.robust.corruptions.image` on ``x.reshape(-1, height, width, channels)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._validate import check_choice
from mmlib.robust._arrays import n_affected, numeric_batch, prologue

__all__ = ["video_frame_drop"]


def _video(x: Any) -> np.ndarray:
    return numeric_batch(x, "a video batch of shape (batch, frames, ...)", 2)


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
    x, severity, rng = prologue(x, severity, seed, _video)
    if severity == 0.0:
        return x.copy()
    n_frames = x.shape[1]
    k = n_affected(severity, n_frames)
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
