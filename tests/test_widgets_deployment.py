"""Widgets of notebook 08 (efficient deployment): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402


def _table():
    import pandas as pd

    rows = []
    for precision, size, acc, lat in [("keras", 250.0, 0.92, 8.0), ("float32", 68.0, 0.92, 0.05),
                                      ("float16", 40.0, 0.92, 0.06), ("int8", 29.0, 0.915, 0.08)]:
        for batch in (64, 1):
            rows.append((precision, batch, size, acc, lat / (10 if batch == 64 else 1)))
    return pd.DataFrame(rows, columns=list(widgets.PRECISION_COLUMNS))


def test_precision_options_keep_the_table_order_and_sort_batch_sizes():
    assert widgets.precision_options(_table()) == (["keras", "float32", "float16", "int8"],
                                                    [1, 64])


def test_precision_figure_draws_the_chosen_batch_and_highlights_the_precision():
    table = _table()
    fig = widgets.precision_figure(table, "int8", 64)
    size_ax, acc_ax, lat_ax = fig.axes
    assert [p.get_height() for p in size_ax.patches] == pytest.approx([250, 68, 40, 29])
    assert [p.get_height() for p in acc_ax.patches] == pytest.approx([0.92, 0.92, 0.92, 0.915])
    assert [p.get_height() for p in lat_ax.patches] == pytest.approx([0.8, 0.005, 0.006, 0.008])
    colours = [p.get_facecolor() for p in size_ax.patches]
    assert colours[3] != colours[0] and colours[0] == colours[1] == colours[2]
    assert "batch 64" in lat_ax.get_title() and "int8" in fig._suptitle.get_text()
    assert lat_ax.get_yscale() == "log" and lat_ax.get_ylim()[0] == pytest.approx(0.0025)
    assert size_ax.texts[0].get_text() == "29.0"
    one = widgets.precision_figure(table, "keras", 1).axes[2]
    assert [p.get_height() for p in one.patches] == pytest.approx([8.0, 0.05, 0.06, 0.08])
    plt.close("all")


def test_precision_figure_rejects_bad_arguments():
    table = _table()
    with pytest.raises(TypeError, match="table must be a pandas DataFrame"):
        widgets.precision_figure(table.to_dict(), "int8", 1)
    with pytest.raises(ValueError, match="lacking \\['latency_ms'\\]"):
        widgets.precision_figure(table.drop(columns="latency_ms"), "int8", 1)
    with pytest.raises(ValueError, match="precision must be one of .* got 'int4'"):
        widgets.precision_figure(table, "int4", 1)
    with pytest.raises(ValueError, match="batch_size must be one of the table's batch sizes "
                                         "\\[1, 64\\], got 32"):
        widgets.precision_figure(table, "int8", 32)
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        widgets.precision_figure(table.assign(accuracy=92.0), "int8", 1)
    with pytest.raises(ValueError, match="size_kb'\\] must hold positive numbers"):
        widgets.precision_figure(table.assign(size_kb=0.0), "int8", 1)
    with pytest.raises(ValueError, match="one row per \\(precision, batch_size\\)"):
        widgets.precision_figure(table.assign(batch_size=1), "int8", 1)


def test_precision_explorer_snapshots_the_first_setting_and_redraws(monkeypatch):
    from mmlib.widgets import deployment

    view = widgets.precision_explorer(_table())
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    precision, batch = view.widget.children[0].children
    assert precision.value == "keras" and batch.value == 1
    drawn = []
    original = deployment.precision_figure

    def spy(table, precision, batch_size):
        drawn.append((precision, batch_size))
        return original(table, precision, batch_size)

    monkeypatch.setattr(deployment, "precision_figure", spy)
    precision.value = "int8"  # each change redraws with the controls' values
    batch.value = 64
    assert drawn == [("int8", 1), ("int8", 64)]
    plt.close("all")
