"""Widgets of notebook 10 (autonomous driving): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmlib import data, widgets  # noqa: E402


@pytest.fixture(scope="module")
def scenes():
    return data.load("drive", n_samples=24, seed=0)


def _predictions(ds):
    y = ds.labels["object"].astype(int)
    wrong = (y + 1) % 4
    return {"none": {"camera": wrong, "lidar": y, "radar": wrong, "fused": y},
            "lidar": {"fused": wrong}}


def test_scene_answers_use_the_failure_and_silence_the_failed_sensor(scenes):
    preds = _predictions(scenes)
    y = int(scenes.labels["object"][3])
    assert widgets.scene_answers(preds, "none", 3) == {
        "camera": (y + 1) % 4, "lidar": y, "radar": (y + 1) % 4, "fused": y}
    assert widgets.scene_answers(preds, "lidar", 3) == {
        "camera": (y + 1) % 4, "lidar": None, "radar": (y + 1) % 4, "fused": (y + 1) % 4}


def test_condition_scenes_match_an_independent_selection(scenes):
    cond = scenes.metadata["condition"]
    for c in range(4):
        assert widgets.condition_scenes(cond, c) == [i for i in range(len(cond)) if cond[i] == c]
    with pytest.raises(TypeError, match="condition must be an int index, got str"):
        widgets.condition_scenes(cond, "fog")


def test_driving_scene_figure_marks_the_failed_sensor_and_scores_each_model(scenes):
    preds = _predictions(scenes)
    fig = widgets.driving_scene_figure(scenes, preds, "lidar", 5)
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["camera", "LiDAR bird's-eye view", "radar map"]
    assert any(t.get_text() == "failed" for t in fig.axes[1].texts)
    footer = fig.texts[-1].get_text()
    assert "lidar only: — (no input)" in footer and "camera only:" in footer
    assert footer.count("✓") == 0 and footer.count("✗") == 3  # camera, radar, fused all wrong
    clean = widgets.driving_scene_figure(scenes, preds, "none", 5)
    assert clean.texts[-1].get_text().count("✓") == 2  # lidar and fused right
    assert "no sensor failed" in clean._suptitle.get_text()
    plt.close("all")


def test_driving_scene_figure_rejects_bad_arguments(scenes):
    preds = _predictions(scenes)
    with pytest.raises(ValueError, match="predictions must be a dict failure.*'none'"):
        widgets.driving_scene_figure(scenes, {"lidar": preds["lidar"]}, "none", 0)
    with pytest.raises(ValueError, match="unknown failure keys \\['sonar'\\]"):
        widgets.driving_scene_figure(scenes, {**preds, "sonar": preds["lidar"]}, "none", 0)
    with pytest.raises(ValueError, match="must be 24 integer classes.*shape \\(3,\\)"):
        widgets.driving_scene_figure(scenes, {"none": {"fused": np.zeros(3, int)}}, "none", 0)
    with pytest.raises(ValueError, match="failure must be one of .*got 'gps'"):
        widgets.driving_scene_figure(scenes, preds, "gps", 0)
    with pytest.raises(ValueError, match="no entry for failure 'radar'"):
        widgets.driving_scene_figure(scenes, preds, "radar", 0)
    with pytest.raises(ValueError, match="index must be a scene index in \\[0, 24\\), got 24"):
        widgets.driving_scene_figure(scenes, preds, "none", 24)
    plt.close("all")


def test_driving_scene_explorer_snapshots_and_redraws(scenes):
    view = widgets.driving_scene_explorer(scenes, _predictions(scenes))
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    condition, failure, scene = view.widget.children[0].children
    assert list(failure.options) == ["none", "lidar"] and failure.value == "none"
    failure.value = "lidar"  # redraws without error
    condition.value = 2
    n_fog = int(np.sum(scenes.metadata["condition"] == 2))
    assert scene.max == max(n_fog - 1, 0)
    plt.close("all")
