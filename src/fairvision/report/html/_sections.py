"""Sections of the HTML report, built from data already loaded (frames, dicts): a training run, a search
study with its baselines, a pruning study.  Loading the sources is :mod:`fairvision.sources`'s job; this
module draws the figures (into a :class:`FigureFolder`) and lays out tables and notes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairvision.metrics import METRIC_NAMES
from fairvision.report.html._blocks import (
    Details, FigureFolder, Gallery, GalleryItem, Heading, Note, Section, format_value, interval_cells, table,
    thumbnail_uri,
)
from fairvision.report.html._figures import (
    SPARSITY_LABELS, plot_group_intervals, plot_run_curves, plot_sparsity_panels, search_axes,
)
from fairvision.report.search_plots import plot_search

__all__ = ["CIE_COLUMNS", "GroupResult", "PruneData", "Provenance", "RunData", "StudyData", "prune_section",
           "run_section", "search_section"]

#: Fixed columns of a pruning study's ``cie.csv``; the others are the protected attributes.
CIE_COLUMNS = ("sparsity", "ids", "path", "identity", "group", "is_cie", "n_cie_attributes", "cie_attributes",
               "dense_score", "dense_disagreement")
#: History columns that are bookkeeping, not results (never drawn as curves).
_BOOKKEEPING = {"epoch", "images_per_s", "seconds", "eval_seconds", "lr", "train_loss", "evaluated"}
#: Columns of the per-level table of a pruning study, in this order where present.
_LEVEL_COLUMNS = ("sparsity", "accuracy", "mean_abs_ba", "mean_abs_fpr_gap", "mean_abs_fnr_gap", "uncertainty",
                  "interdependence_r2", *METRIC_NAMES)
_ACCURACY_PANELS = ("accuracy", "uncertainty", "interdependence_r2")
_GAP_PANELS = ("mean_abs_ba", "mean_abs_fpr_gap", "mean_abs_fnr_gap")


@dataclass
class Provenance:
    """What produced a section: ``commands`` as ``(what, command line)``, ``configs`` as ``(title, text)``."""

    commands: list[tuple[str, str]] = field(default_factory=list)
    configs: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


@dataclass
class GroupResult:
    """Per-group results of one evaluation of a run.

    ``headline``: index metric name, column ``value`` (and ``lower``/``upper`` with intervals);
    ``groups``: index group, columns ``n``, ``accuracy``, ``error``, ``mean_rank`` (and ``<col>_lower``,
    ``<col>_upper``); ``note`` says how the intervals were computed, or why there are none.
    """

    title: str
    headline: pd.DataFrame
    groups: pd.DataFrame
    note: str = ""


@dataclass
class RunData:
    """A training run folder, loaded (see :func:`fairvision.sources.load_run`)."""

    name: str
    path: str
    task: str = "identification"
    overview: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame | None = None
    group_errors: pd.DataFrame | None = None  # index epoch, one column per group
    results: list[GroupResult] = field(default_factory=list)
    attributes: pd.DataFrame | None = None  # attribute runs: index attribute
    protected: pd.DataFrame | None = None  # attribute runs: index protected attribute, mean |gaps|
    results_note: str = ""  # why there are no per-group results
    notes: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class StudyData:
    """A study of a trial store, loaded (see :func:`fairvision.sources.load_store`).

    ``summary``: :func:`fairvision.search.analysis.front_summary`'s dict (None when no trial is complete);
    ``trials``: every trial; ``baselines``: rows ``source, name, <objectives>`` of the other stores' studies
    overlaid on the front; ``baseline_summary``: their mean ± std per configuration
    (``source, name, n, <objective>_mean, <objective>_std``).
    """

    name: str
    path: str
    engine: str
    trials: pd.DataFrame
    summary: dict[str, Any] | None = None
    baselines: pd.DataFrame | None = None
    baseline_summary: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class PruneData:
    """A pruning study folder, loaded (see :func:`fairvision.sources.load_prune_study`).

    ``levels``: ``summary_by_level.csv``; ``level_summary``: its mean and ``_std`` over seeds per (threshold,
    requested level); ``trials``: the study store's trials (or None); ``risk_validation``, ``cie``,
    ``cie_summary``: the dense-only bias predictions' files when present.
    """

    name: str
    path: str
    levels: pd.DataFrame | None = None
    level_summary: pd.DataFrame | None = None
    trials: pd.DataFrame | None = None
    risk_validation: pd.DataFrame | None = None
    cie: pd.DataFrame | None = None
    cie_summary: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)


# ---------------------------------------------------------------------------------------------- helpers
def _provenance_blocks(provenance: Provenance) -> list:
    blocks: list = []
    if provenance.commands or provenance.configs or provenance.note:
        blocks.append(Heading("How this was produced"))
    if provenance.note:
        blocks.append(Note(provenance.note))
    for what, command in provenance.commands:
        blocks.append(Details(what, command))
    for title, text in provenance.configs:
        blocks.append(Details(title, text))
    return blocks


def _key_values(items: dict[str, Any], caption: str = "") -> Any:
    frame = pd.DataFrame({"": list(items), "value": [format_value(v) for v in items.values()]})
    return table(frame, caption=caption)


def _metric_table(headline: pd.DataFrame) -> Any:
    frame = headline.rename(columns={"lower": "value_lower", "upper": "value_upper"})
    has_ci = "value_lower" in frame and frame["value_lower"].notna().any()
    frame = interval_cells(frame, ["value"])
    frame.index.name = "metric"
    return table(frame, index=True, caption="headline metrics" + (": value [95% interval]" if has_ci else ""))


# ---------------------------------------------------------------------------------------------- training run
def run_section(run: RunData, files: FigureFolder, *, section_id: str) -> Section:
    """A training run: overview, per-group tables with intervals, per-epoch curves, config."""
    section = Section(section_id, f"Training run {run.name}", subtitle=run.path)
    blocks = section.blocks
    if run.overview:
        blocks.append(_key_values(run.overview))
    blocks.append(Heading("Per-group results"))
    for result in run.results:
        blocks.append(Heading(result.title))
        blocks.append(_metric_table(result.headline))
        groups = result.groups.copy()
        cols = [c for c in ("accuracy", "error", "mean_rank") if c in groups]
        blocks.append(table(interval_cells(groups, cols), index=True,
                            caption="per group: value [95% interval]" if any(
                                f"{c}_lower" in result.groups for c in cols) else "per group"))
        plotted = [c for c in ("error", "mean_rank") if c in groups]
        if plotted:
            path = plot_group_intervals(result.groups, files.path(f"{section_id}-groups-{result.title}"),
                                        columns=plotted, title=f"{run.name}: {result.title}")
            has_ci = any(f"{c}_lower" in result.groups for c in plotted)
            blocks.append(files.figure(path, alt=f"Bar chart of {' and '.join(plotted)} per group of run {run.name}, "
                                       f"{result.title}{', with 95% bootstrap intervals' if has_ci else ''}",
                                       caption="Error bars: 95% bootstrap intervals." if has_ci else ""))
        if result.note:
            blocks.append(Note(result.note))
    if run.attributes is not None:
        blocks.append(Heading("Per attribute (validation split)"))
        blocks.append(table(run.attributes, index=True))
        if run.protected is not None:
            blocks.append(table(run.protected, index=True,
                                caption="mean |gap| over the other attributes, per protected attribute"))
    if not run.results and run.attributes is None:
        blocks.append(Note(f"No per-group results: {run.results_note or 'metrics.json not found'}.", missing=True))
    blocks.append(Heading("Per-epoch curves"))
    history = run.history
    if history is None or history.empty:
        blocks.append(Note("Per-epoch curves not shown: history.jsonl not found or empty.", missing=True))
    else:
        metrics = [c for c in history.columns if c not in _BOOKKEEPING
                   and pd.to_numeric(history[c], errors="coerce").notna().any()
                   and history[c].map(lambda v: v is None or isinstance(v, (int, float, np.number))
                                      and not isinstance(v, bool)).all()]
        drawn = (["training loss"] if "train_loss" in history else []) + metrics + (
            ["error per group"] if run.group_errors is not None else [])
        if drawn:
            path = plot_run_curves(history, files.path(f"{section_id}-curves"), metrics=metrics,
                                   group_errors=run.group_errors, title=f"{run.name}: per epoch (validation split)")
            blocks.append(files.figure(path, alt=f"Per-epoch curves of run {run.name}: {', '.join(drawn)}",
                                       caption="Metrics on the validation split at each evaluated epoch."))
        else:
            blocks.append(Note("Per-epoch curves not shown: history.jsonl holds no loss or metric values.",
                               missing=True))
    blocks += [Note(n, missing=True) for n in run.notes]
    blocks += _provenance_blocks(run.provenance)
    return section


# ---------------------------------------------------------------------------------------------- search study
def search_section(study: StudyData, files: FigureFolder, *, section_id: str) -> Section:
    """A search study: front with trials and baselines, hypervolume, Kendall τ, front and baseline tables."""
    section = Section(section_id, f"Search study {study.name}", subtitle=study.path)
    blocks = section.blocks
    trials = study.trials
    counts = trials.groupby(["budget", "status"]).size().unstack("status", fill_value=0) if len(trials) else None
    overview: dict[str, Any] = {"store": study.path, "engine": study.engine, "trials": len(trials)}
    summary = study.summary
    if summary is None:
        blocks.append(_key_values(overview))
        if counts is not None:
            blocks.append(table(counts, index=True, caption="trials per budget and status"))
        blocks.append(Note(f"No front: study {study.name!r} has no complete trial yet.", missing=True))
        blocks += [Note(n, missing=True) for n in study.notes]
        blocks += _provenance_blocks(study.provenance)
        return section
    objectives = summary["objectives"]
    names = [o.name for o in objectives]
    front = summary["front"]
    budget = float(summary["trials"]["budget"].max())
    overview.update({"objectives": ", ".join(f"{o.name} ({o.direction})" for o in objectives),
                     "full budget": budget, "trials at the full budget": len(summary["trials"]),
                     "front size": len(front),
                     "dominance": summary.get("dominance", "pareto"),
                     "hypervolume": summary["hypervolume"],
                     "reference point": ", ".join(format_value(v) for v in summary["reference_point"])})
    blocks.append(_key_values(overview))
    if counts is not None:
        blocks.append(table(counts, index=True, caption="trials per budget and status"))
    blocks.append(Heading("Pareto front"))
    path = plot_search(summary["trials"], front, objectives, files.path(f"{section_id}-front"),
                       hypervolume_curve=summary["hypervolume_curve"], baselines=study.baselines,
                       title=f"{study.name}: front at budget {budget:g}", axes=search_axes())
    blocks.append(files.figure(
        path, alt=f"Three panels for study {study.name}: {names[0]} against {names[-1]} for every trial at the full "
        f"budget with the Pareto front{' and the baselines' if study.baselines is not None else ''}; hypervolume "
        "after each trial; parallel coordinates of the configurations",
        caption="Grey: every complete trial at the full budget; red: the Pareto front; other markers: the baselines, "
        "mean ± std over seeds. Middle: hypervolume of the trials so far. Right: one line per trial."))
    front_rows = front[["number", "budget", *names]].assign(
        config=[json.dumps(c, default=str) for c in front["config"]])
    blocks.append(table(front_rows.sort_values(names[0]), caption="front at the full budget"))
    blocks.append(Heading("Multi-fidelity check"))
    tau = summary["kendall_tau"]
    if len(tau):
        blocks.append(table(tau, caption=f"Kendall τ of each objective between each lower budget and the full budget "
                            f"({budget:g}), over the configurations evaluated at both"))
    else:
        blocks.append(Note("Not shown: every complete trial ran at one budget, nothing to compare.", missing=True))
    blocks.append(Heading("Baselines"))
    if study.baseline_summary is not None and len(study.baseline_summary):
        shown = study.baseline_summary.rename(columns={f"{n}_mean": n for n in names})
        shown = interval_cells(shown.assign(name=[n[len(s) + 2:] if n.startswith(f"{s}: ") else n
                                                  for s, n in zip(shown["source"], shown["name"])]), names)
        blocks.append(table(shown, caption="baselines overlaid on the front: mean ± std over seeds"))
    else:
        blocks.append(Note("No baselines: give a zoo or mitigation store as another source to overlay it.",
                           missing=True))
    blocks += [Note(n, missing=True) for n in study.notes]
    blocks += _provenance_blocks(study.provenance)
    return section


# ---------------------------------------------------------------------------------------------- pruning study
def _cie_gallery(cie: pd.DataFrame, top_k: int) -> Gallery:
    frame = cie.copy()
    frame["is_cie"] = frame["is_cie"].astype(str).str.strip().str.lower().isin(["true", "1", "1.0", "yes"])
    key = "ids" if "ids" in frame else "path"
    protected = [c for c in frame.columns if c not in CIE_COLUMNS]
    frame = frame.sort_values(["dense_score", "sparsity"], ascending=[False, True], kind="stable")
    items = []
    for _, rows in list(frame.groupby(key, sort=False))[:top_k]:
        first = rows.iloc[0]
        flagged = rows[rows["is_cie"]].sort_values("sparsity")
        levels = ", ".join(format_value(s, digits=3) for s in flagged["sparsity"])
        lines = [f"{format_value(first.get('identity'))} · group {format_value(first.get('group'))}",
                 f"dense score {format_value(first['dense_score'], digits=3)}",
                 f"CIE at sparsity {levels}" if levels else "not a CIE at any sparsity"]
        if len(flagged) and "cie_attributes" in flagged:
            lines.append(f"attributes: {format_value(flagged.iloc[-1]['cie_attributes'])}")
        if protected:
            lines.append(", ".join(f"{c} {format_value(first[c])}" for c in protected))
        src = thumbnail_uri(first["path"]) if isinstance(first.get("path"), str) else None
        alt = f"sample {format_value(first[key])} of identity {format_value(first.get('identity'))}"
        items.append(GalleryItem(src, alt + ("" if src else " (image not found)"), lines))
    return Gallery(items, caption=f"top {len(items)} samples by dense score (of {frame[key].nunique()})")


def prune_section(study: PruneData, files: FigureFolder, *, section_id: str, top_k: int = 24) -> Section:
    """A pruning study: bias vs sparsity curves per threshold policy, per-level table, dense-only warnings and
    their validation, the susceptible samples, configs."""
    section = Section(section_id, f"Pruning study {study.name}", subtitle=study.path)
    blocks = section.blocks
    levels = study.levels
    if study.trials is not None and len(study.trials):
        counts = study.trials.groupby("status").size().rename("trials").to_frame()
        blocks.append(table(counts, index=True, caption="trials of the study store"))
    blocks.append(Heading("Bias vs sparsity"))
    if levels is None or levels.empty:
        blocks.append(Note("Not shown: neither summary_by_level.csv nor summary.csv in the study folder.",
                           missing=True))
    else:
        policies = sorted(levels["threshold"].astype(str).unique())
        panels = [("accuracy and calibration", [c for c in _ACCURACY_PANELS if c in levels]),
                  ("bias", [c for c in _GAP_PANELS if c in levels])]
        if not any(columns for _, columns in panels):  # face identification: the FR-NAS metrics
            panels = [("FR-NAS metrics", [c for c in METRIC_NAMES if c in levels and levels[c].notna().any()])]
        for i, (what, columns) in enumerate((w, c) for w, c in panels if c):
            path = plot_sparsity_panels(levels, files.path(f"{section_id}-curves-{i}"), columns=columns,
                                        ncols=min(len(columns), 4),
                                        title=f"{study.name}: {what} vs sparsity (test split)")
            labels = [SPARSITY_LABELS.get(c, c) for c in columns]
            blocks.append(files.figure(
                path, alt=f"{', '.join(labels)} against sparsity, one line per threshold policy "
                f"({', '.join(policies)}), mean over seeds with the min-max band",
                caption="Test split; one line per threshold policy, mean over seeds, band: min to max over seeds; "
                "the x axis spreads high sparsities (-log10(1 - sparsity))."))
        if len(policies) > 1:
            blocks.append(Note("default: threshold 0 on the logit; recalibrated: per-attribute thresholds from the "
                               "validation split; recalibrated_per_group: per attribute and protected value."))
    if study.level_summary is not None and len(study.level_summary):
        summary = study.level_summary
        cols = [c for c in _LEVEL_COLUMNS if c in summary and c != "sparsity"]
        keys = [c for c in ("threshold", "requested", "sparsity") if c in summary]
        order = {p: i for i, p in enumerate(dict.fromkeys(summary["threshold"]))} if "threshold" in summary else {}
        summary = summary.assign(_order=summary["threshold"].map(order) if order else 0).sort_values(
            ["_order", "requested"] if "requested" in summary else ["_order"], kind="stable")
        shown = interval_cells(summary[keys + cols + [f"{c}_std" for c in cols if f"{c}_std" in summary]
                                       + (["seeds"] if "seeds" in summary else [])], cols, digits=3)
        blocks.append(table(shown.rename(columns={"sparsity": "measured sparsity", **SPARSITY_LABELS}), digits=3,
                            caption="per threshold policy and requested sparsity: mean ± std over seeds"))
    blocks.append(Heading("Dense-only bias warnings"))
    if study.risk_validation is not None:
        risk = study.risk_validation
        combined = risk[risk["feature"] == "combined"] if "feature" in risk else risk.iloc[0:0]
        shown = combined if len(combined) else risk
        blocks.append(table(shown, digits=3, max_rows=60, caption="risk_validation.csv: "
                            + ("the combined dense-only score" if len(combined) else "the dense-only predictors")
                            + " checked against the bias growth measured on the pruned runs"))
        if len(combined) and len(risk) > len(combined):
            blocks.append(Details(f"risk_validation.csv, every feature ({len(risk)} rows)",
                                  risk.to_csv(index=False)))
    else:
        blocks.append(Note("Not shown: no risk_validation.csv in the study folder (written by `fairvision "
                           "predict-bias DENSE_RUN --evidence STUDY`).", missing=True))
    blocks.append(Heading("Susceptible samples"))
    if study.cie_summary is not None:
        blocks.append(table(study.cie_summary, digits=3, max_rows=60, caption="cie_summary.csv"))
    if study.cie is not None and len(study.cie):
        blocks.append(_cie_gallery(study.cie, top_k))
    else:
        blocks.append(Note("Not shown: no cie.csv in the study folder (written by `fairvision cie STUDY`).",
                           missing=True))
    blocks += [Note(n, missing=True) for n in study.notes]
    blocks += _provenance_blocks(study.provenance)
    return section


def missing_kinds(present: Sequence[str]) -> list[str]:
    """Notes for the kinds of source not given (the report omits their sections)."""
    hints = {
        "run": "a training run folder (fairvision train --out RUN)",
        "store": "a trial store (fairvision search --store DB, fairvision zoo --store DB)",
        "prune-study": "a pruning study folder (fairvision prune-study CONFIG --out DIR)",
    }
    titles = {"run": "training run", "store": "search study", "prune-study": "pruning study"}
    return [f"No {titles[k]} section: no source was {hint}." for k, hint in hints.items() if k not in present]
