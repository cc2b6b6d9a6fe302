"""Magnitude pruning (剪枝): one-shot, gradual during fine-tuning, and how much it saves.

:func:`prune_by_magnitude` zeroes the smallest-magnitude weights once; :class:`PruningSchedule` +
:class:`PruningCallback` raise the sparsity gradually during fine-tuning and keep pruned weights at
zero (Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
compression", arXiv:1710.01878). :func:`sparsity`, :func:`sparsity_by_layer` and
:func:`compressed_size` report the result. (The TensorFlow Model Optimization toolkit does not
support Keras 3, so pruning is written here directly on ``keras.Variable`` objects: the pruned
model stays a plain Keras model.)
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pandas as pd

from mmlib._validate import check_choice, check_float, check_int


def _default_prunable(variable: Any) -> bool:
    name = str(variable.name).split("/")[-1].split(":")[0]
    return name.endswith("kernel") and len(variable.shape) >= 2


def _prunable_variables(model: keras.Model,
                        include: Callable[[Any], bool] | None) -> list[Any]:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    if include is not None and not callable(include):
        raise TypeError(f"include must be a predicate on keras.Variable (a callable) or None, got "
                        f"{include!r}.")
    include = include or _default_prunable
    seen: set[int] = set()
    out = []
    for v in model.trainable_variables:
        if id(v) not in seen and include(v):
            seen.add(id(v))
            out.append(v)
    if not out:
        raise ValueError("model has no prunable weights (by default: trainable 'kernel' "
                         "variables of rank >= 2, as in Dense and Conv layers).")
    return out


def _magnitude_masks(variables: list[Any], target: float, scope: str) -> list[np.ndarray]:
    """Masks zeroing the ``round(target * n)`` smallest |w| (per variable or over all of them)."""
    values = [np.abs(keras.ops.convert_to_numpy(v)) for v in variables]
    if scope == "layer":
        masks = []
        for a in values:
            k = int(round(target * a.size))
            mask = np.ones(a.size, dtype=bool)
            if k:
                mask[np.argsort(a, axis=None, kind="stable")[:k]] = False
            masks.append(mask.reshape(a.shape))
        return masks
    flat = np.concatenate([a.ravel() for a in values])
    k = int(round(target * flat.size))
    keep = np.ones(flat.size, dtype=bool)
    if k:
        keep[np.argsort(flat, kind="stable")[:k]] = False
    bounds = np.cumsum([0] + [a.size for a in values])
    return [keep[bounds[i]:bounds[i + 1]].reshape(a.shape) for i, a in enumerate(values)]


def _apply_masks(variables: list[Any], masks: list[Any]) -> None:
    for v, m in zip(variables, masks, strict=True):
        v.assign(keras.ops.multiply(v, keras.ops.cast(m, v.dtype)))


def prune_by_magnitude(
    model: keras.Model,
    sparsity: float,
    *,
    scope: str = "layer",
    include: Callable[[Any], bool] | None = None,
) -> dict[str, np.ndarray]:
    """One-shot magnitude pruning (剪枝): zero the smallest-|w| fraction ``sparsity`` of weights.

    Modifies ``model`` in place. With ``scope="layer"`` each weight matrix loses exactly
    ``round(sparsity * size)`` entries (Zhu & Gupta 2017 prune layer by layer); with
    ``scope="global"`` one threshold over all prunable weights removes ``round(sparsity * total)``
    entries, so layers with many small weights lose more. Ties are broken by position.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        model: a Keras model (weights are overwritten).
        sparsity: fraction of weights to zero, in [0, 1).
        scope: ``"layer"`` or ``"global"``.
        include: which variables to prune (a predicate on ``keras.Variable``); default: trainable
            ``kernel`` variables of rank ≥ 2 (Dense, Conv, attention projections), not biases or
            normalisation parameters.

    Returns:
        ``{variable path: boolean mask}`` (True = kept). Training further without
        :class:`PruningCallback` lets the zeros grow back.
    """
    sparsity = check_float("sparsity", sparsity, minimum=0.0, maximum=1.0, include_max=False)
    check_choice("scope", scope, ("layer", "global"))
    variables = _prunable_variables(model, include)
    masks = _magnitude_masks(variables, sparsity, scope)
    _apply_masks(variables, masks)
    return {_variable_key(v, i): m for i, (v, m) in enumerate(zip(variables, masks, strict=True))}


def _variable_key(v: Any, index: int) -> str:
    return str(getattr(v, "path", None) or f"{v.name}_{index}")


class PruningSchedule:
    """Gradual sparsity schedule of Zhu & Gupta (2017): polynomial decay toward the target.

    At step ``t`` the target sparsity is

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0)) ** power``  for t_0 ≤ t ≤ t_end,

    ``s_i`` before ``t_0`` and ``s_f`` after ``t_end``; masks are recomputed only every
    ``frequency`` steps (``t = t_0, t_0 + frequency, ...`` and at ``t_end``) and held in between.
    Pruning fast at first and slowly near the end (power 3 in the paper) gives the network time to
    recover from the last, most damaging cuts.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        final_sparsity: ``s_f`` in [0, 1).
        initial_sparsity: ``s_i`` in [0, ``final_sparsity``].
        begin_step: ``t_0`` (optimizer steps, i.e. batches, counted over all ``fit`` calls).
        end_step: ``t_end`` ≥ ``begin_step``.
        frequency: steps between mask updates (≥ 1).
        power: decay exponent (3 in the paper).
    """

    def __init__(self, final_sparsity: float, *, initial_sparsity: float = 0.0,
                 begin_step: int = 0, end_step: int = 100, frequency: int = 10,
                 power: float = 3.0) -> None:
        self.final_sparsity = check_float("final_sparsity", final_sparsity, minimum=0.0,
                                          maximum=1.0, include_max=False)
        self.initial_sparsity = check_float("initial_sparsity", initial_sparsity, minimum=0.0,
                                            maximum=self.final_sparsity)
        self.begin_step = check_int("begin_step", begin_step, minimum=0)
        self.end_step = check_int("end_step", end_step, minimum=self.begin_step)
        self.frequency = check_int("frequency", frequency, minimum=1)
        self.power = check_float("power", power, minimum=0.0, include_min=False)

    def __call__(self, step: int) -> float:
        """Target sparsity at ``step`` (the formula above, without the holding between updates)."""
        step = check_int("step", step, minimum=0)
        if step < self.begin_step:
            return self.initial_sparsity
        if step >= self.end_step:
            return self.final_sparsity
        frac = (step - self.begin_step) / (self.end_step - self.begin_step)
        return (self.final_sparsity
                + (self.initial_sparsity - self.final_sparsity) * (1.0 - frac) ** self.power)

    def is_update_step(self, step: int) -> bool:
        """Whether masks are recomputed at ``step``."""
        step = check_int("step", step, minimum=0)
        if step < self.begin_step or step > self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def __repr__(self) -> str:
        return (f"PruningSchedule(final_sparsity={self.final_sparsity}, initial_sparsity="
                f"{self.initial_sparsity}, begin_step={self.begin_step}, end_step={self.end_step}"
                f", frequency={self.frequency}, power={self.power})")


class PruningCallback(keras.callbacks.Callback):
    """Prune gradually during ``fit`` and keep pruned weights at zero.

    Before a training step that the schedule marks as an update step, the masks are recomputed by
    magnitude at the scheduled sparsity (weights already at zero are the smallest, so the pruned
    set only grows); after every training step (and at the start of training) the masks are
    re-applied, undoing whatever the optimizer did to pruned weights (momentum keeps moving them).
    Use ``steps_per_execution=1`` (the default) so the callback sees every step. The step counter
    persists across ``fit`` calls.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        schedule: a :class:`PruningSchedule`, or a float for constant sparsity from step 0.
        scope: ``"layer"`` or ``"global"`` (see :func:`prune_by_magnitude`).
        include: which variables to prune (default: rank ≥ 2 trainable kernels).

    Attributes:
        step: training steps seen so far.
        current_sparsity: the sparsity of the current masks.
        masks: ``{variable path: boolean mask}`` (True = kept).
    """

    def __init__(self, schedule: PruningSchedule | float, *, scope: str = "layer",
                 include: Callable[[Any], bool] | None = None) -> None:
        super().__init__()
        if not isinstance(schedule, PruningSchedule):
            schedule = PruningSchedule(schedule, initial_sparsity=schedule, begin_step=0,
                                       end_step=0)
        self.schedule = schedule
        self.scope = check_choice("scope", scope, ("layer", "global"))
        self.include = include
        self.step = 0
        self.current_sparsity = 0.0
        self._variables: list[Any] | None = None
        self._masks: list[np.ndarray] | None = None
        self._mask_tensors: list[Any] = []

    @property
    def masks(self) -> dict[str, np.ndarray]:
        if self._variables is None or self._masks is None:
            return {}
        return {_variable_key(v, i): m
                for i, (v, m) in enumerate(zip(self._variables, self._masks, strict=True))}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Find the prunable weights (first ``fit``) or re-apply the current masks."""
        if self._variables is None:
            self._variables = _prunable_variables(self.model, self.include)
        if self._masks is not None:
            _apply_masks(self._variables, self._mask_tensors)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """On a scheduled update step, recompute the masks at the scheduled sparsity."""
        if self.schedule.is_update_step(self.step):
            self.current_sparsity = self.schedule(self.step)
            self._masks = _magnitude_masks(self._variables, self.current_sparsity, self.scope)
            self._mask_tensors = [keras.ops.convert_to_tensor(m, dtype=v.dtype)
                                  for v, m in zip(self._variables, self._masks, strict=True)]
            _apply_masks(self._variables, self._mask_tensors)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Re-zero the pruned weights (the optimizer step moved them) and count the step."""
        if self._masks is not None:
            _apply_masks(self._variables, self._mask_tensors)
        self.step += 1


def sparsity(model: keras.Model, *, include: Callable[[Any], bool] | None = None) -> float:
    """Fraction of exactly-zero entries over all prunable weights (default: rank ≥ 2 kernels)."""
    variables = _prunable_variables(model, include)
    zeros = sum(int(np.sum(keras.ops.convert_to_numpy(v) == 0)) for v in variables)
    return zeros / sum(int(np.prod(v.shape)) for v in variables)


def sparsity_by_layer(model: keras.Model, *,
                      include: Callable[[Any], bool] | None = None) -> pd.DataFrame:
    """Per prunable weight: ``weight`` (its path), ``shape``, ``n_weights``, ``n_zero``,
    ``sparsity`` (fraction of exact zeros)."""
    rows = []
    for i, v in enumerate(_prunable_variables(model, include)):
        a = keras.ops.convert_to_numpy(v)
        rows.append({"weight": _variable_key(v, i), "shape": tuple(a.shape), "n_weights": a.size,
                     "n_zero": int(np.sum(a == 0)), "sparsity": float(np.mean(a == 0))})
    return pd.DataFrame(rows)


def compressed_size(model: keras.Model, *, compresslevel: int = 9) -> int:
    """Bytes of all of ``model``'s weights after gzip — how much pruning saves on disk / download.

    The weights (``model.weights``, in order, in their own dtypes) are concatenated as raw bytes
    and gzip-compressed (``mtime=0``, so the number is reproducible). Zeros compress well, random
    float32 values hardly at all, so a model at sparsity s shrinks roughly by that fraction. Raw
    size is ``sum(w.nbytes)``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    compresslevel = check_int("compresslevel", compresslevel, minimum=1, maximum=9)
    buffer = io.BytesIO()
    for w in model.weights:
        buffer.write(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    return len(gzip.compress(buffer.getvalue(), compresslevel=compresslevel, mtime=0))
