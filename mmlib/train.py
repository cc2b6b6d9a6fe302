"""Training strategies for multimodal networks (多模态训练策略).

What lives here, and the paper each piece implements:

* :class:`ModalityDropout` -- drop whole modalities during training (ModDrop; Neverova, Wolf,
  Taylor, Nebout, "ModDrop: adaptive multi-modal gesture recognition", IEEE TPAMI 2016).
* :class:`OGMGEModel` and :class:`OGMGELogger` -- On-the-fly Gradient Modulation with
  Generalization Enhancement (Peng, Wei, Deng, Wang, Hu, "Balanced Multimodal Learning via
  On-the-fly Gradient Modulation", CVPR 2022); :func:`imbalanced_toy_problem` makes a small
  two-modality problem in which one modality dominates, to watch it work.
* :func:`gradient_blending_weights`, :func:`head_losses`, :func:`estimate_blending_weights`,
  :func:`compile_blended` -- Gradient-Blending (Wang, Tran, Feiszli, "What Makes Training
  Multi-modal Classification Networks Hard?", CVPR 2020).
* :func:`multitask_heads`, :class:`UncertaintyWeighting`, :class:`MultiTaskModel` -- multi-task
  heads with fixed or homoscedastic-uncertainty loss weights (Kendall, Gal, Cipolla, "Multi-Task
  Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018).
* :func:`build_fusion_model` -- assemble encoders + (optional ModalityDropout) + fusion + heads
  into one Keras model from a short spec, so that notebooks stay short.

Shapes follow the course convention: a batch of modality features is a list (or dict) of tensors
``[(batch, d_1), ..., (batch, d_M)]`` and a *mask* of present modalities is ``(batch, M)`` with
1 = present, 0 = missing. The custom ``train_step`` of :class:`OGMGEModel` uses the TensorFlow
backend (``tf.GradientTape``); everything else is backend-neutral ``keras.ops``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmlib import encoders as encoders_module
from mmlib import fusion as fusion_module
from mmlib._common import (
    check_batch_sizes,
    check_modality_inputs,
    check_same_modalities,
    output_names,
    presence_mask,
)
from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "ModalityDropout",
    "OGMGEModel",
    "OGMGELogger",
    "ogm_ge_coefficients",
    "imbalanced_toy_problem",
    "gradient_blending_weights",
    "head_losses",
    "estimate_blending_weights",
    "compile_blended",
    "multitask_heads",
    "default_task_loss",
    "UncertaintyWeighting",
    "MultiTaskModel",
    "build_fusion_model",
]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _modality_items(inputs: Any, name: str = "inputs") -> tuple[list[str] | None, list[Any]]:
    """Split a list/tuple/dict of modality tensors into (keys or None, tensors)."""
    if isinstance(inputs, Mapping):
        if len(inputs) == 0:
            raise ValueError(f"{name} must hold at least one modality, got an empty dict.")
        keys = sorted(inputs.keys())
        return keys, [inputs[k] for k in keys]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 0:
            raise ValueError(f"{name} must hold at least one modality, got an empty list.")
        return None, list(inputs)
    raise ValueError(f"{name} must be a list, tuple or dict of modality tensors, got "
                     f"{type(inputs).__name__}.")


def _check_same_batch(tensors: Sequence[Any], owner: str) -> None:
    """Raise when the static batch sizes (axis 0) of the modality tensors differ."""
    check_batch_sizes(owner, [None if len(t.shape) == 0 else t.shape[0] for t in tensors])


def _broadcast_column(column: Any, like: Any) -> Any:
    """Reshape a (batch,) column so that it broadcasts against ``like`` (batch, ...)."""
    rank = len(like.shape)
    return ops.reshape(column, (-1,) + (1,) * (rank - 1))


# ----------------------------------------------------------------------------------------------
# ModalityDropout (ModDrop)
# ----------------------------------------------------------------------------------------------
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
            :mod:`mmlib.fusion`, a dict is ordered by its **sorted keys** (``modality_names`` holds
            that order after the first call) and column m of the masks belongs to the m-th name.
            Integer tensors (token ids) are zeroed too.
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
            self.modality_names = tuple(sorted(input_shape))
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
        _check_same_batch(tensors, "ModalityDropout")
        batch = ops.shape(tensors[0])[0]
        if modality_mask is None:
            present = ops.ones((batch, m), dtype="float32")
        else:
            present = ops.cast(presence_mask("ModalityDropout", modality_mask, m,
                                              tensors[0].shape[0]), "float32")
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


# ----------------------------------------------------------------------------------------------
# OGM-GE (Peng et al., CVPR 2022)
# ----------------------------------------------------------------------------------------------
def ogm_ge_coefficients(scores: Any, alpha: float, *, rule: str = "paper") -> tuple[Any, Any]:
    """Discrepancy ratios ρ_m and modulation coefficients k_m of OGM-GE from modality scores.

    With the score ``s_m = Σ_i softmax(out_m(x_i))[y_i]`` of each modality over a batch, the
    discrepancy ratio of modality m is ``ρ_m = s_m / mean_{j≠m} s_j`` (for two modalities this is
    exactly the paper's ``ρ_a = s_a / s_v``; the mean over the other modalities is our extension to
    M > 2). The coefficient that scales modality m's encoder gradients is (Peng et al. 2022,
    Eq. 10, ``rule="paper"``)::

        k_m = 1 - tanh(α · ρ_m)   if ρ_m > 1,   else 1,

    so only the dominant modality is slowed down. ``rule="shifted"`` uses the continuous variant
    ``k_m = 1 - tanh(α · relu(ρ_m - 1))``, which equals 1 at ρ_m = 1 instead of jumping to
    ``1 - tanh(α)``.

    Reference: X. Peng, Y. Wei, A. Deng, D. Wang, D. Hu, "Balanced Multimodal Learning via
    On-the-fly Gradient Modulation", CVPR 2022.

    Args:
        scores: ``(M,)`` tensor (or array) of non-negative per-modality scores, M >= 2.
        alpha: modulation strength α > 0.
        rule: ``"paper"`` (Eq. 10) or ``"shifted"``.

    Returns:
        ``(ratios, coefficients)``, two ``(M,)`` float32 tensors.
    """
    alpha = check_float("alpha", alpha, minimum=0.0, include_min=False)
    check_choice("rule", rule, ["paper", "shifted"])
    scores = ops.convert_to_tensor(scores)
    if keras.backend.standardize_dtype(scores.dtype) in ("string", "bool"):
        raise TypeError(f"scores must be numbers, got dtype {scores.dtype.name}.")
    scores = ops.cast(scores, "float32")
    if len(scores.shape) != 1 or (scores.shape[0] is not None and scores.shape[0] < 2):
        raise ValueError(f"scores must be a 1-D tensor with one score per modality (M >= 2), got "
                         f"shape {tuple(scores.shape)}.")
    if tf.executing_eagerly() and bool(ops.any(scores < 0)):  # traced steps: scores are sums
        raise ValueError(f"scores must be non-negative, got {ops.convert_to_numpy(scores)}.")
    m = scores.shape[0]
    others = (ops.sum(scores) - scores) / float(m - 1)
    ratios = scores / ops.maximum(others, 1e-12)
    if rule == "paper":
        coeffs = ops.where(ratios > 1.0, 1.0 - ops.tanh(alpha * ratios), ops.ones_like(ratios))
    else:
        coeffs = 1.0 - ops.tanh(alpha * ops.relu(ratios - 1.0))
    return ratios, coeffs


def _true_class_probability(logits: Any, y: Any) -> Any:
    """softmax(logits)[i, y_i] for integer labels (batch,)/(batch, 1) or one-hot labels."""
    probs = ops.softmax(logits, axis=-1)
    num_classes = logits.shape[-1]
    if len(y.shape) == 2 and y.shape[-1] == num_classes and num_classes > 1:
        return ops.sum(probs * ops.cast(y, probs.dtype), axis=-1)
    labels = ops.cast(ops.reshape(y, (-1,)), "int32")
    return ops.sum(probs * ops.one_hot(labels, num_classes, dtype=probs.dtype), axis=-1)


@keras.saving.register_keras_serializable(package="mmlib")
class OGMGEModel(keras.Model):
    """Multimodal classifier trained with OGM-GE gradient modulation (梯度调制).

    Architecture (as in the paper): one encoder per modality, ``h_m = enc_m(x_m)`` of shape
    ``(batch, d_m)``, and a linear fusion head whose logits decompose per modality:

    * ``fusion="concat"``: ``logits = [h_1, ..., h_M] W + b = Σ_m (h_m W_m + b/M)``, where ``W_m``
      are the rows of ``W`` that multiply ``h_m`` (the authors' code gives each of its two
      modalities half of the bias, ``b/2``);
    * ``fusion="sum"``: one dense layer per modality, ``logits = Σ_m (h_m W_m + b_m)``.

    The per-modality logits ``out_m`` (the summands) give the scores ``s_m = Σ_i
    softmax(out_m)[i, y_i]`` from which :func:`ogm_ge_coefficients` computes the discrepancy
    ratios ρ_m and coefficients k_m at every step. The custom ``train_step`` (TensorFlow backend)
    then multiplies the gradients of encoder m's weights by k_m (OGM) and, with ``ge=True``, adds
    Gaussian noise whose standard deviation is the standard deviation of that weight's own
    (unmodulated) gradient (GE, as in the authors' code: ``g ← k·g + N(0, std(g)²)``, applied to
    every encoder). The fusion head is not modulated. ``model.fit`` trains it as usual.

    Use plain SGD (with momentum, as in the paper): Adam divides every gradient by its running
    RMS, which largely cancels a gradient scale such as k_m. ``alpha``, ``ge``, ``modulate`` and
    ``rule`` are read when ``fit`` traces the train step: set them before ``compile``/``fit``.

    Logged per step (in the batch logs seen by callbacks) as ``coef_<m>_step`` and
    ``ratio_<m>_step``, and per epoch (their means, in ``History``) as ``coef_<m>`` and
    ``ratio_<m>`` (``History`` also keeps the epoch's last ``*_step`` value);
    :class:`OGMGELogger` collects the per-step values for plotting. The ratios and coefficients
    are computed and logged with ``modulate=False`` too, which shows the imbalance of plain
    training.

    Reference: X. Peng, Y. Wei, A. Deng, D. Wang, D. Hu, "Balanced Multimodal Learning via
    On-the-fly Gradient Modulation", CVPR 2022.

    Args:
        encoders: dict ``name -> keras layer/model`` mapping ``x_m`` to ``(batch, d_m)``
            (or a list, then the modalities are named ``m0, m1, ...``); at least two.
        num_classes: number of classes C; the model outputs logits ``(batch, C)``.
        fusion: ``"concat"`` or ``"sum"``.
        alpha: modulation strength α > 0 (larger = the dominant modality is slowed more).
        ge: add the generalisation-enhancement noise (OGM-GE); False gives plain OGM.
        modulate: False trains without any modulation (plain joint training) while still logging
            the ratios and coefficients OGM-GE would use -- the baseline of a comparison.
        rule: coefficient rule, ``"paper"`` (Eq. 10) or ``"shifted"``; see
            :func:`ogm_ge_coefficients`.
        seed: seed of the GE noise (non-negative int or None).
        modulation_steps: optional ``(start, end)`` window of optimizer steps in which the
            modulation (and GE noise) is applied, ``end=None`` = until the end; outside it the
            step is plain. The authors modulate only during the first epochs (their defaults:
            epochs 0-50 of 100) so that the dominant modality can catch up at the end; in steps,
            ``epochs × ceil(n / batch_size)``.

    Call: ``model(inputs)`` with ``inputs`` a dict ``name -> (batch, ...)`` (or a list in encoder
    order) returns logits ``(batch, C)``; :meth:`modality_logits` returns the per-modality
    summands and :meth:`modality_features` the encoder outputs.
    """

    def __init__(self, encoders: Mapping[str, keras.layers.Layer] | Sequence[keras.layers.Layer],
                 num_classes: int, *, fusion: str = "concat", alpha: float = 0.5, ge: bool = True,
                 modulate: bool = True, rule: str = "paper", seed: int | None = None,
                 modulation_steps: Sequence[int | None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(encoders, Mapping):
            names, layers = [str(k) for k in encoders], list(encoders.values())
        elif isinstance(encoders, (list, tuple)):
            names, layers = [f"m{i}" for i in range(len(encoders))], list(encoders)
        else:
            raise TypeError(f"encoders must be a dict or list of Keras layers, got "
                            f"{type(encoders).__name__}.")
        if len(layers) < 2:
            raise ValueError(f"encoders must hold at least 2 modalities for OGM-GE, got "
                             f"{len(layers)}.")
        for name, layer in zip(names, layers, strict=True):
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(f"encoders[{name!r}] must be a keras Layer or Model, got "
                                f"{type(layer).__name__}.")
        self.modality_names = names
        self.encoders = layers
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.fusion = check_choice("fusion", fusion, ["concat", "sum"])
        self.alpha = check_float("alpha", alpha, minimum=0.0, include_min=False)
        self.ge = bool(ge)
        self.modulate = bool(modulate)
        self.rule = check_choice("rule", rule, ["paper", "shifted"])
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.noise_generator = keras.random.SeedGenerator(self.seed)
        if modulation_steps is None:
            self.modulation_steps = None
        else:
            if not isinstance(modulation_steps, (list, tuple)) or len(modulation_steps) != 2:
                raise ValueError("modulation_steps must be a pair (start, end) of optimizer steps "
                                 f"(end may be None), got {modulation_steps!r}.")
            start = check_int("modulation_steps[0]", modulation_steps[0], minimum=0)
            end = (None if modulation_steps[1] is None
                   else check_int("modulation_steps[1]", modulation_steps[1], minimum=start))
            self.modulation_steps = [start, end]
        if self.fusion == "concat":
            self.heads = [keras.layers.Dense(self.num_classes, name="head")]
        else:
            self.heads = [keras.layers.Dense(self.num_classes, name=f"head_{n}") for n in names]
        self.coef_trackers = [keras.metrics.Mean(name=f"coef_{n}") for n in names]
        self.ratio_trackers = [keras.metrics.Mean(name=f"ratio_{n}") for n in names]
        self._feature_dims: list[int] | None = None

    # -- structure -----------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the structure and dtypes of the inputs (clear errors), then call the layer."""
        check_modality_inputs("OGMGEModel", inputs, numeric=False)
        return super().__call__(inputs, *args, **kwargs)

    def _split_inputs(self, inputs: Any) -> list[Any]:
        if isinstance(inputs, Mapping):
            missing = [n for n in self.modality_names if n not in inputs]
            unknown = [k for k in inputs if k not in self.modality_names]
            if missing or unknown:
                problem = (f"is missing modalities {missing}" if missing
                           else f"has unknown modalities {unknown}")
                raise ValueError(f"inputs {problem}; expected the keys {self.modality_names}, "
                                 f"got {list(inputs)}.")
            return [inputs[n] for n in self.modality_names]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != len(self.encoders):
                raise ValueError(f"inputs must hold {len(self.encoders)} modalities "
                                 f"{self.modality_names}, got {len(inputs)}.")
            return list(inputs)
        raise TypeError(f"inputs must be a dict or list of modality tensors, got "
                        f"{type(inputs).__name__}.")

    def build(self, input_shape: Any) -> None:
        shapes = self._split_inputs(input_shape)
        dims = []
        for name, enc, shape in zip(self.modality_names, self.encoders, shapes, strict=True):
            out = enc(keras.KerasTensor(tuple(shape)))
            if len(out.shape) != 2 or out.shape[-1] is None:
                raise ValueError(f"encoder {name!r} must output (batch, d) features with a known "
                                 f"d, got shape {tuple(out.shape)}.")
            dims.append(int(out.shape[-1]))
        self._feature_dims = dims
        if self.fusion == "concat":
            self.heads[0].build((None, sum(dims)))
        else:
            for head, d in zip(self.heads, dims, strict=True):
                head.build((None, d))
        self.built = True

    def modality_features(self, inputs: Any, training: bool | None = None) -> list[Any]:
        """Encoder outputs ``[(batch, d_1), ..., (batch, d_M)]``."""
        tensors = self._split_inputs(inputs)
        _check_same_batch(tensors, "OGMGEModel")
        return [enc(x, training=training) for enc, x in zip(self.encoders, tensors, strict=True)]

    def _branch_logits(self, features: list[Any]) -> list[Any]:
        m = len(features)
        if self.fusion == "sum":
            return [head(h) for head, h in zip(self.heads, features, strict=True)]
        head = self.heads[0]
        out, start = [], 0
        for h in features:
            d = h.shape[-1]
            out.append(ops.matmul(h, head.kernel[start:start + d]) + head.bias / float(m))
            start += d
        return out

    def modality_logits(self, inputs: Any, training: bool | None = None) -> dict[str, Any]:
        """Per-modality logits ``out_m`` ``(batch, C)``; they sum to the fused logits."""
        branches = self._branch_logits(self.modality_features(inputs, training=training))
        return dict(zip(self.modality_names, branches, strict=True))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        features = self.modality_features(inputs, training=training)
        if self.fusion == "concat":
            return self.heads[0](ops.concatenate(features, axis=-1))
        branches = self._branch_logits(features)
        return sum(branches[1:], branches[0])

    # -- training ------------------------------------------------------------------------------
    def train_step(self, data: Any) -> dict[str, Any]:
        """One OGM-GE step: gradients, per-modality coefficients k_m, modulated update (+ GE)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            # this runs while fit traces the step: drop the half-made function, or the next fit
            # would fail with "Creating variables on a non-first call to a function"
            self.train_function = None
            raise ValueError("OGMGEModel.fit needs labels y (class indices or one-hot), got None.")
        if not self.built:  # fit defers building to the first trace of train_step
            self.build(keras.tree.map_structure(lambda t: tuple(t.shape), x))
        with tf.GradientTape() as tape:
            features = self.modality_features(x, training=True)
            branches = self._branch_logits(features)
            logits = branches[0]
            for b in branches[1:]:
                logits = logits + b
            loss = self.compute_loss(x=x, y=y, y_pred=logits, sample_weight=sample_weight,
                                     training=True)
            self._loss_tracker.update_state(loss, sample_weight=ops.shape(logits)[0])
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        grads = tape.gradient(scaled_loss, variables)

        scores = ops.stack([ops.sum(_true_class_probability(b, y)) for b in branches])
        ratios, coeffs = ogm_ge_coefficients(ops.stop_gradient(scores), self.alpha, rule=self.rule)
        if self.modulate:
            applied, noise_scale = coeffs, ops.ones(())
            if self.modulation_steps is not None:  # plain steps outside the window
                step = ops.cast(self.optimizer.iterations, "int64")
                start, end = self.modulation_steps
                active = step >= start
                if end is not None:
                    active = ops.logical_and(active, step < end)
                applied = ops.where(active, coeffs, ops.ones_like(coeffs))
                noise_scale = ops.cast(active, "float32")
            owner = {id(v): i for i, enc in enumerate(self.encoders)
                     for v in enc.trainable_variables}
            new_grads = []
            for v, g in zip(variables, grads, strict=True):
                i = owner.get(id(v))
                if i is None or g is None:
                    new_grads.append(g)
                    continue
                g = tf.convert_to_tensor(g)
                modulated = g * ops.cast(applied[i], g.dtype)
                if self.ge:
                    noise = keras.random.normal(ops.shape(g), seed=self.noise_generator,
                                                dtype=g.dtype)
                    modulated = modulated + noise * ops.std(g) * ops.cast(noise_scale, g.dtype)
                new_grads.append(modulated)
            grads = new_grads
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))

        for i in range(len(self.encoders)):
            self.coef_trackers[i].update_state(coeffs[i])
            self.ratio_trackers[i].update_state(ratios[i])
        logs = self.compute_metrics(x, y, logits, sample_weight=sample_weight)
        for i, name in enumerate(self.modality_names):
            logs[f"coef_{name}_step"] = coeffs[i]
            logs[f"ratio_{name}_step"] = ratios[i]
        return logs

    def test_step(self, data: Any) -> dict[str, Any]:
        """Keras' evaluation step; the training-only coefficient metrics are left out."""
        logs = super().test_step(data)
        own = {t.name for t in self.coef_trackers + self.ratio_trackers}
        return {k: v for k, v in logs.items() if k not in own}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "encoders": {n: keras.saving.serialize_keras_object(e)
                         for n, e in zip(self.modality_names, self.encoders, strict=True)},
            "num_classes": self.num_classes, "fusion": self.fusion, "alpha": self.alpha,
            "ge": self.ge, "modulate": self.modulate, "rule": self.rule, "seed": self.seed,
            "modulation_steps": self.modulation_steps,
        })
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OGMGEModel:
        config = dict(config)
        config["encoders"] = {n: keras.saving.deserialize_keras_object(e)
                              for n, e in config["encoders"].items()}
        return cls(**config)


