"""Tests for mmlib.align against independent references (numpy, scikit-learn, brute force)."""

from __future__ import annotations

import itertools
import math
from functools import cache

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.cross_decomposition import CCA as SklearnCCA

from mmlib import align

# --------------------------------------------------------------------------------------------
# Independent numpy references
# --------------------------------------------------------------------------------------------


def _known_cca_data(n: int, rho=(0.9, 0.6), seed: int = 0):
    """X (n, 4), Y (n, 5) whose population canonical correlations are exactly ``rho`` then 0."""
    rng = np.random.default_rng(seed)
    rho = np.asarray(rho)
    u = rng.standard_normal((n, len(rho)))
    v = rho * u + np.sqrt(1 - rho**2) * rng.standard_normal((n, len(rho)))
    mix_x = rng.standard_normal((4, 4)) + 2 * np.eye(4)
    mix_y = rng.standard_normal((5, 5)) + 2 * np.eye(5)
    X = np.hstack([u, rng.standard_normal((n, 4 - len(rho)))]) @ mix_x + 1.5
    Y = np.hstack([v, rng.standard_normal((n, 5 - len(rho)))]) @ mix_y - 0.7
    return X, Y


def _eigen_cca(X, Y, reg=0.0):
    """Canonical correlations as sqrt(eig(Sxx^-1 Sxy Syy^-1 Syx)), descending."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    n = len(X)
    sxx = Xc.T @ Xc / (n - 1) + reg * np.eye(X.shape[1])
    syy = Yc.T @ Yc / (n - 1) + reg * np.eye(Y.shape[1])
    sxy = Xc.T @ Yc / (n - 1)
    m = np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)
    eig = np.sort(np.real(np.linalg.eigvals(m)))[::-1]
    return np.sqrt(np.clip(eig, 0, None))


def _numpy_dcca_correlations(za, zb, r1, r2):
    """Singular values of T = S11^-1/2 S12 S22^-1/2 (Andrew et al. 2013), via scipy-free numpy."""
    za, zb = za - za.mean(0), zb - zb.mean(0)
    m = len(za)

    def inv_sqrt(s):
        w, v = np.linalg.eigh(s)
        return v @ np.diag(1 / np.sqrt(w)) @ v.T

    s11 = za.T @ za / (m - 1) + r1 * np.eye(za.shape[1])
    s22 = zb.T @ zb / (m - 1) + r2 * np.eye(zb.shape[1])
    s12 = za.T @ zb / (m - 1)
    return np.linalg.svd(inv_sqrt(s11) @ s12 @ inv_sqrt(s22), compute_uv=False)


def _numpy_clip(za, zb, scale):
    """Symmetric cross-entropy written out with explicit loops and a hand-made log-softmax."""
    za = za / np.linalg.norm(za, axis=1, keepdims=True)
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
    n = len(za)
    logits = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            logits[i, j] = scale * sum(za[i, k] * zb[j, k] for k in range(za.shape[1]))

    def cross_entropy(row, target):
        top = max(row)
        log_norm = top + math.log(sum(math.exp(v - top) for v in row))
        return -(row[target] - log_norm)

    loss_i2t = sum(cross_entropy(logits[i, :], i) for i in range(n)) / n
    loss_t2i = sum(cross_entropy(logits[:, j], j) for j in range(n)) / n
    return 0.5 * (loss_i2t + loss_t2i)


def _numpy_siglip(za, zb, t, b):
    za = za / np.linalg.norm(za, axis=1, keepdims=True)
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
    n = len(za)
    total = 0.0
    for i in range(n):
        for j in range(n):
            label = 1.0 if i == j else -1.0
            logit = t * float(za[i] @ zb[j]) + b
            total += math.log(1.0 + math.exp(-label * logit))  # -log sigmoid(label * logit)
    return total / n


def _all_paths(n, m):
    """Every monotone alignment path from (0, 0) to (n-1, m-1) with unit steps."""
    def extend(path):
        i, j = path[-1]
        if (i, j) == (n - 1, m - 1):
            yield path
            return
        for di, dj in ((1, 0), (0, 1), (1, 1)):
            if i + di < n and j + dj < m:
                yield from extend(path + [(i + di, j + dj)])

    return list(extend([(0, 0)]))


def _sqeuclid(x, y):
    x, y = np.atleast_2d(x.T).T, np.atleast_2d(y.T).T
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def _soft_dtw_by_paths(cost, gamma):
    """-gamma log sum_P exp(-cost(P)/gamma) over all alignment paths (stable log-sum-exp)."""
    costs = np.array([sum(cost[i, j] for i, j in p) for p in _all_paths(*cost.shape)])
    a = -costs / gamma
    return -gamma * (a.max() + np.log(np.exp(a - a.max()).sum()))


# --------------------------------------------------------------------------------------------
# CCA
# --------------------------------------------------------------------------------------------


def test_cca_matches_sklearn_eigen_solution_and_known_correlations():
    X, Y = _known_cca_data(4000, seed=1)
    cca = align.CCA(n_components=2, reg=1e-4).fit(X, Y)
    corr = cca.correlations_
    assert corr.shape == (2,) and corr[0] >= corr[1]
    # scikit-learn (iterative NIPALS): correlation of its transformed components
    sk = SklearnCCA(n_components=2, max_iter=5000, tol=1e-12).fit(X, Y)
    sx, sy = sk.transform(X, Y)
    sk_corr = np.array([np.corrcoef(sx[:, k], sy[:, k])[0, 1] for k in range(2)])
    np.testing.assert_allclose(corr, sk_corr, atol=1e-3)
    # direct eigen-solution of Sxx^-1 Sxy Syy^-1 Syx (no regularisation)
    np.testing.assert_allclose(corr, _eigen_cca(X, Y)[:2], atol=1e-3)
    # the generating model's correlations 0.9 and 0.6 are recovered
    np.testing.assert_allclose(corr, [0.9, 0.6], atol=0.03)
    # same directions as scikit-learn (up to sign)
    X_c, Y_c = cca.transform(X, Y)
    for k in range(2):
        assert abs(np.corrcoef(X_c[:, k], sx[:, k])[0, 1]) > 0.999
        assert abs(np.corrcoef(Y_c[:, k], sy[:, k])[0, 1]) > 0.999


def test_cca_variates_whitened_and_heldout_score():
    X_all, Y_all = _known_cca_data(6000, seed=2)
    X, Y = X_all[:3000], Y_all[:3000]
    X_te, Y_te = X_all[3000:], Y_all[3000:]  # held out, same generating model
    cca = align.CCA(n_components=2, reg=1e-6)
    X_c, Y_c = cca.fit_transform(X, Y)
    assert X_c.shape == (3000, 2) and Y_c.shape == (3000, 2)
    # canonical variates: unit variance, mutually uncorrelated, pairwise correlation = rho_k
    np.testing.assert_allclose(np.cov(X_c.T), np.eye(2), atol=1e-4)
    np.testing.assert_allclose(np.cov(Y_c.T), np.eye(2), atol=1e-4)
    np.testing.assert_allclose(np.diag(np.cov(X_c.T, Y_c.T)[:2, 2:]), cca.correlations_,
                               atol=1e-4)
    np.testing.assert_allclose(cca.transform(X), X_c)  # Y=None returns X_c only
    assert cca.x_weights_.shape == (4, 2) and cca.y_weights_.shape == (5, 2)
    np.testing.assert_allclose(cca.mean_x_, X.mean(0))
    np.testing.assert_allclose(cca.canonical_correlations(X_te, Y_te), [0.9, 0.6], atol=0.04)



def test_cca_score_is_one_float_for_sklearn_model_selection():
    from sklearn.model_selection import cross_val_score

    X, Y = _known_cca_data(600, seed=5)
    cca = align.CCA(n_components=2).fit(X, Y)
    score = cca.score(X, Y)
    assert isinstance(score, float)
    assert score == pytest.approx(float(np.mean(cca.correlations_)))
    # scikit-learn's model selection needs a scalar score (a vector made it raise)
    scores = cross_val_score(align.CCA(n_components=2), X, Y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)

def test_cca_errors():
    X, Y = _known_cca_data(50, seed=3)
    with pytest.raises(ValueError, match=r"same number of samples.*50.*49"):
        align.CCA(2).fit(X, Y[:49])
    with pytest.raises(ValueError, match=r"n_components must be <= min\(d_x, d_y, n_samples\) = 4"):
        align.CCA(n_components=5).fit(X, Y)
    with pytest.raises(ValueError, match=r"n_components must be <= .* = 3 .*n_samples=3"):
        align.CCA(n_components=4).fit(X[:3], Y[:3])
    with pytest.raises(ValueError, match="at least 2 samples"):
        align.CCA(n_components=1).fit(X[:1], Y[:1])
    with pytest.raises(ValueError, match="n_components must be an integer >= 1, got 0"):
        align.CCA(n_components=0).fit(X, Y)
    with pytest.raises(ValueError, match="reg must be"):
        align.CCA(reg=-1.0).fit(X, Y)
    with pytest.raises(ValueError, match="not fitted"):
        align.CCA().transform(X, Y)
    cca = align.CCA(2).fit(X, Y)
    with pytest.raises(ValueError, match="X must have 4 features"):
        cca.transform(X[:, :3], Y)
    with pytest.raises(ValueError, match="finite"):
        align.CCA(2).fit(np.full_like(X, np.nan), Y)
    with pytest.raises(TypeError, match=r"X must hold numbers .*got dtype <U1"):
        align.CCA(1).fit([["a"]] * 50, Y)
    with pytest.raises(ValueError, match="X must be a numeric array, got a list"):
        cca.transform([[1.0, 2.0, 3.0, 4.0], [1.0]])


# --------------------------------------------------------------------------------------------
# Multimodal (collective) matrix factorization
# --------------------------------------------------------------------------------------------


def _shared_factor_data(n=300, k=3, noise=0.1, seed=20):
    """X (n, 6) and Y (n, 9) generated from one shared factor (n, k) plus noise."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n, k))
    X = u @ rng.standard_normal((k, 6)) + noise * rng.standard_normal((n, 6)) + 2.0
    Y = 3.0 * (u @ rng.standard_normal((k, 9))) + noise * rng.standard_normal((n, 9)) - 1.0
    return X, Y


