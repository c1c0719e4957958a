"""``DIR/summary.csv`` of a sparsity study: the bias metrics of every run, one row per measurement.

Attribute models: one row per (sparsity, seed, attribute, protected, threshold) with columns
:data:`ATTRIBUTE_COLUMNS`: ``sparsity`` is the *measured* overall sparsity of the run (0 for dense),
``requested`` the level asked for, ``threshold`` the policy (``default``: logit > 0; ``recalibrated``: per
attribute, from the validation logits; ``recalibrated_per_group``: per attribute and value of the protected
attribute). Metrics are computed on the test split from the run's final ``logits_test.txt`` (and
``logits_val.txt`` for recalibration), exactly as :func:`fairvision.metrics.attribute_bias_report`.

Face-identification models: one row per (sparsity, seed) with the FR-NAS metrics of the test split
(:func:`fairvision.train.evaluate`) -- the first join of the two papers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from fairvision._io import write_csv
from fairvision.errors import DatasetError
from fairvision.metrics import METRIC_NAMES, attribute_bias_report, read_logits
from fairvision.train import RunLayout
from fairvision.train.trigger import protected_attributes, trigger_column

__all__ = ["ATTRIBUTE_COLUMNS", "POLICIES", "by_level", "level_table", "run_summary", "summarize"]

POLICIES = ("default", "recalibrated", "recalibrated_per_group")
ATTRIBUTE_COLUMNS = ("sparsity", "requested", "seed", "attribute", "protected", "threshold", "accuracy", "auc",
                     "positive_rate", "fpr_gap", "fnr_gap", "bias_amplification", "uncertainty", "ece",
                     "interdependence_r2", "rare_value_ratio")


def run_name(sparsity: float, seed: int) -> str:
    """Folder name of a run of a study: ``dense-seed0``, ``sparsity0.9-seed0``."""
    return f"dense-seed{seed}" if sparsity == 0 else f"sparsity{sparsity:g}-seed{seed}"


def measured_sparsity(run_dir: str | Path) -> float:
    """Overall sparsity recorded in the run's last history record (0 for a run without pruning)."""
    path = RunLayout(run_dir).history
    last: dict = {}
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        last = json.loads(lines[-1]) if lines else {}
    value = last.get("sparsity")
    return float(value) if value is not None else 0.0


def _labels(layout: RunLayout, split: str, n_attributes: int) -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(layout.labels(split))
    names = list(frame.columns[-n_attributes:])
    return names, frame[names].to_numpy(np.int64)


def _group_labels(layout: RunLayout, names: list[str]) -> dict[str, pd.DataFrame | None]:
    """The protected attributes that are not targets (e.g. a ``data.trigger`` column) per split, from
    ``labels_{split}.csv`` (None per split when there are none)."""
    if not names:
        return dict.fromkeys(("train", "val", "test"))
    out = {}
    for split in ("train", "val", "test"):
        frame = pd.read_csv(layout.labels(split))
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise DatasetError(f"{layout.labels(split)}: protected attribute {missing[0]!r} is neither a target "
                               f"nor a column of the file")
        out[split] = frame[names]
    return out


def run_summary(run_dir: str | Path, *, policies: Sequence[str] = POLICIES) -> pd.DataFrame:
    """Rows of ``summary.csv`` for one attribute run (without ``requested``/``seed``)."""
    layout = RunLayout(run_dir)
    cfg = yaml.safe_load(layout.config.read_text())
    test = read_logits(layout.logits("test"))
    val = read_logits(layout.logits("val"))
    attributes, y_test = _labels(layout, "test", test.shape[1])
    _, y_val = _labels(layout, "val", test.shape[1])
    _, y_train = _labels(layout, "train", test.shape[1])
    protected = protected_attributes((cfg.get("task") or {}).get("protected") or None, attributes,
                                     trigger_column(cfg.get("data") or {}))
    groups = _group_labels(layout, [p for p in protected if p not in attributes])
    frames = []
    for policy in policies:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = attribute_bias_report(test, y_test, attributes=attributes, train_labels=y_train,
                                           protected=protected, policy=policy, val_logits=val, val_labels=y_val,
                                           group_labels=groups["test"], train_group_labels=groups["train"],
                                           val_group_labels=groups["val"])
        frames.append(report.summary().assign(threshold=policy))
    out = pd.concat(frames, ignore_index=True)
    out["sparsity"] = measured_sparsity(run_dir)
    return out


