"""Widgets: the plain functions behind them, and the static view a stored widget falls back to.

One section per notebook, in course order, as in ``mmlib/widgets.py``.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402
from mmlib.course import SYLLABUS  # noqa: E402

# --- shared machinery -----------------------------------------------------------------------


def test_static_view_replaces_the_raw_repr_but_keeps_the_live_widget():
    view = widgets.WithStaticView(w.Button(description="go"), "<p>snapshot</p>", "A <title>")
    bundle = view._repr_mimebundle_()
    assert bundle[widgets.WIDGET_VIEW]["model_id"] == view.widget.model_id
    assert "Button(" not in bundle["text/plain"] and "run the cell" in bundle["text/plain"]
    assert "<p>snapshot</p>" in bundle["text/html"]
    assert "A &lt;title&gt;" in bundle["text/html"], "the title is escaped"


def test_static_view_rejects_bad_arguments():
    with pytest.raises(TypeError, match="widget must be an ipywidgets Widget, got str"):
        widgets.WithStaticView("button", "<p/>", "t")
    with pytest.raises(TypeError, match="snapshot_html must be a non-empty string"):
        widgets.WithStaticView(w.Button(), "", "t")


def test_figure_html_inlines_a_png_and_closes_the_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    n_before = len(plt.get_fignums())
    text = widgets.figure_html(fig)
    assert text.startswith('<img src="data:image/png;base64,iVBOR')
    assert len(plt.get_fignums()) == n_before - 1
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        widgets.figure_html(ax)


def test_interactive_figure_snapshots_the_first_state_and_redraws_on_change():
    calls = []

    def draw(k: int):
        calls.append(k)
        fig, ax = plt.subplots()
        ax.set_title(f"k={k}")
        return fig

    slider = w.IntSlider(value=2, min=1, max=5)
    view = widgets.interactive_figure({"k": slider}, draw, "k plot")
    assert calls == [2] and "base64" in view.snapshot_html
    slider.value = 4
    assert calls == [2, 4]
    with pytest.raises(TypeError, match="controls must be a non-empty mapping"):
        widgets.interactive_figure({}, draw, "t")


# --- 00 welcome ------------------------------------------------------------------------------


def test_course_map_static_view_lists_every_lesson():
    view = widgets.course_map()
    html_text = view._repr_mimebundle_()["text/html"]
    assert all(f"{s.slug}.ipynb" in html_text for s in SYLLABUS)
    with pytest.raises(ValueError, match="slug must be one of"):
        widgets.lesson_html("99_nothing")


# --- 01 multimodal data ----------------------------------------------------------------------


def _row_labels(fig) -> list[str]:
    from matplotlib.text import Annotation

    return [t.get_text() for ax in fig.axes for t in ax.texts if isinstance(t, Annotation)]


def test_browse_options_name_the_main_task_its_classes_and_the_modalities():
    task, classes, mods = widgets.browse_options("clinic", n_samples=60)
    assert task == "diagnosis"
    assert classes == ["healthy", "benign_lesion", "malignant_lesion", "inflammation"]
    assert mods == ["scan", "ehr", "note", "genes"]
    assert widgets._browse_data("clinic", 60) is widgets._browse_data("clinic", 60)  # cached


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

    ds = widgets._browse_data("clinic", 60)
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


# --- 02 preprocessing pipelines --------------------------------------------------------------


def test_log_mel_summary_matches_the_layer_and_counts_empty_bands():
    from mmlib import preprocess as P

    s = widgets.log_mel_summary(6400, 8000, frame_length=200, frame_step=80, n_mels=24)
    layer = P.LogMelSpectrogram(8000, frame_length=200, frame_step=80, n_mels=24)
    assert (s["frames"], s["n_mels"]) == (layer.n_frames(6400), 24) == (78, 24)
    assert s["fft_length"] == layer.fft_length == 256
    assert s["window_ms"] == 25.0 and s["hop_ms"] == 10.0 and s["bin_hz"] == 8000 / 256
    assert s["empty_bands"] == 0
    fine = widgets.log_mel_summary(6400, 8000, frame_length=64, frame_step=20, n_mels=96)
    weights = P.mel_filterbank(96, 64, 8000)
    assert fine["empty_bands"] == int((weights.sum(axis=0) == 0).sum()) > 0
    with pytest.raises(ValueError, match="n_samples must be an integer >= 256, got 100"):
        widgets.log_mel_summary(100, 8000, 256, 80, 32)
    with pytest.raises(ValueError, match="frame_step must be an integer >= 1, got 0"):
        widgets.log_mel_summary(6400, 8000, 256, 0, 32)
    with pytest.raises(ValueError, match="n_mels must be an integer >= 1, got 0"):
        widgets.log_mel_summary(6400, 8000, 256, 80, 0)


def test_log_mel_figure_shows_the_shape_and_the_explorer_redraws():
    import numpy as np

    wave = np.random.default_rng(0).normal(size=4000).astype("float32")
    fig = widgets.log_mel_figure(wave, 8000, frame_length=128, frame_step=40, n_mels=16)
    title = fig.axes[0].get_title()
    assert "(97, 16)" in title and "16 ms" in title and "empty" not in title
    image = fig.axes[1].images[0]
    assert image.get_array().shape == (16, 97)  # bands x frames
    assert fig.axes[1].get_xlim() == (0.0, 0.5)  # the clip's duration in s
    plt.close(fig)
    fine = widgets.log_mel_figure(wave, 8000, frame_length=64, frame_step=20, n_mels=96)
    assert "empty bands (grey)" in fine.axes[0].get_title()
    assert np.ma.count_masked(fine.axes[1].images[0].get_array()) > 0  # empty bands: NaN
    plt.close(fine)
    with pytest.raises(ValueError, match=r"wave must be one waveform .* got \(2, 4000\)"):
        widgets.log_mel_figure(np.zeros((2, 4000)), 8000)
    view = widgets.log_mel_explorer(wave, 8000)
    assert isinstance(view, widgets.WithStaticView) and "base64" in view.snapshot_html
    controls = view.widget.children[0].children
    assert [c.value for c in controls] == [256, 80, 32]
    controls[2].value = 48  # redraws without error


# --- 03 feature extraction -------------------------------------------------------------------


def _views():
    import numpy as np

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    f = rng.normal(size=(30, 5)) + labels[:, None]
    make = widgets.EmbeddingView.from_features
    return {"image": {"raw": make(f, labels, ["a", "b", "c"], 0.5, 0.4),
                      "CNN": make(2 * f, labels, ["a", "b", "c"], 0.9, 0.8)},
            "text": {"bag of words": make(f[:, :3], labels, ["x", "y", "z"], None, 0.3)}}


def test_pca_2d_matches_scikit_learn_up_to_sign_and_fixes_the_sign():
    import numpy as np
    from sklearn.decomposition import PCA

    x = np.random.default_rng(1).normal(size=(40, 6)) * [5, 3, 2, 1, 1, 1]
    points, explained = widgets.pca_2d(x)
    ref = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(np.abs(points), np.abs(ref.transform(x)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(explained, ref.explained_variance_ratio_, rtol=1e-6)
    flipped, _ = widgets.pca_2d(-x)  # the sign rule makes the picture independent of SVD signs
    np.testing.assert_allclose(flipped, -points, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"features must have shape \(n, d\) with n >= 3"):
        widgets.pca_2d(np.ones(5))
    with pytest.raises(ValueError, match="features must be finite"):
        widgets.pca_2d(np.full((4, 2), np.nan))
    with pytest.raises(TypeError, match="features must hold numbers"):
        widgets.pca_2d([["a", "b"]] * 3)


def test_embedding_view_validates_its_arguments():
    import numpy as np

    pts, labels = np.zeros((4, 2)), np.array([0, 1, 1, 0])
    view = widgets.EmbeddingView(pts, labels, ["a", "b"], None, 0.5)
    assert view.accuracy is None and "2 classes" in repr(view)
    with pytest.raises(ValueError, match=r"points must have shape \(n, 2\), got \(4, 3\)"):
        widgets.EmbeddingView(np.zeros((4, 3)), labels, ["a", "b"], 0.5, 0.5)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        widgets.EmbeddingView(pts, labels[:3], ["a", "b"], 0.5, 0.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        widgets.EmbeddingView(pts, labels + 1, ["a", "b"], 0.5, 0.5)
    with pytest.raises(TypeError, match="class_names must be a sequence of strings"):
        widgets.EmbeddingView(pts, labels, "ab", 0.5, 0.5)
    with pytest.raises(ValueError, match=r"accuracy must be a number in \[0.0, 1.0\], got 1.5"):
        widgets.EmbeddingView(pts, labels, ["a", "b"], 1.5, 0.5)
    with pytest.raises(TypeError, match="knn must be a real number"):
        widgets.EmbeddingView(pts, labels, ["a", "b"], 0.5, "high")


def test_embedding_figure_draws_one_series_per_class_with_the_scores():
    views = _views()
    fig = widgets.embedding_figure(views["image"]["CNN"], "image · CNN")
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_title() == "image · CNN\ntest accuracy 0.90 · 5-NN accuracy 0.80"
    assert "% of variance" in ax.get_xlabel()
    plt.close(fig)
    fig, ax = plt.subplots()
    widgets.embedding_figure(views["text"]["bag of words"], ax=ax, legend=False)
    assert ax.get_legend() is None and ax.get_title() == "5-NN accuracy 0.30"
    plt.close(fig)
    with pytest.raises(TypeError, match="view must be an EmbeddingView"):
        widgets.embedding_figure({"points": []})


def test_embedding_explorer_follows_the_modality_and_redraws():
    views = _views()
    view = widgets.embedding_explorer(views)
    assert "base64" in view.snapshot_html and "pick a modality" in view.title
    pick_mod, pick_enc = view.widget.children[0].children
    assert list(pick_enc.options) == ["raw", "CNN"]
    pick_enc.value = "CNN"
    pick_mod.value = "text"  # the encoder menu follows, the figure is redrawn without error
    assert list(pick_enc.options) == ["bag of words"] and pick_enc.value == "bag of words"
    with pytest.raises(TypeError, match="views must be a non-empty mapping"):
        widgets.embedding_explorer({})
    with pytest.raises(TypeError, match=r"views\['image'\]\['raw'\] must be an EmbeddingView"):
        widgets.embedding_explorer({"image": {"raw": None}})


# --- 04 alignment ----------------------------------------------------------------------------


def _retrieval_toy(n=6):
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n, 12, 12, 3))
    captions = [f"caption {i}" for i in range(n)]
    sim = rng.uniform(-1, 1, (n, n))
    return images, captions, sim


def test_top_k_matches_ranks_one_column_with_stable_ties():
    import numpy as np

    sim = np.array([[0.1, 0.9], [0.5, 0.2], [0.5, 0.3], [0.2, 0.9]])
    assert widgets.top_k_matches(sim, 0, k=3).tolist() == [1, 2, 3]  # tie 0.5: lower index first
    assert widgets.top_k_matches(sim, 1, k=2).tolist() == [0, 3]
    with pytest.raises(ValueError, match=r"query must be an integer in \[0, 1\], got 2"):
        widgets.top_k_matches(sim, 2)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\], got 5"):
        widgets.top_k_matches(sim, 0, k=5)
    with pytest.raises(TypeError, match="similarity must hold numbers"):
        widgets.top_k_matches([["a"]], 0)


def test_attention_word_maps_picks_the_named_words_and_reshapes_the_grid():
    import numpy as np

    vocab = ["<pad>", "a", "circle", "square", "left", "of"]
    tokens = np.array([1, 2, 4, 5, 1, 3, 0, 0])
    att = np.arange(8 * 9, dtype=float).reshape(8, 9)
    maps = widgets.attention_word_maps(tokens, att, vocab, ["circle", "square"])
    assert [label for label, _ in maps] == ["circle (word 2)", "square (word 6)"]
    np.testing.assert_array_equal(maps[1][1], att[5].reshape(3, 3))
    assert widgets.attention_word_maps(tokens, att, vocab, ["triangle"]) == []
    with pytest.raises(ValueError, match=r"square grid of regions .*G = 8"):
        widgets.attention_word_maps(tokens, att[:, :8], vocab, ["circle"])
    with pytest.raises(ValueError, match=r"same T, got shapes \(8,\) and \(7, 9\)"):
        widgets.attention_word_maps(tokens, att[:7], vocab, ["circle"])
    with pytest.raises(ValueError, match=r"ids in \[0, 5\]"):
        widgets.attention_word_maps(tokens + 3, att, vocab, ["circle"])
    with pytest.raises(TypeError, match="words must be a sequence of strings"):
        widgets.attention_word_maps(tokens, att, vocab, "circle")


def test_caption_query_figure_marks_the_own_image_and_draws_word_maps():
    import numpy as np

    images, captions, sim = _retrieval_toy()
    sim[:, 2] = -1.0
    sim[2, 2], sim[4, 2] = 0.8, 0.9  # caption 2: image 4 first, its own image second
    maps = [("circle (word 2)", np.full((3, 3), 1 / 9)), ("square (word 5)", np.eye(3) / 3)]
    fig = widgets.caption_query_figure(images, captions, sim, 2, k=4, word_maps=maps,
                                       marks=[(3.0, 4.0), (8.0, 8.0)], method="CLIP")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("#1  sim 0.90") and "its own image" in titles[1]
    suptitle = fig._suptitle.get_text()
    assert '"square (word 5)"' in titles and "its own image ranks 2 of 6" in suptitle
    assert "(CLIP)" in suptitle
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    plt.close(fig)
    fig = widgets.caption_query_figure(images, captions, sim, 0, k=3)  # no maps: one row
    assert len([ax for ax in fig.axes if ax.get_images()]) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match=r"similarity must be \(n_images, n_captions\) = \(6, 6\)"):
        widgets.caption_query_figure(images, captions, sim[:5], 0)
    with pytest.raises(ValueError, match="captions must be a sequence of 6 strings"):
        widgets.caption_query_figure(images, captions[:5], sim, 0)
    with pytest.raises(ValueError, match=r"marks must give one \(x, y\) per word map \(2\)"):
        widgets.caption_query_figure(images, captions, sim, 0, word_maps=maps, marks=[(1, 1)])


def test_caption_explorer_static_view_and_model_switch():
    import numpy as np

    images, captions, sim = _retrieval_toy()
    maps = [[("circle (word 2)", np.full((3, 3), 1 / 9))] for _ in range(6)]
    view = widgets.caption_explorer(images, captions, {"CCA": sim, "CLIP": sim.T},
                                    word_maps=maps, n_queries=4, k=3)
    assert isinstance(view, widgets.WithStaticView)
    assert "<img" in view.snapshot_html and "run the cell" in view.static_html()
    query, method = view.widget.children[0].children
    assert len(query.options) == 4 and list(method.options) == ["CCA", "CLIP"]
    method.value = "CLIP"  # redraws without error
    with pytest.raises(TypeError, match="similarities must be a non-empty mapping"):
        widgets.caption_explorer(images, captions, sim)
    with pytest.raises(ValueError, match="word_maps must hold one entry per caption"):
        widgets.caption_explorer(images, captions, {"CCA": sim}, word_maps=maps[:2],
                                 n_queries=4)

