"""Plotting helpers (可视化): draw every kind of modality the course datasets hold.

:func:`plot_samples` draws a grid of samples (rows) x modalities (columns) of a dataset such
as :class:`mmlib.data.MultimodalDataset` (any object with ``name``, ``modalities``, ``labels``,
``masks``, ``metadata``, ``info`` and ``len()``), choosing a drawing per modality *kind* — one for
every kind of the course's vocabulary (:data:`mmlib._common.KINDS`):

=============== =============================================================================
kind            drawing
=============== =============================================================================
``image``       the picture (grayscale or RGB, values in [0, 1]); a dark picture (median below
                0.15, e.g. a night camera) gets a per-image contrast stretch, stated in its title
``audio``       two panels: the waveform (amplitude against time in s) and its log-mel
                spectrogram (frequency in Hz on a mel scale, power in dB with a colour bar)
``spectrogram`` a precomputed ``(frames, bands)`` spectrogram, time on the x axis, colour bar
``text``        the raw text (or the decoded token ids), wrapped
``tabular``     feature name, value and unit per row; missing values (NaN) as ``n/a``
``vector``      a bar chart of z-scores (against the samples where the modality is present),
                coloured by feature group when the dataset defines groups
``point_cloud`` two panels: a bird's-eye view of a point cloud (forward up, the sensor as a red
                triangle) and a side view (forward x height), coloured by height (colour bar)
``heatmap``     a 2-D map with labelled axes (e.g. radar range x radial speed) and a colour bar
``video``       the frames in reading order (left to right, then the next line), the time of
                each frame under it
=============== =============================================================================

:func:`plot_samples` chooses the samples with :func:`choose_samples`: stratified over the
classes of every classification task, then over the recording conditions and the other
row-label metadata, seeded by ``(seed, dataset.name)`` so that two datasets do not show the same
indices. A sample whose modality is missing (``masks[m][i] == 0``) is drawn as a grey "missing"
panel, never as the zeros stored in its place, and shared scales (waveform range, colour ranges,
z-scores) are computed from the present samples only. The figure's caption (at the bottom)
explains the corruptions that the pictures show (noise, occlusion, conditions, missing values,
contrast stretches), from ``info["corruptions"]`` when the dataset gives it, else from its
``info["knobs"]``.

Each ``draw_*`` function draws one sample on one matplotlib ``Axes`` and can be used alone. This
module never imports :mod:`mmlib.data` (the dataset is duck-typed) and imports matplotlib only
when drawing. The ``info`` fields it reads (all optional): ``kinds``, ``class_names``,
``label_units``, ``label_undefined`` (task -> ``(other task, class)``: the label means nothing
for that class, drawn as ``n/a``), ``row_label_metadata``, ``conditions``, ``condition_notes``,
``corruptions``, ``knobs``, ``sample_rate``, ``fps``, ``frame_rate``, ``vocab``, ``text_source``,
``text_answer``, ``feature_names``, ``feature_units``, ``feature_groups``, ``heatmap_axes``,
``heatmap_extent`` and ``value_units`` (modality -> unit of its values, e.g. ``"power (dB)"``).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib._common import KINDS, check_kind, rng
from mmlib._validate import check_choice, check_int
from mmlib.preprocess.signal import hz_to_mel, log_mel_spectrogram

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = ["choose_samples", "draw_audio", "draw_heatmap", "draw_image", "draw_missing",
           "draw_points", "draw_presence_mask", "draw_spectrogram", "draw_table", "draw_text",
           "draw_vector", "draw_video", "draw_waveform", "plot_av_sync", "plot_samples"]

ROW_HEIGHT = 1.8
"""Height of one sample row of :func:`plot_samples` (inches)."""

_PANELS: dict[str, tuple[tuple[str, float], ...]] = {
    "image": (("image", 1.0),),  # width x the row height x the image's aspect
    "audio": (("wave", 2.4), ("spec", 2.4)),
    "spectrogram": (("spectrogram", 2.4),),
    "text": (("text", 0.0),),  # width from the text (see _text_layout)
    "tabular": (("tabular", 0.0),),  # width from the table (see _table_layout)
    "vector": (("vector", 3.2),),
    "point_cloud": (("points", 2.0), ("side", 2.4)),
    "heatmap": (("heatmap", 2.0),),
    "video": (("video", 1.0),),  # width x the row height x the film strip's aspect
}
"""Kind -> its panels (columns) in :func:`plot_samples`: (panel, width in inches)."""
if set(_PANELS) != set(KINDS):  # pragma: no cover - caught by the tests
    raise ImportError(f"mmlib.viz draws kinds {sorted(_PANELS)}, but KINDS is {sorted(KINDS)}.")

_MISSING_COLOUR = "#e4e4e4"
_CARD = {"boxstyle": "round,pad=0.5", "facecolor": "#f4f4f4", "edgecolor": "#c8c8c8"}
"""The light card text and tables are written on."""
_GROUP_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple")
_DARK_MEDIAN = 0.15
"""An image (or clip) whose median value is below this is drawn contrast-stretched ("auto")."""
_STRETCH_PERCENTILES = (1.0, 99.0)
_STRETCH_MODES = ("auto", "always", "never")
_IMAGE_LIKE = ("image", "spectrogram", "spec", "heatmap", "video", "text", "tabular")
_DB_PER_NEPER = 10.0 / np.log(10.0)  # 10 log10(p) = ln(p) * 10 / ln(10)
_VALUE_UNIT_FALLBACK = {"radar": "echo power (dB)"}
"""Unit of a heatmap's values when ``info["value_units"]`` does not give it, by modality name."""

_CONDITION_NOTES = {
    "night": "night = only the headlights light the scene, strong camera noise",
    "fog": "fog = contrast fades with distance, LiDAR back-scatter near the sensor",
    "rain": "rain = darker, blurred camera with streaks, LiDAR drop-outs and droplet returns, "
            "higher radar noise floor",
    "dark": "dark = room light off (the door and window still show, people hardly do)",
    "noisy": "noisy = loud background noise masks the sounds",
}
"""What each recording condition does, when ``info["condition_notes"]`` does not say."""


# ---------------------------------------------------------------------------------------------
# drawing one sample
# ---------------------------------------------------------------------------------------------


def draw_image(ax: Axes, image: np.ndarray, title: str | None = None, *,
               stretch: str = "auto") -> str | None:
    """An image ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` with values in [0, 1].

    ``stretch``: ``"auto"`` stretches a dark image (median below 0.15) linearly so that its 1st
    to 99th percentiles span black to white, ``"always"`` stretches every image, ``"never"``
    none. A stretch is stated under the picture (``"contrast x2.5 (p1-p99)"``) and returned
    (else ``None``), so the picture never hides that it was brightened.
    """
    img = np.asarray(image, dtype=float)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    img, note = _stretch(img, stretch)
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    _bare(ax)
    if title:
        ax.set_title(title, fontsize=_font("axes.labelsize"))
    _say_stretch(ax, note)
    return note


