"""Automatic checks for the exercises.

An exercise cell ends with a check such as ``check.close("softmax", my_softmax(x), expected)``.
A passing check prints one line; a failing one raises :class:`ExerciseFailed` (an
``AssertionError``) with a hint that says what differs, never the answer itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ExerciseFailed(AssertionError):
    """An exercise's check did not pass; the message says what to look at."""


def _passed(name: str) -> None:
    print(f"✔ {name}: passed")


def _placeholder_or_none(name: str, value: Any) -> None:
    """Fail with a specific hint for the two commonest slips: ``...`` left, ``return`` forgotten."""
    if value is Ellipsis:
        raise ExerciseFailed(f"{name}: replace the `...` placeholder with your code.")
    if value is None:
        raise ExerciseFailed(f"{name}: got None. Did you forget `return` at the end of your "
                             f"function (or assign the result of a function that returns None)?")


def _as_array(name: str, value: Any) -> np.ndarray:
    _placeholder_or_none(name, value)
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        kind = type(value).__name__
        raise ExerciseFailed(f"{name}: expected numbers, got {kind} ({exc}).") from None


def shape(name: str, got: Any, expected: Sequence[int | None]) -> None:
    """Pass when ``got`` has shape ``expected`` (``None`` matches any size)."""
    arr = _as_array(name, got)
    expected = tuple(expected)
    ok = len(arr.shape) == len(expected) and all(
        e is None or e == g for g, e in zip(arr.shape, expected, strict=True))
    if not ok:
        raise ExerciseFailed(f"{name}: expected shape {expected}, got {arr.shape}.")
    _passed(name)


