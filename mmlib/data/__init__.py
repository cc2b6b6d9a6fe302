"""Offline multimodal datasets (多模态数据集) for the course, and their common container.

Five datasets, all generated in about a second or loaded from the small file shipped in
``datasets/``; nothing is downloaded, ever. Each loader takes ``n_samples``, ``seed`` and a few
*knobs* (noise levels, conditions, ...) and returns a :class:`MultimodalDataset`. Per-sample
shapes at the default settings (default size in brackets; kinds from
:data:`mmlib._common.KINDS`):

* ``av_digits`` (1,797): ``image`` (28, 28, 1) + ``audio`` (6400,) waveform at 8 kHz; task
  ``digit``.
* ``shapes_captions`` (3,000): ``image`` (32, 32, 3) + ``caption`` (16,) and ``question`` (10,)
  token ids (raw strings in metadata); task ``answer``.
* ``clinic`` (2,000): ``scan`` (48, 48, 1) + ``ehr`` (13,) ``tabular`` with NaN + ``note`` (48,)
  token ids + ``genes`` (64,); tasks ``diagnosis`` and ``risk``.
* ``drive`` (3,000): ``camera`` (40, 40, 3) + ``lidar`` (256, 3) ``point_cloud`` + ``radar``
  (32, 16, 1) range-Doppler ``heatmap``; tasks ``object`` and ``distance``; day / night / fog /
  rain.
* ``watch`` (2,000): ``video`` (8, 24, 24, 1) + ``audio`` (4000,) waveform at 4 kHz; tasks
  ``event`` and ``anomaly``.

The generative processes, the information structure (what each modality reveals, what only
fusion reveals, with measured accuracies) and the licences are in ``datasets/README.md``.

Files of this package (every public name is importable from ``mmlib.data`` itself):

* ``__init__.py`` — :func:`load` (a dataset by name) and :data:`DATASETS`;
* ``container.py`` — :class:`MultimodalDataset` (split, subset, missing modalities, describe,
  ``tf.data``, plots);
* ``shipped.py`` — the files in ``datasets/``: :func:`load_shipped`, :func:`verify_shipped`,
  :class:`DatasetFileError`, :data:`MANIFEST`, :data:`SHIPPED_FILES`;
* ``text.py`` — :func:`tokenize`, :func:`detokenize`;
* one file per dataset, with its loader and constants: ``av_digits.py``, ``shapes_captions.py``,
  ``clinic.py``, ``drive.py``, ``watch.py``;
* ``_build.py`` — private helpers the generators share.

Seeds follow the contract of :mod:`mmlib._common`: each loader draws every generative part
(images, audio, ...) from its own stream of ``rng_streams(seed, k)``, and a ``missing_rate`` draw
is seeded by ``derive_seed(seed, name, "missing")``; the same arguments give the same bytes.

The signal processing the generators use (:func:`log_mel_spectrogram`, :func:`mel_filterbank`,
:func:`hz_to_mel`, :func:`resize_images`) lives in :mod:`mmlib.preprocess.signal` and is
re-exported here. Importing :mod:`mmlib.data` does not import TensorFlow.

Example::

    from mmlib import data
    ds = data.load("av_digits", seed=0)
    print(ds.describe())
    train, val, test = ds.split((0.7, 0.15, 0.15), seed=0)
    tf_train = train.to_tf_dataset(batch_size=64, shuffle=True)  # ({"image", "audio"}, digit)
    fig = ds.plot_samples()
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mmlib._common import KINDS
from mmlib._validate import check_choice
from mmlib.data.av_digits import AV_DIGITS_AUDIO, load_av_digits
from mmlib.data.clinic import (
    CLINIC_VOCAB,
    DIAGNOSES,
    EHR_COLUMNS,
    EHR_UNITS,
    GENE_PATHWAYS,
    SYMPTOMS,
    load_clinic,
)
from mmlib.data.container import MultimodalDataset
from mmlib.data.drive import CONDITIONS, OBJECTS, load_drive
from mmlib.data.shapes_captions import (
    ANSWERS,
    COLOURS,
    QUESTION_TYPES,
    SHAPES,
    SHAPES_VOCAB,
    SIZES,
    load_shapes_captions,
)
from mmlib.data.shipped import (
    MANIFEST,
    SHIPPED_FILES,
    DatasetFileError,
    load_shipped,
    verify_shipped,
)
from mmlib.data.text import detokenize, tokenize
from mmlib.data.watch import EVENTS, load_watch
from mmlib.env import datasets_dir
from mmlib.preprocess.signal import hz_to_mel, log_mel_spectrogram, mel_filterbank, resize_images

DATASETS: tuple[str, ...] = ("av_digits", "shapes_captions", "clinic", "drive", "watch")
"""Names accepted by :func:`load`."""

_LOADERS: dict[str, Callable[..., MultimodalDataset]] = {
    "av_digits": load_av_digits, "shapes_captions": load_shapes_captions,
    "clinic": load_clinic, "drive": load_drive, "watch": load_watch}


def load(name: str, **kwargs: Any) -> MultimodalDataset:
    """Load a dataset by name: one of :data:`DATASETS`; ``kwargs`` go to its loader.

    Example: ``load("drive", n_samples=500, conditions=("day", "fog"), seed=1)``. An argument
    the loader does not take raises ``TypeError`` listing the ones it does.
    """
    check_choice("name", name, DATASETS)
    loader = _LOADERS[name]
    valid = list(inspect.signature(loader).parameters)
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        raise TypeError(f"load({name!r}) got unknown keyword argument(s) {unknown}; "
                        f"{loader.__name__} takes {valid}.")
    return loader(**kwargs)


__all__ = [
    "ANSWERS", "AV_DIGITS_AUDIO", "CLINIC_VOCAB", "COLOURS", "CONDITIONS", "DATASETS",
    "DIAGNOSES", "EHR_COLUMNS", "EHR_UNITS", "EVENTS", "GENE_PATHWAYS", "KINDS", "MANIFEST",
    "OBJECTS", "QUESTION_TYPES", "SHAPES", "SHAPES_VOCAB", "SHIPPED_FILES", "SIZES", "SYMPTOMS",
    "DatasetFileError", "MultimodalDataset", "datasets_dir", "detokenize", "hz_to_mel", "load",
    "load_av_digits", "load_clinic", "load_drive", "load_shapes_captions", "load_shipped",
    "load_watch", "log_mel_spectrogram", "mel_filterbank", "resize_images", "tokenize",
    "verify_shipped",
]
