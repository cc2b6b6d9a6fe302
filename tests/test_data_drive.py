"""Tests of the ``drive`` dataset (:func:`mmlib.data.load_drive`): shapes, determinism,
arguments, the scene latents, and the physical weakness designed into each sensor — the camera
needs light and clear air; the LiDAR is sparse (and height-quantised) at range, attenuated and
fooled by fog and rain, and cannot tell a cyclist riding towards it from a pedestrian; the radar
measures range and radial speed well but has no angle, hides anything that does not move
radially in the zero-Doppler clutter, and cannot tell pedestrians from cyclists by echo power —
so that the sensors complement each other (a pedestrian vs an end-on cyclist: radar Doppler; a
parked car vs an empty road: LiDAR or camera).

The adversarial probe suite (``tests/probes.py``, ``tests/test_probes.py``) checks the headline
numbers (fused vs the best single sensor, overall and per condition); these tests check the
mechanisms, fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from datahash import digest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import data
from mmlib._common import KINDS
from mmlib.data.drive import CONDITIONS, OBJECTS

DAY, NIGHT, FOG, RAIN = range(4)
NONE, CAR, PED, CYC = range(4)
LIDAR_HEIGHT = 1.8




@pytest.fixture(scope="module")
def small():
    return data.load_drive(n_samples=64, seed=3)


@pytest.fixture(scope="module")
def day():
    """Day scenes only: the sensors at their best."""
    return data.load_drive(n_samples=1500, seed=5, conditions=("day",))


@pytest.fixture(scope="module")
def mixed():
    """The default mix of conditions."""
    return data.load_drive(n_samples=2000, seed=6)


def object_points(ds, i: int) -> np.ndarray:
    """LiDAR returns of scene ``i`` above the ground within 0.5 m of the object's range."""
    p = ds.modalities["lidar"][i]
    return p[(p[:, 2] > -LIDAR_HEIGHT + 0.2) & (np.abs(p[:, 0] - ds.labels["distance"][i]) < 0.5)]


def radar_axes(ds) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the radar's range bins (m) and Doppler bins (m/s)."""
    r0, r1, v0, v1 = ds.info["heatmap_extent"]["radar"]
    n_r, n_d = ds.modalities["radar"].shape[1:3]
    return (r0 + (np.arange(n_r) + 0.5) * (r1 - r0) / n_r,
            v0 + (np.arange(n_d) + 0.5) * (v1 - v0) / n_d)


