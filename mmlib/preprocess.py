"""Per-modality preprocessing (预处理): images, paired spatial modalities, text, audio, tables.

* Images: :func:`image_stats` (per-channel mean/std of a training set) and
  :func:`image_preprocessor` (resize → rescale → standardise as one Keras model).
* Paired spatial modalities (e.g. RGB + depth, image + segmentation mask):
  :class:`PairedAugment` draws **one** random flip/crop per sample and applies it to every
  modality, so pixels stay aligned (特征对齐) after augmentation.
* Text: :func:`standardize_caption` (lower-case, strip punctuation but keep numbers such as
  ``37.5`` and ``50%``) and :func:`make_text_vectorizer` (a ``TextVectorization`` adapted on a
  corpus).
* Audio: :class:`LogMelSpectrogram`, a Keras layer built on ``tf.signal`` (STFT → power →
  mel filterbank → log).
* Tables: :class:`TabularPreprocessor`, a scikit-learn style ``fit``/``transform`` that
  standardises numeric columns, one-hot encodes categorical ones and adds missing-value indicators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "LogMelSpectrogram", "PairedAugment", "TabularPreprocessor", "image_preprocessor",
    "image_stats", "make_text_vectorizer", "standardize_caption",
]


# ------------------------------------------------------------------------------------ images
def image_stats(images: np.ndarray, scale: float = 1.0 / 255.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``images * scale``.

    Args:
        images: ``(n, H, W, C)`` array (channels last), e.g. uint8 training images.
        scale: factor applied first (``1/255`` maps uint8 to [0, 1]).

    Returns:
        ``(mean, std)``, each of shape ``(C,)`` (float32); feed them to :func:`image_preprocessor`.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, H, W, C), got {images.shape}.")
    if images.dtype.kind not in "biuf":
        raise TypeError(f"images must hold numbers, got dtype {images.dtype}.")
    if images.size == 0:
        raise ValueError(f"images must hold at least one pixel, got shape {images.shape}.")
    x = images.astype(np.float64) * check_float("scale", scale, minimum=0.0, include_min=False)
    return x.mean(axis=(0, 1, 2)).astype(np.float32), x.std(axis=(0, 1, 2)).astype(np.float32)


def image_preprocessor(size: tuple[int, int] | None = None, scale: float = 1.0 / 255.0,
                       mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                       interpolation: str = "bilinear",
                       name: str = "image_preprocessor") -> keras.Sequential:
    """Image normalisation as one Keras model: ``Resizing(size)`` → ``x · scale`` →
    ``(x - mean) / std`` (per channel).

    Use the same preprocessor (same ``mean``/``std``, from :func:`image_stats` on the training
    split) for training, validation and test images.

    Args:
        size: ``(height, width)`` to resize to, or ``None`` to keep the size.
        scale: rescaling factor (``1/255`` for uint8 images).
        mean, std: per-channel statistics of the *scaled* images, or ``None`` to skip
            standardisation.
        interpolation: resizing method (``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``).
        name: model name.

    Returns:
        ``keras.Sequential``: ``(batch, H, W, C)`` → ``(batch, height, width, C)`` float32.
    """
    steps: list[keras.layers.Layer] = []
    if size is not None:
        h, w = _pair("size", size)
        check_choice("interpolation", interpolation, ("bilinear", "nearest", "bicubic", "area"))
        steps.append(keras.layers.Resizing(h, w, interpolation=interpolation, name="resize"))
    steps.append(keras.layers.Rescaling(check_float("scale", scale, minimum=0.0,
                                                    include_min=False), name="rescale"))
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together (both None to skip "
                         f"standardisation), got mean={mean!r}, std={std!r}.")
    if mean is not None:
        mean_a, std_a = _float_vector("mean", mean), _float_vector("std", std)
        if mean_a.shape != std_a.shape or not np.all(std_a > 0):
            raise ValueError(f"std must be positive and match mean's shape {mean_a.shape}, got "
                             f"{std_a.tolist()}.")
        norm = keras.layers.Normalization(mean=mean_a.tolist(), variance=(std_a ** 2).tolist(),
                                          name="standardize")
        # the statistics fix the number of channels: Keras reports a mismatch as a clear error
        norm.input_spec = keras.InputSpec(min_ndim=3, axes={-1: mean_a.size})
        steps.append(norm)
    return keras.Sequential(steps, name=name)


def _pair(name: str, value: Any) -> tuple[int, int]:
    """``(height, width)`` as two positive ints."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be (height, width), got {value!r}.")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(value))


