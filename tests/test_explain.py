"""Tests of mmlib.explain against closed forms, numpy re-implementations and brute force."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest
from scipy import special

from mmlib import explain

# --------------------------------------------------------------------------------------------
# integrated gradients
# --------------------------------------------------------------------------------------------


def _linear_model(d_a=5, d_b=3, n_out=3):
    ia = keras.Input((d_a,), name="a")
    ib = keras.Input((d_b,), name="b")
    out = keras.layers.Dense(n_out)(keras.layers.Concatenate()([ia, ib]))
    return keras.Model({"a": ia, "b": ib}, out)


def test_ig_on_a_linear_model_is_input_times_weight():
    keras.utils.set_random_seed(0)
    model = _linear_model()
    kernel = model.layers[-1].get_weights()[0].astype(np.float64)  # (8, 3)
    rng = np.random.default_rng(0)
    inputs = {"a": rng.normal(size=(10, 5)).astype(np.float32),
              "b": rng.normal(size=(10, 3)).astype(np.float32)}
    for baseline in ("zeros", "mean", {"a": np.ones(5), "b": -np.ones(3)}):
        res = explain.integrated_gradients(model, inputs, baseline=baseline, target=2, steps=4)
        if baseline == "zeros":
            base = {k: np.zeros_like(v, dtype=np.float64) for k, v in inputs.items()}
        elif baseline == "mean":
            base = {k: np.broadcast_to(v.mean(axis=0), v.shape) for k, v in inputs.items()}
        else:
            base = {k: np.broadcast_to(v, inputs[k].shape) for k, v in baseline.items()}
        np.testing.assert_allclose(res.attributions["a"], (inputs["a"] - base["a"]) * kernel[:5, 2],
                                   atol=1e-5)
        np.testing.assert_allclose(res.attributions["b"], (inputs["b"] - base["b"]) * kernel[5:, 2],
                                   atol=1e-5)
        np.testing.assert_allclose(res.modality_totals["a"], res.attributions["a"].sum(axis=1))
        assert res.max_completeness_error < 1e-4
        assert np.all(res.target == 2)


def _trained_two_input_model():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 3, n)
    centres_a = rng.normal(size=(3, 6))
    centres_b = rng.normal(size=(3, 4))
    a = (centres_a[y] + 0.8 * rng.normal(size=(n, 6))).astype(np.float32)
    b = (centres_b[y] + 0.8 * rng.normal(size=(n, 4))).astype(np.float32)
    ia = keras.Input((6,), name="a")
    ib = keras.Input((4,), name="b")
    ha = keras.layers.Dense(8, activation="tanh", name="enc_a")(ia)
    hb = keras.layers.Dense(8, activation="tanh", name="enc_b")(ib)
    h = keras.layers.Concatenate()([ha, hb])
    out = keras.layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model({"a": ia, "b": ib}, out)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=10)
    hist = model.fit({"a": a, "b": b}, y, epochs=15, batch_size=60, verbose=0)
    return model, {"a": a, "b": b}, y, hist.history["accuracy"][-1]


def _numpy_ig(model, x_a, x_b, target, n_steps=4000):
    """IG of the softmax output re-derived in numpy from the weights (midpoint rule, dense)."""
    wa, ba = (w.astype(np.float64) for w in model.get_layer("enc_a").get_weights())
    wb, bb = (w.astype(np.float64) for w in model.get_layer("enc_b").get_weights())
    wh, bh = (w.astype(np.float64) for w in model.get_layer("head").get_weights())
    alphas = (np.arange(n_steps) + 0.5) / n_steps
    pa = alphas[:, None] * x_a[None]  # path from the zero baseline, (steps, 6)
    pb = alphas[:, None] * x_b[None]
    ha, hb = np.tanh(pa @ wa + ba), np.tanh(pb @ wb + bb)
    p = special.softmax(np.concatenate([ha, hb], axis=1) @ wh + bh, axis=1)
    # dp_t/dlogits = p_t (e_t - p); dlogits/dh = wh^T; dh/dpre = 1 - h^2
    dlogits = p[:, [target]] * ((np.arange(3) == target)[None] - p)
    dh = dlogits @ wh.T
    ga = (dh[:, :8] * (1 - ha ** 2)) @ wa.T
    gb = (dh[:, 8:] * (1 - hb ** 2)) @ wb.T
    return x_a * ga.mean(axis=0), x_b * gb.mean(axis=0)


def test_ig_completeness_on_a_trained_model_and_numpy_reference():
    model, inputs, y, train_acc = _trained_two_input_model()
    assert train_acc > 0.9
    sub = {k: v[:40] for k, v in inputs.items()}
    res = explain.integrated_gradients(model, sub, baseline="zeros", steps=128)
    delta = res.prediction - res.baseline_prediction
    total = res.modality_totals["a"] + res.modality_totals["b"]
    np.testing.assert_allclose(res.completeness_error, np.abs(total - delta) / np.abs(delta))
    # F(x) and F(x') are recomputed here, independently of the attributions
    np.testing.assert_allclose(
        res.prediction, model.predict(sub, verbose=0)[np.arange(40), res.target], rtol=1e-6)
    zeros = {k: np.zeros_like(v) for k, v in sub.items()}
    np.testing.assert_allclose(
        res.baseline_prediction,
        model.predict(zeros, verbose=0)[np.arange(40), res.target], rtol=1e-6)
    # completeness within 1 % for every sample, including the few whose F(x) - F(x') is small
    # (class 0 is also the baseline's prediction, so some |delta| are ~ 0.004)
    assert res.max_completeness_error < 0.01
    assert np.abs(total - delta).max() < 1e-4
    np.testing.assert_array_equal(res.target,
                                  model.predict(sub, verbose=0).argmax(axis=1))
    for i in range(0, 40, 13):  # independent numpy re-derivation of the path integral
        ref_a, ref_b = _numpy_ig(model, sub["a"][i].astype(np.float64),
                                 sub["b"][i].astype(np.float64), int(res.target[i]))
        np.testing.assert_allclose(res.attributions["a"][i], ref_a, atol=2e-4)
        np.testing.assert_allclose(res.attributions["b"][i], ref_b, atol=2e-4)
    gl = explain.integrated_gradients(model, sub, steps=16, method="gausslegendre")
    assert gl.max_completeness_error < 0.01
    left = explain.integrated_gradients(model, sub, steps=4, method="riemann_left")
    assert left.max_completeness_error > res.max_completeness_error  # coarse rule is worse
    share = res.modality_share()
    assert set(share.index) == {"a", "b"} and share.sum() == pytest.approx(1.0)


def test_ig_holds_integer_inputs_fixed():
    keras.utils.set_random_seed(0)
    it = keras.Input((5,), dtype="int32", name="tokens")
    ia = keras.Input((3,), name="a")
    emb = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(it))
    h = keras.layers.Concatenate()([emb, keras.layers.Dense(4, activation="tanh")(ia)])
    model = keras.Model({"tokens": it, "a": ia}, keras.layers.Dense(2)(h))
    rng = np.random.default_rng(0)
    inputs = {"tokens": rng.integers(0, 20, size=(6, 5)).astype(np.int32),
              "a": rng.normal(size=(6, 3)).astype(np.float32)}
    res = explain.integrated_gradients(model, inputs, target=1, steps=128)
    assert set(res.attributions) == {"a"}
    # F(x') keeps the tokens: compare with the model at a = 0 directly
    base_out = model({"tokens": inputs["tokens"], "a": np.zeros((6, 3), np.float32)})
    np.testing.assert_allclose(res.baseline_prediction,
                               keras.ops.convert_to_numpy(base_out)[:, 1], rtol=1e-5)
    assert res.max_completeness_error < 0.01


def test_ig_bad_arguments():
    model = _linear_model()
    inputs = {"a": np.zeros((2, 5), np.float32), "b": np.zeros((2, 3), np.float32)}
    with pytest.raises(ValueError, match=r"target must lie in \[0, 3\)"):
        explain.integrated_gradients(model, inputs, target=3)
    with pytest.raises(ValueError, match="method must be one of"):
        explain.integrated_gradients(model, inputs, method="simpson")
    with pytest.raises(ValueError, match="baseline must give an array for every explained"):
        explain.integrated_gradients(model, inputs, baseline={"a": np.zeros(5)})
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        explain.integrated_gradients(model, inputs, steps=0)
    with pytest.raises(ValueError, match="same number"):
        explain.integrated_gradients(model, {"a": inputs["a"], "b": np.zeros((3, 3))})
    with pytest.raises(ValueError, match=r"target must be an integer class index or \(2,\) "
                                         r"integer indices"):
        explain.integrated_gradients(model, inputs, target=[0, 1, 1])
    bad = dict(inputs, b=np.full((2, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"inputs\['b'\] contains NaN or infinite values"):
        explain.integrated_gradients(model, bad)


# --------------------------------------------------------------------------------------------
# modality Shapley values
# --------------------------------------------------------------------------------------------


def _permutation_shapley(v, players):
    """Brute force: average marginal contribution over all orderings of the players."""
    phi = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        present = set()
        for p in order:
            before = v(frozenset(present))
            present.add(p)
            phi[p] += v(frozenset(present)) - before
    return {p: phi[p] / len(orders) for p in players}


def test_shapley_equals_permutation_average_on_a_random_game():
    rng = np.random.default_rng(0)
    for players in (["a"], ["a", "b", "c"], ["img", "txt", "aud", "tab", "pc"]):
        table = {frozenset(s): rng.normal() for r in range(len(players) + 1)
                 for s in itertools.combinations(players, r)}
        res = explain.modality_shapley(table.__getitem__, modalities=players)
        ref = _permutation_shapley(table.__getitem__, players)
        for p in players:
            assert res.values[p] == pytest.approx(ref[p], abs=1e-12)
        assert sum(res.values.values()) == pytest.approx(res.v_all - res.v_none, abs=1e-12)
        assert len(res.subset_values) == 2 ** len(players)


def _symmetric_model():
    """p(class 1) = sigmoid(sum(a) + sum(b)): a and b enter symmetrically; c is ignored."""
    ia = keras.Input((4,), name="a")
    ib = keras.Input((4,), name="b")
    ic = keras.Input((2,), name="c")
    shared = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)
    ignore = keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)
    logit = keras.layers.Add()([shared(ia), shared(ib), ignore(ic)])
    return keras.Model({"a": ia, "b": ib, "c": ic}, keras.layers.Activation("sigmoid")(logit))


def test_shapley_efficiency_symmetry_null_player_on_a_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    a = ((2 * y - 1)[:, None] * 0.5 + rng.normal(size=(50, 4))).astype(np.float32)
    inputs = {"a": a, "b": a.copy(), "c": rng.normal(size=(50, 2)).astype(np.float32)}
    model = _symmetric_model()
    for value in ("probability", "accuracy"):
        res = explain.modality_shapley(model, inputs, labels=y, value=value)
        assert sum(res.values.values()) == pytest.approx(res.v_all - res.v_none, abs=1e-9)
        assert res.values["a"] == pytest.approx(res.values["b"], abs=1e-9)
        assert res.values["c"] == pytest.approx(0.0, abs=1e-9)
    # v(S) is the model's mean true-class probability with absent inputs zeroed: check two by hand
    p_all = 1 / (1 + np.exp(-(a.sum(axis=1) * 2)))
    p_a = 1 / (1 + np.exp(-a.sum(axis=1)))
    res = explain.modality_shapley(model, inputs, labels=y)
    assert res.v_all == pytest.approx(np.mean(np.where(y == 1, p_all, 1 - p_all)), rel=1e-5)
    assert res.subset_values[frozenset({"a"})] == pytest.approx(
        np.mean(np.where(y == 1, p_a, 1 - p_a)), rel=1e-5)
    assert res.v_none == pytest.approx(0.5)
    table = res.to_frame()
    assert list(table["modality"]) == ["a", "b", "c"]


def test_shapley_mask_baseline_sets_mask_columns():
    # the model multiplies each modality's score by its mask column
    ia = keras.Input((3,), name="a")
    ib = keras.Input((3,), name="b")
    im = keras.Input((2,), name="mask")
    sa = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(ia)
    sb = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(ib)
    scores = keras.layers.Concatenate()([sa, sb])
    logit = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(
        keras.layers.Multiply()([scores, im]))
    model = keras.Model({"a": ia, "b": ib, "mask": im}, keras.layers.Activation("sigmoid")(logit))
    rng = np.random.default_rng(1)
    inputs = {"a": rng.normal(size=(30, 3)).astype(np.float32) + 1.0,
              "b": rng.normal(size=(30, 3)).astype(np.float32) - 0.5,
              "mask": np.ones((30, 2), np.float32)}
    y = np.ones(30, dtype=int)
    seen = []

    def value(labels, probs):
        seen.append(probs)
        return float(np.mean(probs))

    res = explain.modality_shapley(model, inputs, modalities=["a", "b"], labels=y,
                                   baseline="mask", mask_input="mask", value=value)
    sa_np, sb_np = inputs["a"].sum(1), inputs["b"].sum(1)
    sig = special.expit
    v = {frozenset(): 0.5, frozenset("a"): np.mean(sig(sa_np)),
         frozenset("b"): np.mean(sig(sb_np)), frozenset("ab"): np.mean(sig(sa_np + sb_np))}
    for s, val in v.items():
        assert res.subset_values[s] == pytest.approx(val, rel=1e-5)
    phi_a = 0.5 * (v[frozenset("a")] - v[frozenset()]) + 0.5 * (v[frozenset("ab")]
                                                                  - v[frozenset("b")])
    assert res.values["a"] == pytest.approx(phi_a, rel=1e-5)


def test_shapley_limits_and_errors():
    players = list("abcdef")
    with pytest.raises(ValueError, match="at most 5 modalities, got 6"):
        explain.modality_shapley(lambda s: 0.0, modalities=players)
    model = _symmetric_model()
    inputs = {k: np.zeros((4, d), np.float32) for k, d in (("a", 4), ("b", 4), ("c", 2))}
    with pytest.raises(ValueError, match="labels are required"):
        explain.modality_shapley(model, inputs)
    with pytest.raises(ValueError, match="baseline must be one of"):
        explain.modality_shapley(model, inputs, labels=np.zeros(4, int), baseline="noise")
    with pytest.raises(ValueError, match="mask_input must be one of"):
        explain.modality_shapley(model, inputs, labels=np.zeros(4, int), baseline="mask")
    with pytest.raises(ValueError, match="modalities must be a list of modality names, got 'ab'"):
        explain.modality_shapley(model, inputs, modalities="ab", labels=np.zeros(4, int))
    with pytest.raises(ValueError, match=r"baseline\['a'\] must broadcast to \(4, 4\)"):
        explain.modality_shapley(model, inputs, labels=np.zeros(4, int),
                                 baseline={"a": np.zeros(5), "b": 0.0, "c": 0.0})
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 2\)"):
        explain.modality_shapley(model, inputs, labels=np.full(4, 3))
    with pytest.raises(ValueError, match="value of a coalition must be a finite number, got 'x'"):
        explain.modality_shapley(lambda s: "x", modalities=["a"])


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------


def test_ece_hand_computed_case():
    # 4 bins with edges 0, .25, .5, .75, 1, closed on the right.
    probs = np.array([
        [0.90, 0.05, 0.05],  # conf .90, pred 0, y 0: correct   -> bin (.75, 1]
        [0.10, 0.80, 0.10],  # conf .80, pred 1, y 2: wrong     -> bin (.75, 1]
        [0.20, 0.20, 0.60],  # conf .60, pred 2, y 2: correct   -> bin (.5, .75]
        [0.70, 0.20, 0.10],  # conf .70, pred 0, y 0: correct   -> bin (.5, .75]
        [0.50, 0.25, 0.25],  # conf .50, pred 0, y 1: wrong     -> bin (.25, .5] (right-closed)
        [0.40, 0.35, 0.25],  # conf .40, pred 0, y 0: correct   -> bin (.25, .5]
    ])
    labels = np.array([0, 2, 2, 0, 1, 0])
    # bin (.25,.5]: conf (.5+.4)/2 = .45, acc 1/2 -> |.50-.45| = .05, weight 2/6
    # bin (.5,.75]: conf .65,              acc 1   -> .35,             weight 2/6
    # bin (.75,1]:  conf .85,              acc 1/2 -> .35,             weight 2/6
    # ECE = (.05 + .35 + .35) / 3 = .25
    assert explain.expected_calibration_error(probs, labels, n_bins=4) == pytest.approx(0.25)
    table = explain.reliability_diagram_data(probs, labels, n_bins=4)
    assert table["count"].tolist() == [0, 2, 2, 2]
    np.testing.assert_allclose(table["mean_confidence"].iloc[1:], [0.45, 0.65, 0.85])
    np.testing.assert_allclose(table["accuracy"].iloc[1:], [0.5, 1.0, 0.5])
    assert np.isnan(table["accuracy"].iloc[0])
    # binary probabilities of class 1: p=.9 -> pred 1, conf .9, wrong; p=.3 -> pred 0, conf .7,
    # correct. 10 bins: separate bins -> ECE = 1/2 * |0 - .9| + 1/2 * |1 - .7| = .6;
    # 2 bins: both in (.5, 1] -> ECE = |1/2 - .8| = .3
    binary, y0 = np.array([0.9, 0.3]), np.array([0, 0])
    assert explain.expected_calibration_error(binary, y0, n_bins=10) == pytest.approx(0.6)
    assert explain.expected_calibration_error(binary, y0, n_bins=2) == pytest.approx(0.3)


def test_ece_errors():
    with pytest.raises(ValueError, match="probs must be probabilities"):
        explain.expected_calibration_error(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"labels must be integer class ids of shape \(1,\), "
                                         r"got dtype int64 and shape \(2,\)"):
        explain.expected_calibration_error(np.array([[0.5, 0.5]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="n_bins must be an integer >= 1"):
        explain.expected_calibration_error(np.array([[0.5, 0.5]]), np.array([0]), n_bins=0)
    with pytest.raises(ValueError, match="probs must be finite probabilities"):
        explain.expected_calibration_error(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got \[4, 4\]"):
        explain.expected_calibration_error(np.array([[0.5, 0.5]]), np.array([4]))
    with pytest.raises(ValueError, match="labels must be integer class ids"):
        explain.expected_calibration_error(np.array([[0.5, 0.5]]), np.array([0.7]))
    with pytest.raises(TypeError, match="probs must hold numbers"):
        explain.expected_calibration_error([["a", "b"]], np.array([0]))


def test_temperature_scaling_recovers_known_temperature():
    rng = np.random.default_rng(0)
    n, k_classes, k = 20000, 5, 2.5
    true_logits = rng.normal(size=(n, k_classes)) * 2.0
    probs = special.softmax(true_logits, axis=1)
    labels = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)  # y ~ softmax
    over = true_logits * k  # deliberately over-confident
    ts = explain.TemperatureScaling().fit(over, labels)
    assert ts.temperature_ == pytest.approx(k, rel=0.05)
    # brute force: the fitted T beats every T on a fine grid
    grid = np.linspace(2.0, 3.0, 101)
    nll = [np.mean(special.logsumexp(over / t, axis=1) - over[np.arange(n), labels] / t)
           for t in grid]
    assert -ts.score(over, labels) <= min(nll) + 1e-9
    assert ts.nll_after_ < ts.nll_before_
    ece_before = explain.expected_calibration_error(special.softmax(over, axis=1), labels)
    ece_after = explain.expected_calibration_error(ts.predict_proba(over), labels)
    assert ece_after < 0.5 * ece_before and ece_after < 0.02
    np.testing.assert_array_equal(ts.predict(over), over.argmax(axis=1))
    np.testing.assert_allclose(ts.transform(over), over / ts.temperature_)


def test_temperature_scaling_binary_logits_and_errors():
    rng = np.random.default_rng(1)
    z = rng.normal(size=5000) * 2
    y = (rng.random(5000) < special.expit(z)).astype(int)
    ts = explain.TemperatureScaling().fit(z * 0.5, y)  # under-confident: T < 1
    assert ts.temperature_ == pytest.approx(0.5, rel=0.1)
    assert ts.predict_proba(z).shape == (5000, 2)
    np.testing.assert_allclose(ts.predict_proba(z)[:, 1], special.expit(z / ts.temperature_))
    with pytest.raises(ValueError, match="not fitted"):
        explain.TemperatureScaling().transform(z)
    with pytest.raises(ValueError, match="labels must be integer class ids"):
        explain.TemperatureScaling().fit(z, y.astype(float))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        explain.TemperatureScaling().fit(z, y + 5)
    with pytest.raises(TypeError, match="max_temperature must be a real number"):
        explain.TemperatureScaling(max_temperature="big").fit(z, y)
    with pytest.raises(ValueError, match=r"logits must have 2 classes as in fit, got shape"):
        ts.predict_proba(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got \[0, 7\]"):
        ts.score(z[:2], np.array([0, 7]))
    assert math.isfinite(ts.score(z, y))


def test_shapley_mask_columns_follow_the_contract_for_unsorted_inputs():
    """Inputs given as (image, audio): the mask's column 0 is audio, column 1 image (sorted)."""
    ii = keras.Input((3,), name="image")
    ia = keras.Input((3,), name="audio")
    im = keras.Input((2,), name="modality_mask")
    s_audio = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(ia)
    s_image = keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)(ii)
    scores = keras.layers.Concatenate()([s_audio, s_image])  # column order = sorted names
    logit = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(
        keras.layers.Multiply()([scores, im]))
    model = keras.Model({"image": ii, "audio": ia, "modality_mask": im},
                        keras.layers.Activation("sigmoid")(logit))
    rng = np.random.default_rng(2)
    inputs = {"image": rng.normal(size=(20, 3)).astype(np.float32),
              "audio": rng.normal(size=(20, 3)).astype(np.float32) + 2.0,
              "modality_mask": np.ones((20, 2), np.float32)}
    res = explain.modality_shapley(model, inputs, labels=np.ones(20, int), baseline="mask")
    # only audio carries signal: all credit goes to audio, none to image
    assert res.values["audio"] > 0.2 and res.values["image"] == pytest.approx(0.0, abs=1e-6)
