"""Evaluation-set protocols: the FR-NAS balanced evaluation split and identity-disjoint splits.

Fairness metrics compare groups, so the evaluation set must not let one group
win simply by having more (or better-sampled) identities.  The FR-NAS protocol
therefore keeps the same number of identities in each group, each with enough
images to form genuine pairs, and optionally caps the images per group.

Everything is seeded (``numpy.random.Generator``) and independent of the input
row order: identities and images are sorted before any random choice.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from fairvision.data._faceset import FaceSet
from fairvision.errors import DatasetError, show_value

__all__ = ["frnas_eval_split", "split_identities"]


def _sorted(values) -> list:
    values = list(values)
    try:
        return sorted(values)
    except TypeError:  # mixed types: still deterministic
        return sorted(values, key=repr)


def _positive_int(value, what: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, not {show_value(value)}")


def _identity_values(faces: FaceSet, column: str, what: str) -> pd.DataFrame:
    """Per-identity table with ``n_images`` and ``column``, checking that ``column`` is constant and present."""
    if column not in faces.frame.columns:
        raise DatasetError(f"face set {faces.name!r} has no {what} column {column!r} (columns: {list(faces.frame.columns)})")
    table = faces.identity_table([column])
    missing = table[column].isna()
    if missing.any():
        raise DatasetError(f"face set {faces.name!r}: identity {show_value(missing.index[missing][0])} has no value in column {column!r}")
    return table


def _water_fill(counts: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Per-identity image targets summing to ``cap``: images are removed one at a time from the currently
    largest identities (round-robin), i.e. targets are ``min(count, L)`` plus one for some of those above
    ``L``; which of the tied identities keep the extra image is drawn with ``rng``."""
    lo, hi = 0, int(counts.max())
    while lo < hi:  # largest level L with sum(min(counts, L)) <= cap
        mid = (lo + hi + 1) // 2
        if np.minimum(counts, mid).sum() <= cap:
            lo = mid
        else:
            hi = mid - 1
    targets = np.minimum(counts, lo)
    remainder = cap - int(targets.sum())
    if remainder:
        above = np.flatnonzero(counts > lo)
        targets[rng.choice(above, size=remainder, replace=False)] += 1
    return targets


