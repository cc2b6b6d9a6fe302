"""Widgets of notebook 11 (smart security): the alert trade-off, checked by hand counts."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmlib import widgets  # noqa: E402

# 4 event clips and 6 normal clips; at threshold 0.5: 3 of 4 events and 2 of 6 normal flagged
SCORES = np.array([0.9, 0.8, 0.6, 0.1, 0.7, 0.55, 0.3, 0.2, 0.1, 0.0])
EVENT = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_alert_tradeoff_counts_alerts_misses_and_precision_by_hand():
    got = widgets.alert_tradeoff(SCORES, EVENT, 0.5, clips_per_hour=100)
    assert set(got) == set(widgets.ALERT_KEYS)
    assert got["recall"] == pytest.approx(3 / 4)
    assert got["false_positive_rate"] == pytest.approx(2 / 6)
    assert got["event_rate"] == pytest.approx(0.4)
    assert got["precision"] == pytest.approx(3 / 5)  # 3 true of 5 flagged clips
    assert got["alerts_per_hour"] == pytest.approx(100 * 5 / 10)
    assert got["false_alarms_per_hour"] == pytest.approx(100 * 2 / 10)
    assert got["missed_per_hour"] == pytest.approx(100 * 1 / 10)
    assert got["events_per_hour"] == pytest.approx(40)
    # at a rarer event rate: the same recall and FPR, fewer true alerts, lower precision
    rare = widgets.alert_tradeoff(SCORES, EVENT, 0.5, clips_per_hour=3600, event_rate=0.001)
    assert rare["recall"] == got["recall"]
    assert rare["precision"] == pytest.approx(0.001 * 0.75 / (0.001 * 0.75 + 0.999 / 3))
    assert rare["false_alarms_per_hour"] == pytest.approx(3600 * 0.999 / 3)
    assert rare["missed_per_hour"] == pytest.approx(3600 * 0.001 * 0.25)
    # sklearn's precision and recall agree at the labelled rate
    from sklearn.metrics import precision_score, recall_score

    pred = SCORES >= 0.5
    assert got["precision"] == pytest.approx(precision_score(EVENT, pred))
    assert got["recall"] == pytest.approx(recall_score(EVENT, pred))
    nothing = widgets.alert_tradeoff(SCORES, EVENT, 2.0)
    assert np.isnan(nothing["precision"]) and nothing["alerts_per_hour"] == 0
    assert nothing["missed_per_hour"] == pytest.approx(widgets.ALERT_CLIPS_PER_HOUR * 0.4)


def test_alert_curve_is_monotone_in_the_threshold():
    curve = widgets.alert_curve(SCORES, EVENT, np.linspace(-0.1, 1.0, 23))
    assert list(curve.columns) == list(widgets.ALERT_KEYS) and len(curve) == 23
    assert np.all(np.diff(curve["alerts_per_hour"]) <= 1e-12)
    assert np.all(np.diff(curve["missed_per_hour"]) >= -1e-12)
    assert curve["recall"].iloc[0] == 1 and curve["recall"].iloc[-1] == 0
    assert widgets.rate_label(None) == "as labelled" and widgets.rate_label(0.001) == "1 in 1,000"


def test_alert_tradeoff_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"is_event must have one entry per score, shape \(10,\)"):
        widgets.alert_tradeoff(SCORES, EVENT[:5], 0.5)
    with pytest.raises(ValueError, match="is_event must hold only 0/1"):
        widgets.alert_tradeoff(SCORES, EVENT * 2, 0.5)
    with pytest.raises(ValueError, match="both events and normal clips, got 0 event"):
        widgets.alert_tradeoff(SCORES, np.zeros(10), 0.5)
    with pytest.raises(ValueError, match="scores must be a non-empty 1-D array"):
        widgets.alert_tradeoff(SCORES[:, None], EVENT, 0.5)
    with pytest.raises(TypeError, match="threshold must be a number, got '0.5'"):
        widgets.alert_tradeoff(SCORES, EVENT, "0.5")
    with pytest.raises(ValueError, match=r"event_rate must be a number in \(0.0, 1.0\), got 1.5"):
        widgets.alert_tradeoff(SCORES, EVENT, 0.5, event_rate=1.5)
    with pytest.raises(ValueError, match="clips_per_hour must be a number in"):
        widgets.alert_tradeoff(SCORES, EVENT, 0.5, clips_per_hour=0)
    with pytest.raises(ValueError, match="thresholds must hold at least one"):
        widgets.alert_curve(SCORES, EVENT, [])


def test_alert_figure_marks_the_threshold_and_reports_it():
    fig = widgets.alert_figure(SCORES, EVENT, 0.5, clips_per_hour=100)
    ax_h, ax_c = fig.axes
    assert ax_h.lines[0].get_xdata()[0] == pytest.approx(0.5)
    assert ax_c.get_yscale() == "log" and len(ax_c.lines) == 3
    title = fig._suptitle.get_text()
    assert "recall 0.75" in title and "precision 0.60" in title and "50.0 alerts/h" in title
    plt.close("all")


def test_alert_tradeoff_explorer_snapshots_and_redraws(monkeypatch):
    from mmlib.widgets import security

    drawn = []
    original = security.alert_figure

    def recording(*args, **kwargs):
        drawn.append((args[2], kwargs["event_rate"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(security, "alert_figure", recording)
    view = widgets.alert_tradeoff_explorer(SCORES, EVENT, threshold=0.5)
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    slider, menu = view.widget.children[0].children
    assert slider.value == pytest.approx(0.5) and menu.value is None
    assert [label for label, _ in menu.options] == ["as labelled", "1 in 100", "1 in 1,000"]
    slider.value = 0.8  # each move redraws the figure with the new values
    menu.value = 0.001
    assert drawn[0] == (pytest.approx(0.5), None)
    assert drawn[-2:] == [(pytest.approx(0.8), None), (pytest.approx(0.8), 0.001)]
    with pytest.raises(ValueError, match="event_rates must offer at least one"):
        widgets.alert_tradeoff_explorer(SCORES, EVENT, event_rates=())
    plt.close("all")
