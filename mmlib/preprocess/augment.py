"""Paired augmentation: :class:`PairedAugment` draws **one** random flip / crop per sample and
applies it to every spatially aligned modality (RGB + depth, image + segmentation mask), so their
pixels stay aligned (特征对齐) after augmentation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from mmlib._validate import check_choice, check_int
from mmlib.preprocess._params import pair

__all__ = ["PairedAugment"]


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

