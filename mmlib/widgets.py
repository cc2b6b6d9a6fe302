"""Interactive widgets (ipywidgets 8) used across the notebooks.

Each widget function returns a :class:`WithStaticView`: the live widget plus a static snapshot of
its first state. A running kernel shows the widget; a notebook opened without a kernel, or not
trusted (every fresh clone), shows the snapshot and "run the cell to interact" instead of the
widget's raw Python repr. The logic behind each widget is a plain function in this module (tested
without a browser), so everything a widget shows can also be computed without it.

Sections: shared machinery; 00 welcome; 01 multimodal data; 02 preprocessing; 03 feature
extraction; 04 alignment (one section per notebook, each with its plain functions and its widget).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mmlib.course import SYLLABUS

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUN_TO_INTERACT = "Static view: run the cell to interact."


# --- shared machinery -----------------------------------------------------------------------

def figure_html(fig: Figure, *, dpi: int = 80, close: bool = True) -> str:
    """A matplotlib figure as an ``<img>`` tag with the PNG inlined (base64); closes the figure."""
    from matplotlib.figure import Figure as _Figure

    if not isinstance(fig, _Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}.")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


class WithStaticView:
    """A live widget and a static HTML snapshot of it, displayed as one output.

    Jupyter picks the richest representation it can render. With a kernel (and a trusted
    notebook) that is the live widget; without one -- a fresh clone is untrusted, a stored widget
    has no kernel behind it, GitHub and nbviewer render no widgets -- it falls back to the
    snapshot (sanitised HTML, safe in untrusted notebooks) instead of the widget's Python repr.

    Args:
        widget: the ipywidgets widget (its ``_repr_mimebundle_`` supplies the live view).
        snapshot_html: HTML of the widget's current state (a table, a figure from
            :func:`figure_html`, ...).
        title: one line naming what the widget shows; also the plain-text fallback.
    """

    def __init__(self, widget: ipywidgets.Widget, snapshot_html: str, title: str) -> None:
        import ipywidgets as w

        if not isinstance(widget, w.Widget):
            raise TypeError(f"widget must be an ipywidgets Widget, got {type(widget).__name__}.")
        for name, value in (("snapshot_html", snapshot_html), ("title", title)):
            if not isinstance(value, str) or not value.strip():
                raise TypeError(f"{name} must be a non-empty string, got {value!r}.")
        self.widget, self.snapshot_html, self.title = widget, snapshot_html, title

    def static_html(self) -> str:
        """The stored view: the title, the snapshot and the note to run the cell."""
        return (f"<div><p><b>{html.escape(self.title)}</b> <i>({RUN_TO_INTERACT})</i></p>"
                f"{self.snapshot_html}</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = f"{self.title} ({RUN_TO_INTERACT})"
        return bundle

    def __repr__(self) -> str:
        return f"WithStaticView({self.title!r})"


def interactive_figure(controls: Mapping[str, ipywidgets.ValueWidget],
                       draw: Callable[..., Figure], title: str) -> WithStaticView:
    """Controls above a figure redrawn by ``draw(**values)`` whenever a control changes.

    ``draw`` is a plain function of the controls' values returning a matplotlib figure (tested
    without widgets); its figure for the initial values is the static snapshot.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not isinstance(controls, Mapping) or not controls:
        raise TypeError(f"controls must be a non-empty mapping of name -> widget, "
                        f"got {controls!r}.")
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}.")
    out = w.Output()

    def values() -> dict[str, Any]:
        return {name: c.value for name, c in controls.items()}

    def redraw(change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            fig = draw(**values())
            display(fig)
            plt.close(fig)

    for c in controls.values():
        c.observe(redraw, names="value")
    snapshot = figure_html(draw(**values()))
    box = w.VBox([w.HBox(list(controls.values())), out])
    return WithStaticView(box, snapshot, title)


# --- 00 welcome ------------------------------------------------------------------------------


def lesson_html(slug: str) -> str:
    """What the lesson ``slug`` teaches, its seed sections and datasets, as HTML."""
    s = next((x for x in SYLLABUS if x.slug == slug), None)
    if s is None:
        raise ValueError(f"slug must be one of {[x.slug for x in SYLLABUS]}, got {slug!r}.")
    status = "ready" if s.available else "coming"
    data = ", ".join(s.datasets) or "none"
    return (f"<b>{html.escape(s.slug)}.ipynb</b> ({status})<br>"
            f"<i>Teaches:</i> {html.escape(s.teaches)}<br>"
            f"<i>Seed article §</i> {s.seed_sections} &nbsp; <i>Datasets:</i> {data}")


def course_map() -> WithStaticView:
    """A drop-down over the syllabus showing what each notebook teaches and which data it uses.

    The static view lists every lesson (what the drop-down would show one at a time).
    """
    import ipywidgets as w

    options = [(f"{s.number} · {s.title}", s.slug) for s in SYLLABUS]
    pick = w.Dropdown(options=options, description="Notebook", layout=w.Layout(width="420px"))
    body = w.HTML()

    def show(change: Any = None) -> None:
        body.value = f'<div style="line-height:1.4">{lesson_html(pick.value)}</div>'

    pick.observe(show, names="value")
    show()
    snapshot = "".join(f'<p style="line-height:1.4">{lesson_html(s.slug)}</p>' for s in SYLLABUS)
    return WithStaticView(w.VBox([pick, body]), snapshot, "Course map: pick a notebook")


# --- 01 multimodal data ----------------------------------------------------------------------

BROWSE_SAMPLES = 240
"""How many samples (seed 0) of each dataset the sample browser loads, once, when first shown."""
ALL_MODALITIES = "all modalities"
"""The browser's modality choice that draws every modality of a sample side by side."""
_BROWSE_CACHE: dict[tuple[str, int], Any] = {}


def _browse_data(dataset: Any, n_samples: Any) -> Any:
    """The first ``n_samples`` samples (seed 0) of ``dataset``, loaded once and cached."""
    from mmlib._validate import check_choice, check_int
    from mmlib.data import DATASETS, load

    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name (str), got {type(dataset).__name__}.")
    check_choice("dataset", dataset, DATASETS)
    n_samples = check_int("n_samples", n_samples, minimum=20, maximum=5000)
    key = (dataset, n_samples)
    if key not in _BROWSE_CACHE:
        _BROWSE_CACHE[key] = load(dataset, n_samples=n_samples, seed=0)
    return _BROWSE_CACHE[key]


def browse_options(dataset: str, n_samples: int = BROWSE_SAMPLES
                   ) -> tuple[str, list[str], list[str]]:
    """What the sample browser offers for ``dataset``: its main task (the first task, e.g.
    ``"digit"``), that task's class names and the dataset's modality names.

    Args:
        dataset: one of ``mmlib.data.DATASETS``.
        n_samples: how many samples to load (20-5000; loaded once and cached).
    """
    ds = _browse_data(dataset, n_samples)
    task = next(iter(ds.labels))
    return task, ds.class_names(task), list(ds.modalities)


def sample_figure(dataset: str, label: str, modality: str = ALL_MODALITIES, page: int = 0, *,
                  n: int = 3, n_samples: int = BROWSE_SAMPLES) -> Figure:
    """``n`` samples of one class of a dataset, drawn by :func:`mmlib.viz.plot_samples`.

    The plain function behind :func:`browse_samples`. The class is one of the dataset's main
    task (its first task: ``digit``, ``answer``, ``diagnosis``, ``object`` or ``event``);
    ``page`` steps through that class's samples ``n`` at a time (wrapping around).

    Args:
        dataset: one of ``mmlib.data.DATASETS``.
        label: a class name of the main task, e.g. ``"seven"`` or ``"glass_break"``.
        modality: one modality name, or :data:`ALL_MODALITIES` for every modality side by side.
        page: which group of ``n`` samples of the class (>= 0).
        n: samples per figure (1-8).
        n_samples: how many samples of the dataset to browse (20-5000; seed 0, cached).

    Returns:
        The matplotlib ``Figure`` (rows = samples, columns = the modality's panels).
    """
    import numpy as np

    from mmlib import viz
    from mmlib._validate import check_choice, check_int

    task, classes, mods = browse_options(dataset, n_samples)
    for name, value in (("label", label), ("modality", modality)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}.")
    check_choice("label", label, classes)
    check_choice("modality", modality, [ALL_MODALITIES, *mods])
    page = check_int("page", page, minimum=0)
    n = check_int("n", n, minimum=1, maximum=8)
    ds = _browse_data(dataset, n_samples)
    members = np.flatnonzero(ds.labels[task] == classes.index(label))
    if members.size == 0:
        raise ValueError(f"label {label!r} has no sample among the first {n_samples} of "
                         f"{dataset!r}; pass a larger n_samples.")
    rows = np.roll(members, -((page * n) % members.size))[:n]
    return viz.plot_samples(ds, indices=rows,
                            modalities=None if modality == ALL_MODALITIES else [modality])


def browse_samples(n_samples: int = BROWSE_SAMPLES) -> WithStaticView:
    """Browse the five datasets: pick a dataset, a class of its main task, a modality (or all)
    and a page of samples; the figure is :func:`sample_figure`.

    The class and modality menus follow the chosen dataset. Each dataset is loaded (its first
    ``n_samples`` samples, seed 0) the first time it is picked, then cached.
    """
    import ipywidgets as w

    from mmlib.data import DATASETS

    task, classes, mods = browse_options(DATASETS[0], n_samples)
    layout = w.Layout(width="240px")
    pick_data = w.Dropdown(options=list(DATASETS), description="Dataset", layout=layout)
    pick_class = w.Dropdown(options=classes, description="Class", layout=layout)
    pick_mod = w.Dropdown(options=[ALL_MODALITIES, *mods], description="Modality",
                          layout=layout)
    page = w.IntSlider(value=0, min=0, max=9, description="Page", layout=layout)

    def follow(change: Any) -> None:  # observes first: the menus match the dataset before redraw
        _, new_classes, new_mods = browse_options(change["new"], n_samples)
        pick_class.options = new_classes
        pick_mod.options = [ALL_MODALITIES, *new_mods]

    pick_data.observe(follow, names="value")

    def draw(dataset: str, label: str | None, modality: str | None, page: int) -> Figure:
        _, valid_classes, valid_mods = browse_options(dataset, n_samples)
        label = label if label in valid_classes else valid_classes[0]  # menus mid-update
        modality = modality if modality in valid_mods else ALL_MODALITIES
        return sample_figure(dataset, label, modality, page, n_samples=n_samples)

    controls = {"dataset": pick_data, "label": pick_class, "modality": pick_mod, "page": page}
    return interactive_figure(controls, draw, "Browse samples by dataset, class and modality")


# --- 02 preprocessing pipelines --------------------------------------------------------------

LOG_MEL_WINDOWS = (64, 128, 256, 512, 1024)
"""Window lengths (samples) the log-mel explorer offers."""
LOG_MEL_HOPS = (20, 40, 80, 160, 320)
"""Hops (samples) the log-mel explorer offers."""


def log_mel_summary(n_samples: int, sample_rate: float, frame_length: int, frame_step: int,
                    n_mels: int) -> dict[str, float]:
    """What a log-mel spectrogram of ``n_samples`` samples looks like for these parameters.

    The plain function behind :func:`log_mel_explorer`'s title: the output shape
    ``(frames, n_mels)`` with ``frames = 1 + (n_samples - frame_length) // frame_step``, the time
    step and window in ms, the FFT size and its bin spacing ``sample_rate / fft_length`` in Hz,
    and how many mel bands are *empty* (narrower than one FFT bin, so no bin falls in them —
    too many mel bands for a short window).

    Returns:
        dict with ``frames``, ``n_mels``, ``fft_length``, ``window_ms``, ``hop_ms``,
        ``bin_hz`` and ``empty_bands``.
    """
    from mmlib._validate import check_float, check_int
    from mmlib.preprocess import mel_filterbank

    sample_rate = check_float("sample_rate", sample_rate, minimum=0.0, include_min=False)
    frame_length = check_int("frame_length", frame_length, minimum=1)
    frame_step = check_int("frame_step", frame_step, minimum=1)
    n_samples = check_int("n_samples", n_samples, minimum=frame_length)
    fft_length = max(2, 1 << (frame_length - 1).bit_length())  # as LogMelSpectrogram's default
    weights = mel_filterbank(n_mels, fft_length, sample_rate)  # checks n_mels
    return {"frames": 1 + (n_samples - frame_length) // frame_step, "n_mels": int(n_mels),
            "fft_length": fft_length, "window_ms": 1000.0 * frame_length / sample_rate,
            "hop_ms": 1000.0 * frame_step / sample_rate, "bin_hz": sample_rate / fft_length,
            "empty_bands": int((weights.sum(axis=0) == 0).sum())}


def log_mel_figure(wave: Any, sample_rate: float, frame_length: int = 256,
                   frame_step: int = 80, n_mels: int = 32) -> Figure:
    """The waveform and its log-mel spectrogram (power in dB) for one set of parameters.

    The plain function behind :func:`log_mel_explorer`; the spectrogram is
    :func:`mmlib.preprocess.log_mel_spectrogram` (periodic Hann window, HTK mel bands from 0 Hz
    to ``sample_rate / 2``), its title gives the shape and :func:`log_mel_summary`.

    Args:
        wave: one waveform ``(n_samples,)``.
        sample_rate: samples per second.
        frame_length, frame_step: window and hop in samples.
        n_mels: number of mel bands.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from mmlib import viz
    from mmlib.preprocess import hz_to_mel, log_mel_spectrogram, mel_filterbank

    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"wave must be one waveform of shape (n_samples,), got {wave.shape}.")
    s = log_mel_summary(wave.size, sample_rate, frame_length, frame_step, n_mels)
    db = log_mel_spectrogram(wave, sample_rate, frame_length=frame_length,
                             frame_step=frame_step, n_mels=n_mels, log_offset=1e-10)
    db = db * (10.0 / np.log(10.0))
    weights = mel_filterbank(n_mels, s["fft_length"], sample_rate)
    db[:, weights.sum(axis=0) == 0] = np.nan  # empty bands: drawn grey, left out of the colours
    mels = np.linspace(0.0, float(hz_to_mel(sample_rate / 2)), n_mels + 2)[1:-1]
    band_hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    fig, (ax_w, ax_s) = plt.subplots(2, 1, figsize=(7.5, 4.6), height_ratios=(1, 2.4),
                                     sharex=True, layout="constrained")
    viz.draw_waveform(ax_w, wave, sample_rate, xlabel=False)
    lo, hi = np.nanpercentile(db, (5, 99.5))
    im = viz.draw_spectrogram(ax_s, db, duration=1.0, vmin=float(lo), vmax=float(hi),
                              band_hz=band_hz)
    im.set_cmap(im.get_cmap().with_extremes(bad="#c8c8c8"))
    # frame k covers samples [k·hop, k·hop + window): its column is centred on the window
    centre, hop = frame_length / 2 / sample_rate, frame_step / sample_rate
    im.set_extent((centre - hop / 2, centre + (s["frames"] - 0.5) * hop, 0, n_mels))
    ax_s.set_xlim(0, wave.size / sample_rate)
    fig.colorbar(im, ax=ax_s, label="power (dB)")
    empty = f", {s['empty_bands']} empty bands (grey)" if s["empty_bands"] else ""
    ax_w.set_title(f"log-mel shape ({s['frames']}, {n_mels}) = frames × mel bands\n"
                   f"window {frame_length} ({s['window_ms']:.0f} ms), hop {frame_step} "
                   f"({s['hop_ms']:.1f} ms), FFT bins every {s['bin_hz']:.0f} Hz{empty}")
    return fig


def log_mel_explorer(wave: Any, sample_rate: float) -> WithStaticView:
    """Sliders for the window, the hop and the number of mel bands over one waveform; the
    figure is :func:`log_mel_figure` (the spectrogram, its shape and resolution)."""
    import ipywidgets as w

    style = {"description_width": "110px"}
    layout = w.Layout(width="330px")
    controls = {
        "frame_length": w.SelectionSlider(options=list(LOG_MEL_WINDOWS), value=256,
                                          description="window (samples)", style=style,
                                          layout=layout, continuous_update=False),
        "frame_step": w.SelectionSlider(options=list(LOG_MEL_HOPS), value=80,
                                        description="hop (samples)", style=style,
                                        layout=layout, continuous_update=False),
        "n_mels": w.IntSlider(value=32, min=8, max=96, step=8, description="mel bands",
                              style=style, layout=layout, continuous_update=False),
    }

    def draw(frame_length: int, frame_step: int, n_mels: int) -> Figure:
        return log_mel_figure(wave, sample_rate, frame_length, frame_step, n_mels)

    return interactive_figure(controls, draw, "Log-mel spectrogram: window, hop and mel bands")


# --- 03 feature extraction -------------------------------------------------------------------


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


# --- 04 alignment ----------------------------------------------------------------------------

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


