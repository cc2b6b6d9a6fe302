"""Tests of mmlib.robust against independent numpy/scipy references and brute force."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from mmlib import robust
from mmlib._common import KINDS
from mmlib._common import rng as seeded_rng

# --------------------------------------------------------------------------------------------
# sample inputs for every registered corruption
# --------------------------------------------------------------------------------------------


def _sample(kind: str, rng: np.random.Generator):
    if kind == "image":
        return rng.random((4, 12, 10, 3)).astype(np.float32)
    if kind == "audio":
        return (np.sin(np.linspace(0, 60, 400))[None, :] * rng.random((3, 1))).astype(np.float32)
    if kind == "text":
        ids = rng.integers(1, 50, size=(5, 12))
        ids[:, 8:] = 0  # right padding
        ids[0, 3:] = 0
        return ids.astype(np.int32)
    if kind == "spectrogram":
        return rng.normal(-4.0, 2.0, size=(4, 20, 16, 1)).astype(np.float32)  # log-mel like
    if kind == "tabular":
        return rng.normal(size=(20, 6))
    if kind == "vector":
        return rng.normal(5.0, 2.0, size=(10, 8)).astype(np.float32)
    if kind == "heatmap":
        return rng.normal(0.0, 10.0, size=(3, 16, 12)).astype(np.float32)  # e.g. dB
    if kind == "point_cloud":
        return rng.normal(size=(3, 64, 4)).astype(np.float32)
    if kind == "video":
        return rng.random((3, 10, 6, 6, 1)).astype(np.float32)
    raise AssertionError(kind)


ALL = [(kind, name) for kind, names in robust.CORRUPTIONS.items() for name in names]


def test_registry_is_keyed_by_the_shared_kinds():
    assert sorted(robust.CORRUPTIONS) == sorted(KINDS)
    assert list(robust.CORRUPTIONS) == list(KINDS)


def test_registry_covers_required_corruptions():
    required = {
        "image": {"gaussian_noise", "gaussian_blur", "occlusion", "brightness", "contrast"},
        "audio": {"additive_noise", "segment_dropout"},
        "spectrogram": {"time_mask", "frequency_mask", "gaussian_noise"},
        "text": {"typos", "word_drop"},
        "tabular": {"entry_drop", "noise"},
        "vector": {"entry_drop", "noise"},
        "point_cloud": {"point_drop", "jitter"},
        "heatmap": {"gaussian_noise", "occlusion"},
        "video": {"frame_drop"},
    }
    assert set(required) == set(KINDS)
    for kind, names in required.items():
        assert names | {"remove_modality"} <= set(robust.CORRUPTIONS[kind])
    # the same maths is the same function, registered under several kinds
    c = robust.CORRUPTIONS
    assert c["vector"]["noise"] is c["tabular"]["noise"] is robust.tabular_noise
    assert c["vector"]["entry_drop"] is robust.tabular_entry_drop
    assert c["heatmap"]["gaussian_noise"] is c["spectrogram"]["gaussian_noise"] \
        is robust.image_gaussian_noise
    assert c["heatmap"]["occlusion"] is robust.image_occlusion
    assert all(names["remove_modality"] is robust.remove_modality for names in c.values())
    assert robust.get_corruption("spectrogram", "time_mask") is robust.spectrogram_time_mask


def test_package_reexports_every_public_name_of_its_files():
    import importlib

    files = ["corruptions.image", "corruptions.audio", "corruptions.spectrogram",
             "corruptions.text", "corruptions.tabular", "corruptions.point_cloud",
             "corruptions.video", "corruptions.missing", "corruptions.registry", "sweep",
             "adversarial"]
    seen = []
    for name in files:
        module = importlib.import_module(f"mmlib.robust.{name}")
        for public in module.__all__:
            assert getattr(robust, public) is getattr(module, public), (name, public)
            seen.append(public)
    assert sorted(seen) == sorted(robust.__all__)


def test_severity_zero_is_bitwise_identity_and_shape_dtype_kept():
    for kind, name in ALL:  # one test item for all corruptions keeps the suite fast
        x = _sample(kind, np.random.default_rng(1))
        x_before = x.copy()
        y0 = robust.corrupt(kind, name, x, 0.0, seed=3)
        assert y0.dtype == x.dtype and y0.shape == x.shape, (kind, name)
        assert y0.tobytes() == x.tobytes(), (kind, name)
        y = robust.corrupt(kind, name, x, 0.6, seed=3)
        assert y.dtype == x.dtype and y.shape == x.shape, (kind, name)
        assert not np.array_equal(y, x, equal_nan=True), (kind, name)  # 0.6 really corrupts
        assert x.tobytes() == x_before.tobytes(), (kind, name)  # input never modified


def test_corruptions_are_seeded():
    for kind, name in ALL:
        x = _sample(kind, np.random.default_rng(2))
        a = robust.corrupt(kind, name, x, 0.5, seed=11)
        b = robust.corrupt(kind, name, x, 0.5, seed=11)
        c = robust.corrupt(kind, name, x, 0.5, seed=12)
        assert np.array_equal(a, b, equal_nan=True), (kind, name)
        if (kind, name) in robust.DETERMINISTIC_CORRUPTIONS:
            assert np.array_equal(a, c, equal_nan=True), (kind, name)
        else:
            assert not np.array_equal(a, c, equal_nan=True), (kind, name)


def test_severity_outside_unit_interval_raises():
    x = _sample("image", np.random.default_rng(0))
    for severity in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"severity must be a number in \[0.0, 1.0\]"):
            robust.corrupt("image", "gaussian_noise", x, severity)
        with pytest.raises(ValueError, match="severity"):
            robust.text_word_drop(_sample("text", np.random.default_rng(0)), severity)


def test_unknown_kind_or_corruption_lists_allowed_values():
    x = _sample("image", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"kind must be one of \['image', 'audio', "
                                         r"'spectrogram', .*got 'picture'"):
        robust.corrupt("picture", "gaussian_noise", x, 0.3)
    with pytest.raises(ValueError, match=r"kind must be one of .*'point_cloud'.*got 'points'"):
        robust.corrupt("points", "jitter", x, 0.3)
    with pytest.raises(ValueError, match=r"corruption must be one of .*'occlusion'.*got 'fog'"):
        robust.corrupt("image", "fog", x, 0.3)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"x must be an image batch .* got an array of shape"):
        robust.image_gaussian_noise(np.zeros((4, 5)), 0.5)
    with pytest.raises(ValueError, match="x must be integer token ids"):
        robust.text_typos(np.zeros((2, 3), dtype=np.float32), 0.5)
    with pytest.raises(ValueError, match="fill must be an integer"):
        robust.tabular_entry_drop(np.ones((3, 2), dtype=np.int64), 0.5)
    img = _sample("image", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"value_range must be a pair \(low, high\).*got 1\."):
        robust.image_gaussian_noise(img, 0.5, value_range=1)
    with pytest.raises(ValueError, match=r"snr_db_range must be a pair \(snr_max, snr_min\)"):
        robust.audio_additive_noise(np.ones((2, 50)), 0.5, snr_db_range=(0.0, 10.0))
    with pytest.raises(TypeError, match="fill must be a number, got 'x' of type str"):
        robust.image_occlusion(img, 0.5, fill="x")
    with pytest.raises(ValueError, match=r"scale must be a number >= 0 or an array of shape "
                                         r"\(2,\)"):
        robust.tabular_noise(np.ones((3, 2)), 0.5, scale=np.ones(3))
    with pytest.raises(ValueError, match="scale must be a number >= 0"):
        robust.tabular_noise(np.ones((3, 2)), 0.5, scale=-1.0)
    with pytest.raises(ValueError, match="at least 2 points per cloud"):
        robust.point_drop(np.ones((2, 1, 3)), 0.5)
    with pytest.raises(ValueError, match=r"token ids must be >= 0, got ids in \[-1, 3\]"):
        robust.text_typos(np.array([[1, 2, 3], [-1, 0, 0]]), 0.5)
    with pytest.raises(TypeError, match="fill must be a string for a batch of texts"):
        robust.remove_modality(["a b", "c"], 0.5, fill=0)


# --------------------------------------------------------------------------------------------
# each corruption against an independent reference
# --------------------------------------------------------------------------------------------


def test_image_gaussian_noise_std_matches_severity():
    x = np.full((8, 32, 32, 3), 0.5, dtype=np.float64)
    y = robust.image_gaussian_noise(x, 0.3, seed=0, value_range=(0.0, 1.0), clip=False)
    resid = y - x
    assert abs(resid.std() - 0.3) < 0.01 and abs(resid.mean()) < 0.01
    y_clipped = robust.image_gaussian_noise(x, 0.9, seed=0)
    assert y_clipped.min() >= 0.0 and y_clipped.max() <= 1.0


def _gauss_blur_reference(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur written out in numpy: kernel truncated at 4 sigma, edge padding."""
    radius = int(4.0 * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    out = img.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        for j, w in enumerate(k):
            acc += w * np.take(padded, np.arange(j, j + out.shape[axis]), axis=axis)
        out = acc
    return out


def test_image_gaussian_blur_matches_numpy_convolution():
    rng = np.random.default_rng(0)
    x = rng.random((2, 16, 24, 3))
    severity = 0.5
    y = robust.image_gaussian_blur(x, severity)
    sigma = severity * 16 / 8
    for i in range(2):
        np.testing.assert_allclose(y[i], _gauss_blur_reference(x[i], sigma), atol=1e-12)


def test_image_occlusion_is_one_filled_rectangle_of_the_right_area():
    rng = np.random.default_rng(0)
    x = (0.1 + 0.9 * rng.random((5, 20, 20, 1))).astype(np.float32)  # in [0, 1], none is 0
    y = robust.image_occlusion(x, 0.25, seed=4)
    for i in range(5):
        changed = np.any(y[i] != x[i], axis=-1)
        rows, cols = np.nonzero(changed)
        assert changed.sum() == 10 * 10  # sqrt(0.25) * 20 = 10 pixels a side
        assert rows.max() - rows.min() == 9 and cols.max() - cols.min() == 9
        assert np.all(y[i][changed] == 0.0)
    full = robust.image_occlusion(x, 1.0, seed=4)
    assert np.all(full == 0.0)


def test_image_brightness_and_contrast_reference_formulas():
    rng = np.random.default_rng(0)
    x = rng.random((3, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(robust.image_brightness(x, 0.3), np.clip(x + 0.3, 0, 1),
                               rtol=1e-6)
    x8 = (x * 255).astype(np.uint8)
    np.testing.assert_array_equal(robust.image_brightness(x8, 0.2),
                                  np.clip(np.rint(x8 + 0.2 * 255.0), 0, 255).astype(np.uint8))
    c = robust.image_contrast(x, 0.4).astype(np.float64)
    m = x.reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(c.reshape(3, -1).mean(axis=1), m, rtol=1e-5)
    np.testing.assert_allclose(c.reshape(3, -1).std(axis=1),
                               0.6 * x.reshape(3, -1).astype(np.float64).std(axis=1), rtol=1e-5)
    flat = robust.image_contrast(x, 1.0)
    assert np.allclose(flat.reshape(3, -1).std(axis=1), 0.0, atol=1e-6)


def test_audio_additive_noise_hits_the_documented_snr():
    assert robust.snr_db_for_severity(0.0) == 40.0
    assert robust.snr_db_for_severity(1.0) == -10.0
    assert robust.snr_db_for_severity(0.5) == pytest.approx(15.0)
    t = np.arange(16000) / 16000.0
    x = np.stack([np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 200 * t)])
    snrs = []
    for s in (0.2, 0.5, 0.9):
        y = robust.audio_additive_noise(x, s, seed=1)
        noise = y - x
        measured = 10 * np.log10(np.mean(x ** 2, axis=1) / np.mean(noise ** 2, axis=1))
        expected = 40.0 - s * 50.0
        np.testing.assert_allclose(measured, expected, atol=0.2)
        snrs.append(measured.mean())
    assert snrs[0] > snrs[1] > snrs[2]  # SNR falls as severity rises


def test_audio_segment_dropout_zeroes_whole_segments():
    x = np.ones((4, 200), dtype=np.float32)
    y = robust.audio_segment_dropout(x, 0.3, seed=0, n_segments=10)
    segs = y.reshape(4, 10, 20)
    for i in range(4):
        zero_segs = np.all(segs[i] == 0, axis=1)
        one_segs = np.all(segs[i] == 1, axis=1)
        assert zero_segs.sum() == 3 and one_segs.sum() == 7


def test_text_typos_token_ids_respect_padding_and_vocab():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(200, 20))
    x[:, 15:] = 0
    y = robust.text_typos(x, 0.4, seed=0, vocab_size=30)
    pad = x == 0
    assert np.all(y[pad] == 0)  # padding untouched
    changed = y != x
    assert np.all(y[changed] != 0) and y.max() < 30 and y.min() >= 0
    frac = changed[~pad].mean()
    assert abs(frac - 0.4) < 0.03  # each real token substituted with probability 0.4


def test_text_typos_on_strings_edit_characters():
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    same = robust.text_typos(texts, 0.0)
    assert same == texts and isinstance(same, list)
    y = robust.text_typos(texts, 0.3, seed=1)
    assert isinstance(y, list) and len(y) == 2 and y != texts
    arr = np.array(texts, dtype=object)
    ya = robust.text_typos(arr, 0.3, seed=1)
    assert ya.dtype == object and ya.shape == (2,) and list(ya) == y
    # only letters are edited: digits, spaces and punctuation survive even at severity 1
    assert robust.text_typos(["12 + 34 = 46 !?", "..."], 1.0, seed=0) == ["12 + 34 = 46 !?", "..."]


def test_text_word_drop_keeps_order_and_pads_at_the_end():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 100, size=(50, 16))
    lengths = rng.integers(3, 17, size=50)
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    y = robust.text_word_drop(x, 0.5, seed=0)
    kept_total = 0
    for i, n in enumerate(lengths):
        row = y[i]
        k = int(np.count_nonzero(row))
        assert np.all(row[:k] != 0) and np.all(row[k:] == 0)  # right padded
        it = iter(x[i, :n])
        assert all(tok in it for tok in row[:k])  # an in-order subsequence of the original
        kept_total += k
    assert abs(kept_total / lengths.sum() - 0.5) < 0.08
    assert np.all(robust.text_word_drop(x, 1.0) == 0)
    words = robust.text_word_drop(["a b c d e f g h"], 0.5, seed=2)[0].split()
    it = iter("a b c d e f g h".split())
    assert all(w in it for w in words) and 0 < len(words) < 8


