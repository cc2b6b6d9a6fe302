"""Corruption sweeps and the robustness metrics of MultiBench.

:func:`robustness_sweep` corrupts **one named modality** of a test set at a list of severities
and scores the model each time (a tidy :class:`pandas.DataFrame`); :func:`relative_robustness`
and :func:`effective_robustness` summarise such a curve, :func:`robustness_summary` a whole
sweep table.

References:
    Liang, Lyu, Fan, Wu, Cheng, Wu, Chen, Wu, Lee, Zhu, Salakhutdinov, Morency (2021).
    "MultiBench: Multiscale Benchmarks for Multimodal Representation Learning". NeurIPS Datasets
    and Benchmarks Track.

    Taori, Dave, Shankar, Carlini, Recht, Schmidt (2020). "Measuring Robustness to Natural
    Distribution Shifts in Image Classification". NeurIPS.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mmlib._common import (
    MASK_INPUT,
    accuracy,
    check_inputs,
    mask_columns,
    predict_single_output,
    rng,
)
from mmlib._validate import check_choice, check_float, check_int
from mmlib.robust._arrays import check_severity
from mmlib.robust.corruptions.missing import remove_modality
from mmlib.robust.corruptions.registry import get_corruption

__all__ = ["effective_robustness", "relative_robustness", "robustness_summary",
           "robustness_sweep"]

_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy,
    "mse": lambda y, p: float(np.mean((np.asarray(p).reshape(len(y), -1)
                                       - np.asarray(y).reshape(len(y), -1)) ** 2)),
    "mae": lambda y, p: float(np.mean(np.abs(np.asarray(p).reshape(len(y), -1)
                                             - np.asarray(y).reshape(len(y), -1)))),
}


def robustness_sweep(model: Any, inputs: Mapping[str, Any], labels: Any,
                     corruptions: Sequence[tuple], severities: Sequence[float] | None = None,
                     metric: str | Callable[[np.ndarray, np.ndarray], float] = "accuracy",
                     seed: int = 0, batch_size: int = 256, fraction: float = 1.0,
                     mask_inputs: Mapping[str, tuple[str, int]] | None = None) -> pd.DataFrame:
    """Evaluate a model while one modality at a time is corrupted at increasing severities.

    For each ``(modality_key, kind, corruption_name)`` (optionally a 4th element: a dict of
    keyword arguments for the corruption) and each severity, a copy of ``inputs`` is made in which
    **only** ``inputs[modality_key]`` is replaced, and in it only the selected samples are
    corrupted: all samples when ``fraction == 1`` (the default), else a seeded random subset of
    ``round(fraction * n)`` samples (drawn from ``mmlib._common.rng(seed, "samples")``), the same
    subset at every severity. Every other modality and every unselected sample reaches the model
    bit-identical (tested). For ``remove_modality`` the severity is the fraction of the
    *selected* samples that lose the modality.

    The corruption seed is ``seed`` for every severity (common random numbers), so the curve
    changes only through the severity, and ``corrupt(kind, name, x[selected], severity, seed)``
    reproduces what the model saw. ``remove_modality`` also writes 0 into the modality's column of
    the presence mask for the removed samples: by the course contract, when ``inputs`` holds
    ``"modality_mask"`` (:data:`mmlib._common.MASK_INPUT`) its columns belong to the other inputs
    in sorted name order (:func:`mmlib._common.mask_columns`); ``mask_inputs`` overrides that for
    models with another layout.

    Args:
        model: a ``keras.Model`` (anything with ``predict``) or a callable on a dict of inputs,
            returning class probabilities ``(n, K)``, a sigmoid probability ``(n,)``/``(n, 1)``,
            or regression outputs (with ``metric="mse"``/``"mae"``).
        inputs: ``{input name: array (n, ...)}``.
        labels: ``(n,)`` class ids, one-hot ``(n, K)``, or regression targets.
        corruptions: list of ``(modality_key, kind, corruption_name[, kwargs])``; ``kind`` is
            one of :data:`mmlib._common.KINDS` (``ds.kinds[modality_key]`` for a course dataset).
        severities: severities in [0, 1] (default ``0, 0.1, ..., 1``).
        metric: ``"accuracy"`` (argmax, or threshold 0.5 for one output), ``"mse"``, ``"mae"`` or a
            callable ``metric(labels, predictions) -> float``.
        seed: seed of sample selection and corruptions.
        batch_size: prediction batch size.
        fraction: fraction of samples to corrupt, in (0, 1].
        mask_inputs: ``{modality_key: (mask input name, column)}``; default: the contract's
            ``"modality_mask"`` columns when that input is present, else none.

    Returns:
        Tidy DataFrame with one row per (corruption, severity) and columns ``modality``,
        ``kind``, ``corruption``, ``severity``, ``metric``, ``value``, ``n_corrupted`` (samples
        passed through the corruption; for ``remove_modality``, samples that lost the modality).
    """
    if labels is None:
        raise ValueError("labels must be given (n,) class ids, one-hot (n, K) or regression "
                         "targets, got None.")
    arrays, labels, n = check_inputs(inputs, labels)
    if severities is None:
        severities = np.round(np.linspace(0.0, 1.0, 11), 10)
    severities = [check_severity(s) for s in np.atleast_1d(severities).tolist()]
    if not severities:
        raise ValueError("severities must hold at least one value in [0, 1], got none.")
    if isinstance(metric, str):
        metric_name = metric
        metric_fn = _METRICS[check_choice("metric", metric, sorted(_METRICS))]
    elif callable(metric):
        metric_name, metric_fn = getattr(metric, "__name__", "custom"), metric
    else:
        raise TypeError(f"metric must be one of {sorted(_METRICS)} or a callable, got "
                        f"{metric!r}.")
    seed = check_int("seed", seed, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    fraction = check_float("fraction", fraction, minimum=0.0, maximum=1.0, include_min=False)
    if mask_inputs is None and MASK_INPUT in arrays:
        columns = mask_columns(k for k in arrays if k != MASK_INPUT)
        mask_inputs = {m: (MASK_INPUT, j) for j, m in enumerate(columns)}
    mask_inputs = dict(mask_inputs or {})
    for key, target in mask_inputs.items():
        if (not isinstance(target, tuple | list) or len(target) != 2
                or not isinstance(target[1], numbers.Integral)):
            raise ValueError(f"mask_inputs[{key!r}] must be a pair (mask input name, column), "
                             f"got {target!r}.")
        check_choice(f"mask_inputs[{key!r}][0] (the mask input name)", target[0], list(arrays))
    if fraction == 1.0:
        selected = np.arange(n)
    else:
        selected = np.sort(rng(seed, "samples").choice(
            n, size=max(1, int(round(fraction * n))), replace=False))
    if not corruptions:
        raise ValueError("corruptions must be a non-empty list of (modality_key, kind, "
                         "corruption_name) tuples, got an empty list.")
    rows = []
    for spec in corruptions:
        if not isinstance(spec, tuple | list) or len(spec) not in (3, 4):
            raise ValueError("each corruption must be (modality_key, kind, corruption_name[, "
                             f"kwargs]), got {spec!r}.")
        key, kind, name = spec[:3]
        if len(spec) == 4 and not isinstance(spec[3], Mapping):
            raise ValueError(f"the 4th element of a corruption must be a dict of keyword "
                             f"arguments, got {spec[3]!r} in {spec!r}.")
        kwargs = dict(spec[3]) if len(spec) == 4 else {}
        check_choice("modality_key", key, list(arrays))
        fn = get_corruption(kind, name)
        for severity in severities:
            x = arrays[key]
            # fixed-width strings would truncate longer corrupted texts: hold them as objects
            x_new = x.astype(object) if x.dtype.kind == "U" else x.copy()
            batch = dict(arrays)  # other modalities: the very same arrays
            if fn is remove_modality:
                part, present = fn(x[selected], severity, seed, return_mask=True, **kwargs)
                n_corrupted = int(np.sum(~present))
                if key in mask_inputs:
                    mask_name, column = mask_inputs[key]
                    mask = arrays[mask_name].copy()
                    mask[selected[~present], column] = 0
                    batch[mask_name] = mask
            else:
                part = fn(x[selected], severity, seed, **kwargs)
                n_corrupted = 0 if severity == 0.0 else len(selected)
            x_new[selected] = np.asarray(part)
            batch[key] = x_new
            value = float(metric_fn(labels, predict_single_output(model, batch, batch_size)))
            rows.append({"modality": key, "kind": kind, "corruption": name,
                         "severity": severity, "metric": metric_name, "value": value,
                         "n_corrupted": n_corrupted})
    return pd.DataFrame(rows, columns=["modality", "kind", "corruption", "severity", "metric",
                                       "value", "n_corrupted"])


def _curve(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a 1-D sequence of numbers, got "
                         f"{values!r}.") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}.")
    return arr


def relative_robustness(accuracies: Sequence[float],
                        severities: Sequence[float] | None = None) -> float:
    """Relative robustness: normalised area under the accuracy-severity curve.

    .. math::

        \\tau^R = \\frac{1}{s_{K} - s_0} \\sum_{k=0}^{K-1}
                  \\frac{(s_{k+1} - s_k)\\,(a_k + a_{k+1})}{2}

    i.e. the trapezoid-rule integral of accuracy ``a`` over severity ``s``, divided by the
    severity range, so it is the mean accuracy over the range and lies in [0, 1] for accuracies in
    [0, 1]. This is the relative robustness of MultiBench (Liang et al. 2021, "MultiBench:
    Multiscale Benchmarks for Multimodal Representation Learning", NeurIPS Datasets and
    Benchmarks), whose evaluation script integrates 11 noise levels 0, 0.1, ..., 1 with the
    trapezoid rule (step 0.1, range 1); MultiBench additionally min-max normalises the score
    across the compared methods, which is left to the caller here.

    Args:
        accuracies: ``(K + 1,)`` accuracy (or any metric) at each severity.
        severities: ``(K + 1,)`` strictly increasing severities (default: evenly spaced on
            [0, 1]).

    Returns:
        The normalised area (float).
    """
    acc = _curve(accuracies, "accuracies")
    if acc.ndim != 1 or acc.size < 2:
        raise ValueError(f"accuracies must hold at least 2 values, got {acc.size}.")
    sev = (np.linspace(0.0, 1.0, acc.size) if severities is None
           else _curve(severities, "severities"))
    if sev.shape != acc.shape:
        raise ValueError(f"severities must have the same length as accuracies ({acc.size}), got "
                         f"{sev.size}.")
    if np.any(np.diff(sev) <= 0):
        raise ValueError(f"severities must be strictly increasing, got {sev.tolist()}.")
    area = np.sum(np.diff(sev) * (acc[1:] + acc[:-1]) / 2.0)
    return float(area / (sev[-1] - sev[0]))


def effective_robustness(acc_model_clean: float, acc_model_corrupted: Any,
                         acc_ref_clean: float, acc_ref_corrupted: Any, *,
                         reduction: str = "none") -> float | np.ndarray:
    """Effective robustness: accuracy above a reference shifted to the model's clean accuracy.

    .. math::

        \\tau^E(s) = a_f(s) - \\big[a_{ref}(s) + (a_f(0) - a_{ref}(0))\\big]

    with ``a_f`` the model's accuracy, ``a_ref`` the accuracy of a late-fusion reference model on
    the same corrupted data and ``s = 0`` the clean data: the reference curve is shifted to the
    model's clean accuracy, and what remains is the accuracy the model keeps *beyond* what its
    clean accuracy predicts (positive = drops more slowly than late fusion). This follows
    MultiBench (Liang et al. 2021, "MultiBench: Multiscale Benchmarks for Multimodal
    Representation Learning", NeurIPS Datasets and Benchmarks), after Taori et al. (2020,
    "Measuring Robustness to Natural Distribution Shifts in Image Classification", NeurIPS);
    MultiBench's script sums ``tau^E(s)`` over its noise levels (``reduction="sum"``).

    Args:
        acc_model_clean: ``a_f(0)``.
        acc_model_corrupted: ``a_f(s)``, scalar or ``(K,)`` over severities.
        acc_ref_clean: ``a_ref(0)``.
        acc_ref_corrupted: ``a_ref(s)``, same shape as ``acc_model_corrupted``.
        reduction: ``"none"`` (per severity), ``"sum"`` or ``"mean"``.

    Returns:
        ``tau^E`` as a float (scalar input or reduced) or a ``(K,)`` array.
    """
    reduction = check_choice("reduction", reduction, ["none", "sum", "mean"])
    a_f0 = check_float("acc_model_clean", acc_model_clean)
    a_r0 = check_float("acc_ref_clean", acc_ref_clean)
    a_f = _curve(acc_model_corrupted, "acc_model_corrupted")
    a_r = _curve(acc_ref_corrupted, "acc_ref_corrupted")
    if a_f.shape != a_r.shape:
        raise ValueError(f"acc_ref_corrupted must have the shape of acc_model_corrupted "
                         f"{a_f.shape}, got {a_r.shape}.")
    gap = a_f - (a_r + (a_f0 - a_r0))
    if reduction == "sum":
        return float(np.sum(gap))
    if reduction == "mean":
        return float(np.mean(gap))
    return float(gap) if gap.ndim == 0 else gap


def robustness_summary(sweep: pd.DataFrame, reference: pd.DataFrame | None = None
                       ) -> pd.DataFrame:
    """Relative (and effective) robustness per (modality, corruption) of a sweep table.

    Args:
        sweep: output of :func:`robustness_sweep` for the model; must include severity 0.
        reference: the same sweep for a late-fusion reference model (optional).

    Returns:
        DataFrame with columns ``modality``, ``corruption``, ``clean``, ``worst``,
        ``relative_robustness`` and, with a reference, ``effective_robustness`` (mean over the
        severities of :func:`effective_robustness`).
    """
    needed = {"modality", "corruption", "severity", "value"}
    for name, df in (("sweep", sweep), ("reference", reference)):
        if df is not None and not isinstance(df, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame from robustness_sweep, got "
                            f"{type(df).__name__}.")
        if df is not None and not needed.issubset(df.columns):
            raise ValueError(f"{name} must have the columns {sorted(needed)}, got "
                             f"{list(df.columns)}.")
    rows = []
    for (mod, corr), grp in sweep.groupby(["modality", "corruption"], sort=False):
        grp = grp.sort_values("severity")
        if grp["severity"].iloc[0] != 0.0:
            raise ValueError(f"sweep must include severity 0 for ({mod!r}, {corr!r}).")
        acc = grp["value"].to_numpy()
        row = {"modality": mod, "corruption": corr, "clean": acc[0], "worst": acc.min(),
               "relative_robustness": relative_robustness(acc, grp["severity"].to_numpy())}
        if reference is not None:
            ref = reference[(reference["modality"] == mod) & (reference["corruption"] == corr)]
            ref = ref.sort_values("severity")
            if not np.array_equal(ref["severity"].to_numpy(), grp["severity"].to_numpy()):
                raise ValueError(f"reference must have the same severities as sweep for "
                                 f"({mod!r}, {corr!r}).")
            ref_acc = ref["value"].to_numpy()
            row["effective_robustness"] = effective_robustness(
                acc[0], acc, ref_acc[0], ref_acc, reduction="mean")
        rows.append(row)
    return pd.DataFrame(rows)
