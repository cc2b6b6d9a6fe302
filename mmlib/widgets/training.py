"""Widgets of notebook 06 (training strategies): the loss-weight slider and modality imbalance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmlib.widgets._base import WithStaticView, check_table, interactive_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


PROBE_COLUMNS = ("method", "seed", "fused", "image", "audio")
"""Columns of the result table behind :func:`imbalance_explorer`: one row per method and seed,
the fused model's test accuracy and each modality's linear-probe accuracy (fractions)."""
CURVE_COLUMNS = ("method", "seed", "epoch", "val_accuracy")
"""Columns of the learning-curve table: validation accuracy of the fused output per epoch."""


def probe_summary(results: Any) -> Any:
    """Mean and standard deviation over seeds of every column of :data:`PROBE_COLUMNS`.

    Returns a DataFrame indexed by method (in the order of first appearance) with the columns
    ``fused``, ``image``, ``audio`` (means) and ``fused_std``, ``image_std``, ``audio_std``
    (sample standard deviations over the seeds; 0 for a single seed).
    """
    results = check_table("results", results, PROBE_COLUMNS, ["fused", "image", "audio"])
    order = list(dict.fromkeys(results["method"]))
    cols = ["fused", "image", "audio"]
    grouped = results.groupby("method", sort=False)[cols]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    out = mean.join(std.add_suffix("_std"))
    return out.loc[order]


def imbalance_figure(results: Any, curves: Any, method: str) -> Figure:
    """Learning curves and probe accuracies of one method, against the first method (baseline).

    The plain function behind :func:`imbalance_explorer`. Left: validation accuracy of the fused
    output per epoch, mean over seeds, every method in grey and ``method`` in colour. Right: the
    fused test accuracy and each modality's linear-probe accuracy of ``method`` (bars, mean ± std
    over seeds), with the baseline's values as black ticks.

    Args:
        results: DataFrame with the columns :data:`PROBE_COLUMNS`.
        curves: DataFrame with the columns :data:`CURVE_COLUMNS`.
        method: one of the methods of ``results``.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    summary = probe_summary(results)
    curves = check_table("curves", curves, CURVE_COLUMNS, ["val_accuracy"])
    methods = list(summary.index)
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}.")
    absent = [m for m in methods if m not in set(curves["method"])]
    if absent:
        raise ValueError(f"curves has no rows for the methods {absent}.")
    baseline = methods[0]
    fig, (ax_c, ax_b) = plt.subplots(1, 2, figsize=(10, 3.8))
    mean_curves = curves.groupby(["method", "epoch"])["val_accuracy"].mean()
    for m in methods:
        c = mean_curves.loc[m]
        chosen = m == method
        ax_c.plot(c.index, c.to_numpy(), color="C0" if chosen else "0.75",
                  linewidth=2.5 if chosen else 1.2, zorder=3 if chosen else 2,
                  label=m if chosen else None)
    ax_c.plot([], [], color="0.75", label="other methods")
    ax_c.set(xlabel="epoch", ylabel="validation accuracy (fused)", ylim=(0, 1),
             title="Learning curve of the fused model")
    ax_c.legend(loc="lower right", fontsize="small")
    parts = ["fused", "image", "audio"]
    labels = ["fused model", "image probe", "audio probe"]
    row, base = summary.loc[method], summary.loc[baseline]
    x = np.arange(len(parts))
    ax_b.bar(x, [row[p] for p in parts], yerr=[row[f"{p}_std"] for p in parts], capsize=4,
             color=["#0173b2", "#de8f05", "#029e73"], width=0.6)
    ax_b.scatter(x, [base[p] for p in parts], marker="_", s=900, color="black", zorder=3,
                 label=f"{baseline} (baseline)")
    for xi, p in zip(x, parts, strict=True):
        ax_b.text(xi, row[p] / 2, f"{row[p]:.3f}", ha="center", color="white", fontsize="small")
    ax_b.set_xticks(x, labels)
    ax_b.set(ylabel="test accuracy", ylim=(0, 1), title=f"{method}: fused and probe accuracy")
    ax_b.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def imbalance_explorer(results: Any, curves: Any) -> WithStaticView:
    """A menu of training methods over precomputed results; the figure is
    :func:`imbalance_figure`. Nothing is trained while choosing: every method's curves and probe
    accuracies are rows of ``results`` and ``curves``. The static view shows the first method."""
    import ipywidgets as w

    methods = list(probe_summary(results).index)
    menu = w.Dropdown(options=methods, value=methods[0], description="Method",
                      layout=w.Layout(width="360px"))

    def draw(method: str) -> Figure:
        return imbalance_figure(results, curves, method)

    return interactive_figure({"method": menu}, draw,
                              "Fused accuracy and per-modality probes of each training method")


LOSS_WEIGHT_COLUMNS = ("risk_weight", "diagnosis accuracy", "risk RMSE")
"""Columns of the loss-weight sweep behind :func:`loss_weight_explorer`: one row per fixed weight
``w_2`` of the risk loss (the diagnosis loss keeps ``w_1 = 1``) with both tasks' validation
metrics."""


def loss_weight_figure(sweep: Any, risk_weight: float) -> Figure:
    """Both tasks' validation metrics against the risk weight ``w_2`` (log axis), the chosen
    ``risk_weight`` marked and its two values in the titles."""
    import matplotlib.pyplot as plt
    import numpy as np

    sweep = check_table("sweep", sweep, LOSS_WEIGHT_COLUMNS, ["diagnosis accuracy"])
    weights = sweep["risk_weight"].to_numpy(dtype=float)
    if not np.any(np.isclose(weights, risk_weight)):
        raise ValueError(f"risk_weight must be one of the swept weights "
                         f"{sorted(weights.tolist())}, got {risk_weight!r}.")
    sweep = sweep.sort_values("risk_weight")
    row = sweep[np.isclose(sweep["risk_weight"], risk_weight)].iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, col, better, colour in ((axes[0], "diagnosis accuracy", "higher", "#0173b2"),
                                    (axes[1], "risk RMSE", "lower", "#de8f05")):
        ax.plot(sweep["risk_weight"], sweep[col], "o-", color=colour)
        ax.axvline(risk_weight, color="grey", linestyle="--", linewidth=1)
        ax.plot([risk_weight], [row[col]], "o", color="black", markersize=8)
        ax.set_xscale("log")
        ax.set_xlabel("risk loss weight $w_2$ (diagnosis weight $w_1 = 1$)")
        ax.set_ylabel(f"validation {col}")
        ax.set_title(f"{col[0].upper()}{col[1:]} ({better} is better): {row[col]:.3f}")
    fig.tight_layout()
    return fig


def loss_weight_explorer(sweep: Any) -> WithStaticView:
    """A slider over the swept risk weights; the figure is :func:`loss_weight_figure`. Nothing
    is trained while dragging. The static view shows the weight 1 (or the smallest swept)."""
    import ipywidgets as w
    import numpy as np

    sweep = check_table("sweep", sweep, LOSS_WEIGHT_COLUMNS, ["diagnosis accuracy"])
    weights = sorted(float(v) for v in sweep["risk_weight"])
    start = next((v for v in weights if np.isclose(v, 1.0)), weights[0])
    slider = w.SelectionSlider(options=[(f"{v:g}", v) for v in weights], value=start,
                               description="w₂ (risk)", layout=w.Layout(width="360px"))

    def draw(risk_weight: float) -> Figure:
        return loss_weight_figure(sweep, risk_weight)

    return interactive_figure({"risk_weight": slider}, draw,
                              "Both tasks' validation metrics as the risk loss weight changes")
