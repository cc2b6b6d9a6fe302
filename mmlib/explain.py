"""Explaining multimodal models: integrated gradients, modality Shapley values, calibration.

* :func:`integrated_gradients` — per-feature attributions for every input of a multi-input Keras
  model, per-modality totals and the completeness error (Sundararajan, Taly, Yan 2017).
* :func:`modality_shapley` — exact Shapley values of the modalities (模态贡献) over all subsets
  (Shapley 1953), with absent modalities replaced by a stated baseline or masked.
* Calibration (校准): :func:`expected_calibration_error`, :func:`reliability_diagram_data` and
  :class:`TemperatureScaling` (Guo, Pleiss, Sun, Weinberger 2017).

References:
    Sundararajan, Taly, Yan (2017). "Axiomatic Attribution for Deep Networks". ICML.

    Shapley (1953). "A Value for n-Person Games". Contributions to the Theory of Games II,
    Annals of Mathematics Studies 28.

    Guo, Pleiss, Sun, Weinberger (2017). "On Calibration of Modern Neural Networks". ICML.

    Naeini, Cooper, Hauskrecht (2015). "Obtaining Well Calibrated Probabilities Using Bayesian
    Binning". AAAI.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy import optimize, special
from sklearn.base import BaseEstimator

from mmlib._common import (
    MASK_INPUT,
    check_inputs,
    class_labels,
    class_predictions,
    mask_columns,
    predict_single_output,
)
from mmlib._validate import check_choice, check_float, check_int, check_numeric_array

__all__ = [
    "IG_METHODS",
    "MAX_EXACT_MODALITIES",
    "IntegratedGradientsResult",
    "ShapleyResult",
    "TemperatureScaling",
    "expected_calibration_error",
    "integrated_gradients",
    "modality_shapley",
    "reliability_diagram_data",
]

# --------------------------------------------------------------------------------------------
# integrated gradients
# --------------------------------------------------------------------------------------------

IG_METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
              "gausslegendre")
"""Quadrature rules accepted by :func:`integrated_gradients` (``method=``)."""


def _quadrature(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alpha`` in [0, 1] and weights (summing to 1) of the path integral."""
    if method == "riemann_left":
        return np.arange(steps) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_right":
        return np.arange(1, steps + 1) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_middle":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_trapezoid":
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] = 0.5 / steps
        return np.arange(steps + 1) / steps, weights
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


@dataclass
class IntegratedGradientsResult:
    """Output of :func:`integrated_gradients`.

    Attributes:
        attributions: ``{input name: array of the input's shape (n, ...)}``; inputs that were held
            fixed (e.g. integer token ids) are absent.
        modality_totals: ``{input name: (n,)}`` sum of the attributions of each input per sample.
        prediction: ``(n,)`` target output ``F(x)``.
        baseline_prediction: ``(n,)`` target output ``F(x')`` at the baseline.
        completeness_error: ``(n,)`` ``|sum attributions - (F(x) - F(x'))| / |F(x) - F(x')|``.
        target: ``(n,)`` explained output index per sample.
    """

    attributions: dict[str, np.ndarray]
    modality_totals: dict[str, np.ndarray]
    prediction: np.ndarray
    baseline_prediction: np.ndarray
    completeness_error: np.ndarray
    target: np.ndarray

    @property
    def max_completeness_error(self) -> float:
        """Largest relative completeness error over the samples."""
        return float(np.max(self.completeness_error))

    def modality_table(self) -> pd.DataFrame:
        """Per-sample attribution totals per modality as a DataFrame ``(n, n_modalities)``."""
        return pd.DataFrame(self.modality_totals)

    def modality_share(self) -> pd.Series:
        """Mean absolute total attribution per modality, normalised to sum to 1."""
        mean_abs = pd.Series({k: float(np.mean(np.abs(v)))
                              for k, v in self.modality_totals.items()})
        total = mean_abs.sum()
        return mean_abs / total if total > 0 else mean_abs


