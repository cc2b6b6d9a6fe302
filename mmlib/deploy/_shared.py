"""Private helpers shared by several files of :mod:`mmlib.deploy` (not part of the public API).

* :func:`quiet_native_stderr` — silence file descriptor 2 around LiteRT / TensorFlow C++ calls;
* :func:`model_input_names`, :func:`as_input_dict`, :func:`call_model` — named inputs in, named
  outputs out;
* :func:`single_samples`, :func:`time_calls` — per-sample latency timing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import keras
import numpy as np


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C++ log lines go there directly).

    Also hides the ``tf.lite.Interpreter`` deprecation warning and absl log records below ERROR.
    Python exceptions raised inside still propagate with their messages.
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


def model_input_names(model: keras.Model) -> list[str]:
    """The names of ``model.inputs`` (``keras.Input(name=...)``), in the model's order."""
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


def as_input_dict(inputs: Any, argname: str) -> dict[str, Any]:
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


def call_model(model: keras.Model, named: Mapping[str, Any], names: list[str],
               out_names: list[str]) -> dict[str, Any]:
    """Call ``model`` (inference mode) on named inputs; return ``{output name: tensor}``."""
    args = named[names[0]] if len(names) == 1 else {n: named[n] for n in names}
    out = model(args, training=False)
    if isinstance(out, Mapping):
        return {str(k): v for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return dict(zip(out_names, out, strict=True))
    return {out_names[0]: out}


def single_samples(arrays: Mapping[str, np.ndarray], count: int) -> list[dict[str, np.ndarray]]:
    """``count`` batch-1 samples ``{name: (1, ...)}``, cycling through the samples of ``arrays``."""
    n = next(iter(arrays.values())).shape[0]
    if n == 0:
        raise ValueError("inputs have 0 samples; expected at least 1 for timing.")
    return [{k: v[i % n:i % n + 1] for k, v in arrays.items()} for i in range(count)]


def time_calls(fn: Callable[[Any], Any], samples: list[Any], warmup: int) -> np.ndarray:
    """Milliseconds per call of ``fn`` on ``samples[warmup:]`` (after untimed warm-up calls)."""
    for s in samples[:warmup]:
        fn(s)
    times = []
    for s in samples[warmup:]:
        start = time.perf_counter()
        fn(s)
        times.append((time.perf_counter() - start) * 1e3)
    return np.asarray(times)
