"""Small, fast per-modality encoders (编码器) that turn raw modality tensors into feature vectors.

Each function returns a ``keras.Model`` mapping one modality to a feature vector ``(batch, dim)``
(``model.output_shape`` tells ``dim``), ready to feed a layer of :mod:`mmlib.fusion`. They are
deliberately tiny (a few thousand to tens of thousands of weights) so that the course notebooks
train on a 2-core CPU in seconds. Every function takes ``seed`` (weight initializers and dropout;
the ``i``-th seeded part gets ``mmlib._common.derive_seed(seed, "encoder", i)``, so the same seed
gives the same weights) and ``name``.

==========================  =======================================  ==========================
encoder                     input                                    output
==========================  =======================================  ==========================
:func:`image_cnn`           images ``(batch, H, W, C)``              ``(batch, embed_dim)``
:func:`text_rnn`            token ids ``(batch, T)``, 0 = padding    ``(batch, 2·units)``
:func:`text_cnn`            token ids ``(batch, T)``                 ``(batch, filters·K)``
:func:`text_transformer`    token ids ``(batch, T)``, 0 = padding    ``(batch, embed_dim)``
:func:`audio_cnn`           log-mel ``(batch, frames, mels)``        ``(batch, embed_dim)``
:func:`tabular_mlp`         features ``(batch, n_features)``         ``(batch, hidden[-1])``
:func:`pointnet`            points ``(batch, n_points, point_dim)``  ``(batch, embed_dim)``
:func:`video_cnn`           clips ``(batch, T, H, W, C)``            ``(batch, embed_dim)``
==========================  =======================================  ==========================

Two reusable layers support the Transformer encoder: :class:`PositionalEmbedding` (token plus
learned position embedding, with padding mask) and :class:`TransformerEncoderBlock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops

from mmlib._common import derive_seed
from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "PositionalEmbedding", "TransformerEncoderBlock", "audio_cnn", "image_cnn", "pointnet",
    "tabular_mlp", "text_cnn", "text_rnn", "text_transformer", "video_cnn",
]


class _Seeds:
    """Hands out distinct reproducible seeds, ``derive_seed(seed, "encoder", i)`` for the ``i``-th
    seeded part (``None`` stays ``None``: Keras' global seed)."""

    def __init__(self, seed: int | None) -> None:
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.i = 0

    def next(self) -> int | None:
        self.i += 1
        return derive_seed(self.seed, "encoder", self.i)

    def glorot(self) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=self.next())

    def he(self) -> keras.initializers.Initializer:
        return keras.initializers.HeNormal(seed=self.next())

    def uniform(self) -> keras.initializers.Initializer:
        return keras.initializers.RandomUniform(-0.05, 0.05, seed=self.next())


def _check_sizes(name: str, values: Sequence[int]) -> tuple[int, ...]:
    """A non-empty tuple of positive ints (a single int counts as a 1-tuple)."""
    if isinstance(values, int):
        values = (values,)
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got "
                         f"{values!r}.")
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got ().")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(values))


def _check_shape(name: str, shape: Sequence[int | None], rank: int) -> tuple:
    if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) != rank or any(
            d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1)
            for d in shape):
        raise ValueError(f"{name} must be a tuple of {rank} positive sizes (None allowed for "
                         f"variable sizes), got {shape!r}.")
    return tuple(shape)


def _check_cnn_args(filters: Sequence[int], embed_dim: int,
                    dropout: float) -> tuple[tuple[int, ...], int, float]:
    return (_check_sizes("filters", filters), check_int("embed_dim", embed_dim, minimum=1),
            check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False))


def _dropout(rate: float, seeds: _Seeds, x: Any) -> Any:
    return layers.Dropout(rate, seed=seeds.next())(x) if rate > 0 else x


CNN_POOLINGS = ("auto", "flatten", "avg", "max", "time")
"""How a CNN turns its last feature map into one vector (``pooling`` of the CNN encoders)."""