class OGMGELogger(keras.callbacks.Callback):
    """Collect the per-step OGM-GE ratios and coefficients of an :class:`OGMGEModel` fit.

    After ``model.fit(..., callbacks=[logger])``, ``logger.history`` maps ``"coef_<m>"`` and
    ``"ratio_<m>"`` to lists with one float per training step (``steps_per_execution=1``), ready
    for ``plt.plot``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Append the step's ``coef_<m>_step`` / ``ratio_<m>_step`` logs to ``history``."""
        for key, value in (logs or {}).items():
            if key.endswith("_step") and key.startswith(("coef_", "ratio_")):
                self.history.setdefault(key[: -len("_step")], []).append(
                    float(np.asarray(value)))


def imbalanced_toy_problem(n_train: int = 600, n_test: int = 600, *, classes: int = 4,
                           dims: Sequence[int] = (64, 32),
                           separations: Sequence[float] = (6.0, 1.5), seed: int = 0,
                           ) -> tuple[tuple[dict[str, np.ndarray], np.ndarray],
                                      tuple[dict[str, np.ndarray], np.ndarray]]:
    """A two-modality classification problem in which modality ``"a"`` dominates ``"b"``.

    The setting OGM-GE addresses (Peng et al., CVPR 2022): both modalities carry the label, but
    one is much easier, so plain joint training fits it first, the loss collapses and the weaker
    modality's encoder stays under-trained. Recipe, with ``rng = np.random.default_rng(seed)``:

    1. class means ``μ_a = rng.normal(size=(classes, d_a))`` and then ``μ_b`` likewise, each row
       rescaled to norm ``separations[0]`` (for ``a``) or ``separations[1]`` (for ``b``);
    2. the training set, then the test set, each drawn as ``y = rng.integers(0, classes, n)``,
       ``x_a = μ_a[y] + rng.normal(size=(n, d_a))``, then ``x_b = μ_b[y] + rng.normal(...)``.

    With the defaults ``a`` is almost perfectly linearly separable while a linear classifier on
    raw ``b`` reaches about 0.7 (chance: ``1 / classes``).

    Args:
        n_train, n_test: number of training and test samples.
        classes: number of classes (>= 2).
        dims: ``(d_a, d_b)``, the feature sizes of the two modalities.
        separations: norms of the class means of ``a`` and ``b`` (noise has unit variance).
        seed: seed of the generator.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` dicts ``{"a": (n, d_a), "b": (n, d_b)}``
        of float32 arrays, ``y`` int64 labels ``(n,)``.
    """
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    classes = check_int("classes", classes, minimum=2)
    if isinstance(dims, str) or not isinstance(dims, Sequence) or len(dims) != 2:
        raise ValueError(f"dims must be a pair (d_a, d_b), got {dims!r}.")
    if isinstance(separations, str) or not isinstance(separations, Sequence) or \
            len(separations) != 2:
        raise ValueError(f"separations must be a pair (norm_a, norm_b), got {separations!r}.")
    dims = [check_int(f"dims[{i}]", d, minimum=1) for i, d in enumerate(dims)]
    norms = [check_float(f"separations[{i}]", v, minimum=0.0) for i, v in enumerate(separations)]
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    means = []
    for d, norm in zip(dims, norms, strict=True):
        mu = rng.normal(size=(classes, d))
        means.append(mu * (norm / np.linalg.norm(mu, axis=1, keepdims=True)))

    def draw(n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        y = rng.integers(0, classes, n)
        x = {m: (mu[y] + rng.normal(size=(n, d))).astype("float32")
             for m, mu, d in zip("ab", means, dims, strict=True)}
        return x, y

    return draw(n_train), draw(n_test)


# ----------------------------------------------------------------------------------------------
# Gradient-Blending (Wang, Tran, Feiszli, CVPR 2020)
# ----------------------------------------------------------------------------------------------
def _as_head_arrays(name: str, value: Any, heads: list[str] | None) -> tuple[list[str], np.ndarray]:
    if isinstance(value, Mapping):
        keys = list(value.keys())
        if heads is not None and set(keys) != set(heads):
            raise ValueError(f"{name} must have the heads {heads}, got {keys}.")
        keys = heads if heads is not None else keys
        values = [value[k] for k in keys]
    elif isinstance(value, Iterable) and not isinstance(value, str):
        keys, values = None, list(value)
    else:
        raise ValueError(f"{name} must be a dict head -> loss or a sequence of losses, got "
                         f"{value!r}.")
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers (one loss per head), got {value!r}.") from None
    if keys is None:
        keys = heads if heads is not None else [str(i) for i in range(arr.size)]
        if arr.size != len(keys):
            raise ValueError(f"{name} must hold one loss per head ({len(keys)}), got {arr.size}.")
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one loss, got none.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}.")
    return keys, arr


