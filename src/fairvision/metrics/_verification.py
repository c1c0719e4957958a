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

import numpy as np
import pandas as pd

from fairvision.errors import show_value
from fairvision.metrics._checks import as_labels, check_labels, real_array
from fairvision.metrics._fairness import FairnessWarning

__all__ = ["verification_rates", "VerificationReport"]


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
    sorted_imp = np.sort(imp)[::-1]
    # At most k impostors may score >= t; the smallest such t is just above the
    # (k+1)-th highest impostor score (ties included).  k < len(imp) as target_fmr < 1.
    k = int(np.floor(target_fmr * len(imp)))
    threshold = float(np.nextafter(sorted_imp[k], np.float32(np.inf)))
    names = sorted(map(str, np.unique(grp)))
    rows = []
    for g in names:
        gen_g = gen[grp[gi] == g]
        imp_g = imp[(grp[ii] == g) & (grp[ij] == g)]
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
        warnings.warn("some verification rates or ratios are undefined (NaN)", FairnessWarning, stacklevel=2)
        table = table.replace([np.inf, -np.inf], np.nan)
    table.attrs.update(
        threshold=threshold,
        target_fmr=target_fmr,
        achieved_fmr=float(np.mean(imp >= threshold)),
        impostor_pairs_total=int(total_impostors),
        impostors_sampled=bool(sampled),
        reference_group=ref,
    )
    return table
