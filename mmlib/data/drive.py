"""``drive``: road scenes seen by a camera, a LiDAR and a radar under day / night / fog / rain (the
driving case study).

Steps of :func:`load_drive`: the scene (:func:`_scene`: condition, object, distance, heading,
speed, size, colours) → the camera (:func:`_camera`: road, light and fog (:func:`_exposure`), the
object drawn part by part in its end-on or side-on view (:func:`_draw_object`), rain, sensor
noise) → the LiDAR (:func:`_lidar`: beam returns on the object (:func:`_object_returns`), fog
back-scatter and rain drops, ground rings) → the radar (:func:`_radar`: range-Doppler map with
zero-Doppler roadside clutter) → the labels and the object's LiDAR returns
(:func:`_count_object_points`) → the container. The data card is in ``datasets/README.md``.

Each sensor has physical weaknesses, so that no sensor is best everywhere and fusion helps in
every condition:

* the camera needs light and clear air (night: only what the headlights reach, lamps and noise;
  fog: contrast falls with distance) and a far object is a few pixels;
* the LiDAR samples the object only where its 16 beams hit it (few returns, and heights quantised
  by the beam spacing, at range; dark surfaces fade sooner), is attenuated and fooled by fog
  (back-scatter) and rain (drop-outs, droplets), and sees a cyclist riding towards it as the same
  narrow, tall cluster as a pedestrian;
* the radar has no angular resolution and measures only range, radial speed and echo power:
  anything that does not move towards or away from it (a parked car, a standing or crossing
  pedestrian) sits at zero Doppler with the roadside clutter, and pedestrians and cyclists
  overlap in echo power (and a running pedestrian moves like a slow cyclist).
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

_CLASS_P = np.array([0.16, 0.28, 0.28, 0.28])
"""Probability of each class (none, car, pedestrian, cyclist)."""
_WIDTH = np.array([0.0, 1.8, 0.55, 0.6])
"""Width of each class (m), seen end-on."""
_LENGTH = np.array([0.0, 4.5, 0.45, 1.75])
"""Length of each class (m): the width seen side-on."""
_HEIGHT = np.array([[0.0, 0.0], [1.4, 1.7], [1.55, 1.9], [1.55, 1.9]])
"""Range of heights of each class (m); a cyclist on the bike is as tall as a pedestrian."""
_P_STILL = np.array([0.0, 0.3, 0.2, 0.05])
"""Probability that the object stands still (a parked car, a waiting pedestrian)."""
_P_CROSS = np.array([0.0, 0.2, 0.35, 0.25])
"""Probability that the object crosses the road (seen side-on; else it moves along the road,
towards or away from the sensors, seen end-on)."""
_SPEED = np.array([[0.0, 0.0], [2.0, 12.0], [0.5, 2.0], [2.5, 7.0]])
"""Speed range of each class when it moves (m/s)."""
_P_JOG, _JOG_SPEED = 0.15, (2.0, 3.5)
"""Fraction of moving pedestrians who run, and their speed range (m/s): as fast as a slow
cyclist."""
_HEADING_JITTER = (0.17, 0.35)
"""Largest deviation (rad) of the heading from along / across the road."""
_FOG_VISIBILITY = (15.0, 60.0)
"""Range of the fog's visibility (m)."""
_CAM_HEIGHT, _LIDAR_HEIGHT = 1.5, 1.8
_MAX_SPEED = 10.0
"""Radial speed at the edge of the radar's Doppler axis (m/s)."""

