"""Identification ranks and fairness metrics (numpy/pandas in, pandas out).

* :func:`identification_ranks` -- exact leave-one-out 1:N ranks.
* :func:`fairness_metrics` -- FR-NAS's six metrics, per-group table, pairs, NIST summaries, bootstrap CIs.
* :func:`verification_rates` -- per-group FMR/FNMR at one shared threshold.
"""

from fairvision.metrics._fairness import (
    METRIC_NAMES,
    FairnessReport,
    FairnessWarning,
    fairness_metrics,
    group_table,
)
from fairvision.metrics._ranks import IdentificationRanks, identification_ranks
from fairvision.metrics._verification import VerificationReport, verification_rates

__all__ = [
    "METRIC_NAMES",
    "FairnessReport",
    "FairnessWarning",
    "IdentificationRanks",
    "VerificationReport",
    "fairness_metrics",
    "group_table",
    "identification_ranks",
    "verification_rates",
]
