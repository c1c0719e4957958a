"""FR-NAS fairness metrics on identification ranks, per-group tables, pairwise and NIST summaries.

For groups a (numerator) and b (reference / denominator), with acc_g the
fraction of group g's samples with rank 0, err_g = 1 - acc_g and mr_g the mean
rank of group g (FR-NAS, Dooley et al. 2023):

==============  =============================
Error           fraction of all samples with rank != 0
Disparity       |acc_a - acc_b|
Ratio           |1 - acc_a / acc_b|
Error Ratio     |1 - err_a / err_b|
Rank Disparity  |mr_a - mr_b|
Rank Ratio      |1 - mr_a / mr_b|
==============  =============================

Two groups: ``b`` is ``reference_group`` (default: the first group in sorted
order, i.e. ``female`` for FR-NAS's ``male``/``female``, which reproduces
their numbers).  More than two groups: every unordered pair is scored, and the
headline value of each metric is its maximum over pairs (FR-NAS's RFW
analysis; the mean over pairs is reported too).  In a pair the reference
group, if it is in the pair, is the denominator; otherwise the later group in
sorted order is (FR-NAS relabels the earlier group of each RFW pair as the
numerator).  Samples with rank -1 (identity without another image) are
excluded from every metric and counted in ``n_excluded``.  A zero denominator
gives NaN and a :class:`FairnessWarning`, never an exception.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fairvision._io import jsonable
from fairvision.metrics._bootstrap import bootstrap_metrics
from fairvision.metrics._checks import as_labels, check_bootstrap, check_labels, check_ranks
from fairvision.metrics._formulas import METRIC_NAMES, PAIR_METRICS, metrics_from_sums

__all__ = [
    "METRIC_NAMES",
    "FairnessWarning",
    "FairnessReport",
    "fairness_metrics",
    "group_table",
]


class FairnessWarning(RuntimeWarning):
    """A metric is undefined (division by zero) and was reported as NaN."""


@dataclass(frozen=True)
class FairnessReport:
    """Result of :func:`fairness_metrics`.

    Attributes:
        metrics: the six headline metrics (Series indexed by ``METRIC_NAMES``).
        by_group: per-group table (n, identities, accuracy, error, mean_rank, n_excluded).
        pairs: one row per (numerator, reference) pair with the five pairwise metrics.
        summary: NIST-style summaries of per-group error (Max/GeoMean, Max/Min) and pair means.
        reference_group: denominator group for two groups (None for more).
        ci: bootstrap confidence intervals (index metric, columns lower/upper), if computed.
    """

    metrics: pd.Series
    by_group: pd.DataFrame
    pairs: pd.DataFrame
    summary: pd.Series
    reference_group: str | None
    n_excluded: int
    ci: pd.DataFrame | None = field(default=None)

    def to_dict(self) -> dict:
        """JSON-ready dict: the six metric names, ``"groups"`` and, if present, ``"ci"``."""
        out: dict = {name: _py(self.metrics[name]) for name in METRIC_NAMES}
        out["groups"] = {
            str(g): {
                "n": int(row["n"]),
                "accuracy": _py(row["accuracy"]),
                "error": _py(row["error"]),
                "mean_rank": _py(row["mean_rank"]),
            }
            for g, row in self.by_group.iterrows()
        }
        if self.ci is not None:
            out["ci"] = {m: [_py(r["lower"]), _py(r["upper"])] for m, r in self.ci.iterrows()}
        return out


def _py(x):
    return jsonable(float(x))


def _as_frame(ranks, groups, identities) -> pd.DataFrame:
    rank_values = check_ranks(ranks)
    groups = as_labels(groups)
    if rank_values.ndim != 1 or groups.shape != rank_values.shape:
        raise ValueError(f"ranks and groups must be 1-D of equal length, got {rank_values.shape} and {groups.shape}")
    check_labels(groups, "groups")
    frame = pd.DataFrame({"rank": rank_values, "group": groups.astype(str)})
    if identities is not None:
        identities = as_labels(identities)
        if identities.shape != rank_values.shape:
            raise ValueError("identities must have the same length as ranks")
        check_labels(identities, "identities")
        frame["identity"] = identities
    return frame


def group_table(ranks, groups, *, identities=None) -> pd.DataFrame:
    """Per-group table indexed by sorted group name.

    Columns: ``n`` (samples with a defined rank), ``n_excluded`` (rank -1),
    ``identities`` (if given), ``accuracy``, ``error``, ``mean_rank``.
    """
    frame = _as_frame(ranks, groups, identities)
    return _group_table(frame)


def _group_table(frame: pd.DataFrame) -> pd.DataFrame:
    valid = frame["rank"] >= 0
    by = frame.groupby("group", sort=True)
    table = pd.DataFrame(index=pd.Index(sorted(frame["group"].unique()), name="group"))
    table["n"] = frame[valid].groupby("group").size().reindex(table.index, fill_value=0)
    table["n_excluded"] = by.size().reindex(table.index) - table["n"]
    if "identity" in frame:
        table["identities"] = by["identity"].nunique().reindex(table.index)
    correct = frame[valid].assign(c=lambda f: f["rank"] == 0).groupby("group")["c"].sum()
    rank_sum = frame[valid].groupby("group")["rank"].sum()
    n = table["n"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["accuracy"] = correct.reindex(table.index, fill_value=0).to_numpy(float) / n
        table["error"] = 1.0 - table["accuracy"]
        table["mean_rank"] = rank_sum.reindex(table.index, fill_value=0).to_numpy(float) / n
    return table


def pair_order(groups: list[str], reference_group: str | None) -> list[tuple[str, str]]:
    """(numerator, denominator) pairs following the module's conventions."""
    groups = sorted(groups)
    if len(groups) == 2:
        ref = groups[0] if reference_group is None else reference_group
        return [(groups[1] if ref == groups[0] else groups[0], ref)]
    pairs = []
    for g, h in itertools.combinations(groups, 2):
        pairs.append((h, g) if reference_group == g else (g, h))
    return pairs


