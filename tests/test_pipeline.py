"""End to end: a small sample of every course dataset walked through the whole library.

This is the proof that the modules fit together as a notebook uses them: load → preprocess →
``to_tf_dataset`` with masks → ``build_fusion_model`` with every fusion class that takes the
dataset's number of modalities → ``fit`` one epoch → ``evaluate`` → corrupt every modality by its
``ds.kinds`` entry and ``robustness_sweep`` → integrated gradients and modality Shapley values →
int8 LiteRT export whose predictions agree with Keras (``deployment_report``).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mmlib import data, deploy, explain, fusion, preprocess, robust
from mmlib._common import MASK_INPUT, mask_columns

N = 256
MAIN_TASK = {"av_digits": "digit", "shapes_captions": "answer", "clinic": "diagnosis",
             "drive": "object", "watch": "event"}
FUSIONS = ("EarlyFusion", "LateFusion", "TensorFusion", "LowRankFusion", "GatedFusion", "FiLM",
           "BilinearFusion", "AttentionFusion", "ProjectedFusion")
SMALL = {"embed_dim": 8}
#: the fusion classes trained (fit + evaluate) per dataset; every class is trained on one dataset
#: at least, and every class that takes a dataset's number of modalities is built and run on it
TRAINED = {"av_digits": ("ProjectedFusion", "LateFusion"), "shapes_captions": ("FiLM",
           "AttentionFusion"), "clinic": ("LowRankFusion", "GatedFusion"),
           "drive": ("TensorFusion", "BilinearFusion"), "watch": ("EarlyFusion",)}


def _fits(cls_name: str, n_modalities: int) -> bool:
    cls = getattr(fusion, cls_name)
    return cls.min_modalities <= n_modalities and (cls.max_modalities is None
                                                  or n_modalities <= cls.max_modalities)


def _fusion_spec(cls_name: str) -> tuple[str, dict]:
    kwargs = {"EarlyFusion": {}, "LateFusion": {"units": 8},
              "TensorFusion": {}, "LowRankFusion": {"units": 8, "rank": 2},
              "GatedFusion": {"units": 8}, "FiLM": {}, "BilinearFusion": {"rank": 2, "units": 8},
              "AttentionFusion": {"units": 8}, "ProjectedFusion": {"projection_dim": 8}}[cls_name]
    return cls_name, kwargs


def _encoder(kind: str, ds: data.MultimodalDataset, m: str):
    """The encoder a notebook would pick for a modality kind, kept tiny."""
    if kind in ("image", "heatmap"):
        return "image_cnn", {"filters": (8,), **SMALL}
    if kind == "spectrogram":
        return "audio_cnn", {"filters": (8,), **SMALL}
    if kind == "audio":
        raise AssertionError("waveforms become log-mel spectrograms before the model "
                             "(see _audio_as_log_mel)")
    if kind == "text":
        return "text_cnn", {"vocab_size": int(ds.modalities[m].max()) + 1, "filters": 8,
                            "kernel_sizes": (3,), "embed_dim": 8}
    if kind in ("tabular", "vector"):
        return "tabular_mlp", {"hidden": (16, 8)}
    if kind == "point_cloud":
        return "pointnet", {"hidden": (16,), **SMALL}
    if kind == "video":
        return "video_cnn", {"filters": (8,), "frame_dim": 8}
    raise AssertionError(f"no encoder for kind {kind!r}")


def _impute_tables(train: data.MultimodalDataset, *others: data.MultimodalDataset):
    """Tabular modalities with NaN → standardised values + missing indicators (fit on train)."""
    out = [train, *others]
    for m, kind in train.kinds.items():
        if kind != "tabular":
            continue
        prep = preprocess.TabularPreprocessor().fit(train.modalities[m])
        out = [data.MultimodalDataset(d.name, {**d.modalities, m: prep.transform(d.modalities[m])},
                                      d.labels, d.masks, d.metadata, d.info) for d in out]
    return out


def _audio_as_log_mel(*parts: data.MultimodalDataset) -> list[data.MultimodalDataset]:
    """Waveforms -> log-mel spectrograms (kind "spectrogram") before the model.

    Keeping the log-mel step outside the model is what makes int8 export work: inside an int8
    graph the power spectrum (many orders of magnitude) gets one int8 scale, and the quantized
    model then agreed with Keras on none of its 10 surest samples (measured on av_digits and
    watch).
    """
    out = []
    for d in parts:
        mods, kinds = dict(d.modalities), dict(d.kinds)
        for m, kind in d.kinds.items():
            if kind == "audio":
                mods[m] = preprocess.signal.log_mel_spectrogram(
                    mods[m], float(d.info["sample_rate"]), frame_length=256, frame_step=128,
                    n_mels=16)
                kinds[m] = "spectrogram"
        info = {**d.info, "kinds": kinds}
        out.append(data.MultimodalDataset(d.name, mods, d.labels, d.masks, d.metadata, info))
    return out


def _single_output(model: keras.Model, task: str) -> keras.Model:
    return keras.Model(model.input, keras.layers.Softmax(name="probs")(model.output[task]))


@pytest.mark.parametrize("name", data.DATASETS)
def test_every_dataset_through_the_whole_library(name, tmp_path):
    ds = data.load(name, n_samples=N, seed=0, missing_rate=0.15)
    task = MAIN_TASK[name]
    n_classes = len(ds.class_names(task))
    train, test = _audio_as_log_mel(*_impute_tables(*ds.split((0.75, 0.25), seed=0,
                                                              stratify=task)))
    # the task's default modalities (VQA leaves the caption out unless asked)
    mods = sorted(train.info.get("task_modalities", {}).get(task, train.modalities))
    assert set(train.kinds.values()) <= set(data.KINDS)

    # the mask contract: the dataset's mask feeds the model's mask input, columns sorted
    tf_train = train.to_tf_dataset(batch_size=64, shuffle=True, tasks=[task], modalities=mods,
                                   with_masks=True)
    tf_test = test.to_tf_dataset(batch_size=128, tasks=[task], modalities=mods, with_masks=True)
    x0, _ = next(iter(tf_test))
    cols = mask_columns(mods)
    np.testing.assert_array_equal(
        x0[MASK_INPUT].numpy(), np.stack([test.masks[m][:128] for m in cols], 1))

    specs = {m: _encoder(train.kinds[m], train, m) for m in mods}
    fusions = [f for f in FUSIONS if _fits(f, len(mods))]
    assert len(fusions) >= 8 and set(TRAINED[name]) <= set(fusions)
    # every applicable class is built from the dataset and run on a batch; the dataset's TRAINED
    # classes (last, in order) are also trained (3 batches an epoch); the last one is evaluated
    for f in [f for f in fusions if f not in TRAINED[name]] + list(TRAINED[name]):
        keras.backend.clear_session(free_memory=False)
        model = build(inputs_of(train, mods), specs, f, task, n_classes)
        out = model(x0, training=False)
        assert tuple(out[task].shape) == (len(x0[MASK_INPUT]), n_classes), f
        if f in TRAINED[name]:
            hist = model.fit(tf_train, epochs=12, verbose=0, shuffle=False)  # tf_train shuffles
            assert np.all(np.isfinite(hist.history["loss"])), f
    result = model.evaluate(tf_test, verbose=0, return_dict=True)
    assert np.isfinite(result["loss"]) and 0.0 <= result["accuracy"] <= 1.0, result

    # robustness: every modality corrupted by its kind, through the sweep
    probs_model = _single_output(model, task)
    inputs = {**{m: test.modalities[m] for m in mods},
              MASK_INPUT: np.stack([test.masks[m] for m in cols], 1).astype("float32")}
    labels = test.labels[task]
    corruptions = []
    for m in mods:
        kind = test.kinds[m]
        for cname in robust.CORRUPTIONS[kind]:
            x = robust.corrupt(kind, cname, test.modalities[m], 0.5, seed=0)
            assert x.shape == test.modalities[m].shape and x.dtype == test.modalities[m].dtype
        corruptions.append((m, kind, next(iter(robust.CORRUPTIONS[kind]))))
    sweep = robust.robustness_sweep(probs_model, inputs, labels, corruptions,
                                    severities=(0.0, 1.0))
    assert set(sweep["modality"]) == set(mods)
    clean = sweep[sweep["severity"] == 0.0]["value"]
    assert np.allclose(clean, clean.iloc[0])  # severity 0 is the clean accuracy for every modality

    # interpretability: integrated gradients and modality Shapley values
    few = {k: v[:16] for k, v in inputs.items()}
    ig = explain.integrated_gradients(probs_model, few, steps=16)
    explained = {m for m in mods if np.issubdtype(test.modalities[m].dtype, np.floating)}
    assert set(ig.attributions) == explained | {MASK_INPUT}
    gap = sum(ig.modality_totals.values()) - (ig.prediction - ig.baseline_prediction)
    # completeness, on the probability scale (loose: 16 steps, and a log-mel front end makes the
    # path integral stiff near the all-zero baseline; tests/test_explain.py checks it tightly)
    assert np.all(np.isfinite(gap)) and np.median(np.abs(gap)) < 0.25
    shap = explain.modality_shapley(probs_model, inputs, mods, labels=labels, baseline="mask")
    assert sum(shap.values.values()) == pytest.approx(shap.v_all - shap.v_none, abs=1e-6)

    # deployment: LiteRT float32 equals Keras; int8 agrees where Keras is not torn between classes
    f32 = deploy.to_litert(probs_model, tmp_path / "f32.tflite", "float32")
    i8 = deploy.to_litert(probs_model, tmp_path / "int8.tflite", "int8",
                          representative_data=inputs, num_calibration_samples=64)
    report = deploy.deployment_report(probs_model, {"float32": f32, "int8": i8}, inputs, labels,
                                      n_runs=5, warmup=1).set_index("variant")
    assert report.loc["float32", "argmax_agreement"] == 1.0, report
    assert report.loc["float32", "max_abs_diff"] < 1e-4, report
    keras_p = probs_model.predict(inputs, verbose=0)
    int8_p = deploy.LiteRTModel(i8)(inputs)["probs"]
    top2 = np.sort(keras_p, axis=1)[:, -2:]
    surest = np.argsort(top2[:, 0] - top2[:, 1])[:10]  # the 10 samples Keras is surest about
    agree = np.mean(keras_p[surest].argmax(1) == int8_p[surest].argmax(1))
    assert agree >= 0.9 and np.abs(keras_p - int8_p).max() < 0.15, (agree, report)


def inputs_of(ds: data.MultimodalDataset, mods: list[str]) -> dict:
    """``keras.Input`` per modality (token ids stay integers)."""
    return {m: keras.Input(ds.modalities[m].shape[1:], name=m,
                           dtype="int32" if ds.modalities[m].dtype.kind in "iu" else "float32")
            for m in mods}


def build(ds, encoder_specs, fusion_name, task, n_classes):
    from mmlib.train import build_fusion_model

    model = build_fusion_model(ds, encoder_specs, fusion=_fusion_spec(fusion_name),
                               heads={task: n_classes}, mask_input=True, seed=0)
    model.compile(optimizer="adam",
                  loss={task: keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  metrics={task: ["accuracy"]})
    return model


def test_every_fusion_class_is_trained_on_some_dataset():
    assert set(sum(TRAINED.values(), ())) == set(FUSIONS) and set(TRAINED) == set(data.DATASETS)
