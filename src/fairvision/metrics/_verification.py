"""1:1 verification fairness: FMR and FNMR per group at one shared threshold.

Scores are cosine similarities of L2-normalised embeddings.  Genuine pairs
are all pairs of images of one identity; impostor pairs are pairs of images
of different identities.  The threshold ``t`` is chosen once, over *all*
impostor pairs, as the smallest score with FMR(t) = P(impostor score >= t) <=
``target_fmr``; then per group g (NIST FRVT style):

* FNMR_g = fraction of g's genuine pairs with score < t;
* FMR_g = fraction of same-group impostor pairs (both images in g) with score >= t.

When there are more impostor pairs than ``max_impostor_pairs`` they are
sampled uniformly (seeded, with replacement).  Ratios are to the reference
group (default the first in sorted order) and summarised as Max/GeoMean.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairvision.errors import show_value
from fairvision.metrics._checks import as_labels, check_labels, real_array
from fairvision.metrics._fairness import FairnessWarning

__all__ = [
    "FoldAccuracy",
    "VerificationReport",
    "pair_verification_rates",
    "verification_accuracy_10fold",
    "verification_rates",
]


class VerificationReport(pd.DataFrame):
    """Per-group verification table; ``attrs`` holds ``threshold``, ``target_fmr`` and summaries."""

    @property
    def _constructor(self):
        return VerificationReport


def _normalise(embeddings) -> np.ndarray:
    e = real_array(embeddings, "embeddings")
    if e.ndim != 2:
        raise ValueError(f"embeddings must be (N, d), got shape {e.shape}")
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if not np.isfinite(e).all() or (norms == 0).any():
        raise ValueError("embeddings contain NaN/inf or all-zero rows")
    return (e / norms).astype(np.float32)


def _genuine_pairs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    ii, jj = [], []
    for size in np.unique(sizes):
        if size < 2:
            continue
        a, b = np.triu_indices(size, k=1)
        block = starts[sizes == size][:, None]
        ii.append(order[(block + a).ravel()])
        jj.append(order[(block + b).ravel()])
    if not ii:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ii), np.concatenate(jj)


def _impostor_pairs(codes: np.ndarray, max_pairs: int, rng: np.random.Generator):
    n = len(codes)
    counts = np.bincount(codes)
    total = (n * (n - 1) - int((counts * (counts - 1)).sum())) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        keep = codes[i] != codes[j]
        return i[keep], j[keep], total, False
    ii, jj, have = [], [], 0
    while have < max_pairs:
        i = rng.integers(0, n, size=2 * (max_pairs - have))
        j = rng.integers(0, n, size=len(i))
        keep = codes[i] != codes[j]
        ii.append(i[keep][: max_pairs - have])
        jj.append(j[keep][: max_pairs - have])
        have += len(ii[-1])
    return np.concatenate(ii), np.concatenate(jj), total, True


def _scores(e: np.ndarray, i: np.ndarray, j: np.ndarray, batch: int = 1 << 20) -> np.ndarray:
    out = np.empty(len(i), np.float32)
    for s in range(0, len(i), batch):
        out[s : s + batch] = np.einsum("nd,nd->n", e[i[s : s + batch]], e[j[s : s + batch]])
    return out


def verification_rates(
    embeddings,
    identities,
    groups,
    *,
    target_fmr: float = 1e-3,
    reference_group: str | None = None,
    max_impostor_pairs: int = 5_000_000,
    seed: int = 0,
) -> VerificationReport:
    """Per-group FMR / FNMR at the threshold giving ``target_fmr`` over all impostor pairs.

    Returns a DataFrame indexed by group with columns ``genuine_pairs``,
    ``impostor_pairs``, ``FNMR``, ``FMR``, ``FNMR_ratio``, ``FMR_ratio``;
    ``.attrs`` holds ``threshold``, ``target_fmr``, ``achieved_fmr``,
    ``impostors_sampled``, ``FMR_max_over_geomean`` and ``FNMR_max_over_geomean``.
    """
    if not 0 < target_fmr < 1:
        raise ValueError(f"target_fmr must be in (0, 1), got {target_fmr}")
    e = _normalise(embeddings)
    ids = as_labels(identities)
    grp = as_labels(groups)
    if len(ids) != len(e) or len(grp) != len(e):
        raise ValueError("embeddings, identities and groups must have the same length")
    check_labels(ids, "identities")
    check_labels(grp, "groups")
    grp = grp.astype(str)
    codes = pd.factorize(pd.Series(ids))[0]
    per_id = pd.Series(grp).groupby(codes).nunique()
    if (per_id > 1).any():
        raise ValueError(f"identity {show_value(ids[codes == per_id.index[per_id > 1][0]][0])} has several groups")
    rng = np.random.default_rng(seed)
    gi, gj = _genuine_pairs(codes)
    ii, ij, total_impostors, sampled = _impostor_pairs(codes, max_impostor_pairs, rng)
    if len(ii) == 0 or len(gi) == 0:
        raise ValueError("verification needs at least one genuine and one impostor pair")
    gen = _scores(e, gi, gj)
    imp = _scores(e, ii, ij)
    threshold = _threshold_at_fmr(imp, target_fmr)
    names = sorted(map(str, np.unique(grp)))
    table = _rate_table(gen, grp[gi], imp, np.where(grp[ii] == grp[ij], grp[ii], None), names, threshold,
                        reference_group)
    table.attrs.update(
        threshold=threshold,
        target_fmr=target_fmr,
        achieved_fmr=float(np.mean(imp >= threshold)),
        impostor_pairs_total=int(total_impostors),
        impostors_sampled=bool(sampled),
    )
    return table


def _threshold_at_fmr(imp: np.ndarray, target_fmr: float) -> float:
    """The smallest threshold with at most ``floor(target_fmr * len(imp))`` impostor scores >= it."""
    sorted_imp = np.sort(imp)[::-1]
    # At most k impostors may score >= t; the smallest such t is just above the
    # (k+1)-th highest impostor score (ties included).  k < len(imp) as target_fmr < 1.
    k = int(np.floor(target_fmr * len(imp)))
    return float(np.nextafter(sorted_imp[k], np.asarray(sorted_imp[k]).dtype.type(np.inf)))


def _rate_table(gen, gen_group, imp, imp_group, names, threshold: float, reference_group) -> "VerificationReport":
    """Per-group FNMR / FMR at ``threshold``; ``imp_group`` is the group of a same-group impostor pair, else None."""
    rows = []
    for g in names:
        gen_g = gen[gen_group == g]
        imp_g = imp[imp_group == g]
        rows.append(
            {
                "group": g,
                "genuine_pairs": len(gen_g),
                "impostor_pairs": len(imp_g),
                "FNMR": float(np.mean(gen_g < threshold)) if len(gen_g) else np.nan,
                "FMR": float(np.mean(imp_g >= threshold)) if len(imp_g) else np.nan,
            }
        )
    table = VerificationReport(pd.DataFrame(rows).set_index("group"))
    ref = str(names[0]) if reference_group is None else reference_group
    if ref not in names:
        raise ValueError(f"reference group {ref!r} not among groups {names}")
    with np.errstate(divide="ignore", invalid="ignore"):
        for col in ("FNMR", "FMR"):
            table[f"{col}_ratio"] = table[col] / table.loc[ref, col]
            values = table[col].to_numpy(float)
            geo = np.exp(np.mean(np.log(values))) if (values > 0).all() else np.nan
            table.attrs[f"{col}_max_over_geomean"] = float(np.max(values) / geo) if geo == geo else np.nan
    if table[["FNMR_ratio", "FMR_ratio"]].isin([np.inf]).any().any() or table.isna().any().any():
        warnings.warn("some verification rates or ratios are undefined (NaN)", FairnessWarning, stacklevel=3)
        table = table.replace([np.inf, -np.inf], np.nan)
    table.attrs["reference_group"] = ref
    return table


# --------------------------------------------------------------------------- pair lists (LFW-style benchmarks)


def _pair_inputs(scores, same) -> tuple[np.ndarray, np.ndarray]:
    s = real_array(scores, "scores")
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"scores[{i}] is {show_value(s[i])}; scores must be finite")
    y = np.asarray(same)
    if y.shape != s.shape:
        raise ValueError(f"scores and same must have the same length, got {s.shape} and {y.shape}")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("same must be booleans (or 0/1): True for a same-person pair")
        y = y.astype(bool)
    return s.astype(np.float64), y


def _best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold (``same`` iff score >= t) of highest accuracy on these pairs, and that accuracy.

    Candidates separate consecutive distinct scores (their midpoint), plus +inf (every pair "different")
    and -inf (every pair "same"); ties go to the highest threshold (the fewest pairs called "same",
    like the usual benchmark code that scans distance thresholds upwards and keeps the first best).
    """
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    n = len(s)
    tp = np.r_[0, np.cumsum(y)]
    fp = np.r_[0, np.cumsum(~y)]
    correct = tp + (fp[-1] - fp)  # top k called "same": k = 0..n
    valid = np.r_[True, s[:-1] > s[1:], True] if n else np.array([True])
    correct = np.where(valid, correct, -1)
    k = int(np.argmax(correct))  # first maximum: the smallest k, i.e. the highest threshold
    if k == 0:
        t = np.inf
    elif k == n:
        t = -np.inf
    else:
        t = (s[k - 1] + s[k]) / 2.0
    return float(t), float(correct[k] / n) if n else float("nan")


