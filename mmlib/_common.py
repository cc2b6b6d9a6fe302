"""The contract between ``mmlib``'s modules, and the private helpers they share.

Every module that needs one of these names imports it from here; no module imports another
module's ``_private`` names. The contract itself is written for users in the package docstring
(:mod:`mmlib`); this module is its single implementation:

* **mask input**: a model's presence mask is the input named :data:`MASK_INPUT`
  (``"modality_mask"``), float32 ``(batch, M)``, 1 = present, with one column per modality in
  :func:`mask_columns` order (sorted modality names: the order in which fusion layers read a dict
  of modalities);
* **modality kinds**: one vocabulary, :data:`KINDS`, used by ``data``, ``viz``, ``robust`` and
  ``deploy``;
* **seeds**: every derived seed or random stream comes from :func:`derive_seed` /
  :func:`rng` / :func:`rng_streams` (NumPy ``SeedSequence``);
* **outputs**: a model's outputs are named by :func:`output_names` (the keys of a dict output,
  else Keras' ``output_names``); class predictions use one rule, :func:`class_predictions`.

This module imports neither TensorFlow nor Keras at import time (``mmlib.data`` stays light).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from mmlib._validate import check_choice, check_int

# ---------------------------------------------------------------------------------------------
# mask input
# ---------------------------------------------------------------------------------------------

MASK_INPUT = "modality_mask"
"""Name of the presence-mask input of every course model (``(batch, M)``, 1 = present)."""


def mask_columns(modalities: Iterable[str]) -> list[str]:
    """The modality of each column of a presence mask: the modality names, sorted.

    Fusion layers read a dict of modalities in sorted key order, so the mask's columns follow
    the same order whatever order the dataset or the user lists the modalities in.
    """
    names = [str(m) for m in modalities]
    if len(set(names)) != len(names):
        raise ValueError(f"modalities must be distinct, got {names}.")
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# modality kinds
# ---------------------------------------------------------------------------------------------

KINDS: tuple[str, ...] = ("image", "audio", "spectrogram", "text", "tabular", "vector",
                          "point_cloud", "heatmap", "video")
"""The modality kinds of the course (``MultimodalDataset.kinds`` values).

``image`` ``(H, W[, C])``; ``audio`` a waveform ``(T,)``; ``spectrogram`` ``(frames, bins)``;
``text`` token ids ``(L,)``; ``tabular`` named features ``(F,)`` (may hold NaN = not recorded);
``vector`` an unnamed feature vector ``(D,)``; ``point_cloud`` ``(N, 3+)`` with xyz first;
``heatmap`` a 2-D grid that is not a photograph (e.g. a radar range-Doppler map) ``(H, W[, 1])``;
``video`` ``(frames, H, W[, C])``.
"""


def check_kind(name: str, kind: Any) -> str:
    """Return ``kind`` if it is one of :data:`KINDS`, else raise naming ``name``."""
    return check_choice(name, kind, KINDS)


# ---------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------

_MAX_SEED = 2**31 - 1


def derive_seed(seed: int | None, *keys: int | str) -> int | None:
    """A reproducible child seed of ``seed`` for the part named by ``keys`` (``None`` stays None).

    ``keys`` are small ints or strings (e.g. ``derive_seed(0, "encoder", 2)``); different keys
    give independent seeds (NumPy ``SeedSequence`` with the keys as spawn key). The result lies in
    ``[0, 2**31 - 1)``, valid for Keras initialisers and ``tf.random``.
    """
    if seed is None:
        return None
    seed = check_int("seed", seed, minimum=0)
    return int(np.random.SeedSequence(seed, spawn_key=_spawn_key(keys)).generate_state(1)[0]
               % _MAX_SEED)


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A NumPy generator for the part of a seeded computation named by ``keys``."""
    seed = check_int("seed", seed, minimum=0)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_spawn_key(keys)))


def rng_streams(seed: int, n: int, *keys: int | str) -> list[np.random.Generator]:
    """``n`` independent generators, ``rng(seed, *keys, i)`` for ``i`` in ``range(n)``."""
    check_int("n", n, minimum=1)
    return [rng(seed, *keys, i) for i in range(n)]


def _spawn_key(keys: Sequence[int | str]) -> tuple[int, ...]:
    out = []
    for k in keys:
        if isinstance(k, str):  # a stable (not hash-randomised) integer for a string key
            out.append(int.from_bytes(k.encode("utf-8")[:8].ljust(8, b"\0"), "little")
                       ^ len(k))
        elif isinstance(k, int | np.integer) and not isinstance(k, bool) and k >= 0:
            out.append(int(k))
        else:
            raise TypeError(f"seed keys must be non-negative ints or strings, got {k!r}.")
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# outputs and predictions
# ---------------------------------------------------------------------------------------------


def output_names(model: Any) -> list[str]:
    """Names of a Keras model's outputs: the keys of a dict output, else ``model.output_names``."""
    try:
        out = model.output
    except (AttributeError, ValueError):  # subclassed model never called
        out = None
    if isinstance(out, Mapping):
        return [str(k) for k in out]
    names = getattr(model, "output_names", None)
    if not names:
        raise ValueError("model must have named outputs (a functional model whose outputs are a "
                         "dict head -> tensor), got a model without output_names.")
    return [str(n) for n in names]


def class_predictions(y_pred: Any) -> np.ndarray:
    """Class ids from scores: argmax over classes, or ``p >= 0.5`` for one probability column.

    Args:
        y_pred: ``(n, C)`` scores with ``C > 1`` (logits or probabilities), or ``(n,)`` /
            ``(n, 1)`` probabilities of class 1.
    """
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        return y_pred.argmax(axis=1)
    return (y_pred.reshape(len(y_pred)) >= 0.5).astype(int)


def class_labels(labels: Any) -> np.ndarray:
    """Class ids from ``(n,)`` ids or ``(n, C)`` one-hot labels."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return labels.argmax(axis=1)
    return labels.reshape(len(labels)).astype(int)


def accuracy(labels: Any, y_pred: Any) -> float:
    """Fraction of samples whose :func:`class_predictions` equal their :func:`class_labels`."""
    return float(np.mean(class_predictions(y_pred) == class_labels(labels)))
