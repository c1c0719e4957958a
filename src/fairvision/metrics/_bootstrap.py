"""Bootstrap confidence intervals that resample *identities*, not rows.

Images of one identity are correlated, so resampling rows understates the
uncertainty.  Each replicate draws, within every group, as many identities as
the group has, with replacement, and keeps all their samples.  The work is
vectorised: per-identity sums (samples, correct, rank sum) are combined with a
(replicates x identities) matrix of multinomial draw counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairvision.metrics._formulas import METRIC_NAMES, metrics_from_sums

__all__ = ["bootstrap_group_intervals", "bootstrap_metrics", "replicate_sums"]


def replicate_sums(valid: pd.DataFrame, groups: list[str], *, replicates: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replicate and group (``(replicates, len(groups))`` arrays): samples, correct (rank 0) and rank sum,
    identities resampled with replacement within each group, groups drawn in the order given. A group absent
    from ``valid`` stays 0."""
    rng = np.random.default_rng(seed)
    per_id = (
        valid.assign(c=valid["rank"] == 0)
        .groupby(["group", "identity"], sort=True)
        .agg(n=("rank", "size"), c=("c", "sum"), r=("rank", "sum"))
    )
    shape = (replicates, len(groups))
    n, c, r = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for gi, g in enumerate(groups):
        if g not in per_id.index.get_level_values(0):
            continue
        stats = per_id.loc[g][["n", "c", "r"]].to_numpy(float)  # (identities, 3)
        m = len(stats)
        counts = rng.multinomial(m, np.full(m, 1.0 / m), size=replicates)  # (B, m)
        n[:, gi], c[:, gi], r[:, gi] = (counts @ stats).T
    return n, c, r


def _check(replicates: int, confidence: float) -> None:
    if replicates < 2:
        raise ValueError(f"bootstrap needs at least 2 replicates, got {replicates}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def bootstrap_metrics(
    valid: pd.DataFrame,
    groups: list[str],
    pairs: list[tuple[str, str]],
    *,
    replicates: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Percentile intervals of the headline metrics.

    Args:
        valid: rows with a defined rank; columns ``rank``, ``group``, ``identity``.
        groups: sorted group names; pairs: (numerator, reference) pairs.
    Returns a DataFrame indexed by metric name with columns ``lower``, ``upper``, ``std``.
    """
    _check(replicates, confidence)
    n, c, r = replicate_sums(valid, groups, replicates=replicates, seed=seed)
    values = metrics_from_sums(n, c, r, {g: i for i, g in enumerate(groups)}, pairs)
    alpha = (1.0 - confidence) / 2.0
    rows = {}
    for name in METRIC_NAMES:
        v = values[name]
        v = v[~np.isnan(v)]
        if len(v) == 0:
            rows[name] = (np.nan, np.nan, np.nan)
        else:
            lo, hi = np.quantile(v, [alpha, 1.0 - alpha])
            rows[name] = (float(lo), float(hi), float(np.std(v, ddof=1)) if len(v) > 1 else np.nan)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper", "std"])


def bootstrap_group_intervals(valid: pd.DataFrame, groups: list[str], *, replicates: int, confidence: float = 0.95,
                              seed: int = 0) -> pd.DataFrame:
    """Percentile intervals of each group's ``accuracy``, ``error`` and ``mean_rank`` from the *same* replicates
    as :func:`bootstrap_metrics` (same ``valid``, ``groups`` and ``seed``). Indexed by group, columns
    ``<metric>_lower`` / ``<metric>_upper``; NaN for a group without a ranked sample."""
    _check(replicates, confidence)
    n, c, r = replicate_sums(valid, groups, replicates=replicates, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    rows = {}
    for gi, g in enumerate(groups):
        if not n[:, gi].any():
            rows[g] = {f"{m}_{b}": np.nan for m in ("accuracy", "error", "mean_rank") for b in ("lower", "upper")}
            continue
        a_lo, a_hi = np.quantile(c[:, gi] / n[:, gi], [alpha, 1 - alpha])
        m_lo, m_hi = np.quantile(r[:, gi] / n[:, gi], [alpha, 1 - alpha])
        rows[g] = {"accuracy_lower": a_lo, "accuracy_upper": a_hi, "error_lower": 1 - a_hi, "error_upper": 1 - a_lo,
                   "mean_rank_lower": m_lo, "mean_rank_upper": m_hi}
    return pd.DataFrame.from_dict(rows, orient="index")