def fairness_metrics(
    ranks,
    groups,
    *,
    reference_group: str | None = None,
    identities=None,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> FairnessReport:
    """FR-NAS fairness metrics of per-sample identification ranks (see module docstring).

    Args:
        ranks: per-sample rank (e.g. ``rank_by_id``), -1 = undefined (excluded, counted).
        groups: per-sample group label (the values are data, e.g. ``male``/``female``).
        reference_group: denominator group; default the first group in sorted order.
        identities: per-sample identity; required for ``bootstrap`` (identities are resampled).
        bootstrap: number of bootstrap replicates for confidence intervals: 0 = none, else at least 2.
        confidence: two-sided confidence level of the percentile intervals.
        seed: seed of the bootstrap.

    Ranks must be whole numbers >= -1 (below 2**53); NaN, inf, fractional
    ranks and missing (None/NaN/blank) groups or identities are a ValueError
    naming the position (see :mod:`fairvision.metrics._checks`).
    """
    check_bootstrap(bootstrap)
    if bootstrap:
        if identities is None:
            raise ValueError("bootstrap resamples identities: pass identities=")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    frame = _as_frame(ranks, groups, identities)
    table = _group_table(frame)
    names = list(table.index)
    if len(names) < 2:
        raise ValueError(f"fairness metrics need at least two groups, found {names}")
    if reference_group is not None and reference_group not in names:
        raise ValueError(f"reference group {reference_group!r} not among groups {names}")
    empty = table.index[table["n"] == 0].tolist()
    if empty:
        warnings.warn(f"group(s) {empty} have no sample with a defined rank", FairnessWarning, stacklevel=2)
    pairs = pair_order(names, reference_group)
    index = {g: i for i, g in enumerate(names)}
    valid = frame[frame["rank"] >= 0]
    sums = valid.assign(c=valid["rank"] == 0).groupby("group").agg(c=("c", "sum"), r=("rank", "sum"))
    sums = sums.reindex(names, fill_value=0)
    values = metrics_from_sums(table["n"], sums["c"], sums["r"], index, pairs)
    metrics = pd.Series({m: float(values[m]) for m in METRIC_NAMES}, name="value")
    undefined = metrics.index[metrics.isna()].tolist()
    if undefined:
        warnings.warn(f"undefined metric(s) {undefined} (division by zero) reported as NaN", FairnessWarning, stacklevel=2)
    pair_rows = [
        {"group": a, "reference": b, **{m: float(values[(m, a, b)]) for m in PAIR_METRICS}} for a, b in pairs
    ]
    pair_frame = pd.DataFrame(pair_rows)
    summary = _summary(table, values)
    ci = None
    if bootstrap:
        ci = bootstrap_metrics(valid, names, pairs, replicates=bootstrap, confidence=confidence, seed=seed)
    reference = pairs[0][1] if len(names) == 2 else reference_group
    return FairnessReport(metrics, table, pair_frame, summary, reference, int(table["n_excluded"].sum()), ci)


def _summary(table: pd.DataFrame, values: dict) -> pd.Series:
    err = table["error"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        geomean = float(np.exp(np.mean(np.log(err)))) if (err > 0).all() else 0.0
        out = {
            "error_max": float(np.max(err)),
            "error_min": float(np.min(err)),
            "error_geomean": geomean,
            "error_max_over_geomean": float(np.max(err) / geomean) if geomean > 0 else np.nan,
            "error_max_over_min": float(np.max(err) / np.min(err)) if np.min(err) > 0 else np.nan,
        }
    for m in PAIR_METRICS:
        out[f"{m} (mean over pairs)"] = float(values[(m, "mean")])
    return pd.Series(out, name="value")