def draw_waveform(ax: Axes, wave: np.ndarray, sample_rate: float, *, xlabel: bool = True,
                  ylim: float | None = None, ylabel: bool = True) -> None:
    """A waveform ``(samples,)``: amplitude (full scale = 1) against time in seconds.

    The y axis spans +-``ylim`` (default: the clip's peak), so clips drawn with the same
    ``ylim`` compare in loudness.
    """
    wave = np.asarray(wave, dtype=float).ravel()
    t = np.arange(wave.size) / sample_rate
    ax.plot(t, wave, lw=0.4, color="tab:blue")
    lim = max(1e-6, float(np.abs(wave).max(initial=0.0)) if ylim is None else float(ylim))
    ax.set_xlim(0, t[-1] if t.size else 1)
    ax.set_ylim(-1.05 * lim, 1.05 * lim)
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    if ylabel:
        ax.set_ylabel("amplitude")
    if xlabel:
        ax.set_xlabel("time (s)")
    else:
        ax.tick_params(labelbottom=False)


def draw_spectrogram(ax: Axes, spec: np.ndarray, duration: float | None = None, *,
                     xlabel: bool = True, vmin: float | None = None, vmax: float | None = None,
                     band_hz: Sequence[float] | None = None, ylabel: bool = True) -> AxesImage:
    """A spectrogram ``(frames, bands)``: time on the x axis, low bands at the bottom.

    Args:
        ax: where to draw.
        spec: the spectrogram ``(frames, bands)`` (or ``(frames, bands, 1)``).
        duration: the clip's length in seconds (x axis in s), else the x axis counts frames.
        xlabel: label the x axis (else hide its tick labels).
        vmin, vmax: colour range (default: the data's range).
        band_hz: centre frequency of every band in Hz: the y ticks then read in Hz (mel
            spaced); else they count bands.
        ylabel: label the y axis.

    Returns:
        The ``AxesImage`` (for a colour bar).
    """
    spec = np.asarray(spec, dtype=float)
    if spec.ndim == 3:
        spec = spec[..., 0]
    n_bands = spec.shape[1]
    extent = (0, duration if duration is not None else spec.shape[0], 0, n_bands)
    im = ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", extent=extent,
                   interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.grid(False)
    ticks = np.unique(np.linspace(0, n_bands - 1, min(n_bands, 5)).round().astype(int))
    ax.set_yticks(ticks + 0.5)
    if band_hz is not None:
        ax.set_yticklabels([_hz_text(band_hz[k]) for k in ticks])
    else:
        ax.set_yticklabels([str(k) for k in ticks])
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    if ylabel:
        ax.set_ylabel("frequency (Hz)" if band_hz is not None else "mel band")
    if xlabel:
        ax.set_xlabel("time (s)" if duration is not None else "frame")
    else:
        ax.tick_params(labelbottom=False)
    return im


