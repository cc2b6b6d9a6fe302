"""Tests for mmlib.deploy: SavedModel/LiteRT export, quantization, pruning, serving checks, drift.

One small two-input classifier (image 8×8×1 + vector 16 → 3 classes) is trained once per module on a
synthetic task where both modalities carry class information; its float32 / float16 / int8 LiteRT
files are converted once and shared. References are independent: the Keras model's own outputs,
the raw flatbuffer contents (TensorFlow's LiteRT schema), brute-force numpy, and scipy.
"""

from __future__ import annotations

import types
import warnings
from collections import Counter

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from scipy import stats
from tensorflow.lite.python import schema_py_generated as tflite_schema

from mmlib import deploy
from mmlib._common import KINDS

N_TRAIN, N_TEST = 2000, 1000


def make_task(n: int, seed: int = 0):
    """3 classes; each modality = class template × amplitude + unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    t_img = rng.normal(size=(3, 8, 8, 1))
    t_vec = rng.normal(size=(3, 16))
    y = rng.integers(0, 3, n)
    image = (0.25 * t_img[y] + rng.normal(size=(n, 8, 8, 1))).astype("float32")
    vector = (0.4 * t_vec[y] + rng.normal(size=(n, 16))).astype("float32")
    return {"image": image, "vector": vector}, y


def build_model(seed: int = 0) -> keras.Model:
    def init(k):
        return keras.initializers.GlorotUniform(seed=seed + k)

    image = keras.Input((8, 8, 1), name="image")
    vector = keras.Input((16,), name="vector")
    x = keras.layers.Conv2D(16, 3, activation="relu", kernel_initializer=init(1))(image)
    x = keras.layers.Dense(64, activation="relu", kernel_initializer=init(2))(
        keras.layers.Flatten()(x))
    z = keras.layers.Dense(32, activation="relu", kernel_initializer=init(3))(vector)
    h = keras.layers.Concatenate()([x, z])
    h = keras.layers.Dense(64, activation="relu", kernel_initializer=init(4))(h)
    out = keras.layers.Dense(3, activation="softmax", name="probs", kernel_initializer=init(5))(h)
    model = keras.Model([image, vector], out)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _predict(model, x):
    """``model(x, training=False)`` as NumPy: like ``model.predict`` without its per-call set-up
    (about 0.5 s a call), which dominates on these small test sets."""
    out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    x, y = make_task(N_TRAIN + N_TEST)
    x_train = {k: v[:N_TRAIN] for k, v in x.items()}
    x_test = {k: v[N_TRAIN:] for k, v in x.items()}
    model = build_model()
    model.fit(x_train, y[:N_TRAIN], epochs=6, batch_size=64, verbose=0)
    probs = _predict(model, x_test)
    return types.SimpleNamespace(model=model, x_train=x_train, y_train=y[:N_TRAIN],
                                 x_test=x_test, y_test=y[N_TRAIN:], probs=probs,
                                 accuracy=float(np.mean(probs.argmax(1) == y[N_TRAIN:])))


@pytest.fixture(scope="module")
def litert_files(trained, tmp_path_factory):
    # Calibration from a MultimodalDataset-like object (duck-typed: only .modalities is used),
    # with an extra modality the model does not take.
    dataset = types.SimpleNamespace(
        name="toy", modalities={**trained.x_train, "text": np.zeros((N_TRAIN, 5), "int32")})
    directory = tmp_path_factory.mktemp("litert")
    return deploy.export_litert_variants(trained.model, directory, representative_data=dataset,
                                         num_calibration_samples=200)


def _flatbuffer_constants(path):
    """(tensor type, n bytes, shape) of every tensor with stored data, read from the raw file."""
    buf = path.read_bytes()
    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(buf, 0))
    out = []
    for tensor in model.subgraphs[0].tensors:
        data = model.buffers[tensor.buffer].data
        if data is not None and len(data):
            out.append((tensor.type, len(data), tuple(tensor.shape)))
    return out


def _raw_interpreter_outputs(path, x):
    """Outputs of a bare tf.lite.Interpreter, inputs fed by keyword (not via LiteRTModel)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter deprecation notice
        interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    return runner(image=x["image"], vector=x["vector"])["probs"]


# ------------------------------------------------------------------------------------------------
# task sanity
# ------------------------------------------------------------------------------------------------


def test_toy_model_is_trained_and_uses_both_modalities(trained):
    assert trained.accuracy > 0.85
    # each modality alone is worse than both (zeroing one input costs accuracy)
    for name in ("image", "vector"):
        x = dict(trained.x_test)
        x[name] = np.zeros_like(x[name])
        acc = np.mean(_predict(trained.model, x).argmax(1) == trained.y_test)
        assert acc < trained.accuracy - 0.03


# ------------------------------------------------------------------------------------------------
# SavedModel
# ------------------------------------------------------------------------------------------------


def test_saved_model_round_trip(trained, tmp_path):
    path = deploy.export_saved_model(trained.model, tmp_path / "sm")
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures["serving_default"]
    _, kwargs = fn.structured_input_signature
    assert set(kwargs) == {"image", "vector"}
    assert tuple(kwargs["image"].shape) == (None, 8, 8, 1)
    assert tuple(kwargs["vector"].shape) == (None, 16)
    assert list(fn.structured_outputs) == ["probs"]
    out = fn(image=tf.constant(trained.x_test["image"][:64]),
             vector=tf.constant(trained.x_test["vector"][:64]))["probs"].numpy()
    np.testing.assert_allclose(out, trained.probs[:64], atol=1e-5)


def test_saved_model_single_input_model(tmp_path):
    inp = keras.Input((5,), name="features")
    model = keras.Model(inp, keras.layers.Dense(2, name="score")(inp))
    path = deploy.export_saved_model(model, tmp_path / "single")
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = np.random.default_rng(1).normal(size=(7, 5)).astype("float32")
    np.testing.assert_allclose(fn(features=tf.constant(x))["score"].numpy(),
                               _predict(model, x), atol=1e-5)


def test_export_saved_model_errors(trained, tmp_path):
    file = tmp_path / "a_file"
    file.write_text("x")
    with pytest.raises(ValueError, match="path must be a directory"):
        deploy.export_saved_model(trained.model, file)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        deploy.export_saved_model("not a model", tmp_path / "x")


# ------------------------------------------------------------------------------------------------
# LiteRT conversion and the acceptance numbers
# ------------------------------------------------------------------------------------------------