def test_tabular_entry_drop_and_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)) * np.array([1.0, 2.0, 5.0, 0.1, 10.0])
    y = robust.tabular_entry_drop(x, 0.3, seed=0)
    dropped = np.isnan(y)
    assert abs(dropped.mean() - 0.3) < 0.03
    assert np.array_equal(y[~dropped], x[~dropped])
    assert np.all(robust.tabular_entry_drop(x, 0.3, seed=0, fill=-1.0)[dropped] == -1.0)
    z = robust.tabular_noise(x, 0.5, seed=0)
    np.testing.assert_allclose((z - x).std(axis=0), 0.5 * x.std(axis=0), rtol=0.1)
    # the default scale ignores missing entries; a column that is all NaN stays NaN, no error
    holes = y.copy()
    holes[:, 1] = np.nan
    zh = robust.tabular_noise(holes, 0.5, seed=0)
    assert np.isnan(zh[:, 1]).all() and np.array_equal(np.isnan(zh), np.isnan(holes))
    keep = ~np.isnan(holes[:, 2])
    np.testing.assert_allclose((zh - holes)[keep, 2].std(), 0.5 * holes[keep, 2].std(), rtol=0.1)


def test_point_drop_duplicates_kept_points_and_zero_mode():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 50, 3))
    y = robust.point_drop(x, 0.4, seed=0)
    for i in range(3):
        # every output point is an original point; exactly 30 originals survive in place
        matches = (y[i][:, None, :] == x[i][None, :, :]).all(axis=2)
        assert matches.any(axis=1).all()
        in_place = (y[i] == x[i]).all(axis=1)
        assert in_place.sum() >= 30
        assert len({int(np.argmax(r)) for r in matches}) == 30
    z = robust.point_drop(x, 0.4, seed=0, mode="zero")
    assert np.all((z == 0).all(axis=2).sum(axis=1) == 20)
    one_left = robust.point_drop(x, 1.0, seed=0)
    assert all(len(np.unique(one_left[i], axis=0)) == 1 for i in range(3))