def _log_mel_db(wave: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel power in dB ``(..., frames, 32)`` and the bands' centre frequencies (Hz)."""
    frame_length = 256 if sample_rate >= 6000 else 128
    spec = log_mel_spectrogram(np.asarray(wave, dtype=np.float32), sample_rate,
                               frame_length=frame_length, frame_step=frame_length // 4,
                               n_mels=32, log_offset=1e-10)
    mels = np.linspace(0.0, float(hz_to_mel(sample_rate / 2)), 32 + 2)[1:-1]
    return spec * _DB_PER_NEPER, 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def draw_audio(ax_wave: Axes, ax_spec: Axes, wave: np.ndarray, sample_rate: float, *,
               xlabel: bool = True, ylim: float | None = None,
               vrange: tuple[float, float] | None = None) -> AxesImage:
    """Waveform on ``ax_wave`` and its log-mel spectrogram (power in dB) on ``ax_spec``.

    ``ylim`` fixes the waveform's y range and ``vrange`` the spectrogram's colour range (dB;
    default: its 5th to 99.5th percentile), so that several clips can be compared. The
    spectrogram: 32 mel bands (HTK scale, 0 Hz to ``sample_rate / 2``), frames of 256 samples
    (128 below 6 kHz) every quarter frame. Returns the spectrogram's ``AxesImage`` (for a colour
    bar, e.g. ``fig.colorbar(im, ax=ax_spec, label="power (dB)")``).
    """
    draw_waveform(ax_wave, wave, sample_rate, xlabel=xlabel, ylim=ylim)
    spec, band_hz = _log_mel_db(wave, sample_rate)
    lo, hi = np.percentile(spec, (5, 99.5)) if vrange is None else vrange
    return draw_spectrogram(ax_spec, spec, duration=len(wave) / sample_rate, xlabel=xlabel,
                            vmin=float(lo), vmax=float(hi), band_hz=band_hz)


def draw_text(ax: Axes, text: str, width: int = 34, *, fontsize: float | None = None) -> None:
    """Text wrapped at ``width`` characters on a light card, vertically centred (no frame)."""
    wrapped = "\n".join(textwrap.fill(line, width) for line in str(text).split("\n"))
    ax.text(0.03, 0.5, wrapped, va="center", ha="left", family="monospace",
            fontsize=fontsize or _font("axes.labelsize", -1), transform=ax.transAxes,
            bbox=_CARD)
    _bare(ax)
    ax.spines[:].set_visible(False)


def draw_table(ax: Axes, values: np.ndarray, names: Sequence[str],
               units: Sequence[str] | None = None, *, columns: int | None = None,
               fontsize: float | None = None) -> None:
    """One line per feature: name, value (NaN = not recorded, shown as ``n/a``) and unit.

    ``columns``: side-by-side blocks of lines (default: 2 when there are more than 8 features),
    written on one light card.
    """
    values = np.asarray(values, dtype=float).ravel()
    units = list(units) if units is not None else [""] * len(names)
    lines = _table_lines(values, names, units)
    columns = columns or (2 if len(lines) > 8 else 1)
    per_col = int(np.ceil(len(lines) / columns))
    blocks = [lines[start: start + per_col] for start in range(0, len(lines), per_col)]
    width = max(len(line) for line in lines)
    rows = ["   ".join(b[k].ljust(width) if k < len(b) else " " * width for b in blocks).rstrip()
            for k in range(per_col)]
    ax.text(0.03, 0.5, "\n".join(rows), va="center", ha="left", family="monospace",
            transform=ax.transAxes, fontsize=fontsize or _font("axes.labelsize", -2), bbox=_CARD)
    _bare(ax)
    ax.spines[:].set_visible(False)


def _table_lines(values: np.ndarray, names: Sequence[str], units: Sequence[str]) -> list[str]:
    if not len(values) == len(names) == len(units):
        raise ValueError(f"values, names and units must have one entry per feature, got "
                         f"{len(values)}, {len(names)} and {len(units)}.")
    name_w = max(len(str(n)) for n in names)
    shown = ["n/a" if np.isnan(v) else f"{v:.4g}" for v in values]
    value_w = max(len(s) for s in shown)
    return [f"{str(n):<{name_w}} {s:>{value_w}} {u}".rstrip()
            for n, s, u in zip(names, shown, units, strict=True)]


def draw_points(ax: Axes, points: np.ndarray, *, labels: bool = True, view: str = "top",
                zrange: tuple[float, float] | None = None,
                xlabel: bool | None = None) -> PathCollection:
    """A view of points ``(N, 3+)`` = (x forward, y left, z up, in m, sensor at the origin).

    ``view="top"``: bird's-eye view (forward up, the sensor as a red triangle);
    ``view="side"``: forward distance against height, where objects stand out of the ground.
    Points are coloured by height over ``zrange`` (default: their 1st to 99.5th percentile),
    high points drawn last. ``labels`` labels the y axis and, unless ``xlabel`` says otherwise,
    the x axis. Returns the scatter (for a colour bar of the height).
    """
    check_choice("view", view, ("top", "side"))
    p = np.asarray(points, dtype=float)
    p = p[np.isfinite(p[:, :3]).all(axis=1)]
    p = p[np.argsort(p[:, 2])]  # high points drawn last, on top of the ground
    lo, hi = _zrange(p[:, 2]) if zrange is None else zrange
    size = np.where(p[:, 2] > lo + 0.15 * (hi - lo), 8, 2)
    if view == "top":
        sc = ax.scatter(-p[:, 1], p[:, 0], c=p[:, 2], s=size, cmap="viridis", vmin=lo, vmax=hi,
                        linewidths=0)
        ax.plot([0], [0], marker="^", color="red", ms=7, ls="none")
        ax.set_aspect("equal", adjustable="datalim")
        names = "right (m)", "forward (m)"
    else:
        sc = ax.scatter(p[:, 0], p[:, 2], c=p[:, 2], s=size, cmap="viridis", vmin=lo, vmax=hi,
                        linewidths=0)
        ax.plot([0], [0], marker=">", color="red", ms=7, ls="none")
        pad = 0.1 * (hi - lo) + 0.1
        ax.set_ylim(min(lo, 0.0) - pad, max(hi, 0.0) + pad)
        names = "forward (m)", "height (m)"
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    if labels:
        ax.set_ylabel(names[1])
    if labels if xlabel is None else xlabel:
        ax.set_xlabel(names[0])
    return sc


def _zrange(z: np.ndarray) -> tuple[float, float]:
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    if not z.size:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(z, (1, 99.5)))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def draw_heatmap(ax: Axes, grid: np.ndarray, axes: tuple[str, str] | None = None,
                 extent: tuple[float, float, float, float] | None = None, *,
                 vmin: float | None = None, vmax: float | None = None,
                 colorbar: str | bool | None = None, xlabel: bool = True) -> AxesImage:
    """A 2-D map ``(rows, cols)``: rows on the y axis (``axes[0]``), columns on x (``axes[1]``).

    Args:
        ax: where to draw.
        grid: the map ``(rows, cols)`` (or ``(rows, cols, 1)``).
        axes: names with units of the row and column axes, e.g. ``("range (m)",
            "radial speed (m/s)")``.
        extent: ``(row_min, row_max, col_min, col_max)`` in data units.
        vmin, vmax: colour range (default: the data's range).
        colorbar: add a colour bar to ``ax`` labelled with this text (the unit of the values,
            e.g. ``"power (dB)"``; ``True``: unlabelled). :func:`plot_samples` instead adds one
            colour bar per column.
        xlabel: label the x axis (else hide its tick labels).

    Returns:
        The ``AxesImage``.
    """
    g = np.asarray(grid, dtype=float)
    if g.ndim == 3:
        g = g[..., 0]
    ext = None if extent is None else (extent[2], extent[3], extent[0], extent[1])
    im = ax.imshow(g, origin="lower", aspect="auto", cmap="inferno", extent=ext,
                   interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.grid(False)
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    if axes:
        ax.set_ylabel(axes[0])
        if xlabel:
            ax.set_xlabel(axes[1])
    if not xlabel:
        ax.tick_params(labelbottom=False)
    if colorbar:
        cbar = ax.figure.colorbar(im, ax=ax)
        if isinstance(colorbar, str):
            cbar.set_label(colorbar)
    return im


def draw_video(ax: Axes, frames: np.ndarray, fps: float | None = None, *, stretch: str = "auto",
               per_line: int | None = None) -> str | None:
    """Frames ``(T, H, W[, C])`` in reading order, each with its time (s) or index under it.

    ``per_line`` frames per line (default: all on one line up to 4 frames, else two lines or
    more, at most 8 frames per line), so that the strip fills a panel about as high as an image.
    ``stretch`` works as in :func:`draw_image` over the whole clip; the stretch is returned and
    said under the strip (else ``None``).
    """
    v = np.asarray(frames, dtype=float)
    if v.ndim == 4 and v.shape[-1] == 1:
        v = v[..., 0]
    v, note = _stretch(v, stretch)
    t, h, w = v.shape[:3]
    cols, lines = _film_layout(t, per_line)
    gap, band = max(1, w // 24), max(4, h // 3)
    strip = np.ones((lines * (h + band), cols * (w + gap) - gap) + v.shape[3:])
    for i in range(t):
        r, c = divmod(i, cols)
        strip[r * (h + band): r * (h + band) + h, c * (w + gap): c * (w + gap) + w] = v[i]
    if strip.ndim == 2:
        ax.imshow(strip, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(np.clip(strip, 0, 1), interpolation="nearest")
    size = _font("xtick.labelsize", -2)
    for i in range(t):
        r, c = divmod(i, cols)
        label = f"{i / fps:.2f} s" if fps else f"frame {i}"
        ax.text(c * (w + gap) + w / 2, r * (h + band) + h + band / 2 - 0.5, label, ha="center",
                va="center", fontsize=size, color="0.2")
    _bare(ax)
    ax.spines[:].set_visible(False)
    _say_stretch(ax, note)
    return note


def _film_layout(t: int, per_line: int | None) -> tuple[int, int]:
    """(frames per line, lines) of a film strip of ``t`` frames."""
    if per_line is None:
        lines = 1 if t <= 4 else max(2, int(np.ceil(t / 8)))
        per_line = int(np.ceil(t / lines))
    per_line = check_int("per_line", per_line, minimum=1)
    return per_line, int(np.ceil(t / per_line))


def draw_vector(ax: Axes, vec: np.ndarray, groups: Mapping[str, Sequence[int]] | None = None, *,
                legend: bool = True, ylabel: str | None = None, xlabel: str | None = None,
                ylim: float | None = None) -> None:
    """A bar chart of a feature vector ``(d,)``; bars coloured by ``groups`` (name -> indices).

    ``ylim`` fixes the y range to +-``ylim`` (so that several samples compare).
    """
    v = np.asarray(vec, dtype=float).ravel()
    colours = np.array(["0.6"] * v.size, dtype=object)
    for idx, col in zip((groups or {}).values(), _GROUP_COLOURS, strict=False):
        colours[list(idx)] = col
    ax.bar(np.arange(v.size), np.nan_to_num(v), width=1.0, color=list(colours))
    ax.set_xlim(-0.5, v.size - 0.5)
    if ylim is not None:
        ax.set_ylim(-ylim, ylim)
    ax.grid(False, axis="x")
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    if ylabel:
        ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    if legend:
        _group_legend(ax, groups)


def _group_legend(ax: Axes, groups: Mapping[str, Sequence[int]] | None) -> None:
    """A one-line legend of the feature groups' colours, just above ``ax``."""
    if not groups:
        return
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=nm) for nm, c in zip(groups, _GROUP_COLOURS, strict=False)]
    ax.legend(handles=handles, fontsize=_font("legend.fontsize", -2), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=len(handles), frameon=False, handlelength=1.0,
              columnspacing=0.8, borderaxespad=0.1)


def draw_missing(ax: Axes) -> None:
    """A grey, hatched panel saying "missing": the modality was not recorded for this sample."""
    ax.set_facecolor(_MISSING_COLOUR)
    ax.patch.set_hatch("//")
    ax.patch.set_edgecolor("#cccccc")
    ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes,
            color="0.25", fontsize=_font("axes.labelsize", 1),
            bbox={"facecolor": _MISSING_COLOUR, "edgecolor": "none", "pad": 2})
    _bare(ax)


