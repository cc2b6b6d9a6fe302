"""The files shipped in ``datasets/``: the checksum manifest, verification and loading.

Every shipped ``.npz`` is checked against its SHA-256 in ``datasets/SHA256SUMS`` before it is
read (with ``allow_pickle=False``); any problem raises :class:`DatasetFileError` naming its cause
(the folder, the manifest, the file, or an array the file lacks) and how to restore the file.
``$MMLIB_DATASETS``, if set, replaces the ``datasets/`` folder of the checkout.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmlib._validate import check_choice
from mmlib.env import REPO_ROOT, datasets_dir

__all__ = ["MANIFEST", "SHIPPED_FILES", "DatasetFileError", "load_shipped", "verify_shipped"]

MANIFEST = "SHA256SUMS"
"""Checksum manifest in ``datasets/`` (``sha256sum -c SHA256SUMS`` format)."""

SHIPPED_FILES: tuple[str, ...] = ("av_digits_audio.npz",)
"""Data files shipped in ``datasets/`` (everything else is generated at load time)."""

ENV_VAR = "MMLIB_DATASETS"
"""Environment variable that, if set, names the folder of the shipped files."""

_RESTORE_HINT = ("Restore it with `git checkout -- datasets/` in the course checkout (or download "
                 "the course again); the audio can also be rebuilt with "
                 "`python scripts/make_av_digits_audio.py` (needs `apt-get install espeak-ng`).")


class DatasetFileError(OSError):
    """A shipped file in ``datasets/`` (or the folder, or the manifest) is missing, truncated,
    corrupt (checksum mismatch) or lacks an expected array."""


def _shipped_folder() -> Path:
    """The folder of the shipped files (:func:`mmlib.env.datasets_dir`), checked to exist.

    Raises :class:`DatasetFileError` naming ``$MMLIB_DATASETS`` and its value when the variable
    points at a folder that does not exist.
    """
    folder = datasets_dir()
    if folder.is_dir():
        return folder
    if os.environ.get(ENV_VAR):
        raise DatasetFileError(
            f"The environment variable {ENV_VAR} is set to {str(folder)!r}, which is not an "
            f"existing folder. Point {ENV_VAR} at a copy of the course's datasets/ folder, or "
            f"unset it to use {REPO_ROOT / 'datasets'}.")
    raise DatasetFileError(f"The datasets folder {folder} is missing. {_RESTORE_HINT}")


def _source() -> str:
    """A note for messages when ``$MMLIB_DATASETS`` chose the folder, else ``""``."""
    return f" (folder set by ${ENV_VAR})" if os.environ.get(ENV_VAR) else ""


def _read_manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    if not path.is_file():
        raise DatasetFileError(f"The checksum manifest {path}{_source()} is missing, so the "
                               f"shipped files cannot be verified. {_RESTORE_HINT}")
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, _, fname = line.strip().partition("  ")
            sums[fname.lstrip("*")] = digest.lower()
    return sums


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_shipped() -> dict[str, str]:
    """Check every shipped file against ``datasets/SHA256SUMS``.

    Returns:
        file name -> ``"ok"``, ``"missing"``, ``"corrupt"`` (checksum mismatch or not listed) or
        ``"unverified"`` (present, but the manifest is missing), including the manifest itself.
        Used by ``mmcourse doctor``.
    """
    folder = datasets_dir()
    try:
        sums = _read_manifest(folder)
    except DatasetFileError:
        return {MANIFEST: "missing", **{f: ("unverified" if (folder / f).is_file() else "missing")
                                        for f in SHIPPED_FILES}}
    status = {MANIFEST: "ok"}
    for fname in sorted(set(SHIPPED_FILES) | set(sums)):
        path = folder / fname
        if not path.is_file():
            status[fname] = "missing"
        else:
            status[fname] = "ok" if sums.get(fname) == _sha256(path) else "corrupt"
    return status


def load_shipped(fname: str, arrays: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Arrays of one shipped ``.npz`` file, verified against its SHA-256 checksum first.

    Loaded with ``allow_pickle=False``; the arrays are read-only. Raises
    :class:`DatasetFileError` (an ``OSError``) naming the cause — the folder
    (``$MMLIB_DATASETS``), the manifest, the file (missing, truncated, corrupt) or the first of
    ``arrays`` the file does not hold — and how to restore the file.

    Args:
        fname: one of :data:`SHIPPED_FILES`.
        arrays: names of the arrays the caller needs.
    """
    check_choice("fname", fname, SHIPPED_FILES)
    path = _shipped_folder() / fname
    if not path.is_file():
        raise DatasetFileError(f"The shipped dataset file {path}{_source()} is missing. "
                               f"{_RESTORE_HINT}")
    stat = path.stat()
    out = dict(_load_verified(str(path), stat.st_size, stat.st_mtime_ns))
    for name in arrays:
        if name not in out:
            raise DatasetFileError(f"The shipped dataset file {path} lacks the array {name!r} "
                                   f"(it holds {sorted(out)}). {_RESTORE_HINT}")
    return out


@lru_cache(maxsize=4)
def _load_verified(path_str: str, size: int, mtime_ns: int) -> dict[str, np.ndarray]:
    # size and mtime are part of the cache key: a replaced file is verified again
    path = Path(path_str)
    expected = _read_manifest(path.parent).get(path.name)
    if expected is None:
        raise DatasetFileError(f"{path.name} is not listed in {path.parent / MANIFEST}. "
                               f"{_RESTORE_HINT}")
    actual = _sha256(path)
    if actual != expected:
        raise DatasetFileError(
            f"The shipped dataset file {path} is corrupt or truncated ({size} bytes; SHA-256 "
            f"{actual[:16]}..., expected {expected[:16]}...). {_RESTORE_HINT}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise DatasetFileError(f"Could not read {path}: {err}. {_RESTORE_HINT}") from err
    for a in arrays.values():
        a.setflags(write=False)
    return arrays
