"""Tests for mmlib.preprocess against NumPy / pandas / Python `re` references."""

from __future__ import annotations

import re
from collections import Counter

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mmlib import preprocess as P

# ------------------------------------------------------------------------------------- images


def test_image_stats_and_preprocessor_against_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 8, 8, 3)).astype("uint8")
    mean, std = P.image_stats(images)
    x = images / 255.0
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(std, x.std(axis=(0, 1, 2)), rtol=1e-6)
    prep = P.image_preprocessor(size=(4, 4), mean=mean, std=std)
    out = keras.ops.convert_to_numpy(prep(images.astype("float32")))
    # bilinear halving with half-pixel centres samples between pixel pairs = 2x2 block means
    blocks = images.astype(np.float64).reshape(5, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(out, (blocks / 255.0 - mean) / std, rtol=1e-4, atol=1e-4)
    plain = P.image_preprocessor(scale=2.0)
    np.testing.assert_allclose(plain(images[:1].astype("float32")), images[:1] * 2.0)
    with pytest.raises(ValueError, match="mean and std must be given together"):
        P.image_preprocessor(mean=[0.5])
    with pytest.raises(ValueError, match="std must be positive"):
        P.image_preprocessor(mean=[0.5, 0.5], std=[0.1, 0.0])
    with pytest.raises(ValueError, match=r"size must be \(height, width\)"):
        P.image_preprocessor(size=(4,))
    with pytest.raises(ValueError, match=r"images must have shape \(n, H, W, C\)"):
        P.image_stats(images[0])
    with pytest.raises(ValueError, match="images must hold at least one pixel"):
        P.image_stats(images[:0])
    with pytest.raises(TypeError, match="images must hold numbers, got dtype <U1"):
        P.image_stats(np.full((1, 2, 2, 1), "a"))
    with pytest.raises(ValueError, match=r"size must be \(height, width\), got 4"):
        P.image_preprocessor(size=4)
    with pytest.raises(ValueError, match="mean must be a sequence of numbers"):
        P.image_preprocessor(mean=["a"], std=[1.0])
    with pytest.raises(ValueError, match=r"std must be finite numbers, .* got \[nan\]"):
        P.image_preprocessor(mean=[0.5], std=[np.nan])
    # the statistics fix the number of channels: a mismatch is a clear Keras error
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        prep(np.ones((1, 8, 8, 2), "float32"))


def check_save_load_and_xla(model, x, path, tol):
    """model.save / load_model gives identical outputs; an XLA-compiled call agrees to ``tol``."""
    ref = keras.ops.convert_to_numpy(model(x))
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), ref)
    jit = tf.function(lambda v: model(v), jit_compile=True)
    np.testing.assert_allclose(jit(x).numpy(), ref, rtol=tol, atol=tol)


def test_image_preprocessor_save_load_and_xla(tmp_path):
    images = np.random.default_rng(6).uniform(0, 255, size=(3, 8, 6, 3)).astype("float32")
    prep = P.image_preprocessor(size=(4, 4), mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3])
    check_save_load_and_xla(prep, images, tmp_path / "prep.keras", tol=1e-5)


