"""Bias vs sparsity curves of a pruning study (Iofinova et al.'s figures): one panel per quantity, one line
per threshold policy, mean over seeds with the seeds' min-max band, the dense level at sparsity 0."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from fairvision.report.plots import panel_axes, save_figure

__all__ = ["CURVE_PANELS", "plot_sparsity_curve", "plot_sparsity_curves"]

#: Columns of ``summary_by_level.csv`` drawn by :func:`plot_sparsity_curves`, with their axis labels.
CURVE_PANELS = {
    "accuracy": "mean accuracy",
    "mean_abs_ba": "mean |bias amplification|",
    "mean_abs_fnr_gap": "mean |FNR gap|",
    "uncertainty": "uncertainty",
    "interdependence_r2": "interdependence R²",
}
_COLOURS = {"default": "#4c72b0", "recalibrated": "#dd8452", "recalibrated_per_group": "#55a868"}


def _position(levels: np.ndarray) -> np.ndarray:
    """x positions: -log10(1 - sparsity) spreads 0.8 ... 0.995 as the paper's plots do (dense at 0)."""
    return -np.log10(1.0 - np.clip(levels, 0.0, 0.9999))


def plot_sparsity_curve(by_level: pd.DataFrame, column: str, *, ax: Axes | None = None) -> Axes:
    """One panel: ``column`` (per seed and level in ``by_level``) against sparsity, one line per policy."""
    ax = ax if ax is not None else panel_axes(None, 1, figsize=(5, 3.6))[0]
    for policy, part in by_level.groupby("threshold", sort=False):
        stats = part.groupby("requested")[column].agg(["mean", "min", "max"]).sort_index()
        x = _position(stats.index.to_numpy(float))
        colour = _COLOURS.get(str(policy))
        ax.plot(x, stats["mean"], marker="o", ms=3, label=str(policy), color=colour)
        ax.fill_between(x, stats["min"], stats["max"], alpha=0.2, color=colour)
    levels = np.sort(by_level["requested"].unique())
    ax.set_xticks(_position(levels), [f"{v:g}" for v in levels], rotation=45, fontsize=7)
    ax.set_xlabel("sparsity")
    ax.set_ylabel(CURVE_PANELS.get(column, column))
    ax.grid(alpha=0.3)
    return ax


def plot_sparsity_curves(by_level: pd.DataFrame, path: str | Path, *, title: str = "",
                         columns: Sequence[str] = tuple(CURVE_PANELS), axes: Sequence[Axes] | None = None) -> Path:
    """The panels of ``columns`` side by side (one line per threshold policy); writes ``path`` (PNG)."""
    panels = panel_axes(axes, len(columns), figsize=(3.3 * len(columns), 3.4))
    for ax, column in zip(panels, columns):
        plot_sparsity_curve(by_level, column, ax=ax)
    panels[0].legend(fontsize=7)
    return save_figure(panels[0].figure, path, title=title)
