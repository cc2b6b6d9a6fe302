"""Widgets of notebook 12 (outlook): zero-shot classification, plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _tasks(seed: int = 0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(40, 5))
    size = rng.integers(0, 2, size=40)
    colour = rng.integers(0, 3, size=40)
    return z, {
        "size": {"labels": size, "class_names": ["small", "large"],
                 "prompts": {"a {} shape": rng.normal(size=(2, 5)),
                             "there is a {} one": rng.normal(size=(2, 5))}},
        "colour": {"labels": colour, "class_names": ["red", "green", "blue"],
                   "prompts": {"a {} shape": rng.normal(size=(3, 5))}},
    }


def test_zero_shot_predict_is_the_most_cosine_similar_class_brute_force():
    z, tasks = _tasks()
    t = tasks["colour"]["prompts"]["a {} shape"]
    expected = []
    for row in z:  # one image at a time, cosine by its definition
        cos = [row @ c / (np.linalg.norm(row) * np.linalg.norm(c)) for c in t]
        expected.append(int(np.argmax(cos)))
    assert widgets.zero_shot_predict(z, t).tolist() == expected
    # cosine ignores the norms: scaling the rows changes nothing
    assert widgets.zero_shot_predict(3 * z, 0.1 * t).tolist() == expected
    labels = tasks["colour"]["labels"]
    assert widgets.zero_shot_accuracy(z, t, labels) == pytest.approx(
        np.mean(np.array(expected) == labels))


def test_zero_shot_table_lists_every_template_with_the_majority_share():
    z, tasks = _tasks()
    table = widgets.zero_shot_table(z, tasks)
    assert list(table["task"]) == ["size", "size", "colour"]
    size = tasks["size"]
    for row in table[table["task"] == "size"].itertuples():
        assert row.accuracy == pytest.approx(widgets.zero_shot_accuracy(
            z, size["prompts"][row.template], size["labels"]))
        assert row.majority == pytest.approx(np.bincount(size["labels"]).max() / 40)


def test_zero_shot_functions_reject_bad_arguments():
    z, tasks = _tasks()
    t = tasks["size"]["prompts"]["a {} shape"]
    with pytest.raises(ValueError, match="same embedding dimension, got 5 and 4"):
        widgets.zero_shot_predict(z, t[:, :4])
    with pytest.raises(ValueError, match=r"image_embeddings must be a non-empty 2-D.*\(40,\)"):
        widgets.zero_shot_predict(z[:, 0], t)
    with pytest.raises(TypeError, match="class_embeddings must be a 2-D array of numbers"):
        widgets.zero_shot_predict(z, "a small shape")
    with pytest.raises(ValueError, match="labels must be 40 integer class indices"):
        widgets.zero_shot_accuracy(z, t, np.zeros(39, int))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\].*to 2"):
        widgets.zero_shot_accuracy(z, t, np.full(40, 2))
    with pytest.raises(TypeError, match="tasks must be a non-empty mapping"):
        widgets.zero_shot_table(z, [])
    bad = {"size": {**tasks["size"], "prompts": {"a {}": np.zeros((3, 5))}}}
    with pytest.raises(ValueError, match=r"must have shape \(2, 5\).*got \(3, 5\)"):
        widgets.zero_shot_table(z, bad)
    with pytest.raises(ValueError, match="must have exactly the keys"):
        widgets.zero_shot_table(z, {"size": {"labels": tasks["size"]["labels"]}})
    with pytest.raises(ValueError, match="task must be one of \\['size', 'colour'\\], got 'kind'"):
        widgets.zero_shot_figure(z, tasks, "kind", "a {} shape")
    with pytest.raises(ValueError, match="template must be one of"):
        widgets.zero_shot_figure(z, tasks, "colour", "there is a {} one")


def test_zero_shot_figure_shows_row_normalised_confusion_and_every_template():
    z, tasks = _tasks()
    fig = widgets.zero_shot_figure(z, tasks, "size", "there is a {} one")
    ax_c, ax_b = fig.axes[:2]
    matrix = ax_c.images[0].get_array()
    assert np.allclose(np.asarray(matrix).sum(axis=1), 1.0)
    acc = widgets.zero_shot_accuracy(z, tasks["size"]["prompts"]["there is a {} one"],
                                     tasks["size"]["labels"])
    assert f"accuracy {acc:.2f}" in ax_c.get_title()
    assert [t.get_text() for t in ax_b.get_yticklabels()] == ["a <class> shape",
                                                              "there is a <class> one"]
    assert [p.get_width() for p in ax_b.patches] == pytest.approx(
        widgets.zero_shot_table(z, {"size": tasks["size"]})["accuracy"].tolist())
    plt.close("all")


def test_zero_shot_explorer_snapshots_the_first_choice_and_redraws():
    z, tasks = _tasks()
    view = widgets.zero_shot_explorer(z, tasks)
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    menu = view.widget.children[0].children[0]
    assert menu.value == ("size", "a {} shape")
    assert [label for label, _ in menu.options][-1] == "colour · a <class> shape"
    menu.value = ("colour", "a {} shape")  # redraws without error
    plt.close("all")
