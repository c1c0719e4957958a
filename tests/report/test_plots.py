"""Plots: object-oriented matplotlib (no pyplot, no backend switch), ``ax=``/``axes=`` to draw into given Axes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from fairvision.metrics import fairness_metrics
from fairvision.report.plots import new_figure, plot_group_bars, plot_group_metrics
from fairvision.report.search_plots import plot_front, plot_hypervolume, plot_parallel_coordinates, plot_search

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    groups = np.repeat(["A", "B", "C"], 40)
    return fairness_metrics(rng.integers(0, 3, len(groups)), groups)


@pytest.fixture(scope="module")
def search():
    rng = np.random.default_rng(1)
    configs = [{"head": h, "lr": lr, "edge1": str(e)} for h, lr, e in
               zip(rng.choice(["CosFace", "ArcFace"], 12), 10 ** rng.uniform(-4, -1, 12), rng.integers(0, 9, 12))]
    trials = pd.DataFrame({"config": configs, "Error": rng.uniform(0, 1, 12), "Rank Disparity": rng.uniform(0, 2, 12)})
    front = trials.nsmallest(3, "Error")
    curve = pd.Series(np.maximum.accumulate(rng.uniform(0, 1, 12)), index=range(12))
    baselines = pd.DataFrame({"name": ["resnet"], "Error": [0.5], "Rank Disparity": [1.0]})
    return trials, front, ["Error", "Rank Disparity"], curve, baselines


def test_importing_and_plotting_leave_matplotlib_state_alone(tmp_path):
    """No matplotlib.use() at import, no pyplot: the user's backend and figures are untouched."""
    code = (
        "import sys, matplotlib\n"
        "import fairvision.report.plots, fairvision.report.search_plots\n"
        "from fairvision.report.plots import new_figure, save_figure\n"
        f"save_figure(new_figure()[0], {str(tmp_path / 'x.png')!r})\n"
        "assert matplotlib.rcParams['backend'] == 'svg', matplotlib.rcParams['backend']\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.png").read_bytes()[:4] == PNG


def test_group_panels_draw_into_a_given_axes(report):
    fig, (a, b) = new_figure(2)
    assert plot_group_bars(report, "error", ax=a) is a and plot_group_bars(report, "mean_rank", ax=b) is b
    assert len(a.patches) == len(b.patches) == 3
    np.testing.assert_allclose([p.get_height() for p in a.patches], report.by_group["error"])
    own = plot_group_bars(report, "accuracy")  # no ax: a new standalone figure
    assert isinstance(own, Axes) and own.figure is not fig
    with pytest.raises(ValueError, match="column must be one of"):
        plot_group_bars(report, "n")


def test_plot_group_metrics_writes_png_and_accepts_axes(tmp_path, report):
    assert plot_group_metrics(report, tmp_path / "a.png", title="t").read_bytes()[:4] == PNG
    fig, axes = new_figure(3, figsize=(12, 3))
    plot_group_metrics(report, tmp_path / "b.png", axes=axes[:2])
    assert len(axes[0].patches) == 3 and len(axes[2].patches) == 0
    assert (tmp_path / "b.png").read_bytes()[:4] == PNG
    with pytest.raises(ValueError, match="expected 2 Axes"):
        plot_group_metrics(report, tmp_path / "c.png", axes=axes)


def test_search_panels_and_plot_search(tmp_path, search):
    trials, front, objectives, curve, baselines = search
    fig, (a, b, c) = new_figure(3)
    assert plot_front(trials, front, objectives, baselines=baselines, ax=a) is a
    assert plot_hypervolume(curve, ax=b) is b and plot_parallel_coordinates(trials, objectives, ax=c) is c
    assert a.get_xlabel() == "Error" and a.get_ylabel() == "Rank Disparity"
    assert len(c.lines) == len(trials) and [t.get_text() for t in c.get_xticklabels()] == ["head", "lr", "edge1"]
    out = plot_search(trials, front, objectives, tmp_path / "s.png", hypervolume_curve=curve, baselines=baselines,
                      title="study")
    assert out == tmp_path / "s.png" and out.read_bytes()[:4] == PNG
    fig, axes = new_figure(3)
    plot_search(trials, front, objectives, tmp_path / "t.png", axes=axes)
    assert len(axes[2].lines) == len(trials)


SEEDED = pd.DataFrame({
    "source": ["zoo"] * 5 + ["paper"],
    "name": ["zoo: resnet18/CosFace/SGD"] * 3 + ["zoo: vgg11/CosFace/SGD", "zoo: dpn/ArcFace/SGD", "FR-NAS"],
    "seed": [0, 1, 2, 0, 0, 0],
    "Error": [0.2, 0.3, 0.4, 0.5, 0.6, 0.25],
    "Rank Disparity": [1.0, 1.2, 1.4, 0.8, 0.9, 0.5],
})


@pytest.mark.parametrize("baselines, n_errorbars, labels, legend", [
    (SEEDED, 1, ["resnet18/CosFace/SGD (n=3)", "vgg11/CosFace/SGD", "dpn/ArcFace/SGD", "FR-NAS"],
     ["trials", "Pareto front", "zoo", "paper"]),
    (pd.concat([SEEDED, SEEDED.assign(seed=SEEDED["seed"] + 10)], ignore_index=True), 4,
     ["resnet18/CosFace/SGD (n=6)", "vgg11/CosFace/SGD (n=2)", "dpn/ArcFace/SGD (n=2)", "FR-NAS (n=2)"],
     ["trials", "Pareto front", "zoo", "paper"]),
    (SEEDED.drop(columns=["source", "seed"]).iloc[:3], 1, ["zoo: resnet18/CosFace/SGD (n=3)"],
     ["trials", "Pareto front", "baselines"]),
])
def test_front_baselines_mean_and_std_per_name(tmp_path, search, baselines, n_errorbars, labels, legend):
    from matplotlib.container import ErrorbarContainer

    trials, front, objectives, _, _ = search
    fig, (ax,) = new_figure(1)
    plot_front(trials, front, objectives, baselines=baselines, ax=ax)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == n_errorbars  # one per group with more than one row
    assert [t.get_text() for t in ax.texts] == labels  # each group labelled once; its source is in the legend
    assert [t.get_text() for t in ax.get_legend().get_texts()] == legend
    first = bars[0]  # resnet18: mean (0.3, 1.2), std (0.1, 0.2) -- or of its 6 rows when seeds are doubled
    x, y = first.lines[0].get_data()
    assert (x[0], y[0]) == (pytest.approx(0.3), pytest.approx(1.2))
    xerr, yerr = (seg.get_segments()[0] for seg in first.lines[2])
    agg = baselines.groupby("name", sort=False)[["Error", "Rank Disparity"]].std().iloc[0]
    assert xerr[1][0] - xerr[0][0] == pytest.approx(2 * agg["Error"])
    assert yerr[1][1] - yerr[0][1] == pytest.approx(2 * agg["Rank Disparity"])
    out = plot_search(trials, front, objectives, tmp_path / "f.png", baselines=baselines)
    assert out.read_bytes()[:4] == PNG
