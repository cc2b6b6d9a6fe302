"""Shared test set-up: quiet TensorFlow, fixed seeds, a fresh Keras session per test."""

from __future__ import annotations

import os

os.environ.setdefault("PYTHONHASHSEED", "0")  # inherited by the nbval kernels

import pytest  # noqa: E402

import mmlib  # noqa: E402
import mmlib.env  # noqa: E402

mmlib.env.quiet_tensorflow()  # the suite, like a notebook, keeps TensorFlow's log lines out


@pytest.fixture(autouse=True)
def _seeded_fresh_session(request):
    """Seed Python/NumPy/TF and clear Keras state so tests do not depend on their order."""
    if request.node.fspath.ext == ".ipynb":  # nbval items run in their own kernel
        yield
        return
    import keras

    keras.backend.clear_session(free_memory=False)  # gc.collect() per test costs ~0.2-0.9 s
    mmlib.env.set_seed(0)
    yield
