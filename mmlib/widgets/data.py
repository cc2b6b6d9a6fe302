"""Widgets of notebook 01 (multimodal data): the sample browser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


BROWSE_SAMPLES = 240
"""How many samples (seed 0) of each dataset the sample browser loads, once, when first shown."""
ALL_MODALITIES = "all modalities"
"""The browser's modality choice that draws every modality of a sample side by side."""
_BROWSE_CACHE: dict[tuple[str, int], Any] = {}


def _browse_data(dataset: Any, n_samples: Any) -> Any:
    """The first ``n_samples`` samples (seed 0) of ``dataset``, loaded once and cached."""
    from mmlib._validate import check_choice, check_int
    from mmlib.data import DATASETS, load

    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name (str), got {type(dataset).__name__}.")
    check_choice("dataset", dataset, DATASETS)
    n_samples = check_int("n_samples", n_samples, minimum=20, maximum=5000)
    key = (dataset, n_samples)
    if key not in _BROWSE_CACHE:
        _BROWSE_CACHE[key] = load(dataset, n_samples=n_samples, seed=0)
    return _BROWSE_CACHE[key]


def browse_options(dataset: str, n_samples: int = BROWSE_SAMPLES
                   ) -> tuple[str, list[str], list[str]]:
    """What the sample browser offers for ``dataset``: its main task (the first task, e.g.
    ``"digit"``), that task's class names and the dataset's modality names.

    Args:
        dataset: one of ``mmlib.data.DATASETS``.
        n_samples: how many samples to load (20-5000; loaded once and cached).
    """
    ds = _browse_data(dataset, n_samples)
    task = next(iter(ds.labels))
    return task, ds.class_names(task), list(ds.modalities)


def sample_figure(dataset: str, label: str, modality: str = ALL_MODALITIES, page: int = 0, *,
                  n: int = 3, n_samples: int = BROWSE_SAMPLES) -> Figure:
    """``n`` samples of one class of a dataset, drawn by :func:`mmlib.viz.plot_samples`.

    The plain function behind :func:`browse_samples`. The class is one of the dataset's main
    task (its first task: ``digit``, ``answer``, ``diagnosis``, ``object`` or ``event``);
    ``page`` steps through that class's samples ``n`` at a time (wrapping around).

    Args:
        dataset: one of ``mmlib.data.DATASETS``.
        label: a class name of the main task, e.g. ``"seven"`` or ``"glass_break"``.
        modality: one modality name, or :data:`ALL_MODALITIES` for every modality side by side.
        page: which group of ``n`` samples of the class (>= 0).
        n: samples per figure (1-8).
        n_samples: how many samples of the dataset to browse (20-5000; seed 0, cached).

    Returns:
        The matplotlib ``Figure`` (rows = samples, columns = the modality's panels).
    """
    import numpy as np

    from mmlib import viz
    from mmlib._validate import check_choice, check_int

    task, classes, mods = browse_options(dataset, n_samples)
    for name, value in (("label", label), ("modality", modality)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}.")
    check_choice("label", label, classes)
    check_choice("modality", modality, [ALL_MODALITIES, *mods])
    page = check_int("page", page, minimum=0)
    n = check_int("n", n, minimum=1, maximum=8)
    ds = _browse_data(dataset, n_samples)
    members = np.flatnonzero(ds.labels[task] == classes.index(label))
    if members.size == 0:
        raise ValueError(f"label {label!r} has no sample among the first {n_samples} of "
                         f"{dataset!r}; pass a larger n_samples.")
    rows = np.roll(members, -((page * n) % members.size))[:n]
    return viz.plot_samples(ds, indices=rows,
                            modalities=None if modality == ALL_MODALITIES else [modality])


def browse_samples(n_samples: int = BROWSE_SAMPLES) -> WithStaticView:
    """Browse the five datasets: pick a dataset, a class of its main task, a modality (or all)
    and a page of samples; the figure is :func:`sample_figure`.

    The class and modality menus follow the chosen dataset. Each dataset is loaded (its first
    ``n_samples`` samples, seed 0) the first time it is picked, then cached.
    """
    import ipywidgets as w

    from mmlib.data import DATASETS

    task, classes, mods = browse_options(DATASETS[0], n_samples)
    layout = w.Layout(width="240px")
    pick_data = w.Dropdown(options=list(DATASETS), description="Dataset", layout=layout)
    pick_class = w.Dropdown(options=classes, description="Class", layout=layout)
    pick_mod = w.Dropdown(options=[ALL_MODALITIES, *mods], description="Modality",
                          layout=layout)
    page = w.IntSlider(value=0, min=0, max=9, description="Page", layout=layout)

    def follow(change: Any) -> None:  # observes first: the menus match the dataset before redraw
        _, new_classes, new_mods = browse_options(change["new"], n_samples)
        pick_class.options = new_classes
        pick_mod.options = [ALL_MODALITIES, *new_mods]

    pick_data.observe(follow, names="value")

    def draw(dataset: str, label: str | None, modality: str | None, page: int) -> Figure:
        _, valid_classes, valid_mods = browse_options(dataset, n_samples)
        label = label if label in valid_classes else valid_classes[0]  # menus mid-update
        modality = modality if modality in valid_mods else ALL_MODALITIES
        return sample_figure(dataset, label, modality, page, n_samples=n_samples)

    controls = {"dataset": pick_data, "label": pick_class, "modality": pick_mod, "page": page}
    return interactive_figure(controls, draw, "Browse samples by dataset, class and modality")
