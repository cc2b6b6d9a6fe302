"""Exercise checks: pass quietly with a tick, fail with a hint that names the exercise."""

from __future__ import annotations

import numpy as np
import pytest

from mmlib import check


def test_passing_checks_print_a_tick(capsys):
    check.close("ex", [1.0, 2.0], np.array([1.0, 2.0 + 1e-9]))
    check.shape("ex", np.zeros((2, 3)), (None, 3))
    check.equal("ex", 3, 3)
    check.equal("ex", [1, 2], np.array([1, 2]))
    check.true("ex", 1 < 2, "never shown")
    assert capsys.readouterr().out.count("✔ ex: passed") == 5


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check.close("ex1", [1.0, 2.0], [1.0, 2.5]), r"ex1: values differ.*0\.5"),
        (lambda: check.close("ex1", [1.0], [1.0, 2.0]), r"ex1: expected shape \(2,\)"),
        (lambda: check.shape("ex2", np.zeros((2, 4)), (2, 3)), r"ex2: expected shape \(2, 3\)"),
        (lambda: check.equal("ex3", 4, 3), r"ex3: 4 is not the expected value\.$"),
        (lambda: check.equal("ex3", "4", 3), "ex3: expected a value of type int, got type str"),
        (lambda: check.equal("ex3", [1, 2, 4], [1, 2, 3]), "ex3: 1 of 3 value.*differ"),
        (lambda: check.equal("ex3", [1, 2], [1, 2, 3]), r"ex3: expected 3 value.*\(3,\).*\(2,\)"),
        (lambda: check.equal("ex3", None, 3), r"ex3: got None\. Did you forget `return`"),
        (lambda: check.close("ex4", None, [1.0]), r"ex4: got None\. Did you forget `return`"),
        (lambda: check.shape("ex4", None, (1,)), "Did you forget `return`"),
        (lambda: check.equal("ex3", ..., 3), "placeholder"),
        (lambda: check.close("ex4", ..., 3), "placeholder"),
        (lambda: check.true("ex5", False, "look at the bias"), "ex5: look at the bias"),
    ],
)
def test_failing_checks_explain(call, message):
    with pytest.raises(check.ExerciseFailed, match=message):
        call()


def test_equal_never_shows_the_expected_answer():
    for got, expected in [(4, 37), ("cat", "dog"), ([5, 6], [7, 8])]:
        with pytest.raises(check.ExerciseFailed) as err:
            check.equal("ex", got, expected)
        assert repr(expected) not in str(err.value) and str(expected) not in str(err.value)


def test_exercise_failed_is_an_assertion_error():
    assert issubclass(check.ExerciseFailed, AssertionError)


# --- 01 multimodal data ----------------------------------------------------------------------



# --- 02 preprocessing pipelines --------------------------------------------------------------


def test_adapted_on_passes_on_training_statistics_and_names_the_leak():
    import keras

    rng = np.random.default_rng(0)
    train = rng.normal(2.0, 3.0, size=(200, 5, 4)).astype("float32")
    test = rng.normal(2.5, 3.0, size=(100, 5, 4)).astype("float32")
    everything = np.concatenate([train, test])
    good = keras.layers.Normalization(axis=-1)
    good.adapt(train)
    check.adapted_on("ex", good, train, everything)
    leaky = keras.layers.Normalization(axis=-1)
    leaky.adapt(everything)
    with pytest.raises(check.ExerciseFailed, match="include the test samples.*training split"):
        check.adapted_on("ex", leaky, train, everything)
    per_position = keras.layers.Normalization(axis=(1, 2))
    per_position.adapt(train)
    with pytest.raises(check.ExerciseFailed, match=r"holds 20 mean\(s\), expected one per "
                                                   r"feature \(4\)"):
        check.adapted_on("ex", per_position, train, everything)
    other = keras.layers.Normalization(axis=-1)
    other.adapt(test)
    with pytest.raises(check.ExerciseFailed, match="not those of the training split") as err:
        check.adapted_on("ex", other, train, everything)
    assert f"{train.mean():.3f}" not in str(err.value)  # never the expected statistics
    with pytest.raises(check.ExerciseFailed, match="no statistics yet; call its adapt"):
        check.adapted_on("ex", keras.layers.Normalization(axis=-1), train)
    with pytest.raises(check.ExerciseFailed, match=r"expected a Normalization .* got ndarray"):
        check.adapted_on("ex", np.zeros(3), train)
    with pytest.raises(check.ExerciseFailed, match="placeholder"):
        check.adapted_on("ex", ..., train)


# --- 03 feature extraction -------------------------------------------------------------------



# --- 04 alignment ----------------------------------------------------------------------------



# --- 05 fusion -------------------------------------------------------------------------------