def numpy_augment(x, params, crop, pad, mode):
    """Reference: pad, crop at (top, left), flip — sample by sample."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode=mode)
    out = []
    for b in range(x.shape[0]):
        top, left = int(params["top"][b]), int(params["left"][b])
        c = xp[b, top:top + crop[0], left:left + crop[1]]
        if params["flip_lr"][b]:
            c = c[:, ::-1]
        if params["flip_ud"][b]:
            c = c[::-1]
        out.append(c)
    return np.stack(out)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_paired_augment_matches_numpy_and_keeps_modalities_aligned(pad_mode):
    rng = np.random.default_rng(1)
    n = 32
    rgb = rng.normal(size=(n, 8, 10, 3)).astype("float32")
    depth = (rgb[..., :1] * 2.0 + 1.0).astype("float32")  # a pixel-wise function of rgb
    labels = (rgb[..., 1:2] > 0).astype("int32")  # an integer segmentation mask
    kwargs = dict(crop_size=(6, 7), pad=2, pad_mode=pad_mode, flip_vertical=True, seed=3)
    params = {k: keras.ops.convert_to_numpy(v)
              for k, v in P.PairedAugment(**kwargs).draw(n, 8, 10).items()}
    out = P.PairedAugment(**kwargs)({"rgb": rgb, "depth": depth, "labels": labels},
                                    training=True)
    np_mode = "constant" if pad_mode == "constant" else "reflect"
    for key, x in (("rgb", rgb), ("depth", depth), ("labels", labels)):
        np.testing.assert_array_equal(out[key].numpy(), numpy_augment(x, params, (6, 7), 2,
                                                                      np_mode))
    assert out["labels"].dtype == tf.int32
    if pad_mode == "reflect":  # padding commutes with the pixel-wise map: still aligned
        np.testing.assert_allclose(out["depth"].numpy(), out["rgb"].numpy()[..., :1] * 2 + 1,
                                   rtol=1e-6)
    # the parameters really vary across the batch
    assert 0 < params["flip_lr"].sum() < n and 0 < params["flip_ud"].sum() < n
    assert len(set(params["top"].tolist())) >= 3 and len(set(params["left"].tolist())) >= 3
    assert params["top"].max() <= 8 + 4 - 6 and params["left"].max() <= 10 + 4 - 7


def test_paired_augment_inference_reproducibility_and_errors():
    rng = np.random.default_rng(2)
    img = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    aug = P.PairedAugment(crop_size=(4, 6), seed=0)
    centre = aug([img, img[..., :1]], training=False)
    np.testing.assert_array_equal(centre[0].numpy(), img[:, 2:6, 1:7])
    np.testing.assert_array_equal(centre[1].numpy(), img[:, 2:6, 1:7, :1])
    single = P.PairedAugment(crop_size=(4, 6), seed=0)(img, training=False)
    np.testing.assert_array_equal(single.numpy(), img[:, 2:6, 1:7])
    a = P.PairedAugment(pad=2, seed=5)(img, training=True).numpy()
    b = P.PairedAugment(pad=2, seed=5)(img, training=True).numpy()
    c = P.PairedAugment(pad=2, seed=6)(img, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    no_flip = P.PairedAugment(flip_horizontal=False, seed=1).draw(50, 8, 8)
    assert not np.any(keras.ops.convert_to_numpy(no_flip["flip_lr"]))
    with pytest.raises(ValueError, match="must share a known height and width"):
        aug([img, img[:, :6]])
    with pytest.raises(ValueError, match="same batch size"):
        aug([img, img[:3]])
    with pytest.raises(ValueError, match=r"crop_size \(10, 10\) is larger than the padded input"):
        P.PairedAugment(crop_size=(10, 10))(img)
    with pytest.raises(ValueError, match=r"must have shape \(batch, H, W, C\)"):
        aug(img[0])
    with pytest.raises(ValueError, match="pad_mode must be one of"):
        P.PairedAugment(pad_mode="wrap")
    with pytest.raises(ValueError, match=r"crop_size must be \(height, width\), got 4"):
        P.PairedAugment(crop_size=4)
    with pytest.raises(ValueError, match="at least one .* tensor, got an empty list"):
        aug([])
    with pytest.raises(TypeError, match="input 1 must be a tensor or NumPy array"):
        aug([img, None])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 0, got -1"):
        aug.draw(-1, 8, 8)
    with pytest.raises(ValueError, match=r"crop_size \(4, 6\) is larger than the padded input"):
        aug.draw(2, 3, 3)
    params = aug.draw(2, 8, 8)
    with pytest.raises(ValueError, match=r"params lacks \['left'\]"):
        aug.apply(img, {k: v for k, v in params.items() if k != "left"})
    with pytest.raises(ValueError, match="params were drawn for a batch of 2, but x has batch "
                                         "size 4"):
        aug.apply(img, params)


def test_paired_augment_in_model_save_load_and_xla(tmp_path):
    img = np.random.default_rng(3).normal(size=(4, 8, 8, 3)).astype("float32")
    a_in, b_in = keras.Input((8, 8, 3)), keras.Input((8, 8, 1))
    out = P.PairedAugment(crop_size=(6, 6), pad=1, seed=0)([a_in, b_in])
    model = keras.Model([a_in, b_in], out)
    ref = [keras.ops.convert_to_numpy(o) for o in model([img, img[..., :1]])]
    model.save(tmp_path / "aug.keras")
    loaded = keras.models.load_model(tmp_path / "aug.keras")
    for o, r in zip(loaded([img, img[..., :1]]), ref, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(o), r)
    assert loaded.layers[-1].get_config()["crop_size"] == (6, 6) or list(
        loaded.layers[-1].get_config()["crop_size"]) == [6, 6]
    aug = P.PairedAugment(crop_size=(6, 6), pad=1, seed=0)
    fn = tf.function(lambda x, y: aug([x, y], training=True), jit_compile=True)
    x_out, y_out = fn(img, img[..., :1] * 3.0)
    np.testing.assert_allclose(y_out.numpy(), x_out.numpy()[..., :1] * 3.0, rtol=1e-6)


# --------------------------------------------------------------------------------------- text
def reference_standardize(text):
    """The documented rules, written with Python's `re` (lookarounds instead of two passes)."""
    s = text.lower()
    s = re.sub(r"['\u2019]", "", s)
    s = re.sub(r"[^\w\s.%]|_", " ", s)
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", s)
    return " ".join(s.split())


