"""``drive``: road scenes seen by a camera, a LiDAR and a radar under day / night / fog / rain (the
driving case study).

Steps of :func:`load_drive`: the scene (:func:`_scene`: condition, object, distance, motion) →
the camera (:func:`_camera`: road, exposure and fog, the object, rain, noise) → the LiDAR
(:func:`_lidar`: object, ground and clutter returns) → the radar (:func:`_radar`: range-Doppler
map) → the labels and the object's LiDAR returns (:func:`_count_object_points`) → the container.
The data card is in ``datasets/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_choice, check_float, check_int
from mmlib.data._build import check_common, finish
from mmlib.data.container import MultimodalDataset

__all__ = ["CONDITIONS", "OBJECTS", "load_drive"]

OBJECTS: tuple[str, ...] = ("none", "car", "pedestrian", "cyclist")
"""Classes of the ``drive`` task ``object``."""
CONDITIONS: tuple[str, ...] = ("day", "night", "fog", "rain")
"""Conditions of ``drive`` (``metadata["condition"]`` indexes this)."""
_OBJ_SIZE = np.array([[0.0, 0.0], [1.8, 1.5], [0.6, 1.75], [1.75, 1.75]])  # width, height (m)
_CAM_HEIGHT, _LIDAR_HEIGHT = 1.5, 1.8
# object parts in the object's frame: x in [-0.5, 0.5] (width), y in [0, 1] (height, from the
# ground); (x0, x1, y0, y1, colour id) with colour id 0 = body colour, 1 dark, 2 window,
# 3 skin, 4 tail light
_PARTS = {
    1: [(-0.5, 0.5, 0.15, 0.62, 0), (-0.37, 0.37, 0.6, 1.0, 2), (-0.46, -0.24, 0.0, 0.22, 1),
        (0.24, 0.46, 0.0, 0.22, 1), (-0.49, -0.36, 0.44, 0.54, 4), (0.36, 0.49, 0.44, 0.54, 4)],
    2: [(-0.28, 0.28, 0.0, 0.47, 1), (-0.5, 0.5, 0.45, 0.83, 0), (-0.2, 0.2, 0.84, 1.0, 3)],
    3: [(-0.5, -0.1, 0.0, 0.38, 1), (0.1, 0.5, 0.0, 0.38, 1), (-0.3, 0.3, 0.3, 0.38, 1),
        (-0.14, 0.14, 0.38, 0.84, 0), (-0.1, 0.1, 0.85, 1.0, 3)],
}
_PART_RGB = np.array([[0, 0, 0], [0.08, 0.08, 0.09], [0.25, 0.32, 0.4], [0.85, 0.65, 0.5],
                      [1.0, 0.1, 0.05]], dtype=np.float32)
_MAX_SPEED = 10.0
"""Radial speed at the edge of the radar's Doppler axis (m/s)."""


