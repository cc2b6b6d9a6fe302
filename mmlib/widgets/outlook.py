"""Widgets of notebook 12 (outlook): zero-shot classification with text prompts.

A contrastive dual encoder (CLIP, Radford et al., 2021) classifies an image without a single
labelled example: every class is described by a text *prompt*, the prompt is embedded by the text
tower, and the image goes to the class whose prompt embedding is most similar (cosine). Which
prompt wording works best is an empirical question; the widget compares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ZERO_SHOT_TASK_KEYS = ("labels", "class_names", "prompts")
"""Keys of one task of :func:`zero_shot_explorer`: integer ``labels`` ``(n,)``, the
``class_names`` and ``prompts``, a mapping template -> class embeddings ``(classes, d)``."""


def _matrix(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 2-D array of numbers, got "
                        f"{type(value).__name__}.") from None
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows = items, columns = "
                         f"embedding dimensions), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers, got NaN or inf.")
    return arr


def _unit(arr: np.ndarray) -> np.ndarray:
    return arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)


def zero_shot_predict(image_embeddings: Any, class_embeddings: Any) -> np.ndarray:
    """Zero-shot class of each image: the class whose prompt embedding is most cosine-similar.

    ``predict_i = argmax_c cos(z_i, t_c)``, with ``z_i`` the image embedding and ``t_c`` the
    text embedding of the prompt of class ``c`` (both L2-normalised here; ties go to the lower
    class index, as ``np.argmax``).

    Args:
        image_embeddings: ``(n, d)`` image embeddings.
        class_embeddings: ``(classes, d)`` text embeddings, one row per class (e.g. the mean of
            several prompts' embeddings: prompt ensembling).

    Returns:
        ``(n,)`` int array of class indices.
    """
    z = _matrix("image_embeddings", image_embeddings)
    t = _matrix("class_embeddings", class_embeddings)
    if z.shape[1] != t.shape[1]:
        raise ValueError(f"image_embeddings and class_embeddings must have the same embedding "
                         f"dimension, got {z.shape[1]} and {t.shape[1]}.")
    return np.argmax(_unit(z) @ _unit(t).T, axis=1)


def _labels(labels: Any, n: int, n_classes: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be {n} integer class indices (one per image), got "
                         f"shape {arr.shape} and dtype {arr.dtype}.")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}] (one per class embedding), "
                         f"got values from {arr.min()} to {arr.max()}.")
    return arr


def zero_shot_accuracy(image_embeddings: Any, class_embeddings: Any, labels: Any) -> float:
    """Fraction of images whose :func:`zero_shot_predict` class equals ``labels`` ``(n,)``."""
    pred = zero_shot_predict(image_embeddings, class_embeddings)
    return float(np.mean(pred == _labels(labels, len(pred), len(np.asarray(class_embeddings)))))


def _check_tasks(image_embeddings: Any, tasks: Any) -> tuple[np.ndarray, dict[str, dict]]:
    z = _matrix("image_embeddings", image_embeddings)
    if not isinstance(tasks, Mapping) or not tasks:
        raise TypeError(f"tasks must be a non-empty mapping task name -> dict with keys "
                        f"{list(ZERO_SHOT_TASK_KEYS)}, got {type(tasks).__name__}.")
    out = {}
    for name, task in tasks.items():
        if not isinstance(task, Mapping) or set(task) != set(ZERO_SHOT_TASK_KEYS):
            got = sorted(task) if isinstance(task, Mapping) else type(task).__name__
            raise ValueError(f"tasks[{name!r}] must have exactly the keys "
                             f"{list(ZERO_SHOT_TASK_KEYS)}, got {got}.")
        names = [str(c) for c in task["class_names"]]
        prompts = task["prompts"]
        if not isinstance(prompts, Mapping) or not prompts:
            raise ValueError(f"tasks[{name!r}]['prompts'] must be a non-empty mapping "
                             f"template -> class embeddings, got {type(prompts).__name__}.")
        for template, emb in prompts.items():
            emb = _matrix(f"tasks[{name!r}]['prompts'][{template!r}]", emb)
            if emb.shape != (len(names), z.shape[1]):
                raise ValueError(f"tasks[{name!r}]['prompts'][{template!r}] must have shape "
                                 f"({len(names)}, {z.shape[1]}) (classes, embedding dimension), "
                                 f"got {emb.shape}.")
        out[str(name)] = {"labels": _labels(task["labels"], len(z), len(names)),
                          "class_names": names, "prompts": dict(prompts)}
    return z, out


def zero_shot_table(image_embeddings: Any, tasks: Mapping[str, Mapping[str, Any]]) -> Any:
    """Zero-shot accuracy of every task and prompt template, with each task's majority share.

    Args:
        image_embeddings: ``(n, d)`` image embeddings, shared by all tasks.
        tasks: task name -> ``{"labels": (n,) ints, "class_names": [...], "prompts": {template:
            (classes, d) text embeddings}}`` (see :data:`ZERO_SHOT_TASK_KEYS`).

    Returns:
        ``pandas.DataFrame`` with columns ``task``, ``template``, ``accuracy``, ``majority`` (the
        share of the commonest class: the best a classifier that ignores the image can do).
    """
    import pandas as pd

    z, tasks = _check_tasks(image_embeddings, tasks)
    rows = []
    for name, task in tasks.items():
        majority = float(np.bincount(task["labels"]).max() / len(task["labels"]))
        for template, emb in task["prompts"].items():
            rows.append({"task": name, "template": str(template), "majority": majority,
                         "accuracy": zero_shot_accuracy(z, emb, task["labels"])})
    return pd.DataFrame(rows, columns=["task", "template", "accuracy", "majority"])


def zero_shot_figure(image_embeddings: Any, tasks: Mapping[str, Mapping[str, Any]], task: str,
                     template: str) -> Figure:
    """The confusion matrix of one task's zero-shot predictions with one prompt template, and
    the accuracy of every template of that task.

    Left: rows = true class, columns = zero-shot class, each row normalised to fractions (the
    diagonal is the per-class recall). Right: one bar per template (the chosen one dark), a
    dashed line at the majority share.

    Args:
        image_embeddings, tasks: as in :func:`zero_shot_table`.
        task: a key of ``tasks``.
        template: a key of ``tasks[task]["prompts"]``.
    """
    import matplotlib.pyplot as plt

    z, tasks = _check_tasks(image_embeddings, tasks)
    if task not in tasks:
        raise ValueError(f"task must be one of {list(tasks)}, got {task!r}.")
    spec = tasks[task]
    if template not in spec["prompts"]:
        raise ValueError(f"template must be one of {list(spec['prompts'])} for task {task!r}, "
                         f"got {template!r}.")
    labels, names = spec["labels"], spec["class_names"]
    pred = zero_shot_predict(z, spec["prompts"][template])
    k = len(names)
    counts = np.zeros((k, k))
    np.add.at(counts, (labels, pred), 1)
    frac = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    table = zero_shot_table(z, {task: spec})
    fig, (ax_c, ax_b) = plt.subplots(1, 2, figsize=(10, 3.8),
                                     gridspec_kw={"width_ratios": [1, 1.3]})
    ax_c.imshow(frac, vmin=0, vmax=1, cmap="Blues")
    for i, j in np.ndindex(k, k):
        ax_c.text(j, i, f"{frac[i, j]:.2f}", ha="center", va="center", fontsize="small",
                  color="white" if frac[i, j] > 0.6 else "black")
    ax_c.set_xticks(range(k), names, rotation=30 if k > 3 else 0)
    ax_c.set_yticks(range(k), names)
    ax_c.set(xlabel="zero-shot class", ylabel="true class")
    ax_c.grid(False)
    acc = float(np.mean(pred == labels))
    ax_c.set_title(f"{task}: accuracy {acc:.2f} (majority {table['majority'].iloc[0]:.2f})")
    y = np.arange(len(table))
    colours = ["#0173b2" if t == template else "#a6cbe3" for t in table["template"]]
    ax_b.barh(y, table["accuracy"], color=colours, height=0.6)
    ax_b.axvline(table["majority"].iloc[0], color="black", linestyle="--", linewidth=1)
    ax_b.set_yticks(y, [t.replace("{}", "<class>") for t in table["template"]])
    ax_b.invert_yaxis()
    ax_b.set(xlim=(0, 1), xlabel="zero-shot test accuracy (fraction)",
             title="Each prompt template (dashed line: majority class share)")
    fig.tight_layout()
    return fig


def zero_shot_explorer(image_embeddings: Any,
                       tasks: Mapping[str, Mapping[str, Any]]) -> WithStaticView:
    """A menu of (task, prompt template) pairs over :func:`zero_shot_figure`. Everything is
    computed from the embeddings given (no model runs while choosing), so the widget is
    instant; the static view shows the first task's first template."""
    import ipywidgets as w

    _, checked = _check_tasks(image_embeddings, tasks)
    options = [(f"{name} · {t.replace('{}', '<class>')}", (name, t))
               for name, spec in checked.items() for t in spec["prompts"]]
    menu = w.Dropdown(options=options, value=options[0][1], description="Prompt",
                      layout=w.Layout(width="460px"))

    def draw(choice: tuple[str, str]) -> Figure:
        return zero_shot_figure(image_embeddings, tasks, *choice)

    return interactive_figure({"choice": menu}, draw,
                              "Zero-shot classification: pick a task and a prompt template")