def _cnn_head(x: Any, filters: tuple[int, ...], embed_dim: int, dropout: float,
              batch_norm: bool, seeds: _Seeds, pooling: str = "auto") -> Any:
    """``[Conv3x3 → (BN) → ReLU → MaxPool2]`` per filter count, pooling, (dropout),
    ``Dense(embed_dim, relu)``: ``(batch, H, W, C)`` → ``(batch, embed_dim)``.

    ``pooling``: ``"flatten"`` keeps *where* each feature fired (needed when position matters,
    e.g. the strokes of a digit: a two-block CNN with global average pooling cannot tell a 6
    from a 9 and barely learns small digit images); ``"avg"`` / ``"max"``: global pooling
    (any H, W); ``"time"``: mean over axis 1 only (time of a spectrogram), keeping the frequency
    axis; ``"auto"``: ``"flatten"`` when H and W are known, else ``"avg"``.
    """
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm,
                          kernel_initializer=seeds.he(), name=f"conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    if pooling == "auto":
        pooling = "flatten" if None not in tuple(x.shape[1:3]) else "avg"
    if pooling == "flatten":
        if None in tuple(x.shape[1:3]):
            raise ValueError(f"pooling='flatten' needs a known height and width, got feature "
                             f"maps of shape {tuple(x.shape)}; use pooling='avg' or 'time'.")
        x = layers.Flatten(name="flatten")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="gmp")(x)
    else:  # "time": (batch, T', F', C) -> mean over T' -> (batch, F' * C)
        x = layers.Reshape((-1, x.shape[2] * x.shape[3]), name="time_major")(x)
        x = layers.GlobalAveragePooling1D(name="time_mean")(x)
    x = _dropout(dropout, seeds, x)
    return layers.Dense(embed_dim, activation="relu", kernel_initializer=seeds.he(),
                        name="embed")(x)


def image_cnn(input_shape: Sequence[int] = (32, 32, 3), filters: Sequence[int] = (16, 32),
              embed_dim: int = 64, dropout: float = 0.0, batch_norm: bool = False,
              pooling: str = "auto", seed: int | None = None,
              name: str = "image_cnn") -> keras.Model:
    """A small VGG-style image CNN: ``[Conv3x3 → (BN) → ReLU → MaxPool2]`` per entry of
    ``filters``, pooling (flatten by default), ``Dense(embed_dim, relu)``.

    Args:
        input_shape: ``(H, W, C)``, channels last (``None`` allowed for H and W).
        filters: number of filters of each conv block.
        embed_dim: size of the output feature.
        dropout: dropout rate before the last Dense layer, in [0, 1).
        batch_norm: add batch normalisation after each convolution.
        pooling: ``"auto"`` (flatten the last feature map when H and W are known, else global
            average), ``"flatten"``, ``"avg"`` or ``"max"``. Flattening keeps where features
            are; a two-block CNN with global average pooling reaches only ~0.16 on 800
            ``av_digits`` images where the flattened one reaches ~0.70 (10 epochs).
        seed: seed of initializers and dropout.
        name: model name.

    Returns:
        ``keras.Model``: ``(batch, H, W, C)`` → ``(batch, embed_dim)``.
    """
    input_shape = _check_shape("input_shape", input_shape, 3)
    filters, embed_dim, dropout = _check_cnn_args(filters, embed_dim, dropout)
    pooling = check_choice("pooling", pooling, CNN_POOLINGS[:4])
    inp = keras.Input(input_shape, name=f"{name}_input")
    out = _cnn_head(inp, filters, embed_dim, dropout, batch_norm, _Seeds(seed), pooling)
    return keras.Model(inp, out, name=name)


