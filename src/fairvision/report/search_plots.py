"""Figures of a search: the front with baselines, hypervolume over trials, parallel coordinates."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fairvision._io import atomic_write  # noqa: E402

__all__ = ["plot_search"]


def _save(fig, path: Path) -> Path:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)
    return path


def plot_search(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    objectives: Sequence,
    path: str | Path,
    *,
    hypervolume_curve: pd.Series | None = None,
    baselines: pd.DataFrame | None = None,
    title: str = "",
) -> Path:
    """One PNG with three panels: front of the first two objectives (all trials grey, front in colour,
    baselines as labelled crosses), hypervolume after each trial, and parallel coordinates of the
    configurations coloured by the first objective."""
    names = [getattr(o, "name", str(o)) for o in objectives]
    x, y = names[0], names[1] if len(names) > 1 else names[0]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    ax.scatter(trials[x], trials[y], s=18, c="#bbbbbb", label="trials")
    f = front.sort_values(x)
    ax.step(f[x], f[y], where="post", color="#c44e52", lw=1.2)
    ax.scatter(f[x], f[y], s=36, c="#c44e52", label="Pareto front", zorder=3)
    if baselines is not None and len(baselines):
        ax.scatter(baselines[x], baselines[y], marker="x", s=50, c="#4c72b0", label="baselines", zorder=4)
        for _, row in baselines.iterrows():
            ax.annotate(str(row.get("name", "")), (row[x], row[y]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("front (full budget)")

    ax = axes[1]
    if hypervolume_curve is not None and len(hypervolume_curve):
        ax.plot(hypervolume_curve.index, hypervolume_curve.values, drawstyle="steps-post", color="#55a868")
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume")
    ax.grid(alpha=0.3)
    ax.set_title("hypervolume over trials")

    ax = axes[2]
    configs = pd.DataFrame(list(trials["config"])) if len(trials) else pd.DataFrame()
    if len(configs.columns):
        coded = pd.DataFrame(index=configs.index)
        for col in configs.columns:
            values = configs[col]
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.notna().all() and values.map(lambda v: not isinstance(v, str)).all():
                v = np.log10(numeric) if (numeric > 0).all() and numeric.max() / numeric.min() > 50 else numeric
            else:
                cats = sorted(values.dropna().astype(str).unique())
                v = values.astype(str).map({c: i for i, c in enumerate(cats)}).astype(float)
            span = v.max() - v.min()
            coded[col] = (v - v.min()) / span if span and span == span else 0.5
        color = trials[x].to_numpy(float)
        cmap = plt.get_cmap("viridis_r")
        lo, hi = np.nanmin(color), np.nanmax(color)
        for i in range(len(coded)):
            c = cmap(0.5 if hi == lo or np.isnan(color[i]) else (color[i] - lo) / (hi - lo))
            ax.plot(range(len(coded.columns)), coded.iloc[i].to_numpy(float), color=c, alpha=0.6, lw=1)
        ax.set_xticks(range(len(coded.columns)), list(coded.columns), rotation=45, ha="right", fontsize=8)
        ax.set_yticks([])
    ax.set_title(f"configurations (colour: {x}, dark = low)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path))
