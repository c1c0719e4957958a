"""Figures of a search: the front with baselines, hypervolume over trials, parallel coordinates.

Each panel function draws into ``ax`` (or a new figure) and returns the Axes;
:func:`plot_search` writes all three panels to one PNG (``axes=`` to draw into
three Axes of the caller's figure).  Object-oriented matplotlib only, as in
:mod:`fairvision.report.plots`: no pyplot, no backend switching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from fairvision.report.plots import new_figure, panel_axes, save_figure

__all__ = ["plot_front", "plot_hypervolume", "plot_parallel_coordinates", "plot_search"]


def _names(objectives: Sequence) -> tuple[str, str]:
    names = [getattr(o, "name", str(o)) for o in objectives]
    return names[0], names[1] if len(names) > 1 else names[0]


#: (colour, marker) per baseline source, in order; none is the front's red or the trials' grey.
_SOURCE_STYLES = [("#4c72b0", "X"), ("#55a868", "D"), ("#8172b2", "s"), ("#ccb974", "^"), ("#64b5cd", "v"),
                  ("#937860", "P"), ("#da8bc3", "*"), ("#000000", "h")]


def _short_label(source: str, name: str) -> str:
    """The group's label: its name without a leading ``"SOURCE: "`` (the legend names the source)."""
    return name[len(source) + 2:] if name.startswith(f"{source}: ") else name


def _plot_baselines(ax: Axes, baselines: pd.DataFrame, x: str, y: str) -> list:
    """Draw each (source, name) group once; returns the first artist of each source, for the legend."""
    from fairvision.report.tables import aggregate_baselines

    table = aggregate_baselines(baselines, [x] if x == y else [x, y])
    table = table[np.isfinite(table[[f"{x}_mean", f"{y}_mean"]].to_numpy(float)).all(axis=1)]
    handles = []
    for k, source in enumerate(dict.fromkeys(table["source"])):
        color, marker = _SOURCE_STYLES[k % len(_SOURCE_STYLES)]
        label = source
        for row in table[table["source"] == source].to_dict("records"):
            mx, my, sx, sy = (float(row[f"{o}_{s}"]) for o, s in ((x, "mean"), (y, "mean"), (x, "std"), (y, "std")))
            if row["n"] > 1:
                artist = ax.errorbar(mx, my, xerr=sx if np.isfinite(sx) else None,
                                     yerr=sy if np.isfinite(sy) else None, fmt=marker, ms=7, color=color,
                                     ecolor=color, elinewidth=1, capsize=3, label=label, zorder=4)
            else:
                artist = ax.plot(mx, my, marker, ms=7, color=color, label=label, zorder=4)[0]
            if label == source:
                handles.append(artist)
            label = "_nolegend_"
            text = _short_label(source, row["name"]) + (f" (n={row['n']})" if row["n"] > 1 else "")
            ax.annotate(text, (mx, my), fontsize=7, xytext=(4, 4), textcoords="offset points", color=color)
    return handles


def plot_front(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    objectives: Sequence,
    *,
    baselines: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The first two objectives: all trials grey, the front in colour, and the baselines.

    ``baselines``: one row per model with ``name``, the objectives and optionally ``source`` and ``seed``
    (:func:`fairvision.search.analysis.load_baselines`). Rows are grouped by (``source``, ``name``) and each
    group is drawn once at its mean, with ± std error bars in both objectives when it has more than one row
    (:func:`~fairvision.report.tables.aggregate_baselines`), labelled with its name and ``n=``; each source
    has its own colour and marker and one legend entry.
    """
    ax = ax if ax is not None else new_figure()[1][0]
    x, y = _names(objectives)
    handles = [ax.scatter(trials[x], trials[y], s=18, c="#bbbbbb", label="trials")]
    f = front.sort_values(x)
    ax.step(f[x], f[y], where="post", color="#c44e52", lw=1.2)
    handles.append(ax.scatter(f[x], f[y], s=36, c="#c44e52", label="Pareto front", zorder=3))
    if baselines is not None and len(baselines):
        handles += _plot_baselines(ax, baselines, x, y)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    outside = baselines is not None and len(baselines) > 0  # many markers: keep the legend off the points
    ax.legend(handles=handles, labels=[h.get_label() for h in handles], fontsize=8,
              **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0} if outside else {}))
    ax.grid(alpha=0.3)
    ax.set_title("front (full budget)")
    return ax


def plot_hypervolume(curve: pd.Series | None, *, ax: Axes | None = None) -> Axes:
    """Hypervolume after each trial (index: trial number)."""
    ax = ax if ax is not None else new_figure()[1][0]
    if curve is not None and len(curve):
        ax.plot(curve.index, curve.values, drawstyle="steps-post", color="#55a868")
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume")
    ax.grid(alpha=0.3)
    ax.set_title("hypervolume over trials")
    return ax


def _coded(configs: pd.DataFrame) -> pd.DataFrame:
    """Every config column scaled to [0, 1]: numbers (log-scaled over wide positive ranges) or category codes."""
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
    return coded


def plot_parallel_coordinates(trials: pd.DataFrame, objectives: Sequence, *, ax: Axes | None = None) -> Axes:
    """One line per trial across its configuration values, coloured by the first objective (dark = low)."""
    ax = ax if ax is not None else new_figure()[1][0]
    x = _names(objectives)[0]
    configs = pd.DataFrame(list(trials["config"])) if len(trials) else pd.DataFrame()
    if len(configs.columns):
        coded = _coded(configs)
        color = trials[x].to_numpy(float)
        cmap = matplotlib.colormaps["viridis_r"]
        lo, hi = np.nanmin(color), np.nanmax(color)
        for i in range(len(coded)):
            c = cmap(0.5 if hi == lo or np.isnan(color[i]) else (color[i] - lo) / (hi - lo))
            ax.plot(range(len(coded.columns)), coded.iloc[i].to_numpy(float), color=c, alpha=0.6, lw=1)
        ax.set_xticks(range(len(coded.columns)), list(coded.columns), rotation=45, ha="right", fontsize=8)
        ax.set_yticks([])
    ax.set_title(f"configurations (colour: {x}, dark = low)")
    return ax


def plot_search(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    objectives: Sequence,
    path: str | Path,
    *,
    hypervolume_curve: pd.Series | None = None,
    baselines: pd.DataFrame | None = None,
    title: str = "",
    axes: Sequence[Axes] | None = None,
) -> Path:
    """One PNG with three panels: :func:`plot_front`, :func:`plot_hypervolume` and
    :func:`plot_parallel_coordinates`.  ``axes``: three Axes to draw into (their figure is written)."""
    if axes is None and baselines is not None and len(baselines):  # a larger front panel, its legend beside it
        fig = new_figure(figsize=(18, 10))[0]
        fig.clear()
        grid = fig.add_gridspec(2, 2, height_ratios=[1.6, 1], width_ratios=[1, 1.6])
        front_ax, hv_ax, pc_ax = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    else:
        front_ax, hv_ax, pc_ax = panel_axes(axes, 3, figsize=(16, 4.6))
    plot_front(trials, front, objectives, baselines=baselines, ax=front_ax)
    plot_hypervolume(hypervolume_curve, ax=hv_ax)
    plot_parallel_coordinates(trials, objectives, ax=pc_ax)
    return save_figure(front_ax.figure, Path(path), title=title)