def _say_stretch(ax: Axes, note: str | None) -> None:
    """State a contrast stretch under the picture, in the colour of a warning."""
    if note:
        ax.set_xlabel(note, fontsize=_font("axes.labelsize", -1), color="tab:red", labelpad=2)


def _bare(ax: Axes) -> None:
    """No ticks and no grid (pictures, text, missing panels)."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _stretch(x: np.ndarray, mode: str) -> tuple[np.ndarray, str | None]:
    """``x`` linearly stretched (its 1st-99th percentiles to [0, 1]) when ``mode`` asks."""
    check_choice("stretch", mode, _STRETCH_MODES)
    if mode == "never" or (mode == "auto" and np.median(x) >= _DARK_MEDIAN):
        return x, None
    lo, hi = (float(v) for v in np.percentile(x, _STRETCH_PERCENTILES))
    if hi - lo < 1e-6:
        return x, None
    p_lo, p_hi = (f"{p:g}" for p in _STRETCH_PERCENTILES)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0), f"contrast x{1 / (hi - lo):.1f} " \
                                                     f"(p{p_lo}-p{p_hi})"


def _font(key: str, delta: float = 0.0) -> float:
    """The size in points of the rcParams font ``key`` (e.g. ``"axes.labelsize"``) + ``delta``."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=mpl.rcParams[key]).get_size_in_points() + delta


def _hz_text(f: float) -> str:
    return f"{f / 1000:.1f}k" if f >= 1000 else f"{f:.0f}"


# ---------------------------------------------------------------------------------------------
# choosing the samples
# ---------------------------------------------------------------------------------------------


def choose_samples(dataset: Any, n: int = 4, *, seed: int = 0) -> np.ndarray:
    """``n`` sample indices stratified over classes, then conditions, seeded by the dataset name.

    Greedy: each pick takes, among the samples not yet chosen, one whose class (of the first
    classification task) has been shown least so far, ties broken by the next tasks' classes,
    then by ``metadata["condition"]``, then by the other integer metadata named in
    ``info["row_label_metadata"]``, then at random. So every class appears when ``n`` is at
    least the number of classes, and conditions are spread over the classes. The randomness
    comes from ``mmlib._common.rng(seed, "plot_samples", dataset.name)``: two datasets do not
    show the same indices, and the same call gives the same samples.

    Args:
        dataset: a dataset (duck-typed: ``name``, ``labels``, ``metadata``, ``info``, ``len()``).
        n: how many samples (1-32; at most ``len(dataset)``).
        seed: seed of the choice (non-negative int).

    Returns:
        int64 indices ``(min(n, len(dataset)),)``, ordered by class, then condition, then index.
    """
    n = check_int("n", n, minimum=1, maximum=32)
    seed = check_int("seed", seed, minimum=0)
    total = len(dataset)
    codes = [c for _, c in _strata(dataset)]
    gen = rng(seed, "plot_samples", str(dataset.name))
    rank = np.empty(total, dtype=np.int64)
    rank[gen.permutation(total)] = np.arange(total)
    counts = [np.zeros(int(c.max()) + 1, dtype=np.int64) for c in codes]
    taken = np.zeros(total, dtype=bool)
    chosen: list[int] = []
    for _ in range(min(n, total)):
        score = np.zeros(total, dtype=np.int64)
        for c, k in zip(codes, counts, strict=True):  # lexicographic: earlier strata first
            score = score * (n + 1) + k[c]
        score = score * total + rank
        score[taken] = np.iinfo(np.int64).max
        i = int(np.argmin(score))
        chosen.append(i)
        taken[i] = True
        for c, k in zip(codes, counts, strict=True):
            k[c[i]] += 1
    rows = np.array(chosen, dtype=np.int64)
    order = np.lexsort([rows] + [c[rows] for c in reversed(codes)])
    return rows[order]


def _strata(dataset: Any) -> list[tuple[str, np.ndarray]]:
    """The strata of :func:`choose_samples`: (name, non-negative int codes ``(n,)``), in order."""
    info, total = dataset.info, len(dataset)
    out: list[tuple[str, np.ndarray]] = []
    class_names = info.get("class_names", {})
    for task, y in dataset.labels.items():
        y = np.asarray(y)
        if y.shape != (total,) or not (task in class_names or np.issubdtype(y.dtype, np.integer)):
            continue
        if np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0):
            out.append((task, _codes(y)))
    keys = list(info.get("row_label_metadata", {}))
    if "condition" in dataset.metadata:
        keys = ["condition"] + [k for k in keys if k != "condition"]
    for key in keys:
        col = np.asarray(dataset.metadata.get(key, []))
        if col.shape == (total,) and np.issubdtype(col.dtype, np.integer):
            out.append((key, _codes(col)))
    kept: list[tuple[str, np.ndarray]] = []
    for name, codes in out:  # drop a stratum the earlier ones determine (e.g. anomaly by event)
        before = _codes(np.stack([c for _, c in kept], axis=1)) if kept else np.zeros(total, int)
        if _codes(np.stack([before, codes], axis=1)).max() > before.max():
            kept.append((name, codes))
    return kept


