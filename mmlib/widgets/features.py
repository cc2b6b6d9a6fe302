"""Widgets of notebook 03 (feature extraction): the embedding explorer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


EMBEDDING_MARKERS = "os^DvP*Xph"
"""Marker of each class in embedding scatter plots (with the colour, so classes stay apart in
grey-scale prints and for colour-blind readers)."""


def pca_2d(features: Any) -> tuple[Any, Any]:
    """Project features on their first two principal components (主成分分析, PCA).

    The centred features ``X - mean`` are factorised as ``U S V^T`` (SVD); the projection is
    ``(X - mean) V[:, :2]`` and the explained variance ratio of component ``k`` is
    ``S_k^2 / sum_j S_j^2`` (Pearson, 1901; Hotelling, 1933). Each component's sign is fixed so
    that its largest loading is positive, so the same features always give the same picture.

    Args:
        features: ``(n, d)`` numbers, ``n >= 3``, ``d >= 2``.

    Returns:
        ``(points, explained)``: ``(n, 2)`` float64 coordinates and ``(2,)`` explained variance
        ratios.
    """
    import numpy as np

    from mmlib._validate import check_numeric_array

    x = check_numeric_array("features", features)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2:
        raise ValueError(f"features must have shape (n, d) with n >= 3 and d >= 2, got "
                         f"{x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite (no NaN or inf).")
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    flip = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    components = components * np.where(flip == 0, 1.0, flip)[:, None]
    total = float(np.sum(s**2))
    explained = s[:2] ** 2 / total if total > 0 else np.zeros(2)
    return x @ components.T, explained


class EmbeddingView:
    """One encoder's features of a test set, projected to 2-D and ready to draw.

    Args:
        points: ``(n, 2)`` coordinates (e.g. from :func:`pca_2d`).
        labels: ``(n,)`` integer class ids in ``[0, len(class_names))``.
        class_names: the name of each class.
        accuracy: test accuracy of the classifier trained on this encoder (in [0, 1]), or
            ``None`` when no classifier was trained on these features.
        knn: accuracy of a k-nearest-neighbour classifier in this feature space (in [0, 1]).
        axis_names: the two axis labels, e.g. ``("PC 1 (31 % of variance)", ...)``.
    """

    def __init__(self, points: Any, labels: Any, class_names: Any, accuracy: float | None,
                 knn: float,
                 axis_names: tuple[str, str] = ("component 1", "component 2")) -> None:
        import numpy as np

        from mmlib._validate import check_float, check_numeric_array

        self.points = check_numeric_array("points", points)
        self.labels = check_numeric_array("labels", labels).astype(int)
        if self.points.ndim != 2 or self.points.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2), got {self.points.shape}.")
        if self.labels.shape != (len(self.points),):
            raise ValueError(f"labels must have shape ({len(self.points)},) like points, got "
                             f"{self.labels.shape}.")
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError(f"class_names must be a sequence of strings, got {class_names!r}.")
        self.class_names = list(class_names)
        if self.labels.size and not 0 <= self.labels.min() <= self.labels.max() < len(
                self.class_names):
            raise ValueError(f"labels must lie in [0, {len(self.class_names)}) (one per class "
                             f"name), got values from {self.labels.min()} to "
                             f"{self.labels.max()}.")
        self.accuracy = None if accuracy is None else check_float("accuracy", accuracy,
                                                                  minimum=0.0, maximum=1.0)
        self.knn = check_float("knn", knn, minimum=0.0, maximum=1.0)
        if len(axis_names) != 2 or not all(isinstance(a, str) for a in axis_names):
            raise TypeError(f"axis_names must be two strings, got {axis_names!r}.")
        self.axis_names = tuple(axis_names)
        self.points = np.asarray(self.points, dtype=float)

    @classmethod
    def from_features(cls, features: Any, labels: Any, class_names: Any, accuracy: float | None,
                      knn: float) -> EmbeddingView:
        """The PCA view (:func:`pca_2d`) of ``features`` ``(n, d)``; axes name the share of
        variance each component explains."""
        points, explained = pca_2d(features)
        axes = tuple(f"PC {k + 1} ({100 * e:.0f} % of variance)" for k, e in enumerate(explained))
        return cls(points, labels, class_names, accuracy, knn, axes)

    def __repr__(self) -> str:
        return (f"EmbeddingView({len(self.points)} points, {len(self.class_names)} classes, "
                f"accuracy={self.accuracy}, knn={self.knn:.3f})")


def embedding_figure(view: EmbeddingView, title: str = "", ax: Any = None, *,
                     legend: bool = True) -> Figure:
    """Scatter an :class:`EmbeddingView`, one colour and marker per class, with its accuracies.

    The plain function behind :func:`embedding_explorer` (and the notebook's grid of views).

    Args:
        view: what to draw.
        title: first title line (e.g. ``"image · CNN"``); the second gives the accuracies.
        ax: draw into these axes (default: a new figure).
        legend: add the class legend (right of the axes).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(view, EmbeddingView):
        raise TypeError(f"view must be an EmbeddingView, got {type(view).__name__}.")
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    colours = plt.get_cmap("tab10").colors
    for k, name in enumerate(view.class_names):
        pts = view.points[view.labels == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=20, alpha=0.7, color=colours[k % 10],
                   marker=EMBEDDING_MARKERS[k % len(EMBEDDING_MARKERS)], label=name,
                   linewidths=0)
    ax.set_xlabel(view.axis_names[0])
    ax.set_ylabel(view.axis_names[1])
    scores = f"5-NN accuracy {view.knn:.2f}"
    if view.accuracy is not None:
        scores = f"test accuracy {view.accuracy:.2f} · {scores}"
    ax.set_title(f"{title}\n{scores}" if title else scores)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=1.6,
                  handletextpad=0.3, fontsize="small")
    return ax.figure