def test_point_jitter_scale_and_extra_features_untouched():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(2, 5000, 3)) * 3.0, rng.random((2, 5000, 2))], axis=2)
    y = robust.point_jitter(x, 0.5, seed=0)
    assert np.array_equal(y[:, :, 3:], x[:, :, 3:])
    centred = x[:, :, :3] - x[:, :, :3].mean(axis=1, keepdims=True)
    r_rms = np.sqrt((centred ** 2).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose((y - x)[:, :, :3].std(axis=(1, 2)), 0.5 * 0.1 * r_rms, rtol=0.03)


def test_video_frame_drop_repeats_previous_kept_frame():
    T = 12
    x = np.broadcast_to(np.arange(1, T + 1, dtype=np.float32)[None, :, None, None],
                        (4, T, 3, 3)).copy()  # frame t is filled with t+1
    y = robust.video_frame_drop(x, 0.5, seed=0)
    for i in range(4):
        ids = y[i, :, 0, 0]
        same = ids == np.arange(1, T + 1)
        assert same.sum() == T - 6
        for t in np.flatnonzero(~same):  # the last kept frame before t, else the first after
            kept = np.flatnonzero(same)
            before = kept[kept < t]
            assert ids[t] == (before[-1] + 1 if before.size else kept[0] + 1)
    assert np.all(robust.video_frame_drop(x, 1.0) == 0)
    z = robust.video_frame_drop(x, 0.5, seed=0, mode="zero")
    assert np.all((z[:, :, 0, 0] == 0).sum(axis=1) == 6)


def test_remove_modality_mask_and_fraction():
    x = np.arange(1, 41, dtype=np.float32).reshape(10, 4)
    y, mask = robust.remove_modality(x, 0.3, seed=0, return_mask=True)
    assert mask.dtype == bool and (~mask).sum() == 3
    assert np.all(y[~mask] == 0) and np.array_equal(y[mask], x[mask])
    assert np.all(robust.remove_modality(x) == 0)  # default severity 1: removed everywhere


def _bands(changed: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], changed.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_spectrogram_time_mask_fills_one_band_of_frames_with_the_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(-4.0, 2.0, size=(6, 40, 16)).astype(np.float32)
    y = robust.spectrogram_time_mask(x, 0.25, seed=1)
    starts = set()
    for i in range(6):
        frames = np.any(y[i] != x[i], axis=1)
        (start, stop), = _bands(frames)  # one band of round(0.25 * 40) frames
        assert stop - start == 10
        mean = np.float32(x[i].astype(np.float64).mean())  # SpecAugment: the mean value
        assert np.all(y[i][frames] == mean) and np.array_equal(y[i][~frames], x[i][~frames])
        starts.add(start)
    assert len(starts) > 1  # positions are random per spectrogram
    # two bands of 10 frames each (they may overlap): between 10 and 20 frames hidden
    two = robust.spectrogram_time_mask(x, 0.5, seed=1, n_masks=2, fill=0.0)
    hidden = np.all(two == 0.0, axis=2).sum(axis=1)
    assert np.all((hidden >= 10) & (hidden <= 20))
    assert np.all(robust.spectrogram_time_mask(x, 1.0, fill=-20.0) == -20.0)


def test_spectrogram_frequency_mask_hides_the_same_bins_in_every_frame():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 20, 32, 1)).astype(np.float32)
    y = robust.spectrogram_frequency_mask(x, 0.25, seed=2, fill=-5.0)
    for i in range(5):
        bins = np.any(y[i, :, :, 0] != x[i, :, :, 0], axis=0)
        (start, stop), = _bands(bins)
        assert stop - start == 8  # round(0.25 * 32)
        assert np.all(y[i, :, start:stop] == -5.0)
        assert np.array_equal(y[i, :, ~bins], x[i, :, ~bins])