# Object parts in the object's frame, per (class, view) with view 0 = end-on (seen from behind or
# in front), 1 = side-on: x in [-0.5, 0.5] (of the apparent width), y in [0, 1] (of the height,
# from the ground); (x0, x1, y0, y1, material). Materials: 0 body colour, 1 dark (tyres,
# trousers), 2 glass, 3 skin, 4 lamp (tail light seen from behind, headlight from the front),
# 5 spoked wheel, 6 helmet (a bright colour).
_PARTS: dict[tuple[int, int], list[tuple[float, float, float, float, int]]] = {
    (1, 0): [(-0.5, 0.5, 0.15, 0.62, 0), (-0.37, 0.37, 0.6, 1.0, 2), (-0.46, -0.24, 0.0, 0.22, 1),
             (0.24, 0.46, 0.0, 0.22, 1), (-0.49, -0.36, 0.44, 0.54, 4),
             (0.36, 0.49, 0.44, 0.54, 4)],
    (1, 1): [(-0.5, 0.5, 0.15, 0.6, 0), (-0.3, 0.26, 0.58, 1.0, 0), (-0.27, -0.03, 0.62, 0.94, 2),
             (0.0, 0.23, 0.62, 0.94, 2), (-0.38, -0.2, 0.0, 0.3, 1), (0.2, 0.38, 0.0, 0.3, 1),
             (-0.5, -0.47, 0.4, 0.5, 4), (0.47, 0.5, 0.4, 0.5, 4)],
    (2, 0): [(-0.28, 0.28, 0.0, 0.47, 1), (-0.5, 0.5, 0.45, 0.83, 0), (-0.2, 0.2, 0.84, 1.0, 3)],
    (2, 1): [(-0.4, -0.04, 0.0, 0.47, 1), (0.04, 0.4, 0.0, 0.47, 1), (-0.45, 0.45, 0.45, 0.83, 0),
             (-0.2, 0.2, 0.84, 1.0, 3)],
    (3, 0): [(-0.06, 0.06, 0.0, 0.42, 1), (-0.3, -0.04, 0.03, 0.5, 1), (0.04, 0.3, 0.03, 0.5, 1),
             (-0.5, 0.5, 0.48, 0.84, 0), (-0.18, 0.18, 0.84, 1.0, 6), (-0.1, 0.1, 0.5, 0.56, 4)],
    (3, 1): [(-0.5, -0.1, 0.0, 0.38, 5), (0.1, 0.5, 0.0, 0.38, 5), (-0.3, 0.3, 0.3, 0.38, 1),
             (-0.12, 0.12, 0.15, 0.5, 1), (-0.14, 0.14, 0.45, 0.84, 0),
             (-0.1, 0.1, 0.85, 1.0, 6), (0.3, 0.38, 0.5, 0.56, 4)],
}
_MATERIAL_RGB = np.array([[0, 0, 0], [0.08, 0.08, 0.09], [0.25, 0.32, 0.4], [0.85, 0.65, 0.5],
                          [0, 0, 0], [0.12, 0.12, 0.12], [0, 0, 0]], dtype=np.float32)
_HELMET_RGB = np.array([[0.95, 0.95, 0.95], [0.9, 0.15, 0.1], [0.95, 0.85, 0.1],
                        [0.95, 0.5, 0.05], [0.1, 0.35, 0.9], [0.5, 0.9, 0.1]])
"""Colours of cyclists' helmets."""
_LIDAR_FILL = np.array([1.0, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0])
"""Fraction of each material's area a LiDAR beam can hit (glass is transparent, a spoked wheel
mostly empty)."""
_NIR_ALBEDO = np.array([np.nan, 0.15, 0.0, 0.5, 0.9, 0.15, 0.5])
"""Near-infrared reflectivity of each material (body: 0.2-0.8 from its colour; lamps are
retro-reflective)."""
_LIDAR_REACH = 20.0
"""Range (m) up to which a surface of reflectivity 0.5 always returns the beam; beyond it the
probability falls as ``(reach / d)**2`` (and in proportion to the reflectivity)."""
_BEAMS = np.deg2rad(np.arange(-15.0, 16.0, 2.0))
"""Elevations of the LiDAR's 16 beams (rad)."""
_AZ_STEP = np.deg2rad(0.4)
"""Azimuth step of the LiDAR (rad)."""
_AZ_FOV = 0.6
"""Half azimuth field of view of the LiDAR (rad)."""
_RCS_DB = np.array([[-99.0, -99.0], [10.0, 16.0], [-5.0, -4.0], [-2.0, 1.0]])
"""Mean radar cross section (dBsm) of each class, end-on and side-on."""
_RADAR_GAIN_DB = 35.0
"""Echo-to-noise ratio (dB) of a 1 m2 (0 dBsm) target at 10 m."""


