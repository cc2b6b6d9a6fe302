"""LiteRT (TensorFlow Lite): conversion with float16 / int8 quantization, and a named-input runner.

* :func:`to_litert` converts a Keras model to a ``.tflite`` flatbuffer in float32, float16 or int8;
  the int8 variant uses post-training full-integer quantization (训练后量化) calibrated on a
  representative dataset keyed by input name (Jacob et al. 2018, "Quantization and Training of
  Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR).
* :func:`export_litert_variants` writes several variants from one SavedModel export.
* :class:`LiteRTModel` runs such a file through the interpreter with named inputs
  (``ai_edge_litert``'s interpreter if installed, else ``tf.lite.Interpreter``) and times
  per-sample latency.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mmlib._common import rng
from mmlib._validate import check_choice, check_int
from mmlib.deploy._shared import as_input_dict, quiet_native_stderr, single_samples, time_calls
from mmlib.deploy.export import SIGNATURE_KEY, export_saved_model
from mmlib.deploy.spec import ModalitySpec, input_spec, validate_inputs

QUANTIZATIONS = ("float32", "float16", "int8")
"""Quantization modes accepted by :func:`to_litert`."""


def _interpreter_class() -> type:
    """The LiteRT interpreter: ``ai_edge_litert``'s if installed, else ``tf.lite.Interpreter``."""
    try:  # pragma: no cover - depends on an optional package
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        return tf.lite.Interpreter


# --------------------------------------------------------------------------------------------
# conversion
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
        order = rng(seed, "calibration").permutation(n)[:num_samples]
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
    with quiet_native_stderr():
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
        seed: seed for choosing the calibration subset (stream
            ``mmlib._common.rng(seed, "calibration")``).

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
# interpreter wrapper
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
        self._content, self._num_threads = content, num_threads
        self.delegate = "XNNPACK"
        """``"XNNPACK"`` (the default CPU delegate) or ``"none"`` when XNNPACK could not prepare
        the graph (some int8 graphs) and the plain built-in kernels run it instead."""
        with quiet_native_stderr():
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

    def _without_xnnpack(self) -> None:
        """Re-open the model with the built-in kernels only (no default delegate)."""
        cls = _interpreter_class()
        module = sys.modules[cls.__module__]
        resolver = getattr(module, "OpResolverType", None) or tf.lite.experimental.OpResolverType
        with quiet_native_stderr():
            self._interpreter = cls(model_content=self._content, num_threads=self._num_threads,
                                    experimental_op_resolver_type=resolver
                                    .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self._runner = self._interpreter.get_signature_runner(self.signature)
        self.delegate = "none"

    def _run(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {n: self._quantize(n, arrays[n]) for n in self.input_names}
        try:
            if self._first_call:  # the XNNPACK delegate announces itself on fd 2 once
                with quiet_native_stderr():
                    raw = self._runner(**feed)
                self._first_call = False
            else:
                raw = self._runner(**feed)
        except RuntimeError as err:  # XNNPACK rejects some int8 graphs when (re)preparing them
            if "xnnpack" not in str(err).lower() or self.delegate != "XNNPACK":
                raise
            self._without_xnnpack()
            raw = self._runner(**feed)
        return {n: self._dequantize(n, np.asarray(raw[n])) for n in self.output_names}

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run one batch ``{name: (batch, ...)}``; return ``{output name: (batch, ...)}``."""
        arrays = validate_inputs(as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
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
        arrays = validate_inputs(as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
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
        arrays = validate_inputs(as_input_dict(inputs, "inputs"), self.spec, allow_extra=True)
        samples = single_samples(arrays, n_runs + warmup)
        return time_calls(self._run, samples, warmup)

    def __repr__(self) -> str:
        ins = ", ".join(s.describe() for s in self.spec.values())
        return (f"LiteRTModel({self.path.name if self.path else '<bytes>'}, {self.size_bytes} "
                f"bytes, inputs [{ins}], outputs {self.output_names})")