def test_spectrogram_and_heatmap_bad_arguments():
    spec = _sample("spectrogram", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x must be a spectrogram batch of shape \(batch, "
                                         r"frames, bins\).*got an array of shape \(4, 20\)"):
        robust.spectrogram_time_mask(spec[:, :, 0, 0], 0.5)
    with pytest.raises(ValueError, match="n_masks must be an integer >= 1, got 0"):
        robust.spectrogram_frequency_mask(spec, 0.5, n_masks=0)
    with pytest.raises(TypeError, match="fill must be a number, got 'mean'"):
        robust.spectrogram_time_mask(spec, 0.5, fill="mean")
    with pytest.raises(ValueError, match="fill must be an integer for an integer spectrogram"):
        robust.spectrogram_time_mask(np.ones((2, 4, 4), dtype=np.int16), 0.5, fill=0.5)
    with pytest.raises(ValueError, match="severity must be a number in"):
        robust.corrupt("spectrogram", "frequency_mask", spec, 2.0)
    with pytest.raises(ValueError, match=r"x must be an image batch .*heatmaps.*shape \(8, 8\)"):
        robust.corrupt("heatmap", "occlusion", np.zeros((8, 8)), 0.5)
    with pytest.raises(ValueError, match=r"x must be a table or feature-vector batch"):
        robust.corrupt("vector", "noise", np.zeros((4, 3, 2)), 0.5)


def test_heatmap_corruptions_keep_the_channel_axis_and_value_range():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 10.0, size=(4, 16, 8, 1)).astype(np.float32)
    lo, hi = x.min(), x.max()
    y = robust.corrupt("heatmap", "gaussian_noise", x, 0.3, seed=0)
    assert y.shape == x.shape and y.dtype == x.dtype and y.min() >= lo and y.max() <= hi
    z = robust.corrupt("heatmap", "occlusion", x, 0.25, seed=0)
    assert np.all((z != x).sum(axis=(1, 2, 3)) == 8 * 4) and np.all(z[z != x] == lo)


