"""Reading per-sample rank files (FR-NAS layout) and joining them with group metadata.

FR-NAS stores ranks as CSV with a key column and one column per evaluated
epoch: ``ids, epoch_19, epoch_39, ...``; metadata files map the same key to
an identity and a group, e.g. ``ids, label, gender_expression``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from fairvision.errors import DatasetError, show_value
from fairvision.metrics._checks import RANK_RULE, bad_rank_positions, missing_labels

__all__ = ["read_csv_checked", "join_ranks", "csv_line", "check_label_column"]


def read_csv_checked(path: str | Path, *, what: str, blank_only_missing: bool = False) -> pd.DataFrame:
    """Read a CSV, turning missing/empty/malformed files into DatasetError naming the file.

    With ``blank_only_missing`` only empty cells are missing values: ``NA``,
    ``None``, ``null`` ... are kept as text (a group or identity may be called
    ``NA``) instead of pandas' default of reading them as NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found")
    na = {"keep_default_na": False, "na_values": [""]} if blank_only_missing else {}
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        frame = pd.read_csv(path, sep="\t" if "\t" in first else ",", **na)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot parse {what} file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def csv_line(path: str | Path, row: int, n_rows: int) -> int:
    """1-based line of data row ``row`` (0-based) of a CSV read by :func:`read_csv_checked`; the header is line 1.

    pandas skips blank lines, so lines are counted in the file (only called
    when an error is reported); if the file has quoted line breaks the count
    does not match and the line is estimated as ``row + 2``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return row + 2
    lines = [i + 1 for i, line in enumerate(re.split(r"\r\n|\r|\n", text)) if line.strip()]
    return lines[row + 1] if len(lines) == n_rows + 1 else row + 2


def check_label_column(frame: pd.DataFrame, column: str, path: str | Path, *, what: str) -> None:
    """DatasetError naming the file and line of the first missing (blank, NaN) value of ``column``."""
    missing = missing_labels(frame[column].to_numpy())
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raw = frame[column].iloc[i]
        value = "blank" if isinstance(raw, str) or pd.isna(raw) else show_value(raw)
        raise DatasetError(
            f"{path}, line {csv_line(path, i, len(frame))}: {what} column {column!r} is {value}; "
            f"every row needs a value ({int(missing.sum())} row(s) without one)"
        )


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
    naming some of them; rank values must be integers >= -1 (below 2**53; no
    blank, NaN, inf or fractional values); keys, groups and identities must not
    be blank.  Errors name the file and its 1-based line (the header is line 1).
    Only empty cells are missing: ``NA`` is a group or identity like any other.
    """
    ranks_path, groups_path = Path(ranks_path), Path(groups_path)
    ranks = read_csv_checked(ranks_path, what="ranks", blank_only_missing=True)
    meta = read_csv_checked(groups_path, what="groups", blank_only_missing=True)
    _require(ranks, [on], ranks_path, "ranks")
    if rank_columns is None:
        rank_columns = [c for c in ranks.columns if c != on]
        if not rank_columns:
            raise DatasetError(f"{ranks_path}: ranks file has no rank column besides {on!r}")
    _require(ranks, rank_columns, ranks_path, "ranks")
    needed = [on, group_column] + ([identity_column] if identity_column else [])
    _require(meta, needed, groups_path, "groups")
    for frame, path, what in ((ranks, ranks_path, "ranks"), (meta, groups_path, "groups")):
        check_label_column(frame, on, path, what="key")
        dup = frame[on][frame[on].duplicated()]
        if len(dup):
            line = csv_line(path, int(dup.index[0]), len(frame))
            raise DatasetError(f"{path}, line {line}: key {show_value(dup.iloc[0])} appears more than once")
    check_label_column(meta, group_column, groups_path, what="group")
    if identity_column:
        check_label_column(meta, identity_column, groups_path, what="identity")
    for col in rank_columns:
        values = pd.to_numeric(ranks[col], errors="coerce")
        bad = values.isna().to_numpy() | bad_rank_positions(values.to_numpy())
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raw = ranks[col].iloc[i]
            shown = "blank" if pd.isna(raw) or (isinstance(raw, str) and not raw.strip()) else show_value(raw)
            raise DatasetError(
                f"{ranks_path}, line {csv_line(ranks_path, i, len(ranks))}: column {col!r} is {shown}; {RANK_RULE}"
            )
        ranks[col] = values.astype(np.int64)
    missing_meta = ~ranks[on].isin(meta[on])
    if missing_meta.any():
        examples = [show_value(k) for k in ranks[on][missing_meta].head(5)]
        raise DatasetError(
            f"{int(missing_meta.sum())} key(s) of {ranks_path} have no row in {groups_path} "
            f"(column {on!r}), e.g. [{', '.join(examples)}]"
        )
    missing_ranks = ~meta[on].isin(ranks[on])
    if missing_ranks.any():
        examples = [show_value(k) for k in meta[on][missing_ranks].head(5)]
        raise DatasetError(
            f"{int(missing_ranks.sum())} key(s) of {groups_path} have no rank in {ranks_path} "
            f"(column {on!r}), e.g. [{', '.join(examples)}]"
        )
    keep = {group_column: "group"}
    if identity_column:
        keep[identity_column] = "identity"
    joined = ranks[[on] + rank_columns].merge(
        meta[[on] + list(keep)].rename(columns=keep), on=on, how="inner", validate="one_to_one"
    )
    return joined, rank_columns
