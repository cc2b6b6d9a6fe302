"""Helpers shared by several modules of :mod:`mmlib.train` (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmlib._common import assert_same_batch


def check_same_batch(owner: str, tensors: Sequence[Any], names: Sequence[str] | None = None,
                     modality_mask: Any = None) -> tuple[list[Any], Any]:
    """Check that the modality tensors (and the mask) share their batch size (axis 0).

    Known batch sizes that differ raise ``ValueError``; batch sizes known only at run time (a
    ``tf.function`` with a ``None`` batch axis) are checked in the graph, see
    :func:`mmlib._common.assert_same_batch`.

    Args:
        owner: name used in the messages (e.g. ``"ModalityDropout"``).
        tensors: the M modality tensors ``(batch, ...)``.
        names: the modality names (dict inputs), else they are called ``modality i``.
        modality_mask: optional ``(batch, M)`` mask tensor, checked against the modalities.

    Returns:
        ``(tensors, modality_mask)``, gated on the run-time check inside a graph.
    """
    labels = (list(names) if names is not None
              else [f"modality {i}" for i in range(len(tensors))])
    if modality_mask is None:
        return assert_same_batch(owner, tensors, labels), None
    *tensors, modality_mask = assert_same_batch(owner, [*tensors, modality_mask],
                                                [*labels, "modality_mask"])
    return tensors, modality_mask
