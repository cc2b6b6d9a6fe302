"""Tests for mmlib.encoders: shapes, gradients, save/load, XLA, and encoder-specific invariances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmlib import encoders as E
from mmlib._common import derive_seed
from mmlib.preprocess import LogMelSpectrogram

B = 4


def tokens(batch=B, length=7, vocab=30, seed=0):
    """Token ids with trailing padding (0) of varying length, at least 3 real tokens."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, vocab, size=(batch, length))
    for b in range(batch):
        ids[b, 3 + b % (length - 3):] = 0
    return ids.astype("int32")


def normal(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@dataclass
class Enc:
    make: Any
    data: Any
    out_shape: tuple


ENCODERS = {
    "image_cnn": Enc(lambda: E.image_cnn((12, 12, 3), (4, 8), 6, dropout=0.1, batch_norm=True,
                                         seed=0), lambda: normal((B, 12, 12, 3)), (6,)),
    "text_rnn_gru": Enc(lambda: E.text_rnn(30, 8, 5, seed=0), tokens, (10,)),
    "text_rnn_lstm": Enc(lambda: E.text_rnn(30, 8, 5, cell="lstm", bidirectional=False, seed=0),
                         tokens, (5,)),
    "text_cnn": Enc(lambda: E.text_cnn(30, 7, 8, 4, (2, 3), seed=0), tokens, (8,)),
    "text_transformer": Enc(lambda: E.text_transformer(30, 10, 8, 2, 12, seed=0), tokens, (8,)),
    "audio_cnn": Enc(lambda: E.audio_cnn((12, 8), (4,), 6, seed=0), lambda: normal((B, 12, 8)),
                     (6,)),
    "audio_cnn_logmel": Enc(lambda: E.audio_cnn(
        (800,), (4,), 6, frontend=LogMelSpectrogram(8000, 200, 100, n_mels=8), seed=0),
        lambda: normal((B, 800)), (6,)),
    "tabular_mlp": Enc(lambda: E.tabular_mlp(5, (8, 4), dropout=0.1, batch_norm=True, seed=0),
                       lambda: normal((B, 5)), (4,)),
    "pointnet": Enc(lambda: E.pointnet(10, 3, (8, 16), 6, seed=0), lambda: normal((B, 10, 3)),
                    (6,)),
    "video_mean": Enc(lambda: E.video_cnn((3, 8, 8, 3), (4,), 5, seed=0),
                      lambda: normal((B, 3, 8, 8, 3)), (5,)),
    "video_gru": Enc(lambda: E.video_cnn((3, 8, 8, 3), (4,), 5, temporal="gru", embed_dim=4,
                                         seed=0), lambda: normal((B, 3, 8, 8, 3)), (4,)),
}


@pytest.mark.parametrize("enc_id", list(ENCODERS))
def test_encoder_shape_gradients_and_save_load(enc_id, tmp_path):
    enc = ENCODERS[enc_id]
    model = enc.make()
    x = enc.data()
    assert isinstance(model, keras.Model)
    out = keras.ops.convert_to_numpy(model(x))
    assert out.shape == (B, *enc.out_shape)
    assert model.output_shape == (None, *enc.out_shape)
    # gradients of a random projection reach every trainable weight
    probe = tf.constant(normal((B, *enc.out_shape), seed=1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * probe)
    grads = tape.gradient(loss, model.trainable_weights)
    assert grads
    for w, g in zip(model.trainable_weights, grads, strict=True):
        assert g is not None, f"no gradient for {w.path}"
        assert np.any(tf.convert_to_tensor(g).numpy() != 0), f"zero gradient for {w.path}"
    # save / load round trip (after the training-mode call updated batch-norm statistics)
    out = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "enc.keras")
    loaded = keras.models.load_model(tmp_path / "enc.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), out)


def test_all_encoders_under_xla_and_a_jit_compiled_train_step():
    """All encoders in one XLA-compiled tf.function (one compile: fast) equal eager execution;
    a GRU-text + image-CNN classifier trains one step with jit_compile=True (backward in XLA).
    Plain SGD: Adam's per-variable update roughly doubles the XLA compile time of the step."""
    models = {k: e.make() for k, e in ENCODERS.items()}
    data = {k: e.data() for k, e in ENCODERS.items()}
    eager = {k: keras.ops.convert_to_numpy(models[k](x)) for k, x in data.items()}
    compiled = tf.function(lambda b: {k: models[k](x) for k, x in b.items()},
                           jit_compile=True)(data)
    for k in eager:
        np.testing.assert_allclose(compiled[k].numpy(), eager[k], rtol=1e-4, atol=1e-5,
                                   err_msg=k)
    text, image = E.text_rnn(30, 8, 5, seed=1), E.image_cnn((12, 12, 3), (4,), 6, seed=1)
    h = keras.layers.Concatenate()([text.output, image.output])
    model = keras.Model([text.input, image.input], keras.layers.Dense(2)(h))
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(True), jit_compile=True)
    before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch([tokens(), normal((B, 12, 12, 3))], np.array([0, 1, 0, 1]))
    assert np.isfinite(loss)
    for w, b in zip(model.trainable_weights, before, strict=True):
        assert np.any(w.numpy() != b), f"{w.path} not updated by the jit-compiled train step"


@pytest.mark.parametrize("make", [lambda: E.text_rnn(30, 8, 5, seed=0),
                                  lambda: E.text_rnn(30, 8, 5, cell="lstm", seed=0),
                                  lambda: E.text_transformer(30, 12, 8, 2, 12, seed=0)],
                         ids=["gru", "lstm", "transformer"])
def test_text_encoders_ignore_padding(make):
    model = make()
    ids = tokens(length=7)
    longer = np.concatenate([ids, np.zeros((B, 5), "int32")], axis=1)
    np.testing.assert_allclose(model(ids), model(longer), rtol=1e-5, atol=1e-6)


def test_transformer_pooling_is_masked_mean_and_seeds_reproduce():
    pooled = E.text_transformer(30, 10, 8, 2, 12, seed=3)
    seq = E.text_transformer(30, 10, 8, 2, 12, pooling=None, seed=3)
    first = E.text_transformer(30, 10, 8, 2, 12, pooling="first", seed=3)
    other = E.text_transformer(30, 10, 8, 2, 12, seed=4)
    ids = tokens()
    h = keras.ops.convert_to_numpy(seq(ids))
    assert h.shape == (B, 7, 8)
    ref = np.stack([h[b, ids[b] != 0].mean(0) for b in range(B)])
    np.testing.assert_allclose(pooled(ids), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first(ids), h[:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(other(ids), pooled(ids))


def test_positional_embedding_against_numpy():
    layer = E.PositionalEmbedding(vocab_size=20, max_length=6, embed_dim=4, seed=0)
    ids = np.array([[3, 5, 0, 0], [7, 1, 2, 0]], "int32")
    out = keras.ops.convert_to_numpy(layer(ids))
    tok = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    pos = keras.ops.convert_to_numpy(layer.position_embedding.embeddings)
    np.testing.assert_allclose(out, tok[ids] + pos[None, :4], rtol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(ids)), ids != 0)
    with pytest.raises(ValueError, match="sequence length 8 exceeds max_length=6"):
        layer(np.ones((1, 8), "int32"))


def test_transformer_block_never_attends_to_padding():
    block = E.TransformerEncoderBlock(num_heads=2, ff_dim=10, seed=0)
    x = normal((B, 6, 8))
    mask = np.ones((B, 6), bool)
    mask[:, 4:] = False
    out = keras.ops.convert_to_numpy(block(x, mask=mask))
    x2 = x.copy()
    x2[:, 4:] = 100.0 * normal((B, 2, 8), seed=2)
    out2 = keras.ops.convert_to_numpy(block(x2, mask=mask))
    np.testing.assert_allclose(out2[:, :4], out[:, :4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(keras.ops.convert_to_numpy(block(x2))[:, :4], out[:, :4])


def test_pointnet_is_permutation_invariant():
    model = E.pointnet(None, 3, (8, 16), 6, seed=0)
    pts = normal((B, 20, 3))
    perm = np.random.default_rng(1).permutation(20)
    np.testing.assert_allclose(model(pts[:, perm]), model(pts), rtol=1e-6, atol=1e-7)
    assert model(pts[:, :7]).shape == (B, 6)  # any number of points


def test_video_mean_pooling_equals_mean_of_frame_features():
    model = E.video_cnn((3, 8, 8, 3), (4,), 5, temporal="mean", seed=0)
    frame_encoder = model.get_layer("per_frame").layer
    clip = normal((B, 3, 8, 8, 3))
    frames = np.stack([keras.ops.convert_to_numpy(frame_encoder(clip[:, t])) for t in range(3)],
                      1)
    np.testing.assert_allclose(model(clip), frames.mean(1), rtol=1e-5, atol=1e-6)
    max_model = E.video_cnn((3, 8, 8, 3), (4,), 5, temporal="max", seed=0)
    np.testing.assert_allclose(max_model(clip), frames.max(1), rtol=1e-5, atol=1e-6)


def test_seeded_encoders_reproduce():
    a, b, c = (E.image_cnn((8, 8, 1), (4,), 3, seed=s) for s in (0, 0, 1))
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(a.get_weights()[0], c.get_weights()[0])
    # the i-th seeded part gets derive_seed(seed, "encoder", i): same-shaped layers differ, and
    # every seeded weight changes with the seed
    assert a.get_layer("conv0").kernel_initializer.seed == derive_seed(0, "encoder", 1)
    mlp0, mlp1 = E.tabular_mlp(6, (6, 6, 6), seed=0), E.tabular_mlp(6, (6, 6, 6), seed=1)
    kernels0 = [mlp0.get_layer(f"dense{i}").kernel.numpy() for i in range(3)]
    kernels1 = [mlp1.get_layer(f"dense{i}").kernel.numpy() for i in range(3)]
    for i in range(3):
        assert not np.allclose(kernels0[i], kernels1[i])
        for j in range(i):
            assert not np.allclose(kernels0[i], kernels0[j])


def test_text_cnn_variable_length_accepts_texts_shorter_than_its_kernels():
    enc = E.text_cnn(30, None, 8, 4, (2, 5), seed=0)
    for length in (1, 3, 9):
        assert tuple(enc(np.ones((2, length), "int32")).shape) == (2, 8)
    # one token then 4 zero vectors: conv2's windows are [token, 0] and [0, 0] (x3), so
    # max-over-time is max(relu(W[0] e + b), relu(b)) -- checked in numpy
    e = enc.get_layer("embedding").embeddings.numpy()[7]
    w, b = (v.numpy() for v in enc.get_layer("conv2").weights)
    ref = np.maximum(np.maximum(e @ w[0] + b, 0), np.maximum(b, 0))
    np.testing.assert_allclose(enc(np.array([[7]], "int32")).numpy()[0, :4], ref, rtol=1e-5,
                               atol=1e-6)


def test_encoder_bad_arguments():
    with pytest.raises(ValueError, match=r"filters must be a non-empty sequence"):
        E.image_cnn(filters=())
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of 3 positive sizes"):
        E.image_cnn(input_shape=(32, 32))
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm'\], got 'rnn'"):
        E.text_rnn(10, cell="rnn")
    with pytest.raises(ValueError, match=r"kernel_sizes must not exceed sequence_length=4"):
        E.text_cnn(10, 4, kernel_sizes=(3, 5))
    with pytest.raises(ValueError, match=r"pooling must be one of"):
        E.text_transformer(10, 5, pooling="max")
    with pytest.raises(ValueError, match=r"temporal must be one of"):
        E.video_cnn(temporal="lstm")
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0.0, 1.0\)"):
        E.tabular_mlp(3, dropout=1.5)
    with pytest.raises(ValueError, match=r"hidden\[1\] must be an integer >= 1, got 0"):
        E.pointnet(hidden=(4, 0))
    with pytest.raises(ValueError, match=r"vocab_size must be an integer >= 2"):
        E.text_rnn(1)
    with pytest.raises(ValueError, match=r"audio_cnn needs a \(batch, frames, n_mels\)"):
        E.audio_cnn((100,), frontend=keras.layers.Identity())
    with pytest.raises(TypeError, match="frontend must be a Keras layer"):
        E.audio_cnn((100,), frontend="logmel")
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of 3 .* got 32"):
        E.image_cnn(input_shape=32)
    with pytest.raises(ValueError, match="filters must be a non-empty sequence .* got None"):
        E.image_cnn(filters=None)
    with pytest.raises(ValueError, match="hidden must be a non-empty sequence .* got '8'"):
        E.tabular_mlp(3, hidden="8")


def test_encoder_layers_reject_wrong_shapes():
    emb = E.PositionalEmbedding(10, 5, 4)
    with pytest.raises(ValueError, match=r"token ids of shape \(batch, T\), got \(2, 3, 1\)"):
        emb(np.ones((2, 3, 1), "int32"))
    block = E.TransformerEncoderBlock(num_heads=2, ff_dim=6)
    x = normal((2, 3, 4))
    block(x)
    with pytest.raises(ValueError, match=r"built for inputs \(batch, T, 4\), got \(2, 3, 5\)"):
        block(normal((2, 3, 5)))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, T\) = \(2, 3\), got "
                                         r"\(2, 5\)"):
        block(x, mask=np.ones((2, 5), bool))


def test_image_cnn_learns_small_digits():
    """Flattening keeps where strokes are; with global average pooling (the old default) this
    CNN stayed near chance (0.16) on av_digits images, below logistic regression (0.73)."""
    from mmlib import data

    ds = data.load("av_digits", n_samples=700, seed=0)
    x, y = ds.modalities["image"], ds.labels["digit"]
    model = keras.Sequential([E.image_cnn(input_shape=(28, 28, 1), seed=0),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:560], y[:560], epochs=8, batch_size=32, verbose=0)
    acc = model.evaluate(x[560:], y[560:], verbose=0, return_dict=True)["accuracy"]
    assert acc > 0.45, acc
    with pytest.raises(ValueError, match="pooling must be one of"):
        E.image_cnn(pooling="time")
    with pytest.raises(ValueError, match="needs a known height and width"):
        E.image_cnn(input_shape=(None, None, 1), pooling="flatten")
