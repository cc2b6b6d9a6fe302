"""mmlib — the helper library of the course *Deep Learning for Multimodal Fusion*.

Importing :mod:`mmlib` (or any of its modules) changes no process-wide setting: a practitioner who
only wants ``mmlib.fusion`` in a training script keeps TensorFlow exactly as configured.
Notebooks call :func:`setup_notebook` first, before anything imports TensorFlow; it keeps
TensorFlow's C++ log lines and the oneDNN banner out of the outputs, seeds everything and turns on
deterministic ops (called too late, it warns that the log settings could not apply). Submodules are
imported lazily (``mmlib.fusion`` imports TensorFlow, ``mmlib`` alone does not), so ``import mmlib``
and the ``mmcourse`` command stay fast.

Where things live (a folder per concept with several parts, a file per part)::

    data/        the five course datasets: container.py (MultimodalDataset), shipped.py
                 (checksummed files in datasets/), text.py, one file per dataset
    preprocess/  signal.py (NumPy log-mel, mel filters, resizing), audio.py (LogMelSpectrogram
                 layer), image.py, text.py, tabular.py, augment.py (paired augmentation),
                 pipeline.py (multimodal tf.data pipelines, throughput)
    encoders.py  one encoder per modality kind (CNN, text CNN/RNN/Transformer, PointNet, ...)
    align.py     CCA, Deep CCA, CLIP / SigLIP, dual encoders, cross-modal attention, DTW,
                 audio-video offset estimation
    fusion.py    fusion layers (early, late, tensor, low-rank, gated, FiLM, bilinear, attention)
    train/       modality dropout, OGM-GE, gradient blending, multi-task, the model builder
    robust/      corruptions per modality kind, sweeps and robustness metrics, adversarial (FGSM)
    explain.py   integrated gradients, modality Shapley values, calibration
    deploy/      export, LiteRT (float16 / int8), serving, pruning, drift monitoring,
                 measure.py (latency, what a LiteRT file holds), distribute.py (tf.distribute)
    widgets/     notebook widgets, a file per notebook (welcome, data, ..., outlook) on _base.py
    viz.py, check.py               figures, exercise checks
    env.py, course.py, cli.py      set-up and seeds, the syllabus, the ``mmcourse`` command
    classroom.py, slides.py        student versions of the notebooks, offline slide decks

The contract between the modules (implemented once, in ``mmlib._common``):

* **Modality kinds.** One vocabulary, ``mmlib._common.KINDS``: ``image``, ``audio`` (waveform),
  ``spectrogram``, ``text`` (token ids), ``tabular`` (named columns, NaN = not recorded),
  ``vector``, ``point_cloud``, ``heatmap`` (e.g. a radar map), ``video``. ``ds.kinds[m]`` is what
  ``viz`` draws, what ``robust.corrupt(kind, ...)`` corrupts and what ``deploy.input_spec`` records.
* **Presence mask.** A model that knows which modalities are present takes the input
  ``"modality_mask"`` (``MASK_INPUT``): float32 ``(batch, M)``, 1 = present, one column per
  modality in **sorted name order** (``mask_columns``), the order in which fusion layers read a
  dict of modalities. ``ds.to_tf_dataset(with_masks=True)`` yields it under that name and in that
  order; ``train.build_fusion_model(mask_input=True)`` expects exactly that.
* **Seeds.** Every derived seed comes from ``derive_seed(seed, *keys)`` (NumPy ``SeedSequence``
  with the keys as spawn key); random streams from ``rng(seed, *keys)``.
* **Outputs.** A model's outputs are named by the keys of its dict output (one per task, e.g.
  ``{"digit": logits}``); class predictions are the argmax, or ``p >= 0.5`` for one probability.
* **Errors.** A wrong type raises ``TypeError``, a wrong value ``ValueError``; the message names
  the argument, what was given and what was expected.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "align", "check", "classroom", "cli", "course", "data", "deploy", "encoders", "env",
        "explain", "fusion", "preprocess", "robust", "slides", "train", "viz", "widgets",
    }
)


def setup_notebook(seed: int = 42, *, deterministic: bool = True, mixed_precision: bool = False,
                   quiet: bool = False):
    """Prepare a notebook: seeds, op determinism, plot style, device summary.

    See :func:`mmlib.env.setup_notebook` (this is a thin alias so the call reads
    ``mmlib.setup_notebook(seed=0)``).
    """
    from mmlib.env import setup_notebook as _setup

    return _setup(seed, deterministic=deterministic, mixed_precision=mixed_precision, quiet=quiet)


_CONTRACT = frozenset({"KINDS", "MASK_INPUT", "mask_columns", "derive_seed"})
"""The public names of the contract above (defined in ``mmlib._common``): ``mmlib.MASK_INPUT``,
``mmlib.mask_columns(names)``, ``mmlib.derive_seed(seed, *keys)``, ``mmlib.KINDS``."""


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"mmlib.{name}")
    if name in _CONTRACT:
        return getattr(importlib.import_module("mmlib._common"), name)
    raise AttributeError(f"module 'mmlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES, *_CONTRACT])


__all__ = ["__version__", "setup_notebook", *sorted(_SUBMODULES), *sorted(_CONTRACT)]
