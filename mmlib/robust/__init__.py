"""Robustness of multimodal models: corruptions per modality, sweeps, robustness metrics, FGSM.

A multimodal model is only as useful as its behaviour when one input is noisy, partly missing or
attacked. This package provides

* **corruptions** (数据损坏) for every modality kind of the course (:data:`mmlib._common.KINDS`),
  each a function ``f(x, severity, seed)`` with ``severity`` in ``[0, 1]`` (``0`` returns the
  input unchanged, bit for bit; ``1`` is the strongest setting of that corruption), seeded, and
  preserving shape and dtype; they are collected in the registry :data:`CORRUPTIONS` (keyed by
  kind, then corruption name) and reachable through :func:`corrupt`, so that
  ``corrupt(ds.kinds[m], name, ds.modalities[m], severity)`` works for every modality of every
  course dataset;
* :func:`robustness_sweep`, which corrupts **one named modality** of a test set at a list of
  severities and returns a tidy :class:`pandas.DataFrame`; every other modality, and every sample
  that is not selected for corruption, is passed to the model bit-identical;
* the two robustness summaries of MultiBench (Liang et al. 2021): :func:`relative_robustness` (area
  under the accuracy-severity curve) and :func:`effective_robustness` (accuracy above a late-fusion
  reference shifted to the same clean accuracy), and :func:`robustness_summary` of a sweep;
* the fast gradient sign method per modality (:func:`fgsm`, Goodfellow et al. 2015), an
  epsilon sweep (:func:`fgsm_sweep`) and a ``keras.Model`` wrapper for adversarial training
  (:class:`FGSMAdversarialModel`).

Files (every name is re-exported here, e.g. ``from mmlib.robust import corrupt``):

=====================================  ===========================================================
file                                   contents
=====================================  ===========================================================
``corruptions/image.py``               ``image_gaussian_noise``, ``image_gaussian_blur``,
                                       ``image_occlusion``, ``image_brightness``,
                                       ``image_contrast``
``corruptions/audio.py``               ``audio_additive_noise``, ``audio_segment_dropout``,
                                       ``snr_db_for_severity``
``corruptions/spectrogram.py``         ``spectrogram_time_mask``, ``spectrogram_frequency_mask``
                                       (SpecAugment)
``corruptions/text.py``                ``text_typos``, ``text_word_drop``
``corruptions/tabular.py``             ``tabular_noise``, ``tabular_entry_drop`` (tables and
                                       feature vectors)
``corruptions/point_cloud.py``         ``point_drop``, ``point_jitter``
``corruptions/video.py``               ``video_frame_drop``
``corruptions/missing.py``             ``remove_modality`` (registered for every kind)
``corruptions/registry.py``            ``CORRUPTIONS``, ``DETERMINISTIC_CORRUPTIONS``,
                                       ``get_corruption``, ``corrupt``
``sweep.py``                           ``robustness_sweep``, ``relative_robustness``,
                                       ``effective_robustness``, ``robustness_summary``
``adversarial.py``                     ``fgsm``, ``fgsm_sweep``, ``FGSMAdversarialModel``
``_arrays.py``                         private checks shared by the files above
=====================================  ===========================================================

Corruptions per kind (:data:`CORRUPTIONS`; every kind also has ``remove_modality``) and array
shapes (axis 0 is always the sample axis):

=================  ================================================  ==============================
kind               array shape                                       corruptions
=================  ================================================  ==============================
``image``          ``(batch, height, width[, channels])``            ``gaussian_noise``,
                                                                     ``gaussian_blur``,
                                                                     ``occlusion``, ``brightness``,
                                                                     ``contrast``
``audio``          ``(batch, time[, channels])`` (raw waveform)      ``additive_noise``,
                                                                     ``segment_dropout``
``spectrogram``    ``(batch, frames, bins[, channels])``             ``time_mask``,
                                                                     ``frequency_mask``,
                                                                     ``gaussian_noise``
``text``           ``(batch, seq_len)`` token ids (0 = padding),     ``typos``, ``word_drop``
                   or strings
``tabular``        ``(batch, n_features)`` (NaN = not recorded)      ``noise``, ``entry_drop``
``vector``         ``(batch, dim)``                                  ``noise``, ``entry_drop``
``point_cloud``    ``(batch, n_points, n_dims)``, xyz first          ``point_drop``, ``jitter``
``heatmap``        ``(batch, height, width[, 1])``                   ``gaussian_noise``,
                                                                     ``occlusion``
``video``          ``(batch, frames, ...)``                          ``frame_drop``
=================  ================================================  ==============================

Where two kinds share the maths the same function is registered under both: the spectrogram's
and heatmap's ``gaussian_noise`` is :func:`image_gaussian_noise`, the heatmap's ``occlusion`` is
:func:`image_occlusion`, and the vector's ``noise`` / ``entry_drop`` are :func:`tabular_noise` /
:func:`tabular_entry_drop`.

References:
    Liang, Lyu, Fan, Wu, Cheng, Wu, Chen, Wu, Lee, Zhu, Salakhutdinov, Morency (2021).
    "MultiBench: Multiscale Benchmarks for Multimodal Representation Learning". NeurIPS Datasets
    and Benchmarks Track.

    Hendrycks, Dietterich (2019). "Benchmarking Neural Network Robustness to Common Corruptions
    and Perturbations". ICLR.

    Park, Chan, Zhang, Chiu, Zoph, Cubuk, Le (2019). "SpecAugment: A Simple Data Augmentation
    Method for Automatic Speech Recognition". Interspeech.

    Goodfellow, Shlens, Szegedy (2015). "Explaining and Harnessing Adversarial Examples". ICLR.
"""

