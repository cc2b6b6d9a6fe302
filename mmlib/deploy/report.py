"""Compare deployed variants of a model: :func:`deployment_report` (size, accuracy, latency, error).

One row per LiteRT variant (and the Keras model itself): file size, accuracy, agreement with the
Keras predictions, the largest output deviation, and the median per-sample latency.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmlib._common import accuracy, class_predictions, output_names
from mmlib._validate import check_int
from mmlib.deploy._shared import as_input_dict, call_model, single_samples, time_calls
from mmlib.deploy.litert import LiteRTModel
from mmlib.deploy.spec import input_spec, validate_inputs


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

    Predicted classes follow the library's one rule (:func:`mmlib._common.class_predictions`):
    the argmax over classes of an ``(n, C)`` output, or ``p >= 0.5`` for one probability column.

    Args:
        model: the Keras model the variants were converted from (the reference outputs).
        variants: ``{name: .tflite path or LiteRTModel}``, e.g. from
            :func:`~mmlib.deploy.export_litert_variants`.
        test_inputs: ``{name: (n, ...) array}`` or a ``MultimodalDataset``-like object.
        test_labels: ``(n,)`` integer class labels, or ``None`` (accuracy columns are NaN).
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
    arrays = validate_inputs(as_input_dict(test_inputs, "test_inputs"), spec, allow_extra=True)
    n = next(iter(arrays.values())).shape[0]
    labels = None
    if test_labels is not None:
        labels = np.asarray(test_labels)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(f"test_labels has shape {labels.shape} ({labels.size} entries), "
                             f"expected ({n},): one integer class label per test sample.")
    names = list(spec)
    out_names = output_names(model)
    raw = model.predict(arrays if len(names) > 1 else arrays[names[0]], verbose=0,
                        batch_size=256)
    if isinstance(raw, (list, tuple)):
        raw = dict(zip(out_names, raw, strict=True))
    if isinstance(raw, Mapping) and output is None:
        output = out_names[0] if out_names[0] in raw else next(iter(raw))
    reference = _pick_output(raw, output, "the Keras model")
    ref_cls = class_predictions(reference.reshape(n, -1))
    ref_acc = accuracy(labels, reference.reshape(n, -1)) if labels is not None else math.nan

    rows = []
    if include_keras:
        with tempfile.TemporaryDirectory(prefix="mmlib_keras_") as tmp:
            file = Path(tmp) / "model.keras"
            model.save(file)
            size = file.stat().st_size
        samples = single_samples(arrays, n_runs + warmup)
        serve = tf.function(lambda s: call_model(model, s, names, out_names),
                            reduce_retracing=True)
        latencies = time_calls(serve, samples, max(warmup, 1))  # the first call traces
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
        rows.append({
            "variant": str(name),
            "size_bytes": lite.size_bytes,
            "accuracy": accuracy(labels, flat) if labels is not None else math.nan,
            "argmax_agreement": float(np.mean(class_predictions(flat) == ref_cls)),
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