# --------------------------------------------------------------------------------------------
# every corruption on every modality of every course dataset
# --------------------------------------------------------------------------------------------


def test_every_corruption_runs_on_every_course_dataset_modality():
    from mmlib import data

    cases = [(name, {}) for name in data.DATASETS]
    cases.append(("av_digits", {"audio_features": "log_mel"}))  # the spectrogram kind
    problems, seen_kinds = [], set()
    for name, kwargs in cases:
        ds = data.load(name, n_samples=64, **kwargs)
        for m, x in ds.modalities.items():
            kind = ds.kinds[m]
            seen_kinds.add(kind)
            assert kind in robust.CORRUPTIONS, (
                f"{name}.{m} has kind {kind!r}, not one of mmlib._common.KINDS {KINDS}")
            for corruption in robust.CORRUPTIONS[kind]:
                y = robust.corrupt(kind, corruption, x, 0.5, seed=0)
                if y.shape != x.shape or y.dtype != x.dtype:
                    problems.append((name, m, corruption, "shape/dtype", y.shape, y.dtype))
                elif np.array_equal(y, x, equal_nan=True):
                    problems.append((name, m, corruption, "no change at severity 0.5"))
    assert not problems, problems
    assert {"image", "audio", "spectrogram", "text", "tabular", "vector", "point_cloud",
            "heatmap", "video"} <= seen_kinds


# --------------------------------------------------------------------------------------------
# the sweep: only the named modality, only the selected samples
# --------------------------------------------------------------------------------------------


class _RecordingModel:
    """Predicts class = (sum of a > 0) and records every input batch it sees."""

    def __init__(self):
        self.calls = []

    def predict(self, inputs, batch_size=None, verbose=0):
        self.calls.append({k: np.array(v, copy=True) for k, v in inputs.items()})
        score = inputs["a"].reshape(len(inputs["a"]), -1).sum(axis=1)
        p1 = 1.0 / (1.0 + np.exp(-score))
        return np.stack([1 - p1, p1], axis=1)


def _toy_inputs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = ((2 * y - 1)[:, None] * 0.5 + rng.normal(size=(n, 8)) * 0.3).astype(np.float32)
    b = rng.random((n, 6, 6, 1)).astype(np.float32)
    return {"a": a, "b": b}, y


def test_sweep_corrupts_only_the_named_modality_and_selected_samples():
    inputs, y = _toy_inputs()
    originals = {k: v.copy() for k, v in inputs.items()}
    model = _RecordingModel()
    df = robust.robustness_sweep(model, inputs, y,
                                 [("a", "tabular", "noise"), ("b", "image", "occlusion")],
                                 severities=[0.0, 0.5, 1.0], fraction=0.25, seed=3)
    assert list(df.columns) == ["modality", "kind", "corruption", "severity", "metric", "value",
                                "n_corrupted"]
    assert len(df) == 6 and len(model.calls) == 6
    expected_sel = np.sort(seeded_rng(3, "samples").choice(60, size=15, replace=False))
    for row, seen in zip(df.itertuples(), model.calls, strict=True):
        other = "b" if row.modality == "a" else "a"
        assert seen[other].tobytes() == originals[other].tobytes()
        diff = np.any((seen[row.modality] != originals[row.modality]).reshape(60, -1), axis=1)
        unselected = np.setdiff1d(np.arange(60), expected_sel)
        assert seen[row.modality][unselected].tobytes() == \
            originals[row.modality][unselected].tobytes()
        if row.severity == 0.0:
            assert not diff.any()
        else:
            assert set(np.flatnonzero(diff)) <= set(expected_sel) and diff.sum() >= 12
        # the value is the accuracy of what the model saw, recomputed here
        score = seen["a"].sum(axis=1)
        assert row.value == pytest.approx(np.mean((score > 0).astype(int) == y))
    for k in inputs:  # the caller's arrays are never modified
        assert inputs[k].tobytes() == originals[k].tobytes()