def gradient_blending_weights(train_loss_start: Any, val_loss_start: Any, train_loss_end: Any,
                              val_loss_end: Any, *, eps: float = 1e-12,
                              return_details: bool = False) -> Any:
    """Gradient-Blending weights of K heads from their train/validation losses at two checkpoints.

    Definitions of Wang, Tran & Feiszli (2020), Sec. 3, with checkpoints N (start) and N+n (end)
    and the validation loss L^V standing in for the true loss L*:

    * overfitting ``O_N = L^V_N - L^T_N`` (gap between validation and train loss);
    * ``ΔO_{N,n} = O_{N+n} - O_N`` (how much the overfitting grew);
    * ``ΔG_{N,n} = L^V_N - L^V_{N+n}`` (how much the validation loss fell: generalisation);
    * ``OGR = |ΔO_{N,n} / ΔG_{N,n}|``, the overfitting-to-generalisation ratio;
    * Proposition 1 (optimal blend w* = argmin E[OGR²] s.t. Σ w_k = 1), in the practical form
      the paper estimates from the two checkpoints (the "Gradient-Blending" weights)::

          w_k* = (1/Z) · ΔG_k / ΔO_k²,   Z chosen so that Σ_k w_k* = 1.

    A head that generalises well (large ΔG) while hardly overfitting (small ΔO) gets a large
    weight. Two guards, not in the paper's formula: a head whose validation loss did not fall
    (``ΔG_k <= 0``) gets weight 0 (the formula assumes a generalising head; a negative weight would
    *ascend* its loss), and ``ΔO_k²`` is floored at ``eps``.

    Reference: W. Wang, D. Tran, M. Feiszli, "What Makes Training Multi-modal Classification
    Networks Hard?", CVPR 2020 (arXiv:1905.12681).

    Args:
        train_loss_start, val_loss_start: losses ``L^T_N``, ``L^V_N`` of the K heads at
            checkpoint N, as dicts ``head -> float`` or sequences of K floats.
        train_loss_end, val_loss_end: the same at checkpoint N+n.
        eps: floor of ``ΔO_k²``.
        return_details: also return a dict with ``delta_G``, ``delta_O``, ``OGR`` and
            ``weights`` (each a dict ``head -> float``).

    Returns:
        The weights (a dict ``head -> float`` if the inputs were dicts, else a ``(K,)`` array),
        summing to 1; with ``return_details`` a tuple ``(weights, details)``.
    """
    as_dict = isinstance(train_loss_start, Mapping)
    heads, lt0 = _as_head_arrays("train_loss_start", train_loss_start, None)
    _, lv0 = _as_head_arrays("val_loss_start", val_loss_start, heads)
    _, lt1 = _as_head_arrays("train_loss_end", train_loss_end, heads)
    _, lv1 = _as_head_arrays("val_loss_end", val_loss_end, heads)
    eps = check_float("eps", eps, minimum=0.0, include_min=False)
    delta_o = (lv1 - lt1) - (lv0 - lt0)
    delta_g = lv0 - lv1
    raw = np.where(delta_g > 0.0, delta_g, 0.0) / np.maximum(delta_o**2, eps)
    if not np.any(raw > 0.0):
        raise ValueError("val_loss_end must be lower than val_loss_start for at least one head "
                         "(Gradient-Blending needs a generalising head, ΔG > 0); got "
                         f"ΔG = {dict(zip(heads, delta_g.round(6).tolist(), strict=True))}. "
                         "Train longer between the checkpoints or start them earlier.")
    weights = raw / raw.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        ogr = np.abs(delta_o / delta_g)
    out = dict(zip(heads, weights.tolist(), strict=True)) if as_dict else weights
    if not return_details:
        return out
    details = {"delta_G": dict(zip(heads, delta_g.tolist(), strict=True)),
               "delta_O": dict(zip(heads, delta_o.tolist(), strict=True)),
               "OGR": dict(zip(heads, ogr.tolist(), strict=True)),
               "weights": dict(zip(heads, weights.tolist(), strict=True))}
    return out, details