def load_drive(n_samples: int = 3000, seed: int = 0, *, conditions: Sequence[str] = CONDITIONS,
               image_size: int = 40, n_points: int = 256, radar_shape: tuple[int, int] = (32, 16),
               max_distance: float = 30.0, severity: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """Road scenes seen by a camera, a LiDAR and a radar under four weather / light conditions.

    The driving case study. Each scene has one object in the ego lane -- a car, a pedestrian, a
    cyclist -- or none, at 5 to ``max_distance`` m, standing still, crossing the road (seen
    side-on) or moving along it, towards or away from the sensors (seen end-on). Sensors, with
    the physics simplified but the trade-offs kept:

    * **camera** ``(n, S, S, 3)`` float32 in [0, 1]: pinhole view (focal length 1.5 S px, 1.5 m
      high) of a road; the object drawn from parts in its view (car: body, windows, wheels,
      lamps; pedestrian: legs, torso, head; cyclist: wheels, legs, rider, helmet, lamp), a few
      pixels tall when far. *Night*: only the ego headlights light the scene (surfaces fade with
      distance squared), lamps glow, strong sensor noise. *Fog*: contrast falls as
      ``exp(-3 d / visibility)``. *Rain*: darker, blurred, streaks.
    * **lidar** ``(n, N, 3)`` float32 points (x forward, y left, z up, m; unordered): a 16-beam
      scanner 1.8 m high (beams 2 deg apart, 0.4 deg azimuth steps): returns on the object only
      where a beam hits it (glass gives none; dark surfaces fade beyond about 10 m, bright ones
      beyond 20 m), the ground rings of the downward beams filling the rest (at most ``N / 2``
      object returns). *Fog*: returns fade as ``exp(-2 d / visibility)``, 25-50 back-scatter
      points within 5 m. *Rain*: 40 % drop-outs, 20-40 droplet returns within 20 m. Night: no
      effect (an active sensor).
    * **radar** ``(n, R, D, 1)`` float32 range-Doppler power in dB, with no angle axis: speckled
      noise floor, zero-Doppler clutter from the ground and roadside reflectors (signs, poles,
      parked cars at the kerb), and the object's echo at its range and radial speed, with power
      from the radar equation (RCS / d**4; car 10-16, cyclist -2-1, pedestrian -5 dBsm, +-2 dB
      and a Swerling-1 fluctuation) and weak micro-Doppler side bands. Light and fog do not
      matter; rain raises the floor by 1.5 dB.

    Tasks: ``object`` (0 none, 1 car, 2 pedestrian, 3 cyclist) and ``distance`` (m; 0 for
    ``none``: mask that class out of a distance loss, e.g. with sample weights
    ``labels["object"] > 0``). Stands in for KITTI / nuScenes (real multi-sensor driving data).

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        conditions: which conditions to draw from, uniformly (subset of ``CONDITIONS``).
        image_size: camera image side ``S`` in pixels (24-128).
        n_points: LiDAR points per scene ``N`` (16-4096, fixed).
        radar_shape: (range bins ``R``, Doppler bins ``D``), 8-256 and 4-256.
        max_distance: farthest object (m, 10-60); LiDAR and radar range is ``max_distance + 5``.
        severity: strength of the night / fog / rain effects (0-3; 0 = like day, 1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset`; metadata ``condition`` (int32 index into
        ``info["conditions"]``), ``visibility`` (m, fog only; inf otherwise), ``lateral`` (m,
        + = right), ``velocity`` (radial, m/s, + = away), ``speed`` (m/s), ``heading`` (deg,
        0 = moving away along the line of sight, +-90 = crossing; NaN for no object),
        ``side_view`` (bool: seen side-on), ``n_object_points`` (int32, LiDAR returns from the
        object).
    """
    check_common(n_samples, seed, missing_rate)
    if isinstance(conditions, str) or not isinstance(conditions, Sequence) or not conditions:
        raise ValueError(f"conditions must be a non-empty list of condition names from "
                         f"{list(CONDITIONS)}, got {conditions!r}.")
    for c in conditions:
        check_choice("conditions", c, CONDITIONS)
    size = check_int("image_size", image_size, minimum=24, maximum=128)
    n_points = check_int("n_points", n_points, minimum=16, maximum=4096)
    if isinstance(radar_shape, str) or not isinstance(radar_shape, Sequence) \
            or len(radar_shape) != 2:
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
    radar = _radar(r_radar, sc, n_range, n_doppler, max_range, severity)
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
                  "speed": sc["speed"].astype(np.float32),
                  "heading": np.where(obj > 0, np.rad2deg(
                      np.angle(np.exp(1j * sc["heading"]))), np.nan).astype(np.float32),
                  "side_view": sc["side"].astype(bool),
                  "n_object_points": _count_object_points(lidar, sc)},
        info=_info(max_range, knobs))
    return finish(ds, missing_rate, seed)


def _scene(gen: np.random.Generator, n: int, cond_ids: np.ndarray,
           max_distance: float) -> dict[str, np.ndarray]:
    """The latent scenes ``(n,)``: condition ``cond``, object class ``obj``, distance ``dist``
    (m), ``lateral`` offset (m, + = right), ``heading`` (rad, 0 = moving away along the line of
    sight; a parked object keeps one), ``speed`` and radial ``velocity`` (m/s), ``side`` (seen
    side-on), apparent ``width`` and ``height`` (m), fog visibility ``vis`` (m; inf when not
    foggy), body colour ``rgb`` and helmet colour ``helmet`` ``(n, 3)``, ``rear`` (the lamps seen
    are tail lights, else headlights)."""
    cond = cond_ids[gen.integers(len(cond_ids), size=n)]
    obj = gen.choice(4, size=n, p=_CLASS_P)
    dist = gen.uniform(5.0, max_distance, n)
    lateral = gen.uniform(-1.0, 1.0, n) * np.minimum(2.0, 0.15 * dist)  # in the lane, in view
    still = gen.random(n) < _P_STILL[obj]
    cross = gen.random(n) < _P_CROSS[obj]
    jitter = gen.uniform(-1.0, 1.0, n) * np.where(cross, _HEADING_JITTER[1], _HEADING_JITTER[0])
    flip = np.where(gen.random(n) < 0.5, np.pi, 0.0)
    heading = np.where(cross, np.pi / 2, 0.0) + flip + jitter
    speed = np.where(still, 0.0, gen.uniform(_SPEED[obj, 0], _SPEED[obj, 1]))
    jog = (obj == 2) & ~still & (gen.random(n) < _P_JOG)
    speed = np.where(jog, gen.uniform(*_JOG_SPEED, n), speed)
    velocity = speed * np.cos(heading)
    height = gen.uniform(_HEIGHT[obj, 0], _HEIGHT[obj, 1])
    s, c = np.abs(np.sin(heading)), np.abs(np.cos(heading))
    width = _LENGTH[obj] * s + _WIDTH[obj] * c
    vis = np.where(cond == 2, gen.uniform(*_FOG_VISIBILITY, n), np.inf)
    rgb = np.where((obj == 1)[:, None], gen.uniform(0.1, 0.95, (n, 3)),
                   gen.uniform(0.15, 0.8, (n, 3)))
    helmet = _HELMET_RGB[gen.integers(len(_HELMET_RGB), size=n)]
    return {"cond": cond, "obj": obj, "dist": dist, "lateral": lateral, "heading": heading,
            "speed": speed, "velocity": velocity, "side": (s > np.sqrt(0.5)) & (obj > 0),
            "width": width, "height": height, "vis": vis, "rgb": rgb, "helmet": helmet,
            "rear": np.cos(heading) > 0}


