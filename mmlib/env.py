"""Environment set-up for notebooks: seeds, op determinism, quiet logs, plot style, devices.

Importing ``mmlib`` changes no setting; every notebook starts with::

    import mmlib
    mmlib.setup_notebook(seed=0)

which prints one line such as
``mmlib 0.1.0 | TensorFlow 2.21.0 | Keras 3.15.1 | CPU only (2 cores) | seed 0, deterministic ops``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import random
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import mmlib
from mmlib._validate import check_int

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The course checkout that this (editable) install of ``mmlib`` lives in."""


def datasets_dir() -> Path:
    """Folder of the shipped dataset files: ``$MMLIB_DATASETS`` if set, else ``<repo>/datasets``."""
    return Path(os.environ.get("MMLIB_DATASETS", REPO_ROOT / "datasets"))


TENSORFLOW_ENVIRONMENT: dict[str, str] = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # hide C++ INFO, WARNING, ERROR log lines
    # oneDNN's custom kernels off: TensorFlow's own choice on CPUs without AVX-512 VNNI, AVX-VNNI
    # or AMX (the course's outputs were recorded so), kept on newer CPUs too; no banner at import.
    # Measured (docs/benchmarks.md, CPU settings): re-runs on one machine are bit-identical either
    # way; forcing it on trains CNNs faster per epoch but saves little of the course's time.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
    "KERAS_BACKEND": "tensorflow",
}
"""Environment variables TensorFlow reads when it is first imported, as notebooks want them."""


_QUIETED = False  # quiet_tensorflow() has applied the settings in this process


class LateSetupWarning(UserWarning):
    """:func:`setup_notebook` ran after TensorFlow was imported: log settings could not apply."""


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


def quiet_tensorflow() -> bool:
    """Keep TensorFlow quiet and reproducible in *this* process; call before TensorFlow loads.

    Sets :data:`TENSORFLOW_ENVIRONMENT` (``os.environ.setdefault``: values you exported yourself
    are kept) and silences what TensorFlow's C++ runtime prints while it loads. Only
    :func:`setup_notebook`, the ``mmcourse`` command and the test suite call it; importing
    ``mmlib`` or any of its modules never does.

    Returns:
        ``True`` if the settings are in force (now or from an earlier call); ``False`` (and
        nothing changed) if TensorFlow was imported first, when they can no longer take effect.
    """
    global _QUIETED
    if _QUIETED:
        return True
    if "tensorflow" in sys.modules:
        return False
    _QUIETED = True
    for key, value in TENSORFLOW_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    return True


@dataclass(frozen=True)
class DeviceInfo:
    """What :func:`setup_notebook` found: versions, devices and the precision policy in use."""

    tensorflow: str
    keras: str
    gpus: tuple[str, ...]
    cpu_count: int
    mixed_precision: bool
    seed: int
    deterministic: bool

    def summary(self) -> str:
        """One line: mmlib/TF/Keras versions, devices (GPUs and precision, or CPU cores), seed."""
        if self.gpus:
            dev = f"{len(self.gpus)} GPU ({', '.join(self.gpus)})"
            dev += ", mixed precision on" if self.mixed_precision else ", float32"
        else:
            dev = f"CPU only ({self.cpu_count} cores)"
        det = "deterministic ops" if self.deterministic else "non-deterministic ops"
        return (f"mmlib {mmlib.__version__} | TensorFlow {self.tensorflow} | Keras {self.keras} | "
                f"{dev} | seed {self.seed}, {det}")


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow (via ``keras.utils.set_random_seed``)."""
    check_int("seed", seed, minimum=0)
    import keras
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (learners' code may still use the legacy global RNG)
    keras.utils.set_random_seed(seed)


def set_plot_style() -> None:
    """One plot style for the whole course (seaborn 'whitegrid', readable sizes)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.figsize": (7.0, 4.0), "figure.dpi": 90, "savefig.dpi": 110,
                         "axes.titlesize": "medium", "image.cmap": "viridis"})


def setup_notebook(seed: int = 42, *, deterministic: bool = True, mixed_precision: bool = False,
                   quiet: bool = False) -> DeviceInfo:
    """Seeds, op determinism, GPU memory growth, plot style; prints a one-line device summary.

    Args:
        seed: seed for Python, NumPy and TensorFlow/Keras (non-negative int).
        deterministic: call ``tf.config.experimental.enable_op_determinism()`` so that re-running
            a notebook gives the same numbers (slower on GPU, free on CPU).
        mixed_precision: on a GPU, use the ``mixed_float16`` Keras policy. Ignored on a CPU,
            where it would only slow things down; the summary line says which policy is in use.
        quiet: do not print the summary line.

    Returns:
        A :class:`DeviceInfo` with versions, devices and settings.
    """
    check_int("seed", seed, minimum=0)
    if not quiet_tensorflow():
        warnings.warn("mmlib.setup_notebook() ran after TensorFlow was imported, so TensorFlow's "
                      "log level and oneDNN setting could not be applied (log lines may appear "
                      "in outputs). Restart the kernel and call it before importing TensorFlow.",
                      LateSetupWarning, stacklevel=3)
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # devices already initialised by an earlier call
            pass
    set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    use_mp = bool(mixed_precision and gpus)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    set_plot_style()
    info = DeviceInfo(
        tensorflow=tf.__version__, keras=keras.__version__,
        gpus=tuple(g.name.split(":", 1)[-1] for g in gpus), cpu_count=os.cpu_count() or 1,
        mixed_precision=use_mp, seed=seed, deterministic=deterministic,
    )
    if not quiet:
        print(info.summary())
    return info
