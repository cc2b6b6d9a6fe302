"""Tests of mmlib.data (datasets and container) and mmlib.viz (plot_samples).

Independent references: scikit-learn's digits, TensorFlow's resize / STFT / mel matrix, a small
caption and question parser written here, hashlib, and seeded scikit-learn logistic regressions
on simple features computed here (the information-structure tests; the accuracies they measure
are the ones quoted in datasets/README.md).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from datahash import digest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import data, viz
from mmlib._common import KINDS, MASK_INPUT, derive_seed, mask_columns

matplotlib.use("Agg")

SMALL = 48  # samples for the quick checks




# ------------------------------------------------------------------------------------------
# loaders: shapes, determinism, arguments
# ------------------------------------------------------------------------------------------

EXPECTED = {
    "av_digits": {"image": ((28, 28, 1), np.float32), "audio": ((6400,), np.float32)},
    "shapes_captions": {"image": ((32, 32, 3), np.float32), "caption": ((16,), np.int32),
                        "question": ((10,), np.int32)},
    "clinic": {"scan": ((48, 48, 1), np.float32), "ehr": ((13,), np.float32),
               "note": ((48,), np.int32), "genes": ((64,), np.float32)},
    "drive": {"camera": ((40, 40, 3), np.float32), "lidar": ((256, 3), np.float32),
              "radar": ((32, 16, 1), np.float32)},
    "watch": {"video": ((8, 24, 24, 1), np.float32), "audio": ((4000,), np.float32)},
}
TASKS = {"av_digits": ["digit"], "shapes_captions": ["answer"], "clinic": ["diagnosis", "risk"],
         "drive": ["object", "distance"], "watch": ["event", "anomaly"]}


@pytest.mark.parametrize("name", data.DATASETS)
def test_shapes_dtypes_and_container(name):
    ds = data.load(name, n_samples=SMALL, seed=3)
    assert len(ds) == SMALL and ds.name == name
    assert {m: (a.shape[1:], a.dtype) for m, a in ds.modalities.items()} == EXPECTED[name]
    assert list(ds.labels) == TASKS[name]
    assert all(y.shape == (SMALL,) for y in ds.labels.values())
    assert all(m.dtype == bool and m.all() for m in ds.masks.values())
    assert set(ds.kinds.values()) <= set(data.KINDS)
    for task, names in ds.info["class_names"].items():
        assert ds.labels[task].min() >= 0 and ds.labels[task].max() < len(names)
    for arr in [*ds.modalities.values(), *ds.metadata.values()]:
        assert arr.dtype != object
    for m, arr in ds.modalities.items():  # finite except the EHR's missing values
        assert np.isfinite(arr).all() or m == "ehr"


@pytest.mark.parametrize("name", data.DATASETS)
def test_same_seed_same_bytes_other_seed_differs(name):
    a = data.load(name, n_samples=SMALL, seed=11)
    b = data.load(name, n_samples=SMALL, seed=11)
    c = data.load(name, n_samples=SMALL, seed=12)
    assert digest(a) == digest(b)
    for m in a.modalities:
        assert not np.array_equal(a.modalities[m], c.modalities[m]), m
    # the knobs matter too: a missing-modality draw changes masks but stays reproducible
    d1 = data.load(name, n_samples=SMALL, seed=11, missing_rate=0.3)
    d2 = data.load(name, n_samples=SMALL, seed=11, missing_rate=0.3)
    assert digest(d1) == digest(d2) != digest(a)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: data.load("mnist"), r"name must be one of \['av_digits', 'shapes_captions'"),
    (lambda: data.load_av_digits(n_samples=0), r"n_samples must be an integer >= 1, got 0"),
    (lambda: data.load_shapes_captions(n_samples=-5), r"n_samples must be an integer >= 1"),
    (lambda: data.load_clinic(n_samples=0), r"n_samples"),
    (lambda: data.load_watch(n_samples=0), r"n_samples"),
    (lambda: data.load_drive(n_samples=10, conditions=("day", "snow")),
     r"conditions must be one of \['day', 'night', 'fog', 'rain'\], got 'snow'"),
    (lambda: data.load_drive(n_samples=10, conditions="fog"), r"conditions must be a non-empty"),
    (lambda: data.load_av_digits(n_samples=10, audio_features="mfcc"),
     r"audio_features must be one of \['waveform', 'log_mel'\], got 'mfcc'"),
    (lambda: data.load_av_digits(n_samples=10, speakers=["robot"]),
     r"speakers must be one of \['en-us\+m1'"),
    (lambda: data.load_av_digits(n_samples=10, snr_db=99.0), r"snr_db must be a number in"),
    (lambda: data.load_watch(n_samples=10, event_probs=(0.5, 0.5)), r"event_probs must be 4"),
    (lambda: data.load_clinic(n_samples=10, missing_rate=1.0), r"missing_rate must be a number"),
    (lambda: data.load_shapes_captions(n_samples=10, max_shapes=4), r"max_shapes must be an"),
])
def test_bad_loader_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture(scope="module")
def av_small():
    return data.load_av_digits(n_samples=200, seed=0)


@pytest.mark.parametrize(("call", "match"), [
    (lambda ds: ds.split((0.5, 0.6)), r"fractions must be two or more numbers in \(0, 1\) that "
                                      r"sum to 1.*got \(0.5, 0.6\)"),
    (lambda ds: ds.split((1.0,)), r"fractions must be"),
    (lambda ds: ds.split((0.7, -0.1, 0.4)), r"fractions must be"),
    (lambda ds: ds.split("abc"), r"fractions must be"),
    (lambda ds: ds.split((0.9, 0.1), stratify="speaker"), r"stratify must be one of \['digit'\]"),
    (lambda ds: ds.split((0.9, 0.1), groups="writer"), r"groups must be one of \['image_index'"),
    (lambda ds: ds.to_tf_dataset(modalities=["image", "video"]),
     r"modalities must be one of \['image', 'audio'\], got 'video'"),
    (lambda ds: ds.to_tf_dataset(tasks="speaker"), r"tasks must be one of \['digit'\]"),
    (lambda ds: ds.to_tf_dataset(batch_size=0), r"batch_size must be an integer >= 1"),
    (lambda ds: ds.drop_modalities(1.5), r"rate must be a number in \[0.0, 1.0\)"),
    (lambda ds: ds.drop_modalities(0.2, modalities=["text"]), r"modalities must be one of"),
    (lambda ds: ds.subset([0, 500]), r"indices must lie in \[0, 200\)"),
    (lambda ds: ds.subset([]), r"indices must select at least one sample"),
    (lambda ds: ds.plot_samples(modalities=["lidar"]), r"modalities must be one of"),
    (lambda ds: ds.class_names("speaker"), r"task must be one of \['digit'\]"),
    (lambda ds: ds.to_pandas("image"), r"modality must name a \(n, d\) array"),
])
def test_bad_container_arguments_name_the_argument(av_small, call, match):
    with pytest.raises(ValueError, match=match):
        call(av_small)


def test_container_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match=r"labels\['y'\] must have 3 samples on axis 0"):
        data.MultimodalDataset("x", {"a": np.zeros((3, 2))}, {"y": np.zeros(4)})
    with pytest.raises(ValueError, match=r"object array"):
        data.MultimodalDataset("x", {"a": np.zeros((2, 2))}, {},
                               metadata={"m": np.array([None, 1], dtype=object)})
    with pytest.raises(ValueError, match=r"masks has keys \['b'\] that are not modalities"):
        data.MultimodalDataset("x", {"a": np.zeros((2, 2))}, {}, masks={"b": np.ones(2)})
    with pytest.raises(ValueError, match=r"must be numeric"):
        data.MultimodalDataset("x", {"a": np.array(["u", "v"])}, {})


PUBLIC_NAMES = [  # every public name of mmlib.data when it was one module (data.py)
    "ANSWERS", "AV_DIGITS_AUDIO", "CLINIC_VOCAB", "COLOURS", "CONDITIONS", "DATASETS",
    "DIAGNOSES", "EHR_COLUMNS", "EHR_UNITS", "EVENTS", "GENE_PATHWAYS", "KINDS", "MANIFEST",
    "OBJECTS", "QUESTION_TYPES", "SHAPES", "SHAPES_VOCAB", "SHIPPED_FILES", "SIZES", "SYMPTOMS",
    "DatasetFileError", "MultimodalDataset", "datasets_dir", "detokenize", "hz_to_mel", "load",
    "load_av_digits", "load_clinic", "load_drive", "load_shapes_captions", "load_shipped",
    "load_watch", "log_mel_spectrogram", "mel_filterbank", "resize_images", "tokenize",
    "verify_shipped"]


def test_public_names_and_file_layout():
    import importlib

    assert [n for n in PUBLIC_NAMES if not hasattr(data, n)] == []
    assert sorted(data.__all__) == sorted(PUBLIC_NAMES)
    assert data.KINDS is KINDS  # one vocabulary: the contract's
    files = {"container": ["MultimodalDataset"], "text": ["tokenize", "detokenize"],
             "shipped": ["load_shipped", "verify_shipped", "DatasetFileError", "MANIFEST"],
             "av_digits": ["load_av_digits"], "shapes_captions": ["load_shapes_captions"],
             "clinic": ["load_clinic", "EHR_COLUMNS"], "drive": ["load_drive", "CONDITIONS"],
             "watch": ["load_watch", "EVENTS"]}
    for module, names in files.items():
        mod = importlib.import_module(f"mmlib.data.{module}")
        for name in names:  # mmlib.data re-exports the very object defined in its file
            assert getattr(data, name) is getattr(mod, name), (module, name)
    signal = importlib.import_module("mmlib.preprocess.signal")
    for name in ("log_mel_spectrogram", "mel_filterbank", "hz_to_mel", "resize_images"):
        assert getattr(data, name) is getattr(signal, name)


EXPECTED_KINDS = {
    "av_digits": {"image": "image", "audio": "audio"},
    "shapes_captions": {"image": "image", "caption": "text", "question": "text"},
    "clinic": {"scan": "image", "ehr": "tabular", "note": "text", "genes": "vector"},
    "drive": {"camera": "image", "lidar": "point_cloud", "radar": "heatmap"},
    "watch": {"video": "video", "audio": "audio"},
}


def test_every_dataset_uses_the_contract_kinds():
    for name in data.DATASETS:
        ds = data.load(name, n_samples=8, seed=0)
        assert ds.kinds == EXPECTED_KINDS[name]
        assert ds.info["kinds"] == EXPECTED_KINDS[name]  # recorded, not defaulted
        assert set(ds.kinds.values()) <= set(KINDS)
    assert data.load_av_digits(n_samples=8, audio_features="log_mel").kinds["audio"] == \
        "spectrogram"
    no_genes = data.load_clinic(n_samples=8, genes=False)
    assert list(no_genes.info["kinds"]) == ["scan", "ehr", "note"]
    assert "genes" not in no_genes.info["feature_names"]
    # the container checks the kinds it is given
    with pytest.raises(ValueError, match=r"info\['kinds'\]\['a'\] must be one of \['image', "
                                         r"'audio'.*got 'table'"):
        data.MultimodalDataset("x", {"a": np.zeros((2, 2))}, {}, info={"kinds": {"a": "table"}})
    with pytest.raises(ValueError, match=r"info\['kinds'\] has keys \['b'\] that are not "
                                         r"modalities"):
        data.MultimodalDataset("x", {"a": np.zeros((2, 2))}, {}, info={"kinds": {"b": "image"}})


def test_missing_modalities_are_seeded_through_derive_seed():
    for name in ("av_digits", "watch"):
        ds = data.load(name, n_samples=40, seed=5, missing_rate=0.3)
        ref = data.load(name, n_samples=40, seed=5).drop_modalities(
            0.3, seed=derive_seed(5, name, "missing"))
        assert digest(ds) == digest(ref)


# ------------------------------------------------------------------------------------------
# container behaviour
# ------------------------------------------------------------------------------------------


def test_split_random_stratified_and_grouped(av_small):
    ds = av_small
    parts = ds.split((0.7, 0.15, 0.15), seed=4)
    ids = [p.metadata["image_index"] for p in parts]
    assert [len(i) for i in ids] == [140, 30, 30]
    assert sorted(np.concatenate(ids).tolist()) == sorted(ds.metadata["image_index"].tolist())
    # arrays travel together: each part's images are the parent's rows with the same image_index
    row = {v: k for k, v in enumerate(ds.metadata["image_index"].tolist())}
    for p in parts:
        rows = [row[v] for v in p.metadata["image_index"].tolist()]
        np.testing.assert_array_equal(p.modalities["audio"], ds.modalities["audio"][rows])
        np.testing.assert_array_equal(p.labels["digit"], ds.labels["digit"][rows])
    # stratified: each class split in the same proportions (to within rounding)
    train, test = ds.split((0.5, 0.5), seed=1, stratify="digit")
    counts = np.bincount(ds.labels["digit"], minlength=10)
    assert np.all(np.abs(np.bincount(train.labels["digit"], minlength=10) - counts / 2) <= 0.5)
    # grouped: no speaker in two parts
    big = data.load_av_digits(n_samples=600, seed=2)
    a, b, c = big.split((0.6, 0.2, 0.2), seed=0, groups="speaker")
    sets = [set(p.metadata["speaker"].tolist()) for p in (a, b, c)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(a) + len(b) + len(c) == 600
    assert abs(len(a) / 600 - 0.6) < 0.15


def test_subset_copies_and_drop_modalities(av_small):
    sub = av_small.subset(np.arange(200) % 3 == 0)
    assert len(sub) == 67
    sub.modalities["image"][:] = 0
    assert av_small.modalities["image"].max() > 0  # the parent is untouched
    dropped = av_small.drop_modalities(0.5, seed=3)
    present = np.stack([dropped.masks[m] for m in ("image", "audio")], axis=1)
    assert present.any(axis=1).all()  # nobody loses everything
    # P(missing) = 0.5 minus the cases given back: 0.5 - 0.25 / 2 = 0.375 per modality
    assert abs((~present).mean() - 0.375) < 0.08
    for m in ("image", "audio"):
        gone = ~dropped.masks[m]
        assert np.all(dropped.modalities[m][gone] == 0)
        np.testing.assert_array_equal(dropped.modalities[m][~gone],
                                      av_small.modalities[m][~gone])
    assert av_small.masks["image"].all()  # the original keeps its masks
    again = dropped.drop_modalities(0.5, seed=4, modalities=["audio"])
    assert not np.any(again.masks["audio"] & ~dropped.masks["audio"])  # missing stays missing
    assert np.stack([again.masks[m] for m in ("image", "audio")], 1).any(axis=1).all()


def test_describe_and_to_pandas():
    ds = data.load_clinic(n_samples=120, seed=5)
    text = ds.describe()
    assert text.splitlines()[0] == "clinic: 120 samples"
    counts = np.bincount(ds.labels["diagnosis"], minlength=4)
    for name, c in zip(ds.class_names("diagnosis"), counts, strict=True):
        assert f"{name} {c}" in text
    nan_share = np.isnan(ds.modalities["ehr"]).mean()
    assert f"{nan_share:.1%}" in text and "(48, 48, 1)" in text
    frame = ds.to_pandas("ehr")
    assert list(frame.columns) == list(data.EHR_COLUMNS)
    np.testing.assert_array_equal(frame.to_numpy(), ds.modalities["ehr"])
    observed = ds.metadata["ehr_observed"]
    np.testing.assert_array_equal(observed, ~np.isnan(ds.modalities["ehr"]))


def test_to_tf_dataset_feeds_a_keras_model():
    import keras
    import tensorflow as tf

    ds = data.load_shapes_captions(n_samples=96, seed=1).drop_modalities(0.3, seed=0)
    tfds = ds.to_tf_dataset(batch_size=32, modalities=["image", "question"], with_masks=True)
    inputs, labels = next(iter(tfds))
    assert set(inputs) == {"image", "question", MASK_INPUT}
    assert inputs["image"].shape == (32, 32, 32, 3) and inputs["question"].dtype == tf.int32
    np.testing.assert_array_equal(
        inputs[MASK_INPUT].numpy(),
        np.stack([ds.masks["image"][:32], ds.masks["question"][:32]], 1).astype(np.float32))
    np.testing.assert_array_equal(labels.numpy(), ds.labels["answer"][:32])
    # shuffling: same seed, same order; every sample once per epoch
    order = [b[1].numpy() for b in ds.to_tf_dataset(batch_size=96, shuffle=True, seed=3)]
    again = [b[1].numpy() for b in ds.to_tf_dataset(batch_size=96, shuffle=True, seed=3)]
    np.testing.assert_array_equal(order[0], again[0])
    assert sorted(order[0].tolist()) == sorted(ds.labels["answer"].tolist())
    # dict labels for several tasks
    clinic = data.load_clinic(n_samples=40, seed=0)
    _, lab = next(iter(clinic.to_tf_dataset(batch_size=8, tasks=["diagnosis", "risk"])))
    assert set(lab) == {"diagnosis", "risk"} and lab["risk"].dtype == tf.float32
    # a two-input Keras model trains on it directly
    img_in = keras.Input((32, 32, 3), name="image")
    q_in = keras.Input((10,), name="question", dtype="int32")
    h = keras.layers.Concatenate()([
        keras.layers.GlobalAveragePooling2D()(img_in),
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(64, 4)(q_in))])
    model = keras.Model([img_in, q_in], keras.layers.Dense(len(data.ANSWERS))(h))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(ds.to_tf_dataset(batch_size=32, modalities=["image", "question"]),
                     epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(hist.history["loss"][0])


def test_to_tf_dataset_mask_columns_follow_sorted_modality_names():
    ds = data.load_av_digits(n_samples=64, seed=0).drop_modalities(0.5, seed=1)
    assert list(ds.modalities) == ["image", "audio"]  # the dataset's order is not sorted
    assert not np.array_equal(ds.masks["image"], ds.masks["audio"])
    for order in (None, ["image", "audio"], ["audio", "image"], ["image"]):
        tfds = ds.to_tf_dataset(batch_size=64, modalities=order, with_masks=True)
        inputs, _ = next(iter(tfds))
        mask = inputs[MASK_INPUT].numpy()
        names = mask_columns(order or ds.modalities)
        assert mask.dtype == np.float32 and mask.shape == (64, len(names))
        for j, name in enumerate(names):  # column j = the j-th modality in sorted order
            np.testing.assert_array_equal(mask[:, j], ds.masks[name].astype(np.float32))
    # three modalities, each with its own mask, listed in an unsorted order
    clinic = data.load_clinic(n_samples=64, seed=0).drop_modalities(0.4, seed=2)
    mods = ["scan", "note", "ehr"]
    inputs, _ = next(iter(clinic.to_tf_dataset(batch_size=64, modalities=mods, with_masks=True,
                                               tasks="diagnosis")))
    assert list(inputs) == [*mods, MASK_INPUT]
    mask = inputs[MASK_INPUT].numpy()
    assert len({tuple(mask[:, j]) for j in range(3)}) == 3  # the columns differ
    for j, name in enumerate(["ehr", "note", "scan"]):
        np.testing.assert_array_equal(mask[:, j], clinic.masks[name].astype(np.float32))
    with pytest.raises(ValueError, match=r"modalities must be distinct"):
        ds.to_tf_dataset(modalities=["image", "image"], with_masks=True)


# ------------------------------------------------------------------------------------------
# helpers against independent references
# ------------------------------------------------------------------------------------------


def test_resize_log_mel_and_mel_filters_match_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    imgs = rng.random((3, 8, 8)).astype(np.float32)
    for size in (28, 13, 5):
        ref = tf.image.resize(imgs[..., None], (size, size), method="bilinear",
                              antialias=False).numpy()[..., 0]
        np.testing.assert_allclose(data.resize_images(imgs, size), ref, atol=1e-5)
    rgb = rng.random((2, 6, 9, 3)).astype(np.float32)
    ref = tf.image.resize(rgb, (12, 4), method="bilinear", antialias=False).numpy()
    np.testing.assert_allclose(data.resize_images(rgb, (12, 4)), ref, atol=1e-5)

    mel = data.mel_filterbank(32, 256, 8000.0, fmin=20.0, fmax=3800.0)
    ref = tf.signal.linear_to_mel_weight_matrix(32, 129, 8000.0, 20.0, 3800.0).numpy()
    np.testing.assert_allclose(mel, ref, atol=1e-4)

    wave = rng.standard_normal((2, 1600)).astype(np.float32)
    ours = data.log_mel_spectrogram(wave, 8000, frame_length=256, frame_step=80, n_mels=32)
    stft = tf.signal.stft(wave, frame_length=256, frame_step=80, fft_length=256)
    ref = np.log(tf.abs(stft).numpy() ** 2 @ data.mel_filterbank(32, 256, 8000) + 1e-6)
    assert ours.shape == (2, 1 + (1600 - 256) // 80, 32)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_tokenize_round_trip():
    vocab = ["<pad>", "<unk>", "a", "red", "circle"]
    ids = data.tokenize(["a red circle", "a blue circle a red a"], vocab, max_len=5)
    np.testing.assert_array_equal(ids, [[2, 3, 4, 0, 0], [2, 1, 4, 2, 3]])
    assert data.detokenize(ids, vocab) == ["a red circle", "a <unk> circle a red"]


# ------------------------------------------------------------------------------------------
# what the data contain (independent checks)
# ------------------------------------------------------------------------------------------


def test_av_digits_pairs_real_images_with_the_same_spoken_digit(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    ds = data.load_av_digits(n_samples=300, seed=1, image_size=8, image_noise=0.0,
                             occlusion=0.0, snr_db=60.0)
    idx = ds.metadata["image_index"]
    assert len(set(idx.tolist())) == 300  # no image twice below 1,797
    np.testing.assert_allclose(ds.modalities["image"][..., 0], digits.images[idx] / 16, atol=1e-6)
    np.testing.assert_array_equal(ds.labels["digit"], digits.target[idx])
    with np.load(data.datasets_dir() / "av_digits_audio.npz", allow_pickle=False) as z:
        clips, lengths, clip_digit = z["audio"], z["lengths"], z["digit"]
    clip = ds.metadata["clip"]
    np.testing.assert_array_equal(clip_digit[clip], ds.labels["digit"])  # paired by label
    for i in range(0, 300, 37):  # the word sits at its onset, up to the (tiny) noise and a gain
        c, on, n = clip[i], ds.metadata["onset"][i], lengths[clip[i]]
        seg = ds.modalities["audio"][i, on:on + n]
        corr = np.corrcoef(seg, clips[c, :n].astype(float))[0, 1]
        assert corr > 0.999
    # the SNR knob: residual noise power vs speech power
    noisy = data.load_av_digits(n_samples=60, seed=1, snr_db=0.0)
    ratios = []
    for i in range(60):
        c, on, n = noisy.metadata["clip"][i], noisy.metadata["onset"][i], lengths[noisy.metadata[
            "clip"][i]]
        clean = np.zeros(6400)
        clean[on:on + n] = clips[c, :n]
        x = noisy.modalities["audio"][i].astype(float)
        alpha = x @ clean / (clean @ clean)  # least-squares gain of the clean word
        speech_power = (alpha * clean[on:on + n]) @ (alpha * clean[on:on + n]) / n
        noise = x - alpha * clean
        ratios.append(10 * np.log10(speech_power / (noise @ noise / 6400)))
    assert abs(np.median(ratios)) < 0.5


def test_clinic_measurements_are_plausible_and_follow_the_disease():
    ds = data.load_clinic(n_samples=1500, seed=4)
    ehr, dx = ds.to_pandas("ehr"), ds.labels["diagnosis"]
    healthy, malignant, inflamed = dx == 0, dx == 2, dx == 3
    med = ehr[healthy].median()
    assert 60 <= med["heart_rate"] <= 90 and 36.4 <= med["temperature"] <= 37.2
    assert 110 <= med["systolic_bp"] <= 140 and 3.5 <= med["albumin"] <= 5.0
    assert 4 <= med["wbc"] <= 11 and med["crp"] < 5 and med["ca19_9"] < 37
    assert ehr[inflamed]["crp"].median() > 5 * med["crp"]
    assert ehr[inflamed]["temperature"].median() > med["temperature"] + 0.4
    assert ehr[malignant]["ca19_9"].median() > 3 * med["ca19_9"]
    missing = ehr.drop(columns=["age", "sex", "ca19_9"]).isna().to_numpy().mean()
    assert abs(missing - 0.15) < 0.02 and not ehr[["age", "sex"]].isna().any().any()
    # negation: "fever" appears in both positive and negated sentences, mostly positive only
    # when the patient is inflamed
    notes = ds.metadata["note_text"]
    pos = np.array(["reports fever" in t or "complains of fever" in t or "fever noted" in t
                    for t in notes])
    neg = np.array(["denies fever" in t or "no fever" in t or "no evidence of fever" in t
                    for t in notes])
    assert not np.any(pos & neg)
    assert pos[inflamed].mean() > 0.4 > 0.1 > pos[healthy].mean()
    assert neg[healthy].mean() > pos[healthy].mean()
    assert 0 < ds.labels["risk"].min() and ds.labels["risk"].max() < 1
    assert ds.labels["risk"][malignant].mean() > ds.labels["risk"][healthy].mean() + 0.2
    # the two scanner sites differ (domain shift) and the knob removes the difference
    site = ds.metadata["site"]
    scan_mean = ds.modalities["scan"].mean(axis=(1, 2, 3))
    assert abs(scan_mean[site == 1].mean() - scan_mean[site == 0].mean()) > 0.02
    flat = data.load_clinic(n_samples=1500, seed=4, site_shift=0.0)
    fm = flat.modalities["scan"].mean(axis=(1, 2, 3))
    assert abs(fm[site == 1].mean() - fm[site == 0].mean()) < 0.01


def fit_score(x_train, y_train, x_test, y_test, c=0.1):
    """Seeded logistic regression on standardised features (NaN imputed + indicators).

    Returns the per-sample correctness on the test part.
    """
    model = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler(),
                          LogisticRegression(C=c, tol=1e-3, max_iter=1000, random_state=0))
    with threadpool_limits(1):  # small problems: BLAS threads only fight over the 2 cores
        model.fit(x_train, y_train)
        return model.predict(x_test) == y_test


def bag_of_words(ids, vocab_size):
    out = np.zeros((len(ids), vocab_size))
    np.add.at(out, (np.repeat(np.arange(len(ids)), ids.shape[1]), ids.ravel()), 1)
    out[:, 0] = 0
    return out


def pool(x, k):
    """Average-pool (n, H, W[, C]) images by k x k."""
    n, h, w = x.shape[:3]
    return x[:, : h // k * k, : w // k * k].reshape(n, h // k, k, w // k, k, -1).mean((2, 4))


def av_features(ds):
    lm = data.log_mel_spectrogram(ds.modalities["audio"], ds.info["sample_rate"])
    return {"image": ds.modalities["image"].reshape(len(ds), -1),
            "audio": np.concatenate([lm.mean(1), lm.std(1), lm.max(1)], 1)}


def shapes_features(ds):
    n = len(ds)
    img = ds.modalities["image"]
    # share of pixels of each hue family (rules independent of the generator's palette)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    hues = np.stack([(r > 0.6) & (g < 0.4) & (b < 0.4), (g > 0.5) & (r < 0.4) & (b < 0.4),
                     (b > 0.7) & (r < 0.4), (r > 0.7) & (g > 0.6) & (b < 0.35),
                     (r > 0.45) & (b > 0.6) & (g < 0.45)], -1).reshape(n, -1, 5).mean(1) * 100
    image = np.concatenate([hues, pool(img, 4).reshape(n, -1)], 1)
    question = bag_of_words(ds.modalities["question"], len(ds.info["vocab"]))
    # fused input: both, plus their products (what a bilinear / FiLM layer can form)
    fused = np.concatenate([question, image, np.einsum("ni,nj->nij", question, hues
                                                       ).reshape(n, -1)], 1)
    return {"image": image, "question": question}, fused


def clinic_features(ds):
    n = len(ds)
    scan = ds.modalities["scan"][..., 0]
    hist = np.stack([np.histogram(s, bins=16, range=(0, 1))[0] for s in scan])
    ehr = ds.modalities["ehr"].copy()
    ehr[:, 6:] = np.log(ehr[:, 6:])  # labs are log-normal-ish
    return {"scan": np.concatenate([pool(scan, 4).reshape(n, -1), hist], 1), "ehr": ehr,
            "note": bag_of_words(ds.modalities["note"], len(ds.info["vocab"])),
            "genes": ds.modalities["genes"]}


def watch_features(ds):
    n = len(ds)
    video = ds.modalities["video"][..., 0]
    motion = np.abs(np.diff(video, axis=1))
    lm = data.log_mel_spectrogram(ds.modalities["audio"], ds.info["sample_rate"],
                                  frame_length=128, frame_step=64, n_mels=24)
    return {"video": np.concatenate([pool(motion.reshape(-1, 24, 24), 4).reshape(n, -1),
                                     pool(video.reshape(-1, 24, 24), 4).reshape(n, -1)], 1),
            "audio": np.concatenate([lm.mean(1), lm.max(1), lm.std(1)], 1)}


def single_vs_fused(feats, y, train, fused=None, c=0.1):
    scores = {m: fit_score(x[train], y[train], x[~train], y[~train], c).mean()
              for m, x in feats.items()}
    fx = np.concatenate(list(feats.values()), 1) if fused is None else fused
    scores["fused"] = fit_score(fx[train], y[train], fx[~train], y[~train], c).mean()
    return scores


def measure(name):
    """Accuracies (test part) of each single modality and of the fused input; see README."""
    if name == "av_digits":
        ds = data.load_av_digits(seed=0)
        train = np.arange(len(ds)) < 0.7 * len(ds)
        return single_vs_fused(av_features(ds), ds.labels["digit"], train)
    if name == "shapes_captions":
        ds = data.load_shapes_captions(seed=0)
        train = np.arange(len(ds)) < 0.7 * len(ds)
        feats, fused = shapes_features(ds)
        return single_vs_fused(feats, ds.labels["answer"], train, fused)
    if name == "clinic":
        ds = data.load_clinic(n_samples=3000, seed=0)
        train = np.arange(len(ds)) < 0.7 * len(ds)
        return single_vs_fused(clinic_features(ds), ds.labels["diagnosis"], train)
    if name == "watch":
        ds = data.load_watch(n_samples=3000, seed=0)
        train = np.arange(len(ds)) < 0.6 * len(ds)
        return single_vs_fused(watch_features(ds), ds.labels["event"], train)
    raise ValueError(name)


MARGIN = {"av_digits": 0.08, "shapes_captions": 0.1, "clinic": 0.15, "watch": 0.04}


@pytest.mark.parametrize("name", list(MARGIN))
def test_each_modality_alone_is_below_fusion(name):
    scores = measure(name)
    print(name, {k: round(v, 3) for k, v in scores.items()})
    best_single = max(v for k, v in scores.items() if k != "fused")
    assert scores["fused"] >= best_single + MARGIN[name], scores
    assert best_single < 0.95  # no modality alone is near-perfect


def test_clinic_benign_lesions_need_the_scan_and_another_modality():
    ds = data.load_clinic(n_samples=3000, seed=1)
    feats, y = clinic_features(ds), ds.labels["diagnosis"]
    train = np.arange(len(ds)) < 0.7 * len(ds)
    non_scan = np.concatenate([feats["ehr"], feats["note"], feats["genes"]], 1)

    def pair_acc(x, a, b):
        keep = (y == a) | (y == b)
        return fit_score(x[train & keep], y[train & keep], x[~train & keep],
                         y[~train & keep]).mean()

    # healthy vs benign: only the scan tells; benign vs malignant: mostly the other modalities
    assert pair_acc(non_scan, 0, 1) < 0.62 < 0.85 < pair_acc(feats["scan"], 0, 1)
    assert pair_acc(feats["scan"], 1, 2) < 0.8 < 0.9 < pair_acc(non_scan, 1, 2)


@pytest.mark.parametrize("name", data.DATASETS)
def test_plot_samples_draws_every_modality(name):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    ds = data.load(name, n_samples=30, seed=0).drop_modalities(0.3, seed=1)
    fig = ds.plot_samples(3, seed=2)
    try:
        axes = np.array(fig.axes)
        panels = {"image": 1, "audio": 2, "text": 1, "tabular": 1, "vector": 1, "point_cloud": 2,
                  "heatmap": 1, "video": 1, "spectrogram": 1}
        n_cols = sum(panels[k] for k in ds.kinds.values())
        assert len([a for a in axes if a.get_label() != "<colorbar>"]) == 3 * n_cols
        grid = axes[: 3 * n_cols].reshape(3, n_cols)
        rows = viz.choose_samples(ds, 3, seed=2)
        col = 0
        for m, kind in ds.kinds.items():
            for r, i in enumerate(rows):
                ax = grid[r, col]
                if not ds.masks[m][i]:
                    assert any(t.get_text() == "missing" for t in ax.texts)
                elif kind in ("image", "heatmap", "video", "spectrogram"):
                    assert len(ax.images) == 1
                elif kind == "audio":
                    assert len(ax.lines) == 1 and len(grid[r, col + 1].images) == 1
                elif kind == "point_cloud":
                    assert any(isinstance(c, PathCollection) for c in ax.collections)
                elif kind in ("text", "tabular"):
                    assert any(len(t.get_text()) > 10 for t in ax.texts)
                elif kind == "vector":
                    assert len(ax.patches) >= ds.modalities[m].shape[1]
            col += panels[kind]
        # row labels name the sample and its labels
        assert str(int(rows[0])) in " ".join(t.get_text() for t in grid[0, 0].texts)
    finally:
        plt.close(fig)


def test_log_mel_option_and_plot():
    import matplotlib.pyplot as plt

    ds = data.load_av_digits(n_samples=20, seed=0, audio_features="log_mel")
    assert ds.modalities["audio"].shape == (20, 77, 32, 1)
    wave = data.load_av_digits(n_samples=20, seed=0)
    np.testing.assert_allclose(ds.modalities["audio"][..., 0],
                               data.log_mel_spectrogram(wave.modalities["audio"], 8000),
                               atol=1e-5)
    fig = ds.plot_samples(2)
    assert sum(len(a.images) for a in fig.axes) == 4
    plt.close(fig)


DUCK_DATASET = '''
import numpy as np


class DuckDataset:
    """What mmlib.viz needs of a dataset, without mmlib.data: one modality per kind."""

    def __init__(self, kinds):
        r = np.random.default_rng(0)
        n = 4
        arrays = {
            "image": r.random((n, 8, 8, 3)), "audio": r.standard_normal((n, 800)),
            "spectrogram": r.standard_normal((n, 10, 8)),
            "text": r.integers(0, 5, (n, 6)), "tabular": np.where(r.random((n, 3)) < 0.3,
                                                                  np.nan, r.random((n, 3))),
            "vector": r.standard_normal((n, 6)),
            "point_cloud": r.standard_normal((n, 30, 3)),
            "heatmap": r.standard_normal((n, 6, 5, 1)), "video": r.random((n, 3, 6, 6, 1))}
        self.name = "duck"
        self.modalities = {f"m_{k}": arrays[k] for k in kinds}
        self.labels = {"y": np.arange(n) % 2}
        self.masks = {m: np.arange(n) != i % n for i, m in enumerate(self.modalities)}
        self.metadata = {}
        self.info = {"kinds": {f"m_{k}": k for k in kinds}, "sample_rate": 8000,
                     "class_names": {"y": ["no", "yes"]}, "vocab": list("abcde"),
                     "feature_names": {"m_tabular": ["a", "b", "c"]}}

    def __len__(self):
        return 4
'''


def duck_dataset(kinds):
    namespace = {}
    exec(DUCK_DATASET, namespace)  # the same class the subprocess test uses
    return namespace["DuckDataset"](kinds)


def test_viz_draws_every_kind_of_the_vocabulary():
    import matplotlib.pyplot as plt

    from mmlib import viz

    panels = {"audio": 2, "point_cloud": 2}  # two panels each; every other kind one
    ds = duck_dataset(KINDS)
    fig = viz.plot_samples(ds, 4)
    try:
        axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
        n_cols = sum(panels.get(k, 1) for k in KINDS)
        assert len(axes) == 4 * n_cols
        grid = np.array(axes).reshape(4, n_cols)
        drawn = [len(a.images) + len(a.lines) + len(a.collections) + len(a.patches)
                 + len(a.texts) for a in grid[1]]
        assert all(drawn), dict(zip([c for k in KINDS for c in [k] * panels.get(k, 1)], drawn,
                                    strict=True))
    finally:
        plt.close(fig)
    bad = duck_dataset(["image"])
    bad.info["kinds"]["m_image"] = "table"  # the old name of "tabular"
    with pytest.raises(ValueError, match=r"the kind of modality 'm_image' must be one of "
                                         r"\['image', 'audio'"):
        viz.plot_samples(bad, 2)


def test_viz_never_imports_mmlib_data_nor_tensorflow():
    import subprocess
    import sys
    import textwrap

    script = DUCK_DATASET + textwrap.dedent("""
        import sys
        import matplotlib
        matplotlib.use("Agg")
        from mmlib import viz
        from mmlib._common import KINDS
        viz.plot_samples(DuckDataset(KINDS), 2)
        loaded = [m for m in ("mmlib.data", "tensorflow", "keras") if m in sys.modules]
        print("loaded", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "loaded []"
