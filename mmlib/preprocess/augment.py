"""Paired augmentation: :class:`PairedAugment` draws **one** random flip / crop per sample and
applies it to every spatially aligned modality (RGB + depth, image + segmentation mask), so their
pixels stay aligned (特征对齐) after augmentation.

Text that describes an image's layout must follow a flip too: :func:`mirror_words` swaps
"left" and "right" (or any word pairs), :func:`flip_with_text` flips an image and mirrors its
texts together, and :func:`random_flip_with_text` does so with probability 0.5 from a stateless
seed (for ``tf.data`` pipelines, see :func:`mmlib.preprocess.multimodal_pipeline`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from mmlib._validate import check_choice, check_int
from mmlib.preprocess._params import pair

__all__ = ["PairedAugment", "flip_with_text", "mirror_words", "random_flip_with_text"]

LEFT_RIGHT: tuple[tuple[str, str], ...] = (("left", "right"),)
"""The word pairs a horizontal flip swaps by default."""


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
        self.crop_size = None if crop_size is None else pair("crop_size", crop_size)
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



# --------------------------------------------------------------------------------------------
# an image and the text that describes its layout
# --------------------------------------------------------------------------------------------


def _word_pairs(pairs: Any) -> tuple[tuple[str, str], ...]:
    """Check ``pairs``: a sequence of ``(word, word)`` pairs, lower-case letters, no word twice."""
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ValueError(f"pairs must be a non-empty sequence of (word, word) pairs, e.g. "
                         f"{LEFT_RIGHT}, got {pairs!r}.")
    out = []
    for pair_ in pairs:
        if (isinstance(pair_, str) or not isinstance(pair_, Sequence) or len(pair_) != 2
                or not all(isinstance(w, str) and re.fullmatch(r"[a-z]+", w) for w in pair_)):
            raise ValueError(f"pairs must hold (word, word) pairs of lower-case letters, got "
                             f"{pair_!r} in {pairs!r}.")
        out.append((pair_[0], pair_[1]))
    words = [w for p in out for w in p]
    if len(set(words)) != len(words):
        raise ValueError(f"pairs must name every word once, got {pairs!r}.")
    return tuple(out)


def _string_tensor(name: str, text: Any) -> tf.Tensor:
    try:
        text = tf.convert_to_tensor(text)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a string tensor (or strings), got "
                        f"{type(text).__name__}.") from None
    if text.dtype != tf.string:
        raise TypeError(f"{name} must be a string tensor (or strings), got dtype "
                        f"{text.dtype.name}.")
    return text


def mirror_words(text: Any, pairs: Sequence[tuple[str, str]] = LEFT_RIGHT) -> tf.Tensor:
    """Swap the two words of every pair in ``text``: the description of the mirrored scene.

    ``"a circle left of a square"`` → ``"a circle right of a square"``; whole words only
    (``"leftover"`` stays), lower-case text (standardise first, e.g. with
    :func:`mmlib.preprocess.standardize_caption`). Works inside ``tf.data`` and Keras graphs.

    Args:
        text: string tensor of any shape (or Python strings).
        pairs: the word pairs to swap, default ``(("left", "right"),)``; for a vertical flip
            use e.g. ``(("above", "below"), ("top", "bottom"))``.

    Returns:
        String tensor of the same shape.
    """
    pairs = _word_pairs(pairs)
    s = _string_tensor("text", text)
    for i, (a, b) in enumerate(pairs):
        mark = f"\x01{i}\x01"  # a placeholder no standardised text contains
        s = tf.strings.regex_replace(s, rf"\b{a}\b", mark)
        s = tf.strings.regex_replace(s, rf"\b{b}\b", a)
        s = tf.strings.regex_replace(s, mark, b)
    return s


def flip_with_text(image: Any, texts: Any, flip: Any,
                   pairs: Sequence[tuple[str, str]] = LEFT_RIGHT) -> tuple[Any, Any]:
    """Flip an image left-right and mirror the words of its texts, together, where ``flip``.

    A horizontal flip turns "a circle left of a square" into a false caption unless the text is
    mirrored too (:func:`mirror_words`); this function keeps image and texts consistent.

    Args:
        image: one image ``(H, W, C)`` with a scalar ``flip``, or a batch ``(batch, H, W, C)``
            with ``flip`` of shape ``(batch,)`` (or a scalar: the whole batch).
        texts: a string tensor or strings (``()`` for one image, ``(batch,)`` for a batch),
            or a dict or tuple of them (e.g. caption and question): every text is mirrored.
        flip: bool tensor, scalar or ``(batch,)``.
        pairs: the word pairs to swap (default "left" ↔ "right").

    Returns:
        ``(image, texts)`` with the same shapes and structure.
    """
    pairs = _word_pairs(pairs)
    image = tf.convert_to_tensor(image)
    if image.shape.rank not in (3, 4):
        raise ValueError(f"image must have shape (H, W, C) or (batch, H, W, C), got "
                         f"{tuple(image.shape)}.")
    flip = tf.convert_to_tensor(flip)
    if flip.dtype != tf.bool:
        raise TypeError(f"flip must be a bool tensor, got dtype {flip.dtype.name}.")
    if flip.shape.rank not in (0, 1) or (flip.shape.rank == 1 and image.shape.rank == 3):
        raise ValueError(f"flip must be a scalar (one image) or of shape (batch,) for a batch "
                         f"of images, got shape {tuple(flip.shape)} for image shape "
                         f"{tuple(image.shape)}.")
    image_flip = tf.reshape(flip, [-1, 1, 1, 1]) if flip.shape.rank == 1 else flip
    image = tf.where(image_flip, tf.reverse(image, axis=[-2]), image)

    def mirror(text: Any) -> tf.Tensor:
        text = _string_tensor("texts", text)
        return tf.where(flip, mirror_words(text, pairs), text)

    if isinstance(texts, Mapping):
        return image, {k: mirror(v) for k, v in texts.items()}
    if isinstance(texts, tuple):
        return image, tuple(mirror(v) for v in texts)
    return image, mirror(texts)


def random_flip_with_text(image: Any, texts: Any, seed: Any,
                          pairs: Sequence[tuple[str, str]] = LEFT_RIGHT) -> tuple[Any, Any]:
    """:func:`flip_with_text` with probability 0.5 per image, drawn from a stateless ``seed``.

    The same seed gives the same flips (``tf.random.stateless_uniform``), so a ``tf.data``
    pipeline that hands every element its own seed (``tf.data.Dataset.random``) is
    reproducible and still draws new flips every epoch.

    Args:
        image: ``(H, W, C)`` or ``(batch, H, W, C)``.
        texts: string tensor(s) describing the image (see :func:`flip_with_text`).
        seed: int tensor of shape ``(2,)``.
        pairs: the word pairs to swap (default "left" ↔ "right").

    Returns:
        ``(image, texts)``.
    """
    image = tf.convert_to_tensor(image)
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64) or not seed.shape.is_compatible_with((2,)):
        raise ValueError(f"seed must be an integer tensor of shape (2,), got dtype "
                         f"{seed.dtype.name} and shape {tuple(seed.shape)}.")
    shape = () if image.shape.rank == 3 else tf.shape(image)[:1]
    flip = tf.random.stateless_uniform(shape, seed) < 0.5
    return flip_with_text(image, texts, flip, pairs)
