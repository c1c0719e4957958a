"""Figures a user can open (PNG), drawn with matplotlib's object-oriented API.

No pyplot and no backend switching: :func:`new_figure` makes a standalone
``Figure`` with an Agg canvas, so importing or calling this module never
changes the caller's matplotlib state (backend, current figure).  Every
panel function draws into ``ax`` when given one (e.g. an Axes of the caller's
own figure) and otherwise into a new figure; it returns the Axes.  The
``plot_*`` functions that write a file compose panels and take ``axes=``
(one Axes per panel) the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fairvision._io import atomic_write
from fairvision.metrics import FairnessReport

__all__ = ["new_figure", "panel_axes", "save_figure", "plot_group_bars", "plot_group_metrics"]


def new_figure(ncols: int = 1, *, figsize: tuple[float, float] = (5.0, 3.6)) -> tuple[Figure, list[Axes]]:
    """A standalone figure (Agg canvas, not registered with pyplot) with ``ncols`` panels in a row."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def panel_axes(axes: Sequence[Axes] | None, n: int, *, figsize: tuple[float, float]) -> list[Axes]:
    """``axes`` checked to hold ``n`` panels, or the ``n`` panels of a new figure."""
    if axes is None:
        return new_figure(n, figsize=figsize)[1]
    if len(axes) != n:
        raise ValueError(f"axes: expected {n} Axes (one per panel), got {len(axes)}")
    return list(axes)


def save_figure(fig: Figure, path: str | Path, *, title: str = "") -> Path:
    """Set the title, lay out and write ``fig`` as PNG, atomically."""
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))


_GROUP_COLUMNS = {"error": "identification error", "mean_rank": "mean rank_by_id", "accuracy": "accuracy"}


def plot_group_bars(report: FairnessReport, column: str = "error", *, ax: Axes | None = None) -> Axes:
    """Bars of one per-group column of ``report.by_group`` (``error``, ``mean_rank``, ``accuracy``)."""
    if column not in _GROUP_COLUMNS:
        raise ValueError(f"column must be one of {', '.join(_GROUP_COLUMNS)}, not {column!r}")
    ax = ax if ax is not None else new_figure()[1][0]
    table = report.by_group
    x = np.arange(len(table))
    ax.bar(x, table[column], color="#4c72b0")
    ax.set_xticks(x, [str(g) for g in table.index])
    ax.set_ylabel(_GROUP_COLUMNS[column])
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_group_metrics(
    report: FairnessReport, path: str | Path, *, title: str = "", axes: Sequence[Axes] | None = None
) -> Path:
    """Per-group identification error and mean rank side by side, headline metrics in the title; writes ``path``.

    ``axes``: two Axes to draw into (their figure is the one written); default a new figure.
    """
    error_ax, rank_ax = panel_axes(axes, 2, figsize=(9, 3.6))
    plot_group_bars(report, "error", ax=error_ax)
    plot_group_bars(report, "mean_rank", ax=rank_ax)
    m = report.metrics
    headline = f"Error {m['Error']:.3f} | Rank Disparity {m['Rank Disparity']:.3f} | Disparity {m['Disparity']:.3f}"
    return save_figure(error_ax.figure, path, title=f"{title}\n{headline}" if title else headline)
