"""Deployment tools: export, LiteRT quantization, pruning, input validation and drift monitoring.

A trained multimodal model leaves the notebook in four steps, each with a function here:

1. **Export** (导出). :func:`export_saved_model` writes a TensorFlow SavedModel whose
   ``serving_default`` signature takes one named tensor per modality (keys = the names of the
   ``keras.Input`` layers). :func:`to_litert` converts the model to a LiteRT (formerly TensorFlow
   Lite) flatbuffer in float32, float16 or int8 — the int8 variant uses post-training full-integer
   quantization (训练后量化) calibrated on a representative dataset keyed by input name
   (Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference", CVPR). :class:`LiteRTModel` runs such a file through the
   interpreter with named inputs, and :func:`deployment_report` tabulates file size, accuracy,
   per-sample latency and the deviation from the Keras outputs for every variant.
2. **Compress** (剪枝). :func:`prune_by_magnitude` zeroes the smallest-magnitude weights once;
   :class:`PruningSchedule` + :class:`PruningCallback` raise the sparsity gradually during
   fine-tuning (Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for
   model compression", arXiv:1710.01878) and keep pruned weights at zero. :func:`sparsity`,
   :func:`sparsity_by_layer` and :func:`compressed_size` report the result. (The TensorFlow Model
   Optimization toolkit does not support Keras 3, so pruning is written here directly on
   ``keras.Variable`` objects: the pruned model stays a plain Keras model.)
3. **Serve**. :func:`validate_inputs` and :class:`ServingModel` reject a request with a missing
   modality, an unexpected key, a wrong shape or dtype, with a message that says what was expected.
4. **Monitor** (数据漂移). :func:`population_stability_index`, :func:`ks_statistic` and
   :func:`drift_report` compare a live batch with the reference (training) data, modality by
   modality.

Conventions: every input is a ``dict`` mapping input name → ``numpy`` array whose axis 0 is the
batch, e.g. ``{"image": (batch, 8, 8, 1), "vector": (batch, 16)}``. A ``MultimodalDataset``-like
object (anything with a ``.modalities`` dict of arrays) is accepted wherever a dict of arrays is.

Log noise: the LiteRT converter and interpreter print a few lines from C++ straight to file
descriptor 2 ("fully_quantize: 0, inference_type: 6 ...", "Created TensorFlow Lite XNNPACK
delegate"), which no log level silences; a notebook shows them in the cell output. The functions
here silence file descriptor 2 only around those calls (Python exceptions still propagate with
their messages), and hide the ``tf.lite.Interpreter`` deprecation warning (the ``ai_edge_litert``
interpreter is used instead when that package is installed).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy import special

from mmlib._validate import check_choice, check_float, check_int

__all__ = [
    "QUANTIZATIONS",
    "SIGNATURE_KEY",
    "LiteRTModel",
    "ModalitySpec",
    "PruningCallback",
    "PruningSchedule",
    "ServingModel",
    "compressed_size",
    "deployment_report",
    "drift_report",
    "export_litert_variants",
    "export_saved_model",
    "input_spec",
    "ks_pvalue",
    "ks_statistic",
    "population_stability_index",
    "prune_by_magnitude",
    "sparsity",
    "sparsity_by_layer",
    "to_litert",
    "validate_inputs",
]

QUANTIZATIONS = ("float32", "float16", "int8")
"""Quantization modes accepted by :func:`to_litert`."""

SIGNATURE_KEY = "serving_default"
"""Name of the signature written by :func:`export_saved_model` and read by :class:`LiteRTModel`."""


# --------------------------------------------------------------------------------------------
# Quiet helpers
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C++ log lines go there directly).

    Also hides the ``tf.lite.Interpreter`` deprecation warning and absl log records below ERROR.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    absl_logger = logging.getLogger("absl")
    old_level = absl_logger.level
    try:
        os.dup2(devnull, 2)
        absl_logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            # tf.lite.Interpreter (also used inside the int8 calibrator) announces its deprecation
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            yield
    finally:
        absl_logger.setLevel(old_level)
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _interpreter_class() -> type:
    """The LiteRT interpreter: ``ai_edge_litert``'s if installed, else ``tf.lite.Interpreter``."""
    try:  # pragma: no cover - depends on an optional package
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        return tf.lite.Interpreter


# --------------------------------------------------------------------------------------------
# Input specification and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModalitySpec:
    """What a served model expects for one named input.

    Attributes:
        name: the input name (the ``keras.Input(name=...)``), e.g. ``"image"``.
        shape: full shape including the batch axis; ``None`` marks a free axis, e.g.
            ``(None, 8, 8, 1)``.
        dtype: numpy dtype name, e.g. ``"float32"``.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def describe(self) -> str:
        """``"image: (None, 8, 8, 1) float32"`` — used in error messages."""
        return f"{self.name}: {_shape_text(self.shape)} {self.dtype}"


def _shape_text(shape: Iterable[int | None]) -> str:
    dims = ["None" if d is None else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _model_input_names(model: keras.Model) -> list[str]:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            "model must be a built functional or Sequential Keras model with named inputs "
            f"(model.inputs), got {type(model).__name__} with inputs={inputs!r}. Build it with "
            "keras.Input(shape, name=...) for each modality."
        )
    names = [str(t.name) for t in inputs]
    if len(set(names)) != len(names):
        raise ValueError(f"model input names must be unique, got {names}.")
    return names


def input_spec(model: Any) -> dict[str, ModalitySpec]:
    """The serving specification of a model: input name → :class:`ModalitySpec`.

    Args:
        model: a built Keras model (functional or Sequential; the spec comes from
            ``model.inputs``), a :class:`LiteRTModel` (the spec comes from its signature), or a
            mapping already in this form.

    Returns:
        ``{name: ModalitySpec(name, shape=(None, ...), dtype)}`` in the model's input order.
    """
    if isinstance(model, Mapping):
        out = {}
        for name, spec in model.items():
            if isinstance(spec, ModalitySpec):
                out[str(name)] = spec
            elif isinstance(spec, tuple) and len(spec) == 2:
                shape, dtype = spec
                try:
                    dtype = np.dtype(dtype).name
                except TypeError:
                    raise TypeError(f"spec[{name!r}] has dtype {dtype!r}, which numpy does not "
                                    "understand; expected e.g. 'float32'.") from None
                out[str(name)] = ModalitySpec(str(name), tuple(shape), dtype)
            else:
                raise TypeError(
                    f"spec[{name!r}] must be a ModalitySpec or a (shape, dtype) tuple, got "
                    f"{spec!r}."
                )
        return out
    if isinstance(model, (LiteRTModel, ServingModel)):
        return dict(model.spec)
    if isinstance(model, keras.Model):
        names = _model_input_names(model)
        return {
            name: ModalitySpec(name, (None, *tuple(t.shape[1:])), np.dtype(t.dtype).name)
            for name, t in zip(names, model.inputs, strict=True)
        }
    raise TypeError(
        "spec must be a keras.Model, a LiteRTModel, a ServingModel or a dict of ModalitySpec, "
        f"got {type(model).__name__}."
    )


def _as_input_dict(inputs: Any, argname: str) -> dict[str, Any]:
    """A dict of arrays from a dict or a dataset-like object (``.modalities``)."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    modalities = getattr(inputs, "modalities", None)
    if isinstance(modalities, Mapping):
        return dict(modalities)
    raise TypeError(
        f"{argname} must be a dict mapping input name -> array (or an object with a "
        f".modalities dict), got {type(inputs).__name__}."
    )