def _scaled_stack(X, Y, balance=True):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    if not balance:
        return Xc, Yc, np.hstack([Xc, Yc])
    sx, sy = np.sqrt((Xc**2).sum() / len(X)), np.sqrt((Yc**2).sum() / len(Y))
    return Xc / sx, Yc / sy, np.hstack([Xc / sx, Yc / sy])


@pytest.mark.parametrize("balance", [True, False])
def test_multimodal_mf_is_the_truncated_svd_of_the_stacked_data(balance):
    from sklearn.decomposition import PCA, TruncatedSVD

    X, Y = _shared_factor_data()
    mf = align.MultimodalMF(n_components=3, balance=balance).fit(X, Y)
    _, _, Z = _scaled_stack(X, Y, balance)
    ts = TruncatedSVD(n_components=3, algorithm="arpack", random_state=0).fit(Z)
    # the same rank-3 approximation of Z, the same singular values, the same factors up to sign
    w = np.vstack([mf.components_x_ / mf.scale_x_, mf.components_y_ / mf.scale_y_])
    np.testing.assert_allclose(mf.factors_ @ w.T, ts.transform(Z) @ ts.components_, atol=1e-9)
    np.testing.assert_allclose(mf.singular_values_, ts.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(np.abs(mf.factors_), np.abs(ts.transform(Z)), atol=1e-8)
    np.testing.assert_allclose(w.T @ w, np.eye(3), atol=1e-10)  # orthonormal loadings
    # centring included: PCA of the stacked (scaled) data gives the same scores
    pca = PCA(n_components=3, svd_solver="full").fit(np.hstack(
        [X / mf.scale_x_, Y / mf.scale_y_]))
    np.testing.assert_allclose(np.abs(mf.factors_), np.abs(pca.transform(np.hstack(
        [X / mf.scale_x_, Y / mf.scale_y_]))), atol=1e-8)
    # X ≈ U V_x' + mean in the data's units; inverse_transform does exactly that
    X_hat, Y_hat = mf.inverse_transform(mf.factors_)
    np.testing.assert_allclose(X_hat, mf.factors_ @ mf.components_x_.T + X.mean(0), atol=1e-10)
    assert np.abs(X_hat - X).max() < 0.6 and np.abs(Y_hat - Y).max() < 0.6  # noise 0.1
    rel = np.sum((Z - mf.factors_ @ w.T) ** 2) / np.sum(Z**2)
    assert mf.reconstruction_error_ == pytest.approx(rel) and rel < 0.01
    assert (mf.scale_x_ == 1.0) == (not balance)


def test_multimodal_mf_als_reaches_the_closed_form_also_with_a_ridge():
    X, Y = _shared_factor_data(n=200, noise=0.3, seed=21)
    _, _, Z = _scaled_stack(X, Y)
    p, s, qt = np.linalg.svd(Z, full_matrices=False)
    for reg in (0.0, 2.0):
        # numpy reference: the ridge soft-thresholds the top singular values by reg
        expected = p[:, :3] * np.maximum(s[:3] - reg, 0) @ qt[:3]
        for solver in ("svd", "als"):
            mf = align.MultimodalMF(3, solver=solver, reg=reg, max_iter=5000, tol=1e-15).fit(X, Y)
            w = np.vstack([mf.components_x_ / mf.scale_x_, mf.components_y_ / mf.scale_y_])
            np.testing.assert_allclose(mf.factors_ @ w.T, expected, atol=1e-6)
            assert (mf.n_iter_ > 0) == (solver == "als")
        svd = align.MultimodalMF(3, reg=reg).fit(X, Y)
        np.testing.assert_allclose(mf.factors_, svd.factors_, atol=1e-5)  # same gauge and signs
        np.testing.assert_allclose(mf.components_y_, svd.components_y_, atol=1e-5)


def test_multimodal_mf_folds_in_one_modality_by_least_squares():
    X_all, Y_all = _shared_factor_data(n=450, noise=0.0, seed=22)  # exactly rank 3, no noise
    X, Y, X_new, Y_new = X_all[:400], Y_all[:400], X_all[400:], Y_all[400:]
    mf = align.MultimodalMF(3).fit(X, Y)
    u_x, u_y = mf.transform(X_new, Y_new)
    # noiseless shared factor: the image alone and the caption alone give the same point ...
    np.testing.assert_allclose(u_x, u_y, atol=1e-8)
    np.testing.assert_allclose(mf.transform_joint(X_new, Y_new), u_x, atol=1e-8)
    np.testing.assert_allclose(mf.transform(X), mf.factors_, atol=1e-8)
    # ... and the other modality is predicted exactly (cross-modal prediction)
    np.testing.assert_allclose(mf.inverse_transform(u_x)[1], Y_new, atol=1e-8)
    # with noise, the fold-in is ridge least squares on the scaled loadings (numpy reference)
    Xn, Yn = _shared_factor_data(n=300, noise=0.5, seed=23)
    for reg in (0.0, 0.7):
        mf = align.MultimodalMF(2, reg=reg).fit(Xn, Yn)
        wx = mf.components_x_ / mf.scale_x_
        zx = (Xn[:20] - Xn.mean(0)) / mf.scale_x_
        expected = (np.linalg.lstsq(wx, zx.T, rcond=None)[0].T if reg == 0 else
                    zx @ wx @ np.linalg.inv(wx.T @ wx + reg * np.eye(2)))
        np.testing.assert_allclose(mf.transform(Xn[:20]), expected, atol=1e-10)
    assert mf.fit_transform(Xn, Yn)[1].shape == (300, 2)


def test_multimodal_mf_errors():
    X, Y = _shared_factor_data(n=20)
    with pytest.raises(ValueError, match=r"same number of samples.*20 and Y with 19"):
        align.MultimodalMF(2).fit(X, Y[:19])
    with pytest.raises(ValueError, match=r"n_components must be <= min\(n_samples, d_x \+ d_y\) "
                                         r"= 15"):
        align.MultimodalMF(16).fit(X, Y)
    with pytest.raises(ValueError, match=r"solver must be one of \['svd', 'als'\], got 'qr'"):
        align.MultimodalMF(2, solver="qr").fit(X, Y)
    with pytest.raises(ValueError, match="reg must be a number in"):
        align.MultimodalMF(2, reg=-1.0).fit(X, Y)
    with pytest.raises(TypeError, match="balance must be True or False, got 'yes'"):
        align.MultimodalMF(2, balance="yes").fit(X, Y)
    with pytest.raises(TypeError, match="n_components must be an integer, got 2.5"):
        align.MultimodalMF(2.5).fit(X, Y)
    with pytest.raises(ValueError, match="not fitted"):
        align.MultimodalMF(2).transform(X)
    mf = align.MultimodalMF(2).fit(X, Y)
    with pytest.raises(ValueError, match="Y must have 9 features as in fit, got 8"):
        mf.transform(X, Y[:, :8])
    with pytest.raises(ValueError, match="U must have n_components=2 columns, got 3"):
        mf.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X must contain only finite values"):
        mf.transform(np.full_like(X, np.inf))
    with pytest.raises(ValueError, match="same number of samples, got X with 20 and Y with 3"):
        mf.transform_joint(X, Y[:3])


# --------------------------------------------------------------------------------------------
# Deep CCA
# --------------------------------------------------------------------------------------------


def test_dcca_loss_equals_numpy_sum_of_canonical_correlations():
    rng = np.random.default_rng(4)
    za = rng.standard_normal((80, 3))
    zb = za @ rng.standard_normal((3, 4)) + 0.8 * rng.standard_normal((80, 4))
    r1, r2 = 1e-3, 2e-3
    sv = _numpy_dcca_correlations(za, zb, r1, r2)
    assert sv.shape == (3,)
    got = float(align.dcca_loss(za, zb, r1=r1, r2=r2))
    np.testing.assert_allclose(got, -sv.sum(), rtol=1e-7)
    got2 = float(align.dcca_loss(za, zb, n_components=2, r1=r1, r2=r2))
    np.testing.assert_allclose(got2, -np.sort(sv)[::-1][:2].sum(), rtol=1e-7)
    # order of the views does not matter (d_a > d_b takes the other Gram matrix)
    np.testing.assert_allclose(float(align.dcca_loss(zb, za, r1=r2, r2=r1)), -sv.sum(),
                               rtol=1e-7)
    # the Keras loss on concatenated outputs gives the same value (float32)
    keras_loss = align.DeepCCALoss(dim_a=3, r1=r1, r2=r2)
    y_pred = np.hstack([za, zb]).astype("float32")
    np.testing.assert_allclose(float(keras_loss(np.zeros((80, 1)), y_pred)), -sv.sum(),
                               rtol=1e-4)


def test_dcca_gradient_matches_finite_differences_of_numpy_reference():
    rng = np.random.default_rng(5)
    za = rng.standard_normal((30, 2))
    zb = za @ rng.standard_normal((2, 3)) + rng.standard_normal((30, 3))
    var = tf.Variable(za)
    with tf.GradientTape() as tape:
        loss = align.dcca_loss(var, zb, r1=1e-2, r2=1e-2)
    grad = tape.gradient(loss, var).numpy()
    h = 1e-6
    for i, j in [(0, 0), (3, 1), (17, 0), (29, 1)]:
        plus, minus = za.copy(), za.copy()
        plus[i, j] += h
        minus[i, j] -= h
        fd = -(_numpy_dcca_correlations(plus, zb, 1e-2, 1e-2).sum()
               - _numpy_dcca_correlations(minus, zb, 1e-2, 1e-2).sum()) / (2 * h)
        np.testing.assert_allclose(grad[i, j], fd, rtol=1e-4, atol=1e-7)


def test_dcca_two_tower_training_increases_correlation():
    rng = np.random.default_rng(6)
    n, k = 512, 2
    z = rng.uniform(-1, 1, (n, 2))
    xa = np.c_[np.sin(3 * z[:, 0]), np.cos(3 * z[:, 1]), z[:, 0] * z[:, 1],
               rng.standard_normal((n, 3))] + 0.05 * rng.standard_normal((n, 6))
    xb = np.c_[z[:, 0] ** 2, np.tanh(2 * z[:, 1]), rng.standard_normal((n, 2))]
    xb = xb + 0.05 * rng.standard_normal((n, 4))

    def tower(d, seed):
        inp = keras.Input((d,))
        h = keras.layers.Dense(32, activation="tanh",
                               kernel_initializer=keras.initializers.GlorotUniform(seed))(inp)
        init = keras.initializers.GlorotUniform(seed + 1)
        out = keras.layers.Dense(k, kernel_initializer=init)(h)
        return inp, out

    ia, oa = tower(6, 1)
    ib, ob = tower(4, 3)
    model = keras.Model([ia, ib], keras.layers.Concatenate()([oa, ob]))
    model.compile(keras.optimizers.Adam(1e-2), loss=align.DeepCCALoss(dim_a=k))
    dummy = np.zeros((n, 1))

    def total_corr():
        out = model.predict([xa, xb], verbose=0).astype(np.float64)
        return _numpy_dcca_correlations(out[:, :k], out[:, k:], 1e-3, 1e-3).sum(), out

    before, _ = total_corr()
    history = model.fit([xa, xb], dummy, batch_size=256, epochs=30, verbose=0)
    after, out = total_corr()
    assert after > before + 0.3, (before, after)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # full-batch Keras loss is exactly minus the numpy sum of canonical correlations
    full = model.evaluate([xa, xb], dummy, batch_size=n, verbose=0)
    np.testing.assert_allclose(full, -after, rtol=1e-3)


def test_dcca_errors():
    za = np.zeros((10, 3))
    with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 3\], got 4"):
        align.dcca_loss(za, np.ones((10, 5)), n_components=4)
    with pytest.raises(ValueError, match="same batch size.*10 and 9"):
        align.dcca_loss(za, np.ones((9, 3)))
    with pytest.raises(ValueError, match="r1 must be"):
        align.dcca_loss(za, za, r1=-1.0)
    with pytest.raises(ValueError, match="more than dim_a=4"):
        align.DeepCCALoss(dim_a=4)(np.zeros((10, 1)), np.ones((10, 4), "float32"))
    # caught before TensorFlow's eigendecomposition fails with an opaque message
    with pytest.raises(ValueError, match=r"at least 2 pair\(s\), got batch size 1"):
        align.dcca_loss(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"z_a must contain only finite values"):
        align.dcca_loss(np.full((10, 3), np.nan), za)
    with pytest.raises(TypeError, match="z_b must hold numbers"):
        align.dcca_loss(za, [["x"] * 3] * 10)


