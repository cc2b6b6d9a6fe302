"""Widgets of notebook 04 (alignment): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


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
