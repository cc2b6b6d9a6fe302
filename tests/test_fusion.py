"""Tests for mmlib.fusion: generic layer properties and NumPy references of each paper formula."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmlib import fusion as F

B = 4  # batch size of every test


def feats(shapes, batch=B, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, *s)).astype("float32") for s in shapes]


def npw(v):
    return keras.ops.convert_to_numpy(v).astype(np.float64)


@dataclass
class Case:
    make: Any
    shapes: list
    out_shape: tuple  # per-sample output shape


CASES = {
    "early": Case(lambda: F.EarlyFusion(), [(3,), (4,), (2,)], (9,)),
    "early_proj": Case(lambda: F.EarlyFusion(5, "relu", append_mask=True, seed=1),
                       [(3,), (4,), (2,)], (5,)),
    "late_mean": Case(lambda: F.LateFusion("mean"), [(3,), (3,), (3,)], (3,)),
    "late_weighted": Case(lambda: F.LateFusion("weighted"), [(3,), (3,), (3,)], (3,)),
    "late_stacking": Case(lambda: F.LateFusion("stacking", units=2, seed=1),
                          [(3,), (3,), (3,)], (2,)),
    "tensor": Case(lambda: F.TensorFusion(), [(3,), (4,), (2,)], (4 * 5 * 3,)),
    "tensor_first": Case(lambda: F.TensorFusion("first"), [(3,), (2,)], (4 * 3,)),
    "lowrank": Case(lambda: F.LowRankFusion(4, 3, seed=1), [(3,), (4,), (2,)], (4,)),
    "gated2": Case(lambda: F.GatedFusion(5, seed=1), [(3,), (4,)], (5,)),
    "gated3": Case(lambda: F.GatedFusion(5, seed=1), [(3,), (4,), (2,)], (5,)),
    "film": Case(lambda: F.FiLM(target=0, seed=1), [(5, 3), (4,), (2,)], (5, 3)),
    "bilinear": Case(lambda: F.BilinearFusion(6, 3, seed=1), [(3,), (4,), (2,)], (3,)),
    "attention": Case(lambda: F.AttentionFusion(units=5, seed=1), [(3,), (4,), (2,)], (5,)),
    "projected_concat": Case(lambda: F.ProjectedFusion("concat", projection_dim=3, seed=1),
                             [(3,), (4,)], (7,)),
    "projected_sum": Case(lambda: F.ProjectedFusion("sum", seed=1), [(3,), (4,)], (4,)),
    "projected_product": Case(lambda: F.ProjectedFusion("product", seed=1), [(3, 3), (3, 4)],
                              (3, 4)),
}
IDS = list(CASES)


def functional(case):
    inputs = [keras.Input(s) for s in case.shapes]
    mask_in = keras.Input((len(case.shapes),))
    out = case.make()(inputs, modality_mask=mask_in)
    return keras.Model([*inputs, mask_in], out)


def batch_with_mask(case, seed=0):
    xs = feats(case.shapes, seed=seed)
    mask = np.ones((B, len(xs)), "float32")
    mask[1, 0] = 0
    mask[2, -1] = 0
    return [*xs, mask]


@pytest.mark.parametrize("case_id", IDS)
def test_generic_layer_properties(case_id, tmp_path):
    """Shape; masks honoured; gradients reach every weight; save/load round trip."""
    case = CASES[case_id]
    layer = case.make()
    xs = feats(case.shapes)
    n_mod = len(xs)
    # 1. output shape, and an all-present mask equals no mask
    ref = keras.ops.convert_to_numpy(layer(xs))
    assert ref.shape == (B, *case.out_shape)
    assert layer.n_modalities == n_mod
    full = layer(xs, modality_mask=np.ones((B, n_mod), "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(full), ref)

    # 2. a masked modality cannot change the output (even NaN / huge values), while the same
    #    modality still matters in the rows where it is present
    rng = np.random.default_rng(5)
    for m in range(n_mod):
        mask = np.ones((B, n_mod), "float32")
        mask[[0, 2], m] = 0
        masked_ref = keras.ops.convert_to_numpy(layer(xs, modality_mask=mask))
        garbage = [x.copy() for x in xs]
        garbage[m][[0, 2]] = 1e3 * rng.normal(size=garbage[m][[0, 2]].shape)
        garbage[m][0].flat[0] = np.nan
        out = keras.ops.convert_to_numpy(layer(garbage, modality_mask=mask))
        np.testing.assert_array_equal(out, masked_ref, err_msg=f"masked modality {m} leaked")
        changed = [x.copy() for x in xs]
        changed[m][[1, 3]] += 1.0 + rng.normal(size=changed[m][[1, 3]].shape)
        out = keras.ops.convert_to_numpy(layer(changed, modality_mask=mask))
        for row in (1, 3):
            assert np.any(out[row] != masked_ref[row]), f"modality {m} present but ignored"
        # a bool mask works like the 0/1 mask
        bool_out = keras.ops.convert_to_numpy(layer(xs, modality_mask=mask > 0))
        np.testing.assert_array_equal(bool_out, masked_ref)

    # 3. gradients of a random projection of the output reach every weight and every input
    xt = [tf.constant(x) for x in xs]
    probe = tf.constant(rng.normal(size=(B, *case.out_shape)), "float32")
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt) * probe)
    weights = list(layer.trainable_weights)
    grads = tape.gradient(loss, weights + xt)
    for w, g in zip(weights, grads[:len(weights)], strict=True):
        assert g is not None, f"no gradient for {w.path}"
        assert np.any(g.numpy() != 0), f"zero gradient for {w.path}"
    for m, g in enumerate(grads[len(weights):]):
        assert g is not None and np.any(g.numpy() != 0), f"no gradient for input {m}"
    # ... and stay finite when a missing modality's slot holds NaN
    mask = np.ones((B, n_mod), "float32")
    mask[0, -1] = 0
    nan_xs = [x.copy() for x in xs]
    nan_xs[-1][0] = np.nan
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(nan_xs, modality_mask=mask) * probe)
    for w, g in zip(weights, tape.gradient(loss, weights), strict=True):
        assert np.all(np.isfinite(g.numpy())), f"NaN gradient for {w.path}"

    # 4. model.save() / keras.models.load_model round trip (functional model with a mask input)
    model = functional(case)
    data = batch_with_mask(case)
    before = keras.ops.convert_to_numpy(model(data))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(data)), before)
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()
    # get_config holds every constructor argument, and from_config rebuilds the same layer
    config = layer.get_config()
    params = set(inspect.signature(type(layer).__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config), f"get_config misses {params - set(config)}"
    assert type(layer).from_config(config).get_config() == config


def test_tf_function_and_jit_compile_all_layers():
    """Every layer (and the CrossModalTransformer), forward and backward, inside one XLA-compiled
    tf.function (one compile for all, to stay fast) equals eager execution; then a small Keras
    model with jit_compile=True trains one step and predicts."""
    layers = {k: c.make() for k, c in CASES.items()}
    data = {k: batch_with_mask(c, seed=i) for i, (k, c) in enumerate(CASES.items())}
    cross = F.CrossModalTransformer(2, 3, 8, seed=2)
    seq = [tf.constant(a) for a in feats([(5, 6), (3, 4)], seed=30)]
    smask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    def forward_backward(batches, target, source, source_mask):
        with tf.GradientTape() as tape:
            out = {k: layers[k](d[:-1], modality_mask=d[-1]) for k, d in batches.items()}
            out["cross"] = cross(target, source, source_mask=source_mask)
            loss = tf.add_n([tf.reduce_sum(tf.sin(o)) for o in out.values()])
        weights = [w for layer in [*layers.values(), cross] for w in layer.trainable_weights]
        return out, tape.gradient(loss, weights)

    eager_out, eager_grads = forward_backward(data, *seq, smask)
    jit_out, jit_grads = tf.function(forward_backward, jit_compile=True)(data, *seq, smask)
    for k in eager_out:
        np.testing.assert_allclose(jit_out[k].numpy(), eager_out[k].numpy(), rtol=1e-5,
                                   atol=1e-5, err_msg=k)
    for g_jit, g in zip(jit_grads, eager_grads, strict=True):
        assert g_jit is not None
        np.testing.assert_allclose(g_jit.numpy(), g.numpy(), rtol=1e-4, atol=1e-4)

    case = CASES["lowrank"]
    inputs = [keras.Input(s) for s in case.shapes]
    mask_in = keras.Input((len(case.shapes),))
    h = F.TensorFusion()(inputs, modality_mask=mask_in)
    h = keras.layers.Concatenate()([h, case.make()(inputs, modality_mask=mask_in)])
    model = keras.Model([*inputs, mask_in], keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    batch = batch_with_mask(case)
    before = [w.numpy().copy() for w in model.trainable_weights]
    assert np.isfinite(model.train_on_batch(batch, np.ones((B, 1), "float32")))
    for w, b in zip(model.trainable_weights, before, strict=True):
        assert np.any(w.numpy() != b), f"{w.path} not updated by the jit-compiled train step"


def test_dict_inputs_follow_sorted_keys(tmp_path):
    a, v, t = feats([(3,), (4,), (2,)])
    layer = F.LowRankFusion(3, 2, seed=0)
    out = layer({"video": v, "audio": a, "text": t})
    assert layer.modality_names == ("audio", "text", "video")
    np.testing.assert_allclose(out, layer([a, t, v]), rtol=1e-6)
    ins = {k: keras.Input(s, name=k) for k, s in (("audio", (3,)), ("video", (4,)), ("text", (2,)))}
    model = keras.Model(ins, F.LowRankFusion(3, 2, seed=0)(ins))
    model.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    data = {"audio": a, "video": v, "text": t}
    np.testing.assert_array_equal(loaded(data), model(data))
    with pytest.raises(ValueError, match=r"built for modalities \['audio', 'text', 'video'\]"):
        layer({"audio": a, "text": t, "image": v})


# ------------------------------------------------------------------------- numerical references
@pytest.mark.parametrize("one_position", ["last", "first"])
def test_tensor_fusion_equals_explicit_outer_product(one_position):
    xs = feats([(3,), (4,), (2,)])
    out = keras.ops.convert_to_numpy(F.TensorFusion(one_position)(xs))

    def aug(z):
        one = np.ones((z.shape[0], 1))
        return np.concatenate([z, one] if one_position == "last" else [one, z], axis=1)

    z1, z2, z3 = (aug(x.astype(np.float64)) for x in xs)
    ref = np.zeros((B, 4, 5, 3))
    for b in range(B):
        for i in range(4):
            for j in range(5):
                for k in range(3):
                    ref[b, i, j, k] = z1[b, i] * z2[b, j] * z3[b, k]
    np.testing.assert_allclose(out, ref.reshape(B, -1), rtol=1e-6, atol=1e-7)
    # the documented index layout: C order, first modality slowest
    for b, (i, j, k) in [(0, (2, 1, 0)), (3, (0, 4, 2))]:
        flat = np.ravel_multi_index((i, j, k), (4, 5, 3))
        assert out[b, flat] == pytest.approx(z1[b, i] * z2[b, j] * z3[b, k], rel=1e-6)
    cube = out.reshape(B, 4, 5, 3)
    if one_position == "last":  # paper layout: [z; 1]
        np.testing.assert_array_equal(out[:, -1], 1.0)
        np.testing.assert_allclose(cube[:, :3, 4, 2], xs[0], rtol=1e-6)
        np.testing.assert_allclose(cube[:, 3, :4, 2], xs[1], rtol=1e-6)
    else:  # MultiBench layout: [1; z]
        np.testing.assert_array_equal(out[:, 0], 1.0)
        np.testing.assert_allclose(cube[:, 1:, 0, 0], xs[0], rtol=1e-6)
        np.testing.assert_allclose(cube[:, 0, 0, 1:], xs[2], rtol=1e-6)


def test_tensor_fusion_masked_modality_keeps_only_its_constant():
    xs = feats([(3,), (2,)])
    mask = np.array([[1, 0]] * B, "float32")
    out = keras.ops.convert_to_numpy(F.TensorFusion()(xs, modality_mask=mask))
    z1 = np.concatenate([xs[0], np.ones((B, 1))], 1)
    z2 = np.tile([0.0, 0.0, 1.0], (B, 1))
    np.testing.assert_allclose(out, np.einsum("bi,bj->bij", z1, z2).reshape(B, -1), rtol=1e-6)


@pytest.mark.parametrize("one_position", ["first", "last"])
def test_low_rank_fusion_equals_sum_of_products(one_position):
    dims, units, rank = (3, 4, 2), 5, 3
    xs = feats([(d,) for d in dims], seed=2)
    layer = F.LowRankFusion(units, rank, one_position=one_position, seed=3)
    layer(xs)
    layer.bias.assign(np.random.default_rng(4).normal(size=units))
    out = keras.ops.convert_to_numpy(layer(xs))
    W = [npw(f) for f in layer.factors]
    w, bias = npw(layer.rank_weights), npw(layer.bias)
    ref = np.zeros((B, units))
    for b in range(B):
        zt = [np.r_[1.0, x[b]] if one_position == "first" else np.r_[x[b], 1.0] for x in xs]
        for r in range(rank):
            term = np.ones(units)
            for m in range(len(dims)):
                term = term * (zt[m] @ W[m][r])  # z̃_m · W_m^(r), shape (units,)
            ref[b] += w[r] * term
        ref[b] += bias
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-5)


def low_rank_with(xs, units, factors, bias):
    """A LowRankFusion built on ``xs`` whose factors are set to ``factors`` (rank weights 1)."""
    layer = F.LowRankFusion(units, len(factors[0]))
    layer(xs)
    for var, val in zip(layer.factors, factors, strict=True):
        var.assign(val)
    layer.rank_weights.assign(np.ones(len(factors[0])))
    layer.bias.assign(bias)
    return layer


def tfn_dense(xs, kernel, bias):
    """TensorFusion followed by Dense, written out in NumPy."""
    z = [np.concatenate([x, np.ones((x.shape[0], 1))], 1).astype(np.float64) for x in xs]
    t = z[0]
    for zm in z[1:]:
        t = np.einsum("bp,bq->bpq", t, zm).reshape(t.shape[0], -1)
    return t @ kernel + bias


def test_low_rank_represents_tensor_fusion_plus_dense_two_modalities_by_svd():
    d1, d2, units = 3, 4, 2
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=((d1 + 1) * (d2 + 1), units))
    bias = rng.normal(size=units)
    xs = feats([(d1,), (d2,)], seed=8)
    rank = min(d1, d2) + 1
    f1, f2 = np.zeros((rank, d1 + 1, units)), np.zeros((rank, d2 + 1, units))
    for k in range(units):  # each output unit's weight slice M_k = U S Vᵀ
        u, s, vt = np.linalg.svd(kernel[:, k].reshape(d1 + 1, d2 + 1), full_matrices=False)
        f1[:, :, k] = (u * s).T
        f2[:, :, k] = vt
    layer = low_rank_with(xs, units, (f1, f2), bias)
    np.testing.assert_allclose(layer(xs), tfn_dense(xs, kernel, bias), atol=1e-5)
    # and the same holds through the actual TensorFusion layer
    tfn = keras.ops.convert_to_numpy(F.TensorFusion()(xs)) @ kernel + bias
    np.testing.assert_allclose(layer(xs), tfn, atol=1e-5)


def test_low_rank_represents_tensor_fusion_plus_dense_three_modalities():
    dims, units = (2, 3, 2), 3
    rng = np.random.default_rng(9)
    p = [d + 1 for d in dims]
    kernel = rng.normal(size=(int(np.prod(p)), units))
    bias = rng.normal(size=units)
    xs = feats([(d,) for d in dims], seed=10)
    rank = p[0] * p[1]  # T_k = Σ_{i,j} e_i ⊗ e_j ⊗ T_k[i, j, :]
    fs = [np.zeros((rank, q, units)) for q in p]
    for k in range(units):
        t = kernel[:, k].reshape(p)
        for i in range(p[0]):
            for j in range(p[1]):
                r = i * p[1] + j
                fs[0][r, i, k] = 1.0
                fs[1][r, j, k] = 1.0
                fs[2][r, :, k] = t[i, j]
    layer = low_rank_with(xs, units, fs, bias)
    np.testing.assert_allclose(layer(xs), tfn_dense(xs, kernel, bias), atol=1e-5)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("n_mod", [2, 3])
def test_gated_fusion_equals_gmu_formula(n_mod):
    shapes = [(3,), (4,), (2,)][:n_mod]
    xs = feats(shapes, seed=11)
    layer = F.GatedFusion(5, seed=2)
    layer(xs)
    rng = np.random.default_rng(3)
    for v in layer.feature_biases + layer.gate_biases:  # non-zero biases in the check
        v.assign(rng.normal(size=v.shape))
    out, gates = layer(xs, return_gates=True)
    x64 = [x.astype(np.float64) for x in xs]
    h = [np.tanh(x @ npw(k) + npw(b)) for x, k, b in
         zip(x64, layer.feature_kernels, layer.feature_biases, strict=True)]
    joint = np.concatenate(x64, axis=1)
    if n_mod == 2:  # h = z h_v + (1 - z) h_t, z = σ(W_z [x_v, x_t])
        z = sigmoid(joint @ npw(layer.gate_kernels[0]) + npw(layer.gate_biases[0]))
        ref, ref_gates = z * h[0] + (1 - z) * h[1], np.stack([z, 1 - z], 1)
    else:  # h = Σ_m σ(W_{z,m} [x_1..x_M]) ⊙ h_m
        zs = [sigmoid(joint @ npw(k) + npw(b)) for k, b in
              zip(layer.gate_kernels, layer.gate_biases, strict=True)]
        ref, ref_gates = sum(z * hm for z, hm in zip(zs, h, strict=True)), np.stack(zs, 1)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(gates, ref_gates, atol=1e-6)


def test_film_equals_paper_formula_and_identity_without_condition():
    xs = feats([(5, 3), (4,), (2,)], seed=12)
    layer = F.FiLM(target=0, seed=4)
    layer(xs)
    rng = np.random.default_rng(5)
    layer.gamma_bias.assign(rng.normal(size=3))
    layer.beta_bias.assign(rng.normal(size=3))
    c = np.concatenate([xs[1], xs[2]], 1).astype(np.float64)
    gamma = c @ npw(layer.gamma_kernel) + npw(layer.gamma_bias)
    beta = c @ npw(layer.beta_kernel) + npw(layer.beta_bias)
    ref = gamma[:, None, :] * xs[0] + beta[:, None, :]
    np.testing.assert_allclose(layer(xs), ref, atol=1e-5)
    mask = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]], "float32")
    out = keras.ops.convert_to_numpy(layer(xs, modality_mask=mask))
    np.testing.assert_allclose(out[0], xs[0][0], atol=1e-6)  # no condition: identity
    np.testing.assert_array_equal(out[2], 0.0)  # missing target
    c1 = np.r_[xs[1][1], 0.0, 0.0]  # missing third modality enters c as zeros
    g1 = c1 @ npw(layer.gamma_kernel) + npw(layer.gamma_bias)
    b1 = c1 @ npw(layer.beta_kernel) + npw(layer.beta_bias)
    np.testing.assert_allclose(out[1], g1 * xs[0][1] + b1, atol=1e-5)
    # the target may be named by key for dict inputs
    named = F.FiLM(target="img", seed=4)
    assert named({"img": xs[0], "cond": xs[1]}).shape == (B, 5, 3)


def test_bilinear_fusion_equals_mlb_formula():
    xs = feats([(3,), (4,)], seed=13)
    layer = F.BilinearFusion(rank=6, units=2, seed=5)
    layer(xs)
    rng = np.random.default_rng(6)
    for v in [*layer.factor_biases, layer.output_bias]:
        v.assign(rng.normal(size=v.shape))
    (u, v), (bu, bv) = layer.factor_kernels, layer.factor_biases
    # f = Pᵀ(σ(Uᵀx + b_x) ∘ σ(Vᵀy + b_y)) + b, σ = tanh
    joint = np.tanh(xs[0] @ npw(u) + npw(bu)) * np.tanh(xs[1] @ npw(v) + npw(bv))
    ref = joint @ npw(layer.output_kernel) + npw(layer.output_bias)
    np.testing.assert_allclose(layer(xs), ref, atol=1e-5)
    no_proj = F.BilinearFusion(rank=6, seed=5)
    no_proj(xs)
    assert no_proj(xs).shape == (B, 6)


def test_attention_fusion_weights_are_masked_softmax():
    xs = feats([(3,), (4,), (2,)], seed=14)
    layer = F.AttentionFusion(units=5, attention_units=4, seed=6)
    mask = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 0], [0, 0, 0]], "float32")
    out, weights = layer(xs, modality_mask=mask, return_weights=True)
    out, weights = keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(weights)
    h = np.stack([x @ npw(k) + npw(b) for x, k, b in
                  zip(xs, layer.kernels, layer.biases, strict=True)], 1)
    s = np.tanh(h @ npw(layer.score_kernel) + npw(layer.score_bias)) @ npw(layer.score_vector)
    ref_w = np.where(mask > 0, np.exp(s), 0.0)
    ref_w = np.divide(ref_w, ref_w.sum(1, keepdims=True), out=np.zeros_like(ref_w),
                      where=ref_w.sum(1, keepdims=True) > 0)
    np.testing.assert_allclose(weights, ref_w, atol=1e-6)
    np.testing.assert_allclose(weights[:3].sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(weights[3], 0.0)
    np.testing.assert_allclose(out, np.einsum("bm,bmd->bd", ref_w, h), atol=1e-5)
    np.testing.assert_allclose(out[2], h[2, 0], atol=1e-5)  # only one modality present


def test_late_fusion_modes_against_numpy():
    xs = feats([(3,), (3,), (3,)], seed=15)
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
    p = np.stack(xs, 1).astype(np.float64)
    mean = F.LateFusion("mean")(xs, modality_mask=mask)
    ref = np.array([p[b][mask[b] > 0].mean(0) if mask[b].any() else np.zeros(3)
                    for b in range(B)])
    np.testing.assert_allclose(mean, ref, atol=1e-6)
    weighted = F.LateFusion("weighted")
    weighted(xs)
    logits = np.array([0.5, -1.0, 2.0])
    weighted.modality_logits.assign(logits)
    np.testing.assert_allclose(weighted.modality_weights(), np.exp(logits) / np.exp(logits).sum(),
                               rtol=1e-6)
    out = keras.ops.convert_to_numpy(weighted(xs, modality_mask=mask))
    for b in range(3):
        w = np.exp(logits) * mask[b]
        np.testing.assert_allclose(out[b], (w / w.sum()) @ p[b], atol=1e-6)
    stack = F.LateFusion("stacking", units=2, activation="softmax", seed=0)
    out = keras.ops.convert_to_numpy(stack(xs, modality_mask=mask))
    h = np.concatenate([*(x * mask[:, m:m + 1] for m, x in enumerate(xs)), mask], 1)
    logit = h @ npw(stack.kernel) + npw(stack.bias)
    ref = np.exp(logit) / np.exp(logit).sum(1, keepdims=True)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    with pytest.raises(ValueError, match="needs mode='weighted'"):
        stack.modality_weights()


def test_early_and_projected_fusion_against_numpy():
    xs = feats([(3,), (4,)], seed=16)
    mask = np.array([[1, 1], [0, 1], [1, 0], [1, 1]], "float32")
    early = F.EarlyFusion(append_mask=True)(xs, modality_mask=mask)
    ref = np.concatenate([xs[0] * mask[:, :1], xs[1] * mask[:, 1:], mask], 1)
    np.testing.assert_allclose(early, ref, atol=0)
    proj = F.EarlyFusion(5, "tanh", append_mask=True, seed=3)
    proj(xs)
    proj.bias.assign(np.random.default_rng(17).normal(size=5))
    out = keras.ops.convert_to_numpy(proj(xs, modality_mask=mask))
    np.testing.assert_allclose(out, np.tanh(ref @ npw(proj.kernel) + npw(proj.bias)), atol=1e-6)
    for combine in ("concat", "sum", "product"):
        layer = F.ProjectedFusion(combine, seed=7)
        out = keras.ops.convert_to_numpy(layer(xs))
        A = keras.ops.convert_to_numpy(layer.A)
        assert A.shape == (4, 3)  # (k, d_x): H = f(X·Aᵀ, Y)
        xa = xs[0] @ A.T
        ref = {"concat": np.concatenate([xa, xs[1]], 1), "sum": xa + xs[1],
               "product": xa * xs[1]}[combine]
        np.testing.assert_allclose(out, ref, atol=1e-5)
        masked = keras.ops.convert_to_numpy(layer(xs, modality_mask=mask))
        neutral = 1.0 if combine == "product" else 0.0
        xa_m = np.where(mask[:, :1] > 0, xa, neutral)
        y_m = np.where(mask[:, 1:] > 0, xs[1], neutral)
        ref = {"concat": np.concatenate([xa_m, y_m], 1), "sum": xa_m + y_m,
               "product": xa_m * y_m}[combine]
        np.testing.assert_allclose(masked, ref, atol=1e-5)
    swapped = F.ProjectedFusion("concat", projection_dim=2, project=1, seed=7)
    assert swapped(xs).shape == (B, 2 + 3)


# -------------------------------------------------------------------------------- bad input
def test_bad_input_raises_value_error():
    xs = feats([(3,), (4,), (2,)])
    layer = F.LowRankFusion(4, 2)
    layer(xs)
    with pytest.raises(ValueError, match="built for 3 modalities, got 2"):
        layer(xs[:2])
    with pytest.raises(ValueError, match=r"same batch size, got batch sizes \[4, 3, 4\]"):
        layer([xs[0], xs[1][:3], xs[2]])
    with pytest.raises(ValueError, match=r"modality_mask must have shape \(batch, 3\)"):
        layer(xs, modality_mask=np.ones((B, 2)))
    with pytest.raises(ValueError, match=r"modality_mask must have shape \(batch, 3\)"):
        layer(xs, modality_mask=np.ones((B,)))
    with pytest.raises(ValueError, match="modality_mask has batch size 3"):
        layer(xs, modality_mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="modality 1 was built with feature size 4"):
        layer([xs[0], xs[0], xs[2]])
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got 0"):
        F.LowRankFusion(4, rank=0)
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got -2"):
        F.BilinearFusion(rank=-2)
    with pytest.raises(ValueError, match="at least 2 modalities, got 1"):
        F.GatedFusion(3)(xs[:1])
    with pytest.raises(TypeError, match="list or dict of modality tensors"):
        F.EarlyFusion()(xs[0])  # a wrong type: one tensor instead of a list
    with pytest.raises(ValueError, match=r"modality 0 must have shape \(batch, d\)"):
        F.TensorFusion()([np.zeros((B, 2, 3)), xs[1]])
    with pytest.raises(ValueError, match="mode must be one of"):
        F.LateFusion("max")
    with pytest.raises(ValueError, match="equal size for every modality"):
        F.LateFusion("mean")(xs)
    with pytest.raises(ValueError, match="needs equal feature sizes"):
        F.AttentionFusion()(xs)
    with pytest.raises(ValueError, match="exactly 2 modalities, got 3"):
        F.ProjectedFusion()(xs)
    with pytest.raises(ValueError, match="projection_dim equal to Y's size 4, got 2"):
        F.ProjectedFusion("sum", projection_dim=2)(xs[:2])
    with pytest.raises(ValueError, match=r"target must be an index in \[0, 2\], got 3"):
        F.FiLM(target=3)(xs)
    with pytest.raises(ValueError, match="target must name one of the inputs"):
        F.FiLM(target="depth")({"rgb": xs[0], "text": xs[1]})
    with pytest.raises(ValueError, match="one_position must be one of"):
        F.TensorFusion("middle")
    with pytest.raises(ValueError, match=r"X and Y must have the same axes between batch and "
                                         r"features, got shapes \(4, 2, 3\) and \(4, 5, 3\)"):
        F.ProjectedFusion()([np.zeros((B, 2, 3)), np.zeros((B, 5, 3))])
    projected = F.ProjectedFusion()
    projected([keras.Input((None, 3)), keras.Input((None, 3))])  # steps unknown when built
    with pytest.raises(ValueError, match="same axes between batch and features"):
        projected([np.zeros((B, 2, 3)), np.zeros((B, 5, 3))])


@pytest.mark.parametrize("make", [lambda: F.EarlyFusion(), lambda: F.LowRankFusion(2, 2),
                                  lambda: F.ProjectedFusion()], ids=["early", "lowrank", "proj"])
def test_wrong_structure_or_dtype_is_reported_before_keras(make):
    """Errors name the problem in the layer's terms, never a raw TensorFlow / Keras message."""
    xs = feats([(3,), (3,)])
    with pytest.raises(ValueError, match="at least one modality tensor, got an empty list"):
        make()([])
    with pytest.raises(ValueError, match="at least one modality tensor, got an empty dict"):
        make()({})
    with pytest.raises(TypeError, match="list or dict of modality tensors .* got int 5"):
        make()(5)
    with pytest.raises(TypeError, match="modality 1 must be a tensor or NumPy array, got NoneType"):
        make()([xs[0], None])
    with pytest.raises(TypeError, match="modality 0 must be a tensor or NumPy array, got list"):
        make()([[[1.0, 2.0, 3.0]], xs[1][:1]])
    with pytest.raises(TypeError, match="modality 'text' must hold numbers, got dtype str"):
        make()({"audio": xs[0], "text": np.array([["a", "b", "c"]] * B)})
    layer = make()
    layer(xs)
    with pytest.raises(TypeError, match="modality_mask must be bool or 0/1 numbers, got dtype "
                                        "string"):
        layer(xs, modality_mask=np.array([["yes", "no"]] * B))


