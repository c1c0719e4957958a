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

__all__ = ["bootstrap_metrics"]


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
    if replicates < 2:
        raise ValueError(f"bootstrap needs at least 2 replicates, got {replicates}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
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
