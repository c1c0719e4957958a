"""Verification pair lists of the 1:1 benchmarks (LFW ``pairs.txt``, CALFW / CPLFW ``pairs_*.txt``).

:func:`read_pairs` returns one row per pair: the two image paths (relative to
the benchmark's image folder), their identities, whether they show the same
person, the fold of the 10-fold protocol and the line of the file it came from.

Formats (``format=``):

``lfw``
    ``pairs.txt`` (and ``pairsDevTest.txt``): a header ``<sets> <pairs per set>``
    (e.g. ``10 300``; a lone ``<pairs>`` means one set), then per set
    ``<pairs per set>`` same-person lines ``name n1 n2`` followed by as many
    different-person lines ``name1 n1 name2 n2``.  Images are
    ``name/name_<n:04d>.jpg``; set k is fold k.
``calfw`` / ``cplfw``
    ``pairs_CALFW.txt`` / ``pairs_CPLFW.txt``: two lines per pair, ``<file> <token>``
    each, the token repeated on both lines: 1..10 for a same-person pair (its
    fold), 0 for a different-person pair.  Images are ``<file>`` (e.g.
    ``Aaron_Peirsol_0001.jpg``, in ``aligned images/``); the identity is the file
    name without ``_<nnnn>.<ext>``.  The file does not record the fold of a
    different-person pair: they are split, in file order, into 10 contiguous
    blocks of equal size (block k = fold k), a convention of this package.

CFP-FP / CFP-FF (``Protocol/Pair_list_{F,P}.txt`` + ``Split/<FP|FF>/<01..10>/{same,diff}.txt``)
are not supported: their layout could not be checked against the released files.

A malformed file is a one-line DatasetError naming the file and line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from fairvision.errors import DatasetError

__all__ = ["PAIR_FORMATS", "read_pairs"]

PAIR_FORMATS = ("lfw", "calfw", "cplfw")

_COLUMNS = ("first", "second", "identity_first", "identity_second", "same", "fold", "line")
_PERSON = re.compile(r"(?P<person>.+)_\d+\.[A-Za-z]+")


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of the non-blank lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _whole(value: str, path: Path, line: int, what: str) -> int:
    if not value.isdigit():
        raise DatasetError(f"{path}, line {line}: {what} must be a whole number, not {value!r}")
    return int(value)


def _lfw_image(name: str, number: str, path: Path, line: int) -> str:
    n = _whole(number, path, line, "the image number")
    if n < 1:
        raise DatasetError(f"{path}, line {line}: image numbers start at 1, not {n}")
    return f"{name}/{name}_{n:04d}.jpg"


def _read_lfw(path: Path, lines: list[tuple[int, list[str]]]) -> pd.DataFrame:
    if not lines:
        raise DatasetError(f"{path}: file is empty")
    head_line, head = lines[0]
    if len(head) not in (1, 2):
        raise DatasetError(f"{path}, line {head_line}: the header must be '<sets> <pairs per set>' (e.g. '10 300')")
    counts = [_whole(v, path, head_line, "the header") for v in head]
    sets, per = (1, counts[0]) if len(counts) == 1 else counts
    if sets < 1 or per < 1:
        raise DatasetError(f"{path}, line {head_line}: the header counts must be >= 1, got {' '.join(head)}")
    body = lines[1:]
    expected = 2 * sets * per
    if len(body) != expected:
        where = body[-1][0] if body else head_line
        raise DatasetError(
            f"{path}, line {where}: the header promises {sets} set(s) of {per} same and {per} different pairs "
            f"= {expected} pair lines, the file has {len(body)}"
        )
    rows = []
    for k, (line, fields) in enumerate(body):
        fold, pos = divmod(k, 2 * per)
        same = pos < per
        if same:
            if len(fields) != 3:
                raise DatasetError(
                    f"{path}, line {line}: pair {pos + 1} of set {fold + 1} should be a same-person line "
                    f"'name n1 n2', got {len(fields)} field(s)"
                )
            a, b = _lfw_image(fields[0], fields[1], path, line), _lfw_image(fields[0], fields[2], path, line)
            ida = idb = fields[0]
        else:
            if len(fields) != 4:
                raise DatasetError(
                    f"{path}, line {line}: pair {pos + 1} of set {fold + 1} should be a different-person line "
                    f"'name1 n1 name2 n2', got {len(fields)} field(s)"
                )
            a, b = _lfw_image(fields[0], fields[1], path, line), _lfw_image(fields[2], fields[3], path, line)
            ida, idb = fields[0], fields[2]
            if ida == idb:
                raise DatasetError(f"{path}, line {line}: a different-person pair names {ida!r} twice")
        rows.append((a, b, ida, idb, same, fold, line))
    return _frame(rows, path, "lfw")


def _person(file: str, path: Path, line: int) -> str:
    match = _PERSON.fullmatch(os.path.basename(file))
    if match is None:
        raise DatasetError(f"{path}, line {line}: image {file!r} is not named <person>_<number>.<ext>")
    return match["person"]


def _read_calfw(path: Path, lines: list[tuple[int, list[str]]], fmt: str) -> pd.DataFrame:
    if not lines:
        raise DatasetError(f"{path}: file is empty")
    if len(lines) % 2:
        raise DatasetError(f"{path}, line {lines[-1][0]}: two lines per pair, but the file has an odd number of lines")
    rows = []
    for k in range(0, len(lines), 2):
        (la, fa), (lb, fb) = lines[k], lines[k + 1]
        for line, fields in ((la, fa), (lb, fb)):
            if len(fields) != 2:
                raise DatasetError(f"{path}, line {line}: expected '<image> <token>', got {len(fields)} field(s)")
        ta = _whole(fa[1], path, la, "the pair token")
        tb = _whole(fb[1], path, lb, "the pair token")
        if ta != tb:
            raise DatasetError(f"{path}, line {lb}: the pair's two lines carry different tokens ({ta} on line {la}, {tb})")
        if ta > 10:
            raise DatasetError(f"{path}, line {la}: the token must be 0 (different) or a fold 1..10, not {ta}")
        rows.append((fa[0], fb[0], _person(fa[0], path, la), _person(fb[0], path, lb), ta != 0, ta - 1, la))
    frame = _frame(rows, path, fmt)
    different = np.flatnonzero(~frame["same"].to_numpy())
    if len(different):
        frame.loc[different, "fold"] = np.arange(len(different)) * 10 // len(different)
    return frame


def _frame(rows: list[tuple], path: Path, fmt: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    frame["same"] = frame["same"].astype(bool)
    frame["fold"] = frame["fold"].astype(np.int64)
    frame["line"] = frame["line"].astype(np.int64)
    frame.attrs.update(source=str(path), format=fmt)
    return frame


def _guess(path: Path, lines: list[tuple[int, list[str]]]) -> str:
    name = path.name.lower()
    if "calfw" in name:
        return "calfw"
    if "cplfw" in name:
        return "cplfw"
    if lines and len(lines[0][1]) in (1, 2) and all(v.isdigit() for v in lines[0][1]):
        return "lfw"
    if lines and len(lines[0][1]) == 2 and lines[0][1][1].isdigit():
        return "calfw"
    line = lines[0][0] if lines else 1
    raise DatasetError(f"{path}, line {line}: cannot tell the pair-file format; pass format= one of {', '.join(PAIR_FORMATS)}")


def read_pairs(path: str | os.PathLike, *, format: str = "auto") -> pd.DataFrame:
    """Pairs of a verification benchmark's pair file (see the module docstring for the formats).

    Returns a DataFrame with columns ``first``, ``second`` (image paths relative to
    the image folder), ``identity_first``, ``identity_second``, ``same`` (bool),
    ``fold`` (0-based) and ``line`` (1-based, the pair's first line); ``attrs``
    holds ``source`` and ``format``.  ``format="auto"`` guesses from the file name
    (``calfw``/``cplfw``) and else the header (``lfw``).
    """
    path = Path(path).expanduser()
    if format != "auto" and format not in PAIR_FORMATS:
        raise ValueError(f"format must be 'auto' or one of {', '.join(PAIR_FORMATS)}, not {format!r}")
    if not path.is_file():
        raise DatasetError(f"{path}: pair file not found")
    lines = _lines(path)
    fmt = _guess(path, lines) if format == "auto" else format
    if fmt == "lfw":
        return _read_lfw(path, lines)
    return _read_calfw(path, lines, fmt)
