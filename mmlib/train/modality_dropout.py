"""ModalityDropout: drop whole modalities at random during training (ModDrop).

Reference: N. Neverova, C. Wolf, G. Taylor, F. Nebout, "ModDrop: adaptive multi-modal gesture
recognition", IEEE Transactions on Pattern Analysis and Machine Intelligence 38(8), 2016.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
from keras import ops

from mmlib._common import check_modality_inputs, check_same_modalities, mask_columns, presence_mask
from mmlib._validate import check_float, check_int
from mmlib.train._shared import check_same_batch

__all__ = ["ModalityDropout"]


def _modality_items(inputs: Any, name: str = "inputs") -> tuple[list[str] | None, list[Any]]:
    """Split a list/tuple/dict of modality tensors into (names or None, tensors).

    A dict is read in :func:`mask_columns` order (the column order of the presence mask).
    """
    if isinstance(inputs, Mapping):
        if len(inputs) == 0:
            raise ValueError(f"{name} must hold at least one modality, got an empty dict.")
        by_name = {str(k): k for k in inputs}
        names = mask_columns(by_name)
        return names, [inputs[by_name[n]] for n in names]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 0:
            raise ValueError(f"{name} must hold at least one modality, got an empty list.")
        return None, list(inputs)
    raise ValueError(f"{name} must be a list, tuple or dict of modality tensors, got "
                     f"{type(inputs).__name__}.")


def _broadcast_column(column: Any, like: Any) -> Any:
    """Reshape a (batch,) column so that it broadcasts against ``like`` (batch, ...)."""
    rank = len(like.shape)
    return ops.reshape(column, (-1,) + (1,) * (rank - 1))


@keras.saving.register_keras_serializable(package="mmlib")
class ModalityDropout(keras.layers.Layer):
    """Drop whole modalities at random during training (ModDrop, 模态丢弃).

    During training every modality of every sample is dropped independently with probability
    ``p`` (its tensor is multiplied by 0); the layer also returns the resulting mask of kept
    modalities so that a mask-aware fusion layer can ignore the dropped ones. At inference it is
    the identity (apart from zeroing modalities that an optional ``modality_mask`` marks missing).
    Unlike ``keras.layers.Dropout`` the kept modalities are **not** rescaled by ``1/(1-p)``: a
    modality is either there or not, as at test time when a sensor fails.

    Reference: N. Neverova, C. Wolf, G. Taylor, F. Nebout, "ModDrop: adaptive multi-modal gesture
    recognition", IEEE Transactions on Pattern Analysis and Machine Intelligence 38(8), 2016.

    Args:
        p: drop probability of each modality, in ``[0, 1)``.
        keep_at_least_one: if True (default) a sample whose modalities were all dropped gets one
            of its *present* modalities back, chosen uniformly at random. The effective drop rate
            of a modality (M modalities, all present) is then ``p - p**M / M`` instead of ``p``.
        seed: seed of the layer's ``keras.random.SeedGenerator`` (non-negative int or None).

    Call arguments:
        inputs: list/tuple of M tensors ``[(batch, ...), ...]`` or a dict of them. As in
            :mod:`mmlib.fusion`, a dict is ordered by :func:`mmlib._common.mask_columns` of its
            keys (the sorted names; ``modality_names`` holds that order after the first call) and
            column m of the masks belongs to the m-th name. Integer tensors (token ids) are zeroed
            too. All modalities, and the mask, must have the same batch size: known
            sizes that differ raise ``ValueError``; inside a ``tf.function`` whose batch size is
            unknown when traced the check runs in the graph and raises
            ``tf.errors.InvalidArgumentError`` (see :func:`mmlib.fusion.assert_same_batch`).
        modality_mask: optional ``(batch, M)`` presence mask, bool or 0/1 (1 = present). Missing
            modalities are zeroed in training and at inference and never count as kept. (Named
            like the argument of the fusion layers, not ``mask``, which Keras reserves for
            per-timestep padding masks.)
        training: Keras training flag.

    Returns:
        ``(outputs, kept_mask)``: ``outputs`` has the structure of ``inputs`` with the dropped
        (or missing) modalities zeroed; ``kept_mask`` is a float ``(batch, M)`` tensor.
    """

    def __init__(self, p: float = 0.25, *, keep_at_least_one: bool = True,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.p = check_float("p", p, minimum=0.0, maximum=1.0, include_max=False)
        if not isinstance(keep_at_least_one, bool):
            raise TypeError(f"keep_at_least_one must be a bool, got {keep_at_least_one!r}.")
        self.keep_at_least_one = keep_at_least_one
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.num_modalities: int | None = None
        self.modality_names: tuple[str, ...] | None = None

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the structure and dtypes of the inputs (clear errors), then call the layer."""
        check_modality_inputs("ModalityDropout", inputs, numeric=False)
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        if not input_shape:
            raise ValueError("ModalityDropout inputs must hold at least one modality, got "
                             f"{input_shape!r}.")
        if isinstance(input_shape, Mapping):
            self.num_modalities = len(input_shape)
            self.modality_names = tuple(mask_columns(input_shape))
        elif isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple)):
            self.num_modalities = len(input_shape)
        else:
            raise ValueError("ModalityDropout expects inputs as a list or dict of modality "
                             f"tensors, got a single tensor of shape {input_shape}.")
        self.built = True

    def call(self, inputs: Any, modality_mask: Any = None,
             training: bool | None = None) -> tuple[Any, Any]:
        keys, tensors = _modality_items(inputs)
        m = len(tensors)
        check_same_modalities("ModalityDropout", self.num_modalities, self.modality_names, m,
                               keys)
        tensors = [ops.convert_to_tensor(t) for t in tensors]
        for i, t in enumerate(tensors):
            if len(t.shape) == 0:
                raise ValueError(f"ModalityDropout: modality {i} must have a batch axis "
                                 f"(batch, ...), got a scalar.")
        mask = (None if modality_mask is None else
                presence_mask("ModalityDropout", modality_mask, m, tensors[0].shape[0]))
        tensors, mask = check_same_batch("ModalityDropout", tensors, keys, mask)
        batch = ops.shape(tensors[0])[0]
        if mask is None:
            present = ops.ones((batch, m), dtype="float32")
        else:
            present = ops.cast(mask, "float32")
        if training and self.p > 0.0:
            u = keras.random.uniform((batch, m), seed=self.seed_generator)
            kept = ops.cast(u >= self.p, "float32") * present
            if self.keep_at_least_one:
                # A sample with no kept (but some present) modality gets one present one back.
                none_kept = ops.sum(kept, axis=1) == 0.0
                any_present = ops.sum(present, axis=1) > 0.0
                scores = keras.random.uniform((batch, m), seed=self.seed_generator)
                scores = ops.where(present > 0.0, scores, -1.0)
                rescue = ops.one_hot(ops.argmax(scores, axis=1), m, dtype="float32")
                kept = ops.where(ops.expand_dims(ops.logical_and(none_kept, any_present), 1),
                                 rescue, kept)
        else:
            kept = present
        if modality_mask is None and not (training and self.p > 0.0):
            outputs = list(tensors)  # identity: nothing is zeroed
        else:
            # `where`, not a product: a NaN/inf in a dropped or missing slot must not survive
            outputs = [ops.where(_broadcast_column(kept[:, i] > 0.5, t), t, ops.zeros_like(t))
                       for i, t in enumerate(tensors)]
        if keys is not None:
            return dict(zip(keys, outputs, strict=True)), kept
        return (tuple(outputs) if isinstance(inputs, tuple) else outputs), kept

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"p": self.p, "keep_at_least_one": self.keep_at_least_one,
                       "seed": self.seed})
        return config
