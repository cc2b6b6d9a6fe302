"""Tests of the ``watch`` dataset (:func:`mmlib.data.load_watch`): shapes, determinism,
arguments, the scene table, and the designed information structure — each event has a harmless
look-alike in each modality, so one modality alone cannot tell them apart and both together can;
the dark and noisy conditions take one modality away; the audio-video offset can be recovered by
aligning the audio loudness with the video's motion energy.

The adversarial probe suite (``tests/probes.py``, ``tests/test_probes.py``) checks the headline
numbers (fused vs best single modality, anomaly AUROC); these tests check the mechanisms, fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from datahash import digest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import align, data
from mmlib._common import KINDS, derive_seed
from mmlib.data.watch import WATCH_CONDITIONS, WATCH_SCENES

SCENE = {name: i for i, name in enumerate(WATCH_SCENES)}
CLEAR, DARK, NOISY = range(3)




@pytest.fixture(scope="module")
def small():
    return data.load_watch(n_samples=64, seed=3)


@pytest.fixture(scope="module")
def lookalikes():
    """Many look-alikes and events (clear condition), for the pair tests."""
    return data.load_watch(n_samples=2400, seed=5, event_probs=(0.64, 0.12, 0.12, 0.12),
                           lookalike_rate=1.0, condition_probs=(1.0, 0.0, 0.0))


@pytest.fixture(scope="module")
def shifted():
    """Default mix of scenes and conditions with audio-video offsets up to 0.3 s."""
    return data.load_watch(n_samples=1500, seed=7, max_offset=0.3)


# ------------------------------------------------------------------------------------------
# shapes, determinism, arguments
# ------------------------------------------------------------------------------------------


def test_shapes_dtypes_metadata_and_info(small):
    ds = small
    assert ds.name == "watch" and len(ds) == 64
    assert ds.modalities["video"].shape == (64, 8, 24, 24, 1)
    assert ds.modalities["audio"].shape == (64, 4000)
    assert all(a.dtype == np.float32 for a in ds.modalities.values())
    v = ds.modalities["video"]
    assert v.min() >= 0 and v.max() <= 1 and np.isfinite(ds.modalities["audio"]).all()
    assert list(ds.labels) == ["event", "anomaly"]
    assert ds.labels["event"].dtype == ds.labels["anomaly"].dtype == np.int32
    assert ds.kinds == {"video": "video", "audio": "audio"} == ds.info["kinds"]
    assert set(ds.kinds.values()) <= set(KINDS)
    assert ds.info["class_names"] == {"event": list(data.EVENTS),
                                      "anomaly": ["normal", "anomaly"]}
    assert ds.info["scenes"] == list(WATCH_SCENES)
    assert ds.info["conditions"] == list(WATCH_CONDITIONS)
    assert ds.info["sample_rate"] == 4000 and ds.info["fps"] == 8
    assert ds.info["knobs"]["lookalike_rate"] == 0.8
    meta = {k: (a.shape, a.dtype) for k, a in ds.metadata.items()}
    assert meta == {"scene": ((64,), np.int8), "condition": ((64,), np.int8),
                    "onset": ((64,), np.float32), "av_offset": ((64,), np.float32),
                    "n_people": ((64,), np.int8)}
    other = data.load_watch(n_samples=5, seed=0, n_frames=12, frame_size=32, sample_rate=8000)
    assert other.modalities["video"].shape == (5, 12, 32, 32, 1)
    assert other.modalities["audio"].shape == (5, 8000)


def test_same_seed_same_bytes_other_seed_differs():
    a = data.load_watch(n_samples=50, seed=11, max_offset=0.2)
    b = data.load_watch(n_samples=50, seed=11, max_offset=0.2)
    c = data.load_watch(n_samples=50, seed=12, max_offset=0.2)
    assert digest(a) == digest(b)
    for m in a.modalities:
        assert not np.array_equal(a.modalities[m], c.modalities[m]), m
    d = data.load_watch(n_samples=50, seed=11, max_offset=0.2, missing_rate=0.3)
    ref = a.drop_modalities(0.3, seed=derive_seed(11, "watch", "missing"))
    assert digest(d) == digest(ref) != digest(a)
    assert data.load("watch", n_samples=50, seed=11, max_offset=0.2).info == a.info


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n_samples": 0}, ValueError, r"n_samples must be an integer >= 1, got 0"),
    ({"event_probs": (0.5, 0.5)}, ValueError,
     r"event_probs must be 4 non-negative numbers \(for \['normal', 'intrusion', "
     r"'glass_break', 'fight'\]\) that sum to 1, got \(0.5, 0.5\)"),
    ({"event_probs": (0.5, 0.5, 0.5, -0.5)}, ValueError, r"event_probs must be 4 non-negative"),
    ({"event_probs": "abcd"}, ValueError, r"event_probs must be 4"),
    ({"condition_probs": (0.5, 0.6, 0.0)}, ValueError,
     r"condition_probs must be 3 non-negative numbers \(for \['clear', 'dark', 'noisy'\]\) "
     r"that sum to 1, got \(0.5, 0.6, 0.0\)"),
    ({"lookalike_rate": 1.5}, ValueError, r"lookalike_rate must be a number in \[0.0, 1.0\], "
                                          r"got 1.5"),
    ({"lookalike_rate": "high"}, TypeError, r"lookalike_rate must be a real number, got 'high'"),
    ({"max_offset": 0.8}, ValueError, r"max_offset must be a number in \[0.0, 0.5\], got 0.8"),
    ({"strength": -1.0}, ValueError, r"strength must be a number in \[0.0, 3.0\]"),
    ({"n_frames": 2}, ValueError, r"n_frames must be an integer in \[4, 64\], got 2"),
    ({"frame_size": 8}, ValueError, r"frame_size must be an integer in \[16, 96\], got 8"),
    ({"sample_rate": 1000}, ValueError, r"sample_rate must be an integer in \[2000, 16000\]"),
    ({"n_frames": 8.0}, TypeError, r"n_frames must be an integer, got 8.0 of type float"),
    ({"missing_rate": 1.0}, ValueError, r"missing_rate must be a number in \[0.0, 1.0\)"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_watch(**{"n_samples": 10, **kwargs})


# ------------------------------------------------------------------------------------------
# the scenes: classes, look-alikes, onsets, conditions
# ------------------------------------------------------------------------------------------


def test_scene_table_classes_onsets_and_knobs(shifted):
    ds = shifted
    ev, scene = ds.labels["event"], ds.metadata["scene"]
    # events are their own scene; normal clips are the quiet scene or one of six look-alikes
    assert np.array_equal(scene[ev > 0], ev[ev > 0])
    assert set(np.unique(scene[ev == 0])) == {0, 4, 5, 6, 7, 8, 9}
    np.testing.assert_array_equal(ds.labels["anomaly"], (ev > 0).astype(np.int32))
    onset = ds.metadata["onset"]
    assert np.array_equal(np.isnan(onset), scene == SCENE["quiet"])
    assert np.nanmin(onset) >= 0.2 and np.nanmax(onset) <= 0.6
    off = ds.metadata["av_offset"]
    assert np.abs(off).max() <= 0.3 and np.abs(off).max() > 0.25
    # default mix: 64 % normal, 80 % of which are look-alikes; 70 / 15 / 15 % conditions
    assert abs(np.mean(ev == 0) - 0.64) < 0.06
    assert abs(np.mean(scene[ev == 0] > 0) - 0.8) < 0.08
    cond = np.bincount(ds.metadata["condition"], minlength=3) / len(ds)
    np.testing.assert_allclose(cond, [0.7, 0.15, 0.15], atol=0.05)
    # knobs
    quiet = data.load_watch(n_samples=200, seed=1, lookalike_rate=0.0)
    assert set(np.unique(quiet.metadata["scene"][quiet.labels["event"] == 0])) == {0}
    dark = data.load_watch(n_samples=50, seed=1, condition_probs=(0, 1, 0))
    assert (dark.metadata["condition"] == DARK).all()
    only = data.load_watch(n_samples=50, seed=1, event_probs=(0, 0, 1, 0))
    assert (only.labels["event"] == 2).all()
    assert (data.load_watch(n_samples=20, seed=1).metadata["av_offset"] == 0).all()


def test_conditions_take_one_modality_away(shifted):
    ds = shifted
    cond = ds.metadata["condition"]
    video = ds.modalities["video"][..., 0]
    audio = ds.modalities["audio"]
    # dark: the room (the median pixel: wall and floor) is dim
    room = np.median(video.reshape(len(ds), -1), axis=1)
    assert room[cond == DARK].max() < 0.12 < 0.25 < room[cond != DARK].min()
    # noisy: the background noise (median short-time RMS) is about ten times louder
    frames = audio[:, :3968].reshape(len(ds), -1, 64)
    floor_rms = np.median(np.sqrt((frames ** 2).mean(2)), axis=1)
    assert np.percentile(floor_rms[cond == NOISY], 5) > 3 * np.percentile(
        floor_rms[cond != NOISY], 95)
    # noisy: the building works also shake the camera: consecutive frames are best aligned by
    # a one-pixel shift
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    a, b = video[:, :-1, 1:-1, 1:-1], video[:, 1:]
    err = np.stack([np.abs(b[:, :, 1 + dy:23 + dy, 1 + dx:23 + dx] - a).mean((2, 3))
                    for dy, dx in shifts])  # (9, n, T-1)
    moved = err.argmin(0) != shifts.index((0, 0))
    assert moved[cond == NOISY].mean() > 0.8 > 0.02 > moved[cond != NOISY].mean()


def test_happenings_show_at_their_time(shifted):
    ds = shifted
    ev, cond, scene = ds.labels["event"], ds.metadata["condition"], ds.metadata["scene"]
    onset, off = ds.metadata["onset"], ds.metadata["av_offset"]
    sr, fps = ds.info["sample_rate"], ds.info["fps"]
    # a glass break (clear): the loudest moment of the audio is the crash, at onset + offset
    glass = np.flatnonzero((ev == 2) & (cond == CLEAR))
    peak_t = np.abs(ds.modalities["audio"][glass]).argmax(axis=1) / sr
    assert np.median(np.abs(peak_t - (onset[glass] + off[glass]))) < 0.02
    # an entry (intrusion or staff): the door region brightens from the onset frame on
    video = ds.modalities["video"][..., 0]
    entry = np.flatnonzero(np.isin(scene, (SCENE["intrusion"], SCENE["staff_entry"]))
                           & (cond == CLEAR))
    frame = np.floor(onset[entry] * fps).astype(int)
    rows = np.arange(len(entry))
    rise = []
    for cols in (slice(2, 7), slice(17, 22)):  # the door is on the left or on the right
        door = video[entry, :, 5:13, cols].mean((2, 3))  # (clips, T)
        rise.append(door[rows, np.minimum(frame + 1, fps - 1)] - door[rows, frame - 1])
    assert np.mean(np.max(rise, axis=0) > 0.15) > 0.9
    # the quiet scene has neither
    quiet = scene == SCENE["quiet"]
    assert np.isnan(onset[quiet]).all()


# ------------------------------------------------------------------------------------------
# the designed weaknesses: each event has a look-alike in each modality
# ------------------------------------------------------------------------------------------


def simple_features(ds):
    """Per-modality features a learner would try first: pooled frames and motion of the video,
    band statistics of the log-mel spectrogram of the audio."""
    n = len(ds)
    v = ds.modalities["video"][..., 0]
    pooled = v.reshape(n, v.shape[1], 6, 4, 6, 4).mean((3, 5))  # (n, T, 6, 6)
    motion = np.abs(np.diff(v, axis=1))
    video = np.concatenate([pooled.reshape(n, -1), (pooled - pooled[:, :1]).reshape(n, -1),
                            motion.mean((2, 3)),
                            motion.reshape(n, -1, 6, 4, 6, 4).mean((3, 5)).max(1).reshape(n, -1)],
                           axis=1)
    lm = data.log_mel_spectrogram(ds.modalities["audio"], ds.info["sample_rate"],
                                  frame_length=128, frame_step=64, n_mels=24)
    audio = np.concatenate([lm.mean(1), lm.max(1), lm.std(1)], axis=1)
    return {"video": video, "audio": audio}


def pair_accuracy(x, y, seed=0):
    """Held-out accuracy of a logistic regression telling two scenes apart (balanced)."""
    gen = np.random.default_rng(seed)
    a, b = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    k = min(len(a), len(b))
    idx = gen.permutation(np.concatenate([gen.choice(a, k, replace=False),
                                          gen.choice(b, k, replace=False)]))
    cut = int(0.7 * len(idx))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    with threadpool_limits(1):
        model.fit(x[idx[:cut]], y[idx[:cut]])
        return float(np.mean(model.predict(x[idx[cut:]]) == y[idx[cut:]]))


PAIRS = [  # event, look-alike, the modality that cannot tell them apart
    ("intrusion", "staff_entry", "video"), ("intrusion", "corridor_slam", "audio"),
    ("glass_break", "lamp_off", "video"), ("glass_break", "bottle_drop", "audio"),
    ("fight", "moving_furniture", "video"), ("fight", "argument", "audio"),
]


@pytest.mark.parametrize(("event", "lookalike", "blind"), PAIRS)
def test_each_lookalike_fools_one_modality_only(lookalikes, event, lookalike, blind):
    ds = lookalikes
    scene = ds.metadata["scene"]
    keep = np.isin(scene, (SCENE[event], SCENE[lookalike]))
    feats = simple_features(ds.subset(np.flatnonzero(keep)))
    y = (scene[keep] == SCENE[event]).astype(int)
    other = "audio" if blind == "video" else "video"
    acc_blind = pair_accuracy(feats[blind], y)
    acc_other = pair_accuracy(feats[other], y)
    assert acc_blind < 0.65, (blind, acc_blind)  # chance is 0.5: the same distribution
    assert acc_other > 0.9, (other, acc_other)  # the other modality tells them apart


def test_fusion_beats_each_modality_with_simple_features():
    ds = data.load_watch(n_samples=2000, seed=0)
    feats = simple_features(ds)
    y = ds.labels["event"]
    train = np.arange(len(ds)) < 0.7 * len(ds)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))

    def score(x):
        with threadpool_limits(1):
            model.fit(x[train], y[train])
            return float(np.mean(model.predict(x[~train]) == y[~train]))

    acc = {m: score(x) for m, x in feats.items()}
    acc["fused"] = score(np.concatenate([feats["video"], feats["audio"]], axis=1))
    assert max(acc["video"], acc["audio"]) < 0.87, acc
    assert acc["fused"] > max(acc["video"], acc["audio"]) + 0.08, acc


# ------------------------------------------------------------------------------------------
# the audio-video offset can be recovered by alignment
# ------------------------------------------------------------------------------------------


def estimate_offsets(ds, max_lag=0.35, step=1 / 128):
    """Audio-video offset (s, positive = audio late) of every clip by cross-correlation.

    Both streams become change detectors (:func:`mmlib.align.estimate_av_offset`, tested against
    brute force in ``tests/test_align.py``): the video's motion energy between consecutive frames
    at the frame boundaries, the audio's onset strength (rise of the short-time RMS envelope);
    the lag with the largest dot product wins.
    """
    return align.estimate_av_offset(ds.modalities["video"], ds.modalities["audio"],
                                    ds.info["sample_rate"], ds.info["fps"], max_lag=max_lag,
                                    step=step)


def test_audio_video_offset_is_recoverable_by_alignment(shifted):
    ds = shifted
    ev, cond = ds.labels["event"], ds.metadata["condition"]
    err = np.abs(estimate_offsets(ds) - ds.metadata["av_offset"])
    within = err <= 1 / ds.info["fps"]  # within one video frame
    rates = {WATCH_CONDITIONS[c]: float(within[(ev > 0) & (cond == c)].mean()) for c in range(3)}
    print("offset within one frame: events", round(float(within[ev > 0].mean()), 3), rates)
    assert within[ev > 0].mean() >= 0.8, rates
    assert rates["clear"] >= 0.9, rates
    # without an offset the estimate is near zero for events too
    aligned = data.load_watch(n_samples=200, seed=8)
    est0 = estimate_offsets(aligned)
    assert np.mean(np.abs(est0[aligned.labels["event"] > 0]) <= 1 / 8) >= 0.8