def test_sweep_on_strings_corrupts_exactly_the_selected_texts():
    inputs, y = _toy_inputs(n=20)
    texts = np.array([f"sample number {i} says hello" for i in range(20)])  # fixed-width '<U'
    inputs["t"] = texts
    model = _RecordingModel()
    robust.robustness_sweep(model, inputs, y, [("t", "text", "typos")], severities=[0.5],
                            fraction=0.5, seed=7)
    seen = model.calls[0]["t"]
    sel = np.sort(seeded_rng(7, "samples").choice(20, size=10, replace=False))
    expected = texts.astype(object)
    expected[sel] = robust.text_typos(texts[sel], 0.5, seed=7)  # the subset, corrupted directly
    assert list(seen) == list(expected)  # no truncation, unselected texts unchanged
    assert sum(a != b for a, b in zip(seen, texts, strict=True)) >= 8


def test_sweep_full_fraction_corrupts_all_samples_and_accuracy_falls():
    inputs, y = _toy_inputs(n=200)
    df = robust.robustness_sweep(_RecordingModel(), inputs, y, [("a", "tabular", "noise",
                                                                 {"scale": 3.0})])
    assert np.allclose(df["severity"], np.linspace(0, 1, 11))
    assert df["value"].iloc[0] > 0.95 and df["value"].iloc[-1] < 0.85
    assert (df["n_corrupted"].iloc[1:] == 200).all()


def test_sweep_with_keras_model_and_mask_input():
    keras.utils.set_random_seed(0)
    inputs, y = _toy_inputs(n=80)
    inputs = {"a": inputs["a"], "m": np.ones((80, 1), dtype=np.float32)}
    ia = keras.Input((8,), name="a")
    im = keras.Input((1,), name="m")
    # bias (0, 1): a zeroed but unmasked sample is predicted class 1; a masked one gets the
    # uniform output and class 0 -- so the two results tell whether the mask was written
    h = keras.layers.Dense(2, bias_initializer=keras.initializers.Constant([0.0, 1.0]))(ia)
    out = keras.layers.Softmax()(keras.layers.Multiply()([h, im]))
    model = keras.Model({"a": ia, "m": im}, out)
    spec = [("a", "tabular", "remove_modality")]
    df = robust.robustness_sweep(model, inputs, y, spec, severities=[0.0, 1.0],
                                 mask_inputs={"a": ("m", 0)})
    clean = np.mean(model.predict(inputs, verbose=0).argmax(1) == y)
    assert df["value"].iloc[0] == pytest.approx(clean)
    # all removed and masked: the outputs are uniform, argmax = class 0
    assert df["value"].iloc[1] == pytest.approx(np.mean(y == 0))
    unmasked = robust.robustness_sweep(model, inputs, y, spec, severities=[1.0])
    assert unmasked["value"].iloc[0] == pytest.approx(np.mean(y == 1))
    assert list(df["n_corrupted"]) == [0, 80] and np.mean(y == 0) != np.mean(y == 1)


def test_sweep_remove_modality_writes_the_mask_of_exactly_the_removed_samples():
    inputs, y = _toy_inputs(n=40)
    inputs["mask"] = np.ones((40, 2), dtype=np.float32)
    model = _RecordingModel()
    df = robust.robustness_sweep(model, inputs, y, [("b", "image", "remove_modality")],
                                 severities=[0.5], fraction=0.5, seed=1,
                                 mask_inputs={"b": ("mask", 1)})
    seen = model.calls[0]
    removed = np.all(seen["b"].reshape(40, -1) == 0, axis=1)
    assert removed.sum() == 10 and df["n_corrupted"].iloc[0] == 10  # half of the 20 selected
    np.testing.assert_array_equal(seen["mask"][:, 1], (~removed).astype(np.float32))
    np.testing.assert_array_equal(seen["mask"][:, 0], 1.0)  # the other column is untouched
    np.testing.assert_array_equal(seen["b"][~removed], inputs["b"][~removed])
    assert inputs["mask"].min() == 1.0  # the caller's mask is not modified


def test_sweep_bad_arguments():
    inputs, y = _toy_inputs()
    with pytest.raises(ValueError, match="modality_key must be one of"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, [("c", "image", "occlusion")])
    with pytest.raises(ValueError, match="labels must hold 60 samples"):
        robust.robustness_sweep(_RecordingModel(), inputs, y[:10], [("a", "tabular", "noise")])
    with pytest.raises(ValueError, match="fraction"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, [("a", "tabular", "noise")],
                                fraction=0.0)
    noise = [("a", "tabular", "noise")]
    with pytest.raises(ValueError, match="labels must be given"):
        robust.robustness_sweep(_RecordingModel(), inputs, None, noise)
    with pytest.raises(ValueError, match="severities must hold at least one value"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, noise, severities=[])
    with pytest.raises(ValueError, match=r"4th element of a corruption must be a dict"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, [("a", "tabular", "noise", 3)])
    with pytest.raises(ValueError, match=r"mask_inputs\['a'\] must be a pair \(mask input name"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, noise, mask_inputs={"a": "m"})
    with pytest.raises(ValueError, match=r"the mask input name\) must be one of \['a', 'b'\]"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, noise, mask_inputs={"a": ("m", 0)})
    with pytest.raises(TypeError, match="metric must be one of"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, noise, metric=3)
    with pytest.raises(ValueError, match=r"kind must be one of .*got 'table'"):
        robust.robustness_sweep(_RecordingModel(), inputs, y, [("a", "table", "noise")])


# --------------------------------------------------------------------------------------------
# robustness metrics
# --------------------------------------------------------------------------------------------


