"""The FR-NAS metric formulas on per-group sums, shared by the point estimates and the bootstrap.

Both :mod:`fairvision.metrics._fairness` and :mod:`fairvision.metrics._bootstrap`
import this module, so neither needs the other at import time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FRNAS_METRICS", "METRIC_NAMES", "PAIR_METRICS", "metrics_from_sums"]

#: FR-NAS's six metrics, then the scale-free "Log-Odds Gap" (see :func:`metrics_from_sums`).
FRNAS_METRICS = ("Error", "Disparity", "Ratio", "Error Ratio", "Rank Disparity", "Rank Ratio")
METRIC_NAMES = (*FRNAS_METRICS, "Log-Odds Gap")
PAIR_METRICS = METRIC_NAMES[1:]


def metrics_from_sums(n, correct, rank_sum, index: dict[str, int], pairs) -> dict[str, np.ndarray]:
    """Headline metrics from per-group sums; arrays of shape (..., G), vectorised over leading axes.

    Returns per-pair arrays under ``(metric, a, b)`` keys, the headline metrics
    (max over pairs), and ``"Error"`` pooled over groups.

    ``Log-Odds Gap`` = |logit(err_a) - logit(err_b)| with ``err`` smoothed as ``(errors + 0.5) / (n + 1)``
    (Haldane-Anscombe, so that 0 and 1 stay finite): a gap between group error rates on the scale of
    a logistic model, which a uniformly better model does not shrink the way it shrinks Disparity
    (group errors 0.4 vs 0.2 and 0.1 vs 0.04 both have a gap of 0.98, their Disparities are 0.2 and 0.06).
    """
    n = np.asarray(n, float)
    correct = np.asarray(correct, float)
    rank_sum = np.asarray(rank_sum, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = correct / n
        err = 1.0 - acc
        mr = rank_sum / n
        smoothed = (n - correct + 0.5) / (n + 1.0)
        lo = np.where(n > 0, np.log(smoothed / (1.0 - smoothed)), np.nan)  # no samples: undefined, like the rest
        out: dict = {"Error": 1.0 - correct.sum(-1) / n.sum(-1)}
        for a, b in pairs:
            ia, ib = index[a], index[b]
            out[("Disparity", a, b)] = np.abs(acc[..., ia] - acc[..., ib])
            out[("Ratio", a, b)] = np.abs(1.0 - acc[..., ia] / acc[..., ib])
            out[("Error Ratio", a, b)] = np.abs(1.0 - err[..., ia] / err[..., ib])
            out[("Rank Disparity", a, b)] = np.abs(mr[..., ia] - mr[..., ib])
            out[("Rank Ratio", a, b)] = np.abs(1.0 - mr[..., ia] / mr[..., ib])
            out[("Log-Odds Gap", a, b)] = np.abs(lo[..., ia] - lo[..., ib])
    # inf (x/0 with x>0) is as undefined as 0/0
    out = {k: np.where(np.isinf(v), np.nan, v) for k, v in out.items()}
    for m in PAIR_METRICS:
        stacked = np.stack([out[(m, a, b)] for a, b in pairs], axis=-1)
        # max / mean over pairs, NaN if any pair is undefined (never silently dropped)
        undefined = np.isnan(stacked).any(-1)
        out[m] = np.where(undefined, np.nan, np.max(np.nan_to_num(stacked), -1))
        out[(m, "mean")] = np.where(undefined, np.nan, stacked.mean(-1))
    return out