def _codes(values: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 of the distinct values (rows, for a 2-D array) of ``values``."""
    values = np.asarray(values)
    axis = 0 if values.ndim == 2 else None
    return np.unique(values, return_inverse=True, axis=axis)[1].ravel().astype(np.int64)


def _check_indices(total: int, indices: Sequence[int]) -> np.ndarray:
    rows = np.asarray(indices).ravel()
    if rows.size and not np.issubdtype(rows.dtype, np.integer):
        raise TypeError(f"indices must be integer sample indices, got {rows.dtype} values "
                        f"{list(rows)[:5]}.")
    if rows.size == 0 or rows.min() < 0 or rows.max() >= total:
        raise ValueError(f"indices must be non-empty sample indices in [0, {total}), got "
                         f"{list(rows)}.")
    return rows.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the grid of samples
# ---------------------------------------------------------------------------------------------


def plot_samples(dataset: Any, n: int = 4, *, indices: Sequence[int] | None = None, seed: int = 0,
                 modalities: Sequence[str] | None = None, stretch: str = "auto") -> Figure:
    """Draw samples (rows) x modalities (columns) of a :class:`mmlib.data.MultimodalDataset`.

    Each modality is drawn by its kind (``dataset.kinds``, else ``dataset.info["kinds"]``;
    ``"vector"`` when not recorded): see the table in :mod:`mmlib.viz`. Rows are labelled with
    the sample index, its labels and its row-label metadata (e.g. the condition); a missing
    modality is a grey "missing" panel. Waveforms, spectrograms, heatmaps, point-cloud heights
    and vectors share one scale per column (computed from the present samples), with one colour
    bar per colour-coded column. The caption under the grid explains the corruptions the
    pictures show.

    Args:
        dataset: the dataset (duck-typed: ``name``, ``modalities``, ``labels``, ``masks``,
            ``metadata``, ``info`` and ``len()``).
        n: number of samples (1-32), chosen by :func:`choose_samples` (stratified over classes
            and conditions); ignored when ``indices`` is given.
        indices: which samples to draw, in this order.
        seed: seed of the choice of samples.
        modalities: which modalities (default: all), in this order.
        stretch: contrast stretch of images and videos: ``"auto"`` (dark ones only, stated in
            their titles), ``"always"`` or ``"never"`` (see :func:`draw_image`).

    Returns:
        The matplotlib ``Figure`` (created with ``pyplot``, so a notebook shows it; assign it,
        e.g. ``fig = ds.plot_samples()``, to keep the notebook from also printing its repr).
    """
    import matplotlib.pyplot as plt

    check_choice("stretch", stretch, _STRETCH_MODES)
    rows = (choose_samples(dataset, n, seed=seed) if indices is None
            else _check_indices(len(dataset), indices))
    mods = list(dataset.modalities) if modalities is None else list(modalities)
    for m in mods:
        check_choice("modalities", m, list(dataset.modalities))
    kinds = _kinds(dataset)
    kinds = {m: check_kind(f"the kind of modality {m!r}", kinds[m]) for m in mods}
    present = {m: np.asarray(_mask(dataset, m), dtype=bool) for m in mods}
    layout = _Layout(dataset, mods, kinds, rows, present)
    label_size = _font("axes.labelsize")
    labels = [_row_label(dataset, i) for i in rows]
    label_w = max(len(line) for lab in labels for line in lab.split("\n")) * 0.6 * label_size / 72
    width = sum(layout.widths) + label_w + 0.75 * layout.n_colorbars + 0.4
    caption = _caption(dataset, mods, kinds, rows, present, layout)
    wrap = max(40, int(width * 72 / (0.52 * label_size)))
    caption_text = "\n".join(textwrap.fill(c, wrap, subsequent_indent="   ") for c in caption)
    n_caption = caption_text.count("\n") + 1 if caption else 0
    height = ROW_HEIGHT * len(rows) + 1.1 + n_caption * 1.35 * label_size / 72
    fig, axes = plt.subplots(len(rows), len(layout.columns), squeeze=False,
                             layout="constrained", figsize=(width, height),
                             gridspec_kw={"width_ratios": layout.widths})
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, wspace=0.03, hspace=0.03)
    stretched = _draw_grid(fig, axes, dataset, layout, rows, present, stretch)
    for r, lab in enumerate(labels):
        _row_annotation(axes[r, 0], lab, label_size)
    fig.suptitle(_suptitle(dataset, rows, indices is None, seed), fontsize=label_size + 2)
    if stretched:
        caption_text = (caption_text + "\n" if caption_text else "") + textwrap.fill(
            "Dark pictures are drawn contrast-stretched: their 1st-99th percentile mapped to "
            "black-white (the gain is written in red under the picture).", wrap,
            subsequent_indent="   ")
    if caption_text:
        fig.supxlabel(caption_text, fontsize=label_size, ha="left", x=0.01,
                      multialignment="left")
    return fig


class _Layout:
    """The columns of :func:`plot_samples` ((modality, panel) pairs), their widths (inches),
    the shared scales, the text wrapping and the colour bars."""

    def __init__(self, dataset: Any, mods: list[str], kinds: dict[str, str], rows: np.ndarray,
                 present: dict[str, np.ndarray]) -> None:
        self.kinds = kinds
        self.columns: list[tuple[str, str]] = []
        self.widths: list[float] = []
        self.text: dict[str, tuple[int, float]] = {}  # modality -> (wrap width, font size)
        self.table: dict[str, tuple[int, float]] = {}  # modality -> (columns, font size)
        self.scales: dict[str, Any] = {}
        info = dataset.info
        for m in mods:
            kind = kinds[m]
            x = dataset.modalities[m]
            on = rows[present[m][rows]]  # the drawn samples where m is present
            for panel, width in _PANELS[kind]:
                self.columns.append((m, panel))
                if kind == "image":
                    width *= ROW_HEIGHT * x.shape[2] / x.shape[1]
                elif kind == "video":
                    cols, lines = _film_layout(x.shape[1], None)
                    h, w = x.shape[2], x.shape[3]
                    width *= ROW_HEIGHT * cols * (w + 1) / (lines * (h + max(4, h // 3)))
                elif kind == "text":
                    self.text[m] = _text_layout([_text_of(dataset, m, i) for i in rows])
                    wrap, size = self.text[m]
                    width = (wrap + 4) * 0.63 * size / 72
                elif kind == "tabular":
                    names, units = _table_names(info, m, x.shape[1])
                    cols, size, chars = _table_layout(len(names), names, units)
                    self.table[m] = (cols, size)
                    width = (cols * (chars + 3) + 1) * 0.62 * size / 72
                self.widths.append(width)
            self.scales[m] = _scale(dataset, m, kind, on, present[m])
        self.n_colorbars = sum(1 for m in mods if kinds[m] in ("audio", "spectrogram", "heatmap",
                                                               "point_cloud"))


def _text_layout(texts: list[str]) -> tuple[int, float]:
    """(wrap width in characters, font size) so that the longest text fills about a row."""
    size = _font("axes.labelsize", -1)
    lines = max(3, int(ROW_HEIGHT * 72 / (1.3 * size)) - 1)
    longest = max((len(t) for t in texts), default=10)
    wrap = int(np.ceil(longest / (0.75 * lines))) + 3
    return int(np.clip(wrap, 22, 46)), size


def _table_names(info: Mapping[str, Any], m: str, d: int) -> tuple[list[str], list[str]]:
    names = info.get("feature_names", {}).get(m) or [f"{m}_{j}" for j in range(d)]
    units = info.get("feature_units", {}).get(m) or [""] * len(names)
    return [str(n) for n in names], [str(u) for u in units]


def _table_layout(n: int, names: list[str], units: list[str]) -> tuple[int, float, int]:
    """(blocks side by side, font size, characters per line) of a table of ``n`` features."""
    size = _font("axes.labelsize", -2)
    per_block = max(3, int(ROW_HEIGHT * 72 / (1.25 * size)) - 1)
    cols = int(np.ceil(n / per_block))
    chars = max(len(s) for s in names) + 6 + max((len(u) for u in units), default=0)
    return cols, size, chars


def _scale(dataset: Any, m: str, kind: str, on: np.ndarray, present: np.ndarray) -> dict:
    """Scales shared by a modality's column, from the present samples only: ``on`` (drawn and
    present) for ranges, ``present`` (the whole dataset) for z-scores."""
    x, info = dataset.modalities[m], dataset.info
    if kind == "audio":
        sr = float(_per_modality(info, "sample_rate", m, 8000))
        if not on.size:
            return {"ylim": 1.0, "vrange": (-60.0, 0.0), "sr": sr}
        spec, _ = _log_mel_db(x[on], sr)
        return {"ylim": float(np.abs(x[on]).max()) or 1.0, "sr": sr,
                "vrange": tuple(float(v) for v in np.percentile(spec, (5, 99.5)))}
    if kind in ("spectrogram", "heatmap"):
        if not on.size:
            return {"vrange": (0.0, 1.0)}
        lo, hi = np.nanpercentile(np.asarray(x[on], dtype=float), (1, 99.5))
        return {"vrange": (float(lo), float(hi) if hi > lo else float(lo) + 1.0)}
    if kind == "point_cloud":
        return {"zrange": _zrange(np.asarray(x[on], dtype=float)[..., 2]) if on.size
                else (0.0, 1.0)}
    if kind == "vector" and x.ndim == 2:
        mean, std = _present_stats(x, present)
        z = (np.asarray(x[on], dtype=float) - mean) / std
        top = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 1.0
        return {"mean": mean, "std": std, "ylim": max(1.08 * top, 1.0),
                "n_present": int(present.sum())}
    return {}


def _present_stats(x: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over the samples where the modality is present
    (NaN entries ignored); std 1 where it is zero or undefined."""
    x = np.asarray(x, dtype=float)[present]
    if not x.size:
        return np.zeros(x.shape[1:]), np.ones(x.shape[1:])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN features: handled below
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return mean, std


