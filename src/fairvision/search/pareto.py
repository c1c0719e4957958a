"""Pareto analysis of search results: fronts, hypervolume, knee/selection, rank correlation by budget.

Conventions. ``points`` is an (n, k) array; ``directions`` a length-k list of ``"minimize"`` /
``"maximize"`` (or :class:`~fairvision.search.objectives.Objective`s). Everything is computed on
costs (maximised columns negated). Rows with a NaN/inf value are never on a front, never dominate
and add no hypervolume.

Dominance (the ``dominance=`` keyword of every function that takes a front):

* ``"pareto"`` (default, the usual definition): ``a`` dominates ``b`` iff ``a <= b`` in every
  objective and ``a < b`` in at least one. The front is every point no other point dominates;
  exact duplicates do not dominate each other, so all copies of a front point are kept.
* ``"frnas"`` (FR-NAS's released ``whatIsPareto``): a point is dropped only when another point is
  *strictly* better in every objective. Weakly dominated points stay on this front, e.g. a model
  with the same Error as a front model and a worse disparity. It is a superset of the
  ``"pareto"`` front; duplicates are all kept. ``whatIsPareto`` is 2-D and keeps NaN rows (a NaN
  comparison is False); here it works for any number of objectives and NaN/inf rows stay off the
  front as in ``"pareto"``.

:func:`hypervolume` does not depend on the mode (weakly dominated points add no volume).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from fairvision.errors import ConfigError
from fairvision.search.objectives import Objective

#: Dominance modes: the usual Pareto dominance, or FR-NAS's ``whatIsPareto`` (strictly better everywhere).
Dominance = Literal["pareto", "frnas"]
DOMINANCE: tuple[str, ...] = ("pareto", "frnas")

__all__ = ["DOMINANCE", "Dominance", "check_dominance", "front_frame", "hypervolume", "kendall_tau_by_budget",
           "knee_point", "pareto_front", "select", "to_costs"]


def _directions(directions: Sequence[Any], k: int) -> list[str]:
    dirs = [d.direction if isinstance(d, Objective) else str(d) for d in directions]
    if len(dirs) != k:
        raise ValueError(f"got {len(dirs)} directions for {k} objectives")
    bad = [d for d in dirs if d not in ("minimize", "maximize")]
    if bad:
        raise ValueError(f"directions must be 'minimize' or 'maximize', got {bad}")
    return dirs


def to_costs(points: Any, directions: Sequence[Any]) -> np.ndarray:
    """(n, k) float array of costs: ``maximize`` columns negated."""
    p = np.asarray(points, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n points × k objectives), got shape {p.shape}")
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in _directions(directions, p.shape[1])])
    return p * sign


def check_dominance(dominance: Any) -> str:
    """``dominance`` if it is one of :data:`DOMINANCE`, else ConfigError naming the argument."""
    if not isinstance(dominance, str) or dominance not in DOMINANCE:
        raise ConfigError(f"dominance must be 'pareto' (usual Pareto dominance) or 'frnas' (FR-NAS's whatIsPareto), "
                          f"got {dominance!r}")
    return dominance


def pareto_front(points: Any, directions: Sequence[Any], *, dominance: Dominance = "pareto") -> np.ndarray:
    """Boolean mask of the points on the front (``dominance``: see the module docstring)."""
    frnas = check_dominance(dominance) == "frnas"
    c = to_costs(points, directions)
    finite = np.all(np.isfinite(c), axis=1)
    mask = finite.copy()
    idx = np.flatnonzero(finite)
    f = c[idx]
    for start in range(0, len(f), 512):  # chunks keep memory at 512 × n × k
        block = f[start:start + 512]
        if frnas:  # some point strictly better in every objective
            beaten = np.all(f[None, :, :] < block[:, None, :], axis=2)
        else:
            beaten = (np.all(f[None, :, :] <= block[:, None, :], axis=2)
                      & np.any(f[None, :, :] < block[:, None, :], axis=2))
        mask[idx[start:start + 512]] = ~np.any(beaten, axis=1)
    return mask


def _unique_rows(c: np.ndarray) -> np.ndarray:
    """Rows of ``c`` without exact duplicates, first occurrence kept, order preserved."""
    seen: set[bytes] = set()
    keep = np.zeros(len(c), dtype=bool)
    for i, row in enumerate(c):
        key = row.tobytes()
        keep[i] = key not in seen
        seen.add(key)
    return c[keep]


def hypervolume(points: Any, reference_point: Sequence[float], directions: Sequence[Any]) -> float:
    """Exact hypervolume dominated by ``points`` and bounded by ``reference_point`` (given in the
    objectives' own units). Points not strictly better than the reference in every objective add
    nothing. 2-D: sweep; 3-D+: WFG (optuna's exact ``compute_hypervolume``)."""
    from optuna._hypervolume import compute_hypervolume

    c = to_costs(points, directions)
    ref = to_costs(np.asarray(reference_point, dtype=float)[None, :], directions)[0]
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"reference point must be finite, got {reference_point}")
    keep = np.all(np.isfinite(c), axis=1) & np.all(c < ref, axis=1)
    if not keep.any():
        return 0.0
    c = c[keep]
    c = _unique_rows(c[pareto_front(c, ["minimize"] * c.shape[1])])
    return float(compute_hypervolume(c, ref, assume_pareto=True))


def knee_point(points: Any, directions: Sequence[Any], *, dominance: Dominance = "pareto") -> int:
    """Index (into ``points``) of the knee of the front: the front point nearest (Euclidean) to the
    ideal point after min-max normalising each objective over the front. Ties: lowest index."""
    mask = pareto_front(points, directions, dominance=dominance)
    if not mask.any():
        raise ValueError("no finite point: the front is empty")
    idx = np.flatnonzero(mask)
    f = to_costs(points, directions)[idx]
    span = f.max(axis=0) - f.min(axis=0)
    z = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
    return int(idx[np.argmin(np.sqrt((z ** 2).sum(axis=1)))])


def select(points: Any, directions: Sequence[Any], *, by: Any = "knee", names: Sequence[str] | None = None,
           dominance: Dominance = "pareto") -> int:
    """Pick one point of the front; returns its index into ``points``.

    ``by="knee"`` (:func:`knee_point`); ``by=j`` or an objective name (with ``names``): best point of
    the front on that objective, ties broken by the remaining objectives in order; ``by={name or j:
    weight}``: smallest weighted sum of min-max normalised costs over the front.
    """
    if isinstance(by, str) and by == "knee":
        return knee_point(points, directions, dominance=dominance)
    mask = pareto_front(points, directions, dominance=dominance)
    if not mask.any():
        raise ValueError("no finite point: the front is empty")
    idx = np.flatnonzero(mask)
    f = to_costs(points, directions)[idx]

    def col(key: Any) -> int:
        if isinstance(key, (int, np.integer)):
            if not 0 <= key < f.shape[1]:
                raise ValueError(f"objective index {key} out of range")
            return int(key)
        if names is None or key not in names:
            raise ValueError(f"unknown objective {key!r}; pass names= to select by name")
        return list(names).index(key)

    if isinstance(by, Mapping):
        span = f.max(axis=0) - f.min(axis=0)
        z = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
        w = np.zeros(f.shape[1])
        for key, weight in by.items():
            w[col(key)] = float(weight)
        return int(idx[np.argmin(z @ w)])
    j = col(by)
    order = [j] + [i for i in range(f.shape[1]) if i != j]
    best = np.lexsort(tuple(f[:, i] for i in reversed(order)))[0]
    return int(idx[best])


def front_frame(frame: pd.DataFrame, objectives: Sequence[Any], *,
                dominance: Dominance = "pareto") -> pd.DataFrame:
    """Rows of ``frame`` on the front of the named objective columns (``Objective``s or names,
    names minimised)."""
    objs = [o if isinstance(o, Objective) else Objective(str(o)) for o in objectives]
    mask = pareto_front(frame[[o.name for o in objs]].to_numpy(float), objs, dominance=dominance)
    return frame[mask]


def _config_key(config: Any) -> str:
    return json.dumps(config, sort_keys=True, default=str) if isinstance(config, Mapping) else str(config)


def kendall_tau_by_budget(trials_frame: pd.DataFrame, objectives: Sequence[str] | None = None, *,
                          full_budget: float | None = None) -> pd.DataFrame:
    """Kendall τ between each lower budget and the full budget, per objective.

    ``trials_frame`` has a ``config`` column (dicts or hashable keys), a ``budget`` column and the
    objective values either as columns named after the objectives or in an ``objectives`` column of
    dicts (as :meth:`TrialStore.trials` returns). Only ``status == "complete"`` rows are used (when
    there is a status column); a config evaluated twice at one budget counts with its last row.
    ``full_budget`` defaults to the largest budget present. Returns columns ``budget, objective, n,
    tau, p_value`` (τ is NaN below 2 configs or for constant values).
    """
    from scipy.stats import kendalltau

    df = trials_frame
    if "status" in df.columns:
        df = df[df["status"] == "complete"]
    if objectives is None:
        if "objectives" in df.columns and len(df):
            objectives = list(df["objectives"].iloc[0])
        else:
            raise ValueError("give the objective names")
    rows = []
    if len(df) == 0:
        return pd.DataFrame(rows, columns=["budget", "objective", "n", "tau", "p_value"])
    full = float(df["budget"].max()) if full_budget is None else float(full_budget)
    keys = df["config"].map(_config_key)
    for obj in objectives:
        if obj in df.columns:
            values = df[obj].astype(float)
        else:
            values = df["objectives"].map(lambda d, o=obj: float(d.get(o, np.nan)) if d else np.nan)
        table = pd.DataFrame({"key": keys.to_numpy(), "budget": df["budget"].astype(float).to_numpy(),
                              "value": values.to_numpy()})
        wide = table.groupby(["key", "budget"])["value"].last().unstack("budget")
        if full not in wide.columns:
            continue
        for b in sorted(c for c in wide.columns if c < full):
            pair = wide[[b, full]].dropna()
            tau, p = (np.nan, np.nan)
            if len(pair) >= 2:
                res = kendalltau(pair[b], pair[full])
                tau, p = float(res.statistic), float(res.pvalue)
            rows.append({"budget": b, "objective": obj, "n": len(pair), "tau": tau, "p_value": p})
    return pd.DataFrame(rows, columns=["budget", "objective", "n", "tau", "p_value"])
