"""Figures a user can open (PNG via matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fairvision._io import atomic_write  # noqa: E402
from fairvision.metrics import FairnessReport  # noqa: E402

__all__ = ["plot_group_metrics"]


def plot_group_metrics(report: FairnessReport, path: str | Path, *, title: str = "") -> Path:
    """Bar charts of per-group identification error and mean rank."""
    table = report.by_group
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(len(table))
    for ax, col, label in ((axes[0], "error", "identification error"), (axes[1], "mean_rank", "mean rank_by_id")):
        ax.bar(x, table[col], color="#4c72b0")
        ax.set_xticks(x, [str(g) for g in table.index])
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    metrics = report.metrics
    fig.suptitle(
        f"{title}\nError {metrics['Error']:.3f} | Rank Disparity {metrics['Rank Disparity']:.3f} "
        f"| Disparity {metrics['Disparity']:.3f}",
        fontsize=10,
    )
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)
    return Path(path)
