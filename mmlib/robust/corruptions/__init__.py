"""Corruptions (数据损坏) of every modality kind, one file per modality family.

Every corruption is a function ``f(x, severity, seed=0, **options)`` on a batch ``x`` (axis 0 =
samples) with ``severity`` in ``[0, 1]``: 0 returns the input bit for bit, 1 is the strongest
setting; the result is seeded and keeps the shape and dtype of ``x``.

============================  ==================================================================
file                          corruptions
============================  ==================================================================
``image.py``                  ``image_gaussian_noise``, ``image_gaussian_blur``,
                              ``image_occlusion``, ``image_brightness``, ``image_contrast``
``audio.py``                  ``audio_additive_noise``, ``audio_segment_dropout``,
                              ``snr_db_for_severity``
``spectrogram.py``            ``spectrogram_time_mask``, ``spectrogram_frequency_mask``
``text.py``                   ``text_typos``, ``text_word_drop``
``tabular.py``                ``tabular_noise``, ``tabular_entry_drop`` (tables and vectors)
``point_cloud.py``            ``point_drop``, ``point_jitter``
``video.py``                  ``video_frame_drop``
``missing.py``                ``remove_modality`` (every kind)
``registry.py``               ``CORRUPTIONS[kind][name]``, ``DETERMINISTIC_CORRUPTIONS``,
                              ``get_corruption``, ``corrupt``
============================  ==================================================================

All names are re-exported by :mod:`mmlib.robust`.
"""
