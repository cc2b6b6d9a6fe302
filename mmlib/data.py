"""Offline multimodal datasets (多模态数据集) for the course, and their common container.

Five datasets, all generated in about a second or loaded from the small file shipped in
``datasets/``; nothing is downloaded, ever. Each loader takes ``n_samples``, ``seed`` and a few
*knobs* (noise levels, conditions, ...) and returns a :class:`MultimodalDataset`. Per-sample
shapes at the default settings (default size in brackets):

* ``av_digits`` (1,797): ``image`` (28, 28, 1) + ``audio`` (6400,) waveform at 8 kHz; task
  ``digit``.
* ``shapes_captions`` (3,000): ``image`` (32, 32, 3) + ``caption`` (16,) and ``question`` (10,)
  token ids (raw strings in metadata); task ``answer``.
* ``clinic`` (2,000): ``scan`` (48, 48, 1) + ``ehr`` (13,) with NaN + ``note`` (48,) token ids
  + ``genes`` (64,); tasks ``diagnosis`` and ``risk``.
* ``drive`` (3,000): ``camera`` (40, 40, 3) + ``lidar`` (256, 3) points + ``radar`` (32, 16, 1)
  range-Doppler map; tasks ``object`` and ``distance``; day / night / fog / rain.
* ``watch`` (2,000): ``video`` (8, 24, 24, 1) + ``audio`` (4000,) waveform at 4 kHz; tasks
  ``event`` and ``anomaly``.

The generative processes, the information structure (what each modality reveals, what only
fusion reveals, with measured accuracies) and the licences are in ``datasets/README.md``.

Example::

    from mmlib import data
    ds = data.load("av_digits", seed=0)
    print(ds.describe())
    train, val, test = ds.split((0.7, 0.15, 0.15), seed=0)
    tf_train = train.to_tf_dataset(batch_size=64, shuffle=True)  # ({"image", "audio"}, digit)
    fig = ds.plot_samples()
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib._validate import check_choice, check_float, check_int
from mmlib.env import datasets_dir

if TYPE_CHECKING:  # heavy imports only for type checkers
    import pandas as pd
    import tensorflow as tf
    from matplotlib.figure import Figure

DATASETS: tuple[str, ...] = ("av_digits", "shapes_captions", "clinic", "drive", "watch")
"""Names accepted by :func:`load`."""

MANIFEST = "SHA256SUMS"
"""Checksum manifest in ``datasets/`` (``sha256sum -c SHA256SUMS`` format)."""

SHIPPED_FILES: tuple[str, ...] = ("av_digits_audio.npz",)
"""Data files shipped in ``datasets/`` (everything else is generated at load time)."""

KINDS: tuple[str, ...] = ("image", "audio", "spectrogram", "text", "table", "vector", "points",
                          "heatmap", "video")
"""Modality kinds (``info["kinds"][modality]``); :func:`mmlib.viz.plot_samples` draws each kind."""

_RESTORE_HINT = ("Restore it with `git checkout -- datasets/` in the course checkout (or download "
                 "the course again); the audio can also be rebuilt with "
                 "`python scripts/make_av_digits_audio.py` (needs `apt-get install espeak-ng`).")


class DatasetFileError(OSError):
    """A shipped file in ``datasets/`` is missing, truncated or corrupt (checksum mismatch)."""


# --------------------------------------------------------------------------------------------
# The container
# --------------------------------------------------------------------------------------------


class MultimodalDataset:
    """Paired samples of several modalities, with labels, modality masks and metadata.

    Every array has the ``n`` samples on axis 0.

    Attributes:
        name: dataset name, e.g. ``"av_digits"``.
        modalities: modality name -> array ``(n, ...)`` (numeric; the model inputs).
        labels: task name -> array ``(n,)`` (int32 class ids or float32 targets).
        masks: modality name -> bool array ``(n,)``; ``True`` = the modality is present. A missing
            modality's values are zeros (see :meth:`drop_modalities`).
        metadata: per-sample extra information, name -> array ``(n, ...)`` (ids, conditions,
            raw strings as NumPy unicode arrays, generative latents).
        info: dataset-level information: ``kinds`` (modality -> one of :data:`KINDS`),
            ``class_names`` (task -> list of names), vocabularies, sample rates, feature names and
            units, and ``knobs`` (the arguments the loader was called with).
    """

    def __init__(self, name: str, modalities: Mapping[str, np.ndarray],
                 labels: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray] | None = None,
                 metadata: Mapping[str, np.ndarray] | None = None,
                 info: Mapping[str, Any] | None = None) -> None:
        if not modalities:
            raise ValueError("modalities must hold at least one array, got an empty mapping.")
        self.name = str(name)
        self.modalities = {k: np.asarray(v) for k, v in modalities.items()}
        n = len(next(iter(self.modalities.values())))
        self.labels = {k: np.asarray(v) for k, v in labels.items()}
        given = {} if masks is None else {k: np.asarray(v, dtype=bool) for k, v in masks.items()}
        unknown = sorted(set(given) - set(self.modalities))
        if unknown:
            raise ValueError(f"masks has keys {unknown} that are not modalities; expected keys "
                             f"among {list(self.modalities)}.")
        self.masks = {m: given.get(m, np.ones(n, dtype=bool)) for m in self.modalities}
        self.metadata = {} if metadata is None else {k: np.asarray(v) for k, v in metadata.items()}
        self.info = dict(info or {})
        for group in ("modalities", "labels", "masks", "metadata"):
            for key, arr in getattr(self, group).items():
                if arr.ndim == 0 or arr.shape[0] != n:
                    raise ValueError(f"{group}[{key!r}] must have {n} samples on axis 0, got "
                                     f"shape {arr.shape}.")
                if arr.dtype == object:
                    raise ValueError(f"{group}[{key!r}] is an object array; use numeric or "
                                     f"fixed-width unicode arrays.")
                if group in ("modalities", "labels") and arr.dtype.kind not in "biuf":
                    raise ValueError(f"{group}[{key!r}] must be numeric (model input), got dtype "
                                     f"{arr.dtype}; keep strings in metadata.")
        for task, arr in self.labels.items():
            if arr.ndim != 1:
                raise ValueError(f"labels[{task!r}] must have shape (n,), got {arr.shape}.")

    # -- basic protocol ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(next(iter(self.modalities.values())))

    def __repr__(self) -> str:
        mods = ", ".join(f"{k}: {v.shape[1:]} {v.dtype}" for k, v in self.modalities.items())
        return (f"MultimodalDataset({self.name!r}, n={len(self)}, modalities={{{mods}}}, "
                f"tasks={list(self.labels)})")

    @property
    def kinds(self) -> dict[str, str]:
        """Modality name -> kind (one of :data:`KINDS`); ``"vector"`` when not recorded."""
        recorded = self.info.get("kinds", {})
        return {m: recorded.get(m, "vector") for m in self.modalities}

    def class_names(self, task: str) -> list[str]:
        """Names of the classes of a classification ``task`` (index = class id)."""
        check_choice("task", task, list(self.labels))
        names = self.info.get("class_names", {}).get(task)
        if names is None:
            raise ValueError(f"task {task!r} is not a classification task (no class names); "
                             f"classification tasks: {list(self.info.get('class_names', {}))}.")
        return list(names)

    # -- selection ---------------------------------------------------------------------------

    def subset(self, indices: Sequence[int] | np.ndarray) -> MultimodalDataset:
        """A new dataset with the samples at ``indices`` (int array ``(k,)`` or bool mask ``(n,)``).

        Arrays are copied, so modifying the subset leaves this dataset unchanged.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"indices as a boolean mask must have shape ({len(self)},), got "
                                 f"{idx.shape}.")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-D array of integers or a boolean mask, got "
                             f"shape {idx.shape} and dtype {idx.dtype}.")
        if idx.size == 0:
            raise ValueError("indices must select at least one sample, got an empty selection.")
        if idx.min() < 0 or idx.max() >= len(self):
            raise ValueError(f"indices must lie in [0, {len(self)}), got values from {idx.min()} "
                             f"to {idx.max()}.")

        def take(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {k: v[idx] for k, v in d.items()}

        return MultimodalDataset(self.name, take(self.modalities), take(self.labels),
                                 take(self.masks), take(self.metadata), self.info)

    def split(self, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0, *,
              stratify: str | None = None, groups: str | None = None
              ) -> tuple[MultimodalDataset, ...]:
        """Random split into parts of the given ``fractions`` (e.g. train / validation / test).

        Args:
            fractions: two or more numbers in (0, 1) that sum to 1.
            seed: seed of the random permutation.
            stratify: a task name; keep its class proportions in every part.
            groups: a metadata key (e.g. ``"speaker"`` for ``av_digits``); all samples of one
                group go to the same part, so a test set holds only unseen groups.

        Returns:
            One :class:`MultimodalDataset` per fraction, disjoint, together covering every sample.
        """
        fr = _check_fractions(fractions)
        check_int("seed", seed, minimum=0)
        if stratify is not None and groups is not None:
            raise ValueError("stratify and groups cannot be combined; pass one of them, got "
                             f"stratify={stratify!r} and groups={groups!r}.")
        rng = np.random.default_rng(seed)
        n = len(self)
        if groups is not None:
            check_choice("groups", groups, list(self.metadata))
            keys = self.metadata[groups]
            if keys.ndim != 1:
                raise ValueError(f"groups must name a metadata array of shape (n,), got "
                                 f"{groups!r} with shape {keys.shape}.")
            uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            order = rng.permutation(len(uniq))
            cum = np.cumsum(counts[order]) / n
            bounds = np.cumsum(fr)[:-1]
            part_of_group = np.empty(len(uniq), dtype=np.int64)
            # group i goes to the part in which the middle of its cumulative span falls
            mid = cum - counts[order] / (2 * n)
            part_of_group[order] = np.searchsorted(bounds, mid)
            assign = part_of_group[inverse.ravel()]
            parts = [np.flatnonzero(assign == p) for p in range(len(fr))]
        elif stratify is not None:
            check_choice("stratify", stratify, list(self.labels))
            y = self.labels[stratify]
            parts_lists: list[list[np.ndarray]] = [[] for _ in fr]
            for cls in np.unique(y):
                members = rng.permutation(np.flatnonzero(y == cls))
                cuts = np.round(np.cumsum(fr)[:-1] * len(members)).astype(int)
                for p, chunk in enumerate(np.split(members, cuts)):
                    parts_lists[p].append(chunk)
            parts = [np.sort(np.concatenate(c)) for c in parts_lists]
        else:
            perm = rng.permutation(n)
            cuts = np.round(np.cumsum(fr)[:-1] * n).astype(int)
            parts = [np.sort(c) for c in np.split(perm, cuts)]
        for p, idx in zip(fractions, parts, strict=True):
            if idx.size == 0:
                what = f"groups of {groups!r}" if groups else "samples"
                raise ValueError(f"fractions {tuple(fractions)} leave the part of fraction {p} "
                                 f"empty: too few {what} ({n} samples).")
        return tuple(self.subset(idx) for idx in parts)

    def drop_modalities(self, rate: float, seed: int = 0,
                        modalities: Sequence[str] | None = None) -> MultimodalDataset:
        """A copy in which each listed modality is missing per sample with probability ``rate``.

        A missing modality gets ``masks[m] = False`` and all-zero values. A sample never loses
        its last present modality (if all would go, one of those dropped, chosen at random, is
        kept). Modalities that were already missing stay missing.

        Args:
            rate: probability in [0, 1) that a modality is dropped from a sample.
            seed: seed of the random draws.
            modalities: which modalities may be dropped (default: all).
        """
        rate = check_float("rate", rate, minimum=0.0, maximum=1.0, include_max=False)
        check_int("seed", seed, minimum=0)
        names = list(self.modalities) if modalities is None else list(modalities)
        for m in names:
            check_choice("modalities", m, list(self.modalities))
        rng = np.random.default_rng(seed)
        n = len(self)
        drop = rng.random((n, len(names))) < rate
        priority = rng.random((n, len(names)))
        masks = {k: v.copy() for k, v in self.masks.items()}
        before = np.stack([masks[m] for m in names], axis=1)
        for j, m in enumerate(names):
            masks[m] &= ~drop[:, j]
        none_left = ~np.any([masks[m] for m in self.modalities], axis=0)
        if none_left.any():  # give back one of the modalities dropped just now, at random
            candidates = before & drop
            back = np.argmax(np.where(candidates, priority, -1.0), axis=1)
            for j, m in enumerate(names):
                masks[m] |= none_left & (back == j) & candidates[:, j]
        mods = dict(self.modalities)
        for m in names:
            if not masks[m].all():
                arr = mods[m].copy()
                arr[~masks[m]] = 0
                mods[m] = arr
        return MultimodalDataset(self.name, mods, self.labels, masks, self.metadata, self.info)

    # -- inspection --------------------------------------------------------------------------

    def describe(self) -> str:
        """A text summary: modalities (kind, shape, dtype, range, % present), tasks, metadata.

        In a notebook: ``print(ds.describe())``.
        """
        rows = [("modality", "kind", "shape / sample", "dtype", "min", "max", "NaN", "present")]
        for m, arr in self.modalities.items():
            finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
            lo = f"{finite.min():.3g}" if finite.size else "-"
            hi = f"{finite.max():.3g}" if finite.size else "-"
            nan = f"{np.isnan(arr).mean():.1%}" if arr.dtype.kind == "f" else "-"
            rows.append((m, self.kinds[m], str(arr.shape[1:]), str(arr.dtype), lo, hi, nan,
                         f"{self.masks[m].mean():.1%}"))
        lines = [f"{self.name}: {len(self)} samples", *_table(rows), ""]
        rows = [("task", "dtype", "values")]
        for task, y in self.labels.items():
            names = self.info.get("class_names", {}).get(task)
            if names is not None:
                counts = np.bincount(y.astype(np.int64), minlength=len(names))
                vals = ", ".join(f"{nm} {c}" for nm, c in zip(names, counts, strict=True))
            else:
                vals = f"mean {np.nanmean(y):.3g}, std {np.nanstd(y):.3g}, " \
                       f"range [{np.nanmin(y):.3g}, {np.nanmax(y):.3g}]"
            rows.append((task, str(y.dtype), vals))
        lines += [*_table(rows), ""]
        meta = ", ".join(f"{k} {v.shape[1:] or ''}".rstrip() for k, v in self.metadata.items())
        lines.append(f"metadata: {meta or 'none'}")
        knobs = self.info.get("knobs")
        if knobs:
            lines.append("knobs: " + ", ".join(f"{k}={v!r}" for k, v in knobs.items()))
        return "\n".join(lines)

    def to_pandas(self, modality: str) -> pd.DataFrame:
        """A table modality (or any ``(n, d)`` array) as a pandas DataFrame with named columns."""
        import pandas as pd

        check_choice("modality", modality, list(self.modalities))
        arr = self.modalities[modality]
        if arr.ndim != 2:
            raise ValueError(f"modality must name a (n, d) array to become a table, got "
                             f"{modality!r} with shape {arr.shape}.")
        names = self.info.get("feature_names", {}).get(modality)
        cols = list(names) if names is not None else [f"{modality}_{j}" for j in
                                                      range(arr.shape[1])]
        return pd.DataFrame(arr, columns=cols)

    # -- TensorFlow --------------------------------------------------------------------------

    def to_tf_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                      tasks: str | Sequence[str] | None = None,
                      modalities: Sequence[str] | None = None, *, with_masks: bool = False
                      ) -> tf.data.Dataset:
        """A batched ``tf.data.Dataset`` of ``(inputs, labels)`` for Keras ``model.fit``.

        Args:
            batch_size: samples per batch (the last batch may be smaller).
            shuffle: reshuffle the samples at every epoch (seeded by ``seed``).
            seed: shuffle seed.
            tasks: a task name (labels are then one tensor ``(batch,)``), a list of task names
                (labels are a dict task -> ``(batch,)``, matching named model outputs) or ``None``
                (all tasks; a single tensor when the dataset has one task).
            modalities: which modalities become inputs (default: all), in this order.
            with_masks: also yield ``inputs["mask"]`` of shape ``(batch, M)``, float32, 1 = present,
                in the order of ``modalities`` (the convention of the :mod:`mmlib.fusion` layers).

        Returns:
            ``tf.data.Dataset`` yielding ``({modality: (batch, ...)}, labels)``.
        """
        import tensorflow as tf

        check_int("batch_size", batch_size, minimum=1)
        check_int("seed", seed, minimum=0)
        mods = list(self.modalities) if modalities is None else list(modalities)
        if not mods:
            raise ValueError("modalities must name at least one modality, got an empty list.")
        for m in mods:
            check_choice("modalities", m, list(self.modalities))
        if tasks is None:
            task_list, single = list(self.labels), len(self.labels) == 1
        elif isinstance(tasks, str):
            task_list, single = [tasks], True
        else:
            task_list, single = list(tasks), False
        for t in task_list:
            check_choice("tasks", t, list(self.labels))
        inputs = {m: self.modalities[m] for m in mods}
        if with_masks:
            inputs["mask"] = np.stack([self.masks[m] for m in mods], axis=1).astype(np.float32)
        labels = self.labels[task_list[0]] if single else {t: self.labels[t] for t in task_list}
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # -- plotting ----------------------------------------------------------------------------

    def plot_samples(self, n: int = 4, *, indices: Sequence[int] | None = None, seed: int = 0,
                     modalities: Sequence[str] | None = None) -> Figure:
        """Draw ``n`` random samples (rows) x modalities (columns), each drawn by its kind.

        See :func:`mmlib.viz.plot_samples`. Returns the matplotlib ``Figure``.
        """
        from mmlib import viz

        return viz.plot_samples(self, n, indices=indices, seed=seed, modalities=modalities)


