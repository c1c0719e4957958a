"""Attribute bias metrics of Iofinova, Peste & Alistarh, "Bias in Pruned Vision Models" (CVPR 2023).

Multi-label attribute classifiers (CelebA's 40 attributes) are scored as the
authors' released analysis does (IST-DASLab/pruned-vision-model-bias,
``bias_utils/runs.py``), vectorised over attributes.  With logits ``z``
(N x A), 0/1 labels ``y``, a threshold ``t`` and ``p = sigmoid(z)``:

* predictions ``ŷ = z > t`` (strict; ``t = 0`` by default);
* per attribute: accuracy; ROC AUC of ``p`` (NaN with one class only);
  positive rate ``mean(ŷ)``; uncertainty ``mean(|p - 0.5| < 0.4)``; ECE over
  the bins ``floor(10 p) / 10`` (``p = 1`` is a bin of its own); interdependence,
  the in-sample R² of a least-squares regression (with intercept) of ``ŷ_j``
  on the other attributes' ``ŷ``; rare-value ratio ``(1 - mean ŷ) / (1 - test
  rate)`` where the *training* rate is > 0.5, else ``mean ŷ / test rate``;
* per protected attribute g and target a != g: bias amplification (below) and
  the false positive / negative rates of a in each group of g, with their gaps
  (group 1 - group 0);
* thresholds recalibrated on validation logits (:func:`recalibrate_thresholds`).

Bias amplification of a with respect to g, from the training labels
``pos = P(a | g=1)`` and ``neg = P(a | g=0)``, the favoured group ``g* = 1 if
pos > neg else 0`` and, on the evaluated set, ``BA = #{ŷ_a, g=g*} / #{ŷ_a} -
#{y_a, g=g*} / #{y_a}``.  It is NaN, with the reason recorded, when (in this
order) fewer than ``min_positives`` (10) evaluated samples with g=1, or with
g=0, are positive for a; no training sample has g=1 (or g=0); the relative
difference ``|pos - neg| / min(pos, neg)`` is below ``min_relative_difference``
(0.1); nothing is predicted positive for a.  With ``min(pos, neg) = 0`` the
relative difference is +inf if the rates differ (as numpy gives in the
authors' code: not skipped) and 0 if both are 0 (skipped; the authors' code
compares NaN and so would not skip).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fairvision.errors import show_value
from fairvision.metrics._checks import check_labels, real_array

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "DEFAULT_PROTECTED",
    "attribute_metrics",
    "bias_amplification",
    "error_rate_gaps",
    "recalibrate_thresholds",
]

#: Protected attributes of the paper (those present are used when none are named).
DEFAULT_PROTECTED = ("Male", "Young", "Chubby", "Pale_Skin")
#: Columns of :func:`attribute_metrics`, in order.
ATTRIBUTE_COLUMNS = ("accuracy", "auc", "positive_rate", "uncertainty", "ece", "interdependence_r2", "rare_value_ratio")
#: Columns of :func:`error_rate_gaps` after ``protected, attribute``.
GAP_COLUMNS = ("fpr_0", "fpr_1", "fnr_0", "fnr_1", "fpr_gap", "fnr_gap")
#: Eigenvalues of the centred Gram matrix below this fraction of the largest count as zero (collinear predictions).
_RANK_TOL = 1e-12


# --------------------------------------------------------------------------- input checks


def logit_matrix(values, name: str, *, shape: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
    """``values`` as a finite float64 (N, A) matrix; ValueError naming ``name[i, j]`` otherwise."""
    arr = real_array(values, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a matrix (samples x attributes), got shape {arr.shape}")
    _check_shape(arr, name, shape)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] is {show_value(arr[i, j])}: logits must be finite")
    return arr


def label_matrix(values, name: str, *, shape: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
    """0/1 (or boolean) ``values`` as a boolean (N, A) matrix; ValueError naming ``name[i, j]`` otherwise."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":  # whole numbers and floats are compared as they are, without a copy
        arr = real_array(arr, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a matrix (samples x attributes), got shape {arr.shape}")
    _check_shape(arr, name, shape)
    if arr.dtype == bool:
        return arr
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] is {show_value(arr[i, j])}: labels must be 0 or 1")
    return arr == 1