def frnas_eval_split(
    faces: FaceSet,
    *,
    group_column: str,
    min_images: int = 3,
    identities_per_group: int | None = None,
    max_images_per_group: int | None = None,
    seed: int = 222,
) -> FaceSet:
    """Balanced evaluation set following the FR-NAS protocol.

    1. drop identities with fewer than ``min_images`` images;
    2. keep the same number of identities in every group of ``group_column``:
       the smallest group's count, or ``identities_per_group`` (DatasetError
       naming the group if one has fewer), drawn at random;
    3. if ``max_images_per_group`` is set, remove images round-robin from the
       largest identities of each group until it fits, never leaving an
       identity with fewer than ``min_images`` (DatasetError if the cap is
       below ``min_images`` x identities per group).

    Deterministic for a ``seed``; rows are sorted by group, identity, path.
    """
    _positive_int(min_images, "min_images")
    _positive_int(identities_per_group, "identities_per_group", allow_none=True)
    _positive_int(max_images_per_group, "max_images_per_group", allow_none=True)
    table = _identity_values(faces, group_column, "group")
    rng = np.random.default_rng(seed)
    groups = _sorted(pd.unique(table[group_column]))
    eligible = table[table["n_images"] >= min_images]
    members = {g: _sorted(eligible.index[eligible[group_column] == g]) for g in groups}
    if identities_per_group is None:
        n_ids = min(len(m) for m in members.values())
        if n_ids == 0:
            empty = next(g for g in groups if not members[g])
            raise DatasetError(
                f"face set {faces.name!r}: group {show_value(empty)} of column {group_column!r} has no identity "
                f"with at least {min_images} images"
            )
    else:
        n_ids = identities_per_group
        for g in groups:
            if len(members[g]) < n_ids:
                raise DatasetError(
                    f"face set {faces.name!r}: group {show_value(g)} of column {group_column!r} has only {len(members[g])} "
                    f"identities with at least {min_images} images, but {n_ids} per group were requested"
                )
    if max_images_per_group is not None and max_images_per_group < min_images * n_ids:
        raise DatasetError(
            f"max_images_per_group={max_images_per_group} is below min_images x identities per group "
            f"= {min_images} x {n_ids} = {min_images * n_ids}"
        )

    rows_of = faces.frame.groupby("identity", sort=False).indices
    paths = faces.frame["path"].to_numpy()
    keep: list[np.ndarray] = []
    for g in groups:
        pool = members[g]
        chosen = [pool[k] for k in np.sort(rng.choice(len(pool), size=n_ids, replace=False))]
        # rows of each identity in path order, so the outcome does not depend on the input order
        rows = [rows_of[i][np.argsort(paths[rows_of[i]], kind="stable")] for i in chosen]
        counts = np.array([len(r) for r in rows])
        if max_images_per_group is not None and counts.sum() > max_images_per_group:
            targets = _water_fill(counts, max_images_per_group, rng)
            rows = [r if t == len(r) else np.sort(rng.choice(r, size=t, replace=False)) for r, t in zip(rows, targets)]
        keep.extend(rows)
    frame = faces.frame.iloc[np.concatenate(keep)] if keep else faces.frame.iloc[[]]
    frame = frame.sort_values([group_column, "identity", "path"], kind="stable").reset_index(drop=True)
    return FaceSet(frame, name=f"{faces.name}-eval", skipped=faces.skipped)


def _allocate(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` items into counts proportional to ``fractions`` (largest-remainder rounding)."""
    raw = fractions * n
    counts = np.floor(raw + 1e-9).astype(int)
    short = n - int(counts.sum())
    if short > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    elif short < 0:  # only possible through the epsilon above
        order = np.argsort(raw - counts, kind="stable")
        for k in order[: -short]:
            counts[k] -= 1
    return counts


def split_identities(
    faces: FaceSet,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    names: Sequence[str] = ("train", "val", "test"),
    stratify: str | None = None,
    seed: int = 0,
) -> dict[str, FaceSet]:
    """Identity-disjoint splits: every identity (with all its images) goes to exactly one split.

    Identity counts follow ``fractions`` (largest-remainder rounding); with
    ``stratify`` (a column constant per identity, e.g. a demographic) the
    fractions are applied within each of its values, so every split keeps the
    group proportions.  Deterministic for a ``seed``; rows keep their input order.
    """
    fracs = np.asarray(list(fractions), dtype=float)
    names = list(names)
    if len(fracs) != len(names) or not names:
        raise ValueError(f"need one fraction per split name: {len(fracs)} fractions, {len(names)} names")
    if len(set(names)) != len(names):
        raise ValueError(f"split names must be distinct, not {names}")
    if (fracs < 0).any() or not np.isfinite(fracs).all() or not math.isclose(fracs.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be non-negative and sum to 1, not {list(fractions)}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        strata: list[list[Hashable]] = [_sorted(faces.identities)]
    else:
        table = _identity_values(faces, stratify, "stratify")
        strata = [_sorted(table.index[table[stratify] == v]) for v in _sorted(pd.unique(table[stratify]))]
    split_of: dict[Hashable, str] = {}
    for ids in strata:
        order = rng.permutation(len(ids))
        counts = _allocate(len(ids), fracs)
        start = 0
        for split, count in zip(names, counts):
            for k in order[start : start + count]:
                split_of[ids[k]] = split
            start += count
    assigned = faces.frame["identity"].map(split_of)
    return {split: faces.subset((assigned == split).to_numpy(), name=f"{faces.name}-{split}") for split in names}