def test_empty_batch_gives_empty_output():
    for case_id in ("attention", "late_weighted", "lowrank", "gated3", "film"):
        case = CASES[case_id]
        layer = case.make()
        layer(feats(case.shapes))
        empty = feats(case.shapes, batch=0)
        out = layer(empty, modality_mask=np.zeros((0, len(empty)), "float32"))
        assert tuple(out.shape) == (0, *case.out_shape), case_id


# ------------------------------------------------------------------- CrossModalTransformer
def numpy_layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def numpy_crossmodal(layer, target, source, source_mask):
    """MulT block in NumPy with the layer's weights."""
    t, s = target.astype(np.float64), source.astype(np.float64)
    lnq = numpy_layer_norm(t, npw(layer.norm_target.gamma), npw(layer.norm_target.beta))
    lnk = numpy_layer_norm(s, npw(layer.norm_source.gamma), npw(layer.norm_source.beta))
    att = layer.attention
    q = np.einsum("btd,dhk->bthk", lnq, npw(att._query_dense.kernel)) + npw(att._query_dense.bias)
    k = np.einsum("bsd,dhk->bshk", lnk, npw(att._key_dense.kernel)) + npw(att._key_dense.bias)
    v = np.einsum("bsd,dhk->bshk", lnk, npw(att._value_dense.kernel)) + npw(att._value_dense.bias)
    logits = np.einsum("bthk,bshk->bhts", q, k) / np.sqrt(layer.key_dim)
    logits = np.where(source_mask[:, None, None, :], logits, -np.inf)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w = w / w.sum(-1, keepdims=True)
    ctx = np.einsum("bhts,bshk->bthk", w, v)
    attended = np.einsum("bthk,hkd->btd", ctx, npw(att._output_dense.kernel)) + npw(
        att._output_dense.bias)
    z_hat = attended + lnq
    n = numpy_layer_norm(z_hat, npw(layer.norm_ff.gamma), npw(layer.norm_ff.beta))
    hidden = np.maximum(n @ npw(layer.ff_hidden.kernel) + npw(layer.ff_hidden.bias), 0)
    return hidden @ npw(layer.ff_out.kernel) + npw(layer.ff_out.bias) + n, w


