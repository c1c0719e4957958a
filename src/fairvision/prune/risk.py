"""Dense-only predictors of bias growth under pruning: which attributes to worry about before pruning.

Iofinova et al. (CVPR 2023) report that the attributes whose bias grows most under pruning are those the
*dense* model is already unsure about.  This module turns that into a checked prediction.

**Features** (per attribute, from the dense models only -- :data:`FEATURES`): the attribute metrics of
:func:`fairvision.metrics.attribute_metrics` at the default threshold (``uncertainty``, ``ece``,
``interdependence_r2``, ``rare_value_ratio``, ``auc``; means over the dense seeds), the base rate in
train and in test (``base_rate_train``, ``base_rate_test``) and ``dense_disagreement``: the share of
samples whose prediction (``logit > 0``) differs between the dense seeds (NaN with one dense model).

**Targets** (from a study's ``summary.csv``, one threshold policy, default ``default``): for every
(attribute, protected) pair and pruned level, the increase of the mean over seeds of ``|BA|``, ``|FPR
gap|`` and ``|FNR gap|`` over the dense models' (:func:`bias_growth`; NaN where the metric is undefined at
either end -- BA is skipped with fewer than 10 positives per group, so it is often undefined on small test
sets).  The pairs of an attribute share its features.

**Validation** (:func:`validate_risk`, written as ``DIR/risk_validation.csv``): per level and target,

* every single feature: Spearman's rho with the increase (``scipy.stats.spearmanr``) and a seeded
  permutation p-value ``(1 + #{|rho_perm| >= |rho|}) / (1 + n_permutations)`` (pairs are permuted as if
  exchangeable; pairs of one attribute share features, so read p as optimistic), and the ROC AUC of the raw
  feature for flagging "grows by more than X" (< 0.5: the feature works the other way round);
* for reference, the same for ``dense_value``, the pair's own dense ``|metric|``: a metric that shrinks to 0
  when a collapsed model predicts a constant "grows" least where it started highest, so a feature that merely
  tracks the starting value looks predictive -- compare with this row before trusting one;
* the **combined** score: a logistic regression (L2, C = 1, Newton-Cholesky solver) on median-imputed,
  standardized features, validated **leave-one-attribute-out** -- the scores of an attribute's pairs come
  from a fit on the other attributes' pairs only, imputation and scaling included.  When some training fold
  has only one class (nobody, or everybody, grows by more than X) no classifier can be fitted, and a ridge
  regression (alpha = 1) of the increase itself is used for every fold of that level and target instead
  (``method``); its score is the predicted increase.  AUC with one class only is NaN with a note, never an
  error.  With fewer than two attributes nothing can be validated (``method`` none, scores NaN).

**Prediction for a new dense model** (:func:`rank_bias_risk`): the combined model of one level and target,
fitted on *all* pairs of the evidence study with the same method, scores the new model's attributes;
an attribute is flagged when its predicted probability is >= 0.5 (logistic) or its predicted increase is
> X (ridge).  Features the new model lacks (``dense_disagreement`` with a single model) are left out of
the fit *and* of the validation reported beside it.  Without evidence, attributes are ranked by
:data:`DEFAULT_FEATURE` alone and nothing is flagged (a threshold needs evidence).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from fairvision._io import write_csv
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import attribute_metrics
from fairvision.prune.cie import StudyPredictions, load_study_predictions, read_run_split, require_stats

__all__ = [
    "DEFAULT_FEATURE",
    "FEATURES",
    "TARGETS",
    "VALIDATION_COLUMNS",
    "BiasRiskReport",
    "LeaveOneAttributeOut",
    "bias_growth",
    "dense_features",
    "leave_one_attribute_out",
    "model_features",
    "rank_bias_risk",
    "require_stats",
    "spearman_permutation",
    "study_features",
    "validate_risk",
    "write_risk_validation",
]

#: Dense-only features of an attribute (module docstring).
FEATURES = ("uncertainty", "ece", "interdependence_r2", "rare_value_ratio", "auc", "base_rate_train",
            "base_rate_test", "dense_disagreement")
#: Bias metrics whose growth is predicted (columns of summary.csv); the CLI names them ba, fpr_gap, fnr_gap.
TARGETS = ("bias_amplification", "fpr_gap", "fnr_gap")
#: How reports name the targets.
TARGET_NAMES = {"bias_amplification": "BA", "fpr_gap": "FPR gap", "fnr_gap": "FNR gap"}
#: Ranking without evidence: the single feature with the highest mean AUC (0.81) for flagging FPR- and
#: FNR-gap growth > 0.02 at sparsity 0.8, 0.9 and 0.95 on the synthetic chained benchmark (BA was defined for
#: 3 pairs only there; docs/bias-warnings.md), higher = more at risk, as it was there.
DEFAULT_FEATURE = "uncertainty"
DEFAULT_FEATURE_SIGN = 1.0
#: Columns of :func:`validate_risk` / ``risk_validation.csv``.
VALIDATION_COLUMNS = ("sparsity", "target", "feature", "spearman", "p_value", "auc", "n", "n_flagged", "method",
                      "note")
#: Default level: nearest to 0.9, where Iofinova et al. see bias start to grow.
ONSET = 0.9


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
            or not math.isfinite(threshold):
        raise ConfigError(f"threshold must be a finite number (the growth X of |metric| that is flagged), "
                          f"got {threshold!r}")
    return float(threshold)


def _check_count(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _target(name: str) -> str:
    aliases = {"ba": "bias_amplification", "bias_amplification": "bias_amplification", "fpr_gap": "fpr_gap",
               "fnr_gap": "fnr_gap"}
    if name not in aliases:
        raise ConfigError(f"target must be one of ba, fpr_gap, fnr_gap, not {name!r}")
    return aliases[name]


# --------------------------------------------------------------------------- features


def dense_features(logits, labels, *, attributes: Sequence[str], train_labels) -> pd.DataFrame:
    """The dense-only features (:data:`FEATURES`) of every attribute, index ``attribute``.

    ``logits``: ``(seeds, N, A)`` (or one ``(N, A)`` matrix: one model, disagreement NaN) on the evaluated
    split whose 0/1 ``labels`` are ``(N, A)``; ``train_labels`` ``(M, A)`` give the training base rate.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 2:
        z = z[None]
    if z.ndim != 3 or 0 in z.shape:
        raise ValueError(f"logits must be (seeds, samples, attributes), got shape {z.shape}")
    y = np.asarray(labels)
    train = np.asarray(train_labels)
    if y.shape != z.shape[1:]:
        raise ValueError(f"labels have shape {y.shape}, the logits {z.shape[1:]} (samples, attributes)")
    if train.ndim != 2 or train.shape[1] != z.shape[2] or len(train) == 0:
        raise ValueError(f"train_labels must be (samples, {z.shape[2]}), got shape {train.shape}")
    rates = train.astype(np.float64).mean(axis=0)
    per_seed = [attribute_metrics(seed, y, attributes=attributes, train_rates=rates) for seed in z]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (a metric undefined for every seed)
        frame = pd.DataFrame(np.nanmean(np.stack([m.to_numpy() for m in per_seed]), axis=0),
                             index=per_seed[0].index, columns=per_seed[0].columns)
    out = frame[["uncertainty", "ece", "interdependence_r2", "rare_value_ratio", "auc"]].copy()
    out["base_rate_train"] = rates
    out["base_rate_test"] = y.astype(np.float64).mean(axis=0)
    pred = z > 0
    out["dense_disagreement"] = (pred.any(axis=0) & ~pred.all(axis=0)).mean(axis=0) if len(z) > 1 else np.nan
    return out[list(FEATURES)]