TEXTS = [
    "Pt. has BP 120/80, temp 37.5C! SpO2 95% on room-air.",
    "A red circle, left of a BLUE square...",
    "Patient's notes: dose 2.5mg (x3) -- stable; 1.2.3 ok",
    ".5 or 5. or a.b or 3..4",
    "Café crème: naïve résumé",
    "tabs\tand\nnewlines  and __under_scores__",
]


def test_standardize_caption_examples_and_reference():
    got = [s.decode() for s in P.standardize_caption(tf.constant(TEXTS)).numpy()]
    assert got[0] == "pt has bp 120 80 temp 37.5c spo2 95% on room air"
    assert got[1] == "a red circle left of a blue square"
    assert got[2] == "patients notes dose 2.5mg x3 stable 1.2.3 ok"
    assert got == [reference_standardize(t) for t in TEXTS]
    with pytest.raises(TypeError, match="text must be a string tensor .* got dtype int32"):
        P.standardize_caption(5)


def test_make_text_vectorizer_vocabulary_and_round_trip(tmp_path):
    corpus = ["A red circle.", "a blue square", "Red square, red circle!", "green 2.5 triangle"]
    vec = P.make_text_vectorizer(corpus, sequence_length=6)
    counts = Counter(tok for t in corpus for tok in reference_standardize(t).split())
    ranked = [tok for tok, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]),
                                       reverse=True)]
    vocab = vec.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    assert vocab[2:] == ranked
    ids = vec(["red circle purple"]).numpy()
    np.testing.assert_array_equal(ids[0], [vocab.index("red"), vocab.index("circle"), 1, 0, 0, 0])
    capped = P.make_text_vectorizer(corpus, max_tokens=4)
    assert capped.get_vocabulary() == ["", "[UNK]", *ranked[:2]]
    multi = P.make_text_vectorizer(corpus, output_mode="multi_hot")
    assert multi.get_vocabulary() == vocab[1:]  # no padding index in multi-hot mode
    hot = multi(["red red blue"]).numpy()[0]
    np.testing.assert_array_equal(np.flatnonzero(hot), sorted([vocab.index("red") - 1,
                                                               vocab.index("blue") - 1]))
    inp = keras.Input((), dtype="string")
    model = keras.Model(inp, vec(inp))
    model.save(tmp_path / "vec.keras")
    loaded = keras.models.load_model(tmp_path / "vec.keras")
    texts = tf.constant(["Blue circle, 2.5!", "unknown words here"])
    np.testing.assert_array_equal(loaded(texts), model(texts))
    with pytest.raises(ValueError, match="corpus must be a collection of texts"):
        P.make_text_vectorizer("just one string")
    with pytest.raises(ValueError, match="corpus must contain at least one text"):
        P.make_text_vectorizer([])
    with pytest.raises(ValueError, match="max_tokens must be an integer >= 3, got 2"):
        P.make_text_vectorizer(corpus, max_tokens=2)
    with pytest.raises(ValueError, match="corpus must be a collection of texts .* got NoneType"):
        P.make_text_vectorizer(None)