def test_crossmodal_transformer_matches_numpy_and_masks():
    target, source = feats([(5, 6), (3, 4)], seed=17)
    smask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    layer = F.CrossModalTransformer(num_heads=2, key_dim=3, ff_dim=7, seed=0)
    out, scores = layer(target, source, source_mask=smask, return_attention_scores=True)
    out, scores = keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(scores)
    assert out.shape == (B, 5, 6) and scores.shape == (B, 2, 5, 3)
    ref, ref_w = numpy_crossmodal(layer, target[:3], source[:3], smask[:3])
    np.testing.assert_allclose(out[:3], ref, atol=1e-4)
    np.testing.assert_allclose(scores[:3], ref_w, atol=1e-5)
    np.testing.assert_array_equal(scores[3], 0.0)  # no source at all: no attention
    # masked source steps (and a fully missing source) cannot change the output
    garbage = source.copy()
    garbage[~smask] = 1e3
    np.testing.assert_array_equal(layer(target, garbage, source_mask=smask), out)
    # padded target steps are zeros, and NaN there reaches neither outputs nor gradients
    tmask = np.ones((B, 5), bool)
    tmask[:, 3:] = False
    out_t = keras.ops.convert_to_numpy(layer(target, source, target_mask=tmask))
    np.testing.assert_array_equal(out_t[:, 3:], 0.0)
    nan_target = target.copy()
    nan_target[:, 3:] = np.nan
    with tf.GradientTape() as tape:
        out_n = layer(nan_target, garbage, target_mask=tmask, source_mask=smask)
        loss = tf.reduce_sum(out_n * np.random.default_rng(0).normal(size=out_n.shape))
    np.testing.assert_array_equal(out_n.numpy(), np.where(tmask[:, :, None], out_n.numpy(), 0))
    assert np.all(np.isfinite(out_n.numpy()))
    for w, g in zip(layer.trainable_weights, tape.gradient(loss, layer.trainable_weights),
                    strict=True):
        assert np.all(np.isfinite(g.numpy())), f"NaN gradient for {w.path}"


