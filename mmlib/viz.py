"""Plotting helpers (可视化): draw every kind of modality the course datasets hold.

:func:`plot_samples` draws a grid of samples (rows) x modalities (columns) of a dataset such
as :class:`mmlib.data.MultimodalDataset` (any object with ``name``, ``modalities``, ``labels``,
``masks``, ``metadata``, ``info`` and ``len()``), choosing a drawing per modality *kind* — one for
every kind of the course's vocabulary (:data:`mmlib._common.KINDS`):

=============== =============================================================================
kind            drawing
=============== =============================================================================
``image``       the picture (grayscale or RGB, values in [0, 1])
``audio``       two panels: the waveform, and its log-mel spectrogram
``spectrogram`` a precomputed ``(frames, bands)`` spectrogram, time on the x axis
``text``        the raw text (or the decoded token ids), wrapped
``tabular``     feature name, value and unit per row; missing values (NaN) as a dash
``vector``      a bar chart, coloured by feature group when the dataset defines groups
``point_cloud`` two panels: a bird's-eye view of a point cloud (forward up, the sensor as a red
                triangle) and a side view (forward x height), coloured by height
``heatmap``     a 2-D map with labelled axes (e.g. radar range x radial speed)
``video``       the frames side by side, time running to the right
=============== =============================================================================

Each ``draw_*`` function draws one sample on one matplotlib ``Axes`` and can be used alone. This
module never imports :mod:`mmlib.data` (the dataset is duck-typed) and imports matplotlib only
when drawing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmlib._common import KINDS, check_kind, rng
from mmlib._validate import check_choice, check_int
from mmlib.preprocess.signal import log_mel_spectrogram

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_PANELS: dict[str, tuple[tuple[str, float], ...]] = {
    "image": (("image", 1.0),),
    "audio": (("wave", 1.6), ("spec", 1.4)),
    "spectrogram": (("spectrogram", 1.5),),
    "text": (("text", 1.9),),
    "tabular": (("tabular", 2.4),),
    "vector": (("vector", 1.8),),
    "point_cloud": (("points", 1.2), ("side", 1.5)),
    "heatmap": (("heatmap", 1.2),),
    "video": (("video", 0.42),),  # width per frame
}
"""Kind -> its panels (columns) in :func:`plot_samples`: (panel, relative width)."""
if set(_PANELS) != set(KINDS):  # pragma: no cover - caught by the tests
    raise ImportError(f"mmlib.viz draws kinds {sorted(_PANELS)}, but KINDS is {sorted(KINDS)}.")
_MISSING_COLOUR = "#eeeeee"


def draw_image(ax: Axes, image: np.ndarray, title: str | None = None) -> None:
    """An image ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` with values in [0, 1]."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def draw_waveform(ax: Axes, wave: np.ndarray, sample_rate: float, *, xlabel: bool = True,
                  ylim: float | None = None) -> None:
    """A waveform ``(samples,)`` against time in seconds; y axis +-``ylim`` (default: its peak)."""
    wave = np.asarray(wave, dtype=float)
    t = np.arange(wave.size) / sample_rate
    ax.plot(t, wave, lw=0.4, color="tab:blue")
    lim = max(1e-6, float(np.abs(wave).max()) if ylim is None else float(ylim))
    ax.set_xlim(0, t[-1] if t.size else 1)
    ax.set_ylim(-1.05 * lim, 1.05 * lim)
    ax.set_yticks([])
    if xlabel:
        ax.set_xlabel("time (s)")


def draw_spectrogram(ax: Axes, spec: np.ndarray, duration: float | None = None, *,
                     xlabel: bool = True, vmin: float | None = None,
                     vmax: float | None = None) -> None:
    """A spectrogram ``(frames, bands)`` (time on the x axis, low bands at the bottom)."""
    spec = np.asarray(spec, dtype=float)
    if spec.ndim == 3:
        spec = spec[..., 0]
    extent = None if duration is None else (0, duration, 0, spec.shape[1])
    ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", extent=extent,
              interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.set_ylabel("mel band")
    if xlabel:
        ax.set_xlabel("time (s)" if duration is not None else "frame")


def _log_mel(wave: np.ndarray, sample_rate: float) -> np.ndarray:
    frame_length = 256 if sample_rate >= 6000 else 128
    return log_mel_spectrogram(np.asarray(wave, dtype=np.float32), sample_rate,
                               frame_length=frame_length, frame_step=frame_length // 4, n_mels=32)


def draw_audio(ax_wave: Axes, ax_spec: Axes, wave: np.ndarray, sample_rate: float, *,
               xlabel: bool = True, ylim: float | None = None,
               vrange: tuple[float, float] | None = None) -> None:
    """Waveform on ``ax_wave`` and its log-mel spectrogram on ``ax_spec``.

    ``ylim`` fixes the waveform's y range and ``vrange`` the spectrogram's colour range (natural
    log power; default: its 5th to 99.5th percentile), so that several clips can be compared.
    """
    draw_waveform(ax_wave, wave, sample_rate, xlabel=xlabel, ylim=ylim)
    spec = _log_mel(wave, sample_rate)
    lo, hi = np.percentile(spec, (5, 99.5)) if vrange is None else vrange
    draw_spectrogram(ax_spec, spec, duration=len(wave) / sample_rate, xlabel=xlabel,
                     vmin=float(lo), vmax=float(hi))
    if not xlabel:
        ax_wave.set_xticklabels([])
        ax_spec.set_xticklabels([])


def draw_text(ax: Axes, text: str, width: int = 34) -> None:
    """Wrapped text in a frame."""
    wrapped = "\n".join(textwrap.fill(line, width) for line in str(text).split("\n"))
    ax.text(0.03, 0.95, wrapped, va="top", ha="left", fontsize=8, family="monospace",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_table(ax: Axes, values: np.ndarray, names: Sequence[str],
               units: Sequence[str] | None = None) -> None:
    """One row per feature: name, value (NaN shown as a dash) and unit."""
    units = units or [""] * len(names)
    lines = []
    for name, val, unit in zip(names, np.asarray(values, dtype=float), units, strict=True):
        shown = "-" if np.isnan(val) else f"{val:.4g}"
        lines.append(f"{name[:11]:<11} {shown:>6} {unit[:8]}")
    per_col = int(np.ceil(len(lines) / 2)) if len(lines) > 8 else len(lines)
    for col, start in enumerate(range(0, len(lines), per_col)):
        ax.text(0.02 + 0.5 * col, 0.97, "\n".join(lines[start: start + per_col]), va="top",
                ha="left", fontsize=7, family="monospace", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_points(ax: Axes, points: np.ndarray, *, labels: bool = True, view: str = "top") -> None:
    """A view of points ``(N, 3)`` = (x forward, y left, z up, in m), coloured by height.

    ``view="top"``: bird's-eye view (forward up, the sensor as a red triangle);
    ``view="side"``: forward distance against height, where objects stand out of the ground.
    """
    p = np.asarray(points, dtype=float)
    p = p[np.argsort(p[:, 2])]  # high points drawn last, on top of the ground
    high = p[:, 2] > p[:, 2].min() + 0.25
    check_choice("view", view, ("top", "side"))
    size = np.where(high, 7, 2)
    if view == "top":
        ax.scatter(-p[:, 1], p[:, 0], c=p[:, 2], s=size, cmap="viridis", vmin=-1.8, vmax=0.5,
                   linewidths=0)
        ax.plot([0], [0], marker="^", color="red", ms=6)
        ax.set_aspect("equal", adjustable="datalim")
        xlabel, ylabel = "right (m)", "forward (m)"
    else:
        ax.scatter(p[:, 0], p[:, 2], c=p[:, 2], s=size, cmap="viridis", vmin=-1.8, vmax=0.5,
                   linewidths=0)
        ax.plot([0], [0], marker=">", color="red", ms=6)
        ax.set_ylim(-2.0, 1.2)
        xlabel, ylabel = "forward (m)", "height (m)"
    ax.tick_params(labelsize=7)
    if labels:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)


def draw_heatmap(ax: Axes, grid: np.ndarray, axes: tuple[str, str] | None = None,
                 extent: tuple[float, float, float, float] | None = None) -> None:
    """A 2-D map ``(rows, cols)``: rows on the y axis (``axes[0]``), columns on x (``axes[1]``).

    ``extent = (row_min, row_max, col_min, col_max)`` in data units.
    """
    g = np.asarray(grid, dtype=float)
    if g.ndim == 3:
        g = g[..., 0]
    ext = None if extent is None else (extent[2], extent[3], extent[0], extent[1])
    ax.imshow(g, origin="lower", aspect="auto", cmap="inferno", extent=ext,
              interpolation="nearest")
    if axes:
        ax.set_ylabel(axes[0])
        ax.set_xlabel(axes[1])
    ax.tick_params(labelsize=7)


def draw_video(ax: Axes, frames: np.ndarray, fps: float | None = None) -> None:
    """Frames ``(T, H, W[, C])`` side by side with a thin white gap, time running right."""
    v = np.asarray(frames, dtype=float)
    if v.ndim == 4 and v.shape[-1] == 1:
        v = v[..., 0]
    t, h, w = v.shape[:3]
    gap = 1
    strip = np.ones((h, t * (w + gap) - gap) + v.shape[3:])
    for i in range(t):
        strip[:, i * (w + gap): i * (w + gap) + w] = v[i]
    if strip.ndim == 2:
        ax.imshow(strip, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(np.clip(strip, 0, 1), interpolation="nearest")
    ax.set_yticks([])
    ticks = [i * (w + gap) + w / 2 for i in range(t)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{i / fps:.2g}" if fps else str(i) for i in range(t)], fontsize=7)


def draw_vector(ax: Axes, vec: np.ndarray, groups: dict[str, Sequence[int]] | None = None, *,
                legend: bool = True, ylabel: str | None = None) -> None:
    """A bar chart of a feature vector ``(d,)``; bars coloured by ``groups`` (name -> indices)."""
    v = np.asarray(vec, dtype=float)
    colours = np.array(["0.6"] * v.size, dtype=object)
    handles = []
    if groups:
        palette = ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple"]
        for (name, idx), col in zip(groups.items(), palette, strict=False):
            colours[list(idx)] = col
            handles.append((name, col))
    ax.bar(np.arange(v.size), v, width=1.0, color=list(colours))
    ax.set_xlim(-0.5, v.size - 0.5)
    ax.tick_params(labelsize=7)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=7)
    if handles and legend:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=nm) for nm, c in handles], fontsize=6,
                  loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
                  frameon=False, handlelength=1.0, columnspacing=0.8)


def _row_label(ds, i: int) -> str:
    parts = [f"#{i}"]
    for task, y in ds.labels.items():
        names = ds.info.get("class_names", {}).get(task)
        unit = ds.info.get("label_units", {}).get(task, "")
        parts.append(f"{task}: {names[int(y[i])]}" if names else
                     f"{task}: {float(y[i]):.3g} {unit}".rstrip())
    for key, names in ds.info.get("row_label_metadata", {}).items():
        val = ds.metadata[key][i]
        parts.append(f"{key}: {names[int(val)]}" if names else f"{key}: {val}")
    return "\n".join(parts)


def _text_of(ds, m: str, i: int) -> str:
    source = ds.info.get("text_source", {}).get(m)
    answer = ds.info.get("text_answer", {}).get(m)
    if answer and answer in ds.metadata and source in ds.metadata:
        return f"Q: {ds.metadata[source][i]}\nA: {ds.metadata[answer][i]}"
    if source and source in ds.metadata:
        return str(ds.metadata[source][i])
    vocab = ds.info.get("vocab")
    if vocab is not None:
        return " ".join(vocab[t] for t in ds.modalities[m][i] if t != 0)
    return " ".join(str(t) for t in ds.modalities[m][i] if t != 0)


def plot_samples(dataset: Any, n: int = 4, *, indices: Sequence[int] | None = None, seed: int = 0,
                 modalities: Sequence[str] | None = None) -> Figure:
    """Draw samples (rows) x modalities (columns) of a :class:`mmlib.data.MultimodalDataset`.

    Each modality is drawn by its kind (``dataset.kinds``, else ``dataset.info["kinds"]``;
    ``"vector"`` when not recorded): see the table in :mod:`mmlib.viz`.

    Args:
        dataset: the dataset (duck-typed: ``name``, ``modalities``, ``labels``, ``masks``,
            ``metadata``, ``info`` and ``len()``).
        n: number of random samples (ignored when ``indices`` is given).
        indices: which samples to draw.
        seed: seed for choosing the random samples.
        modalities: which modalities (default: all), in this order.

    Returns:
        The matplotlib ``Figure`` (created with ``pyplot``, so a notebook shows it; assign it,
        e.g. ``fig = ds.plot_samples()``, to keep the notebook from also printing its repr).
    """
    import matplotlib.pyplot as plt

    rows = _sample_rows(len(dataset), n, indices, seed)
    mods = list(dataset.modalities) if modalities is None else list(modalities)
    for m in mods:
        check_choice("modalities", m, list(dataset.modalities))
    columns, widths = _columns(dataset, mods)
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False, layout="constrained",
                             figsize=(1.75 * sum(widths) + 1.0, 1.9 * len(rows) + 0.3),
                             gridspec_kw={"width_ratios": widths})
    scales = _scales(dataset, columns, rows)
    titles = {"wave": "{}: waveform", "spec": "{}: log-mel", "points": "{}: top view",
              "side": "{}: side view", "vector": "{}\n"}
    for r, i in enumerate(rows):
        for c, (m, panel) in enumerate(columns):
            ax = axes[r, c]
            if r == 0:
                ax.set_title(titles.get(panel, "{}").format(m), fontsize=9)
            if not dataset.masks[m][i]:
                ax.set_facecolor(_MISSING_COLOUR)
                ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes,
                        color="0.4")
                ax.set_xticks([])
                ax.set_yticks([])
            elif panel == "wave":  # draws this panel and the next one (the spectrogram)
                draw_audio(ax, axes[r, c + 1], dataset.modalities[m][i],
                           dataset.info.get("sample_rate", 8000), xlabel=r == len(rows) - 1,
                           ylim=scales["wave"][m], vrange=scales["spec"][m])
            elif panel != "spec":
                _draw_panel(ax, dataset, m, panel, i, r, r == len(rows) - 1, scales)
        axes[r, 0].text(-0.08, 0.5, _row_label(dataset, i), transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=8)
    fig.suptitle(f"{dataset.name}: {len(rows)} of {len(dataset)} samples", fontsize=10)
    return fig


def _sample_rows(total: int, n: int, indices: Sequence[int] | None, seed: int) -> np.ndarray:
    """The samples to draw: ``indices`` (checked), else ``n`` random ones, sorted."""
    if indices is None:
        n = check_int("n", n, minimum=1, maximum=32)
        check_int("seed", seed, minimum=0)
        return np.sort(rng(seed).choice(total, size=min(n, total), replace=False))
    rows = np.asarray(indices, dtype=int).ravel()
    if rows.size == 0 or rows.min() < 0 or rows.max() >= total:
        raise ValueError(f"indices must be non-empty sample indices in [0, {total}), got "
                         f"{list(rows)}.")
    return rows


def _columns(dataset: Any, mods: list[str]) -> tuple[list[tuple[str, str]], list[float]]:
    """The figure's columns, (modality, panel), and their relative widths."""
    kinds = _kinds(dataset)
    columns: list[tuple[str, str]] = []
    widths: list[float] = []
    for m in mods:
        kind = check_kind(f"the kind of modality {m!r}", kinds[m])
        for panel, width in _PANELS[kind]:
            columns.append((m, panel))
            widths.append(width * dataset.modalities[m].shape[1] if kind == "video" else width)
    return columns, widths


def _scales(dataset: Any, columns: list[tuple[str, str]], rows: np.ndarray) -> dict[str, dict]:
    """Scales shared by a column: one y range per waveform and one colour range per log-mel
    (so loud and quiet clips compare), and the mean / std of each vector (for z-scores)."""
    mods = dataset.modalities
    wave = {m: float(np.abs(mods[m][rows]).max()) or 1.0 for m, p in columns if p == "wave"}
    spec = {m: tuple(np.percentile(_log_mel(mods[m][rows], dataset.info.get("sample_rate", 8000)),
                                   (5, 99.5))) for m in wave}
    vector = {m: (np.nanmean(mods[m], axis=0), np.nanstd(mods[m], axis=0) + 1e-8)
              for m, p in columns if p == "vector" and mods[m].ndim == 2}
    return {"wave": wave, "spec": spec, "vector": vector}


def _draw_panel(ax: Axes, dataset: Any, m: str, panel: str, i: int, r: int, last: bool,
                scales: dict[str, dict]) -> None:
    """Draw sample ``i`` of modality ``m`` as ``panel`` (all panels but audio's) on ``ax``."""
    x, info = dataset.modalities[m][i], dataset.info
    if panel == "image":
        draw_image(ax, x)
    elif panel == "spectrogram":
        draw_spectrogram(ax, x, xlabel=last)
    elif panel == "text":
        draw_text(ax, _text_of(dataset, m, i))
    elif panel == "tabular":
        names = info.get("feature_names", {}).get(m) or [f"{m}_{j}" for j in range(len(x))]
        draw_table(ax, x, names, info.get("feature_units", {}).get(m))
    elif panel in ("points", "side"):
        draw_points(ax, x, labels=last, view="top" if panel == "points" else "side")
    elif panel == "heatmap":
        draw_heatmap(ax, x, info.get("heatmap_axes", {}).get(m) if last else None,
                     info.get("heatmap_extent", {}).get(m))
    elif panel == "video":
        draw_video(ax, x, info.get("fps"))
        if last:
            ax.set_xlabel("time (s)")
    elif m in scales["vector"]:  # standardised against the whole dataset: patterns stand out
        mean, std = scales["vector"][m]
        draw_vector(ax, (x - mean) / std, info.get("feature_groups", {}).get(m), legend=r == 0,
                    ylabel="z-score")
    else:
        draw_vector(ax, np.ravel(x), info.get("feature_groups", {}).get(m), legend=r == 0)


def _kinds(dataset: Any) -> dict[str, str]:
    """Modality -> kind: ``dataset.kinds`` if it has them, else ``info["kinds"]`` (default
    ``"vector"``)."""
    kinds = getattr(dataset, "kinds", None)
    if kinds is None:
        recorded = getattr(dataset, "info", {}).get("kinds", {})
        kinds = {m: recorded.get(m, "vector") for m in dataset.modalities}
    return dict(kinds)