def _float_vector(name: str, value: Any) -> np.ndarray:
    """A finite float32 vector (per-channel statistics)."""
    try:
        arr = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers (one per channel), got "
                         f"{value!r}.") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers, one per channel, got {arr.tolist()}.")
    return arr


@keras.saving.register_keras_serializable(package="mmlib")
class PairedAugment(keras.layers.Layer):
    """The same random flip and crop for every spatially aligned modality of a sample.

    Augmenting an RGB image and its depth map (or segmentation mask) independently would destroy
    their pixel correspondence; this layer draws one set of parameters per sample —
    horizontal flip, vertical flip, crop offset — and applies it to every input.

    Call it on a list or dict of tensors ``(batch, H, W, C_k)`` that share ``batch``, ``H`` and
    ``W`` (channels and dtypes may differ, e.g. float RGB and int labels); it returns the same
    structure with ``(batch, crop_h, crop_w, C_k)`` tensors. In training (``training=True``) it
    pads by ``pad`` pixels (``pad_mode`` ``"constant"`` zeros or ``"reflect"``), draws a random
    ``crop_size`` window and random flips; in inference it returns the centre crop and no flips.

    For inspection or for a NumPy check, :meth:`draw` returns the parameters of one batch and
    :meth:`apply` applies given parameters to one tensor.

    Args:
        crop_size: ``(crop_h, crop_w)``, default: the input size (then use ``pad`` to shift).
        pad: pixels of padding on each side before cropping.
        pad_mode: ``"constant"`` (zeros) or ``"reflect"``.
        flip_horizontal: flip left-right with probability 0.5.
        flip_vertical: flip up-down with probability 0.5.
        seed: seed of the layer's ``keras.random.SeedGenerator``.
    """

    def __init__(self, crop_size: tuple[int, int] | None = None, pad: int = 0,
                 pad_mode: str = "constant", flip_horizontal: bool = True,
                 flip_vertical: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crop_size = None if crop_size is None else _pair("crop_size", crop_size)
        self.pad = check_int("pad", pad, minimum=0)
        self.pad_mode = check_choice("pad_mode", pad_mode, ("constant", "reflect"))
        self.flip_horizontal = bool(flip_horizontal)
        self.flip_vertical = bool(flip_vertical)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _flatten(self, inputs: Any) -> tuple[list, list | None]:
        if isinstance(inputs, Mapping):
            keys = sorted(inputs)
            xs = [inputs[k] for k in keys]
        elif isinstance(inputs, (list, tuple)):
            keys, xs = None, list(inputs)
        else:
            keys, xs = None, [inputs]
        if not xs:
            raise ValueError(f"PairedAugment needs at least one (batch, H, W, C) tensor, got an "
                             f"empty {type(inputs).__name__}.")
        for i, x in enumerate(xs):
            if not (hasattr(x, "shape") and hasattr(x, "dtype")):
                raise TypeError(f"PairedAugment: input {i} must be a tensor or NumPy array "
                                f"(batch, H, W, C), got {type(x).__name__}.")
        return xs, keys

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the structure and dtypes of the inputs (clear errors), then call the layer."""
        self._flatten(inputs)  # clear errors before Keras' own checks
        return super().__call__(inputs, *args, **kwargs)

    def _sizes(self, xs: list) -> tuple[int, int]:
        for i, x in enumerate(xs):
            if len(x.shape) != 4:
                raise ValueError(f"PairedAugment: input {i} must have shape (batch, H, W, C), got "
                                 f"{tuple(x.shape)}.")
        hw = {tuple(x.shape[1:3]) for x in xs}
        if len(hw) != 1 or None in next(iter(hw)):
            raise ValueError("PairedAugment: all inputs must share a known height and width, got "
                             f"{[tuple(x.shape[1:3]) for x in xs]}.")
        batches = {x.shape[0] for x in xs if x.shape[0] is not None}
        if len(batches) > 1:
            raise ValueError(f"PairedAugment: all inputs must have the same batch size, got "
                             f"{[x.shape[0] for x in xs]}.")
        h, w = next(iter(hw))
        self._crop(h, w)
        if self.pad_mode == "reflect" and self.pad >= min(h, w):
            raise ValueError(f"pad={self.pad} must be smaller than the image size {(h, w)} for "
                             "pad_mode='reflect'.")
        return int(h), int(w)

    def _crop(self, height: int, width: int) -> tuple[int, int]:
        """The crop size for ``height × width`` inputs, checked against the padded size."""
        ch, cw = self.crop_size or (height, width)
        if ch > height + 2 * self.pad or cw > width + 2 * self.pad:
            raise ValueError(f"crop_size {(ch, cw)} is larger than the padded input "
                             f"{(height + 2 * self.pad, width + 2 * self.pad)}.")
        return ch, cw

    def draw(self, batch_size: Any, height: int, width: int) -> dict[str, Any]:
        """Draw one batch of parameters: bool ``flip_lr``, ``flip_ud`` and int ``top``,
        ``left`` (offsets into the padded image), each of shape ``(batch,)``."""
        if isinstance(batch_size, int):  # a Python int here; a scalar tensor inside call()
            check_int("batch_size", batch_size, minimum=0)
        height = check_int("height", height, minimum=1)
        width = check_int("width", width, minimum=1)
        ch, cw = self._crop(height, width)
        shape = (batch_size,)
        flip_lr = keras.random.uniform(shape, seed=self.seed_generator) < 0.5
        flip_ud = keras.random.uniform(shape, seed=self.seed_generator) < 0.5
        top = keras.random.randint(shape, 0, height + 2 * self.pad - ch + 1,
                                   seed=self.seed_generator)
        left = keras.random.randint(shape, 0, width + 2 * self.pad - cw + 1,
                                    seed=self.seed_generator)
        if not self.flip_horizontal:
            flip_lr = ops.zeros_like(flip_lr)
        if not self.flip_vertical:
            flip_ud = ops.zeros_like(flip_ud)
        return {"flip_lr": flip_lr, "flip_ud": flip_ud, "top": top, "left": left}

    def _center(self, batch_size: Any, height: int, width: int) -> dict[str, Any]:
        ch, cw = self._crop(height, width)
        zeros = ops.zeros((batch_size,), dtype="int32")
        return {"flip_lr": ops.cast(zeros, "bool"), "flip_ud": ops.cast(zeros, "bool"),
                "top": zeros + (height + 2 * self.pad - ch) // 2,
                "left": zeros + (width + 2 * self.pad - cw) // 2}

    def apply(self, x: Any, params: Mapping[str, Any]) -> Any:
        """Pad, crop at ``(top, left)`` and flip one ``(batch, H, W, C)`` tensor per ``params``
        (as returned by :meth:`draw`); returns ``(batch, crop_h, crop_w, C)``."""
        x = tf.convert_to_tensor(x)
        missing = [k for k in ("flip_lr", "flip_ud", "top", "left") if k not in params]
        if missing:
            raise ValueError(f"params lacks {missing}; pass the dict returned by draw().")
        h, w = self._sizes([x])
        n_params = tf.convert_to_tensor(params["top"]).shape[0]
        if n_params is not None and x.shape[0] is not None and n_params != x.shape[0]:
            raise ValueError(f"params were drawn for a batch of {n_params}, but x has batch size "
                             f"{x.shape[0]}.")
        ch, cw = self._crop(h, w)
        if self.pad:
            p = self.pad
            x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]],
                       mode="CONSTANT" if self.pad_mode == "constant" else "REFLECT")
        rows = tf.cast(params["top"], "int32")[:, None] + tf.range(ch)[None, :]
        cols = tf.cast(params["left"], "int32")[:, None] + tf.range(cw)[None, :]
        x = tf.gather(x, rows, axis=1, batch_dims=1)
        x = tf.gather(x, cols, axis=2, batch_dims=1)
        x = tf.where(tf.reshape(params["flip_lr"], (-1, 1, 1, 1)), tf.reverse(x, [2]), x)
        return tf.where(tf.reshape(params["flip_ud"], (-1, 1, 1, 1)), tf.reverse(x, [1]), x)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Augment a list/dict (or a single tensor) of aligned ``(batch, H, W, C_k)`` tensors."""
        xs, keys = self._flatten(inputs)
        xs = [tf.convert_to_tensor(x) for x in xs]
        h, w = self._sizes(xs)
        batch = tf.shape(xs[0])[0]
        params = self.draw(batch, h, w) if training else self._center(batch, h, w)
        out = [self.apply(x, params) for x in xs]
        if keys is not None:
            return dict(zip(keys, out, strict=True))
        if isinstance(inputs, (list, tuple)):
            return out
        return out[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(crop_size=self.crop_size, pad=self.pad, pad_mode=self.pad_mode,
                      flip_horizontal=self.flip_horizontal, flip_vertical=self.flip_vertical,
                      seed=self.seed)
        return config


# -------------------------------------------------------------------------------------- text
@keras.saving.register_keras_serializable(package="mmlib")
def standardize_caption(text: Any) -> Any:
    """Standardise captions and clinical-style notes for ``TextVectorization``.

    Rules, in order: lower-case (Unicode-aware); drop apostrophes (``patient's`` → ``patients``);
    replace every character that is not a letter, digit, ``.``, ``%`` or whitespace by a space
    (``120/80`` → ``120 80``, ``left-sided`` → ``left sided``); keep ``.`` only between two digits
    (``37.5`` stays, a sentence-final ``.`` goes); collapse runs of whitespace and strip the ends.
    Unlike Keras' default ``"lower_and_strip_punctuation"`` this keeps decimal numbers and
    percentages intact, which matter in measurements.

    Args:
        text: string tensor of any shape.

    Returns:
        String tensor of the same shape.
    """
    if not isinstance(text, tf.Tensor):
        try:
            text = tf.convert_to_tensor(text)
        except (TypeError, ValueError):
            raise TypeError(f"text must be a string tensor (or strings), got "
                            f"{type(text).__name__}.") from None
    if text.dtype != tf.string:
        raise TypeError(f"text must be a string tensor (or strings), got dtype "
                        f"{text.dtype.name}.")
    s = tf.strings.lower(text, encoding="utf-8")
    s = tf.strings.regex_replace(s, "['\u2019]", "")
    s = tf.strings.regex_replace(s, r"[^\pL\pN\s.%]", " ")
    s = tf.strings.regex_replace(s, r"\.(\D|$)", r" \1")
    s = tf.strings.regex_replace(s, r"(^|\D)\.", r"\1 ")
    s = tf.strings.regex_replace(s, r"\s+", " ")
    return tf.strings.strip(s)


def make_text_vectorizer(corpus: Iterable[str] | np.ndarray, max_tokens: int | None = None,
                         sequence_length: int | None = None, output_mode: str = "int",
                         ngrams: int | None = None, standardize: Any = "caption",
                         name: str = "text_vectorizer") -> keras.layers.TextVectorization:
    """A ``keras.layers.TextVectorization`` adapted on ``corpus``.

    The vocabulary is built from the training corpus only (``adapt``): index 0 is padding,
    1 is ``[UNK]`` (out of vocabulary), then tokens by decreasing frequency (Keras breaks ties
    by reverse token order). Use the result as the first
    layer of a text model or in ``tf.data`` (``ds.map(lambda t, y: (vectorizer(t), y))``).

    Args:
        corpus: training texts (list, array or ``tf.data.Dataset`` of strings).
        max_tokens: vocabulary size cap, including padding and ``[UNK]`` (``None`` = no cap).
        sequence_length: pad/truncate ``"int"`` outputs to this length (``None`` = longest in
            the batch).
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        ngrams: also index n-grams up to this length.
        standardize: ``"caption"`` (:func:`standardize_caption`), any value accepted by
            ``TextVectorization`` (e.g. ``"lower_and_strip_punctuation"``, ``None``) or a
            registered callable.
        name: layer name.

    Returns:
        The adapted layer: strings ``(batch,)`` → int ``(batch, sequence_length)`` (``"int"``) or
        float ``(batch, vocabulary_size)``.
    """
    output_mode = check_choice("output_mode", output_mode, ("int", "multi_hot", "count", "tf_idf"))
    if max_tokens is not None:
        max_tokens = check_int("max_tokens", max_tokens, minimum=3)
    if sequence_length is not None:
        sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    if ngrams is not None:
        ngrams = check_int("ngrams", ngrams, minimum=1)
    if isinstance(corpus, str):
        raise ValueError("corpus must be a collection of texts, got a single string.")
    if not isinstance(corpus, (Iterable, tf.data.Dataset)):
        raise ValueError(f"corpus must be a collection of texts (list, array or tf.data.Dataset "
                         f"of strings), got {type(corpus).__name__}.")
    if not isinstance(corpus, tf.data.Dataset):
        corpus = np.asarray(list(corpus), dtype=object).astype(str)
        if corpus.size == 0:
            raise ValueError("corpus must contain at least one text, got an empty collection.")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_caption if standardize == "caption"
        else standardize, output_mode=output_mode, output_sequence_length=sequence_length
        if output_mode == "int" else None, ngrams=ngrams, name=name)
    layer.adapt(corpus)
    return layer


# ------------------------------------------------------------------------------------- audio
@keras.saving.register_keras_serializable(package="mmlib")
class LogMelSpectrogram(keras.layers.Layer):
    """Log-mel spectrogram of raw waveforms, built on ``tf.signal``.

    ``frames = frame(x, frame_length, frame_step)``, windowed by a periodic Hann window and
    zero-padded to ``fft_length``; ``S = |rfft(frames)|^power`` (power spectrum for ``power=2``);
    ``M = S · W_mel`` with ``W_mel = tf.signal.linear_to_mel_weight_matrix`` (HTK mel scale
    ``mel(f) = 1127·ln(1 + f/700)``, triangular filters with peak 1); output
    ``log(M + log_offset)``.
    The mel scale is from Stevens, Volkmann & Newman, 1937, "A Scale for the Measurement of the
    Psychological Magnitude Pitch", JASA.

    Input ``(batch, n_samples)`` float; output ``(batch, frames, n_mels)`` with
    ``frames = 1 + (n_samples - frame_length) // frame_step``.

    Args:
        sample_rate: samples per second.
        frame_length: window length in samples (e.g. 25 ms).
        frame_step: hop in samples (e.g. 10 ms).
        fft_length: FFT size (default: the next power of two ≥ ``frame_length``).
        n_mels: number of mel bands.
        fmin, fmax: band limits in Hz (``fmax`` default ``sample_rate / 2``).
        power: exponent of the magnitude (1 = magnitude, 2 = power).
        log_offset: added before the log to avoid ``log(0)``.
    """

    def __init__(self, sample_rate: int = 16000, frame_length: int = 400, frame_step: int = 160,
                 fft_length: int | None = None, n_mels: int = 40, fmin: float = 0.0,
                 fmax: float | None = None, power: float = 2.0, log_offset: float = 1e-6,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sample_rate = check_int("sample_rate", sample_rate, minimum=1)
        self.frame_length = check_int("frame_length", frame_length, minimum=1)
        self.frame_step = check_int("frame_step", frame_step, minimum=1)
        if fft_length is None:
            fft_length = 1 << (self.frame_length - 1).bit_length()
        self.fft_length = check_int("fft_length", fft_length, minimum=self.frame_length)
        self.n_mels = check_int("n_mels", n_mels, minimum=1)
        nyquist = self.sample_rate / 2.0
        self.fmax = nyquist if fmax is None else check_float("fmax", fmax, minimum=0.0,
                                                               maximum=nyquist)
        self.fmin = check_float("fmin", fmin, minimum=0.0, maximum=self.fmax, include_max=False)
        self.power = check_float("power", power, minimum=0.0, include_min=False)
        self.log_offset = check_float("log_offset", log_offset, minimum=0.0, include_min=False)
        self.mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            self.n_mels, self.fft_length // 2 + 1, self.sample_rate, self.fmin, self.fmax)

    def n_frames(self, n_samples: int) -> int:
        """Number of output frames for ``n_samples`` (>= ``frame_length``) input samples."""
        n_samples = check_int("n_samples", n_samples, minimum=self.frame_length)
        return 1 + (n_samples - self.frame_length) // self.frame_step

    def _check(self, shape: Sequence) -> None:
        if len(shape) != 2:
            raise ValueError(f"LogMelSpectrogram expects waveforms of shape (batch, n_samples), "
                             f"got {tuple(shape)}.")
        if shape[1] is not None and shape[1] < self.frame_length:
            raise ValueError(f"LogMelSpectrogram needs at least frame_length={self.frame_length} "
                             f"samples, got {shape[1]}.")

    def build(self, input_shape: Sequence) -> None:
        self._check(tuple(input_shape))

    def call(self, inputs: Any) -> Any:
        """Waveforms ``(batch, n_samples)`` → log-mel ``(batch, frames, n_mels)``."""
        inputs = tf.convert_to_tensor(inputs)
        if not (inputs.dtype.is_floating or inputs.dtype.is_integer):
            raise TypeError(f"LogMelSpectrogram expects numeric waveforms, got dtype "
                            f"{inputs.dtype.name}.")
        x = tf.cast(inputs, "float32")
        self._check(tuple(x.shape))
        stft = tf.signal.stft(x, self.frame_length, self.frame_step, self.fft_length,
                              window_fn=tf.signal.hann_window, pad_end=False)
        spec = tf.abs(stft) ** self.power
        mel = tf.tensordot(spec, self.mel_matrix, axes=1)
        return tf.cast(tf.math.log(mel + self.log_offset), self.compute_dtype)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        n = input_shape[1]
        return (input_shape[0], None if n is None else self.n_frames(n), self.n_mels)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, frame_length=self.frame_length,
                      frame_step=self.frame_step, fft_length=self.fft_length, n_mels=self.n_mels,
                      fmin=self.fmin, fmax=self.fmax, power=self.power,
                      log_offset=self.log_offset)
        return config


# ------------------------------------------------------------------------------------ tables
def _is_missing(values: np.ndarray) -> np.ndarray:
    """Elementwise missing test for object or numeric arrays (None, NaN, pd.NA, NaT)."""
    try:
        import pandas as pd

        return np.asarray(pd.isna(values), dtype=bool)
    except ImportError:  # pragma: no cover - pandas is a dependency
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])