# -------------------------------------------------------------------------------------- audio
def numpy_mel_matrix(n_mels, n_bins, sample_rate, fmin, fmax):
    """Triangular filters on the HTK mel scale, built from the formula (DC bin excluded)."""
    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f) / 700.0)

    mel_of_bins = hz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_bins))
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    w = np.zeros((n_bins, n_mels))
    for m in range(n_mels):
        lo, centre, hi = edges[m:m + 3]
        rising = (mel_of_bins - lo) / (centre - lo)
        falling = (hi - mel_of_bins) / (hi - centre)
        w[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    w[0] = 0.0
    return w


def numpy_log_mel(x, sample_rate, frame_length, frame_step, fft_length, n_mels, fmin, fmax,
                  power=2.0, offset=1e-6):
    n_frames = 1 + (x.shape[1] - frame_length) // frame_step
    idx = np.arange(frame_length)[None, :] + frame_step * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)  # periodic
    spec = np.abs(np.fft.rfft(x[:, idx].astype(np.float64) * window, n=fft_length)) ** power
    mel = spec @ numpy_mel_matrix(n_mels, fft_length // 2 + 1, sample_rate, fmin, fmax)
    return np.log(mel + offset)


def test_log_mel_spectrogram_against_numpy():
    sr, n = 8000, 4000
    t = np.arange(n) / sr
    rng = np.random.default_rng(4)
    x = np.stack([np.sin(2 * np.pi * 440 * t) + 0.1 * rng.normal(size=n),
                  np.sin(2 * np.pi * 1500 * t) * np.linspace(0, 1, n) + 0.05 * rng.normal(size=n)])
    x = x.astype("float32")
    layer = P.LogMelSpectrogram(sr, frame_length=200, frame_step=80, n_mels=24, fmin=50.0,
                                fmax=3800.0)
    assert layer.fft_length == 256
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mel_matrix),
                               numpy_mel_matrix(24, 129, sr, 50.0, 3800.0), atol=1e-5)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, layer.n_frames(n), 24) == (2, 1 + (n - 200) // 80, 24)
    ref = numpy_log_mel(x, sr, 200, 80, 256, 24, 50.0, 3800.0)
    np.testing.assert_allclose(out, ref, atol=1e-4)  # float32 STFT; measured error ~1e-5
    magnitude = P.LogMelSpectrogram(sr, 200, 80, fft_length=512, n_mels=10, power=1.0)
    ref = numpy_log_mel(x, sr, 200, 80, 512, 10, 0.0, sr / 2, power=1.0)
    np.testing.assert_allclose(magnitude(x), ref, atol=1e-4)


def test_log_mel_spectrogram_in_model_xla_and_errors(tmp_path):
    x = np.random.default_rng(5).normal(size=(3, 1000)).astype("float32")
    inp = keras.Input((1000,))
    model = keras.Model(inp, P.LogMelSpectrogram(8000, 160, 80, n_mels=12, name="logmel")(inp))
    assert model.output_shape == (None, 1 + (1000 - 160) // 80, 12)
    check_save_load_and_xla(model, x, tmp_path / "lm.keras", tol=1e-4)
    with pytest.raises(ValueError, match="needs at least frame_length=160 samples, got 100"):
        model.get_layer("logmel")(x[:, :100])
    with pytest.raises(ValueError, match=r"waveforms of shape \(batch, n_samples\)"):
        P.LogMelSpectrogram(8000, 160, 80)(x[0])
    with pytest.raises(ValueError, match=r"fmax must be a number in \[0.0, 4000.0\]"):
        P.LogMelSpectrogram(8000, fmax=5000.0)
    with pytest.raises(ValueError, match="fft_length must be an integer >= 400"):
        P.LogMelSpectrogram(16000, 400, fft_length=256)
    with pytest.raises(ValueError, match=r"fmin must be a number in \[0.0, 100.0\)"):
        P.LogMelSpectrogram(8000, fmin=200.0, fmax=100.0)
    with pytest.raises(TypeError, match="expects numeric waveforms, got dtype string"):
        P.LogMelSpectrogram(8000, 160, 80)(np.full((1, 200), "x"))
    with pytest.raises(ValueError, match="n_samples must be an integer >= 160, got 100"):
        P.LogMelSpectrogram(8000, 160, 80).n_frames(100)


LOG_MEL_CASES = [  # (sample_rate, frame_length, frame_step, fft_length, n_mels, fmin, fmax, power)
    (8000, 256, 80, None, 32, 0.0, None, 2.0),  # av_digits' features
    (8000, 200, 80, 512, 24, 50.0, 3800.0, 2.0),  # fft_length > frame_length (zero padding)
    (4000, 128, 64, None, 24, 0.0, None, 2.0),  # watch
    (16000, 400, 160, None, 40, 20.0, 7600.0, 1.0),  # 25 ms / 10 ms, magnitude, padded to 512
    (22050, 300, 100, 1024, 64, 0.0, None, 2.0),  # non-integer Nyquist, many bands
]


@pytest.mark.parametrize("case", LOG_MEL_CASES)
def test_numpy_and_keras_log_mel_agree(case):
    """One log-mel: P.log_mel_spectrogram (NumPy) and P.LogMelSpectrogram (tf.signal)."""
    sr, frame_length, frame_step, fft_length, n_mels, fmin, fmax, power = case
    kwargs = dict(frame_length=frame_length, frame_step=frame_step, fft_length=fft_length,
                  n_mels=n_mels, fmin=fmin, fmax=fmax, power=power, log_offset=1e-6)
    rng = np.random.default_rng(7)
    t = np.arange(sr // 2) / sr
    # a noise floor in every signal: in a band ~1e-7 below the frame's peak, both float32 STFTs
    # are round-off, and their logs may differ by 1e-2 (measured on a clean chirp)
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=t.size),
                  0.5 * rng.normal(size=t.size),
                  0.8 * np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.02 * rng.normal(size=t.size)
                  ]).astype("float32")
    ours = P.log_mel_spectrogram(x, sr, **kwargs)
    layer = P.LogMelSpectrogram(sr, **kwargs)
    theirs = keras.ops.convert_to_numpy(layer(x))
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.shape == theirs.shape == (3, layer.n_frames(x.shape[1]), n_mels)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    # and both match the float64 formula written in this file
    ref = numpy_log_mel(x, sr, frame_length, frame_step, layer.fft_length, n_mels, fmin,
                        sr / 2 if fmax is None else fmax, power=power)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_log_mel_function_and_layer_share_names_and_the_mel_scale():
    import inspect

    names = ["sample_rate", "frame_length", "frame_step", "fft_length", "n_mels", "fmin", "fmax",
             "power", "log_offset"]
    function = list(inspect.signature(P.log_mel_spectrogram).parameters)
    layer = list(inspect.signature(P.LogMelSpectrogram.__init__).parameters)
    assert function == ["waveforms", *names]
    assert layer == ["self", *names, "kwargs"]
    assert P.LogMelSpectrogram(8000, 200).fft_length == 256  # both: next power of two
    # one mel scale, explained and cited the same way: the HTK formula in its two spellings
    f = np.array([0.0, 100.0, 700.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(P.hz_to_mel(f), 1127.0 * np.log1p(f / 700.0), rtol=1e-3)
    for doc in (P.log_mel_spectrogram.__doc__ + P.hz_to_mel.__doc__,
                P.LogMelSpectrogram.__doc__):
        for phrase in ("2595", "1127", "O'Shaughnessy, 1987", "Stevens"):
            assert phrase in " ".join(doc.split()), (phrase, doc[:60])
    # the NumPy function checks its arguments like the layer
    with pytest.raises(ValueError, match="fft_length must be an integer >= 400"):
        P.log_mel_spectrogram(np.zeros(800), 16000, frame_length=400, fft_length=256)
    with pytest.raises(ValueError, match=r"fmax must be a number in \[0.0, 4000.0\]"):
        P.log_mel_spectrogram(np.zeros(800), 8000, fmax=5000.0)
    with pytest.raises(ValueError, match="at least frame_length=256 samples, got 100"):
        P.log_mel_spectrogram(np.zeros(100), 8000)
    with pytest.raises(TypeError, match="waveforms must hold numbers"):
        P.log_mel_spectrogram(np.full(300, "x"), 8000)
    with pytest.raises(TypeError, match="sample_rate must be a real number"):
        P.LogMelSpectrogram("8000")


def test_importing_mmlib_preprocess_loads_keras_only_on_demand():
    import importlib
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys
        import mmlib.preprocess as P
        heavy = lambda: sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
        print(heavy())
        P.log_mel_spectrogram(P.resize_images(P.mel_filterbank(8, 64, 8000)[None], (4, 300))[0],
                              8000)
        P.TabularPreprocessor().fit([[1.0, 2.0]])
        print(heavy())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-2:] == ["[]", "[]"]
    # the Keras-based names load their file on first use (here, Keras is already imported)
    lazy = {"LogMelSpectrogram": "audio", "PairedAugment": "augment", "image_stats": "image",
            "image_preprocessor": "image", "standardize_caption": "text",
            "make_text_vectorizer": "text"}
    for name, module in lazy.items():
        assert getattr(P, name) is getattr(
            importlib.import_module(f"mmlib.preprocess.{module}"), name)
    assert all(hasattr(P, name) for name in P.__all__) and set(lazy) <= set(P.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'LogMel'"):
        P.LogMel  # noqa: B018


# ------------------------------------------------------------------------------------- tables
@pytest.fixture
def clinic():
    return pd.DataFrame({
        "age": [30.0, np.nan, 50.0, 41.0, 62.0, np.nan],
        "bp": [120.0, 135.0, 110.0, 150.0, 128.0, 140.0],
        "const": [1.0] * 6,
        "sex": ["m", "f", None, "f", "m", "f"],
        "site": ["b", "a", "a", np.nan, "c", "a"],
    })


def test_tabular_preprocessor_against_pandas(clinic):
    tp = P.TabularPreprocessor().fit(clinic)
    out = tp.transform(clinic)
    num, cat = ["age", "bp", "const"], ["sex", "site"]
    assert tp.numeric_columns_ == num and tp.categorical_columns_ == cat
    mean, std = clinic[num].mean(), clinic[num].std(ddof=0).replace(0.0, 1.0)
    np.testing.assert_allclose(tp.mean_, mean.to_numpy())
    np.testing.assert_allclose(tp.scale_, std.to_numpy())
    expected = [((clinic[num] - mean) / std).fillna(0.0),
                clinic[num].isna().astype(float)]
    expected += [pd.get_dummies(clinic[c], dummy_na=True).astype(float) for c in cat]
    expected = pd.concat(expected, axis=1).to_numpy()
    assert out.dtype == np.float32 and out.shape == expected.shape == (6, tp.n_features_out_)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert list(tp.get_feature_names_out()) == [
        "age", "bp", "const", "age__missing", "bp__missing", "const__missing",
        "sex=f", "sex=m", "sex=__missing__", "site=a", "site=b", "site=c", "site=__missing__"]
    # new rows: unseen category -> all zeros in its block, missing numbers -> 0 plus indicator
    new = pd.DataFrame({"age": [np.nan], "bp": [100.0], "const": [1.0], "sex": ["x"],
                        "site": [None]})
    row = tp.transform(new)[0]
    np.testing.assert_allclose(row[:6], [0.0, (100.0 - mean["bp"]) / std["bp"], 0.0, 1, 0, 0],
                               rtol=1e-6)
    np.testing.assert_array_equal(row[6:], [0, 0, 0, 0, 0, 0, 1])


def test_tabular_preprocessor_modes_and_arrays(clinic):
    only = P.TabularPreprocessor(indicators="missing-only").fit(clinic)
    assert only.indicator_columns_ == ["age"]
    none = P.TabularPreprocessor(indicators="none").fit(clinic)
    assert "sex=__missing__" not in none.get_feature_names_out()
    assert none.transform(clinic).shape == (6, 3 + 2 + 3)
    arr = clinic[["age", "bp"]].to_numpy()
    tp = P.TabularPreprocessor().fit(arr)
    ref = (arr - np.nanmean(arr, 0)) / np.nanstd(arr, 0)
    np.testing.assert_allclose(tp.transform(arr)[:, :2], np.nan_to_num(ref), rtol=1e-6)
    np.testing.assert_array_equal(tp.transform(arr)[:, 2:], np.isnan(arr))
    explicit = P.TabularPreprocessor(numeric=["bp"], categorical=["site"]).fit(clinic)
    assert explicit.get_feature_names_out().tolist() == [
        "bp", "bp__missing", "site=a", "site=b", "site=c", "site=__missing__"]
    np.testing.assert_allclose(P.TabularPreprocessor().fit_transform(clinic),
                               P.TabularPreprocessor().fit(clinic).transform(clinic))


def test_tabular_preprocessor_errors(clinic):
    with pytest.raises(ValueError, match="not fitted yet"):
        P.TabularPreprocessor().transform(clinic)
    with pytest.raises(ValueError, match=r"numeric names columns \['weight'\]"):
        P.TabularPreprocessor(numeric=["weight"]).fit(clinic)
    with pytest.raises(ValueError, match="both numeric and categorical"):
        P.TabularPreprocessor(numeric=["age"], categorical=["age", "sex"]).fit(clinic)
    with pytest.raises(ValueError, match="numeric column 'sex' holds non-numeric values"):
        P.TabularPreprocessor(numeric=["sex"], categorical=[]).fit(clinic)
    tp = P.TabularPreprocessor().fit(clinic)
    with pytest.raises(ValueError, match=r"X lacks the fitted columns \['site'\]"):
        tp.transform(clinic.drop(columns="site"))
    arr_tp = P.TabularPreprocessor().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="X has 3 columns, but the preprocessor was fitted on 2"):
        arr_tp.transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="indicators must be one of"):
        P.TabularPreprocessor(indicators="some")
    with pytest.raises(ValueError, match=r"X must be a 2-D array or a DataFrame"):
        P.TabularPreprocessor().fit(np.zeros(3))
    with pytest.raises(ValueError, match="at least one column, got 0 columns"):
        P.TabularPreprocessor().fit(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="at least one row, got 0 rows"):
        P.TabularPreprocessor().fit(clinic.iloc[:0])
    with pytest.raises(ValueError, match=r"numeric must be a list of column names .* got 'age'"):
        P.TabularPreprocessor(numeric="age").fit(clinic)
    with pytest.raises(ValueError, match=r"categorical names the columns \['sex'\] more than"):
        P.TabularPreprocessor(categorical=["sex", "sex"]).fit(clinic)


