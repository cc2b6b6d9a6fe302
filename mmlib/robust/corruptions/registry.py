"""The corruption registry: :data:`CORRUPTIONS`, :func:`get_corruption` and :func:`corrupt`.

:data:`CORRUPTIONS` is keyed by exactly the modality kinds of the course
(:data:`mmlib._common.KINDS`, the values of ``MultimodalDataset.kinds``), so that
``corrupt(ds.kinds[m], name, ds.modalities[m], severity)`` works for every modality of every
course dataset. Where two kinds share the maths, the same function is registered under both
(e.g. ``tabular_noise`` is the ``noise`` of ``tabular`` and of ``vector``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmlib._common import KINDS, check_kind
from mmlib._validate import check_choice
from mmlib.robust.corruptions.audio import audio_additive_noise, audio_segment_dropout
from mmlib.robust.corruptions.image import (
    image_brightness,
    image_contrast,
    image_gaussian_blur,
    image_gaussian_noise,
    image_occlusion,
)
from mmlib.robust.corruptions.missing import remove_modality
from mmlib.robust.corruptions.point_cloud import point_drop, point_jitter
from mmlib.robust.corruptions.spectrogram import (
    spectrogram_frequency_mask,
    spectrogram_time_mask,
)
from mmlib.robust.corruptions.tabular import tabular_entry_drop, tabular_noise
from mmlib.robust.corruptions.text import text_typos, text_word_drop
from mmlib.robust.corruptions.video import video_frame_drop

__all__ = ["CORRUPTIONS", "DETERMINISTIC_CORRUPTIONS", "corrupt", "get_corruption"]

_BY_KIND: dict[str, dict[str, Callable[..., Any]]] = {
    "image": {
        "gaussian_noise": image_gaussian_noise,
        "gaussian_blur": image_gaussian_blur,
        "occlusion": image_occlusion,
        "brightness": image_brightness,
        "contrast": image_contrast,
    },
    "audio": {
        "additive_noise": audio_additive_noise,
        "segment_dropout": audio_segment_dropout,
    },
    "spectrogram": {
        "time_mask": spectrogram_time_mask,
        "frequency_mask": spectrogram_frequency_mask,
        "gaussian_noise": image_gaussian_noise,
    },
    "text": {
        "typos": text_typos,
        "word_drop": text_word_drop,
    },
    "tabular": {
        "entry_drop": tabular_entry_drop,
        "noise": tabular_noise,
    },
    "vector": {
        "entry_drop": tabular_entry_drop,
        "noise": tabular_noise,
    },
    "point_cloud": {
        "point_drop": point_drop,
        "jitter": point_jitter,
    },
    "heatmap": {
        "gaussian_noise": image_gaussian_noise,
        "occlusion": image_occlusion,
    },
    "video": {
        "frame_drop": video_frame_drop,
    },
}

CORRUPTIONS: dict[str, dict[str, Callable[..., Any]]] = {
    kind: {**_BY_KIND[kind], "remove_modality": remove_modality} for kind in KINDS
}
"""Registry ``CORRUPTIONS[kind][name] -> f(x, severity, seed, **kwargs)``, one entry per kind.

The kinds are those of :data:`mmlib._common.KINDS`; every kind also has ``remove_modality``.
"""

DETERMINISTIC_CORRUPTIONS = frozenset({("image", "gaussian_blur"), ("image", "brightness"),
                                       ("image", "contrast")})
"""(kind, name) pairs whose output does not depend on the seed."""


def get_corruption(kind: str, name: str) -> Callable[..., Any]:
    """The function ``CORRUPTIONS[kind][name]``, or a ValueError listing the allowed values.

    Args:
        kind: modality kind, one of :data:`mmlib._common.KINDS`.
        name: corruption name within that kind.
    """
    check_kind("kind", kind)
    check_choice("corruption", name, sorted(CORRUPTIONS[kind]))
    return CORRUPTIONS[kind][name]


def corrupt(kind: str, name: str, x: Any, severity: float, seed: int = 0, **kwargs: Any) -> Any:
    """Apply the corruption ``CORRUPTIONS[kind][name]`` to ``x``.

    Args:
        kind: modality kind, one of :data:`mmlib._common.KINDS`: ``"image"``, ``"audio"``,
            ``"spectrogram"``, ``"text"``, ``"tabular"``, ``"vector"``, ``"point_cloud"``,
            ``"heatmap"``, ``"video"`` (``ds.kinds[m]`` of a course dataset).
        name: corruption name within that kind (see :data:`CORRUPTIONS`).
        x: the modality batch (shape per kind: see :mod:`mmlib.robust`).
        severity: in [0, 1].
        seed: seed of the corruption.
        **kwargs: extra keyword arguments of the corruption function.

    Returns:
        The corrupted batch (same shape and dtype).

    Raises:
        ValueError: unknown ``kind`` or ``name`` (the message lists the allowed values), or
            ``severity`` outside [0, 1].
    """
    return get_corruption(kind, name)(x, severity, seed, **kwargs)
