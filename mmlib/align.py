"""Cross-modal alignment (特征对齐): CCA, Deep CCA, contrastive losses, attention, DTW, retrieval.

Alignment asks *which part of modality A corresponds to which part of modality B* — either whole
samples (an image and its caption should land close together in a shared space) or elements inside
samples (a word and an image region, a video frame and an audio window). This module provides the
standard tools, each checked against an independent reference in ``tests/test_align.py``:

* :class:`MultimodalMF` — multimodal (collective) matrix factorization with a shared factor,
  closed form (truncated SVD) or alternating least squares (Singh & Gordon 2008).
* :class:`CCA` — linear canonical correlation analysis (Hotelling 1936), closed form.
* :func:`dcca_loss` / :class:`DeepCCALoss` — Deep CCA (Andrew et al. 2013) as a Keras loss.
* :func:`clip_loss` / :class:`CLIPLoss` — symmetric InfoNCE of CLIP (Radford et al. 2021).
* :func:`siglip_loss` / :class:`SigLIPLoss` — pairwise sigmoid loss of SigLIP (Zhai et al. 2023).
* :class:`DualEncoder` — a two-tower ``keras.Model`` trained with either contrastive loss.
* :func:`mmd2` — squared maximum mean discrepancy (Gaussian kernels; Gretton et al. 2012);
  :class:`SharedHeadEncoder` — the transferability constraint: modality adapters, one shared
  projection head, a pairing loss plus MMD (Long et al. 2015).
* :class:`CrossModalAttention` — attention from one modality's tokens to another's, returning the
  attention weights for plotting.
* :func:`dtw` — exact dynamic time warping (cost and path); :func:`soft_dtw` /
  :class:`SoftDTWLoss` — differentiable soft-DTW (Cuturi & Blondel 2017);
  :func:`soft_dtw_alignment` — its expected alignment matrix (the gradient w.r.t. the costs).
* :func:`retrieval_metrics` — Recall@K, median and mean rank in both retrieval directions.
* :func:`estimate_av_offset` — the audio–video offset of clips by cross-correlating the video's
  :func:`motion_energy` with the audio's :func:`onset_strength` (:func:`av_lag_scores`);
  :func:`correct_av_offset` moves the audio back into sync.

Shapes follow the course convention: ``(batch, d_a)`` is a batch of modality-A feature vectors,
``(batch, time, d)`` a batch of sequences.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from mmlib._validate import check_choice, check_float, check_int, check_numeric_array

__all__ = [
    "CCA",
    "MMD_BANDWIDTHS",
    "MultimodalMF",
    "SharedHeadEncoder",
    "CLIPLoss",
    "CrossModalAttention",
    "DeepCCALoss",
    "DualEncoder",
    "SigLIPLoss",
    "SoftDTWLoss",
    "clip_loss",
    "dcca_loss",
    "dtw",
    "mmd2",
    "retrieval_metrics",
    "siglip_loss",
    "soft_dtw",
    "soft_dtw_alignment",
]

_PKG = "mmlib"
_COSINE = "for cosine similarity"  # why z_a and z_b need the same size (error messages)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _as_2d(name: str, value: ArrayLike) -> np.ndarray:
    """Return ``value`` as a finite float64 array of shape (n, d); a 1-D input becomes (n, 1)."""
    arr = check_numeric_array(name, value)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, n_features), got an "
                         f"array with shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf).")
    return arr


def _inv_sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Inverse square root of a symmetric positive semi-definite matrix via eigendecomposition.

    Eigenvalues below ``1e-12 * largest`` are clipped so a singular matrix (``reg=0`` with
    collinear features) gives a large but finite result instead of ``inf``.
    """
    eigval, eigvec = np.linalg.eigh(matrix)
    floor = max(float(eigval.max()), 0.0) * 1e-12 + np.finfo(np.float64).tiny
    eigval = np.maximum(eigval, floor)
    return (eigvec / np.sqrt(eigval)) @ eigvec.T


def _float_tensor(name: str, x: Any) -> Any:
    """Convert to a backend tensor; float64 stays float64, everything else becomes float32.

    Backend tensors and ``keras.Variable`` objects (possibly symbolic, inside ``fit``) are only
    checked for a numeric dtype; anything else (numpy arrays, lists) is converted with numpy first
    and must be numeric and finite, so bad input fails here with the argument's name instead of
    deep inside a TensorFlow kernel.
    """
    if isinstance(x, np.ndarray) or not hasattr(x, "dtype"):
        arr = check_numeric_array(name, x)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must contain only finite values (no NaN or inf).")
        dtype = np.asarray(x).dtype
        x = arr.astype(dtype if dtype.kind == "f" else np.float32, copy=False)
    else:
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not (dtype.startswith("float") or dtype.startswith("int") or dtype.startswith("uint")
                or dtype.startswith("bfloat")):
            raise ValueError(f"{name} must be a numeric tensor, got dtype {dtype}.")
    x = ops.convert_to_tensor(x)
    if x.dtype != "float64" and x.dtype != "float32":
        x = ops.cast(x, "float32")
    return x


def _l2_normalize(x: Any, eps: float = 1e-12) -> Any:
    """Divide each row of ``x`` (batch, d) by its L2 norm (``eps`` guards a zero row)."""
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), eps))


def _check_pair(z_a: Any, z_b: Any, *, min_batch: int = 1, same_dim: str | None = None
                ) -> tuple[Any, Any]:
    """Validate two embedding batches (batch, d_a), (batch, d_b) and cast to a common float.

    ``min_batch`` is checked when the batch size is static; ``same_dim`` (the reason, for the
    message) also requires ``d_a == d_b``.
    """
    z_a, z_b = _float_tensor("z_a", z_a), _float_tensor("z_b", z_b)
    if len(z_a.shape) != 2 or len(z_b.shape) != 2:
        raise ValueError(f"z_a and z_b must be 2-D (batch, dim) tensors, got shapes "
                         f"{tuple(z_a.shape)} and {tuple(z_b.shape)}.")
    if z_a.shape[0] is not None and z_b.shape[0] is not None and z_a.shape[0] != z_b.shape[0]:
        raise ValueError(f"z_a and z_b must have the same batch size (row i of z_a is paired with "
                         f"row i of z_b), got {z_a.shape[0]} and {z_b.shape[0]}.")
    if z_a.shape[0] is not None and z_a.shape[0] < min_batch:
        raise ValueError(f"z_a and z_b must hold at least {min_batch} pair(s), got batch size "
                         f"{z_a.shape[0]}.")
    if (same_dim is not None and z_a.shape[1] is not None and z_b.shape[1] is not None
            and z_a.shape[1] != z_b.shape[1]):
        raise ValueError(f"z_a and z_b must have the same embedding size {same_dim}, got "
                         f"{z_a.shape[1]} and {z_b.shape[1]}.")
    if z_a.dtype != z_b.dtype:
        z_b = ops.cast(z_b, z_a.dtype)
    return z_a, z_b