# ---------------------------------------------------------------- texts that follow a flip
def reference_mirror(text, pairs=(("left", "right"),)):
    """Python `re` reference: swap whole words of each pair in one pass."""
    swap = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    pattern = r"\b(" + "|".join(map(re.escape, swap)) + r")\b"
    return re.sub(pattern, lambda m: swap[m.group(1)], text)


def test_mirror_words_swaps_whole_words_against_re():
    texts = ["a circle left of a square", "on the right", "left left right leftover",
             "the shape right of the triangle ?", "no spatial words", ""]
    got = [t.decode() for t in P.mirror_words(texts).numpy()]
    assert got == [reference_mirror(t) for t in texts]
    assert got[2] == "right right left leftover"
    twice = P.mirror_words(P.mirror_words(texts)).numpy()
    assert [t.decode() for t in twice] == texts  # an involution
    vertical = (("above", "below"), ("top", "bottom"))
    text = "a circle above a square at the top left"
    assert P.mirror_words(text, vertical).numpy().decode() == reference_mirror(text, vertical)
    assert P.mirror_words(tf.constant([["left"], ["right"]])).shape == (2, 1)


def test_mirror_words_errors():
    with pytest.raises(TypeError, match="text must be a string tensor .* got dtype int32"):
        P.mirror_words(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="pairs must be a non-empty sequence"):
        P.mirror_words("left", pairs=())
    with pytest.raises(ValueError, match="pairs must hold .* lower-case letters, got 'left'"):
        P.mirror_words("left", pairs=("left", "right"))
    with pytest.raises(ValueError, match="pairs must name every word once"):
        P.mirror_words("left", pairs=(("left", "right"), ("right", "up")))
    with pytest.raises(ValueError, match="lower-case letters, got \\('Left', 'right'\\)"):
        P.mirror_words("left", pairs=(("Left", "right"),))