def _identification_row(run_dir: Path) -> dict:
    from fairvision.train import evaluate

    metrics = evaluate(run_dir, split="test", device="cpu")
    return {"sparsity": measured_sparsity(run_dir), **{name: metrics.get(name) for name in METRIC_NAMES},
            "status": metrics.get("status")}


def summarize(out: str | Path, *, points: Sequence[tuple[float, int]]) -> pd.DataFrame:
    """Write ``out/summary.csv`` from the runs of ``points`` (``(requested sparsity, seed)``); runs that
    diverged or have no outputs are left out (their trials are in the store)."""
    out = Path(out)
    rows: list[pd.DataFrame] = []
    for requested, seed in points:
        run_dir = out / "runs" / run_name(requested, seed)
        layout = RunLayout(run_dir)
        if not layout.config.exists():
            continue
        task = (yaml.safe_load(layout.config.read_text()).get("task") or {}).get("name", "identification")
        if task == "attribute":
            if not layout.logits("test").exists():
                continue
            frame = run_summary(run_dir)
        else:
            frame = pd.DataFrame([_identification_row(run_dir)])
        rows.append(frame.assign(requested=requested, seed=seed))
    if not rows:
        raise DatasetError(f"{out}: no finished runs to summarise")
    summary = pd.concat(rows, ignore_index=True)
    first = [c for c in ATTRIBUTE_COLUMNS if c in summary.columns]
    summary = summary[first + [c for c in summary.columns if c not in first]]
    write_csv(out / "summary.csv", summary)
    from fairvision.report.sparsity_plots import plot_sparsity_curves

    if "attribute" in summary.columns:
        levels = by_level(summary)
        columns: Sequence[str] = ("accuracy", "mean_abs_ba", "mean_abs_fnr_gap", "uncertainty", "interdependence_r2")
    else:  # face identification: one row per run already
        levels = summary.assign(threshold="identification")
        columns = [c for c in ("Error", "Rank Disparity", "Disparity", "Log-Odds Gap") if levels[c].notna().any()]
    write_csv(out / "summary_by_level.csv", levels)
    plot_sparsity_curves(levels, out / "curves.png", columns=columns,
                         title=f"{out.name}: bias vs sparsity (test split)")
    return summary


def by_level(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (requested level, seed, threshold policy): mean over attributes of accuracy, uncertainty, ECE,
    R² and rare-value ratio, mean |BA| and mean |FPR/FNR gap| over (attribute, protected) pairs (skipped
    pairs left out), and the measured sparsity -- ``summary_by_level.csv``, what the curves plot."""
    keys = ["requested", "seed", "threshold"]
    per_attribute = summary.drop_duplicates(keys + ["attribute"]) if "protected" in summary else summary
    means = per_attribute.groupby(keys, sort=False)[
        ["sparsity", "accuracy", "auc", "uncertainty", "ece", "interdependence_r2", "rare_value_ratio"]].mean()
    pairs = summary.assign(**{f"abs_{c}": summary[c].abs() for c in ("bias_amplification", "fpr_gap", "fnr_gap")})
    gaps = pairs.groupby(keys, sort=False)[["abs_bias_amplification", "abs_fpr_gap", "abs_fnr_gap"]].mean()
    gaps.columns = ["mean_abs_ba", "mean_abs_fpr_gap", "mean_abs_fnr_gap"]
    return means.join(gaps).reset_index()


def level_table(levels: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread (std over seeds) of :func:`by_level` per (requested level, threshold policy)."""
    numeric = [c for c in levels.columns if c not in ("requested", "seed", "threshold")]
    grouped = levels.groupby(["threshold", "requested"], sort=False)[numeric]
    table = grouped.mean().join(grouped.std(ddof=1).add_suffix("_std"))
    table["seeds"] = grouped.size()
    return table.reset_index()