def _draw_grid(fig: Figure, axes: np.ndarray, dataset: Any, layout: _Layout, rows: np.ndarray,
               present: dict[str, np.ndarray], stretch: str) -> bool:
    """Draw every panel; add the column titles and colour bars. Returns whether any picture was
    contrast-stretched."""
    titles = {"wave": "{}: waveform", "spec": "{}: log-mel", "points": "{}: top view",
              "side": "{}: side view"}
    stretched = False
    last = len(rows) - 1
    for c, (m, panel) in enumerate(layout.columns):
        mappable = None
        for r, i in enumerate(rows):
            ax = axes[r, c]
            if not present[m][i]:
                draw_missing(ax)
                continue
            if panel == "spec":
                continue  # drawn with its waveform
            out = _draw_panel(ax, axes, dataset, layout, m, panel, int(i), r, c, r == last,
                              stretch)
            if isinstance(out, str):
                stretched = True
            elif out is not None:
                mappable = out
        title = titles.get(panel, "{}").format(m)
        if "mean" in layout.scales[m]:
            title += " (z-scores)"
        if panel == "vector":  # one legend, above the column, even if the first row is missing
            _group_legend(axes[0, c], dataset.info.get("feature_groups", {}).get(m))
        _add_title(axes[0, c], title, "left" if panel in ("text", "tabular") else "center")
        if mappable is not None:
            unit = _colour_unit(dataset, m, layout.kinds[m])
            span = [c + 1] if panel == "wave" else [c, c + 1] if panel == "points" else [c]
            target = [ax for k in span for ax in axes[:, k]]  # right of the spectrogram / side
            fraction = 0.14 / sum(layout.widths[k] for k in span)  # about 0.14 inch wide
            cbar = fig.colorbar(mappable, ax=target, fraction=fraction, pad=0.01, aspect=22)
            cbar.set_label(unit, fontsize=_font("axes.labelsize", -1))
            cbar.ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    return stretched


def _draw_panel(ax: Axes, axes: np.ndarray, dataset: Any, layout: _Layout, m: str, panel: str,
                i: int, r: int, c: int, last: bool, stretch: str) -> Any:
    """Draw sample ``i`` of modality ``m`` as ``panel``; returns a mappable for the column's
    colour bar, a stretch note, or ``None``."""
    x, info, scale = dataset.modalities[m][i], dataset.info, layout.scales[m]
    if panel == "image":
        return draw_image(ax, x, stretch=stretch)
    if panel == "wave":  # this panel and the next one (the log-mel spectrogram)
        return draw_audio(ax, axes[r, c + 1], x, scale["sr"], xlabel=last, ylim=scale["ylim"],
                          vrange=scale["vrange"])
    if panel == "spectrogram":
        rate = _per_modality(info, "frame_rate", m, None)
        duration = x.shape[0] / float(rate) if rate else None
        return draw_spectrogram(ax, x, duration, xlabel=last, vmin=scale["vrange"][0],
                                vmax=scale["vrange"][1])
    if panel == "text":
        wrap, size = layout.text[m]
        draw_text(ax, _text_of(dataset, m, i), wrap, fontsize=size)
    elif panel == "tabular":
        names, units = _table_names(info, m, len(x))
        cols, size = layout.table[m]
        draw_table(ax, x, names, units, columns=cols, fontsize=size)
    elif panel in ("points", "side"):
        sc = draw_points(ax, x, view="top" if panel == "points" else "side",
                         zrange=scale["zrange"], xlabel=last)
        return sc if panel == "points" else None
    elif panel == "heatmap":
        return draw_heatmap(ax, x, info.get("heatmap_axes", {}).get(m),
                            info.get("heatmap_extent", {}).get(m), vmin=scale["vrange"][0],
                            vmax=scale["vrange"][1], xlabel=last)
    elif panel == "video":
        return draw_video(ax, x, _per_modality(info, "fps", m, None), stretch=stretch)
    elif "mean" in scale:  # z-scores against the present samples: patterns stand out
        draw_vector(ax, (np.asarray(x, dtype=float) - scale["mean"]) / scale["std"],
                    info.get("feature_groups", {}).get(m), legend=False, ylabel="z-score",
                    xlabel="feature index" if last else None, ylim=scale["ylim"])
    else:
        draw_vector(ax, np.ravel(x), info.get("feature_groups", {}).get(m), legend=False,
                    xlabel="feature index" if last else None)
    return None


def _add_title(ax: Axes, title: str, loc: str = "center") -> None:
    """The column title, above the panel's legend if it has one."""
    pad = 6.0 + (1.9 * _font("legend.fontsize", -2) if ax.get_legend() else 0.0)
    ax.set_title(title, fontsize=_font("axes.labelsize"), pad=pad, loc=loc)


def _colour_unit(dataset: Any, m: str, kind: str) -> str:
    """The colour bar's label: the unit of the values of modality ``m``."""
    unit = dataset.info.get("value_units", {}).get(m)
    if unit:
        return str(unit)
    if kind == "audio":
        return "log-mel power (dB)"
    if kind == "point_cloud":
        return "height (m)"
    if kind == "spectrogram":
        return "value (log power)"
    for key, fallback in _VALUE_UNIT_FALLBACK.items():
        if key in m.lower():
            return fallback
    return "value"


def _row_annotation(ax: Axes, text: str, size: float) -> None:
    """The row label, right-aligned just left of the first panel's y axis (ticks and label)."""
    from matplotlib.transforms import Bbox

    def left_of_axis(renderer: Any) -> Bbox:
        box = ax.yaxis.get_tightbbox(renderer)
        frame = ax.get_window_extent(renderer)
        x0 = frame.x0 if box is None or not np.isfinite(box.x0) else min(box.x0, frame.x0)
        return Bbox.from_extents(x0, frame.y0, frame.x1, frame.y1)

    ax.annotate(text, xy=(0, 0.5), xycoords=left_of_axis, xytext=(-9, 0),
                textcoords="offset points", ha="right", va="center", fontsize=size)