def test_flip_with_text_flips_images_and_mirrors_texts_together():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 4, 5, 2)).astype("float32")
    texts = {"caption": ["a left b", "a right b", "a above b"], "question": ["left ?"] * 3}
    flip = np.array([True, False, True])
    out, mirrored = P.flip_with_text(images, texts, flip)
    expected = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert [t.decode() for t in mirrored["caption"].numpy()] == ["a right b", "a right b",
                                                                 "a above b"]
    assert [t.decode() for t in mirrored["question"].numpy()] == ["right ?", "left ?", "right ?"]
    one, (cap, q) = P.flip_with_text(images[0], ("left", "right"), tf.constant(True))
    np.testing.assert_array_equal(one.numpy(), images[0][:, ::-1])
    assert (cap.numpy(), q.numpy()) == (b"right", b"left")
    same, text = P.flip_with_text(images, texts["caption"], tf.constant(False))
    np.testing.assert_array_equal(same.numpy(), images)
    assert [t.decode() for t in text.numpy()] == texts["caption"]


def test_flip_with_text_errors():
    image = np.zeros((4, 4, 1), "float32")
    with pytest.raises(ValueError, match=r"image must have shape \(H, W, C\) or"):
        P.flip_with_text(np.zeros((4, 4)), "left", tf.constant(True))
    with pytest.raises(TypeError, match="flip must be a bool tensor, got dtype int32"):
        P.flip_with_text(image, "left", tf.constant(1))
    with pytest.raises(ValueError, match=r"flip must be a scalar .* got shape \(2,\)"):
        P.flip_with_text(image, "left", tf.constant([True, False]))
    with pytest.raises(TypeError, match="texts must be a string tensor"):
        P.flip_with_text(image, 3, tf.constant(True))