def moving_peak(ds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strongest radar cell off the zero-Doppler columns (|v| > 1.3 m/s): its power (dB),
    range (m) and radial speed (m/s), per scene."""
    rad = ds.modalities["radar"][..., 0]
    r_bins, v_bins = radar_axes(ds)
    moving = np.where(np.abs(v_bins) > 1.3, rad, -np.inf).reshape(len(rad), -1)
    arg = moving.argmax(1)
    return moving.max(1), r_bins[arg // len(v_bins)], v_bins[arg % len(v_bins)]


def accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """5-fold cross-validated accuracy of a standardised logistic regression."""
    with threadpool_limits(1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        return float(cross_val_score(model, x, y, cv=5).mean())


# ------------------------------------------------------------------------------------------
# shapes, determinism, arguments, latents
# ------------------------------------------------------------------------------------------


def test_shapes_dtypes_info_and_metadata(small):
    n = len(small)
    assert {m: (a.shape, a.dtype) for m, a in small.modalities.items()} == {
        "camera": ((n, 40, 40, 3), np.float32), "lidar": ((n, 256, 3), np.float32),
        "radar": ((n, 32, 16, 1), np.float32)}
    cam = small.modalities["camera"]
    assert cam.min() >= 0 and cam.max() <= 1
    assert all(np.isfinite(a).all() for a in small.modalities.values())
    assert small.kinds == {"camera": "image", "lidar": "point_cloud", "radar": "heatmap"}
    assert set(small.kinds.values()) <= set(KINDS)
    assert small.info["class_names"] == {"object": list(OBJECTS)}
    assert small.info["conditions"] == list(CONDITIONS)
    assert small.info["heatmap_extent"]["radar"] == (0.0, 35.0, -10.0, 10.0)
    assert small.info["knobs"]["radar_shape"] == (32, 16)
    obj, dist = small.labels["object"], small.labels["distance"]
    assert obj.dtype == np.int32 and dist.dtype == np.float32
    assert np.all(dist[obj == 0] == 0) and np.all((dist[obj > 0] >= 5) & (dist[obj > 0] <= 30))
    m = small.metadata
    assert set(m) == {"condition", "visibility", "lateral", "velocity", "speed", "heading",
                      "side_view", "n_object_points"}
    assert m["condition"].dtype == np.int32 and m["n_object_points"].dtype == np.int32
    assert np.all(np.isinf(m["visibility"]) == (m["condition"] != FOG))
    assert np.all(np.isnan(m["heading"]) == (obj == 0)) and not m["side_view"][obj == 0].any()
    assert np.all(m["speed"][obj == 0] == 0) and np.all(m["n_object_points"][obj == 0] == 0)


def test_scene_latents_follow_the_design(mixed):
    obj, m = mixed.labels["object"], mixed.metadata
    speed, v, heading = m["speed"], m["velocity"], np.deg2rad(m["heading"])
    has = obj > 0
    np.testing.assert_allclose(v[has], speed[has] * np.cos(heading[has]), atol=1e-4)
    # parked cars, waiting pedestrians; cars up to 12 m/s; runners as fast as slow cyclists
    assert 0.2 < np.mean(speed[obj == CAR] == 0) < 0.4
    assert speed[obj == CAR].max() <= 12 and speed[obj == CYC][speed[obj == CYC] > 0].min() >= 2.5
    ped_moving = speed[(obj == PED) & (speed > 0)]
    assert ped_moving.max() <= 3.5 and np.mean(ped_moving > 2.5) > 0.03
    # crossing objects are seen side-on, and move (almost) across the line of sight
    side = m["side_view"]
    assert 0.1 < side[obj == PED].mean() < 0.6
    assert np.all(np.abs(np.cos(heading[side])) < 0.75)
    assert np.all(np.abs(m["lateral"]) <= 2.0)
    vis = m["visibility"][m["condition"] == FOG]
    assert vis.min() >= 15 and vis.max() <= 60


def test_same_seed_same_bytes_other_seed_and_knobs_differ():
    a = data.load_drive(n_samples=48, seed=11)
    assert digest(a) == digest(data.load_drive(n_samples=48, seed=11))
    c = data.load_drive(n_samples=48, seed=12)
    for m in a.modalities:
        assert not np.array_equal(a.modalities[m], c.modalities[m]), m
    d1 = data.load_drive(n_samples=48, seed=11, missing_rate=0.3)
    assert digest(d1) == digest(data.load_drive(n_samples=48, seed=11, missing_rate=0.3))
    assert digest(d1) != digest(a) and not all(mask.all() for mask in d1.masks.values())
    # the scenes do not depend on the sensors' knobs
    b = data.load_drive(n_samples=48, seed=11, image_size=32, n_points=128, radar_shape=(16, 8))
    np.testing.assert_array_equal(a.labels["object"], b.labels["object"])
    np.testing.assert_array_equal(a.metadata["velocity"], b.metadata["velocity"])
    assert {m: x.shape[1:] for m, x in b.modalities.items()} == {
        "camera": (32, 32, 3), "lidar": (128, 3), "radar": (16, 8, 1)}


def test_conditions_severity_and_max_distance_knobs():
    fog = data.load_drive(n_samples=40, seed=2, conditions=("fog", "night"))
    assert set(np.unique(fog.metadata["condition"]).tolist()) == {NIGHT, FOG}
    far = data.load_drive(n_samples=200, seed=2, max_distance=60.0)
    assert far.labels["distance"].max() > 40 and far.info["heatmap_extent"]["radar"][1] == 65.0
    # severity 0: night, fog and rain look like day to every sensor
    calm = data.load_drive(n_samples=800, seed=4, severity=0.0)
    c = calm.metadata["condition"]
    bright = calm.modalities["camera"].mean(axis=(1, 2, 3))
    floor = np.median(calm.modalities["radar"].reshape(len(calm), -1), axis=1)
    for k in (NIGHT, FOG, RAIN):
        assert abs(bright[c == k].mean() - bright[c == DAY].mean()) < 0.02, k
        assert abs(floor[c == k].mean() - floor[c == DAY].mean()) < 0.2, k
    pts = calm.modalities["lidar"]
    near = (np.linalg.norm(pts[..., :2], axis=2) < 5) & (pts[..., 2] > -1.5)
    assert near.sum(1).max() <= 5  # no fog back-scatter, no rain drops


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"conditions": ("day", "snow")}, ValueError,
     r"conditions must be one of \['day', 'night', 'fog', 'rain'\], got 'snow'"),
    ({"conditions": "fog"}, ValueError, r"conditions must be a non-empty list"),
    ({"conditions": ()}, ValueError, r"conditions must be a non-empty list"),
    ({"conditions": 3}, ValueError, r"conditions must be a non-empty list .* got 3"),
    ({"image_size": 16}, ValueError, r"image_size must be an integer in \[24, 128\], got 16"),
    ({"image_size": 40.0}, TypeError, r"image_size must be an integer, got 40.0"),
    ({"n_points": 8}, ValueError, r"n_points must be an integer in \[16, 4096\], got 8"),
    ({"radar_shape": (32,)}, ValueError, r"radar_shape must be \(range bins, Doppler bins\)"),
    ({"radar_shape": 32}, ValueError, r"radar_shape must be \(range bins, Doppler bins\)"),
    ({"radar_shape": (32, 2)}, ValueError, r"radar_shape\[1\] must be an integer in \[4, 256\]"),
    ({"max_distance": 5.0}, ValueError, r"max_distance must be a number in \[10.0, 60.0\]"),
    ({"severity": -1.0}, ValueError, r"severity must be a number in \[0.0, 3.0\], got -1.0"),
    ({"severity": "high"}, TypeError, r"severity must be a real number, got 'high'"),
    ({"missing_rate": 1.0}, ValueError, r"missing_rate must be a number in \[0.0, 1.0\)"),
    ({"n_samples": 0}, ValueError, r"n_samples must be an integer >= 1, got 0"),
    ({"seed": -1}, ValueError, r"seed must be an integer >= 0, got -1"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_drive(**{"n_samples": 4, **kwargs})


# ------------------------------------------------------------------------------------------
# LiDAR: precise range, sparse and quantised at distance, weather, the end-on cyclist
# ------------------------------------------------------------------------------------------


def test_lidar_measures_range_precisely_but_is_sparse_and_height_quantised_far(day):
    obj, dist = day.labels["object"], day.labels["distance"]
    errors = [np.median(object_points(day, i)[:, 0]) - dist[i]
              for i in np.flatnonzero(obj > 0) if len(object_points(day, i)) >= 3]
    assert len(errors) > 700 and np.median(np.abs(errors)) < 0.05
    n_obj = day.metadata["n_object_points"]
    assert n_obj[(obj > 0) & (dist < 10)].mean() > 10 * n_obj[(obj > 0) & (dist > 25)].mean()
    assert np.mean(n_obj[(obj > 0) & (dist > 25)] <= 3) > 0.5  # a handful of returns
    # beyond 22 m the object is crossed by at most three beams: its shape has no height detail
    far = np.flatnonzero((obj > 0) & (dist > 22))
    levels = [len(np.unique(np.round(object_points(day, i)[:, 2], 1))) for i in far]
    assert max(levels) <= 3
    near = np.flatnonzero((obj > 0) & (dist < 10))
    assert np.median([len(np.unique(np.round(object_points(day, i)[:, 2], 1)))
                      for i in near]) >= 5


def test_lidar_ignores_light_but_fog_and_rain_hurt_it(mixed):
    c, obj = mixed.metadata["condition"], mixed.labels["object"]
    n_obj = mixed.metadata["n_object_points"]
    per = {k: n_obj[(c == k) & (obj > 0)].mean() for k in range(4)}
    assert abs(per[NIGHT] / per[DAY] - 1) < 0.15  # an active sensor
    assert per[FOG] < 0.85 * per[DAY] and per[RAIN] < 0.85 * per[DAY]  # attenuation, drop-outs
    pts = mixed.modalities["lidar"]
    r = np.linalg.norm(pts[..., :2], axis=2)
    up = pts[..., 2] > -1.5
    backscatter = (up & (r < 5)).sum(1)
    assert backscatter[c == FOG].mean() > 20 > 2 > backscatter[(c == DAY) | (c == NIGHT)].mean()
    dist = mixed.labels["distance"]
    spurious = (up & (r < 20) & (np.abs(pts[..., 0] - dist[:, None]) > 0.5)).sum(1)
    assert spurious[c == RAIN].mean() > 8 > 1 > spurious[c == DAY].mean()  # rain drops


def test_lidar_sees_an_end_on_cyclist_like_a_pedestrian(day):
    obj, dist, side = day.labels["object"], day.labels["distance"], day.metadata["side_view"]

    def extent(sel):
        boxes = [object_points(day, i) for i in np.flatnonzero(sel & (dist < 15))]
        boxes = [p for p in boxes if len(p) >= 8]
        return (np.median([np.ptp(p[:, 1]) for p in boxes]),
                np.median([p[:, 2].max() + LIDAR_HEIGHT for p in boxes]))

    ped_w, ped_h = extent(obj == PED)
    end_w, end_h = extent((obj == CYC) & ~side)
    side_w, _ = extent((obj == CYC) & side)
    car_w, car_h = extent((obj == CAR) & ~side)
    assert abs(end_w - ped_w) < 0.25 and abs(end_h - ped_h) < 0.15  # same narrow, tall cluster
    assert side_w > ped_w + 0.7  # side-on, the bicycle's length shows
    assert car_w > ped_w + 1.0 and car_h < ped_h - 0.4  # a car: wide and low


# ------------------------------------------------------------------------------------------
# radar: range and radial speed, blind to what does not move radially, ambiguous classes
# ------------------------------------------------------------------------------------------


def test_radar_measures_range_and_radial_speed_of_moving_objects(day):
    obj, dist, v = day.labels["object"], day.labels["distance"], day.metadata["velocity"]
    _, peak_range, peak_speed = moving_peak(day)
    moving = (obj > 0) & (np.abs(v) >= 2.5)
    assert moving.sum() > 300
    assert np.median(np.abs(peak_range[moving] - dist[moving])) < 1.0
    assert np.median(np.abs(peak_speed[moving] - v[moving])) < 1.0


def test_radar_has_no_angle_so_a_parked_car_looks_like_roadside_clutter(day):
    obj, still = day.labels["object"], day.metadata["speed"] == 0
    rad = day.modalities["radar"][..., 0]
    _, v_bins = radar_axes(day)
    zero = rad[:, :, np.abs(v_bins) < 1.3]
    parked = (obj == CAR) & still
    sel = (obj == NONE) | parked
    # the strongest zero-Doppler cell: a parked car in the lane vs signs and poles at the kerb
    feats = np.column_stack([zero.max(axis=(1, 2)), zero.mean(axis=(1, 2)),
                             zero.max(axis=2).argmax(axis=1)])
    assert accuracy(feats[sel], parked[sel]) < 0.8
    # the LiDAR (or the camera) tells them apart at once
    n_obj = day.metadata["n_object_points"]
    assert np.mean((n_obj[sel] > 0) == parked[sel]) > 0.95
    assert roc_auc_score(parked[sel], zero.max(axis=(1, 2))[sel]) < 0.85


def test_radar_echo_power_does_not_separate_pedestrians_from_cyclists(day):
    obj, v, dist = day.labels["object"], day.metadata["velocity"], day.labels["distance"]
    power, peak_range, _ = moving_peak(day)
    rcs = power + 40 * np.log10(peak_range)  # range-compensated echo power
    moving = np.abs(v) >= 2.5
    pc = moving & np.isin(obj, [PED, CYC])
    assert abs(roc_auc_score(obj[pc] == CYC, rcs[pc]) - 0.5) < 0.15
    cp = moving & np.isin(obj, [CAR, PED])
    assert roc_auc_score(obj[cp] == CAR, rcs[cp]) > 0.7  # a car's echo is stronger, mostly
    assert np.median(np.abs(peak_range[moving & (obj > 0)] - dist[moving & (obj > 0)])) < 1.0


def test_pedestrian_vs_end_on_cyclist_needs_the_radar_and_a_shape_sensor(day):
    """Within 20 m by day, the LiDAR's cluster (returns, width, height) tells a pedestrian from a
    cyclist riding along the road only partly (a slight width difference when the bicycle is
    seen a little from the side); the radar's detected radial speed does better but not fully
    (walkers, runners and slow cyclists share Doppler bins; a standing or crossing pedestrian is
    not detected at all); the two together beat both."""
    obj, dist, side = day.labels["object"], day.labels["distance"], day.metadata["side_view"]
    idx = np.flatnonzero(((obj == PED) | ((obj == CYC) & ~side)) & (dist < 20))
    shape = []
    for i in idx:
        p = object_points(day, i)
        shape.append([len(p), np.ptp(p[:, 1]) if len(p) else 0.0,
                      p[:, 2].max() + LIDAR_HEIGHT if len(p) else 0.0, dist[i]])
    shape = np.array(shape)
    power, _, peak_speed = moving_peak(day)
    detected = np.where(power > 12.0, np.abs(peak_speed), 0.0)  # 12 dB: above the noise peaks
    doppler = np.column_stack([detected[idx], power[idx]])
    y = obj[idx] == CYC
    lidar_acc, radar_acc = accuracy(shape, y), accuracy(doppler, y)
    both_acc = accuracy(np.column_stack([shape, doppler]), y)
    assert lidar_acc < 0.83
    assert radar_acc > lidar_acc + 0.03
    assert both_acc > radar_acc + 0.02
    assert np.mean(day.metadata["speed"][obj == PED] < 1.3) > 0.3  # hidden in the clutter


def test_radar_ignores_light_and_fog_rain_raises_its_floor(mixed):
    c = mixed.metadata["condition"]
    floor = np.median(mixed.modalities["radar"].reshape(len(mixed), -1), axis=1)
    per = [floor[c == k].mean() for k in range(4)]
    assert max(per[:3]) - min(per[:3]) < 0.2
    assert 1.0 < per[RAIN] - per[DAY] < 2.0


# ------------------------------------------------------------------------------------------
# camera: light and fog
# ------------------------------------------------------------------------------------------


def test_camera_needs_light_and_clear_air(mixed):
    cam, c = mixed.modalities["camera"], mixed.metadata["condition"]
    obj, dist, m = mixed.labels["object"], mixed.labels["distance"], mixed.metadata
    bright = cam.mean(axis=(1, 2, 3))
    assert bright[c == NIGHT].mean() < 0.45 * bright[c == DAY].mean()
    grain = np.diff(cam[:, 32:], axis=2).std(axis=(1, 2, 3))  # pixel noise on the near road
    assert grain[c == NIGHT].mean() > 3 * grain[c == DAY].mean()
    assert cam.std(axis=(1, 2, 3))[c == FOG].mean() < 0.7 * cam.std(axis=(1, 2, 3))[c == DAY].mean()
    # contrast of the object's centre against its image row (pedestrians and cyclists, >= 8 m)
    size, f = cam.shape[1], 1.5 * cam.shape[1]
    sel = (obj >= PED) & (dist >= 8)
    col = np.clip((size / 2 + f * m["lateral"] / np.maximum(dist, 1)).astype(int), 0, size - 1)
    row = np.clip((0.42 * size + f * 0.5 / np.maximum(dist, 1)).astype(int), 0, size - 1)
    gray = cam.mean(-1)
    rows = gray[np.arange(len(gray)), row]
    contrast = np.abs(rows[np.arange(len(gray)), col] - np.median(rows, axis=1))
    day_far = contrast[sel & (c == DAY) & (dist > 22)].mean()
    assert contrast[sel & (c == NIGHT) & (dist > 22) & (obj == PED)].mean() < 0.7 * day_far
    rel = dist / m["visibility"]
    fog = sel & (c == FOG)
    assert contrast[fog & (rel > 0.6)].mean() < 0.35 * contrast[fog & (rel < 0.3)].mean()


def test_loader_is_fast_enough():
    """The default size loads in about a second on the course machine (a lenient bound here)."""
    import time

    t0 = time.process_time()
    data.load_drive(n_samples=1000, seed=1)
    assert time.process_time() - t0 < 2.0
