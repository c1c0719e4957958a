"""Reading per-sample rank files (FR-NAS layout) and joining them with group metadata.

FR-NAS stores ranks as CSV with a key column and one column per evaluated
epoch: ``ids, epoch_19, epoch_39, ...``; metadata files map the same key to
an identity and a group, e.g. ``ids, label, gender_expression``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fairvision.errors import DatasetError

__all__ = ["read_csv_checked", "join_ranks"]


def read_csv_checked(path: str | Path, *, what: str) -> pd.DataFrame:
    """Read a CSV, turning missing/empty/malformed files into DatasetError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found")
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        frame = pd.read_csv(path, sep="\t" if "\t" in first else ",")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot parse {what} file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _require(frame: pd.DataFrame, columns: list[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: {what} file has no column(s) {missing}; columns are {list(frame.columns)}")


def join_ranks(
    ranks_path: str | Path,
    groups_path: str | Path,
    *,
    on: str,
    group_column: str,
    rank_columns: list[str] | None = None,
    identity_column: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Join a rank file with a metadata file on ``on``.

    Returns the joined frame (columns: key, rank columns, ``group`` and
    ``identity`` if known) and the list of rank columns.  Every key must
    appear exactly once in each file; keys that do not join are an error
    naming some of them; rank values must be integers >= -1.
    """
    ranks_path, groups_path = Path(ranks_path), Path(groups_path)
    ranks = read_csv_checked(ranks_path, what="ranks")
    meta = read_csv_checked(groups_path, what="groups")
    _require(ranks, [on], ranks_path, "ranks")
    if rank_columns is None:
        rank_columns = [c for c in ranks.columns if c != on]
        if not rank_columns:
            raise DatasetError(f"{ranks_path}: ranks file has no rank column besides {on!r}")
    _require(ranks, rank_columns, ranks_path, "ranks")
    needed = [on, group_column] + ([identity_column] if identity_column else [])
    _require(meta, needed, groups_path, "groups")
    for frame, path in ((ranks, ranks_path), (meta, groups_path)):
        dup = frame[on][frame[on].duplicated()]
        if len(dup):
            line = int(dup.index[0]) + 2
            raise DatasetError(f"{path}, line {line}: key {dup.iloc[0]!r} appears more than once")
    for col in rank_columns:
        values = pd.to_numeric(ranks[col], errors="coerce")
        bad = values.isna() | (values < -1) | (values != np.floor(values))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetError(
                f"{ranks_path}, line {i + 2}: column {col!r} has {ranks[col].iloc[i]!r}; "
                "ranks must be integers >= 0, or -1"
            )
        ranks[col] = values.astype(np.int64)
    missing_meta = ~ranks[on].isin(meta[on])
    if missing_meta.any():
        examples = ranks[on][missing_meta].head(5).tolist()
        raise DatasetError(
            f"{int(missing_meta.sum())} key(s) of {ranks_path} have no row in {groups_path} "
            f"(column {on!r}), e.g. {examples}"
        )
    missing_ranks = ~meta[on].isin(ranks[on])
    if missing_ranks.any():
        examples = meta[on][missing_ranks].head(5).tolist()
        raise DatasetError(
            f"{int(missing_ranks.sum())} key(s) of {groups_path} have no rank in {ranks_path} "
            f"(column {on!r}), e.g. {examples}"
        )
    keep = {group_column: "group"}
    if identity_column:
        keep[identity_column] = "identity"
    joined = ranks[[on] + rank_columns].merge(
        meta[[on] + list(keep)].rename(columns=keep), on=on, how="inner", validate="one_to_one"
    )
    if joined["group"].isna().any():
        key = joined[on][joined["group"].isna()].iloc[0]
        raise DatasetError(f"{groups_path}: key {key!r} has no value in column {group_column!r}")
    return joined, rank_columns