def _baselines(arrays: Mapping[str, np.ndarray], baseline: Any,
               explained: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for key in explained:
        x = arrays[key]
        if isinstance(baseline, str):
            choice = check_choice("baseline", baseline, ["zeros", "mean"])
            b = np.zeros_like(x) if choice == "zeros" else np.broadcast_to(
                x.mean(axis=0, keepdims=True), x.shape)
        elif isinstance(baseline, Mapping):
            if key not in baseline:
                raise ValueError(f"baseline must give an array for every explained input "
                                 f"{list(explained)}, missing {key!r}.")
            b = np.asarray(baseline[key], dtype=x.dtype)
            try:
                b = np.broadcast_to(b, x.shape)
            except ValueError as err:
                raise ValueError(f"baseline[{key!r}] must broadcast to {x.shape}, got shape "
                                 f"{b.shape}.") from err
        elif isinstance(baseline, int | float) and not isinstance(baseline, bool):
            b = np.full_like(x, baseline)
        else:
            raise ValueError("baseline must be 'zeros', 'mean', a number or a dict {input name: "
                             f"array}}, got {baseline!r}.")
        out[key] = np.ascontiguousarray(b, dtype=x.dtype)
    return out


def _target_outputs(out: Any) -> Any:
    out = keras.ops.convert_to_tensor(out)
    return keras.ops.reshape(out, (keras.ops.shape(out)[0], -1))


def integrated_gradients(model: Any, inputs: Mapping[str, Any], baseline: Any = "zeros",
                         target: int | Sequence[int] | None = None, steps: int = 64,
                         method: str = "riemann_trapezoid", batch_size: int = 256
                         ) -> IntegratedGradientsResult:
    """Integrated gradients for a multi-input model (Sundararajan, Taly, Yan 2017, ICML).

    For the explained output ``F`` (the ``target`` column of the model output) and a baseline
    ``x'``, the attribution of feature ``i`` of input ``m`` is

    .. math::

        IG_{m,i}(x) = (x_{m,i} - x'_{m,i}) \\int_0^1
                      \\frac{\\partial F(x' + \\alpha (x - x'))}{\\partial x_{m,i}}\\, d\\alpha

    where all explained inputs move together along the straight path. The integral is computed
    with ``method`` on ``steps`` intervals (trapezoid: ``steps + 1`` gradient evaluations).
    Completeness says ``sum_{m,i} IG_{m,i} = F(x) - F(x')``; the relative violation is reported.

    Floating-point inputs are explained; integer inputs (token ids) cannot be differentiated and
    are held fixed at their value (so they appear in neither the path nor the result).

    Args:
        model: Keras model (or differentiable callable) on a dict of inputs, output ``(n, K)``
            or ``(n,)``/``(n, 1)``. The output is explained as it is (probabilities or logits).
        inputs: ``{input name: array (n, ...)}``.
        baseline: ``"zeros"``, ``"mean"`` (per-feature mean over the given samples), a number,
            or ``{input name: array broadcastable to (n, ...)}`` for every explained input.
        target: output index to explain, ``(n,)`` indices, or ``None`` for the predicted class
            (argmax of ``F(x)``; index 0 for a single output).
        steps: number of integration intervals (>= 1).
        method: ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
            ``"riemann_trapezoid"`` or ``"gausslegendre"``.
        batch_size: samples per gradient evaluation.

    Returns:
        :class:`IntegratedGradientsResult`.
    """
    arrays, _, n = check_inputs(inputs)
    steps = check_int("steps", steps, minimum=1)
    method = check_choice("method", method, IG_METHODS)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    explained = [k for k, v in arrays.items() if np.issubdtype(v.dtype, np.floating)]
    if not explained:
        raise ValueError("inputs must contain at least one floating-point input to explain, got "
                         f"dtypes { {k: str(v.dtype) for k, v in arrays.items()} }.")
    for k in explained:
        if not np.all(np.isfinite(arrays[k])):
            raise ValueError(f"inputs[{k!r}] contains NaN or infinite values; integrated "
                             "gradients needs finite inputs (impute missing values first).")
    base = _baselines(arrays, baseline, explained)

    out_x = predict_single_output(model, arrays, batch_size).reshape(n, -1)
    base_inputs = {**arrays, **base}
    out_b = predict_single_output(model, base_inputs, batch_size).reshape(n, -1)
    n_out = out_x.shape[1]
    if target is None:
        tgt = out_x.argmax(axis=1)
    else:
        target_arr = np.asarray(target)
        if (not np.issubdtype(target_arr.dtype, np.integer)
                or target_arr.shape not in ((), (n,))):
            raise ValueError(f"target must be an integer class index or ({n},) integer indices "
                             f"(one per sample), got {target!r}.")
        tgt = np.broadcast_to(target_arr, (n,)).astype(int)
        if tgt.min() < 0 or tgt.max() >= n_out:
            raise ValueError(f"target must lie in [0, {n_out}) (the model has {n_out} outputs), "
                             f"got {target!r}.")
    f_x = out_x[np.arange(n), tgt].astype(np.float64)
    f_b = out_b[np.arange(n), tgt].astype(np.float64)

    @tf.function(reduce_retracing=True)
    def grad_fn(batch: dict[str, tf.Tensor], idx: tf.Tensor) -> list[tf.Tensor]:
        watched = [batch[k] for k in explained]
        with tf.GradientTape() as tape:
            tape.watch(watched)
            out = _target_outputs(model(batch, training=False))
            value = tf.reduce_sum(tf.gather(out, idx, axis=1, batch_dims=1))
        return tape.gradient(value, watched)

    alphas, weights = _quadrature(method, steps)
    integral = {k: np.zeros(arrays[k].shape, dtype=np.float64) for k in explained}
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        idx = tf.constant(tgt[sl], dtype=tf.int32)
        fixed = {k: tf.constant(v[sl]) for k, v in arrays.items() if k not in explained}
        for alpha, weight in zip(alphas, weights, strict=True):
            batch = dict(fixed)
            for k in explained:
                x, b = arrays[k][sl], base[k][sl]
                batch[k] = tf.constant((b + alpha * (x.astype(np.float64) - b)).astype(x.dtype))
            grads = grad_fn(batch, idx)
            for k, g in zip(explained, grads, strict=True):
                if g is None:
                    continue  # this input does not influence the output
                integral[k][sl] += weight * g.numpy().astype(np.float64)
    attributions = {k: (arrays[k].astype(np.float64) - base[k]) * integral[k] for k in explained}
    totals = {k: a.reshape(n, -1).sum(axis=1) for k, a in attributions.items()}
    delta = f_x - f_b
    total = np.sum(list(totals.values()), axis=0)
    error = np.abs(total - delta) / np.maximum(np.abs(delta), 1e-12)
    return IntegratedGradientsResult(attributions, totals, f_x, f_b, error, tgt)


# --------------------------------------------------------------------------------------------
# modality Shapley values
# --------------------------------------------------------------------------------------------

MAX_EXACT_MODALITIES = 5
"""Largest number of modalities for which :func:`modality_shapley` enumerates all subsets."""


@dataclass
class ShapleyResult:
    """Output of :func:`modality_shapley`.

    Attributes:
        values: ``{modality: Shapley value}``.
        subset_values: ``{frozenset of present modalities: v(S)}`` for all ``2^M`` subsets.
        modalities: the modalities in order.
    """

    values: dict[str, float]
    subset_values: dict[frozenset, float] = field(repr=False)
    modalities: tuple[str, ...]

    @property
    def v_all(self) -> float:
        """Value with every modality present."""
        return self.subset_values[frozenset(self.modalities)]

    @property
    def v_none(self) -> float:
        """Value with every modality absent (all at the baseline)."""
        return self.subset_values[frozenset()]

    def to_frame(self) -> pd.DataFrame:
        """One row per modality: ``modality``, ``shapley``, ``share`` (of v(all) - v(none))."""
        gain = self.v_all - self.v_none
        return pd.DataFrame({"modality": list(self.values),
                             "shapley": list(self.values.values()),
                             "share": [v / gain if gain != 0 else np.nan
                                       for v in self.values.values()]})


def _players(modalities: Any) -> tuple[str, ...]:
    if isinstance(modalities, str) or not isinstance(modalities, Iterable):
        raise ValueError(f"modalities must be a list of modality names, got {modalities!r}.")
    return tuple(modalities)


def _true_class_probability(labels: np.ndarray, probs: np.ndarray) -> float:
    probs = np.asarray(probs)
    y = class_labels(labels)
    n_classes = probs.shape[1] if probs.ndim == 2 and probs.shape[1] > 1 else 2
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class ids in [0, {n_classes}) for a model with "
                         f"{n_classes} classes, got values in [{y.min()}, {y.max()}].")
    if probs.ndim == 2 and probs.shape[1] > 1:
        return float(np.mean(probs[np.arange(len(y)), y]))
    p1 = probs.reshape(len(y))
    return float(np.mean(np.where(y == 1, p1, 1.0 - p1)))