def study_features(study) -> pd.DataFrame:
    """:func:`dense_features` of a study's dense runs (a folder or a
    :class:`~fairvision.prune.cie.StudyPredictions`)."""
    pred = study if isinstance(study, StudyPredictions) else load_study_predictions(study, pruned=False)
    if pred.train_labels is None:
        raise DatasetError(f"{pred.study_dir / 'runs'}: the dense runs have no labels_train.csv with the "
                           "attribute columns (needed for the training base rates)")
    return dense_features(pred.dense, pred.labels, attributes=pred.attributes, train_labels=pred.train_labels)


# --------------------------------------------------------------------------- targets


def read_summary(study_dir: str | Path) -> pd.DataFrame:
    """``DIR/summary.csv`` of a study, checked for the columns :func:`bias_growth` needs."""
    path = Path(study_dir) / "summary.csv"
    if not path.is_file():
        raise DatasetError(f"{path}: not found; is {study_dir} a finished `fairvision prune-study` folder?")
    summary = pd.read_csv(path)
    for column in ("requested", "attribute", "protected", "threshold", *TARGETS):
        if column not in summary.columns:
            raise DatasetError(f"{path}: no column {column!r} (an attribute study's summary.csv has it)")
    return summary


def bias_growth(summary: pd.DataFrame, *, policy: str = "default") -> pd.DataFrame:
    """Per pruned level, target and (attribute, protected) pair: the mean over seeds of |metric| of the dense
    runs (``dense``) and of the level's runs (``pruned``, NaN seeds skipped) and ``increase = pruned - dense``.

    Columns: sparsity (requested level), target, attribute, protected, dense, pruned, increase.
    """
    rows = summary[(summary["threshold"] == policy) & (summary["attribute"] != summary["protected"])]
    if rows.empty:
        policies = sorted(summary["threshold"].astype(str).unique())
        raise ConfigError(f"policy {policy!r} has no rows in summary.csv (policies: {', '.join(policies)})")
    if not (rows["requested"] == 0).any():
        raise DatasetError("summary.csv has no dense rows (requested = 0): nothing to measure growth from")
    frames = []
    for target in TARGETS:
        means = rows.assign(value=rows[target].abs()).groupby(["requested", "attribute", "protected"])["value"].mean()
        table = means.unstack("requested")
        dense = table[0.0]
        for level in sorted(c for c in table.columns if c != 0.0):
            frames.append(pd.DataFrame({"sparsity": float(level), "target": target,
                                        "attribute": table.index.get_level_values("attribute"),
                                        "protected": table.index.get_level_values("protected"),
                                        "dense": dense.to_numpy(), "pruned": table[level].to_numpy(),
                                        "increase": (table[level] - dense).to_numpy()}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- statistics


def spearman_permutation(x, y, *, n_permutations: int = 999, seed: int | Sequence[int] = 0
                         ) -> tuple[float, float, int, str | None]:
    """Spearman's rho of ``x`` and ``y`` (pairs with a NaN dropped), a permutation p-value and the n used.

    ``p = (1 + #{|rho_perm| >= |rho|}) / (1 + n_permutations)``, ``y`` permuted ``n_permutations`` times
    with ``numpy.random.default_rng(seed)``. NaN (with a note) for fewer than 3 pairs or a constant side.
    """
    from scipy.stats import rankdata, spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3:
        return float("nan"), float("nan"), n, f"fewer than 3 pairs with a value ({n})"
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan"), n, f"constant {'feature' if np.ptp(x) == 0 else 'target'}"
    rho = float(spearmanr(x, y).statistic)
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(ry, (n_permutations, 1)), axis=1)
    rhos = perms @ rx / (np.linalg.norm(rx) * np.linalg.norm(ry))
    count = int((np.abs(rhos) >= abs(rho) - 1e-12).sum())
    return rho, (1 + count) / (1 + n_permutations), n, None


def _auc(flag: np.ndarray, score: np.ndarray) -> tuple[float, int, str | None]:
    """AUC of ``score`` for ``flag`` over the finite scores; NaN with a note when one class is missing."""
    from sklearn.metrics import roc_auc_score

    keep = np.isfinite(score)
    flag, score = flag[keep], score[keep]
    n_pos = int(flag.sum())
    if len(flag) == 0 or n_pos in (0, len(flag)):
        return float("nan"), len(flag), f"AUC undefined: {n_pos} of {len(flag)} pairs flagged (one class)"
    return float(roc_auc_score(flag, score)), len(flag), None


@dataclass(frozen=True)
class LeaveOneAttributeOut:
    """Out-of-attribute scores of the combined model: ``scores`` aligned with the input rows (NaN where no
    fit was possible), the ``method`` used (``logistic`` or ``ridge``) and a ``note``."""

    scores: np.ndarray
    method: str
    note: str | None


def _pipeline(method: str):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method == "logistic":
        model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=1000)
    else:
        model = Ridge(alpha=1.0)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)


