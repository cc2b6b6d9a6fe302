"""Deployment tools: export, LiteRT quantization, serving checks, pruning and drift monitoring.

A trained multimodal model leaves the notebook in four steps, each with functions here:

1. **Export** (导出). :func:`export_saved_model` writes a TensorFlow SavedModel whose
   ``serving_default`` signature takes one named tensor per modality (keys = the names of the
   ``keras.Input`` layers). :func:`to_litert` converts the model to a LiteRT (formerly TensorFlow
   Lite) flatbuffer in float32, float16 or int8 — the int8 variant uses post-training
   full-integer quantization (训练后量化) calibrated on a representative dataset keyed by input
   name (Jacob et al. 2018). :class:`LiteRTModel` runs such a file through the interpreter with
   named inputs, and :func:`deployment_report` tabulates file size, accuracy, per-sample latency
   and the deviation from the Keras outputs for every variant.
2. **Compress** (剪枝). :func:`prune_by_magnitude` zeroes the smallest-magnitude weights once;
   :class:`PruningSchedule` + :class:`PruningCallback` raise the sparsity gradually during
   fine-tuning (Zhu & Gupta 2017) and keep pruned weights at zero. :func:`sparsity`,
   :func:`sparsity_by_layer` and :func:`compressed_size` report the result.
3. **Serve**. :func:`input_spec` describes what a model expects (a :class:`ModalitySpec` per
   input: name, shape, dtype and, optionally, the modality kind from
   :data:`mmlib._common.KINDS`); :func:`validate_inputs` and :class:`ServingModel` reject a
   request with a missing modality, an unexpected key, a wrong shape or dtype, with a message
   that says what was expected.
4. **Monitor** (数据漂移). :func:`population_stability_index`, :func:`ks_statistic` and
   :func:`drift_report` compare a live batch with the reference (training) data, modality by
   modality.

Conventions: every input is a ``dict`` mapping input name → ``numpy`` array whose axis 0 is the
batch, e.g. ``{"image": (batch, 8, 8, 1), "vector": (batch, 16)}``. A ``MultimodalDataset``-like
object (anything with a ``.modalities`` dict of arrays) is accepted wherever a dict of arrays is.
Output names come from :func:`mmlib._common.output_names`, predicted classes from
:func:`mmlib._common.class_predictions` (argmax, or ``p >= 0.5`` for one probability column).

Files (one concept each; every public name is re-exported here):

* ``spec.py`` — :class:`ModalitySpec`, :func:`input_spec`, :func:`validate_inputs`;
* ``export.py`` — :func:`export_saved_model`, :data:`SIGNATURE_KEY`;
* ``litert.py`` — :func:`to_litert`, :func:`export_litert_variants`, :class:`LiteRTModel`,
  :data:`QUANTIZATIONS`, int8 calibration samples;
* ``serving.py`` — :class:`ServingModel`;
* ``report.py`` — :func:`deployment_report`;
* ``pruning.py`` — :func:`prune_by_magnitude`, :class:`PruningSchedule`, :class:`PruningCallback`,
  :func:`sparsity`, :func:`sparsity_by_layer`, :func:`compressed_size`;
* ``drift.py`` — :func:`population_stability_index`, :func:`ks_statistic`, :func:`ks_pvalue`,
  :func:`drift_report`;
* ``measure.py`` — :func:`time_ms`, :func:`batch_latency_ms`, :func:`litert_tensors`,
  :func:`litert_size_breakdown` (timing; what a LiteRT file holds);
* ``distribute.py`` — :func:`split_cpu`, :func:`train_with_strategy`, :func:`run_workers` (data
  parallelism with ``tf.distribute``: logical CPU devices, several worker processes);
* ``_shared.py`` — private helpers used by several of these files (silencing native log lines,
  calling a model on named inputs, latency timing).

Log noise: the LiteRT converter and interpreter print a few lines from C++ straight to file
descriptor 2 ("fully_quantize: 0, inference_type: 6 ...", "Created TensorFlow Lite XNNPACK
delegate"), which no log level silences; a notebook shows them in the cell output. The functions
here silence file descriptor 2 only around those calls (Python exceptions still propagate with
their messages), and hide the ``tf.lite.Interpreter`` deprecation warning (the ``ai_edge_litert``
interpreter is used instead when that package is installed).

References:

* Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
  Integer-Arithmetic-Only Inference", CVPR (int8 post-training quantization).
* Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for model
  compression", arXiv:1710.01878 (gradual magnitude pruning).
* Kolmogorov 1933; Smirnov 1939, "On the estimation of the discrepancy between empirical curves
  of distribution for two independent samples", Bull. Moscow Univ. (two-sample KS test).
"""

from __future__ import annotations

from mmlib.deploy.distribute import (
    build_mlp,
    free_ports,
    run_workers,
    split_cpu,
    tf_config,
    train_with_strategy,
)
from mmlib.deploy.drift import drift_report, ks_pvalue, ks_statistic, population_stability_index
from mmlib.deploy.export import SIGNATURE_KEY, export_saved_model
from mmlib.deploy.litert import QUANTIZATIONS, LiteRTModel, export_litert_variants, to_litert
from mmlib.deploy.measure import (
    batch_latency_ms,
    litert_size_breakdown,
    litert_tensors,
    time_ms,
)
from mmlib.deploy.pruning import (
    PruningCallback,
    PruningSchedule,
    compressed_size,
    prune_by_magnitude,
    sparsity,
    sparsity_by_layer,
)
from mmlib.deploy.report import deployment_report
from mmlib.deploy.serving import ServingModel
from mmlib.deploy.spec import ModalitySpec, input_spec, validate_inputs

__all__ = [
    "QUANTIZATIONS",
    "SIGNATURE_KEY",
    "LiteRTModel",
    "ModalitySpec",
    "PruningCallback",
    "PruningSchedule",
    "ServingModel",
    "compressed_size",
    "deployment_report",
    "drift_report",
    "export_litert_variants",
    "export_saved_model",
    "input_spec",
    "ks_pvalue",
    "ks_statistic",
    "population_stability_index",
    "prune_by_magnitude",
    "sparsity",
    "sparsity_by_layer",
    "to_litert",
    "validate_inputs",
    # added for notebook 08
    "batch_latency_ms",
    "build_mlp",
    "free_ports",
    "litert_size_breakdown",
    "litert_tensors",
    "run_workers",
    "split_cpu",
    "tf_config",
    "time_ms",
    "train_with_strategy",
]
