"""Widgets of notebook 01 (multimodal data): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _row_labels(fig) -> list[str]:
    from matplotlib.text import Annotation

    return [t.get_text() for ax in fig.axes for t in ax.texts if isinstance(t, Annotation)]


def test_browse_options_name_the_main_task_its_classes_and_the_modalities():
    task, classes, mods = widgets.browse_options("clinic", n_samples=60)
    assert task == "diagnosis"
    assert classes == ["healthy", "benign_lesion", "malignant_lesion", "inflammation"]
    assert mods == ["scan", "ehr", "note", "genes"]
    browse_data = widgets.data._browse_data
    assert browse_data("clinic", 60) is browse_data("clinic", 60)  # cached


def test_sample_figure_draws_samples_of_the_chosen_class_and_modality():
    fig = widgets.sample_figure("drive", "cyclist", "radar", n=2, n_samples=60)
    labels = _row_labels(fig)
    assert len(labels) == 2 and all("object: cyclist" in lab for lab in labels)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["radar"]
    everything = widgets.sample_figure("watch", "fight", widgets.ALL_MODALITIES, n=1,
                                       n_samples=60)
    titles = {ax.get_title() for ax in everything.axes}
    assert {"video", "audio: waveform", "audio: log-mel"} <= titles
    plt.close("all")


def test_sample_figure_pages_through_the_class_and_wraps_around():
    import numpy as np

    ds = widgets.data._browse_data("clinic", 60)
    healthy = np.flatnonzero(ds.labels["diagnosis"] == 0)
    shown = []
    for page in range(len(healthy) + 1):  # one page past the end wraps to the start
        fig = widgets.sample_figure("clinic", "healthy", "ehr", page, n=1, n_samples=60)
        shown.append(int(_row_labels(fig)[0].split("\n")[0].lstrip("#")))
        plt.close(fig)
    assert shown[:-1] == healthy.tolist() and shown[-1] == healthy[0]


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((3, "a"), {}, TypeError, "dataset must be a dataset name \\(str\\), got int"),
    (("mnist", "a"), {}, ValueError, "dataset must be one of"),
    (("clinic", "flu"), {}, ValueError, "label must be one of .*'healthy'.*got 'flu'"),
    (("clinic", 0), {}, TypeError, "label must be a string, got int"),
    (("clinic", "healthy", "xray"), {}, ValueError, "modality must be one of"),
    (("clinic", "healthy", "ehr", -1), {}, ValueError, "page must be an integer >= 0"),
    (("clinic", "healthy"), {"n": 0}, ValueError, "n must be an integer in \\[1, 8\\]"),
    (("clinic", "healthy"), {"n_samples": 5}, ValueError, "n_samples must be an integer in"),
])
def test_sample_figure_rejects_bad_arguments(args, kwargs, error, message):
    kwargs.setdefault("n_samples", 60)
    with pytest.raises(error, match=message):
        widgets.sample_figure(*args, **kwargs)


def test_browse_samples_menus_follow_the_dataset_and_every_state_draws():
    view = widgets.browse_samples(n_samples=60)
    assert "base64" in view.snapshot_html and "Browse samples" in view.title
    pick_data, pick_class, pick_mod, page = view.widget.children[0].children
    assert pick_data.options[0] == "av_digits" and pick_mod.value == widgets.ALL_MODALITIES
    pick_mod.value = "audio"
    pick_data.value = "drive"  # the redraws in between must not fail
    assert list(pick_class.options) == ["none", "car", "pedestrian", "cyclist"]
    assert list(pick_mod.options) == [widgets.ALL_MODALITIES, "camera", "lidar", "radar"]
    pick_class.value, pick_mod.value, page.value = "car", "lidar", 3
    plt.close("all")
