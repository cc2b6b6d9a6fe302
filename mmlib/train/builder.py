"""build_fusion_model: encoders + (ModalityDropout) + fusion + heads as one Keras model.

Assembles the pieces of :mod:`mmlib.encoders`, :mod:`mmlib.fusion` and :mod:`mmlib.train` from a
short spec, so that notebooks stay short. The encoder, fusion, dropout and head specs are resolved
by the ``_resolve_*`` helpers below; every seeded part gets its own ``derive_seed(seed, ...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from mmlib import encoders as encoders_module
from mmlib import fusion as fusion_module
from mmlib._common import MASK_INPUT, derive_seed, mask_columns
from mmlib._validate import check_float, check_int
from mmlib.train.modality_dropout import ModalityDropout
from mmlib.train.multitask import multitask_heads

__all__ = ["build_fusion_model"]


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
    """True if ``layer.call`` has the keyword argument ``modality_mask`` of the fusion layers."""
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
            heads={"digit": 10}, modality_dropout=0.2, mask_input=True, seed=0)
        model({"image": x_img, "audio": x_aud, MASK_INPUT: mask})  # mask columns: audio, image

    Data flow: ``x_m`` → ``encoder_m`` → ``h_m`` ``(batch, d_m)`` → optional
    :class:`~mmlib.train.ModalityDropout` (on the features; its kept mask goes to the fusion
    layer) → ``fusion({m: h_m}, modality_mask)`` → optional ``Dense(hidden, relu)`` blocks
    (+ dropout) → one head per task (:func:`~mmlib.train.multitask_heads`). With
    ``unimodal_heads=True`` every task also gets a head on each modality's own encoder features
    (before ModalityDropout), named ``"<task>_<modality>"`` (the unimodal heads of
    Gradient-Blending, :func:`~mmlib.train.estimate_blending_weights`).

    **Mask contract** (``mask_input=True``): the model gets one more input, named
    :data:`mmlib._common.MASK_INPUT` (``"modality_mask"``), float32 ``(batch, M)``, 1 = present,
    0 = missing, whose column ``j`` belongs to the ``j``-th name of
    :func:`mmlib._common.mask_columns` ``(modality names)`` -- the sorted names, whatever order
    ``inputs`` lists the modalities in (e.g. ``{"image": ..., "audio": ...}`` gives the columns
    ``["audio", "image"]``). It is the order in which the fusion layer and ModalityDropout read
    their dict of features, so column ``j`` masks exactly that modality.

    **Seeds**: with ``seed`` set, every seeded part gets its own seed from
    ``derive_seed(seed, ...)`` (encoder ``i`` of the sorted modalities ``("encoder", i)``,
    ``("modality_dropout",)``, ``("fusion",)``, hidden layer ``j`` ``("hidden", j)`` and its
    dropout ``("dropout", j)``, the heads ``("heads",)``, the unimodal heads of modality ``i``
    ``("unimodal_heads", i)``), so two models built with the same seed have identical weights.

    Args:
        inputs: ``modality -> shape`` (without batch axis, e.g. ``(28, 28, 1)``) or
            ``modality -> keras.Input`` (use ``keras.Input(shape, dtype="int32")`` for token ids,
            ``dtype="string"`` for raw text), or a ``MultimodalDataset`` (shapes and dtypes of its
            ``modalities``: floats become float32, integer token ids keep their integer dtype).
        encoders: ``modality -> spec``; spec is a Keras layer/model, a factory
            ``callable(shape) -> layer``, the name of a function of :mod:`mmlib.encoders`
            (shape arguments such as ``input_shape``/``n_features``/``sequence_length``, ``seed``
            and ``name`` are filled in) or a pair ``(name, kwargs)``. Each must output
            ``(batch, d_m)``.
        fusion: a fusion layer (e.g. ``mmlib.fusion.TensorFusion()``), a factory
            ``callable() -> layer``, an :mod:`mmlib.fusion` class name or ``(name, kwargs)``.
            Layers whose ``call`` takes ``modality_mask`` get a dict of features and the mask;
            other layers (e.g. ``keras.layers.Concatenate()``) get the list of features in
            :func:`~mmlib._common.mask_columns` order.
        heads: ``task -> spec`` as in :func:`~mmlib.train.multitask_heads` (an int C = C-class
            logits); default ``{"label": 2}``.
        modality_dropout: drop probability p of :class:`~mmlib.train.ModalityDropout`
            (None = no layer).
        mask_input: add the presence-mask input :data:`~mmlib._common.MASK_INPUT` ``(batch, M)``
            (see the mask contract above), passed to ModalityDropout / the fusion layer.
        hidden: sizes of ReLU ``Dense`` layers between fusion and heads (an int = one layer).
        dropout: dropout rate after each hidden layer, in [0, 1).
        unimodal_heads: add per-modality heads ``"<task>_<modality>"``.
        seed: seed for encoders, fusion, dropout and heads (None = Keras' global seed).
        name: model name.

    Returns:
        ``keras.Model`` with dict inputs (the modality names, plus
        :data:`~mmlib._common.MASK_INPUT` with ``mask_input=True``) and dict outputs
        ``task -> (batch, units)`` (logits for classification).
    """
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    tensors = _make_inputs(inputs)
    names = mask_columns(tensors)
    if not isinstance(encoders, Mapping) or set(encoders) != set(names):
        got = list(encoders) if isinstance(encoders, Mapping) else encoders
        raise ValueError(f"encoders must be a dict with one entry per input modality {names}, "
                         f"got {got!r}.")
    if mask_input and MASK_INPUT in names:
        raise ValueError(f"inputs must not name a modality {MASK_INPUT!r} when mask_input=True "
                         f"(that is the name of the mask input), got modalities {names}.")
    heads = {"label": 2} if heads is None else heads
    if not isinstance(heads, Mapping) or not heads:
        raise ValueError(f"heads must be a non-empty dict task -> spec, got {heads!r}.")
    if isinstance(hidden, int):
        hidden = (hidden,)
    if isinstance(hidden, str) or not isinstance(hidden, Sequence):
        raise ValueError(f"hidden must be a sequence of layer sizes, got {hidden!r}.")
    hidden = [check_int(f"hidden[{j}]", h, minimum=1) for j, h in enumerate(hidden)]
    dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, include_max=False)

    features = {}
    for i, m in enumerate(names):
        encoder = _resolve_encoder(m, encoders[m], tensors[m], derive_seed(seed, "encoder", i))
        h = encoder(tensors[m])
        if len(h.shape) != 2:
            raise ValueError(f"encoder of {m!r} must output (batch, d) features, got shape "
                             f"{tuple(h.shape)}.")
        features[m] = h
    model_inputs = dict(tensors)
    mask = None
    if mask_input:
        mask = keras.Input((len(names),), name=MASK_INPUT)
        model_inputs[MASK_INPUT] = mask
    fused_in = features
    if modality_dropout is not None:
        drop = ModalityDropout(modality_dropout, seed=derive_seed(seed, "modality_dropout"),
                               name="modality_dropout")
        fused_in, mask = drop(features, modality_mask=mask)
    fusion_layer = _resolve_fusion(fusion, derive_seed(seed, "fusion"))
    if _accepts_modality_mask(fusion_layer):
        z = fusion_layer(fused_in, modality_mask=mask)
    else:
        z = fusion_layer([fused_in[m] for m in names])
    if isinstance(z, (tuple, list)):  # e.g. a layer that also returns weights
        z = z[0]
    for j, units in enumerate(hidden):
        init = keras.initializers.HeNormal(seed=derive_seed(seed, "hidden", j))
        z = keras.layers.Dense(units, activation="relu", name=f"hidden_{j}",
                               kernel_initializer=init)(z)
        if dropout > 0.0:
            z = keras.layers.Dropout(dropout, seed=derive_seed(seed, "dropout", j),
                                     name=f"dropout_{j}")(z)
    outputs = multitask_heads(z, heads, seed=derive_seed(seed, "heads"))
    if unimodal_heads:
        for i, m in enumerate(names):
            uni = multitask_heads(features[m], {f"{t}_{m}": spec for t, spec in heads.items()},
                                  seed=derive_seed(seed, "unimodal_heads", i))
            outputs.update(uni)
    return keras.Model(model_inputs, outputs, name=name)