def _targets_per_head(y: Any, heads: Sequence[str]) -> dict[str, Any]:
    if isinstance(y, Mapping):
        missing = [h for h in heads if h not in y]
        if missing:
            raise ValueError(f"y has no targets for the heads {missing}; got keys {list(y)}.")
        return {h: y[h] for h in heads}
    return {h: y for h in heads}


def head_losses(model: keras.Model, x: Any, y: Any, *, loss: Any = None,
                batch_size: int = 256) -> dict[str, float]:
    """Mean loss of every output head of a multi-head model on ``(x, y)``.

    Args:
        model: model whose outputs are a dict ``head -> (batch, C)`` logits.
        x: model inputs.
        y: targets, shared by all heads (class indices ``(n,)``) or a dict ``head -> targets``.
        loss: loss function (default sparse categorical cross-entropy on logits).
        batch_size: prediction batch size.

    Returns:
        ``{head: mean loss}`` (inference mode: no dropout).
    """
    heads = output_names(model)
    loss = keras.losses.get(loss) if loss is not None else \
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    pred = model.predict(x, batch_size=batch_size, verbose=0)
    if not isinstance(pred, Mapping):
        pred = dict(zip(heads, pred if isinstance(pred, (list, tuple)) else [pred], strict=True))
    targets = _targets_per_head(y, heads)
    return {h: float(np.asarray(loss(targets[h], pred[h]))) for h in heads}


