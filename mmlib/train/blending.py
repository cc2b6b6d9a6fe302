"""Gradient-Blending: loss weights of unimodal and fused heads from their overfitting behaviour.

:func:`gradient_blending_weights` (the weights from train/validation losses at two checkpoints),
:func:`head_losses` (mean loss of every head), :func:`estimate_blending_weights` (train between
two checkpoints and measure) and :func:`compile_blended` (compile with ``Σ_k w_k L_k``).

Reference: W. Wang, D. Tran, M. Feiszli, "What Makes Training Multi-modal Classification
Networks Hard?", CVPR 2020 (arXiv:1905.12681).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from mmlib._common import output_names
from mmlib._validate import check_float, check_int

__all__ = ["compile_blended", "estimate_blending_weights", "gradient_blending_weights",
           "head_losses"]


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
        raise TypeError(f"{name} must be a dict head -> loss or a sequence of losses, got "
                        f"{value!r}.")
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold numbers (one loss per head), got {value!r}.") from None
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
