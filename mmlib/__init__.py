"""mmlib — the helper library of the course *Deep Learning for Multimodal Fusion*.

Importing :mod:`mmlib` first keeps TensorFlow's C++ log lines and the oneDNN banner out of notebook
outputs: the environment variables TensorFlow reads at import time are set here, before anything
imports TensorFlow. Submodules are imported lazily (``mmlib.fusion`` imports TensorFlow, ``mmlib``
alone does not), so ``import mmlib`` and the ``mmcourse`` command stay fast.

One module per course concept: ``data``, ``preprocess``, ``encoders``, ``align``, ``fusion``,
``train``, ``robust``, ``explain``, ``deploy``, ``viz``, ``widgets``, ``check``; plus ``env``
(seeds, determinism, device summary), ``course`` (the syllabus) and ``cli`` (``mmcourse``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys

# TensorFlow reads these when it is first imported; set them before any submodule can import it.
# setdefault: a learner who exports their own values keeps them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide C++ INFO, WARNING, ERROR log lines
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # no oneDNN banner; bit-stable CPU results
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Silence file descriptor 2 while ``tensorflow`` itself is imported.

    TensorFlow's C++ runtime prints a few lines ("All log messages before
    absl::InitializeLog() ...", "Could not find cuda drivers ...") straight to file descriptor 2
    while it loads, before any log level applies; a Jupyter kernel forwards that descriptor into
    the cell's output. Python exceptions raised by the import are untouched.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one-shot: find the real spec, then wrap its loader
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec_module(module):
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
                exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                os.close(devnull)

        spec.loader.exec_module = quiet_exec_module
        return spec


if "tensorflow" not in sys.modules and not any(
        isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())

_SUBMODULES = frozenset(
    {
        "align", "check", "cli", "course", "data", "deploy", "encoders", "env", "explain",
        "fusion", "preprocess", "robust", "train", "viz", "widgets",
    }
)


def setup_notebook(seed: int = 42, *, deterministic: bool = True, mixed_precision: bool = False,
                   quiet: bool = False):
    """Prepare a notebook: seeds, op determinism, plot style, device summary.

    See :func:`mmlib.env.setup_notebook` (this is a thin alias so the call reads
    ``mmlib.setup_notebook(seed=0)``).
    """
    from mmlib.env import setup_notebook as _setup

    return _setup(seed, deterministic=deterministic, mixed_precision=mixed_precision, quiet=quiet)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"mmlib.{name}")
    raise AttributeError(f"module 'mmlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])


__all__ = ["__version__", "setup_notebook", *sorted(_SUBMODULES)]
