"""Aggregation of summary.csv: per-attribute values counted once, |BA| and gaps averaged over pairs, NaN skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairvision.prune.summary import by_level, level_table, run_name


def _summary() -> pd.DataFrame:
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for attribute, acc in (("A", 0.9), ("B", 0.7)):
            for protected, ba in (("Male", -0.2), ("Young", np.nan)):
                rows.append({"sparsity": 0.9, "requested": 0.9, "seed": seed, "attribute": attribute,
                             "protected": protected, "threshold": "default", "accuracy": acc + shift, "auc": 0.8,
                             "positive_rate": 0.1, "fpr_gap": 0.1, "fnr_gap": -0.3, "bias_amplification": ba,
                             "uncertainty": 0.2, "ece": 0.05, "interdependence_r2": 0.5, "rare_value_ratio": 1.0})
    return pd.DataFrame(rows)


def test_by_level_counts_each_attribute_once_and_skips_nan_ba():
    levels = by_level(_summary())
    assert levels["seed"].tolist() == [0, 1]
    assert levels["accuracy"].tolist() == pytest.approx([0.8, 0.9])
    assert levels["mean_abs_ba"].tolist() == pytest.approx([0.2, 0.2])  # NaN pairs left out
    assert levels["mean_abs_fnr_gap"].tolist() == pytest.approx([0.3, 0.3])
    table = level_table(levels)
    assert table.loc[0, "accuracy"] == pytest.approx(0.85)
    assert table.loc[0, "accuracy_std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert table.loc[0, "seeds"] == 2


def test_run_names():
    assert run_name(0.0, 2) == "dense-seed2" and run_name(0.995, 0) == "sparsity0.995-seed0"
