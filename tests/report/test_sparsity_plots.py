"""Bias vs sparsity curves: one line per threshold policy, seeds' band, dense at 0, PNG written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairvision.report.plots import new_figure
from fairvision.report.sparsity_plots import CURVE_PANELS, plot_sparsity_curve, plot_sparsity_curves


def _levels() -> pd.DataFrame:
    rows = []
    for policy in ("default", "recalibrated"):
        for level in (0.0, 0.8, 0.9, 0.99):
            for seed in (0, 1):
                rows.append({"requested": level, "seed": seed, "threshold": policy,
                             **{c: level + seed / 10 + (policy == "recalibrated") for c in CURVE_PANELS}})
    return pd.DataFrame(rows)


def test_curve_lines_are_seed_means_per_policy():
    ax = plot_sparsity_curve(_levels(), "accuracy", ax=new_figure()[1][0])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"default", "recalibrated"}
    np.testing.assert_allclose(lines["default"].get_ydata(), [0.05, 0.85, 0.95, 1.04])
    np.testing.assert_allclose(lines["recalibrated"].get_ydata(), [1.05, 1.85, 1.95, 2.04])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.8", "0.9", "0.99"]
    assert ax.get_xticks()[0] == 0 and ax.get_xticks()[-1] == pytest.approx(2.0)  # -log10(1 - s)


def test_curves_png(tmp_path):
    path = plot_sparsity_curves(_levels(), tmp_path / "c.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
