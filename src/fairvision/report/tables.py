"""Readable terminal tables (rich) for fairness results."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from fairvision.metrics import METRIC_NAMES, FairnessReport

__all__ = ["fairness_tables", "print_fairness"]


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