def test_relative_robustness_equals_multibench_trapezoid():
    acc = [0.9, 0.88, 0.85, 0.8, 0.7, 0.62, 0.55, 0.5, 0.45, 0.42, 0.4]
    area = 0.0  # MultiBench's evaluation loop: 11 levels, step 0.1
    for i in range(len(acc) - 1):
        area += (acc[i] + acc[i + 1]) * 0.1 / 2
    assert robust.relative_robustness(acc) == pytest.approx(area, abs=1e-12)
    # uneven severities, range 0.2..0.8: area of the piecewise-linear curve / 0.6
    sev = [0.2, 0.3, 0.6, 0.8]
    a = [1.0, 0.8, 0.5, 0.5]
    by_hand = (0.1 * 0.9 + 0.3 * 0.65 + 0.2 * 0.5) / 0.6
    assert robust.relative_robustness(a, sev) == pytest.approx(by_hand)
    assert robust.relative_robustness([0.7, 0.7, 0.7]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="strictly increasing"):
        robust.relative_robustness([0.9, 0.8], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least 2"):
        robust.relative_robustness([0.9])


def test_effective_robustness_shifts_the_reference():
    f = np.array([0.90, 0.80, 0.70])
    ref = np.array([0.80, 0.60, 0.40])
    # reference shifted up by 0.10 -> 0.90, 0.70, 0.50; the model is 0, +0.10, +0.20 above it
    np.testing.assert_allclose(robust.effective_robustness(0.9, f, 0.8, ref), [0.0, 0.1, 0.2])
    assert robust.effective_robustness(0.9, f, 0.8, ref, reduction="sum") == pytest.approx(0.3)
    assert robust.effective_robustness(0.9, 0.5, 0.8, 0.5) == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="acc_ref_corrupted must have the shape"):
        robust.effective_robustness(0.9, f, 0.8, ref[:2])


def test_robustness_summary_table():
    sev = np.linspace(0, 1, 3)
    sweep = pd.DataFrame({"modality": "a", "corruption": "noise", "severity": sev,
                          "value": [0.9, 0.7, 0.5]})
    ref = sweep.assign(value=[0.8, 0.5, 0.2])
    table = robust.robustness_summary(sweep, ref)
    assert table.loc[0, "relative_robustness"] == pytest.approx(0.8 * 0.5 + 0.6 * 0.5)
    assert table.loc[0, "effective_robustness"] == pytest.approx((0.0 + 0.1 + 0.2) / 3)


# --------------------------------------------------------------------------------------------
# FGSM and adversarial training
# --------------------------------------------------------------------------------------------


