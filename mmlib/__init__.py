"""mmlib — the helper library of the course *Deep Learning for Multimodal Fusion*.

Importing :mod:`mmlib` (or any of its modules) changes no process-wide setting: a practitioner who
only wants ``mmlib.fusion`` in a training script keeps TensorFlow exactly as configured.
Notebooks call :func:`setup_notebook` first, before anything imports TensorFlow; it keeps
TensorFlow's C++ log lines and the oneDNN banner out of the outputs, seeds everything and turns on
deterministic ops (called too late, it warns that the log settings could not apply). Submodules are
imported lazily (``mmlib.fusion`` imports TensorFlow, ``mmlib`` alone does not), so ``import mmlib``
and the ``mmcourse`` command stay fast.

One module per course concept: ``data``, ``preprocess``, ``encoders``, ``align``, ``fusion``,
``train``, ``robust``, ``explain``, ``deploy``, ``viz``, ``widgets``, ``check``; plus ``env``
(seeds, determinism, device summary), ``course`` (the syllabus) and ``cli`` (``mmcourse``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

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
