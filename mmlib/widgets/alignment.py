"""Widgets of notebook 04 (alignment): caption retrieval and the attention map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


if TYPE_CHECKING:
    from collections.abc import Sequence

RETRIEVAL_TOP_K = 5
"""How many retrieved images the caption explorer shows."""


def _similarity_matrix(similarity: Any, n: int) -> Any:
    """``similarity`` as a finite float ``(n, n)`` array (images × captions), or a ValueError."""
    import numpy as np

    from mmlib._validate import check_numeric_array

    sim = check_numeric_array("similarity", similarity)
    if sim.shape != (n, n):
        raise ValueError(f"similarity must be (n_images, n_captions) = ({n}, {n}) with image i "
                         f"matching caption i, got shape {sim.shape}.")
    if not np.all(np.isfinite(sim)):
        raise ValueError("similarity must contain only finite values.")
    return sim


def top_k_matches(similarity: Any, query: int, k: int = RETRIEVAL_TOP_K) -> Any:
    """The ``k`` images ranked highest for caption ``query`` (caption → image retrieval).

    ``similarity[i, j]`` scores image ``i`` against caption ``j`` (higher = more similar; the
    layout of ``DualEncoder.similarity(images, captions)`` and of
    :func:`mmlib.align.retrieval_metrics`), so the ranking is column ``query`` sorted in
    decreasing order; ties keep the lower image index first.

    Args:
        similarity: ``(n_images, n_captions)`` numbers.
        query: index of the caption (column).
        k: how many images, ``1 <= k <= n_images``.

    Returns:
        int array ``(k,)`` of image indices, best first.
    """
    import numpy as np

    from mmlib._validate import check_int, check_numeric_array

    sim = check_numeric_array("similarity", similarity)
    if sim.ndim != 2 or min(sim.shape) < 1:
        raise ValueError(f"similarity must be a 2-D (n_images, n_captions) matrix, got shape "
                         f"{sim.shape}.")
    query = check_int("query", query, minimum=0, maximum=sim.shape[1] - 1)
    k = check_int("k", k, minimum=1, maximum=sim.shape[0])
    return np.argsort(-sim[:, query], kind="stable")[:k]


def attention_word_maps(tokens: Any, attention: Any, vocab: Sequence[str],
                        words: Sequence[str]) -> list[tuple[str, Any]]:
    """The attention of chosen caption words over a square grid of image regions.

    Args:
        tokens: ``(T,)`` token ids of one caption (0 = padding).
        attention: ``(T, G)`` attention weights of each token over ``G = g * g`` image regions
            (row-major: region ``r`` is grid row ``r // g``, column ``r % g``), e.g. one head
            of :class:`mmlib.align.CrossModalAttention`'s weights.
        vocab: the vocabulary (``vocab[id]`` is the word).
        words: the words to show (e.g. the shape names).

    Returns:
        ``[(label, map), ...]`` in caption order, one per token whose word is in ``words``;
        ``label`` is e.g. ``"circle (word 4)"``, ``map`` a ``(g, g)`` float array.
    """
    import numpy as np

    from mmlib._validate import check_numeric_array

    ids = check_numeric_array("tokens", tokens)
    att = check_numeric_array("attention", attention)
    if ids.ndim != 1 or att.ndim != 2 or att.shape[0] != ids.size:
        raise ValueError(f"tokens must be (T,) and attention (T, G) for the same T, got shapes "
                         f"{ids.shape} and {att.shape}.")
    g = int(round(np.sqrt(att.shape[1])))
    if g * g != att.shape[1]:
        raise ValueError(f"attention must cover a square grid of regions (G = g * g), got "
                         f"G = {att.shape[1]}.")
    if isinstance(words, str) or not all(isinstance(x, str) for x in words):
        raise TypeError(f"words must be a sequence of strings, got {words!r}.")
    vocab = list(vocab)
    if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
        raise ValueError(f"tokens must be ids in [0, {len(vocab) - 1}] (the vocabulary), got "
                         f"values from {int(ids.min())} to {int(ids.max())}.")
    chosen = set(words)
    return [(f"{vocab[int(i)]} (word {t + 1})", att[t].reshape(g, g))
            for t, i in enumerate(ids) if vocab[int(i)] in chosen]


def caption_query_figure(images: Any, captions: Sequence[str], similarity: Any, query: int, *,
                         k: int = RETRIEVAL_TOP_K,
                         word_maps: Sequence[tuple[str, Any]] | None = None,
                         marks: Sequence[tuple[float, float]] | None = None,
                         method: str | None = None) -> Figure:
    """Caption → image retrieval for one caption, and where its words look in its own image.

    Top row: the ``k`` images ranked highest for caption ``query`` (:func:`top_k_matches`),
    each titled with its rank and similarity; the caption's own image (image ``query``) has a
    green frame. Bottom row (with ``word_maps``): the caption's own image with the attention
    map of each word over the grid of regions laid on top (:func:`attention_word_maps`), and
    ``marks`` (``(x, y)`` pixel positions, one per map, e.g. the centre of the object the word
    names) drawn as white crosses.

    Args:
        images: ``(n, H, W, 3)`` or ``(n, H, W)`` images in [0, 1].
        captions: the ``n`` caption strings (caption ``i`` belongs to image ``i``).
        similarity: ``(n, n)`` image × caption scores.
        query: index of the caption.
        k: number of retrieved images shown (1-8).
        word_maps: ``[(label, (g, g) map), ...]`` for the caption (at most 4 are drawn).
        marks: one ``(x, y)`` per word map, or ``None``.
        method: name of the model that produced ``similarity`` (for the title).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from mmlib._validate import check_int, check_numeric_array

    imgs = check_numeric_array("images", images)
    if imgs.ndim not in (3, 4):
        raise ValueError(f"images must be (n, H, W) or (n, H, W, 3), got shape {imgs.shape}.")
    n = imgs.shape[0]
    if isinstance(captions, str) or len(captions) != n:
        raise ValueError(f"captions must be a sequence of {n} strings (one per image), got "
                         f"{type(captions).__name__} of length {len(captions)}.")
    sim = _similarity_matrix(similarity, n)
    k = check_int("k", k, minimum=1, maximum=min(8, n))
    maps = list(word_maps or [])[:4]
    if marks is not None and len(marks) < len(maps):
        raise ValueError(f"marks must give one (x, y) per word map ({len(maps)}), got "
                         f"{len(marks)}.")
    best = top_k_matches(sim, query, k)
    cols = max(k, len(maps) + 1)
    rows = 2 if maps else 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.75 * cols, 2.2 * rows + 0.5),
                             layout="constrained", squeeze=False)
    height, width = imgs.shape[1:3]
    for ax in axes.flat:
        ax.axis("off")
    for rank, (ax, i) in enumerate(zip(axes[0], best, strict=False), start=1):
        ax.imshow(imgs[i], cmap="gray" if imgs.ndim == 3 else None, vmin=0, vmax=1)
        own = int(i) == int(query)
        ax.set_title(f"#{rank}  sim {sim[i, query]:.2f}" + ("\nits own image" if own else ""),
                     fontsize=9, color="tab:green" if own else "black")
        if own:
            ax.add_patch(plt.Rectangle((-0.5, -0.5), width, height, fill=False,
                                       edgecolor="tab:green", linewidth=4))
    rank_own = int(np.sum(sim[:, query] > sim[query, query])) + 1
    who = f" ({method})" if method else ""
    fig.suptitle(f'Caption: "{captions[query]}"\ntop {k} images{who}; its own image ranks '
                 f"{rank_own} of {n}", fontsize=10)
    if maps:
        ax = axes[1, 0]
        ax.imshow(imgs[query], vmin=0, vmax=1)
        ax.set_title("its own image", fontsize=9)
        im = None
        for j, (label, grid) in enumerate(maps, start=1):
            ax = axes[1, j]
            ax.imshow(imgs[query], vmin=0, vmax=1)
            im = ax.imshow(np.asarray(grid, dtype=float), cmap="magma", vmin=0, vmax=1,
                           alpha=0.6, extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                           interpolation="nearest")
            if marks is not None:
                ax.plot(*marks[j - 1], marker="+", color="white", markersize=14, mew=2.5)
            ax.set_title(f'"{label}"', fontsize=9)
        fig.colorbar(im, ax=list(axes[1]), shrink=0.8, label="attention weight")
    return fig


