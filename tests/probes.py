"""Adversarial probe suite for the course datasets ("Datasets that teach honestly").

Every data card in ``datasets/README.md`` claims a lesson: *each modality alone is weak, fusion
is needed*. This module tries hard to break that claim. For each dataset it trains, on seeded
stratified 70 / 30 splits and for several seeds, three probe families on every single modality,
on some pairs (VQA) and on all modalities together ("fused"):

* ``logreg`` — logistic regression on the **raw** modality, flattened and standardised (NaN
  imputed with the median plus missing-value indicators). Images, video and radar maps are
  flattened pixels; audio waveforms are first turned into log-mel frames (a fixed, non-learned
  frontend: raw samples are meaningless to a linear model); token ids become a positional one-hot
  (``L x V``); point clouds are sorted by range (a canonical order for an unordered set). Dense
  inputs wider than :data:`PCA_ABOVE` are reduced with PCA to :data:`PCA_DIMS` components fitted
  on the training part. The inverse regularisation ``C`` is chosen on a validation part of the
  training split from :data:`LOGREG_CS`, then the model is refitted on the whole training part.
* ``gbt`` — scikit-learn's ``HistGradientBoostingClassifier`` on a few hundred features per
  modality written to *exploit* it (see :func:`engineered_features`): colour / brightness /
  contrast statistics, foreground blobs and their hues, connected components and
  difference-of-Gaussian blobs of images; log-mel band statistics, loudness envelope, onsets,
  spectral centroid / high-band energy of audio; bag of words and frequent bigrams of text; raw
  table columns with NaN; ground-removed point counts, range / height histograms and the densest
  object cluster's size of point clouds; the strongest *moving* radar cell (static zero-Doppler
  clutter columns masked), its power, range, range-compensated power and the Doppler / range
  profiles through it; temporal-median background subtraction, blob centroid speed, frame
  differences and pooled frames over time of video.
* ``neural`` — a small encoder of :mod:`mmlib.encoders` per modality (``image_cnn`` for images
  and radar maps, ``audio_cnn`` on the output of a :class:`mmlib.preprocess.LogMelSpectrogram`
  frontend (computed once, standardised per mel band), ``text_cnn``, ``tabular_mlp``,
  ``pointnet``, ``video_cnn`` with a GRU over frames, on frames average-pooled 2 x 2 to halve the
  CPU) and a ``Dense`` softmax head, trained with Adam (at most :data:`NEURAL_EPOCHS` epochs,
  early stopping on a validation part of the training split); for several modalities, the
  features of the
  encoders trained on each modality (same seed and split) are concatenated and a small MLP head
  (one hidden layer, so it can form cross-modal interactions) is trained on them -- joint
  end-to-end training of all encoders costs several times more CPU than the budget allows
  (measured on ``drive``: slower, and no better than this within the same number of epochs).

:func:`probe_table` returns the table (one row per input x family x task; mean and std over the
seeds, per-condition accuracies for datasets with ``metadata["condition"]``), :func:`summary` the
verdict: best single modality (best family, best modality), fused (best family) and the margin.
``watch`` also gets anomaly detectors trained on normal clips only (Mahalanobis distance with a
Ledoit-Wolf covariance, Isolation Forest, a small dense autoencoder), scored by AUROC.

Everything runs on one core: BLAS and OpenMP (scikit-learn's trees) limited with
``threadpoolctl`` -- which only limits libraries already loaded, hence the module-level
scikit-learn imports -- and TensorFlow's thread pools set to one thread when still possible.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import data
from mmlib._common import derive_seed

FAMILIES: tuple[str, ...] = ("logreg", "gbt", "neural")
"""Probe families, in the order of the table."""

MAIN_TASK: dict[str, str] = {"av_digits": "digit", "shapes_captions": "answer",
                             "clinic": "diagnosis", "drive": "object", "watch": "event"}
"""The task each data card's fusion lesson is about."""

EXTRA_INPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "shapes_captions": {"question+caption": ("question", "caption"),
                        "image+question": ("image", "question")},
}
"""Inputs besides single modalities and "fused" (all modalities), per dataset."""

TEST_SIZE = 0.3
"""Held-out fraction of every split (stratified by the task's classes)."""
VAL_SIZE = 0.15
"""Fraction of the training part used for model selection / early stopping."""
PCA_ABOVE = 1024
"""Dense raw inputs wider than this are reduced with PCA before the logistic regression."""
PCA_DIMS = 256
"""Number of PCA components kept."""
LOGREG_CS: tuple[float, ...] = (0.01, 0.1, 1.0)
"""Inverse regularisation strengths tried by the logistic-regression probe."""
NEURAL_EPOCHS = 6
"""Most epochs of a neural probe (early stopping usually ends it sooner)."""
NEURAL_PATIENCE = 2
"""Epochs without a better validation accuracy before a neural probe stops."""

_KIND_ALIASES = {"table": "tabular", "points": "point_cloud"}


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------


def kinds_of(ds: Any) -> dict[str, str]:
    """Modality -> kind in the vocabulary of :data:`mmlib._common.KINDS` (old aliases mapped)."""
    return {m: _KIND_ALIASES.get(k, k) for m, k in ds.kinds.items()}


def main_task(ds: Any) -> str:
    """The task of the dataset's fusion lesson (:data:`MAIN_TASK`, else its first class task)."""
    if ds.name in MAIN_TASK and MAIN_TASK[ds.name] in ds.labels:
        return MAIN_TASK[ds.name]
    for task in ds.labels:
        if task in ds.info.get("class_names", {}):
            return task
    raise ValueError(f"dataset {ds.name!r} has no classification task; tasks: {list(ds.labels)}")


def probe_inputs(ds: Any) -> dict[str, tuple[str, ...]]:
    """Input name -> modalities: each modality, :data:`EXTRA_INPUTS`, then ``"fused"`` (all)."""
    mods = list(ds.modalities)
    out = {m: (m,) for m in mods}
    for label, combo in EXTRA_INPUTS.get(ds.name, {}).items():
        if all(m in ds.modalities for m in combo):
            out[label] = combo
    out["fused"] = tuple(mods)
    return out


def _conditions(ds: Any) -> tuple[np.ndarray, list[str]] | None:
    """Per-sample condition ids and their names, if the dataset records a condition."""
    if "condition" not in ds.metadata:
        return None
    cond = np.asarray(ds.metadata["condition"])
    names = ds.info.get("conditions") or ds.info.get("row_label_metadata", {}).get("condition")
    if names is None or cond.dtype.kind not in "iu":
        values = sorted(np.unique(cond).tolist())
        names = [str(v) for v in values]
        cond = np.searchsorted(np.array(values), cond)
    return cond.astype(np.int64), [str(c) for c in names]