def _row_label(ds: Any, i: int) -> str:
    parts = [f"#{i}"]
    for task, y in ds.labels.items():
        names = ds.info.get("class_names", {}).get(task)
        unit = ds.info.get("label_units", {}).get(task, "")
        other, code = ds.info.get("label_undefined", {}).get(task, (None, None))
        if other in ds.labels and int(ds.labels[other][i]) == code:
            parts.append(f"{task}: n/a")
            continue
        parts.append(f"{task}: {names[int(y[i])]}" if names else
                     f"{task}: {float(y[i]):.3g} {unit}".rstrip())
    for key, names in ds.info.get("row_label_metadata", {}).items():
        val = ds.metadata[key][i]
        parts.append(f"{key}: {names[int(val)]}" if names else f"{key}: {val}")
    return "\n".join(parts)


def _suptitle(dataset: Any, rows: np.ndarray, chosen: bool, seed: int) -> str:
    total = len(dataset)
    if not chosen:
        return f"{dataset.name}: {len(rows)} chosen of {total:,} samples"
    strata = [name for name, _ in _strata(dataset)][:2]
    how = f", stratified by {' and '.join(strata)}" if strata else ""
    return f"{dataset.name}: {len(rows)} of {total:,} samples{how} (seed {seed})"


def _text_of(ds: Any, m: str, i: int) -> str:
    source = ds.info.get("text_source", {}).get(m)
    answer = ds.info.get("text_answer", {}).get(m)
    if answer and answer in ds.metadata and source in ds.metadata:
        return f"Q: {ds.metadata[source][i]}\nA: {ds.metadata[answer][i]}"
    if source and source in ds.metadata:
        return str(ds.metadata[source][i])
    vocab = ds.info.get("vocab")
    if vocab is not None:
        return " ".join(str(vocab[t]) for t in ds.modalities[m][i] if t != 0)
    return " ".join(str(t) for t in ds.modalities[m][i] if t != 0)


# ---------------------------------------------------------------------------------------------
# the caption: what the pictures' corruptions are
# ---------------------------------------------------------------------------------------------


def _caption(dataset: Any, mods: list[str], kinds: dict[str, str], rows: np.ndarray,
             present: dict[str, np.ndarray], layout: _Layout) -> list[str]:
    """Sentences explaining what the drawn samples show besides the clean signal."""
    info = dataset.info
    given = info.get("corruptions")
    if isinstance(given, Mapping):
        notes = [f"{m}: {given[m]}" for m in mods if m in given]
        notes += [str(v) for k, v in given.items() if k not in dataset.modalities]
    elif isinstance(given, str):
        notes = [given]
    elif given is not None:
        notes = [str(v) for v in given]
    else:
        notes = _knob_notes(dataset, mods, kinds)
    notes += _condition_notes(dataset, rows)
    for m in mods:
        x = dataset.modalities[m]
        if kinds[m] == "tabular" and not any("n/a" in s for s in notes):
            on = rows[present[m][rows]]
            if on.size and np.isnan(np.asarray(x[on], dtype=float)).any():
                notes.append(f"{m}: n/a = value not recorded.")
        if "n_present" in layout.scales[m]:
            notes.append(f"{m}: z-scores against the mean and standard deviation of the "
                         f"{layout.scales[m]['n_present']:,} samples where {m} is present.")
    if any(not present[m][i] for m in mods for i in rows) and not any(
            "missing" in s for s in notes):
        notes.append("Grey 'missing' panels: the modality was not recorded for that sample.")
    return notes


def _knob_notes(dataset: Any, mods: list[str], kinds: dict[str, str]) -> list[str]:
    """Corruptions read from ``info["knobs"]`` (the loader's arguments), for the knobs whose
    meaning this module knows; a knob that is off (0) says nothing."""
    knobs = dataset.info.get("knobs") or {}
    images = ", ".join(m for m in mods if kinds[m] in ("image", "video")) or "images"
    audio = ", ".join(m for m in mods if kinds[m] in ("audio", "spectrogram")) or "audio"
    notes: list[str] = []

    def on(key: str) -> bool:
        v = knobs.get(key)
        return isinstance(v, int | float) and not isinstance(v, bool) and v != 0

    rules: list[tuple[str, Callable[[float], str]]] = [
        ("image_noise", lambda v: f"{images}: Gaussian pixel noise (std {v:g})."),
        ("noise", lambda v: f"{images}: Gaussian pixel noise (std {v:g})."),
        ("occlusion", lambda v: f"{images}: a grey square ({v:.0%} of the image side) hides "
                                f"part of each picture."),
        ("max_shift", lambda v: f"{images}: shifted by up to {v:g} pixels."),
        ("snr_db", lambda v: f"{audio}: background noise at {v:g} dB SNR"
                             + (" (louder than the signal)." if v < 0 else ".")),
        ("site_shift", lambda v: f"site 1 has another scanner calibration, more noise and a "
                                 f"bias field, and a gene batch effect (site_shift {v:g})."),
        ("max_offset", lambda v: f"{audio}: shifted by up to +-{v:g} s against the video."),
        ("missing_rate", lambda v: f"Each modality is missing with probability {v:.0%}: "
                                   f"grey 'missing' panels."),
    ]
    for key, text in rules:
        if on(key):
            notes.append(text(float(knobs[key])))
    known = {key for key, _ in rules}
    for m in mods:
        if on(f"{m}_noise") and f"{m}_noise" not in known:
            notes.append(f"{m}: sensor noise ({m}_noise = {float(knobs[f'{m}_noise']):g}).")
        if on(f"{m}_missing"):
            notes.append(f"{m}: n/a = value not recorded (about "
                         f"{float(knobs[f'{m}_missing']):.0%} of the values).")
    return notes


def _condition_notes(dataset: Any, rows: np.ndarray) -> list[str]:
    """What the recording conditions of the drawn rows do (``info["condition_notes"]``, else
    the notes this module knows), with the severity when the loader has one."""
    info = dataset.info
    names = info.get("conditions")
    if not names or "condition" not in dataset.metadata:
        return []
    given = info.get("condition_notes", {})
    shown = [str(names[int(k)]) for k in np.unique(np.asarray(dataset.metadata["condition"])[rows])]
    notes = [given.get(c) or _CONDITION_NOTES.get(c) for c in shown]
    notes = [n for n in notes if n]
    if not notes:
        return []
    severity = (info.get("knobs") or {}).get("severity")
    how = f" (severity {severity:g})" if isinstance(severity, int | float) else ""
    return [f"Conditions{how}: " + "; ".join(notes) + "."]


# ---------------------------------------------------------------------------------------------
# reading the dataset
# ---------------------------------------------------------------------------------------------


def _per_modality(info: Mapping[str, Any], key: str, m: str, default: Any) -> Any:
    """``info[key]``: a number for every modality, or a dict modality -> number."""
    value = info.get(key, default)
    if isinstance(value, Mapping):
        return value.get(m, default)
    return value


def _mask(dataset: Any, m: str) -> np.ndarray:
    masks = getattr(dataset, "masks", None) or {}
    if m in masks:
        return np.asarray(masks[m])
    return np.ones(len(dataset), dtype=bool)


