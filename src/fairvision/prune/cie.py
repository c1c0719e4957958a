"""Compression-identified exemplars (Hooker et al., "What do compressed deep neural networks forget?", 2020).

A test sample is a *compression-identified exemplar* (CIE) of an attribute at a sparsity level when the
**modal prediction** of the pruned models of that level (one per seed) differs from the modal prediction
of the dense models; it is a CIE ("any") when that holds for at least one attribute.  These are the samples
pruning changes; Hooker et al. found them over-represented among atypical, hard and under-represented
examples, so their share per group is a bias signal that needs no bias metric.

**Modal prediction and ties.**  Each seed predicts ``logit > 0``; the modal prediction is the majority
vote over seeds.  With an even number of seeds a vote can be tied; the tie is broken toward the **mean
probability** over the seeds (``mean sigmoid(logit) > 0.5``, strict, as ``logit > 0`` is).  Why: a tie
then still gives a label, decided by how confident the tied models are, so a tie never *creates* a CIE
by itself (the rule "a tie has no modal label and never matches" would make every tied sample a CIE,
which says more about the number of seeds than about pruning).  With an odd number of seeds there is no
tie and the rule is plain majority.

**Dense-only scores** (what a practitioner can compute before pruning), per sample:

* ``dense_score`` = ``-min_a mean_s |sigmoid(z_sa) - 0.5|``: the margin of the attribute the dense models
  are least sure about (margins averaged over the dense seeds first, then the minimum over attributes),
  negated so that higher = closer to the boundary = more at risk;
* ``dense_disagreement``: the fraction of attributes on which the dense seeds do not all agree (0 with a
  single dense seed).

:func:`cie_summary` reports how well each score finds the CIEs ("any"): ROC AUC and precision@k (k =
the number of CIEs by default; ties at the k-th score are shared proportionally, the expected precision of a
random tie-break), the CIE rate per ``group`` value and per protected attribute value against the data
set's composition (with a chi-square test of independence), the CIE rate per attribute, and the error rate
of the dense and pruned modal predictions on CIEs and on the rest.

Study folders are read as ``fairvision prune-study`` writes them: ``runs/dense-seed<S>/`` and
``runs/sparsity<L>-seed<S>/`` with ``logits_<split>.txt`` and ``labels_<split>.csv``; a run without logits,
or recorded as diverged in its ``metrics.json``, is left out.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from fairvision._extras import MissingExtraError, require_extra
from fairvision._io import write_csv
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import read_logits
from fairvision.train import RunLayout

__all__ = [
    "CIE_SUMMARY_COLUMNS",
    "SPLITS",
    "StudyPredictions",
    "cie_summary",
    "cie_view",
    "compression_identified_exemplars",
    "dense_scores",
    "load_study_predictions",
    "modal_predictions",
    "precision_at_k",
    "read_run_split",
    "require_stats",
    "seed_disagreement",
    "write_cie",
]

#: Splits a study's runs keep logits of.
SPLITS = ("test", "val")
#: Columns of :func:`cie_summary` (long format, one statistic per row).
CIE_SUMMARY_COLUMNS = ("sparsity", "statistic", "by", "level", "n", "value", "note")
_META = ("ids", "path", "identity")
_DENSE = re.compile(r"^dense-seed(\d+)$")
_PRUNED = re.compile(r"^sparsity(.+)-seed(\d+)$")


# --------------------------------------------------------------------------- reading a study


@dataclass(frozen=True, eq=False)
class StudyPredictions:
    """Logits of every finished run of a study on one split, with the split's labels.

    ``logits[level]`` is ``(seeds, samples, attributes)`` (level 0.0 = the dense runs, others the requested
    sparsities), ``seeds[level]`` the seeds in that order; ``meta`` holds the labels file's columns before
    the attributes (``ids, path, identity`` and the group column, renamed ``group``; ``group`` is empty
    where the data set has none); ``labels`` and ``train_labels`` are boolean ``(samples, attributes)``;
    ``protected_labels`` holds the 0/1 value of every protected attribute (a target, or a non-target column
    of the labels file such as a ``data.trigger`` column).
    """

    study_dir: Path
    split: str
    attributes: tuple[str, ...]
    protected: tuple[str, ...]
    meta: pd.DataFrame
    protected_labels: pd.DataFrame
    labels: np.ndarray
    train_labels: np.ndarray | None
    logits: dict[float, np.ndarray] = field(repr=False)
    seeds: dict[float, tuple[int, ...]]

    @property
    def levels(self) -> list[float]:
        """The pruned (requested) sparsity levels, ascending."""
        return sorted(level for level in self.logits if level != 0.0)

    @property
    def dense(self) -> np.ndarray:
        """Logits of the dense runs ``(seeds, samples, attributes)``."""
        return self.logits[0.0]


def _finished(run_dir: Path, split: str) -> bool:
    layout = RunLayout(run_dir)
    if not layout.logits(split).is_file():
        return False
    if layout.metrics.is_file():
        try:
            status = json.loads(layout.metrics.read_text()).get("status")
        except (json.JSONDecodeError, AttributeError):
            status = None
        if status == "diverged":
            return False
    return True


def _scan_runs(study_dir: Path, split: str, with_pruned: bool = True) -> dict[float, dict[int, Path]]:
    """``{level: {seed: run folder}}`` of the finished runs (level 0.0 = dense)."""
    runs = study_dir / "runs"
    if not runs.is_dir():
        raise DatasetError(f"{runs}: no runs folder; is {study_dir} a `fairvision prune-study` output folder?")
    found: dict[float, dict[int, Path]] = {}
    for child in sorted(runs.iterdir()):
        if not child.is_dir():
            continue
        dense, pruned = _DENSE.match(child.name), _PRUNED.match(child.name)
        if dense:
            level, seed = 0.0, int(dense.group(1))
        elif pruned:
            try:
                level, seed = float(pruned.group(1)), int(pruned.group(2))
            except ValueError:
                continue
        else:
            continue
        if (with_pruned or level == 0.0) and _finished(child, split):
            found.setdefault(level, {})[seed] = child
    if 0.0 not in found:
        raise DatasetError(f"{runs}: no finished dense run (dense-seed<S>/logits_{split}.txt): "
                           "the analysis compares pruned models with dense ones")
    if with_pruned and len(found) == 1:
        raise DatasetError(f"{runs}: no finished pruned run (sparsity<L>-seed<S>/logits_{split}.txt)")
    return found


def read_run_split(run_dir: str | Path, split: str) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """``(meta, attributes, labels, logits)`` of one run's split: the labels file's leading columns, the
    attribute names (the labels file's last columns, one per logits column), boolean labels and logits."""
    layout = RunLayout(run_dir)
    logits = read_logits(layout.logits(split))
    path = layout.labels(split)
    if not path.is_file():
        raise DatasetError(f"{path}: labels file not found (needed beside {layout.logits(split).name})")
    frame = pd.read_csv(path)
    n_attr = logits.shape[1]
    if frame.shape[1] <= n_attr:
        raise DatasetError(f"{path}: {frame.shape[1]} columns, expected ids, path, identity, [group] and "
                           f"{n_attr} attribute columns (one per column of {layout.logits(split).name})")
    if len(frame) != len(logits):
        raise DatasetError(f"{path}: {len(frame)} rows, but {layout.logits(split)} has {len(logits)}")
    attributes = [str(c) for c in frame.columns[-n_attr:]]
    values = frame[attributes]
    bad = ~values.isin([0, 1])
    if bad.to_numpy().any():
        i, j = np.argwhere(bad.to_numpy())[0]
        raise DatasetError(f"{path}, row {i + 2}, column {attributes[j]!r}: labels must be 0 or 1")
    meta = frame.iloc[:, : frame.shape[1] - n_attr].copy()
    return meta, attributes, values.to_numpy() == 1, logits


def _protected(run_dir: Path, attributes: list[str], meta: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """The 0/1 values of the run's protected attributes, as :mod:`fairvision.prune.summary` scores them
    (``task.protected``, default :data:`~fairvision.metrics.DEFAULT_PROTECTED` among the targets, plus a
    ``data.trigger`` column), from the targets or the labels file's other columns."""
    from fairvision.train.trigger import protected_attributes, trigger_column

    config = RunLayout(run_dir).config
    cfg = (yaml.safe_load(config.read_text()) or {}) if config.is_file() else {}
    wanted = (cfg.get("task") or {}).get("protected") or None
    chosen = protected_attributes([str(p) for p in wanted] if wanted else None, attributes,
                                  trigger_column(cfg.get("data") or {}))
    out = {}
    for name in chosen:
        if name in attributes:
            out[name] = labels[:, attributes.index(name)].astype(np.int64)
        elif name in meta.columns:
            out[name] = meta[name].to_numpy(dtype=np.int64)
        else:
            raise DatasetError(f"{RunLayout(run_dir).labels('test')}: protected attribute {name!r} (from "
                               f"{config.name}) is not a column")
    return pd.DataFrame(out, columns=chosen)


def _group_column(meta: pd.DataFrame, protected: Sequence[str]) -> pd.Series:
    """The group of each sample: the labels file's column after ``identity`` that is not a protected
    attribute (empty if there is none)."""
    others = [c for c in meta.columns if c not in _META and c not in protected]
    if others:
        return meta[others[0]].astype(str)
    return pd.Series([""] * len(meta), index=meta.index, dtype=object)


def load_study_predictions(study_dir: str | Path, *, split: str = "test", pruned: bool = True) -> StudyPredictions:
    """Read the logits of every finished run of a sparsity study (``fairvision prune-study --out DIR``).

    Every run must list the same samples in the same order (``ids`` of ``labels_<split>.csv``); the
    attributes and protected attributes come from the first dense run. ``pruned=False`` reads the dense
    runs only.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise DatasetError(f"{study_dir}: study folder not found")
    found = _scan_runs(study_dir, split, pruned)
    first_seed = min(found[0.0])
    first = found[0.0][first_seed]
    meta, attributes, labels, _ = read_run_split(first, split)
    train_path = RunLayout(first).labels("train")
    train_labels = None
    if train_path.is_file():
        train = pd.read_csv(train_path)
        if all(a in train.columns for a in attributes):
            train_labels = train[attributes].to_numpy() == 1
    logits: dict[float, np.ndarray] = {}
    seeds: dict[float, tuple[int, ...]] = {}
    for level in sorted(found):
        stack = []
        for seed in sorted(found[level]):
            run = found[level][seed]
            run_meta, run_attributes, _, z = read_run_split(run, split)
            if run_attributes != attributes:
                raise DatasetError(f"{RunLayout(run).labels(split)}: attributes differ from {first.name}'s")
            if not np.array_equal(run_meta["ids"].to_numpy(), meta["ids"].to_numpy()):
                raise DatasetError(f"{RunLayout(run).labels(split)}: samples (ids) differ from {first.name}'s; "
                                   "every run of a study must be evaluated on the same samples")
            stack.append(z)
        logits[level] = np.stack(stack)
        seeds[level] = tuple(sorted(found[level]))
    protected = _protected(first, attributes, meta, labels)
    clean = meta[[c for c in _META if c in meta.columns]].copy()
    clean["group"] = _group_column(meta, list(protected.columns)).to_numpy()
    return StudyPredictions(study_dir=study_dir, split=split, attributes=tuple(attributes),
                            protected=tuple(protected.columns), meta=clean.reset_index(drop=True),
                            protected_labels=protected, labels=labels, train_labels=train_labels, logits=logits,
                            seeds=seeds)


def _predictions(study: str | Path | StudyPredictions, split: str) -> StudyPredictions:
    return study if isinstance(study, StudyPredictions) else load_study_predictions(study, split=split)


# --------------------------------------------------------------------------- definitions


def _probability(logits: np.ndarray) -> np.ndarray:
    """sigmoid(z), written with tanh so that large |z| neither overflows nor warns."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float64)))


def _stack(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 3 or 0 in z.shape:
        raise ValueError(f"logits must be (seeds, samples, attributes) with none empty, got shape {z.shape}")
    return z


def modal_predictions(logits) -> np.ndarray:
    """Majority vote of ``logit > 0`` over seeds, ``(seeds, N, A)`` -> boolean ``(N, A)``.

    A tied vote (even number of seeds) goes to the mean probability over the seeds:
    ``mean sigmoid(z) > 0.5`` (strict; exactly 0.5 is negative, as ``z > 0`` is). See the module docstring.
    """
    z = _stack(logits)
    votes = 2 * (z > 0).sum(axis=0)
    n = z.shape[0]
    tie_break = _probability(z).mean(axis=0) > 0.5
    return np.where(votes > n, True, np.where(votes < n, False, tie_break))


def seed_disagreement(logits) -> np.ndarray:
    """Boolean ``(N, A)``: the seeds' predictions ``z > 0`` are not unanimous (all False with one seed)."""
    pred = _stack(logits) > 0
    return pred.any(axis=0) & ~pred.all(axis=0)


def dense_scores(logits) -> pd.DataFrame:
    """Per sample: ``dense_score`` (negated smallest mean margin) and ``dense_disagreement`` (share of
    attributes the dense seeds disagree on), from the dense logits ``(seeds, N, A)``."""
    z = _stack(logits)
    margin = np.abs(_probability(z) - 0.5).mean(axis=0)  # (N, A): mean over seeds first
    return pd.DataFrame({"dense_score": -margin.min(axis=1),
                         "dense_disagreement": seed_disagreement(z).mean(axis=1)})


def precision_at_k(scores, positives, k: int) -> float:
    """Share of positives among the ``k`` highest scores; samples tied at the k-th score count in
    proportion (the expected precision of a random tie-break). NaN for ``k = 0``."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and positives must be two vectors of one length, got {s.shape} and {y.shape}")
    if not 0 <= k <= len(s):
        raise ValueError(f"k must be between 0 and the number of samples ({len(s)}), got {k}")
    if k == 0:
        return float("nan")
    kth = np.sort(s)[::-1][k - 1]
    above, tied = s > kth, s == kth
    share = (k - int(above.sum())) / int(tied.sum())
    return float((y[above].sum() + share * y[tied].sum()) / k)


def _auc(scores: np.ndarray, positives: np.ndarray) -> tuple[float, str | None]:
    from sklearn.metrics import roc_auc_score

    n_pos = int(positives.sum())
    if n_pos in (0, len(positives)):
        what = "no sample is" if n_pos == 0 else "every sample is"
        return float("nan"), f"AUC undefined: {what} a CIE"
    return float(roc_auc_score(positives, scores)), None


def require_stats(what: str = "dense-only bias predictors") -> None:
    """MissingExtraError (one line, the pip command) unless scipy and scikit-learn (the ``stats`` extra) import."""
    require_extra("stats")
    try:
        found = importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(f"{what} need optional packages (missing: scikit-learn): "
                                "pip install 'fairvision[stats]'")


def _require_sklearn() -> None:
    require_stats("compression-identified exemplar statistics")


# --------------------------------------------------------------------------- cie.csv


def _cie_cells(study: StudyPredictions) -> dict[float, np.ndarray]:
    dense = modal_predictions(study.dense)
    return {level: modal_predictions(study.logits[level]) != dense for level in study.levels}


def compression_identified_exemplars(study_dir: str | Path | StudyPredictions, *, split: str = "test") -> pd.DataFrame:
    """One row per sample of ``split`` x pruned level: the rows of ``cie.csv``.

    Columns: ``sparsity`` (requested level), ``ids, path, identity, group``, one column per protected
    attribute (the sample's 0/1 label), ``is_cie`` (0/1: CIE for at least one attribute),
    ``n_cie_attributes``, ``cie_attributes`` (";"-joined names), ``dense_score``, ``dense_disagreement``.
    """
    study = _predictions(study_dir, split)
    scores = dense_scores(study.dense)
    base = study.meta.copy()
    for name in study.protected:
        base[name] = study.protected_labels[name].to_numpy()
    names = np.array(study.attributes, dtype=object)
    frames = []
    for level, cells in _cie_cells(study).items():
        frame = base.copy()
        frame.insert(0, "sparsity", level)
        frame["is_cie"] = cells.any(axis=1).astype(np.int64)
        frame["n_cie_attributes"] = cells.sum(axis=1).astype(np.int64)
        frame["cie_attributes"] = [";".join(names[row]) for row in cells]
        frame["dense_score"] = scores["dense_score"].to_numpy()
        frame["dense_disagreement"] = scores["dense_disagreement"].to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- cie_summary.csv


def _row(level, statistic, value, *, by="", level_name="", n=None, note=None) -> dict:
    return {"sparsity": level, "statistic": statistic, "by": by, "level": level_name, "n": n, "value": value,
            "note": note}


def _composition_rows(level: float, values: pd.Series, is_cie: np.ndarray, by: str) -> list[dict]:
    from scipy.stats import chi2_contingency

    rows = []
    n, n_cie = len(values), int(is_cie.sum())
    overall = n_cie / n
    table = []
    for value in sorted(values.unique(), key=str):
        mask = (values == value).to_numpy()
        k, m = int(is_cie[mask].sum()), int(mask.sum())
        table.append([k, m - k])
        rate = k / m
        rows += [
            _row(level, "cie_rate", rate, by=by, level_name=str(value), n=m),
            _row(level, "share_of_data", m / n, by=by, level_name=str(value), n=m),
            _row(level, "share_of_cie", k / n_cie if n_cie else np.nan, by=by, level_name=str(value), n=m,
                 note=None if n_cie else "no CIE"),
            _row(level, "representation", rate / overall if overall else np.nan, by=by, level_name=str(value),
                 n=m, note="cie_rate / overall CIE rate (> 1: over-represented among CIEs)"),
        ]
    counts = np.array(table)
    if len(counts) >= 2 and (counts.sum(axis=0) > 0).all():
        p = float(chi2_contingency(counts)[1])
        rows.append(_row(level, "chi2_p", p, by=by, n=n,
                         note="chi-square test: CIE rate independent of this column (samples treated as independent)"))
    else:
        rows.append(_row(level, "chi2_p", np.nan, by=by, n=n, note="undefined: one value, or all or no CIEs"))
    return rows


def cie_summary(study_dir: str | Path | StudyPredictions, *, split: str = "test", k: int | None = None) -> pd.DataFrame:
    """Per pruned level, the CIE statistics in long format (columns :data:`CIE_SUMMARY_COLUMNS`).

    ``statistic`` (``by`` / ``level``): ``n_dense_seeds``, ``n_pruned_seeds``, ``n_cie``, ``cie_rate``;
    ``auc`` and ``precision_at_k`` (by = ``dense_score`` / ``dense_disagreement``; ``n`` = k for
    precision); ``cie_rate``, ``share_of_data``, ``share_of_cie``, ``representation`` per value of
    ``group`` and of each protected attribute, and ``chi2_p`` per column; ``attribute_cie_rate`` per
    attribute; ``error_dense`` / ``error_pruned`` (by = ``subset``, level ``cie``, ``rest`` or
    ``cie_cells``): the share of wrong (sample, attribute) modal predictions on CIE samples, on the other
    samples, and on the flipped cells themselves (there the two rates sum to 1). ``k`` defaults to the
    number of CIEs of each level.
    """
    if k is not None and (isinstance(k, bool) or int(k) != k or k < 1):
        raise ConfigError(f"k must be a whole number >= 1, got {k!r}")
    _require_sklearn()
    study = _predictions(study_dir, split)
    scores = dense_scores(study.dense)
    n = len(study.meta)
    if k is not None and k > n:
        raise ConfigError(f"k = {k} is more than the {n} samples of the {split} split")
    dense_pred = modal_predictions(study.dense)
    columns = {"group": study.meta["group"]} if (study.meta["group"] != "").any() else {}
    for name in study.protected:
        columns[name] = study.protected_labels[name]
    rows: list[dict] = []
    for level, cells in _cie_cells(study).items():
        is_cie = cells.any(axis=1)
        n_cie = int(is_cie.sum())
        rows += [_row(level, "n_dense_seeds", len(study.seeds[0.0]), n=n),
                 _row(level, "n_pruned_seeds", len(study.seeds[level]), n=n),
                 _row(level, "n_cie", n_cie, n=n), _row(level, "cie_rate", n_cie / n, n=n)]
        kk = n_cie if k is None else int(k)
        for score in ("dense_score", "dense_disagreement"):
            values = scores[score].to_numpy()
            auc, note = _auc(values, is_cie)
            if score == "dense_disagreement" and len(study.seeds[0.0]) == 1:
                note = "one dense seed: disagreement is 0 everywhere"
            rows.append(_row(level, "auc", auc, by=score, n=n, note=note))
            rows.append(_row(level, "precision_at_k", precision_at_k(values, is_cie, kk), by=score, n=kk,
                             note=None if kk else "k = 0 (no CIE)"))
        for by, values in columns.items():
            rows += _composition_rows(level, values.reset_index(drop=True), is_cie, by)
        for j, name in enumerate(study.attributes):
            rows.append(_row(level, "attribute_cie_rate", float(cells[:, j].mean()), by="attribute",
                             level_name=name, n=n))
        pruned_pred = modal_predictions(study.logits[level])
        for which, pred in (("error_dense", dense_pred), ("error_pruned", pruned_pred)):
            wrong = pred != study.labels
            for subset, mask in (("cie", is_cie), ("rest", ~is_cie)):
                value = float(wrong[mask].mean()) if mask.any() else np.nan
                rows.append(_row(level, which, value, by="subset", level_name=subset, n=int(mask.sum()),
                                 note=None if mask.any() else "no sample"))
            value = float(wrong[cells].mean()) if cells.any() else np.nan
            rows.append(_row(level, which, value, by="subset", level_name="cie_cells", n=int(cells.sum()),
                             note=None if cells.any() else "no flipped cell"))
    return pd.DataFrame(rows, columns=list(CIE_SUMMARY_COLUMNS))


def write_cie(study_dir: str | Path, *, out: str | Path | None = None, split: str = "test",
              k: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``cie.csv`` and ``cie_summary.csv`` into ``out`` (default: the study folder); returns both frames."""
    if k is not None and (isinstance(k, bool) or int(k) != k or k < 1):
        raise ConfigError(f"k must be a whole number >= 1, got {k!r}")
    _require_sklearn()
    study = load_study_predictions(study_dir, split=split)
    cie = compression_identified_exemplars(study)
    summary = cie_summary(study, k=k)
    target = Path(study_dir if out is None else out)
    write_csv(target / "cie.csv", cie)
    write_csv(target / "cie_summary.csv", summary)
    return cie, summary


# --------------------------------------------------------------------------- the HTML page


def _nearest_level(levels: Sequence[float], wanted: float) -> float:
    return min(levels, key=lambda level: (abs(level - wanted), level))


def cie_view(study_dir: str | Path, out: str | Path, *, top_k: int = 48, sparsity: float | None = None,
             split: str = "test", max_cies: int = 200, thumbnail: int = 96) -> Path:
    """Write a self-contained HTML page of the samples most susceptible to pruning at one level.

    Shows the ``top_k`` samples of highest ``dense_score`` and the level's CIEs (at most ``max_cies``, most
    flipped attributes first), each with its image (inline), group, protected labels, and for the relevant
    attributes (its CIE attributes, else the three the dense models are least sure about) the label and the
    dense and pruned modal predictions. ``sparsity`` is a requested level of the study (default: the one
    nearest 0.9, where Iofinova et al. see bias start to grow).
    """
    from fairvision.report._html_base import html_out
    from fairvision.report.cie_page import write_cie_page

    out = html_out(out)
    for name, value, low in (("top_k", top_k, 0), ("max_cies", max_cies, 0), ("thumbnail", thumbnail, 8)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    study = load_study_predictions(study_dir, split=split)
    levels = study.levels
    if sparsity is None:
        level = _nearest_level(levels, 0.9)
    else:
        matches = [lv for lv in levels if np.isclose(lv, sparsity)]
        if not matches:
            raise ConfigError(f"sparsity {sparsity:g} is not a level of {study.study_dir} "
                              f"(levels: {', '.join(f'{lv:g}' for lv in levels)})")
        level = matches[0]
    scores = dense_scores(study.dense)
    dense_pred = modal_predictions(study.dense)
    pruned_pred = modal_predictions(study.logits[level])
    cells = pruned_pred != dense_pred
    margin = np.abs(_probability(study.dense) - 0.5).mean(axis=0)
    order = np.argsort(-scores["dense_score"].to_numpy(), kind="stable")
    top_rank = np.full(len(order), np.nan)
    top_rank[order[: int(top_k)]] = np.arange(1, min(int(top_k), len(order)) + 1)
    is_cie = cells.any(axis=1)
    cie_index = np.flatnonzero(is_cie)
    cie_index = cie_index[np.lexsort((-scores["dense_score"].to_numpy()[cie_index], -cells[cie_index].sum(axis=1)))]
    shown_cies = cie_index[: int(max_cies)]
    top = order[: int(top_k)]
    chosen = np.r_[top, shown_cies[~np.isin(shown_cies, top)]].astype(np.int64)  # top-k by rank, then the CIEs
    samples = study.meta.iloc[chosen].reset_index(drop=True)
    for name in study.protected:
        samples[name] = study.protected_labels[name].to_numpy()[chosen]
    samples["is_cie"] = is_cie[chosen]
    samples["top_rank"] = top_rank[chosen]
    samples["dense_score"] = scores["dense_score"].to_numpy()[chosen]
    samples["dense_disagreement"] = scores["dense_disagreement"].to_numpy()[chosen]
    rows = []
    for i in chosen:
        relevant = np.flatnonzero(cells[i]) if is_cie[i] else np.argsort(margin[i], kind="stable")[:3]
        for j in relevant:
            rows.append({"ids": study.meta["ids"].iloc[i], "attribute": study.attributes[j],
                         "label": int(study.labels[i, j]), "dense": int(dense_pred[i, j]),
                         "pruned": int(pruned_pred[i, j]), "is_cie": bool(cells[i, j]),
                         "dense_margin": float(margin[i, j])})
    details = pd.DataFrame(rows, columns=["ids", "attribute", "label", "dense", "pruned", "is_cie", "dense_margin"])
    summary = {
        "study": str(study.study_dir), "split": split, "sparsity": level, "n": len(study.meta),
        "n_cie": int(is_cie.sum()), "n_cie_shown": len(shown_cies), "top_k": int(min(top_k, len(order))),
        "dense_seeds": len(study.seeds[0.0]), "pruned_seeds": len(study.seeds[level]),
    }
    return write_cie_page(out, samples, details, protected=list(study.protected), summary=summary,
                          thumbnail=int(thumbnail))