def test_random_flip_with_text_is_seeded_and_consistent():
    images = np.arange(64 * 2 * 3, dtype="float32").reshape(64, 2, 3, 1)
    texts = ["left"] * 64
    out, mirrored = P.random_flip_with_text(images, texts, tf.constant([3, 4]))
    again, _ = P.random_flip_with_text(images, texts, tf.constant([3, 4]))
    np.testing.assert_array_equal(out.numpy(), again.numpy())
    flipped = np.all(out.numpy() == images[:, :, ::-1], axis=(1, 2, 3))
    np.testing.assert_array_equal(flipped, mirrored.numpy() == b"right")  # image <-> text
    assert 16 < flipped.sum() < 48  # about half
    outcomes = {P.random_flip_with_text(images[0], "left", tf.constant([s, 0]))[1].numpy()
                for s in range(20)}
    assert outcomes == {b"left", b"right"}
    with pytest.raises(ValueError, match=r"seed must be an integer tensor of shape \(2,\)"):
        P.random_flip_with_text(images, texts, tf.constant([1, 2, 3]))


# ------------------------------------------------------------------------------- pipelines
def test_multimodal_pipeline_zips_maps_pads_and_keeps_pairs():
    n = 10
    lengths = np.arange(n) % 4 + 1
    inputs = {"vec": np.arange(n * 2, dtype="float32").reshape(n, 2),
              "text": [" ".join(["w"] * k) for k in lengths]}
    maps = {"text": lambda s: tf.ones_like(tf.strings.split(s), dtype=tf.int32)}  # 1 per word
    ds = P.multimodal_pipeline(inputs, np.arange(n), maps=maps, batch_size=4)
    batches = list(ds)
    assert [int(y.shape[0]) for _, y in batches] == [4, 4, 2]
    for x, y in batches:
        y = y.numpy()
        np.testing.assert_array_equal(x["vec"].numpy()[:, 0], 2 * y)  # pairs kept
        assert x["text"].shape[1] == lengths[y].max()  # padded to the longest in the batch
        np.testing.assert_array_equal(x["text"].numpy().sum(axis=1), lengths[y])  # zeros
    only_inputs = P.multimodal_pipeline({"vec": inputs["vec"]}, batch_size=5)
    assert isinstance(only_inputs.element_spec, dict) and len(list(only_inputs)) == 2