def _batches():
    logits = [np.eye(3)[[0, 1, 2, 0]], np.eye(3)[[1, 1]]]  # predictions 0 1 2 0 | 1 1
    labels = [np.array([0, 1, 0, 0]), np.array([0, 0])]  # 3 of 4 right, then 0 of 2
    return logits, labels


def test_batch_accuracy_passes_the_accuracy_over_all_samples(capsys):
    logits, labels = _batches()
    check.batch_accuracy("ex", 0.5, logits, labels)
    check.batch_accuracy("ex", np.float32(0.5), logits, labels)
    assert "✔ ex: passed" in capsys.readouterr().out


@pytest.mark.parametrize("got, message", [
    (50.0, "looks like a percentage"),
    (0.375, "averaged the per-batch accuracies"),
    ([0.75, 0.0], "expected one number"),
    (0.25, "0.25 is not the accuracy over all samples"),
    (None, "Did you forget `return`"),
    (..., "placeholder"),
])
def test_batch_accuracy_names_the_slip_without_the_answer(got, message):
    logits, labels = _batches()
    with pytest.raises(check.ExerciseFailed, match=message) as err:
        check.batch_accuracy("ex", got, logits, labels)
    assert "0.5 " not in str(err.value) and "0.5." not in str(err.value)


def test_batch_accuracy_rejects_malformed_batches():
    logits, labels = _batches()
    with pytest.raises(ValueError, match="same length"):
        check.batch_accuracy("ex", 0.5, logits, labels[:1])
    with pytest.raises(ValueError, match="batch_k"):
        check.batch_accuracy("ex", 0.5, [logits[0][:3], logits[1]], labels)


# --- 06 training strategies ------------------------------------------------------------------


def _focal_case():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4, 6), rng.normal(size=(6, 4)) * 2


def test_focal_loss_check_agrees_with_keras(capsys):
    import keras

    labels, logits = _focal_case()
    reference = keras.losses.CategoricalFocalCrossentropy(
        alpha=0.25, gamma=2.0, from_logits=True, reduction=None)
    values = keras.ops.convert_to_numpy(reference(np.eye(4)[labels], logits))
    check.focal_loss("ex", values, labels, logits, gamma=2.0, alpha=0.25)
    assert "✔ ex: passed" in capsys.readouterr().out


@pytest.mark.parametrize("slip, message", [
    ("mean", "one loss per sample"),
    ("ce", "plain cross-entropy"),
    ("pt", "shrink the loss of well-classified"),
    ("no_alpha", "alpha is missing"),
    ("other", "differ from the focal loss"),
])
def test_focal_loss_check_names_the_slip(slip, message):
    labels, logits = _focal_case()
    z = logits - logits.max(1, keepdims=True)
    log_pt = (z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(6), labels]
    pt = np.exp(log_pt)
    got = {"mean": float(np.mean(-0.25 * (1 - pt) ** 2 * log_pt)), "ce": -log_pt,
           "pt": -0.25 * pt ** 2 * log_pt, "no_alpha": -(1 - pt) ** 2 * log_pt,
           "other": -0.25 * (1 - pt) * log_pt}[slip]
    with pytest.raises(check.ExerciseFailed, match=message):
        check.focal_loss("ex", got, labels, logits, gamma=2.0, alpha=0.25)
    with pytest.raises(ValueError, match="logits must be"):
        check.focal_loss("ex", got, labels[:3], logits, gamma=2.0, alpha=0.25)



# --- 07 robustness and interpretability ------------------------------------------------------


def _games():
    f = frozenset
    return [{f(): 0.1, f({"audio"}): 0.5, f({"image"}): 0.7, f({"audio", "image"}): 0.9},
            {f(): 0.2, f({"audio"}): 0.3, f({"image"}): 0.8, f({"audio", "image"}): 0.85}]


def _shapley(v):
    f = frozenset
    a, i, both, none = f({"audio"}), f({"image"}), f({"audio", "image"}), f()
    return {"audio": 0.5 * (v[a] - v[none] + v[both] - v[i]),
            "image": 0.5 * (v[i] - v[none] + v[both] - v[a])}


def test_shapley_values_passes_the_shapley_values(capsys):
    check.shapley_values("ex", _shapley, _games())
    assert "✔ ex: passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda v: {k: 2 * x for k, x in _shapley(v).items()}, "weighted .*not added"),
    (lambda v: {p: v[frozenset({p})] - v[frozenset()] for p in ("audio", "image")},
     "averages the contribution over \\*both\\* orders"),
    (lambda v: {"audio": 0.0, "image": 1.0}, "not its Shapley value"),
    (lambda v: [0.1, 0.2], "return a dict with one value per player"),
    (lambda v: None, "Did you forget `return`"),
    (..., "placeholder"),
])
def test_shapley_values_names_the_slip(fn, message):
    with pytest.raises(check.ExerciseFailed, match=message) as err:
        check.shapley_values("ex", fn, _games())
    assert "0.5" not in str(err.value)