def _check_shape(arr: np.ndarray, name: str, shape: tuple[int | None, int | None]) -> None:
    rows, cols = shape
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): need at least one sample and one attribute")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {cols} (one per attribute)")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {rows} (one per sample of the logits)")


def attribute_names(attributes: Sequence[str], n_cols: int) -> list[str]:
    """The attribute names as a list: one distinct string per column."""
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if len(names) != n_cols:
        raise ValueError(f"attributes names {len(names)} attribute(s) but the matrices have {n_cols} column(s)")
    dup = pd.Index(names)[pd.Index(names).duplicated()]
    if len(dup):
        raise ValueError(f"attribute {show_value(dup[0])} is named twice")
    return [str(n) for n in names]


def protected_indices(protected: Sequence[str] | str | None, names: list[str]) -> list[int]:
    """Column indices of the protected attributes (default: :data:`DEFAULT_PROTECTED` present in ``names``)."""
    if protected is None:
        chosen = [p for p in DEFAULT_PROTECTED if p in names]
        if not chosen:
            raise ValueError(f"none of the default protected attributes {list(DEFAULT_PROTECTED)} is an attribute: "
                             "name them with protected=")
        return [names.index(p) for p in chosen]
    chosen = [protected] if isinstance(protected, str) else list(protected)
    if not chosen:
        raise ValueError("protected names no attribute: give at least one")
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise ValueError(f"protected attribute {show_value(unknown[0])} is not an attribute; "
                         f"attributes are {', '.join(names)}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"protected names {show_value(next(p for p in chosen if chosen.count(p) > 1))} twice")
    return [names.index(p) for p in chosen]


def _train_rates(train_rates, names: list[str]) -> np.ndarray:
    if isinstance(train_rates, pd.Series) and set(train_rates.index) == set(names):
        train_rates = train_rates.reindex(names)
    rates = real_array(train_rates, "train_rates").reshape(-1)
    if len(rates) != len(names):
        raise ValueError(f"train_rates has {len(rates)} value(s), expected {len(names)} (one per attribute)")
    bad = ~((rates >= 0) & (rates <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"train_rates[{i}] is {show_value(rates[i])}: rates must lie in [0, 1]")
    return rates


def predictions_of(logits: np.ndarray, threshold) -> np.ndarray:
    """``logits > threshold`` (strict); ``threshold`` a scalar, one per attribute (A,) or one per cell (N, A)."""
    t = real_array(threshold, "threshold")
    if t.ndim not in (0, 1, 2) or (t.ndim >= 1 and t.shape != logits.shape[-t.ndim:]):
        raise ValueError(f"threshold must be a number, one per attribute {(logits.shape[1],)} or one per sample "
                         f"and attribute {logits.shape}, got shape {t.shape}")
    if np.isnan(t).any():
        raise ValueError("threshold contains NaN")
    return logits > t


def resolve_predictions(logits: np.ndarray, threshold, predictions) -> np.ndarray:
    """The boolean predictions: ``predictions`` if given (then ``threshold`` must stay 0 / None), else ``z > t``."""
    if predictions is None:
        return predictions_of(logits, 0.0 if threshold is None else threshold)
    if threshold is not None and not (np.ndim(threshold) == 0 and threshold == 0):
        raise ValueError("pass threshold or predictions, not both")
    return label_matrix(predictions, "predictions", shape=logits.shape)


# --------------------------------------------------------------------------- per-attribute metrics


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` exactly as the authors compute it (so that p saturates to 1.0 the same way)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-logits))


def _auc(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC per column: P(p+ > p-) + P(p+ = p-) / 2, which is what roc_auc_score computes; NaN with one class."""
    out = np.full(probs.shape[1], np.nan)
    for j in range(probs.shape[1]):
        pos, neg = probs[labels[:, j], j], np.sort(probs[~labels[:, j], j])
        if len(pos) and len(neg):
            below = np.searchsorted(neg, pos, "left")
            at_or_below = np.searchsorted(neg, pos, "right")
            out[j] = (2 * int(below.sum()) + int((at_or_below - below).sum())) / (2 * len(pos) * len(neg))
    return out


def _ece(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Σ_b n_b/N |mean p_b - mean y_b| over the bins floor(10 p) (11 bins: p = 1.0 is its own)."""
    n, a = probs.shape
    bins = np.floor(probs * 10).astype(np.int64) + 11 * np.arange(a)
    sum_p = np.bincount(bins.ravel(), weights=probs.ravel(), minlength=11 * a)
    sum_y = np.bincount(bins.ravel(), weights=labels.ravel().astype(np.float64), minlength=11 * a)
    return np.abs(sum_p - sum_y).reshape(a, 11).sum(axis=1) / n


def _interdependence(pred: np.ndarray) -> np.ndarray:
    """In-sample R² of ŷ_j regressed (with intercept) on the other columns, for every j.

    Works on the centred Gram matrix ``N X'X - s s'`` (exact integers for 0/1
    data), one small pseudo-inverse per column; a constant ŷ_j is fitted
    exactly, R² = 1, as scikit-learn's LinearRegression.score gives.
    """
    x = pred.astype(np.float64)
    s = x.sum(axis=0)
    gram = len(x) * (x.T @ x) - np.outer(s, s)
    a = gram.shape[0]
    out = np.empty(a)
    for j in range(a):
        total = gram[j, j]
        if total <= 0:
            out[j] = 1.0
            continue
        others = np.r_[0:j, j + 1:a]
        if len(others) == 0:
            out[j] = 0.0
            continue
        vals, vecs = np.linalg.eigh(gram[np.ix_(others, others)])
        keep = vals > _RANK_TOL * max(vals.max(), 1.0)
        proj = vecs[:, keep].T @ gram[others, j]
        out[j] = float((proj**2 / vals[keep]).sum()) / total
    return out


def _rare_value_ratio(pred: np.ndarray, labels: np.ndarray, train_rates: np.ndarray) -> np.ndarray:
    """(1 - mean ŷ)/(1 - test rate) where the training rate is > 0.5, else mean ŷ / test rate; NaN for x/0."""
    pred_rate, test_rate = pred.mean(axis=0), labels.mean(axis=0)
    common = train_rates > 0.5
    num = np.where(common, 1 - pred_rate, pred_rate)
    den = np.where(common, 1 - test_rate, test_rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def logit_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The threshold-free metrics: auc, uncertainty, ece (each (A,))."""
    p = sigmoid(logits)
    return {"auc": _auc(p, labels), "uncertainty": (np.abs(p - 0.5) < 0.4).mean(axis=0), "ece": _ece(p, labels)}


def prediction_metrics(pred: np.ndarray, labels: np.ndarray, train_rates: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics of the thresholded predictions: accuracy, positive_rate, interdependence_r2, rare_value_ratio."""
    return {
        "accuracy": (pred == labels).mean(axis=0),
        "positive_rate": pred.mean(axis=0),
        "interdependence_r2": _interdependence(pred),
        "rare_value_ratio": _rare_value_ratio(pred, labels, train_rates),
    }


def attribute_frame(names: list[str], metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    """The per-attribute metrics as a frame indexed by ``attribute``, columns :data:`ATTRIBUTE_COLUMNS`."""
    return pd.DataFrame({c: metrics[c] for c in ATTRIBUTE_COLUMNS}, index=pd.Index(names, name="attribute"))


def attribute_metrics(
    logits,
    labels,
    *,
    attributes: Sequence[str],
    train_rates,
    threshold=0.0,
    predictions=None,
) -> pd.DataFrame:
    """Per-attribute accuracy, AUC, positive rate, uncertainty, ECE, interdependence R² and rare-value ratio.

    ``train_rates`` are the attributes' positive rates on the training set
    (they choose the branch of the rare-value ratio).  ``threshold`` is a
    number, one per attribute or one per sample and attribute; or pass boolean
    ``predictions`` (N, A) instead.  Index ``attribute``; NaN where undefined.
    """
    z = logit_matrix(logits, "logits")
    y = label_matrix(labels, "labels", shape=z.shape)
    names = attribute_names(attributes, z.shape[1])
    rates = _train_rates(train_rates, names)
    pred = resolve_predictions(z, threshold, predictions)
    return attribute_frame(names, {**logit_metrics(z, y), **prediction_metrics(pred, y, rates)})


# --------------------------------------------------------------------------- bias amplification and error-rate gaps


def _group_rates(labels: np.ndarray, in_group: np.ndarray) -> np.ndarray:
    """Positive rate of every (boolean) attribute among the rows of ``in_group`` (NaN for an empty group)."""
    n = int(in_group.sum())
    if n == 0:
        return np.full(labels.shape[1], np.nan)
    return np.count_nonzero(labels[in_group], axis=0) / n


def ba_rows(
    pred: np.ndarray,
    labels: np.ndarray,
    train_labels: np.ndarray,
    g: int,
    names: list[str],
    *,
    min_positives: int,
    min_relative_difference: float,
) -> pd.DataFrame:
    """Bias amplification of every attribute a != g with respect to protected column g (module docstring)."""
    in1 = labels[:, g]
    pos_1, pos_0 = np.count_nonzero(labels[in1], axis=0), np.count_nonzero(labels[~in1], axis=0)
    train_in1 = train_labels[:, g]
    rate_1, rate_0 = _group_rates(train_labels, train_in1), _group_rates(train_labels, ~train_in1)
    diff, low = np.abs(rate_1 - rate_0), np.minimum(rate_1, rate_0)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(low > 0, diff / np.where(low > 0, low, 1), np.where(diff > 0, np.inf, 0.0))
    favoured_1 = rate_1 > rate_0
    pred_1, pred_0 = np.count_nonzero(pred[in1], axis=0), np.count_nonzero(pred[~in1], axis=0)
    n_pred, n_pos = pred_1 + pred_0, pos_1 + pos_0
    pred_star = np.where(favoured_1, pred_1, pred_0)
    pos_star = np.where(favoured_1, pos_1, pos_0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ba = pred_star / n_pred - pos_star / n_pos
    gname = names[g]
    rows = []
    for a, name in enumerate(names):
        if a == g:
            continue
        reason = None
        if pos_1[a] < min_positives:
            reason = f"fewer than {min_positives} evaluated positives of {name} with {gname}=1 ({int(pos_1[a])})"
        elif pos_0[a] < min_positives:
            reason = f"fewer than {min_positives} evaluated positives of {name} with {gname}=0 ({int(pos_0[a])})"
        elif np.isnan(rate_1[a]) or np.isnan(rate_0[a]):
            reason = f"no training sample with {gname}={1 if np.isnan(rate_1[a]) else 0}"
        elif relative[a] < min_relative_difference:
            reason = (f"training rates of {name} with {gname}=1 ({rate_1[a]:.4g}) and {gname}=0 ({rate_0[a]:.4g}) "
                      f"differ by less than {min_relative_difference:g} relative")
        elif n_pred[a] == 0:
            reason = f"no evaluated sample is predicted {name}"
        rows.append((gname, name, np.nan if reason else float(ba[a]), reason))
    return pd.DataFrame(rows, columns=["protected", "attribute", "bias_amplification", "skip_reason"])


def gap_rows(pred: np.ndarray, labels: np.ndarray, g: int, names: list[str]) -> pd.DataFrame:
    """FPR and FNR of every attribute a != g in each group of protected column g, and their gaps (1 - 0)."""
    out = {}
    for value, rows in ((0, ~labels[:, g]), (1, labels[:, g])):
        y, p = labels[rows], pred[rows]
        neg, pos = (~y).sum(axis=0), y.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"fpr_{value}"] = np.where(neg > 0, (p & ~y).sum(axis=0) / np.maximum(neg, 1), np.nan)
            out[f"fnr_{value}"] = np.where(pos > 0, (~p & y).sum(axis=0) / np.maximum(pos, 1), np.nan)
    keep = [a for a in range(len(names)) if a != g]
    frame = pd.DataFrame({"protected": names[g], "attribute": [names[a] for a in keep]})
    for col in ("fpr_0", "fpr_1", "fnr_0", "fnr_1"):
        frame[col] = out[col][keep]
    frame["fpr_gap"] = frame["fpr_1"] - frame["fpr_0"]
    frame["fnr_gap"] = frame["fnr_1"] - frame["fnr_0"]
    return frame


def bias_amplification(
    logits,
    labels,
    *,
    attributes: Sequence[str],
    train_labels,
    protected: Sequence[str] | str | None = None,
    threshold=0.0,
    predictions=None,
    min_positives: int = 10,
    min_relative_difference: float = 0.1,
) -> pd.DataFrame:
    """Bias amplification of every attribute with respect to each protected attribute (module docstring).

    ``labels`` are the evaluated samples' labels (they also define the
    groups); ``train_labels`` give P(a | g).  ``threshold`` may be one per
    sample and attribute (per-group thresholds), or pass boolean
    ``predictions`` (N, A).  Long frame: protected, attribute,
    bias_amplification, skip_reason (None where computed); a = g is left out.
    """
    z = logit_matrix(logits, "logits")
    y = label_matrix(labels, "labels", shape=z.shape)
    names = attribute_names(attributes, z.shape[1])
    train = label_matrix(train_labels, "train_labels", shape=(None, z.shape[1]))
    pred = resolve_predictions(z, threshold, predictions)
    frames = [ba_rows(pred, y, train, g, names, min_positives=min_positives,
                      min_relative_difference=min_relative_difference)
              for g in protected_indices(protected, names)]
    return pd.concat(frames, ignore_index=True)


def error_rate_gaps(
    logits,
    labels,
    *,
    attributes: Sequence[str],
    protected: Sequence[str] | str | None = None,
    threshold=0.0,
    predictions=None,
) -> pd.DataFrame:
    """False positive and false negative rates of each attribute per protected group, and their gaps.

    FPR = #{ŷ=1, y=0} / #{y=0} and FNR = #{ŷ=0, y=1} / #{y=1} within g=0 and
    g=1 (NaN when the group has no negative / positive); gap = group 1 -
    group 0.  Long frame: protected, attribute, fpr_0, fpr_1, fnr_0, fnr_1,
    fpr_gap, fnr_gap; a = g is left out.
    """
    z = logit_matrix(logits, "logits")
    y = label_matrix(labels, "labels", shape=z.shape)
    names = attribute_names(attributes, z.shape[1])
    pred = resolve_predictions(z, threshold, predictions)
    return pd.concat([gap_rows(pred, y, g, names) for g in protected_indices(protected, names)], ignore_index=True)


# --------------------------------------------------------------------------- threshold recalibration


def kth_largest_thresholds(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per column, the k-th largest logit with k = number of positive labels (+inf when k = 0)."""
    n, a = logits.shape
    k = labels.sum(axis=0)
    out = np.full(a, np.inf)
    for j in np.flatnonzero(k):
        out[j] = np.partition(logits[:, j], n - k[j])[n - k[j]]
    return out


def recalibrate_thresholds(val_logits, val_labels, *, group=None, groups: Sequence | None = None) -> np.ndarray:
    """Thresholds that make the validation positive rate match the labels' (the authors' recalibration).

    Per attribute, with k its number of positive validation labels, the
    threshold is the k-th largest validation logit; applied with a strict
    ``>``, exactly k - 1 validation samples exceed it when logits are
    distinct.  k = 0 gives +inf (predict nothing; the authors' ``-k`` index
    would pick the smallest logit instead).  Returns (A,); with ``group``
    (one label per validation sample) one row per group, (n_groups, A), each
    computed on that group's samples alone; rows follow ``groups`` (default:
    the sorted distinct values of ``group``), a group without samples gets +inf.
    """
    z = logit_matrix(val_logits, "val_logits")
    y = label_matrix(val_labels, "val_labels", shape=z.shape)
    if group is None:
        if groups is not None:
            raise ValueError("groups needs group (one label per validation sample)")
        return kth_largest_thresholds(z, y)
    values = np.asarray(group)
    if values.ndim != 1 or len(values) != len(z):
        raise ValueError(f"group must hold one label per validation sample ({len(z)}), got shape {values.shape}")
    check_labels(values, "group")
    order = np.unique(values) if groups is None else list(groups)
    rows = [kth_largest_thresholds(z[values == v], y[values == v]) for v in order]
    return np.stack(rows) if rows else np.zeros((0, z.shape[1]))