@dataclass(frozen=True)
class FoldAccuracy:
    """Result of :func:`verification_accuracy_10fold`.

    Attributes:
        mean: mean of the per-fold accuracies (what the benchmarks report).
        std: their standard deviation (ddof=0, as the usual benchmark code computes it).
        accuracies: per-fold accuracy on the fold's own pairs, in sorted fold order.
        thresholds: per-fold threshold, chosen on the other folds.
        folds: the fold labels, sorted.
    """

    mean: float
    std: float
    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]
    folds: tuple

    def to_dict(self) -> dict:
        return {
            "accuracy": self.mean,
            "accuracy_std": self.std,
            "fold_accuracies": list(self.accuracies),
            "fold_thresholds": [None if not np.isfinite(t) else t for t in self.thresholds],
        }


def verification_accuracy_10fold(scores, same, folds=10) -> FoldAccuracy:
    """1:1 verification accuracy with the k-fold protocol of LFW-style benchmarks.

    For each fold, the threshold of best accuracy on the *other* folds' pairs
    (see :func:`_best_threshold`: a pair is called "same" iff its score >= t)
    is applied to the fold's own pairs; the result is the mean and standard
    deviation (ddof=0) of the per-fold accuracies.

    Args:
        scores: per-pair similarity (higher = more alike, e.g. cosine similarity).
        same: per-pair truth, True for a same-person pair.
        folds: per-pair fold label, or a whole number k: k contiguous blocks of
            (nearly) equal size in pair order.  At least two folds.
    """
    s, y = _pair_inputs(scores, same)
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        if folds < 2 or folds > len(s):
            raise ValueError(f"folds must be between 2 and the number of pairs ({len(s)}), not {folds}")
        labels = np.arange(len(s)) * int(folds) // len(s)
    else:
        labels = as_labels(folds)
        if labels.shape != s.shape:
            raise ValueError(f"folds must have one label per pair, got shape {labels.shape} for {len(s)} pairs")
        check_labels(labels, "folds")
    names = np.unique(labels)
    if len(names) < 2:
        raise ValueError(f"the k-fold protocol needs at least two folds, got {list(names)}")
    accs, ts = [], []
    for f in names:
        test = labels == f
        t, _ = _best_threshold(s[~test], y[~test])
        ts.append(t)
        accs.append(float(np.mean((s[test] >= t) == y[test])))
    acc = np.asarray(accs)
    return FoldAccuracy(float(acc.mean()), float(acc.std()), tuple(accs), tuple(ts), tuple(names.tolist()))