# --------------------------------------------------------------------------------------------
# CLIP / SigLIP
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0 / 0.07, 3.0, 50.0])
def test_clip_loss_equals_explicit_cross_entropy(scale):
    rng = np.random.default_rng(7)
    za = rng.standard_normal((6, 5))
    zb = za + 0.7 * rng.standard_normal((6, 5))
    np.testing.assert_allclose(float(align.clip_loss(za, zb, logit_scale=scale)),
                               _numpy_clip(za, zb, scale), rtol=1e-7)
    # not symmetric in the embeddings in general, but symmetric in the two directions
    np.testing.assert_allclose(float(align.clip_loss(zb, za, logit_scale=scale)),
                               _numpy_clip(za, zb, scale), rtol=1e-7)


def test_clip_logit_scale_capped_at_100():
    rng = np.random.default_rng(8)
    za = rng.standard_normal((5, 4))
    zb = za + 1.5 * rng.standard_normal((5, 4))
    # the function caps the scale
    np.testing.assert_allclose(float(align.clip_loss(za, zb, logit_scale=1000.0)),
                               _numpy_clip(za, zb, 100.0), rtol=1e-7)
    layer = align.CLIPLoss()
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(layer.log_logit_scale)),
                               math.log(1 / 0.07), rtol=1e-6)
    assert len(layer.trainable_weights) == 1
    fixed = align.CLIPLoss.from_config(align.CLIPLoss(20.0, 50.0, learnable=False).get_config())
    assert (fixed.logit_scale, fixed.max_logit_scale) == pytest.approx((20.0, 50.0))
    assert not fixed.trainable_weights
    layer.log_logit_scale.assign(math.log(1000.0))  # set by hand beyond the cap
    assert layer.logit_scale == 100.0
    np.testing.assert_allclose(float(layer(za.astype("float32"), zb.astype("float32"))),
                               _numpy_clip(za, zb, 100.0), rtol=1e-4)

    # training pushes the scale up (aligned pairs); the constraint stops it at log(100)
    def train(max_logit_scale):
        lay = align.CLIPLoss(init_logit_scale=50.0, max_logit_scale=max_logit_scale)
        opt = keras.optimizers.SGD(learning_rate=20.0)
        # near-identical embeddings: only a large scale separates them, so the loss wants more
        a = tf.constant(1.0 + 0.05 * za, "float32")
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = lay(a, a)
            grads = tape.gradient(loss, lay.trainable_weights)
            opt.apply_gradients(zip(grads, lay.trainable_weights, strict=True))
        return float(keras.ops.convert_to_numpy(lay.log_logit_scale))

    assert train(1e6) > math.log(100.0)  # uncapped, the scale would pass 100
    np.testing.assert_allclose(train(100.0), math.log(100.0), rtol=1e-6)
    # at the cap the scale is not frozen: mismatched pairs pull it back down
    lay = align.CLIPLoss(init_logit_scale=100.0)
    with tf.GradientTape() as tape:
        loss = lay(tf.constant(za, "float32"), tf.constant(-za, "float32"))
    grad = tape.gradient(loss, lay.log_logit_scale)
    assert float(grad) > 0.0
    with pytest.raises(ValueError, match="init_logit_scale must be <= max_logit_scale"):
        align.CLIPLoss(init_logit_scale=200.0)


