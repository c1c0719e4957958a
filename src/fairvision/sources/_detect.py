"""What kind of source a path is: a training run folder, a trial store or a pruning study folder."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from fairvision.errors import ConfigError

__all__ = ["KINDS", "Source", "detect_source", "detect_sources"]

#: Kinds of source, in the order the report shows them.
KINDS = ("store", "run", "prune-study")
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Source:
    """A detected source: ``path`` (as given), ``kind`` (one of :data:`KINDS`), ``studies`` (a store's study
    names, in creation order)."""

    path: str
    kind: str
    studies: tuple[str, ...] = field(default=())


def _store_studies(path: Path) -> tuple[str, ...] | None:
    """Study names of a SQLite trial store (read-only), or None when ``path`` is not one."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                return None
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"studies", "trials"} <= tables:
                return None
            return tuple(row[0] for row in con.execute("SELECT name FROM studies ORDER BY id"))
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return None


def _is_run(folder: Path) -> bool:
    return (folder / "config.yaml").is_file() and any(
        (folder / name).is_file() for name in ("history.jsonl", "metrics.json", "checkpoint.pt"))


def _is_prune_study(folder: Path) -> bool:
    return (folder / "summary.csv").is_file() or (folder / "summary_by_level.csv").is_file() or (
        (folder / "study.db").is_file() and (folder / "runs").is_dir())


def detect_source(path: str | Path) -> Source:
    """The kind of ``path``; ConfigError (one line naming it) when it is none of them."""
    text = str(path)
    if "://" in text:  # a SQLAlchemy URL of a store
        return Source(text, "store")
    p = Path(text)
    if not p.exists():
        raise ConfigError(f"{text}: no such file or folder")
    if p.is_dir():
        if _is_prune_study(p):
            return Source(text, "prune-study")
        if _is_run(p):
            return Source(text, "run")
        raise ConfigError(f"{text}: not a training run folder (config.yaml with history.jsonl or metrics.json) nor a "
                          "pruning study folder (summary.csv, or study.db and runs/)")
    studies = _store_studies(p)
    if studies is None:
        raise ConfigError(f"{text}: not a trial store (a SQLite file with studies and trials), a training run folder "
                          "or a pruning study folder")
    if not studies:
        raise ConfigError(f"{text}: the trial store has no study yet")
    return Source(text, "store", studies)


def detect_sources(paths: Sequence[str | Path]) -> list[Source]:
    """:func:`detect_source` of every path (the first bad one raises); at least one path, no duplicates."""
    if not paths:
        raise ConfigError("report: give at least one source (a run folder, trial store or pruning study folder)")
    seen: dict[str, str] = {}
    out = []
    for path in paths:
        key = str(path) if "://" in str(path) else str(Path(path).resolve())
        if key in seen:
            raise ConfigError(f"{path}: given twice (also as {seen[key]})")
        seen[key] = str(path)
        out.append(detect_source(path))
    return out