def pair_verification_rates(
    scores,
    same,
    groups_first,
    groups_second,
    *,
    threshold: float | None = None,
    target_fmr: float | None = None,
    reference_group: str | None = None,
) -> VerificationReport:
    """Per-group FMR / FNMR of a given list of pairs, at one threshold shared by all groups.

    The threshold is ``threshold`` if given, else the one giving ``target_fmr``
    over all different-person pairs (as in :func:`verification_rates`), else
    the threshold of best accuracy over all pairs.  A pair counts for group g
    when both its images are in g (cross-group pairs count only for the
    threshold).  Same columns and ``attrs`` as :func:`verification_rates`
    (``attrs["threshold_rule"]`` says which rule set the threshold).
    """
    s, y = _pair_inputs(scores, same)
    ga, gb = as_labels(groups_first), as_labels(groups_second)
    if ga.shape != s.shape or gb.shape != s.shape:
        raise ValueError("scores, same and both group arrays must have the same length")
    check_labels(ga, "groups_first")
    check_labels(gb, "groups_second")
    ga, gb = ga.astype(str), gb.astype(str)
    if not y.any() or y.all():
        raise ValueError("per-group rates need at least one same-person and one different-person pair")
    if threshold is not None and target_fmr is not None:
        raise ValueError("give threshold or target_fmr, not both")
    if threshold is not None:
        t, rule = float(threshold), "given"
    elif target_fmr is not None:
        if not 0 < target_fmr < 1:
            raise ValueError(f"target_fmr must be in (0, 1), got {target_fmr}")
        t, rule = _threshold_at_fmr(s[~y], target_fmr), f"FMR {target_fmr:g}"
    else:
        t, rule = _best_threshold(s, y)[0], "best accuracy"
    pair_group = np.where(ga == gb, ga, None)
    names = sorted(set(ga[y]) | set(gb[y]) | {g for g in pair_group[~y] if g is not None})
    if not names:
        raise ValueError("no pair has both images in one group")
    table = _rate_table(s[y], pair_group[y], s[~y], pair_group[~y], names, t, reference_group)
    table.attrs.update(
        threshold=t,
        threshold_rule=rule,
        achieved_fmr=float(np.mean(s[~y] >= t)),
        achieved_fnmr=float(np.mean(s[y] < t)),
    )
    return table
