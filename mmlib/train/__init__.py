"""Training strategies for multimodal networks (多模态训练策略).

What lives here, and the paper each piece implements:

* :class:`ModalityDropout` -- drop whole modalities during training (ModDrop; Neverova, Wolf,
  Taylor, Nebout, "ModDrop: adaptive multi-modal gesture recognition", IEEE TPAMI 2016).
* :class:`OGMGEModel` and :class:`OGMGELogger` -- On-the-fly Gradient Modulation with
  Generalization Enhancement (Peng, Wei, Deng, Wang, Hu, "Balanced Multimodal Learning via
  On-the-fly Gradient Modulation", CVPR 2022); :func:`imbalanced_toy_problem` makes a small
  two-modality problem in which one modality dominates, to watch it work.
* :func:`gradient_blending_weights`, :func:`head_losses`, :func:`estimate_blending_weights`,
  :func:`compile_blended` -- Gradient-Blending (Wang, Tran, Feiszli, "What Makes Training
  Multi-modal Classification Networks Hard?", CVPR 2020).
* :func:`multitask_heads`, :class:`UncertaintyWeighting`, :class:`MultiTaskModel` -- multi-task
  heads with fixed or homoscedastic-uncertainty loss weights (Kendall, Gal, Cipolla, "Multi-Task
  Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018).
* :func:`linear_probe_accuracy` -- a linear probe on a frozen encoder's features, to measure how
  much of the label each modality's encoder learned (modality imbalance).
* :func:`build_fusion_model` -- assemble encoders + (optional ModalityDropout) + fusion + heads
  into one Keras model from a short spec, so that notebooks stay short.

File layout (import everything from ``mmlib.train``; the submodules are an implementation detail):

====================  ============================================================================
``modality_dropout``  :class:`ModalityDropout`
``ogm_ge``            :func:`ogm_ge_coefficients`, :class:`OGMGEModel`, :class:`OGMGELogger`,
                      :func:`imbalanced_toy_problem`
``blending``          Gradient-Blending: :func:`gradient_blending_weights`, :func:`head_losses`,
                      :func:`estimate_blending_weights`, :func:`compile_blended`
``multitask``         :func:`multitask_heads`, :func:`default_task_loss`,
                      :class:`UncertaintyWeighting`, :class:`MultiTaskModel`
``probes``            :func:`linear_probe_accuracy`
``builder``           :func:`build_fusion_model` and the resolvers of its encoder / fusion specs
``_shared``           private helpers used by several of the files above (batch-size checks)
====================  ============================================================================

Shapes follow the course convention: a batch of modality features is a list (or dict) of tensors
``[(batch, d_1), ..., (batch, d_M)]`` and a *mask* of present modalities is ``(batch, M)`` with
1 = present, 0 = missing, its columns in :func:`mmlib._common.mask_columns` order for dict inputs;
a model's mask input is named :data:`mmlib._common.MASK_INPUT` (see :func:`build_fusion_model`).
Seeds of the parts of a model are derived with :func:`mmlib._common.derive_seed`. The custom
``train_step`` of :class:`OGMGEModel` uses the TensorFlow backend (``tf.GradientTape``);
everything else is backend-neutral ``keras.ops`` (plus a TensorFlow run-time batch-size check
inside graphs, see :func:`mmlib._common.assert_same_batch`).

The Keras serializables keep their registered names (``mmlib>ModalityDropout``,
``mmlib>OGMGEModel``, ``mmlib>UncertaintyWeighting``, ``mmlib>MultiTaskModel``), so models saved
before the module became a package still load.
"""

from __future__ import annotations

from mmlib.train.blending import (
    compile_blended,
    estimate_blending_weights,
    gradient_blending_weights,
    head_losses,
)
from mmlib.train.builder import build_fusion_model
from mmlib.train.modality_dropout import ModalityDropout
from mmlib.train.multitask import (
    MultiTaskModel,
    UncertaintyWeighting,
    default_task_loss,
    multitask_heads,
)
from mmlib.train.ogm_ge import (
    OGMGELogger,
    OGMGEModel,
    imbalanced_toy_problem,
    ogm_ge_coefficients,
)
from mmlib.train.probes import linear_probe_accuracy

__all__ = [
    "ModalityDropout",
    "OGMGEModel",
    "OGMGELogger",
    "ogm_ge_coefficients",
    "imbalanced_toy_problem",
    "gradient_blending_weights",
    "head_losses",
    "estimate_blending_weights",
    "compile_blended",
    "multitask_heads",
    "default_task_loss",
    "UncertaintyWeighting",
    "MultiTaskModel",
    "build_fusion_model",
    "linear_probe_accuracy",
]
