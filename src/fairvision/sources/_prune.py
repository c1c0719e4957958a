"""Loading a pruning study folder for the report: bias vs sparsity summaries, the study store, the dense-only
bias predictions (``risk_validation.csv``, ``cie.csv``, ``cie_summary.csv``) and the configs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fairvision._io import jsonable
from fairvision.errors import FairvisionError
from fairvision.metrics._io import read_csv_checked
from fairvision.report.html import CIE_COLUMNS, Provenance, PruneData

__all__ = ["load_prune_study"]

_CIE_NEEDS = ("path", "dense_score", "is_cie", "sparsity")


def _optional_csv(path: Path, what: str, notes: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return read_csv_checked(path, what=what, blank_only_missing=True)
    except FairvisionError as exc:
        notes.append(f"{exc}: left out.")
        return None


def _levels(root: Path, notes: list[str]) -> pd.DataFrame | None:
    from fairvision.prune.summary import by_level

    levels = _optional_csv(root / "summary_by_level.csv", "per-level summary", notes)
    if levels is None:
        summary = _optional_csv(root / "summary.csv", "study summary", notes)
        if summary is None:
            return None
        levels = by_level(summary) if "attribute" in summary else summary.assign(threshold="identification")
        notes.append("summary_by_level.csv not found: the levels were recomputed from summary.csv.")
    missing = [c for c in ("requested", "seed", "threshold") if c not in levels]
    if missing:
        notes.append(f"{root / 'summary_by_level.csv'}: columns {missing} missing: no bias vs sparsity curves.")
        return None
    return levels


def _level_summary(levels: pd.DataFrame) -> pd.DataFrame:
    from fairvision.prune.summary import level_table

    keys = ["requested", "seed", "threshold"]
    numeric = [c for c in levels.columns if c not in keys and pd.api.types.is_numeric_dtype(levels[c])]
    return level_table(levels[keys + numeric])


def _store(root: Path, notes: list[str]) -> tuple[pd.DataFrame | None, str | None]:
    """Trials (number, sparsity, seed, budget, status) and the stored study row of ``root/study.db``."""
    path = root / "study.db"
    if not path.is_file():
        notes.append("study.db not found: trial statuses not shown.")
        return None, None
    from fairvision.search.analysis import open_store
    from fairvision.sources._detect import _store_studies

    names = _store_studies(path) or ()
    if len(names) != 1:
        notes.append(f"{path}: {'no study' if not names else f'studies {list(names)}'}; trial statuses not shown.")
        return None, None
    store = open_store(path, names[0])
    try:
        row = store.study()
        trials = store.trials()
    finally:
        store.close()
    frame = pd.DataFrame({"number": trials["number"], "sparsity": [c.get("sparsity") for c in trials["config"]],
                          "seed": trials["seed"], "status": trials["status"]})
    stored = {"study": row["name"], "engine": row["engine"],
              "objectives": [o.to_dict() for o in row["objectives"]], "settings": row["settings"]}
    return frame, yaml.safe_dump(jsonable(stored), sort_keys=False, width=110, default_flow_style=None)


def _cie(root: Path, notes: list[str]) -> pd.DataFrame | None:
    cie = _optional_csv(root / "cie.csv", "susceptible samples", notes)
    if cie is None:
        return None
    missing = [c for c in _CIE_NEEDS if c not in cie]
    if missing:
        notes.append(f"{root / 'cie.csv'}: columns {missing} missing (expected {', '.join(CIE_COLUMNS)}): "
                     "susceptible samples not shown.")
        return None
    cie["dense_score"] = pd.to_numeric(cie["dense_score"], errors="coerce")
    cie["sparsity"] = pd.to_numeric(cie["sparsity"], errors="coerce")

    def resolve(p: Any) -> Any:  # relative image paths are relative to the study folder
        if isinstance(p, str) and p and not Path(p).is_absolute() and (root / p).exists():
            return str(root / p)
        return p

    cie["path"] = cie["path"].map(resolve)
    return cie


def _run_configs(root: Path) -> list[tuple[str, str]]:
    runs = sorted(p for p in (root / "runs").glob("*") if (p / "config.yaml").is_file())
    picked = [next((p for p in runs if p.name.startswith("dense")), None),
              next((p for p in runs if not p.name.startswith("dense")), None)]
    return [(f"{p / 'config.yaml'} ({'the dense model' if p.name.startswith('dense') else 'a pruned model'}; "
             f"{len(runs)} runs in {root / 'runs'})", (p / "config.yaml").read_text(encoding="utf-8", errors="replace"))
            for p in picked if p is not None]


def load_prune_study(path: str | Path) -> PruneData:
    """A pruning study folder (``fairvision prune-study --out DIR``) as :class:`~fairvision.report.html.PruneData`."""
    root = Path(path)
    notes: list[str] = []
    levels = _levels(root, notes)
    data = PruneData(root.name or str(root), str(root), levels,
                     _level_summary(levels) if levels is not None and len(levels) else None)
    try:
        data.trials, stored = _store(root, notes)
    except FairvisionError as exc:  # e.g. the search extra missing, an unreadable store
        notes.append(f"{root / 'study.db'}: {exc}")
        stored = None
    data.risk_validation = _optional_csv(root / "risk_validation.csv", "risk validation", notes)
    data.cie = _cie(root, notes)
    data.cie_summary = _optional_csv(root / "cie_summary.csv", "susceptible-samples summary", notes)
    study_configs = [(str(p), p.read_text(encoding="utf-8", errors="replace"))
                     for p in sorted([*root.glob("*.yaml"), *root.glob("*.yml")])]
    configs = study_configs + ([(f"study as stored in {root / 'study.db'}", stored)] if stored else [])
    configs += _run_configs(root)
    data.notes = notes
    config = shlex.quote(study_configs[0][0]) if study_configs else "STUDY_CONFIG.yaml"
    data.provenance = Provenance(
        commands=[("Command that runs (or resumes) the study and rewrites summary.csv, summary_by_level.csv and "
                   "curves.png", f"fairvision prune-study {config} --out {shlex.quote(str(root))}")],
        configs=configs,
        note="" if study_configs else "The study config file is not kept in the study folder: the stored grid and "
        "the runs' resolved configs are shown instead.")
    return data
