"""Widgets of notebook 05 (fusion): accuracy of each fusion method under noise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, check_table, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


FUSION_FAMILIES = ("unimodal", "early", "late", "intermediate")
"""Families of the fusion methods, in the order of the legend of :func:`fusion_noise_figure`."""
_FAMILY_COLOURS = {"unimodal": "#8c8c8c", "early": "#0173b2", "late": "#de8f05",
                   "intermediate": "#029e73"}
NOISE_GRID_COLUMNS = ("method", "family", "image_noise", "audio_snr", "accuracy")
"""Columns of the accuracy grid behind :func:`fusion_noise_explorer` (one row per method and
noise setting; ``audio_snr`` is ``inf`` when no noise is added to the audio)."""


def _check_noise_grid(grid: Any) -> Any:

    grid = check_table("grid", grid, NOISE_GRID_COLUMNS, ["accuracy"])
    families = sorted(set(grid["family"]) - set(FUSION_FAMILIES))
    if families:
        raise ValueError(f"grid['family'] must hold only {list(FUSION_FAMILIES)}, got {families}.")
    return grid


def noise_levels(grid: Any) -> tuple[list[float], list[float]]:
    """The image-noise levels (ascending) and audio SNRs (descending: ``inf`` = no extra noise
    first) of an accuracy grid with the columns :data:`NOISE_GRID_COLUMNS`."""
    grid = _check_noise_grid(grid)
    return (sorted(float(v) for v in grid["image_noise"].unique()),
            sorted((float(v) for v in grid["audio_snr"].unique()), reverse=True))


def snr_label(snr_db: float) -> str:
    """``"none"`` for ``inf`` (no noise added), else e.g. ``"0 dB"``."""
    return "none" if snr_db == float("inf") else f"{snr_db:g} dB"


def _pick_level(name: str, value: Any, levels: list[float]) -> float:
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    for level in levels:
        if float(value) == level or abs(float(value) - level) < 1e-9:
            return level
    raise ValueError(f"{name} must be one of the grid's levels {levels}, got {value}.")


def fusion_noise_figure(grid: Any, image_noise: float, audio_snr: float) -> Figure:
    """Test accuracy of every method of ``grid`` at one image-noise / audio-SNR setting.

    The plain function behind :func:`fusion_noise_explorer`. One horizontal bar per method (in
    the order of the grid), coloured by its family (:data:`FUSION_FAMILIES`); a black tick marks
    the same method without added noise (the lowest image noise and the highest SNR of the grid);
    a dashed line marks the best unimodal method at this setting, so a fusion method that falls
    to its left does worse than one modality alone.

    Args:
        grid: ``pandas.DataFrame`` with the columns :data:`NOISE_GRID_COLUMNS` (``accuracy`` a
            fraction, typically the mean over seeds).
        image_noise: one of the grid's ``image_noise`` levels (standard deviation of the
            Gaussian pixel noise added to the images, pixel values in [0, 1]).
        audio_snr: one of the grid's ``audio_snr`` levels (dB; ``inf`` = nothing added).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    img_levels, snr_levels = noise_levels(grid)
    image_noise = _pick_level("image_noise", image_noise, img_levels)
    audio_snr = _pick_level("audio_snr", audio_snr, snr_levels)
    methods = list(dict.fromkeys(grid["method"]))
    table = grid.groupby(["method", "image_noise", "audio_snr"])["accuracy"].mean()
    family = dict(zip(grid["method"], grid["family"], strict=True))
    now = [table.get((m, image_noise, audio_snr), float("nan")) for m in methods]
    clean = [table.get((m, img_levels[0], snr_levels[0]), float("nan")) for m in methods]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(methods) + 1.6))
    y = range(len(methods))
    ax.barh(y, now, color=[_FAMILY_COLOURS[family[m]] for m in methods], height=0.7)
    ax.scatter(clean, y, marker="|", s=220, color="black", zorder=3)
    uni = [a for m, a in zip(methods, now, strict=True) if family[m] == "unimodal"]
    if uni:
        ax.axvline(max(uni), color="black", linestyle="--", linewidth=1)
    for yi, acc in zip(y, now, strict=True):
        inside = acc >= 0.15
        ax.text(acc - 0.01 if inside else acc + 0.01, yi, f"{acc:.2f}", va="center",
                ha="right" if inside else "left", fontsize="small",
                color="white" if inside else "black")
    ax.set_yticks(list(y), methods)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("test accuracy (fraction of digits recognised)")
    audio = ("no noise added" if audio_snr == float("inf")
             else f"white noise at {snr_label(audio_snr)} SNR")
    ax.set_title(f"Image: pixel noise σ = {image_noise:.2f} · audio: {audio}")
    handles = [Patch(color=_FAMILY_COLOURS[f], label=f) for f in FUSION_FAMILIES
               if f in family.values()]
    handles += [Line2D([], [], color="black", marker="|", linestyle="", markersize=12,
                       label="without added noise"),
                Line2D([], [], color="black", linestyle="--", label="best single modality here")]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize="small",
              frameon=False)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def fusion_noise_explorer(grid: Any) -> WithStaticView:
    """Two sliders (image noise, audio SNR) over a precomputed accuracy grid; the figure is
    :func:`fusion_noise_figure`. Nothing is trained or evaluated while dragging: every setting's
    accuracy is a row of ``grid``, so the widget is instant. The static view shows the noiseless
    setting."""
    import ipywidgets as w

    img_levels, snr_levels = noise_levels(grid)
    layout = w.Layout(width="340px")
    image = w.SelectionSlider(options=[(f"{v:.2f}", v) for v in img_levels], value=img_levels[0],
                              description="Image σ", layout=layout)
    audio = w.SelectionSlider(options=[(snr_label(v), v) for v in snr_levels],
                              value=snr_levels[0], description="Audio SNR", layout=layout)

    def draw(image_noise: float, audio_snr: float) -> Figure:
        return fusion_noise_figure(grid, image_noise, audio_snr)

    return interactive_figure({"image_noise": image, "audio_snr": audio}, draw,
                              "Accuracy of each fusion method as noise is added to one modality")