def test_float32_litert_matches_keras(trained, litert_files):
    lite = deploy.LiteRTModel(litert_files["float32"])
    out = lite.predict(trained.x_test)
    assert out.shape == trained.probs.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, trained.probs, atol=1e-5)
    # independent path: a bare interpreter fed by keyword
    raw = _raw_interpreter_outputs(litert_files["float32"],
                                   {k: v[:32] for k, v in trained.x_test.items()})
    np.testing.assert_allclose(raw, trained.probs[:32], atol=1e-5)


def test_int8_acceptance_size_accuracy_and_outputs(trained, litert_files):
    f32, i8 = litert_files["float32"], litert_files["int8"]
    size32, size8 = f32.stat().st_size, i8.stat().st_size
    # The weight payload is exactly a quarter: every float32 weight matrix is stored as int8.
    const32 = _flatbuffer_constants(f32)
    const8 = _flatbuffer_constants(i8)
    kernels32 = sum(n for t, n, shape in const32
                    if t == tflite_schema.TensorType.FLOAT32 and len(shape) >= 2)
    kernels8 = sum(n for t, n, shape in const8 if t == tflite_schema.TensorType.INT8)
    n_kernel_weights = sum(int(np.prod(w.shape)) for w in trained.model.weights
                           if len(w.shape) >= 2)
    assert kernels32 == 4 * n_kernel_weights
    assert kernels8 == n_kernel_weights
    # full-integer: no float constant is left in the int8 file; biases are int32
    assert not any(t == tflite_schema.TensorType.FLOAT32 for t, _, _ in const8)
    n_bias = sum(int(np.prod(w.shape)) for w in trained.model.weights if len(w.shape) == 1)
    int32_vectors = Counter(shape[0] for t, n, shape in const8
                            if t == tflite_schema.TensorType.INT32 and len(shape) == 1
                            and n == 4 * shape[0])
    bias_sizes = Counter(int(w.shape[0]) for w in trained.model.weights if len(w.shape) == 1)
    assert all(int32_vectors[k] >= v for k, v in bias_sizes.items())
    # The file: a quarter of the float32 file plus the int8-only costs — int32 biases (3 extra
    # bytes each over a quarter of their float size), a float32 scale and int64 zero point per
    # output channel on kernels and biases (24 B per channel), activation quantization
    # parameters and two quantize/dequantize tensors (≤ 8 KiB). A quarter exactly is not
    # reachable for that reason; the ratio tends to 1/4 as the weights grow.
    assert size8 <= size32 / 4 + 3 * n_bias + 24 * n_bias + 8 * 1024
    assert size8 / size32 < 0.32
    # ... and against the float32 model file a learner saves from Keras, a quarter is met easily.
    keras_file = i8.parent / "float32_model.keras"
    trained.model.save(keras_file)
    assert size8 <= keras_file.stat().st_size / 4
    # accuracy drop <= 1 point, argmax agreement >= 99 %, bounded probability error
    lite = deploy.LiteRTModel(i8)
    probs8 = lite.predict(trained.x_test)
    acc8 = float(np.mean(probs8.argmax(1) == trained.y_test))
    assert trained.accuracy - acc8 <= 0.01
    assert np.mean(probs8.argmax(1) == trained.probs.argmax(1)) >= 0.99
    assert np.max(np.abs(probs8 - trained.probs)) < 0.15
    assert np.mean(np.abs(probs8 - trained.probs)) < 0.01
    np.testing.assert_allclose(probs8.sum(1), 1.0, atol=0.02)


def test_float16_is_about_half_and_close(trained, litert_files):
    size32 = litert_files["float32"].stat().st_size
    size16 = litert_files["float16"].stat().st_size
    assert 0.45 <= size16 / size32 <= 0.56
    const16 = _flatbuffer_constants(litert_files["float16"])
    n_float16 = sum(n for t, n, _ in const16 if t == tflite_schema.TensorType.FLOAT16)
    assert n_float16 == 2 * sum(int(np.prod(w.shape)) for w in trained.model.weights)
    out = deploy.LiteRTModel(litert_files["float16"]).predict(trained.x_test)
    assert np.max(np.abs(out - trained.probs)) < 1e-2
    assert np.mean(out.argmax(1) == trained.probs.argmax(1)) >= 0.995


def test_int8_io_and_iterable_calibration(trained, litert_files, tmp_path):
    # calibration from an iterable: a tf.data pipeline of (inputs, labels) batches
    ds = tf.data.Dataset.from_tensor_slices((trained.x_train, trained.y_train)).batch(16)
    path = deploy.to_litert(trained.model, tmp_path / "io8.tflite", "int8",
                            representative_data=ds, num_calibration_samples=160, int8_io=True)
    lite = deploy.LiteRTModel(path)
    details = lite._runner.get_input_details()
    assert {np.dtype(d["dtype"]) for d in details.values()} == {np.dtype("int8")}
    assert np.dtype(lite._runner.get_output_details()["probs"]["dtype"]) == np.dtype("int8")
    assert lite.spec["image"].dtype == "float32"  # float requests are quantized for you
    probs = lite.predict(trained.x_test)
    assert probs.dtype == np.float32
    assert np.mean(probs.argmax(1) == trained.probs.argmax(1)) >= 0.98
    assert np.max(np.abs(probs - trained.probs)) < 0.2
    # quantization by hand with the stored scale / zero point gives the same integer outputs
    scale, zero = details["image"]["quantization"]
    q_img = np.clip(np.round(trained.x_test["image"][:8] / scale) + zero, -128, 127)
    scale_v, zero_v = details["vector"]["quantization"]
    q_vec = np.clip(np.round(trained.x_test["vector"][:8] / scale_v) + zero_v, -128, 127)
    raw = lite._runner(image=q_img.astype(np.int8), vector=q_vec.astype(np.int8))["probs"]
    o_scale, o_zero = lite._runner.get_output_details()["probs"]["quantization"]
    np.testing.assert_allclose(o_scale * (raw.astype(np.float32) - o_zero), probs[:8], atol=1e-6)


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory):
    """Two same-shape inputs (model order zeta, alpha: not alphabetical), outputs ``y`` and
    ``cls``; ``y = sum(zeta) + 3 sum(alpha)`` exactly. Returns ``(model, float32 .tflite path)``."""
    b = keras.Input((4,), name="zeta")
    a = keras.Input((4,), name="alpha")
    joined = keras.layers.Concatenate()([b, 3.0 * a])
    y = keras.layers.Dense(1, name="y", use_bias=False,
                           kernel_initializer=keras.initializers.Constant(1.0))(joined)
    logits = keras.layers.Dense(2, name="cls", kernel_initializer=keras.initializers.GlorotUniform(
        seed=3))(joined)
    model = keras.Model([b, a], [y, logits])
    path = deploy.to_litert(model, tmp_path_factory.mktemp("named") / "named.tflite")
    return model, path