def caption_explorer(images: Any, captions: Sequence[str], similarities: Mapping[str, Any], *,
                     word_maps: Sequence[Sequence[tuple[str, Any]]] | None = None,
                     marks: Sequence[Sequence[tuple[float, float]]] | None = None,
                     n_queries: int = 30, k: int = RETRIEVAL_TOP_K) -> WithStaticView:
    """Pick a caption (and a model): its top-``k`` retrieved images and its attention maps.

    The figure is :func:`caption_query_figure`. ``similarities`` maps a model name to its
    ``(n, n)`` image × caption similarity; ``word_maps[i]`` / ``marks[i]`` are the word maps
    and marks of caption ``i`` (see :func:`caption_query_figure`), for the first
    ``n_queries`` captions at least.
    """
    import ipywidgets as w

    from mmlib._validate import check_int

    if not isinstance(similarities, Mapping) or not similarities:
        raise TypeError(f"similarities must be a non-empty mapping of model name -> (n, n) "
                        f"similarity, got {type(similarities).__name__}.")
    n = len(captions)
    n_queries = check_int("n_queries", n_queries, minimum=1, maximum=n)
    for name, value in (("word_maps", word_maps), ("marks", marks)):
        if value is not None and len(value) < n_queries:
            raise ValueError(f"{name} must hold one entry per caption for the first "
                             f"n_queries={n_queries} captions, got {len(value)}.")
    options = [(f"{i}: {captions[i]}", i) for i in range(n_queries)]
    layout = w.Layout(width="460px")
    controls = {"query": w.Dropdown(options=options, description="Caption", layout=layout),
                "method": w.Dropdown(options=list(similarities), description="Model",
                                     layout=w.Layout(width="300px"))}

    def draw(query: int, method: str) -> Figure:
        return caption_query_figure(
            images, captions, similarities[method], query, k=k,
            word_maps=None if word_maps is None else word_maps[query],
            marks=None if marks is None else marks[query], method=method)

    return interactive_figure(controls, draw, "Caption → image retrieval and word attention")
