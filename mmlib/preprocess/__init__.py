"""Per-modality preprocessing (预处理): images, paired spatial modalities, text, audio, tables.

One file per part; every name below is importable from :mod:`mmlib.preprocess` itself:

* ``signal.py`` — NumPy signal processing, no TensorFlow (:mod:`mmlib.data` uses it):
  :func:`hz_to_mel`, :func:`mel_filterbank`, :func:`log_mel_spectrogram` and
  :func:`resize_images`.
* ``audio.py`` — :class:`LogMelSpectrogram`, a Keras layer built on ``tf.signal`` (STFT → power →
  mel filters → log) computing the same log-mel spectrogram as :func:`log_mel_spectrogram`, with
  the same parameter names (``sample_rate, frame_length, frame_step, fft_length, n_mels, fmin,
  fmax, power, log_offset``).
* ``image.py`` — :func:`image_stats` (per-channel mean / std of a training set) and
  :func:`image_preprocessor` (resize → rescale → standardise as one Keras model).
* ``augment.py`` — :class:`PairedAugment`: **one** random flip / crop per sample applied to every
  spatially aligned modality (RGB + depth, image + segmentation mask), so pixels stay aligned
  (特征对齐) after augmentation; :func:`mirror_words`, :func:`flip_with_text` and
  :func:`random_flip_with_text` flip an image and swap "left" / "right" in the texts that
  describe it, so image and caption stay consistent.
* ``pipeline.py`` — :func:`multimodal_pipeline` (a ``tf.data`` pipeline for paired modalities:
  zip → map → cache → shuffle → augment → padded batch → prefetch) and
  :func:`measure_throughput` (samples per second per epoch, with a simulated training step).
* ``text.py`` — :func:`standardize_caption` (lower-case, strip punctuation but keep numbers such
  as ``37.5`` and ``50%``) and :func:`make_text_vectorizer` (a ``TextVectorization`` adapted on a
  corpus).
* ``tabular.py`` — :class:`TabularPreprocessor`, a scikit-learn style ``fit`` / ``transform``
  that standardises numeric columns, one-hot encodes categorical ones and adds missing-value
  indicators.

Importing this package does not import TensorFlow or Keras: the TensorFlow-based names
(``LogMelSpectrogram``, ``PairedAugment``, ``mirror_words``, ``flip_with_text``,
``random_flip_with_text``, ``image_stats``, ``image_preprocessor``, ``standardize_caption``,
``make_text_vectorizer``, ``multimodal_pipeline``, ``measure_throughput``) load their file on
first use. Their Keras
registrations (``mmlib>LogMelSpectrogram``, ...) therefore exist once the name has been used or
its file imported; ``keras.models.load_model`` finds them by the module path stored in the
saved file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mmlib.preprocess.signal import hz_to_mel, log_mel_spectrogram, mel_filterbank, resize_images
from mmlib.preprocess.tabular import TabularPreprocessor

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from mmlib.preprocess.audio import LogMelSpectrogram
    from mmlib.preprocess.augment import (
        PairedAugment,
        flip_with_text,
        mirror_words,
        random_flip_with_text,
    )
    from mmlib.preprocess.image import image_preprocessor, image_stats
    from mmlib.preprocess.pipeline import measure_throughput, multimodal_pipeline
    from mmlib.preprocess.text import make_text_vectorizer, standardize_caption

_LAZY = {
    "LogMelSpectrogram": "audio",
    "PairedAugment": "augment",
    "flip_with_text": "augment",
    "mirror_words": "augment",
    "random_flip_with_text": "augment",
    "measure_throughput": "pipeline",
    "multimodal_pipeline": "pipeline",
    "image_preprocessor": "image",
    "image_stats": "image",
    "make_text_vectorizer": "text",
    "standardize_caption": "text",
}
"""Keras-based name -> the file (submodule) that defines it, imported on first access."""

__all__ = [
    "LogMelSpectrogram", "PairedAugment", "TabularPreprocessor", "flip_with_text", "hz_to_mel",
    "image_preprocessor", "image_stats", "log_mel_spectrogram", "make_text_vectorizer",
    "measure_throughput", "mel_filterbank", "mirror_words", "multimodal_pipeline",
    "random_flip_with_text", "resize_images", "standardize_caption",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