def estimate_blending_weights(model: keras.Model, train_data: tuple[Any, Any],
                              val_data: tuple[Any, Any], *, warmup_epochs: int = 1,
                              window_epochs: int = 2, batch_size: int = 32, loss: Any = None,
                              verbose: int = 0) -> tuple[dict[str, float], dict[str, Any]]:
    """Estimate Gradient-Blending weights by training a multi-head model between two checkpoints.

    The model (outputs: dict ``head -> logits``, e.g. one head per modality plus the fused head,
    see :func:`build_fusion_model` with ``unimodal_heads=True``) must be compiled (typically with
    :func:`compile_blended` and uniform weights). It is trained for ``warmup_epochs`` (checkpoint
    N), the per-head train and validation losses are measured with :func:`head_losses`, it is
    trained for ``window_epochs`` more (checkpoint N+n), the losses are measured again and
    :func:`gradient_blending_weights` turns them into weights. The paper's *offline* G-Blend then
    trains a fresh model with these weights (:func:`compile_blended`); re-estimating every few
    epochs on the model being trained is its *online* variant.

    Reference: W. Wang, D. Tran, M. Feiszli, "What Makes Training Multi-modal Classification
    Networks Hard?", CVPR 2020.

    Args:
        model: compiled multi-head model (it is trained in place).
        train_data, val_data: ``(x, y)`` pairs; ``y`` shared by all heads or a dict per head.
        warmup_epochs: epochs before checkpoint N (>= 0).
        window_epochs: epochs n between the checkpoints (>= 1).
        batch_size: training batch size.
        loss: loss used to measure the heads (default sparse categorical cross-entropy on logits).
        verbose: verbosity of ``model.fit``.

    Returns:
        ``(weights, details)`` as :func:`gradient_blending_weights` with ``return_details=True``;
        ``details`` also holds the measured losses under ``"losses"``.
    """
    warmup_epochs = check_int("warmup_epochs", warmup_epochs, minimum=0)
    window_epochs = check_int("window_epochs", window_epochs, minimum=1)
    for name, pair in (("train_data", train_data), ("val_data", val_data)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            got = (f"a {type(pair).__name__} of length {len(pair)}"
                   if isinstance(pair, (tuple, list)) else type(pair).__name__)
            raise ValueError(f"{name} must be a pair (x, y), got {got}.")
    heads = output_names(model)
    (xt, yt), (xv, yv) = train_data, val_data
    yt_heads = _targets_per_head(yt, heads)
    if warmup_epochs:
        model.fit(xt, yt_heads, epochs=warmup_epochs, batch_size=batch_size, verbose=verbose)
    lt0, lv0 = head_losses(model, xt, yt, loss=loss), head_losses(model, xv, yv, loss=loss)
    model.fit(xt, yt_heads, epochs=window_epochs, batch_size=batch_size, verbose=verbose)
    lt1, lv1 = head_losses(model, xt, yt, loss=loss), head_losses(model, xv, yv, loss=loss)
    weights, details = gradient_blending_weights(lt0, lv0, lt1, lv1, return_details=True)
    details["losses"] = {"train_start": lt0, "val_start": lv0, "train_end": lt1, "val_end": lv1}
    return weights, details


def compile_blended(model: keras.Model, weights: Mapping[str, float] | None = None, *,
                    optimizer: Any = "adam", loss: Any = None, metrics: Any = None,
                    **compile_kwargs: Any) -> keras.Model:
    """Compile a multi-head model with the blended loss ``Σ_k w_k L_k`` (Gradient-Blending).

    Args:
        model: model whose outputs are a dict ``head -> logits``.
        weights: ``head -> w_k`` (e.g. from :func:`estimate_blending_weights`); ``None`` gives
            uniform weights ``1/K``.
        optimizer: Keras optimizer (name or instance).
        loss: loss applied to every head (default sparse categorical cross-entropy on logits).
        metrics: metrics for every head (e.g. ``["accuracy"]``).
        **compile_kwargs: passed on to ``model.compile``.

    Returns:
        The same model, compiled; train it with ``y`` given as a dict ``head -> targets``.
    """
    heads = output_names(model)
    if weights is None:
        weights = {h: 1.0 / len(heads) for h in heads}
    if set(weights) != set(heads):
        raise ValueError(f"weights must have one entry per model output {heads}, got "
                         f"{list(weights)}.")
    for h, w in weights.items():
        check_float(f"weights[{h!r}]", w, minimum=0.0)
    if not any(float(w) > 0.0 for w in weights.values()):
        raise ValueError(f"weights must not all be 0 (nothing would be trained), got {weights}.")
    loss = loss if loss is not None else keras.losses.SparseCategoricalCrossentropy(
        from_logits=True)
    model.compile(optimizer=optimizer, loss={h: loss for h in heads},
                  loss_weights={h: float(weights[h]) for h in heads},
                  metrics=None if metrics is None else {h: list(metrics) for h in heads},
                  **compile_kwargs)
    return model


# ----------------------------------------------------------------------------------------------
# Multi-task heads and loss weighting (Kendall, Gal, Cipolla, CVPR 2018)
# ----------------------------------------------------------------------------------------------
_TASK_KINDS = ("classification", "binary", "regression")


def _parse_task(name: str, spec: Any) -> tuple[str, int]:
    """``10`` -> classification with 10 classes; ``("regression", 1)``; ``("binary", 1)``."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return "classification", check_int(f"tasks[{name!r}]", spec, minimum=2)
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        kind = check_choice(f"tasks[{name!r}][0]", spec[0], _TASK_KINDS)
        units = check_int(f"tasks[{name!r}][1]", spec[1],
                          minimum=2 if kind == "classification" else 1)
        return kind, units
    raise ValueError(f"tasks[{name!r}] must be a number of classes (int >= 2) or a pair (kind, "
                     f"units) with kind in {list(_TASK_KINDS)}, got {spec!r}.")


def default_task_loss(kind: str) -> keras.losses.Loss:
    """The loss of a head of the given kind (heads output logits / raw values).

    ``"classification"``: sparse categorical cross-entropy on logits; ``"binary"``: binary
    cross-entropy on logits; ``"regression"``: mean squared error.
    """
    kind = check_choice("kind", kind, _TASK_KINDS)
    if kind == "classification":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if kind == "binary":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def multitask_heads(features: Any, tasks: Mapping[str, Any], *,
                    seed: int | None = None) -> dict[str, Any]:
    """One linear head per task on a shared feature tensor (multi-task learning, 多任务学习).

    Args:
        features: ``(batch, d)`` shared features (a KerasTensor in a functional model).
        tasks: ``name -> spec``; spec is a number of classes C (classification, logits
            ``(batch, C)``), ``("binary", 1)`` (one logit ``(batch, 1)``) or ``("regression", k)``
            (``(batch, k)`` values).
        seed: seed of the heads' initializers.

    Returns:
        ``{name: head output}``, each produced by a ``Dense`` layer named after the task.
    """
    if not isinstance(tasks, Mapping) or not tasks:
        raise ValueError(f"tasks must be a non-empty dict name -> spec, got {tasks!r}.")
    if not hasattr(features, "shape") or len(features.shape) != 2:
        got = (f"shape {tuple(features.shape)}" if hasattr(features, "shape")
               else type(features).__name__)
        raise ValueError(f"features must be a (batch, d) tensor, got {got}.")
    if seed is not None:
        check_int("seed", seed, minimum=0)
    out = {}
    for i, (name, spec) in enumerate(tasks.items()):
        _, units = _parse_task(name, spec)
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        out[name] = keras.layers.Dense(units, kernel_initializer=init, name=name)(features)
    return out


@keras.saving.register_keras_serializable(package="mmlib")
class UncertaintyWeighting(keras.layers.Layer):
    """Homoscedastic-uncertainty loss weighting with learnable log-variances (不确定性加权).

    With one learnable ``s_i = log σ_i²`` per task, Kendall et al. (2018) derive the combined loss
    from the Gaussian (regression, Eq. 7) and the temperature-scaled softmax (classification,
    Eq. 10) likelihoods::

        regression:      1/(2σ_i²) · L_i + log σ_i  =  ½ e^{-s_i} L_i + ½ s_i
        classification:  1/σ_i²    · L_i + log σ_i  =    e^{-s_i} L_i + ½ s_i

    and the total loss is the sum over tasks. A task with a large loss learns a large σ_i² and is
    down-weighted; the ``+ log σ_i`` term stops σ_i from growing without bound. For a constant
    task loss ``L_i`` the optimum is ``s_i = log L_i`` (regression) and ``s_i = log 2L_i``
    (classification). ``L_i`` is the task's mean loss (mean squared error for regression, the
    Gaussian negative log-likelihood up to constants; cross-entropy for classification).
    ``s_i`` is learned instead of σ_i because it is unconstrained and numerically stable.

    Reference: A. Kendall, Y. Gal, R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018.

    Args:
        task_types: one entry per task, ``"regression"`` or ``"classification"`` (``"binary"``
            counts as classification); a dict ``name -> type`` names the tasks.
        initial_log_variance: initial value of every ``s_i`` (0 = all weights start at 1 / ½).

    Call: ``layer(losses)`` with a list (or, for a layer made from a dict, a dict with the same
    names) of scalar task losses (tensors or Python floats) returns the scalar total loss.
    ``layer.log_variances`` is the ``(T,)`` weight.
    """

    def __init__(self, task_types: Sequence[str] | Mapping[str, str],
                 initial_log_variance: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(task_types, Mapping):
            self.task_names: list[str] | None = [str(k) for k in task_types]
            types = list(task_types.values())
        elif isinstance(task_types, (list, tuple)):
            self.task_names, types = None, list(task_types)
        else:
            raise TypeError(f"task_types must be a list or dict, got {type(task_types).__name__}.")
        if not types:
            raise ValueError("task_types must name at least one task, got none.")
        self.task_types = [check_choice(f"task_types[{i}]", t, _TASK_KINDS)
                           for i, t in enumerate(types)]
        self.initial_log_variance = check_float("initial_log_variance", initial_log_variance)
        factors = [0.5 if t == "regression" else 1.0 for t in self.task_types]
        self._factors = np.asarray(factors, dtype="float32")

    def build(self, input_shape: Any = None) -> None:
        self.log_variances = self.add_weight(
            shape=(len(self.task_types),), name="log_variances",
            initializer=keras.initializers.Constant(self.initial_log_variance))
        self.built = True

    def __call__(self, losses: Any, *args: Any, **kwargs: Any) -> Any:
        """Turn Python-number losses into tensors (Keras takes only tensors), then call."""
        if isinstance(losses, Mapping):
            losses = {k: ops.convert_to_tensor(v) if isinstance(v, (int, float)) else v
                      for k, v in losses.items()}
        elif isinstance(losses, (list, tuple)):
            losses = [ops.convert_to_tensor(v) if isinstance(v, (int, float)) else v
                      for v in losses]
        return super().__call__(losses, *args, **kwargs)

    def call(self, losses: Any) -> Any:
        if isinstance(losses, Mapping):
            if self.task_names is None:
                raise ValueError("losses is a dict, but this layer was made from a list of task "
                                 "types; pass the losses as a list in that order (or make the "
                                 "layer from a dict name -> type).")
            if set(losses) != set(self.task_names):
                raise ValueError(f"losses must have the tasks {self.task_names}, got "
                                 f"{list(losses)}.")
            losses = [losses[k] for k in self.task_names]
        losses = list(losses)
        if len(losses) != len(self.task_types):
            raise ValueError(f"losses must hold {len(self.task_types)} task losses, got "
                             f"{len(losses)}.")
        losses = [ops.convert_to_tensor(v) for v in losses]
        for i, v in enumerate(losses):
            if any(d is not None and d != 1 for d in v.shape):
                raise ValueError(f"losses[{i}] must be a scalar (the task's mean loss), got "
                                 f"shape {tuple(v.shape)}.")
        stacked = ops.stack([ops.cast(ops.reshape(v, ()), "float32") for v in losses])
        s = ops.cast(self.log_variances, "float32")
        factors = ops.convert_to_tensor(self._factors)
        return ops.sum(factors * ops.exp(-s) * stacked + 0.5 * s)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return ()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        types = (list(self.task_types) if self.task_names is None
                 else dict(zip(self.task_names, self.task_types, strict=True)))
        config.update({"task_types": types, "initial_log_variance": self.initial_log_variance})
        return config


@keras.saving.register_keras_serializable(package="mmlib")
class MultiTaskModel(keras.Model):
    """Wrap a multi-head model and train it on a weighted sum of per-task losses.

    ``body`` maps the inputs to a dict ``task -> output``; ``fit`` takes ``y`` as a dict
    ``task -> targets``. The total loss is

    * ``weighting="fixed"``: ``Σ_i w_i L_i`` with the given ``loss_weights`` (default 1 each);
    * ``weighting="uncertainty"``: the learnable :class:`UncertaintyWeighting` of Kendall et al.
      (2018), whose log-variances are trained together with the network.

    Per-task losses are logged as ``loss_<task>`` and, for uncertainty weighting, the learned
    ``σ_i² = exp(s_i)`` as ``variance_<task>``; the model's own regularisation losses are added.

    Reference: A. Kendall, Y. Gal, R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018.

    Args:
        body: model with dict outputs ``task -> (batch, units)``.
        tasks: ``task -> spec`` as for :func:`multitask_heads` (gives each task's kind).
        weighting: ``"fixed"`` or ``"uncertainty"``.
        loss_weights: ``task -> w_i`` for fixed weighting.
        losses: optional ``task -> loss`` overriding :func:`default_task_loss`.
        initial_log_variance: initial ``s_i`` for uncertainty weighting.
    """

    def __init__(self, body: keras.Model, tasks: Mapping[str, Any], *, weighting: str = "fixed",
                 loss_weights: Mapping[str, float] | None = None,
                 losses: Mapping[str, Any] | None = None, initial_log_variance: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(tasks, Mapping) or not tasks:
            raise ValueError(f"tasks must be a non-empty dict task -> spec, got {tasks!r}.")
        if not isinstance(body, keras.layers.Layer):
            raise TypeError(f"body must be a Keras model with dict outputs task -> output, got "
                            f"{type(body).__name__}.")
        outputs = getattr(body, "_outputs_struct", None)
        if isinstance(outputs, Mapping):  # a functional body: its outputs must cover the tasks
            absent = [str(t) for t in tasks if t not in outputs]
            if absent:
                raise ValueError(f"tasks {absent} are not outputs of body (its outputs: "
                                 f"{list(outputs)}).")
        if losses is not None:
            unknown = [t for t in losses if t not in tasks]
            if unknown:
                raise ValueError(f"losses names tasks {unknown} that are not in tasks "
                                 f"{list(tasks)}.")
        self.body = body
        self.tasks = {str(k): (list(v) if isinstance(v, tuple) else v) for k, v in tasks.items()}
        self.task_names = list(self.tasks)
        kinds = {t: _parse_task(t, spec)[0] for t, spec in self.tasks.items()}
        self.weighting = check_choice("weighting", weighting, ["fixed", "uncertainty"])
        weights = {t: 1.0 for t in self.task_names} if loss_weights is None else dict(loss_weights)
        if set(weights) != set(self.task_names):
            raise ValueError(f"loss_weights must have one entry per task {self.task_names}, got "
                             f"{list(weights)}.")
        self.fixed_weights = {t: check_float(f"loss_weights[{t!r}]", weights[t], minimum=0.0)
                              for t in self.task_names}
        self.task_losses = {t: keras.losses.get(losses[t]) if losses and t in losses
                            else default_task_loss(kinds[t]) for t in self.task_names}
        self._custom_losses = None if losses is None else {
            t: keras.saving.serialize_keras_object(keras.losses.get(v)) for t, v in losses.items()}
        self.initial_log_variance = check_float("initial_log_variance", initial_log_variance)
        self.uncertainty = (UncertaintyWeighting({t: kinds[t] for t in self.task_names},
                                                 initial_log_variance, name="uncertainty")
                            if self.weighting == "uncertainty" else None)
        if self.uncertainty is not None:
            self.uncertainty.build()
        self.task_loss_trackers = {t: keras.metrics.Mean(name=f"loss_{t}")
                                   for t in self.task_names}
        self.variance_trackers = ({t: keras.metrics.Mean(name=f"variance_{t}")
                                   for t in self.task_names} if self.uncertainty is not None
                                  else {})

    def call(self, inputs: Any, training: bool | None = None) -> dict[str, Any]:
        return self.body(inputs, training=training)

    def task_loss_values(self, y: Mapping[str, Any], y_pred: Mapping[str, Any],
                         sample_weight: Any = None) -> dict[str, Any]:
        """``{task: L_i}`` scalar losses for targets ``y`` and predictions ``y_pred`` (dicts)."""
        if not isinstance(y, Mapping):
            raise ValueError(f"y must be a dict task -> targets with the tasks {self.task_names}, "
                             f"got {type(y).__name__}.")
        missing = [t for t in self.task_names if t not in y]
        if missing:
            raise ValueError(f"y has no targets for the tasks {missing}; got keys {list(y)}.")
        absent = [t for t in self.task_names
                  if not isinstance(y_pred, Mapping) or t not in y_pred]
        if absent:
            got = list(y_pred) if isinstance(y_pred, Mapping) else type(y_pred).__name__
            raise ValueError(f"the body's predictions lack the tasks {absent}; got {got}.")
        return {t: self.task_losses[t](y[t], y_pred[t], sample_weight=sample_weight)
                for t in self.task_names}

    def combine(self, task_losses: Mapping[str, Any]) -> Any:
        """Total loss from the per-task losses (fixed weights or uncertainty weighting)."""
        if self.uncertainty is not None:
            return self.uncertainty(task_losses)
        return sum(self.fixed_weights[t] * ops.cast(task_losses[t], "float32")
                   for t in self.task_names)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Any:
        """Per-task losses combined by :meth:`combine` (fixed or uncertainty weights)."""
        per_task = self.task_loss_values(y, y_pred, sample_weight)
        total = self.combine(per_task)
        for t in self.task_names:
            self.task_loss_trackers[t].update_state(per_task[t])
        if self.uncertainty is not None:
            variances = ops.exp(self.uncertainty.log_variances)
            for i, t in enumerate(self.task_names):
                self.variance_trackers[t].update_state(variances[i])
        if self.losses:
            total = total + ops.sum(ops.stack([ops.cast(v, "float32") for v in self.losses]))
        return total

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "body": keras.saving.serialize_keras_object(self.body), "tasks": self.tasks,
            "weighting": self.weighting, "loss_weights": self.fixed_weights,
            "losses": self._custom_losses, "initial_log_variance": self.initial_log_variance,
        })
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiTaskModel:
        config = dict(config)
        config["body"] = keras.saving.deserialize_keras_object(config["body"])
        if config.get("losses"):
            config["losses"] = {t: keras.saving.deserialize_keras_object(v)
                                for t, v in config["losses"].items()}
        return cls(**config)


# ----------------------------------------------------------------------------------------------
# Model builder
# ----------------------------------------------------------------------------------------------
def _make_inputs(inputs: Any) -> dict[str, Any]:
    """``name -> keras.Input`` from shapes, Keras inputs, or a dataset's ``modalities`` arrays."""
    modalities = getattr(inputs, "modalities", None)
    if isinstance(modalities, Mapping):  # an mmlib.data.MultimodalDataset (duck-typed)
        out = {}
        for k, v in modalities.items():
            arr = np.asarray(v[:1])
            dtype = {"U": "string", "S": "string", "O": "string", "f": "float32",
                     "b": "bool"}.get(arr.dtype.kind, str(arr.dtype))
            out[str(k)] = keras.Input(arr.shape[1:], dtype=dtype, name=str(k))
        return out
    if not isinstance(inputs, Mapping) or len(inputs) == 0:
        raise ValueError("inputs must be a non-empty dict modality -> shape (without the batch "
                         f"axis) or keras.Input, or a MultimodalDataset, got {inputs!r}.")
    out = {}
    for name, spec in inputs.items():
        if isinstance(spec, keras.KerasTensor):
            out[str(name)] = spec
        elif isinstance(spec, (tuple, list)) and all(d is None or isinstance(d, int)
                                                     for d in spec):
            out[str(name)] = keras.Input(tuple(spec), name=str(name))
        else:
            raise ValueError(f"inputs[{name!r}] must be a shape tuple such as (32, 32, 3) or a "
                             f"keras.Input, got {spec!r}.")
    return out


def _named_spec(spec: Any) -> tuple[str, dict[str, Any]] | None:
    """``"name"`` -> ``("name", {})``, ``(name, kwargs)`` -> ``(name, dict(kwargs))``, else None."""
    if isinstance(spec, str):
        return spec, {}
    if (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)
            and isinstance(spec[1], Mapping)):
        return spec[0], dict(spec[1])
    return None