def validate_inputs(
    inputs: Mapping[str, Any],
    spec: Any,
    *,
    allow_extra: bool = False,
    strict_dtype: bool = False,
    check_finite: bool = True,
) -> dict[str, np.ndarray]:
    """Check a request against a model's input spec; return the arrays cast to the spec's dtypes.

    Checks, each raising ``ValueError`` with a message that names the input, shows what was given
    and what was expected: a missing modality (lists the expected names), an unexpected extra key
    (unless ``allow_extra``), an array without the batch axis or of the wrong rank or shape
    (fixed axes must match, ``None`` axes are free), batch sizes that differ between modalities,
    a dtype that cannot be cast to the expected one with numpy's ``"same_kind"`` rule (e.g.
    ``float64`` → ``float32`` is accepted, float → ``int32`` token ids or strings → float are
    not; with ``strict_dtype=True`` the dtype must match exactly), and NaN/inf values
    (``check_finite``).

    Args:
        inputs: ``{name: (batch, ...) array}``.
        spec: a Keras model, a :class:`LiteRTModel`, or the dict returned by :func:`input_spec`.
        allow_extra: ignore keys the model does not use instead of raising.
        strict_dtype: require the exact dtype.
        check_finite: reject NaN and infinite values in floating-point inputs.

    Returns:
        ``{name: np.ndarray}`` with exactly the model's inputs, in the spec's order and dtypes.
    """
    spec = input_spec(spec)
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict mapping input name -> array, got "
                        f"{type(inputs).__name__}.")
    expected = list(spec)
    missing = [name for name in expected if name not in inputs]
    if missing:
        raise ValueError(
            f"inputs is missing modality {missing[0]!r}" + (f" (all missing: {missing})"
                                                            if len(missing) > 1 else "")
            + f"; expected inputs {expected}, got keys {list(inputs)}."
        )
    extra = [key for key in inputs if key not in spec]
    if extra and not allow_extra:
        raise ValueError(f"inputs has unexpected key(s) {extra}; the model expects exactly "
                         f"{expected}.")
    out: dict[str, np.ndarray] = {}
    batch_sizes: dict[str, int] = {}
    for name, s in spec.items():
        value = inputs[name]
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as err:  # ragged lists
            raise ValueError(f"inputs[{name!r}] could not be converted to an array ({err}); "
                             f"expected {s.describe()}.") from None
        want = np.dtype(s.dtype)
        if array.dtype != want:
            ok = (not strict_dtype and array.dtype.kind in "biuf"
                  and np.can_cast(array.dtype, want, casting="same_kind"))
            if not ok:
                rule = "exactly" if strict_dtype else "a dtype castable (same kind) to"
                raise ValueError(f"inputs[{name!r}] has dtype {array.dtype}, expected {rule} "
                                 f"{want} ({s.describe()}).")
        if array.ndim != len(s.shape):
            hint = ""
            if array.ndim == len(s.shape) - 1 and _dims_match(array.shape, s.shape[1:]):
                hint = " It looks like one sample without the batch axis: use x[None]."
            raise ValueError(f"inputs[{name!r}] has shape {_shape_text(array.shape)} (rank "
                             f"{array.ndim}), expected {_shape_text(s.shape)} (rank "
                             f"{len(s.shape)}, axis 0 = batch).{hint}")
        if not _dims_match(array.shape, s.shape):
            raise ValueError(f"inputs[{name!r}] has shape {_shape_text(array.shape)}, expected "
                             f"{_shape_text(s.shape)} (None = any size).")
        array = array.astype(want, copy=False)
        if check_finite and want.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"inputs[{name!r}] contains NaN or infinite values; expected finite "
                             "numbers (impute or mask missing values before serving).")
        out[name] = array
        batch_sizes[name] = array.shape[0]
    if len(set(batch_sizes.values())) > 1:
        raise ValueError(f"inputs have different batch sizes {batch_sizes}; every modality must "
                         "have the same number of samples on axis 0.")
    if out and next(iter(batch_sizes.values())) == 0:
        raise ValueError(f"inputs hold 0 samples (batch sizes {batch_sizes}); expected at least "
                         "1.")
    return out


def _dims_match(given: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(given) == len(expected) and all(
        e is None or int(g) == int(e) for g, e in zip(given, expected, strict=True))


# --------------------------------------------------------------------------------------------
# SavedModel export
# --------------------------------------------------------------------------------------------


def _output_names(model: keras.Model) -> list[str]:
    names = getattr(model, "output_names", None)
    n_out = len(model.outputs) if getattr(model, "outputs", None) else 1
    if not names or len(names) != n_out or len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(n_out)]
    return [str(n) for n in names]


def _call_model(model: keras.Model, named: Mapping[str, Any], names: list[str],
                output_names: list[str]) -> dict[str, Any]:
    """Call ``model`` on named inputs; return named outputs."""
    args = named[names[0]] if len(names) == 1 else {n: named[n] for n in names}
    out = model(args, training=False)
    if isinstance(out, Mapping):
        return {str(k): v for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return dict(zip(output_names, out, strict=True))
    return {output_names[0]: out}


def export_saved_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """Export ``model`` as a TensorFlow SavedModel with a named ``serving_default`` signature.

    The signature's input signature comes from ``model.inputs``: one ``tf.TensorSpec`` per input,
    named after the input (``keras.Input(name=...)``), with a free batch axis, e.g.
    ``image: (None, 8, 8, 1) float32``, ``vector: (None, 16) float32``. Its outputs are keyed by
    the model's output names (``model.output_names``). The model runs in inference mode
    (``training=False``: dropout off, batch-norm moving statistics).

    Reload and serve with::

        fn = tf.saved_model.load(path).signatures["serving_default"]
        fn(image=x_img, vector=x_vec)   # -> {"probs": (batch, n_classes)}

    Args:
        model: a built functional or Sequential Keras model.
        path: directory to write (created; must not be an existing file).

    Returns:
        The SavedModel directory as a ``Path``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path must be a directory for the SavedModel, got existing file {path}.")
    names = _model_input_names(model)
    output_names = _output_names(model)
    specs = [tf.TensorSpec((None, *tuple(t.shape[1:])), t.dtype, name=n)
             for n, t in zip(names, model.inputs, strict=True)]

    def serve(*tensors):
        return _call_model(model, dict(zip(names, tensors, strict=True)), names, output_names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE_KEY, fn=serve, input_signature=specs)
    with _quiet_native_stderr():
        archive.write_out(str(path), verbose=False)
    return path


# --------------------------------------------------------------------------------------------
# LiteRT conversion
# --------------------------------------------------------------------------------------------


def _calibration_samples(
    data: Any, spec: dict[str, ModalitySpec], num_samples: int, seed: int
) -> list[dict[str, np.ndarray]]:
    """Batch-1 samples ``{name: (1, ...) array}`` in the model's dtypes, from any supported form."""
    names = list(spec)

    def check_names(keys: Iterable[str], where: str) -> None:
        missing = [n for n in names if n not in keys]
        if missing:
            raise ValueError(f"representative_data{where} is missing input(s) {missing}; the model "
                             f"expects inputs {names}, got keys {list(keys)}.")

    modalities = getattr(data, "modalities", None)
    if isinstance(data, Mapping) or isinstance(modalities, Mapping):
        arrays = dict(data) if isinstance(data, Mapping) else dict(modalities)
        check_names(arrays, "")
        if any(np.shape(arrays[k])[:1] == (0,) for k in names):
            raise ValueError("representative_data has 0 samples; expected at least 1.")
        checked = validate_inputs({n: arrays[n] for n in names}, spec, check_finite=True)
        n = next(iter(checked.values())).shape[0]
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)[:num_samples]
        return [{k: v[i:i + 1] for k, v in checked.items()} for i in order]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            "representative_data must be a dict of arrays, an object with a .modalities dict "
            "(e.g. a MultimodalDataset) or an iterable of dicts (e.g. a tf.data.Dataset of "
            f"(inputs, labels)), got {type(data).__name__}."
        )
    samples: list[dict[str, np.ndarray]] = []
    for item in data:
        if isinstance(item, (tuple, list)) and item and isinstance(item[0], Mapping):
            item = item[0]  # (inputs, labels) pairs from a tf.data pipeline
        if not isinstance(item, Mapping):
            raise TypeError("each element of representative_data must be a dict keyed by input "
                            f"name (or an (inputs_dict, labels) pair), got {type(item).__name__}.")
        check_names(item, " element")
        arrays = {n: np.asarray(item[n]) for n in names}
        if all(a.ndim == len(spec[n].shape) - 1 for n, a in arrays.items()):
            arrays = {n: a[None] for n, a in arrays.items()}  # one unbatched sample
        checked = validate_inputs(arrays, spec)
        for i in range(next(iter(checked.values())).shape[0]):
            samples.append({k: v[i:i + 1] for k, v in checked.items()})
            if len(samples) >= num_samples:
                return samples
    if not samples:
        raise ValueError("representative_data yielded no samples; expected at least 1.")
    return samples