def _calibration_case():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probs, rng.integers(0, 4, size=200)


def test_calibration_error_passes_the_ece(capsys):
    from mmlib import explain

    probs, labels = _calibration_case()
    check.calibration_error("ex", explain.expected_calibration_error, probs, labels)
    assert "✔ ex: passed" in capsys.readouterr().out


def _unweighted(probs, labels, n_bins):
    from mmlib import explain

    table = explain.reliability_diagram_data(probs, labels, n_bins)
    return float(np.mean(np.abs(table[table["count"] > 0]["gap"])))


def _signed(probs, labels, n_bins):
    from mmlib import explain

    table = explain.reliability_diagram_data(probs, labels, n_bins)
    filled = table[table["count"] > 0]
    return float(np.sum(filled["count"] / len(labels) * filled["gap"]))


@pytest.mark.parametrize("fn, message", [
    (_unweighted, "weight each bin's gap"),
    (_signed, "absolute gap"),
    (lambda p, y, b: 0.0, "is not the ECE"),
    (lambda p, y, b: [0.1, 0.2], "expected one number"),
    (None, "Did you forget `return`"),
])
def test_calibration_error_names_the_slip(fn, message):
    probs, labels = _calibration_case()
    with pytest.raises(check.ExerciseFailed, match=message):
        check.calibration_error("ex", fn, probs, labels)


# --- 08 efficient deployment -----------------------------------------------------------------


def _kernel():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 8)) * rng.uniform(0.1, 2.0, size=8)  # channel scales differ


def _per_channel(w):
    scale = np.abs(w).max(axis=0) / 127
    return np.round(w / scale) * scale


def test_int8_per_channel_passes_the_right_answer(capsys):
    w = _kernel()
    check.int8_per_channel("Exercise 1", _per_channel(w), w)
    assert "✔ Exercise 1: passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda w: np.round(w / (np.abs(w).max() / 127)) * (np.abs(w).max() / 127),
     "one scale per output channel"),
    (lambda w: np.round(w / (np.abs(w).max(axis=0) / 127)), "did you dequantize"),
    (lambda w: np.trunc(w / (np.abs(w).max(axis=0) / 127)) * (np.abs(w).max(axis=0) / 127),
     "round to the nearest integer"),
    (lambda w: w[:, :4], r"expected the kernel's shape \(24, 8\), got \(24, 4\)"),
    (lambda w: ..., "replace the `...` placeholder"),
])
def test_int8_per_channel_hints_at_typical_mistakes(wrong, hint):
    w = _kernel()
    with pytest.raises(check.ExerciseFailed, match=hint):
        check.int8_per_channel("Exercise 1", wrong(w), w)


# --- 09 case study: medical diagnosis --------------------------------------------------------


def _screening():
    scores = np.array([0.9, 0.8, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1])
    positives = np.array([1, 1, 0, 1, 0, 1, 0, 0], bool)  # at 0.6: TP 3 FN 1 | FP 1 TN 3
    return scores, positives


def test_sensitivity_specificity_passes_the_right_pair(capsys):
    scores, positives = _screening()
    check.sensitivity_specificity("ex", (0.75, 0.75), scores, positives, 0.6)
    check.sensitivity_specificity("ex", np.array([0.5, 0.75]), scores, positives, 0.8)
    assert capsys.readouterr().out.count("✔ ex: passed") == 2


@pytest.mark.parametrize("got, threshold, message", [
    ((0.75, 0.5), 0.8, "swapped"),
    ((0.25, 1.0), 0.8, "use >="),
    ((3, 3), 0.6, "counts"),
    ((0.75, 0.25), 0.6, "false-positive rate"),
    ((0.5, 2 / 3), 0.8, "precision"),
    ((0.7, 0.75), 0.6, "the sensitivity differs"),
    ((0.75,), 0.6, "expected two numbers"),
    (None, 0.6, "Did you forget `return`"),
])
def test_sensitivity_specificity_names_the_slip(got, threshold, message):
    scores, positives = _screening()
    with pytest.raises(check.ExerciseFailed, match=message):
        check.sensitivity_specificity("ex", got, scores, positives, threshold)


def test_threshold_for_sensitivity_passes_the_largest_threshold(capsys):
    scores, positives = _screening()
    check.threshold_for_sensitivity("ex", 0.6, scores, positives, 0.75)  # 3 of 4 positives
    check.threshold_for_sensitivity("ex", np.float64(0.3), scores, positives, 0.95)
    check.threshold_for_sensitivity("ex", 0.8, scores, positives, 0.5)
    assert capsys.readouterr().out.count("✔ ex: passed") == 3