def test_crossmodal_transformer_takes_keras_padding_masks(tmp_path):
    ti = keras.Input((None,), dtype="int32")
    si = keras.Input((None,), dtype="int32")
    te = keras.layers.Embedding(10, 6, mask_zero=True)(ti)
    se = keras.layers.Embedding(12, 4, mask_zero=True)(si)
    z, scores = F.CrossModalTransformer(2, 3, 8, seed=1)(te, se, return_attention_scores=True)
    pooled = keras.layers.GlobalAveragePooling1D()(z)  # uses the propagated target mask
    model = keras.Model([ti, si], [pooled, z, scores])
    tokens_t = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    tokens_s = np.array([[7, 8, 0, 0, 0], [9, 0, 0, 0, 0]])
    pooled_v, z_v, scores_v = (keras.ops.convert_to_numpy(o) for o in model([tokens_t, tokens_s]))
    np.testing.assert_allclose(pooled_v[0], z_v[0, :3].mean(0), atol=1e-6)
    np.testing.assert_array_equal(scores_v[0, :, :, 2:], 0.0)
    np.testing.assert_array_equal(scores_v[1, :, :, 1:], 0.0)
    np.testing.assert_allclose(scores_v[0, :, :3].sum(-1), 1.0, atol=1e-6)
    model.save(tmp_path / "cm.keras")
    loaded = keras.models.load_model(tmp_path / "cm.keras")
    for a, b in zip(loaded([tokens_t, tokens_s]), (pooled_v, z_v, scores_v), strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), b)