def _convert_saved_model(
    saved_model_dir: Path,
    quantization: str,
    samples: list[dict[str, np.ndarray]] | None,
    int8_io: bool,
) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir),
                                                         signature_keys=[SIGNATURE_KEY])
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    with _quiet_native_stderr():
        return converter.convert()


def _prepare_conversion(model: Any, quantization: str, representative_data: Any,
                        num_calibration_samples: int, seed: int, int8_io: bool
                        ) -> list[dict[str, np.ndarray]] | None:
    """Validate the conversion arguments; return the int8 calibration samples (else ``None``)."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    check_choice("quantization", quantization, QUANTIZATIONS)
    check_int("num_calibration_samples", num_calibration_samples, minimum=1)
    check_int("seed", seed, minimum=0)
    if not isinstance(int8_io, bool):
        raise TypeError(f"int8_io must be a bool, got {int8_io!r}.")
    if int8_io and quantization != "int8":
        raise ValueError(f"int8_io=True needs quantization='int8', got {quantization!r}.")
    if quantization == "int8":
        if representative_data is None:
            raise ValueError("quantization='int8' needs representative_data (calibration samples "
                             "keyed by input name, e.g. the training MultimodalDataset); got None.")
        return _calibration_samples(representative_data, input_spec(model),
                                    num_calibration_samples, seed)
    return None


def to_litert(
    model: keras.Model,
    path: str | os.PathLike,
    quantization: str = "float32",
    representative_data: Any = None,
    *,
    num_calibration_samples: int = 200,
    int8_io: bool = False,
    seed: int = 0,
) -> Path:
    """Convert ``model`` to a LiteRT (TensorFlow Lite) ``.tflite`` file.

    The model is exported with :func:`export_saved_model` (to a temporary directory) and converted
    with ``tf.lite.TFLiteConverter.from_saved_model``; the file keeps the ``serving_default``
    signature, so :class:`LiteRTModel` can feed inputs by name.

    Quantization modes:

    - ``"float32"``: no quantization (reference; outputs equal Keras up to float rounding).
    - ``"float16"``: weights stored as float16 (about half the size), computed in float32.
    - ``"int8"``: full-integer post-training quantization (Jacob et al. 2018, "Quantization and
      Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR): int8
      weights (per output channel) and int8 activations whose ranges are calibrated on
      ``representative_data``; biases are int32. Every op must have an int8 kernel
      (``TFLITE_BUILTINS_INT8``), otherwise conversion fails. Inputs and outputs stay float32
      (a quantize op at the entry, a dequantize op at the exit) unless ``int8_io=True``, which
      makes them int8 (:class:`LiteRTModel` then (de)quantizes for you with the stored scale and
      zero point).

    Args:
        model: a built Keras model with named inputs.
        path: the ``.tflite`` file to write (parent directories are created).
        quantization: one of ``"float32"``, ``"float16"``, ``"int8"``.
        representative_data: calibration data for ``"int8"`` (ignored otherwise), keyed by input
            name: a dict ``{name: (n, ...) array}``, a ``MultimodalDataset``-like object (its
            ``.modalities``; modalities the model does not use are ignored), or an iterable of
            dicts (batched or single samples, or ``(inputs, labels)`` pairs as a ``tf.data``
            pipeline yields). Samples are fed one at a time (batch 1) in the model's dtypes.
        num_calibration_samples: how many samples to calibrate on (a seeded random subset of an
            array dict; the first ones of an iterable).
        int8_io: int8 inputs and outputs instead of float32 (``"int8"`` only).
        seed: seed for choosing the calibration subset.

    Returns:
        The path of the written file.
    """
    samples = _prepare_conversion(model, quantization, representative_data,
                                  num_calibration_samples, seed, int8_io)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="mmlib_savedmodel_") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model")
        flatbuffer = _convert_saved_model(saved, quantization, samples, int8_io)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(flatbuffer)
    return path


def export_litert_variants(
    model: keras.Model,
    directory: str | os.PathLike,
    quantizations: Iterable[str] = QUANTIZATIONS,
    representative_data: Any = None,
    *,
    num_calibration_samples: int = 200,
    seed: int = 0,
) -> dict[str, Path]:
    """Convert ``model`` to several LiteRT variants at once (one SavedModel export for all).

    Args:
        model: a built Keras model with named inputs.
        directory: folder for the files ``<directory>/model_<quantization>.tflite``.
        quantizations: any of ``"float32"``, ``"float16"``, ``"int8"``.
        representative_data: calibration data, needed when ``"int8"`` is requested (see
            :func:`to_litert`).
        num_calibration_samples: calibration samples for int8.
        seed: seed for the calibration subset.

    Returns:
        ``{quantization: path}``, ready for :func:`deployment_report`.
    """
    quantizations = [quantizations] if isinstance(quantizations, str) else list(quantizations)
    if not quantizations:
        raise ValueError(f"quantizations must name at least one of {list(QUANTIZATIONS)}, got [].")
    prepared = {q: _prepare_conversion(model, q, representative_data, num_calibration_samples,
                                       seed, False) for q in quantizations}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="mmlib_savedmodel_") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model")
        for q in quantizations:
            paths[q] = directory / f"model_{q}.tflite"
            paths[q].write_bytes(_convert_saved_model(saved, q, prepared[q], False))
    return paths


# --------------------------------------------------------------------------------------------
# LiteRT interpreter wrapper
# --------------------------------------------------------------------------------------------


class LiteRTModel:
    """Run a ``.tflite`` file with named inputs through the LiteRT interpreter.

    Inputs are matched by name through the file's signature (``serving_default`` as written by
    :func:`to_litert`), never by position. A batch is run in one call (the interpreter resizes
    its input tensors to the batch size) or in chunks of ``batch_size``. If the file has integer
    (int8/uint8) inputs or outputs (``to_litert(..., int8_io=True)``), float inputs are quantized
    with the stored scale and zero point, ``q = round(x / scale) + zero_point``, and outputs are
    dequantized, ``x = scale * (q - zero_point)``.

    Args:
        model: path of a ``.tflite`` file, or its bytes.
        signature: the signature to run.
        num_threads: interpreter threads (1 is the typical on-device setting and gives the most
            stable latencies).

    Attributes:
        spec: ``{name: ModalitySpec}`` of the inputs (float32 for quantized inputs, since they are
            quantized for you).
        input_names, output_names: the signature's names.
        size_bytes: size of the flatbuffer.
    """

    def __init__(self, model: str | os.PathLike | bytes, *, signature: str = SIGNATURE_KEY,
                 num_threads: int = 1) -> None:
        check_int("num_threads", num_threads, minimum=1)
        if isinstance(model, (bytes, bytearray)):
            content = bytes(model)
            self.path: Path | None = None
        elif not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"model must be the path of a .tflite file or its bytes, got "
                            f"{type(model).__name__}.")
        else:
            self.path = Path(model)
            if not self.path.is_file():
                raise ValueError(f"model must be an existing .tflite file, got {str(model)!r} "
                                 "(not found).")
            content = self.path.read_bytes()
        self.size_bytes = len(content)
        with _quiet_native_stderr():
            try:
                self._interpreter = _interpreter_class()(model_content=content,
                                                         num_threads=num_threads)
            except ValueError as err:
                raise ValueError(f"model could not be read as a LiteRT flatbuffer: {err}") from None
            signatures = self._interpreter.get_signature_list()
            if signature not in signatures:
                raise ValueError(f"signature must be one of {list(signatures)} (the signatures in "
                                 f"this file), got {signature!r}.")
            self._runner = self._interpreter.get_signature_runner(signature)
        self.signature = signature
        self._input_details = self._runner.get_input_details()
        self._output_details = self._runner.get_output_details()
        self.input_names = list(signatures[signature]["inputs"])
        self.output_names = list(signatures[signature]["outputs"])
        self._first_call = True
        spec = {}
        for name in self.input_names:
            d = self._input_details[name]
            shape = tuple(None if int(s) < 0 else int(s) for s in d["shape_signature"])
            if shape and shape[0] is not None:
                shape = (None, *shape[1:])  # the runner resizes the batch axis
            dtype = np.dtype(d["dtype"])
            if self._is_quantized(d):
                dtype = np.dtype("float32")
            spec[name] = ModalitySpec(name, shape, dtype.name)
        self.spec: dict[str, ModalitySpec] = spec

    @staticmethod
    def _is_quantized(detail: Mapping[str, Any]) -> bool:
        return np.dtype(detail["dtype"]).kind in "iu" and float(detail["quantization"][0]) != 0.0

    def _quantize(self, name: str, x: np.ndarray) -> np.ndarray:
        d = self._input_details[name]
        if not self._is_quantized(d):
            return x
        scale, zero_point = d["quantization"]
        info = np.iinfo(np.dtype(d["dtype"]))
        q = np.round(x / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(d["dtype"])

    def _dequantize(self, name: str, y: np.ndarray) -> np.ndarray:
        d = self._output_details[name]
        if not self._is_quantized(d):
            return y
        scale, zero_point = d["quantization"]
        return (scale * (y.astype(np.float32) - zero_point)).astype(np.float32)

    def _run(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {n: self._quantize(n, arrays[n]) for n in self.input_names}
        if self._first_call:  # the XNNPACK delegate announces itself on fd 2 once
            with _quiet_native_stderr():
                raw = self._runner(**feed)
            self._first_call = False
        else:
            raw = self._runner(**feed)
        return {n: self._dequantize(n, np.asarray(raw[n])) for n in self.output_names}

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run one batch ``{name: (batch, ...)}``; return ``{output name: (batch, ...)}``."""
        arrays = validate_inputs(_as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
        return self._run(arrays)

    def predict(self, inputs: Any, batch_size: int | None = None) -> np.ndarray | dict:
        """Outputs for all samples, like ``keras.Model.predict``.

        Args:
            inputs: ``{name: (n, ...) array}`` or an object with a ``.modalities`` dict; keys the
                model does not use are ignored.
            batch_size: ``None`` runs everything in one interpreter call; an int runs chunks of
                that size (``1`` = sample by sample, as on a device).

        Returns:
            ``(n, ...)`` array for a single-output model, else ``{output name: array}``.
        """
        arrays = validate_inputs(_as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
        n = next(iter(arrays.values())).shape[0]
        if batch_size is None:
            batch_size = max(n, 1)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        chunks = [self._run({k: v[i:i + batch_size] for k, v in arrays.items()})
                  for i in range(0, n, batch_size)]
        out = {k: np.concatenate([c[k] for c in chunks], axis=0) for k in self.output_names}
        return out[self.output_names[0]] if len(out) == 1 else out

    def latency_ms(self, inputs: Any, n_runs: int = 100, warmup: int = 10) -> np.ndarray:
        """Per-sample latencies in milliseconds (batch 1; samples cycled; after ``warmup`` runs).

        Each run times one interpreter call (setting the inputs, ``invoke``, reading the
        outputs) with ``time.perf_counter``. Report the median: the mean is dragged up by
        occasional scheduler hiccups.

        Returns:
            ``(n_runs,)`` array of milliseconds.
        """
        n_runs = check_int("n_runs", n_runs, minimum=1)
        warmup = check_int("warmup", warmup, minimum=0)
        arrays = validate_inputs(_as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
        samples = _single_samples(arrays, n_runs + warmup)
        return _time_calls(self._run, samples, warmup)

    def __repr__(self) -> str:
        ins = ", ".join(s.describe() for s in self.spec.values())
        return (f"LiteRTModel({self.path.name if self.path else '<bytes>'}, {self.size_bytes} "
                f"bytes, inputs [{ins}], outputs {self.output_names})")


def _single_samples(arrays: Mapping[str, np.ndarray], count: int) -> list[dict[str, np.ndarray]]:
    n = next(iter(arrays.values())).shape[0]
    if n == 0:
        raise ValueError("inputs have 0 samples; expected at least 1 for timing.")
    return [{k: v[i % n:i % n + 1] for k, v in arrays.items()} for i in range(count)]


def _time_calls(fn: Callable[[Any], Any], samples: list[Any], warmup: int) -> np.ndarray:
    for s in samples[:warmup]:
        fn(s)
    times = []
    for s in samples[warmup:]:
        start = time.perf_counter()
        fn(s)
        times.append((time.perf_counter() - start) * 1e3)
    return np.asarray(times)


class ServingModel:
    """A served model that validates every request before running it.

    Wraps a Keras model or a :class:`LiteRTModel`; :meth:`predict` first calls
    :func:`validate_inputs` (missing modality, unexpected key, wrong shape or dtype, NaN → a
    ``ValueError`` that says what was expected), then runs the model.

    Args:
        model: a built Keras model with named inputs, or a :class:`LiteRTModel`.
        strict_dtype: require exact dtypes instead of same-kind casts.
        allow_extra: ignore unknown keys instead of rejecting the request.
    """

    def __init__(self, model: Any, *, strict_dtype: bool = False,
                 allow_extra: bool = False) -> None:
        if not isinstance(model, (keras.Model, LiteRTModel)):
            raise TypeError(f"model must be a keras.Model or a LiteRTModel, got "
                            f"{type(model).__name__}.")
        self.model = model
        self.spec: dict[str, ModalitySpec] = input_spec(model)
        self.strict_dtype = bool(strict_dtype)
        self.allow_extra = bool(allow_extra)

    def validate(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Return the checked, cast inputs or raise ``ValueError`` (see :func:`validate_inputs`)."""
        return validate_inputs(inputs, self.spec, allow_extra=self.allow_extra,
                               strict_dtype=self.strict_dtype)

    def predict(self, inputs: Mapping[str, Any]) -> np.ndarray | dict:
        """Validate ``{name: (batch, ...)}`` and return the model's outputs as numpy arrays."""
        arrays = self.validate(inputs)
        if isinstance(self.model, LiteRTModel):
            return self.model.predict(arrays)
        names = list(self.spec)
        out = _call_model(self.model, arrays, names, _output_names(self.model))
        out = {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}
        return next(iter(out.values())) if len(out) == 1 else out


# --------------------------------------------------------------------------------------------
# Deployment report
# --------------------------------------------------------------------------------------------


def _pick_output(out: Any, output: str | None, where: str) -> np.ndarray:
    if isinstance(out, Mapping):
        if output is None:
            output = next(iter(out))
        if output not in out:
            raise ValueError(f"output must be one of {list(out)} ({where}), got {output!r}.")
        return np.asarray(out[output])
    if isinstance(out, (list, tuple)):
        raise ValueError(f"{where} returns an unnamed list of outputs; expected a dict.")
    return np.asarray(out)  # a single output: ``output`` names it or is None


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    scores = scores.reshape(len(scores), -1)
    if scores.shape[1] == 1:  # one sigmoid unit
        pred = (scores[:, 0] > 0.5).astype(int)
    else:
        pred = scores.argmax(axis=1)
    return float(np.mean(pred == labels.reshape(-1)))


def deployment_report(
    model: keras.Model,
    variants: Mapping[str, str | os.PathLike | LiteRTModel],
    test_inputs: Any,
    test_labels: Any = None,
    *,
    output: str | None = None,
    n_runs: int = 200,
    warmup: int = 20,
    include_keras: bool = True,
) -> pd.DataFrame:
    """Compare LiteRT variants of ``model``: size, accuracy, per-sample latency, error vs Keras.

    Every variant runs over the whole test set through the interpreter; latency is the median of
    ``n_runs`` single-sample calls (batch 1, after ``warmup`` calls), timed with
    ``time.perf_counter``. The optional first row is the Keras model itself (size of its
    ``.keras`` file; latency of a ``tf.function``-compiled ``model(x, training=False)`` call, i.e.
    graph mode as in a SavedModel server — an eager call costs about ten times more).

    Args:
        model: the Keras model the variants were converted from (the reference outputs).
        variants: ``{name: .tflite path or LiteRTModel}``, e.g. from :func:`export_litert_variants`.
        test_inputs: ``{name: (n, ...) array}`` or a ``MultimodalDataset``-like object.
        test_labels: ``(n,)`` integer class labels, or ``None`` (accuracy columns are NaN).
            Accuracy uses the argmax of the output (one sigmoid unit: threshold 0.5).
        output: which output to score for multi-output models (default: the first).
        n_runs: timed single-sample calls per variant.
        warmup: untimed calls before timing.
        include_keras: add the Keras row.

    Returns:
        One row per variant with columns ``variant``, ``size_bytes``, ``size_kb``,
        ``size_ratio`` (size / size of the ``"float32"`` variant, or of the first variant),
        ``accuracy``, ``accuracy_drop`` (Keras accuracy − variant accuracy, in points of 0–1),
        ``argmax_agreement`` (fraction of samples with the same predicted class as Keras),
        ``max_abs_diff`` (max |output − Keras output|) and ``latency_ms`` (median).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    if not isinstance(variants, Mapping) or not variants:
        raise ValueError(f"variants must be a non-empty dict name -> .tflite path, got "
                         f"{variants!r}.")
    n_runs = check_int("n_runs", n_runs, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    spec = input_spec(model)
    arrays = validate_inputs(_as_input_dict(test_inputs, "test_inputs"), spec, allow_extra=True)
    n = next(iter(arrays.values())).shape[0]
    labels = None
    if test_labels is not None:
        labels = np.asarray(test_labels)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(f"test_labels has shape {labels.shape} ({labels.size} entries), "
                             f"expected ({n},): one integer class label per test sample.")
    names = list(spec)
    out_names = _output_names(model)
    raw = model.predict(arrays if len(names) > 1 else arrays[names[0]], verbose=0,
                        batch_size=256)
    if isinstance(raw, (list, tuple)):
        raw = dict(zip(out_names, raw, strict=True))
    if isinstance(raw, Mapping) and output is None:
        output = out_names[0] if out_names[0] in raw else next(iter(raw))
    reference = _pick_output(raw, output, "the Keras model")
    ref_pred = reference.reshape(n, -1)
    ref_cls = ref_pred.argmax(1) if ref_pred.shape[1] > 1 else (ref_pred[:, 0] > 0.5)
    ref_acc = _accuracy(reference, labels) if labels is not None else math.nan

    rows = []
    if include_keras:
        with tempfile.TemporaryDirectory(prefix="mmlib_keras_") as tmp:
            file = Path(tmp) / "model.keras"
            model.save(file)
            size = file.stat().st_size
        samples = _single_samples(arrays, n_runs + warmup)
        serve = tf.function(lambda s: _call_model(model, s, names, out_names),
                            reduce_retracing=True)
        latencies = _time_calls(serve, samples, max(warmup, 1))  # the first call traces
        rows.append({"variant": "keras", "size_bytes": size, "accuracy": ref_acc,
                     "argmax_agreement": 1.0, "max_abs_diff": 0.0,
                     "latency_ms": float(np.median(latencies))})
    for name, variant in variants.items():
        lite = variant if isinstance(variant, LiteRTModel) else LiteRTModel(variant)
        pred = _pick_output(lite.predict(arrays), output, f"variant {name!r}")
        if pred.shape != reference.shape:
            raise ValueError(f"variant {name!r} returns shape {pred.shape}, expected the Keras "
                             f"output shape {reference.shape}; is it converted from this model?")
        flat = pred.reshape(n, -1)
        cls = flat.argmax(1) if flat.shape[1] > 1 else (flat[:, 0] > 0.5)
        rows.append({
            "variant": str(name),
            "size_bytes": lite.size_bytes,
            "accuracy": _accuracy(pred, labels) if labels is not None else math.nan,
            "argmax_agreement": float(np.mean(cls == ref_cls)),
            "max_abs_diff": float(np.max(np.abs(pred.astype(np.float64) - reference))),
            "latency_ms": float(np.median(lite.latency_ms(arrays, n_runs, warmup))),
        })
    table = pd.DataFrame(rows)
    table["size_kb"] = table["size_bytes"] / 1024.0
    lite_rows = table[table["variant"] != "keras"]
    base = lite_rows[lite_rows["variant"] == "float32"]
    base_size = (base if len(base) else lite_rows).iloc[0]["size_bytes"]
    table["size_ratio"] = table["size_bytes"] / base_size
    table["accuracy_drop"] = ref_acc - table["accuracy"]
    return table[["variant", "size_bytes", "size_kb", "size_ratio", "accuracy", "accuracy_drop",
                  "argmax_agreement", "max_abs_diff", "latency_ms"]]


# --------------------------------------------------------------------------------------------
# Magnitude pruning
# --------------------------------------------------------------------------------------------


def _default_prunable(variable: Any) -> bool:
    name = str(variable.name).split("/")[-1].split(":")[0]
    return name.endswith("kernel") and len(variable.shape) >= 2


def _prunable_variables(model: keras.Model,
                        include: Callable[[Any], bool] | None) -> list[Any]:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    if include is not None and not callable(include):
        raise TypeError(f"include must be a predicate on keras.Variable (a callable) or None, got "
                        f"{include!r}.")
    include = include or _default_prunable
    seen: set[int] = set()
    out = []
    for v in model.trainable_variables:
        if id(v) not in seen and include(v):
            seen.add(id(v))
            out.append(v)
    if not out:
        raise ValueError("model has no prunable weights (by default: trainable 'kernel' "
                         "variables of rank >= 2, as in Dense and Conv layers).")
    return out


def _magnitude_masks(variables: list[Any], target: float, scope: str) -> list[np.ndarray]:
    """Masks zeroing the ``round(target * n)`` smallest |w| (per variable or over all of them)."""
    values = [np.abs(keras.ops.convert_to_numpy(v)) for v in variables]
    if scope == "layer":
        masks = []
        for a in values:
            k = int(round(target * a.size))
            mask = np.ones(a.size, dtype=bool)
            if k:
                mask[np.argsort(a, axis=None, kind="stable")[:k]] = False
            masks.append(mask.reshape(a.shape))
        return masks
    flat = np.concatenate([a.ravel() for a in values])
    k = int(round(target * flat.size))
    keep = np.ones(flat.size, dtype=bool)
    if k:
        keep[np.argsort(flat, kind="stable")[:k]] = False
    bounds = np.cumsum([0] + [a.size for a in values])
    return [keep[bounds[i]:bounds[i + 1]].reshape(a.shape) for i, a in enumerate(values)]


def _apply_masks(variables: list[Any], masks: list[Any]) -> None:
    for v, m in zip(variables, masks, strict=True):
        v.assign(keras.ops.multiply(v, keras.ops.cast(m, v.dtype)))


def prune_by_magnitude(
    model: keras.Model,
    sparsity: float,
    *,
    scope: str = "layer",
    include: Callable[[Any], bool] | None = None,
) -> dict[str, np.ndarray]:
    """One-shot magnitude pruning (剪枝): zero the smallest-|w| fraction ``sparsity`` of weights.

    Modifies ``model`` in place. With ``scope="layer"`` each weight matrix loses exactly
    ``round(sparsity * size)`` entries (Zhu & Gupta 2017 prune layer by layer); with
    ``scope="global"`` one threshold over all prunable weights removes ``round(sparsity * total)``
    entries, so layers with many small weights lose more. Ties are broken by position.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        model: a Keras model (weights are overwritten).
        sparsity: fraction of weights to zero, in [0, 1).
        scope: ``"layer"`` or ``"global"``.
        include: which variables to prune (a predicate on ``keras.Variable``); default: trainable
            ``kernel`` variables of rank ≥ 2 (Dense, Conv, attention projections), not biases or
            normalisation parameters.

    Returns:
        ``{variable path: boolean mask}`` (True = kept). Training further without
        :class:`PruningCallback` lets the zeros grow back.
    """
    sparsity = check_float("sparsity", sparsity, minimum=0.0, maximum=1.0, include_max=False)
    check_choice("scope", scope, ("layer", "global"))
    variables = _prunable_variables(model, include)
    masks = _magnitude_masks(variables, sparsity, scope)
    _apply_masks(variables, masks)
    return {_variable_key(v, i): m for i, (v, m) in enumerate(zip(variables, masks, strict=True))}


def _variable_key(v: Any, index: int) -> str:
    return str(getattr(v, "path", None) or f"{v.name}_{index}")


class PruningSchedule:
    """Gradual sparsity schedule of Zhu & Gupta (2017): polynomial decay toward the target.

    At step ``t`` the target sparsity is

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0)) ** power``  for t_0 ≤ t ≤ t_end,

    ``s_i`` before ``t_0`` and ``s_f`` after ``t_end``; masks are recomputed only every
    ``frequency`` steps (``t = t_0, t_0 + frequency, ...`` and at ``t_end``) and held in between.
    Pruning fast at first and slowly near the end (power 3 in the paper) gives the network time to
    recover from the last, most damaging cuts.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        final_sparsity: ``s_f`` in [0, 1).
        initial_sparsity: ``s_i`` in [0, ``final_sparsity``].
        begin_step: ``t_0`` (optimizer steps, i.e. batches, counted over all ``fit`` calls).
        end_step: ``t_end`` ≥ ``begin_step``.
        frequency: steps between mask updates (≥ 1).
        power: decay exponent (3 in the paper).
    """

    def __init__(self, final_sparsity: float, *, initial_sparsity: float = 0.0,
                 begin_step: int = 0, end_step: int = 100, frequency: int = 10,
                 power: float = 3.0) -> None:
        self.final_sparsity = check_float("final_sparsity", final_sparsity, minimum=0.0,
                                          maximum=1.0, include_max=False)
        self.initial_sparsity = check_float("initial_sparsity", initial_sparsity, minimum=0.0,
                                            maximum=self.final_sparsity)
        self.begin_step = check_int("begin_step", begin_step, minimum=0)
        self.end_step = check_int("end_step", end_step, minimum=self.begin_step)
        self.frequency = check_int("frequency", frequency, minimum=1)
        self.power = check_float("power", power, minimum=0.0, include_min=False)

    def __call__(self, step: int) -> float:
        """Target sparsity at ``step`` (the formula above, without the holding between updates)."""
        step = check_int("step", step, minimum=0)
        if step < self.begin_step:
            return self.initial_sparsity
        if step >= self.end_step:
            return self.final_sparsity
        frac = (step - self.begin_step) / (self.end_step - self.begin_step)
        return (self.final_sparsity
                + (self.initial_sparsity - self.final_sparsity) * (1.0 - frac) ** self.power)

    def is_update_step(self, step: int) -> bool:
        """Whether masks are recomputed at ``step``."""
        step = check_int("step", step, minimum=0)
        if step < self.begin_step or step > self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def __repr__(self) -> str:
        return (f"PruningSchedule(final_sparsity={self.final_sparsity}, initial_sparsity="
                f"{self.initial_sparsity}, begin_step={self.begin_step}, end_step={self.end_step}"
                f", frequency={self.frequency}, power={self.power})")


class PruningCallback(keras.callbacks.Callback):
    """Prune gradually during ``fit`` and keep pruned weights at zero.

    Before a training step that the schedule marks as an update step, the masks are recomputed by
    magnitude at the scheduled sparsity (weights already at zero are the smallest, so the pruned
    set only grows); after every training step (and at the start of training) the masks are
    re-applied, undoing whatever the optimizer did to pruned weights (momentum keeps moving them).
    Use ``steps_per_execution=1`` (the default) so the callback sees every step. The step counter
    persists across ``fit`` calls.

    Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878.

    Args:
        schedule: a :class:`PruningSchedule`, or a float for constant sparsity from step 0.
        scope: ``"layer"`` or ``"global"`` (see :func:`prune_by_magnitude`).
        include: which variables to prune (default: rank ≥ 2 trainable kernels).

    Attributes:
        step: training steps seen so far.
        current_sparsity: the sparsity of the current masks.
        masks: ``{variable path: boolean mask}`` (True = kept).
    """

    def __init__(self, schedule: PruningSchedule | float, *, scope: str = "layer",
                 include: Callable[[Any], bool] | None = None) -> None:
        super().__init__()
        if not isinstance(schedule, PruningSchedule):
            schedule = PruningSchedule(schedule, initial_sparsity=schedule, begin_step=0,
                                       end_step=0)
        self.schedule = schedule
        self.scope = check_choice("scope", scope, ("layer", "global"))
        self.include = include
        self.step = 0
        self.current_sparsity = 0.0
        self._variables: list[Any] | None = None
        self._masks: list[np.ndarray] | None = None
        self._mask_tensors: list[Any] = []

    @property
    def masks(self) -> dict[str, np.ndarray]:
        if self._variables is None or self._masks is None:
            return {}
        return {_variable_key(v, i): m
                for i, (v, m) in enumerate(zip(self._variables, self._masks, strict=True))}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Find the prunable weights (first ``fit``) or re-apply the current masks."""
        if self._variables is None:
            self._variables = _prunable_variables(self.model, self.include)
        if self._masks is not None:
            _apply_masks(self._variables, self._mask_tensors)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """On a scheduled update step, recompute the masks at the scheduled sparsity."""
        if self.schedule.is_update_step(self.step):
            self.current_sparsity = self.schedule(self.step)
            self._masks = _magnitude_masks(self._variables, self.current_sparsity, self.scope)
            self._mask_tensors = [keras.ops.convert_to_tensor(m, dtype=v.dtype)
                                  for v, m in zip(self._variables, self._masks, strict=True)]
            _apply_masks(self._variables, self._mask_tensors)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Re-zero the pruned weights (the optimizer step moved them) and count the step."""
        if self._masks is not None:
            _apply_masks(self._variables, self._mask_tensors)
        self.step += 1


def sparsity(model: keras.Model, *, include: Callable[[Any], bool] | None = None) -> float:
    """Fraction of exactly-zero entries over all prunable weights (default: rank ≥ 2 kernels)."""
    variables = _prunable_variables(model, include)
    zeros = sum(int(np.sum(keras.ops.convert_to_numpy(v) == 0)) for v in variables)
    return zeros / sum(int(np.prod(v.shape)) for v in variables)


def sparsity_by_layer(model: keras.Model, *,
                      include: Callable[[Any], bool] | None = None) -> pd.DataFrame:
    """Per prunable weight: ``weight`` (its path), ``shape``, ``n_weights``, ``n_zero``,
    ``sparsity`` (fraction of exact zeros)."""
    rows = []
    for i, v in enumerate(_prunable_variables(model, include)):
        a = keras.ops.convert_to_numpy(v)
        rows.append({"weight": _variable_key(v, i), "shape": tuple(a.shape), "n_weights": a.size,
                     "n_zero": int(np.sum(a == 0)), "sparsity": float(np.mean(a == 0))})
    return pd.DataFrame(rows)


def compressed_size(model: keras.Model, *, compresslevel: int = 9) -> int:
    """Bytes of all of ``model``'s weights after gzip — how much pruning saves on disk / download.

    The weights (``model.weights``, in order, in their own dtypes) are concatenated as raw bytes
    and gzip-compressed (``mtime=0``, so the number is reproducible). Zeros compress well, random
    float32 values hardly at all, so a model at sparsity s shrinks roughly by that fraction. Raw
    size is ``sum(w.nbytes)``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    compresslevel = check_int("compresslevel", compresslevel, minimum=1, maximum=9)
    buffer = io.BytesIO()
    for w in model.weights:
        buffer.write(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    return len(gzip.compress(buffer.getvalue(), compresslevel=compresslevel, mtime=0))


# --------------------------------------------------------------------------------------------
# Drift statistics
# --------------------------------------------------------------------------------------------


def _as_1d(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of one feature, got shape {a.shape}; use "
                         "drift_report for multi-feature arrays.")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got 0 values.")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}.")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers.")
    return a


def population_stability_index(reference: Any, live: Any, bins: int = 10,
                               eps: float = 1e-4) -> float:
    """Population stability index (PSI) of one feature between a reference and a live sample.

    ``PSI = Σ_b (p_live,b − p_ref,b) · ln(p_live,b / p_ref,b)``

    over ``bins`` bins whose edges are the reference quantiles at ``1/bins, ..., (bins-1)/bins``
    (so each bin holds about ``1/bins`` of the reference; repeated quantiles of discrete data are
    merged, giving fewer bins). Bin ``b`` is ``[e_{b-1}, e_b)`` with open outer ends, so live
    values outside the reference range land in the first or last bin. Empty bins get proportion
    ``eps`` instead of 0 (else the logarithm is infinite). PSI is symmetric in the two
    proportions and ≥ 0; the usual reading: < 0.1 stable, 0.1–0.2 moderate shift, > 0.2
    significant shift (a convention from credit scoring, not a test).

    Args:
        reference: ``(n,)`` reference values (e.g. training data).
        live: ``(m,)`` live values.
        bins: number of quantile bins (≥ 2).
        eps: proportion used for empty bins (> 0).

    Returns:
        The PSI (float ≥ 0).
    """
    bins = check_int("bins", bins, minimum=2)
    eps = check_float("eps", eps, minimum=0.0, maximum=1.0, include_min=False)
    ref = _as_1d(reference, "reference")
    cur = _as_1d(live, "live")
    return _psi(ref, cur, bins, eps)


def _psi(ref: np.ndarray, cur: np.ndarray, bins: int, eps: float) -> float:
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    n_bins = edges.size + 1
    p_ref = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=n_bins) / ref.size
    p_cur = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=n_bins) / cur.size
    p_ref = np.where(p_ref == 0, eps, p_ref)
    p_cur = np.where(p_cur == 0, eps, p_cur)
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))


