"""Loading a training run folder for the report: config, per-epoch history, per-group results with
bootstrap intervals recomputed from the saved ranks, evaluation outputs."""

from __future__ import annotations

import json
import shlex
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fairvision.errors import FairvisionError
from fairvision.metrics import METRIC_NAMES, fairness_metrics
from fairvision.metrics._io import read_csv_checked
from fairvision.report.html import GroupResult, Provenance, RunData
from fairvision.train import RunLayout

__all__ = ["group_intervals", "load_run"]

#: Files of a run folder that are not evaluation outputs.
_OWN_FILES = {"metrics.json", "ranks_val.csv", "val_meta.csv", "labels_train.csv", "labels_val.csv",
              "labels_test.csv"}


def group_intervals(ranks: Any, groups: Any, identities: Any, *, replicates: int, seed: int = 0,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Percentile bootstrap intervals of each group's ``accuracy``, ``error`` and ``mean_rank``, from the same
    identity draws as :func:`fairvision.metrics.fairness_metrics`' headline intervals for the same ``seed``
    (:func:`fairvision.metrics._bootstrap.bootstrap_group_intervals`). Rank -1 rows are left out."""
    from fairvision.metrics._bootstrap import bootstrap_group_intervals

    frame = pd.DataFrame({"rank": np.asarray(ranks, dtype=np.int64), "group": np.asarray(groups).astype(str),
                          "identity": np.asarray(identities).astype(str)})
    return bootstrap_group_intervals(frame[frame["rank"] >= 0], sorted(frame["group"].unique()),
                                     replicates=replicates, confidence=confidence, seed=seed)


def _ranks_result(title: str, ranks: np.ndarray, groups: np.ndarray, identities: np.ndarray, *, bootstrap: int,
                  seed: int, source: str) -> GroupResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined metrics are shown as "–"
        report = fairness_metrics(ranks, groups, identities=identities, bootstrap=bootstrap, seed=seed)
    headline = report.metrics.rename("value").to_frame()
    groups_table = report.by_group[["n", "identities", "accuracy", "error", "mean_rank"]].copy()
    if report.ci is None:
        return GroupResult(title, headline, groups_table, f"Computed from {source}; bootstrap intervals off "
                           "(--bootstrap 0).")
    headline = headline.join(report.ci[["lower", "upper"]])
    groups_table = groups_table.join(group_intervals(ranks, groups, identities, replicates=bootstrap, seed=seed))
    return GroupResult(title, headline, groups_table,
                       f"Computed from {source}: 95% percentile bootstrap intervals, {bootstrap} replicates resampling "
                       f"identities within each group, seed {seed}.")


def _json_result(title: str, metrics: dict, note: str) -> GroupResult | None:
    groups = metrics.get("groups") or {}
    if not groups:
        return None
    headline = pd.DataFrame({"value": [metrics.get(m) for m in METRIC_NAMES]}, index=METRIC_NAMES, dtype=float)
    ci = metrics.get("ci") or {}
    if ci:
        headline["lower"] = [(ci.get(m) or [None, None])[0] for m in METRIC_NAMES]
        headline["upper"] = [(ci.get(m) or [None, None])[1] for m in METRIC_NAMES]
        headline = headline.astype(float)
    table = pd.DataFrame.from_dict(groups, orient="index")
    table.index.name = "group"
    cols = [c for c in ("n", "accuracy", "error", "mean_rank") if c in table]
    return GroupResult(title, headline, table[cols], note)


def _read_history(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        notes.append(f"{path.name} not found: no per-epoch curves.")
        return None
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            notes.append(f"{path.name} line {i} is not JSON: left out.")
    if not records:
        return None
    frame = pd.DataFrame(records)
    if "epoch" not in frame:
        frame["epoch"] = range(len(frame))
    return frame


def _group_errors(history: pd.DataFrame | None) -> pd.DataFrame | None:
    if history is None or "groups" not in history:
        return None
    rows = {int(e): {g: v.get("error") for g, v in groups.items()}
            for e, groups in zip(history["epoch"], history["groups"]) if isinstance(groups, dict) and groups}
    return pd.DataFrame.from_dict(rows, orient="index").sort_index().astype(float) if rows else None


def _attribute_tables(metrics: dict) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    bias = metrics.get("attribute_bias") or {}
    attributes = pd.DataFrame.from_dict(bias.get("attributes") or {}, orient="index")
    if attributes.empty:
        return None, None
    attributes.index.name = "attribute"
    rows = {}
    labels = (("bias_amplification", "mean |BA|"), ("fpr_gap", "mean |FPR gap|"), ("fnr_gap", "mean |FNR gap|"))
    for key, label in labels:
        for protected, values in (bias.get(key) or {}).items():
            finite = [abs(v) for v in values.values() if v is not None]
            rows.setdefault(protected, {})[label] = float(np.mean(finite)) if finite else np.nan
    protected = pd.DataFrame.from_dict(rows, orient="index") if rows else None
    if protected is not None:
        protected.index.name = "protected"
    return attributes, protected


def _overview(cfg: dict, metrics: dict | None, task: str) -> dict[str, Any]:
    section = lambda name: cfg.get(name) if isinstance(cfg.get(name), dict) else {}  # noqa: E731
    out: dict[str, Any] = {"task": task}
    if metrics:
        out["status"] = metrics.get("status")
        if metrics.get("epoch") is not None:
            out["epochs done"] = int(metrics["epoch"]) + 1
    out["epochs configured"] = section("train").get("epochs")
    out["model"] = section("model").get("name")
    out["head"] = section("head").get("name")
    optim = section("optim")
    out["optimizer"] = f"{optim.get('name')} (lr {optim.get('lr')})" if optim else None
    data = section("data")
    out["data"] = f"{data.get('kind')}, {data.get('image_size')} px" if data else None
    out["group column"] = data.get("group_column")
    if section("prune").get("method") not in (None, "none"):
        out["pruning"] = f"{section('prune').get('method')} to sparsity {section('prune').get('sparsity')}"
    if section("mitigation").get("name") not in (None, "none"):
        out["mitigation"] = section("mitigation").get("name")
    if metrics and task == "attribute":
        for key in ("Accuracy", "Mean AUC", "Mean |BA|", "Error"):
            if key in metrics:
                out[f"{key} ({metrics.get('split', 'val')})"] = metrics[key]
    return {k: v for k, v in out.items() if v is not None}


def load_run(path: str | Path, *, bootstrap: int = 1000, seed: int = 0) -> RunData:
    """A training run folder as :class:`~fairvision.report.html.RunData`.

    Per-group results: the validation split at the run's last evaluated epoch, recomputed from ``ranks_val.csv``
    and ``val_meta.csv`` with ``bootstrap`` replicates (point values of ``metrics.json`` when those files are
    missing); each ``fairvision evaluate --out`` JSON (keys ``split`` and ``groups``) and ``--ranks-out`` CSV
    (``identity, group, rank_by_id``) in the folder is another result.
    """
    root = Path(path)
    layout = RunLayout(root)
    notes: list[str] = []
    config_text = layout.config.read_text(encoding="utf-8", errors="replace")
    try:
        cfg = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        cfg = {}
        notes.append("config.yaml is not valid YAML: overview left out.")
    task_cfg = cfg.get("task")
    task = (task_cfg.get("name") if isinstance(task_cfg, dict) else task_cfg) or "identification"
    metrics = None
    if layout.metrics.is_file():
        try:
            metrics = json.loads(layout.metrics.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            notes.append("metrics.json is not valid JSON: left out.")
    history = _read_history(layout.history, notes)
    run = RunData("/".join(root.resolve().parts[-2:]), str(root), task, _overview(cfg, metrics, task), history,
                  _group_errors(history))
    if metrics is None:
        run.results_note = "metrics.json not found" if not layout.metrics.exists() else "metrics.json unreadable"
    elif metrics.get("status") == "diverged":
        run.results_note = "the run diverged (Error = 1 by convention)"
    elif task == "attribute":
        run.attributes, run.protected = _attribute_tables(metrics)
        notes.append("Bootstrap intervals are not computed for attribute runs: point values on the validation split.")
    else:
        epoch = metrics.get("epoch")
        column = RunLayout.rank_column(int(epoch)) if epoch is not None else None
        result = None
        if column and layout.ranks.is_file() and layout.val_meta.is_file():
            try:
                ranks = read_csv_checked(layout.ranks, what="ranks")
                meta = read_csv_checked(layout.val_meta, what="validation metadata", blank_only_missing=True)
                if column in ranks and {"ids", "identity", "group"} <= set(meta.columns):
                    joined = meta.merge(ranks[["ids", column]], on="ids", how="inner")
                    result = _ranks_result(f"validation split, epoch {epoch}", joined[column].to_numpy(),
                                           joined["group"].to_numpy(), joined["identity"].to_numpy(),
                                           bootstrap=bootstrap, seed=seed, source="ranks_val.csv and val_meta.csv")
            except (FairvisionError, ValueError) as exc:
                notes.append(f"ranks_val.csv / val_meta.csv unusable ({exc}): point values of metrics.json shown.")
        if result is None:
            result = _json_result(f"validation split, epoch {epoch}", metrics,
                                  "Point values of metrics.json; intervals not available (ranks_val.csv and "
                                  "val_meta.csv with this epoch's ranks are needed).")
        if result is not None:
            run.results.append(result)
        else:
            run.results_note = "metrics.json has no per-group values"
    run.results += _evaluations(root, bootstrap=bootstrap, seed=seed, notes=notes)
    run.notes = notes
    run.provenance = Provenance(
        commands=[("Command that trains this run again (config.yaml is the resolved config)",
                   f"fairvision train {shlex.quote(str(layout.config))} --out NEW_RUN_FOLDER"),
                  ("Command that scores it on the test split",
                   f"fairvision evaluate {shlex.quote(str(root))} --split test --json")],
        configs=[(f"{layout.config}", config_text)])
    return run


def _evaluations(root: Path, *, bootstrap: int, seed: int, notes: list[str]) -> list[GroupResult]:
    out = []
    for path in sorted(root.glob("*.json")):
        if path.name in _OWN_FILES:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict) or "split" not in data or "groups" not in data:
            continue
        ci = "with its bootstrap intervals" if data.get("ci") else "point values, no intervals in the file"
        result = _json_result(f"{data['split']} split ({path.name})", data, f"From {path.name} ({ci}).")
        if result is not None:
            out.append(result)
    for path in sorted(root.glob("*.csv")):
        if path.name in _OWN_FILES:
            continue
        try:
            frame = read_csv_checked(path, what="ranks", blank_only_missing=True)
        except FairvisionError:
            continue
        if not {"identity", "group", "rank_by_id"} <= set(frame.columns):
            continue
        try:
            out.append(_ranks_result(f"ranks of {path.name}", frame["rank_by_id"].to_numpy(),
                                     frame["group"].to_numpy(), frame["identity"].to_numpy(),
                                     bootstrap=bootstrap, seed=seed, source=path.name))
        except ValueError as exc:
            notes.append(f"{path.name}: not scored ({exc}).")
    return out