def close(name: str, got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Pass when ``got`` equals ``expected`` element-wise within tolerance."""
    got_a, exp_a = _as_array(name, got), _as_array(name, expected)
    if got_a.shape != exp_a.shape:
        raise ExerciseFailed(f"{name}: expected shape {exp_a.shape}, got {got_a.shape}.")
    if not np.allclose(got_a, exp_a, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got_a - exp_a)))
        raise ExerciseFailed(f"{name}: values differ from the reference (largest difference "
                             f"{worst:.3g}, tolerance rtol={rtol}, atol={atol}).")
    _passed(name)


def equal(name: str, got: Any, expected: Any) -> None:
    """Pass when ``got == expected`` (for labels, strings, counts).

    The failure message never shows ``expected`` (that would be the answer): it names the type
    or the shape when those differ, else says which value was given.
    """
    if expected is not None:  # comparing with None itself is a legitimate check
        _placeholder_or_none(name, got)
    sequence = (np.ndarray, list, tuple)
    if isinstance(got, sequence) or isinstance(expected, sequence):
        g, e = np.asarray(got), np.asarray(expected)
        if g.shape != e.shape:
            raise ExerciseFailed(f"{name}: expected {e.size} value(s) of shape {e.shape}, got "
                                 f"shape {g.shape}.")
        if not np.array_equal(g, e):
            wrong = int(np.sum(g != e))
            raise ExerciseFailed(f"{name}: {wrong} of {e.size} value(s) differ from the "
                                 f"expected ones; check your code for those entries.")
    elif type(got) is not type(expected) and not (_is_number(got) and _is_number(expected)):
        raise ExerciseFailed(f"{name}: expected a value of type {type(expected).__name__}, got "
                             f"type {type(got).__name__} ({got!r}).")
    elif got != expected:
        raise ExerciseFailed(f"{name}: {got!r} is not the expected value.")
    _passed(name)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.number) and not isinstance(x, bool)


def true(name: str, condition: bool, hint: str) -> None:
    """Pass when ``condition`` holds; otherwise show ``hint``."""
    if not bool(condition):
        raise ExerciseFailed(f"{name}: {hint}")
    _passed(name)


# --- 01 multimodal data ----------------------------------------------------------------------



# --- 02 preprocessing pipelines --------------------------------------------------------------


def adapted_on(name: str, layer: Any, train: Any, everything: Any | None = None) -> None:
    """Pass when a ``keras.layers.Normalization`` holds the per-feature mean and variance of
    ``train`` (features on the last axis).

    When the statistics match ``everything`` (train + test) instead, the hint says that the
    layer saw the test data; it never shows the expected statistics.
    """
    _placeholder_or_none(name, layer)
    if not hasattr(layer, "mean") or not hasattr(layer, "adapt"):
        raise ExerciseFailed(f"{name}: expected a Normalization layer (with .mean and "
                             f".variance), got {type(layer).__name__}.")
    if layer.mean is None or getattr(layer, "variance", None) is None:
        raise ExerciseFailed(f"{name}: the layer has no statistics yet; call its adapt() "
                             f"method first.")
    got_mean = np.asarray(layer.mean, dtype=float).ravel()
    got_var = np.asarray(layer.variance, dtype=float).ravel()

    def stats(x: Any) -> tuple[np.ndarray, np.ndarray]:
        x = _as_array(name, x)
        x = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
        return x.mean(axis=0), x.var(axis=0)

    def matches(x: Any) -> bool:
        mean, var = stats(x)
        return (mean.shape == got_mean.shape and var.shape == got_var.shape
                and np.allclose(got_mean, mean, rtol=1e-4, atol=1e-5)
                and np.allclose(got_var, var, rtol=1e-3, atol=1e-5))

    if matches(train):
        _passed(name)
        return
    if everything is not None and matches(everything):
        raise ExerciseFailed(f"{name}: the layer's statistics include the test samples. "
                             f"Adapt it on the training split only.")
    n_features = stats(train)[0].size
    if got_mean.size != n_features:
        raise ExerciseFailed(f"{name}: the layer holds {got_mean.size} mean(s), expected one per "
                             f"feature ({n_features}); check the layer's axis.")
    raise ExerciseFailed(f"{name}: the layer's mean and variance are not those of the training "
                         f"split; did you call adapt() on the training features?")


# --- 03 feature extraction -------------------------------------------------------------------



# --- 04 alignment ----------------------------------------------------------------------------



# --- 05 fusion -------------------------------------------------------------------------------


def batch_accuracy(name: str, got: Any, logit_batches: Sequence[Any],
                   label_batches: Sequence[Any]) -> None:
    """Pass when ``got`` is the accuracy over all samples of batched predictions.

    The reference is the fraction of samples whose argmax over the class axis (the last) of
    ``logit_batches`` (a list of ``(batch_k, classes)`` arrays, the last one possibly shorter)
    equals ``label_batches`` (a list of ``(batch_k,)`` integer arrays). The failure messages name
    the usual slips without giving the value: a percentage instead of a fraction, several numbers
    instead of one, per-batch accuracies averaged without weighting them by the batch sizes.
    """
    _placeholder_or_none(name, got)
    if not isinstance(logit_batches, Sequence) or not isinstance(label_batches, Sequence) or (
            len(logit_batches) != len(label_batches) or not logit_batches):
        raise ValueError("logit_batches and label_batches must be non-empty lists of the same "
                         f"length, got {type(logit_batches).__name__} and "
                         f"{type(label_batches).__name__}.")
    logits = [np.asarray(b, dtype=float) for b in logit_batches]
    labels = [np.asarray(b).reshape(-1) for b in label_batches]
    if any(lg.ndim != 2 or len(lg) != len(lb) for lg, lb in zip(logits, labels, strict=True)):
        raise ValueError("each logit batch must be (batch_k, classes) and each label batch "
                         "(batch_k,) with the same batch_k.")
    correct = [np.argmax(lg, axis=-1) == lb for lg, lb in zip(logits, labels, strict=True)]
    expected = float(np.mean(np.concatenate(correct)))
    value = _as_array(name, got)
    if value.size != 1:
        raise ExerciseFailed(f"{name}: expected one number (the accuracy over all samples), got "
                             f"{value.size} values of shape {value.shape}.")
    value = float(value.reshape(()))
    if np.isclose(value, expected, atol=1e-6):
        _passed(name)
        return
    if 1.0 < value <= 100.0 and np.isclose(value / 100.0, expected, atol=1e-6):
        raise ExerciseFailed(f"{name}: this looks like a percentage; return a fraction in [0, 1].")
    per_batch = float(np.mean([c.mean() for c in correct]))
    if np.isclose(value, per_batch, atol=1e-6):
        raise ExerciseFailed(f"{name}: you averaged the per-batch accuracies; the batches differ "
                             f"in size, so count correct samples over all batches instead.")
    raise ExerciseFailed(f"{name}: {value:.4g} is not the accuracy over all samples; take the "
                         f"argmax over the class axis of every batch and compare with its labels.")


# --- 06 training strategies ------------------------------------------------------------------


def focal_loss(name: str, got: Any, labels: Any, logits: Any, *, gamma: float,
               alpha: float) -> None:
    """Pass when ``got`` holds the per-sample focal loss of Lin et al. (2017).

    The reference is ``-alpha * (1 - p_t)**gamma * log(p_t)`` with ``p_t`` the softmax probability
    of each sample's true class (``labels`` integer ``(n,)``, ``logits`` ``(n, C)``), the values of
    ``keras.losses.CategoricalFocalCrossentropy(alpha, gamma, from_logits=True,
    reduction=None)`` on one-hot labels. The hints name the usual slips without the values: the
    mean instead of one value per sample, plain cross-entropy (no modulating factor), the factor
    ``p_t**gamma`` instead of ``(1 - p_t)**gamma``, ``alpha`` forgotten.
    """
    _placeholder_or_none(name, got)
    z = np.asarray(logits, dtype=float)
    y = np.asarray(labels).reshape(-1).astype(int)
    if z.ndim != 2 or len(z) != len(y):
        raise ValueError(f"logits must be (n, C) and labels (n,), got shapes {z.shape} and "
                         f"{y.shape}.")
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    log_pt = log_p[np.arange(len(y)), y]
    pt = np.exp(log_pt)
    expected = -alpha * (1.0 - pt) ** gamma * log_pt
    value = _as_array(name, got)
    if value.size == 1 and len(y) > 1:
        raise ExerciseFailed(f"{name}: expected one loss per sample ({len(y)} values), got one "
                             f"number; do not average over the samples.")
    value = value.reshape(-1)
    if value.shape != expected.shape:
        raise ExerciseFailed(f"{name}: expected {len(y)} values (one per sample), got "
                             f"{value.size}.")
    if np.allclose(value, expected, rtol=1e-4, atol=1e-6):
        _passed(name)
        return
    slips = [(-log_pt, "this is plain cross-entropy: multiply by the modulating factor "
                       "(1 - p_t)**gamma and by alpha"),
             (-alpha * pt ** gamma * log_pt, "the modulating factor must shrink the loss of "
                                             "well-classified samples (p_t close to 1)"),
             (-(1.0 - pt) ** gamma * log_pt, "the balancing weight alpha is missing")]
    for wrong, hint in slips:
        if np.allclose(value, wrong, rtol=1e-4, atol=1e-6):
            raise ExerciseFailed(f"{name}: {hint}.")
    raise ExerciseFailed(f"{name}: the values differ from the focal loss; p_t is the softmax "
                         f"probability of each sample's true class.")



# --- 07 robustness and interpretability ------------------------------------------------------


def shapley_values(name: str, fn: Any, games: Sequence[Any]) -> None:
    """Pass when ``fn(v)`` returns the Shapley values ``{player: value}`` of every two-player game.

    Each game ``v`` maps the four coalitions (``frozenset`` of the players ``"audio"`` and
    ``"image"``) to a number. The reference is the average of a player's marginal contribution
    over the two orders of joining. The hints name the usual slips (only the contribution to the
    empty coalition, or to the other player, or the two contributions added instead of averaged)
    without giving a value.
    """
    _placeholder_or_none(name, fn)
    if not callable(fn):
        raise ExerciseFailed(f"{name}: pass your function itself (without calling it).")
    for v in games:
        players = sorted({p for s in v for p in s})
        got = fn(dict(v))
        _placeholder_or_none(name, got)
        if not isinstance(got, dict) or sorted(got) != players:
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise ExerciseFailed(f"{name}: return a dict with one value per player {players}, got "
                                 f"{keys}.")
        everyone, nobody = frozenset(players), frozenset()
        for p in players:
            alone, others = frozenset({p}), everyone - {p}
            first, second = v[alone] - v[nobody], v[everyone] - v[others]
            value = float(_as_array(name, got[p]))
            if np.isclose(value, 0.5 * (first + second), atol=1e-9):
                continue
            if np.isclose(value, first + second, atol=1e-9):
                raise ExerciseFailed(f"{name}: the two marginal contributions must be weighted "
                                     f"(each order of joining is equally likely), not added.")
            if np.isclose(value, first, atol=1e-9) or np.isclose(value, second, atol=1e-9):
                raise ExerciseFailed(f"{name}: a Shapley value averages the contribution over "
                                     f"*both* orders in which the players can join.")
            raise ExerciseFailed(f"{name}: the value of {p!r} is not its Shapley value; check "
                                 f"the marginal contributions v(S ∪ {{{p}}}) − v(S).")
    _passed(name)


def calibration_error(name: str, fn: Any, probs: Any, labels: Any, n_bins: int = 15) -> None:
    """Pass when ``fn(probs, labels, n_bins)`` is the expected calibration error.

    The reference is :func:`mmlib.explain.expected_calibration_error` (equal-width confidence
    bins closed on the right). The hints name the usual slips without the value: an unweighted
    mean over bins, the empty bins counted, a signed instead of an absolute gap.
    """
    from mmlib.explain import expected_calibration_error, reliability_diagram_data

    _placeholder_or_none(name, fn)
    if not callable(fn):
        raise ExerciseFailed(f"{name}: pass your function itself (without calling it).")
    for bins in (n_bins, 10):
        value = _as_array(name, fn(np.asarray(probs), np.asarray(labels), bins))
        if value.size != 1:
            raise ExerciseFailed(f"{name}: expected one number, got shape {value.shape}.")
        value = float(value.reshape(()))
        expected = expected_calibration_error(probs, labels, bins)
        if np.isclose(value, expected, atol=1e-9):
            continue
        table = reliability_diagram_data(probs, labels, bins)
        filled = table[table["count"] > 0]
        if np.isclose(value, float(np.mean(np.abs(filled["gap"]))), atol=1e-9):
            raise ExerciseFailed(f"{name}: weight each bin's gap by the fraction of samples in "
                                 f"it, |B_b| / n.")
        signed = float(np.sum(filled["count"] / table["count"].sum() * filled["gap"]))
        if np.isclose(abs(value), abs(signed), atol=1e-9):
            raise ExerciseFailed(f"{name}: take the absolute gap |acc − conf| in each bin before "
                                 f"summing.")
        raise ExerciseFailed(f"{name}: {value:.4g} is not the ECE with {bins} bins; check the "
                             f"bin edges (closed on the right) and the confidence (the largest "
                             f"class probability).")
    _passed(name)


# --- 08 efficient deployment -----------------------------------------------------------------


def int8_per_channel(name: str, got: Any, weights: Any) -> None:
    """Pass when ``got`` is ``weights`` (a kernel ``(..., channels)``) quantized to int8 and back,
    symmetrically per output channel (last axis): ``s_c = max |W_c| / 127``,
    ``got = s_c * round(W / s_c)``."""
    w = _as_array(name, weights)
    g = _as_array(name, got)
    if g.shape != w.shape:
        raise ExerciseFailed(f"{name}: expected the kernel's shape {w.shape}, got {g.shape}.")
    scale = np.abs(w.reshape(-1, w.shape[-1])).max(axis=0)
    scale = np.where(scale == 0, 1.0, scale) / 127.0
    expected = np.round(w / scale) * scale
    if np.allclose(g, expected, rtol=1e-5, atol=1e-5 * float(scale.max())):
        _passed(name)
        return
    steps = g / scale
    if not np.allclose(steps, np.round(steps), atol=1e-3):
        one_scale = np.abs(w).max() / 127.0
        if np.allclose(g / one_scale, np.round(g / one_scale), atol=1e-3):
            raise ExerciseFailed(f"{name}: your values sit on one grid for the whole kernel; use "
                                 "one scale per output channel (a max over the input axis).")
        raise ExerciseFailed(f"{name}: the values are not multiples of the per-channel scale "
                             "s_c = max|W_c| / 127: did you dequantize (multiply back by s)?")
    if np.max(np.abs(g - w)) > 0.5 * float(scale.max()) * (1 + 1e-6):
        raise ExerciseFailed(f"{name}: some values are more than half a step from W: round to the "
                             "nearest integer (np.round), do not truncate.")
    raise ExerciseFailed(f"{name}: values differ from the reference (largest difference "
                         f"{float(np.max(np.abs(g - expected))):.3g}); check the scale per "
                         "channel and the rounding.")


# --- 09 case study: medical diagnosis --------------------------------------------------------


def _binary_scores(scores: Any, positives: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).reshape(-1)
    p = np.asarray(positives).reshape(-1).astype(bool)
    if s.shape != p.shape or p.all() or not p.any():
        raise ValueError("scores and positives must be (n,) arrays of the same length with both "
                         f"classes present, got shapes {np.shape(scores)} and "
                         f"{np.shape(positives)}.")
    return s, p


def _sens_spec(s: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float]:
    called = s >= threshold
    return float(np.mean(called[p])), float(np.mean(~called[~p]))


def sensitivity_specificity(name: str, got: Any, scores: Any, positives: Any,
                            threshold: float) -> None:
    """Pass when ``got`` is ``(sensitivity, specificity)`` of the rule ``score >= threshold``.

    Sensitivity = TP / (TP + FN), specificity = TN / (TN + FP). The hints name the usual slips
    (the two swapped, ``>`` instead of ``>=``, counts instead of fractions, precision or the
    false-positive rate instead of specificity) without giving the values.
    """
    _placeholder_or_none(name, got)
    s, p = _binary_scores(scores, positives)
    value = _as_array(name, got).reshape(-1)
    if value.size != 2:
        raise ExerciseFailed(f"{name}: expected two numbers (sensitivity, specificity), got "
                             f"{value.size}.")
    expected = np.array(_sens_spec(s, p, threshold))
    if np.allclose(value, expected, atol=1e-9):
        _passed(name)
        return
    called = s >= threshold
    hints = [
        (expected[::-1], "the two numbers are swapped: sensitivity first, then specificity."),
        (np.array(_sens_spec(s, p, np.nextafter(threshold, np.inf))),
         "a patient whose score equals the threshold counts as called positive (use >=)."),
        (np.array([(called & p).sum(), (~called & ~p).sum()], float),
         "these look like counts; divide by the number of positives / negatives."),
    ]
    if called.any():
        hints.append((np.array([expected[0], (called & p).sum() / called.sum()]),
                      "the second number is the precision (TP / called positive); specificity "
                      "is the fraction of negatives that are *not* called positive."))
    hints.append((np.array([expected[0], 1 - expected[1]]),
                  "the second number is the false-positive rate; specificity is one minus it."))
    for wrong, hint in hints:
        if np.allclose(value, wrong, atol=1e-9):
            raise ExerciseFailed(f"{name}: {hint}")
    which = [n for n, v, e in zip(("sensitivity", "specificity"), value, expected, strict=True)
             if not np.isclose(v, e, atol=1e-9)]
    verb = "differs" if len(which) == 1 else "differ"
    raise ExerciseFailed(f"{name}: the {' and the '.join(which)} {verb} from the reference; "
                         f"count TP, FN, TN and FP for the rule score >= threshold.")


def threshold_for_sensitivity(name: str, got: Any, scores: Any, positives: Any,
                              target: float) -> None:
    """Pass when ``got`` is the largest threshold whose rule ``score >= t`` reaches sensitivity
    ``>= target`` on ``scores`` (e.g. validation data): any larger threshold misses the target.

    The hints say whether the threshold is too high (sensitivity below the target), needlessly
    low (a higher one still reaches the target, and would give a better specificity) or not a
    number; never the threshold itself.
    """
    _placeholder_or_none(name, got)
    s, p = _binary_scores(scores, positives)
    value = _as_array(name, got)
    if value.size != 1:
        raise ExerciseFailed(f"{name}: expected one threshold, got {value.size} values.")
    t = float(value.reshape(()))
    sens, _ = _sens_spec(s, p, t)
    if sens < target:
        raise ExerciseFailed(f"{name}: at this threshold the sensitivity is {sens:.3f}, below "
                             f"the target {target}; the threshold is too high.")
    higher = np.unique(s[s > t])
    if higher.size and _sens_spec(s, p, float(higher[0]))[0] >= target:
        raise ExerciseFailed(f"{name}: the sensitivity {sens:.3f} reaches the target, but a "
                             "higher threshold would still reach it and refer fewer negatives; "
                             "pick the largest such threshold (a positive patient's score).")
    _passed(name)


# --- 10 case study: autonomous driving -------------------------------------------------------


def masked_distance_error(name: str, fn: Any) -> None:
    """Check ``fn(distance, predicted, objects)``: the mean absolute distance error over the
    scenes that hold an object (``objects > 0``; the distance of an empty scene is undefined).

    ``fn`` is tried on random batches of scenes, with and without empty scenes; a failure says
    which kind of batch went wrong, never the expected value.
    """
    _placeholder_or_none(name, fn)
    if not callable(fn):
        raise ExerciseFailed(f"{name}: expected a function (distance, predicted, objects) -> "
                             f"float, got {type(fn).__name__}.")
    gen = np.random.default_rng(10)
    for empty_share, what in ((0.3, "some scenes empty"), (0.0, "no empty scene")):
        objects = np.where(gen.random(50) < empty_share, 0, gen.integers(1, 4, 50))
        objects[0] = 1
        distance = np.where(objects > 0, gen.uniform(5, 30, 50), 0.0)
        predicted = distance + gen.normal(0, 2, 50) + np.where(objects > 0, 0.0, 9.0)
        expected = float(np.mean(np.abs(predicted - distance)[objects > 0]))
        got = _as_array(name, fn(distance, predicted, objects))
        if got.size != 1:
            raise ExerciseFailed(f"{name}: expected one number, got an array of shape "
                                 f"{got.shape}.")
        if not np.isclose(float(got.reshape(())), expected, rtol=1e-6, atol=1e-9):
            raise ExerciseFailed(f"{name}: wrong value on a batch with {what}. Average the "
                                 f"absolute errors of the scenes that hold an object only: an "
                                 f"empty scene has no distance, so it is neither counted in the "
                                 f"sum nor in the number of scenes.")
    _passed(name)


# --- 11 case study: smart security -----------------------------------------------------------


# --- 12 outlook ------------------------------------------------------------------------------


def _one_number(name: str, got: Any, what: str) -> float:
    value = _as_array(name, got)
    if value.size != 1:
        raise ExerciseFailed(f"{name}: expected one number ({what}), got {value.size} values of "
                             f"shape {value.shape}.")
    return float(value.reshape(()))


def zero_shot_accuracy(name: str, got: Any, similarity: Any, labels: Any) -> None:
    """Pass when ``got`` is the zero-shot accuracy of a similarity matrix.

    ``similarity`` is ``(n_images, n_classes)`` (image i against the prompt of class c), so
    the zero-shot class of image i is the column with the highest similarity; the accuracy is
    the fraction of images whose class equals ``labels`` ``(n_images,)``. The hints name the
    usual slips — a percentage, the argmax over the image axis, the *lowest* similarity —
    without giving the value.
    """
    sim = np.asarray(similarity, dtype=float)
    labels = np.asarray(labels).reshape(-1)
    if sim.ndim != 2 or len(sim) != len(labels):
        raise ValueError(f"similarity must be (n_images, n_classes) with one label per row, got "
                         f"shape {sim.shape} and {len(labels)} labels.")
    value = _one_number(name, got, "the fraction of images classified correctly")
    expected = float(np.mean(np.argmax(sim, axis=1) == labels))
    if np.isclose(value, expected, atol=1e-6):
        _passed(name)
        return
    if 1.0 < value <= 100.0 and np.isclose(value / 100.0, expected, atol=1e-6):
        raise ExerciseFailed(f"{name}: this looks like a percentage; give a fraction in [0, 1].")
    if np.isclose(value, float(np.mean(np.argmin(sim, axis=1) == labels)), atol=1e-6):
        raise ExerciseFailed(f"{name}: you picked the least similar class; an image belongs to "
                             f"the prompt it is MOST similar to.")
    raise ExerciseFailed(f"{name}: {value:.4g} is not the zero-shot accuracy; for each image "
                         f"(row) take the class (column) of highest similarity and compare it "
                         f"with the image's label.")


def fusion_margin(name: str, got: Any, accuracy: dict[str, float], fused: str) -> None:
    """Pass when ``got`` is the fusion margin of a results table: the accuracy of the ``fused``
    entry minus the **best** of the other (unimodal) entries of ``accuracy`` (name -> accuracy).

    The hints name the usual slips (comparing with the mean or the worst single modality, the
    sign the wrong way round) without giving the value.
    """
    if not isinstance(accuracy, dict) or fused not in accuracy or len(accuracy) < 2:
        raise ValueError(f"accuracy must be a dict holding {fused!r} and at least one unimodal "
                         f"entry, got {accuracy!r}.")
    value = _one_number(name, got, "fused accuracy minus the best single modality's")
    single = [float(v) for k, v in accuracy.items() if k != fused]
    best = float(accuracy[fused]) - max(single)
    if np.isclose(value, best, atol=1e-6):
        _passed(name)
        return
    slips = {"the mean of the single modalities": float(accuracy[fused]) - float(np.mean(single)),
             "the worst single modality": float(accuracy[fused]) - min(single)}
    for what, wrong in slips.items():
        if len(single) > 1 and np.isclose(value, wrong, atol=1e-6):
            raise ExerciseFailed(f"{name}: you compared fusion with {what}; a sceptic compares "
                                 f"it with the BEST single modality.")
    if np.isclose(value, -best, atol=1e-6):
        raise ExerciseFailed(f"{name}: the sign is reversed; the margin is fused minus single.")
    raise ExerciseFailed(f"{name}: {value:.4g} is not the margin of fusion over the best single "
                         f"modality in the table.")