def ks_statistic(reference: Any, live: Any) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``D = max_x |F_ref(x) − F_live(x)|``.

    ``F`` are the empirical distribution functions; the maximum is attained at one of the
    observed values, so both are evaluated at every value of the pooled sample. ``D`` is in
    [0, 1]: 0 for identical samples, 1 for non-overlapping ones. (Kolmogorov 1933; Smirnov 1939,
    "On the estimation of the discrepancy between empirical curves of distribution for two
    independent samples", Bull. Moscow Univ.)

    Args:
        reference: ``(n,)`` values.
        live: ``(m,)`` values.

    Returns:
        ``D`` (float).
    """
    return _ks(np.sort(_as_1d(reference, "reference")), np.sort(_as_1d(live, "live")))


def _ks(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    pooled = np.concatenate([ref_sorted, cur_sorted])
    f_ref = np.searchsorted(ref_sorted, pooled, side="right") / ref_sorted.size
    f_cur = np.searchsorted(cur_sorted, pooled, side="right") / cur_sorted.size
    return float(np.max(np.abs(f_ref - f_cur)))


def ks_pvalue(statistic: float, n_reference: int, n_live: int) -> float:
    """Asymptotic p-value of the two-sided two-sample KS test (Smirnov's limit distribution).

    ``p ≈ Q_KS(√(n·m/(n+m)) · D)`` with ``Q_KS(z) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²z²}``
    (``scipy.special.kolmogorov``), the large-sample limit (use n, m ≳ 50; scipy's ``ks_2samp``
    computes exact p-values for small samples).

    Args:
        statistic: ``D`` from :func:`ks_statistic`, in [0, 1].
        n_reference: reference sample size (≥ 1).
        n_live: live sample size (≥ 1).

    Returns:
        The p-value in [0, 1].
    """
    d = check_float("statistic", statistic, minimum=0.0, maximum=1.0)
    n = check_int("n_reference", n_reference, minimum=1)
    m = check_int("n_live", n_live, minimum=1)
    return float(np.clip(special.kolmogorov(math.sqrt(n * m / (n + m)) * d), 0.0, 1.0))


def _drift_inputs(data: Any, name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    arrays = _as_input_dict(data, name)
    masks = getattr(data, "masks", None)
    masks = dict(masks) if isinstance(masks, Mapping) else {}
    return arrays, masks


def drift_report(
    reference: Any,
    live: Any,
    *,
    bins: int = 10,
    psi_threshold: float = 0.2,
    alpha: float = 0.05,
    eps: float = 1e-4,
) -> pd.DataFrame:
    """Per-modality drift between reference (training) data and a live batch.

    Each modality's array ``(n, ...)`` is flattened to ``(n, d)`` features; every feature gets a
    PSI (:func:`population_stability_index`), a KS statistic (:func:`ks_statistic`) and its
    asymptotic p-value (:func:`ks_pvalue`). A feature **drifts** when its shift is both large and
    real: PSI > ``psi_threshold`` (0.2 is the conventional "significant shift") *and* its KS
    p-value, Bonferroni-adjusted for the d features (``d · p``), is below ``alpha``. The modality
    is flagged (``drift=True``) when at least one feature drifts. Both conditions are needed: PSI
    alone raises false alarms on small batches (under no drift its expectation is about
    ``(bins − 1)(1/n + 1/m)``, 0.18 for n = 280, m = 60, and the max over many features is
    larger still), and the KS test alone flags negligible shifts in large batches.

    The row summarises the features: mean and max PSI, the feature with the largest PSI, max KS,
    the smallest adjusted KS p-value (``min(1, d · min p)``), and the number of drifting features.

    If ``reference`` / ``live`` are ``MultimodalDataset``-like objects with ``.masks``, samples
    where a modality is missing are left out of that modality's statistics and the missing rates
    are reported. Non-finite entries (NaN = a missing value inside a modality, e.g. an
    unmeasured lab value) are left out feature by feature, and their rates are reported too — a
    change in missingness is drift of its own.

    Args:
        reference: ``{modality: (n, ...) array}`` or an object with ``.modalities`` (and
            ``.masks``).
        live: the same modalities, ``(m, ...)`` each, with the same feature shape.
        bins: PSI bins (quantiles of the reference).
        psi_threshold: PSI above which a feature's shift counts as large.
        alpha: family-wise significance level of the KS tests (Bonferroni over features).
        eps: PSI proportion for empty bins.

    Returns:
        One row per modality: ``modality``, ``n_features``, ``n_reference``, ``n_live``,
        ``missing_reference``, ``missing_live`` (fraction of samples whose mask says missing),
        ``nan_reference``, ``nan_live`` (fraction of non-finite entries), ``psi_mean``,
        ``psi_max``, ``worst_feature``, ``ks_max``, ``ks_pvalue_adj``, ``ks_significant``
        (``ks_pvalue_adj < alpha``), ``n_drifted_features``, ``drift``.
    """
    bins = check_int("bins", bins, minimum=2)
    psi_threshold = check_float("psi_threshold", psi_threshold, minimum=0.0, include_min=False)
    alpha = check_float("alpha", alpha, minimum=0.0, maximum=1.0, include_min=False)
    eps = check_float("eps", eps, minimum=0.0, maximum=1.0, include_min=False)
    ref_arrays, ref_masks = _drift_inputs(reference, "reference")
    live_arrays, live_masks = _drift_inputs(live, "live")
    if set(ref_arrays) != set(live_arrays):
        raise ValueError(f"live must have the same modalities as reference: reference has "
                         f"{sorted(ref_arrays)}, live has {sorted(live_arrays)}.")
    rows = []
    for name in ref_arrays:
        ref = np.asarray(ref_arrays[name])
        cur = np.asarray(live_arrays[name])
        for label, a in (("reference", ref), ("live", cur)):
            if a.dtype.kind not in "biuf":
                raise ValueError(f"{label}[{name!r}] has dtype {a.dtype}; drift statistics need "
                                 "numeric arrays (tokenize or embed text first).")
            if a.ndim == 0:
                raise ValueError(f"{label}[{name!r}] must have a sample axis, got a scalar.")
        if ref.shape[1:] != cur.shape[1:]:
            raise ValueError(f"live[{name!r}] has per-sample shape {cur.shape[1:]}, expected "
                             f"{ref.shape[1:]} as in reference.")
        n_total, m_total = ref.shape[0], cur.shape[0]
        ref_keep = _mask_for(ref_masks, name, n_total, "reference")
        cur_keep = _mask_for(live_masks, name, m_total, "live")
        ref = ref[ref_keep].reshape(int(ref_keep.sum()), -1).astype(np.float64)
        cur = cur[cur_keep].reshape(int(cur_keep.sum()), -1).astype(np.float64)
        for label, a in (("reference", ref), ("live", cur)):
            if a.shape[0] == 0:
                raise ValueError(f"{label}[{name!r}] has no (present) samples; expected >= 1.")
        n, m = ref.shape[0], cur.shape[0]
        ref_ok, cur_ok = np.isfinite(ref), np.isfinite(cur)
        d = ref.shape[1]
        psi = np.full(d, np.nan)
        ks = np.full(d, np.nan)
        p_values = np.full(d, np.nan)
        for j in range(d):
            r = ref[ref_ok[:, j], j] if not ref_ok[:, j].all() else ref[:, j]
            c = cur[cur_ok[:, j], j] if not cur_ok[:, j].all() else cur[:, j]
            if r.size == 0 or c.size == 0:
                continue  # a feature missing everywhere on one side has no distribution
            psi[j] = _psi(r, c, bins, eps)
            ks[j] = _ks(np.sort(r), np.sort(c))
            p_values[j] = ks_pvalue(float(ks[j]), r.size, c.size)
        tested = int(np.sum(np.isfinite(psi)))
        if tested == 0:
            raise ValueError(f"modality {name!r} has no feature with finite values in both "
                             "reference and live.")
        p_adj = min(1.0, tested * float(np.nanmin(p_values)))
        with np.errstate(invalid="ignore"):
            drifted = (psi > psi_threshold) & (tested * p_values < alpha)
        rows.append({
            "modality": name, "n_features": d, "n_reference": n, "n_live": m,
            "missing_reference": 1.0 - n / n_total if n_total else 0.0,
            "missing_live": 1.0 - m / m_total if m_total else 0.0,
            "nan_reference": float(1.0 - ref_ok.mean()), "nan_live": float(1.0 - cur_ok.mean()),
            "psi_mean": float(np.nanmean(psi)), "psi_max": float(np.nanmax(psi)),
            "worst_feature": int(np.nanargmax(psi)), "ks_max": float(np.nanmax(ks)),
            "ks_pvalue_adj": p_adj, "ks_significant": bool(p_adj < alpha),
            "n_drifted_features": int(np.sum(drifted)),
            "drift": bool(drifted.any()),
        })
    return pd.DataFrame(rows)


def _mask_for(masks: Mapping[str, Any], name: str, n: int, label: str) -> np.ndarray:
    if name not in masks:
        return np.ones(n, dtype=bool)
    mask = np.asarray(masks[name]).astype(bool).reshape(-1)
    if mask.shape[0] != n:
        raise ValueError(f"{label}.masks[{name!r}] has {mask.shape[0]} entries, expected {n}.")
    return mask