def test_crossmodal_transformer_gradients():
    target, source = feats([(5, 6), (3, 4)], seed=18)
    layer = F.CrossModalTransformer(2, 3, 8, seed=2)
    layer(target, source)
    probe = tf.constant(np.random.default_rng(0).normal(size=(B, 5, 6)), "float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(target, source) * probe)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 18  # (3 layer norms + 4 attention projections + 2 dense) × 2
    for w, g in zip(layer.trainable_weights, grads, strict=True):
        assert g is not None and np.any(g.numpy() != 0), f"no gradient for {w.path}"


def test_crossmodal_transformer_bad_input():
    target, source = feats([(5, 6), (3, 4)])
    layer = F.CrossModalTransformer(2, 3, 8)
    layer(target, source)
    with pytest.raises(ValueError, match=r"source_mask must have shape \(4, 3\)"):
        layer(target, source, source_mask=np.ones((B, 4), bool))
    with pytest.raises(ValueError, match="same batch size, got 4 and 3"):
        layer(target, source[:3])
    with pytest.raises(ValueError, match=r"source was built with shape \(batch, steps, 4\)"):
        layer(target, target)
    with pytest.raises(ValueError, match=r"target must have shape \(batch, steps, d\)"):
        F.CrossModalTransformer(2, 3, 8)(target[:, 0], source)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0.0, 1.0\)"):
        F.CrossModalTransformer(dropout=1.0)
    with pytest.raises(ValueError, match=r"layer\(target, source\) .* not as a list"):
        layer([target, source])
    with pytest.raises(TypeError, match="source must be a numeric tensor or array"):
        layer(target, np.full((B, 3, 4), "x"))
    with pytest.raises(TypeError, match="target_mask must be bool or 0/1 numbers"):
        layer(target, source, target_mask=np.full((B, 5), "x"))


