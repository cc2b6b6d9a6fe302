"""Shared by the dataset tests: one fingerprint of a whole ``MultimodalDataset``."""

from __future__ import annotations

import hashlib

import numpy as np


def digest(ds) -> str:
    """SHA-256 over every array (group, name, dtype, shape and bytes)."""
    h = hashlib.sha256()
    for group in ("modalities", "labels", "masks", "metadata"):
        for key in sorted(getattr(ds, group)):
            arr = np.ascontiguousarray(getattr(ds, group)[key])
            h.update(f"{group}/{key}/{arr.dtype.str}/{arr.shape}".encode())
            h.update(arr.tobytes())
    return h.hexdigest()
