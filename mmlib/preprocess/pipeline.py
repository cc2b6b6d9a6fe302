"""Input pipelines: :func:`multimodal_pipeline` builds a ``tf.data`` pipeline for paired
modalities (zip → map → cache → shuffle → augment → padded batch → prefetch) and
:func:`measure_throughput` measures how many samples per second any batch iterable delivers,
optionally feeding a simulated training step.

The order of the steps follows the ``tf.data`` performance guide (TensorFlow, "Better
performance with the tf.data API"; Murray et al., 2021, "tf.data: A Machine Learning Data
Processing Framework", VLDB): cache *after* the expensive deterministic map (every later epoch
reads the result), shuffle *after* the cache (a new order every epoch), random augmentation
after the shuffle (new draws every epoch), batch, and prefetch last.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from mmlib._validate import check_float, check_int

__all__ = ["measure_throughput", "multimodal_pipeline"]


def _slices(name: str, value: Any) -> tf.data.Dataset:
    """One modality (array with samples on axis 0, list of strings or a Dataset) as a Dataset of
    samples."""
    if isinstance(value, tf.data.Dataset):
        return value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"inputs[{name!r}] must be an array with the samples on axis 0, a list "
                        f"of strings or a tf.data.Dataset, got {type(value).__name__}.")
    arr = np.asarray(value)
    if arr.ndim == 0 or arr.dtype == object and not all(isinstance(v, str) for v in arr.flat):
        raise TypeError(f"inputs[{name!r}] must hold numbers or strings with the samples on "
                        f"axis 0, got an array of shape {arr.shape} and dtype {arr.dtype}.")
    return tf.data.Dataset.from_tensor_slices(arr.astype(str) if arr.dtype == object else arr)


def multimodal_pipeline(inputs: Mapping[str, Any], labels: Any = None, *,
                        maps: Mapping[str, Callable[[tf.Tensor], tf.Tensor]] | None = None,
                        batch_size: int = 32, parallel: bool = False, cache: bool = False,
                        shuffle: bool = False, seed: int = 0,
                        augment: Callable[..., tuple[Any, Any]] | None = None,
                        prefetch: bool = False,
                        default_optimizations: bool = True) -> tf.data.Dataset:
    """A ``tf.data`` pipeline for paired modalities, one optional step per argument.

    Steps, in this order (each skipped unless asked for):

    1. **zip** one ``Dataset`` per modality (and the labels) into
       ``({modality: sample}, label)`` elements — the pairing is by position, so sample ``i`` of
       every modality stays with label ``i``;
    2. **map** ``maps[m]`` over modality ``m`` of every sample (e.g. waveform → log-mel, string
       → token ids), on ``tf.data.AUTOTUNE`` parallel threads if ``parallel`` (the order of the
       elements is kept);
    3. **cache** the mapped samples in memory: the first epoch computes them, later epochs read
       them;
    4. **shuffle** with a buffer of the whole dataset, seeded by ``seed``, in a new order every
       epoch;
    5. **augment**: ``augment(inputs, label, element_seed)`` for every sample, where
       ``element_seed`` is an int64 tensor ``(2,)`` from ``tf.data.Dataset.random(seed)``
       (new draws every epoch, reproducible run to run), for stateless random ops such as
       :func:`mmlib.preprocess.random_flip_with_text`; it must return ``(inputs, label)``;
    6. **padded batch** of ``batch_size``: variable-length samples (token ids of texts of
       different lengths) are padded with zeros (``""`` for strings) to the longest in the
       batch; fixed-size samples batch as usual;
    7. **prefetch** ``tf.data.AUTOTUNE`` batches on a background thread, so the next batch is
       prepared while the model trains on the current one.

    ``tf.data`` applies some of these by itself (its default optimisations parallelise
    stateless maps, fuse map and batch into one asynchronous step and inject a prefetch); pass
    ``default_optimizations=False`` to switch them off and measure each step on its own.

    Args:
        inputs: modality name → its samples: an array ``(n, ...)``, a list of ``n`` strings or a
            ``tf.data.Dataset`` of ``n`` samples.
        labels: array ``(n,)`` (or a dict task → ``(n,)``), or ``None`` to yield inputs only.
        maps: modality name → function of one sample (a tensor) returning a tensor.
        batch_size: samples per batch (the last batch may be smaller).
        parallel: run the map on parallel threads.
        cache: cache the mapped samples in memory.
        shuffle: shuffle the samples every epoch.
        seed: seed of the shuffle and of the augmentation seeds.
        augment: random augmentation of one sample (see step 5).
        prefetch: prefetch batches.
        default_optimizations: keep ``tf.data``'s default static optimisations.

    Returns:
        ``tf.data.Dataset`` of ``({modality: (batch, ...)}, labels)`` (or of inputs only).
    """
    if not isinstance(inputs, Mapping) or not inputs:
        raise TypeError(f"inputs must be a non-empty mapping modality -> samples, got "
                        f"{type(inputs).__name__}.")
    maps = dict(maps or {})
    unknown = sorted(set(maps) - set(inputs))
    if unknown:
        raise ValueError(f"maps names modalities {unknown} that inputs does not have "
                         f"(inputs: {sorted(inputs)}).")
    for m, fn in maps.items():
        if not callable(fn):
            raise TypeError(f"maps[{m!r}] must be callable, got {type(fn).__name__}.")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable or None, got {type(augment).__name__}.")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    ds = tf.data.Dataset.zip({m: _slices(m, v) for m, v in inputs.items()})
    sizes = {m: len(v) for m, v in inputs.items() if not isinstance(v, tf.data.Dataset)}
    has_labels = labels is not None
    if has_labels:
        if isinstance(labels, Mapping):
            ys = tf.data.Dataset.zip({k: _slices(f"labels[{k!r}]", v) for k, v in labels.items()})
            sizes.update({f"labels[{k!r}]": len(v) for k, v in labels.items()
                          if not isinstance(v, tf.data.Dataset)})
        else:
            ys = _slices("labels", labels)
            if not isinstance(labels, tf.data.Dataset):
                sizes["labels"] = len(labels)
        ds = tf.data.Dataset.zip(ds, ys)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"inputs and labels must hold the same number of samples, got {sizes}.")

    def apply_maps(x: dict[str, Any], *y: Any) -> Any:
        x = {m: maps[m](v) if m in maps else v for m, v in x.items()}
        return (x, *y) if y else x

    parallel_kw = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if parallel \
        else {}
    if maps:
        ds = ds.map(apply_maps, **parallel_kw)
    if cache:
        ds = ds.cache()
    if shuffle:
        n = int(ds.cardinality())
        ds = ds.shuffle(n if n > 0 else 1024, seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(
            2, drop_remainder=True)
        ds = tf.data.Dataset.zip(ds, seeds)
        if has_labels:
            ds = ds.map(lambda el, s: augment(el[0], el[1], s), **parallel_kw)
        else:
            ds = ds.map(lambda el, s: augment(el, None, s)[0], **parallel_kw)
    ds = ds.padded_batch(batch_size)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    if not default_optimizations:
        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = False
        options.experimental_optimization.inject_prefetch = False
        ds = ds.with_options(options)
    return ds


def _n_samples(batch: Any) -> int:
    """Samples in a batch: the leading size of its first leaf."""
    leaves = tf.nest.flatten(batch)
    if not leaves or not hasattr(leaves[0], "shape") or len(leaves[0].shape) == 0:
        raise ValueError("every batch must hold arrays or tensors with the batch on axis 0, got "
                         f"{type(batch).__name__}.")
    return int(leaves[0].shape[0])


def measure_throughput(batches: Iterable[Any] | Callable[[], Iterable[Any]], epochs: int = 2,
                       step_seconds: float = 0.0) -> list[dict[str, float]]:
    """Samples per second that ``batches`` delivers, epoch by epoch.

    Each epoch iterates ``batches`` once (a ``tf.data.Dataset``, a list, or a function returning
    a fresh iterator, e.g. a generator over NumPy arrays). With ``step_seconds > 0`` every batch
    is followed by a simulated training step, ``time.sleep(step_seconds)`` — a step that keeps
    an accelerator busy but not the CPU, as in TensorFlow's ``tf.data`` performance guide —, so
    the measurement shows whether the pipeline prepares the next batch *during* the step
    (prefetching) or only after it.

    Args:
        batches: re-iterable batches, or a zero-argument function returning an iterator.
        epochs: number of passes.
        step_seconds: simulated training time per batch (s).

    Returns:
        One dict per epoch: ``epoch`` (1, 2, ...), ``samples``, ``seconds`` (wall time),
        ``cpu_seconds`` (CPU time of the whole process, all threads: what the epoch cost,
        barely affected by other programs on a busy machine), ``samples_per_s`` (per wall
        second) and ``waiting`` (share of the wall time spent waiting for the next batch, in
        [0, 1]).
    """
    epochs = check_int("epochs", epochs, minimum=1)
    step_seconds = check_float("step_seconds", step_seconds, minimum=0.0)
    if not (callable(batches) or isinstance(batches, Iterable)):
        raise TypeError(f"batches must be iterable (a tf.data.Dataset, a list) or a function "
                        f"returning an iterator, got {type(batches).__name__}.")
    rows = []
    for epoch in range(1, epochs + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        iterator = iter(batches() if callable(batches) else batches)
        n, waiting = 0, 0.0
        while True:
            asked = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                waiting += time.perf_counter() - asked
                break
            waiting += time.perf_counter() - asked
            n += _n_samples(batch)
            if step_seconds:
                time.sleep(step_seconds)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        rows.append({"epoch": epoch, "samples": n, "seconds": seconds, "cpu_seconds": cpu_seconds,
                     "samples_per_s": n / seconds if seconds > 0 else float("inf"),
                     "waiting": min(1.0, waiting / seconds) if seconds > 0 else 0.0})
    return rows