# ------------------------------------------------- unequal batch sizes inside a tf.function
BATCH_CASES = {  # one layer per fusion class, two modalities (d_1, d_2)
    "EarlyFusion": (lambda: F.EarlyFusion(), (3, 4)),
    "LateFusion": (lambda: F.LateFusion("mean"), (3, 3)),
    "TensorFusion": (lambda: F.TensorFusion(), (3, 4)),
    "LowRankFusion": (lambda: F.LowRankFusion(4, 2, seed=0), (3, 4)),
    "GatedFusion": (lambda: F.GatedFusion(5, seed=0), (3, 4)),
    "FiLM": (lambda: F.FiLM(target=0, seed=0), (3, 4)),
    "BilinearFusion": (lambda: F.BilinearFusion(6, 3, seed=0), (3, 4)),
    "AttentionFusion": (lambda: F.AttentionFusion(units=5, seed=0), (3, 4)),
    "ProjectedFusion": (lambda: F.ProjectedFusion("sum", seed=0), (3, 4)),
}


@pytest.mark.parametrize("name", list(BATCH_CASES))
def test_unequal_batch_sizes_raise_inside_tf_function(name):
    """With a None batch axis in the input_signature the static check cannot see the sizes; a
    batch of 1 must not broadcast silently against a batch of 4 (modalities or mask)."""
    make, (d1, d2) = BATCH_CASES[name]
    layer = make()
    a, b = feats([(d1,), (d2,)], seed=40)
    mask = np.ones((B, 2), "float32")
    eager = keras.ops.convert_to_numpy(layer([a, b], modality_mask=mask))
    spec = [tf.TensorSpec((None, d1)), tf.TensorSpec((None, d2)), tf.TensorSpec((None, 2))]
    fused = tf.function(lambda x1, x2, m: layer([x1, x2], modality_mask=m), input_signature=spec)
    np.testing.assert_allclose(fused(a, b, mask).numpy(), eager, rtol=1e-6, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"{name}: modality 0, modality 1, modality_mask must have the same "
                             r"batch size, got batch sizes\] \[1 4 4\]"):
        fused(a[:1], b, mask)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"got batch sizes\] \[4 4 1\]"):
        fused(a, b, mask[:1])


