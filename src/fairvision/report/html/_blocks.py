"""The pieces an HTML report is made of: sections holding headings, notes, tables, figures, image
galleries and collapsible ``<details>`` blocks.  Plain data: the templates
(``fairvision/report/templates/report*.j2``) turn them into HTML."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairvision.report._html_base import data_uri, thumbnail_png

#: A formatted number, alone or followed by its interval (``0.1 [0.05, 0.2]``) or spread (``0.1 ± 0.02``).
_NUMBER = re.compile(r"^[-+]?(\d[\d.]*|\.\d+)(e[-+]?\d+)?( \[.*\]| ± .*)?$")

__all__ = ["Block", "Details", "Figure", "FigureFolder", "Gallery", "GalleryItem", "Heading", "Note", "Section",
           "Table", "data_uri", "format_value", "table", "thumbnail_uri"]


def thumbnail_uri(path: str | Path, *, size: int = 96) -> str | None:
    """A PNG data URI of the image file ``path`` shrunk to fit ``size`` x ``size``; None when the file is missing
    or not an image."""
    try:
        return data_uri(thumbnail_png(path, max_side=size))
    except (OSError, ValueError):  # PIL's UnidentifiedImageError is an OSError
        return None


def format_value(value: Any, *, digits: int = 4) -> str:
    """A table cell: ``digits`` significant digits for floats, ``–`` for missing values, JSON for mappings."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        return f"{float(value) + 0.0:.{digits}g}"  # + 0.0: -0.0 shows as 0
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, default=str, separators=(", ", ": "))
    try:
        if pd.isna(value):
            return "–"
    except (TypeError, ValueError):
        pass
    return str(value)


@dataclass
class Heading:
    """A sub-heading inside a section."""

    text: str
    kind: str = field(default="heading", init=False)


@dataclass
class Note:
    """A short paragraph; ``missing=True`` marks what a section could not show and why."""

    text: str
    missing: bool = False
    kind: str = field(default="note", init=False)


@dataclass
class Table:
    """A table of pre-formatted cells (``rows`` of strings, one per column)."""

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: list[bool] = field(default_factory=list)  # right-aligned columns
    kind: str = field(default="table", init=False)


@dataclass
class Figure:
    """A PNG figure shown inline (``src``: a data URI); ``file``: the copy written beside the report."""

    src: str
    alt: str
    caption: str = ""
    file: str = ""
    kind: str = field(default="figure", init=False)


@dataclass
class GalleryItem:
    """One thumbnail (``src`` None: the image could not be read) with caption lines."""

    src: str | None
    alt: str
    lines: list[str]


@dataclass
class Gallery:
    """A grid of thumbnails."""

    items: list[GalleryItem]
    caption: str = ""
    kind: str = field(default="gallery", init=False)


@dataclass
class Details:
    """A collapsible block of verbatim text (a command, a config file)."""

    summary: str
    text: str
    kind: str = field(default="details", init=False)


Block = Heading | Note | Table | Figure | Gallery | Details


@dataclass
class Section:
    """One top-level section of the report (``id``: its anchor)."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    subtitle: str = ""


def table(frame: pd.DataFrame, *, caption: str = "", index: bool = False, digits: int = 4,
          max_rows: int | None = None) -> Table:
    """A :class:`Table` of ``frame`` (its index as the first column with ``index=True``); at most ``max_rows``
    rows, the caption then says how many were left out."""
    if index:
        frame = frame.reset_index()
    shown = frame if max_rows is None else frame.head(max_rows)
    if max_rows is not None and len(frame) > max_rows:
        caption = f"{caption} (first {max_rows} of {len(frame)} rows)".strip()
    rows = [[format_value(v, digits=digits) for v in row] for row in shown.itertuples(index=False, name=None)]
    numeric = [bool(rows) and all(_NUMBER.match(r[i]) or r[i] == "–" for r in rows)
               for i in range(len(frame.columns))]
    return Table([str(c) for c in frame.columns], rows, caption, numeric)


class FigureFolder:
    """Where a report's figures go (``report_files/`` beside ``report.html``), with unique file names."""

    def __init__(self, folder: str | Path, *, link_prefix: str) -> None:
        self.folder = Path(folder)
        self.link_prefix = link_prefix
        self._used: set[str] = set()

    def path(self, name: str) -> Path:
        """A new, unused ``folder/<name>.png`` (a number appended when taken)."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "figure"
        candidate, i = stem, 1
        while candidate in self._used:
            i += 1
            candidate = f"{stem}-{i}"
        self._used.add(candidate)
        return self.folder / f"{candidate}.png"

    def figure(self, path: Path, *, alt: str, caption: str = "") -> Figure:
        """The written PNG ``path`` as an inline :class:`Figure`."""
        return Figure(data_uri(path), alt, caption, f"{self.link_prefix}/{path.name}")


def slug(text: str, used: set[str]) -> str:
    """An HTML id from ``text``, unique among ``used`` (which it joins)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    candidate, i = base, 1
    while candidate in used:
        i += 1
        candidate = f"{base}-{i}"
    used.add(candidate)
    return candidate


def interval_cells(frame: pd.DataFrame, columns: Sequence[str], *, digits: int = 4) -> pd.DataFrame:
    """``frame`` with each column ``c`` of ``columns`` that has ``c_lower``/``c_upper`` (or ``c_std``)
    companions written as ``value [lower, upper]`` (or ``mean ± std``), the companions dropped."""
    out = frame.copy()
    for c in columns:
        lo, hi, sd = f"{c}_lower", f"{c}_upper", f"{c}_std"
        if lo in out.columns and hi in out.columns:
            out[c] = [f"{format_value(v, digits=digits)} [{format_value(a, digits=digits)}, "
                      f"{format_value(b, digits=digits)}]" if not _missing(a) else format_value(v, digits=digits)
                      for v, a, b in zip(out[c], out[lo], out[hi])]
            out = out.drop(columns=[lo, hi])
        elif sd in out.columns:
            out[c] = [f"{format_value(v, digits=digits)} ± {format_value(s, digits=digits)}" if not _missing(s)
                      else format_value(v, digits=digits) for v, s in zip(out[c], out[sd])]
            out = out.drop(columns=[sd])
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))