def text_rnn(vocab_size: int, embed_dim: int = 32, units: int = 32, cell: str = "gru",
             sequence_length: int | None = None, bidirectional: bool = True,
             return_sequences: bool = False, dropout: float = 0.0, seed: int | None = None,
             name: str = "text_rnn") -> keras.Model:
    """Token embedding + (bidirectional) GRU or LSTM.

    Token id 0 is padding: ``Embedding(mask_zero=True)`` masks it, so the recurrent layer skips
    padded steps (a sentence padded with more zeros encodes to the same vector). Bidirectional
    recurrent encoders: Schuster & Paliwal, 1997, "Bidirectional recurrent neural networks",
    IEEE Trans. Signal Processing; GRU: Cho et al., 2014, EMNLP; LSTM: Hochreiter & Schmidhuber,
    1997, Neural Computation.

    Args:
        vocab_size: number of token ids (including 0 = padding and 1 = OOV of TextVectorization).
        embed_dim: embedding size.
        units: hidden units per direction.
        cell: ``"gru"`` or ``"lstm"``.
        sequence_length: fixed length ``T`` (``None`` = variable).
        bidirectional: run the sequence both ways and concatenate the final states.
        return_sequences: return ``(batch, T, dim)`` (with padding mask) instead of the final state.
        dropout: dropout rate on the output, in [0, 1).
        seed: seed of initializers and dropout.
        name: model name.

    Returns:
        ``keras.Model``: int ``(batch, T)`` → ``(batch, 2·units)`` (``units`` if not
        bidirectional), or ``(batch, T, ·)`` with ``return_sequences``.
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    embed_dim = check_int("embed_dim", embed_dim, minimum=1)
    units = check_int("units", units, minimum=1)
    cell = check_choice("cell", cell, ("gru", "lstm"))
    if sequence_length is not None:
        sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False)
    seeds = _Seeds(seed)
    inp = keras.Input((sequence_length,), dtype="int32", name=f"{name}_input")
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True,
                         embeddings_initializer=seeds.uniform(), name="embedding")(inp)
    rnn_cls = layers.GRU if cell == "gru" else layers.LSTM
    rnn = rnn_cls(units, return_sequences=return_sequences, kernel_initializer=seeds.glorot(),
                  recurrent_initializer=keras.initializers.Orthogonal(seed=seeds.next()),
                  name=cell)
    if bidirectional:
        backward = rnn_cls(units, return_sequences=return_sequences, go_backwards=True,
                           kernel_initializer=seeds.glorot(),
                           recurrent_initializer=keras.initializers.Orthogonal(seed=seeds.next()),
                           name=f"{cell}_backward")
        rnn = layers.Bidirectional(rnn, backward_layer=backward, name=f"bi{cell}")
    x = rnn(x)
    x = _dropout(dropout, seeds, x)
    return keras.Model(inp, x, name=name)


def text_cnn(vocab_size: int, sequence_length: int | None = None, embed_dim: int = 32,
             filters: int = 16, kernel_sizes: Sequence[int] = (3, 4, 5), dropout: float = 0.0,
             seed: int | None = None, name: str = "text_cnn") -> keras.Model:
    """1-D CNN text encoder (Kim, 2014, "Convolutional Neural Networks for Sentence
    Classification", EMNLP): embedding, one ``Conv1D(filters, k, relu)`` per kernel size,
    max-over-time pooling, concatenation.

    Padding ids (0) are embedded like other tokens (convolutions do not take Keras masks); with
    ReLU and max pooling, padding rarely wins the max. With a fixed ``sequence_length`` it must be
    at least ``max(kernel_sizes)``; with a variable length (``None``) the embedded sequence is
    padded on the right with ``max(kernel_sizes) - 1`` zero vectors, so any length >= 1 works
    (the extra windows only see the real tokens and zeros).

    Returns:
        ``keras.Model``: int ``(batch, T)`` → ``(batch, filters · len(kernel_sizes))``.
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    if sequence_length is not None:
        sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    embed_dim = check_int("embed_dim", embed_dim, minimum=1)
    filters = check_int("filters", filters, minimum=1)
    kernel_sizes = _check_sizes("kernel_sizes", kernel_sizes)
    if sequence_length is not None and max(kernel_sizes) > sequence_length:
        raise ValueError(f"kernel_sizes must not exceed sequence_length={sequence_length}, got "
                         f"{kernel_sizes}.")
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False)
    seeds = _Seeds(seed)
    inp = keras.Input((sequence_length,), dtype="int32", name=f"{name}_input")
    emb = layers.Embedding(vocab_size, embed_dim, embeddings_initializer=seeds.uniform(),
                           name="embedding")(inp)
    if sequence_length is None and max(kernel_sizes) > 1:  # short texts fit every kernel
        emb = layers.ZeroPadding1D((0, max(kernel_sizes) - 1), name="pad_right")(emb)
    pooled = [layers.GlobalMaxPooling1D(name=f"maxpool{k}")(
        layers.Conv1D(filters, k, activation="relu", kernel_initializer=seeds.he(),
                      name=f"conv{k}")(emb)) for k in kernel_sizes]
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name="concat")(pooled)
    x = _dropout(dropout, seeds, x)
    return keras.Model(inp, x, name=name)