def test_unequal_batch_sizes_inside_tf_function_name_the_dict_keys():
    layer = F.LowRankFusion(4, 2, seed=0)
    a, b = feats([(3,), (4,)], seed=43)
    layer({"video": b, "audio": a})
    named = tf.function(lambda x1, x2: layer({"video": x2, "audio": x1}),
                        input_signature=[tf.TensorSpec((None, 3)), tf.TensorSpec((None, 4))])
    assert tuple(named(a, b).shape) == (B, 4)  # no mask: the modalities are still checked
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"LowRankFusion: audio, video must have the same batch size, got "
                             r"batch sizes\] \[4 1\]"):
        named(a, b[:1])


def test_crossmodal_transformer_unequal_batch_sizes_raise_inside_tf_function():
    layer = F.CrossModalTransformer(2, 3, 8, seed=0)
    target, source = feats([(5, 6), (3, 4)], seed=41)
    smask = np.ones((B, 3), bool)
    eager = keras.ops.convert_to_numpy(layer(target, source, source_mask=smask))
    spec = [tf.TensorSpec((None, None, 6)), tf.TensorSpec((None, None, 4)),
            tf.TensorSpec((None, None), tf.bool)]
    fused = tf.function(lambda t, s, m: layer(t, s, source_mask=m), input_signature=spec)
    np.testing.assert_allclose(fused(target, source, smask).numpy(), eager, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"CrossModalTransformer: target, source, source_mask must have the "
                             r"same batch size, got batch sizes\] \[4 1 4\]"):
        fused(target, source[:1], smask)