def _fgsm_data(n, seed):
    """a: one strong feature plus 40 weak ones (FGSM-vulnerable); b: 4 weak features."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = (2 * y - 1)[:, None]
    a = np.concatenate([s * 1.0 + 0.4 * rng.standard_normal((n, 1)),
                        s * 0.2 + rng.standard_normal((n, 40))], axis=1).astype(np.float32)
    b = (s * 0.3 + rng.standard_normal((n, 4))).astype(np.float32)
    return {"a": a, "b": b}, y


def _fgsm_model():
    ia = keras.Input((41,), name="a")
    ib = keras.Input((4,), name="b")
    h = keras.layers.Concatenate()([ia, ib])
    h = keras.layers.Dense(16, activation="relu")(h)
    return keras.Model({"a": ia, "b": ib}, keras.layers.Dense(2)(h))


def _acc(model, inputs, y):
    logits = keras.ops.convert_to_numpy(model(inputs, training=False))
    return float(np.mean(logits.argmax(axis=1) == y))


def test_fgsm_matches_analytic_sign_on_logistic_model():
    """p = sigmoid(w.a + v.b + c) has d BCE / d a = (p - y) w: FGSM adds eps sign((p - y) w)."""
    keras.utils.set_random_seed(0)
    inputs, y = _fgsm_data(64, 0)
    ia = keras.Input((41,), name="a")
    ib = keras.Input((4,), name="b")
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([ia, ib]))
    model = keras.Model({"a": ia, "b": ib}, out)
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in model.layers[-1].get_weights())
    logit = np.concatenate([inputs["a"], inputs["b"]], axis=1) @ kernel[:, 0] + bias[0]
    p = 1 / (1 + np.exp(-logit))
    expected = inputs["a"] + 0.05 * np.sign((p - y)[:, None] * kernel[None, :41, 0])
    adv = robust.fgsm(model, inputs, y, 0.05, modality="a")
    np.testing.assert_allclose(adv["a"], expected, atol=1e-6)
    assert adv["b"] is inputs["b"]
    clipped = robust.fgsm(model, inputs, y, 5.0, modality="a", clip=(-1.0, 1.0))
    assert clipped["a"].min() >= -1.0 and clipped["a"].max() <= 1.0


def test_fgsm_beats_random_sign_noise_and_adversarial_training_helps():
    keras.utils.set_random_seed(0)
    x_tr, y_tr = _fgsm_data(2000, 0)
    x_te, y_te = _fgsm_data(1000, 1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = _fgsm_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, steps_per_execution=16)
    model.fit(x_tr, y_tr, epochs=8, batch_size=128, verbose=0)
    clean = _acc(model, x_te, y_te)
    assert clean > 0.9
    eps = 0.3
    adv = robust.fgsm(model, x_te, y_te, eps, modality="a", from_logits=True)
    assert adv["b"] is x_te["b"]  # the other modality is untouched
    np.testing.assert_allclose(np.abs(adv["a"] - x_te["a"]).max(), eps, rtol=1e-5)
    rng = np.random.default_rng(0)
    rnd = dict(x_te, a=(x_te["a"] + eps * rng.choice([-1.0, 1.0], size=x_te["a"].shape)
                        ).astype(np.float32))
    acc_fgsm, acc_rand = _acc(model, adv, y_te), _acc(model, rnd, y_te)
    assert acc_fgsm < acc_rand - 0.15  # the gradient direction hurts far more than random signs
    adv_b = robust.fgsm(model, x_te, y_te, eps, modality="b", from_logits=True)
    assert adv_b["a"] is x_te["a"] and not np.array_equal(adv_b["b"], x_te["b"])

    keras.utils.set_random_seed(0)
    base = _fgsm_model()
    trainer = robust.FGSMAdversarialModel(base, epsilon=eps, modality="a")
    trainer.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=["accuracy"],
                    steps_per_execution=16)
    hist = trainer.fit(x_tr, y_tr, epochs=8, batch_size=128, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9
    adv_robust = robust.fgsm(base, x_te, y_te, eps, modality="a", from_logits=True)
    acc_fgsm_robust = _acc(base, adv_robust, y_te)
    assert acc_fgsm_robust > acc_fgsm + 0.1  # measured: about 0.64 -> 0.90
    assert _acc(base, x_te, y_te) > 0.9

    table = robust.fgsm_sweep(base, x_te, y_te, [0.0, eps], from_logits=True)
    assert list(table["modality"]) == ["a", "a", "b", "b"]
    assert table["accuracy"].iloc[0] == pytest.approx(_acc(base, x_te, y_te))
    assert table["accuracy"].iloc[1] == pytest.approx(acc_fgsm_robust)



def test_adversarial_model_attack_equals_fgsm_and_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _fgsm_data(32, 0)
    base = _fgsm_model()
    trainer = robust.FGSMAdversarialModel(base, epsilon=0.1, modality="a", clip=(-5, 5))
    trainer.compile(optimizer="adam",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # the training-time attack is fgsm (same signs; only the attacked input changes, clipped)
    x_adv = trainer.adversarial_inputs(x, y)
    expected = robust.fgsm(base, x, y, 0.1, modality="a", from_logits=True, clip=(-5, 5))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(x_adv["a"]), expected["a"], atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(x_adv["b"]), x["b"])
    x_big = dict(x, a=x["a"] * 10.0)
    clipped = keras.ops.convert_to_numpy(trainer.adversarial_inputs(x_big, y)["a"])
    assert clipped.min() == -5.0 and clipped.max() == 5.0
    trainer(x)  # build the wrapper and its optimizer (training itself is tested above)
    trainer.optimizer.build(trainer.trainable_variables)
    path = tmp_path / "adv.keras"
    trainer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, robust.FGSMAdversarialModel)
    assert (loaded.epsilon, loaded.modality, loaded.clip) == (0.1, "a", (-5.0, 5.0))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(trainer(x)), atol=1e-6)


def test_fgsm_bad_arguments():
    inputs, y = _fgsm_data(8, 0)
    model = _fgsm_model()
    with pytest.raises(ValueError, match="modality must be one of"):
        robust.fgsm(model, inputs, y, 0.1, modality="c")
    with pytest.raises(ValueError, match="epsilon"):
        robust.fgsm(model, inputs, y, -0.1, modality="a")
    with pytest.raises(ValueError, match="must be floating point"):
        robust.fgsm(model, dict(inputs, a=inputs["a"].astype(np.int32)), y, 0.1, modality="a")
    # caught before TensorFlow's cross-entropy kernel complains
    with pytest.raises(ValueError, match=r"labels must be integer class ids in \[0, 2\) .*got "
                                         r"values in \[5, 5\]"):
        robust.fgsm(model, inputs, np.full(8, 5), 0.1, modality="a")
    with pytest.raises(ValueError, match=r"clip must be a pair \(low, high\)"):
        robust.fgsm(model, inputs, y, 0.1, modality="a", clip=3)
    with pytest.raises(TypeError, match="model must be a Keras model"):
        robust.fgsm("model.keras", inputs, y, 0.1, modality="a")
    with pytest.raises(ValueError, match="epsilons entry must be a number in"):
        robust.fgsm_sweep(model, inputs, y, [0.1, -0.1])
    with pytest.raises(TypeError, match="modality must be the name"):
        robust.FGSMAdversarialModel(model, 0.1, modality=0)
    with pytest.raises(TypeError, match="sweep must be a pandas DataFrame"):
        robust.robustness_summary({"value": [1.0]})
    with pytest.raises(ValueError, match="accuracies must be a number or a 1-D sequence"):
        robust.relative_robustness("high")


def test_sweep_follows_the_mask_contract_by_default():
    """With a "modality_mask" input, its columns are the other inputs in sorted order."""
    inputs, y = _toy_inputs(n=40)
    inputs = {"b": inputs["b"], "a": inputs["a"],  # given in unsorted order
              "modality_mask": np.ones((40, 2), dtype=np.float32)}
    model = _RecordingModel()
    robust.robustness_sweep(model, inputs, y, [("b", "image", "remove_modality")],
                            severities=[1.0])
    seen = model.calls[0]
    # sorted: a is column 0, b column 1
    np.testing.assert_array_equal(seen["modality_mask"][:, 1], 0.0)
    np.testing.assert_array_equal(seen["modality_mask"][:, 0], 1.0)
