"""Pruning of vision models, after Iofinova et al., "Bias in Pruned Vision Models" (CVPR 2023).

**Unstructured magnitude pruning** (``torch.nn.utils.prune``) masks the weights of smallest magnitude of
every ``Conv1d/2d/3d`` and linear layer -- ``nn.Linear`` and the ``Linear`` classifier head
(:func:`prunable_modules`; biases, norm layers and margin heads are never pruned; the first conv and the
last linear layer are included unless ``exclude_first_last``). A pruned
layer holds ``weight_orig``, ``weight_mask`` and a hook that multiplies them before every forward.
Sparsity is the fraction of weights masked, and it is cumulative: :func:`magnitude_prune` brings it to
the level asked, counting what is masked already, exactly (``round(s * n)`` weights).

* scope ``global``: one magnitude threshold over all layers (the paper's choice; layers end at different
  sparsities); ``layerwise``: every layer to the same sparsity;
* method ``oneshot``: prune once to ``sparsity`` at the start of ``oneshot_epoch`` (default 0), then keep
  training (fine-tuning) with the fixed mask;
* method ``gmp`` (gradual magnitude pruning): prune at the start of the epochs ``range(start, end, freq)``
  along a cubic schedule from ``initial_sparsity`` (0.05) to ``sparsity``, reached exactly at the last of
  those epochs (:func:`gmp_sparsity`, :func:`gmp_schedule`), then fine-tune.
  *From scratch* (the paper, 100 epochs): ``start: 10, end: 90, freq: 10`` -- epochs 10, 20, ..., 80.
  *Post-training*: start from a dense trained run (``train.init_from``), Adam with lr 1e-4, 80 epochs,
  ``start: 1, end: 60, freq: 4`` -- epochs 1, 5, ..., 57. Started from an already *pruned* run (chained
  levels), the inherited zeros are plain weights, not masks: set ``initial_sparsity`` to the parent's
  sparsity and ``start: 0``, so that the first event masks them again before training can move them.

In a training config, the ``prune:`` section (validated by :class:`PruneConfig`; importing this package
registers it as a :mod:`fairvision.train.plugins` plugin, so a run with ``method`` other than ``none``
gets a :class:`PruningCallback` by itself, and a schedule beyond ``train.schedule_epochs`` -- or else
``train.epochs`` -- is a config error)::

    prune: {method: gmp, sparsity: 0.9, scope: global, start: 10, end: 90, freq: 10}
    train: {epochs: 100}

In code: ``fairvision.train.train(cfg, run_dir, callbacks=[PruningCallback({"method": "oneshot", ...})])``.
:class:`PruningCallback` prunes on schedule, keeps pruned weights at exactly zero through fine-tuning,
writes ``sparsity`` and ``sparsity_layers`` into every history record and saves its masks in the
checkpoint (resume and budget extension continue with the same masks). A pruned run's checkpoint keeps
``weight_orig``/``weight_mask``; ``train.init_from`` and
:func:`fairvision.train.checkpoint.dense_state_dict` fold them into plain weights.

**Structured channel pruning** (Torch-Pruning, ``pip install torch-pruning``): :func:`structured_prune`
removes whole channels for real speed-ups and reports parameters, MACs and CPU latency before and after;
DPN (``frnas_dpn`` included) and ReXNet are refused up front (:func:`check_structured_support`).

**Warnings from the dense model** (docs/bias-warnings.md; scipy and scikit-learn, the ``stats`` extra):
:mod:`fairvision.prune.risk` validates dense-only predictors of bias growth on a finished study
(:func:`validate_risk`, leave-one-attribute-out) and ranks a new dense model's attributes
(:func:`rank_bias_risk`, ``fairvision predict-bias``); :mod:`fairvision.prune.cie` finds the
compression-identified exemplars of a study (:func:`compression_identified_exemplars`, :func:`cie_summary`,
``fairvision cie``) and draws them (:func:`cie_view`, ``fairvision cie-view``).
"""

from fairvision.prune.callback import PruningCallback
from fairvision.prune.cie import (
    StudyPredictions,
    cie_summary,
    cie_view,
    compression_identified_exemplars,
    dense_scores,
    load_study_predictions,
    modal_predictions,
    precision_at_k,
    write_cie,
)
from fairvision.prune.config import PRUNE_METHODS, PruneConfig
from fairvision.prune.magnitude import (
    PRUNERS,
    apply_masks,
    enforce_masks,
    get_masks,
    is_pruned,
    magnitude_prune,
    prunable_modules,
    sparsity_report,
)
from fairvision.prune.plugin import register as _register_plugin
from fairvision.prune.risk import (
    BiasRiskReport,
    bias_growth,
    dense_features,
    leave_one_attribute_out,
    model_features,
    rank_bias_risk,
    validate_risk,
    write_risk_validation,
)
from fairvision.prune.schedule import gmp_schedule, gmp_sparsity, pruning_epochs
from fairvision.prune.structured import (
    DENIED_ARCHITECTURES,
    IMPORTANCES,
    StructuredReport,
    check_structured_support,
    measure_latency,
    structured_prune,
)

__all__ = [
    "BiasRiskReport",
    "DENIED_ARCHITECTURES",
    "IMPORTANCES",
    "PRUNERS",
    "PRUNE_METHODS",
    "PruneConfig",
    "PruningCallback",
    "StructuredReport",
    "StudyPredictions",
    "apply_masks",
    "bias_growth",
    "check_structured_support",
    "cie_summary",
    "cie_view",
    "compression_identified_exemplars",
    "dense_features",
    "dense_scores",
    "enforce_masks",
    "get_masks",
    "gmp_schedule",
    "gmp_sparsity",
    "is_pruned",
    "leave_one_attribute_out",
    "load_study_predictions",
    "magnitude_prune",
    "measure_latency",
    "modal_predictions",
    "model_features",
    "precision_at_k",
    "prunable_modules",
    "pruning_epochs",
    "rank_bias_risk",
    "sparsity_report",
    "structured_prune",
    "validate_risk",
    "write_cie",
    "write_risk_validation",
]

_register_plugin()  # the training config's `prune:` section (fairvision.train.plugins)
