"""Widgets of notebook 03 (feature extraction): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


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