def _check_fractions(fractions: Any) -> tuple[float, ...]:
    expected = "two or more numbers in (0, 1) that sum to 1, e.g. (0.7, 0.15, 0.15)"
    try:
        fr = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be {expected}, got {fractions!r}.") from None
    if len(fr) < 2 or any(not 0 < f < 1 for f in fr) or abs(sum(fr) - 1) > 1e-6:
        raise ValueError(f"fractions must be {expected}, got {tuple(fractions)!r}.")
    return fr


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


# --------------------------------------------------------------------------------------------
# Loading by name, shipped files, checksums
# --------------------------------------------------------------------------------------------


def load(name: str, **kwargs: Any) -> MultimodalDataset:
    """Load a dataset by name: one of :data:`DATASETS`; ``kwargs`` go to its loader.

    Example: ``load("drive", n_samples=500, conditions=("day", "fog"), seed=1)``.
    """
    check_choice("name", name, DATASETS)
    loader = {"av_digits": load_av_digits, "shapes_captions": load_shapes_captions,
              "clinic": load_clinic, "drive": load_drive, "watch": load_watch}[name]
    return loader(**kwargs)


def _read_manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    if not path.is_file():
        raise DatasetFileError(f"The checksum manifest {path} is missing. {_RESTORE_HINT}")
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
        file name -> ``"ok"``, ``"missing"`` or ``"corrupt"`` (checksum mismatch or not listed),
        including the manifest itself. Used by ``mmcourse doctor``.
    """
    folder = datasets_dir()
    try:
        sums = _read_manifest(folder)
    except DatasetFileError:
        return {MANIFEST: "missing", **{f: ("missing" if not (folder / f).is_file() else "corrupt")
                                        for f in SHIPPED_FILES}}
    status = {MANIFEST: "ok"}
    for fname in sorted(set(SHIPPED_FILES) | set(sums)):
        path = folder / fname
        if not path.is_file():
            status[fname] = "missing"
        else:
            status[fname] = "ok" if sums.get(fname) == _sha256(path) else "corrupt"
    return status


def load_shipped(fname: str) -> dict[str, np.ndarray]:
    """Arrays of one shipped ``.npz`` file, verified against its SHA-256 checksum first.

    Loaded with ``allow_pickle=False``. Raises :class:`DatasetFileError` (an ``OSError``) saying
    how to restore the file when it is missing, truncated or corrupt.
    """
    check_choice("fname", fname, SHIPPED_FILES)
    path = datasets_dir() / fname
    if not path.is_file():
        raise DatasetFileError(f"The shipped dataset file {path} is missing. {_RESTORE_HINT}")
    stat = path.stat()
    return dict(_load_verified(str(path), stat.st_size, stat.st_mtime_ns))


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


# --------------------------------------------------------------------------------------------
# Shared numeric helpers
# --------------------------------------------------------------------------------------------


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` linear-interpolation matrix (pixel centres aligned, edges clamped)."""
    src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def resize_images(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a batch of images ``(n, h, w)`` or ``(n, h, w, c)`` to ``size``.

    Pixel centres are aligned (as in ``tf.image.resize(..., "bilinear")`` with
    ``antialias=False``); returns float32 ``(n, H, W[, c])``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}.")
    out_h, out_w = (size, size) if np.isscalar(size) else size
    check_int("size", int(out_h), minimum=1)
    check_int("size", int(out_w), minimum=1)
    a = _interp_matrix(images.shape[1], int(out_h)).astype(np.float32)
    b = _interp_matrix(images.shape[2], int(out_w)).astype(np.float32)
    x = images.astype(np.float32)
    if images.ndim == 3:
        out = a @ (x @ b.T)  # (H, h) @ (n, h, W)
    else:
        out = np.einsum("oh,nhwc->nowc", a, np.einsum("nhwc,pw->nhpc", x, b))
    return out.astype(np.float32)