def test_unequal_batch_sizes_under_xla_fail_at_compile_time():
    """XLA ignores run-time asserts; the check fails when XLA compiles for the concrete shapes."""
    layers = {"lowrank": F.LowRankFusion(4, 2, seed=0), "late": F.LateFusion("weighted")}
    a, b = feats([(3,), (3,)], seed=42)
    mask = np.array([[1, 1], [1, 0], [0, 1], [1, 1]], "float32")
    eager = {k: keras.ops.convert_to_numpy(v([a, b], modality_mask=mask))
             for k, v in layers.items()}
    spec = [tf.TensorSpec((None, 3)), tf.TensorSpec((None, 3)), tf.TensorSpec((None, 2))]
    fused = tf.function(lambda x1, x2, m: {k: v([x1, x2], modality_mask=m)
                                           for k, v in layers.items()},
                        input_signature=spec, jit_compile=True)
    out = fused(a, b, mask)
    for k in layers:
        np.testing.assert_allclose(out[k].numpy(), eager[k], rtol=1e-5, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"(?s)f32\[1,0\] vs f32\[4,0\].*Fusion_batch_sizes_must_be_equal"):
        fused(a[:1], b, mask)


# --- low_rank_from_tensor_fusion (notebook 05) ----------------------------------------------


@pytest.mark.parametrize("one_position", ["last", "first"])
def test_low_rank_from_tensor_fusion_is_exact_at_full_rank(one_position):
    d1, d2, units = 3, 5, 4
    rng = np.random.default_rng(21)
    kernel, bias = rng.normal(size=((d1 + 1) * (d2 + 1), units)), rng.normal(size=units)
    xs = feats([(d1,), (d2,)], seed=22)
    layer = F.low_rank_from_tensor_fusion(kernel, bias, (d1, d2), d1 + 1, one_position)
    assert (layer.rank, layer.units, layer.one_position) == (d1 + 1, units, one_position)
    tfn = keras.ops.convert_to_numpy(F.TensorFusion(one_position)(xs)) @ kernel + bias
    np.testing.assert_allclose(layer(xs), tfn, atol=1e-4)


def test_low_rank_from_tensor_fusion_keeps_the_largest_singular_values():
    """Rank R: each unit's bilinear form is the Eckart-Young truncation of K_u."""
    d1, d2, units = 4, 3, 2
    rng = np.random.default_rng(23)
    kernel, bias = rng.normal(size=((d1 + 1) * (d2 + 1), units)), np.zeros(units)
    for rank in range(1, d2 + 2):
        layer = F.low_rank_from_tensor_fusion(kernel, bias, (d1, d2), rank)
        for u in range(units):
            k_u = kernel[:, u].reshape(d1 + 1, d2 + 1)
            approx = sum(npw(layer.factors[0])[r, :, u][:, None] * npw(layer.factors[1])[r, :, u]
                         for r in range(rank))
            s = np.linalg.svd(k_u, compute_uv=False)
            np.testing.assert_allclose(np.linalg.norm(k_u - approx), np.sqrt(np.sum(s[rank:] ** 2)),
                                       atol=1e-5)
    assert layer.count_params() == (d2 + 1) * units * (d1 + 1 + d2 + 1) + (d2 + 1) + units


def test_low_rank_from_tensor_fusion_validates_arguments():
    kernel, bias = np.zeros((12, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="rank must be an integer in \\[1, 3\\], got 4"):
        F.low_rank_from_tensor_fusion(kernel, bias, (3, 2), 4)
    with pytest.raises(ValueError, match="kernel must have shape \\(12, units\\).*got \\(10, 2\\)"):
        F.low_rank_from_tensor_fusion(np.zeros((10, 2)), bias, (3, 2), 1)
    with pytest.raises(ValueError, match="bias must have shape \\(2,\\)"):
        F.low_rank_from_tensor_fusion(kernel, np.zeros(3), (3, 2), 1)
    with pytest.raises(ValueError, match="exactly two feature sizes"):
        F.low_rank_from_tensor_fusion(kernel, bias, (3, 2, 1), 1)
    with pytest.raises(TypeError, match="feature_dims must be a sequence"):
        F.low_rank_from_tensor_fusion(kernel, bias, 3, 1)
    with pytest.raises(TypeError, match="rank must be an integer"):
        F.low_rank_from_tensor_fusion(kernel, bias, (3, 2), 1.5)
    with pytest.raises(TypeError, match="kernel must hold numbers"):
        F.low_rank_from_tensor_fusion(np.full((12, 2), "a"), bias, (3, 2), 1)
    with pytest.raises(ValueError, match="one_position must be one of"):
        F.low_rank_from_tensor_fusion(kernel, bias, (3, 2), 1, "middle")
