"""Figures of the HTML report that the other report modules do not draw: a training run's per-epoch
curves and per-group values with confidence intervals.  Object-oriented matplotlib (no pyplot), as
:mod:`fairvision.report.plots`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fairvision.report.plots import save_figure
from fairvision.report.sparsity_plots import CURVE_PANELS, plot_sparsity_curve

__all__ = ["SPARSITY_LABELS", "grid_axes", "plot_group_intervals", "plot_run_curves", "plot_sparsity_panels",
           "search_axes"]

#: Axis labels of ``summary_by_level.csv`` columns (those of :data:`CURVE_PANELS` and a few more).
SPARSITY_LABELS = {**CURVE_PANELS, "mean_abs_fpr_gap": "mean |FPR gap|", "ece": "ECE", "auc": "mean AUC"}


def grid_axes(n: int, *, ncols: int = 3, panel: tuple[float, float] = (4.0, 3.0)) -> list[Axes]:
    """``n`` panels of a new standalone figure, ``ncols`` per row (unused cells hidden)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows))
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def search_axes() -> list[Axes]:
    """Three Axes for :func:`fairvision.report.search_plots.plot_search` laid out for a page: the front and the
    hypervolume side by side, the parallel coordinates below across the width."""
    fig = Figure(figsize=(12.0, 8.0))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 5, height_ratios=(1.3, 0.8))
    return [fig.add_subplot(grid[0, :3]), fig.add_subplot(grid[0, 3:]), fig.add_subplot(grid[1, :])]


def plot_run_curves(history: pd.DataFrame, path: str | Path, *, metrics: Sequence[str],
                    group_errors: pd.DataFrame | None = None, title: str = "") -> Path:
    """Per-epoch curves of a training run: the training loss, each of ``metrics`` (evaluated epochs only)
    and, with ``group_errors`` (index epoch, one column per group), the per-group error; writes ``path``."""
    panels: list[str] = (["train_loss"] if "train_loss" in history else []) + list(metrics)
    n = len(panels) + (group_errors is not None and not group_errors.empty)
    axes = grid_axes(max(n, 1))
    for ax, column in zip(axes, panels):
        values = pd.to_numeric(history[column], errors="coerce")
        keep = values.notna()
        ax.plot(history.loc[keep, "epoch"], values[keep], marker="o", ms=3, color="#4c72b0")
        ax.set_title(column.replace("_", " "), fontsize=10)
    if group_errors is not None and not group_errors.empty:
        ax = axes[len(panels)]
        for group in group_errors.columns:
            ax.plot(group_errors.index, group_errors[group], marker="o", ms=3, label=str(group))
        ax.set_title("error per group", fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes[:n]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return save_figure(axes[0].figure, path, title=title)


def plot_group_intervals(groups: pd.DataFrame, path: str | Path, *, columns: Sequence[str] = ("error", "mean_rank"),
                         title: str = "") -> Path:
    """One panel per column of ``groups`` (index: group): bars with the ``<column>_lower``/``_upper``
    interval as error bars where present; writes ``path``."""
    axes = grid_axes(len(columns), ncols=len(columns), panel=(4.2, 3.2))
    x = np.arange(len(groups))
    for ax, column in zip(axes, columns):
        values = groups[column].to_numpy(float)
        lo, hi = f"{column}_lower", f"{column}_upper"
        yerr = None
        if lo in groups and hi in groups:
            yerr = np.vstack([values - groups[lo].to_numpy(float), groups[hi].to_numpy(float) - values])
            yerr = np.where(np.isfinite(yerr), np.clip(yerr, 0, None), 0)
        ax.bar(x, values, color="#4c72b0", yerr=yerr, capsize=4, ecolor="#333333")
        ax.set_xticks(x, [str(g) for g in groups.index])
        ax.set_ylabel(column.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    return save_figure(axes[0].figure, path, title=title)


def plot_sparsity_panels(levels: pd.DataFrame, path: str | Path, *, columns: Sequence[str], ncols: int = 3,
                         title: str = "") -> Path:
    """Bias vs sparsity: one :func:`~fairvision.report.sparsity_plots.plot_sparsity_curve` panel per column of
    ``levels`` (``summary_by_level.csv``), ``ncols`` per row, labelled with :data:`SPARSITY_LABELS`; writes
    ``path``."""
    axes = grid_axes(len(columns), ncols=ncols, panel=(4.0, 3.3))
    for ax, column in zip(axes, columns):
        plot_sparsity_curve(levels, column, ax=ax)
        ax.set_ylabel(SPARSITY_LABELS.get(column, column))
    axes[0].legend(fontsize=7)
    return save_figure(axes[0].figure, path, title=title)
