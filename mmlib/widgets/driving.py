"""Widgets of notebook 10 (autonomous driving): a scene, a failed sensor, every model's answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DRIVE_SENSORS = ("camera", "lidar", "radar")
"""The sensors of ``drive``, in the column order of its modality mask."""
DRIVE_FAILURES = ("none", *DRIVE_SENSORS)
"""Keys of the predictions behind :func:`driving_scene_explorer`: no failure, or the failed
sensor."""
_SENSOR_TITLES = {"camera": "camera", "lidar": "LiDAR bird's-eye view", "radar": "radar map"}


def _check_predictions(predictions: Any, n: int) -> dict[str, dict[str, Any]]:
    import numpy as np

    if not isinstance(predictions, Mapping) or "none" not in predictions:
        raise ValueError(f"predictions must be a dict failure -> {{model: classes}} with the key "
                         f"'none' (no sensor failed) and optionally {list(DRIVE_SENSORS)}, got "
                         f"{type(predictions).__name__} with keys "
                         f"{list(predictions) if isinstance(predictions, Mapping) else None}.")
    unknown = [k for k in predictions if k not in DRIVE_FAILURES]
    if unknown:
        raise ValueError(f"predictions has unknown failure keys {unknown}; expected keys from "
                         f"{list(DRIVE_FAILURES)}.")
    out: dict[str, dict[str, Any]] = {}
    for failure, models in predictions.items():
        if not isinstance(models, Mapping) or not models:
            raise ValueError(f"predictions[{failure!r}] must be a non-empty dict model -> "
                             f"(n,) predicted classes, got {models!r}.")
        out[failure] = {}
        for name, p in models.items():
            arr = np.asarray(p)
            if arr.shape != (n,) or arr.dtype.kind not in "iu":
                raise ValueError(f"predictions[{failure!r}][{name!r}] must be {n} integer "
                                 f"classes (one per scene), got shape {arr.shape} and dtype "
                                 f"{arr.dtype}.")
            out[failure][str(name)] = arr
    return out


def scene_answers(predictions: Mapping[str, Mapping[str, Any]], failure: str,
                  index: int) -> dict[str, int | None]:
    """Each model's predicted class for scene ``index`` when ``failure`` failed.

    Single-sensor models (named like a sensor) answer from ``predictions["none"]``; the one of
    the failed sensor has no input and answers ``None``. The other models (fused ones) answer
    from ``predictions[failure]``.

    Args:
        predictions: ``failure -> {model: (n,) classes}`` (see :data:`DRIVE_FAILURES`).
        failure: ``"none"`` or the failed sensor.
        index: the scene.

    Returns:
        ``model -> class`` (or ``None``), single-sensor models first.
    """
    if failure not in DRIVE_FAILURES:
        raise ValueError(f"failure must be one of {list(DRIVE_FAILURES)}, got {failure!r}.")
    if failure not in predictions:
        raise ValueError(f"predictions has no entry for failure {failure!r}; it has "
                         f"{list(predictions)}.")
    answers: dict[str, int | None] = {}
    for name, p in predictions["none"].items():
        if name in DRIVE_SENSORS:
            answers[name] = None if name == failure else int(p[index])
    for name, p in predictions[failure].items():
        if name not in DRIVE_SENSORS:
            answers[name] = int(p[index])
    return answers


def condition_scenes(conditions: Any, condition: int) -> list[int]:
    """Indices of the scenes whose ``conditions`` entry is ``condition`` (ascending)."""
    import numpy as np

    cond = np.asarray(conditions)
    if isinstance(condition, bool) or not isinstance(condition, (int, np.integer)):
        raise TypeError(f"condition must be an int index, got {type(condition).__name__}.")
    return [int(i) for i in np.flatnonzero(cond == condition)]


def driving_scene_figure(dataset: Any, predictions: Mapping[str, Mapping[str, Any]],
                         failure: str, index: int) -> Figure:
    """One ``drive`` scene as its three sensors saw it, and each model's answer.

    Panels: the camera image, the LiDAR points from above (:func:`mmlib.viz.draw_points`), the
    radar range-Doppler map; a failed sensor's panel is marked "failed". Below, the true class
    (and distance) and each model's predicted class (:func:`scene_answers`), ticked when right.

    Args:
        dataset: a ``drive`` ``MultimodalDataset`` (the scenes the predictions are for).
        predictions: ``failure -> {model: (n,) classes}``.
        failure: ``"none"`` or the failed sensor.
        index: the scene.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from mmlib import viz

    n = len(dataset)
    preds = _check_predictions(predictions, n)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise ValueError(f"index must be a scene index in [0, {n}), got {index!r}.")
    answers = scene_answers(preds, failure, int(index))
    classes = dataset.info["class_names"]["object"]
    info = dataset.info
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.9), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    for ax, sensor in zip(axes, DRIVE_SENSORS, strict=True):
        x = dataset.modalities[sensor][index]
        if sensor == failure:
            viz.draw_missing(ax)
            ax.texts[-1].set_text("failed")
        elif sensor == "camera":
            viz.draw_image(ax, x)
        elif sensor == "lidar":
            viz.draw_points(ax, x, view="top")
        else:
            viz.draw_heatmap(ax, x, info["heatmap_axes"]["radar"],
                             info["heatmap_extent"]["radar"], colorbar="power (dB)")
        ax.set_title(_SENSOR_TITLES[sensor])
    y = int(dataset.labels["object"][index])
    cond = info["conditions"][int(dataset.metadata["condition"][index])]
    truth = classes[y] + ("" if y == 0 else f" at {float(dataset.labels['distance'][index]):.1f} m")
    failed = "no sensor failed" if failure == "none" else f"{failure} failed"
    fig.suptitle(f"Scene {index} ({cond}, {failed}): truth = {truth}")
    parts = []
    for name, a in answers.items():
        label = f"{name} only" if name in DRIVE_SENSORS else name
        parts.append(f"{label}: " + ("— (no input)" if a is None else
                                     f"{classes[a]} {'✓' if a == y else '✗'}"))
    fig.text(0.5, 0.02, "   |   ".join(parts), ha="center", fontsize="small")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def driving_scene_explorer(dataset: Any, predictions: Mapping[str, Mapping[str, Any]]
                           ) -> WithStaticView:
    """Pick a condition, a failed sensor and a scene; see the sensors and every model's answer.

    The figure is :func:`driving_scene_figure`; nothing is computed while you click: the
    predictions for every failure were computed beforehand. The static view shows the first
    scene of the first condition with no sensor failed.
    """
    import ipywidgets as w

    preds = _check_predictions(predictions, len(dataset))
    names = list(dataset.info["conditions"])
    conds = dataset.metadata["condition"]
    condition = w.Dropdown(options=[(c, i) for i, c in enumerate(names)], value=0,
                           description="Condition")
    failure = w.Dropdown(options=[f for f in DRIVE_FAILURES if f in preds], value="none",
                         description="Failed")
    first = condition_scenes(conds, 0)
    scene = w.IntSlider(value=0, min=0, max=max(len(first) - 1, 0), description="Scene #")

    def on_condition(change: Any) -> None:
        scene.max = max(len(condition_scenes(conds, change["new"])) - 1, 0)

    condition.observe(on_condition, names="value")

    def draw(condition: int, failure: str, scene: int) -> Figure:
        rows = condition_scenes(conds, condition)
        return driving_scene_figure(dataset, preds, failure, rows[min(scene, len(rows) - 1)])

    return interactive_figure({"condition": condition, "failure": failure, "scene": scene}, draw,
                              "A drive scene, a failed sensor and each model's answer")