def _split(y: np.ndarray, seed: int, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: (train indices, test indices)."""
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_size, stratify=y,
                              random_state=derive_seed(seed, "split"))
    return np.sort(tr), np.sort(te)


def _val_part(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (fit, validation) positions inside a training part of labels ``y``."""
    idx = np.arange(len(y))
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 else None
    fit, val = train_test_split(idx, test_size=VAL_SIZE, stratify=strat,
                                random_state=derive_seed(seed, "val"))
    return np.sort(fit), np.sort(val)


def _grid(x: np.ndarray, cells: int) -> np.ndarray:
    """Average ``(n, H, W[, C])`` over a ``cells x cells`` grid: ``(n, cells * cells * C)``."""
    n, h, w = x.shape[:3]
    x = x.reshape(n, h, w, -1)
    re = np.linspace(0, h, cells + 1).round().astype(int)
    ce = np.linspace(0, w, cells + 1).round().astype(int)
    rows = np.add.reduceat(x, re[:-1], axis=1) / np.diff(re)[None, :, None, None]
    out = np.add.reduceat(rows, ce[:-1], axis=2) / np.diff(ce)[None, None, :, None]
    return out.reshape(n, -1)


def _bincount_rows(bins: np.ndarray, n_bins: int, weights: np.ndarray | None = None
                   ) -> np.ndarray:
    """Per-row histogram of integer bins ``(n, k)`` in ``[0, n_bins)``: ``(n, n_bins)``."""
    n = len(bins)
    flat = (bins.reshape(n, -1) + n_bins * np.arange(n)[:, None]).ravel()
    w = None if weights is None else weights.reshape(-1).astype(np.float64)
    return np.bincount(flat, weights=w, minlength=n * n_bins).reshape(n, n_bins)


def _histograms(x: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    """Per-sample fraction of values in ``bins`` equal bins of [lo, hi]: ``(n, bins)``."""
    n = len(x)
    flat = x.reshape(n, -1)
    b = np.clip(((flat - lo) / (hi - lo + 1e-12) * bins).astype(np.int64), 0, bins - 1)
    return _bincount_rows(b, bins) / flat.shape[1]


def _stft_log_mel(wave: np.ndarray, sr: int, n_mels: int = 32) -> np.ndarray:
    """Log-mel spectrogram in NumPy: ``(n, samples)`` -> ``(n, frames, n_mels)``.

    Frames of the power of two nearest 32 ms, hop half a frame, Hann window, HTK mel filters.
    """
    n_fft = 1 << int(round(np.log2(0.032 * sr)))
    hop = n_fft // 2
    x = np.asarray(wave, dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=1)[:, ::hop]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel = 1127.0 * np.log1p(freqs / 700.0)
    edges = np.linspace(0, 1127.0 * np.log1p(sr / 2 / 700.0), n_mels + 2)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0, np.minimum((mel - lower) / (centre - lower),
                                  (upper - mel) / (upper - centre)))
    return np.log(power.astype(np.float32) @ fb.T.astype(np.float32) + 1e-6)


def _vocab_size(ds: Any, ids: np.ndarray) -> int:
    vocab = ds.info.get("vocab")
    return max(len(vocab) if vocab is not None else 0, int(ids.max()) + 1)


# ------------------------------------------------------------------------------------------
# family (a): raw inputs
# ------------------------------------------------------------------------------------------


def raw_features(ds: Any, modality: str) -> np.ndarray:
    """The raw modality as a float matrix ``(n, d)`` for the logistic-regression probe.

    Images / video / heatmaps / tables / vectors: flattened values (NaN kept). Audio waveforms:
    log-mel frames (:func:`_stft_log_mel`) flattened. Text: positional one-hot ``(n, L * V)``
    (padding id 0 left out). Point clouds: points sorted by ground range, flattened.
    """
    x = np.asarray(ds.modalities[modality])
    kind = kinds_of(ds)[modality]
    n = len(x)
    if kind == "audio" and x.ndim == 2:
        return _stft_log_mel(x, int(ds.info.get("sample_rate", 8000))).reshape(n, -1)
    if kind == "text":
        ids = x.astype(np.int64)
        v = _vocab_size(ds, ids)
        out = np.zeros((n, ids.shape[1] * v), dtype=np.float32)
        pos = np.arange(ids.shape[1])[None, :] * v + ids
        out[np.repeat(np.arange(n), ids.shape[1]), pos.ravel()] = 1.0
        keep = np.ones(ids.shape[1] * v, dtype=bool)
        keep[np.arange(ids.shape[1]) * v] = False  # padding
        return out[:, keep]
    if kind == "point_cloud":
        pts = x.reshape(n, x.shape[1], -1)
        order = np.argsort(pts[..., 0] ** 2 + pts[..., 1] ** 2, axis=1, kind="stable")
        return np.take_along_axis(pts, order[..., None], axis=1).reshape(n, -1)
    return x.reshape(n, -1).astype(np.float32)


def _raw_block(x_train: np.ndarray, x_test: np.ndarray, dense: bool, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Impute (median + indicators), standardise and (wide dense inputs) PCA, fitted on train."""
    if np.isnan(x_train).any() or np.isnan(x_test).any():
        imp = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        x_train, x_test = imp.fit_transform(x_train), imp.transform(x_test)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    if dense and x_train.shape[1] > PCA_ABOVE:
        pca = PCA(min(PCA_DIMS, len(x_train) - 1), svd_solver="randomized",
                  random_state=derive_seed(seed, "pca")).fit(x_train)
        x_train, x_test = pca.transform(x_train), pca.transform(x_test)
        sd = x_train.std(0) + 1e-8
        x_train, x_test = x_train / sd, x_test / sd
    return x_train.astype(np.float32), x_test.astype(np.float32)


def _logreg(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int
            ) -> np.ndarray:
    """Logistic regression with C chosen on a validation part, refitted; test predictions."""
    fit, val = _val_part(y_train, seed)
    best_c, best = LOGREG_CS[0], -1.0
    for c in LOGREG_CS:
        m = LogisticRegression(C=c, tol=1e-3, max_iter=300, random_state=derive_seed(seed, "lr"))
        m.fit(x_train[fit], y_train[fit])
        acc = float(np.mean(m.predict(x_train[val]) == y_train[val]))
        if acc > best:
            best_c, best = c, acc
    m = LogisticRegression(C=best_c, tol=1e-3, max_iter=300, random_state=derive_seed(seed, "lr"))
    return m.fit(x_train, y_train).predict(x_test)


# ------------------------------------------------------------------------------------------
# family (b): engineered features, written to exploit each kind of modality
# ------------------------------------------------------------------------------------------


def _image_features(x: np.ndarray) -> np.ndarray:
    """Brightness / contrast / colour statistics, foreground blobs, hues, components, DoG."""
    n = len(x)
    img = x.reshape(n, x.shape[1], x.shape[2], -1).astype(np.float32)
    c = img.shape[-1]
    chans = np.ascontiguousarray(img.reshape(n, -1, c).transpose(0, 2, 1))  # (n, C, HW)
    gray = img.mean(-1)
    feats = [chans.mean(2), chans.std(2), chans.min(2), chans.max(2)]
    lo, hi = float(gray.min()), float(gray.max())
    feats.append(_histograms(gray, 16, lo, hi))
    for ch in range(c):
        feats.append(_histograms(img[..., ch], 8, 0.0, 1.0))
    feats += [_grid(gray, 6), _grid(img, 4)]
    # gradients: contrast and edges
    gy, gx = np.diff(gray, axis=1), np.diff(gray, axis=2)
    grad = np.abs(gy[:, :, :-1]) + np.abs(gx[:, :-1, :])
    feats.append(np.column_stack([grad.mean((1, 2)), grad.std((1, 2)), grad.max((1, 2))]))
    # foreground: deviation from each row's median (removes sky / road / shading gradients)
    by_row = np.ascontiguousarray(img.transpose(0, 1, 3, 2))  # (n, H, C, W)
    dev = img - np.median(by_row, axis=3)[:, :, None, :]
    mag = np.abs(dev).sum(-1)
    thr = mag.mean((1, 2))[:, None, None] * 3 + 0.05
    fg = mag > thr
    area = fg.sum((1, 2)).astype(float)
    rows = np.arange(img.shape[1])[None, :, None]
    cols = np.arange(img.shape[2])[None, None, :]
    w = mag * fg
    tot = w.sum((1, 2)) + 1e-6
    cy, cx = (w * rows).sum((1, 2)) / tot, (w * cols).sum((1, 2)) / tot
    any_r, any_c = fg.any(2), fg.any(1)
    r_ext = np.where(any_r.any(1), img.shape[1] - any_r[:, ::-1].argmax(1) - any_r.argmax(1), 0)
    c_ext = np.where(any_c.any(1), img.shape[2] - any_c[:, ::-1].argmax(1) - any_c.argmax(1), 0)
    fg_col = (dev * fg[..., None]).sum((1, 2)) / (area[:, None] + 1e-6)
    feats += [np.column_stack([area, cy, cx, r_ext, c_ext, mag.max((1, 2)), tot]), fg_col,
              mag.sum(2), np.sort(mag.sum(1), axis=1)[:, ::-1][:, :16]]
    # hue shares of saturated pixels (12 hue bins) and connected components of saturated pixels
    if c == 3:
        mx, mn = img.max(-1), img.min(-1)
        sat = (mx - mn) / (mx + 1e-6)
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        hue = (np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b) / (2 * np.pi)) % 1.0
        colourful = (sat > 0.35) & (mx > 0.25)
        hb = np.clip((hue * 12).astype(np.int64), 0, 11)
        feats.append(_bincount_rows(hb, 12, colourful) / hb[0].size)
        mask = colourful
    else:
        mask = fg
    comp = np.zeros((n, 8))
    for i in range(n):
        lab, k = ndimage.label(mask[i])
        if k:
            sizes = np.sort(np.bincount(lab.ravel())[1:])[::-1]
            big = sizes[sizes >= 4]
            comp[i, :4] = [k, len(big), (sizes >= 12).sum(), sizes[0]]
            comp[i, 4:4 + min(4, len(sizes))] = sizes[:4]
    feats.append(comp)
    # difference-of-Gaussians blobs (dark and bright) at two scales
    for s in (1.0, 2.5):
        dog = (ndimage.gaussian_filter(gray, (0, s, s))
               - ndimage.gaussian_filter(gray, (0, 2 * s, 2 * s)))
        d = dog.reshape(n, -1)
        sd = d.std(1, keepdims=True) + 1e-6
        feats.append(np.column_stack([d.min(1), d.max(1), (d < -3 * sd).sum(1),
                                      (d > 3 * sd).sum(1), (d < -5 * sd).sum(1),
                                      (d > 5 * sd).sum(1)]))
    return np.concatenate([f.reshape(n, -1) for f in feats], axis=1)


def _spectrogram_features(lm: np.ndarray) -> np.ndarray:
    """Band statistics, loudness envelope, onsets, centroid, high band of ``(n, T, M)`` log-mel."""
    n, t, m = lm.shape
    power = np.exp(lm)
    energy = np.log(power.sum(2) + 1e-6)  # (n, T) loudness per frame
    loud = energy.argmax(1)
    peak_spec = lm[np.arange(n), loud] - lm.mean(1).mean(1, keepdims=True)
    bands = np.arange(m)[None, None, :]
    centroid = (power * bands).sum(2) / (power.sum(2) + 1e-9)
    spread = np.sqrt((power * (bands - centroid[..., None]) ** 2).sum(2) / (power.sum(2) + 1e-9))
    high = np.log(power[:, :, 2 * m // 3:].sum(2) + 1e-6) - energy
    flux = np.clip(np.diff(lm, axis=1), 0, None).sum(2)
    segments = np.stack([e.mean(1) for e in np.array_split(energy, 8, axis=1)], 1)
    base = np.median(energy, axis=1, keepdims=True)
    feats = [lm.mean(1), lm.std(1), lm.max(1), np.percentile(lm, 90, axis=1), peak_spec,
             segments - base,
             np.column_stack([energy.max(1), energy.mean(1), energy.std(1), loud / t,
                              *np.percentile(energy, [10, 50, 90], axis=1),
                              (energy > base + 6).sum(1), (energy > base + 12).sum(1),
                              np.diff(energy, axis=1).max(1), flux.max(1), flux.mean(1),
                              flux.argmax(1) / t, centroid.mean(1), centroid.std(1),
                              centroid[np.arange(n), loud], centroid.max(1), spread.mean(1),
                              spread[np.arange(n), loud], high.mean(1), high.max(1),
                              high[np.arange(n), loud]])]
    return np.concatenate(feats, axis=1)


def _audio_features(wave: np.ndarray, sr: int) -> np.ndarray:
    """Waveform statistics (RMS, peak, crest, zero crossings) + log-mel features."""
    x = wave.astype(np.float32)
    rms = np.sqrt((x ** 2).mean(1))
    peak = np.abs(x).max(1)
    zcr = (np.diff(np.signbit(x), axis=1)).mean(1)
    frames = x[:, : x.shape[1] // 64 * 64].reshape(len(x), -1, 64)
    env = np.sqrt((frames ** 2).mean(2))
    feats = np.column_stack([rms, peak, peak / (rms + 1e-9), zcr, env.max(1) / (env.mean(1) + 1e-9),
                             env.argmax(1) / env.shape[1], np.log(env.max(1) + 1e-9),
                             np.log(np.median(env, axis=1) + 1e-9)])
    return np.concatenate([feats, _spectrogram_features(_stft_log_mel(x, sr))], axis=1)


def _text_features(ids: np.ndarray, vocab_size: int, n_bigrams: int = 200) -> np.ndarray:
    """Bag of words (counts), length, counts of the most frequent bigrams (unsupervised)."""
    n, length = ids.shape
    ids = ids.astype(np.int64)
    bow = _bincount_rows(ids, vocab_size)
    bow[:, 0] = 0
    codes = ids[:, :-1] * vocab_size + ids[:, 1:]
    valid = (ids[:, :-1] > 0) & (ids[:, 1:] > 0)
    rows = np.repeat(np.arange(n), length - 1).reshape(n, length - 1)
    pairs = np.unique(np.stack([rows[valid], codes[valid]], 1), axis=0)  # (document, bigram)
    uniq, df = np.unique(pairs[:, 1], return_counts=True)
    order = np.argsort(-df, kind="stable")[:n_bigrams]
    top = np.sort(uniq[order][df[order] >= max(2, 0.01 * n)])
    big = np.zeros((n, len(top)))
    if len(top):
        pos = np.clip(np.searchsorted(top, codes), 0, len(top) - 1)
        hit = valid & (top[pos] == codes)
        np.add.at(big, (rows[hit], pos[hit]), 1.0)
    return np.concatenate([bow, (ids > 0).sum(1, keepdims=True), big], axis=1)


def _point_features(pts: np.ndarray) -> np.ndarray:
    """Ground-removed counts, range / height histograms, the densest cluster's extent and size."""
    n = len(pts)
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    r = np.sqrt(x ** 2 + y ** 2)
    ground = np.median(z, axis=1, keepdims=True)
    h = z - ground
    above = h > 0.25
    r_max = float(np.percentile(r, 99)) + 1e-6
    feats = [np.column_stack([above.sum(1), (h < -0.25).sum(1), ground[:, 0],
                              np.where(~above, r, 0).max(1), np.where(above & (r < 6), 1, 0).sum(1),
                              x.mean(1), y.std(1), z.std(1), h.max(1)])]
    rb = np.clip((r / r_max * 16).astype(np.int64), 0, 15)
    feats.append(_bincount_rows(rb, 16, above))
    hb = np.clip((h / 3.0 * 8).astype(np.int64), 0, 7)
    feats.append(_bincount_rows(hb, 8, above))
    # densest 1 m range bin of above-ground points beyond 3 m: the object cluster
    bins = np.clip(r.astype(np.int64), 0, int(r_max) + 1)
    cnt = _bincount_rows(bins, int(r_max) + 2, above & (r > 3))
    smooth = cnt + np.roll(cnt, 1, axis=1) + np.roll(cnt, -1, axis=1)
    peak = smooth.argmax(1)
    cl = above & (np.abs(r - peak[:, None] - 0.5) < 1.5) & (r > 3)
    k = cl.sum(1)
    has = k > 0

    def stat(v, fn, fill=0.0):
        masked = np.where(cl, v, np.nan)
        out = np.full(n, fill)
        if has.any():
            out[has] = fn(masked[has], axis=1)
        return out

    rr = stat(r, np.nanmedian)
    feats.append(np.column_stack([
        k, rr, k * np.maximum(rr, 1) ** 2, stat(h, np.nanmax), stat(h, np.nanmin),
        stat(h, np.nanmax) - stat(h, np.nanmin), stat(h, np.nanstd), stat(h, np.nanmean),
        stat(y, np.nanmax) - stat(y, np.nanmin), stat(y, np.nanstd), stat(x, np.nanstd),
        (stat(h, np.nanmax) - stat(h, np.nanmin)) / (stat(y, np.nanmax) - stat(y, np.nanmin)
                                                      + 0.1)]))
    return np.concatenate(feats, axis=1)


def _heatmap_features(maps: np.ndarray) -> np.ndarray:
    """Radar-style map: the strongest cell off the static (zero-Doppler) columns and its profiles.

    Static clutter columns are the columns whose median over all maps and rows is > 3 dB above
    the median of all cells (zero Doppler in a range-Doppler map); if none stands out, the middle
    column(s). Features: noise floor; the strongest moving cell's power (absolute, above the
    floor, range-compensated ``+ 40 log10(range)``), row, column and distance to the static
    columns; the column profile (Doppler profile) through it and +- 1 row, its spread; the row
    profile (range profile) through it; top-3 moving powers; cells above the floor + 6 / 10 dB;
    the strongest cell overall; a pooled map.
    """
    n = len(maps)
    m = maps.reshape(n, maps.shape[1], maps.shape[2]).astype(np.float64)
    rows, cols = m.shape[1:]
    col_med = np.median(m, axis=(0, 1))
    static = col_med > np.median(m) + 3.0
    if not static.any() or static.all():
        static = np.zeros(cols, dtype=bool)
        static[(cols - 1) // 2: cols // 2 + 1] = True
    static_idx = np.flatnonzero(static)
    floor = np.median(m[:, :, ~static].reshape(n, -1), axis=1)
    rel = m - floor[:, None, None]
    moving = np.where(static[None, None, :], -np.inf, rel)
    flat = moving.reshape(n, -1)
    arg = flat.argmax(1)
    pr, pc = arg // cols, arg % cols
    ar = np.arange(n)
    p_rel = flat[ar, arg]
    p_abs = m[ar, pr, pc]
    dist_static = np.abs(pc[:, None] - static_idx[None, :]).min(1)
    dop = rel[ar, pr]  # (n, cols): Doppler profile at the peak's range
    dop_win = np.stack([rel[ar, np.clip(pr + d, 0, rows - 1)] for d in (-1, 1)], 0).mean(0)
    rng_prof = rel[ar, :, pc]  # (n, rows): range profile at the peak's Doppler
    lin = np.where(static[None, :], 0.0, 10 ** (np.clip(dop, 0, None) / 10) - 1)
    centre = (lin * np.arange(cols)).sum(1) / (lin.sum(1) + 1e-9)
    spread = np.sqrt((lin * (np.arange(cols) - centre[:, None]) ** 2).sum(1) / (lin.sum(1) + 1e-9))
    top3 = -np.sort(-flat, axis=1)[:, :3]
    overall = rel.reshape(n, -1)
    feats = np.column_stack([
        floor, p_rel, p_abs, p_rel + 40 * np.log10(pr + 0.5), pr, pc, dist_static, spread,
        (dop > 6).sum(1), (rng_prof > 6).sum(1), (moving > 6).reshape(n, -1).sum(1),
        (moving > 10).reshape(n, -1).sum(1), top3, overall.max(1), overall.argmax(1) // cols,
        m[:, :, static].mean((1, 2)), m[:, :, static].std((1, 2))])
    return np.concatenate([feats, dop, dop_win, rng_prof, _grid(rel, 4)], axis=1)


def _video_features(v: np.ndarray) -> np.ndarray:
    """Frame differences, background-subtracted dark blobs and their motion, pooled frames."""
    n, t = v.shape[:2]
    gray = v.reshape(n, t, v.shape[2], v.shape[3], -1).mean(-1)
    diff = np.abs(np.diff(gray, axis=1))
    energy = diff.mean((2, 3))  # (n, T-1)
    frame_mean = gray.mean((2, 3))
    pooled = np.stack([_grid(gray[:, k], 4) for k in range(t)], 1)  # (n, T, 16)
    pooled_change = pooled - pooled[:, :1]
    motion_grid_mean = _grid(diff.mean(1), 4)
    motion_grid_max = np.stack([_grid(diff[:, k], 4) for k in range(t - 1)], 1).max(1)
    background = np.median(gray, axis=1, keepdims=True)
    fg = np.clip(background - gray, 0, None)  # dark things that move
    fg_max = np.clip(gray.max(1, keepdims=True) - gray, 0, None)  # dark vs brightest seen
    mass = fg.sum((2, 3)) + 1e-6
    yy = np.arange(gray.shape[2])[None, None, :, None]
    xx = np.arange(gray.shape[3])[None, None, None, :]
    cy, cx = (fg * yy).sum((2, 3)) / mass, (fg * xx).sum((2, 3)) / mass
    sx = np.sqrt((fg * (xx - cx[..., None, None]) ** 2).sum((2, 3)) / mass)
    speed = np.sqrt(np.diff(cx, axis=1) ** 2 + np.diff(cy, axis=1) ** 2)
    area = (fg > 0.08).sum((2, 3))
    dark_area = (fg_max > 0.15).sum((2, 3))
    accel = np.abs(np.diff(speed, axis=1)) if t > 2 else np.zeros((n, 1))
    summary_ = np.column_stack([
        energy.max(1), energy.mean(1), energy.std(1), energy.argmax(1), frame_mean.std(1),
        np.diff(frame_mean, axis=1).max(1), np.diff(frame_mean, axis=1).min(1),
        speed.max(1), speed.mean(1), accel.mean(1), accel.max(1), area.max(1), area.mean(1),
        area.std(1), dark_area.max(1), dark_area.mean(1), sx.mean(1), sx.max(1),
        cx[:, -1] - cx[:, 0], cy[:, -1] - cy[:, 0], cx.std(1), cy.std(1), mass.max(1),
        pooled_change.max((1, 2)), pooled_change.min((1, 2))])
    return np.concatenate([summary_, energy, frame_mean, speed, area,
                           pooled.reshape(n, -1), pooled_change[:, 1:].reshape(n, -1),
                           motion_grid_mean, motion_grid_max], axis=1)


def engineered_features(ds: Any, modality: str) -> np.ndarray:
    """Adversarial hand-made features of one modality, ``(n, d)`` float (NaN allowed).

    Written per kind (see the module docstring); no labels are used.
    """
    x = np.asarray(ds.modalities[modality])
    kind = kinds_of(ds)[modality]
    n = len(x)
    if kind == "image":
        out = _image_features(x)
    elif kind == "heatmap":
        out = _heatmap_features(x)
    elif kind == "audio" and x.ndim == 2:
        out = _audio_features(x, int(ds.info.get("sample_rate", 8000)))
    elif kind in ("audio", "spectrogram"):
        out = _spectrogram_features(x.reshape(n, x.shape[1], -1).mean(-1))
    elif kind == "text":
        out = _text_features(x, _vocab_size(ds, x))
    elif kind == "point_cloud":
        out = _point_features(x.reshape(n, x.shape[1], -1))
    elif kind == "video":
        out = _video_features(x)
    else:  # tabular / vector: raw columns (NaN kept) and the number missing
        flat = x.reshape(n, -1).astype(np.float64)
        out = np.concatenate([flat, np.isnan(flat).sum(1, keepdims=True)], axis=1)
    return np.asarray(out, dtype=np.float32)


def _gbt(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """Histogram gradient-boosted trees with early stopping; test predictions."""
    model = HistGradientBoostingClassifier(
        learning_rate=0.15, max_iter=120, max_bins=32, max_leaf_nodes=15, min_samples_leaf=10,
        l2_regularization=1.0, early_stopping=True, validation_fraction=VAL_SIZE,
        n_iter_no_change=10, random_state=derive_seed(seed, "gbt"))
    return model.fit(x_train, y_train).predict(x_test)


# ------------------------------------------------------------------------------------------
# family (c): small neural encoders of mmlib.encoders
# ------------------------------------------------------------------------------------------


def _limit_tensorflow_threads() -> None:
    import tensorflow as tf

    try:  # only possible before TensorFlow's runtime starts
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


def _neural_arrays(ds: Any, modality: str, train: np.ndarray) -> np.ndarray:
    """The modality prepared for its encoder (statistics from the training part only)."""
    x = np.asarray(ds.modalities[modality])
    kind = kinds_of(ds)[modality]
    n = len(x)
    if kind == "text":
        return x.astype(np.int32)
    if kind == "audio" and x.ndim == 2:  # the LogMelSpectrogram frontend, applied once
        from mmlib.preprocess import LogMelSpectrogram

        sr = int(ds.info.get("sample_rate", 8000))
        n_fft = 1 << int(round(np.log2(0.032 * sr)))
        frontend = LogMelSpectrogram(sample_rate=sr, frame_length=n_fft, frame_step=n_fft // 2,
                                     n_mels=32)
        x = np.concatenate([np.asarray(frontend(x[i: i + 512].astype(np.float32)))
                            for i in range(0, n, 512)])
        mu, sd = x[train].mean((0, 1)), x[train].std((0, 1)) + 1e-6  # per mel band
        return ((x - mu) / sd).astype(np.float32)
    if kind == "video" and min(x.shape[2:4]) > 16:  # 2 x 2 average pooling: half the CPU
        h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
        x = x[:, :, :h, :w].reshape(n, x.shape[1], h // 2, 2, w // 2, 2, -1).mean((3, 5))
    if kind in ("tabular", "vector"):
        flat = x.reshape(n, -1).astype(np.float64)
        miss = np.isnan(flat)
        med = np.nanmedian(flat[train], axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        filled = np.where(miss, med, flat)
        mu, sd = filled[train].mean(0), filled[train].std(0) + 1e-6
        out = (filled - mu) / sd
        if miss.any():
            out = np.concatenate([out, miss[:, miss.any(0)]], axis=1)
        return out.astype(np.float32)
    if kind == "point_cloud":
        pts = x.reshape(n, x.shape[1], -1)
        mu = pts[train].reshape(-1, pts.shape[-1]).mean(0)
        sd = pts[train].reshape(-1, pts.shape[-1]).std(0) + 1e-6
        return ((pts - mu) / sd).astype(np.float32)
    if kind == "spectrogram" or (kind == "audio" and x.ndim > 2):
        x = x.reshape(n, x.shape[1], -1)
    axes = tuple(range(x.ndim - 1)) if kind in ("image", "video") else None
    mu, sd = x[train].mean(axis=axes), x[train].std(axis=axes) + 1e-6
    return ((x - mu) / sd).astype(np.float32)


def _encoder(ds: Any, modality: str, arr: np.ndarray, seed: int) -> Any:
    """A small encoder of :mod:`mmlib.encoders` for one prepared modality array."""
    from mmlib import encoders

    kind = kinds_of(ds)[modality]
    shape = arr.shape[1:]
    name = f"enc_{modality}"
    if kind in ("image", "heatmap"):
        return encoders.image_cnn(shape, filters=(8, 16), embed_dim=32, seed=seed, name=name)
    if kind in ("audio", "spectrogram"):
        return encoders.audio_cnn(shape, filters=(8, 16), embed_dim=32, seed=seed, name=name)
    if kind == "text":
        return encoders.text_cnn(_vocab_size(ds, arr), shape[0], embed_dim=16, filters=24,
                                 kernel_sizes=(1, 2, 3), seed=seed, name=name)
    if kind == "point_cloud":
        return encoders.pointnet(shape[0], shape[1], hidden=(32, 64), embed_dim=64, seed=seed,
                                 name=name)
    if kind == "video":
        return encoders.video_cnn(shape, filters=(8, 16), frame_dim=24, temporal="gru",
                                  embed_dim=32, seed=seed, name=name)
    return encoders.tabular_mlp(shape[0], hidden=(64, 32), seed=seed, name=name)


def _neural(ds: Any, modalities: Sequence[str], arrays: Mapping[str, np.ndarray],
            y: np.ndarray, train: np.ndarray, test: np.ndarray, n_classes: int, seed: int,
            embeddings: dict[str, np.ndarray]) -> np.ndarray:
    """A small trained encoder + softmax head; for several modalities, fusion of the trained
    encoders' features. Returns the test predictions.

    One modality: its encoder of :func:`_encoder` + ``Dense(n_classes, softmax)``, trained end
    to end with ``model.fit`` (Adam, batch 64, at most :data:`NEURAL_EPOCHS` epochs, early
    stopping on the accuracy of a validation part of the training split, best weights
    restored); the encoder's features of all samples are stored in ``embeddings[modality]``.
    Several modalities (after their single runs): the stored features are concatenated (early
    fusion of the encoders' features), standardised, and a head with one hidden layer
    (``64 relu -> n_classes softmax``, so it can form cross-modal interactions such as
    question x image in VQA) is trained on them with Adam and early stopping (scikit-learn's
    ``MLPClassifier``: the same network as a Keras ``Dense`` head, without Keras' per-model
    tracing cost).
    """
    fit, val = _val_part(y[train], seed)
    tr_idx, va_idx = train[fit], train[val]
    if len(modalities) > 1:
        missing = [m for m in modalities if m not in embeddings]
        if missing:
            raise ValueError(f"train the single modalities {missing} before fusing them.")
        x = np.concatenate([embeddings[m] for m in modalities], axis=1)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        x = (x - mu) / sd
        head = MLPClassifier((64,), learning_rate_init=3e-3, batch_size=64, max_iter=60,
                             early_stopping=True, validation_fraction=VAL_SIZE,
                             n_iter_no_change=6, random_state=derive_seed(seed, "head")
                             ).fit(x[train], y[train])
        return head.predict(x[test])
    import keras

    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(derive_seed(seed, "neural", *modalities))
    m = modalities[0]
    x = arrays[m]
    inp = keras.Input(x.shape[1:], dtype="int32" if x.dtype.kind in "iu" else "float32", name=m)
    enc = _encoder(ds, m, x, derive_seed(seed, "encoder", m))
    z = enc(inp)
    model = keras.Model(inp, keras.layers.Dense(n_classes, activation="softmax", name="head")(z))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=NEURAL_PATIENCE,
                                         restore_best_weights=True)
    model.fit(x[tr_idx], y[tr_idx], validation_data=(x[va_idx], y[va_idx]),
              epochs=NEURAL_EPOCHS, batch_size=64, callbacks=[stop], verbose=0)
    both = keras.Model(inp, [model.output, z])  # one prediction pass for scores and features
    prob, embeddings[m] = both.predict(x, batch_size=256, verbose=0)
    keras.backend.clear_session(free_memory=False)
    return prob[test].argmax(1)


# ------------------------------------------------------------------------------------------
# anomaly detection from normal samples only (watch)
# ------------------------------------------------------------------------------------------


def _anomaly_scores(x_train: np.ndarray, x_test: np.ndarray, seed: int,
                    autoencoder: bool = True) -> dict[str, np.ndarray]:
    """Detectors fitted on normal samples ``x_train``; anomaly scores of ``x_test`` (higher =
    more anomalous): Mahalanobis distance (Ledoit-Wolf covariance on <= 32 PCA components),
    Isolation Forest (Liu et al., 2008, ICDM), a small dense autoencoder's reconstruction error.
    """
    imp = SimpleImputer(strategy="median", keep_empty_features=True).fit(x_train)
    scaler = StandardScaler().fit(imp.transform(x_train))
    a = np.clip(scaler.transform(imp.transform(x_train)), -20, 20)
    b = np.clip(scaler.transform(imp.transform(x_test)), -20, 20)
    out = {}
    pca = PCA(min(32, a.shape[1], len(a) - 1), random_state=derive_seed(seed, "apca")).fit(a)
    pa, pb = pca.transform(a), pca.transform(b)
    cov = LedoitWolf().fit(pa)
    out["mahalanobis"] = cov.mahalanobis(pb)
    forest = IsolationForest(n_estimators=200, random_state=derive_seed(seed, "iforest")).fit(a)
    out["iforest"] = -forest.score_samples(b)
    if autoencoder:
        import keras

        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(derive_seed(seed, "autoencoder"))
        d = a.shape[1]
        inp = keras.Input((d,))
        h = keras.layers.Dense(64, activation="relu")(inp)
        h = keras.layers.Dense(12, activation="relu")(h)
        h = keras.layers.Dense(64, activation="relu")(h)
        ae = keras.Model(inp, keras.layers.Dense(d)(h))
        ae.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
        ae.fit(a, a, epochs=40, batch_size=64, verbose=0, validation_split=0.15,
               callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)])
        out["autoencoder"] = ((ae.predict(b, batch_size=512, verbose=0) - b) ** 2).mean(1)
        keras.backend.clear_session(free_memory=False)
    return out


# ------------------------------------------------------------------------------------------
# the table and its verdict
# ------------------------------------------------------------------------------------------


class _Clock:
    """Wall and CPU (this process) seconds since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def probe_table(name: str, seeds: Sequence[int] = (0, 1), n_samples: int | None = None, *,
                families: Sequence[str] = FAMILIES, anomaly: bool = True,
                **load_kwargs: Any) -> pd.DataFrame:
    """Run every probe family on every input of dataset ``name`` for each seed.

    Args:
        name: a dataset of :func:`mmlib.data.load`.
        seeds: seeds of the stratified 70 / 30 splits (and of the models); the dataset itself is
            loaded once, with ``load_kwargs`` (its own ``seed`` default applies).
        n_samples: dataset size (``None`` = the loader's default).
        families: subset of :data:`FAMILIES`.
        anomaly: for datasets with an ``anomaly`` task (``watch``), also train anomaly detectors
            on the normal samples of each training part (AUROC rows).
        **load_kwargs: knobs for the loader.

    Returns:
        ``pandas.DataFrame`` with one row per input x family x task: ``input`` (a modality,
        a pair such as ``"question+caption"``, or ``"fused"``), ``modalities`` (the modalities
        used, joined by ``+``), ``family`` (a probe family, or an anomaly detector), ``task``,
        ``metric`` (``"accuracy"`` or ``"auroc"``), ``mean`` and ``std`` (over the seeds),
        ``n_seeds``, ``seconds`` and ``cpu_seconds`` (wall and CPU time of the row's fits, summed
        over seeds; shared preprocessing split evenly), and, when the dataset records a
        condition, one column per condition name (mean accuracy on the test samples of that
        condition). ``table.attrs`` holds ``dataset``, ``task``, ``n_samples``, ``seeds``,
        ``conditions``, ``single_inputs``, ``seconds``, ``cpu_seconds`` (totals, loading
        included) and ``feature_seconds`` (CPU seconds of the feature extraction).
    """
    for f in families:
        if f not in FAMILIES:
            raise ValueError(f"families must be among {list(FAMILIES)}, got {f!r}.")
    if not len(seeds):
        raise ValueError("seeds must hold at least one seed, got an empty sequence.")
    total = _Clock()
    if "neural" in families or anomaly:  # before threadpool_limits: it limits loaded libraries
        _limit_tensorflow_threads()
    results: dict[tuple[str, str, str, str], list[tuple[float, Any, np.ndarray]]] = {}
    times: dict[tuple[str, str, str, str], np.ndarray] = {}

    def record(key, value, correct, test, seconds):
        results.setdefault(key, []).append((float(value), correct, test))
        times[key] = times.get(key, np.zeros(2)) + seconds

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs at max_iter: still a probe
        kwargs = dict(load_kwargs)
        if n_samples is not None:
            kwargs["n_samples"] = n_samples
        ds = data.load(name, **kwargs)
        task = main_task(ds)
        y = np.asarray(ds.labels[task]).astype(np.int64)
        n_classes = len(ds.class_names(task))
        inputs = probe_inputs(ds)
        cond = _conditions(ds)
        kinds = kinds_of(ds)
        do_anomaly = anomaly and "anomaly" in ds.labels
        clock = _Clock()
        raw = {m: raw_features(ds, m) for m in ds.modalities} if "logreg" in families else {}
        eng = ({m: engineered_features(ds, m) for m in ds.modalities}
               if "gbt" in families or do_anomaly else {})
        feature_seconds = clock.lap()[1]
        for seed in seeds:
            train, test = _split(y, seed, TEST_SIZE)
            if "logreg" in families:
                clock = _Clock()
                blocks = {m: _raw_block(raw[m][train], raw[m][test],
                                        kinds[m] not in ("text", "tabular", "vector"), seed)
                          for m in ds.modalities}
                prep = np.array(clock.lap()) / len(inputs)
                for label, mods in inputs.items():
                    clock = _Clock()
                    xa = np.concatenate([blocks[m][0] for m in mods], axis=1)
                    xb = np.concatenate([blocks[m][1] for m in mods], axis=1)
                    ok = _logreg(xa, y[train], xb, seed) == y[test]
                    key = (label, "logreg", task, "accuracy")
                    record(key, ok.mean(), ok, test, np.array(clock.lap()) + prep)
            if "gbt" in families:
                for label, mods in inputs.items():
                    clock = _Clock()
                    x = np.concatenate([eng[m] for m in mods], axis=1)
                    ok = _gbt(x[train], y[train], x[test], seed) == y[test]
                    record((label, "gbt", task, "accuracy"), ok.mean(), ok, test,
                           np.array(clock.lap()))
            if "neural" in families:
                arrays = {m: _neural_arrays(ds, m, train) for m in ds.modalities}
                embeddings: dict[str, np.ndarray] = {}
                for label, mods in inputs.items():  # single modalities first
                    clock = _Clock()
                    ok = _neural(ds, mods, arrays, y, train, test, n_classes, seed,
                                 embeddings) == y[test]
                    record((label, "neural", task, "accuracy"), ok.mean(), ok, test,
                           np.array(clock.lap()))
            if do_anomaly:
                is_anom = np.asarray(ds.labels["anomaly"]).astype(bool)
                normal_train = train[~is_anom[train]]
                for label, mods in inputs.items():
                    if label not in ("fused", *ds.modalities):
                        continue
                    clock = _Clock()
                    x = np.concatenate([eng[m] for m in mods], axis=1)
                    scores = _anomaly_scores(x[normal_train], x[test], seed,
                                             autoencoder=label == "fused")
                    share = np.array(clock.lap()) / len(scores)
                    for det, sc in scores.items():
                        record((label, det, "anomaly", "auroc"), roc_auc_score(is_anom[test], sc),
                               None, test, share)
    rows = []
    for key, runs in results.items():
        label, family, tsk, metric = key
        vals = np.array([r[0] for r in runs])
        row = {"input": label, "modalities": "+".join(inputs[label]), "family": family,
               "task": tsk, "metric": metric, "mean": float(vals.mean()),
               "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, "n_seeds": len(vals),
               "seconds": round(float(times[key][0]), 1),
               "cpu_seconds": round(float(times[key][1]), 1)}
        if cond is not None:
            ids, names = cond
            for c, cname in enumerate(names):
                per = [ok[ids[te] == c].mean() for _, ok, te in runs
                       if ok is not None and (ids[te] == c).any()]
                row[cname] = float(np.mean(per)) if per else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    wall, cpu = total.lap()
    table.attrs.update(dataset=name, task=task, n_samples=len(ds), seeds=tuple(seeds),
                       conditions=list(cond[1]) if cond is not None else [],
                       single_inputs=list(ds.modalities), seconds=round(wall, 1),
                       cpu_seconds=round(cpu, 1), feature_seconds=round(feature_seconds, 1))
    return table


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """The verdict of a :func:`probe_table`.

    Returns:
        dict with ``dataset``, ``task``; ``best_single`` (best mean accuracy over single
        modalities and families), ``best_single_modality``, ``best_single_family``; ``fused``
        (best family on all modalities), ``fused_family``; ``margin = fused - best_single``;
        for datasets with conditions, ``conditions``: condition -> dict(``best_single``,
        ``modality``, ``family``, ``fused``, ``fused_family``, ``margin``); for VQA inputs,
        ``inputs``: input -> best accuracy over families (e.g. ``"question"``,
        ``"question+caption"``, ``"image+question"``, ``"fused"``); for anomaly rows,
        ``anomaly_auroc`` (best detector on all modalities), ``anomaly_detector`` and
        ``anomaly``: input -> detector -> AUROC.
    """
    task = table.attrs.get("task")
    singles = table.attrs.get("single_inputs")
    acc = table[(table["metric"] == "accuracy") & (table["task"] == task)]
    if singles is None:
        singles = [i for i in acc["input"].unique() if "+" not in i and i != "fused"]
    single = acc[acc["input"].isin(singles)]
    fused = acc[acc["input"] == "fused"]
    if single.empty or fused.empty:
        raise ValueError("table must hold accuracy rows of single modalities and of 'fused', got "
                         f"inputs {sorted(acc['input'].unique())}.")
    b = single.loc[single["mean"].idxmax()]
    f = fused.loc[fused["mean"].idxmax()]
    out: dict[str, Any] = {
        "dataset": table.attrs.get("dataset"), "task": task,
        "best_single": float(b["mean"]), "best_single_modality": b["input"],
        "best_single_family": b["family"], "fused": float(f["mean"]),
        "fused_family": f["family"], "margin": float(f["mean"] - b["mean"]),
        "inputs": {i: float(g["mean"].max()) for i, g in acc.groupby("input", sort=False)},
    }
    conditions = table.attrs.get("conditions") or []
    if conditions:
        per = {}
        for c in conditions:
            bs = single.loc[single[c].idxmax()]
            fs = fused.loc[fused[c].idxmax()]
            per[c] = {"best_single": float(bs[c]), "modality": bs["input"],
                      "family": bs["family"], "fused": float(fs[c]),
                      "fused_family": fs["family"], "margin": float(fs[c] - bs[c])}
        out["conditions"] = per
    anom = table[table["metric"] == "auroc"]
    if not anom.empty:
        out["anomaly"] = {i: dict(zip(g["family"], g["mean"].astype(float), strict=True))
                          for i, g in anom.groupby("input", sort=False)}
        fa = anom[anom["input"] == "fused"]
        if not fa.empty:
            best = fa.loc[fa["mean"].idxmax()]
            out["anomaly_auroc"] = float(best["mean"])
            out["anomaly_detector"] = best["family"]
    return out


def format_table(table: pd.DataFrame) -> str:
    """The table and its summary as plain text (for test output and assertion messages)."""
    cols = ["input", "family", "task", "metric", "mean", "std", "n_seeds", "seconds",
            "cpu_seconds", *table.attrs.get("conditions", [])]
    shown = table[[c for c in cols if c in table.columns]]
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        text = shown.to_string(index=False)
    s = summary(table)
    lines = [f"== {s['dataset']} (task {s['task']!r}, n={table.attrs.get('n_samples')}, "
             f"seeds {table.attrs.get('seeds')}; {table.attrs.get('seconds')} s wall, "
             f"{table.attrs.get('cpu_seconds')} s CPU) ==", text,
             f"best single: {s['best_single']:.3f} ({s['best_single_modality']}, "
             f"{s['best_single_family']}); fused: {s['fused']:.3f} ({s['fused_family']}); "
             f"margin: {s['margin']:+.3f}"]
    for c, d in s.get("conditions", {}).items():
        lines.append(f"  {c:>6}: best single {d['best_single']:.3f} ({d['modality']}, "
                     f"{d['family']}); fused {d['fused']:.3f} ({d['fused_family']}); "
                     f"margin {d['margin']:+.3f}")
    if "anomaly_auroc" in s:
        lines.append(f"anomaly AUROC (fused, best detector {s['anomaly_detector']}): "
                     f"{s['anomaly_auroc']:.3f}")
    return "\n".join(lines)


# --- Targets of the issue "Datasets that teach honestly" (asserted by tests/test_probes_*.py) ---

MIN_MARGIN = 0.08
"""Fused must beat the best single modality by this much (accuracy)."""
MAX_FUSED = 0.97
"""Fused accuracy must not exceed this (a solved task teaches nothing about fusion)."""
CAPTION_LEAK = 0.05
"""Question + caption may differ from the question alone by at most this much."""
IMAGE_GAIN = 0.15
"""Image + question must beat question + caption by at least this much."""
AUROC_RANGE = (0.80, 0.95)
"""Allowed AUROC of the best anomaly detector trained on normal clips (watch)."""


def run(name: str) -> tuple[dict, str]:
    """Probe ``name`` at its default size; print and return (summary, printable table)."""
    table = probe_table(name)
    text = format_table(table)
    print(f"\n{text}")
    return summary(table), text


def main_task_problems(s: dict) -> list[str]:
    """Violations of the targets every dataset shares."""
    problems = []
    if s["margin"] < MIN_MARGIN:
        problems.append(f"fused {s['fused']:.3f} ({s['fused_family']}) beats the best single "
                        f"modality {s['best_single']:.3f} ({s['best_single_modality']}, "
                        f"{s['best_single_family']}) by {s['margin']:+.3f} < {MIN_MARGIN}")
    if s["fused"] > MAX_FUSED:
        problems.append(f"fused {s['fused']:.3f} ({s['fused_family']}) > {MAX_FUSED}: solved")
    return problems


def check(problems: list[str], text: str) -> None:
    assert not problems, "\n".join(["targets missed:", *problems, "", text])