def test_inputs_and_outputs_are_matched_by_name(two_outputs):
    model, path = two_outputs
    lite = deploy.LiteRTModel(path)
    assert set(lite.input_names) == {"alpha", "zeta"}
    assert set(lite.output_names) == {"y", "cls"}
    x = {"alpha": np.ones((2, 4), "float32"), "zeta": np.zeros((2, 4), "float32")}
    out = lite.predict(x)
    np.testing.assert_allclose(out["y"], np.full((2, 1), 12.0), atol=1e-6)
    x_rev = {"zeta": x["zeta"], "alpha": x["alpha"]}
    np.testing.assert_allclose(lite.predict(x_rev)["y"], np.full((2, 1), 12.0), atol=1e-6)
    keras_y, keras_cls = _predict(model, [x["zeta"], x["alpha"]])
    np.testing.assert_allclose(out["cls"], keras_cls, atol=1e-5)
    # the report scores the chosen output
    rng = np.random.default_rng(0)
    xr = {"alpha": rng.normal(size=(40, 4)).astype("float32"),
          "zeta": rng.normal(size=(40, 4)).astype("float32")}
    labels = rng.integers(0, 2, 40)
    table = deploy.deployment_report(model, {"f32": path}, xr, labels, output="cls", n_runs=5,
                                     warmup=1, include_keras=False)
    cls = _predict(model, [xr["zeta"], xr["alpha"]])[1]
    assert table.loc[0, "accuracy"] == pytest.approx(np.mean(cls.argmax(1) == labels))
    with pytest.raises(ValueError, match=r"output must be one of"):
        deploy.deployment_report(model, {"f32": path}, xr, labels, output="nope", n_runs=5)
    # bytes instead of a path
    from_bytes = deploy.LiteRTModel(path.read_bytes())
    np.testing.assert_allclose(from_bytes.predict(x)["y"], out["y"])
    with pytest.raises(ValueError, match="could not be read as a LiteRT flatbuffer"):
        deploy.LiteRTModel(b"not a flatbuffer at all")


def test_report_counts_probability_one_half_as_class_1(two_outputs):
    # One rule for the whole library (mmlib._common.class_predictions): a single probability
    # column predicts class 1 when p >= 0.5. Here y = 0.5 exactly (0.5 + 0 + 3 * 0, float32-exact
    # in Keras and LiteRT); the old report rule p > 0.5 scored these samples as class 0.
    model, path = two_outputs
    zeta = np.zeros((6, 4), "float32")
    zeta[:, 0] = 0.5
    x = {"zeta": zeta, "alpha": np.zeros((6, 4), "float32")}
    assert np.all(_predict(model, [x["zeta"], x["alpha"]])[0] == 0.5)
    table = deploy.deployment_report(model, {"f32": path}, x, np.ones(6, int), output="y",
                                     n_runs=2, warmup=0, include_keras=False)
    assert table.loc[0, "accuracy"] == 1.0
    assert table.loc[0, "accuracy_drop"] == 0.0 and table.loc[0, "argmax_agreement"] == 1.0


def test_litert_model_batching_latency_and_errors(trained, litert_files, tmp_path):
    lite = deploy.LiteRTModel(litert_files["float32"])
    x = {k: v[:20] for k, v in trained.x_test.items()}
    np.testing.assert_allclose(lite.predict(x, batch_size=1), lite.predict(x), atol=1e-6)
    np.testing.assert_allclose(lite.predict(x, batch_size=7), lite.predict(x), atol=1e-6)
    times = lite.latency_ms(x, n_runs=15, warmup=2)
    assert times.shape == (15,) and np.all(times > 0)
    assert "image: (None, 8, 8, 1) float32" in repr(lite)
    with pytest.raises(ValueError, match="signature must be one of"):
        deploy.LiteRTModel(litert_files["float32"], signature="nope")
    with pytest.raises(ValueError, match="existing .tflite file"):
        deploy.LiteRTModel(tmp_path / "missing.tflite")
    with pytest.raises(TypeError, match="model must be the path of a .tflite file or its bytes"):
        deploy.LiteRTModel(3)
    with pytest.raises(ValueError, match="missing modality 'vector'"):
        lite.predict({"image": x["image"]})


