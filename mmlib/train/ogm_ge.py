"""OGM-GE: On-the-fly Gradient Modulation with Generalization Enhancement.

:func:`ogm_ge_coefficients` (discrepancy ratios and modulation coefficients), :class:`OGMGEModel`
(a multimodal classifier whose ``train_step`` modulates each encoder's gradients),
:class:`OGMGELogger` (per-step coefficients for plots) and :func:`imbalanced_toy_problem` (a
two-modality problem in which one modality dominates, to watch it work). The custom
``train_step`` uses the TensorFlow backend (``tf.GradientTape``).

Reference: X. Peng, Y. Wei, A. Deng, D. Wang, D. Hu, "Balanced Multimodal Learning via
On-the-fly Gradient Modulation", CVPR 2022.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmlib._common import check_modality_inputs
from mmlib._common import rng as seeded_rng
from mmlib._validate import check_choice, check_float, check_int
from mmlib.train._shared import check_same_batch

__all__ = ["OGMGELogger", "OGMGEModel", "imbalanced_toy_problem", "ogm_ge_coefficients"]


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
        tensors, _ = check_same_batch("OGMGEModel", tensors, self.modality_names)
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
    rng = seeded_rng(check_int("seed", seed, minimum=0))  # = np.random.default_rng(seed)
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
