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

import hashlib
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
        if isinstance(k, str):  # a stable (not hash-randomised) integer of the whole string
            out.append(int.from_bytes(hashlib.sha256(k.encode("utf-8")).digest()[:8], "little"))
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


# ---------------------------------------------------------------------------------------------
# tensors of several modalities (fusion layers, ModalityDropout)
# ---------------------------------------------------------------------------------------------


def _keras():
    import keras

    return keras


def is_shape(obj: Any) -> bool:
    """True for a single shape such as ``(None, 4)`` (not a list of shapes)."""
    return isinstance(obj, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in obj)


def shape_text(shape: Any) -> str:
    return "(" + ", ".join("batch" if i == 0 and d is None else str(d)
                           for i, d in enumerate(shape)) + ")"


def expand_to(col: Any, rank: int) -> Any:
    """Reshape a ``(batch,)`` tensor to ``(batch, 1, ..., 1)`` with ``rank`` axes."""
    for _ in range(rank - 1):
        col = _keras().ops.expand_dims(col, -1)
    return col


def numeric_dtype(x: Any) -> str | None:
    """The standard dtype name of ``x`` if it holds numbers or booleans, else ``None``."""
    try:
        dtype = _keras().backend.standardize_dtype(x.dtype)
    except (AttributeError, TypeError, ValueError):  # e.g. NumPy str / object arrays
        return None
    return None if dtype == "string" else dtype


def dtype_name(x: Any) -> str:
    dtype = x.dtype
    return str(getattr(dtype, "name", dtype))


def check_modality_inputs(owner: str, inputs: Any, numeric: bool = True) -> None:
    """Raise a clear error unless ``inputs`` is a non-empty list/tuple/dict of tensors.

    Runs before Keras sees the inputs, so that a wrong structure or dtype is reported in the
    course's words instead of a backend error. ``numeric=False`` also accepts string tensors.
    """
    if isinstance(inputs, Mapping):
        kind, items = "dict", [(repr(k), v) for k, v in inputs.items()]
    elif isinstance(inputs, (list, tuple)):
        kind, items = "list", [(str(i), v) for i, v in enumerate(inputs)]
    else:
        got = (f"a single tensor of shape {tuple(inputs.shape)}" if hasattr(inputs, "shape")
               else f"{type(inputs).__name__} {inputs!r}")
        raise TypeError(f"{owner} expects inputs as a list or dict of modality tensors "
                         f"[(batch, d_1), ..., (batch, d_M)], got {got}.")
    if not items:
        raise ValueError(f"{owner} expects at least one modality tensor, got an empty {kind}.")
    for label, x in items:
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(f"{owner}: modality {label} must be a tensor or NumPy array, got "
                            f"{type(x).__name__}.")
        if numeric and numeric_dtype(x) is None:
            raise TypeError(f"{owner}: modality {label} must hold numbers, got dtype "
                            f"{dtype_name(x)}.")


def check_same_modalities(owner: str, built_n: int | None, built_names: Sequence[str] | None,
                           n: int, names: Sequence[str] | None) -> None:
    """Raise unless a call brings the modalities (number, and dict keys) the layer was built for."""
    if names is not None and built_names is not None and tuple(names) != tuple(built_names):
        raise ValueError(f"{owner} was built for modalities {list(built_names)}, got "
                         f"{list(names)}.")
    if built_n is not None and n != built_n:
        raise ValueError(f"{owner} was built for {built_n} modalities, got {n}.")


def check_batch_sizes(owner: str, batches: Sequence[int | None]) -> None:
    """Raise when the known (static) batch sizes of the modalities differ."""
    if len({b for b in batches if b is not None}) > 1:
        raise ValueError(f"{owner}: all modalities must have the same batch size, got batch "
                         f"sizes {list(batches)}.")


def presence_mask(owner: str, modality_mask: Any, n_modalities: int, batch: int | None) -> Any:
    """Validate a ``(batch, M)`` presence mask and return it as a bool tensor (True = present).

    Bool masks are used as they are; numbers count as present when > 0.5.
    """
    if modality_mask is None:
        return None
    mask = _keras().ops.convert_to_tensor(modality_mask)
    if numeric_dtype(mask) is None:
        raise TypeError(f"modality_mask must be bool or 0/1 numbers, got dtype "
                        f"{dtype_name(mask)}.")
    shape = tuple(mask.shape)
    m = n_modalities
    if len(shape) != 2 or (shape[1] is not None and shape[1] != m):
        raise ValueError(f"modality_mask must have shape (batch, {m}) for {owner} with {m} "
                         f"modalities, got {shape_text(shape)}.")
    if shape[0] is not None and batch is not None and shape[0] != batch:
        raise ValueError(f"modality_mask has batch size {shape[0]} but the modalities have "
                         f"batch size {batch}.")
    if _keras().backend.standardize_dtype(mask.dtype) == "bool":
        return mask
    return _keras().ops.greater(_keras().ops.cast(mask, "float32"), 0.5)


