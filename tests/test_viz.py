"""Tests of mmlib.viz: which samples plot_samples draws, and whether a learner can read them.

The choice of samples (stratified, seeded by the dataset's name), missing modalities drawn as
missing, z-scores against the present samples only (checked against NumPy), one drawing per kind
of the vocabulary, no grid over pictures, colour bars with units, legible labels, captions that
explain the corruptions, no CJK characters in figures. Figures are drawn in the course style
(seaborn "whitegrid", which puts a grid on every axes unless viz turns it off).
"""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

from mmlib import data, viz
from mmlib._common import KINDS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sns = pytest.importorskip("seaborn")

PANELS = {"audio": ("wave", "spec"), "point_cloud": ("points", "side")}
"""Kinds with two panels (columns); every other kind has one, named like the kind."""
PICTURE_PANELS = ("image", "spectrogram", "spec", "heatmap", "video", "text", "tabular")


@pytest.fixture(autouse=True)
def _course_style():
    """The course's plot style (seaborn whitegrid); figures closed after each test."""
    with plt.rc_context(sns.axes_style("whitegrid")):
        yield
    plt.close("all")


_CACHE: dict[tuple, data.MultimodalDataset] = {}


def load(name: str, n_samples: int = 120, **kwargs) -> data.MultimodalDataset:
    key = (name, n_samples, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = data.load(name, n_samples=n_samples, seed=0, **kwargs)
    return _CACHE[key]


class Duck:
    """What mmlib.viz needs of a dataset, without mmlib.data: one modality per kind of KINDS."""

    def __init__(self, name: str = "duck", n: int = 6, kinds=KINDS, labels=None, missing=True):
        r = np.random.default_rng(0)
        arrays = {
            "image": r.random((n, 8, 8, 3)), "audio": r.standard_normal((n, 800)),
            "spectrogram": r.standard_normal((n, 10, 8)), "text": r.integers(1, 5, (n, 6)),
            "tabular": np.where(r.random((n, 3)) < 0.3, np.nan, r.random((n, 3))),
            "vector": r.standard_normal((n, 6)), "point_cloud": r.standard_normal((n, 30, 3)),
            "heatmap": r.standard_normal((n, 6, 5, 1)), "video": r.random((n, 3, 6, 6, 1))}
        self.name = name
        self.modalities = {f"m_{k}": arrays[k] for k in kinds}
        self.labels = {"y": np.arange(n) % 2 if labels is None else np.asarray(labels)}
        self.masks = {m: (np.arange(n) != j % n) if missing else np.ones(n, bool)
                      for j, m in enumerate(self.modalities)}
        self.metadata = {}
        self.info = {"kinds": {f"m_{k}": k for k in kinds}, "sample_rate": 8000,
                     "class_names": {"y": [f"class {c}" for c in range(int(
                         self.labels["y"].max()) + 1)]},
                     "vocab": list("_abcde"), "feature_names": {"m_tabular": ["a", "b", "c"]}}

    def __len__(self):
        return len(self.labels["y"])


def panel_grid(fig, ds, n_rows: int, modalities=None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The figure's sample axes as ``(rows, columns)`` and each column's (modality, panel)."""
    kinds = ds.kinds if hasattr(ds, "kinds") else ds.info["kinds"]
    columns = [(m, p) for m in (modalities or ds.modalities)
               for p in PANELS.get(kinds[m], (kinds[m],))]
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(axes) == n_rows * len(columns)
    return np.array(axes, dtype=object).reshape(n_rows, len(columns)), columns


def figure_texts(fig) -> list[str]:
    """Every text of the figure, with its line breaks (caption wrapping) made spaces."""
    from matplotlib.text import Text

    return [" ".join(t.get_text().split()) for t in fig.findobj(Text) if t.get_text()]


def caption(fig) -> str:
    return " ".join(fig._supxlabel.get_text().split())


def has_visible_grid(ax) -> bool:
    return any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())


# ------------------------------------------------------------------------------------------
# which samples
# ------------------------------------------------------------------------------------------


def test_choose_samples_covers_every_class_even_rare_ones():
    labels = np.r_[np.zeros(150, int), np.ones(30, int), np.full(12, 2), np.full(5, 3),
                   np.full(3, 4)]  # 5 classes, two of them rare
    ds = Duck(n=len(labels), labels=labels, kinds=("vector",), missing=False)
    for n in (5, 7, 12):
        rows = viz.choose_samples(ds, n)
        assert len(np.unique(rows)) == n
        assert set(labels[rows]) == set(range(5)), (n, labels[rows])
        counts = np.bincount(labels[rows], minlength=5)
        assert counts.max() - counts.min() <= 1  # balanced, not proportional
        assert np.all(np.diff(labels[rows]) >= 0)  # rows ordered by class
    # fewer samples than classes: all different classes
    assert len(set(labels[viz.choose_samples(ds, 3)])) == 3
    np.testing.assert_array_equal(viz.choose_samples(ds, 5), viz.choose_samples(ds, 5))


@pytest.mark.parametrize("name", ["drive", "watch", "clinic", "shapes_captions"])
def test_choose_samples_stratifies_real_datasets(name):
    ds = load(name)
    task = next(iter(ds.info["class_names"]))
    n_classes = len(ds.info["class_names"][task])
    n = min(n_classes, 8)
    rows = viz.choose_samples(ds, n)
    assert len(set(ds.labels[task][rows])) == n  # n distinct classes
    if "condition" in ds.metadata:  # and spread over conditions: drive's 4, watch's 3
        n_cond = len(np.unique(ds.metadata["condition"]))
        assert len(set(ds.metadata["condition"][rows])) == min(n, n_cond)
    if name == "watch":  # normal and events
        assert 0 in ds.labels["event"][rows] and (ds.labels["event"][rows] > 0).any()


def test_choose_samples_differ_between_datasets_and_seeds():
    a, b = Duck("first", n=200, kinds=("vector",)), Duck("second", n=200, kinds=("vector",))
    ra, rb = viz.choose_samples(a, 6), viz.choose_samples(b, 6)
    assert set(ra) != set(rb)  # same labels, different names: different samples
    assert set(ra) != set(viz.choose_samples(a, 6, seed=1))
    np.testing.assert_array_equal(ra, viz.choose_samples(Duck("first", n=200), 6))
    # the old choice took the same indices in every dataset of the same size
    real = {name: set(viz.choose_samples(load(name), 4)) for name in ("clinic", "watch")}
    assert real["clinic"] != real["watch"]


def test_plot_samples_draws_the_chosen_rows_and_checks_its_arguments():
    ds = load("drive")
    fig = viz.plot_samples(ds, 3, seed=2)
    rows = viz.choose_samples(ds, 3, seed=2)
    grid, _ = panel_grid(fig, ds, 3)
    for r, i in enumerate(rows):
        assert f"#{i}\n" in grid[r, 0].texts[-1].get_text()
    assert "stratified by object and condition" in fig.get_suptitle()
    fig = viz.plot_samples(ds, indices=[5, 2], modalities=["radar"])
    grid, _ = panel_grid(fig, ds, 2, ["radar"])
    assert grid[0, 0].texts[-1].get_text().startswith("#5\n")
    with pytest.raises(ValueError, match=r"indices must be non-empty sample indices in \[0, 120\)"):
        viz.plot_samples(ds, indices=[120])
    with pytest.raises(TypeError, match="indices must be integer sample indices, got float64"):
        viz.plot_samples(ds, indices=[1.5])
    with pytest.raises(ValueError, match=r"stretch must be one of \['auto', 'always', 'never'\]"):
        viz.plot_samples(ds, 2, stretch="bright")
    with pytest.raises(ValueError, match="n must be"):
        viz.choose_samples(ds, 0)


# ------------------------------------------------------------------------------------------
# missing modalities and z-scores
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clinic", "watch"])
def test_missing_samples_are_drawn_as_missing_not_as_zeros(name):
    ds = load(name, missing_rate=0.5)
    rows = viz.choose_samples(ds, 6)
    fig = viz.plot_samples(ds, indices=rows)
    grid, columns = panel_grid(fig, ds, len(rows))
    n_missing = 0
    for c, (m, _) in enumerate(columns):
        for r, i in enumerate(rows):
            ax = grid[r, c]
            drawn = len(ax.images) + len(ax.lines) + len(ax.collections) + len(ax.patches)
            if ds.masks[m][i]:
                assert drawn or any(len(t.get_text()) > 10 for t in ax.texts), (m, i)
            else:
                n_missing += 1
                assert drawn == 0, (m, i)  # nothing drawn from the zeros stored in its place
                assert [t.get_text() for t in ax.texts if t.get_text() == "missing"]
                assert ax.patch.get_hatch()
    assert n_missing >= 3
    assert "missing with probability 50%" in caption(fig)


def test_gene_z_scores_use_the_present_samples_only():
    ds = load("clinic", missing_rate=0.5)
    genes, present = ds.modalities["genes"].astype(float), ds.masks["genes"].astype(bool)
    rows = [i for i in viz.choose_samples(ds, 8) if present[i]][:3]
    fig = viz.plot_samples(ds, indices=rows, modalities=["genes"])
    mean, std = genes[present].mean(axis=0), genes[present].std(axis=0)
    for ax, i in zip(fig.axes, rows, strict=False):
        heights = np.array([p.get_height() for p in ax.patches])
        np.testing.assert_allclose(heights, (genes[i] - mean) / std, rtol=1e-5, atol=1e-5)
        # the old scaling (every sample, zeros of the missing ones included) is far off
        old = (genes[i] - genes.mean(axis=0)) / genes.std(axis=0)
        assert np.abs(heights - old).mean() > 0.3
    assert any(f"{present.sum():,} samples where genes is present" in t
               for t in figure_texts(fig))


# ------------------------------------------------------------------------------------------
# every kind, grids, colour bars, units
# ------------------------------------------------------------------------------------------


def test_every_kind_of_the_vocabulary_is_drawn():
    ds = Duck(n=2)  # every modality present in one sample and missing in the other
    fig = viz.plot_samples(ds, 2)
    grid, columns = panel_grid(fig, ds, 2)
    assert [m for m, _ in columns] == [f"m_{k}" for k in KINDS for _ in PANELS.get(k, [k])]
    for c, (m, panel) in enumerate(columns):
        for r in range(2):
            ax = grid[r, c]
            i = int(re.match(r"#(\d+)", grid[r, 0].texts[-1].get_text()).group(1))
            if ds.masks[m][i]:
                drawn = len(ax.images) + len(ax.lines) + len(ax.collections) + len(ax.patches)
                assert drawn or any(len(t.get_text()) > 4 for t in ax.texts), (m, panel)
                if panel in PICTURE_PANELS:
                    assert not has_visible_grid(ax), (m, panel)


def test_draw_functions_alone():
    fig, axes = plt.subplots(3, 4)
    r = np.random.default_rng(1)
    dark = 0.1 * r.random((12, 12))
    assert viz.draw_image(axes[0, 0], dark).startswith("contrast x")
    assert "contrast x" in axes[0, 0].get_xlabel()
    assert viz.draw_image(axes[0, 1], dark, stretch="never") is None
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), dark)
    viz.draw_waveform(axes[0, 2], r.standard_normal(400), 4000)
    assert (axes[0, 2].get_xlabel(), axes[0, 2].get_ylabel()) == ("time (s)", "amplitude")
    im = viz.draw_audio(axes[0, 3], axes[1, 0], r.standard_normal(4000), 4000)
    assert axes[1, 0].get_ylabel() == "frequency (Hz)" and im.get_extent()[1] == 1.0
    viz.draw_text(axes[1, 1], "a b c " * 20, 20)
    viz.draw_table(axes[1, 2], np.array([1.0, np.nan]), ["x", "y"], ["m", "s"])
    assert "n/a" in axes[1, 2].texts[0].get_text()
    with pytest.raises(ValueError, match="one entry per feature"):
        viz.draw_table(axes[1, 2], np.ones(3), ["x", "y"])
    viz.draw_points(axes[1, 3], r.standard_normal((50, 3)), view="side")
    with pytest.raises(ValueError, match="view must be one of"):
        viz.draw_points(axes[1, 3], r.standard_normal((50, 3)), view="front")
    im = viz.draw_heatmap(axes[2, 0], r.random((6, 4)), ("range (m)", "speed (m/s)"),
                          colorbar="power (dB)")
    assert im.colorbar is not None and im.colorbar.ax.get_ylabel() == "power (dB)"
    assert viz.draw_video(axes[2, 1], r.random((8, 6, 6)), fps=8) is None
    assert [t.get_text() for t in axes[2, 1].texts][:2] == ["0.00 s", "0.12 s"]
    viz.draw_vector(axes[2, 2], r.standard_normal(6), {"g": [0, 1]}, ylim=3)
    assert axes[2, 2].get_ylim() == (-3, 3) and axes[2, 2].get_legend() is not None
    viz.draw_missing(axes[2, 3])
    for ax in (axes[0, 0], axes[1, 0], axes[1, 1], axes[1, 2], axes[2, 0], axes[2, 1],
               axes[2, 3]):
        assert not has_visible_grid(ax)


@pytest.mark.parametrize("name", data.DATASETS)
def test_pictures_have_no_grid_colour_bars_have_units_and_axes_have_units(name):
    ds = load(name, missing_rate=0.2)
    fig = viz.plot_samples(ds, 3)
    grid, columns = panel_grid(fig, ds, 3)
    bars = {a.get_ylabel() for a in fig.axes if a.get_label() == "<colorbar>"}
    for c, (m, panel) in enumerate(columns):
        for ax in grid[:, c]:
            if panel in PICTURE_PANELS or not ax.has_data():
                assert not has_visible_grid(ax), (m, panel)
        images = [im for ax in grid[:, c] for im in ax.images]
        if images and panel in ("heatmap", "spec", "spectrogram"):  # one bar, one colour scale
            bar = [im.colorbar for im in images if im.colorbar is not None]
            assert len(bar) == 1, (m, panel)
            assert {im.get_clim() for im in images} == {bar[0].mappable.get_clim()}
        last = grid[-1, c]
        if last.has_data() and panel in ("wave", "spec", "points", "side", "heatmap"):
            assert re.search(r"\((s|m|m/s)\)$", last.get_xlabel()), (m, panel, last.get_xlabel())
        if panel in ("wave", "spec"):
            assert any(a.get_ylabel() == {"wave": "amplitude", "spec": "frequency (Hz)"}[panel]
                       for a in grid[:, c])
    expected = {"av_digits": {"log-mel power (dB)"}, "watch": {"log-mel power (dB)"},
                "drive": {"height (m)", "echo power (dB)"}}.get(name, set())
    assert bars == expected


def test_night_camera_is_stretched_and_says_so():
    ds, cam = load("drive", conditions=("night",)), ["camera"]
    fig = viz.plot_samples(ds, 4, modalities=cam)
    grid, _ = panel_grid(fig, ds, 4, cam)
    notes = [ax.get_xlabel() for ax in grid[:, 0]]
    assert all(n.startswith("contrast x") and "(p1-p99)" in n for n in notes), notes
    for ax in grid[:, 0]:  # the drawn picture spans black to white
        img = np.asarray(ax.images[0].get_array())
        assert img.min() == 0.0 and img.max() == 1.0
    assert "night = " in caption(fig) and "contrast-stretched" in caption(fig)
    fig = viz.plot_samples(load("drive", conditions=("day",)), 4, modalities=cam)
    grid, _ = panel_grid(fig, ds, 4, cam)
    assert not any(ax.get_xlabel() for ax in grid[:, 0])  # a day camera is drawn as is
    fig = viz.plot_samples(ds, 2, stretch="never", modalities=cam)
    grid, _ = panel_grid(fig, ds, 2, cam)
    assert not any(ax.get_xlabel() for ax in grid[:, 0])


@pytest.mark.parametrize(("name", "kwargs", "phrases"), [
    ("av_digits", {}, ["grey square (55% of the image side)", "Gaussian pixel noise (std 0.35)",
                       "-8 dB SNR"]),
    ("shapes_captions", {}, ["Gaussian pixel noise (std 0.03)"]),
    ("clinic", {"missing_rate": 0.5}, ["n/a = value not recorded", "site 1",
                                       "missing with probability 50%"]),
    ("watch", {}, ["dark = room light off", "noisy = loud background noise"]),
])
def test_captions_explain_the_corruptions(name, kwargs, phrases):
    ds = load(name, **kwargs)
    fig = viz.plot_samples(ds, 4 if name == "watch" else 2)  # watch: every condition shown
    for phrase in phrases:
        assert phrase in caption(fig), (phrase, caption(fig))
    texts = figure_texts(fig)
    assert not [t for t in texts if re.search(r"[\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef]", t)]


def test_info_corruptions_override_the_knob_notes():
    ds = Duck(kinds=("image",))
    ds.info["corruptions"] = {"m_image": "blurred by a 3x3 box filter"}
    ds.info["knobs"] = {"image_noise": 0.5}
    text = caption(viz.plot_samples(ds, 2))
    assert "m_image: blurred by a 3x3 box filter" in text and "Gaussian" not in text


def test_a_label_that_means_nothing_for_the_class_is_drawn_as_na():
    ds = load("drive")
    none = np.flatnonzero(ds.labels["object"] == 0)[:1].tolist()
    car = np.flatnonzero(ds.labels["object"] == 1)[:1].tolist()
    text = "\n".join(figure_texts(viz.plot_samples(ds, indices=none + car,
                                                   modalities=["camera"])))
    assert "distance: n/a" in text and "distance: 0 m" not in text
    assert re.search(r"distance: \d+(\.\d+)? m", text), "an object's distance keeps its unit"


def test_titles_and_row_labels_are_legible_and_layout_is_tight():
    from matplotlib.text import Annotation

    ds = load("clinic")
    fig = viz.plot_samples(ds, 2, modalities=["note", "ehr"])
    size = matplotlib.font_manager.FontProperties(
        size=matplotlib.rcParams["axes.labelsize"]).get_size_in_points()
    grid, columns = panel_grid(fig, ds, 2, ["note", "ehr"])
    from matplotlib.text import Text

    for ax in grid[0]:  # the column titles (centred, or left over text cards)
        titles = [t for t in ax.findobj(Text) if t.get_text() in (ax.get_title("center"),
                                                                  ax.get_title("left")) and
                  t.get_text()]
        assert titles and all(t.get_fontsize() >= size for t in titles)
    assert all(ax.texts[-1].get_fontsize() >= size for ax in grid[:, 0])  # row labels
    assert fig._suptitle.get_fontsize() >= size
    fig.canvas.draw()  # text panels: the wrapped text stays inside its frame
    renderer = fig.canvas.get_renderer()
    for c, (_, panel) in enumerate(columns):
        if panel in ("text", "tabular"):
            for ax in grid[:, c]:
                frame = ax.get_window_extent(renderer)
                for t in ax.texts:
                    if isinstance(t, Annotation):
                        continue  # the row label, left of the first panel
                    box = t.get_window_extent(renderer)
                    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 + 1, panel
    watch = load("watch")
    fig = viz.plot_samples(watch, 2, modalities=["video"])
    fig.canvas.draw()  # the film strip fills most of its cell (little white space around it)
    grid, _ = panel_grid(fig, watch, 2, ["video"])
    for ax in grid[:, 0]:
        used, cell = ax.get_position(), ax.get_position(original=True)
        assert used.width * used.height > 0.7 * cell.width * cell.height


# ------------------------------------------------------------------------------------------
# notebook 01: presence masks and audio-video synchronisation
# ------------------------------------------------------------------------------------------


def test_draw_presence_mask_shows_the_mask_with_named_rows_and_a_legend():
    mask = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)  # (n=4, M=3)
    fig, ax = plt.subplots()
    im = viz.draw_presence_mask(ax, mask, ["audio", "image", "text"], first_sample=10)
    assert np.array_equal(im.get_array(), mask.T.astype(float))  # modalities on y, samples on x
    assert [t.get_text() for t in ax.get_yticklabels()] == ["audio", "image", "text"]
    assert ax.get_xlim() == (9.5, 13.5)  # the x axis counts sample indices from first_sample
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["present (1)", "missing (0)"]
    assert not has_visible_grid(ax)


@pytest.mark.parametrize("mask, columns, error, message", [
    (np.ones(4), ["a"], ValueError, r"mask must be .* shape \(n, M\), got shape \(4,\)"),
    (np.full((3, 2), 2), ["a", "b"], ValueError, r"only 0 / 1 .* got values \[2\]"),
    (np.ones((3, 2)), ["a"], ValueError, r"columns must name every column of mask \(2\), got 1"),
])
def test_draw_presence_mask_rejects_bad_arguments(mask, columns, error, message):
    fig, ax = plt.subplots()
    with pytest.raises(error, match=message):
        viz.draw_presence_mask(ax, mask, columns)
    with pytest.raises(TypeError, match="first_sample must be an integer"):
        viz.draw_presence_mask(ax, np.ones((2, 1)), ["a"], first_sample=1.5)


def test_plot_av_sync_draws_both_curves_on_one_time_axis_and_marks_the_peak():
    fps, rate = 8, 256
    video = np.zeros(7)
    video[3] = 1.0  # a change at the frame boundary 0.5 s
    audio = np.zeros(rate)
    audio[int(0.7 * rate)] = 1.0  # heard 0.2 s later
    lags = np.arange(-0.3, 0.3 + 1e-9, 1 / 128)
    scores = np.exp(-((lags - 0.2) / 0.02) ** 2)
    fig = viz.plot_av_sync(video, fps, audio, rate, lags, scores, offset=0.21, title="clip")
    top, moved, corr = fig.axes
    assert top.get_xlabel() == "" and moved.get_xlabel() == "time (s)"
    assert corr.get_xlabel().startswith("lag (s")
    legend = [t.get_text() for t in corr.get_legend().get_texts()]
    assert "estimate +0.200 s" in legend and "true offset +0.210 s" in legend
    # the moved audio's peak sits on the video change
    line = moved.get_lines()[0]
    assert abs(line.get_xdata()[np.argmax(line.get_ydata())] - 0.5) < 0.01
    assert "audio moved by -0.200 s" in moved.get_title("left")
    assert fig._suptitle.get_text() == "clip"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lags": np.zeros(3)}, ValueError, "lags and scores must have the same length, got 3 and 5"),
    ({"fps": 0}, ValueError, "fps must be > 0, got 0"),
    ({"audio_rate": "256"}, TypeError, "audio_rate must be a number, got str"),
    ({"video_curve": np.zeros((2, 3))}, ValueError, r"video_curve must be a non-empty 1-D"),
    ({"scores": [1.0, np.nan, 0, 0, 0]}, ValueError, "scores must be a non-empty 1-D array of "
                                                     "finite numbers"),
])
def test_plot_av_sync_rejects_bad_arguments(kwargs, error, message):
    args = {"video_curve": np.ones(7), "fps": 8, "audio_curve": np.ones(64), "audio_rate": 64,
            "lags": np.linspace(-0.2, 0.2, 5), "scores": np.arange(5.0)}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        viz.plot_av_sync(**args)