_VALUES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "probability": _true_class_probability,
    "accuracy": lambda y, p: float(np.mean(class_predictions(p) == class_labels(y))),
}


def modality_shapley(model_or_value_fn: Any, inputs: Mapping[str, Any] | None = None,
                     modalities: Sequence[str] | None = None, *, labels: Any = None,
                     baseline: Any = "zeros", value: str | Callable[..., float] = "probability",
                     mask_input: str | None = None, batch_size: int = 256) -> ShapleyResult:
    """Exact Shapley values of the modalities (Shapley 1953) for at most 5 modalities.

    .. math::

        \\phi_m = \\sum_{S \\subseteq M \\setminus \\{m\\}}
                  \\frac{|S|!\\,(|M| - |S| - 1)!}{|M|!}\\,\\big(v(S \\cup \\{m\\}) - v(S)\\big)

    computed from ``v`` on all ``2^|M|`` subsets (so at most ``MAX_EXACT_MODALITIES = 5``
    modalities, i.e. 32 model evaluations). The values satisfy efficiency
    ``sum_m phi_m = v(M) - v(empty)``, symmetry and the null-player property.

    Two ways to give ``v``:

    * a **value function**: ``model_or_value_fn(frozenset_of_present_modalities) -> float``, with
      ``inputs=None`` and ``modalities`` listing the players;
    * a **model** on a dict of inputs, with ``inputs`` and ``labels``: ``v(S)`` evaluates the model
      with the modalities outside ``S`` made absent, and scores it with ``value``:
      ``"probability"`` (default; mean predicted probability of the true class, smooth) or
      ``"accuracy"``, or a callable ``value(labels, predictions) -> float``.
      Absent modalities are replaced by ``baseline``: ``"zeros"``; ``"mean"`` (the modality's mean
      over the given samples, broadcast to every sample); ``{modality: array broadcastable to the
      input}``; or ``"mask"``: the model takes a presence-mask input ``mask_input`` (default
      ``"modality_mask"``) with one column per other input, in sorted name order (the course
      contract, :func:`mmlib._common.mask_columns`); an absent modality gets 0 in its column and
      its data is zeroed too.

    Args:
        model_or_value_fn: a model / callable on a dict of inputs, or a set function.
        inputs: ``{input name: array (n, ...)}`` (model mode) or ``None`` (set-function mode).
        modalities: the players (default: every input except ``mask_input``).
        labels: ``(n,)`` class labels (or one-hot) for the built-in ``value`` choices.
        baseline: ``"zeros"``, ``"mean"``, ``"mask"`` or a dict (see above).
        value: ``"probability"``, ``"accuracy"`` or a callable.
        mask_input: name of the mask input (``baseline="mask"`` only; default
            ``"modality_mask"``).
        batch_size: prediction batch size.

    Returns:
        :class:`ShapleyResult`.
    """
    if inputs is None:
        if not callable(model_or_value_fn) or modalities is None:
            raise ValueError("without inputs, model_or_value_fn must be a set function "
                             "v(frozenset) -> float and modalities must list the players.")
        players = _players(modalities)
        set_fn = model_or_value_fn
    else:
        arrays, labels_arr, _ = check_inputs(inputs, labels)
        if isinstance(baseline, str) and baseline == "mask" and mask_input is None:
            mask_input = MASK_INPUT
        if labels is None and not callable(value):
            raise ValueError(f"labels are required for value={value!r}; pass labels=... or a "
                             "callable value that ignores them.")
        players = _players(modalities) if modalities is not None else tuple(
            k for k in arrays if k != mask_input)
        for p in players:
            check_choice("modalities entry", p, [k for k in arrays if k != mask_input])
        if callable(value):
            value_fn = value
        else:
            value_fn = _VALUES[check_choice("value", value, sorted(_VALUES))]
        if isinstance(baseline, str) and baseline == "mask":
            check_choice("mask_input", mask_input, list(arrays))
            mask = arrays[mask_input]
            columns = mask_columns(k for k in arrays if k != mask_input)
            if mask.ndim != 2 or mask.shape[1] != len(columns):
                raise ValueError(f"inputs[{mask_input!r}] must have shape (n, {len(columns)}) "
                                 f"(one column per modality, in the order {columns}), got "
                                 f"{mask.shape}.")
            fill = {p: np.zeros_like(arrays[p]) for p in players}
        elif isinstance(baseline, str):
            choice = check_choice("baseline", baseline, ["zeros", "mean", "mask"])
            fill = {p: (np.zeros_like(arrays[p]) if choice == "zeros" else np.broadcast_to(
                arrays[p].mean(axis=0, keepdims=True), arrays[p].shape).astype(arrays[p].dtype))
                for p in players}
        elif isinstance(baseline, Mapping):
            fill = {}
            for p in players:
                if p not in baseline:
                    raise ValueError(f"baseline must give an array for every modality "
                                     f"{list(players)}, missing {p!r}.")
                b = np.asarray(baseline[p], dtype=arrays[p].dtype)
                try:
                    fill[p] = np.broadcast_to(b, arrays[p].shape)
                except ValueError:
                    raise ValueError(f"baseline[{p!r}] must broadcast to {arrays[p].shape}, got "
                                     f"shape {b.shape}.") from None
        else:
            raise ValueError("baseline must be 'zeros', 'mean', 'mask' or a dict {modality: "
                             f"array}}, got {baseline!r}.")

        def set_fn(present: frozenset) -> float:
            batch = dict(arrays)
            for p in players:
                if p not in present:
                    batch[p] = fill[p]
            if baseline == "mask":
                mask = arrays[mask_input].copy()
                for p in players:
                    if p not in present:
                        mask[:, columns.index(p)] = 0
                batch[mask_input] = mask
            pred = predict_single_output(model_or_value_fn, batch, batch_size)
            return float(value_fn(labels_arr, pred))

    n_players = len(players)
    if n_players < 1 or len(set(players)) != n_players:
        raise ValueError(f"modalities must be a non-empty list of distinct names, got "
                         f"{list(players)}.")
    if n_players > MAX_EXACT_MODALITIES:
        raise ValueError(f"modality_shapley enumerates all 2^M subsets and supports at most "
                         f"{MAX_EXACT_MODALITIES} modalities, got {n_players}: {list(players)}.")
    subset_values = {}
    for size in range(n_players + 1):
        for subset in itertools.combinations(players, size):
            v = set_fn(frozenset(subset))
            if isinstance(v, np.ndarray) and v.shape == ():
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"the value of a coalition must be a finite number, got {v!r} "
                                 f"for the present modalities {sorted(subset)}.")
            subset_values[frozenset(subset)] = float(v)
    values = {}
    for p in players:
        others = [q for q in players if q != p]
        phi = 0.0
        for size in range(n_players):
            weight = (math.factorial(size) * math.factorial(n_players - size - 1)
                      / math.factorial(n_players))
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                phi += weight * (subset_values[s | {p}] - subset_values[s])
        values[p] = phi
    return ShapleyResult(values, subset_values, players)


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------


