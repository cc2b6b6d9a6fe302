"""Multi-task heads and loss weighting: fixed weights or homoscedastic uncertainty.

:func:`multitask_heads` (one linear head per task), :func:`default_task_loss`,
:class:`UncertaintyWeighting` (learned log-variances) and :class:`MultiTaskModel` (trains a
multi-head body on the weighted sum of its task losses).

Reference: A. Kendall, Y. Gal, R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses
for Scene Geometry and Semantics", CVPR 2018.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from mmlib._common import derive_seed
from mmlib._validate import check_choice, check_float, check_int

__all__ = ["MultiTaskModel", "UncertaintyWeighting", "default_task_loss", "multitask_heads"]


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
        seed: seed of the heads' initializers (head i gets ``derive_seed(seed, "head", i)``;
            ``None`` = Keras' global seed).

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
        init = keras.initializers.GlorotUniform(seed=derive_seed(seed, "head", i))
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
        weights = {t: 1.0 for t in self.task_names} if loss_weights is None else loss_weights
        # the fixed weights live in a variable (the only copy), so a compiled model can change
        # them without tracing its train step again (set_loss_weights)
        self.loss_weight_values = self.add_weight(
            shape=(len(self.task_names),), name="loss_weights", trainable=False,
            initializer=keras.initializers.Constant(self._checked_weights(weights)))
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
        return sum(self.loss_weight_values[i] * ops.cast(task_losses[t], "float32")
                   for i, t in enumerate(self.task_names))

    def set_loss_weights(self, loss_weights: Mapping[str, float]) -> None:
        """Change the fixed weights ``w_i`` (one per task); a compiled model keeps its traced
        train step, so sweeping the weights costs no new tracing."""
        self.loss_weight_values.assign(self._checked_weights(loss_weights))

    @property
    def fixed_weights(self) -> dict[str, float]:
        """The fixed weights ``task -> w_i`` (read from their variable)."""
        values = keras.ops.convert_to_numpy(self.loss_weight_values)
        return {t: float(v) for t, v in zip(self.task_names, values, strict=True)}

    def _checked_weights(self, loss_weights: Any) -> list[float]:
        if not isinstance(loss_weights, Mapping) or set(loss_weights) != set(self.task_names):
            got = list(loss_weights) if isinstance(loss_weights, Mapping) else loss_weights
            raise ValueError(f"loss_weights must have one entry per task {self.task_names}, got "
                             f"{got!r}.")
        return [check_float(f"loss_weights[{t!r}]", loss_weights[t], minimum=0.0)
                for t in self.task_names]

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