def _resolve_encoder(name: str, spec: Any, tensor: Any, seed: int | None) -> keras.layers.Layer:
    """Encoder spec -> layer: a layer, ``factory(shape)``, ``"name"`` or ``(name, kwargs)``."""
    if isinstance(spec, keras.layers.Layer):
        return spec
    shape = tuple(tensor.shape[1:])
    named = _named_spec(spec)
    if named is not None:
        fname, kwargs = named
        factory = getattr(encoders_module, fname, None)
        if fname.startswith("_") or not callable(factory) or isinstance(factory, type):
            raise ValueError(f"encoders[{name!r}] names no encoder function of mmlib.encoders: "
                             f"{fname!r}; expected one of {sorted(encoders_module.__all__)}.")
        params = inspect.signature(factory).parameters
        auto = {"input_shape": shape, "n_features": shape[-1] if shape else None,
                "sequence_length": shape[0] if shape else None,
                "n_points": shape[0] if len(shape) == 2 else None,
                "point_dim": shape[-1] if len(shape) == 2 else None,
                "seed": seed, "name": f"{name}_encoder"}
        for key, value in auto.items():
            if key in params and key not in kwargs and value is not None:
                kwargs[key] = value
        layer = factory(**kwargs)
    elif callable(spec):
        layer = spec(shape)
    else:
        raise ValueError(f"encoders[{name!r}] must be a Keras layer/model, a factory "
                         f"callable(shape) -> layer, an mmlib.encoders function name or a pair "
                         f"(name, kwargs), got {spec!r}.")
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(f"encoders[{name!r}] must produce a Keras layer or model, got "
                         f"{type(layer).__name__}.")
    return layer