def _kinds(dataset: Any) -> dict[str, str]:
    """Modality -> kind: ``dataset.kinds`` if it has them, else ``info["kinds"]`` (default
    ``"vector"``)."""
    kinds = getattr(dataset, "kinds", None)
    if kinds is None:
        recorded = getattr(dataset, "info", {}).get("kinds", {})
        kinds = {m: recorded.get(m, "vector") for m in dataset.modalities}
    return dict(kinds)


# ---------------------------------------------------------------------------------------------
# presence masks and audio-video synchronisation (notebook 01)
# ---------------------------------------------------------------------------------------------

_PRESENT_COLOUR = "#3b6ea5"


def draw_presence_mask(ax: Axes, mask: np.ndarray, columns: Sequence[str], *,
                       first_sample: int = 0) -> AxesImage:
    """A presence mask ``(n, M)`` as a grid: samples on x, modalities on y (row j = ``columns[j]``).

    Present cells (1) are blue, missing cells (0) light grey, with a legend; no grid over the
    cells. ``columns`` names the mask's columns, e.g. ``mmlib._common.mask_columns(...)`` (the
    sorted modality names of the ``modality_mask`` model input); ``first_sample`` is the index
    of the first row, for the x axis. Returns the ``AxesImage``.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    m = np.asarray(mask)
    if m.ndim != 2 or m.dtype.kind not in "biuf":
        raise ValueError(f"mask must be a numeric or boolean array of shape (n, M), got shape "
                         f"{m.shape} and dtype {m.dtype}.")
    if not np.isin(m, (0, 1)).all():
        raise ValueError(f"mask must hold only 0 / 1 (or False / True), got values "
                         f"{np.unique(m)[:6].tolist()}.")
    names = [str(c) for c in columns]
    if len(names) != m.shape[1]:
        raise ValueError(f"columns must name every column of mask ({m.shape[1]}), got "
                         f"{len(names)}: {names}.")
    first_sample = check_int("first_sample", first_sample, minimum=0)
    n = m.shape[0]
    extent = (first_sample - 0.5, first_sample + n - 0.5, len(names) - 0.5, -0.5)
    im = ax.imshow(m.T.astype(float), cmap=ListedColormap([_MISSING_COLOUR, _PRESENT_COLOUR]),
                   vmin=0, vmax=1, aspect="auto", interpolation="nearest", extent=extent)
    ax.grid(False)
    # thin white borders between the cells (not a grid over the picture: they separate samples)
    ax.vlines(np.arange(n - 1) + first_sample + 0.5, -0.5, len(names) - 0.5, color="white",
              lw=0.6 if n <= 100 else 0.0)
    ax.hlines(np.arange(len(names) - 1) + 0.5, extent[0], extent[1], color="white", lw=2.0)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("sample index")
    ax.tick_params(labelsize=_font("xtick.labelsize", -1))
    ax.legend(handles=[Patch(color=_PRESENT_COLOUR, label="present (1)"),
                       Patch(color=_MISSING_COLOUR, label="missing (0)")],
              loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False,
              fontsize=_font("legend.fontsize", -1), borderaxespad=0.2)
    return im


def plot_av_sync(video_curve: np.ndarray, fps: float, audio_curve: np.ndarray,
                 audio_rate: float, lags: np.ndarray, scores: np.ndarray, *,
                 offset: float | None = None, title: str | None = None) -> Figure:
    """Audio-video synchronisation of one clip: two change curves on one time axis, and the
    cross-correlation that aligns them.

    Three panels: (1) the video's change curve (e.g. motion energy between frames ``k`` and
    ``k + 1``, drawn as stems at the frame boundaries ``(k + 1) / fps``) and the audio's change
    curve (e.g. onset strength at ``audio_rate`` values per second) as recorded, each scaled to
    its maximum; (2) the same after moving the audio by the estimated offset
    ``lags[argmax(scores)]``; (3) the cross-correlation score against the lag (s), with the
    estimate and, if given, the true ``offset`` and a band of one video frame around it.
    Positive lag = audio late.

    Args:
        video_curve: ``(T - 1,)`` one value per pair of consecutive frames.
        fps: video frames per second (> 0).
        audio_curve: ``(R,)`` the audio curve at ``audio_rate`` values per second.
        audio_rate: values per second of ``audio_curve`` (> 0).
        lags: ``(L,)`` the lags tried, in seconds, increasing.
        scores: ``(L,)`` the cross-correlation score of each lag.
        offset: the true offset in seconds, if known (e.g. ``metadata["av_offset"]``).
        title: figure title.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    video = _curve("video_curve", video_curve)
    audio = _curve("audio_curve", audio_curve)
    lags, scores = _curve("lags", lags), _curve("scores", scores)
    if lags.shape != scores.shape:
        raise ValueError(f"lags and scores must have the same length, got {lags.size} and "
                         f"{scores.size}.")
    for name, value in (("fps", fps), ("audio_rate", audio_rate)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}.")
    estimate = float(lags[int(np.argmax(scores))])
    t_video = np.arange(1, video.size + 1) / float(fps)
    t_audio = np.arange(audio.size) / float(audio_rate)
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 7.0), layout="constrained",
                             gridspec_kw={"height_ratios": [1, 1, 1.1]})
    end = max(t_audio[-1], t_video[-1]) + 0.02
    for ax, shift, what in ((axes[0], 0.0, "as recorded"),
                            (axes[1], estimate, f"audio moved by {-estimate:+.3f} s (the "
                                                f"estimate)")):
        ax.plot(t_audio - shift, _unit_max(audio), color="tab:blue", lw=1.2,
                label="audio onset strength")
        ax.vlines(t_video, 0, _unit_max(video), color="tab:orange", lw=3,
                  label="video motion energy")
        ax.plot(t_video, _unit_max(video), "o", color="tab:orange", ms=4)
        ax.set_xlim(0.0, end)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("scaled to max")
        ax.set_title(what, fontsize=_font("axes.labelsize"), loc="left")
    axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False,
                   fontsize=_font("legend.fontsize", -1), borderaxespad=0.1)
    axes[1].set_xlabel("time (s)")
    ax = axes[2]
    ax.plot(lags, scores / (np.abs(scores).max() or 1.0), color="0.2", lw=1.2)
    if offset is not None:
        ax.axvspan(offset - 1 / fps, offset + 1 / fps, color="tab:green", alpha=0.15,
                   label="true offset +- 1 frame")
        ax.axvline(offset, color="tab:green", lw=1.5, label=f"true offset {offset:+.3f} s")
    ax.axvline(estimate, color="tab:red", ls="--", lw=1.5, label=f"estimate {estimate:+.3f} s")
    ax.set_xlabel("lag (s; positive = audio late)")
    ax.set_ylabel("correlation (scaled)")
    ax.set_title("cross-correlation over lags", fontsize=_font("axes.labelsize"), loc="left")
    ax.legend(loc="upper left", fontsize=_font("legend.fontsize", -1))
    if title:
        fig.suptitle(title, fontsize=_font("axes.labelsize", 2))
    return fig


def _curve(name: str, value: Any) -> np.ndarray:
    """``value`` as a non-empty finite 1-D float array, or a ValueError naming ``name``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got shape "
                         f"{arr.shape}.")
    return arr


def _unit_max(x: np.ndarray) -> np.ndarray:
    top = float(np.max(np.abs(x)))
    return x / top if top > 0 else x
