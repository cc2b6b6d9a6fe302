"""Point-cloud corruptions: dropped points and jittered coordinates.

Each function takes clouds ``(batch, n_points, n_dims)`` with xyz in the first three columns (as
a LiDAR sweep); ``severity`` 0 returns the input bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._validate import check_choice, check_float, check_int
from mmlib.robust._arrays import cast_like, n_affected, numeric_batch, prologue

__all__ = ["point_drop", "point_jitter"]


def _cloud(x: Any) -> np.ndarray:
    return numeric_batch(x, "a point-cloud batch of shape (batch, n_points, n_dims)", 3, 3)


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
    x, severity, rng = prologue(x, severity, seed, _cloud)
    n_points = x.shape[1]
    if n_points < 2:
        raise ValueError(f"x must hold at least 2 points per cloud (one always survives), got "
                         f"shape {x.shape}.")
    if severity == 0.0:
        return x.copy()
    k = n_affected(severity, n_points, at_most=n_points - 1)
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
    x, severity, rng = prologue(x, severity, seed, _cloud)
    sigma_max = check_float("sigma_max", sigma_max, minimum=0.0)
    n_coords = check_int("n_coords", n_coords, minimum=1, maximum=x.shape[2])
    if severity == 0.0:
        return x.copy()
    xyz = x[:, :, :n_coords].astype(np.float64)
    centred = xyz - xyz.mean(axis=1, keepdims=True)
    r_rms = np.sqrt(np.mean(np.sum(centred ** 2, axis=2), axis=1))[:, None, None]
    y = x.astype(np.float64)
    y[:, :, :n_coords] += severity * sigma_max * r_rms * rng.standard_normal(xyz.shape)
    return cast_like(y, x)