def _colored_noise(rng: np.random.Generator, n: int, length: int, exponent: float,
                   scale: np.ndarray | None = None, bank_rows: int = 128) -> np.ndarray:
    """``(n, length)`` float32 noise with power spectrum ~ 1/f**exponent (0 white, 1 pink).

    Cut from a bank of ``bank_rows`` long noise rows at random offsets and signs (one FFT for the
    bank instead of one per sample); each row has unit RMS, times ``scale[i]`` if given.
    """
    bank_len = 2 * length
    spec = (rng.standard_normal((bank_rows, bank_len // 2 + 1), dtype=np.float32)
            + 1j * rng.standard_normal((bank_rows, bank_len // 2 + 1), dtype=np.float32))
    f = np.arange(bank_len // 2 + 1, dtype=np.float32)
    f[0] = 1.0
    spec *= f ** np.float32(-exponent / 2)
    spec[:, 0] = 0.0
    bank = np.fft.irfft(spec, n=bank_len, axis=1).astype(np.float32)
    bank /= bank.std(axis=1, keepdims=True)
    row = rng.integers(bank_rows, size=n)
    off = rng.integers(bank_len - length + 1, size=n)
    gain = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    if scale is not None:
        gain *= np.asarray(scale, dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(bank, length, axis=1)
    out = windows[row, off]  # (n, length) copy of contiguous slices
    out *= gain[:, None]
    return out


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale ``2595 * log10(1 + f / 700)`` of frequencies in Hz.

    O'Shaughnessy, 1987, *Speech Communication: Human and Machine*, Addison-Wesley.
    """
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters, shape ``(n_fft // 2 + 1, n_mels)``; multiply a power spectrum by it.

    Same definition as ``tf.signal.linear_to_mel_weight_matrix`` (HTK mel scale, triangles in
    mel space, the DC bin left out), so NumPy and ``tf.signal`` pipelines agree.
    """
    n_mels = check_int("n_mels", n_mels, minimum=1)
    n_fft = check_int("n_fft", n_fft, minimum=2)
    sample_rate = check_float("sample_rate", sample_rate, minimum=0.0, include_min=False)
    fmax = sample_rate / 2 if fmax is None else fmax
    check_float("fmax", fmax, minimum=0.0, maximum=sample_rate / 2, include_min=False)
    check_float("fmin", fmin, minimum=0.0, maximum=fmax, include_max=False)
    n_bins = n_fft // 2 + 1
    bin_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))[1:, None]
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (bin_mel - lower) / (center - lower)
    down = (upper - bin_mel) / (upper - center)
    w = np.maximum(0.0, np.minimum(up, down))
    return np.concatenate([np.zeros((1, n_mels)), w], axis=0).astype(np.float32)


def log_mel_spectrogram(waveforms: np.ndarray, sample_rate: float, *, n_fft: int = 256,
                        hop_length: int = 80, n_mels: int = 32, fmin: float = 0.0,
                        fmax: float | None = None, eps: float = 1e-6) -> np.ndarray:
    """Log-mel spectrogram of a batch of waveforms, in NumPy.

    Frames of ``n_fft`` samples every ``hop_length`` samples (no padding), periodic Hann window,
    power spectrum ``|FFT|**2``, mel filters from :func:`mel_filterbank`, then ``log(x + eps)``.
    Matches ``tf.signal.stft`` -> ``abs()**2`` -> ``linear_to_mel_weight_matrix`` -> ``log``.

    Args:
        waveforms: ``(n, samples)`` or ``(samples,)``.
        sample_rate: samples per second.

    Returns:
        float32 ``(n, frames, n_mels)`` (or ``(frames, n_mels)``) with
        ``frames = 1 + (samples - n_fft) // hop_length``.
    """
    x = np.asarray(waveforms, dtype=np.float32)
    single = x.ndim == 1
    if single:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"waveforms must have shape (n, samples) or (samples,), got {x.shape}.")
    n_fft = check_int("n_fft", n_fft, minimum=2)
    hop_length = check_int("hop_length", hop_length, minimum=1)
    if x.shape[1] < n_fft:
        raise ValueError(f"waveforms must have at least n_fft={n_fft} samples, got {x.shape[1]}.")
    check_float("eps", eps, minimum=0.0, include_min=False)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=1)[:, ::hop_length]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    mel = power.astype(np.float32) @ mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax)
    out = np.log(mel + eps).astype(np.float32)
    return out[0] if single else out


def tokenize(texts: Iterable[str], vocab: Sequence[str], max_len: int) -> np.ndarray:
    """Map whitespace-separated words to ids in ``vocab``: int32 ``(n, max_len)``.

    Id 0 is padding (``vocab[0] == "<pad>"``), id 1 unknown words (``vocab[1] == "<unk>"``);
    longer texts are cut at ``max_len`` tokens.
    """
    max_len = check_int("max_len", max_len, minimum=1)
    index = {w: i for i, w in enumerate(vocab)}
    texts = list(texts)
    out = np.zeros((len(texts), max_len), dtype=np.int32)
    for i, t in enumerate(texts):
        ids = [index.get(w, 1) for w in t.split()[:max_len]]
        out[i, : len(ids)] = ids
    return out


def detokenize(ids: np.ndarray, vocab: Sequence[str]) -> list[str]:
    """Inverse of :func:`tokenize` (padding dropped): ``(n, L)`` ids -> list of n strings."""
    ids = np.atleast_2d(np.asarray(ids))
    return [" ".join(vocab[i] for i in row if i != 0) for row in ids]


def _check_common(n_samples: int, seed: int, missing_rate: float) -> None:
    check_int("n_samples", n_samples, minimum=1)
    check_int("seed", seed, minimum=0)
    check_float("missing_rate", missing_rate, minimum=0.0, maximum=1.0, include_max=False)


def _finish(ds: MultimodalDataset, missing_rate: float, seed: int) -> MultimodalDataset:
    if missing_rate > 0:
        return ds.drop_modalities(missing_rate, seed=seed + 7919)
    return ds


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (one per generative component)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# --------------------------------------------------------------------------------------------
# av_digits: real handwritten digits + spoken digits (espeak-ng, shipped)
# --------------------------------------------------------------------------------------------

AV_DIGITS_AUDIO = "av_digits_audio.npz"
"""The shipped espeak-ng clips (made by ``scripts/make_av_digits_audio.py``)."""


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)
    target = d.target.astype(np.int32)
    images.setflags(write=False)
    target.setflags(write=False)
    return images, target


def load_av_digits(n_samples: int = 1797, seed: int = 0, *, image_size: int = 28,
                   image_noise: float = 0.35, occlusion: float = 0.55, max_shift: int = 0,
                   snr_db: float = -8.0,
                   speakers: Sequence[str] | None = None, audio_features: str = "waveform",
                   missing_rate: float = 0.0) -> MultimodalDataset:
    """Handwritten digit images paired by label with spoken digits: the course's fusion example.

    Images are the 1,797 real 8x8 digits of scikit-learn's ``load_digits`` (UCI optdigits, CC BY
    4.0), bilinearly upsampled to ``image_size``, with Gaussian pixel noise and a grey square
    hiding a random part of the digit. Each image is paired with a random clip *of the same
    digit* from 480 espeak-ng recordings shipped in ``datasets/av_digits_audio.npz`` (10 words x
    12 speakers x 2 speeds x 2 pitches, 8 kHz), placed at a random time in a 0.8 s window, with
    pink background noise at ``snr_db``, the mix scaled to a peak of 0.95. The noise in the two
    modalities is independent, so they are complementary: fusion beats both (see
    ``datasets/README.md``). Like AV-MNIST
    (Vielzeuf et al., 2018, "CentralNet: a Multilayer Approach for Multimodal Fusion", ECCV
    Workshops), but real images and offline synthetic speech.

    Args:
        n_samples: number of pairs. Up to 1,797 every image is used at most once; beyond, images
            repeat (with new noise, occlusion and clip).
        seed: seed for the pairing and all noise.
        image_size: side of the square image (8 = the original resolution).
        image_noise: standard deviation of the Gaussian pixel noise (pixels are in [0, 1],
            clipped after the noise).
        occlusion: side of a grey square (value 0.5) hiding part of the image, as a fraction
            of the image side (0 = none).
        max_shift: largest random translation in pixels, up, down, left or right (0 = none).
        snr_db: signal-to-noise ratio of the audio in dB (speech power over noise power).
        speakers: draw clips only from these speakers (names in ``info["speaker_names"]``,
            e.g. ``"en-gb-scotland+m5"``); default all 12.
        audio_features: ``"waveform"`` (``(n, 6400)`` float32 in [-1, 1]) or ``"log_mel"``
            (``(n, 77, 32, 1)`` from :func:`log_mel_spectrogram` with ``n_fft=256``,
            ``hop_length=80``).
        missing_rate: probability that each modality is missing in a sample (see
            :meth:`MultimodalDataset.drop_modalities`).

    Returns:
        :class:`MultimodalDataset` with modalities ``image`` ``(n, S, S, 1)`` float32 and
        ``audio``; task ``digit`` (int32, 0-9); metadata ``image_index`` (row of
        ``load_digits``), ``clip`` (row of the shipped file), ``speaker`` (int id), ``onset``
        (audio sample where the word starts).
    """
    _check_common(n_samples, seed, missing_rate)
    image_size = check_int("image_size", image_size, minimum=8, maximum=64)
    image_noise = check_float("image_noise", image_noise, minimum=0.0)
    occlusion = check_float("occlusion", occlusion, minimum=0.0, maximum=1.0)
    max_shift = check_int("max_shift", max_shift, minimum=0, maximum=image_size // 4)
    snr_db = check_float("snr_db", snr_db, minimum=-30.0, maximum=60.0)
    check_choice("audio_features", audio_features, ("waveform", "log_mel"))
    pool = load_shipped(AV_DIGITS_AUDIO)
    speaker_names = [str(s) for s in pool["speaker_names"]]
    if speakers is None:
        allowed_speakers = np.arange(len(speaker_names))
    else:
        if isinstance(speakers, str) or not len(speakers):
            raise ValueError(f"speakers must be a non-empty list of speaker names, got "
                             f"{speakers!r}; allowed: {speaker_names}.")
        allowed_speakers = np.array([speaker_names.index(check_choice("speakers", s,
                                                                      speaker_names))
                                     for s in speakers])
    r_pair, r_img, r_occ, r_clip, r_audio = _streams(seed, 5)

    images, target = _sklearn_digits()
    n_img = len(images)
    reps = -(-n_samples // n_img)
    image_index = np.concatenate([r_pair.permutation(n_img) for _ in range(reps)])[:n_samples]
    digit = target[image_index]

    # image: upsample, (shift), add noise, occlude
    img = images[image_index]
    if image_size != 8:
        img = resize_images(img, image_size)
    if max_shift > 0:  # random translation (zero padding): a nuisance a CNN can ignore
        pad = max_shift
        padded = np.zeros((n_samples, image_size + 2 * pad, image_size + 2 * pad),
                          dtype=np.float32)
        padded[:, pad:-pad, pad:-pad] = img
        windows = np.lib.stride_tricks.sliding_window_view(padded, (image_size, image_size),
                                                           axis=(1, 2))
        dy, dx = r_occ.integers(0, 2 * pad + 1, size=(2, n_samples))
        img = windows[np.arange(n_samples), dy, dx]
    img = img + r_img.standard_normal(img.shape, dtype=np.float32) * np.float32(image_noise)
    np.clip(img, 0.0, 1.0, out=img)
    side = int(round(occlusion * image_size))
    if side > 0:  # a grey square hides part of the digit
        top = r_occ.integers(0, image_size - side + 1, size=(n_samples, 1, 1))
        left = r_occ.integers(0, image_size - side + 1, size=(n_samples, 1, 1))
        rows = np.arange(image_size)[None, :, None]
        cols = np.arange(image_size)[None, None, :]
        block = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
        img = np.where(block, np.float32(0.5), img)
    img = img[..., None]

    # audio: a clip of the same digit from an allowed speaker, random onset, pink noise at SNR
    clip_digit, clip_speaker = pool["digit"], pool["speaker"]
    clip = np.empty(n_samples, dtype=np.int64)
    for d in range(10):
        cands = np.flatnonzero((clip_digit == d) & np.isin(clip_speaker, allowed_speakers))
        rows_d = np.flatnonzero(digit == d)
        clip[rows_d] = cands[r_clip.integers(len(cands), size=len(rows_d))]
    length = pool["lengths"][clip].astype(np.int64)
    win = pool["audio"].shape[1]
    onset = (r_clip.random(n_samples) * (win - length + 1)).astype(np.int64)
    gain = (0.4 + 0.6 * r_audio.random(n_samples)) / 32768.0
    # shift each word to its onset: window (win - onset) of [zeros(win), clip] is the shifted clip
    padded = np.concatenate([np.zeros_like(pool["audio"]), pool["audio"]], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, win, axis=1)
    audio = windows[clip, win - onset].astype(np.float32)
    audio *= gain.astype(np.float32)[:, None]
    power = np.einsum("ij,ij->i", audio, audio, dtype=np.float64) / length
    noise_rms = np.sqrt(power) * 10 ** (-snr_db / 20)
    audio += _colored_noise(r_audio, n_samples, win, exponent=1.0, scale=noise_rms)
    audio *= (0.95 / np.abs(audio).max(axis=1))[:, None]  # like a recorder's gain: peak 0.95
    sample_rate = int(pool["sample_rate"])
    if audio_features == "log_mel":
        audio = log_mel_spectrogram(audio, sample_rate)[..., None]

    info = {
        "kinds": {"image": "image",
                  "audio": "audio" if audio_features == "waveform" else "spectrogram"},
        "class_names": {"digit": [str(d) for d in range(10)]},
        "sample_rate": sample_rate,
        "speaker_names": speaker_names,
        "words": [str(w) for w in pool["words"]],
        "row_label_metadata": {"speaker": speaker_names},
        "knobs": {"n_samples": n_samples, "seed": seed, "image_size": image_size,
                  "image_noise": image_noise, "occlusion": occlusion, "max_shift": max_shift,
                  "snr_db": snr_db,
                  "speakers": None if speakers is None else list(speakers),
                  "audio_features": audio_features, "missing_rate": missing_rate},
        "source": "images: scikit-learn load_digits (UCI optdigits, CC BY 4.0); audio: espeak-ng "
                  "(datasets/av_digits_audio.npz)",
    }
    ds = MultimodalDataset(
        "av_digits", {"image": img, "audio": audio}, {"digit": digit.astype(np.int32)},
        metadata={"image_index": image_index.astype(np.int32), "clip": clip.astype(np.int32),
                  "speaker": clip_speaker[clip].astype(np.int32),
                  "onset": onset.astype(np.int32)},
        info=info)
    return _finish(ds, missing_rate, seed)


# --------------------------------------------------------------------------------------------
# shapes_captions: rendered scenes + captions + question / answer pairs
# --------------------------------------------------------------------------------------------

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
"""Shape kinds of ``shapes_captions`` (``metadata["shape_kind"]`` indexes this)."""
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple")
"""Colour names of ``shapes_captions`` (``metadata["shape_colour"]`` indexes this)."""
_RGB = np.array([[0.90, 0.16, 0.14], [0.18, 0.70, 0.22], [0.18, 0.36, 0.95],
                 [0.96, 0.86, 0.12], [0.66, 0.26, 0.82]], dtype=np.float32)
SIZES: tuple[str, ...] = ("small", "large")
"""Size names of ``shapes_captions`` (``metadata["shape_size"]`` indexes this)."""
ANSWERS: tuple[str, ...] = ("no", "yes", "zero", "one", "two", "three", *COLOURS, *SHAPES)
"""Answer classes of the ``shapes_captions`` task ``answer``."""
QUESTION_TYPES: tuple[str, ...] = ("count", "count_colour", "exist", "colour_of", "shape_of")
"""Question templates of ``shapes_captions`` (``metadata["question_type"]`` indexes this)."""
_NUMBERS = ("zero", "one", "two", "three")
_REL_WORDS = {"left": (("left", "of"), ("to", "the", "left", "of")),
              "right": (("right", "of"), ("to", "the", "right", "of")),
              "above": (("above",),), "below": (("below",), ("under",))}
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
SHAPES_VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", "a", "there", "is", "an", "image", "with", "and", "the", "left", "right",
    "of", "to", "above", "below", "under", "small", "large", "big", *COLOURS, *SHAPES, "shape",
    "how", "many", "shapes", "are", "what", "colour", "one", "?", "zero", "two", "three", "yes",
    "no")
"""Token vocabulary of the ``shapes_captions`` captions and questions (0 = padding, 1 = unknown)."""


def _shape_coverage(kind: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                    r: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of shapes centred at 0; ``dx``, ``dy`` are offsets in px.

    ``kind`` (k,) picks circle (0), square (1) or triangle (2, apex up); ``dx`` is ``(k, 1, P)``,
    ``dy`` ``(k, P, 1)`` and ``r`` ``(k,)``; returns ``(k, P, P)`` float32.
    """
    r = r[:, None, None]
    kind = kind[:, None, None]
    ax = np.abs(dx)
    circle = np.sqrt(ax * ax + dy * dy) - r
    square = np.maximum(ax, np.abs(dy)) - np.float32(0.82) * r
    h = np.float32(0.75) * r  # triangle: apex (0, -r), base corners (+-r, 0.75 r)
    norm = np.sqrt(r * r + (h + r) ** 2)
    triangle = np.maximum(dy - h, ((h + r) * ax - r * (dy + r)) / norm)
    sdf = np.where(kind == 0, circle, np.where(kind == 1, square, triangle))
    return np.clip(np.float32(0.5) - sdf, 0.0, 1.0)


def _paint_shapes(img: np.ndarray, kind: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                  r: np.ndarray, rgb: np.ndarray, present: np.ndarray) -> None:
    """Paint non-overlapping shapes into ``img`` ``(n, S, S, 3)``; ``kind`` etc. are ``(n, k)``.

    Coverage is computed on a small patch around each shape and scattered into the image, so
    the cost grows with the shapes' area, not the image's.
    """
    n, size = img.shape[0], img.shape[1]
    patch = min(size, int(np.ceil(2 * r.max())) + 3)
    offs = np.arange(patch)
    cover = np.zeros((n, size, size), dtype=np.float32)
    paint = np.zeros((n, size, size, 3), dtype=np.float32)
    for k in range(kind.shape[1]):
        idx = np.flatnonzero(present[:, k])
        # patch origin, moved inside the image (the shape itself always lies inside)
        x0 = np.clip(np.floor(cx[idx, k]).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(cy[idx, k]).astype(np.int64) - patch // 2, 0, size - patch)
        dx = (x0[:, None] + offs[None, :] + 0.5 - cx[idx, k, None]).astype(np.float32)
        dy = (y0[:, None] + offs[None, :] + 0.5 - cy[idx, k, None]).astype(np.float32)
        cov = _shape_coverage(kind[idx, k], dx[:, None, :], dy[:, :, None], r[idx, k])
        rows = (y0[:, None] + offs)[:, :, None]
        cols = (x0[:, None] + offs)[:, None, :]
        cover[idx[:, None, None], rows, cols] += cov
        paint[idx[:, None, None], rows, cols] += cov[..., None] * rgb[idx, k, None, None, :]
    img *= 1 - cover[..., None]
    img += paint


def _noun_phrase(kind: int, colour: int, size: int, u: np.ndarray) -> list[str]:
    """'a [size] [colour] shape'; ``u`` holds 4 uniforms deciding what to mention."""
    words = ["a"]
    with_colour = u[0] < 0.8
    if u[1] < 0.5:
        words.append("small" if size == 0 else ("large" if u[2] < 0.6 else "big"))
    if with_colour:
        words.append(COLOURS[colour])
    words.append("shape" if with_colour and u[3] < 0.15 else SHAPES[kind])
    return words


def load_shapes_captions(n_samples: int = 3000, seed: int = 0, *, image_size: int = 32,
                         max_shapes: int = 3, noise: float = 0.03, caption_len: int = 16,
                         question_len: int = 10, missing_rate: float = 0.0
                         ) -> MultimodalDataset:
    """Rendered scenes of 1-3 coloured shapes with a caption and a question / answer pair.

    The alignment (retrieval) and reasoning (FiLM / VQA) example. Each scene has 1 to
    ``max_shapes`` shapes (circle, square, triangle; five colours; small or large) in distinct
    cells of a 3x3 grid with jitter, on a grey background with pixel noise. The caption comes
    from a small grammar with paraphrases, optional attributes and spatial relations ("a small
    red circle to the left of a blue square", "a blue square is right of a red circle", "there
    is a big yellow shape"); it mentions at most two shapes and often leaves out size or colour,
    so several scenes fit one caption and retrieval is not trivial. The question is one of five
    types (count, count of a colour, existence, colour of a unique shape, shape of a unique
    colour) with a one-word answer. In the spirit of CLEVR (Johnson et al., 2017, "CLEVR: A
    Diagnostic Dataset for Compositional Language and Elementary Visual Reasoning", CVPR), in 2-D.

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        image_size: side of the square RGB image (>= 24).
        max_shapes: 1, 2 or 3 shapes at most per scene.
        noise: standard deviation of the Gaussian pixel noise.
        caption_len, question_len: token sequence lengths (padded with 0).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``image`` ``(n, S, S, 3)`` float32,
        ``caption`` ``(n, caption_len)`` int32 and ``question`` ``(n, question_len)`` int32 token
        ids (vocabulary ``info["vocab"]``); task ``answer`` (int32 index into
        ``info["class_names"]["answer"]``); metadata: raw strings ``caption_text``,
        ``question_text``, ``answer_text`` (unicode arrays), ``question_type``, ``n_shapes`` and
        the scene graph ``shape_kind``, ``shape_colour``, ``shape_size`` (``(n, 3)`` int8, -1 =
        no shape), ``shape_x``, ``shape_y`` (``(n, 3)`` float32 pixel centres).
    """
    _check_common(n_samples, seed, missing_rate)
    size = check_int("image_size", image_size, minimum=24, maximum=128)
    max_shapes = check_int("max_shapes", max_shapes, minimum=1, maximum=3)
    noise = check_float("noise", noise, minimum=0.0)
    caption_len = check_int("caption_len", caption_len, minimum=4)
    question_len = check_int("question_len", question_len, minimum=4)
    r_scene, r_img, r_text = _streams(seed, 3)
    n = n_samples

    # scene graph
    p_count = np.array([0.2, 0.4, 0.4][:max_shapes])
    n_shapes = r_scene.choice(np.arange(1, max_shapes + 1), size=n, p=p_count / p_count.sum())
    present = np.arange(3)[None, :] < n_shapes[:, None]
    cell = np.argsort(r_scene.random((n, 9)), axis=1)[:, :3]
    row, col = cell // 3, cell % 3
    kind = r_scene.integers(3, size=(n, 3))
    colour = r_scene.integers(5, size=(n, 3))
    big = r_scene.integers(2, size=(n, 3))
    radius = np.where(big == 1, 0.14, 0.085).astype(np.float32) * size
    slack = size / 6 - radius - 0.5
    cx = ((col + 0.5) * size / 3 + (2 * r_scene.random((n, 3)) - 1) * slack).astype(np.float32)
    cy = ((row + 0.5) * size / 3 + (2 * r_scene.random((n, 3)) - 1) * slack).astype(np.float32)

    # image
    shade = 0.32 + 0.1 * r_img.random(n, dtype=np.float32)
    ramp = np.linspace(0.04, -0.04, size, dtype=np.float32)
    img = np.empty((n, size, size, 3), dtype=np.float32)
    img[...] = (shade[:, None, None] + ramp[None, :, None])[..., None]
    tint = _RGB[colour] + 0.05 * r_img.standard_normal((n, 3, 3), dtype=np.float32)
    _paint_shapes(img, kind, cx, cy, radius, tint, present)
    img += r_img.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    np.clip(img, 0.0, 1.0, out=img)

    # captions and questions (short Python loop: strings)
    u = r_text.random((n, 16))
    q_type_draw = r_text.integers(len(QUESTION_TYPES), size=n)
    pick = r_text.integers(3, size=(n, 4))
    attr = np.stack([r_text.integers(3, size=n), r_text.integers(5, size=n)], axis=1)
    captions, questions, answers, q_types = [], [], [], []
    kind_l, colour_l, big_l, row_l, col_l = (a.tolist() for a in (kind, colour, big, row, col))
    u_l, pick_l, attr_l, n_l = u.tolist(), pick.tolist(), attr.tolist(), n_shapes.tolist()
    qtype_l = q_type_draw.tolist()
    for i in range(n):  # plain Python on lists: NumPy per-element calls would be slower
        m = n_l[i]
        ks, cs, ss, ui, pi = kind_l[i][:m], colour_l[i][:m], big_l[i][:m], u_l[i], pick_l[i]
        t = pi[0] % m
        ref = (t + 1 + pi[1] % (m - 1)) % m if m > 1 else t
        np_t = _noun_phrase(ks[t], cs[t], ss[t], ui[0:4])
        if m > 1 and ui[8] < 0.8:
            np_r = _noun_phrase(ks[ref], cs[ref], ss[ref], ui[4:8])
            dcol, drow = col_l[i][t] - col_l[i][ref], row_l[i][t] - row_l[i][ref]
            if abs(dcol) >= abs(drow):
                rel = "left" if dcol < 0 else "right"
            else:
                rel = "above" if drow < 0 else "below"
            template = int(ui[9] * 4)
            if template == 3:
                np_t, np_r, rel = np_r, np_t, _INVERSE[rel]
            phrases = _REL_WORDS[rel]
            rel_words = list(phrases[int(ui[10] * len(phrases))])
            lead = (["there", "is"] if template == 1 else [])
            words = lead + np_t + (["is"] if template in (2, 3) else []) + rel_words + np_r
        else:
            template = int(ui[9] * (4 if m > 1 else 3))
            if template == 3:
                words = np_t + ["and"] + _noun_phrase(ks[ref], cs[ref], ss[ref], ui[4:8])
            else:
                words = [[], ["there", "is"], ["an", "image", "with"]][template] + np_t
        captions.append(" ".join(words))

        qt = QUESTION_TYPES[qtype_l[i]]
        unique_kinds = [k_ for k_ in range(3) if ks.count(k_) == 1]
        unique_colours = [c_ for c_ in range(5) if cs.count(c_) == 1]
        if qt == "colour_of" and not unique_kinds:
            qt = "count_colour"
        if qt == "shape_of" and not unique_colours:
            qt = "exist"
        if qt == "count":
            q, a = "how many shapes are there ?", _NUMBERS[m]
        elif qt == "count_colour":
            c = cs[pi[2] % m] if ui[11] < 0.5 else attr_l[i][1]
            q, a = f"how many {COLOURS[c]} shapes are there ?", _NUMBERS[cs.count(c)]
        elif qt == "exist":
            if ui[12] < 0.5:
                j = pi[3] % m
                kq, cq = ks[j], cs[j]
            else:
                kq, cq = attr_l[i]
            yes = (kq, cq) in zip(ks, cs, strict=True)
            q, a = f"is there a {COLOURS[cq]} {SHAPES[kq]} ?", "yes" if yes else "no"
        elif qt == "colour_of":
            kq = unique_kinds[int(ui[13] * len(unique_kinds))]
            q, a = f"what colour is the {SHAPES[kq]} ?", COLOURS[cs[ks.index(kq)]]
        else:
            cq = unique_colours[int(ui[14] * len(unique_colours))]
            q, a = f"what shape is the {COLOURS[cq]} one ?", SHAPES[ks[cs.index(cq)]]
        questions.append(q)
        answers.append(ANSWERS.index(a))
        q_types.append(QUESTION_TYPES.index(qt))

    answers_arr = np.array(answers, dtype=np.int32)
    info = {
        "kinds": {"image": "image", "caption": "text", "question": "text"},
        "vocab": list(SHAPES_VOCAB),
        "text_source": {"caption": "caption_text", "question": "question_text"},
        "text_answer": {"question": "answer_text"},
        "class_names": {"answer": list(ANSWERS)},
        "question_types": list(QUESTION_TYPES),
        "shapes": list(SHAPES), "colours": list(COLOURS), "sizes": list(SIZES),
        "knobs": {"n_samples": n_samples, "seed": seed, "image_size": size,
                  "max_shapes": max_shapes, "noise": noise, "caption_len": caption_len,
                  "question_len": question_len, "missing_rate": missing_rate},
    }
    absent = ~present
    meta = {
        "caption_text": np.array(captions), "question_text": np.array(questions),
        "answer_text": np.array(ANSWERS)[answers_arr],
        "question_type": np.array(q_types, dtype=np.int8), "n_shapes": n_shapes.astype(np.int8),
        "shape_kind": np.where(absent, -1, kind).astype(np.int8),
        "shape_colour": np.where(absent, -1, colour).astype(np.int8),
        "shape_size": np.where(absent, -1, big).astype(np.int8),
        "shape_x": np.where(absent, np.nan, cx).astype(np.float32),
        "shape_y": np.where(absent, np.nan, cy).astype(np.float32),
    }
    ds = MultimodalDataset(
        "shapes_captions",
        {"image": img, "caption": tokenize(captions, SHAPES_VOCAB, caption_len),
         "question": tokenize(questions, SHAPES_VOCAB, question_len)},
        {"answer": answers_arr}, metadata=meta, info=info)
    return _finish(ds, missing_rate, seed)


# --------------------------------------------------------------------------------------------
# clinic: latent disease -> scan, EHR table, clinical note, gene expression
# --------------------------------------------------------------------------------------------

DIAGNOSES: tuple[str, ...] = ("healthy", "benign_lesion", "malignant_lesion", "inflammation")
"""Classes of the ``clinic`` task ``diagnosis``."""
EHR_COLUMNS: tuple[str, ...] = ("age", "sex", "heart_rate", "systolic_bp", "temperature", "bmi",
                                "wbc", "crp", "alt", "albumin", "hemoglobin", "creatinine",
                                "ca19_9")
"""Columns of the ``clinic`` modality ``ehr``."""
EHR_UNITS: tuple[str, ...] = ("years", "(1=male)", "bpm", "mmHg", "degC", "kg/m2",
                              "10^9/L", "mg/L", "U/L", "g/dL", "g/dL", "mg/dL", "U/mL")
"""Units of :data:`EHR_COLUMNS`."""
SYMPTOMS: tuple[str, ...] = ("fever", "weight loss", "abdominal pain", "jaundice", "fatigue",
                             "night sweats", "nausea")
"""Symptoms the ``clinic`` notes mention, present or negated."""
# P(symptom | diagnosis): rows healthy, benign, malignant, inflammation (a benign lesion causes
# no symptoms: its row equals the healthy one, and so do its visit reasons and history)
_P_SYMPTOM = np.array([[0.03, 0.03, 0.10, 0.01, 0.15, 0.03, 0.08],
                       [0.03, 0.03, 0.10, 0.01, 0.15, 0.03, 0.08],
                       [0.12, 0.55, 0.45, 0.25, 0.60, 0.30, 0.30],
                       [0.65, 0.10, 0.55, 0.35, 0.50, 0.20, 0.40]])
_REASONS = ("routine check", "abdominal discomfort", "abnormal labs", "follow up")
_P_REASON = np.array([[0.60, 0.15, 0.10, 0.15], [0.60, 0.15, 0.10, 0.15],
                      [0.15, 0.35, 0.30, 0.20], [0.10, 0.40, 0.35, 0.15]])
_HISTORY = ("alcohol use", "smoking", "diabetes")
_P_HISTORY = np.array([[0.10, 0.20, 0.10], [0.10, 0.20, 0.10], [0.10, 0.40, 0.15],
                       [0.35, 0.20, 0.15]])
CLINIC_VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", ".", "seen", "for", *sorted({w for r in _REASONS for w in r.split()}),
    "female", "male", "patient", "history", "of", "no", "reports", "complains", "denies",
    "evidence", "noted", *sorted({w for r in (*SYMPTOMS, *_HISTORY) for w in r.split()}))
"""Token vocabulary of the ``clinic`` notes (0 = padding, 1 = unknown)."""
GENE_PATHWAYS: tuple[str, ...] = ("proliferation", "immune", "hepatic_metabolism")
"""The three 12-gene signatures of ``clinic`` genes 0-11, 12-23 and 24-35."""


def _ellipse_cover(u: np.ndarray, v: np.ndarray, cx: np.ndarray, cy: np.ndarray, a: np.ndarray,
                   b: np.ndarray, theta: np.ndarray, edge: float) -> np.ndarray:
    """Soft ellipse masks ``(n, S, S)`` on a shared grid ``u`` ``(1, 1, S)``, ``v`` ``(1, S, 1)``.

    Centres, semi-axes and angle are ``(n,)`` in grid units; ``edge`` is the width of the soft
    edge. Rotated coordinates are built from broadcast ``(n, 1, S)`` and ``(n, S, 1)`` terms, so
    only a handful of full-size operations are needed.
    """
    def col(x):
        return np.asarray(x, dtype=np.float32)[:, None, None]

    c, s = np.cos(theta), np.sin(theta)
    du, dv = u - col(cx), v - col(cy)
    x = du * col(c / a) + dv * col(s / a)  # (n, 1, S) + (n, S, 1) -> (n, S, S)
    y = dv * col(c / b) - du * col(s / b)
    rho = np.hypot(x, y, out=x)
    k = col(np.minimum(a, b) / edge)
    rho *= -k
    rho += k + np.float32(0.5)  # (1 - rho) * k + 0.5
    return np.clip(rho, 0, 1, out=rho)


def _lesion_patches(r: np.ndarray, lobe: np.ndarray, phi: np.ndarray, fx: np.ndarray,
                    fy: np.ndarray, patch: int) -> np.ndarray:
    """Soft round (``lobe = 0``) or lobulated lesions in ``(k, patch, patch)`` patches.

    ``fx``, ``fy`` in [0, 1) are the sub-pixel centre positions; radii in pixels.
    """
    grid = np.arange(patch, dtype=np.float32) + np.float32(0.5) - patch // 2
    dx = grid[None, None, :] - fx[:, None, None]
    dy = grid[None, :, None] - fy[:, None, None]
    r3 = r[:, None, None]
    main = r3 - np.sqrt(dx * dx + dy * dy)
    lx = dx - (0.75 * r * np.cos(phi))[:, None, None]
    ly = dy - (0.75 * r * np.sin(phi))[:, None, None]
    lobe_r = (0.65 * r * lobe)[:, None, None]
    side = lobe_r - np.sqrt(lx * lx + ly * ly)
    return np.clip(np.maximum(main, side) / np.float32(1.2) + np.float32(0.5), 0, 1)


def load_clinic(n_samples: int = 2000, seed: int = 0, *, scan_size: int = 48,
                site_shift: float = 1.0, scan_noise: float = 1.0, ehr_missing: float = 0.15,
                genes: bool = True, missing_rate: float = 0.0) -> MultimodalDataset:
    """Synthetic patients: a latent disease drives a scan, an EHR table, a note and genes.

    The medical case study. Each patient has a diagnosis (healthy, benign lesion, malignant
    lesion, inflammation), a severity in (0, 1), an age, a sex and a hospital *site* (two scanner
    sites with different calibration, noise and case mix: a domain shift). From these:

    * **scan**: a grayscale abdominal slice: body outline, spine, a liver-like organ with
      texture; lesions are hypodense round or lobulated blobs (benign and malignant lesions
      look alike apart from size and lobulation, which overlap); inflammation enlarges and
      brightens the organ and makes it heterogeneous. Site 1 has another intensity calibration,
      more noise and a bias field.
    * **ehr**: 13 columns: age, sex, vitals and labs in
      realistic ranges (CRP, WBC, ALT rise with inflammation; the tumour marker CA 19-9 rises in
      75 % of malignant cases; albumin and haemoglobin fall). Values missing at random are NaN
      (``metadata["ehr_observed"]`` is the mask); age and sex are never missing. Units:
      ``info["feature_units"]["ehr"]``.
    * **note**: templated sentences with negation ("seen for follow up . denies fever . reports
      weight loss . no history of smoking ."), token ids and raw text.
    * **genes** (optional): 64 log-expression values, three pathway signatures (proliferation
      up in malignant, immune up in inflammation, hepatic metabolism down in both) plus a
      site batch effect.

    Benign vs healthy differ only in the scan; benign vs malignant mostly in labs, note and
    genes; so the benign class is identified only by combining the scan with another modality.
    The ``risk`` label is an adverse-outcome probability (logistic in diagnosis, severity, age,
    albumin). Stands in for MIMIC-IV-style EHR + imaging + notes and TCGA-style genomics.

    Args:
        n_samples: number of patients.
        seed: seed of everything random.
        scan_size: side of the square scan in pixels (>= 32).
        site_shift: strength of the site-1 domain shift (0 = sites look the same).
        scan_noise: multiplier of the scanner noise.
        ehr_missing: probability that a vital or lab value is missing (CA 19-9: twice that).
        genes: include the ``genes`` modality.
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``scan`` ``(n, S, S, 1)``, ``ehr`` ``(n, 13)``
        (NaN = missing), ``note`` ``(n, 48)`` int32 and ``genes`` ``(n, 64)`` float32; tasks
        ``diagnosis`` (int32) and ``risk`` (float32 in (0, 1)); metadata ``site``,
        ``severity``, ``ehr_observed`` ``(n, 13)``, ``note_text``, ``n_lesions``.
    """
    _check_common(n_samples, seed, missing_rate)
    size = check_int("scan_size", scan_size, minimum=32, maximum=128)
    site_shift = check_float("site_shift", site_shift, minimum=0.0, maximum=3.0)
    scan_noise = check_float("scan_noise", scan_noise, minimum=0.0)
    ehr_missing = check_float("ehr_missing", ehr_missing, minimum=0.0, maximum=0.5)
    if not isinstance(genes, bool):
        raise TypeError(f"genes must be True or False, got {genes!r}.")
    r_lat, r_scan, r_ehr, r_note, r_gene = _streams(seed, 5)
    n = n_samples

    # latent patient state
    dx = r_lat.choice(4, size=n, p=[0.30, 0.20, 0.25, 0.25])
    site = (r_lat.random(n) < np.array([0.35, 0.45, 0.65, 0.55])[dx]).astype(np.int32)
    severity = np.where(dx == 0, 0.0, r_lat.beta(2.0, 2.0, size=n))
    malignant, inflamed = (dx == 2).astype(float), (dx == 3).astype(float)
    age = np.clip(r_lat.normal(52, 14, size=n) + 8 * malignant, 18, 90).round()
    male = (r_lat.random(n) < 0.5).astype(float)

    # ---- scan ----
    f32 = np.float32
    px = 2.0 / size  # grid units per pixel
    grid = ((np.arange(size, dtype=np.float32) + 0.5) * px - 1).astype(np.float32)
    u, v = grid[None, None, :], grid[:, None, None].reshape(1, size, 1)
    ones = np.ones(n, dtype=np.float32)
    body = _ellipse_cover(u, v, 0 * ones, 0.05 * ones, r_scan.uniform(0.85, 0.95, n),
                          r_scan.uniform(0.68, 0.8, n), 0 * ones, 2 * px)
    scale = r_scan.normal(1.0, 0.07, n) * (1 + 0.22 * severity * inflamed)
    org_cx, org_cy = r_scan.normal(-0.18, 0.04, n), r_scan.normal(-0.08, 0.04, n)
    org_a, org_b = 0.42 * scale, 0.30 * scale
    org_th = r_scan.uniform(-0.35, 0.35, n)
    organ = _ellipse_cover(u, v, org_cx, org_cy, org_a, org_b, org_th, 1.5 * px)
    one = ones[:1]
    spine = _ellipse_cover(u, v, 0 * one, 0.55 * one, 0.1 * one, 0.09 * one, 0 * one, px)
    kidney = _ellipse_cover(u, v, r_scan.normal(0.5, 0.03, n), r_scan.normal(0.25, 0.03, n),
                            0.14 * ones, 0.09 * ones, r_scan.uniform(0.6, 1.0, n), px)
    tex_amp = (0.03 + 0.07 * severity * inflamed)[:, None, None]
    texture = resize_images(r_scan.standard_normal((n, 8, 8), dtype=np.float32), size)
    organ_level = (0.55 + 0.07 * severity * inflamed)[:, None, None]
    scan = f32(0.28) * body
    scan += organ * (organ_level + tex_amp * texture - 0.28).astype(np.float32)
    scan += kidney * f32(0.2) + spine * f32(0.6)
    # lesions (benign: 1 round; malignant: 1-3, often lobulated), hypodense
    n_les = np.where(dx == 1, 1, 0) + np.where(
        dx == 2, 1 + (r_scan.random(n) < 0.5 * severity) + (r_scan.random(n) < 0.3 * severity),
        0)
    lesion_layer = np.zeros((n, size, size), dtype=np.float32)
    r_max_px = 6.5 * size / 48
    patch = int(np.ceil(2 * 1.45 * r_max_px)) + 3
    for k in range(3):
        idx = np.flatnonzero(n_les > k)
        if not idx.size:
            continue
        sev = severity[idx]
        is_mal = dx[idx] == 2
        r_px = np.where(is_mal, 2.0 + 4.0 * sev * r_scan.uniform(0.6, 1.1, idx.size),
                        r_scan.uniform(2.0, 5.0, idx.size)) * size / 48
        lobe = (r_scan.random(idx.size) < np.where(is_mal, 0.7, 0.25)).astype(float)
        rho, ang = 0.55 * np.sqrt(r_scan.random(idx.size)), r_scan.uniform(0, 2 * np.pi, idx.size)
        cth, sth = np.cos(org_th[idx]), np.sin(org_th[idx])
        lx, ly = rho * np.cos(ang) * org_a[idx], rho * np.sin(ang) * org_b[idx]
        gx = org_cx[idx] + cth * lx - sth * ly  # lesion centre in grid units
        gy = org_cy[idx] + sth * lx + cth * ly
        pcx, pcy = (gx + 1) / px, (gy + 1) / px  # ... and in pixels
        x0 = np.clip(np.floor(pcx).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(pcy).astype(np.int64) - patch // 2, 0, size - patch)
        cov = _lesion_patches(r_px.astype(np.float32), lobe.astype(np.float32),
                              r_scan.uniform(0, 2 * np.pi, idx.size).astype(np.float32),
                              (pcx - x0 - patch // 2).astype(np.float32),
                              (pcy - y0 - patch // 2).astype(np.float32), patch)
        depth = np.where(is_mal, r_scan.normal(0.2, 0.04, idx.size),
                         r_scan.normal(0.25, 0.04, idx.size)).astype(np.float32)
        offs = np.arange(patch)
        rows = (y0[:, None] + offs)[:, :, None]
        cols = (x0[:, None] + offs)[:, None, :]
        sub = lesion_layer[idx[:, None, None], rows, cols]
        lesion_layer[idx[:, None, None], rows, cols] = np.maximum(sub, cov * depth[:, None, None])
    scan -= lesion_layer * organ
    # acquisition: site calibration, bias field, noise
    shift = site.astype(np.float32)[:, None, None] * f32(site_shift)
    gain = 1 - f32(0.18) * shift
    bias = shift * f32(0.07) * (u + v * f32(0.5))
    scan = scan * gain + f32(0.1) * shift + bias
    sigma = (0.03 + 0.03 * site * site_shift) * scan_noise
    scan += r_scan.standard_normal(scan.shape, dtype=np.float32) * sigma[:, None, None].astype(
        np.float32)
    scan = np.clip(scan, 0, 1, out=scan)[..., None]

    # ---- EHR ----
    z = r_ehr.standard_normal((n, 11))
    ca_secretor = r_ehr.random(n) < 0.75
    ehr = np.column_stack([
        age, male,
        (74 + 9 * z[:, 0] + 12 * severity * inflamed + 4 * severity * malignant).round(),
        (122 + 14 * z[:, 1] + 0.35 * (age - 50)).round(),
        (36.8 + 0.3 * z[:, 2] + severity * inflamed * r_ehr.uniform(0.8, 2.2, n)
         + 0.2 * severity * malignant).round(1),
        (27 + 4.5 * z[:, 3] - 3 * severity * malignant).round(1),
        (7 * np.exp(0.25 * z[:, 4]) * (1 + 1.1 * severity * inflamed)).round(1),
        (2.5 * np.exp(0.7 * z[:, 5]) * (1 + 30 * severity * inflamed + 4 * severity * malignant)
         ).round(1),
        (24 * np.exp(0.35 * z[:, 6]) * (1 + 5 * severity * inflamed + 0.8 * severity * malignant)
         ).round(),
        (4.2 + 0.3 * z[:, 7] - 0.7 * severity * (inflamed + malignant)).round(1),
        (13.2 + 1.4 * male + 1.0 * z[:, 8] - 1.6 * severity * malignant).round(1),
        ((0.85 + 0.15 * male + 0.15 * z[:, 9]) * (1 + 0.004 * (age - 50))).round(2),
        (12 * np.exp(0.6 * z[:, 10]) * (1 + (4 + 40 * severity) * malignant * ca_secretor
                                        + severity * inflamed)).round(1),
    ]).astype(np.float32)
    low_albumin = ehr[:, 9] < 3.5  # before values go missing: the outcome does not care
    miss_p = np.r_[0.0, 0.0, np.full(10, ehr_missing), min(1.0, 2 * ehr_missing)]
    observed = r_ehr.random((n, len(EHR_COLUMNS))) >= miss_p
    ehr[~observed] = np.nan

    # ---- note ----
    present = r_note.random((n, len(SYMPTOMS))) < _P_SYMPTOM[dx]
    mention = r_note.random((n, len(SYMPTOMS))) < np.where(present, 0.85, 0.35)
    order = np.argsort(r_note.random((n, len(SYMPTOMS))), axis=1)
    form = r_note.integers(3, size=(n, len(SYMPTOMS) + len(_HISTORY)))
    reason = (r_note.random(n)[:, None] > np.cumsum(_P_REASON[dx], axis=1)).sum(axis=1)
    hist = r_note.random((n, len(_HISTORY))) < _P_HISTORY[dx]
    hist_mention = r_note.random((n, len(_HISTORY))) < 0.5
    pos_forms = ("reports {} .", "complains of {} .", "{} noted .")
    neg_forms = ("denies {} .", "no {} .", "no evidence of {} .")
    notes = []
    rows_l = [x.tolist() for x in (present, mention, order, form, hist, hist_mention)]
    for i in range(n):
        pres, men, ordr, frm, hst, hmen = (r[i] for r in rows_l)
        parts = [f"{'male' if male[i] else 'female'} patient seen for {_REASONS[reason[i]]} ."]
        for h in range(len(_HISTORY)):
            if hmen[h]:
                parts.append(f"{'' if hst[h] else 'no '}history of {_HISTORY[h]} .")
        for j in ordr:
            if men[j]:
                parts.append((pos_forms if pres[j] else neg_forms)[frm[j]].format(SYMPTOMS[j]))
        notes.append(" ".join(parts))

    modalities = {"scan": scan, "ehr": ehr, "note": tokenize(notes, CLINIC_VOCAB, 48)}

    # ---- genes ----
    gene_names = ([f"PROLIF{i + 1}" for i in range(12)] + [f"IMMUNE{i + 1}" for i in range(12)]
                  + [f"HEPMET{i + 1}" for i in range(12)] + [f"GENE{i + 37}" for i in range(28)])
    if genes:
        fixed = np.random.default_rng(20240611)  # gene baselines and loadings: fixed "biology"
        base = fixed.uniform(4, 10, 64)
        loadings = np.zeros((3, 64))
        for p in range(3):
            loadings[p, 12 * p: 12 * p + 12] = fixed.uniform(0.6, 1.2, 12)
        batch = fixed.normal(0, 0.35, 64)
        act = np.column_stack([
            malignant * (1.0 + 1.5 * severity),
            inflamed * (1.0 + 1.5 * severity) + 0.4 * malignant,
            -severity * (1.0 * inflamed + 0.6 * malignant),
        ]) + r_gene.normal(0, 0.3, (n, 3))
        expr = (base + act @ loadings + site[:, None] * site_shift * batch
                + r_gene.normal(0, 0.5, (n, 64)))
        modalities["genes"] = expr.astype(np.float32)

    logit = (-3.0 + np.array([0.0, 0.3, 2.0, 1.0])[dx] + 2.5 * severity + 0.035 * (age - 55)
             + 0.6 * low_albumin)
    risk = (1 / (1 + np.exp(-logit))).astype(np.float32)
    info = {
        "kinds": {"scan": "image", "ehr": "table", "note": "text", "genes": "vector"},
        "class_names": {"diagnosis": list(DIAGNOSES)},
        "vocab": list(CLINIC_VOCAB), "text_source": {"note": "note_text"},
        "feature_names": {"ehr": list(EHR_COLUMNS), "genes": gene_names},
        "feature_units": {"ehr": list(EHR_UNITS)},
        "feature_groups": {"genes": {p: list(range(12 * i, 12 * i + 12))
                                     for i, p in enumerate(GENE_PATHWAYS)}},
        "row_label_metadata": {"site": None},
        "sites": ["site 0", "site 1"],
        "knobs": {"n_samples": n_samples, "seed": seed, "scan_size": size,
                  "site_shift": site_shift, "scan_noise": scan_noise,
                  "ehr_missing": ehr_missing, "genes": genes, "missing_rate": missing_rate},
    }
    ds = MultimodalDataset(
        "clinic", modalities, {"diagnosis": dx.astype(np.int32), "risk": risk},
        metadata={"site": site, "severity": severity.astype(np.float32),
                  "ehr_observed": observed, "note_text": np.array(notes),
                  "n_lesions": n_les.astype(np.int8)},
        info=info)
    return _finish(ds, missing_rate, seed)


# --------------------------------------------------------------------------------------------
# drive: camera + LiDAR + radar under day / night / fog / rain
# --------------------------------------------------------------------------------------------

OBJECTS: tuple[str, ...] = ("none", "car", "pedestrian", "cyclist")
"""Classes of the ``drive`` task ``object``."""
CONDITIONS: tuple[str, ...] = ("day", "night", "fog", "rain")
"""Conditions of ``drive`` (``metadata["condition"]`` indexes this)."""
_OBJ_SIZE = np.array([[0.0, 0.0], [1.8, 1.5], [0.6, 1.75], [1.75, 1.75]])  # width, height (m)
_CAM_HEIGHT, _LIDAR_HEIGHT = 1.5, 1.8
# object parts in the object's frame: x in [-0.5, 0.5] (width), y in [0, 1] (height, from the
# ground); (x0, x1, y0, y1, colour id) with colour id 0 = body colour, 1 dark, 2 window,
# 3 skin, 4 tail light
_PARTS = {
    1: [(-0.5, 0.5, 0.15, 0.62, 0), (-0.37, 0.37, 0.6, 1.0, 2), (-0.46, -0.24, 0.0, 0.22, 1),
        (0.24, 0.46, 0.0, 0.22, 1), (-0.49, -0.36, 0.44, 0.54, 4), (0.36, 0.49, 0.44, 0.54, 4)],
    2: [(-0.28, 0.28, 0.0, 0.47, 1), (-0.5, 0.5, 0.45, 0.83, 0), (-0.2, 0.2, 0.84, 1.0, 3)],
    3: [(-0.5, -0.1, 0.0, 0.38, 1), (0.1, 0.5, 0.0, 0.38, 1), (-0.3, 0.3, 0.3, 0.38, 1),
        (-0.14, 0.14, 0.38, 0.84, 0), (-0.1, 0.1, 0.85, 1.0, 3)],
}
_PART_RGB = np.array([[0, 0, 0], [0.08, 0.08, 0.09], [0.25, 0.32, 0.4], [0.85, 0.65, 0.5],
                      [1.0, 0.1, 0.05]], dtype=np.float32)


def _camera(rng: np.random.Generator, obj: np.ndarray, dist: np.ndarray, lateral: np.ndarray,
            cond: np.ndarray, vis: np.ndarray, size: int, severity: float) -> np.ndarray:
    """Pinhole camera images ``(n, S, S, 3)`` of a road with one object (or none)."""
    n = len(obj)
    f = 1.5 * size  # focal length in pixels
    horizon = 0.42 * size
    rows = np.arange(size, dtype=np.float32) + 0.5
    cols = rows
    # background template: sky gradient, grass, road trapezoid with a dashed centre line
    below = np.clip(rows - horizon, 1e-3, None)
    ground_dist = np.where(rows > horizon, f * _CAM_HEIGHT / below, 200.0)  # m, per row
    half_road = 3.5 * f / ground_dist  # px
    on_road = np.abs(cols[None, :] - size / 2) < half_road[:, None]
    dash = (np.abs(cols[None, :] - size / 2) < np.maximum(0.5, 0.12 * f / ground_dist)[:, None]) \
        & (np.sin(ground_dist * 0.9)[:, None] > 0.2)
    sky = np.stack([0.55 + 0.2 * rows / size, 0.7 + 0.15 * rows / size, 0.95 + 0 * rows], 1)
    bg = np.where((rows > horizon)[:, None, None],
                  np.where(on_road[..., None], np.float32(0.42),
                           np.array([0.3, 0.5, 0.22], dtype=np.float32)),
                  sky[:, None, :])
    bg = np.where(dash[..., None] & (rows > horizon)[:, None, None], np.float32(0.85), bg)
    # per-sample exposure: jitter, night darkening, rain dimming; fog: per-row transmission
    night, fog, rain = cond == 1, cond == 2, cond == 3
    gain = (0.9 + 0.2 * rng.random(n)) * np.where(night, 1 - 0.88 * min(severity, 1.0), 1.0) \
        * np.where(rain, 0.7, 1.0)
    t_row = np.where(fog[:, None], np.exp(-3.0 * severity * ground_dist[None, :]
                                          / np.where(fog, vis, 1.0)[:, None]), 1.0)
    img = bg[None].astype(np.float32) * (gain[:, None] * t_row).astype(np.float32)[..., None, None]
    img += (0.78 * gain[:, None] * (1 - t_row)).astype(np.float32)[..., None, None]

    # the object, drawn part by part in a patch around it
    has = np.flatnonzero(obj > 0)
    patch = min(size, int(np.ceil(f * 1.9 / 5.0)) + 3)
    offs = np.arange(patch)
    h_px = f * _OBJ_SIZE[obj[has], 1] / dist[has]
    w_px = f * _OBJ_SIZE[obj[has], 0] / dist[has]
    uc = size / 2 + f * lateral[has] / dist[has]
    vb = horizon + f * _CAM_HEIGHT / dist[has]
    x0 = np.clip(np.floor(uc).astype(np.int64) - patch // 2, 0, size - patch)
    y0 = np.clip(np.floor(vb - h_px / 2).astype(np.int64) - patch // 2, 0, size - patch)
    gx = (x0[:, None] + offs + 0.5)[:, None, :]  # (k, 1, P) pixel centres
    gy = (y0[:, None] + offs + 0.5)[:, :, None]  # (k, P, 1)
    body_rgb = np.where((obj[has] == 1)[:, None], rng.uniform(0.1, 0.95, (len(has), 3)),
                        rng.uniform(0.15, 0.8, (len(has), 3)))
    alpha = np.zeros((len(has), patch, patch), dtype=np.float32)
    colour = np.zeros((len(has), patch, patch, 3), dtype=np.float32)
    lights = np.zeros((len(has), patch, patch), dtype=np.float32)
    for cls, parts in _PARTS.items():
        sel = np.flatnonzero(obj[has] == cls)
        if not sel.size:
            continue
        for px0, px1, py0, py1, cid in parts:
            left = (uc[sel] + px0 * w_px[sel])[:, None, None]
            right = (uc[sel] + px1 * w_px[sel])[:, None, None]
            top = (vb[sel] - py1 * h_px[sel])[:, None, None]
            bottom = (vb[sel] - py0 * h_px[sel])[:, None, None]
            cov = (np.clip(np.minimum(gx[sel] - left, right - gx[sel]) + 0.5, 0, 1)
                   * np.clip(np.minimum(gy[sel] - top, bottom - gy[sel]) + 0.5, 0, 1))
            rgb = body_rgb[sel] if cid == 0 else np.broadcast_to(_PART_RGB[cid], (len(sel), 3))
            a = cov.astype(np.float32)[..., None]
            colour[sel] = colour[sel] * (1 - a) + a * rgb[:, None, None, :].astype(np.float32)
            alpha[sel] = np.maximum(alpha[sel], cov)
            if cid == 4:
                lights[sel] = np.maximum(lights[sel], cov)
    t_obj = np.where(fog[has], np.exp(-3.0 * severity * dist[has] / np.where(fog, vis, 1.0)[has]),
                     1.0)
    g = gain[has, None, None, None]
    colour = (colour * (g * t_obj[:, None, None, None])
              + alpha[..., None] * (0.78 * g * (1 - t_obj[:, None, None, None]))
              ).astype(np.float32)
    lit = night[has]  # tail lights glow at night
    colour[lit] += lights[lit][..., None] * np.array([0.8, 0.12, 0.08], dtype=np.float32)
    ri = (y0[:, None] + offs)[:, :, None]
    ci = (x0[:, None] + offs)[:, None, :]
    hi = has[:, None, None]
    img[hi, ri, ci] = img[hi, ri, ci] * (1 - alpha[..., None]) + colour

    # rain: streaks and a slight horizontal blur
    if rain.any():
        k = int(rain.sum())
        streak_rows = rng.integers(0, size, size=(k, 12))
        streak_cols = rng.integers(0, size, size=(k, 12))
        streaks = np.zeros((k, size + 4, size + 4), dtype=np.float32)
        for j in range(4):  # short diagonal streaks
            streaks[np.arange(k)[:, None], streak_rows + j, streak_cols + j // 2] = 0.35
        sub = img[rain]
        sub[:, :, 1:-1] = 0.5 * sub[:, :, 1:-1] + 0.25 * (sub[:, :, :-2] + sub[:, :, 2:])
        sub += np.float32(min(severity, 1.5)) * streaks[:, :size, :size, None]
        img[rain] = sub
    sigma = np.array([0.02, 0.05, 0.03, 0.04], dtype=np.float32)[cond]
    img += rng.standard_normal(img.shape, dtype=np.float32) * sigma[:, None, None, None]
    return np.clip(img, 0, 1, out=img)


def _lidar(rng: np.random.Generator, obj: np.ndarray, dist: np.ndarray, lateral: np.ndarray,
           cond: np.ndarray, vis: np.ndarray, n_points: int, severity: float,
           max_range: float) -> np.ndarray:
    """LiDAR point clouds ``(n, N, 3)``: x forward, y left, z up (m), sensor 1.8 m high."""
    n = len(obj)
    z_ground = -_LIDAR_HEIGHT
    size = _OBJ_SIZE[obj]
    area = size[:, 0] * size[:, 1] * np.array([0, 0.9, 0.75, 0.45])[obj]  # filled area (m2)
    expected = 2500.0 * area / np.maximum(dist, 1.0) ** 2
    fog, rain = cond == 2, cond == 3
    keep = np.where(fog, np.exp(-2.0 * severity * dist / vis), np.where(rain, 0.85, 1.0))
    n_obj = np.minimum(rng.poisson(expected * keep), n_points // 2)
    n_clutter = np.where(fog, rng.integers(60, 100, n) * min(severity, 1.5),
                         np.where(rain, rng.integers(8, 20, n), 0)).astype(np.int64)
    slot = np.arange(n_points)[None, :]

    # object points: pick a part by area, then a uniform point on it; small depth jitter
    f32 = np.float32
    obj_x = np.zeros((n, n_points), dtype=f32)
    obj_y = np.zeros((n, n_points), dtype=f32)
    obj_z = np.zeros((n, n_points), dtype=f32)
    for cls, parts in _PARTS.items():
        sel = np.flatnonzero(obj == cls)
        if not sel.size:
            continue
        boxes = np.array([p[:4] for p in parts if p[4] != 4], dtype=f32)
        w = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
        which = np.searchsorted(np.cumsum(w / w.sum()), rng.random((sel.size, n_points)))
        b = boxes[np.minimum(which, len(boxes) - 1)]
        xs = b[..., 0] + rng.random((sel.size, n_points), dtype=f32) * (b[..., 1] - b[..., 0])
        ys = b[..., 2] + rng.random((sel.size, n_points), dtype=f32) * (b[..., 3] - b[..., 2])
        obj_x[sel] = dist[sel, None] + 0.05 * rng.standard_normal((sel.size, n_points), dtype=f32)
        obj_y[sel] = -lateral[sel, None] - xs * _OBJ_SIZE[cls, 0]
        obj_z[sel] = z_ground + ys * _OBJ_SIZE[cls, 1]
    # ground returns, denser near the sensor (uniform in log range), within visibility in fog;
    # clutter: fog back-scatter near the sensor, rain drops anywhere
    slot = np.arange(n_points)[None, :]
    is_obj = slot < n_obj[:, None]
    is_clutter = ~is_obj & (slot < (n_obj + n_clutter)[:, None])
    far = np.where(fog, np.minimum(max_range, 1.5 * vis / max(severity, 1e-3)), max_range)
    log_lo = np.where(is_clutter, 0.0, np.log(3.0)).astype(f32)
    log_hi = np.where(is_clutter, np.log(np.where(fog, 6.0, 20.0))[:, None],
                      np.log(far)[:, None]).astype(f32)
    r = np.exp(log_lo + rng.random((n, n_points), dtype=f32) * (log_hi - log_lo))
    az = (rng.random((n, n_points), dtype=f32) - f32(0.5)) * f32(1.2)
    z = np.where(is_clutter, rng.random((n, n_points), dtype=f32) * f32(2.5) - f32(1.5),
                 z_ground + f32(0.03) * rng.standard_normal((n, n_points), dtype=f32))
    pts = np.stack([np.where(is_obj, obj_x, r * np.cos(az)),
                    np.where(is_obj, obj_y, r * np.sin(az)), np.where(is_obj, obj_z, z)], axis=-1)
    order = np.argsort(rng.random((n, n_points), dtype=f32), axis=1)  # unordered sets
    return np.take_along_axis(pts, order[..., None], axis=1)


def _radar(rng: np.random.Generator, obj: np.ndarray, dist: np.ndarray, velocity: np.ndarray,
           cond: np.ndarray, n_range: int, n_doppler: int, max_range: float,
           max_speed: float) -> np.ndarray:
    """Range-Doppler maps in dB ``(n, R, D)``: noise floor, zero-Doppler clutter, the object."""
    n = len(obj)
    r_bins = (np.arange(n_range) + 0.5) * max_range / n_range
    d_bins = (np.arange(n_doppler) + 0.5) * 2 * max_speed / n_doppler - max_speed
    power = rng.exponential(1.0, (n, n_range, n_doppler))  # speckled noise floor
    clutter = 10 ** (2.0 - 0.04 * r_bins)[None, :, None] * np.exp(
        -0.5 * (d_bins / (0.6 * 2 * max_speed / n_doppler)) ** 2)[None, None, :]
    power += clutter * rng.exponential(1.0, (n, n_range, 1))
    rain = cond == 3
    power[rain] *= 1.4  # rain clutter raises the floor by 1.5 dB
    rcs_db = np.array([-99.0, 12.0, -3.0, 2.0])[obj] + rng.normal(0, 3.0, n)
    snr_db = rcs_db + 28.0 - 40.0 * np.log10(np.maximum(dist, 1.0) / 10.0) - 0.5 * rain
    spread = np.array([1.0, 0.5, 1.8, 1.2])[obj] * 2 * max_speed / n_doppler  # micro-Doppler
    rng_sigma = 0.6 * max_range / n_range
    blob = (np.exp(-0.5 * ((r_bins[None, :] - dist[:, None]) / rng_sigma) ** 2)[:, :, None]
            * np.exp(-0.5 * ((d_bins[None, :] - velocity[:, None]) / spread[:, None]) ** 2
                     )[:, None, :])
    power += np.where(obj > 0, 10 ** (snr_db / 10), 0.0)[:, None, None] * blob
    return (10 * np.log10(power)).astype(np.float32)


def load_drive(n_samples: int = 3000, seed: int = 0, *, conditions: Sequence[str] = CONDITIONS,
               image_size: int = 40, n_points: int = 256, radar_shape: tuple[int, int] = (32, 16),
               max_distance: float = 30.0, severity: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """Road scenes seen by a camera, a LiDAR and a radar under four weather / light conditions.

    The driving case study. Each scene has one object (car, pedestrian, cyclist) or none at a
    distance of 5 to ``max_distance`` m and a lateral offset, moving towards or away from the
    sensors (cars 3-10 m/s, cyclists 2-6, pedestrians 0.4-1.8). Sensors, with the physics
    simplified but the trade-offs kept:

    * **camera** (``(n, S, S, 3)``): pinhole view of a road; the object is drawn from parts
      (car: body, cabin, wheels, tail lights; pedestrian: legs, torso, head; cyclist: wheels,
      frame, rider) and shrinks with distance. Night darkens everything (only tail lights
      glow) and adds sensor noise; fog blends towards grey with transmission
      ``exp(-3 d / visibility)``; rain darkens, blurs and adds streaks.
    * **lidar** (``(n, N, 3)`` points x forward, y left, z up, in m, unordered): returns from the
      object's surface (density falls with distance squared), ground returns and, in fog, many
      back-scatter points near the sensor while object returns fade as
      ``exp(-2 d / visibility)``; rain drops a few points and adds droplets. Night: no effect.
    * **radar** (``(n, R, D, 1)`` range-Doppler power in dB): noise floor, zero-Doppler ground
      clutter and the object's echo at its range and radial speed, power by the radar equation
      (RCS / d^4), spread in Doppler by micro-motion (walking legs, pedalling). Coarse
      (1.1 m x 1.25 m/s cells at the defaults) but almost unaffected by light and weather
      (rain: noise floor +1.5 dB, echo -0.5 dB).

    Tasks: ``object`` (0 none, 1 car, 2 pedestrian, 3 cyclist) and ``distance`` (m; 0 for
    ``none``: mask that class out of a distance loss, e.g. with sample weights
    ``labels["object"] > 0``). Stands in for KITTI / nuScenes (real multi-sensor driving data).

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        conditions: which conditions to draw from, uniformly (subset of ``CONDITIONS``).
        image_size: camera image side in pixels (>= 24).
        n_points: LiDAR points per scene (fixed).
        radar_shape: (range bins, Doppler bins).
        max_distance: farthest object (m, 10-60); LiDAR and radar range is ``max_distance + 5``.
        severity: strength of the night / fog / rain effects (0 = like day, 1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset`; metadata ``condition`` (index into ``info["conditions"]``),
        ``visibility`` (m, fog only; inf otherwise), ``lateral`` (m, + = right), ``velocity``
        (radial, m/s), ``n_object_points`` (LiDAR returns from the object).
    """
    _check_common(n_samples, seed, missing_rate)
    if isinstance(conditions, str) or not len(conditions):
        raise ValueError(f"conditions must be a non-empty list of condition names from "
                         f"{list(CONDITIONS)}, got {conditions!r}.")
    for c in conditions:
        check_choice("conditions", c, CONDITIONS)
    size = check_int("image_size", image_size, minimum=24, maximum=128)
    n_points = check_int("n_points", n_points, minimum=16, maximum=4096)
    if len(radar_shape) != 2:
        raise ValueError(f"radar_shape must be (range bins, Doppler bins), got {radar_shape!r}.")
    n_range = check_int("radar_shape[0]", radar_shape[0], minimum=8, maximum=256)
    n_doppler = check_int("radar_shape[1]", radar_shape[1], minimum=4, maximum=256)
    max_distance = check_float("max_distance", max_distance, minimum=10.0, maximum=60.0)
    severity = check_float("severity", severity, minimum=0.0, maximum=3.0)
    r_lat, r_cam, r_lidar, r_radar = _streams(seed, 4)
    n = n_samples
    cond_ids = np.array([CONDITIONS.index(c) for c in dict.fromkeys(conditions)])
    cond = cond_ids[r_lat.integers(len(cond_ids), size=n)]
    obj = r_lat.choice(4, size=n, p=[0.16, 0.28, 0.28, 0.28])
    dist = r_lat.uniform(5.0, max_distance, n)
    lateral = r_lat.uniform(-1.0, 1.0, n) * np.minimum(3.0, 0.2 * dist)  # stays in view
    lo, hi = np.array([0.0, 3.0, 0.4, 2.0])[obj], np.array([0.0, 10.0, 1.8, 6.0])[obj]
    velocity = r_lat.uniform(lo, hi) * np.where(r_lat.random(n) < 0.5, -1.0, 1.0)
    vis = np.where(cond == 2, r_lat.uniform(12.0, 35.0, n), np.inf)
    max_range = max_distance + 5.0
    camera = _camera(r_cam, obj, dist, lateral, cond, vis, size, severity)
    lidar = _lidar(r_lidar, obj, dist, lateral, cond, vis, n_points, severity, max_range)
    n_obj_pts = np.zeros(n, dtype=np.int32)  # recount the object's returns: points near it
    half_w = _OBJ_SIZE[obj, 0][:, None] / 2 + 0.15
    near = ((np.abs(lidar[..., 0] - dist[:, None]) < 0.3)
            & (np.abs(lidar[..., 1] + lateral[:, None]) < half_w)
            & (lidar[..., 2] > -_LIDAR_HEIGHT + 0.1))
    n_obj_pts[:] = np.where(obj > 0, near.sum(axis=1), 0)
    radar = _radar(r_radar, obj, dist, velocity, cond, n_range, n_doppler, max_range, 10.0)
    info = {
        "kinds": {"camera": "image", "lidar": "points", "radar": "heatmap"},
        "class_names": {"object": list(OBJECTS)},
        "conditions": list(CONDITIONS),
        "row_label_metadata": {"condition": list(CONDITIONS)},
        "label_units": {"distance": "m"},
        "heatmap_axes": {"radar": ("range (m)", "radial speed (m/s)")},
        "heatmap_extent": {"radar": (0.0, max_range, -10.0, 10.0)},
        "knobs": {"n_samples": n_samples, "seed": seed, "conditions": list(conditions),
                  "image_size": size, "n_points": n_points, "radar_shape": (n_range, n_doppler),
                  "max_distance": max_distance, "severity": severity,
                  "missing_rate": missing_rate},
    }
    ds = MultimodalDataset(
        "drive", {"camera": camera, "lidar": lidar, "radar": radar[..., None]},
        {"object": obj.astype(np.int32),
         "distance": np.where(obj > 0, dist, 0.0).astype(np.float32)},
        metadata={"condition": cond.astype(np.int32), "visibility": vis.astype(np.float32),
                  "lateral": lateral.astype(np.float32), "velocity": velocity.astype(np.float32),
                  "n_object_points": n_obj_pts},
        info=info)
    return _finish(ds, missing_rate, seed)


# --------------------------------------------------------------------------------------------
# watch: surveillance video + audio with events and an optional audio-video offset
# --------------------------------------------------------------------------------------------

EVENTS: tuple[str, ...] = ("normal", "intrusion", "glass_break", "fight")
"""Classes of the ``watch`` task ``event``."""


def _blob(centre: np.ndarray, sigma: float, grid: np.ndarray) -> np.ndarray:
    """1-D Gaussian profiles ``(..., len(grid))`` for centres ``(...)`` of width ``sigma``."""
    d = (grid - centre[..., None]) / np.float32(sigma)
    return np.exp(np.float32(-0.5) * d * d)


def _sound_bank(rng: np.random.Generator, kind: str, sr: int, variants: int = 48) -> np.ndarray:
    """Short synthetic sounds ``(variants, length)``, peak-normalised, float32.

    ``thump`` (footstep / door / blow: decaying low sine), ``creak`` (rising chirp), ``murmur``
    (low voice: harmonic tone 110-180 Hz with vibrato), ``shout`` (220-400 Hz, louder harmonics),
    ``crash`` (breaking glass: broadband burst + high ringing partials + tinkles).
    """
    dur = {"thump": 0.15, "creak": 0.3, "murmur": 0.5, "shout": 0.3, "crash": 0.5}[kind]
    t = np.arange(int(dur * sr)) / sr
    v = variants
    if kind == "thump":
        f = rng.uniform(50, 120, (v, 1))
        x = np.exp(-t / rng.uniform(0.02, 0.04, (v, 1))) * np.sin(2 * np.pi * f * t)
    elif kind == "creak":
        f = rng.uniform(250, 350, (v, 1)) + rng.uniform(600, 1200, (v, 1)) * t
        x = np.sin(np.pi * t / dur) * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sign(
            np.sin(2 * np.pi * 30 * t)))
    elif kind in ("murmur", "shout"):
        lo, hi, n_h = (110, 180, 3) if kind == "murmur" else (220, 400, 5)
        length = rng.uniform(0.5, 1.0, (v, 1)) * dur
        f0 = rng.uniform(lo, hi, (v, 1))
        phase = 2 * np.pi * (f0 * t + rng.uniform(2, 15, (v, 1)) / 6 * np.sin(2 * np.pi * 6 * t))
        env = np.sqrt(np.clip(np.sin(np.pi * np.clip(t / length, 0, 1)), 0, None))
        x = env * sum(np.sin(h * phase) / h ** (1.5 if kind == "murmur" else 0.7)
                      for h in range(1, n_h + 1))
    else:  # crash
        noise = rng.standard_normal((v, t.size))
        x = 1.5 * noise * np.exp(-t / 0.04)
        for _ in range(3):
            f = rng.uniform(0.3, 0.47, (v, 1)) * sr
            x += 0.4 * np.exp(-t / rng.uniform(0.05, 0.15, (v, 1))) * np.sin(2 * np.pi * f * t)
        for _ in range(4):  # tinkles: short clicks of high ringing
            t0 = rng.uniform(0.05, 0.4, (v, 1))
            tt = t - t0
            x += 0.3 * (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.008) * np.sin(
                2 * np.pi * rng.uniform(0.35, 0.48, (v, 1)) * sr * tt)
    x /= np.abs(x).max(axis=1, keepdims=True)
    return x.astype(np.float32)


def _mix_in(audio: np.ndarray, idx: np.ndarray, start: np.ndarray, bank: np.ndarray,
            rng: np.random.Generator, gain: np.ndarray | float) -> None:
    """Add a random sound of ``bank`` to ``audio[idx[j]]`` at sample ``start[j]`` (cut at edges)."""
    variant = rng.integers(len(bank), size=idx.size)
    gain = np.broadcast_to(np.asarray(gain, dtype=np.float32), idx.size) * rng.uniform(
        0.8, 1.2, idx.size).astype(np.float32)
    length, total = bank.shape[1], audio.shape[1]
    for j, i in enumerate(idx.tolist()):  # slices: cheap, and sounds are short
        s0 = int(start[j])
        a, b = max(s0, 0), min(s0 + length, total)
        if a < b:
            audio[i, a:b] += gain[j] * bank[variant[j], a - s0: b - s0]


def load_watch(n_samples: int = 2000, seed: int = 0, *, n_frames: int = 8, frame_size: int = 24,
               sample_rate: int = 4000, event_probs: Sequence[float] = (0.4, 0.2, 0.2, 0.2),
               max_offset: float = 0.0, strength: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """One-second surveillance clips (grayscale video + audio) with normal activity or an event.

    The security case study. A fixed camera looks at a room (wall, floor, door, window); people
    are dark blobs. Classes and where they show:

    * **normal**: 0-2 people walking slowly; audio: room tone, hum, soft footsteps, sometimes a
      murmur of voices or a door slam (a loud but low-pitched thump).
    * **intrusion**: a person bursts in from the door side and moves fast (clearly visible);
      audio: only faint quick footsteps and, half of the time, a soft creak (weakly audible).
    * **glass_break**: a loud broadband crash with high-pitched ringing and tinkles (clearly
      audible); video: a faint flash of the window, which then stays a little darker (weakly
      visible: the window's light also flickers in normal clips, e.g. passing headlights).
    * **fight**: two people close together, moving erratically; audio: shouts (high-pitched
      harmonic bursts) and thumps (both modalities).

    The event starts at ``metadata["onset"]`` seconds (video time). With ``max_offset > 0`` the
    whole audio track is shifted by ``metadata["av_offset"]`` seconds, uniform in
    ``[-max_offset, max_offset]`` (positive = audio late), for alignment exercises. Stands in
    for XD-Violence (Wu et al., 2020, "Not only Look, but also Listen: Learning Multimodal
    Violence Detection under Weak Supervision", ECCV) and UCF-Crime style anomaly data.

    Args:
        n_samples: number of clips.
        seed: seed of everything random.
        n_frames: video frames per clip (frame rate = ``n_frames`` per second).
        frame_size: frame side in pixels (>= 16).
        sample_rate: audio samples per second (2,000-16,000).
        event_probs: probabilities of normal, intrusion, glass_break, fight (sum to 1).
        max_offset: largest audio-video offset in seconds (0 = aligned).
        strength: multiplier of how visible / audible the events are (1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``video`` ``(n, T, S, S, 1)`` float32 in
        [0, 1] and ``audio`` ``(n, sample_rate)`` float32 waveform; tasks ``event`` (int32) and
        ``anomaly`` (int32, 1 = not normal); metadata ``onset`` (s, NaN for normal),
        ``av_offset`` (s), ``n_people``.
    """
    _check_common(n_samples, seed, missing_rate)
    T = check_int("n_frames", n_frames, minimum=4, maximum=64)
    S = check_int("frame_size", frame_size, minimum=16, maximum=96)
    sr = check_int("sample_rate", sample_rate, minimum=2000, maximum=16000)
    try:
        probs = np.asarray(event_probs, dtype=float)
    except (TypeError, ValueError):
        probs = np.zeros(0)
    if probs.shape != (4,) or (probs < 0).any() or abs(probs.sum() - 1) > 1e-6:
        raise ValueError(f"event_probs must be 4 non-negative numbers (for {list(EVENTS)}) that "
                         f"sum to 1, got {event_probs!r}.")
    max_offset = check_float("max_offset", max_offset, minimum=0.0, maximum=0.5)
    strength = check_float("strength", strength, minimum=0.0, maximum=3.0)
    r_lat, r_vid, r_aud = _streams(seed, 3)
    n, f32 = n_samples, np.float32
    event = r_lat.choice(4, size=n, p=probs)
    onset = np.where(event > 0, r_lat.uniform(0.15, 0.6, n), np.nan)
    onset_frame = np.where(event > 0, np.ceil(np.nan_to_num(onset) * T), T).astype(int)
    offset = r_lat.uniform(-max_offset, max_offset, n) if max_offset > 0 else np.zeros(n)
    sc = S / 24  # geometry below is given for 24 x 24 frames

    # ---- video: a static room; people are dark Gaussian blobs ----
    grid = np.arange(S, dtype=f32) + f32(0.5)
    door_left = r_vid.random(n) < 0.5
    door_cols = np.where(door_left[:, None], (grid >= 2 * sc) & (grid < 7 * sc),
                         (grid >= 17 * sc) & (grid < 22 * sc))
    door = door_cols[:, None, :] & ((grid >= 4 * sc) & (grid < 14 * sc))[None, :, None]
    window = (((grid >= 3 * sc) & (grid < 8 * sc))[:, None]
              & ((grid >= 9.5 * sc) & (grid < 14.5 * sc))[None, :])
    wall = r_vid.uniform(0.45, 0.6, n).astype(f32)
    floor = r_vid.uniform(0.28, 0.38, n).astype(f32)
    room = np.where((grid < 14 * sc)[None, :, None], wall[:, None, None], floor[:, None, None])
    room = np.where(door, f32(0.2), room)
    room = np.where(window[None], r_vid.uniform(0.7, 0.9, n).astype(f32)[:, None, None],
                    room).astype(f32)
    ft = np.arange(T, dtype=f32)[None, :]  # frame index
    after = ft >= onset_frame[:, None]  # (n, T): the event is under way
    # five person slots: 2 walkers, an intruder, 2 fighters; x, y centres (n, T), darkness (n,)
    n_walk = np.where(event == 0, r_vid.integers(0, 3, n), r_vid.integers(0, 2, n))
    xs, ys, depth, sx, sy = [], [], [], [], []
    for k in range(2):  # walkers
        v = r_vid.uniform(0.3, 1.0, n) * np.where(r_vid.random(n) < 0.5, -1, 1)
        xs.append((r_vid.uniform(3, 21, n)[:, None] + v[:, None] * ft) * sc)
        ys.append(np.repeat(r_vid.uniform(15, 19, n)[:, None] * sc, T, axis=1))
        depth.append(np.where(n_walk > k, 0.75, 0.0)[:, None] + 0 * ft)
        sx.append(1.3)
        sy.append(3.0)
    steps = np.clip(ft - onset_frame[:, None], 0, None)  # intruder: in from the door side, fast
    v = np.where(door_left, 1, -1) * r_vid.uniform(1.5, 2.5, n)
    xs.append((np.where(door_left, 4.5, 19.5)[:, None] + v[:, None] * steps) * sc)
    ys.append((14 - 1.2 * np.minimum(steps, 1.0)) * sc)
    depth.append(np.where((event == 1)[:, None] & after, min(0.85, 0.7 * strength), 0.0))
    sx.append(1.6)
    sy.append(2.4)
    centre = r_vid.uniform(7, 17, n)[:, None]  # fighters: close, erratic after the onset
    for side in (-1, 1):
        jx = r_vid.normal(0, 1.3, (n, T)) * after * strength
        jy = r_vid.normal(0, 0.8, (n, T)) * after * strength
        xs.append((centre + side * (2.5 - 0.8 * after) + jx) * sc)
        ys.append((16.5 + jy) * sc)
        depth.append(np.where(event == 3, 0.75, 0.0)[:, None] + 0 * ft)
        sx.append(1.3)
        sy.append(3.0)
    # darkness(t) = sum_p depth_p * gy_p (x) gx_p: one batched matrix product for all people
    gx = np.stack([_blob(x.astype(f32), s_ * sc, grid) for x, s_ in zip(xs, sx, strict=True)],
                  axis=2)  # (n, T, P, S)
    gy = np.stack([_blob(y.astype(f32), s_ * sc, grid) * d[..., None].astype(f32)
                   for y, s_, d in zip(ys, sy, depth, strict=True)], axis=2)
    dark = np.matmul(gy.transpose(0, 1, 3, 2), gx)  # (n, T, S, S)
    np.clip(dark, 0, 0.9, out=dark)
    frames = room[:, None] * (1 - dark)
    # the window's light flickers (passing cars, clouds); glass break adds a faint flash at the
    # onset frame and leaves the window a little darker (cracked)
    flicker = r_vid.normal(0, 0.02, (n, T))
    passing = (event == 0) & (r_vid.random(n) < 0.25)  # a car's headlights pass: a confuser
    flicker += np.where(passing[:, None] & (ft == r_vid.integers(0, T, n)[:, None]),
                        r_vid.uniform(0.03, 0.07, n)[:, None], 0.0)
    is_glass = (event == 2)[:, None]
    first = np.minimum(onset_frame, T - 1)[:, None]
    flicker += np.where(is_glass & (ft == first), 0.04 * strength, 0.0)
    flicker -= np.where(is_glass & (ft > first), 0.015 * strength, 0.0)
    frames += flicker.astype(f32)[:, :, None, None] * window.astype(f32)
    frames += r_vid.standard_normal(frames.shape, dtype=f32) * f32(0.03)
    np.clip(frames, 0, 1, out=frames)

    # ---- audio: room tone + hum + sounds mixed in at their times ----
    L = sr
    t = np.arange(L, dtype=f32) / f32(sr)
    audio = _colored_noise(r_aud, n, L, exponent=1.0, scale=np.full(n, 0.02))
    hum_phase = r_aud.uniform(0, 2 * np.pi, n).astype(f32)
    audio += f32(0.01) * np.sin(f32(2 * np.pi * 50) * t[None, :] + hum_phase[:, None])
    banks = {k: _sound_bank(r_aud, k, sr) for k in ("thump", "creak", "murmur", "shout", "crash")}
    a_onset = np.nan_to_num(onset) + offset  # audio time of the event

    def at(seconds):
        return np.round(np.asarray(seconds) * sr).astype(np.int64)

    idx = np.flatnonzero(n_walk > 0)  # walkers' soft footsteps, every 0.5 s
    first = r_aud.uniform(0, 0.5, idx.size) + offset[idx]
    for k in range(2):
        _mix_in(audio, idx, at(first + 0.5 * k), banks["thump"], r_aud, 0.05)
    idx = np.flatnonzero(event == 1)  # intruder: faint quick steps, sometimes a creak
    for k in range(3):
        _mix_in(audio, idx, at(a_onset[idx] + 0.05 + 0.22 * k), banks["thump"], r_aud,
                0.04 * strength)
    creak = idx[r_aud.random(idx.size) < 0.5]
    _mix_in(audio, creak, at(a_onset[creak]), banks["creak"], r_aud, 0.05 * strength)
    idx = np.flatnonzero((event == 0) & (r_aud.random(n) < 0.3))  # normal: murmur
    _mix_in(audio, idx, at(r_aud.uniform(0, 0.6, idx.size)), banks["murmur"], r_aud, 0.08)
    idx = np.flatnonzero((event == 0) & (r_aud.random(n) < 0.15))  # normal: a door slam
    _mix_in(audio, idx, at(r_aud.uniform(0.1, 0.8, idx.size)), banks["thump"], r_aud, 0.4)
    idx = np.flatnonzero(event == 2)  # glass break
    _mix_in(audio, idx, at(a_onset[idx]), banks["crash"], r_aud, 0.6 * strength)
    idx = np.flatnonzero(event == 3)  # fight: two shouts and two blows
    for k in range(2):
        _mix_in(audio, idx, at(a_onset[idx] + k * r_aud.uniform(0.15, 0.35, idx.size)),
                banks["shout"], r_aud, 0.3 * strength)
        _mix_in(audio, idx, at(a_onset[idx] + r_aud.uniform(0, 0.4, idx.size)), banks["thump"],
                r_aud, 0.25 * strength)

    info = {
        "kinds": {"video": "video", "audio": "audio"},
        "class_names": {"event": list(EVENTS), "anomaly": ["normal", "anomaly"]},
        "sample_rate": sr, "fps": T,
        "knobs": {"n_samples": n_samples, "seed": seed, "n_frames": T, "frame_size": S,
                  "sample_rate": sr, "event_probs": tuple(float(p) for p in probs),
                  "max_offset": max_offset, "strength": strength, "missing_rate": missing_rate},
    }
    ds = MultimodalDataset(
        "watch", {"video": frames[..., None], "audio": audio},
        {"event": event.astype(np.int32), "anomaly": (event > 0).astype(np.int32)},
        metadata={"onset": onset.astype(np.float32), "av_offset": offset.astype(np.float32),
                  "n_people": (n_walk + np.where(event == 1, 1, np.where(event == 3, 2, 0))
                               ).astype(np.int8)},
        info=info)
    return _finish(ds, missing_rate, seed)