def _class_ids(labels: Any, n: int, n_classes: int) -> np.ndarray:
    """``labels`` as ``(n,)`` integer ids in ``[0, n_classes)`` or a ValueError saying why."""
    y = np.asarray(labels)
    integral = y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.all(y == np.round(y)))
    if y.shape != (n,) or not integral:
        raise ValueError(f"labels must be integer class ids of shape ({n},), got dtype {y.dtype} "
                         f"and shape {y.shape}.")
    y = y.astype(int)
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}].")
    return y


def _confidence_correct(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    probs = check_numeric_array("probs", probs)
    if probs.ndim not in (1, 2) or probs.shape[0] == 0:
        raise ValueError(f"probs must have shape (n, K) or (n,) (binary p(class 1)), got "
                         f"{probs.shape}.")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs must be finite probabilities, got NaN or infinite values.")
    if np.any(probs < 0) or np.any(probs > 1):
        raise ValueError("probs must be probabilities in [0, 1]; got values in "
                         f"[{probs.min()}, {probs.max()}] (apply a softmax first).")
    if probs.ndim == 2 and probs.shape[1] == 1:
        probs = probs[:, 0]
    labels = _class_ids(labels, probs.shape[0], 2 if probs.ndim == 1 else probs.shape[1])
    if probs.ndim == 1:
        pred = (probs >= 0.5).astype(int)
        conf = np.where(pred == 1, probs, 1.0 - probs)
    else:
        if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError("probs rows must sum to 1 (class probabilities), got row sums in "
                             f"[{probs.sum(axis=1).min():.4g}, {probs.sum(axis=1).max():.4g}].")
        pred = probs.argmax(axis=1)
        conf = probs.max(axis=1)
    return conf, pred == labels


def _bins(conf: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    return edges, idx


def reliability_diagram_data(probs: Any, labels: Any, n_bins: int = 15) -> pd.DataFrame:
    """Per-bin statistics of confidence vs accuracy, for a reliability diagram (Guo et al. 2017).

    The confidence of a sample is its largest class probability (binary ``(n,)`` input:
    ``max(p, 1 - p)``). Bins are equal-width with edges ``np.linspace(0, 1, n_bins + 1)`` and are
    closed on the right: bin ``b`` holds ``edges[b] < conf <= edges[b + 1]``, and a confidence of
    exactly 0 goes to the first bin.

    Args:
        probs: ``(n, K)`` class probabilities or ``(n,)`` binary probabilities of class 1.
        labels: ``(n,)`` integer labels.
        n_bins: number of bins (>= 1).

    Returns:
        DataFrame with one row per bin: ``bin``, ``lower``, ``upper``, ``count``,
        ``mean_confidence``, ``accuracy`` (NaN for empty bins) and ``gap`` = accuracy - confidence.
    """
    n_bins = check_int("n_bins", n_bins, minimum=1)
    conf, correct = _confidence_correct(probs, labels)
    edges, idx = _bins(conf, n_bins)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct.astype(float), minlength=n_bins) / count
    return pd.DataFrame({"bin": np.arange(n_bins), "lower": edges[:-1], "upper": edges[1:],
                         "count": count, "mean_confidence": mean_conf, "accuracy": acc,
                         "gap": acc - mean_conf})


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    """Expected calibration error (Naeini et al. 2015; Guo, Pleiss, Sun, Weinberger 2017, ICML).

    .. math:: \\mathrm{ECE} = \\sum_{b=1}^{B} \\frac{|B_b|}{n}\\,
              \\big|\\mathrm{acc}(B_b) - \\mathrm{conf}(B_b)\\big|

    over ``B = n_bins`` equal-width bins of the confidence (largest class probability), closed on
    the right (see :func:`reliability_diagram_data` for the exact edge convention).

    Args:
        probs: ``(n, K)`` class probabilities or ``(n,)`` binary probabilities of class 1.
        labels: ``(n,)`` integer labels.
        n_bins: number of bins (>= 1; Guo et al. use 15).

    Returns:
        ECE in [0, 1].
    """
    table = reliability_diagram_data(probs, labels, n_bins)
    filled = table[table["count"] > 0]
    n = table["count"].sum()
    return float(np.sum(filled["count"] / n * np.abs(filled["accuracy"]
                                                      - filled["mean_confidence"])))


def _logits_2d(logits: Any) -> np.ndarray:
    z = check_numeric_array("logits", logits)
    if z.ndim == 1:
        z = np.stack([np.zeros_like(z), z], axis=1)  # sigmoid(z) = softmax([0, z])[1]
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (n, K) with K >= 2, or (n,) for a binary "
                         f"logit, got {np.asarray(logits).shape}.")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits must be finite.")
    return z


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]))