def predict_single_output(model: Any, inputs: Mapping[str, Any], batch_size: int) -> np.ndarray:
    """Predictions of a single-output model on a dict of arrays, as one NumPy array."""
    if isinstance(model, _keras().Model):  # predict_on_batch per chunk: no per-call set-up cost
        n = len(next(iter(inputs.values())))
        chunks = [model.predict_on_batch({k: v[s:s + batch_size] for k, v in inputs.items()})
                  for s in range(0, n, batch_size)]
        if isinstance(chunks[0], list | tuple | dict):
            raise ValueError("model must have a single output for this function, got "
                             f"{len(chunks[0])} outputs.")
        out = np.concatenate([_keras().ops.convert_to_numpy(c) for c in chunks], axis=0)
    elif hasattr(model, "predict"):
        out = model.predict(dict(inputs), batch_size=batch_size, verbose=0)
    elif callable(model):
        out = model(dict(inputs))
    else:
        raise TypeError(f"model must be a keras.Model (or have .predict) or a callable on a dict "
                        f"of inputs, got {type(model).__name__}.")
    if isinstance(out, list | tuple):
        raise ValueError("model must have a single output for this function, got "
                         f"{len(out)} outputs.")
    return np.asarray(_keras().ops.convert_to_numpy(out))


def check_inputs(inputs: Any, labels: Any = None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray | None, int]:
    """Validate a dict of same-length arrays (and labels): ``(arrays, labels, n_samples)``."""
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict {{input name: array}}, got "
                        f"{type(inputs).__name__}.")
    if not inputs:
        raise ValueError("inputs must be a non-empty dict {input name: array}, got an empty one.")
    arrays = {k: np.asarray(v) for k, v in inputs.items()}
    sizes = {k: v.shape[0] if v.ndim else 0 for k, v in arrays.items()}
    n = next(iter(sizes.values()))
    if any(s != n for s in sizes.values()) or n == 0:
        raise ValueError(f"inputs must all hold the same number (>= 1) of samples on axis 0, got "
                         f"{sizes}.")
    if labels is None:
        return arrays, None, n
    labels = np.asarray(labels)
    if labels.shape[:1] != (n,):
        raise ValueError(f"labels must hold {n} samples on axis 0 (like inputs), got shape "
                         f"{labels.shape}.")
    return arrays, labels, n


def assert_same_batch(owner: str, tensors: Sequence[Any], labels: Sequence[str]) -> list[Any]:
    """Check that ``tensors`` share their batch size (axis 0), also one known only at run time.

    Used by the fusion layers and by :mod:`mmlib.train`.

    * Known (static) batch sizes that differ raise ``ValueError`` now (``check_batch_sizes``).
    * When some batch size is unknown (TensorFlow graph: a ``tf.function`` whose
      ``input_signature`` has a ``None`` batch axis, Keras' ``fit`` / ``predict``), a check is
      added to the graph and the returned tensors depend on it, so it runs before anything that
      uses them. In a plain graph it is a ``tf.debugging.Assert`` that raises
      ``tf.errors.InvalidArgumentError`` "``<owner>: <labels> must have the same batch size, got
      batch sizes [1 4]``". XLA (``jit_compile=True``) compiles asserts to nothing, so there the
      check is a concatenation of zero-width ``(batch_m, 0)`` tensors named
      ``<owner>_batch_sizes_must_be_equal``, which XLA rejects when it compiles the function for
      the concrete shapes (``InvalidArgumentError`` naming that node and showing the shapes, e.g.
      ``f32[1,0] vs f32[4,0]``).
    * Other backends trace with concrete shapes (JAX) or run eagerly (PyTorch): the static check
      covers them.

    Args:
        owner: the name used in the message (e.g. the layer's class name).
        tensors: tensors ``(batch, ...)`` (any dtype, rank >= 1).
        labels: one name per tensor for the message (e.g. ``"audio"``, ``"modality_mask"``).

    Returns:
        The tensors (in a TensorFlow graph with an unknown batch size: identities that depend on
        the check).
    """
    tensors = list(tensors)
    static = [t.shape[0] if len(t.shape) else None for t in tensors]
    check_batch_sizes(owner, static)
    if len(tensors) < 2 or all(b is not None for b in static) or \
            _keras().backend.backend() != "tensorflow":
        return tensors
    import tensorflow as tf

    if tf.executing_eagerly():  # pragma: no cover - eager tensors always have a static shape
        return tensors
    sizes = [tf.shape(t, out_type="int32")[0] for t in tensors]
    if _in_xla_context(tf):
        check = tf.concat([tf.zeros(tf.stack([s, 0])) for s in sizes], axis=1,
                          name=f"{owner}_batch_sizes_must_be_equal")
    else:
        stacked = tf.stack(sizes)
        check = tf.debugging.Assert(
            tf.reduce_all(tf.equal(stacked, stacked[0])),
            [f"{owner}: {', '.join(labels)} must have the same batch size, got batch sizes",
             stacked], name=f"{owner}_batch_sizes_must_be_equal")
    with tf.control_dependencies([check]):
        return [tf.identity(t) for t in tensors]


def _in_xla_context(tf: Any) -> bool:
    """True while a ``jit_compile=True`` function is being traced (TensorFlow-internal API)."""
    try:
        from tensorflow.python.ops import control_flow_util
        return bool(control_flow_util.GraphOrParentsInXlaContext(
            tf.compat.v1.get_default_graph()))
    except (ImportError, AttributeError):  # pragma: no cover - the internal API moved
        return False  # the run-time assert is used; XLA then skips the check
