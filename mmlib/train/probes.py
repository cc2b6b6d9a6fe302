"""Unimodal linear probes: how much of the label a (frozen) encoder's features carry.

:func:`linear_probe_accuracy` fits a multinomial logistic regression on standardised encoder
features of the training samples and scores it on held-out samples. Applied to each modality's
encoder of a jointly trained fusion model it shows *modality imbalance* (模态不平衡): the encoder
of the "lazy" modality carries less of the label than the same encoder trained alone (Peng et al.,
"Balanced Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022, Sec. 3; Wang, Tran,
Feiszli, "What Makes Training Multi-modal Classification Networks Hard?", CVPR 2020).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from mmlib._validate import check_float, check_int, check_numeric_array

__all__ = ["linear_probe_accuracy"]


def _features(name: str, encoder: Any, x: Any, batch_size: int) -> np.ndarray:
    if encoder is None:
        feats = check_numeric_array(name, x)
    else:
        feats = np.concatenate([
            keras.ops.convert_to_numpy(encoder(x[i:i + batch_size], training=False))
            for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0, 0))
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim < 2 or len(feats) == 0:
        raise ValueError(f"{name} must give features (n, d) with n >= 1, got shape "
                         f"{feats.shape}.")
    return feats.reshape(len(feats), -1)


def linear_probe_accuracy(encoder: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any, *,
                          C: float = 1.0, batch_size: int = 512, max_iter: int = 2000) -> float:
    """Test accuracy of a linear probe on frozen features.

    The features ``h = encoder(x)`` ``(n, d)`` (inference mode, nothing is trained in the
    encoder) are standardised with the training samples' mean and standard deviation, a
    multinomial ``sklearn.linear_model.LogisticRegression(C=C)`` is fitted on the training
    samples and its accuracy on the test samples is returned.

    Args:
        encoder: a Keras layer / model mapping ``x`` to ``(n, d)`` features, or ``None`` when
            ``x_train`` / ``x_test`` already are the features.
        x_train, x_test: encoder inputs (arrays with the samples on axis 0) or features.
        y_train, y_test: integer class labels ``(n,)``.
        C: inverse L2 regularisation strength of the probe (> 0).
        batch_size: batch size used to run the encoder.
        max_iter: iterations of the solver.

    Returns:
        The probe's accuracy on ``(x_test, y_test)``, a float in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression

    C = check_float("C", C, minimum=0.0, include_min=False)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    h_train = _features("x_train", encoder, x_train, batch_size)
    h_test = _features("x_test", encoder, x_test, batch_size)
    y_train, y_test = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
    for name, h, y in (("y_train", h_train, y_train), ("y_test", h_test, y_test)):
        if len(y) != len(h):
            raise ValueError(f"{name} must hold one label per sample ({len(h)}), got {len(y)}.")
    if h_train.shape[1] != h_test.shape[1]:
        raise ValueError(f"x_test must give features of the training size {h_train.shape[1]}, "
                         f"got {h_test.shape[1]}.")
    if len(np.unique(y_train)) < 2:
        raise ValueError(f"y_train must hold at least 2 classes, got {np.unique(y_train)}.")
    mean, std = h_train.mean(axis=0), h_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    probe = LogisticRegression(C=C, max_iter=max_iter)
    probe.fit((h_train - mean) / std, y_train)
    return float(np.mean(probe.predict((h_test - mean) / std) == y_test))
