"""Reading and writing per-image logit files in the format of Iofinova et al.'s released runs.

The format is what ``np.savetxt`` writes and ``np.loadtxt`` reads: one line per
image, one whitespace-separated number per attribute, no header.  As with
``np.loadtxt``, blank lines and text after ``#`` are ignored.  Every problem is
a :class:`~fairvision.errors.DatasetError` naming the file and the 1-based line
(and column, for a bad cell), because a shifted or truncated row would silently
misalign logits and labels.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fairvision._io import atomic_write
from fairvision.errors import DatasetError

__all__ = ["read_logits", "write_logits"]


def _text(path: Path) -> str:
    if not path.is_file():
        raise DatasetError(f"{path}: logits file not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a text file ({exc.reason})") from None


def _data_lines(text: str):
    """(1-based line number, fields) of every line with data (comments after '#' and blank lines dropped)."""
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if fields:
            yield lineno, fields


def _first_problem(path: Path, text: str, n_cols: int | None) -> DatasetError | None:
    """The error of the first malformed line or cell, scanning the file (only called when the fast parse failed)."""
    expected = n_cols
    for lineno, fields in _data_lines(text):
        if expected is None:
            expected = len(fields)
        if len(fields) != expected:
            what = f"{expected} (one per attribute)" if n_cols is not None else f"{expected}, as on the first line"
            return DatasetError(f"{path}, line {lineno}: {len(fields)} value(s), expected {what}")
        for col, field in enumerate(fields, 1):
            try:
                value = float(field)
            except ValueError:
                return DatasetError(f"{path}, line {lineno}, column {col}: {field!r} is not a number")
            if not np.isfinite(value):
                return DatasetError(f"{path}, line {lineno}, column {col}: {field!r} is not finite; logits must be")
    return None


def read_logits(path: str | os.PathLike, *, n_rows: int | None = None, n_cols: int | None = None) -> np.ndarray:
    """Logits ``(N, A)`` as float64 from a whitespace-separated text file (``np.savetxt`` format).

    ``n_rows`` / ``n_cols``, if given, are the expected numbers of images and
    attributes.  Rows of different lengths, non-numeric or non-finite cells,
    an empty file or a wrong count raise DatasetError naming file and line.
    Parsed with pandas' C reader; the file is scanned line by line only to
    locate an error.
    """
    path = Path(path)
    text = _text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, comment="#", dtype=np.float64,
                            engine="c", na_filter=False)
        values = frame.to_numpy(dtype=np.float64)
        ok = values.ndim == 2 and np.isfinite(values).all()
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: logits file is empty (expected one line of numbers per image)") from None
    except (pd.errors.ParserError, ValueError, TypeError):
        values, ok = None, False
    # pandas pads short rows with NaN (caught by isfinite) but never reports a row that is too long
    # against n_cols, so the width is checked here too; the scan names the first bad line
    if not ok or (n_cols is not None and values.shape[1] != n_cols):
        problem = _first_problem(path, text, n_cols)
        if problem is not None:
            raise problem
        if values is None:
            raise DatasetError(f"{path}: cannot parse the logits file as whitespace-separated numbers")
    if values.shape[0] == 0:
        raise DatasetError(f"{path}: logits file has no rows")
    if n_rows is not None and values.shape[0] != n_rows:
        raise DatasetError(f"{path}: {values.shape[0]} rows of logits, expected {n_rows} (one per image)")
    return values


def write_logits(path: str | os.PathLike, logits) -> Path:
    """Write logits ``(N, A)`` with ``np.savetxt`` (``%.18e``, exact round trip), atomically; returns the path."""
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"logits must be (N, A), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"logits[{i}, {j}] is {arr[i, j]}: logits must be finite")
    return atomic_write(path, lambda tmp: np.savetxt(tmp, arr))