def test_to_litert_errors(trained, tmp_path):
    model = trained.model
    with pytest.raises(ValueError, match=r"quantization must be one of \['float32', 'float16', "
                                         r"'int8'\], got 'int4'"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int4")
    with pytest.raises(ValueError, match="needs representative_data"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8")
    with pytest.raises(ValueError, match=r"missing input\(s\) \['vector'\].*got keys \['image'\]"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8",
                         representative_data={"image": trained.x_train["image"]})
    with pytest.raises(ValueError, match=r"element is missing input\(s\) \['image'\]"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8",
                         representative_data=[{"vector": trained.x_train["vector"][:2]}])
    with pytest.raises(ValueError, match=r"inputs\['vector'\] has shape \(10, 15\)"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8",
                         representative_data={"image": trained.x_train["image"][:10],
                                              "vector": np.zeros((10, 15), "float32")})
    with pytest.raises(ValueError, match="int8_io=True needs quantization='int8'"):
        deploy.to_litert(model, tmp_path / "m.tflite", "float16", int8_io=True)
    with pytest.raises(TypeError, match="representative_data must be"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8", representative_data=3)
    with pytest.raises(ValueError, match="representative_data has 0 samples"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8",
                         representative_data={k: v[:0] for k, v in trained.x_train.items()})
    with pytest.raises(ValueError, match="num_calibration_samples must be"):
        deploy.to_litert(model, tmp_path / "m.tflite", "int8",
                         representative_data=trained.x_train, num_calibration_samples=0)
    assert not (tmp_path / "m.tflite").exists()


# ------------------------------------------------------------------------------------------------
# deployment report
# ------------------------------------------------------------------------------------------------


def test_deployment_report(trained, litert_files):
    table = deploy.deployment_report(trained.model, litert_files, trained.x_test, trained.y_test,
                                     n_runs=30, warmup=5)
    assert list(table["variant"]) == ["keras", "float32", "float16", "int8"]
    assert list(table.columns) == ["variant", "size_bytes", "size_kb", "size_ratio", "accuracy",
                                   "accuracy_drop", "argmax_agreement", "max_abs_diff",
                                   "latency_ms"]
    rows = table.set_index("variant")
    for name, path in litert_files.items():
        assert rows.loc[name, "size_bytes"] == path.stat().st_size
        np.testing.assert_allclose(rows.loc[name, "size_kb"], path.stat().st_size / 1024)
    np.testing.assert_allclose(rows.loc["keras", "accuracy"], trained.accuracy)
    np.testing.assert_allclose(rows.loc["float32", "accuracy"], trained.accuracy)
    assert rows.loc["float32", "max_abs_diff"] <= 1e-5
    assert rows.loc["float32", "size_ratio"] == 1.0
    assert rows.loc["int8", "size_ratio"] < 0.32
    assert rows.loc["int8", "accuracy_drop"] <= 0.01
    # independent: int8 accuracy from a bare interpreter
    raw = _raw_interpreter_outputs(litert_files["int8"], trained.x_test)
    np.testing.assert_allclose(rows.loc["int8", "accuracy"],
                               np.mean(raw.argmax(1) == trained.y_test))
    assert (table["latency_ms"] > 0).all()
    assert rows.loc["int8", "argmax_agreement"] >= 0.99
    with pytest.raises(ValueError, match=r"test_labels has shape \(3,\) \(3 entries\), expected "
                                         r"\(1000,\)"):
        deploy.deployment_report(trained.model, litert_files, trained.x_test, np.zeros(3))
    with pytest.raises(ValueError, match=r"test_labels has shape \(1000, 3\)"):
        deploy.deployment_report(trained.model, litert_files, trained.x_test,
                                 np.eye(3)[trained.y_test])
    with pytest.raises(ValueError, match="variants must be a non-empty dict"):
        deploy.deployment_report(trained.model, {}, trained.x_test, trained.y_test)


# ------------------------------------------------------------------------------------------------
# serving input validation
# ------------------------------------------------------------------------------------------------


def test_input_spec_from_model(trained):
    spec = deploy.input_spec(trained.model)
    assert list(spec) == ["image", "vector"]
    assert spec["image"] == deploy.ModalitySpec("image", (None, 8, 8, 1), "float32")
    assert spec["vector"].shape == (None, 16)
    assert spec["image"].kind is None


def test_modality_spec_kind_is_from_the_shared_vocabulary():
    spec = deploy.ModalitySpec("ehr", (None, 12), "float32", kind="tabular")
    assert spec.describe() == "ehr: tabular (None, 12) float32"
    assert deploy.ModalitySpec("v", (None, 16), "float32").describe() == "v: (None, 16) float32"
    for kind in KINDS:
        assert deploy.ModalitySpec("x", (None, 2), "float32", kind).kind == kind
    with pytest.raises(ValueError, match=r"kind must be one of \['image', 'audio'.*got 'table'"):
        deploy.ModalitySpec("ehr", (None, 12), "float32", kind="table")
    with pytest.raises(TypeError, match="kind must be a modality kind .* got 3 of type int"):
        deploy.ModalitySpec("ehr", (None, 12), "float32", kind=3)


def test_input_spec_kinds(trained, litert_files):
    kinds = {"image": "image", "vector": "vector"}
    spec = deploy.input_spec(trained.model, kinds=kinds)
    assert {name: s.kind for name, s in spec.items()} == kinds
    assert spec["image"] == deploy.ModalitySpec("image", (None, 8, 8, 1), "float32", "image")
    assert spec["image"].describe() == "image: image (None, 8, 8, 1) float32"
    # a partial mapping: the other input keeps kind None; LiteRT and dict specs take kinds too
    assert deploy.input_spec(trained.model, {"vector": "vector"})["image"].kind is None
    lite = deploy.LiteRTModel(litert_files["float32"])
    assert deploy.input_spec(lite, kinds) == spec
    assert deploy.input_spec(spec, {"image": "heatmap"})["image"].kind == "heatmap"
    # a served model's errors show the kind
    served = deploy.ServingModel(lite, kinds=kinds)
    assert served.spec == spec and deploy.input_spec(served) == spec
    with pytest.raises(ValueError, match=r"dtype <U1, .*\(vector: vector \(None, 16\) float32\)"):
        served.predict({"image": np.zeros((1, 8, 8, 1)), "vector": np.full((1, 16), "a")})
    with pytest.raises(ValueError, match=r"kinds names input\(s\) \['text'\] that the model "
                                         r"does not have; the model's inputs are \['image', "
                                         r"'vector'\]"):
        deploy.input_spec(trained.model, {**kinds, "text": "text"})
    with pytest.raises(ValueError, match=r"kinds\['image'\] must be one of \['image', .*"
                                         r"got 'picture'"):
        deploy.input_spec(trained.model, {"image": "picture"})
    with pytest.raises(TypeError, match=r"kinds\['image'\] must be a modality kind"):
        deploy.input_spec(trained.model, {"vector": None, "image": 1})
    with pytest.raises(TypeError, match="kinds must be a dict mapping input name -> modality "
                                        "kind .* got list"):
        deploy.input_spec(trained.model, ["image", "vector"])
    with pytest.raises(ValueError, match=r"kinds names input\(s\) \['text'\]"):
        deploy.ServingModel(trained.model, kinds={"text": "text"})


def test_validate_inputs_errors(trained):
    spec = deploy.input_spec(trained.model)
    ok = {"image": np.zeros((3, 8, 8, 1), "float32"), "vector": np.zeros((3, 16), "float32")}
    with pytest.raises(ValueError, match=r"missing modality 'vector'; expected inputs "
                                         r"\['image', 'vector'\], got keys \['image'\]"):
        deploy.validate_inputs({"image": ok["image"]}, spec)
    with pytest.raises(ValueError, match=r"inputs\['image'\] has shape \(3, 8, 9, 1\), expected "
                                         r"\(None, 8, 8, 1\)"):
        deploy.validate_inputs({**ok, "image": np.zeros((3, 8, 9, 1), "float32")}, spec)
    with pytest.raises(ValueError, match=r"shape \(16,\) \(rank 1\), expected \(None, 16\) "
                                         r"\(rank 2.*without the batch axis"):
        deploy.validate_inputs({**ok, "vector": np.zeros(16, "float32")}, spec)
    with pytest.raises(ValueError, match=r"inputs\['vector'\] has dtype <U1, expected a dtype "
                                         r"castable \(same kind\) to float32"):
        deploy.validate_inputs({**ok, "vector": np.full((3, 16), "a")}, spec)
    with pytest.raises(ValueError, match=r"has dtype float64, expected exactly float32"):
        deploy.validate_inputs({**ok, "vector": np.zeros((3, 16))}, spec, strict_dtype=True)
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['audio'\]"):
        deploy.validate_inputs({**ok, "audio": np.zeros((3, 4))}, spec)
    with pytest.raises(ValueError, match=r"different batch sizes \{'image': 3, 'vector': 2\}"):
        deploy.validate_inputs({**ok, "vector": np.zeros((2, 16), "float32")}, spec)
    bad = ok["vector"].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        deploy.validate_inputs({**ok, "vector": bad}, spec)
    # an integer input rejects floats (same-kind casting)
    ids = keras.Input((4,), dtype="int32", name="tokens")
    int_spec = deploy.input_spec(keras.Model(ids, keras.layers.Embedding(10, 2)(ids)))
    with pytest.raises(ValueError, match=r"inputs\['tokens'\] has dtype float64"):
        deploy.validate_inputs({"tokens": np.zeros((1, 4))}, int_spec)
    assert deploy.validate_inputs({"tokens": np.zeros((1, 4), np.int64)},
                                  int_spec)["tokens"].dtype == np.int32
    with pytest.raises(ValueError, match=r"inputs hold 0 samples"):
        deploy.validate_inputs({k: v[:0] for k, v in ok.items()}, spec)
    with pytest.raises(TypeError, match=r"spec\['image'\] has dtype 'floaty'"):
        deploy.validate_inputs(ok, {"image": ((None, 8, 8, 1), "floaty")})


def test_validate_inputs_casts_and_orders(trained):
    spec = deploy.input_spec(trained.model)
    out = deploy.validate_inputs({"vector": np.ones((2, 16)), "image": np.ones((2, 8, 8, 1)),
                                  "extra": 1}, spec, allow_extra=True)
    assert list(out) == ["image", "vector"]
    assert all(v.dtype == np.float32 for v in out.values())


def test_serving_model_keras_and_litert(trained, litert_files):
    x = {"image": trained.x_test["image"][:5].astype(np.float64),
         "vector": trained.x_test["vector"][:5]}
    served = deploy.ServingModel(trained.model)
    np.testing.assert_allclose(served.predict(x), trained.probs[:5], atol=1e-6)
    served_lite = deploy.ServingModel(deploy.LiteRTModel(litert_files["float32"]))
    assert deploy.input_spec(served_lite) == deploy.input_spec(trained.model)
    np.testing.assert_allclose(served_lite.predict(x), trained.probs[:5], atol=1e-5)
    for s in (served, served_lite):
        with pytest.raises(ValueError, match="missing modality 'image'"):
            s.predict({"vector": x["vector"]})
        with pytest.raises(ValueError, match=r"unexpected key\(s\) \['text'\]"):
            s.predict({**x, "text": np.zeros((5, 3))})
    with pytest.raises(TypeError, match="model must be a keras.Model or a LiteRTModel"):
        deploy.ServingModel("model.tflite")


# ------------------------------------------------------------------------------------------------
# pruning
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student(trained):
    """One compiled copy of the trained model shared by the pruning tests, which start from
    :func:`_fresh`: its training step is traced once (about 4 s per new model)."""
    model = keras.models.clone_model(trained.model)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _fresh(student, trained):
    """``student`` reset to the trained weights and a fresh optimizer state (step 0, zero Adam
    moments; the learning rate is kept)."""
    student.set_weights(trained.model.get_weights())
    for v in student.optimizer.variables:
        if not v.path.endswith("learning_rate"):
            v.assign(keras.ops.zeros(v.shape, v.dtype))
    return student


def _kernels(model):
    return {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables
            if v.name == "kernel"}


def test_prune_by_magnitude_per_layer(trained, student):
    model = _fresh(student, trained)
    before = _kernels(model)
    biases_before = [w.copy() for w in model.get_weights() if w.ndim == 1]
    masks = deploy.prune_by_magnitude(model, 0.7, scope="layer")
    after = _kernels(model)
    assert set(masks) == set(before)
    for key, w0 in before.items():
        w1 = after[key]
        pruned = w1 == 0
        assert pruned.sum() == round(0.7 * w0.size)  # exact per-layer target
        # brute force: every pruned weight is no larger in magnitude than every kept one
        assert np.abs(w0[pruned]).max() <= np.abs(w0[~pruned]).min()
        np.testing.assert_array_equal(w1[~pruned], w0[~pruned])
        np.testing.assert_array_equal(masks[key], ~pruned)
    for b0, b1 in zip(biases_before, [w for w in model.get_weights() if w.ndim == 1],
                      strict=True):
        np.testing.assert_array_equal(b0, b1)
    table = deploy.sparsity_by_layer(model)
    np.testing.assert_allclose(table["sparsity"],
                               [round(0.7 * w.size) / w.size for w in before.values()])
    total = sum(w.size for w in before.values())
    np.testing.assert_allclose(deploy.sparsity(model),
                               sum(round(0.7 * w.size) for w in before.values()) / total)


def test_prune_by_magnitude_global(trained, student):
    model = _fresh(student, trained)
    before = _kernels(model)
    deploy.prune_by_magnitude(model, 0.6, scope="global")
    after = _kernels(model)
    all0 = np.concatenate([w.ravel() for w in before.values()])
    all1 = np.concatenate([after[k].ravel() for k in before])
    assert np.sum(all1 == 0) == round(0.6 * all0.size)
    # one threshold across layers
    assert np.abs(all0[all1 == 0]).max() <= np.abs(all0[all1 != 0]).min()
    # layers are pruned unequally under a global threshold
    per_layer = deploy.sparsity_by_layer(model)["sparsity"]
    assert per_layer.max() - per_layer.min() > 0.05
    with pytest.raises(ValueError, match=r"sparsity must be a number in \[0.0, 1.0\), got 1.0"):
        deploy.prune_by_magnitude(model, 1.0)
    with pytest.raises(ValueError, match="scope must be one of"):
        deploy.prune_by_magnitude(model, 0.5, scope="row")
    with pytest.raises(TypeError, match="include must be a predicate"):
        deploy.prune_by_magnitude(model, 0.5, include="kernel")


def test_pruning_schedule_matches_zhu_gupta_formula():
    sched = deploy.PruningSchedule(0.8, initial_sparsity=0.1, begin_step=10, end_step=110,
                                   frequency=20)
    for t in [0, 9, 10, 30, 50, 77, 109, 110, 500]:
        if t < 10:
            expected = 0.1
        elif t >= 110:
            expected = 0.8
        else:  # s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n Δt))^3
            expected = 0.8 + (0.1 - 0.8) * (1 - (t - 10) / 100) ** 3
        assert sched(t) == pytest.approx(expected, abs=1e-12)
    updates = [t for t in range(200) if sched.is_update_step(t)]
    assert updates == [10, 30, 50, 70, 90, 110]
    assert all(sched(a) <= sched(b) for a, b in zip(updates[:-1], updates[1:], strict=True))
    with pytest.raises(ValueError, match="initial_sparsity must be"):
        deploy.PruningSchedule(0.5, initial_sparsity=0.6)
    with pytest.raises(ValueError, match="end_step must be"):
        deploy.PruningSchedule(0.5, begin_step=10, end_step=5)
    with pytest.raises(TypeError, match="step must be an integer, got '3'"):
        sched("3")


def test_pruned_weights_stay_zero_during_fit(trained, student):
    model = _fresh(student, trained)
    x = {k: v[:256] for k, v in trained.x_train.items()}
    y = trained.y_train[:256]
    deploy.prune_by_magnitude(model, 0.5)
    zero_before = {k: w == 0 for k, w in _kernels(model).items()}
    # with the callback (constant sparsity) the zeros stay put
    callback = deploy.PruningCallback(0.5)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
    assert callback.step == 8
    for key, w in _kernels(model).items():
        assert np.all(w[zero_before[key]] == 0)
        assert np.mean(w == 0) == pytest.approx(np.mean(zero_before[key]), abs=1 / w.size)
    assert set(callback.masks) == set(zero_before)
    # control: without the callback the optimizer (Adam momentum) revives pruned weights
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert deploy.sparsity(model) < 0.1


def test_gradual_pruning_fine_tune_keeps_accuracy_and_compresses(trained, student):
    model = _fresh(student, trained)
    steps_per_epoch = N_TRAIN // 64 + 1  # 32
    schedule = deploy.PruningSchedule(0.8, begin_step=0, end_step=steps_per_epoch + 8,
                                      frequency=8)
    callback = deploy.PruningCallback(schedule, scope="global")
    seen = []

    class Track(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch % 4 == 0:
                seen.append(deploy.sparsity(model))

    model.fit(trained.x_train, trained.y_train, epochs=2, batch_size=64, verbose=0,
              callbacks=[callback, Track()])
    # sparsity grows monotonically along the schedule and ends at the target
    assert all(a <= b + 1e-9 for a, b in zip(seen[:-1], seen[1:], strict=True))
    total = sum(int(np.prod(v.shape)) for v in model.trainable_variables if v.name == "kernel")
    assert deploy.sparsity(model) == pytest.approx(round(0.8 * total) / total)
    assert callback.current_sparsity == pytest.approx(0.8)
    acc = np.mean(_predict(model, trained.x_test).argmax(1) == trained.y_test)
    assert acc >= trained.accuracy - 0.03  # stated margin: 3 points at 80 % sparsity
    dense_size = deploy.compressed_size(trained.model)
    pruned_size = deploy.compressed_size(model)
    raw = sum(w.nbytes for w in trained.model.get_weights())
    assert dense_size > 0.85 * raw  # random float32 hardly compresses
    assert pruned_size < 0.45 * dense_size  # 80 % zeros do
    assert deploy.compressed_size(model) == pruned_size  # reproducible (gzip mtime=0)


# ------------------------------------------------------------------------------------------------
# drift
# ------------------------------------------------------------------------------------------------


def _psi_brute_force(ref, live, bins, eps):
    ref = np.asarray(ref, float)
    live = np.asarray(live, float)
    edges = sorted(set(np.quantile(ref, [k / bins for k in range(1, bins)])))
    lows = [-np.inf, *edges]
    highs = [*edges, np.inf]
    total = 0.0
    for lo, hi in zip(lows, highs, strict=True):
        p = sum(1 for v in ref if lo <= v < hi) / len(ref)
        q = sum(1 for v in live if lo <= v < hi) / len(live)
        p, q = (p or eps), (q or eps)
        total += (q - p) * np.log(q / p)
    return total


def test_psi_hand_computed():
    ref = np.arange(1, 11)  # median edge 5.5 with two bins
    live = np.arange(1, 9)  # 5 of 8 below 5.5, 3 of 8 above
    expected = (0.625 - 0.5) * np.log(0.625 / 0.5) + (0.375 - 0.5) * np.log(0.375 / 0.5)
    assert deploy.population_stability_index(ref, live, bins=2) == pytest.approx(expected,
                                                                                 rel=1e-12)
    # an empty live bin uses eps: all live values in the lowest quartile of the reference
    live2 = np.array([0.0, 1.0, 2.0])
    q = [1.0, 1e-4, 1e-4, 1e-4]
    p = [0.3, 0.2, 0.2, 0.3]  # reference quartile edges 3.25, 5.5, 7.75 on 1..10
    expected2 = sum((qi - pi) * np.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    assert deploy.population_stability_index(ref, live2, bins=4) == pytest.approx(expected2,
                                                                                  rel=1e-12)


def test_psi_matches_brute_force_on_random_data():
    rng = np.random.default_rng(3)
    for bins in (3, 10):
        ref = rng.normal(size=300)
        live = rng.normal(0.3, 1.2, size=170)
        assert deploy.population_stability_index(ref, live, bins=bins) == pytest.approx(
            _psi_brute_force(ref, live, bins, 1e-4), rel=1e-10)
    discrete = rng.integers(0, 3, size=200)  # repeated quantiles are merged
    live = rng.integers(0, 4, size=100)
    assert deploy.population_stability_index(discrete, live, bins=10) == pytest.approx(
        _psi_brute_force(discrete, live, 10, 1e-4), rel=1e-10)
    assert deploy.population_stability_index(ref, ref) == 0.0


def test_ks_statistic_matches_scipy():
    rng = np.random.default_rng(4)
    cases = [(rng.normal(size=200), rng.normal(0.2, 1.0, size=150)),
             (rng.integers(0, 5, size=80), rng.integers(0, 6, size=60)),  # ties
             (rng.exponential(size=30), rng.normal(size=31))]
    for a, b in cases:
        ours = deploy.ks_statistic(a, b)
        assert ours == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    a, b = rng.normal(size=900), rng.normal(0.08, 1.0, size=700)
    d = deploy.ks_statistic(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert deploy.ks_pvalue(d, 900, 700) == pytest.approx(ref.pvalue, abs=0.02)
    assert deploy.ks_statistic(np.zeros(5), np.ones(5)) == 1.0


def test_drift_report_flags_shift_only():
    rng = np.random.default_rng(5)
    reference = {"image": rng.normal(size=(2000, 8, 8, 1)), "vector": rng.normal(size=(2000, 16))}
    same = {"image": rng.normal(size=(600, 8, 8, 1)), "vector": rng.normal(size=(600, 16))}
    shifted_vec = rng.normal(size=(600, 16))
    shifted_vec[:, 3] += 1.0  # one drifting feature
    shifted = {"image": rng.normal(size=(600, 8, 8, 1)), "vector": shifted_vec}
    report_same = deploy.drift_report(reference, same)
    assert isinstance(report_same, pd.DataFrame)
    assert list(report_same["modality"]) == ["image", "vector"]
    assert not report_same["drift"].any()
    assert (report_same["psi_max"] < 0.1).all()
    report = deploy.drift_report(reference, shifted).set_index("modality")
    assert not report.loc["image", "drift"]
    assert report.loc["vector", "drift"]
    assert report.loc["vector", "worst_feature"] == 3
    assert report.loc["vector", "n_drifted_features"] == 1
    assert report.loc["vector", "ks_significant"]
    assert report.loc["image", "n_features"] == 64
    # the row summaries equal the per-feature functions
    psi3 = deploy.population_stability_index(reference["vector"][:, 3], shifted_vec[:, 3])
    assert report.loc["vector", "psi_max"] == pytest.approx(psi3)
    ks = [stats.ks_2samp(reference["vector"][:, j], shifted_vec[:, j]).statistic
          for j in range(16)]
    assert report.loc["vector", "ks_max"] == pytest.approx(max(ks))


def test_drift_report_uses_masks_of_dataset_like_objects():
    rng = np.random.default_rng(6)
    ref = types.SimpleNamespace(modalities={"audio": rng.normal(size=(500, 4))},
                                masks={"audio": np.ones(500, bool)})
    live_audio = rng.normal(size=(400, 4))
    mask = np.ones(400, bool)
    mask[:100] = False
    live_audio[:100] = 0.0  # missing samples filled with zeros would look like drift
    live = types.SimpleNamespace(modalities={"audio": live_audio}, masks={"audio": mask})
    row = deploy.drift_report(ref, live).iloc[0]
    assert row["n_live"] == 300 and row["missing_live"] == pytest.approx(0.25)
    assert not row["drift"]
    unmasked = deploy.drift_report(ref.modalities, live.modalities).iloc[0]
    assert unmasked["drift"]


def test_drift_flag_needs_large_and_significant_shift():
    rng = np.random.default_rng(7)
    # small live batch, same distribution: some feature PSI exceeds 0.2 by chance, KS disagrees
    ref = {"genes": rng.normal(size=(280, 64))}
    live = {"genes": rng.normal(size=(60, 64))}
    row = deploy.drift_report(ref, live).iloc[0]
    psi = [deploy.population_stability_index(ref["genes"][:, j], live["genes"][:, j])
           for j in range(64)]
    assert max(psi) > 0.2 and row["psi_max"] == pytest.approx(max(psi))
    assert not row["ks_significant"] and not row["drift"]
    # large batches, tiny shift: KS significant, PSI small -> not flagged
    big_ref = {"x": rng.normal(size=(20000, 1))}
    big_live = {"x": rng.normal(0.08, 1.0, size=(20000, 1))}
    row = deploy.drift_report(big_ref, big_live).iloc[0]
    assert row["ks_significant"] and row["psi_max"] < 0.2 and not row["drift"]
    p = stats.ks_2samp(big_ref["x"][:, 0], big_live["x"][:, 0], method="asymp").pvalue
    assert row["ks_pvalue_adj"] == pytest.approx(p, rel=0.2, abs=1e-12)


def test_drift_report_skips_nan_entries_per_feature():
    rng = np.random.default_rng(8)
    ref = rng.normal(size=(400, 3))
    live = rng.normal(size=(300, 3))
    ref[rng.random(400) < 0.2, 1] = np.nan
    live[rng.random(300) < 0.5, 1] = np.nan  # missingness rises, values do not shift
    row = deploy.drift_report({"ehr": ref}, {"ehr": live}).iloc[0]
    assert row["nan_reference"] == pytest.approx(np.isnan(ref).mean())
    assert row["nan_live"] == pytest.approx(np.isnan(live).mean())
    psi = [deploy.population_stability_index(ref[~np.isnan(ref[:, j]), j],
                                             live[~np.isnan(live[:, j]), j]) for j in range(3)]
    assert row["psi_mean"] == pytest.approx(np.mean(psi))
    assert not row["drift"]


def test_drift_errors():
    with pytest.raises(ValueError, match="bins must be an integer >= 2, got 1"):
        deploy.population_stability_index([1, 2, 3], [1, 2], bins=1)
    with pytest.raises(ValueError, match="reference must be a 1-D array"):
        deploy.population_stability_index(np.zeros((3, 2)), [1, 2])
    with pytest.raises(ValueError, match=r"same modalities as reference: reference has "
                                         r"\['a', 'b'\], live has \['a'\]"):
        deploy.drift_report({"a": np.zeros((5, 2)), "b": np.zeros((5, 1))}, {"a": np.zeros((5, 2))})
    with pytest.raises(ValueError, match=r"live\['a'\] has per-sample shape \(3,\), expected "
                                         r"\(2,\)"):
        deploy.drift_report({"a": np.zeros((5, 2))}, {"a": np.zeros((5, 3))})
    with pytest.raises(ValueError, match="psi_threshold must be"):
        deploy.drift_report({"a": np.zeros((5, 2))}, {"a": np.zeros((5, 2))}, psi_threshold=0)


# --- added for notebook 08 ---


def test_time_ms_counts_calls_and_fetches_tensor_values():
    calls = []

    def fn(x):
        calls.append(x)
        return tf.constant(x) * 2

    times = deploy.time_ms(fn, 3, repeats=4, number=2, warmup=1)
    assert times.shape == (4,) and np.all(times > 0)
    assert len(calls) == 1 + 4 * 2
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        deploy.time_ms(3)
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        deploy.time_ms(fn, 1, repeats=0)


def test_batch_latency_ms_is_per_sample_and_validates(litert_files, trained):
    lite = deploy.LiteRTModel(litert_files["float32"])
    per_sample = deploy.batch_latency_ms(lite, trained.x_test, 32, repeats=3, number=2)
    assert 0 < per_sample < 50
    with pytest.raises(TypeError, match="model must be a LiteRTModel, got Functional"):
        deploy.batch_latency_ms(trained.model, trained.x_test, 4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        deploy.batch_latency_ms(lite, trained.x_test, 0)


def test_litert_tensors_constants_match_the_flatbuffer(litert_files, trained):
    for quantization, path in litert_files.items():
        table = deploy.litert_tensors(path)
        constants = table[table["kind"] == "constant"]
        stored = _flatbuffer_constants(path)  # independent: the raw buffers of the file
        assert sorted(constants["bytes"]) == sorted(n for _, n, _ in stored), quantization
        assert set(table[table["kind"] == "activation"]["name"]) >= {
            "serving_default_image:0", "serving_default_vector:0"}
    int8 = deploy.litert_tensors(litert_files["int8"])
    weights = int8[(int8["kind"] == "constant") & (int8["dtype"] == "int8")]
    kernels = [int(np.prod(w.shape)) for w in trained.model.weights if w.path.endswith("kernel")]
    assert sorted(weights["n_elements"]) == sorted(kernels)
    assert (weights["bytes"] == weights["n_elements"]).all()
    conv = weights[weights["n_elements"] == 3 * 3 * 16]
    assert conv["n_scales"].iloc[0] == 16  # per output channel


def test_litert_size_breakdown_adds_up_to_the_file(litert_files, trained):
    for quantization, path in litert_files.items():
        table = deploy.litert_size_breakdown(path)
        assert table["bytes"].sum() == path.stat().st_size
        assert table["fraction"].sum() == pytest.approx(1.0)
        assert (table.set_index("part")["bytes"] >= 0).all(), quantization
    parts = deploy.litert_size_breakdown(litert_files["float32"]).set_index("part")["bytes"]
    assert parts["constants float32"] >= 4 * trained.model.count_params()
    with pytest.raises(TypeError, match="model must be a .tflite path"):
        deploy.litert_tensors(123)


def _numpy_sgd(x, y, weights, batch, lr):
    """Reference: the MLP's SGD steps on the mean cross-entropy, by hand (numpy backprop)."""
    w1, b1, w2, b2 = [w.astype(np.float64) for w in weights]
    for start in range(0, len(x) - batch + 1, batch):
        xb, yb = x[start:start + batch].astype(np.float64), y[start:start + batch]
        pre = xb @ w1 + b1
        h = np.maximum(pre, 0)
        logits = h @ w2 + b2
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d_logits = (p - np.eye(w2.shape[1])[yb]) / batch
        d_h = d_logits @ w2.T * (pre > 0)
        w2, b2 = w2 - lr * h.T @ d_logits, b2 - lr * d_logits.sum(0)
        w1, b1 = w1 - lr * xb.T @ d_h, b1 - lr * d_h.sum(0)
    return [w1, b1, w2, b2]


def _mlp_task(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32") + 2 * (x[:, 1] > 0).astype("int32")


def test_train_with_strategy_is_plain_sgd_on_the_mean_loss():
    x, y = _mlp_task()
    initial = deploy.build_mlp(6, 4, hidden=8, seed=3).get_weights()
    got = deploy.train_with_strategy(tf.distribute.get_strategy(), x, y, global_batch_size=32,
                                     learning_rate=0.2, hidden=8, seed=3)
    want = _numpy_sgd(x, y, initial, 32, 0.2)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    assert max(float(np.max(np.abs(g - i))) for g, i in zip(got, initial, strict=True)) > 0.05


def test_train_with_strategy_and_build_mlp_validate():
    x, y = _mlp_task(64)
    strategy = tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="global_batch_size must be an integer in"):
        deploy.train_with_strategy(strategy, x, y, global_batch_size=65)
    with pytest.raises(ValueError, match=r"y must be \(64,\) integer class labels"):
        deploy.train_with_strategy(strategy, x, y.astype("float32"))
    with pytest.raises(ValueError, match="x must be a 2-D array"):
        deploy.train_with_strategy(strategy, x[:, :, None], y)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2, got 1"):
        deploy.build_mlp(3, 1)


def test_split_cpu_after_start_names_the_problem():
    tf.constant(1.0)  # TensorFlow is initialised in the test process
    have = tf.config.list_logical_devices("CPU")
    assert deploy.split_cpu(len(have)) == [d.name for d in have]  # already so: a no-op
    with pytest.raises(RuntimeError, match=r"split_cpu\(n_devices=7\) came too late"):
        deploy.split_cpu(7)
    with pytest.raises(ValueError, match="n_devices must be an integer >= 1, got 0"):
        deploy.split_cpu(0)


def test_tf_config_and_free_ports():
    ports = deploy.free_ports(2)
    assert len(set(ports)) == 2 and all(1024 <= p <= 65535 for p in ports)
    config = deploy.tf_config(ports, 1)
    assert config == {"cluster": {"worker": [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"]},
                      "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="index must be an integer in"):
        deploy.tf_config(ports, 2)
    with pytest.raises(ValueError, match="ports must be a non-empty list"):
        deploy.tf_config([], 0)


def test_run_workers_match_one_device():
    x, y = _mlp_task(256)
    one = deploy.train_with_strategy(tf.distribute.get_strategy(), x, y, global_batch_size=32,
                                     learning_rate=0.2, hidden=8)
    workers = deploy.run_workers(x, y, n_workers=2, global_batch_size=32, learning_rate=0.2,
                                 hidden=8, timeout=180)
    assert len(workers) == 2
    for w in workers:
        for a, b in zip(w, one, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_run_workers_times_out_and_cleans_up():
    import subprocess

    x, y = _mlp_task(64)
    started = []
    original = subprocess.Popen

    def spy(*args, **kwargs):
        started.append(original(*args, **kwargs))
        return started[-1]

    subprocess.Popen = spy
    try:
        with pytest.raises(RuntimeError, match="did not finish within timeout=0.2 s"):
            deploy.run_workers(x, y, n_workers=2, global_batch_size=32, timeout=0.2)
    finally:
        subprocess.Popen = original
    assert len(started) == 2 and all(p.poll() is not None for p in started)