def _score(model, method: str, x: np.ndarray) -> np.ndarray:
    return model.predict_proba(x)[:, 1] if method == "logistic" else model.predict(x)


def _fit(method: str, x: np.ndarray, flag: np.ndarray, increase: np.ndarray):
    model = _pipeline(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an imputed column without values in a fold, convergence chatter
        model.fit(x, flag.astype(int) if method == "logistic" else increase)
    return model


def _method(flag: np.ndarray, attributes: np.ndarray) -> str:
    """``logistic`` when every leave-one-attribute-out training fold has both classes, else ``ridge``."""
    for a in np.unique(attributes):
        rest = flag[attributes != a]
        if rest.all() or not rest.any():
            return "ridge"
    return "logistic"


def leave_one_attribute_out(features: pd.DataFrame, *, attributes: Sequence[str], increase, threshold: float
                            ) -> LeaveOneAttributeOut:
    """Scores of the combined model for every row, each from a fit that never saw its attribute's rows.

    ``features``: one row per unit (a pair), the feature columns; ``attributes``: each row's attribute;
    ``increase``: each row's growth of |metric| (finite). The flag is ``increase > threshold``. See the
    module docstring for the model and the logistic/ridge rule.
    """
    require_stats()
    x = features.to_numpy(dtype=np.float64)
    groups = np.asarray(attributes, dtype=object)
    inc = np.asarray(increase, dtype=np.float64)
    if not (len(x) == len(groups) == len(inc)):
        raise ValueError(f"features ({len(x)}), attributes ({len(groups)}) and increase ({len(inc)}) differ in length")
    if not np.isfinite(inc).all():
        raise ValueError("increase must be finite (drop undefined pairs first)")
    flag = inc > threshold
    scores = np.full(len(x), np.nan)
    keep = ~np.isnan(x).all(axis=0)
    x = x[:, keep]
    unique = np.unique(groups)
    if len(unique) < 2 or x.shape[1] == 0:
        why = "fewer than 2 attributes" if len(unique) < 2 else "no feature with a value"
        return LeaveOneAttributeOut(scores, "none", f"no leave-one-attribute-out fit: {why}")
    method = _method(flag, groups)
    for a in unique:
        held = groups == a
        model = _fit(method, x[~held], flag[~held], inc[~held])
        scores[held] = _score(model, method, x[held])
    note = None if method == "logistic" else (
        f"a training fold has one class only (pairs growing by more than {threshold:g}: {int(flag.sum())} "
        f"of {len(flag)}): ridge regression of the increase instead of logistic regression")
    return LeaveOneAttributeOut(scores, method, note)


# --------------------------------------------------------------------------- validation on a study


def _units(growth: pd.DataFrame, features: pd.DataFrame, level: float, target: str) -> pd.DataFrame:
    rows = growth[(growth["sparsity"] == level) & (growth["target"] == target) & growth["increase"].notna()]
    return rows.join(features, on="attribute", how="inner").reset_index(drop=True)


def _validate(growth: pd.DataFrame, features: pd.DataFrame, *, threshold: float, n_permutations: int, seed: int,
              columns: Sequence[str]) -> pd.DataFrame:
    out = []
    present = set(growth["target"])
    for level in sorted(growth["sparsity"].unique()):
        i = int(round(level * 1_000_000))  # the permutation seeds depend on the level, not on which levels are run
        for t, target in enumerate(TARGETS):
            if target not in present:
                continue
            units = _units(growth, features, level, target)
            inc = units["increase"].to_numpy(dtype=np.float64)
            flag = inc > threshold
            for f, name in enumerate(columns):
                values = units[name].to_numpy(dtype=np.float64)
                rho, p, n, note = spearman_permutation(values, inc, n_permutations=n_permutations,
                                                       seed=(seed, i, t, f))
                auc, _, auc_note = _auc(flag, values)
                out.append({"sparsity": level, "target": target, "feature": name, "spearman": rho, "p_value": p,
                            "auc": auc, "n": n, "n_flagged": int(flag[np.isfinite(values)].sum()),
                            "method": "single feature", "note": "; ".join(x for x in (note, auc_note) if x) or None})
            values = units["dense"].to_numpy(dtype=np.float64)
            rho, p, n, note = spearman_permutation(values, inc, n_permutations=n_permutations,
                                                   seed=(seed, i, t, len(columns) + 1))
            auc, _, auc_note = _auc(flag, values)
            out.append({"sparsity": level, "target": target, "feature": "dense_value", "spearman": rho,
                        "p_value": p, "auc": auc, "n": n, "n_flagged": int(flag[np.isfinite(values)].sum()),
                        "method": "reference: the pair's own dense |metric| (not in the combined score)",
                        "note": "; ".join(x for x in (note, auc_note) if x) or None})
            used = [c for c in columns if units[c].notna().any()]
            loao = leave_one_attribute_out(units[used], attributes=units["attribute"].to_numpy(), increase=inc,
                                           threshold=threshold)
            rho, p, n, note = spearman_permutation(loao.scores, inc, n_permutations=n_permutations,
                                                   seed=(seed, i, t, len(columns)))
            auc, _, auc_note = _auc(flag, loao.scores)
            subset = None if used == list(FEATURES) else f"features: {', '.join(used) or 'none'}"
            out.append({"sparsity": level, "target": target, "feature": "combined", "spearman": rho, "p_value": p,
                        "auc": auc, "n": len(units), "n_flagged": int(flag.sum()),
                        "method": f"{loao.method}, leave-one-attribute-out",
                        "note": "; ".join(x for x in (subset, loao.note, note, auc_note) if x) or None})
    return pd.DataFrame(out, columns=list(VALIDATION_COLUMNS))


def _evidence(study_dir: str | Path, *, policy: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    growth = bias_growth(read_summary(study_dir), policy=policy)
    features = study_features(study_dir)
    return growth, features


def _check_options(threshold, n_permutations, seed, features) -> tuple[float, list[str]]:
    threshold = _check_threshold(threshold)
    _check_count("n_permutations", n_permutations, 1)
    _check_count("seed", seed, 0)
    columns = list(features)
    unknown = [c for c in columns if c not in FEATURES]
    if unknown or not columns:
        raise ConfigError(f"features must be some of {', '.join(FEATURES)}, got {unknown or columns!r}")
    return threshold, columns


def validate_risk(study_dir: str | Path, *, threshold: float = 0.02, n_permutations: int = 999, seed: int = 0,
                  policy: str = "default", features: Sequence[str] = FEATURES) -> pd.DataFrame:
    """How well each dense-only feature, and the combined score, predict bias growth in a finished study.

    One row per (level, target, feature) plus one ``combined`` row per (level, target): columns
    :data:`VALIDATION_COLUMNS` (module docstring). ``threshold`` is X of "|metric| grows by more than X".
    """
    threshold, columns = _check_options(threshold, n_permutations, seed, features)
    require_stats()
    growth, table = _evidence(study_dir, policy=policy)
    return _validate(growth, table, threshold=threshold, n_permutations=n_permutations, seed=seed, columns=columns)


def write_risk_validation(study_dir: str | Path, *, out: str | Path | None = None, **options) -> pd.DataFrame:
    """:func:`validate_risk` written to ``out`` (default ``study_dir/risk_validation.csv``)."""
    table = validate_risk(study_dir, **options)
    write_csv(Path(study_dir) / "risk_validation.csv" if out is None else Path(out), table)
    return table


# --------------------------------------------------------------------------- ranking a new dense model


@dataclass(frozen=True, eq=False)
class BiasRiskReport:
    """The ranked attributes of a new dense model and the evidence the ranking rests on.

    ``table``: rank, attribute, score, flagged and the features, most at risk first; ``ranked_by``:
    ``combined`` or a feature name; ``validation``: the evidence study's rows of ``risk_validation.csv`` for
    this level and target (the combined row computed with ``features_used``), empty without evidence.
    """

    table: pd.DataFrame
    target: str
    sparsity: float | None
    threshold: float
    ranked_by: str
    method: str
    evidence: Path | None
    features_used: tuple[str, ...]
    validation: pd.DataFrame
    n_evidence: int
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def combined_auc(self) -> float:
        """Leave-one-attribute-out AUC of the combined score on the evidence (NaN without evidence)."""
        rows = self.validation[self.validation["feature"] == "combined"]
        return float(rows["auc"].iloc[0]) if len(rows) else float("nan")

    def to_dict(self) -> dict:
        """Plain dict for JSON: ranking, flags, warnings, notes and the validation evidence."""
        return {
            "target": self.target, "sparsity": self.sparsity, "threshold": self.threshold,
            "ranked_by": self.ranked_by, "method": self.method,
            "evidence": None if self.evidence is None else str(self.evidence),
            "features_used": list(self.features_used), "n_evidence": self.n_evidence,
            "combined_auc": self.combined_auc,
            "ranking": self.table.to_dict(orient="records"),
            "validation": self.validation.to_dict(orient="records"),
            "warnings": list(self.warnings), "notes": list(self.notes),
        }


def _pick_level(levels: Sequence[float], sparsity: float | None, where: str) -> float:
    if sparsity is None:
        return min(levels, key=lambda level: (abs(level - ONSET), level))
    matches = [lv for lv in levels if math.isclose(lv, sparsity, abs_tol=1e-9)]
    if not matches:
        raise ConfigError(f"sparsity {sparsity:g} is not a level of {where} "
                          f"(levels: {', '.join(f'{lv:g}' for lv in levels)})")
    return matches[0]


#: Fewest evidence pairs (attribute, protected) for the combined score to flag anything.
MIN_EVIDENCE = 10


def rank_bias_risk(features: pd.DataFrame, *, evidence: str | Path | None = None, target: str = "ba",
                   sparsity: float | None = None, threshold: float = 0.02, n_permutations: int = 999,
                   seed: int = 0, policy: str = "default") -> BiasRiskReport:
    """Rank a new dense model's attributes by their risk of bias growth under pruning.

    ``features``: :func:`dense_features` of the new model (index attribute). With ``evidence`` (a finished
    study folder) the combined model of level ``sparsity`` (default: the study's level nearest 0.9) and
    ``target`` (ba, fpr_gap, fnr_gap) is fitted on all the study's pairs and applied; without it,
    attributes are ranked by :data:`DEFAULT_FEATURE` and none is flagged.
    """
    target = _target(target)
    threshold, _ = _check_options(threshold, n_permutations, seed, FEATURES)
    missing = [c for c in FEATURES if c not in features.columns]
    if missing:
        raise ConfigError(f"features lacks the column {missing[0]!r} (use dense_features)")
    notes: list[str] = []
    if evidence is None:
        score = DEFAULT_FEATURE_SIGN * features[DEFAULT_FEATURE].to_numpy(dtype=np.float64)
        table = _ranked(features, score, np.zeros(len(features), dtype=bool))
        notes.append(f"no validation evidence was given (--evidence STUDY_DIR): attributes are ranked by "
                     f"{DEFAULT_FEATURE} alone (the single feature most associated with bias growth on the "
                     "synthetic chained benchmark, docs/bias-warnings.md) and nothing is flagged")
        return BiasRiskReport(table=table, target=target, sparsity=None, threshold=threshold,
                              ranked_by=DEFAULT_FEATURE, method="single feature", evidence=None,
                              features_used=(DEFAULT_FEATURE,), validation=pd.DataFrame(columns=VALIDATION_COLUMNS),
                              n_evidence=0, notes=notes)
    require_stats()
    evidence = Path(evidence)
    growth, study = _evidence(evidence, policy=policy)
    level = _pick_level(sorted(growth["sparsity"].unique()), sparsity, str(evidence))
    used = [c for c in FEATURES if features[c].notna().any() and study[c].notna().any()]
    dropped = [c for c in FEATURES if c not in used]
    if dropped:
        notes.append(f"left out of the combined score (no value for the new model or the evidence): "
                     f"{', '.join(dropped)}")
    one = growth[(growth["sparsity"] == level) & (growth["target"] == target)]
    validation = _validate(one, study, threshold=threshold, n_permutations=n_permutations, seed=seed, columns=used)
    validation = validation[validation["target"] == target].reset_index(drop=True)
    units = _units(growth, study, level, target)
    inc = units["increase"].to_numpy(dtype=np.float64)
    flag = inc > threshold
    n = len(units)
    if n == 0 or units["attribute"].nunique() < 2:
        raise DatasetError(f"{evidence}: |{target}| growth at sparsity {level:g} is defined for "
                           f"{units['attribute'].nunique()} attribute(s) only: no evidence to fit a score on "
                           "(try --target fpr_gap)")
    method = _method(flag, units["attribute"].to_numpy())
    model = _fit(method, units[used].to_numpy(dtype=np.float64), flag, inc)
    x_new = features[used].to_numpy(dtype=np.float64)
    score = _score(model, method, x_new)
    auc = float(validation.loc[validation["feature"] == "combined", "auc"].iloc[0])
    validated = n >= MIN_EVIDENCE and auc > 0.5  # a score the evidence does not validate warns about nothing
    flagged = (score >= 0.5 if method == "logistic" else score > threshold) & validated
    table = _ranked(features, score, flagged)
    name = TARGET_NAMES[target]
    how = "probability >= 0.5" if method == "logistic" else f"predicted increase > {threshold:g}"
    notes.append(f"combined score: {method} on {', '.join(used)}, fitted on {n} (attribute, protected) pairs of "
                 f"{evidence} at sparsity {level:g} ({int(flag.sum())} grew by more than {threshold:g}); "
                 f"flagged where {how}")
    if not validated:
        notes.append(f"weak evidence: {n} pairs, leave-one-attribute-out AUC "
                     f"{'undefined' if math.isnan(auc) else f'{auc:.2f}'} (needs >= {MIN_EVIDENCE} pairs and AUC > "
                     "0.5): nothing is flagged; treat the ranking as unvalidated")
    warns = [f"{row.attribute}: |{name}| is predicted to grow by more than {threshold:g} at sparsity {level:g} "
             f"(score {row.score:.3g}; leave-one-attribute-out AUC "
             f"{'undefined' if math.isnan(auc) else f'{auc:.2f}'} on {n} pairs of {evidence.name})"
             for row in table[table["flagged"]].itertuples()]
    return BiasRiskReport(table=table, target=target, sparsity=level, threshold=threshold, ranked_by="combined",
                          method=method, evidence=evidence, features_used=tuple(used), validation=validation,
                          n_evidence=n, warnings=warns, notes=notes)


def _ranked(features: pd.DataFrame, score: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    table = features.reset_index().rename(columns={features.index.name or "index": "attribute"})
    table.insert(1, "score", score)
    table.insert(2, "flagged", np.asarray(flagged, dtype=bool))
    table = table.sort_values("score", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def model_features(sources: Sequence[str | Path], *, celeba: str | Path | None = None) -> pd.DataFrame:
    """:func:`dense_features` of a new dense model given as files: run folders (their ``logits_test.txt``,
    ``labels_test.csv`` and ``labels_train.csv``) or CelebA test-partition logits files with ``celeba`` (the
    folder of ``list_attr_celeba.txt`` / ``list_eval_partition.txt``). Several sources = several seeds of
    the model (then ``dense_disagreement`` is defined); they must be of one kind and list the same samples.
    """
    paths = [Path(s) for s in sources]
    if not paths:
        raise ConfigError("give at least one run folder or logits file")
    for path in paths:
        if not path.exists():
            raise DatasetError(f"{path}: no such run folder or logits file")
    kinds = {p.is_dir() for p in paths}
    if len(kinds) > 1:
        raise ConfigError("give run folders or logits files, not both")
    if kinds == {True}:
        if celeba is not None:
            raise ConfigError(f"--celeba is for logits files; {paths[0]} is a run folder (it has its labels)")
        stack, first = [], None
        for path in paths:
            meta, attributes, labels, logits = read_run_split(path, "test")
            if first is None:
                first = (path, meta, attributes, labels)
            elif attributes != first[2] or not np.array_equal(meta["ids"].to_numpy(), first[1]["ids"].to_numpy()):
                raise DatasetError(f"{path}: its test samples or attributes differ from {first[0]}'s")
            stack.append(logits)
        train_path = paths[0] / "labels_train.csv"
        if not train_path.is_file():
            raise DatasetError(f"{train_path}: not found (the training base rates come from it)")
        train = pd.read_csv(train_path)
        absent = [a for a in first[2] if a not in train.columns]
        if absent:
            raise DatasetError(f"{train_path}: no column {absent[0]!r}")
        return dense_features(np.stack(stack), first[3], attributes=first[2],
                              train_labels=train[first[2]].to_numpy() == 1)
    if celeba is None:
        raise ConfigError(f"{paths[0]} is a logits file: give --celeba ROOT for its labels and partition")
    from fairvision.data import load_celeba_annotations
    from fairvision.metrics import read_logits

    notes = load_celeba_annotations(celeba)
    names = list(notes.attributes)
    n = int(notes.mask("test").sum())
    if n == 0:
        raise DatasetError(f"{notes.partition_file}: the test partition has no images")
    stack = [read_logits(p, n_rows=n, n_cols=len(names)) for p in paths]
    return dense_features(np.stack(stack), notes.split_labels("test") == 1, attributes=names,
                          train_labels=notes.split_labels("train") == 1)
