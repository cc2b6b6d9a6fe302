"""Measuring a deployed model: wall-clock timing and what a LiteRT file is made of.

* :func:`time_ms` — repeated wall-clock timing of any call (report the median);
* :func:`batch_latency_ms` — per-sample latency of a :class:`~mmlib.deploy.LiteRTModel` when it
  runs batches of a given size;
* :func:`litert_tensors` — the tensor table of a ``.tflite`` file (the interpreter's tensor
  details): which tensors are stored constants (weights, biases) and which are activations, their
  dtypes and bytes;
* :func:`litert_size_breakdown` — a file's bytes split into weights by dtype, tensor names,
  quantization parameters and the rest (the operator graph, shapes, signature, flatbuffer tables).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmlib._validate import check_int
from mmlib.deploy._shared import as_input_dict, quiet_native_stderr
from mmlib.deploy.litert import LiteRTModel, _interpreter_class
from mmlib.deploy.spec import validate_inputs


def time_ms(fn: Callable[..., Any], *args: Any, repeats: int = 5, number: int = 1,
            warmup: int = 1) -> np.ndarray:
    """Wall-clock milliseconds per call of ``fn(*args)``: ``repeats`` measurements.

    ``warmup`` untimed calls first (tracing and compilation happen there), then ``repeats``
    timings, each the mean over ``number`` back-to-back calls (``time.perf_counter``). If ``fn``
    returns a TensorFlow tensor, its value is fetched (``.numpy()``) inside the timing so that
    asynchronous execution is not mistaken for speed. Report the median: it ignores the
    occasional scheduler hiccup that drags the mean up on a busy machine.

    Returns:
        ``(repeats,)`` array of milliseconds per call.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
    repeats = check_int("repeats", repeats, minimum=1)
    number = check_int("number", number, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)

    def call() -> None:
        out = fn(*args)
        for leaf in out.values() if isinstance(out, dict) else [out]:
            if hasattr(leaf, "numpy"):
                leaf.numpy()

    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - start) * 1e3 / number)
    return np.asarray(times)


def batch_latency_ms(model: LiteRTModel, inputs: Any, batch_size: int, *, repeats: int = 5,
                     number: int = 5) -> float:
    """Median milliseconds **per sample** when ``model`` runs batches of ``batch_size``.

    The first ``batch_size`` samples of ``inputs`` (cycled if there are fewer) form one batch;
    the interpreter is resized to it by one untimed call, then :func:`time_ms` times
    ``repeats × number`` calls. Batch 1 is the on-device case (one request at a time); larger
    batches amortise the per-call overhead over the samples.

    Args:
        model: a :class:`~mmlib.deploy.LiteRTModel`.
        inputs: ``{name: (n, ...) array}`` or an object with ``.modalities``.
        batch_size: samples per interpreter call (≥ 1).

    Returns:
        Median time per call divided by ``batch_size``, in milliseconds.
    """
    if not isinstance(model, LiteRTModel):
        raise TypeError(f"model must be a LiteRTModel, got {type(model).__name__}.")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    arrays = validate_inputs(as_input_dict(inputs, "inputs"), model.spec, allow_extra=True)
    n = next(iter(arrays.values())).shape[0]
    rows = np.arange(batch_size) % n
    batch = {k: v[rows] for k, v in arrays.items()}
    per_call = time_ms(model._run, batch, repeats=repeats, number=number, warmup=1)
    return float(np.median(per_call)) / batch_size


def _flatbuffer(model: str | os.PathLike | bytes | LiteRTModel) -> bytes:
    if isinstance(model, LiteRTModel):
        return model._content
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)) and Path(model).is_file():
        return Path(model).read_bytes()
    raise TypeError(f"model must be a .tflite path, its bytes or a LiteRTModel, got {model!r}.")


def litert_tensors(model: str | os.PathLike | bytes | LiteRTModel) -> pd.DataFrame:
    """The tensors of a LiteRT file, from the interpreter's ``get_tensor_details()``.

    A tensor is a stored **constant** (a weight, a bias, a shape) when no operator of the graph
    computes it and it is not a signature input; every other tensor is an **activation**,
    computed at run time. A constant's ``bytes`` are ``prod(shape) × itemsize`` (int8: one byte
    per weight).

    Returns:
        One row per tensor: ``index``, ``name``, ``shape`` (tuple), ``dtype`` (numpy name),
        ``kind`` (``"constant"`` or ``"activation"``), ``n_elements``, ``bytes`` (constants; 0 for
        activations), ``n_scales`` (quantization scales: 0 = not quantized, 1 = per tensor,
        more = per output channel).
    """
    content = _flatbuffer(model)
    with quiet_native_stderr():
        interpreter = _interpreter_class()(model_content=content)
        details = interpreter.get_tensor_details()
        computed = {int(i) for op in interpreter._get_ops_details() for i in op["outputs"]}
        computed |= {int(d["index"]) for d in interpreter.get_input_details()}
    rows = []
    for d in details:
        shape = tuple(int(s) for s in d["shape"])
        dtype = np.dtype(d["dtype"])
        constant = int(d["index"]) not in computed
        n = int(np.prod(shape)) if shape else 1
        rows.append({"index": int(d["index"]), "name": str(d["name"]), "shape": shape,
                     "dtype": dtype.name, "kind": "constant" if constant else "activation",
                     "n_elements": n, "bytes": n * dtype.itemsize if constant else 0,
                     "n_scales": len(d["quantization_parameters"]["scales"])})
    return pd.DataFrame(rows)


def litert_size_breakdown(model: str | os.PathLike | bytes | LiteRTModel) -> pd.DataFrame:
    """What the bytes of a LiteRT file hold.

    Rows: stored constants by dtype (``"constants float32"``, ``"constants int8"``, ...; from
    :func:`litert_tensors`), ``"tensor names"`` (UTF-8 bytes of every tensor's name),
    ``"quantization parameters"`` (4-byte scale + 8-byte zero point per scale) and ``"rest"``:
    everything else — the operator list and their options, tensor shapes and types, the
    signature, alignment padding and the flatbuffer's tables (file size minus the rows above).

    Returns:
        Columns ``part``, ``bytes``, ``fraction`` (of the file size); the bytes sum to the
        file size.
    """
    content = _flatbuffer(model)
    tensors = litert_tensors(content)
    constants = tensors[tensors["kind"] == "constant"]
    rows = [{"part": f"constants {dtype}", "bytes": int(group["bytes"].sum())}
            for dtype, group in constants.groupby("dtype", sort=True)]
    rows.append({"part": "tensor names",
                 "bytes": int(sum(len(n.encode("utf-8")) for n in tensors["name"]))})
    rows.append({"part": "quantization parameters", "bytes": int(12 * tensors["n_scales"].sum())})
    rows.append({"part": "rest", "bytes": len(content) - sum(r["bytes"] for r in rows)})
    table = pd.DataFrame(rows)
    table["fraction"] = table["bytes"] / len(content)
    return table