class TemperatureScaling(BaseEstimator):
    """Temperature scaling: divide logits by one scalar ``T`` fitted by NLL (Guo et al. 2017).

    ``fit`` minimises the validation negative log-likelihood
    ``mean_i[logsumexp(z_i / T) - z_{i, y_i} / T]`` over ``T > 0`` (L-BFGS-B on ``log T`` with the
    analytic gradient; the NLL is convex in ``1/T``, so the optimum is unique). ``T > 1`` softens
    over-confident predictions; the argmax (and so accuracy) never changes.

    Args:
        max_temperature: ``T`` is searched in ``[1 / max_temperature, max_temperature]``.

    Attributes:
        temperature_: fitted ``T``.
        n_classes_: number of classes (2 for a binary ``(n,)`` logit).
        nll_before_: validation NLL at ``T = 1``.
        nll_after_: validation NLL at ``T = temperature_``.
    """

    def __init__(self, max_temperature: float = 100.0) -> None:
        self.max_temperature = max_temperature

    def fit(self, logits: Any, labels: Any) -> TemperatureScaling:
        """Fit ``T`` on validation ``logits`` ``(n, K)`` (``(n,)`` binary) and labels ``(n,)``."""
        max_temperature = check_float("max_temperature", self.max_temperature, minimum=1.0,
                                      include_min=False)
        z = _logits_2d(logits)
        y = np.asarray(labels)
        if y.shape != (z.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels must be integer class ids of shape ({z.shape[0]},), got "
                             f"dtype {y.dtype} and shape {y.shape}.")
        y = _class_ids(y, z.shape[0], z.shape[1])
        z_true = z[np.arange(len(y)), y]

        def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
            inv = np.exp(-t[0])  # 1 / T
            scaled = z * inv
            lse = special.logsumexp(scaled, axis=1)
            nll = np.mean(lse - z_true * inv)
            soft = np.exp(scaled - lse[:, None])
            d_inv = np.mean(np.sum(soft * z, axis=1) - z_true)  # dNLL / d(1/T)
            return float(nll), np.array([-inv * d_inv])  # chain rule: d(1/T)/dlogT = -1/T

        bound = float(np.log(max_temperature))
        res = optimize.minimize(objective, x0=np.zeros(1), jac=True, method="L-BFGS-B",
                                bounds=[(-bound, bound)], options={"gtol": 1e-10, "ftol": 1e-14})
        self.temperature_ = float(np.exp(res.x[0]))
        self.n_classes_ = z.shape[1]
        self.nll_before_ = _nll(z, y)
        self.nll_after_ = _nll(z / self.temperature_, y)
        return self

    def _checked_logits(self, logits: Any) -> np.ndarray:
        """``(n, K)`` logits of a fitted model with the ``K`` seen in :meth:`fit`."""
        if not hasattr(self, "temperature_"):
            raise ValueError("this TemperatureScaling is not fitted yet; call fit(logits, labels) "
                             "first.")
        z = _logits_2d(logits)
        if z.shape[1] != self.n_classes_:
            raise ValueError(f"logits must have {self.n_classes_} classes as in fit, got shape "
                             f"{np.shape(logits)}.")
        return z

    def transform(self, logits: Any) -> np.ndarray:
        """Scaled logits ``logits / T`` (same shape as the input)."""
        self._checked_logits(logits)
        return np.asarray(logits, dtype=np.float64) / self.temperature_

    def predict_proba(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / T)``: ``(n, K)`` (``(n, 2)`` if binary)."""
        return special.softmax(self._checked_logits(logits) / self.temperature_, axis=1)

    def predict(self, logits: Any) -> np.ndarray:
        """Predicted classes ``(n,)`` (unchanged by temperature scaling)."""
        return self.predict_proba(logits).argmax(axis=1)

    def score(self, logits: Any, labels: Any) -> float:
        """Mean log-likelihood of ``labels`` under the calibrated probabilities (higher: better)."""
        z = self._checked_logits(logits)
        return -_nll(z / self.temperature_, _class_ids(labels, z.shape[0], z.shape[1]))