@pytest.mark.parametrize("got, message", [
    (0.8, "below the target 0.75; the threshold is too high"),
    (0.5, "a higher threshold would still reach it"),
    (0.1, "a higher threshold would still reach it"),
    ([0.6, 0.3], "expected one threshold"),
    (..., "placeholder"),
])
def test_threshold_for_sensitivity_hints_without_the_answer(got, message):
    scores, positives = _screening()
    with pytest.raises(check.ExerciseFailed, match=message) as err:
        check.threshold_for_sensitivity("ex", got, scores, positives, 0.75)
    assert "0.6" not in str(err.value)


def test_screening_checks_reject_malformed_data():
    scores, positives = _screening()
    with pytest.raises(ValueError, match="both classes"):
        check.sensitivity_specificity("ex", (1, 1), scores, np.ones(8, bool), 0.5)
    with pytest.raises(ValueError, match="same length"):
        check.threshold_for_sensitivity("ex", 0.5, scores[:3], positives, 0.9)


# --- 10 case study: autonomous driving -------------------------------------------------------


def _masked_mae(distance, predicted, objects):
    return float(np.mean(np.abs(predicted - distance)[objects > 0]))


def test_masked_distance_error_passes_the_masked_mean(capsys):
    check.masked_distance_error("ex", _masked_mae)
    assert "✔ ex: passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (lambda d, p, o: float(np.mean(np.abs(p - d))), "batch with some scenes empty"),
    (lambda d, p, o: float(np.sum(np.abs(p - d)[o > 0]) / len(o)), "neither counted in the sum"),
    (lambda d, p, o: float(np.mean((p - d)[o > 0])), "wrong value on a batch"),
    (lambda d, p, o: np.abs(p - d)[o > 0], "expected one number"),
    (lambda d, p, o: None, "Did you forget `return`"),
    (42, "expected a function"),
    (..., "replace the `...` placeholder"),
])
def test_masked_distance_error_names_the_slip(fn, message):
    with pytest.raises(check.ExerciseFailed, match=message):
        check.masked_distance_error("ex", fn)


# --- 11 case study: smart security -----------------------------------------------------------


# --- 12 outlook ------------------------------------------------------------------------------


def _similarity():
    sim = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    return sim, np.array([0, 1, 0, 2])  # argmax 0 1 2 0: 2 of 4 right; argmin 2 2 0 2: 2 of 4


def test_zero_shot_accuracy_passes_the_row_argmax_accuracy(capsys):
    sim, labels = _similarity()
    check.zero_shot_accuracy("ex", 0.5, sim, labels)
    check.zero_shot_accuracy("ex", np.float64(0.5), sim, labels)
    assert capsys.readouterr().out.count("✔ ex: passed") == 2


@pytest.mark.parametrize("got, message", [
    (50.0, "looks like a percentage"),
    ([0.5, 0.5], "expected one number"),
    (0.25, "0.25 is not the zero-shot accuracy"),
    (None, "Did you forget `return`"),
])
def test_zero_shot_accuracy_names_the_slip_without_the_answer(got, message):
    sim, labels = _similarity()
    with pytest.raises(check.ExerciseFailed, match=message) as err:
        check.zero_shot_accuracy("ex", got, sim, labels)
    assert "0.5 " not in str(err.value)


def test_zero_shot_accuracy_spots_the_least_similar_class():
    sim = np.array([[0.9, 0.1], [0.2, 0.7], [0.1, 0.3]])
    labels = np.array([1, 0, 0])  # argmax 0 1 1: none right; argmin 1 0 0: all right
    with pytest.raises(check.ExerciseFailed, match="least similar"):
        check.zero_shot_accuracy("ex", 1.0, sim, labels)
    with pytest.raises(ValueError, match="one label per row"):
        check.zero_shot_accuracy("ex", 1.0, sim, labels[:2])


def test_fusion_margin_compares_with_the_best_single_modality(capsys):
    acc = {"image": 0.8, "audio": 0.7, "fused": 0.9}
    check.fusion_margin("ex", 0.1, acc, "fused")
    assert "✔ ex: passed" in capsys.readouterr().out
    for got, message in [(0.15, "the mean of the single"), (0.2, "the worst single"),
                         (-0.1, "sign is reversed"), (0.3, "0.3 is not the margin")]:
        with pytest.raises(check.ExerciseFailed, match=message):
            check.fusion_margin("ex", got, acc, "fused")
    with pytest.raises(ValueError, match="must be a dict holding 'fused'"):
        check.fusion_margin("ex", 0.1, {"image": 0.8}, "fused")