def test_siglip_loss_equals_numpy_formula():
    rng = np.random.default_rng(9)
    za = rng.standard_normal((7, 3))
    zb = za + rng.standard_normal((7, 3))
    for t, b in [(10.0, -10.0), (2.0, 0.5), (30.0, -3.0)]:
        np.testing.assert_allclose(float(align.siglip_loss(za, zb, t, b)),
                                   _numpy_siglip(za, zb, t, b), rtol=1e-9)
    layer = align.SigLIPLoss()
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(layer.log_logit_scale)),
                               math.log(10.0), rtol=1e-6)
    assert float(keras.ops.convert_to_numpy(layer.logit_bias)) == -10.0
    assert len(layer.trainable_weights) == 2
    clone = align.SigLIPLoss.from_config(align.SigLIPLoss(3.0, -2.0).get_config())
    assert (clone.logit_scale, float(keras.ops.convert_to_numpy(clone.logit_bias))) == \
        pytest.approx((3.0, -2.0))
    np.testing.assert_allclose(float(layer(za.astype("float32"), zb.astype("float32"))),
                               _numpy_siglip(za, zb, 10.0, -10.0), rtol=1e-4)
    # sign convention by hand (Algorithm 1 of the paper): orthonormal pairs have cosine 1 with
    # their partner and 0 with the rest, so with t = 10, b = -5 every one of the n^2 logits is
    # label * 5 and the loss is n^2 * softplus(-5) / n. Flipping the sign of t or b breaks this.
    eye = np.eye(4)
    np.testing.assert_allclose(float(align.siglip_loss(eye, eye, 10.0, -5.0)),
                               4 * math.log1p(math.exp(-5.0)), rtol=1e-12)
    assert float(align.siglip_loss(eye, -eye, 10.0, -5.0)) > 10.0  # anti-aligned pairs: large


def test_contrastive_errors():
    a = np.ones((4, 3))
    with pytest.raises(ValueError, match="same batch size.*4 and 5"):
        align.clip_loss(a, np.ones((5, 3)))
    with pytest.raises(ValueError, match="same embedding size.*3 and 2"):
        align.siglip_loss(a, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"logit_scale must be a number in \(0.0, inf\), got -1"):
        align.clip_loss(a, a, logit_scale=-1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        align.DualEncoder(keras.layers.Dense(2), keras.layers.Dense(2), loss="infonce")
    with pytest.raises(TypeError, match="logit_scale must be a number or a scalar tensor, got 'a'"):
        align.clip_loss(a, a, logit_scale="a")
    with pytest.raises(TypeError, match="logit_bias must be a number or a scalar tensor"):
        align.siglip_loss(a, a, logit_bias=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"at least 1 pair\(s\), got batch size 0"):
        align.clip_loss(np.ones((0, 3)), np.ones((0, 3)))
    with pytest.raises(TypeError, match="init_logit_bias must be a real number, got 'x'"):
        align.DualEncoder(keras.layers.Dense(2), keras.layers.Dense(2), loss="siglip",
                          init_logit_bias="x")


# --------------------------------------------------------------------------------------------
# DualEncoder
# --------------------------------------------------------------------------------------------


def _paired_data(n=600, seed=10):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 6))
    xa = np.tanh(z @ rng.standard_normal((6, 16))) + 0.1 * rng.standard_normal((n, 16))
    xb = z @ rng.standard_normal((6, 12)) + 0.1 * rng.standard_normal((n, 12))
    return xa.astype("float32"), xb.astype("float32")


def _encoder(d, seed):
    return keras.Sequential([
        keras.Input((d,)),
        keras.layers.Dense(32, activation="relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed)),
        keras.layers.Dense(16, kernel_initializer=keras.initializers.GlorotUniform(seed + 1)),
    ])


@pytest.mark.parametrize("loss", ["clip", "siglip"])
def test_dual_encoder_training_improves_recall(loss, tmp_path):
    xa, xb = _paired_data()
    train, test = slice(0, 500), slice(500, 600)
    model = align.DualEncoder(_encoder(16, 1), _encoder(12, 3), loss=loss)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = align.retrieval_metrics(model.similarity(xa[test], xb[test]))
    history = model.fit((xa[train], xb[train]), batch_size=100, epochs=10, verbose=0)
    after = align.retrieval_metrics(model.similarity(xa[test], xb[test]))
    for direction in ("a2b", "b2a"):
        assert after[direction]["R@1"] > before[direction]["R@1"] + 0.3, (before, after)
        assert after[direction]["mean_rank"] < before[direction]["mean_rank"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the temperature (and bias) are weights of the model, trained with it
    names = {w.path.split("/")[-1] for w in model.trainable_weights}
    assert "log_logit_scale" in names
    assert ("logit_bias" in names) == (loss == "siglip")
    # model(x) returns unit-norm embeddings; similarity is their cosine matrix
    z_a, z_b = model((xa[:5], xb[:5]))
    np.testing.assert_allclose(np.linalg.norm(keras.ops.convert_to_numpy(z_a), axis=1), 1,
                               rtol=1e-5)
    np.testing.assert_allclose(model.similarity(xa[:5], xb[:5], batch_size=2),
                               keras.ops.convert_to_numpy(z_a @ keras.ops.transpose(z_b)),
                               atol=1e-5)
    # the training loss matches the numpy formula at the model's current temperature
    za_np = model.encode_a(xa[:100])
    zb_np = model.encode_b(xb[:100])
    expected = (_numpy_clip(za_np, zb_np, model.logit_scale) if loss == "clip"
                else _numpy_siglip(za_np, zb_np, model.logit_scale, model.logit_bias))
    np.testing.assert_allclose(model.evaluate((xa[:100], xb[:100]), batch_size=100, verbose=0),
                               expected, rtol=1e-4)
    # save / load round trip keeps weights and the temperature
    path = tmp_path / "dual.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.similarity(xa[test], xb[test]),
                               model.similarity(xa[test], xb[test]), atol=1e-6)
    assert loaded.logit_scale == pytest.approx(model.logit_scale)
    with pytest.raises(ValueError, match="pair"):
        model((xa[:2],))


# --------------------------------------------------------------------------------------------
# Cross-modal attention
# --------------------------------------------------------------------------------------------


def _numpy_attention(layer, query, kv, mask):
    w = {v.path.split("/")[-1]: keras.ops.convert_to_numpy(v) for v in layer.weights}
    heads, dk = layer.num_heads, layer.key_dim
    b, tq, _ = query.shape
    tk = kv.shape[1]
    out = np.zeros((b, tq, w["w_o"].shape[1]))
    weights = np.zeros((b, heads, tq, tk))
    for n in range(b):
        q = query[n] @ w["w_q"] + w["b_q"]
        k = kv[n] @ w["w_k"] + w["b_k"]
        v = kv[n] @ w["w_v"] + w["b_v"]
        ctx = np.zeros((tq, heads * dk))
        for h in range(heads):
            sl = slice(h * dk, (h + 1) * dk)
            for i in range(tq):
                valid = [j for j in range(tk) if mask[n, j]]
                if not valid:
                    continue
                s = np.array([q[i, sl] @ k[j, sl] / math.sqrt(dk) for j in valid])
                e = np.exp(s - s.max())
                weights[n, h, i, valid] = e / e.sum()
                ctx[i, sl] = weights[n, h, i] @ v[:, sl]
        out[n] = ctx @ w["w_o"] + w["b_o"]
    return out, weights


def test_cross_modal_attention_matches_numpy_and_masks_keys():
    rng = np.random.default_rng(11)
    words = rng.standard_normal((3, 4, 6)).astype("float32")  # (batch, T_q=4 words, d_q=6)
    regions = rng.standard_normal((3, 5, 7)).astype("float32")  # (batch, T_k=5 regions, d_k=7)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=bool)
    layer = align.CrossModalAttention(num_heads=2, key_dim=3, seed=0)
    out, weights = layer(words, regions, key_mask=mask)
    out, weights = keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(weights)
    assert out.shape == (3, 4, 6) and weights.shape == (3, 2, 4, 5)
    ref_out, ref_w = _numpy_attention(layer, words, regions, mask)
    np.testing.assert_allclose(weights, ref_w, atol=1e-6)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(weights[:2].sum(-1), 1.0, atol=1e-6)  # sum to 1 over keys
    assert np.all(weights[1][:, :, [2, 4]] == 0.0)  # masked keys get exactly 0 weight
    assert np.all(weights[1][:, :, [0, 1, 3]] > 0.0)
    assert np.all(weights[2] == 0.0)  # all keys masked -> all-zero weights
    # without a mask every key gets weight and rows sum to 1
    _, w_nomask = layer(words, regions)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w_nomask).sum(-1), 1.0, atol=1e-6)
    _, ref_nomask = _numpy_attention(layer, words, regions, np.ones((3, 5), bool))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w_nomask), ref_nomask, atol=1e-6)


