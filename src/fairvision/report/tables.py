"""Readable terminal tables (rich) for fairness results."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from fairvision.errors import ConfigError
from fairvision.metrics import METRIC_NAMES, FairnessReport

__all__ = ["aggregate_baselines", "fairness_tables", "print_fairness"]


def _fmt(x: float, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def fairness_tables(report: FairnessReport, *, title: str = "Fairness") -> tuple[Table, Table]:
    """A metrics table (with CIs if present) and a per-group table."""
    metrics = Table(title=title)
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    if report.ci is not None:
        metrics.add_column("95% CI" if report.ci is not None else "", justify="right")
    for name in METRIC_NAMES:
        row = [name, _fmt(report.metrics[name])]
        if report.ci is not None:
            lo, hi = report.ci.loc[name, ["lower", "upper"]]
            row.append(f"[{_fmt(lo)}, {_fmt(hi)}]")
        metrics.add_row(*row)
    groups = Table(title="Per group" + (f" (reference: {report.reference_group})" if report.reference_group else ""))
    for col in ("group", "n", "identities", "accuracy", "error", "mean rank", "excluded"):
        groups.add_column(col, justify="left" if col == "group" else "right")
    for g, row in report.by_group.iterrows():
        groups.add_row(
            str(g),
            str(int(row["n"])),
            str(int(row["identities"])) if "identities" in row else "-",
            _fmt(row["accuracy"]),
            _fmt(row["error"]),
            _fmt(row["mean_rank"], 3),
            str(int(row["n_excluded"])),
        )
    return metrics, groups


def print_fairness(report: FairnessReport, *, title: str = "Fairness", console: Console | None = None) -> None:
    """Print the metrics and per-group tables."""
    console = console or Console()
    for table in fairness_tables(report, title=title):
        console.print(table)


def aggregate_baselines(baselines: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """Mean ± std of each baseline configuration over its rows (seeds).

    Rows are grouped by ``source`` (when present) and ``name``, in order of first appearance. Returns
    columns ``source, name, n`` and ``OBJ_mean, OBJ_std`` per objective: ``n`` rows in the group, mean
    and sample standard deviation (ddof 1; NaN for one value) over the group's finite values.
    """
    objectives = list(objectives)
    missing = [c for c in ["name", *objectives] if c not in baselines.columns]
    if missing:
        raise ConfigError(f"baselines: missing columns {missing}; columns are {list(baselines.columns)}")
    frame = baselines.assign(source=baselines["source"].astype(str) if "source" in baselines.columns else "baselines",
                             name=baselines["name"].astype(str))
    values = frame[objectives].apply(pd.to_numeric, errors="coerce").astype(float)
    frame = frame.assign(**{o: values[o].where(np.isfinite(values[o])) for o in objectives})
    rows = []
    for (source, name), group in frame.groupby(["source", "name"], sort=False):
        row: dict[str, Any] = {"source": source, "name": name, "n": int(len(group))}
        for o in objectives:
            row[f"{o}_mean"] = float(group[o].mean())
            row[f"{o}_std"] = float(group[o].std(ddof=1))
        rows.append(row)
    stats = [f"{o}_{s}" for o in objectives for s in ("mean", "std")]
    return pd.DataFrame(rows, columns=["source", "name", "n", *stats])
