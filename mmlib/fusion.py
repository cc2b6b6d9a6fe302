"""Fusion layers (融合层): one Keras layer per fusion method of the course.

Every layer except :class:`CrossModalTransformer` is called on a **list or dict of modality
features** and an optional **modality mask**::

    fused = layer([x_1, ..., x_M], modality_mask=mask)   # x_m: (batch, d_m), mask: (batch, M)
    fused = layer({"audio": a, "video": v}, modality_mask=mask)

* A dict is ordered by :func:`mmlib._common.mask_columns` of its keys (the sorted names, the order
  ``keras.tree`` uses); ``layer.modality_names`` holds that order after the first call, and column
  ``m`` of the mask belongs to the ``m``-th name (the course's mask contract, see :mod:`mmlib`).
* ``modality_mask`` is ``(batch, M)``, bool or 0/1 numbers: ``True``/``1`` = present,
  ``False``/``0`` = missing. A layer guarantees that a missing modality **cannot change its
  output**: the missing input is replaced by the neutral element of the method (zeros for sums and
  concatenations, the constant-only term for tensor products, ones for Hadamard products, weight 0
  for attention) *before* anything else touches it, so even NaN in a missing slot is harmless.
* The argument is called ``modality_mask`` and not ``mask`` on purpose: Keras reserves ``mask`` for
  per-timestep padding masks, fills a ``mask`` argument automatically from the inputs'
  ``_keras_mask`` attributes (a list of padding masks, not a ``(batch, M)`` matrix) and
  propagates it to the outputs. ``modality_mask`` is an ordinary argument: you pass it (e.g. a
  ``keras.Input((M,))`` of a functional model), Keras never guesses it.

Layers are built on the first call for a fixed number of modalities and fixed feature sizes;
calling them with another number of modalities, different sizes, unequal batch sizes or a mask of
the wrong shape raises ``ValueError`` naming the problem (so does an empty list or a single
tensor; a modality that is not a numeric tensor or array raises ``TypeError``). All layers are
registered Keras serializables (``package="mmlib"``), so models that use them survive
``model.save`` / ``keras.models.load_model``, and they run inside ``tf.function`` and with
``jit_compile=True``.

**Unequal batch sizes inside a graph.** A batch of 1 would broadcast silently against a batch of
4, so the batch sizes are checked twice: when they are known while the layer is called (eager
execution, or a ``tf.function`` traced for concrete shapes) the call raises ``ValueError``; when
some are unknown (a ``tf.function`` with an ``input_signature`` whose batch axis is ``None``, or
Keras' own ``fit`` / ``predict`` functions) the check runs in the graph (TensorFlow backend, see
:func:`mmlib._common.assert_same_batch`) and the call raises
``tf.errors.InvalidArgumentError`` naming the layer and the batch sizes, e.g.
``LowRankFusion: modality 0, modality 1 must have the same batch size, got batch sizes [1 4]``;
the same holds for a ``modality_mask`` whose batch size differs from the features'. XLA
(``jit_compile=True``) ignores run-time asserts; there the check fails when XLA compiles the
function for the concrete shapes, with an ``InvalidArgumentError`` that names the node
``<Layer>_batch_sizes_must_be_equal`` and shows both shapes (e.g. ``f32[1,0] vs f32[4,0]``).

References are given on each layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import ops

from mmlib._common import (
    assert_same_batch,
    check_batch_sizes,
    check_modality_inputs,
    check_same_modalities,
    derive_seed,
    dtype_name,
    expand_to,
    is_shape,
    mask_columns,
    numeric_dtype,
    presence_mask,
    shape_text,
)
from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "AttentionFusion", "BilinearFusion", "CrossModalTransformer", "EarlyFusion", "FiLM",
    "FusionLayer", "GatedFusion", "LateFusion", "LowRankFusion", "ProjectedFusion",
    "TensorFusion", "low_rank_from_tensor_fusion",
]


def _sub_seed(seed: int | None, i: int) -> int | None:
    """A distinct reproducible seed for the ``i``-th initializer of a layer seeded ``seed``."""
    return derive_seed(seed, "fusion", i)


def _glorot(seed: int | None, i: int) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=_sub_seed(seed, i))


def _normal(seed: int | None, i: int, stddev: float) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=stddev, seed=_sub_seed(seed, i))


def _keys_in_mask_order(mapping: Mapping) -> list:
    """The keys of a dict of modalities in :func:`mask_columns` order (the mask's columns)."""
    by_name = {str(k): k for k in mapping}
    return [by_name[n] for n in mask_columns(by_name)]


class FusionLayer(keras.layers.Layer):
    """Base class: list/dict handling, validation and masking shared by the fusion layers.

    Subclasses implement ``_build_fusion(shapes)`` (create weights for the list of per-modality
    shapes) and ``call(inputs, modality_mask=None)``, where they use
    ``xs, present = self._prepare(inputs, modality_mask)`` to get the validated list of
    tensors (cast to the compute dtype, missing modalities already replaced by zeros) and the
    ``(batch, M)`` bool mask (or ``None``). They name their constructor arguments in the class
    attribute ``config_keys``; ``get_config`` saves those (and ``seed``), so a subclass needs no
    ``get_config`` of its own.

    Attributes set by ``build``: ``n_modalities`` (M), ``feature_dims`` (tuple of ``d_m``),
    ``modality_names`` (dict keys in :func:`mask_columns` order, ``None`` for lists).
    """

    min_modalities: int = 2
    max_modalities: int | None = None
    feature_rank: int | None = 2  # required rank of every modality tensor; None = any rank >= 2
    #: constructor arguments that ``get_config`` saves besides ``seed`` (activations serialized)
    config_keys: tuple[str, ...] = ()

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.n_modalities: int | None = None
        self.feature_dims: tuple[int, ...] | None = None
        self.modality_names: tuple[str, ...] | None = None

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the structure and dtypes of the inputs (clear errors), then call the layer."""
        check_modality_inputs(type(self).__name__, inputs)  # before Keras' own, vaguer checks
        return super().__call__(inputs, *args, **kwargs)

    # -- shapes ---------------------------------------------------------------------------------
    def _shape_list(self, input_shape: Any) -> tuple[list[tuple], tuple[str, ...] | None]:
        if isinstance(input_shape, Mapping) and input_shape:
            keys = _keys_in_mask_order(input_shape)
            return [tuple(input_shape[k]) for k in keys], tuple(str(k) for k in keys)
        if isinstance(input_shape, (list, tuple)) and input_shape and not is_shape(input_shape):
            return [tuple(s) for s in input_shape], None
        empty = isinstance(input_shape, (Mapping, list, tuple)) and not input_shape
        got = (f"an empty {type(input_shape).__name__}" if empty
               else f"a single tensor of shape {input_shape}")
        raise ValueError(
            f"{type(self).__name__} expects inputs as a list or dict of modality tensors "
            f"[(batch, d_1), ..., (batch, d_M)], got {got}.")

    def build(self, input_shape: Any) -> None:
        shapes, names = self._shape_list(input_shape)
        n = len(shapes)
        if n < self.min_modalities or (self.max_modalities is not None
                                       and n > self.max_modalities):
            want = (f"exactly {self.min_modalities}" if self.max_modalities == self.min_modalities
                    else f"at least {self.min_modalities}")
            raise ValueError(f"{type(self).__name__} needs {want} modalities, got {n}.")
        for m, s in enumerate(shapes):
            self._check_rank(m, s)
            if s[-1] is None:
                raise ValueError(f"{type(self).__name__}: the feature size (last axis) of modality "
                                 f"{m} must be known when the layer is built, got shape {s}.")
        self._check_batch([s[0] for s in shapes])
        self.n_modalities = n
        self.feature_dims = tuple(int(s[-1]) for s in shapes)
        self.modality_names = names
        self._build_fusion(shapes)

    def _build_fusion(self, shapes: list[tuple]) -> None:  # pragma: no cover - overridden
        """Create the layer's weights for the per-modality ``shapes``."""

    def _check_rank(self, m: int, shape: Sequence) -> None:
        rank = len(shape)
        if self.feature_rank is not None and rank != self.feature_rank:
            raise ValueError(f"{type(self).__name__}: modality {m} must have shape (batch, d), "
                             f"got {shape_text(shape)}.")
        if rank < 2:
            raise ValueError(f"{type(self).__name__}: modality {m} must have at least 2 axes "
                             f"(batch, ..., d), got {shape_text(shape)}.")

    def _check_batch(self, batches: list) -> None:
        check_batch_sizes(type(self).__name__, batches)

    # -- call-time validation -------------------------------------------------------------------
    def _split(self, inputs: Any) -> list:
        name = type(self).__name__
        if isinstance(inputs, Mapping):
            keys = _keys_in_mask_order(inputs)
            names, xs = tuple(str(k) for k in keys), [inputs[k] for k in keys]
        elif isinstance(inputs, (list, tuple)):
            names, xs = None, list(inputs)
        else:
            raise ValueError(f"{name} expects inputs as a list or dict of modality tensors, got "
                             f"{type(inputs).__name__}.")
        check_same_modalities(name, self.n_modalities, self.modality_names, len(xs), names)
        xs = [ops.convert_to_tensor(x) for x in xs]
        for m, x in enumerate(xs):
            self._check_rank(m, x.shape)
            if x.shape[-1] != self.feature_dims[m]:
                raise ValueError(f"{name}: modality {m} was built with feature size "
                                 f"{self.feature_dims[m]}, got shape {shape_text(x.shape)}.")
        self._check_batch([x.shape[0] for x in xs])
        return [ops.cast(x, self.compute_dtype) for x in xs]

    def _prepare(self, inputs: Any, modality_mask: Any) -> tuple[list, Any]:
        """Validated tensors, missing ones zeroed first (so not even a NaN there can reach the
        output or the gradient), and the bool ``(batch, M)`` mask or ``None``.

        The batch sizes of the modalities (and of the mask) are checked also when they are only
        known at run time (:func:`mmlib._common.assert_same_batch`)."""
        xs = self._split(inputs)
        name = type(self).__name__
        present = presence_mask(name, modality_mask, self.n_modalities, xs[0].shape[0])
        labels = ([f"modality {m}" for m in range(len(xs))] if self.modality_names is None
                  else list(self.modality_names))
        if present is None:
            xs = assert_same_batch(name, xs, labels)
        else:
            *xs, present = assert_same_batch(name, [*xs, present], [*labels, "modality_mask"])
        return self._fill_missing(xs, present), present

    def _fill_missing(self, xs: list, present: Any, fill: float = 0.0) -> list:
        """Replace the features of missing modalities by ``fill`` (no masked value survives)."""
        if present is None:
            return xs
        out = []
        for m, x in enumerate(xs):
            keep = expand_to(present[:, m], len(x.shape))
            out.append(ops.where(keep, x, ops.cast(fill, x.dtype)))
        return out

    def _present_float(self, present: Any, like: Any) -> Any:
        """``(batch, M)`` float 0/1 mask; all ones when ``present`` is ``None``."""
        if present is None:
            return ops.tile(ops.ones_like(like[:, :1]), [1, self.n_modalities])
        return ops.cast(present, like.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config["seed"] = self.seed
        for key in self.config_keys:
            value = getattr(self, key)
            config[key] = keras.activations.serialize(value) if key == "activation" else value
        return config


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class EarlyFusion(FusionLayer):
    """Early (feature-level) fusion: concatenate the modality features, optionally project.

    ``h = [x_1, ..., x_M]`` of shape ``(batch, Σ_m d_m)``; with ``append_mask=True`` the 0/1
    presence mask is appended (``(batch, Σ d_m + M)``) so later layers can tell a missing modality
    from a zero feature; with ``projection_dim=k`` the result is ``activation(h W + b)`` of shape
    ``(batch, k)``. Missing modalities are replaced by zeros.

    Args:
        projection_dim: size ``k`` of the optional linear projection (``None`` = no projection).
        activation: activation of the projection (Keras name or callable).
        append_mask: append the presence mask as M extra features.
        seed: seed of the weight initializer.
    """

    config_keys = ("projection_dim", "activation", "append_mask")

    def __init__(self, projection_dim: int | None = None, activation: Any = None,
                 append_mask: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.projection_dim = (None if projection_dim is None
                               else check_int("projection_dim", projection_dim, minimum=1))
        self.activation = keras.activations.get(activation)
        self.append_mask = bool(append_mask)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        total = sum(self.feature_dims) + (self.n_modalities if self.append_mask else 0)
        if self.projection_dim is not None:
            self.kernel = self.add_weight(shape=(total, self.projection_dim), name="kernel",
                                          initializer=_glorot(self.seed, 0))
            self.bias = self.add_weight(shape=(self.projection_dim,), name="bias",
                                        initializer="zeros")

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Fuse ``[(batch, d_m)]`` into ``(batch, Σ d_m [+ M])`` or ``(batch, projection_dim)``."""
        xs, present = self._prepare(inputs, modality_mask)
        parts = list(xs)
        if self.append_mask:
            parts.append(self._present_float(present, xs[0]))
        h = ops.concatenate(parts, axis=-1)
        if self.projection_dim is not None:
            h = self.activation(ops.matmul(h, self.kernel) + self.bias)
        return h


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class LateFusion(FusionLayer):
    """Late (decision-level) fusion of per-modality predictions ``p_m`` of shape ``(batch, k)``.

    Modes:

    * ``"mean"``: ``p = Σ_m a_m p_m / Σ_m a_m`` with ``a_m`` the 0/1 presence (plain average of
      the present modalities; zeros when none is present).
    * ``"weighted"``: learned logits ``l`` (``(M,)``, start at 0 = plain mean);
      ``w_m = a_m exp(l_m) / Σ_j a_j exp(l_j)`` (softmax over the present modalities) and
      ``p = Σ_m w_m p_m``; :meth:`modality_weights` returns ``softmax(l)``.
    * ``"stacking"``: a learned combiner (stacked generalisation, Wolpert 1992, "Stacked
      generalization", Neural Networks 5(2)): ``activation([a_1 p_1, ..., a_M p_M, a] W + b)``,
      output ``(batch, units)`` (``units`` defaults to ``k``).

    Average whatever the unimodal heads give (probabilities or logits), consistently.

    Args:
        mode: ``"mean"``, ``"weighted"`` or ``"stacking"``.
        units: output size for ``"stacking"`` (default: ``k``).
        activation: activation of the stacking combiner (e.g. ``"softmax"``).
        seed: seed of the weight initializer.
    """

    MODES = ("mean", "weighted", "stacking")
    config_keys = ("mode", "units", "activation")

    def __init__(self, mode: str = "mean", units: int | None = None, activation: Any = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.mode = check_choice("mode", mode, self.MODES)
        self.units = None if units is None else check_int("units", units, minimum=1)
        self.activation = keras.activations.get(activation)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        if self.mode != "stacking" and len(set(self.feature_dims)) != 1:
            raise ValueError(f"LateFusion(mode={self.mode!r}) needs predictions of equal size "
                             f"for every modality, got sizes {list(self.feature_dims)}.")
        if self.mode == "weighted":
            self.modality_logits = self.add_weight(shape=(self.n_modalities,), name="logits",
                                                   initializer="zeros")
        elif self.mode == "stacking":
            units = self.units or self.feature_dims[0]
            total = sum(self.feature_dims) + self.n_modalities
            self.kernel = self.add_weight(shape=(total, units), name="kernel",
                                          initializer=_glorot(self.seed, 0))
            self.bias = self.add_weight(shape=(units,), name="bias", initializer="zeros")

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Combine ``[(batch, k)] * M`` into ``(batch, k)`` (or ``(batch, units)``)."""
        xs, present = self._prepare(inputs, modality_mask)
        a = self._present_float(present, xs[0])  # (batch, M)
        if self.mode == "stacking":
            h = ops.concatenate([*xs, a], axis=-1)
            return self.activation(ops.matmul(h, self.kernel) + self.bias)
        stacked = ops.stack(xs, axis=1)  # (batch, M, k)
        if self.mode == "mean":
            w = a
        else:
            logits = self.modality_logits - ops.max(self.modality_logits)
            w = ops.exp(logits)[None, :] * a
        w = ops.divide_no_nan(w, ops.sum(w, axis=1, keepdims=True))
        return ops.sum(w[:, :, None] * stacked, axis=1)

    def modality_weights(self) -> Any:
        """``softmax(l)``, the learned weights of ``"weighted"`` mode as a NumPy ``(M,)`` array."""
        if self.mode != "weighted":
            raise ValueError(f"modality_weights() needs mode='weighted', got mode={self.mode!r}.")
        return keras.ops.convert_to_numpy(ops.softmax(self.modality_logits))


# ---------------------------------------------------------------------------------------------
def _augment_one(z: Any, one_position: str) -> Any:
    one = ops.ones_like(z[:, :1])
    return ops.concatenate([z, one] if one_position == "last" else [one, z], axis=-1)


@keras.saving.register_keras_serializable(package="mmlib")
class TensorFusion(FusionLayer):
    """Tensor fusion (Zadeh et al., 2017, "Tensor Fusion Network for Multimodal Sentiment
    Analysis", EMNLP): the outer product of the modality vectors, each extended by a constant 1.

    With ``z̃_m = [z_m, 1]`` (``one_position="last"``, the paper's ``[z; 1]``) or
    ``z̃_m = [1, z_m]`` (``one_position="first"``, what MultiBench and the TFN authors' code do),
    the output is the flattened tensor ``z̃_1 ⊗ z̃_2 ⊗ ... ⊗ z̃_M`` of shape
    ``(batch, ∏_m (d_m + 1))``. The constant 1 keeps every lower-order term: the output contains
    each unimodal vector, every pairwise product, ..., and the full M-way products.

    **Index layout** (row-major / C order, first modality slowest)::

        out[b, np.ravel_multi_index((i_1, ..., i_M), (d_1 + 1, ..., d_M + 1))]
            = z̃_1[b, i_1] * ... * z̃_M[b, i_M]

    so with ``"last"`` the final entry ``out[:, -1]`` is 1 and ``z_1`` sits at
    ``out.reshape(batch, d_1 + 1, ..., d_M + 1)[:, :d_1, d_2, ..., d_M]``; with ``"first"``
    ``out[:, 0]`` is 1 and ``z_1`` sits at ``[:, 1:, 0, ..., 0]``. The layer has no weights: follow
    it with a ``Dense`` layer (TFN's post-fusion network). A missing modality is replaced by
    ``z̃_m = [0, ..., 0, 1]`` (only its constant term survives).

    Args:
        one_position: ``"last"`` (default, as in the paper) or ``"first"`` (MultiBench).
    """

    config_keys = ("one_position",)

    def __init__(self, one_position: str = "last", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.one_position = check_choice("one_position", one_position, ("last", "first"))

    @property
    def output_dim(self) -> int:
        """``∏_m (d_m + 1)`` (available after the layer is built)."""
        return int(math.prod(d + 1 for d in self.feature_dims))

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Return the flattened outer product, ``(batch, ∏_m (d_m + 1))``."""
        xs, present = self._prepare(inputs, modality_mask)
        out = _augment_one(xs[0], self.one_position)
        size = self.feature_dims[0] + 1
        for m in range(1, len(xs)):
            z = _augment_one(xs[m], self.one_position)
            size *= self.feature_dims[m] + 1
            out = ops.reshape(out[:, :, None] * z[:, None, :], (-1, size))
        return out


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class LowRankFusion(FusionLayer):
    """Low-rank multimodal fusion, LMF (Liu et al., 2018, "Efficient Low-rank Multimodal Fusion
    with Modality-Specific Factors", ACL).

    ``y = Σ_{r=1..R} w_r ∏_{m=1..M} (z̃_m W_m^(r)) + b``, where ``z̃_m`` is ``z_m`` extended by a
    constant 1 (``[z_m, 1]`` for ``one_position="last"``, ``[1, z_m]`` for ``"first"``, the form
    of the LMF code; the two differ only by the order of the rows of ``W_m^(r)``),
    ``W_m^(r)`` of shape ``(d_m + 1, units)``, ``∏`` the element-wise product over modalities and
    ``w`` of shape ``(R,)``. This equals ``TensorFusion`` followed by a ``Dense(units)`` whose
    weight tensor has CP rank ``R`` per output unit, at a cost of ``R·units·Σ_m (d_m + 1)``
    instead of ``units·∏_m (d_m + 1)`` parameters.

    Weights (all trainable): ``factors[m]`` of shape ``(rank, d_m + 1, units)``,
    ``rank_weights`` ``(rank,)``, ``bias`` ``(units,)``. (MultiBench's version kept the factors as
    plain tensors, so they were never trained; the tests check every weight receives gradient.)
    A missing modality is replaced by ``z_m = 0`` (only its constant row acts).

    Args:
        units: output size.
        rank: the rank ``R`` (≥ 1).
        one_position: where the constant 1 goes, ``"last"`` or ``"first"``.
        use_bias: add the bias ``b``.
        seed: seed of the weight initializers.

    Output: ``(batch, units)``.
    """

    config_keys = ("units", "rank", "one_position", "use_bias")

    def __init__(self, units: int, rank: int, one_position: str = "last", use_bias: bool = True,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.units = check_int("units", units, minimum=1)
        self.rank = check_int("rank", rank, minimum=1)
        self.one_position = check_choice("one_position", one_position, ("last", "first"))
        self.use_bias = bool(use_bias)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        self.factors = [
            self.add_weight(shape=(self.rank, d + 1, self.units), name=f"factor_{m}",
                            initializer=_normal(self.seed, m, 1.0 / math.sqrt(d + 1)))
            for m, d in enumerate(self.feature_dims)]
        self.rank_weights = self.add_weight(
            shape=(self.rank,), name="rank_weights",
            initializer=_normal(self.seed, len(self.feature_dims), 1.0 / math.sqrt(self.rank)))
        self.bias = (self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Fuse ``[(batch, d_m)]`` into ``(batch, units)``."""
        xs, present = self._prepare(inputs, modality_mask)
        prod = None
        for m, z in enumerate(xs):
            proj = ops.einsum("bd,rdu->bru", _augment_one(z, self.one_position), self.factors[m])
            prod = proj if prod is None else prod * proj
        y = ops.einsum("bru,r->bu", prod, self.rank_weights)
        return y + self.bias if self.bias is not None else y


def low_rank_from_tensor_fusion(kernel: Any, bias: Any, feature_dims: Sequence[int], rank: int,
                                one_position: str = "last") -> LowRankFusion:
    """The best rank-``R`` :class:`LowRankFusion` equal to ``TensorFusion`` + ``Dense``, by SVD.

    For two modalities, ``Dense(TensorFusion([z_1, z_2]))`` with ``kernel`` of shape
    ``((d_1 + 1)(d_2 + 1), units)`` computes for every output unit ``u`` the bilinear form
    ``y_u = z̃_1ᵀ K_u z̃_2 + b_u``, where ``K_u`` is column ``u`` of ``kernel`` reshaped to
    ``(d_1 + 1, d_2 + 1)`` (the layout of :class:`TensorFusion` with the same ``one_position``).
    LMF (Liu et al., 2018, "Efficient Low-rank Multimodal Fusion with Modality-Specific Factors",
    ACL) computes exactly such forms with ``K_u = Σ_r w_r W_1^(r)[:, u] W_2^(r)[:, u]ᵀ``, a matrix
    of rank at most ``R``. The truncated SVD ``K_u ≈ Σ_{r<R} s_r a_r b_rᵀ`` is the best rank-``R``
    approximation in the Frobenius norm (Eckart & Young, 1936, "The approximation of one matrix
    by another of lower rank", Psychometrika), so the returned layer has factors
    ``W_1^(r)[:, u] = √s_r a_r``, ``W_2^(r)[:, u] = √s_r b_r``, rank weights 1 and bias ``b``.
    With ``rank = min(d_1, d_2) + 1`` it reproduces ``TensorFusion`` + ``Dense`` exactly (up to
    float32 rounding); with a lower rank it keeps the ``R`` largest singular values of each unit.

    Args:
        kernel: ``((d_1 + 1)(d_2 + 1), units)`` weights of the ``Dense`` layer after
            ``TensorFusion`` (a NumPy array or tensor).
        bias: ``(units,)`` bias of that ``Dense`` layer.
        feature_dims: ``(d_1, d_2)``, the feature sizes of the two modalities.
        rank: ``R``, between 1 and ``min(d_1, d_2) + 1``.
        one_position: where ``TensorFusion`` put the constant 1 (``"last"`` or ``"first"``).

    Returns:
        A built ``LowRankFusion(units, rank)`` for inputs ``[(batch, d_1), (batch, d_2)]``.
    """
    import numpy as np

    from mmlib._validate import check_numeric_array

    check_choice("one_position", one_position, ("last", "first"))
    if isinstance(feature_dims, (str, bytes)) or not isinstance(feature_dims, Sequence):
        raise TypeError(f"feature_dims must be a sequence (d_1, d_2) of two ints, got "
                        f"{type(feature_dims).__name__}.")
    if len(feature_dims) != 2:
        raise ValueError(f"feature_dims must hold exactly two feature sizes (the SVD construction "
                         f"is for two modalities), got {tuple(feature_dims)}.")
    d1, d2 = (check_int(f"feature_dims[{i}]", d, minimum=1) for i, d in enumerate(feature_dims))
    k = check_numeric_array("kernel", keras.ops.convert_to_numpy(kernel))
    b = check_numeric_array("bias", keras.ops.convert_to_numpy(bias))
    if k.ndim != 2 or k.shape[0] != (d1 + 1) * (d2 + 1):
        raise ValueError(f"kernel must have shape ({(d1 + 1) * (d2 + 1)}, units) for feature_dims "
                         f"({d1}, {d2}), got {k.shape}.")
    units = k.shape[1]
    if b.shape != (units,):
        raise ValueError(f"bias must have shape ({units},) to match the kernel, got {b.shape}.")
    full = min(d1, d2) + 1
    rank = check_int("rank", rank, minimum=1, maximum=full)
    per_unit = np.moveaxis(k.reshape(d1 + 1, d2 + 1, units), -1, 0)  # (units, d1 + 1, d2 + 1)
    u, s, vt = np.linalg.svd(per_unit, full_matrices=False)  # batched over units
    root = np.sqrt(s[:, :rank])  # (units, rank)
    f1 = np.einsum("uir,ur->riu", u[:, :, :rank], root)  # (rank, d1 + 1, units)
    f2 = np.einsum("uri,ur->riu", vt[:, :rank, :], root)  # (rank, d2 + 1, units)
    layer = LowRankFusion(units, rank, one_position=one_position)
    layer.build([(None, d1), (None, d2)])
    for var, value in zip(layer.factors, (f1, f2), strict=True):
        var.assign(value.astype(var.dtype))
    layer.rank_weights.assign(np.ones(rank, dtype=layer.rank_weights.dtype))
    layer.bias.assign(b.astype(layer.bias.dtype))
    return layer


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class GatedFusion(FusionLayer):
    """Gated Multimodal Unit, GMU (Arevalo et al., 2017, "Gated Multimodal Units for Information
    Fusion", ICLR workshop).

    ``h_m = act(x_m W_m + b_m)`` (``act`` = tanh) and, for **two** modalities, one gate
    ``z = σ([x_1, x_2] W_z + b_z)`` with ``h = z ⊙ h_1 + (1 - z) ⊙ h_2`` (paper eqs. 1–4);
    for **M > 2** modalities one gate per modality, ``z_m = σ([x_1, ..., x_M] W_{z,m} + b_{z,m})``
    and ``h = Σ_m z_m ⊙ h_m`` (the paper's multi-modality form). A missing modality has its input
    set to zero (also inside the gate input) and its gate set to zero.

    Weights: ``feature_kernels[m]`` ``(d_m, units)``, ``feature_biases[m]`` ``(units,)``,
    ``gate_kernels[j]`` ``(Σ d_m, units)`` and ``gate_biases[j]`` (one gate when M = 2, M gates
    otherwise).

    Args:
        units: size of the fused representation.
        activation: activation of the modality projections (default ``"tanh"``).
        seed: seed of the weight initializers.

    Output: ``(batch, units)``.
    """

    config_keys = ("units", "activation")

    def __init__(self, units: int, activation: Any = "tanh", seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.units = check_int("units", units, minimum=1)
        self.activation = keras.activations.get(activation)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        n = self.n_modalities
        self.feature_kernels = [
            self.add_weight(shape=(d, self.units), name=f"kernel_{m}",
                            initializer=_glorot(self.seed, m))
            for m, d in enumerate(self.feature_dims)]
        self.feature_biases = [self.add_weight(shape=(self.units,), name=f"bias_{m}",
                                               initializer="zeros") for m in range(n)]
        n_gates = 1 if n == 2 else n
        total = sum(self.feature_dims)
        self.gate_kernels = [
            self.add_weight(shape=(total, self.units), name=f"gate_kernel_{j}",
                            initializer=_glorot(self.seed, n + j)) for j in range(n_gates)]
        self.gate_biases = [self.add_weight(shape=(self.units,), name=f"gate_bias_{j}",
                                            initializer="zeros") for j in range(n_gates)]

    def call(self, inputs: Any, modality_mask: Any = None, return_gates: bool = False) -> Any:
        """Fuse ``[(batch, d_m)]`` into ``(batch, units)``.

        With ``return_gates=True`` also return the gates ``(batch, M, units)`` (for M = 2 they are
        ``z`` and ``1 - z``), zero for missing modalities.
        """
        xs, present = self._prepare(inputs, modality_mask)
        hs = [self.activation(ops.matmul(x, k) + b)
              for x, k, b in zip(xs, self.feature_kernels, self.feature_biases, strict=True)]
        joint = ops.concatenate(xs, axis=-1)
        zs = [ops.sigmoid(ops.matmul(joint, k) + b)
              for k, b in zip(self.gate_kernels, self.gate_biases, strict=True)]
        if self.n_modalities == 2:
            zs = [zs[0], 1.0 - zs[0]]
        gates = ops.stack(zs, axis=1)  # (batch, M, units)
        if present is not None:
            gates = gates * ops.cast(present, gates.dtype)[:, :, None]
        h = ops.sum(gates * ops.stack(hs, axis=1), axis=1)
        return (h, gates) if return_gates else h


# ---------------------------------------------------------------------------------------------
def _role_index(layer: FusionLayer, role: str, value: int | str) -> int:
    """Index of the modality named by ``value``: an int index, or a key of dict inputs."""
    if isinstance(value, str):
        if layer.modality_names is None or value not in layer.modality_names:
            keys = "list inputs have no keys" if layer.modality_names is None else (
                f"the input keys are {list(layer.modality_names)}")
            raise ValueError(f"{role} must name one of the inputs, got {value!r} ({keys}).")
        return layer.modality_names.index(value)
    if not -layer.n_modalities <= value < layer.n_modalities:
        raise ValueError(f"{role} must be an index in [0, {layer.n_modalities - 1}], got "
                         f"{value}.")
    return value % layer.n_modalities


@keras.saving.register_keras_serializable(package="mmlib")
class FiLM(FusionLayer):
    """Feature-wise linear modulation, FiLM (Perez et al., 2018, "FiLM: Visual Reasoning with a
    General Conditioning Layer", AAAI).

    One modality (``target``, shape ``(batch, ..., C)``, channels last: a vector, a sequence or a
    feature map) is modulated by the others (the conditioning ``c``, their concatenation,
    ``(batch, d_c)``): ``γ = c W_γ + b_γ``, ``β = c W_β + b_β`` (both ``(batch, C)``) and
    ``FiLM(x) = γ ⊙ x + β``, broadcast over all axes between batch and channels.
    ``b_γ`` starts at 1 and ``b_β`` at 0, so an untrained layer is close to the identity.

    Masks: a missing conditioning modality is replaced by zeros in ``c``; when *no* conditioning
    modality is present the target passes unchanged (``γ = 1, β = 0``); a missing target gives
    zeros.

    Args:
        target: which input is modulated: a list index or a dict key (default 0).
        seed: seed of the weight initializers.

    Weights: ``gamma_kernel`` ``(d_c, C)``, ``gamma_bias`` ``(C,)``, ``beta_kernel``,
    ``beta_bias``. Output: the target's shape.
    """

    feature_rank = None
    config_keys = ("target",)

    def __init__(self, target: int | str = 0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise ValueError(f"target must be a list index (int) or dict key (str), got "
                             f"{target!r}.")
        self.target = target

    def _check_rank(self, m: int, shape: Sequence) -> None:
        super()._check_rank(m, shape)
        if self.n_modalities is not None and m != self._target and len(shape) != 2:
            raise ValueError(f"FiLM: conditioning modality {m} must have shape (batch, d), got "
                             f"{shape_text(shape)}.")

    def build(self, input_shape: Any) -> None:
        shapes, names = self._shape_list(input_shape)
        self.modality_names, self.n_modalities = names, len(shapes)
        self._target = _role_index(self, "target", self.target)
        super().build(input_shape)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        channels = self.feature_dims[self._target]
        d_c = sum(d for m, d in enumerate(self.feature_dims) if m != self._target)
        self.gamma_kernel = self.add_weight(shape=(d_c, channels), name="gamma_kernel",
                                            initializer=_glorot(self.seed, 0))
        self.gamma_bias = self.add_weight(shape=(channels,), name="gamma_bias",
                                          initializer="ones")
        self.beta_kernel = self.add_weight(shape=(d_c, channels), name="beta_kernel",
                                           initializer=_glorot(self.seed, 1))
        self.beta_bias = self.add_weight(shape=(channels,), name="beta_bias", initializer="zeros")

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Modulate the target ``(batch, ..., C)``; returns the same shape."""
        xs, present = self._prepare(inputs, modality_mask)
        x = xs[self._target]
        cond = ops.concatenate([z for m, z in enumerate(xs) if m != self._target], axis=-1)
        gamma = ops.matmul(cond, self.gamma_kernel) + self.gamma_bias
        beta = ops.matmul(cond, self.beta_kernel) + self.beta_bias
        if present is not None:
            others = [m for m in range(self.n_modalities) if m != self._target]
            any_cond = ops.any(ops.take(present, others, axis=1), axis=1)[:, None]
            gamma = ops.where(any_cond, gamma, ops.ones_like(gamma))
            beta = ops.where(any_cond, beta, ops.zeros_like(beta))
        rank = len(x.shape)
        for _ in range(rank - 2):
            gamma, beta = ops.expand_dims(gamma, 1), ops.expand_dims(beta, 1)
        out = gamma * x + beta
        if present is not None:
            out = ops.where(expand_to(present[:, self._target], rank), out,
                            ops.zeros_like(out))
        return out


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class BilinearFusion(FusionLayer):
    """Multimodal low-rank bilinear pooling, MLB (Kim et al., 2017, "Hadamard Product for Low-rank
    Bilinear Pooling", ICLR).

    ``f = P^T (σ(U^T x + b_x) ∘ σ(V^T y + b_y)) + b`` with σ = tanh and ∘ the Hadamard product
    (paper eq. for MLB with biases); for M modalities the product runs over all of them:
    ``f = (∏_m σ(x_m U_m + b_m)) P + b_P``. Without ``units`` the joint ``(batch, rank)``
    embedding (before ``P``) is returned. A missing modality contributes the neutral factor 1.

    Weights: ``factor_kernels[m]`` ``(d_m, rank)``, ``factor_biases[m]`` ``(rank,)``, and when
    ``units`` is given ``output_kernel`` ``(rank, units)``, ``output_bias`` ``(units,)``.

    Args:
        rank: size of the joint low-rank space (≥ 1).
        units: output size of the projection ``P`` (``None`` = no projection).
        activation: σ, default ``"tanh"``.
        seed: seed of the weight initializers.

    Output: ``(batch, units)`` or ``(batch, rank)``.
    """

    config_keys = ("rank", "units", "activation")

    def __init__(self, rank: int, units: int | None = None, activation: Any = "tanh",
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rank = check_int("rank", rank, minimum=1)
        self.units = None if units is None else check_int("units", units, minimum=1)
        self.activation = keras.activations.get(activation)

    def _build_fusion(self, shapes: list[tuple]) -> None:
        self.factor_kernels = [
            self.add_weight(shape=(d, self.rank), name=f"factor_kernel_{m}",
                            initializer=_glorot(self.seed, m))
            for m, d in enumerate(self.feature_dims)]
        self.factor_biases = [self.add_weight(shape=(self.rank,), name=f"factor_bias_{m}",
                                              initializer="zeros")
                              for m in range(self.n_modalities)]
        if self.units is not None:
            self.output_kernel = self.add_weight(shape=(self.rank, self.units),
                                                 name="output_kernel",
                                                 initializer=_glorot(self.seed, self.n_modalities))
            self.output_bias = self.add_weight(shape=(self.units,), name="output_bias",
                                               initializer="zeros")

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Fuse ``[(batch, d_m)]`` into ``(batch, units)`` (or ``(batch, rank)``)."""
        xs, present = self._prepare(inputs, modality_mask)
        joint = None
        for m, x in enumerate(xs):
            f = self.activation(ops.matmul(x, self.factor_kernels[m]) + self.factor_biases[m])
            if present is not None:
                f = ops.where(present[:, m:m + 1], f, ops.ones_like(f))
            joint = f if joint is None else joint * f
        if self.units is None:
            return joint
        return ops.matmul(joint, self.output_kernel) + self.output_bias


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class AttentionFusion(FusionLayer):
    """Attention over modalities: input-dependent, learned modality weights.

    Each modality is (optionally) projected to a common size, ``h_m = x_m W_m + b_m``
    (``(batch, units)``; without ``units`` all ``d_m`` must be equal and ``h_m = x_m``), scored
    with additive attention (Bahdanau et al., 2015, "Neural Machine Translation by Jointly Learning
    to Align and Translate", ICLR) ``s_m = v^T tanh(h_m W_a + b_a)``, and the weights
    ``α = softmax(s)`` are taken over the **present** modalities only (a missing modality gets
    α = 0; all missing gives zeros). Output ``Σ_m α_m h_m``; call with ``return_weights=True``
    to get ``(fused, α)`` with ``α`` of shape ``(batch, M)`` for inspection.

    Args:
        units: common size of the projected modalities (``None`` = no projection).
        attention_units: hidden size of the scoring MLP (default: the common size).
        seed: seed of the weight initializers.

    Output: ``(batch, units)`` (or ``(batch, d)``).
    """

    config_keys = ("units", "attention_units")

    def __init__(self, units: int | None = None, attention_units: int | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.units = None if units is None else check_int("units", units, minimum=1)
        self.attention_units = (None if attention_units is None
                                else check_int("attention_units", attention_units, minimum=1))

    def _build_fusion(self, shapes: list[tuple]) -> None:
        if self.units is None:
            if len(set(self.feature_dims)) != 1:
                raise ValueError("AttentionFusion without units needs equal feature sizes, got "
                                 f"{list(self.feature_dims)}; pass units=... to project them.")
            dim = self.feature_dims[0]
            self.kernels, self.biases = [], []
        else:
            dim = self.units
            self.kernels = [self.add_weight(shape=(d, dim), name=f"kernel_{m}",
                                            initializer=_glorot(self.seed, m))
                            for m, d in enumerate(self.feature_dims)]
            self.biases = [self.add_weight(shape=(dim,), name=f"bias_{m}", initializer="zeros")
                           for m in range(self.n_modalities)]
        a = self.attention_units or dim
        n = self.n_modalities
        self.score_kernel = self.add_weight(shape=(dim, a), name="score_kernel",
                                            initializer=_glorot(self.seed, n))
        self.score_bias = self.add_weight(shape=(a,), name="score_bias", initializer="zeros")
        self.score_vector = self.add_weight(shape=(a,), name="score_vector",
                                            initializer=_normal(self.seed, n + 1,
                                                                1.0 / math.sqrt(a)))

    def call(self, inputs: Any, modality_mask: Any = None, return_weights: bool = False) -> Any:
        """Return the fused ``(batch, units)``, or ``(fused, weights (batch, M))``."""
        xs, present = self._prepare(inputs, modality_mask)
        if self.kernels:
            xs = [ops.matmul(x, k) + b for x, k, b in zip(xs, self.kernels, self.biases,
                                                           strict=True)]
        h = ops.stack(xs, axis=1)  # (batch, M, dim)
        scores = ops.einsum("bma,a->bm", ops.tanh(ops.matmul(h, self.score_kernel)
                                                  + self.score_bias), self.score_vector)
        a = self._present_float(present, xs[0])
        shift = ops.max(ops.where(a > 0, scores, ops.full_like(scores, -1e9)), axis=1,
                        keepdims=True, initial=-1e9)  # `initial`: an empty batch is fine too
        e = ops.exp(ops.minimum(scores - shift, 0.0)) * a
        weights = ops.divide_no_nan(e, ops.sum(e, axis=1, keepdims=True))
        fused = ops.sum(weights[:, :, None] * h, axis=1)
        return (fused, weights) if return_weights else fused


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class ProjectedFusion(FusionLayer):
    """The seed article's fusion ``H = f(X·Aᵀ, Y)`` made explicit.

    ``X`` (``(batch, ..., d_x)``, the input chosen by ``project``) is mapped into ``Y``'s space by a
    learned matrix ``A`` of shape ``(k, d_x)`` — in code ``X @ self.kernel`` with
    ``self.kernel = Aᵀ`` of shape ``(d_x, k)`` (``self.A`` returns ``A``) — and combined with
    ``Y`` (``(batch, ..., d_y)``, same leading axes) by ``f``:

    * ``"concat"``: ``H = [X Aᵀ, Y]``, ``(batch, ..., k + d_y)`` (``k`` = ``projection_dim``,
      default ``d_y``);
    * ``"sum"``: ``H = X Aᵀ + Y``, ``(batch, ..., d_y)``;
    * ``"product"``: ``H = X Aᵀ ⊙ Y`` (element-wise), ``(batch, ..., d_y)``.

    The formula has no bias; ``use_bias=True`` adds one (``X Aᵀ + c``). A missing modality is
    replaced by the neutral element of ``f``: zeros for ``concat``/``sum``, ones for ``product``.

    Args:
        combine: ``f``: ``"concat"``, ``"sum"`` or ``"product"``.
        projection_dim: ``k`` (only for ``"concat"``; ``sum``/``product`` need ``k = d_y``).
        project: which input is ``X`` (list index or dict key, default 0); the other is ``Y``.
        use_bias: add a bias to the projection.
        seed: seed of the initializer of ``A``.
    """

    min_modalities = 2
    max_modalities = 2
    feature_rank = None
    COMBINE = ("concat", "sum", "product")
    config_keys = ("combine", "projection_dim", "project", "use_bias")

    def __init__(self, combine: str = "concat", projection_dim: int | None = None,
                 project: int | str = 0, use_bias: bool = False, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.combine = check_choice("combine", combine, self.COMBINE)
        self.projection_dim = (None if projection_dim is None
                               else check_int("projection_dim", projection_dim, minimum=1))
        if isinstance(project, bool) or not isinstance(project, (int, str)):
            raise ValueError(f"project must be a list index (int) or dict key (str), got "
                             f"{project!r}.")
        self.project = project
        self.use_bias = bool(use_bias)

    def build(self, input_shape: Any) -> None:
        shapes, names = self._shape_list(input_shape)
        self.modality_names, self.n_modalities = names, len(shapes)
        if len(shapes) == 2:
            self._x = _role_index(self, "project", self.project)
            self._check_leading_axes(shapes)
        super().build(input_shape)

    def _check_leading_axes(self, shapes: list[tuple]) -> None:
        """X and Y must agree on every axis except the features (batch is checked elsewhere)."""
        a, b = shapes
        if len(a) != len(b) or any(p is not None and q is not None and p != q
                                   for p, q in zip(a[1:-1], b[1:-1], strict=True)):
            raise ValueError(f"ProjectedFusion: X and Y must have the same axes between batch "
                             f"and features, got shapes {shape_text(a)} and {shape_text(b)}.")

    def _split(self, inputs: Any) -> list:
        xs = super()._split(inputs)
        self._check_leading_axes([tuple(x.shape) for x in xs])
        return xs

    def _build_fusion(self, shapes: list[tuple]) -> None:
        d_x, d_y = self.feature_dims[self._x], self.feature_dims[1 - self._x]
        k = self.projection_dim or d_y
        if self.combine != "concat" and k != d_y:
            raise ValueError(f"ProjectedFusion(combine={self.combine!r}) needs projection_dim "
                             f"equal to Y's size {d_y}, got {k}.")
        self.kernel = self.add_weight(shape=(d_x, k), name="kernel",
                                      initializer=_glorot(self.seed, 0))
        self.bias = (self.add_weight(shape=(k,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    @property
    def A(self) -> Any:  # noqa: N802 - the article's name
        """The projection matrix ``A`` of shape ``(k, d_x)`` (the transpose of ``kernel``)."""
        return ops.transpose(self.kernel)

    def call(self, inputs: Any, modality_mask: Any = None) -> Any:
        """Return ``H = f(X Aᵀ, Y)``."""
        xs, present = self._prepare(inputs, modality_mask)
        x, y = xs[self._x], xs[1 - self._x]
        xa = ops.matmul(x, self.kernel)
        if self.bias is not None:
            xa = xa + self.bias
        if present is not None:
            fill = 1.0 if self.combine == "product" else 0.0
            rank = len(xa.shape)
            xa = ops.where(expand_to(present[:, self._x], rank), xa,
                           ops.full_like(xa, fill))
            y = ops.where(expand_to(present[:, 1 - self._x], rank), y, ops.full_like(y, fill))
        if self.combine == "concat":
            return ops.concatenate([xa, y], axis=-1)
        if self.combine == "sum":
            return xa + y
        return xa * y


# ---------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="mmlib")
class CrossModalTransformer(keras.layers.Layer):
    """Crossmodal attention block of the Multimodal Transformer, MulT (Tsai et al., 2019,
    "Multimodal Transformer for Unaligned Multimodal Language Sequences", ACL).

    The target modality ``α`` (queries, ``(batch, T_α, d_α)``) attends to the source modality
    ``β`` (keys and values, ``(batch, T_β, d_β)``); the sequences need not be aligned or of equal
    length. With pre-layer-norm residual blocks as in the paper::

        Ẑ = MHA(LN(Z_α), LN(X_β), LN(X_β)) + LN(Z_α)
        Z = FFN(LN(Ẑ)) + LN(Ẑ),   FFN(u) = relu(u W_1 + b_1) W_2 + b_2

    Output ``(batch, T_α, d_α)``; with ``return_attention_scores=True`` the call returns
    ``(Z, scores)`` with ``scores`` of shape ``(batch, num_heads, T_α, T_β)``. Positional
    embeddings are not part of the block (add them to the sequences first).

    Masks: ``target_mask`` ``(batch, T_α)`` and ``source_mask`` ``(batch, T_β)`` are padding
    masks (True = real step). Keras fills them automatically from the inputs' padding masks
    (e.g. after ``Embedding(mask_zero=True)``), and the output carries the target's mask.
    Masked source steps get attention weight 0 (their values cannot change the output); a sample
    whose source is entirely masked (missing modality) gets no attention term at all; padded
    target steps are output as zeros.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's queries/keys.
        ff_dim: hidden size of the feed-forward network.
        dropout: dropout rate on attention weights and the FFN hidden layer, in [0, 1).
        seed: seed of initializers and dropout.
    """

    def __init__(self, num_heads: int = 2, key_dim: int = 16, ff_dim: int = 64,
                 dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.key_dim = check_int("key_dim", key_dim, minimum=1)
        self.ff_dim = check_int("ff_dim", ff_dim, minimum=1)
        self.dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0,
                                   include_max=False)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.supports_masking = True  # Keras passes the target's padding mask on to the output
        self.norm_target = keras.layers.LayerNormalization(epsilon=1e-5, name="norm_target")
        self.norm_source = keras.layers.LayerNormalization(epsilon=1e-5, name="norm_source")
        self.norm_ff = keras.layers.LayerNormalization(epsilon=1e-5, name="norm_ff")
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=self.key_dim, dropout=self.dropout,
            kernel_initializer=_glorot(self.seed, 0), seed=_sub_seed(self.seed, 1),
            name="attention")
        self.ff_hidden = keras.layers.Dense(self.ff_dim, activation="relu",
                                            kernel_initializer=_glorot(self.seed, 2),
                                            name="ff_hidden")
        self.ff_dropout = keras.layers.Dropout(self.dropout, seed=_sub_seed(self.seed, 3))
        self.ff_out: keras.layers.Dense | None = None

    def __call__(self, target: Any, source: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Check the structure and dtypes of the inputs (clear errors), then call the layer."""
        if source is None:
            hint = (" (pass the two tensors as separate arguments, not as a list)"
                    if isinstance(target, (list, tuple)) else "")
            raise ValueError("CrossModalTransformer is called as layer(target, source) with "
                             "target (batch, T_α, d_α) and source (batch, T_β, d_β), got no "
                             f"source{hint}.")
        for role, x in (("target", target), ("source", source)):
            if not hasattr(x, "shape") or numeric_dtype(x) is None:
                what = f"dtype {dtype_name(x)}" if hasattr(x, "dtype") else type(x).__name__
                raise TypeError(f"CrossModalTransformer: {role} must be a numeric tensor or "
                                f"array (batch, steps, d), got {what}.")
        return super().__call__(target, source, *args, **kwargs)

    def build(self, target_shape: Sequence, source_shape: Sequence) -> None:
        target_shape, source_shape = tuple(target_shape), tuple(source_shape)
        for role, s in (("target", target_shape), ("source", source_shape)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"CrossModalTransformer: {role} must have shape (batch, steps, "
                                 f"d) with known d, got {shape_text(s)}.")
        self.norm_target.build(target_shape)
        self.norm_source.build(source_shape)
        self.attention.build(target_shape, source_shape, source_shape)
        self.norm_ff.build(target_shape)
        self.ff_hidden.build(target_shape)
        self.ff_out = keras.layers.Dense(target_shape[-1], kernel_initializer=_glorot(self.seed, 4),
                                         name="ff_out")
        self.ff_out.build(target_shape[:-1] + (self.ff_dim,))
        self._dims = (int(target_shape[-1]), int(source_shape[-1]))

    def call(self, target: Any, source: Any, target_mask: Any = None, source_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None) -> Any:
        """Return ``Z`` ``(batch, T_α, d_α)`` or ``(Z, scores (batch, heads, T_α, T_β))``."""
        target = ops.cast(ops.convert_to_tensor(target), self.compute_dtype)
        source = ops.cast(ops.convert_to_tensor(source), self.compute_dtype)
        for role, x, d in (("target", target, self._dims[0]), ("source", source, self._dims[1])):
            if len(x.shape) != 3 or x.shape[-1] != d:
                raise ValueError(f"CrossModalTransformer: {role} was built with shape (batch, "
                                 f"steps, {d}), got {shape_text(x.shape)}.")
        if (target.shape[0] is not None and source.shape[0] is not None
                and target.shape[0] != source.shape[0]):
            raise ValueError(f"CrossModalTransformer: target and source must have the same batch "
                             f"size, got {target.shape[0]} and {source.shape[0]}.")
        tmask = self._check_mask("target_mask", target_mask, target)
        smask = self._check_mask("source_mask", source_mask, source)
        checked = {"target": target, "source": source, "target_mask": tmask, "source_mask": smask}
        checked = {k: v for k, v in checked.items() if v is not None}
        checked = dict(zip(checked, assert_same_batch("CrossModalTransformer",
                                                      list(checked.values()), list(checked)),
                           strict=True))
        target, source = checked["target"], checked["source"]
        tmask, smask = checked.get("target_mask"), checked.get("source_mask")
        attention_mask = None
        if tmask is not None:
            target = ops.where(tmask[:, :, None], target, ops.zeros_like(target))
        if smask is not None:
            source = ops.where(smask[:, :, None], source, ops.zeros_like(source))
            attention_mask = ops.logical_and(
                ops.ones_like(target[:, :, :1], dtype="bool"), smask[:, None, :])
        q = self.norm_target(target)
        kv = self.norm_source(source)
        attended, scores = self.attention(q, kv, kv, attention_mask=attention_mask,
                                          return_attention_scores=True, training=training)
        if smask is not None:
            has_source = ops.any(smask, axis=1)
            attended = ops.where(has_source[:, None, None], attended, ops.zeros_like(attended))
            scores = ops.where(has_source[:, None, None, None], scores, ops.zeros_like(scores))
        z_hat = attended + q
        n = self.norm_ff(z_hat)
        z = self.ff_out(self.ff_dropout(self.ff_hidden(n), training=training)) + n
        if tmask is not None:
            z = ops.where(tmask[:, :, None], z, ops.zeros_like(z))
            scores = ops.where(tmask[:, None, :, None], scores, ops.zeros_like(scores))
        return (z, scores) if return_attention_scores else z

    def _check_mask(self, name: str, mask: Any, x: Any) -> Any:
        if mask is None:
            return None
        mask = ops.convert_to_tensor(mask)
        if numeric_dtype(mask) is None:
            raise TypeError(f"{name} must be bool or 0/1 numbers, got dtype {dtype_name(mask)}.")
        if len(mask.shape) != 2 or any(
                a is not None and b is not None and a != b
                for a, b in zip(mask.shape, x.shape[:2], strict=True)):
            raise ValueError(f"{name} must have shape {shape_text(x.shape[:2])} (batch, steps), "
                             f"got {shape_text(mask.shape)}.")
        if keras.backend.standardize_dtype(mask.dtype) == "bool":
            return mask
        return ops.greater(ops.cast(mask, "float32"), 0.5)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, ff_dim=self.ff_dim,
                      dropout=self.dropout, seed=self.seed)
        return config