def _resolve_fusion(spec: Any, seed: int | None) -> keras.layers.Layer:
    if isinstance(spec, keras.layers.Layer):
        return spec
    named = _named_spec(spec)
    if named is not None:
        cname, kwargs = named
        cls = getattr(fusion_module, cname, None)
        base = fusion_module.FusionLayer
        if not (isinstance(cls, type) and issubclass(cls, base)) or cls is base:
            raise ValueError(f"fusion names no fusion layer of mmlib.fusion: {cname!r}; expected "
                             "a layer that takes a list/dict of modality features, e.g. "
                             "'EarlyFusion', 'TensorFusion', 'LowRankFusion', 'GatedFusion'.")
        if "seed" not in kwargs and seed is not None:
            kwargs["seed"] = seed
        return cls(**kwargs)
    if callable(spec):
        layer = spec()
        if isinstance(layer, keras.layers.Layer):
            return layer
        raise ValueError(f"fusion factory must return a Keras layer, got {type(layer).__name__}.")
    raise ValueError("fusion must be a Keras layer, a factory callable() -> layer, an mmlib.fusion "
                     f"class name or a pair (name, kwargs), got {spec!r}.")


def _accepts_modality_mask(layer: keras.layers.Layer) -> bool:
    try:
        return "modality_mask" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def build_fusion_model(inputs: Any, encoders: Mapping[str, Any], fusion: Any = "EarlyFusion",
                       heads: Mapping[str, Any] | None = None, *,
                       modality_dropout: float | None = None, mask_input: bool = False,
                       hidden: Sequence[int] = (), dropout: float = 0.0,
                       unimodal_heads: bool = False, seed: int | None = None,
                       name: str = "fusion_model") -> keras.Model:
    """Assemble encoders + (ModalityDropout) + fusion + heads into one functional Keras model.

    ::

        model = build_fusion_model(
            inputs={"image": (28, 28, 1), "audio": (32, 20)},
            encoders={"image": "image_cnn", "audio": ("audio_cnn", {"embed_dim": 32})},
            fusion=("LowRankFusion", {"units": 32, "rank": 4}),
            heads={"digit": 10}, modality_dropout=0.2, seed=0)

    Data flow: ``x_m`` → ``encoder_m`` → ``h_m`` ``(batch, d_m)`` → optional
    :class:`ModalityDropout` (on the features; its kept mask goes to the fusion layer) →
    ``fusion({m: h_m}, modality_mask)`` → optional ``Dense(hidden, relu)`` blocks (+ dropout) →
    one head per task (:func:`multitask_heads`). With ``unimodal_heads=True`` every task also gets
    a head on each modality's own encoder features (before ModalityDropout), named
    ``"<task>_<modality>"`` (the unimodal heads of Gradient-Blending,
    :func:`estimate_blending_weights`).

    Args:
        inputs: ``modality -> shape`` (without batch axis, e.g. ``(28, 28, 1)``) or
            ``modality -> keras.Input`` (use ``keras.Input(shape, dtype="int32")`` for token ids),
            or a ``MultimodalDataset`` (shapes and dtypes of its ``modalities``).
        encoders: ``modality -> spec``; spec is a Keras layer/model, a factory
            ``callable(shape) -> layer``, the name of a function of :mod:`mmlib.encoders`
            (shape arguments such as ``input_shape``/``n_features``/``sequence_length``, ``seed``
            and ``name`` are filled in) or a pair ``(name, kwargs)``. Each must output
            ``(batch, d_m)``.
        fusion: a fusion layer (e.g. ``mmlib.fusion.TensorFusion()``), a factory
            ``callable() -> layer``, an :mod:`mmlib.fusion` class name or ``(name, kwargs)``.
            Layers whose ``call`` takes ``modality_mask`` get a dict of features and the mask;
            other layers (e.g. ``keras.layers.Concatenate()``) get the list of features in sorted
            modality order.
        heads: ``task -> spec`` as in :func:`multitask_heads` (an int C = C-class logits);
            default ``{"label": 2}``.
        modality_dropout: drop probability p of :class:`ModalityDropout` (None = no layer).
        mask_input: add an input ``"modality_mask"`` ``(M,)`` (1 = present, columns in sorted
            modality order) passed to ModalityDropout / the fusion layer.
        hidden: sizes of ReLU ``Dense`` layers between fusion and heads (an int = one layer).
        dropout: dropout rate after each hidden layer, in [0, 1).
        unimodal_heads: add per-modality heads ``"<task>_<modality>"``.
        seed: seed for encoders, fusion, dropout and heads (None = Keras' global seed).
        name: model name.

    Returns:
        ``keras.Model`` with dict inputs (modality names, plus ``"modality_mask"``) and dict
        outputs ``task -> (batch, units)`` (logits for classification).
    """
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    tensors = _make_inputs(inputs)
    names = sorted(tensors)
    if not isinstance(encoders, Mapping) or set(encoders) != set(names):
        got = list(encoders) if isinstance(encoders, Mapping) else encoders
        raise ValueError(f"encoders must be a dict with one entry per input modality {names}, "
                         f"got {got!r}.")
    heads = {"label": 2} if heads is None else heads
    if not isinstance(heads, Mapping) or not heads:
        raise ValueError(f"heads must be a non-empty dict task -> spec, got {heads!r}.")
    if isinstance(hidden, int):
        hidden = (hidden,)
    if isinstance(hidden, str) or not isinstance(hidden, Sequence):
        raise ValueError(f"hidden must be a sequence of layer sizes, got {hidden!r}.")
    hidden = [check_int(f"hidden[{j}]", h, minimum=1) for j, h in enumerate(hidden)]
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False)
    sub = (lambda i: None) if seed is None else (lambda i: seed * 1009 + i)

    features = {}
    for i, m in enumerate(names):
        encoder = _resolve_encoder(m, encoders[m], tensors[m], sub(i))
        h = encoder(tensors[m])
        if len(h.shape) != 2:
            raise ValueError(f"encoder of {m!r} must output (batch, d) features, got shape "
                             f"{tuple(h.shape)}.")
        features[m] = h
    model_inputs = dict(tensors)
    mask = None
    if mask_input:
        mask = keras.Input((len(names),), name="modality_mask")
        model_inputs["modality_mask"] = mask
    fused_in = features
    if modality_dropout is not None:
        drop = ModalityDropout(modality_dropout, seed=sub(100), name="modality_dropout")
        fused_in, mask = drop(features, modality_mask=mask)
    fusion_layer = _resolve_fusion(fusion, sub(200))
    if _accepts_modality_mask(fusion_layer):
        z = fusion_layer(fused_in, modality_mask=mask)
    else:
        z = fusion_layer([fused_in[m] for m in names])
    if isinstance(z, (tuple, list)):  # e.g. a layer that also returns weights
        z = z[0]
    for j, units in enumerate(hidden):
        z = keras.layers.Dense(units, activation="relu", name=f"hidden_{j}",
                               kernel_initializer=keras.initializers.HeNormal(seed=sub(300 + j)))(z)
        if dropout > 0.0:
            z = keras.layers.Dropout(dropout, seed=sub(400 + j), name=f"dropout_{j}")(z)
    outputs = multitask_heads(z, heads, seed=sub(500))
    if unimodal_heads:
        for i, m in enumerate(names):
            uni = multitask_heads(features[m], {f"{t}_{m}": spec for t, spec in heads.items()},
                                  seed=sub(600 + 10 * i))
            outputs.update(uni)
    return keras.Model(model_inputs, outputs, name=name)