# ------------------------------------------------------------------------------------------
# camera
# ------------------------------------------------------------------------------------------


def _camera(gen: np.random.Generator, sc: dict[str, np.ndarray], size: int,
            severity: float) -> np.ndarray:
    """Pinhole camera images ``(n, S, S, 3)`` in [0, 1] of a road with one object (or none)."""
    f = 1.5 * size  # focal length in pixels
    horizon = 0.42 * size
    bg, ground_dist = _road(size, f, horizon)
    img, gain = _exposure(gen, bg, ground_dist, sc, severity)
    _draw_object(img, sc, gain, size, f, horizon, severity)
    rain = sc["cond"] == 3
    if rain.any():
        _rain(img, gen, rain, severity)
    s = min(severity, 1.5)
    sigma = np.array([0.02, 0.02 + 0.06 * s, 0.02 + 0.01 * s, 0.02 + 0.01 * s],
                     dtype=np.float32)[sc["cond"]]
    img += _sensor_noise(gen, img.shape, sigma)
    return np.clip(img, 0, 1, out=img)


def _sensor_noise(gen: np.random.Generator, shape: tuple[int, ...], sigma: np.ndarray,
                  bank_rows: int = 256) -> np.ndarray:
    """Gaussian pixel noise ``shape`` (float32) of standard deviation ``sigma`` ``(n,)``: each
    image a window, at a random offset and sign, of one of ``bank_rows`` long rows of white noise
    (cheaper than a fresh draw per pixel; pixels within an image stay independent)."""
    n, per = shape[0], int(np.prod(shape[1:]))
    bank = gen.standard_normal((bank_rows, 2 * per), dtype=np.float32)
    row = gen.integers(bank_rows, size=n)
    off = gen.integers(per + 1, size=n)
    out = np.lib.stride_tricks.sliding_window_view(bank, per, axis=1)[row, off]
    out *= (np.where(gen.random(n) < 0.5, -1.0, 1.0).astype(np.float32) * sigma)[:, None]
    return out.reshape(shape)


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
    return bg.astype(np.float32), ground_dist


def _light(dist: np.ndarray, night: np.ndarray, severity: float) -> np.ndarray:
    """Illumination of a surface at ``dist`` m (broadcast with ``night``): 1 by day; at night a
    dim ambient level plus the ego headlights, falling with distance squared."""
    s = min(severity, 1.0)
    head = np.minimum(1.0, (8.0 / np.maximum(dist, 1.0)) ** 2)
    return np.where(night, 1.0 - s + s * (0.05 + 0.95 * head), 1.0)


