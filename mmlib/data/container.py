"""The container of every course dataset: :class:`MultimodalDataset`.

Paired samples of several modalities with labels, per-sample modality masks, metadata and
dataset-level information; selection (:meth:`~MultimodalDataset.subset`,
:meth:`~MultimodalDataset.split`, :meth:`~MultimodalDataset.drop_modalities`), inspection
(:meth:`~MultimodalDataset.describe`, :meth:`~MultimodalDataset.to_pandas`), a ``tf.data``
pipeline (:meth:`~MultimodalDataset.to_tf_dataset`) and plots
(:meth:`~MultimodalDataset.plot_samples`). TensorFlow, pandas and matplotlib are imported only by
the methods that need them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib._common import MASK_INPUT, check_kind, mask_columns, rng
from mmlib._validate import check_choice, check_float, check_int

if TYPE_CHECKING:  # heavy imports only for type checkers
    import pandas as pd
    import tensorflow as tf
    from matplotlib.figure import Figure

__all__ = ["MultimodalDataset"]


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
        info: dataset-level information: ``kinds`` (modality -> one of
            :data:`mmlib._common.KINDS`, checked),
            ``class_names`` (task -> list of names), optionally ``task_modalities`` (task ->
            the modalities that are that task's inputs by default, checked; see
            :meth:`to_tf_dataset`), vocabularies, sample rates, feature names and units, and
            ``knobs`` (the arguments the loader was called with).
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
        _check_kinds(self.info.get("kinds", {}), list(self.modalities))
        _check_task_modalities(self.info.get("task_modalities", {}), list(self.labels),
                               list(self.modalities))
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
        """Modality name -> kind (one of ``KINDS``); ``"vector"`` when not recorded."""
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
        gen = rng(seed)
        n = len(self)
        if groups is not None:
            check_choice("groups", groups, list(self.metadata))
            keys = self.metadata[groups]
            if keys.ndim != 1:
                raise ValueError(f"groups must name a metadata array of shape (n,), got "
                                 f"{groups!r} with shape {keys.shape}.")
            uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            order = gen.permutation(len(uniq))
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
                members = gen.permutation(np.flatnonzero(y == cls))
                cuts = np.round(np.cumsum(fr)[:-1] * len(members)).astype(int)
                for p, chunk in enumerate(np.split(members, cuts)):
                    parts_lists[p].append(chunk)
            parts = [np.sort(np.concatenate(c)) for c in parts_lists]
        else:
            perm = gen.permutation(n)
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
        gen = rng(seed)
        n = len(self)
        drop = gen.random((n, len(names))) < rate
        priority = gen.random((n, len(names)))
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
            modalities: which modalities become inputs. ``None`` (default): the default inputs
                of the requested tasks, ``info["task_modalities"][task]`` (e.g. ``("image",
                "question")`` for the VQA task ``answer`` of ``shapes_captions``, whose caption
                is for retrieval, not an input of the answer), united over the tasks, in this
                dataset's modality order; all modalities when a requested task has no entry.
                An explicit list always wins (``modalities=["image", "question", "caption"]``
                feeds the caption too).
            with_masks: also yield the presence mask as ``inputs["modality_mask"]``
                (:data:`mmlib._common.MASK_INPUT`): float32 ``(batch, M)``, 1 = present, one
                column per fed modality in ``mask_columns(modalities)`` order, i.e. sorted by
                name whatever order ``modalities`` lists them in (the order in which the
                :mod:`mmlib.fusion` layers read a dict of modalities).

        Returns:
            ``tf.data.Dataset`` yielding ``({modality: (batch, ...)}, labels)``.
        """
        import tensorflow as tf

        check_int("batch_size", batch_size, minimum=1)
        check_int("seed", seed, minimum=0)
        if tasks is None:
            task_list, single = list(self.labels), len(self.labels) == 1
        elif isinstance(tasks, str):
            task_list, single = [tasks], True
        else:
            task_list, single = list(tasks), False
        for t in task_list:
            check_choice("tasks", t, list(self.labels))
        mods = self._default_modalities(task_list) if modalities is None else list(modalities)
        if not mods:
            raise ValueError("modalities must name at least one modality, got an empty list.")
        for m in mods:
            check_choice("modalities", m, list(self.modalities))
        mask_columns(mods)  # raises for a modality listed twice
        if with_masks and MASK_INPUT in mods:
            raise ValueError(f"with_masks=True adds the input {MASK_INPUT!r}, which is also the "
                             f"name of a modality; rename that modality.")
        inputs = {m: self.modalities[m] for m in mods}
        if with_masks:
            inputs[MASK_INPUT] = np.stack([self.masks[m] for m in mask_columns(mods)],
                                          axis=1).astype(np.float32)
        labels = self.labels[task_list[0]] if single else {t: self.labels[t] for t in task_list}
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def _default_modalities(self, task_list: Sequence[str]) -> list[str]:
        """The inputs of ``task_list`` when none are named: the union of
        ``info["task_modalities"]`` over the tasks (dataset order), or all modalities if a task
        has no entry."""
        defaults = self.info.get("task_modalities") or {}
        if not task_list or any(t not in defaults for t in task_list):
            return list(self.modalities)
        wanted = {m for t in task_list for m in defaults[t]}
        return [m for m in self.modalities if m in wanted]

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


def _check_kinds(kinds: Any, modalities: list[str]) -> None:
    """Raise unless ``info["kinds"]`` maps modality names to kinds of ``KINDS``."""
    if not isinstance(kinds, Mapping):
        raise TypeError(f"info['kinds'] must be a dict modality -> kind, got "
                        f"{type(kinds).__name__}.")
    unknown = sorted(set(kinds) - set(modalities))
    if unknown:
        raise ValueError(f"info['kinds'] has keys {unknown} that are not modalities; expected "
                         f"keys among {modalities}.")
    for m, kind in kinds.items():
        check_kind(f"info['kinds'][{m!r}]", kind)


def _check_task_modalities(defaults: Any, tasks: list[str], modalities: list[str]) -> None:
    """Raise unless ``info["task_modalities"]`` maps task names to non-empty sequences of
    modality names."""
    if not isinstance(defaults, Mapping):
        raise TypeError(f"info['task_modalities'] must be a dict task -> modality names, got "
                        f"{type(defaults).__name__}.")
    for task, mods in defaults.items():
        check_choice("info['task_modalities'] key", task, tasks)
        if isinstance(mods, str) or not isinstance(mods, Sequence) or not mods:
            raise ValueError(f"info['task_modalities'][{task!r}] must be a non-empty list of "
                             f"modality names, got {mods!r}.")
        for m in mods:
            check_choice(f"info['task_modalities'][{task!r}]", m, modalities)