from __future__ import annotations

from mmlib.robust.adversarial import FGSMAdversarialModel, fgsm, fgsm_sweep
from mmlib.robust.corruptions.audio import (
    audio_additive_noise,
    audio_segment_dropout,
    snr_db_for_severity,
)
from mmlib.robust.corruptions.image import (
    image_brightness,
    image_contrast,
    image_gaussian_blur,
    image_gaussian_noise,
    image_occlusion,
)
from mmlib.robust.corruptions.missing import remove_modality
from mmlib.robust.corruptions.point_cloud import point_drop, point_jitter
from mmlib.robust.corruptions.registry import (
    CORRUPTIONS,
    DETERMINISTIC_CORRUPTIONS,
    corrupt,
    get_corruption,
)
from mmlib.robust.corruptions.spectrogram import (
    spectrogram_frequency_mask,
    spectrogram_time_mask,
)
from mmlib.robust.corruptions.tabular import tabular_entry_drop, tabular_noise
from mmlib.robust.corruptions.text import text_typos, text_word_drop
from mmlib.robust.corruptions.video import video_frame_drop
from mmlib.robust.sweep import (
    effective_robustness,
    relative_robustness,
    robustness_summary,
    robustness_sweep,
)

__all__ = [
    "CORRUPTIONS",
    "DETERMINISTIC_CORRUPTIONS",
    "FGSMAdversarialModel",
    "audio_additive_noise",
    "audio_segment_dropout",
    "corrupt",
    "effective_robustness",
    "fgsm",
    "fgsm_sweep",
    "get_corruption",
    "image_brightness",
    "image_contrast",
    "image_gaussian_blur",
    "image_gaussian_noise",
    "image_occlusion",
    "point_drop",
    "point_jitter",
    "relative_robustness",
    "remove_modality",
    "robustness_summary",
    "robustness_sweep",
    "snr_db_for_severity",
    "spectrogram_frequency_mask",
    "spectrogram_time_mask",
    "tabular_entry_drop",
    "tabular_noise",
    "text_typos",
    "text_word_drop",
    "video_frame_drop",
]
