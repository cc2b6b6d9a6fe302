"""Widgets of notebook 09 (medical case study): plain functions and static views."""


from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_curve  # noqa: E402

from mmlib import widgets  # noqa: E402


def _scores(n: int = 300, seed: int = 0):
    gen = np.random.default_rng(seed)
    positives = gen.random(n) < 0.3
    scores = np.clip(0.5 + 0.25 * (positives - 0.5) * 2 + gen.normal(0, 0.2, n), 0, 1)
    return scores, positives


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.71, 1.0])
def test_threshold_metrics_match_scikit_learn(threshold):
    scores, positives = _scores()
    got = widgets.threshold_metrics(scores, positives.astype(int), threshold)
    tn, fp, fn, tp = confusion_matrix(positives, scores >= threshold, labels=[0, 1]).ravel()
    assert (got["tp"], got["fn"], got["fp"], got["tn"]) == (tp, fn, fp, tn)
    assert got["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert got["specificity"] == pytest.approx(tn / (tn + fp))


def test_threshold_metrics_at_the_extremes_and_ties():
    scores = np.array([0.2, 0.5, 0.5, 0.9])
    positives = np.array([False, True, False, True])
    at_half = widgets.threshold_metrics(scores, positives, 0.5)  # ties are called positive
    assert (at_half["tp"], at_half["fp"]) == (2, 1)
    assert widgets.threshold_metrics(scores, positives, 0.0)["sensitivity"] == 1.0
    assert widgets.threshold_metrics(scores, positives, 0.0)["specificity"] == 0.0


def test_roc_points_match_scikit_learn():
    scores, positives = _scores()
    fpr, tpr = widgets.roc_points(scores, positives)
    ref_fpr, ref_tpr, _ = roc_curve(positives, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)


def test_threshold_functions_reject_bad_arguments():
    scores, positives = _scores()
    with pytest.raises(ValueError, match=r"scores must be probabilities in \[0, 1\], got values"):
        widgets.threshold_metrics(scores * 5, positives, 0.5)
    with pytest.raises(ValueError, match=r"scores must be a 1-D array .* got shape \(300, 1\)"):
        widgets.threshold_metrics(scores[:, None], positives, 0.5)
    with pytest.raises(ValueError, match=r"positives must have the shape of scores \(300,\), "
                                         r"got \(299,\)"):
        widgets.threshold_metrics(scores, positives[1:], 0.5)
    with pytest.raises(ValueError, match="positives must be booleans or 0/1"):
        widgets.threshold_metrics(scores, positives * 2 + 1, 0.5)
    with pytest.raises(ValueError, match=r"positives must hold both classes, got 0 positive"):
        widgets.threshold_metrics(scores, np.zeros(300, bool), 0.5)
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0.0, 1.0\], got 1.5"):
        widgets.threshold_metrics(scores, positives, 1.5)
    with pytest.raises(TypeError, match="threshold must be a real number, got '0.5'"):
        widgets.threshold_figure(scores, positives, "0.5")
    with pytest.raises(TypeError, match="positive_name must be a non-empty string"):
        widgets.threshold_figure(scores, positives, 0.5, positive_name="")
    with pytest.raises(TypeError, match="scores"):
        widgets.threshold_explorer(["a", "b"], [0, 1])


def test_threshold_figure_shows_the_counts_and_the_roc_point():
    scores, positives = _scores()
    fig = widgets.threshold_figure(scores, positives, 0.6, chosen=0.4, positive_name="malignant")
    ax_cm, ax_roc = fig.axes
    m = widgets.threshold_metrics(scores, positives, 0.6)
    texts = [t.get_text() for t in ax_cm.texts]
    assert texts[0].startswith(f"{m['tp']}\n") and texts[3].startswith(f"{m['tn']}\n")
    assert f"sensitivity {m['sensitivity']:.2f}" in ax_cm.get_title()
    point = np.asarray(ax_roc.collections[0].get_offsets()[0])
    np.testing.assert_allclose(point, [1 - m["specificity"], m["sensitivity"]])
    labels = ax_roc.get_legend_handles_labels()[1]
    assert "chosen threshold 0.40" in labels and "malignant" in ax_roc.get_ylabel()
    plt.close("all")


def test_threshold_explorer_snapshots_the_chosen_threshold_and_redraws():
    scores, positives = _scores()
    view = widgets.threshold_explorer(scores, positives, 0.437, positive_name="malignant")
    html_text = view._repr_mimebundle_()["text/html"]
    assert "base64" in html_text and "run the cell to interact" in html_text
    assert "malignant" in view.title
    (slider,), out = view.widget.children[0].children, view.widget.children[1]
    assert slider.value == 0.437 and 0.437 in [v for _, v in slider.options]
    assert len(slider.options) == widgets.THRESHOLD_STEPS + 1
    slider.value = 0.9  # moving the slider redraws the figure without error
    assert slider.value == 0.9 and out is view.widget.children[1]
    plt.close("all")