class TabularPreprocessor:
    """Standardise numeric columns, one-hot encode categorical columns, flag missing values.

    scikit-learn style: :meth:`fit` learns the statistics on training rows, :meth:`transform`
    applies them to any rows, giving a float32 matrix ``(n, n_features_out_)`` in this column
    order:

    1. numeric columns, standardised: ``(x - mean_) / scale_`` with the mean and population
       standard deviation computed **ignoring missing values**; a missing value becomes 0 (the
       mean); ``scale_`` is 1 for constant columns;
    2. for ``indicators="all"``, one 0/1 indicator per numeric column (``"<col>__missing"``), 1
       where the value was missing (``"missing-only"``: only for columns with missing values in
       ``fit``; ``"none"``: no indicators);
    3. per categorical column, one-hot columns for the categories seen in ``fit``
       (``"<col>=<category>"``, sorted) and — unless ``indicators="none"`` — one
       ``"<col>=__missing__"`` column. A category not seen in ``fit`` encodes as all zeros.

    Args:
        numeric: names (DataFrame) or indices (array) of numeric columns; default: every
            column with a numeric dtype (a DataFrame) or every column (an array).
        categorical: categorical columns; default: the non-numeric columns of a DataFrame.
        indicators: ``"all"`` (default: same output layout whatever the data),
            ``"missing-only"`` or ``"none"``.

    Fitted attributes: ``numeric_columns_``, ``categorical_columns_``, ``mean_``, ``scale_``,
    ``categories_`` (list of arrays), ``indicator_columns_``, ``n_features_in_``,
    ``feature_names_in_`` (DataFrame input), ``n_features_out_``.
    """

    def __init__(self, numeric: Sequence[Any] | None = None,
                 categorical: Sequence[Any] | None = None, indicators: str = "all") -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.indicators = check_choice("indicators", indicators, ("all", "missing-only", "none"))

    # helpers
    @staticmethod
    def _columns(X: Any) -> tuple[list[Any], dict[Any, np.ndarray], bool]:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            pd = None
        if pd is not None and isinstance(X, pd.DataFrame):
            return list(X.columns), {c: X[c].to_numpy() for c in X.columns}, True
        arr = np.asarray(X, dtype=object if np.asarray(X).dtype.kind in "OUS" else None)
        if arr.ndim != 2:
            raise ValueError(f"X must be a 2-D array or a DataFrame, got shape {arr.shape}.")
        return list(range(arr.shape[1])), {i: arr[:, i] for i in range(arr.shape[1])}, False

    @staticmethod
    def _as_float(col: Any, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, np.nan, dtype=np.float64)
        miss = _is_missing(values)
        try:
            out[~miss] = np.asarray(values[~miss], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"numeric column {col!r} holds non-numeric values: {err}") from None
        return out

    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn means, scales and categories from ``X`` (``(n, n_columns)`` DataFrame/array)."""
        names, cols, is_frame = self._columns(X)
        if not cols:
            raise ValueError("X must contain at least one column, got 0 columns.")
        if len(next(iter(cols.values()))) == 0:
            raise ValueError("X must contain at least one row, got 0 rows.")
        numeric, categorical = self.numeric, self.categorical
        for role, chosen in (("numeric", numeric), ("categorical", categorical)):
            if isinstance(chosen, str) or not (chosen is None or isinstance(chosen, Iterable)):
                raise ValueError(f"{role} must be a list of column names or indices, got "
                                 f"{chosen!r} (write [{chosen!r}] for one column).")
        if numeric is None and categorical is None:
            if is_frame:
                numeric = [c for c in names if np.asarray(cols[c]).dtype.kind in "biuf"
                           and np.asarray(cols[c]).dtype.kind != "b"]
                categorical = [c for c in names if c not in numeric]
            else:
                numeric, categorical = names, []
        elif numeric is None:
            numeric = [c for c in names if c not in list(categorical)]
        elif categorical is None:
            categorical = [c for c in names if c not in list(numeric)]
        numeric, categorical = list(numeric), list(categorical)
        for role, chosen in (("numeric", numeric), ("categorical", categorical)):
            unknown = [c for c in chosen if c not in cols]
            if unknown:
                raise ValueError(f"{role} names columns {unknown} that X does not have "
                                 f"(columns: {names}).")
            repeated = sorted({c for c in chosen if chosen.count(c) > 1}, key=str)
            if repeated:
                raise ValueError(f"{role} names the columns {repeated} more than once.")
        both = set(numeric) & set(categorical)
        if both:
            raise ValueError(f"columns {sorted(both, key=str)} are both numeric and categorical.")
        self.numeric_columns_, self.categorical_columns_ = numeric, categorical
        self.n_features_in_ = len(names)
        if is_frame:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        means, scales, ind = [], [], []
        for c in numeric:
            v = self._as_float(c, cols[c])
            ok = ~np.isnan(v)
            mean = float(v[ok].mean()) if ok.any() else 0.0
            std = float(v[ok].std()) if ok.any() else 0.0
            means.append(mean)
            scales.append(std if std > 0 else 1.0)
            if self.indicators == "all" or (self.indicators == "missing-only" and not ok.all()):
                ind.append(c)
        self.mean_ = np.asarray(means, dtype=np.float64)
        self.scale_ = np.asarray(scales, dtype=np.float64)
        self.indicator_columns_ = ind
        self.categories_ = []
        for c in categorical:
            v = cols[c]
            seen = v[~_is_missing(v)]
            self.categories_.append(np.asarray(sorted(set(seen.tolist()), key=str),
                                               dtype=object))
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise ValueError("This TabularPreprocessor is not fitted yet; call fit(X) first.")

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the output columns, in order (object array)."""
        self._check_fitted()
        names = [str(c) for c in self.numeric_columns_]
        names += [f"{c}__missing" for c in self.indicator_columns_]
        for c, cats in zip(self.categorical_columns_, self.categories_, strict=True):
            names += [f"{c}={k}" for k in cats]
            if self.indicators != "none":
                names.append(f"{c}=__missing__")
        return np.asarray(names, dtype=object)

    def transform(self, X: Any) -> np.ndarray:
        """Apply the fitted preprocessing: ``(n, n_columns)`` → float32 ``(n, n_features_out_)``."""
        self._check_fitted()
        names, cols, is_frame = self._columns(X)
        needed = self.numeric_columns_ + self.categorical_columns_
        missing_cols = [c for c in needed if c not in cols]
        if missing_cols:
            raise ValueError(f"X lacks the fitted columns {missing_cols} (has {names}).")
        if not is_frame and len(names) != self.n_features_in_:
            raise ValueError(f"X has {len(names)} columns, but the preprocessor was fitted on "
                             f"{self.n_features_in_}.")
        n = len(next(iter(cols.values()))) if cols else 0
        blocks = []
        miss_num = {}
        for i, c in enumerate(self.numeric_columns_):
            v = self._as_float(c, cols[c])
            miss_num[c] = np.isnan(v)
            z = (v - self.mean_[i]) / self.scale_[i]
            blocks.append(np.where(miss_num[c], 0.0, z)[:, None])
        for c in self.indicator_columns_:
            blocks.append(miss_num[c].astype(np.float64)[:, None])
        for c, cats in zip(self.categorical_columns_, self.categories_, strict=True):
            v = cols[c]
            miss = _is_missing(v)
            values = np.asarray(v, dtype=object)
            onehot = np.zeros((n, len(cats)), dtype=np.float64)
            for j, k in enumerate(cats):
                onehot[:, j] = (~miss) & np.asarray([val == k for val in values], dtype=bool)
            blocks.append(onehot)
            if self.indicators != "none":
                blocks.append(miss.astype(np.float64)[:, None])
        if not blocks:
            return np.zeros((n, 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X, y).transform(X)

    def __repr__(self) -> str:
        return (f"TabularPreprocessor(numeric={self.numeric!r}, categorical={self.categorical!r}, "
                f"indicators={self.indicators!r})")