def _scalar_or_tensor(name: str, value: Any, *, positive: bool) -> Any:
    """Check a Python/numpy number (``> 0`` if ``positive``); scalar tensors pass through."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if positive:
            return check_float(name, value, minimum=0.0, include_min=False)
        return check_float(name, value)
    if hasattr(value, "dtype") and hasattr(value, "shape"):  # a tensor or keras.Variable
        if len(value.shape) != 0:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape "
                             f"{tuple(value.shape)}.")
        return value
    raise TypeError(f"{name} must be a number or a scalar tensor, got {value!r} of type "
                    f"{type(value).__name__}.")


# --------------------------------------------------------------------------------------------
# Linear CCA
# --------------------------------------------------------------------------------------------


class CCA(BaseEstimator):
    """Linear canonical correlation analysis (典型相关分析), solved in closed form.

    CCA finds directions ``a_k`` in the space of ``X`` and ``b_k`` in the space of ``Y`` such that
    the projections ``X a_k`` and ``Y b_k`` are maximally correlated, each pair uncorrelated with
    the previous ones. It is the precise form of the seed article's "collinearity constraint"
    (共线性约束): after the projection, the two modalities' features vary together along shared
    axes, and the canonical correlations ``rho_1 >= rho_2 >= ...`` measure how well.

    Solution (regularised covariances, ``n`` samples, centred data)::

        S_xx = X'X / (n - 1) + reg * I,   S_yy = Y'Y / (n - 1) + reg * I,   S_xy = X'Y / (n - 1)
        T = S_xx^{-1/2} S_xy S_yy^{-1/2} = U diag(rho) V'        (SVD)
        x_weights_ = S_xx^{-1/2} U[:, :k],   y_weights_ = S_yy^{-1/2} V[:, :k]

    The inverse square roots come from an eigendecomposition. The canonical variates
    ``(X - mean_x_) @ x_weights_`` then have (regularised) unit variance. ``reg`` is an absolute
    ridge term; standardise features of very different scales first. ``correlations_`` are the
    Pearson correlations of the training variates (equal to ``rho`` when ``reg = 0``; the ridge
    shrinks ``rho`` slightly below the correlation actually achieved, so that is reported).

    Reference: H. Hotelling (1936), "Relations between two sets of variates", *Biometrika* 28(3/4).

    Args:
        n_components: number of canonical pairs ``k``; at most ``min(d_x, d_y, n_samples)``.
        reg: ridge ``>= 0`` added to the diagonal of each covariance.

    Attributes:
        mean_x_, mean_y_: feature means, shapes ``(d_x,)`` and ``(d_y,)``.
        x_weights_, y_weights_: projection matrices, shapes ``(d_x, k)`` and ``(d_y, k)``.
        correlations_: canonical correlations ``(k,)`` on the training data, descending.
        n_features_x_, n_features_y_: ``d_x`` and ``d_y`` seen in :meth:`fit`.

    Example:
        >>> cca = CCA(n_components=2).fit(X, Y)          # X (n, d_x), Y (n, d_y)
        >>> X_c, Y_c = cca.transform(X, Y)               # (n, 2) each
        >>> cca.correlations_                            # e.g. array([0.90, 0.61])
    """

    def __init__(self, n_components: int = 2, reg: float = 1e-4) -> None:
        self.n_components = n_components
        self.reg = reg

    def fit(self, X: ArrayLike, Y: ArrayLike) -> CCA:
        """Fit on paired samples ``X`` (n, d_x) and ``Y`` (n, d_y); returns ``self``."""
        k = check_int("n_components", self.n_components, minimum=1)
        reg = check_float("reg", self.reg, minimum=0.0)
        X, Y = _as_2d("X", X), _as_2d("Y", Y)
        n = X.shape[0]
        if Y.shape[0] != n:
            raise ValueError(f"X and Y must have the same number of samples (rows are paired), got "
                             f"X with {n} and Y with {Y.shape[0]}.")
        if n < 2:
            raise ValueError(f"CCA needs at least 2 samples to estimate covariances, got "
                             f"n_samples={n}.")
        d_x, d_y = X.shape[1], Y.shape[1]
        limit = min(d_x, d_y, n)
        if k > limit:
            raise ValueError(f"n_components must be <= min(d_x, d_y, n_samples) = {limit} "
                             f"(d_x={d_x}, d_y={d_y}, n_samples={n}), got {k}.")
        self.mean_x_, self.mean_y_ = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - self.mean_x_, Y - self.mean_y_
        s_xx = Xc.T @ Xc / (n - 1) + reg * np.eye(d_x)
        s_yy = Yc.T @ Yc / (n - 1) + reg * np.eye(d_y)
        s_xy = Xc.T @ Yc / (n - 1)
        wx, wy = _inv_sqrt_psd(s_xx), _inv_sqrt_psd(s_yy)
        u, s, vt = np.linalg.svd(wx @ s_xy @ wy, full_matrices=False)
        x_w, y_w = wx @ u[:, :k], wy @ vt[:k].T
        # Sign convention: the largest-magnitude entry of each x weight vector is positive.
        signs = np.sign(x_w[np.argmax(np.abs(x_w), axis=0), np.arange(k)])
        signs[signs == 0] = 1.0
        self.x_weights_, self.y_weights_ = x_w * signs, y_w * signs
        self.n_features_x_, self.n_features_y_ = d_x, d_y
        # Report the actual sample correlations of the training variates. With reg = 0 they equal
        # the singular values s[:k]; with reg > 0 the singular values are shrunk by the ridge in
        # their denominators, which is not a correlation a learner can check.
        self.correlations_ = self.canonical_correlations(X, Y)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "x_weights_"):
            raise NotFittedError("This CCA instance is not fitted yet; call fit(X, Y) first.")

    def transform(self, X: ArrayLike, Y: ArrayLike | None = None
                  ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Project onto the canonical directions.

        Args:
            X: ``(n, d_x)``.
            Y: ``(n, d_y)`` or ``None``.

        Returns:
            ``(X_c, Y_c)``, each ``(n, n_components)``; only ``X_c`` when ``Y`` is ``None``.
        """
        self._check_fitted()
        X = _as_2d("X", X)
        if X.shape[1] != self.n_features_x_:
            raise ValueError(f"X must have {self.n_features_x_} features as in fit, got "
                             f"{X.shape[1]}.")
        X_c = (X - self.mean_x_) @ self.x_weights_
        if Y is None:
            return X_c
        Y = _as_2d("Y", Y)
        if Y.shape[1] != self.n_features_y_:
            raise ValueError(f"Y must have {self.n_features_y_} features as in fit, got "
                             f"{Y.shape[1]}.")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X and Y must have the same number of samples, got X with "
                             f"{X.shape[0]} and Y with {Y.shape[0]}.")
        return X_c, (Y - self.mean_y_) @ self.y_weights_

    def fit_transform(self, X: ArrayLike, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``fit(X, Y)`` then ``transform(X, Y)``; returns ``(X_c, Y_c)``, each ``(n, k)``."""
        return self.fit(X, Y).transform(X, Y)

    def canonical_correlations(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """Pearson correlation of each canonical pair on ``(X, Y)``, shape ``(n_components,)``.

        On the training data this is ``correlations_`` (descending unless a large ridge swaps
        near-equal pairs); on held-out data it measures how well the learned alignment
        generalises (component order is kept, so values need not be sorted there).
        """
        X_c, Y_c = self.transform(X, Y)
        if X_c.shape[0] < 2:
            raise ValueError(f"X and Y must hold at least 2 samples to measure a correlation, got "
                             f"n_samples={X_c.shape[0]}.")
        X_c = X_c - X_c.mean(axis=0)
        Y_c = Y_c - Y_c.mean(axis=0)
        denom = np.sqrt((X_c**2).sum(axis=0) * (Y_c**2).sum(axis=0))
        return np.divide((X_c * Y_c).sum(axis=0), denom, out=np.zeros(X_c.shape[1]),
                         where=denom > 0)

    def score(self, X: ArrayLike, Y: ArrayLike) -> float:
        """Mean canonical correlation on ``(X, Y)``: one float, higher is better.

        scikit-learn's model selection (``cross_val_score``, ``GridSearchCV``) expects ``score`` to
        return a single number; the per-component values are :meth:`canonical_correlations`
        (and, for the training data, the attribute ``correlations_``).
        """
        return float(np.mean(self.canonical_correlations(X, Y)))


# --------------------------------------------------------------------------------------------
# Multimodal (collective) matrix factorization
# --------------------------------------------------------------------------------------------

_MF_SOLVERS = ("svd", "als")


class MultimodalMF(BaseEstimator):
    """Multimodal (collective) matrix factorization with one shared factor (多模态矩阵分解).

    Each sample ``i`` gets one latent vector ``u_i`` (row of ``U``, ``k`` values) that must explain
    *both* of its modalities, each through its own loadings::

        X - mean_x ≈ U V_x'        (n, d_x) ≈ (n, k) (k, d_x)
        Y - mean_y ≈ U V_y'        (n, d_y) ≈ (n, k) (k, d_y)

    Because ``U`` is shared, a sample's image and its caption are mapped to the same point of
    the ``k``-dimensional space: the factorization *aligns* the modalities. In the scaled units
    ``Z = [(X - mean_x) / s_x, (Y - mean_y) / s_y]`` (``s`` = the block's root-mean-square
    norm when ``balance=True``, so that each modality weighs the same whatever its number of
    features) the two conditions are one factorization ``Z ≈ U W'`` with ``W = [W_x; W_y]``,
    fitted by minimising::

        ||Z - U W'||_F^2 + reg * (||U||_F^2 + ||W||_F^2)

    * ``solver="svd"`` — closed form. With the SVD ``Z = P S Q'`` the best rank-``k`` product is
      ``U W' = P_k max(S_k - reg, 0) Q_k'`` (Eckart–Young for ``reg = 0``; singular-value
      soft-thresholding for ``reg > 0``, because ``min (||U||^2 + ||W||^2) / 2`` over
      ``U W' = M`` is the trace norm of ``M``).
    * ``solver="als"`` — alternating least squares (the usual algorithm for collective
      factorization, and the one that extends to missing entries and other losses)::

          U <- Z W (W'W + reg I)^-1,     W <- Z'U (U'U + reg I)^-1

      It converges to the same product ``U W'``.

    Both solvers return the same gauge: ``W`` with orthonormal columns ordered by singular value,
    ``U = Z W`` (like PCA scores), the largest-magnitude entry of each column of ``W`` positive.
    The loadings in the data's own units are ``V_x = s_x W_x`` and ``V_y = s_y W_y``.

    To place a sample seen in *one* modality only in the shared space (``transform``), its
    factor is "folded in" by the ``U`` step of ALS with the other modality absent::

        u_x = argmin_u ||x~ - u W_x'||^2 + reg ||u||^2 = x~ W_x (W_x'W_x + reg I)^-1

    (``x~`` the scaled, centred sample; a pseudo-inverse when ``reg = 0``), so an image and its
    caption can be compared in the shared space, and ``inverse_transform`` of ``u_x`` predicts
    the caption features from the image.

    References: A. P. Singh, G. J. Gordon (2008), "Relational Learning via Collective Matrix
    Factorization", *KDD*; C. Eckart, G. Young (1936), "The approximation of one matrix by
    another of lower rank", *Psychometrika* 1(3); R. Mazumder, T. Hastie, R. Tibshirani (2010),
    "Spectral Regularization Algorithms for Learning Large Incomplete Matrices", *JMLR* 11.

    Args:
        n_components: size ``k`` of the shared factor, at most ``min(n_samples, d_x + d_y)``.
        solver: ``"svd"`` (closed form) or ``"als"`` (alternating least squares).
        reg: ridge ``>= 0`` on the factor and the loadings (see above); also used to fold in.
        balance: scale each centred modality to unit root-mean-square norm before factorizing.
        max_iter: ALS iterations at most (``solver="als"``).
        tol: ALS stops when the objective's relative decrease is below ``tol``.
        random_state: seed of the ALS initialisation.

    Attributes:
        mean_x_, mean_y_: feature means ``(d_x,)``, ``(d_y,)``.
        scale_x_, scale_y_: the block scales ``s_x``, ``s_y`` (1.0 when ``balance=False``).
        components_x_, components_y_: loadings ``V_x`` ``(d_x, k)`` and ``V_y`` ``(d_y, k)`` in
            the data's units, so ``X - mean_x ≈ factors_ @ components_x_.T``.
        factors_: the shared factor ``U`` of the training samples, ``(n, k)``.
        singular_values_: the top ``k`` singular values of ``Z``, ``(k,)``.
        reconstruction_error_: ``||Z - U W'||_F^2 / ||Z||_F^2`` on the training data.
        n_iter_: ALS iterations run (0 for ``"svd"``).

    Example:
        >>> mf = MultimodalMF(n_components=8).fit(X, Y)     # X (n, d_x), Y (n, d_y)
        >>> U_x, U_y = mf.transform(X_new, Y_new)            # each from one modality, (m, 8)
        >>> X_hat, Y_hat = mf.inverse_transform(U_x)         # caption features from the image
    """

    def __init__(self, n_components: int = 2, solver: str = "svd", reg: float = 0.0,
                 balance: bool = True, max_iter: int = 500, tol: float = 1e-10,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.solver = solver
        self.reg = reg
        self.balance = balance
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: ArrayLike, Y: ArrayLike) -> MultimodalMF:
        """Fit on paired samples ``X`` (n, d_x) and ``Y`` (n, d_y); returns ``self``."""
        k = check_int("n_components", self.n_components, minimum=1)
        solver = check_choice("solver", self.solver, _MF_SOLVERS)
        reg = check_float("reg", self.reg, minimum=0.0)
        if not isinstance(self.balance, bool | np.bool_):
            raise TypeError(f"balance must be True or False, got {self.balance!r}.")
        max_iter = check_int("max_iter", self.max_iter, minimum=1)
        tol = check_float("tol", self.tol, minimum=0.0)
        seed = check_int("random_state", self.random_state, minimum=0)
        X, Y = _as_2d("X", X), _as_2d("Y", Y)
        n = X.shape[0]
        if Y.shape[0] != n:
            raise ValueError(f"X and Y must have the same number of samples (rows are paired), got "
                             f"X with {n} and Y with {Y.shape[0]}.")
        d_x, d_y = X.shape[1], Y.shape[1]
        limit = min(n, d_x + d_y)
        if k > limit:
            raise ValueError(f"n_components must be <= min(n_samples, d_x + d_y) = {limit} "
                             f"(n_samples={n}, d_x={d_x}, d_y={d_y}), got {k}.")
        self.mean_x_, self.mean_y_ = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - self.mean_x_, Y - self.mean_y_
        self.scale_x_, self.scale_y_ = (_rms_norm(Xc), _rms_norm(Yc)) if self.balance else (1.0,
                                                                                          1.0)
        Z = np.hstack([Xc / self.scale_x_, Yc / self.scale_y_])
        if solver == "svd":
            p, s, qt = np.linalg.svd(Z, full_matrices=False)
            u, w = p[:, :k] * np.maximum(s[:k] - reg, 0.0), qt[:k].T
            self.n_iter_ = 0
        else:
            u, w, self.n_iter_ = _als(Z, k, reg, max_iter, tol, seed)
        u, w = _pca_gauge(u, w)
        self._w, self.n_features_x_, self.n_features_y_ = w, d_x, d_y
        self.factors_ = u
        self.components_x_ = w[:d_x] * self.scale_x_
        self.components_y_ = w[d_x:] * self.scale_y_
        self.singular_values_ = np.linalg.svd(Z, compute_uv=False)[:k]
        self.reconstruction_error_ = float(np.sum((Z - u @ w.T) ** 2) / max(np.sum(Z**2), 1e-300))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "_w"):
            raise NotFittedError("This MultimodalMF instance is not fitted yet; call fit(X, Y) "
                                 "first.")

    def _scaled(self, name: str, value: ArrayLike) -> np.ndarray:
        arr = _as_2d(name, value)
        d = self.n_features_x_ if name == "X" else self.n_features_y_
        if arr.shape[1] != d:
            raise ValueError(f"{name} must have {d} features as in fit, got {arr.shape[1]}.")
        mean, scale = (self.mean_x_, self.scale_x_) if name == "X" else (self.mean_y_,
                                                                          self.scale_y_)
        return (arr - mean) / scale

    def _fold_in(self, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Factor of each row of ``z`` given loadings ``w``: the ALS ``U`` step, ridge ``reg``."""
        if self.reg > 0:
            return np.linalg.solve(w.T @ w + self.reg * np.eye(w.shape[1]), w.T @ z.T).T
        return z @ np.linalg.pinv(w.T)

    def transform(self, X: ArrayLike, Y: ArrayLike | None = None
                  ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Shared factors inferred from each modality *alone* (folded in).

        Args:
            X: ``(n, d_x)``.
            Y: ``(m, d_y)`` or ``None``.

        Returns:
            ``(U_x, U_y)``, shapes ``(n, k)`` and ``(m, k)``; only ``U_x`` when ``Y`` is None.
        """
        self._check_fitted()
        d_x = self.n_features_x_
        u_x = self._fold_in(self._scaled("X", X), self._w[:d_x])
        if Y is None:
            return u_x
        return u_x, self._fold_in(self._scaled("Y", Y), self._w[d_x:])

    def fit_transform(self, X: ArrayLike, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``fit(X, Y)`` then ``transform(X, Y)``; returns ``(U_x, U_y)``, each ``(n, k)``."""
        return self.fit(X, Y).transform(X, Y)

    def transform_joint(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """The shared factor ``(n, k)`` of samples seen in both modalities (the ALS ``U`` step)."""
        self._check_fitted()
        zx, zy = self._scaled("X", X), self._scaled("Y", Y)
        if zx.shape[0] != zy.shape[0]:
            raise ValueError(f"X and Y must have the same number of samples, got X with "
                             f"{zx.shape[0]} and Y with {zy.shape[0]}.")
        return self._fold_in(np.hstack([zx, zy]), self._w)

    def inverse_transform(self, U: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Both modalities reconstructed from shared factors ``U`` ``(n, k)``: ``(X_hat, Y_hat)``.

        ``inverse_transform(transform(X))[1]`` predicts ``Y`` from ``X`` through the shared
        factor (cross-modal prediction).
        """
        self._check_fitted()
        U = _as_2d("U", U)
        if U.shape[1] != self._w.shape[1]:
            raise ValueError(f"U must have n_components={self._w.shape[1]} columns, got "
                             f"{U.shape[1]}.")
        return (U @ self.components_x_.T + self.mean_x_, U @ self.components_y_.T + self.mean_y_)


def _rms_norm(block: np.ndarray) -> float:
    """Root-mean-square row norm ``||B||_F / sqrt(n)`` of a centred block (1.0 if it is zero)."""
    value = float(np.sqrt(np.sum(block**2) / block.shape[0]))
    return value if value > 0 else 1.0


def _als(Z: np.ndarray, k: int, reg: float, max_iter: int, tol: float, seed: int
         ) -> tuple[np.ndarray, np.ndarray, int]:
    """Alternating ridge least squares for ``min ||Z - U W'||^2 + reg (||U||^2 + ||W||^2)``.

    Two products with ``Z`` per iteration; the objective comes from ``k x k`` matrices:
    ``||Z - U W'||^2 = ||Z||^2 - 2 tr(W' Z'U) + tr(U'U W'W)``.
    """
    w = np.random.default_rng(seed).standard_normal((Z.shape[1], k)) / np.sqrt(Z.shape[1])
    eye, z_norm2, previous, it = np.eye(k), float(np.sum(Z**2)), np.inf, 0
    for it in range(1, max_iter + 1):  # noqa: B007  (the count is returned)
        u = np.linalg.solve(w.T @ w + reg * eye, (Z @ w).T).T
        ztu, utu = Z.T @ u, u.T @ u
        w = np.linalg.solve(utu + reg * eye, ztu.T).T
        objective = (z_norm2 - 2.0 * np.sum(ztu * w) + np.sum(utu * (w.T @ w))
                     + reg * (np.trace(utu) + np.sum(w**2)))
        if previous - objective <= tol * max(objective, 1e-300):
            break
        previous = objective
    return u, w, it


def _pca_gauge(u: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express the product ``u w'`` as scores ``u'`` and orthonormal loadings ``w'``.

    With ``u = Q_u R_u`` and ``w = Q_w R_w`` (QR), the SVD ``R_u R_w' = A S B'`` gives
    ``u w' = (Q_u A S)(Q_w B)'``; columns are ordered by ``S`` and signed so that the
    largest-magnitude entry of each column of ``w'`` is positive.
    """
    q_u, r_u = np.linalg.qr(u)
    q_w, r_w = np.linalg.qr(w)
    a, s, bt = np.linalg.svd(r_u @ r_w.T)
    u, w = q_u @ a * s, q_w @ bt.T
    signs = np.sign(w[np.argmax(np.abs(w), axis=0), np.arange(w.shape[1])])
    signs[signs == 0] = 1.0
    return u * signs, w * signs


# --------------------------------------------------------------------------------------------
# Deep CCA
# --------------------------------------------------------------------------------------------


def _inv_sqrt_sym(matrix: Any, eps: float) -> Any:
    """Differentiable inverse square root of a symmetric positive-definite tensor (d, d)."""
    eigval, eigvec = ops.eigh(matrix)
    eigval = ops.maximum(eigval, eps)
    return ops.matmul(eigvec * ops.expand_dims(ops.rsqrt(eigval), 0), ops.transpose(eigvec))


def dcca_loss(z_a: Any, z_b: Any, n_components: int | None = None, r1: float = 1e-3,
              r2: float = 1e-3, eps: float = 1e-12) -> Any:
    """Deep CCA loss: minus the sum of canonical correlations between two embedding batches.

    With centred embeddings ``H_a`` (batch, d_a), ``H_b`` (batch, d_b) and ``m`` = batch::

        S_aa = H_a'H_a / (m - 1) + r1 I,   S_bb = H_b'H_b / (m - 1) + r2 I
        S_ab = H_a'H_b / (m - 1)
        T = S_aa^{-1/2} S_ab S_bb^{-1/2}
        loss = -(sum of the top ``n_components`` singular values of T)
             = -||T||_tr (trace norm)            when n_components is None (all of them)

    The singular values are computed as square roots of the eigenvalues of ``T T'`` (or ``T'T``,
    whichever is smaller), inverse square roots by ``eigh``; everything is ``keras.ops`` so
    gradients flow to both towers. The computation runs in float64 for stability and the result
    is cast back to the input dtype. Use batches much larger than ``d_a + d_b``: the covariances
    are estimated per batch.

    Reference: G. Andrew, R. Arora, J. Bilmes, K. Livescu (2013), "Deep Canonical Correlation
    Analysis", *ICML*.

    Args:
        z_a: ``(batch, d_a)`` embeddings of modality A.
        z_b: ``(batch, d_b)`` embeddings of modality B (row i paired with row i of ``z_a``).
        n_components: number of top correlations to sum, ``1 <= k <= min(d_a, d_b)``; ``None``
            sums all ``min(d_a, d_b)``.
        r1, r2: ridge ``>= 0`` added to the diagonal of ``S_aa`` and ``S_bb``.
        eps: floor for eigenvalues before square roots.

    Returns:
        Scalar tensor, ``>= -min(d_a, d_b)``.
    """
    r1 = check_float("r1", r1, minimum=0.0)
    r2 = check_float("r2", r2, minimum=0.0)
    eps = check_float("eps", eps, minimum=0.0, include_min=False)
    z_a, z_b = _check_pair(z_a, z_b, min_batch=2)  # covariances divide by batch - 1
    out_dtype = z_a.dtype
    d_a, d_b = z_a.shape[1], z_b.shape[1]
    if d_a is None or d_b is None:
        raise ValueError(f"dcca_loss needs static embedding sizes, got shapes {tuple(z_a.shape)} "
                         f"and {tuple(z_b.shape)}.")
    d_min = min(d_a, d_b)
    k = d_min if n_components is None else check_int("n_components", n_components, minimum=1,
                                                     maximum=d_min)
    h_a, h_b = ops.cast(z_a, "float64"), ops.cast(z_b, "float64")
    h_a = h_a - ops.mean(h_a, axis=0, keepdims=True)
    h_b = h_b - ops.mean(h_b, axis=0, keepdims=True)
    m1 = ops.cast(ops.shape(h_a)[0], "float64") - 1.0
    s_aa = ops.matmul(ops.transpose(h_a), h_a) / m1 + r1 * ops.eye(d_a, dtype="float64")
    s_bb = ops.matmul(ops.transpose(h_b), h_b) / m1 + r2 * ops.eye(d_b, dtype="float64")
    s_ab = ops.matmul(ops.transpose(h_a), h_b) / m1
    t = ops.matmul(ops.matmul(_inv_sqrt_sym(s_aa, eps), s_ab), _inv_sqrt_sym(s_bb, eps))
    gram = ops.matmul(t, ops.transpose(t)) if d_a <= d_b else ops.matmul(ops.transpose(t), t)
    gram = 0.5 * (gram + ops.transpose(gram))  # exact symmetry for eigh
    singular = ops.sqrt(ops.maximum(ops.eigh(gram)[0], eps))
    total = ops.sum(singular) if k == d_min else ops.sum(ops.top_k(singular, k)[0])
    return ops.cast(-total, out_dtype)


@keras.saving.register_keras_serializable(package=_PKG)
class DeepCCALoss(keras.losses.Loss):
    """Deep CCA as a ``keras.losses.Loss`` for a two-tower model with concatenated outputs.

    A Keras loss sees one ``y_pred``; the clearest way to feed it two embeddings is to make the
    model output ``concatenate([z_a, z_b])`` of shape ``(batch, d_a + d_b)`` and tell the loss
    where to split (``dim_a``). ``y_true`` is ignored (CCA is self-supervised): pass any array
    with the right number of rows, e.g. ``np.zeros((n, 1))``::

        za = tower_a(in_a)                  # (batch, d_a)
        zb = tower_b(in_b)                  # (batch, d_b)
        model = keras.Model([in_a, in_b], keras.layers.Concatenate()([za, zb]))
        model.compile("adam", loss=DeepCCALoss(dim_a=d_a))
        model.fit([x_a, x_b], np.zeros((n, 1)), batch_size=256)

    Use large batches (the loss estimates covariances per batch). See :func:`dcca_loss` for the
    formula. Reference: Andrew, Arora, Bilmes, Livescu (2013), "Deep Canonical Correlation
    Analysis", *ICML*.

    Args:
        dim_a: number of leading columns of ``y_pred`` that belong to modality A.
        n_components: top correlations to sum (``None`` = all, the trace norm).
        r1, r2: covariance ridges.
    """

    def __init__(self, dim_a: int, n_components: int | None = None, r1: float = 1e-3,
                 r2: float = 1e-3, name: str = "deep_cca_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.dim_a = check_int("dim_a", dim_a, minimum=1)
        self.n_components = (None if n_components is None
                             else check_int("n_components", n_components, minimum=1))
        self.r1 = check_float("r1", r1, minimum=0.0)
        self.r2 = check_float("r2", r2, minimum=0.0)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Split ``y_pred`` (batch, dim_a + d_b) and return the scalar DCCA loss."""
        d = y_pred.shape[-1]
        if d is not None and d <= self.dim_a:
            raise ValueError(f"y_pred must have more than dim_a={self.dim_a} columns "
                             f"(concatenated [z_a, z_b]), got {d}.")
        return dcca_loss(y_pred[:, : self.dim_a], y_pred[:, self.dim_a:],
                         n_components=self.n_components, r1=self.r1, r2=self.r2)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(dim_a=self.dim_a, n_components=self.n_components, r1=self.r1, r2=self.r2)
        return config


# --------------------------------------------------------------------------------------------
# Contrastive losses
# --------------------------------------------------------------------------------------------


def clip_loss(z_a: Any, z_b: Any, logit_scale: Any = 1.0 / 0.07,
              max_logit_scale: float = 100.0) -> Any:
    """CLIP's symmetric InfoNCE loss on a batch of paired embeddings.

    Both batches are L2-normalised; ``logits = s * z_a z_b'`` (batch, batch) with
    ``s = min(logit_scale, max_logit_scale)``; row i's correct "class" is column i. The loss is
    the mean of the A→B cross-entropy (softmax over each row) and the B→A cross-entropy (softmax
    over each column). Every other item in the batch serves as a negative.

    Reference: A. Radford et al. (2021), "Learning Transferable Visual Models From Natural
    Language Supervision", *ICML* (CLIP); the InfoNCE objective is from A. van den Oord, Y. Li,
    O. Vinyals (2018), "Representation Learning with Contrastive Predictive Coding", arXiv.

    Args:
        z_a: ``(batch, d)`` embeddings of modality A (e.g. images).
        z_b: ``(batch, d)`` embeddings of modality B (e.g. texts), row i paired with row i.
        logit_scale: inverse temperature ``1/tau`` (> 0); a Python number or a scalar tensor
            (e.g. ``exp`` of a learnable weight, see :class:`CLIPLoss`). CLIP starts at 1/0.07.
        max_logit_scale: cap on the scale (100 in CLIP).

    Returns:
        Scalar tensor.
    """
    z_a, z_b = _check_pair(z_a, z_b, same_dim=_COSINE)
    logit_scale = _scalar_or_tensor("logit_scale", logit_scale, positive=True)
    max_logit_scale = check_float("max_logit_scale", max_logit_scale, minimum=0.0,
                                  include_min=False)
    scale = ops.minimum(ops.cast(logit_scale, z_a.dtype), max_logit_scale)
    return _symmetric_infonce(z_a, z_b, scale)


def _symmetric_infonce(z_a: Any, z_b: Any, scale: Any) -> Any:
    """Core of :func:`clip_loss` for validated inputs and a ready scale (no cap applied)."""
    logits = scale * ops.matmul(_l2_normalize(z_a), ops.transpose(_l2_normalize(z_b)))
    loss_a2b = -ops.mean(ops.diagonal(ops.log_softmax(logits, axis=1)))
    loss_b2a = -ops.mean(ops.diagonal(ops.log_softmax(logits, axis=0)))
    return 0.5 * (loss_a2b + loss_b2a)


def siglip_loss(z_a: Any, z_b: Any, logit_scale: Any = 10.0, logit_bias: Any = -10.0) -> Any:
    """SigLIP's pairwise sigmoid loss on a batch of paired embeddings.

    Every (i, j) pair is an independent binary classification — positive when ``i == j`` —
    so no softmax over the batch is needed::

        logits_ij = t * <z_a_i, z_b_j> + b          (L2-normalised embeddings)
        loss = -(1 / batch) * sum_ij log sigmoid(label_ij * logits_ij),  label = +1 / -1

    i.e. the label multiplies the whole logit, bias included: a positive pair wants
    ``t * cos + b`` large, a negative pair wants it very negative. The negative bias ``b`` (−10
    at initialisation) makes every pair start out predicted "negative", the right prior when only
    ``batch`` of the ``batch²`` pairs are positive. This is the paper's Algorithm 1 and its
    reference code (big_vision: ``logits = z_img @ z_txt.T * t + b``, ``labels = 2 I - 1``);
    written as ``log sigmoid(z_ij * (-t x·y + b))`` the signs would be wrong (a positive pair
    would be pushed apart).

    Reference: X. Zhai, B. Mustafa, A. Kolesnikov, L. Beyer (2023), "Sigmoid Loss for Language
    Image Pre-Training", *ICCV* (SigLIP).

    Args:
        z_a: ``(batch, d)``; z_b: ``(batch, d)``, row i paired with row i.
        logit_scale: ``t > 0`` (number or scalar tensor); SigLIP initialises ``log t = log 10``.
        logit_bias: ``b`` (number or scalar tensor); SigLIP initialises −10.

    Returns:
        Scalar tensor.
    """
    z_a, z_b = _check_pair(z_a, z_b, same_dim=_COSINE)
    logit_scale = _scalar_or_tensor("logit_scale", logit_scale, positive=True)
    logit_bias = _scalar_or_tensor("logit_bias", logit_bias, positive=False)
    cos = ops.matmul(_l2_normalize(z_a), ops.transpose(_l2_normalize(z_b)))
    logits = ops.cast(logit_scale, z_a.dtype) * cos + ops.cast(logit_bias, z_a.dtype)
    n = ops.shape(cos)[0]
    labels = 2.0 * ops.eye(n, dtype=z_a.dtype) - 1.0
    return -ops.sum(ops.log_sigmoid(labels * logits)) / ops.cast(n, z_a.dtype)


# --------------------------------------------------------------------------------------------
# Distribution matching: maximum mean discrepancy
# --------------------------------------------------------------------------------------------

MMD_BANDWIDTHS: tuple[float, ...] = (0.5, 1.0, 2.0)
"""Default Gaussian-kernel bandwidths of :func:`mmd2`, suited to L2-normalised embeddings (pair
distances in [0, 2])."""


def _bandwidths(value: Any) -> tuple[float, ...]:
    """``value`` (a positive number or a non-empty sequence of them) as a tuple of floats."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"bandwidths must be a positive number or a sequence of positive numbers, "
                        f"got {value!r}.")
    out = tuple(check_float("bandwidths", b, minimum=0.0, include_min=False) for b in value)
    if not out:
        raise ValueError("bandwidths must hold at least one bandwidth, got an empty sequence.")
    return out


def mmd2(z_a: Any, z_b: Any, bandwidths: float | Sequence[float] = MMD_BANDWIDTHS,
         unbiased: bool = False) -> Any:
    """Squared maximum mean discrepancy between two samples, with a sum of Gaussian kernels.

    MMD measures how far apart two *distributions* are from samples of each — here the
    embeddings of modality A and of modality B — without pairing them. With the kernel
    ``k(x, y) = sum_s exp(-||x - y||^2 / (2 sigma_s^2))`` (one Gaussian per bandwidth
    ``sigma_s``, the multi-kernel form of DAN), the biased estimator (a V-statistic) is::

        MMD^2 = mean_ij k(a_i, a_j) + mean_ij k(b_i, b_j) - 2 mean_ij k(a_i, b_j)

    and the unbiased one (a U-statistic) leaves the ``i = j`` terms out of the first two means.
    MMD is 0 when the two distributions are equal (the Gaussian kernel is characteristic) and
    grows as they separate; as a loss it pulls the two clouds of embeddings onto each other.
    Written in ``keras.ops``, so gradients flow to both inputs.

    References: A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf, A. Smola (2012), "A Kernel
    Two-Sample Test", *JMLR* 13; M. Long, Y. Cao, J. Wang, M. I. Jordan (2015), "Learning
    Transferable Features with Deep Adaptation Networks", *ICML*.

    Args:
        z_a: ``(n_a, d)`` samples of modality A.
        z_b: ``(n_b, d)`` samples of modality B (``n_b`` may differ from ``n_a``).
        bandwidths: one ``sigma > 0`` or a sequence of them (default :data:`MMD_BANDWIDTHS`).
        unbiased: use the unbiased estimator (needs ``n_a, n_b >= 2``; can be slightly < 0).

    Returns:
        Scalar tensor (float64 for float64 inputs, else float32).
    """
    sigmas = _bandwidths(bandwidths)
    if not isinstance(unbiased, bool | np.bool_):
        raise TypeError(f"unbiased must be True or False, got {unbiased!r}.")
    z_a, z_b = _float_tensor("z_a", z_a), _float_tensor("z_b", z_b)
    if len(z_a.shape) != 2 or len(z_b.shape) != 2:
        raise ValueError(f"z_a and z_b must be 2-D (samples, dim) tensors, got shapes "
                         f"{tuple(z_a.shape)} and {tuple(z_b.shape)}.")
    if None not in (z_a.shape[1], z_b.shape[1]) and z_a.shape[1] != z_b.shape[1]:
        raise ValueError(f"z_a and z_b must have the same number of features (points of one "
                         f"space), got {z_a.shape[1]} and {z_b.shape[1]}.")
    least = 2 if unbiased else 1
    for name, z in (("z_a", z_a), ("z_b", z_b)):
        if z.shape[0] is not None and z.shape[0] < least:
            raise ValueError(f"{name} must hold at least {least} sample(s)"
                             f"{' for the unbiased estimator' if unbiased else ''}, got "
                             f"{z.shape[0]}.")
    if z_a.dtype != z_b.dtype:
        z_b = ops.cast(z_b, z_a.dtype)

    def kernel_mean(p: Any, q: Any, drop_diagonal: bool) -> Any:
        sq = (ops.sum(ops.square(p), axis=1)[:, None] + ops.sum(ops.square(q), axis=1)[None, :]
              - 2.0 * ops.matmul(p, ops.transpose(q)))
        sq = ops.maximum(sq, 0.0)
        k = sum(ops.exp(-sq / (2.0 * s * s)) for s in sigmas)
        n_p, n_q = ops.cast(ops.shape(p)[0], k.dtype), ops.cast(ops.shape(q)[0], k.dtype)
        if drop_diagonal:  # the i = j terms are k(x, x) = len(sigmas) exactly
            return (ops.sum(k) - len(sigmas) * n_p) / (n_p * (n_p - 1.0))
        return ops.sum(k) / (n_p * n_q)

    return (kernel_mean(z_a, z_a, unbiased) + kernel_mean(z_b, z_b, unbiased)
            - 2.0 * kernel_mean(z_a, z_b, False))


@keras.saving.register_keras_serializable(package=_PKG)
class _UpperBound(keras.constraints.Constraint):
    """Weight constraint ``w <- min(w, max_value)``, applied by the optimizer after each step."""

    def __init__(self, max_value: float) -> None:
        self.max_value = float(max_value)

    def __call__(self, w: Any) -> Any:
        return ops.minimum(w, ops.cast(self.max_value, w.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value}


class _LearnableTemperature(keras.layers.Layer):
    """Shared part of :class:`CLIPLoss` and :class:`SigLIPLoss`: the scalar ``log_logit_scale``.

    Both losses multiply cosine similarities by a scale ``t = exp(log_logit_scale)`` learned in
    the log domain (so it stays positive); the layer returns a scalar loss for ``(z_a, z_b)``.
    """

    def __init__(self, init_logit_scale: float, learnable: bool,
                 constraint: keras.constraints.Constraint | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_logit_scale = check_float("init_logit_scale", init_logit_scale, minimum=0.0,
                                            include_min=False)
        self.learnable = bool(learnable)
        self.log_logit_scale = self.add_weight(
            shape=(), name="log_logit_scale", trainable=self.learnable,
            initializer=keras.initializers.Constant(math.log(self.init_logit_scale)),
            constraint=constraint)
        self.built = True

    def compute_output_shape(self, z_a_shape: Any, z_b_shape: Any) -> tuple:
        return ()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(init_logit_scale=self.init_logit_scale, learnable=self.learnable)
        return config


@keras.saving.register_keras_serializable(package=_PKG)
class CLIPLoss(_LearnableTemperature):
    """CLIP loss with a learnable temperature, as a layer that owns the weight.

    A ``keras.losses.Loss`` cannot hold trainable weights, so the learnable temperature lives in
    this layer: ``log_logit_scale`` is a scalar weight initialised at ``log(1/0.07)`` and capped
    at ``log(max_logit_scale)`` (= log 100) by a constraint applied after every optimizer step,
    as in CLIP; the forward pass also clips the scale, so a value set by hand cannot exceed the
    cap. ``layer(z_a, z_b)`` returns the scalar :func:`clip_loss`. Use it inside a model's
    ``compute_loss`` or with ``add_loss``, or simply through :class:`DualEncoder`.

    Reference: Radford et al. (2021), "Learning Transferable Visual Models From Natural Language
    Supervision", *ICML*.

    Args:
        init_logit_scale: initial ``1/tau`` (default ``1/0.07`` ≈ 14.3).
        max_logit_scale: cap on the scale (default 100).
        learnable: train the temperature (``True``) or keep it fixed.

    Call args:
        z_a: ``(batch, d)``; z_b: ``(batch, d)``.
    """

    def __init__(self, init_logit_scale: float = 1.0 / 0.07, max_logit_scale: float = 100.0,
                 learnable: bool = True, **kwargs: Any) -> None:
        max_logit_scale = check_float("max_logit_scale", max_logit_scale, minimum=0.0,
                                      include_min=False)
        init = check_float("init_logit_scale", init_logit_scale, minimum=0.0, include_min=False)
        if init > max_logit_scale:
            raise ValueError(f"init_logit_scale must be <= max_logit_scale={max_logit_scale}, "
                             f"got {init}.")
        super().__init__(init, learnable, constraint=_UpperBound(math.log(max_logit_scale)),
                         **kwargs)
        self.max_logit_scale = max_logit_scale

    @property
    def logit_scale(self) -> float:
        """Current effective scale ``min(exp(log_logit_scale), max_logit_scale)``."""
        return min(math.exp(float(ops.convert_to_numpy(self.log_logit_scale))),
                   self.max_logit_scale)

    def call(self, z_a: Any, z_b: Any) -> Any:
        z_a, z_b = _check_pair(z_a, z_b, same_dim=_COSINE)
        # Cap in the log domain: at exactly the cap the gradient still reaches the weight (the
        # first argument of a tie in `minimum`), so the scale can move back down if the loss
        # asks for it; capping after `exp` would freeze it there.
        log_cap = ops.cast(math.log(self.max_logit_scale), self.log_logit_scale.dtype)
        scale = ops.exp(ops.minimum(self.log_logit_scale, log_cap))
        return _symmetric_infonce(z_a, z_b, ops.cast(scale, z_a.dtype))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(max_logit_scale=self.max_logit_scale)
        return config


@keras.saving.register_keras_serializable(package=_PKG)
class SigLIPLoss(_LearnableTemperature):
    """SigLIP loss with learnable temperature ``t`` and bias ``b``, as a layer owning them.

    Weights: ``log_logit_scale`` (initialised ``log 10``) and ``logit_bias`` (initialised −10),
    exactly as in the paper. ``layer(z_a, z_b)`` returns the scalar :func:`siglip_loss`.

    Reference: Zhai, Mustafa, Kolesnikov, Beyer (2023), "Sigmoid Loss for Language Image
    Pre-Training", *ICCV*.

    Args:
        init_logit_scale: initial ``t`` (default 10).
        init_logit_bias: initial ``b`` (default −10).
        learnable: train ``t`` and ``b`` (``True``) or keep them fixed.

    Call args:
        z_a: ``(batch, d)``; z_b: ``(batch, d)``.
    """

    def __init__(self, init_logit_scale: float = 10.0, init_logit_bias: float = -10.0,
                 learnable: bool = True, **kwargs: Any) -> None:
        init_logit_bias = check_float("init_logit_bias", init_logit_bias)
        super().__init__(init_logit_scale, learnable, **kwargs)
        self.init_logit_bias = init_logit_bias
        self.logit_bias = self.add_weight(
            shape=(), name="logit_bias", trainable=self.learnable,
            initializer=keras.initializers.Constant(self.init_logit_bias))

    @property
    def logit_scale(self) -> float:
        """Current ``t = exp(log_logit_scale)``."""
        return math.exp(float(ops.convert_to_numpy(self.log_logit_scale)))

    def call(self, z_a: Any, z_b: Any) -> Any:
        return siglip_loss(z_a, z_b, ops.exp(self.log_logit_scale), self.logit_bias)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(init_logit_bias=self.init_logit_bias)
        return config


@keras.saving.register_keras_serializable(package=_PKG)
class DualEncoder(keras.Model):
    """Two-tower (dual-encoder) model trained contrastively with ``model.fit``.

    ``encoder_a`` maps modality-A inputs to ``(batch, d)``, ``encoder_b`` modality-B inputs to
    ``(batch, d)`` (same ``d``). Calling the model on ``(x_a, x_b)`` returns the two
    L2-normalised embeddings. Training overrides ``compute_loss`` (the Keras 3 hook used by the
    built-in ``train_step``) to apply the CLIP or SigLIP loss to each batch of pairs, plus any
    regularisation losses of the encoders. The learnable temperature (and SigLIP's bias) are
    weights of the ``contrastive`` sub-layer, so they are trained and saved with the model.

    Usage::

        model = DualEncoder(image_encoder, text_encoder, loss="clip")
        model.compile(optimizer=keras.optimizers.Adam(1e-3))      # no loss argument
        model.fit((x_img, x_txt), batch_size=128, epochs=10)       # pairs: row i <-> row i
        sim = model.similarity(x_img_test, x_txt_test)            # (n_a, n_b) cosine
        retrieval_metrics(sim)

    With a ``tf.data.Dataset`` yield ``((x_a, x_b),)`` — a 1-tuple — so Keras does not mistake
    ``x_b`` for targets. Batch size matters: every other pair in the batch is a negative.

    References: Radford et al. (2021), CLIP, *ICML*; Zhai et al. (2023), SigLIP, *ICCV*.

    Args:
        encoder_a, encoder_b: Keras models/layers producing ``(batch, d)`` embeddings.
        loss: ``"clip"`` or ``"siglip"``.
        init_logit_scale: initial scale ``1/tau``; ``None`` uses the paper default (1/0.07 for
            CLIP, 10 for SigLIP).
        init_logit_bias: initial SigLIP bias (ignored for CLIP).
        max_logit_scale: cap on CLIP's scale (ignored for SigLIP).
        learn_temperature: train the temperature (and bias).
        mmd_weight: weight ``>= 0`` of a distribution-matching term ``mmd_weight * MMD^2(z_a,
            z_b)`` (:func:`mmd2`) added to the contrastive loss of each batch; 0 (default) = none.
            See :class:`SharedHeadEncoder` (the transferability constraint).
        mmd_bandwidths: Gaussian-kernel bandwidths of that term.
    """

    def __init__(self, encoder_a: keras.layers.Layer, encoder_b: keras.layers.Layer,
                 loss: str = "clip", init_logit_scale: float | None = None,
                 init_logit_bias: float = -10.0, max_logit_scale: float = 100.0,
                 learn_temperature: bool = True, mmd_weight: float = 0.0,
                 mmd_bandwidths: float | Sequence[float] = MMD_BANDWIDTHS,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mmd_weight = check_float("mmd_weight", mmd_weight, minimum=0.0)
        self.mmd_bandwidths = _bandwidths(mmd_bandwidths)
        for name, enc in (("encoder_a", encoder_a), ("encoder_b", encoder_b)):
            if not isinstance(enc, keras.layers.Layer):
                raise TypeError(f"{name} must be a keras Layer or Model, got "
                                f"{type(enc).__name__}.")
        self.loss_type = check_choice("loss", loss, ["clip", "siglip"])
        self.encoder_a, self.encoder_b = encoder_a, encoder_b
        self.init_logit_scale = (None if init_logit_scale is None else check_float(
            "init_logit_scale", init_logit_scale, minimum=0.0, include_min=False))
        self.init_logit_bias = check_float("init_logit_bias", init_logit_bias)
        self.max_logit_scale = check_float("max_logit_scale", max_logit_scale, minimum=0.0,
                                           include_min=False)
        self.learn_temperature = bool(learn_temperature)
        if self.loss_type == "clip":
            self.contrastive = CLIPLoss(
                init_logit_scale=1.0 / 0.07 if init_logit_scale is None else init_logit_scale,
                max_logit_scale=max_logit_scale, learnable=learn_temperature, name="clip_loss")
        else:
            self.contrastive = SigLIPLoss(
                init_logit_scale=10.0 if init_logit_scale is None else init_logit_scale,
                init_logit_bias=init_logit_bias, learnable=learn_temperature,
                name="siglip_loss")

    @staticmethod
    def _split(inputs: Any) -> tuple[Any, Any]:
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            length = f" of length {len(inputs)}" if hasattr(inputs, "__len__") else ""
            raise ValueError(f"DualEncoder inputs must be a pair (x_a, x_b), got "
                             f"{type(inputs).__name__}{length}.")
        return inputs[0], inputs[1]

    def call(self, inputs: Any, training: bool | None = None) -> tuple[Any, Any]:
        """``(x_a, x_b)`` → ``(z_a, z_b)``, each L2-normalised ``(batch, d)``."""
        x_a, x_b = self._split(inputs)
        z_a = _l2_normalize(self.encoder_a(x_a, training=training))
        z_b = _l2_normalize(self.encoder_b(x_b, training=training))
        return z_a, z_b

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Any:
        """Contrastive loss of the batch, plus ``mmd_weight * MMD^2`` if set (``y`` and
        ``sample_weight`` are ignored)."""
        z_a, z_b = y_pred
        loss = self.contrastive(z_a, z_b)
        if self.mmd_weight > 0:
            loss = loss + ops.cast(self.mmd_weight * mmd2(z_a, z_b, self.mmd_bandwidths),
                                   loss.dtype)
        for extra in self.losses:
            loss = loss + ops.cast(ops.sum(extra), loss.dtype)
        return loss

    @property
    def logit_scale(self) -> float:
        """Current scale ``1/tau`` (capped for CLIP)."""
        return self.contrastive.logit_scale

    @property
    def logit_bias(self) -> float | None:
        """Current SigLIP bias, or ``None`` for CLIP."""
        if self.loss_type != "siglip":
            return None
        return float(ops.convert_to_numpy(self.contrastive.logit_bias))

    @staticmethod
    def _embed(encoder: keras.layers.Layer, x: Any, batch_size: int) -> np.ndarray:
        """Run ``encoder`` in inference mode over arrays (or a nest of arrays) in batches."""
        batch_size = check_int("batch_size", batch_size, minimum=1)
        leaves = keras.tree.flatten(x)
        if not leaves or not all(hasattr(leaf, "shape") for leaf in leaves):
            # e.g. a tf.data.Dataset: let Keras iterate it
            z = encoder.predict(x, batch_size=batch_size, verbose=0)
        else:
            n = int(leaves[0].shape[0])
            parts = [ops.convert_to_numpy(encoder(
                keras.tree.map_structure(lambda a, s=start: a[s:s + batch_size], x),
                training=False)) for start in range(0, n, batch_size)]
            z = np.concatenate(parts, axis=0)
        z = np.asarray(z, dtype=np.float64)
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def encode_a(self, x_a: Any, batch_size: int = 256) -> np.ndarray:
        """L2-normalised modality-A embeddings ``(n, d)`` (numpy), computed in batches."""
        return self._embed(self.encoder_a, x_a, batch_size)

    def encode_b(self, x_b: Any, batch_size: int = 256) -> np.ndarray:
        """L2-normalised modality-B embeddings ``(n, d)`` (numpy), computed in batches."""
        return self._embed(self.encoder_b, x_b, batch_size)

    def similarity(self, x_a: Any, x_b: Any, batch_size: int = 256) -> np.ndarray:
        """Cosine-similarity matrix ``(n_a, n_b)`` between encoded ``x_a`` and ``x_b``.

        Feed it to :func:`retrieval_metrics` (when ``n_a == n_b`` and row i matches column i).
        """
        return self.encode_a(x_a, batch_size) @ self.encode_b(x_b, batch_size).T

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            encoder_a=keras.saving.serialize_keras_object(self.encoder_a),
            encoder_b=keras.saving.serialize_keras_object(self.encoder_b),
            loss=self.loss_type, init_logit_scale=self.init_logit_scale,
            init_logit_bias=self.init_logit_bias, max_logit_scale=self.max_logit_scale,
            learn_temperature=self.learn_temperature, mmd_weight=self.mmd_weight,
            mmd_bandwidths=list(self.mmd_bandwidths))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DualEncoder:
        config = dict(config)
        config["encoder_a"] = keras.saving.deserialize_keras_object(config["encoder_a"])
        config["encoder_b"] = keras.saving.deserialize_keras_object(config["encoder_b"])
        return cls(**config)


@keras.saving.register_keras_serializable(package=_PKG)
class SharedHeadEncoder(DualEncoder):
    """The transferability constraint (可迁移性约束): one shared projection head, matched by MMD.

    Each modality has its own small *adapter* (its features differ in kind and size), and both
    then pass through **the same** projection head — one set of weights — into the shared
    space::

        z_a = normalize(head(adapter_a(x_a))),     z_b = normalize(head(adapter_b(x_b)))
        loss = L_pair(z_a, z_b) + mmd_weight * MMD^2(z_a, z_b)

    ``L_pair`` is the CLIP (InfoNCE) or SigLIP loss of :class:`DualEncoder` (it ties each
    sample's two views together); the distribution-matching term :func:`mmd2` (Gaussian
    kernels, bandwidths ``mmd_bandwidths``) pulls the whole cloud of A embeddings onto the cloud
    of B embeddings, so that nothing in the shared space tells the modalities apart and a model
    trained on one modality's embeddings transfers to the other's — the idea of deep adaptation
    networks (DAN), with the two modalities in the place of two domains.

    The head must accept the adapters' output (both adapters end in the same width). Training,
    encoding and similarity are those of :class:`DualEncoder`; saving keeps the head shared.

    References: M. Long, Y. Cao, J. Wang, M. I. Jordan (2015), "Learning Transferable Features
    with Deep Adaptation Networks", *ICML*; A. Gretton et al. (2012), "A Kernel Two-Sample
    Test", *JMLR* 13; Radford et al. (2021), CLIP, *ICML*.

    Args:
        adapter_a, adapter_b: Keras layers/models mapping each modality to ``(batch, h)``.
        head: the shared Keras layer/model ``(batch, h) -> (batch, d)``.
        loss: ``"clip"`` or ``"siglip"`` (the pairing term).
        mmd_weight: weight ``>= 0`` of the MMD term (0 = a shared head without matching).
        mmd_bandwidths: the Gaussian-kernel bandwidths.
        **kwargs: the remaining :class:`DualEncoder` arguments (temperature, bias, name).
    """

    def __init__(self, adapter_a: keras.layers.Layer, adapter_b: keras.layers.Layer,
                 head: keras.layers.Layer, loss: str = "clip", mmd_weight: float = 1.0,
                 mmd_bandwidths: float | Sequence[float] = MMD_BANDWIDTHS,
                 **kwargs: Any) -> None:
        for name, layer in (("adapter_a", adapter_a), ("adapter_b", adapter_b), ("head", head)):
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(f"{name} must be a keras Layer or Model, got "
                                f"{type(layer).__name__}.")
        super().__init__(keras.Sequential([adapter_a, head], name="tower_a"),
                         keras.Sequential([adapter_b, head], name="tower_b"), loss=loss,
                         mmd_weight=mmd_weight, mmd_bandwidths=mmd_bandwidths, **kwargs)
        self.adapter_a, self.adapter_b, self.head = adapter_a, adapter_b, head

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["encoder_a"], config["encoder_b"]
        for name in ("adapter_a", "adapter_b", "head"):
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SharedHeadEncoder:
        config = dict(config)
        for name in ("adapter_a", "adapter_b", "head"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


# --------------------------------------------------------------------------------------------
# Cross-modal attention
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=_PKG)
class CrossModalAttention(keras.layers.Layer):
    """Multi-head attention from one modality's tokens (queries) to another's (keys/values).

    Example uses: caption words attending to image regions (word ↔ region), video frames
    attending to audio windows (frame ↔ audio window). Returns the attention weights next to the
    output so they can be plotted as a heat map (query tokens × key tokens)::

        Q = query W_q,  K = key_value W_k,  V = key_value W_v        (split into heads)
        A = softmax(Q K' / sqrt(key_dim))      over keys, masked keys excluded
        output = concat_heads(A V) W_o

    A key padding mask ``(batch, T_k)`` (True/1 = real key, False/0 = padding) gives padded keys
    exactly zero weight; a query whose keys are all masked gets all-zero weights (and output equal
    to the output bias). Dropout (if any) is applied to the weights used for the output; the
    returned weights are the pre-dropout ones.

    Reference: A. Vaswani et al. (2017), "Attention Is All You Need", *NeurIPS*; cross-modal use
    e.g. Y.-H. H. Tsai et al. (2019), "Multimodal Transformer for Unaligned Multimodal Language
    Sequences", *ACL*.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's query/key/value projection.
        output_dim: size of the output features; ``None`` = the query feature size ``d_q``.
        dropout: dropout rate on the attention weights during training, in [0, 1).
        use_bias: add biases to the projections.
        seed: seed for the weight initialisers and the dropout.

    Call args:
        query: ``(batch, T_q, d_q)``.
        key_value: ``(batch, T_k, d_k)``.
        key_mask: optional ``(batch, T_k)`` bool/0-1 mask of valid keys.
        training: enables dropout.

    Returns:
        ``(output, weights)``: ``(batch, T_q, output_dim)`` and ``(batch, num_heads, T_q, T_k)``;
        weights sum to 1 over the last axis (except fully masked rows, which are 0).
    """

    def __init__(self, num_heads: int = 1, key_dim: int = 32, output_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.key_dim = check_int("key_dim", key_dim, minimum=1)
        self.output_dim = None if output_dim is None else check_int("output_dim", output_dim,
                                                                    minimum=1)
        self.dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0,
                                   include_max=False)
        self.use_bias = bool(use_bias)
        self.seed = None if seed is None else check_int("seed", seed)
        self._dropout_seed = keras.random.SeedGenerator(self.seed) if self.dropout > 0 else None

    def _init(self, offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(
            seed=None if self.seed is None else self.seed + offset)

    def build(self, query_shape: Any, key_value_shape: Any, key_mask_shape: Any = None) -> None:
        if len(query_shape) != 3 or len(key_value_shape) != 3:
            raise ValueError(f"query and key_value must be 3-D (batch, tokens, features), got "
                             f"shapes {tuple(query_shape)} and {tuple(key_value_shape)}.")
        d_q, d_k = query_shape[-1], key_value_shape[-1]
        if d_q is None or d_k is None:
            raise ValueError("the feature (last) axes of query and key_value must be known.")
        inner = self.num_heads * self.key_dim
        out_dim = self.output_dim or d_q
        self.w_q = self.add_weight(shape=(d_q, inner), initializer=self._init(0), name="w_q")
        self.w_k = self.add_weight(shape=(d_k, inner), initializer=self._init(1), name="w_k")
        self.w_v = self.add_weight(shape=(d_k, inner), initializer=self._init(2), name="w_v")
        self.w_o = self.add_weight(shape=(inner, out_dim), initializer=self._init(3), name="w_o")
        if self.use_bias:
            self.b_q = self.add_weight(shape=(inner,), initializer="zeros", name="b_q")
            self.b_k = self.add_weight(shape=(inner,), initializer="zeros", name="b_k")
            self.b_v = self.add_weight(shape=(inner,), initializer="zeros", name="b_v")
            self.b_o = self.add_weight(shape=(out_dim,), initializer="zeros", name="b_o")
        self.built = True

    def _heads(self, x: Any, w: Any, b: Any) -> Any:
        """(batch, T, d) → (batch, heads, T, key_dim)."""
        y = ops.matmul(x, w)
        if b is not None:
            y = y + b
        shape = ops.shape(y)
        y = ops.reshape(y, (shape[0], shape[1], self.num_heads, self.key_dim))
        return ops.transpose(y, (0, 2, 1, 3))

    def call(self, query: Any, key_value: Any, key_mask: Any = None,
             training: bool | None = None) -> tuple[Any, Any]:
        q_shape, kv_shape = tuple(query.shape), tuple(key_value.shape)
        if None not in (q_shape[0], kv_shape[0]) and q_shape[0] != kv_shape[0]:
            raise ValueError(f"query and key_value must have the same batch size, got shapes "
                             f"{q_shape} and {kv_shape}.")
        if key_mask is not None:
            m_shape = tuple(getattr(key_mask, "shape", np.shape(key_mask)))
            if len(m_shape) != 2 or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(m_shape, (kv_shape[0], kv_shape[1]), strict=True)):
                raise ValueError(f"key_mask must have shape (batch, T_k) = "
                                 f"{(kv_shape[0], kv_shape[1])} like key_value, got {m_shape}.")
        q = self._heads(query, self.w_q, self.b_q if self.use_bias else None)
        k = self._heads(key_value, self.w_k, self.b_k if self.use_bias else None)
        v = self._heads(key_value, self.w_v, self.b_v if self.use_bias else None)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.key_dim)
        scores = ops.cast(scores, "float32")  # softmax in float32 (safe under mixed precision)
        if key_mask is not None:
            valid = ops.cast(key_mask, "bool")[:, None, None, :]
            scores = ops.where(valid, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        if key_mask is not None:
            weights = weights * ops.cast(valid, weights.dtype)  # fully masked rows → all zeros
        weights = ops.cast(weights, q.dtype)
        used = weights
        if training and self.dropout > 0:
            used = keras.random.dropout(weights, self.dropout, seed=self._dropout_seed)
        ctx = ops.transpose(ops.matmul(used, v), (0, 2, 1, 3))
        shape = ops.shape(ctx)
        ctx = ops.reshape(ctx, (shape[0], shape[1], self.num_heads * self.key_dim))
        out = ops.matmul(ctx, self.w_o)
        if self.use_bias:
            out = out + self.b_o
        return out, weights

    def compute_output_shape(self, query_shape: Any, key_value_shape: Any,
                             key_mask_shape: Any = None) -> tuple[tuple, tuple]:
        out_dim = self.output_dim or query_shape[-1]
        return ((query_shape[0], query_shape[1], out_dim),
                (query_shape[0], self.num_heads, query_shape[1], key_value_shape[1]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, output_dim=self.output_dim,
                      dropout=self.dropout, use_bias=self.use_bias, seed=self.seed)
        return config


# --------------------------------------------------------------------------------------------
# DTW and soft-DTW
# --------------------------------------------------------------------------------------------

_DTW_METRICS = ("sqeuclidean", "euclidean", "cityblock", "cosine", "precomputed")


def _sequence(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a finite float64 sequence ``(length, features)``; 1-D becomes one feature."""
    arr = check_numeric_array(name, value)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a sequence of shape (length,) or (length, features) "
                         f"with length >= 1, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values.")
    return arr


def _cost_matrix(x: ArrayLike, y: ArrayLike | None, metric: str) -> np.ndarray:
    """The local cost matrix ``(n, m)`` of :func:`dtw` and :func:`soft_dtw_alignment`, validated."""
    metric = check_choice("metric", metric, _DTW_METRICS)
    if metric == "precomputed":
        if y is not None:
            raise ValueError("y must be None when metric='precomputed' (x is the cost matrix), "
                             f"got an object of type {type(y).__name__}.")
        cost = check_numeric_array("x", x)
        if cost.ndim != 2 or min(cost.shape) < 1:
            raise ValueError(f"x must be a 2-D cost matrix (n, m) when metric='precomputed', "
                             f"got shape {cost.shape}.")
        if not np.all(np.isfinite(cost)):
            raise ValueError("x (the cost matrix) must contain only finite values.")
    else:
        if y is None:
            raise ValueError(f"y is required when metric={metric!r}; pass "
                             f"metric='precomputed' to give a cost matrix instead.")
        xs, ys = _sequence("x", x), _sequence("y", y)
        if xs.shape[1] != ys.shape[1]:
            raise ValueError(f"x and y must have the same number of features, got "
                             f"{xs.shape[1]} and {ys.shape[1]}.")
        if metric == "cosine":
            for name, seq in (("x", xs), ("y", ys)):
                zero = np.flatnonzero(~np.any(seq != 0, axis=1))
                if zero.size:
                    raise ValueError(
                        f"{name} has all-zero frames at steps {zero[:5].tolist()}"
                        f"{' ...' if zero.size > 5 else ''}; the cosine distance of a zero vector "
                        f"is undefined. Use metric='euclidean' or 'sqeuclidean', or drop or "
                        f"perturb those frames.")
        cost = cdist(xs, ys, metric=metric)
    return cost


def dtw(x: ArrayLike, y: ArrayLike | None = None, metric: str = "sqeuclidean"
        ) -> tuple[float, list[tuple[int, int]]]:
    """Exact dynamic time warping between two sequences, with the optimal alignment path.

    With local cost ``C[i, j] = metric(x_i, y_j)`` the accumulated cost is::

        D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1]),   D[0, 0] = C[0, 0]

    and the DTW cost is ``D[n-1, m-1]``. The path is recovered by backtracking (ties prefer the
    diagonal step); it starts at ``(0, 0)``, ends at ``(n-1, m-1)`` and every step is one of
    ``(+1, 0)``, ``(0, +1)``, ``(+1, +1)``. Runs in ``O(n m)`` time with a Python loop — fine for
    sequences of a few hundred steps.

    Reference: H. Sakoe, S. Chiba (1978), "Dynamic programming algorithm optimization for spoken
    word recognition", *IEEE Trans. ASSP* 26(1).

    Args:
        x: ``(n,)`` or ``(n, d)`` sequence; or, with ``metric="precomputed"``, the ``(n, m)``
            cost matrix.
        y: ``(m,)`` or ``(m, d)`` sequence; ``None`` with ``metric="precomputed"``.
        metric: ``"sqeuclidean"`` (default), ``"euclidean"``, ``"cityblock"``, ``"cosine"``
            (via :func:`scipy.spatial.distance.cdist`) or ``"precomputed"``.

    Returns:
        ``(cost, path)`` — the DTW cost (float) and the path as a list of ``(i, j)`` pairs.
    """
    cost = _cost_matrix(x, y, metric)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        row, prev, c = acc[i], acc[i - 1], cost[i - 1]
        for j in range(1, m + 1):
            row[j] = c[j - 1] + min(prev[j - 1], prev[j], row[j - 1])
    # Backtrack from (n, m) in the padded table; order of candidates = tie preference.
    path = [(n - 1, m - 1)]
    i, j = n, m
    while (i, j) != (1, 1):
        candidates = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(candidates, key=lambda ij: acc[ij])
        path.append((i - 1, j - 1))
    path.reverse()
    return float(acc[n, m]), path


def soft_dtw(x: Any, y: Any = None, gamma: float = 1.0, metric: str = "sqeuclidean") -> Any:
    """Soft-DTW: a smooth, differentiable relaxation of DTW (keras.ops, works under autodiff).

    The ``min`` of the DTW recursion is replaced by the soft-min
    ``min_gamma(a_1, ..., a_k) = -gamma * log(sum_i exp(-a_i / gamma))``::

        R[i, j] = C[i, j] + min_gamma(R[i-1, j], R[i, j-1], R[i-1, j-1]),   R[-1, -1] = 0

    Equivalently, ``soft_dtw = -gamma * log(sum over all alignment paths P of exp(-cost(P) /
    gamma))``. As ``gamma → 0`` it tends to the DTW cost (from below: ``DTW - gamma *
    log(#paths) <= soft_dtw <= DTW``). The recursion is evaluated one anti-diagonal at a time
    (all cells of a diagonal in parallel), so the graph has ``n + m - 1`` steps; sequence lengths
    must be static. Gradients (e.g. w.r.t. ``x``) come from autodiff.

    Reference: M. Cuturi, M. Blondel (2017), "Soft-DTW: a Differentiable Loss Function for
    Time-Series", *ICML*.

    Args:
        x: ``(n,)``, ``(n, d)`` or batched ``(batch, n, d)``; with ``metric="precomputed"`` the
            cost matrix ``(n, m)`` or ``(batch, n, m)``.
        y: ``(m,)``, ``(m, d)`` or ``(batch, m, d)``; ``None`` with ``"precomputed"``.
        gamma: smoothing ``> 0``.
        metric: ``"sqeuclidean"`` (squared Euclidean local cost, as in the paper) or
            ``"precomputed"``.

    Returns:
        Scalar tensor (unbatched input) or ``(batch,)`` tensor; dtype float64 if the inputs are
        float64, else float32.
    """
    gamma = check_float("gamma", gamma, minimum=0.0, include_min=False)
    metric = check_choice("metric", metric, ("sqeuclidean", "precomputed"))
    if metric == "precomputed":
        if y is not None:
            raise ValueError("y must be None when metric='precomputed' (x is the cost matrix).")
        cost = _float_tensor("x", x)
        if len(cost.shape) not in (2, 3):
            raise ValueError(f"x must be a cost matrix (n, m) or (batch, n, m) when "
                             f"metric='precomputed', got shape {tuple(cost.shape)}.")
        batched = len(cost.shape) == 3
        if not batched:
            cost = cost[None]
    else:
        if y is None:
            raise ValueError("y is required when metric='sqeuclidean'.")
        xt, yt = _float_tensor("x", x), _float_tensor("y", y)
        if xt.dtype != yt.dtype:
            yt = ops.cast(yt, xt.dtype)
        if len(xt.shape) == 1:
            xt = xt[:, None]
        if len(yt.shape) == 1:
            yt = yt[:, None]
        if len(xt.shape) != len(yt.shape) or len(xt.shape) not in (2, 3):
            raise ValueError(f"x and y must both be (length, features) or both (batch, length, "
                             f"features), got shapes {tuple(xt.shape)} and {tuple(yt.shape)}.")
        if xt.shape[-1] != yt.shape[-1]:
            raise ValueError(f"x and y must have the same number of features, got "
                             f"{xt.shape[-1]} and {yt.shape[-1]}.")
        batched = len(xt.shape) == 3
        if batched and None not in (xt.shape[0], yt.shape[0]) and xt.shape[0] != yt.shape[0]:
            raise ValueError(f"x and y must have the same batch size (pair i of the batch is "
                             f"x[i], y[i]), got {xt.shape[0]} and {yt.shape[0]}.")
        if not batched:
            xt, yt = xt[None], yt[None]
        diff = ops.expand_dims(xt, 2) - ops.expand_dims(yt, 1)  # (batch, n, m, d)
        cost = ops.sum(ops.square(diff), axis=-1)
    n, m = cost.shape[1], cost.shape[2]
    if n is None or m is None:
        raise ValueError(f"soft_dtw needs static sequence lengths, got cost shape "
                         f"{tuple(cost.shape)}.")
    if n < 1 or m < 1:
        raise ValueError(f"sequences must have length >= 1, got n={n}, m={m}.")
    # Skew the cost matrix: row k holds the cells of anti-diagonal i + j = k, indexed by i.
    i_idx = np.arange(n)[None, :]
    k_idx = np.arange(n + m - 1)[:, None]
    j_idx = k_idx - i_idx
    valid_np = (j_idx >= 0) & (j_idx < m)
    flat_idx = (i_idx * m + np.clip(j_idx, 0, m - 1)).reshape(-1)
    batch = ops.shape(cost)[0]
    skewed = ops.reshape(ops.take(ops.reshape(cost, (batch, n * m)), flat_idx, axis=1),
                         (batch, n + m - 1, n))
    # A finite stand-in for +inf outside the table (so no inf - inf or 0 * inf in the gradient),
    # per sample: every valid R lies in [-sum|C| - gamma (n + m) log 3, sum|C|], so ``big`` is
    # at least 100 gamma above any valid candidate and weighs e^-100 in the soft-min, whatever
    # the scale of the costs (a fixed constant would fail for large costs or a large gamma).
    big = ops.stop_gradient(ops.sum(ops.abs(cost), axis=(1, 2))[:, None]
                            + 2.0 * gamma * (n + m + 50) + 1.0)  # (batch, 1)

    def shift(d: Any) -> Any:  # d[i] -> d[i - 1], with +inf entering at i = 0
        return ops.concatenate([big, d[:, :-1]], axis=1)

    first = ops.convert_to_tensor(np.arange(n) == 0)
    prev2 = ops.zeros_like(skewed[:, 0, :]) + big  # anti-diagonal -1 (outside the table)
    prev1 = ops.where(first[None, :], skewed[:, 0, :], big)  # anti-diagonal 0: R[0, 0]
    for k in range(1, n + m - 1):
        candidates = ops.stack([shift(prev1), prev1, shift(prev2)], axis=0)  # up, left, diag
        softmin = -gamma * ops.logsumexp(-candidates / gamma, axis=0)
        current = ops.where(ops.convert_to_tensor(valid_np[k])[None, :],
                            skewed[:, k, :] + softmin, big)
        prev2, prev1 = prev1, current
    result = prev1[:, n - 1]
    return result if batched else result[0]


def soft_dtw_alignment(x: ArrayLike, y: ArrayLike | None = None, gamma: float = 1.0,
                       metric: str = "sqeuclidean") -> tuple[float, np.ndarray]:
    """Soft-DTW value and its *expected alignment* matrix (NumPy, forward and backward pass).

    Soft-DTW (:func:`soft_dtw`) is a soft minimum over all alignment paths ``P`` (monotone
    staircases from ``(0, 0)`` to ``(n-1, m-1)``), i.e. ``-gamma log sum_P exp(-<P, C> / gamma)``
    for the local cost ``C``. Its gradient with respect to ``C`` is the expected path under the
    Gibbs distribution ``p(P) ∝ exp(-<P, C> / gamma)``::

        E[i, j] = d soft_dtw / d C[i, j] = sum_P p(P) [ (i, j) in P ]

    the probability that frame ``i`` of ``x`` is matched with frame ``j`` of ``y``: a *soft*
    alignment, which tends to the DTW path (:func:`dtw`) as ``gamma → 0``. ``E`` is computed by
    the backward recursion of Cuturi & Blondel (Algorithm 2)::

        E[i, j] = E[i+1, j] a + E[i, j+1] b + E[i+1, j+1] c,   E[n-1, m-1] = 1,
        a = exp((R[i+1, j] - R[i, j] - C[i+1, j]) / gamma)   (b, c likewise)

    with ``R`` the forward table. Python loops, ``O(n m)``: for sequences of up to a few hundred
    steps (use :func:`soft_dtw` for a differentiable loss on batches).

    References: M. Cuturi, M. Blondel (2017), "Soft-DTW: a Differentiable Loss Function for
    Time-Series", *ICML*; A. Mensch, M. Blondel (2018), "Differentiable Dynamic Programming for
    Structured Prediction and Attention", *ICML*.

    Args:
        x, y, metric: as for :func:`dtw` (``metric="precomputed"``: ``x`` is the cost matrix).
        gamma: smoothing ``> 0``.

    Returns:
        ``(value, E)`` — the soft-DTW value (float) and ``E`` ``(n, m)``, entries in [0, 1],
        ``E[0, 0] = E[n-1, m-1] = 1``.
    """
    gamma = check_float("gamma", gamma, minimum=0.0, include_min=False)
    cost = _cost_matrix(x, y, metric)
    n, m = cost.shape
    r = np.full((n + 2, m + 2), np.inf)
    r[0, 0] = 0.0

    def softmin(*values: float) -> float:
        low = min(values)
        if low == np.inf:
            return np.inf
        return low - gamma * math.log(sum(math.exp(-(v - low) / gamma) for v in values))

    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r[i, j] = cost[i - 1, j - 1] + softmin(r[i - 1, j - 1], r[i - 1, j], r[i, j - 1])
    value = float(r[n, m])
    c = np.zeros((n + 2, m + 2))
    c[1:n + 1, 1:m + 1] = cost
    r[1:n + 1, m + 1] = -np.inf
    r[n + 1, 1:m + 1] = -np.inf
    r[n + 1, m + 1] = r[n, m]
    e = np.zeros((n + 2, m + 2))
    e[n + 1, m + 1] = 1.0
    for j in range(m, 0, -1):
        for i in range(n, 0, -1):
            a = math.exp((r[i + 1, j] - r[i, j] - c[i + 1, j]) / gamma)
            b = math.exp((r[i, j + 1] - r[i, j] - c[i, j + 1]) / gamma)
            d = math.exp((r[i + 1, j + 1] - r[i, j] - c[i + 1, j + 1]) / gamma)
            e[i, j] = e[i + 1, j] * a + e[i, j + 1] * b + e[i + 1, j + 1] * d
    return value, e[1:n + 1, 1:m + 1]


@keras.saving.register_keras_serializable(package=_PKG)
class SoftDTWLoss(keras.losses.Loss):
    """Soft-DTW between target and predicted sequences as a ``keras.losses.Loss``.

    ``y_true`` ``(batch, n, d)`` and ``y_pred`` ``(batch, m, d)`` (lengths may differ); the
    per-sample soft-DTW (:func:`soft_dtw`, squared Euclidean cost) is averaged over the batch.
    Reference: Cuturi & Blondel (2017), "Soft-DTW: a Differentiable Loss Function for
    Time-Series", *ICML*.

    Args:
        gamma: smoothing ``> 0``.
    """

    def __init__(self, gamma: float = 1.0, name: str = "soft_dtw_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.gamma = check_float("gamma", gamma, minimum=0.0, include_min=False)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return soft_dtw(y_true, y_pred, gamma=self.gamma)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(gamma=self.gamma)
        return config


# --------------------------------------------------------------------------------------------
# Retrieval metrics
# --------------------------------------------------------------------------------------------


def _ranks_rows(sim: np.ndarray) -> np.ndarray:
    """1-based rank of the diagonal entry in each row, ties counted pessimistically."""
    diag = np.diag(sim)[:, None]
    return (sim >= diag).sum(axis=1)  # includes the item itself, and every tie ranks above it


def retrieval_metrics(similarity: ArrayLike, ks: Sequence[int] = (1, 5, 10)
                      ) -> dict[str, dict[str, float]]:
    """Cross-modal retrieval metrics in both directions from a square similarity matrix.

    ``similarity[i, j]`` scores item i of modality A against item j of modality B (higher = more
    similar); item i of A matches item i of B. For A→B each row is a query ranked over the
    columns, for B→A each column is a query ranked over the rows. The rank of the true match is
    1-based, and **ties are pessimistic**: every other item scoring equal to the true match is
    counted as ranked above it (so a constant similarity matrix gives rank n, not 1).

    Returns::

        {"a2b": {"R@1": ..., "R@5": ..., "R@10": ..., "median_rank": ..., "mean_rank": ...},
         "b2a": {...}}

    Recall@K is the fraction (0–1) of queries whose match has rank ``<= K``.

    Reference: the standard image–text retrieval protocol, e.g. A. Karpathy, L. Fei-Fei (2015),
    "Deep Visual-Semantic Alignments for Generating Image Descriptions", *CVPR*.

    Args:
        similarity: ``(n, n)`` array (numpy or tensor), finite.
        ks: the K values for Recall@K, integers ``>= 1``.
    """
    sim = check_numeric_array("similarity", similarity)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 1:
        raise ValueError(f"similarity must be a square (n, n) matrix with n >= 1 (item i of A "
                         f"matches item i of B), got shape {sim.shape}.")
    if not np.all(np.isfinite(sim)):
        raise ValueError("similarity must contain only finite values (no NaN or inf).")
    if isinstance(ks, numbers.Integral):
        ks = (ks,)
    if isinstance(ks, str) or not isinstance(ks, Iterable):
        raise TypeError(f"ks must be an integer or a sequence of integers >= 1, got {ks!r}.")
    ks = [check_int("ks", k, minimum=1) for k in ks]
    if not ks:
        raise ValueError("ks must contain at least one K, got an empty sequence.")
    out: dict[str, dict[str, float]] = {}
    for direction, matrix in (("a2b", sim), ("b2a", sim.T)):
        ranks = _ranks_rows(matrix)
        metrics = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
        metrics["median_rank"] = float(np.median(ranks))
        metrics["mean_rank"] = float(np.mean(ranks))
        out[direction] = metrics
    return out


# --------------------------------------------------------------------------------------------
# Audio-video synchronisation: offset estimation by cross-correlating change curves
# --------------------------------------------------------------------------------------------

__all__ += ["ONSET_RATE", "av_lag_scores", "correct_av_offset", "estimate_av_offset",
            "motion_energy", "onset_strength"]

ONSET_RATE = 500
"""Default number of onset-strength values per second (:func:`onset_strength`): one every 2 ms,
so that a lag grid finer than a video frame (e.g. 1/128 s) can be resolved."""


def _clips(name: str, value: ArrayLike, ndim: tuple[int, ...], shape_text: str) -> np.ndarray:
    """``value`` as a finite float64 array with one of the allowed numbers of dimensions."""
    arr = check_numeric_array(name, value)
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must be a batch of clips of shape {shape_text}, got an array "
                         f"with shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf); fill or drop "
                         f"missing clips first.")
    return arr


def motion_energy(video: ArrayLike) -> np.ndarray:
    """How much the picture changes between consecutive frames: the video's *change curve*.

    For frames ``V_0, ..., V_{T-1}`` of one clip (channels averaged)::

        d[k] = mean_pixels |V_{k+1} - V_k|,      e_v[k] = max(0, d[k] - median_k d[k])

    for ``k = 0, ..., T-2``. ``e_v[k]`` belongs to the frame *boundary* ``t_k = (k + 1) / fps``
    (the change happened between the exposures of frames ``k`` and ``k + 1``). Subtracting the
    clip's median removes the steady change of noise and slow drifts, so only sudden happenings
    (a door flying open, a flash, a shove) stand out.

    Args:
        video: ``(n, T, H, W)`` or ``(n, T, H, W, C)`` frames, ``T >= 2``.

    Returns:
        ``(n, T - 1)`` float64, ``>= 0``.
    """
    frames = _clips("video", video, (4, 5), "(n, T, H, W) or (n, T, H, W, C)")
    if frames.ndim == 5:
        frames = frames.mean(axis=-1)
    if frames.shape[1] < 2:
        raise ValueError(f"video must have at least 2 frames per clip to measure a change, got "
                         f"T={frames.shape[1]}.")
    change = np.abs(np.diff(frames, axis=1)).mean(axis=(2, 3))
    return np.clip(change - np.median(change, axis=1, keepdims=True), 0.0, None)


def onset_strength(audio: ArrayLike, sample_rate: int, *, rate: int = ONSET_RATE,
                   smooth: float = 1 / 16) -> np.ndarray:
    """How much louder the sound gets: the audio's *change curve* (onset strength).

    The waveform is cut into hops of ``h = sample_rate / rate`` samples; with ``r[j]`` the RMS of
    hop ``j`` (smoothed by a moving mean over 4 hops, 8 ms at the default rate)::

        e_a[j] = max(0, r[j] - r[j - 1])      (e_a[0] = 0)

    then smoothed by a moving mean over ``round(smooth * rate)`` values (by default 1/16 s: half a
    frame at 8 frames/s, so a sound that starts anywhere within a frame period still overlaps
    the frame boundary). Value ``j`` describes the time ``j / rate`` s. A simple relative of the
    onset-strength envelope of music analysis (e.g. Bello et al. 2005, "A Tutorial on Onset
    Detection in Music Signals", *IEEE Trans. Speech and Audio Processing* 13(5)).

    Args:
        audio: ``(n, S)`` waveforms.
        sample_rate: samples per second; must be a multiple of ``rate``.
        rate: onset values per second.
        smooth: length of the final moving mean, in seconds (``>= 0``; 0 = none).

    Returns:
        ``(n, S // h)`` float64, ``>= 0``, at ``rate`` values per second.
    """
    wave = _clips("audio", audio, (2,), "(n, samples)")
    sample_rate = check_int("sample_rate", sample_rate, minimum=1)
    rate = check_int("rate", rate, minimum=1)
    smooth = check_float("smooth", smooth, minimum=0.0)
    if sample_rate % rate:
        raise ValueError(f"sample_rate must be a multiple of rate (whole hops of audio samples), "
                         f"got sample_rate={sample_rate} and rate={rate}.")
    hop = sample_rate // rate
    count = wave.shape[1] // hop
    if count < 2:
        raise ValueError(f"audio must hold at least 2 hops of {hop} samples, got "
                         f"{wave.shape[1]} samples per clip.")
    from scipy.ndimage import uniform_filter1d

    n = len(wave)
    rms = np.sqrt((wave[:, :count * hop] ** 2).reshape(n, count, hop).mean(axis=2))
    rms = uniform_filter1d(rms, 4, axis=1)
    rise = np.clip(np.diff(rms, axis=1, prepend=rms[:, :1]), 0.0, None)
    width = int(round(smooth * rate))
    return uniform_filter1d(rise, width, axis=1) if width > 1 else rise


def av_lag_scores(motion: ArrayLike, onset: ArrayLike, fps: float, rate: float,
                  lags: ArrayLike) -> np.ndarray:
    """Cross-correlation (互相关) of the two change curves at every candidate lag.

    With the motion energy ``e_v[k]`` at the frame boundaries ``t_k = (k + 1) / fps`` and the
    onset strength ``e_a`` at ``rate`` values per second::

        c(tau) = sum_k e_v[k] * e_a[round((t_k + tau) * rate)]

    summing only over boundaries whose audio position falls inside the clip. A positive lag
    ``tau`` means the audio is late: what is seen at ``t`` is heard at ``t + tau``.

    Args:
        motion: ``(n, T - 1)`` from :func:`motion_energy`.
        onset: ``(n, R)`` from :func:`onset_strength`.
        fps: video frames per second (> 0).
        rate: onset values per second (> 0).
        lags: ``(L,)`` candidate lags in seconds.

    Returns:
        ``(n, L)`` float64 scores.
    """
    motion = _clips("motion", motion, (2,), "(n, T - 1)")
    onset = _clips("onset", onset, (2,), "(n, R)")
    fps = check_float("fps", fps, minimum=0.0, include_min=False)
    rate = check_float("rate", rate, minimum=0.0, include_min=False)
    lags = check_numeric_array("lags", lags)
    if lags.ndim != 1 or lags.size == 0 or not np.all(np.isfinite(lags)):
        raise ValueError(f"lags must be a non-empty 1-D array of finite lags in seconds, got "
                         f"shape {lags.shape}.")
    if len(motion) != len(onset):
        raise ValueError(f"motion and onset must describe the same clips, got {len(motion)} and "
                         f"{len(onset)} rows.")
    t_video = np.arange(1, motion.shape[1] + 1) / fps  # frame boundaries (s)
    scores = np.zeros((len(motion), len(lags)))
    for j, lag in enumerate(lags):
        pos = np.round((t_video + lag) * rate).astype(int)  # where the audio should react
        inside = (pos >= 0) & (pos < onset.shape[1])
        scores[:, j] = (motion[:, inside] * onset[:, pos[inside]]).sum(axis=1)
    return scores


def estimate_av_offset(video: ArrayLike, audio: ArrayLike, sample_rate: int, fps: float, *,
                       max_lag: float = 0.35, step: float = 1 / 128,
                       rate: int = ONSET_RATE) -> np.ndarray:
    """Estimate each clip's audio-video offset (音视频同步) by aligning change curves.

    Both streams become change detectors on one time axis — :func:`motion_energy` of the video,
    :func:`onset_strength` of the audio — and the lag that maximises their cross-correlation
    :func:`av_lag_scores` over the grid ``-max_lag, -max_lag + step, ..., max_lag`` wins (the
    first one on ties)::

        offset = argmax_{|tau| <= max_lag} c(tau)

    It works where something is both seen and heard at the same instant (a door forced open, a
    crash, a blow); in a clip where nothing happens, or where noise masks the sound, the peak
    falls at a chance lag. The learned counterpart is SyncNet (Chung & Zisserman 2016, "Out of
    Time: Automated Lip Sync in the Wild", *ACCV Workshops*).

    Args:
        video: ``(n, T, H, W)`` or ``(n, T, H, W, C)`` frames.
        audio: ``(n, S)`` waveforms of the same clips.
        sample_rate: audio samples per second (a multiple of ``rate``).
        fps: video frames per second.
        max_lag: largest lag tried, seconds (> 0).
        step: lag grid spacing, seconds (> 0).
        rate: onset values per second.

    Returns:
        ``(n,)`` float64 offsets in seconds, positive = audio late (the convention of
        ``metadata["av_offset"]`` of the ``watch`` dataset). Divide by ``1 / fps`` for frames.
    """
    max_lag = check_float("max_lag", max_lag, minimum=0.0, include_min=False)
    step = check_float("step", step, minimum=0.0, include_min=False)
    if step > max_lag:
        raise ValueError(f"step must be <= max_lag (at least three lags), got step={step} and "
                         f"max_lag={max_lag}.")
    motion = motion_energy(video)
    onset = onset_strength(audio, sample_rate, rate=rate)
    if len(motion) != len(onset):
        raise ValueError(f"video and audio must hold the same clips, got {len(motion)} and "
                         f"{len(onset)}.")
    half = int(np.floor(max_lag / step + 1e-9))
    lags = np.arange(-half, half + 1) * step
    return lags[np.argmax(av_lag_scores(motion, onset, fps, rate, lags), axis=1)]


def correct_av_offset(audio: ArrayLike, offset: ArrayLike, sample_rate: int, *,
                      fill: str = "zeros") -> np.ndarray:
    """Move each clip's audio by ``-offset`` seconds so that it lines up with the video.

    With ``s = round(offset * sample_rate)`` samples, ``out[t] = audio[t + s]`` where
    ``0 <= t + s < S``. What was recorded outside the clip is lost, so the ``|s|`` samples at one
    edge must be made up: ``fill="zeros"`` leaves digital silence there (exact, but a sound no
    microphone records: a log-spectrogram of it is far below anything seen in training);
    ``fill="reflect"`` mirrors the recorded audio about its last (or first) sample into the gap
    (``audio[S - 1 - k]`` follows ``audio[S - 1]``), so the room tone goes on.

    Args:
        audio: ``(n, S)`` waveforms.
        offset: ``(n,)`` offsets in seconds (positive = audio late), or one number for all clips;
            ``|offset| * sample_rate`` must be below ``S``.
        sample_rate: samples per second.
        fill: ``"zeros"`` or ``"reflect"``.

    Returns:
        ``(n, S)`` array of ``audio``'s dtype (float32 stays float32).
    """
    wave = np.asarray(audio)
    _clips("audio", wave, (2,), "(n, samples)")
    sample_rate = check_int("sample_rate", sample_rate, minimum=1)
    fill = check_choice("fill", fill, ("zeros", "reflect"))
    off = check_numeric_array("offset", offset)
    if off.ndim == 0:
        off = np.full(len(wave), float(off))
    if off.shape != (len(wave),) or not np.all(np.isfinite(off)):
        raise ValueError(f"offset must be one finite number or one per clip, shape "
                         f"({len(wave)},), got shape {off.shape}.")
    length = wave.shape[1]
    shift = np.round(off * sample_rate).astype(int)
    if np.any(np.abs(shift) >= length):
        raise ValueError(f"offset must move the audio by less than one clip ({length} samples = "
                         f"{length / sample_rate:g} s), got offsets up to "
                         f"{np.abs(off).max():g} s.")
    source = np.arange(length)[None, :] + shift[:, None]  # (n, S) index read for each output
    if fill == "reflect":  # mirror about the last (first) recorded sample
        source = np.where(source > length - 1, 2 * (length - 1) - source, source)
        source = np.abs(source)
    inside = (source >= 0) & (source < length)
    out = np.zeros_like(wave)
    rows = np.broadcast_to(np.arange(len(wave))[:, None], source.shape)
    out[inside] = wave[rows[inside], source[inside]]
    return out