def test_cross_modal_attention_serializable_and_dropout(tmp_path):
    frames = keras.Input((6, 8), name="frames")
    audio = keras.Input((9, 4), name="audio")
    audio_mask = keras.Input((9,), dtype="bool", name="audio_mask")
    layer = align.CrossModalAttention(num_heads=2, key_dim=4, output_dim=5, dropout=0.5, seed=3)
    out, weights = layer(frames, audio, key_mask=audio_mask)
    model = keras.Model([frames, audio, audio_mask], [out, weights])
    rng = np.random.default_rng(12)
    x = [rng.standard_normal((2, 6, 8)).astype("float32"),
         rng.standard_normal((2, 9, 4)).astype("float32"),
         np.arange(9)[None, :] < np.array([[9], [4]])]
    o1, w1 = model.predict(x, verbose=0)
    assert o1.shape == (2, 6, 5) and w1.shape == (2, 2, 6, 9)
    assert np.all(w1[1, :, :, 4:] == 0)
    path = tmp_path / "attn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    o2, w2 = loaded.predict(x, verbose=0)
    np.testing.assert_allclose(o2, o1, atol=1e-6)
    np.testing.assert_allclose(w2, w1, atol=1e-6)
    clone = align.CrossModalAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    # dropout changes the output in training only; the returned weights are pre-dropout
    o_train, w_train = model(x, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w_train), w1, atol=1e-6)
    assert not np.allclose(keras.ops.convert_to_numpy(o_train), o1)
    with pytest.raises(ValueError, match="3-D"):
        align.CrossModalAttention()(np.ones((2, 3), "float32"), np.ones((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match="dropout must be"):
        align.CrossModalAttention(dropout=1.0)
    q, kv = np.ones((2, 3, 4), "float32"), np.ones((2, 5, 4), "float32")
    with pytest.raises(ValueError, match=r"key_mask must have shape \(batch, T_k\) = \(2, 5\)"):
        align.CrossModalAttention(key_dim=2)(q, kv, key_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="query and key_value must have the same batch size"):
        align.CrossModalAttention(key_dim=2)(q, np.ones((3, 5, 4), "float32"))


# --------------------------------------------------------------------------------------------
# DTW / soft-DTW
# --------------------------------------------------------------------------------------------


def _dtw_memo(cost):
    @cache
    def f(i, j):
        if i == 0 and j == 0:
            return cost[0, 0]
        options = []
        if i > 0:
            options.append(f(i - 1, j))
        if j > 0:
            options.append(f(i, j - 1))
        if i > 0 and j > 0:
            options.append(f(i - 1, j - 1))
        return cost[i, j] + min(options)

    return f(cost.shape[0] - 1, cost.shape[1] - 1)


def _check_path(path, n, m):
    assert path[0] == (0, 0) and path[-1] == (n - 1, m - 1)
    for (i0, j0), (i1, j1) in itertools.pairwise(path):
        assert (i1 - i0, j1 - j0) in {(1, 0), (0, 1), (1, 1)}


def test_dtw_matches_brute_force():
    rng = np.random.default_rng(13)
    for trial in range(12):
        n, m, d = rng.integers(1, 7), rng.integers(1, 7), rng.integers(1, 3)
        x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
        cost_matrix = _sqeuclid(x, y)
        cost, path = align.dtw(x, y)
        np.testing.assert_allclose(cost, _dtw_memo(cost_matrix), rtol=1e-12)
        _check_path(path, n, m)
        np.testing.assert_allclose(sum(cost_matrix[i, j] for i, j in path), cost, rtol=1e-12)
        if n * m <= 20:  # enumerate every monotone path
            best = min(sum(cost_matrix[i, j] for i, j in p) for p in _all_paths(n, m))
            np.testing.assert_allclose(cost, best, rtol=1e-12)
        cost_pre, path_pre = align.dtw(cost_matrix, metric="precomputed")
        assert cost_pre == pytest.approx(cost) and path_pre == path
        if trial == 0:
            # other metrics go through scipy's cdist; check cityblock by hand
            c1 = np.abs(x[:, None, :] - y[None, :, :]).sum(-1)
            assert align.dtw(x, y, metric="cityblock")[0] == pytest.approx(_dtw_memo(c1))
    # 1-D sequences and a hand case: y is x with one repeated step -> zero cost
    cost, path = align.dtw([0.0, 1.0, 2.0], [0.0, 1.0, 1.0, 2.0])
    assert cost == 0.0 and path == [(0, 0), (1, 1), (1, 2), (2, 3)]


def test_soft_dtw_matches_path_enumeration_and_tends_to_dtw():
    rng = np.random.default_rng(14)
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((5, 2))
    cost = _sqeuclid(x, y)
    for gamma in (2.0, 0.5, 0.1):
        np.testing.assert_allclose(float(align.soft_dtw(x, y, gamma)),
                                   _soft_dtw_by_paths(cost, gamma), rtol=1e-10)
    dtw_cost = align.dtw(x, y)[0]
    n_paths = len(_all_paths(4, 5))
    gaps = []
    for gamma in (1.0, 0.1, 0.01, 0.001):
        value = float(align.soft_dtw(x, y, gamma))
        # soft-min bounds: DTW - gamma log(#paths) <= soft-DTW <= DTW
        assert dtw_cost - gamma * math.log(n_paths) - 1e-9 <= value <= dtw_cost + 1e-9
        gaps.append(dtw_cost - value)
    assert all(g1 >= g2 - 1e-12 for g1, g2 in itertools.pairwise(gaps))  # shrinks with gamma
    assert gaps[0] > 0.1 and gaps[-1] < 1e-2
    # precomputed and batched forms agree
    np.testing.assert_allclose(float(align.soft_dtw(cost, gamma=0.5, metric="precomputed")),
                               _soft_dtw_by_paths(cost, 0.5), rtol=1e-10)
    x2, y2 = rng.standard_normal((4, 2)), rng.standard_normal((5, 2))
    batched = keras.ops.convert_to_numpy(
        align.soft_dtw(np.stack([x, x2]), np.stack([y, y2]), gamma=0.5))
    np.testing.assert_allclose(batched, [_soft_dtw_by_paths(cost, 0.5),
                                         _soft_dtw_by_paths(_sqeuclid(x2, y2), 0.5)],
                               rtol=1e-10)
    loss = align.SoftDTWLoss(gamma=0.5)
    np.testing.assert_allclose(float(loss(np.stack([x, x2]), np.stack([y, y2]))),
                               batched.mean(), rtol=1e-5)
    # the recursion's stand-in for +inf must not depend on the scale of the costs: raw int16-like
    # magnitudes give local costs ~1e10 and paths ~1e11, with a gamma of the same scale
    big_x, big_y = 3e4 * x, 3e4 * y
    for gamma in (1e9, 1e10):
        np.testing.assert_allclose(float(align.soft_dtw(big_x, big_y, gamma)),
                                   _soft_dtw_by_paths(_sqeuclid(big_x, big_y), gamma), rtol=1e-10)


def test_soft_dtw_gradient_matches_finite_differences():
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    gamma = 0.3
    var = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = align.soft_dtw(var, y, gamma)
    grad = tape.gradient(value, var).numpy()
    h = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        fd[idx] = (_soft_dtw_by_paths(_sqeuclid(plus, y), gamma)
                   - _soft_dtw_by_paths(_sqeuclid(minus, y), gamma)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)



def test_dtw_cosine_with_an_all_zero_frame_is_a_clear_error():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5]])
    y = np.array([[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"x has all-zero frames at steps \[1\].*cosine"):
        align.dtw(x, y, metric="cosine")
    with pytest.raises(ValueError, match=r"y has all-zero frames at steps \[0\]"):
        align.dtw(y, np.zeros((1, 2)), metric="cosine")
    cost, path = align.dtw(x[[0, 2]], y, metric="cosine")  # no zero frame: fine
    assert np.isfinite(cost) and path[0] == (0, 0)

def test_dtw_and_soft_dtw_errors():
    x, y = np.zeros((3, 2)), np.zeros((4, 2))
    for gamma in (0.0, -0.5):
        with pytest.raises(ValueError, match=r"gamma must be a number in \(0.0, inf\)"):
            align.soft_dtw(x, y, gamma=gamma)
    with pytest.raises(ValueError, match="gamma must be"):
        align.SoftDTWLoss(gamma=0.0)
    with pytest.raises(ValueError, match="metric must be one of"):
        align.dtw(x, y, metric="hamming-ish")
    with pytest.raises(ValueError, match="same number of features, got 2 and 3"):
        align.dtw(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same number of features"):
        align.soft_dtw(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y must be None when metric='precomputed'"):
        align.dtw(x, y, metric="precomputed")
    with pytest.raises(ValueError, match="y is required"):
        align.dtw(x)
    with pytest.raises(ValueError, match="length >= 1"):
        align.dtw(np.zeros((0, 2)), y)
    with pytest.raises(TypeError, match="x must hold numbers"):
        align.dtw("abc", "abd")
    with pytest.raises(ValueError, match="same batch size .*got 2 and 3"):
        align.soft_dtw(np.zeros((2, 3, 2)), np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="y must contain only finite values"):
        align.soft_dtw(x, np.full((4, 2), np.nan))


# --------------------------------------------------------------------------------------------
# Retrieval metrics
# --------------------------------------------------------------------------------------------


def test_retrieval_metrics_hand_computed():
    sim = np.array([
        [0.9, 0.1, 0.3, 0.2],
        [0.8, 0.5, 0.7, 0.1],
        [0.2, 0.6, 0.4, 0.4],  # tie with column 3: pessimistic rank 3
        [0.1, 0.2, 0.3, 0.0],
    ])
    # a2b (rows): true match ranks 1, 3, 3, 4;  b2a (columns): ranks 1, 2, 2, 4
    res = align.retrieval_metrics(sim, ks=(1, 2, 3, 5))
    assert res["a2b"] == {"R@1": 0.25, "R@2": 0.25, "R@3": 0.75, "R@5": 1.0,
                          "median_rank": 3.0, "mean_rank": 2.75}
    assert res["b2a"] == {"R@1": 0.25, "R@2": 0.75, "R@3": 0.75, "R@5": 1.0,
                          "median_rank": 2.0, "mean_rank": 2.25}
    # identity: perfect retrieval; constant: all ties -> worst rank n (pessimistic)
    perfect = align.retrieval_metrics(np.eye(12))
    assert perfect["a2b"] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "median_rank": 1.0,
                              "mean_rank": 1.0}
    worst = align.retrieval_metrics(np.ones((12, 12)))
    assert worst["b2a"]["R@10"] == 0.0 and worst["b2a"]["median_rank"] == 12.0
    # a random matrix against a brute-force argsort ranking
    rng = np.random.default_rng(16)
    rand = rng.standard_normal((30, 30))
    ranks = np.array([list(np.argsort(-rand[i])).index(i) + 1 for i in range(30)])
    res = align.retrieval_metrics(rand, ks=(1, 5))
    assert res["a2b"]["R@5"] == pytest.approx(np.mean(ranks <= 5))
    assert res["a2b"]["median_rank"] == pytest.approx(np.median(ranks))
    assert res["a2b"]["mean_rank"] == pytest.approx(ranks.mean())


def test_retrieval_metrics_errors():
    with pytest.raises(ValueError, match=r"square \(n, n\).*got shape \(3, 4\)"):
        align.retrieval_metrics(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="finite"):
        align.retrieval_metrics(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="ks must be an integer >= 1, got 0"):
        align.retrieval_metrics(np.eye(3), ks=(0, 1))
    with pytest.raises(TypeError, match="ks must be an integer or a sequence of integers"):
        align.retrieval_metrics(np.eye(3), ks=None)
    with pytest.raises(TypeError, match="similarity must hold numbers"):
        align.retrieval_metrics([["a", "b"], ["c", "d"]])
    assert align.retrieval_metrics(np.eye(3), ks=2)["a2b"]["R@2"] == 1.0  # a single K


# --------------------------------------------------------------------------------------------
# MMD and the transferability constraint
# --------------------------------------------------------------------------------------------


def _numpy_mmd2(a, b, sigmas, unbiased):
    """Squared MMD with explicit double loops over the samples."""
    def k(x, y):
        d2 = float(np.sum((x - y) ** 2))
        return sum(math.exp(-d2 / (2 * s * s)) for s in sigmas)

    def mean_k(p, q, drop):
        total, count = 0.0, 0
        for i in range(len(p)):
            for j in range(len(q)):
                if drop and i == j:
                    continue
                total += k(p[i], q[j])
                count += 1
        return total / count

    return mean_k(a, a, unbiased) + mean_k(b, b, unbiased) - 2 * mean_k(a, b, False)


def test_mmd2_equals_the_double_sum_with_gaussian_kernels():
    rng = np.random.default_rng(30)
    a, b = rng.standard_normal((7, 3)), rng.standard_normal((5, 3)) + 0.8
    for sigmas in ((1.0,), (0.5, 1.0, 2.0)):
        for unbiased in (False, True):
            value = float(align.mmd2(a, b, bandwidths=sigmas, unbiased=unbiased))
            assert value == pytest.approx(_numpy_mmd2(a, b, sigmas, unbiased), rel=1e-10)
    assert float(align.mmd2(a, b, bandwidths=2.0)) == pytest.approx(
        _numpy_mmd2(a, b, (2.0,), False), rel=1e-10)  # a single number is one bandwidth
    # default bandwidths, float32 input -> float32 output
    out = align.mmd2(a.astype("float32"), b.astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert float(out) == pytest.approx(_numpy_mmd2(a, b, align.MMD_BANDWIDTHS, False), rel=1e-5)
    # identical samples: 0; samples drawn from the same distribution: near 0, a shift: larger
    assert float(align.mmd2(a, a)) == pytest.approx(0.0, abs=1e-12)
    same = float(align.mmd2(rng.standard_normal((300, 2)), rng.standard_normal((300, 2))))
    shifted = float(align.mmd2(rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + 1))
    assert 0 <= same < 0.02 < 0.2 < shifted


def test_mmd2_gradient_matches_finite_differences():
    rng = np.random.default_rng(31)
    a, b = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    var = tf.Variable(a)
    with tf.GradientTape() as tape:
        value = align.mmd2(var, b, bandwidths=(0.7, 1.5))
    grad = tape.gradient(value, var).numpy()
    h, fd = 1e-6, np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += h
        minus[idx] -= h
        fd[idx] = (_numpy_mmd2(plus, b, (0.7, 1.5), False)
                   - _numpy_mmd2(minus, b, (0.7, 1.5), False)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-9)


def test_mmd2_errors():
    a = np.zeros((4, 3))
    with pytest.raises(ValueError, match="same number of features .*got 3 and 2"):
        align.mmd2(a, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"bandwidths must be a number in \(0.0, inf\), got 0.0"):
        align.mmd2(a, a, bandwidths=(1.0, 0.0))
    with pytest.raises(ValueError, match="at least one bandwidth"):
        align.mmd2(a, a, bandwidths=())
    with pytest.raises(TypeError, match="bandwidths must be a positive number or a sequence"):
        align.mmd2(a, a, bandwidths="wide")
    with pytest.raises(ValueError, match="z_b must hold at least 2 sample.*unbiased.*got 1"):
        align.mmd2(a, a[:1], unbiased=True)
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        align.mmd2(a, a, unbiased="yes")
    with pytest.raises(ValueError, match=r"2-D \(samples, dim\)"):
        align.mmd2(np.zeros(3), a)
    with pytest.raises(ValueError, match="z_a must contain only finite values"):
        align.mmd2(np.full((2, 3), np.nan), a)


def _adapters_and_head(d_a, d_b, seed):
    init = keras.initializers.GlorotUniform

    def dense(units, s, act=None):
        return keras.layers.Dense(units, activation=act, kernel_initializer=init(s))

    adapter_a = keras.Sequential([keras.Input((d_a,)), dense(16, seed, "relu")])
    adapter_b = keras.Sequential([keras.Input((d_b,)), dense(16, seed + 1, "relu")])
    head = keras.Sequential([keras.Input((16,)), dense(16, seed + 2, "relu"), dense(8, seed + 3)])
    return adapter_a, adapter_b, head


def test_shared_head_encoder_shares_the_head_and_adds_mmd_to_the_loss(tmp_path):
    xa, xb = _paired_data(n=600, seed=32)
    model = align.SharedHeadEncoder(*_adapters_and_head(16, 12, 1), mmd_weight=2.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model((xa[:2], xb[:2]))
    # one head: its weights are the same variables in both towers, counted once
    head_vars = {id(v) for v in model.head.weights}
    assert head_vars <= {id(v) for v in model.encoder_a.weights}
    assert head_vars <= {id(v) for v in model.encoder_b.weights}
    n_params = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    expected = (16 * 16 + 16) + (12 * 16 + 16) + (16 * 16 + 16) + (16 * 8 + 8) + 1  # + log t
    assert n_params == expected
    # the loss is the CLIP loss plus mmd_weight * MMD^2 of the batch (numpy references)
    za, zb = model.encode_a(xa[:100]), model.encode_b(xb[:100])
    want = (_numpy_clip(za, zb, model.logit_scale)
            + 2.0 * _numpy_mmd2(za, zb, align.MMD_BANDWIDTHS, False))
    got = model.evaluate((xa[:100], xb[:100]), batch_size=100, verbose=0)
    assert got == pytest.approx(want, rel=1e-4)
    model.fit((xa, xb), batch_size=100, epochs=1, verbose=0)
    # save / load: the head stays shared and the embeddings are unchanged
    path = tmp_path / "shared.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, align.SharedHeadEncoder) and loaded.mmd_weight == 2.0
    assert {id(v) for v in loaded.head.weights} <= {id(v) for v in loaded.encoder_b.weights}
    np.testing.assert_allclose(loaded.similarity(xa[:50], xb[:50]),
                               model.similarity(xa[:50], xb[:50]), atol=1e-6)
    with pytest.raises(TypeError, match="head must be a keras Layer or Model, got function"):
        align.SharedHeadEncoder(keras.layers.Dense(4), keras.layers.Dense(4), lambda x: x)
    with pytest.raises(ValueError, match="mmd_weight must be a number in"):
        align.SharedHeadEncoder(*_adapters_and_head(16, 12, 1), mmd_weight=-1.0)


def test_mmd_term_pulls_the_two_modalities_together():
    xa, xb = _paired_data(n=600, seed=33)
    train, test = slice(0, 500), slice(500, 600)
    result = {}
    for weight in (0.0, 5.0):
        keras.utils.set_random_seed(3)
        model = align.DualEncoder(_encoder(16, 1), _encoder(12, 3), mmd_weight=weight)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit((xa[train], xb[train]), batch_size=100, epochs=10, verbose=0)
        za, zb = model.encode_a(xa[test]), model.encode_b(xb[test])
        result[weight] = (float(align.mmd2(za, zb)),
                          align.retrieval_metrics(za @ zb.T)["a2b"]["R@1"])
    assert result[5.0][0] < 0.5 * result[0.0][0], result  # held-out MMD at least halved
    assert result[5.0][1] > 0.5, result  # pairs still retrieved
    config = align.DualEncoder(_encoder(16, 1), _encoder(12, 3), mmd_weight=1.5,
                               mmd_bandwidths=0.5).get_config()
    assert config["mmd_weight"] == 1.5 and config["mmd_bandwidths"] == [0.5]


# --------------------------------------------------------------------------------------------
# soft-DTW expected alignment
# --------------------------------------------------------------------------------------------


def test_soft_dtw_alignment_is_the_expected_path_and_the_gradient():
    rng = np.random.default_rng(34)
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((5, 2))
    cost = _sqeuclid(x, y)
    paths = _all_paths(4, 5)
    for gamma in (1.0, 0.2):
        value, expected_path = align.soft_dtw_alignment(x, y, gamma=gamma)
        # brute force: probability of each cell under p(P) ∝ exp(-cost(P) / gamma)
        logits = np.array([-sum(cost[i, j] for i, j in p) / gamma for p in paths])
        prob = np.exp(logits - logits.max())
        prob /= prob.sum()
        brute = np.zeros_like(cost)
        for p_k, path in zip(prob, paths, strict=True):
            for i, j in path:
                brute[i, j] += p_k
        np.testing.assert_allclose(expected_path, brute, atol=1e-12)
        assert value == pytest.approx(_soft_dtw_by_paths(cost, gamma), rel=1e-12)
        # the gradient of the Keras soft_dtw with respect to the cost matrix
        var = tf.Variable(cost)
        with tf.GradientTape() as tape:
            out = align.soft_dtw(var, gamma=gamma, metric="precomputed")
        np.testing.assert_allclose(tape.gradient(out, var).numpy(), expected_path, atol=1e-10)
    # gamma -> 0: the DTW path
    _, path = align.dtw(x, y)
    hard = np.zeros_like(cost)
    hard[tuple(np.array(path).T)] = 1.0
    np.testing.assert_allclose(align.soft_dtw_alignment(cost, gamma=1e-4,
                                                        metric="precomputed")[1], hard, atol=1e-6)
    with pytest.raises(ValueError, match="gamma must be a number in"):
        align.soft_dtw_alignment(x, y, gamma=0.0)
    with pytest.raises(ValueError, match="y is required"):
        align.soft_dtw_alignment(x)


# --- added for notebook 11 ---
# --------------------------------------------------------------------------------------------
# Audio-video offset: motion energy, onset strength, lag scores, estimate, correction
# --------------------------------------------------------------------------------------------


def _moving_mean_reflect(x, size):
    """Moving mean over ``size`` values with scipy's default window placement and 'reflect'
    edges (d c b a | a b c d | d c b a), written out with loops."""
    n, out = len(x), np.zeros(len(x))
    start = -(size // 2)
    for i in range(n):
        total = 0.0
        for k in range(start, start + size):
            j = i + k
            while j < 0 or j >= n:  # reflect about the edges
                j = -j - 1 if j < 0 else 2 * n - j - 1
            total += x[j]
        out[i] = total / size
    return out


def test_motion_energy_matches_a_loop_over_frames_and_pixels():
    rng = np.random.default_rng(0)
    video = rng.random((3, 5, 4, 6, 2))
    got = align.motion_energy(video)
    assert got.shape == (3, 4)
    for i in range(3):
        frames = video[i].mean(axis=-1)
        d = [np.mean([abs(frames[k + 1, y, x] - frames[k, y, x]) for y in range(4)
                      for x in range(6)]) for k in range(4)]
        np.testing.assert_allclose(got[i], np.maximum(np.array(d) - np.median(d), 0), atol=1e-12)
    np.testing.assert_allclose(align.motion_energy(video[..., 0]),
                               align.motion_energy(video[..., :1]))  # (n, T, H, W) accepted


def test_onset_strength_matches_a_loop_and_peaks_at_a_sound_onset():
    rng = np.random.default_rng(1)
    audio = 0.01 * rng.standard_normal((2, 800))
    audio[:, 500:] += np.sin(np.arange(300) * 0.9)  # a loud tone from sample 500 (t = 0.625 s)
    got = align.onset_strength(audio, 800, rate=100, smooth=0.05)  # hops of 8 samples
    assert got.shape == (2, 100)
    for i in range(2):
        rms = np.sqrt([np.mean(audio[i, 8 * j:8 * j + 8] ** 2) for j in range(100)])
        rms = _moving_mean_reflect(rms, 4)
        rise = np.maximum(np.diff(rms, prepend=rms[0]), 0)
        np.testing.assert_allclose(got[i], _moving_mean_reflect(rise, 5), atol=1e-12)
        assert abs(np.argmax(got[i]) / 100 - 0.625) <= 0.03
    raw = align.onset_strength(audio, 800, rate=100, smooth=0.0)
    assert np.all(raw >= 0) and raw[:, 0].max() == 0
    with pytest.raises(ValueError, match="sample_rate must be a multiple of rate"):
        align.onset_strength(audio, 800, rate=300)
    with pytest.raises(ValueError, match=r"audio must be a batch of clips of shape \(n, samples\)"):
        align.onset_strength(audio[0], 800)
    with pytest.raises(ValueError, match="no NaN"):
        align.onset_strength(np.full((1, 800), np.nan), 800)


def test_av_lag_scores_match_a_brute_force_sum_and_np_correlate():
    rng = np.random.default_rng(2)
    motion, onset = rng.random((2, 7)), rng.random((2, 64))
    lags = np.arange(-10, 11) / 32
    got = align.av_lag_scores(motion, onset, 8, 64, lags)
    for i in range(2):
        for j, lag in enumerate(lags):
            total = 0.0
            for k in range(7):
                pos = round(((k + 1) / 8 + lag) * 64)
                if 0 <= pos < 64:
                    total += motion[i, k] * onset[i, pos]
            assert got[i, j] == pytest.approx(total, abs=1e-12)
    # the same as np.correlate of the onset curve with the motion as impulses on the audio grid
    impulses = np.zeros(64)
    impulses[(np.arange(1, 8) * 8)] = motion[0]
    full = np.correlate(onset[0], impulses, mode="full")  # entry m: audio moved by m - 63 values
    np.testing.assert_allclose(got[0], full[np.round(lags * 64).astype(int) + 63], atol=1e-12)
    with pytest.raises(ValueError, match="same clips, got 2 and 1 rows"):
        align.av_lag_scores(motion, onset[:1], 8, 64, lags)
    with pytest.raises(ValueError, match="fps must be a number"):
        align.av_lag_scores(motion, onset, 0, 64, lags)
    with pytest.raises(ValueError, match="lags must be a non-empty 1-D array"):
        align.av_lag_scores(motion, onset, 8, 64, [])


def _synthetic_clips(offsets, fps=8, sample_rate=4000, seed=3):
    """Clips where a square lights up at a frame boundary and a click sounds at that boundary
    plus the clip's offset (the audio of every clip otherwise faint noise)."""
    rng = np.random.default_rng(seed)
    n = len(offsets)
    video = 0.02 * rng.random((n, fps, 8, 8))
    audio = 0.005 * rng.standard_normal((n, sample_rate))
    for i, off in enumerate(offsets):
        k = 3 + i % 4  # the square appears in frame k (at k / fps seconds)
        video[i, k:, 2:6, 2:6] += 0.8
        start = int(round((k / fps + off) * sample_rate))
        audio[i, start:start + 200] += np.sin(np.arange(200) * 1.3)
    return video, audio


def test_estimate_av_offset_recovers_known_offsets_of_synthetic_clips():
    offsets = np.array([-0.3, -0.125, 0.0, 0.05, 0.2, 0.3])
    video, audio = _synthetic_clips(offsets)
    est = align.estimate_av_offset(video, audio, 4000, 8)
    assert np.all(np.abs(est - offsets) <= 1 / 32), est  # a quarter frame: grid and smoothing
    grid = align.estimate_av_offset(video, audio, 4000, 8, max_lag=0.3, step=0.1)
    assert set(np.round(grid, 6)) <= {-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3}
    with pytest.raises(ValueError, match="video and audio must hold the same clips"):
        align.estimate_av_offset(video, audio[:2], 4000, 8)
    with pytest.raises(ValueError, match="step must be <= max_lag"):
        align.estimate_av_offset(video, audio, 4000, 8, max_lag=0.1, step=0.2)
    with pytest.raises(ValueError, match="at least 2 frames"):
        align.estimate_av_offset(video[:, :1], audio, 4000, 8)


def test_estimate_av_offset_on_watch_is_within_one_frame_for_most_event_clips():
    from mmlib import data

    ds = data.load_watch(n_samples=600, seed=7, max_offset=0.3)
    fps, sr = ds.info["fps"], ds.info["sample_rate"]
    est = align.estimate_av_offset(ds.modalities["video"], ds.modalities["audio"], sr, fps)
    events, clear = ds.labels["event"] > 0, ds.metadata["condition"] == 0
    within = np.abs(est - ds.metadata["av_offset"]) <= 1 / fps
    assert within[events].mean() >= 0.75, within[events].mean()
    assert within[events & clear].mean() >= 0.9, within[events & clear].mean()
    # the same estimate on the brute-force route: the three public steps by hand
    lags = np.arange(-44, 45) / 128
    scores = align.av_lag_scores(align.motion_energy(ds.modalities["video"][:50]),
                                 align.onset_strength(ds.modalities["audio"][:50], sr), fps,
                                 align.ONSET_RATE, lags)
    np.testing.assert_array_equal(est[:50], lags[np.argmax(scores, axis=1)])
    # correcting by the true offset brings the audio back: the estimate is then near zero
    fixed = align.correct_av_offset(ds.modalities["audio"], ds.metadata["av_offset"], sr)
    again = align.estimate_av_offset(ds.modalities["video"], fixed, sr, fps)
    assert np.mean(np.abs(again[events & clear]) <= 1 / fps) >= 0.9


def test_correct_av_offset_moves_the_audio_and_fills_silence():
    audio = np.arange(1, 11, dtype=np.float32)[None].repeat(3, axis=0)
    out = align.correct_av_offset(audio, [0.2, -0.3, 0.0], 10)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [3, 4, 5, 6, 7, 8, 9, 10, 0, 0])  # 2 samples earlier
    np.testing.assert_array_equal(out[1], [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])  # 3 samples later
    np.testing.assert_array_equal(out[2], audio[2])
    np.testing.assert_array_equal(align.correct_av_offset(audio, 0.1, 10)[:, 0], [2, 2, 2])
    mirrored = align.correct_av_offset(audio, [0.2, -0.3, 0.0], 10, fill="reflect")
    np.testing.assert_array_equal(mirrored[0], [3, 4, 5, 6, 7, 8, 9, 10, 9, 8])
    np.testing.assert_array_equal(mirrored[1], [4, 3, 2, 1, 2, 3, 4, 5, 6, 7])
    wave = np.random.default_rng(4).standard_normal((2, 50))
    for shift in (-49, -7, 0, 13, 49):  # against np.pad's "reflect" (mirror, edge not repeated)
        padded = np.pad(wave, ((0, 0), (max(-shift, 0), max(shift, 0))), mode="reflect")
        expected = padded[:, shift:shift + 50] if shift >= 0 else padded[:, :50]
        np.testing.assert_array_equal(
            align.correct_av_offset(wave, shift / 10, 10, fill="reflect"), expected)
    with pytest.raises(ValueError, match="fill must be one of"):
        align.correct_av_offset(audio, 0.1, 10, fill="wrap")
    with pytest.raises(ValueError, match="less than one clip"):
        align.correct_av_offset(audio, 1.0, 10)
    with pytest.raises(ValueError, match=r"offset must be one finite number or one per clip"):
        align.correct_av_offset(audio, [0.1, 0.2], 10)
    with pytest.raises(TypeError, match="sample_rate must be an integer"):
        align.correct_av_offset(audio, 0.1, 10.5)
