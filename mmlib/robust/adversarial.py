"""Adversarial examples per modality: FGSM, an epsilon sweep, and adversarial training.

:func:`fgsm` moves one named input of a multimodal model by ``epsilon`` along the sign of the
loss gradient (every other input is passed on bit-identical); :func:`fgsm_sweep` tabulates the
accuracy under attack of each modality; :class:`FGSMAdversarialModel` wraps a ``keras.Model`` so
that ``fit`` trains on clean and FGSM batches.

Reference:
    Goodfellow, Shlens, Szegedy (2015). "Explaining and Harnessing Adversarial Examples". ICLR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmlib._common import accuracy, check_inputs, predict_single_output
from mmlib._validate import check_choice, check_float, check_int
from mmlib.robust._arrays import ordered_pair

__all__ = ["FGSMAdversarialModel", "fgsm", "fgsm_sweep"]


def _loss_fn(y_pred_shape: Sequence[int | None], labels_ndim: int, from_logits: bool
             ) -> Callable[[Any, Any], Any]:
    if len(y_pred_shape) == 1 or y_pred_shape[-1] == 1:
        def loss(y, p):
            return keras.losses.binary_crossentropy(
                keras.ops.reshape(keras.ops.cast(y, p.dtype), (-1, 1)),
                keras.ops.reshape(p, (-1, 1)), from_logits=from_logits)
    elif labels_ndim >= 2:
        def loss(y, p):
            return keras.losses.categorical_crossentropy(keras.ops.cast(y, p.dtype), p,
                                                         from_logits=from_logits)
    else:
        def loss(y, p):
            return keras.losses.sparse_categorical_crossentropy(y, p, from_logits=from_logits)
    return loss


def _check_class_labels(labels: np.ndarray, pred_shape: tuple) -> None:
    """Labels fit the default FGSM loss: ids in [0, K), 0/1 for one output, or (n, K) one-hot."""
    n_out = 1 if len(pred_shape) == 1 else int(pred_shape[-1])
    if labels.ndim >= 2:
        if labels.shape[1:] != tuple(pred_shape[1:]):
            raise ValueError(f"one-hot labels must have shape (n, {n_out}) like the model output, "
                             f"got {labels.shape}.")
        return
    high = 2 if n_out == 1 else n_out
    if not np.all((labels >= 0) & (labels < high) & (labels == np.round(labels))):
        raise ValueError(f"labels must be integer class ids in [0, {high}) for a model with "
                         f"{n_out} output(s), got values in [{labels.min()}, {labels.max()}].")


def _clip_bounds(clip: Any, name: str = "clip") -> tuple[float, float] | None:
    return None if clip is None else ordered_pair(name, clip, "(low, high) with low < high, or "
                                                              "None")


def fgsm(model: Any, inputs: Mapping[str, Any], labels: Any, epsilon: float,
         modality: str, *, loss: Callable[[Any, Any], Any] | None = None,
         from_logits: bool = False, clip: tuple[float, float] | None = None,
         batch_size: int = 256) -> dict[str, np.ndarray]:
    """Fast gradient sign method on one modality (Goodfellow, Shlens, Szegedy 2015, ICLR).

    .. math:: x_m^{adv} = \\operatorname{clip}\\big(x_m + \\epsilon\\,
              \\operatorname{sign}(\\nabla_{x_m} L(f(x_1, \\dots, x_M), y))\\big)

    Only the input ``modality`` changes; the returned dict holds the very same array objects for
    every other input (bit-identical). Samples whose gradient is exactly zero (e.g. a saturated
    softmax) are not moved; pass a model with logit outputs and ``from_logits=True`` to avoid
    saturation.

    Args:
        model: a Keras model (or callable) on a dict of inputs.
        inputs: ``{input name: array (n, ...)}``; the attacked input must be floating point.
        labels: ``(n,)`` class ids, ``(n, K)`` one-hot, or ``(n,)`` 0/1 for one sigmoid output.
        epsilon: L-infinity size of the perturbation (>= 0).
        modality: name of the input to attack.
        loss: ``loss(y_true, y_pred) -> (batch,)``; default: (sparse) categorical or binary
            cross-entropy chosen from the output and label shapes.
        from_logits: whether the model outputs logits (for the default loss).
        clip: ``(low, high)`` valid range of the attacked input, applied after the step.
        batch_size: samples per gradient computation.

    Returns:
        A new dict of inputs with ``inputs[modality]`` replaced by its adversarial version
        (same shape and dtype).
    """
    if not callable(model):
        raise TypeError(f"model must be a Keras model (or a differentiable callable) on a dict of "
                        f"inputs, got {type(model).__name__}.")
    arrays, labels, n = check_inputs(inputs, labels)
    epsilon = check_float("epsilon", epsilon, minimum=0.0)
    check_choice("modality", modality, list(arrays))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    bounds = _clip_bounds(clip)
    x = arrays[modality]
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"inputs[{modality!r}] must be floating point to be attacked by FGSM "
                         f"(gradients do not exist for dtype {x.dtype}, e.g. token ids; attack "
                         "their embeddings instead).")
    signs = np.empty(x.shape, dtype=np.float64)
    loss_fn = loss
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        batch = {k: tf.convert_to_tensor(v[sl]) for k, v in arrays.items()}
        y = tf.convert_to_tensor(labels[sl])
        with tf.GradientTape() as tape:
            tape.watch(batch[modality])
            pred = model(batch, training=False)
            if loss_fn is None:
                _check_class_labels(labels, tuple(pred.shape))
                loss_fn = _loss_fn(tuple(pred.shape), labels.ndim, from_logits)
            value = keras.ops.sum(loss_fn(y, pred))
        grad = tape.gradient(value, batch[modality])
        if grad is None:
            raise ValueError(f"the model output does not depend on inputs[{modality!r}] "
                             "(no gradient).")
        signs[sl] = np.sign(keras.ops.convert_to_numpy(grad))
    adv = x.astype(np.float64) + epsilon * signs
    if bounds is not None:
        adv = np.clip(adv, *bounds)
    out = dict(arrays)
    out[modality] = adv.astype(x.dtype)
    return out


def fgsm_sweep(model: Any, inputs: Mapping[str, Any], labels: Any, epsilons: Sequence[float],
               modalities: Sequence[str] | None = None, *, from_logits: bool = False,
               clip: Mapping[str, tuple[float, float]] | tuple[float, float] | None = None,
               batch_size: int = 256) -> pd.DataFrame:
    """Accuracy under FGSM, attacking one modality at a time, for several epsilons.

    Args:
        model: Keras model on a dict of inputs (class outputs).
        inputs: ``{input name: array (n, ...)}``.
        labels: class labels ``(n,)`` (or one-hot).
        epsilons: attack sizes (>= 0; a single number is accepted); 0 gives the clean accuracy.
        modalities: inputs to attack (default: every floating-point input).
        from_logits: whether the model outputs logits.
        clip: one ``(low, high)`` range for all modalities or ``{modality: (low, high)}``.
        batch_size: samples per gradient computation.

    Returns:
        Tidy DataFrame with columns ``modality``, ``epsilon``, ``accuracy``.
    """
    arrays, labels, _ = check_inputs(inputs, labels)
    epsilons = [check_float("epsilons entry", e, minimum=0.0) for e in np.atleast_1d(epsilons)]
    if not epsilons:
        raise ValueError("epsilons must hold at least one attack size >= 0, got none.")
    if modalities is None:
        modalities = [k for k, v in arrays.items() if np.issubdtype(v.dtype, np.floating)]
    elif isinstance(modalities, str):
        modalities = [modalities]
    rows = []
    for mod in modalities:
        bounds = clip.get(mod) if isinstance(clip, Mapping) else clip
        for eps in epsilons:
            adv = fgsm(model, arrays, labels, eps, mod, from_logits=from_logits, clip=bounds,
                       batch_size=batch_size)
            pred = predict_single_output(model, adv, batch_size)
            rows.append({"modality": mod, "epsilon": float(eps),
                         "accuracy": accuracy(labels, pred)})
    return pd.DataFrame(rows, columns=["modality", "epsilon", "accuracy"])


@keras.saving.register_keras_serializable(package="mmlib")
class FGSMAdversarialModel(keras.Model):
    """Wrap a model so that ``fit`` trains on clean and FGSM batches (adversarial training).

    At every training step the FGSM example of the batch is built on the fly from the current
    weights, attacking ``modality`` with ``epsilon`` (Goodfellow et al. 2015, ICLR, "Explaining and
    Harnessing Adversarial Examples", eq. 6), and the loss is

    .. math:: (1 - w)\\, L(f(x), y) + w\\, L(f(x^{adv}), y)

    with ``w = adv_weight`` and ``L`` the loss given to ``compile``. Inference, evaluation and the
    compiled metrics use the clean inputs. The wrapped model's weights are trained in place.

    Args:
        model: the Keras model to train, taking a dict of inputs.
        epsilon: FGSM step size (L-infinity).
        modality: name of the input attacked during training.
        adv_weight: weight ``w`` of the adversarial loss, in [0, 1].
        clip: optional ``(low, high)`` valid range of the attacked input.

    Example::

        adv = FGSMAdversarialModel(model, epsilon=0.1, modality="a")
        adv.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        adv.fit({"a": xa, "b": xb}, y, epochs=10)
    """

    def __init__(self, model: keras.Model, epsilon: float, modality: str,
                 adv_weight: float = 0.5, clip: tuple[float, float] | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model taking a dict of inputs, got "
                            f"{type(model).__name__}.")
        if not isinstance(modality, str):
            raise TypeError(f"modality must be the name (str) of the attacked input, got "
                            f"{modality!r}.")
        super().__init__(**kwargs)
        self.model = model
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0)
        self.modality = modality
        self.adv_weight = check_float("adv_weight", adv_weight, minimum=0.0, maximum=1.0)
        self.clip = _clip_bounds(clip)

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.model(inputs, training=training)

    def adversarial_inputs(self, x: Mapping[str, Any], y: Any) -> dict[str, Any]:
        """FGSM version of the batch ``x`` (only ``x[modality]`` changes), as tensors.

        Args:
            x: ``{input name: tensor or array (batch, ...)}``.
            y: the batch's labels, as given to ``fit``.

        Returns:
            A dict of tensors: ``x`` with ``x[modality]`` replaced by its FGSM version.
        """
        if not isinstance(x, Mapping) or self.modality not in x:
            got = list(x) if isinstance(x, Mapping) else type(x).__name__
            raise ValueError(f"modality must be one of the inputs (a dict of tensors), got "
                             f"{self.modality!r} for inputs {got}.")
        x = {k: tf.convert_to_tensor(v) for k, v in x.items()}  # Keras cannot mix with arrays
        xm = tf.convert_to_tensor(x[self.modality])
        with tf.GradientTape() as tape:
            tape.watch(xm)
            x[self.modality] = xm
            loss = self.compute_loss(x=x, y=y, y_pred=self.model(x, training=False))
        grad = tape.gradient(loss, xm)
        adv = xm + self.epsilon * tf.sign(grad)
        if self.clip is not None:
            adv = tf.clip_by_value(adv, self.clip[0], self.clip[1])
        x[self.modality] = tf.stop_gradient(adv)
        return x

    def train_step(self, data: Any) -> dict[str, Any]:
        """One step on ``(1 - w) L(clean) + w L(FGSM)``; metrics are those of the clean batch."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.adversarial_inputs(x, y)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            y_adv = self(x_adv, training=True)
            loss = ((1.0 - self.adv_weight)
                    * self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
                    + self.adv_weight
                    * self.compute_loss(x=x_adv, y=y, y_pred=y_adv,
                                        sample_weight=sample_weight))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"model": keras.saving.serialize_keras_object(self.model),
                       "epsilon": self.epsilon, "modality": self.modality,
                       "adv_weight": self.adv_weight,
                       "clip": None if self.clip is None else list(self.clip)})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FGSMAdversarialModel:
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
