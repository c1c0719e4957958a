"""Identification ranks and fairness metrics (numpy/pandas in, pandas out).

* :func:`identification_ranks` -- exact leave-one-out 1:N ranks.
* :func:`fairness_metrics` -- FR-NAS's six metrics, per-group table, pairs, NIST summaries, bootstrap CIs.
* :func:`verification_rates` -- per-group FMR/FNMR at one shared threshold.
* :func:`verification_accuracy_10fold` -- 1:1 accuracy of a pair list with the LFW-style 10-fold protocol;
  :func:`pair_verification_rates` -- per-group FMR/FNMR of a pair list at one shared threshold.
* :func:`attribute_bias_report` -- attribute metrics, bias amplification and error-rate gaps of a
  multi-label attribute classifier (Iofinova et al., CVPR 2023); :func:`read_logits` reads its logit files.
"""

from fairvision.metrics._attribute_report import POLICIES, AttributeBiasReport, attribute_bias_report
from fairvision.metrics._attributes import (
    DEFAULT_PROTECTED,
    attribute_metrics,
    bias_amplification,
    error_rate_gaps,
    recalibrate_thresholds,
)
from fairvision.metrics._fairness import (
    METRIC_NAMES,
    FairnessReport,
    FairnessWarning,
    fairness_metrics,
    group_table,
)
from fairvision.metrics._logits import read_logits, write_logits
from fairvision.metrics._ranks import IdentificationRanks, identification_ranks
from fairvision.metrics._verification import (
    FoldAccuracy,
    VerificationReport,
    pair_verification_rates,
    verification_accuracy_10fold,
    verification_rates,
)

__all__ = [
    "DEFAULT_PROTECTED",
    "METRIC_NAMES",
    "POLICIES",
    "AttributeBiasReport",
    "FairnessReport",
    "FairnessWarning",
    "FoldAccuracy",
    "IdentificationRanks",
    "VerificationReport",
    "attribute_bias_report",
    "attribute_metrics",
    "bias_amplification",
    "error_rate_gaps",
    "fairness_metrics",
    "group_table",
    "identification_ranks",
    "pair_verification_rates",
    "read_logits",
    "recalibrate_thresholds",
    "verification_accuracy_10fold",
    "verification_rates",
    "write_logits",
]