def _exposure(gen: np.random.Generator, bg: np.ndarray, ground_dist: np.ndarray,
              sc: dict[str, np.ndarray], severity: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample exposure ``(n, S, S, 3)`` of the empty scene: exposure jitter, rain dimming,
    night lighting (:func:`_light` of each row's ground distance; a dark sky), fog (per-row
    transmission towards the grey of the fog); also returns the gains ``(n,)``."""
    cond, vis, n = sc["cond"], sc["vis"], len(sc["cond"])
    night, fog, rain = cond == 1, cond == 2, cond == 3
    gain = (0.9 + 0.2 * gen.random(n)) * np.where(rain, 1.0 - 0.2 * min(severity, 1.5), 1.0)
    sky = ground_dist >= 200.0
    row_light = np.where(sky[None, :], np.where(night, 1.0 - 0.97 * min(severity, 1.0), 1.0)
                         [:, None], _light(ground_dist[None, :], night[:, None], severity))
    t_row = np.where(fog[:, None], np.exp(-3.0 * severity * ground_dist[None, :]
                                          / np.where(fog, vis, 1.0)[:, None]), 1.0)
    scale = (gain[:, None] * row_light * t_row).astype(np.float32)
    offset = (0.78 * gain[:, None] * (1 - t_row)).astype(np.float32)
    img = np.multiply(bg[None], scale[..., None, None], dtype=np.float32)
    img += offset[..., None, None]
    return img, gain


def _draw_object(img: np.ndarray, sc: dict[str, np.ndarray], gain: np.ndarray, size: int,
                 f: float, horizon: float, severity: float) -> None:
    """Draw each object part by part (:data:`_PARTS` of its class and view) into ``img`` (in
    place), in a patch around it; fog, light and exposure as for the scene; at night lamps glow
    with their own light, far brighter than lit surfaces, so that even a sub-pixel lamp lights
    its pixel.

    Objects are drawn in groups of equal patch size (the smallest multiple of 8 that holds the
    object, at most the image): a patch larger than its object would only add pixels of zero
    coverage, which leave the image unchanged.
    """
    obj, dist, lateral, cond, vis = (sc[k] for k in ("obj", "dist", "lateral", "cond", "vis"))
    has = np.flatnonzero(obj > 0)
    view = sc["side"][has].astype(np.int64)
    h_px = f * sc["height"][has] / dist[has]
    w_px = f * sc["width"][has] / dist[has]
    uc = size / 2 + f * lateral[has] / dist[has]  # bottom centre of the object (px)
    vb = horizon + f * _CAM_HEIGHT / dist[has]
    body_rgb = sc["rgb"][has].astype(np.float32)
    helmet_rgb = sc["helmet"][has].astype(np.float32)
    lamp_rgb = np.where(sc["rear"][has, None], np.array([[0.8, 0.12, 0.08]]),
                        np.array([[0.95, 0.9, 0.7]])).astype(np.float32)
    fog, night = cond == 2, cond == 1
    t_obj = np.where(fog[has], np.exp(-3.0 * severity * dist[has] / np.where(fog, vis, 1.0)[has]),
                     1.0)
    light = _light(dist[has], night[has], severity)
    glow = np.where(night[has], 3.0 * min(severity, 1.0), 0.0) * t_obj
    need = np.ceil(np.maximum(w_px, h_px)).astype(np.int64) + 5
    patches = np.minimum(size, -(-need // 8) * 8)
    key = patches * 8 + obj[has] * 2 + view
    for k in np.unique(key).tolist():
        j = np.flatnonzero(key == k)
        patch, cls, v = k // 8, (k % 8) // 2, k % 2
        x0 = np.clip(np.floor(uc[j]).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(vb[j] - h_px[j] / 2).astype(np.int64) - patch // 2, 0,
                     size - patch)
        offs = np.arange(patch)
        gx = (x0[:, None] + offs + 0.5)[:, None, :]  # (k, 1, P) pixel centres
        gy = (y0[:, None] + offs + 0.5)[:, :, None]  # (k, P, 1)
        colour, alpha, lamps = _paint_parts(_PARTS[(cls, v)], uc[j], vb[j], w_px[j], h_px[j],
                                            gx, gy, body_rgb[j], helmet_rgb[j])
        g = (gain[has[j]] * light[j] * t_obj[j])[:, None, None, None].astype(np.float32)
        air = (0.78 * gain[has[j]] * (1 - t_obj[j]))[:, None, None, None].astype(np.float32)
        colour = colour * g + alpha[..., None] * air
        colour += (lamps[..., None] * lamp_rgb[j, None, None, :]
                   * (g + glow[j, None, None, None].astype(np.float32)))
        ri = (y0[:, None] + offs)[:, :, None]
        ci = (x0[:, None] + offs)[:, None, :]
        hi = has[j, None, None]
        img[hi, ri, ci] = img[hi, ri, ci] * (1 - alpha[..., None]) + colour


def _paint_parts(parts: list[tuple], uc: np.ndarray, vb: np.ndarray, w_px: np.ndarray,
                 h_px: np.ndarray, gx: np.ndarray, gy: np.ndarray, body_rgb: np.ndarray,
                 helmet_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paint the ``parts`` of ``k`` objects of one class and view in patches ``(k, P, P)``:
    colour ``(k, P, P, 3)`` (lamps black), coverage ``alpha`` and lamp coverage ``lamps``
    (float32).

    ``uc``, ``vb`` are the objects' bottom-centre pixels, ``w_px``, ``h_px`` their sizes, ``gx``
    ``(k, 1, P)`` and ``gy`` ``(k, P, 1)`` the patch's pixel centres.
    """
    k, patch = len(uc), gx.shape[2]
    alpha = np.zeros((k, patch, patch), dtype=np.float32)
    colour = np.zeros((k, patch, patch, 3), dtype=np.float32)
    lamps = np.zeros((k, patch, patch), dtype=np.float32)
    for px0, px1, py0, py1, mat in parts:
        left = (uc + px0 * w_px)[:, None, None]
        right = (uc + px1 * w_px)[:, None, None]
        top = (vb - py1 * h_px)[:, None, None]
        bottom = (vb - py0 * h_px)[:, None, None]
        cov = (np.clip(np.minimum(gx - left, right - gx) + 0.5, 0, 1)
               * np.clip(np.minimum(gy - top, bottom - gy) + 0.5, 0, 1)).astype(np.float32)
        rgb = body_rgb if mat == 0 else helmet_rgb if mat == 6 else np.broadcast_to(
            _MATERIAL_RGB[mat], (k, 3))
        a = cov[..., None]
        colour *= 1 - a
        colour += a * rgb[:, None, None, :]
        alpha = np.maximum(alpha, cov)
        lamps = np.maximum(lamps, cov) if mat == 4 else lamps * (1 - cov)
    return colour, alpha, lamps


def _rain(img: np.ndarray, gen: np.random.Generator, rain: np.ndarray, severity: float) -> None:
    """Rainy images (``rain`` mask ``(n,)``), in place: a slight horizontal blur (water on the
    lens) and eight short bright streaks."""
    size, k = img.shape[1], int(rain.sum())
    streak_rows = gen.integers(0, size, size=(k, 8))
    streak_cols = gen.integers(0, size, size=(k, 8))
    streaks = np.zeros((k, size + 4, size + 4), dtype=np.float32)
    for j in range(4):  # short diagonal streaks
        streaks[np.arange(k)[:, None], streak_rows + j, streak_cols + j // 2] = 0.2
    sub = img[rain]
    w = np.float32(0.2 * min(severity, 1.0))
    sub[:, :, 1:-1] = (1 - 2 * w) * sub[:, :, 1:-1] + w * (sub[:, :, :-2] + sub[:, :, 2:])
    sub += np.float32(min(severity, 1.5)) * streaks[:, :size, :size, None]
    img[rain] = sub


# ------------------------------------------------------------------------------------------
# LiDAR
# ------------------------------------------------------------------------------------------


def _lidar(gen: np.random.Generator, sc: dict[str, np.ndarray], n_points: int, severity: float,
           max_range: float) -> np.ndarray:
    """LiDAR point clouds ``(n, N, 3)`` float32: x forward, y left, z up (m), sensor 1.8 m high,
    pitched by a small random angle (vehicle pitch, road slope).

    Returns from the object where the beams hit it (:func:`_object_returns`; faded by fog,
    dropped by rain; at most ``N / 2``), clutter (fog back-scatter within 5 m, rain drops within
    20 m, at any height) and the ground rings of the downward beams (within 1.5 x the visibility
    in fog) filling the rest, in random order.
    """
    cond, vis, n = sc["cond"], sc["vis"], len(sc["cond"])
    f32 = np.float32
    fog, rain = cond == 2, cond == 3
    pitch = gen.normal(0.0, np.deg2rad(0.3), n)  # vehicle pitch and road slope
    obj_pts = np.zeros((n, n_points, 3))
    obj_pts[:, :n_points // 2], n_full = _object_returns(gen, sc, pitch, n_points // 2)
    keep = np.where(fog, np.exp(-2.0 * severity * sc["dist"] / vis),
                    np.where(rain, 1.0 - 0.4 * min(severity, 2.0), 1.0))
    n_obj = np.minimum(gen.binomial(n_full, np.clip(keep, 0, 1)), n_points // 2)
    n_clutter = np.where(fog, gen.integers(25, 50, n) * min(severity, 1.5),
                         np.where(rain, gen.integers(20, 40, n) * min(severity, 1.5), 0)
                         ).astype(np.int64)
    slot = np.arange(n_points)[None, :]
    is_obj = slot < n_obj[:, None]
    is_clutter = ~is_obj & (slot < (n_obj + n_clutter)[:, None])
    # ground: the downward beams hit the ground on rings; a ring per point, among those in range
    angle = _BEAMS[None, :] + pitch[:, None]  # (n, B)
    ring_r = np.where(angle < -1e-3, _LIDAR_HEIGHT / np.tan(-np.minimum(angle, -1e-3)), np.inf)
    far = np.where(fog, np.minimum(max_range, 1.5 * vis / max(severity, 1e-3)), max_range)
    valid = (ring_r > 3.0) & (ring_r < far[:, None])
    n_valid = np.maximum(valid.sum(1), 1)
    pick = (gen.random((n, n_points)) * n_valid[:, None]).astype(np.int64)
    order = np.argsort(~valid, axis=1, kind="stable")  # valid rings first
    rows = np.arange(n)[:, None]
    ring = np.take_along_axis(ring_r, order, axis=1)[rows, pick]
    ring = np.where(np.isfinite(ring), ring, 3.0)
    r = ring * (1.0 + 0.01 * gen.standard_normal((n, n_points)))
    az = (np.floor(gen.uniform(-_AZ_FOV, _AZ_FOV, (n, n_points)) / _AZ_STEP) + 0.5) * _AZ_STEP
    z = -_LIDAR_HEIGHT + 0.03 * gen.standard_normal((n, n_points))
    # clutter: fog back-scatter within 5 m, rain drops within 20 m, at any height
    c_r = np.exp(gen.random((n, n_points)) * np.log(np.where(fog, 5.0, 20.0))[:, None])
    c_r = np.maximum(c_r, 1.0)
    c_z = gen.random((n, n_points)) * 2.5 - 1.5
    r = np.where(is_clutter, c_r, r)
    z = np.where(is_clutter, c_z, z)
    pts = np.stack([np.where(is_obj, obj_pts[..., 0], r * np.cos(az)),
                    np.where(is_obj, obj_pts[..., 1], r * np.sin(az)),
                    np.where(is_obj, obj_pts[..., 2], z)], axis=-1).astype(f32)
    order = np.argsort(gen.random((n, n_points), dtype=f32), axis=1)  # unordered sets
    return pts[rows, order]


def _object_returns(gen: np.random.Generator, sc: dict[str, np.ndarray], pitch: np.ndarray,
                    m: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``m`` LiDAR returns on each object ``(n, m, 3)`` and the number of returns the full
    scan has on it ``(n,)`` (0 for no object).

    The object is a flat silhouette (:data:`_PARTS`) facing the sensor at its distance ``d``. A
    beam at elevation ``a`` hits it at height ``1.8 + d tan(a)`` (the beam levels); each level
    crossing a part gives one return per azimuth step (``d x 0.4 deg``) over the part's visible
    width, kept with probability ``fill x min(1, albedo / 0.5 x (reach / d)**2)`` (the range
    equation of :data:`_LIDAR_REACH`). The ``m`` candidate returns are drawn from the levels and
    parts in proportion to their expected counts, at azimuth-step positions.
    """
    obj, dist, lateral, side = sc["obj"], sc["dist"], sc["lateral"], sc["side"]
    n = len(obj)
    out = np.zeros((n, m, 3))
    n_full = np.zeros(n, dtype=np.int64)
    level = _LIDAR_HEIGHT + dist[:, None] * np.tan(_BEAMS[None, :] + pitch[:, None])  # (n, B)
    step = dist * _AZ_STEP  # m between azimuth steps at the object
    for (cls, v), parts in _PARTS.items():
        sel = np.flatnonzero((obj == cls) & (side == bool(v)))
        if not sel.size:
            continue
        p = np.array([q[:4] for q in parts])
        mats = np.array([q[4] for q in parts])
        albedo = np.where(mats[None, :] == 0, 0.2 + 0.6 * sc["rgb"][sel].mean(1)[:, None],
                          _NIR_ALBEDO[mats][None, :])  # (k, P)
        hit = _LIDAR_FILL[mats][None, :] * np.minimum(
            1.0, albedo / 0.5 * (_LIDAR_REACH / dist[sel, None]) ** 2)
        h, w = sc["height"][sel], sc["width"][sel]
        lv = level[sel]  # (k, B)
        y0, y1 = p[None, None, :, 2] * h[:, None, None], p[None, None, :, 3] * h[:, None, None]
        inside = (lv[..., None] >= y0) & (lv[..., None] < y1)  # (k, B, P)
        weight = inside * ((p[:, 1] - p[:, 0])[None, :] * hit)[:, None, :] * w[:, None, None]
        weight = _visible_widths(weight, inside, p)
        counts = weight / step[sel, None, None]  # expected returns per (level, part)
        total = counts.sum((1, 2))
        n_full[sel] = gen.poisson(total)
        cdf = np.cumsum(counts.reshape(len(sel), -1), axis=1)
        cdf /= np.maximum(cdf[:, -1:], 1e-9)
        u = gen.random((len(sel), m))
        flat = np.searchsorted((cdf + np.arange(len(sel))[:, None]).ravel(),
                               (u + np.arange(len(sel))[:, None]).ravel(), side="right")
        idx = np.minimum(flat.reshape(len(sel), m) - np.arange(len(sel))[:, None] * cdf.shape[1],
                         cdf.shape[1] - 1)
        b, part = idx // len(parts), idx % len(parts)
        xs = p[part, 0] + gen.random((len(sel), m)) * (p[part, 1] - p[part, 0])
        ys = -lateral[sel, None] - np.round(xs * w[:, None] / step[sel, None]) * step[sel, None]
        out[sel, :, 0] = dist[sel, None] + 0.03 * gen.standard_normal((len(sel), m))
        out[sel, :, 1] = ys
        out[sel, :, 2] = np.take_along_axis(lv, b, axis=1) - _LIDAR_HEIGHT
    return out, n_full


def _visible_widths(weight: np.ndarray, inside: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each part's width on each beam level, less the share that a later part (painted in front,
    as in the camera) covers there: ``weight`` and ``inside`` ``(k, B, P)``, parts ``p``
    ``(P, 4)``."""
    n_parts = p.shape[0]
    out = weight.copy()
    for a in range(n_parts):
        for b in range(a + 1, n_parts):
            ov = max(0.0, min(p[a, 1], p[b, 1]) - max(p[a, 0], p[b, 0]))
            if ov > 0:
                frac = ov / (p[a, 1] - p[a, 0])
                out[..., a] = np.where(inside[..., b], out[..., a] * (1 - frac), out[..., a])
    return np.maximum(out, 0.0)


# ------------------------------------------------------------------------------------------
# radar
# ------------------------------------------------------------------------------------------


def _radar(gen: np.random.Generator, sc: dict[str, np.ndarray], n_range: int, n_doppler: int,
           max_range: float, severity: float) -> np.ndarray:
    """Range-Doppler maps in dB ``(n, R, D)`` float32, with no angle axis: exponential (speckled)
    noise floor; zero-Doppler clutter of the ground and of up to four roadside reflectors (signs,
    poles, parked cars at the kerb: -12 to 11 dBsm, present with probability 0.5 each); the
    object's echo at its range and radial speed (radar equation: RCS / d**4 with a Swerling-1
    fluctuation) with micro-Doppler side bands 8 dB down (legs, pedals); rain raises the floor.
    Resolution: ``(max_range / R)`` m x ``(20 / D)`` m/s."""
    obj, dist, velocity, cond = sc["obj"], sc["dist"], sc["velocity"], sc["cond"]
    n, max_speed = len(obj), _MAX_SPEED
    r_bins = (np.arange(n_range) + 0.5) * max_range / n_range
    d_step = 2 * max_speed / n_doppler
    d_bins = (np.arange(n_doppler) + 0.5) * d_step - max_speed
    rng_sigma = 0.6 * max_range / n_range
    power = gen.exponential(1.0, (n, n_range, n_doppler))  # speckled noise floor
    zero = np.exp(-0.5 * (d_bins / (0.6 * d_step)) ** 2)  # the zero-Doppler response
    clutter = 10 ** (2.0 - 0.04 * r_bins)[None, :] * gen.exponential(1.0, (n, n_range))
    # roadside reflectors (signs, poles, parked cars at the kerb): no angle to tell them apart
    n_refl = 4
    refl_r = gen.uniform(3.0, max_range, (n, n_refl))
    refl_on = gen.random((n, n_refl)) < 0.5
    refl_snr = 10 ** ((gen.uniform(-12.0, 11.0, (n, n_refl)) + _RADAR_GAIN_DB
                       - 40.0 * np.log10(refl_r / 10.0)) / 10) * gen.exponential(1.0, (n, n_refl))
    prof = np.exp(-0.5 * ((r_bins[None, None, :] - refl_r[..., None]) / rng_sigma) ** 2)
    clutter += (refl_on[..., None] * refl_snr[..., None] * prof).sum(1)
    power += clutter[:, :, None] * zero[None, None, :]
    rain = cond == 3
    power[rain] *= 1.0 + 0.4 * min(severity, 1.5)  # rain clutter: the floor +1.5 dB
    rcs_db = _RCS_DB[obj, sc["side"].astype(np.int64)] + gen.normal(0, 2.0, n)
    snr = 10 ** ((rcs_db + _RADAR_GAIN_DB - 40.0 * np.log10(np.maximum(dist, 1.0) / 10.0)
                  - 0.5 * severity * rain) / 10) * gen.exponential(1.0, n)  # Swerling-1
    rprof = np.exp(-0.5 * ((r_bins[None, :] - dist[:, None]) / rng_sigma) ** 2)
    body = np.exp(-0.5 * ((d_bins[None, :] - velocity[:, None]) / (0.5 * d_step)) ** 2)
    md_spread = np.array([0.0, 0.05, 0.8, 0.6])[obj] * np.abs(velocity) + 0.5 * d_step
    micro = 0.15 * np.exp(-0.5 * ((d_bins[None, :] - velocity[:, None]) / md_spread[:, None]) ** 2)
    power += np.where(obj > 0, snr, 0.0)[:, None, None] * rprof[:, :, None] \
        * (body + micro)[:, None, :]
    return (10 * np.log10(power)).astype(np.float32)


def _count_object_points(lidar: np.ndarray, sc: dict[str, np.ndarray]) -> np.ndarray:
    """LiDAR returns from the object ``(n,)`` int32: points within 0.3 m of its range and its
    apparent width, above the ground."""
    obj, dist, lateral = sc["obj"], sc["dist"], sc["lateral"]
    half_w = sc["width"][:, None] / 2 + 0.15
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
        "label_undefined": {"distance": ("object", 0)},  # no object, no distance
        "heatmap_axes": {"radar": ("range (m)", "radial speed (m/s)")},
        "heatmap_extent": {"radar": (0.0, max_range, -_MAX_SPEED, _MAX_SPEED)},
        "knobs": knobs,
    }