@keras.saving.register_keras_serializable(package="mmlib")
class PositionalEmbedding(layers.Layer):
    """Token embedding plus learned absolute position embedding (as in BERT, Devlin et al., 2019,
    NAACL), with a padding mask for token id 0.

    ``out[b, t] = E_tok[ids[b, t]] + E_pos[t]``; input int ``(batch, T)`` with
    ``T <= max_length``, output ``(batch, T, embed_dim)``, output mask ``ids != 0``.

    Args:
        vocab_size: number of token ids.
        max_length: longest sequence the position table covers.
        embed_dim: embedding size.
        mask_zero: emit the padding mask.
        seed: seed of the initializers.
    """

    def __init__(self, vocab_size: int, max_length: int, embed_dim: int, mask_zero: bool = True,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        self.max_length = check_int("max_length", max_length, minimum=1)
        self.embed_dim = check_int("embed_dim", embed_dim, minimum=1)
        self.mask_zero = bool(mask_zero)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        seeds = _Seeds(self.seed)
        self.token_embedding = layers.Embedding(self.vocab_size, self.embed_dim,
                                                embeddings_initializer=seeds.uniform(),
                                                name="token_embedding")
        self.position_embedding = layers.Embedding(self.max_length, self.embed_dim,
                                                   embeddings_initializer=seeds.uniform(),
                                                   name="position_embedding")

    def build(self, input_shape: Sequence) -> None:
        self._check_rank(input_shape)
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.max_length,))

    def _check_rank(self, shape: Sequence) -> None:
        if len(shape) != 2:
            raise ValueError(f"PositionalEmbedding expects token ids of shape (batch, T), got "
                             f"{tuple(shape)}.")

    def call(self, inputs: Any) -> Any:
        """Embed int ``(batch, T)`` → ``(batch, T, embed_dim)``."""
        self._check_rank(inputs.shape)
        length = inputs.shape[-1]
        if length is not None and length > self.max_length:
            raise ValueError(f"PositionalEmbedding: sequence length {length} exceeds "
                             f"max_length={self.max_length}.")
        positions = ops.arange(ops.shape(inputs)[-1])
        return self.token_embedding(inputs) + self.position_embedding(positions)[None]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Padding mask ``(batch, T)``: True where the token id is not 0."""
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, max_length=self.max_length,
                      embed_dim=self.embed_dim, mask_zero=self.mask_zero, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="mmlib")
class TransformerEncoderBlock(layers.Layer):
    """One Transformer encoder block (Vaswani et al., 2017, "Attention Is All You Need", NeurIPS),
    post-layer-norm as in the paper: ``x = LN(x + MHA(x, x, x))``, ``y = LN(x + FFN(x))`` with
    ``FFN(u) = relu(u W_1 + b_1) W_2 + b_2``.

    Input ``(batch, T, d)`` with an optional padding ``mask`` ``(batch, T)`` (taken from the
    Keras mask of the input, e.g. after :class:`PositionalEmbedding`): padded steps are never
    attended to. The mask is passed on to the output. Output ``(batch, T, d)``.

    Args:
        num_heads: attention heads; ``d`` need not be divisible (each head has ``key_dim``).
        ff_dim: hidden size of the feed-forward network.
        key_dim: size per head (default ``d // num_heads``, at least 1).
        dropout: dropout rate in [0, 1).
        seed: seed of initializers and dropout.
    """

    def __init__(self, num_heads: int = 2, ff_dim: int = 64, key_dim: int | None = None,
                 dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.ff_dim = check_int("ff_dim", ff_dim, minimum=1)
        self.key_dim = None if key_dim is None else check_int("key_dim", key_dim, minimum=1)
        self.dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0,
                                   include_max=False)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.supports_masking = True  # Keras passes the padding mask on to the output

    def build(self, input_shape: Sequence) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("TransformerEncoderBlock input must have shape (batch, T, d), got "
                             f"{input_shape}.")
        d = int(input_shape[-1])
        seeds = _Seeds(self.seed)
        self.attention = layers.MultiHeadAttention(
            self.num_heads, self.key_dim or max(1, d // self.num_heads), dropout=self.dropout,
            kernel_initializer=seeds.glorot(), seed=seeds.next(), name="attention")
        self.attention.build(input_shape, input_shape, input_shape)
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm1.build(input_shape)
        self.ff1 = layers.Dense(self.ff_dim, activation="relu", kernel_initializer=seeds.glorot(),
                                name="ff1")
        self.ff1.build(input_shape)
        self.ff2 = layers.Dense(d, kernel_initializer=seeds.glorot(), name="ff2")
        self.ff2.build(input_shape[:-1] + (self.ff_dim,))
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.norm2.build(input_shape)
        self.drop1 = layers.Dropout(self.dropout, seed=seeds.next())
        self.drop2 = layers.Dropout(self.dropout, seed=seeds.next())

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        """Encode ``(batch, T, d)`` → ``(batch, T, d)``; ``mask`` ``(batch, T)``, True = token."""
        d = self.ff2.units
        if len(inputs.shape) != 3 or inputs.shape[-1] != d:
            raise ValueError(f"TransformerEncoderBlock was built for inputs (batch, T, {d}), got "
                             f"{tuple(inputs.shape)}.")
        attention_mask = None
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            if len(mask.shape) != 2 or any(a is not None and b is not None and a != b for a, b
                                           in zip(mask.shape, inputs.shape[:2], strict=True)):
                raise ValueError(f"mask must have shape (batch, T) = {tuple(inputs.shape[:2])}, "
                                 f"got {tuple(mask.shape)}.")
            mask = ops.cast(mask, "bool")
            attention_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        # Fully masked rows (padding queries) would get uniform weights; they are ignored by
        # every mask-aware consumer downstream (pooling, the next block's keys).
        attended = self.attention(inputs, inputs, inputs, attention_mask=attention_mask,
                                  training=training)
        x = self.norm1(inputs + self.drop1(attended, training=training))
        y = self.ff2(self.ff1(x))
        return self.norm2(x + self.drop2(y, training=training))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, ff_dim=self.ff_dim, key_dim=self.key_dim,
                      dropout=self.dropout, seed=self.seed)
        return config


def text_transformer(vocab_size: int, sequence_length: int, embed_dim: int = 32,
                     num_heads: int = 2, ff_dim: int = 64, num_layers: int = 1,
                     dropout: float = 0.0, pooling: str | None = "mean",
                     seed: int | None = None, name: str = "text_transformer") -> keras.Model:
    """A small Transformer text encoder: :class:`PositionalEmbedding` (padding id 0 masked),
    ``num_layers`` × :class:`TransformerEncoderBlock`, then masked mean pooling over the real
    tokens (``pooling="mean"``), the first token (``"first"``, e.g. a [CLS]/start token), or no
    pooling (``None``: the masked sequence, e.g. for :class:`mmlib.fusion.CrossModalTransformer`).

    Args:
        vocab_size: number of token ids.
        sequence_length: longest sequence (size of the position table); inputs may be shorter.
        embed_dim, num_heads, ff_dim, num_layers, dropout: model size.
        pooling: ``"mean"``, ``"first"`` or ``None``.
        seed: seed of initializers and dropout.
        name: model name.

    Returns:
        ``keras.Model``: int ``(batch, T)`` → ``(batch, embed_dim)`` or ``(batch, T, embed_dim)``.
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    embed_dim = check_int("embed_dim", embed_dim, minimum=1)
    num_layers = check_int("num_layers", num_layers, minimum=1)
    pooling = check_choice("pooling", pooling, ("mean", "first", None))
    seeds = _Seeds(seed)
    inp = keras.Input((None,), dtype="int32", name=f"{name}_input")
    x = PositionalEmbedding(vocab_size, sequence_length, embed_dim, seed=seeds.next(),
                            name="positional_embedding")(inp)
    for i in range(num_layers):
        x = TransformerEncoderBlock(num_heads, ff_dim, dropout=dropout, seed=seeds.next(),
                                    name=f"encoder_block{i}")(x)
    if pooling == "mean":
        x = layers.GlobalAveragePooling1D(name="masked_mean")(x)
    elif pooling == "first":
        x = x[:, 0]
    return keras.Model(inp, x, name=name)


def audio_cnn(input_shape: Sequence[int | None] = (None, 32), filters: Sequence[int] = (16, 32),
              embed_dim: int = 64, dropout: float = 0.0, batch_norm: bool = False,
              frontend: layers.Layer | None = None, pooling: str = "time",
              seed: int | None = None, name: str = "audio_cnn") -> keras.Model:
    """A 2-D CNN over a log-mel spectrogram (time × mel treated as an image, as in Hershey et al.,
    2017, "CNN Architectures for Large-Scale Audio Classification", ICASSP).

    Args:
        input_shape: ``(frames, n_mels)`` of the log-mel input, or — with ``frontend`` — the
            shape the frontend takes (e.g. ``(n_samples,)`` for
            :class:`mmlib.preprocess.LogMelSpectrogram`).
        filters: filters of each ``Conv3x3 → (BN) → ReLU → MaxPool2`` block.
        embed_dim: output size.
        dropout: dropout before the last Dense layer.
        batch_norm: batch normalisation after each convolution.
        frontend: optional layer applied first, e.g. ``LogMelSpectrogram`` on raw waveforms.
        pooling: ``"time"`` (default: average over time, keep the mel axis — which frequencies
            sound matters, and any length works), ``"flatten"`` (fixed length), ``"avg"`` or
            ``"max"`` (global).
        seed: seed of initializers and dropout.
        name: model name.

    Returns:
        ``keras.Model``: ``(batch, frames, n_mels)`` (or the frontend's input) →
        ``(batch, embed_dim)``.
    """
    if frontend is None:
        input_shape = _check_shape("input_shape", input_shape, 2)
    elif not isinstance(frontend, layers.Layer):
        raise TypeError(f"frontend must be a Keras layer (e.g. LogMelSpectrogram(...)), got "
                        f"{type(frontend).__name__}.")
    else:
        rank = len(input_shape) if isinstance(input_shape, Sequence) else 1
        input_shape = _check_shape("input_shape", input_shape, max(rank, 1))
    filters, embed_dim, dropout = _check_cnn_args(filters, embed_dim, dropout)
    pooling = check_choice("pooling", pooling, CNN_POOLINGS[1:])
    inp = keras.Input(input_shape, name=f"{name}_input")
    x = frontend(inp) if frontend is not None else inp
    if len(x.shape) != 3:
        raise ValueError(f"audio_cnn needs a (batch, frames, n_mels) spectrogram, got shape "
                         f"{tuple(x.shape)}.")
    x = layers.Reshape((-1, x.shape[-1], 1) if x.shape[1] is None else (x.shape[1], x.shape[2], 1),
                       name="add_channel")(x)
    out = _cnn_head(x, filters, embed_dim, dropout, batch_norm, _Seeds(seed), pooling)
    return keras.Model(inp, out, name=name)


def tabular_mlp(n_features: int, hidden: Sequence[int] = (64, 32), dropout: float = 0.0,
                batch_norm: bool = False, seed: int | None = None,
                name: str = "tabular_mlp") -> keras.Model:
    """A multilayer perceptron for standardised tabular features (e.g. the output of
    :class:`mmlib.preprocess.TabularPreprocessor`): ``[Dense → (BN) → ReLU → (Dropout)]`` per entry
    of ``hidden``.

    Returns:
        ``keras.Model``: ``(batch, n_features)`` → ``(batch, hidden[-1])``.
    """
    n_features = check_int("n_features", n_features, minimum=1)
    hidden = _check_sizes("hidden", hidden)
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False)
    seeds = _Seeds(seed)
    inp = keras.Input((n_features,), name=f"{name}_input")
    x = inp
    for i, h in enumerate(hidden):
        x = layers.Dense(h, use_bias=not batch_norm, kernel_initializer=seeds.he(),
                         name=f"dense{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = _dropout(dropout, seeds, x)
    return keras.Model(inp, x, name=name)


def pointnet(n_points: int | None = None, point_dim: int = 3, hidden: Sequence[int] = (32, 64),
             embed_dim: int = 64, seed: int | None = None, name: str = "pointnet") -> keras.Model:
    """PointNet-style point-cloud encoder (Qi et al., 2017, "PointNet: Deep Learning on Point Sets
    for 3D Classification and Segmentation", CVPR), without the T-Net alignment: the same MLP is
    applied to every point (``Dense`` on the last axis = a 1×1 convolution), then a max over points
    (a symmetric function, so the output is invariant to the order of the points), then
    ``Dense(embed_dim, relu)``.

    Returns:
        ``keras.Model``: ``(batch, n_points, point_dim)`` → ``(batch, embed_dim)``.
    """
    if n_points is not None:
        n_points = check_int("n_points", n_points, minimum=1)
    point_dim = check_int("point_dim", point_dim, minimum=1)
    hidden = _check_sizes("hidden", hidden)
    embed_dim = check_int("embed_dim", embed_dim, minimum=1)
    seeds = _Seeds(seed)
    inp = keras.Input((n_points, point_dim), name=f"{name}_input")
    x = inp
    for i, h in enumerate(hidden):
        x = layers.Dense(h, activation="relu", kernel_initializer=seeds.he(),
                         name=f"shared_mlp{i}")(x)
    x = layers.GlobalMaxPooling1D(name="max_over_points")(x)
    out = layers.Dense(embed_dim, activation="relu", kernel_initializer=seeds.he(),
                       name="embed")(x)
    return keras.Model(inp, out, name=name)


def video_cnn(input_shape: Sequence[int | None] = (8, 32, 32, 3),
              filters: Sequence[int] = (8, 16), frame_dim: int = 32, temporal: str = "mean",
              embed_dim: int | None = None, seed: int | None = None,
              name: str = "video_cnn") -> keras.Model:
    """Video encoder: a frame CNN applied to every frame (``TimeDistributed``), then temporal
    pooling (``"mean"``/``"max"``) or a GRU over the frame features (``"gru"``), as in the
    late-pooling / recurrent baselines of Karpathy et al., 2014 ("Large-scale Video Classification
    with Convolutional Neural Networks", CVPR) and Donahue et al., 2015 (LRCN, CVPR).

    Args:
        input_shape: ``(T, H, W, C)`` (``None`` allowed for T).
        filters: filters of the frame CNN's conv blocks.
        frame_dim: size of each frame's feature.
        temporal: ``"mean"``, ``"max"`` or ``"gru"``.
        embed_dim: GRU units (``"gru"`` only; default ``frame_dim``).
        seed: seed of initializers.
        name: model name.

    Returns:
        ``keras.Model``: ``(batch, T, H, W, C)`` → ``(batch, frame_dim)`` (pooling) or
        ``(batch, embed_dim)`` (GRU).
    """
    input_shape = _check_shape("input_shape", input_shape, 4)
    filters = _check_sizes("filters", filters)
    frame_dim = check_int("frame_dim", frame_dim, minimum=1)
    temporal = check_choice("temporal", temporal, ("mean", "max", "gru"))
    embed_dim = frame_dim if embed_dim is None else check_int("embed_dim", embed_dim, minimum=1)
    seeds = _Seeds(seed)
    frame_in = keras.Input(input_shape[1:], name="frame")
    f = _cnn_head(frame_in, filters, frame_dim, 0.0, False, seeds)
    frame_encoder = keras.Model(frame_in, f, name=f"{name}_frame_encoder")
    inp = keras.Input(input_shape, name=f"{name}_input")
    x = layers.TimeDistributed(frame_encoder, name="per_frame")(inp)
    if temporal == "mean":
        x = layers.GlobalAveragePooling1D(name="temporal_mean")(x)
    elif temporal == "max":
        x = layers.GlobalMaxPooling1D(name="temporal_max")(x)
    else:
        x = layers.GRU(embed_dim, kernel_initializer=seeds.glorot(),
                       recurrent_initializer=keras.initializers.Orthogonal(seed=seeds.next()),
                       name="temporal_gru")(x)
    return keras.Model(inp, x, name=name)