def _check_views(views: Any) -> dict[str, dict[str, EmbeddingView]]:
    if not isinstance(views, Mapping) or not views:
        raise TypeError(f"views must be a non-empty mapping modality -> {{encoder -> "
                        f"EmbeddingView}}, got {type(views).__name__}.")
    for modality, per_encoder in views.items():
        if not isinstance(per_encoder, Mapping) or not per_encoder:
            raise TypeError(f"views[{modality!r}] must be a non-empty mapping encoder -> "
                            f"EmbeddingView, got {type(per_encoder).__name__}.")
        for encoder, view in per_encoder.items():
            if not isinstance(view, EmbeddingView):
                raise TypeError(f"views[{modality!r}][{encoder!r}] must be an EmbeddingView, "
                                f"got {type(view).__name__}.")
    return {m: dict(v) for m, v in views.items()}


def embedding_explorer(views: Mapping[str, Mapping[str, EmbeddingView]]) -> WithStaticView:
    """Pick a modality and one of its encoders; see that encoder's test features in 2-D
    (:func:`embedding_figure`), coloured by class, with its test and k-NN accuracy.

    The embeddings are computed beforehand (in the notebook); the widget only picks and draws.

    Args:
        views: modality -> encoder -> :class:`EmbeddingView`, e.g.
            ``{"image": {"raw pixels": ..., "CNN": ...}, "audio": {...}}``.
    """
    import ipywidgets as w

    views = _check_views(views)
    first = next(iter(views))
    layout = w.Layout(width="280px")
    pick_mod = w.Dropdown(options=list(views), value=first, description="Modality",
                          layout=layout)
    pick_enc = w.Dropdown(options=list(views[first]), description="Encoder", layout=layout)

    def follow(change: Any) -> None:  # observes first: the encoders match the modality
        pick_enc.options = list(views[change["new"]])

    pick_mod.observe(follow, names="value")

    def draw(modality: str, encoder: str | None) -> Figure:
        per_encoder = views[modality]
        encoder = encoder if encoder in per_encoder else next(iter(per_encoder))  # mid-update
        return embedding_figure(per_encoder[encoder], f"{modality} · {encoder}")

    controls = {"modality": pick_mod, "encoder": pick_enc}
    return interactive_figure(controls, draw, "Learned feature spaces: pick a modality and an "
                                              "encoder")
