"""Interactive widgets (ipywidgets 8) of the notebooks: one file per notebook.

Each widget function returns a :class:`WithStaticView`: the live widget plus a static snapshot of
its first state. A running kernel shows the widget; a notebook opened without a kernel, or not
trusted (every fresh clone), shows the snapshot and "run the cell to interact" instead of the
widget's raw Python repr. The logic behind each widget is a plain function (tested without a
browser), so everything a widget shows can also be computed without it.

Files: ``_base`` (the shared machinery), then one per notebook, in course order: ``welcome`` (00),
``data`` (01), ``preprocessing`` (02), ``features`` (03), ``alignment`` (04), ``fusion`` (05),
``training`` (06), ``robustness`` (07), ``deployment`` (08), ``medical`` (09), ``driving`` (10),
``security`` (11), ``outlook`` (12).
Everything public is re-exported here, so notebooks call ``mmlib.widgets.<name>``.
"""

from __future__ import annotations

from mmlib.widgets._base import (
    RUN_TO_INTERACT,
    WIDGET_VIEW,
    WithStaticView,
    figure_html,
    interactive_figure,
)
from mmlib.widgets.alignment import (
    RETRIEVAL_TOP_K,
    attention_word_maps,
    caption_explorer,
    caption_query_figure,
    top_k_matches,
)
from mmlib.widgets.data import (
    ALL_MODALITIES,
    BROWSE_SAMPLES,
    browse_options,
    browse_samples,
    sample_figure,
)
from mmlib.widgets.deployment import (
    PRECISION_COLUMNS,
    precision_explorer,
    precision_figure,
    precision_options,
)
from mmlib.widgets.driving import (
    DRIVE_FAILURES,
    DRIVE_SENSORS,
    condition_scenes,
    driving_scene_explorer,
    driving_scene_figure,
    scene_answers,
)
from mmlib.widgets.features import (
    EMBEDDING_MARKERS,
    EmbeddingView,
    embedding_explorer,
    embedding_figure,
    pca_2d,
)
from mmlib.widgets.fusion import (
    FUSION_FAMILIES,
    NOISE_GRID_COLUMNS,
    fusion_noise_explorer,
    fusion_noise_figure,
    noise_levels,
    snr_label,
)
from mmlib.widgets.medical import (
    THRESHOLD_STEPS,
    roc_points,
    threshold_explorer,
    threshold_figure,
    threshold_metrics,
)
from mmlib.widgets.outlook import (
    ZERO_SHOT_TASK_KEYS,
    zero_shot_accuracy,
    zero_shot_explorer,
    zero_shot_figure,
    zero_shot_predict,
    zero_shot_table,
)
from mmlib.widgets.preprocessing import (
    LOG_MEL_HOPS,
    LOG_MEL_WINDOWS,
    log_mel_explorer,
    log_mel_figure,
    log_mel_summary,
)
from mmlib.widgets.robustness import (
    SWEEP_COLUMNS,
    corruption_explorer,
    corruption_figure,
    sweep_levels,
)
from mmlib.widgets.security import (
    ALERT_CLIPS_PER_HOUR,
    ALERT_EVENT_RATES,
    ALERT_KEYS,
    alert_curve,
    alert_figure,
    alert_tradeoff,
    alert_tradeoff_explorer,
    rate_label,
)
from mmlib.widgets.training import (
    CURVE_COLUMNS,
    LOSS_WEIGHT_COLUMNS,
    PROBE_COLUMNS,
    imbalance_explorer,
    imbalance_figure,
    loss_weight_explorer,
    loss_weight_figure,
    probe_summary,
)
from mmlib.widgets.welcome import (
    course_map,
    lesson_html,
)

__all__ = [
    "WIDGET_VIEW", "RUN_TO_INTERACT", "figure_html", "WithStaticView", "interactive_figure",
    "lesson_html", "course_map", "BROWSE_SAMPLES", "ALL_MODALITIES", "browse_options",
    "sample_figure", "browse_samples", "LOG_MEL_WINDOWS", "LOG_MEL_HOPS", "log_mel_summary",
    "log_mel_figure", "log_mel_explorer", "EMBEDDING_MARKERS", "pca_2d", "EmbeddingView",
    "embedding_figure", "embedding_explorer", "RETRIEVAL_TOP_K", "top_k_matches",
    "attention_word_maps", "caption_query_figure", "caption_explorer", "FUSION_FAMILIES",
    "NOISE_GRID_COLUMNS", "noise_levels", "snr_label", "fusion_noise_figure",
    "fusion_noise_explorer", "PROBE_COLUMNS", "CURVE_COLUMNS", "probe_summary",
    "imbalance_figure", "imbalance_explorer", "LOSS_WEIGHT_COLUMNS", "loss_weight_figure",
    "loss_weight_explorer", "SWEEP_COLUMNS", "sweep_levels", "corruption_figure",
    "corruption_explorer", "PRECISION_COLUMNS", "precision_options", "precision_figure",
    "precision_explorer", "THRESHOLD_STEPS", "threshold_metrics", "roc_points",
    "threshold_figure", "threshold_explorer", "DRIVE_SENSORS", "DRIVE_FAILURES", "scene_answers",
    "condition_scenes", "driving_scene_figure", "driving_scene_explorer", "ALERT_CLIPS_PER_HOUR",
    "ALERT_EVENT_RATES", "ALERT_KEYS", "alert_tradeoff", "alert_curve", "rate_label",
    "alert_figure", "alert_tradeoff_explorer", "ZERO_SHOT_TASK_KEYS", "zero_shot_predict",
    "zero_shot_accuracy", "zero_shot_table", "zero_shot_figure", "zero_shot_explorer",
]