def test_multimodal_pipeline_shuffle_cache_augment_are_seeded():
    n = 12

    def costly(v):
        return v * 2.0

    def add_noise(x, y, seed):
        return {"v": x["v"] + tf.random.stateless_uniform((), seed)}, y

    def make(seed):
        return P.multimodal_pipeline({"v": np.arange(n, dtype="float32")}, np.arange(n),
                                     maps={"v": costly}, batch_size=n, shuffle=True,
                                     seed=seed, cache=True, augment=add_noise, parallel=True,
                                     prefetch=True)

    def epoch(ds):
        x, y = next(iter(ds))
        return x["v"].numpy(), y.numpy()

    ds = make(0)
    (v1, y1), (v2, y2) = epoch(ds), epoch(ds)
    v1b, y1b = epoch(make(0))
    np.testing.assert_array_equal(y1, y1b)
    np.testing.assert_array_equal(v1, v1b)  # same seed: same order, same noise
    assert sorted(y1) == list(range(n)) and not np.array_equal(y1, y2)  # a new order
    for v, y in ((v1, y1), (v2, y2)):
        noise = v - 2.0 * y
        assert np.all((noise >= 0) & (noise < 1))
    noise1 = dict(zip(y1, v1 - 2.0 * y1, strict=True))
    noise2 = dict(zip(y2, v2 - 2.0 * y2, strict=True))
    assert any(abs(noise1[k] - noise2[k]) > 1e-6 for k in range(n))  # new draws every epoch
    assert not np.array_equal(y1, epoch(make(1))[1])


def test_multimodal_pipeline_options_and_errors():
    x = {"a": np.zeros((4, 2))}
    off = P.multimodal_pipeline(x, np.zeros(4), default_optimizations=False)
    opts = off.options().experimental_optimization
    assert opts.apply_default_optimizations is False and opts.inject_prefetch is False
    assert P.multimodal_pipeline(x).options().experimental_optimization.inject_prefetch \
        is not False
    labels = {"t1": np.zeros(4), "t2": np.ones(4)}
    _, y = next(iter(P.multimodal_pipeline(x, labels, batch_size=4)))
    assert set(y) == {"t1", "t2"} and y["t2"].numpy().tolist() == [1.0] * 4
    with pytest.raises(TypeError, match="inputs must be a non-empty mapping"):
        P.multimodal_pipeline([np.zeros(3)])
    with pytest.raises(ValueError, match=r"maps names modalities \['b'\]"):
        P.multimodal_pipeline(x, maps={"b": abs})
    with pytest.raises(TypeError, match=r"maps\['a'\] must be callable, got int"):
        P.multimodal_pipeline(x, maps={"a": 3})
    with pytest.raises(ValueError, match="same number of samples, got .*'a': 4.*'labels': 3"):
        P.multimodal_pipeline(x, np.zeros(3))
    with pytest.raises(TypeError, match=r"inputs\['a'\] must be an array .* got int"):
        P.multimodal_pipeline({"a": 5})
    with pytest.raises(TypeError, match="augment must be callable or None, got str"):
        P.multimodal_pipeline(x, augment="flip")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        P.multimodal_pipeline(x, batch_size=0)


def test_measure_throughput_counts_samples_time_and_waiting():
    batches = [np.zeros((5, 3)), np.zeros((5, 3)), np.zeros((2, 3))]
    rows = P.measure_throughput(batches, epochs=2, step_seconds=0.01)
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["samples"] == 12 for r in rows)
    for r in rows:
        assert r["seconds"] >= 0.03 and r["samples_per_s"] == pytest.approx(12 / r["seconds"])
        assert 0 <= r["waiting"] < 0.5 and r["cpu_seconds"] >= 0

    def slow():  # a generator that takes 20 ms per batch: the loop waits for it
        import time
        for _ in range(3):
            time.sleep(0.02)
            yield (np.zeros((4, 1)), np.zeros(4))

    waited = P.measure_throughput(slow, epochs=1)[0]
    assert waited["samples"] == 12 and waited["waiting"] > 0.8
    assert waited["cpu_seconds"] < 0.5 * waited["seconds"]  # sleeping costs no CPU
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((10, 2))).batch(4)
    assert P.measure_throughput(ds)[1]["samples"] == 10
    with pytest.raises(TypeError, match="batches must be iterable"):
        P.measure_throughput(3)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        P.measure_throughput(batches, epochs=0)
    with pytest.raises(ValueError, match="step_seconds must be a number in"):
        P.measure_throughput(batches, step_seconds=-1.0)
    with pytest.raises(ValueError, match="every batch must hold arrays or tensors"):
        P.measure_throughput([1, 2])