def load_drive(n_samples: int = 3000, seed: int = 0, *, conditions: Sequence[str] = CONDITIONS,
               image_size: int = 40, n_points: int = 256, radar_shape: tuple[int, int] = (32, 16),
               max_distance: float = 30.0, severity: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """Road scenes seen by a camera, a LiDAR and a radar under four weather / light conditions.

    The driving case study. Each scene has one object (car, pedestrian, cyclist) or none at a
    distance of 5 to ``max_distance`` m and a lateral offset, moving towards or away from the
    sensors (cars 3-10 m/s, cyclists 2-6, pedestrians 0.4-1.8). Sensors, with the physics
    simplified but the trade-offs kept:

    * **camera** (``(n, S, S, 3)``): pinhole view of a road; the object is drawn from parts
      (car: body, cabin, wheels, tail lights; pedestrian: legs, torso, head; cyclist: wheels,
      frame, rider) and shrinks with distance. Night darkens everything (only tail lights
      glow) and adds sensor noise; fog blends towards grey with transmission
      ``exp(-3 d / visibility)``; rain darkens, blurs and adds streaks.
    * **lidar** (``(n, N, 3)`` points x forward, y left, z up, in m, unordered): returns from the
      object's surface (density falls with distance squared), ground returns and, in fog, many
      back-scatter points near the sensor while object returns fade as
      ``exp(-2 d / visibility)``; rain drops a few points and adds droplets. Night: no effect.
    * **radar** (``(n, R, D, 1)`` range-Doppler power in dB): noise floor, zero-Doppler ground
      clutter and the object's echo at its range and radial speed, power by the radar equation
      (RCS / d^4), spread in Doppler by micro-motion (walking legs, pedalling). Coarse
      (1.1 m x 1.25 m/s cells at the defaults) but almost unaffected by light and weather
      (rain: noise floor +1.5 dB, echo -0.5 dB).

    Tasks: ``object`` (0 none, 1 car, 2 pedestrian, 3 cyclist) and ``distance`` (m; 0 for
    ``none``: mask that class out of a distance loss, e.g. with sample weights
    ``labels["object"] > 0``). Stands in for KITTI / nuScenes (real multi-sensor driving data).

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        conditions: which conditions to draw from, uniformly (subset of ``CONDITIONS``).
        image_size: camera image side in pixels (>= 24).
        n_points: LiDAR points per scene (fixed).
        radar_shape: (range bins, Doppler bins).
        max_distance: farthest object (m, 10-60); LiDAR and radar range is ``max_distance + 5``.
        severity: strength of the night / fog / rain effects (0 = like day, 1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset`; metadata ``condition`` (index into ``info["conditions"]``),
        ``visibility`` (m, fog only; inf otherwise), ``lateral`` (m, + = right), ``velocity``
        (radial, m/s), ``n_object_points`` (LiDAR returns from the object).
    """
    check_common(n_samples, seed, missing_rate)
    if isinstance(conditions, str) or not len(conditions):
        raise ValueError(f"conditions must be a non-empty list of condition names from "
                         f"{list(CONDITIONS)}, got {conditions!r}.")
    for c in conditions:
        check_choice("conditions", c, CONDITIONS)
    size = check_int("image_size", image_size, minimum=24, maximum=128)
    n_points = check_int("n_points", n_points, minimum=16, maximum=4096)
    if len(radar_shape) != 2:
        raise ValueError(f"radar_shape must be (range bins, Doppler bins), got {radar_shape!r}.")
    n_range = check_int("radar_shape[0]", radar_shape[0], minimum=8, maximum=256)
    n_doppler = check_int("radar_shape[1]", radar_shape[1], minimum=4, maximum=256)
    max_distance = check_float("max_distance", max_distance, minimum=10.0, maximum=60.0)
    severity = check_float("severity", severity, minimum=0.0, maximum=3.0)
    # stream order is part of the data: append new streams at the end
    r_lat, r_cam, r_lidar, r_radar = rng_streams(seed, 4)

    cond_ids = np.array([CONDITIONS.index(c) for c in dict.fromkeys(conditions)])
    sc = _scene(r_lat, n_samples, cond_ids, max_distance)
    max_range = max_distance + 5.0
    camera = _camera(r_cam, sc, size, severity)
    lidar = _lidar(r_lidar, sc, n_points, severity, max_range)
    radar = _radar(r_radar, sc, n_range, n_doppler, max_range)
    obj, dist = sc["obj"], sc["dist"]

    knobs = {"n_samples": n_samples, "seed": seed, "conditions": list(conditions),
             "image_size": size, "n_points": n_points, "radar_shape": (n_range, n_doppler),
             "max_distance": max_distance, "severity": severity, "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "drive", {"camera": camera, "lidar": lidar, "radar": radar[..., None]},
        {"object": obj.astype(np.int32),
         "distance": np.where(obj > 0, dist, 0.0).astype(np.float32)},
        metadata={"condition": sc["cond"].astype(np.int32),
                  "visibility": sc["vis"].astype(np.float32),
                  "lateral": sc["lateral"].astype(np.float32),
                  "velocity": sc["velocity"].astype(np.float32),
                  "n_object_points": _count_object_points(lidar, sc)},
        info=_info(max_range, knobs))
    return finish(ds, missing_rate, seed)


def _scene(gen: np.random.Generator, n: int, cond_ids: np.ndarray,
           max_distance: float) -> dict[str, np.ndarray]:
    """The latent scenes ``(n,)``: condition ``cond``, object class ``obj``, distance ``dist``
    (m), ``lateral`` offset (m, + = right), radial ``velocity`` (m/s), fog visibility ``vis``
    (m; inf when not foggy)."""
    cond = cond_ids[gen.integers(len(cond_ids), size=n)]
    obj = gen.choice(4, size=n, p=[0.16, 0.28, 0.28, 0.28])
    dist = gen.uniform(5.0, max_distance, n)
    lateral = gen.uniform(-1.0, 1.0, n) * np.minimum(3.0, 0.2 * dist)  # stays in view
    lo, hi = np.array([0.0, 3.0, 0.4, 2.0])[obj], np.array([0.0, 10.0, 1.8, 6.0])[obj]
    velocity = gen.uniform(lo, hi) * np.where(gen.random(n) < 0.5, -1.0, 1.0)
    vis = np.where(cond == 2, gen.uniform(12.0, 35.0, n), np.inf)
    return {"cond": cond, "obj": obj, "dist": dist, "lateral": lateral, "velocity": velocity,
            "vis": vis}


def _camera(gen: np.random.Generator, sc: dict[str, np.ndarray], size: int,
            severity: float) -> np.ndarray:
    """Pinhole camera images ``(n, S, S, 3)`` in [0, 1] of a road with one object (or none)."""
    f = 1.5 * size  # focal length in pixels
    horizon = 0.42 * size
    bg, ground_dist = _road(size, f, horizon)
    img, gain = _exposure(gen, bg, ground_dist, sc, severity)
    _draw_object(img, gen, sc, gain, size, f, horizon, severity)
    rain = sc["cond"] == 3
    if rain.any():
        _rain(img, gen, rain, severity)
    sigma = np.array([0.02, 0.05, 0.03, 0.04], dtype=np.float32)[sc["cond"]]
    img += gen.standard_normal(img.shape, dtype=np.float32) * sigma[:, None, None, None]
    return np.clip(img, 0, 1, out=img)


def _road(size: int, f: float, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """The empty scene ``(S, S, 3)``: sky gradient, grass, road with a dashed centre line; and
    the ground distance of each row ``(S,)`` (m; 200 above the horizon)."""
    rows = np.arange(size, dtype=np.float32) + 0.5
    cols = rows
    below = np.clip(rows - horizon, 1e-3, None)
    ground_dist = np.where(rows > horizon, f * _CAM_HEIGHT / below, 200.0)  # m, per row
    half_road = 3.5 * f / ground_dist  # px
    on_road = np.abs(cols[None, :] - size / 2) < half_road[:, None]
    dash = (np.abs(cols[None, :] - size / 2) < np.maximum(0.5, 0.12 * f / ground_dist)[:, None]) \
        & (np.sin(ground_dist * 0.9)[:, None] > 0.2)
    sky = np.stack([0.55 + 0.2 * rows / size, 0.7 + 0.15 * rows / size, 0.95 + 0 * rows], 1)
    bg = np.where((rows > horizon)[:, None, None],
                  np.where(on_road[..., None], np.float32(0.42),
                           np.array([0.3, 0.5, 0.22], dtype=np.float32)),
                  sky[:, None, :])
    bg = np.where(dash[..., None] & (rows > horizon)[:, None, None], np.float32(0.85), bg)
    return bg, ground_dist


def _exposure(gen: np.random.Generator, bg: np.ndarray, ground_dist: np.ndarray,
              sc: dict[str, np.ndarray], severity: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample exposure ``(n, S, S, 3)`` of the empty scene: jitter, night darkening, rain
    dimming, fog (per-row transmission towards grey); also returns the gains ``(n,)``."""
    cond, vis, n = sc["cond"], sc["vis"], len(sc["cond"])
    night, fog, rain = cond == 1, cond == 2, cond == 3
    gain = (0.9 + 0.2 * gen.random(n)) * np.where(night, 1 - 0.88 * min(severity, 1.0), 1.0) \
        * np.where(rain, 0.7, 1.0)
    t_row = np.where(fog[:, None], np.exp(-3.0 * severity * ground_dist[None, :]
                                          / np.where(fog, vis, 1.0)[:, None]), 1.0)
    img = bg[None].astype(np.float32) * (gain[:, None] * t_row).astype(np.float32)[..., None, None]
    img += (0.78 * gain[:, None] * (1 - t_row)).astype(np.float32)[..., None, None]
    return img, gain


def _draw_object(img: np.ndarray, gen: np.random.Generator, sc: dict[str, np.ndarray],
                 gain: np.ndarray, size: int, f: float, horizon: float, severity: float) -> None:
    """Draw each object part by part into ``img`` (in place), in a patch around it; fog and
    exposure as for the scene; tail lights glow at night.

    Objects are drawn in groups of equal patch size (the smallest multiple of 8 that holds the
    object, at most ``max_patch``): a patch larger than its object would only add pixels of
    zero coverage, which leave the image unchanged.
    """
    obj, dist, lateral, cond, vis = (sc[k] for k in ("obj", "dist", "lateral", "cond", "vis"))
    has = np.flatnonzero(obj > 0)
    max_patch = min(size, int(np.ceil(f * 1.9 / 5.0)) + 3)
    h_px = f * _OBJ_SIZE[obj[has], 1] / dist[has]
    w_px = f * _OBJ_SIZE[obj[has], 0] / dist[has]
    uc = size / 2 + f * lateral[has] / dist[has]  # bottom centre of the object (px)
    vb = horizon + f * _CAM_HEIGHT / dist[has]
    body_rgb = np.where((obj[has] == 1)[:, None], gen.uniform(0.1, 0.95, (len(has), 3)),
                        gen.uniform(0.15, 0.8, (len(has), 3)))
    fog = cond == 2
    t_obj = np.where(fog[has], np.exp(-3.0 * severity * dist[has] / np.where(fog, vis, 1.0)[has]),
                     1.0)
    # coverage reaches 0.5 px beyond the object; the patch is centred up to 1 px off
    need = np.ceil(np.maximum(w_px, h_px)).astype(np.int64) + 5
    patches = np.minimum(max_patch, -(-need // 8) * 8)
    for patch in np.unique(patches).tolist():
        j = np.flatnonzero(patches == patch)
        x0 = np.clip(np.floor(uc[j]).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(vb[j] - h_px[j] / 2).astype(np.int64) - patch // 2, 0,
                     size - patch)
        offs = np.arange(patch)
        gx = (x0[:, None] + offs + 0.5)[:, None, :]  # (k, 1, P) pixel centres
        gy = (y0[:, None] + offs + 0.5)[:, :, None]  # (k, P, 1)
        alpha = np.zeros((len(j), patch, patch), dtype=np.float32)
        colour = np.zeros((len(j), patch, patch, 3), dtype=np.float32)
        lights = np.zeros((len(j), patch, patch), dtype=np.float32)
        for cls, parts in _PARTS.items():
            sel = np.flatnonzero(obj[has[j]] == cls)
            if sel.size:  # the objects of one class, painted part by part
                colour[sel], alpha[sel], lights[sel] = _paint_parts(
                    parts, uc[j][sel], vb[j][sel], w_px[j][sel], h_px[j][sel], gx[sel], gy[sel],
                    body_rgb[j][sel])
        g = gain[has[j], None, None, None]
        t = t_obj[j, None, None, None]
        colour = (colour * (g * t) + alpha[..., None] * (0.78 * g * (1 - t))).astype(np.float32)
        lit = (cond == 1)[has[j]]  # tail lights glow at night
        colour[lit] += lights[lit][..., None] * np.array([0.8, 0.12, 0.08], dtype=np.float32)
        ri = (y0[:, None] + offs)[:, :, None]
        ci = (x0[:, None] + offs)[:, None, :]
        hi = has[j, None, None]
        img[hi, ri, ci] = img[hi, ri, ci] * (1 - alpha[..., None]) + colour


def _paint_parts(parts: list[tuple], uc: np.ndarray, vb: np.ndarray, w_px: np.ndarray,
                 h_px: np.ndarray, gx: np.ndarray, gy: np.ndarray, body_rgb: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paint the ``parts`` of ``k`` objects of one class in patches ``(k, P, P)``: colour
    ``(k, P, P, 3)``, coverage ``alpha`` and tail-light coverage ``lights`` (float32).

    ``uc``, ``vb`` are the objects' bottom-centre pixels, ``w_px``, ``h_px`` their sizes, ``gx``
    ``(k, 1, P)`` and ``gy`` ``(k, P, 1)`` the patch's pixel centres.
    """
    k, patch = len(uc), gx.shape[2]
    alpha = np.zeros((k, patch, patch), dtype=np.float32)
    colour = np.zeros((k, patch, patch, 3), dtype=np.float32)
    lights = np.zeros((k, patch, patch), dtype=np.float32)
    for px0, px1, py0, py1, cid in parts:
        left = (uc + px0 * w_px)[:, None, None]
        right = (uc + px1 * w_px)[:, None, None]
        top = (vb - py1 * h_px)[:, None, None]
        bottom = (vb - py0 * h_px)[:, None, None]
        cov = (np.clip(np.minimum(gx - left, right - gx) + 0.5, 0, 1)
               * np.clip(np.minimum(gy - top, bottom - gy) + 0.5, 0, 1))
        rgb = body_rgb if cid == 0 else np.broadcast_to(_PART_RGB[cid], (k, 3))
        a = cov.astype(np.float32)[..., None]
        colour = colour * (1 - a) + a * rgb[:, None, None, :].astype(np.float32)
        alpha = np.maximum(alpha, cov).astype(np.float32)  # float32 after every part
        if cid == 4:
            lights = np.maximum(lights, cov).astype(np.float32)
    return colour, alpha, lights


def _rain(img: np.ndarray, gen: np.random.Generator, rain: np.ndarray, severity: float) -> None:
    """Rainy images (``rain`` mask ``(n,)``), in place: a slight horizontal blur and streaks."""
    size, k = img.shape[1], int(rain.sum())
    streak_rows = gen.integers(0, size, size=(k, 12))
    streak_cols = gen.integers(0, size, size=(k, 12))
    streaks = np.zeros((k, size + 4, size + 4), dtype=np.float32)
    for j in range(4):  # short diagonal streaks
        streaks[np.arange(k)[:, None], streak_rows + j, streak_cols + j // 2] = 0.35
    sub = img[rain]
    sub[:, :, 1:-1] = 0.5 * sub[:, :, 1:-1] + 0.25 * (sub[:, :, :-2] + sub[:, :, 2:])
    sub += np.float32(min(severity, 1.5)) * streaks[:, :size, :size, None]
    img[rain] = sub


def _lidar(gen: np.random.Generator, sc: dict[str, np.ndarray], n_points: int, severity: float,
           max_range: float) -> np.ndarray:
    """LiDAR point clouds ``(n, N, 3)``: x forward, y left, z up (m), sensor 1.8 m high.

    Returns from the object (Poisson count ~ area / d**2; faded by fog, dropped by rain), the
    ground (denser near the sensor, within visibility in fog) and clutter (fog back-scatter near
    the sensor, rain drops anywhere), in random order.
    """
    obj, dist, cond, vis = sc["obj"], sc["dist"], sc["cond"], sc["vis"]
    n, f32 = len(obj), np.float32
    size = _OBJ_SIZE[obj]
    area = size[:, 0] * size[:, 1] * np.array([0, 0.9, 0.75, 0.45])[obj]  # filled area (m2)
    expected = 2500.0 * area / np.maximum(dist, 1.0) ** 2
    fog, rain = cond == 2, cond == 3
    keep = np.where(fog, np.exp(-2.0 * severity * dist / vis), np.where(rain, 0.85, 1.0))
    n_obj = np.minimum(gen.poisson(expected * keep), n_points // 2)
    n_clutter = np.where(fog, gen.integers(60, 100, n) * min(severity, 1.5),
                         np.where(rain, gen.integers(8, 20, n), 0)).astype(np.int64)
    obj_x, obj_y, obj_z = _object_points(gen, sc, n_points)
    slot = np.arange(n_points)[None, :]
    is_obj = slot < n_obj[:, None]
    is_clutter = ~is_obj & (slot < (n_obj + n_clutter)[:, None])
    far = np.where(fog, np.minimum(max_range, 1.5 * vis / max(severity, 1e-3)), max_range)
    log_lo = np.where(is_clutter, 0.0, np.log(3.0)).astype(f32)
    log_hi = np.where(is_clutter, np.log(np.where(fog, 6.0, 20.0))[:, None],
                      np.log(far)[:, None]).astype(f32)
    r = np.exp(log_lo + gen.random((n, n_points), dtype=f32) * (log_hi - log_lo))
    az = (gen.random((n, n_points), dtype=f32) - f32(0.5)) * f32(1.2)
    z = np.where(is_clutter, gen.random((n, n_points), dtype=f32) * f32(2.5) - f32(1.5),
                 f32(-_LIDAR_HEIGHT) + f32(0.03) * gen.standard_normal((n, n_points), dtype=f32))
    pts = np.stack([np.where(is_obj, obj_x, r * np.cos(az)),
                    np.where(is_obj, obj_y, r * np.sin(az)), np.where(is_obj, obj_z, z)], axis=-1)
    order = np.argsort(gen.random((n, n_points), dtype=f32), axis=1)  # unordered sets
    return np.take_along_axis(pts, order[..., None], axis=1)


def _object_points(gen: np.random.Generator, sc: dict[str, np.ndarray],
                   n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_points`` candidate returns on each object's surface, x, y, z ``(n, N)`` each: a part
    picked by area, a uniform point on it, a small depth jitter (zeros for no object)."""
    obj, dist, lateral = sc["obj"], sc["dist"], sc["lateral"]
    n, f32 = len(obj), np.float32
    obj_x = np.zeros((n, n_points), dtype=f32)
    obj_y = np.zeros((n, n_points), dtype=f32)
    obj_z = np.zeros((n, n_points), dtype=f32)
    for cls, parts in _PARTS.items():
        sel = np.flatnonzero(obj == cls)
        if not sel.size:
            continue
        boxes = np.array([p[:4] for p in parts if p[4] != 4], dtype=f32)
        w = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
        which = np.searchsorted(np.cumsum(w / w.sum()), gen.random((sel.size, n_points)))
        b = boxes[np.minimum(which, len(boxes) - 1)]
        xs = b[..., 0] + gen.random((sel.size, n_points), dtype=f32) * (b[..., 1] - b[..., 0])
        ys = b[..., 2] + gen.random((sel.size, n_points), dtype=f32) * (b[..., 3] - b[..., 2])
        obj_x[sel] = dist[sel, None] + 0.05 * gen.standard_normal((sel.size, n_points), dtype=f32)
        obj_y[sel] = -lateral[sel, None] - xs * _OBJ_SIZE[cls, 0]
        obj_z[sel] = -_LIDAR_HEIGHT + ys * _OBJ_SIZE[cls, 1]
    return obj_x, obj_y, obj_z


def _radar(gen: np.random.Generator, sc: dict[str, np.ndarray], n_range: int, n_doppler: int,
           max_range: float) -> np.ndarray:
    """Range-Doppler maps in dB ``(n, R, D)``: noise floor, zero-Doppler clutter, the object's
    echo (radar equation: RCS / d**4) spread in Doppler by micro-motion; rain raises the floor."""
    obj, dist, velocity, cond = sc["obj"], sc["dist"], sc["velocity"], sc["cond"]
    n, max_speed = len(obj), _MAX_SPEED
    r_bins = (np.arange(n_range) + 0.5) * max_range / n_range
    d_bins = (np.arange(n_doppler) + 0.5) * 2 * max_speed / n_doppler - max_speed
    power = gen.exponential(1.0, (n, n_range, n_doppler))  # speckled noise floor
    clutter = 10 ** (2.0 - 0.04 * r_bins)[None, :, None] * np.exp(
        -0.5 * (d_bins / (0.6 * 2 * max_speed / n_doppler)) ** 2)[None, None, :]
    power += clutter * gen.exponential(1.0, (n, n_range, 1))
    rain = cond == 3
    power[rain] *= 1.4  # rain clutter raises the floor by 1.5 dB
    rcs_db = np.array([-99.0, 12.0, -3.0, 2.0])[obj] + gen.normal(0, 3.0, n)
    snr_db = rcs_db + 28.0 - 40.0 * np.log10(np.maximum(dist, 1.0) / 10.0) - 0.5 * rain
    spread = np.array([1.0, 0.5, 1.8, 1.2])[obj] * 2 * max_speed / n_doppler  # micro-Doppler
    rng_sigma = 0.6 * max_range / n_range
    blob = (np.exp(-0.5 * ((r_bins[None, :] - dist[:, None]) / rng_sigma) ** 2)[:, :, None]
            * np.exp(-0.5 * ((d_bins[None, :] - velocity[:, None]) / spread[:, None]) ** 2
                     )[:, None, :])
    power += np.where(obj > 0, 10 ** (snr_db / 10), 0.0)[:, None, None] * blob
    return (10 * np.log10(power)).astype(np.float32)


def _count_object_points(lidar: np.ndarray, sc: dict[str, np.ndarray]) -> np.ndarray:
    """LiDAR returns from the object ``(n,)`` int32: points near it, above the ground."""
    obj, dist, lateral = sc["obj"], sc["dist"], sc["lateral"]
    half_w = _OBJ_SIZE[obj, 0][:, None] / 2 + 0.15
    near = ((np.abs(lidar[..., 0] - dist[:, None]) < 0.3)
            & (np.abs(lidar[..., 1] + lateral[:, None]) < half_w)
            & (lidar[..., 2] > -_LIDAR_HEIGHT + 0.1))
    return np.where(obj > 0, near.sum(axis=1), 0).astype(np.int32)


def _info(max_range: float, knobs: dict[str, Any]) -> dict[str, Any]:
    return {
        "kinds": {"camera": "image", "lidar": "point_cloud", "radar": "heatmap"},
        "class_names": {"object": list(OBJECTS)},
        "conditions": list(CONDITIONS),
        "row_label_metadata": {"condition": list(CONDITIONS)},
        "label_units": {"distance": "m"},
        "heatmap_axes": {"radar": ("range (m)", "radial speed (m/s)")},
        "heatmap_extent": {"radar": (0.0, max_range, -_MAX_SPEED, _MAX_SPEED)},
        "knobs": knobs,
    }
