"""``fairvision report``: detect the sources, load them, write the HTML report."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

from fairvision.errors import ConfigError
from fairvision.sources._detect import detect_sources

__all__ = ["build_report"]


def _command(sources: Sequence[str | Path], out: Path, *, bootstrap: int, seed: int, top_k: int,
             title: str | None) -> str:
    parts = ["fairvision", "report", *map(str, sources), "--out", str(out), "--bootstrap", str(bootstrap),
             "--seed", str(seed), "--top-k", str(top_k)]
    if title is not None:
        parts += ["--title", title]
    return shlex.join(parts)


def build_report(sources: Sequence[str | Path], out: str | Path, *, bootstrap: int = 1000, seed: int = 0,
                 top_k: int = 24, title: str | None = None, summary: Sequence[str] = ()) -> Path:
    """Write one self-contained HTML report of ``sources`` to ``out`` (figures also in ``<stem>_files/``).

    ``sources``: training run folders, trial stores (SQLite files or SQLAlchemy URLs; every study of each) and
    pruning study folders, in any mix; an unknown path is a ConfigError naming it, raised before any work.
    ``bootstrap``: replicates of the per-group intervals of training runs (0 = none, else at least 2);
    ``seed``: their seed; ``top_k``: susceptible samples shown per pruning study; ``summary``: lines shown
    first (what the demo found).
    """
    from fairvision.report._html_base import html_out
    from fairvision.report.html import write_report

    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0 or bootstrap == 1:
        raise ConfigError(f"--bootstrap must be 0 (no intervals) or at least 2, got {bootstrap}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"--top-k must be a whole number >= 1, got {top_k}")
    out = html_out(out)
    detected = detect_sources(sources)
    by_kind = {kind: [s for s in detected if s.kind == kind] for kind in ("store", "run", "prune-study")}
    studies = runs = prune_studies = []
    if by_kind["store"]:
        from fairvision.sources._store import load_stores

        studies = load_stores(by_kind["store"])
    if by_kind["run"]:
        from fairvision.sources._run import load_run

        runs = [load_run(s.path, bootstrap=bootstrap, seed=seed) for s in by_kind["run"]]
    if by_kind["prune-study"]:
        from fairvision.sources._prune import load_prune_study

        prune_studies = [load_prune_study(s.path) for s in by_kind["prune-study"]]
    names = ", ".join(Path(str(s.path)).name or str(s.path) for s in detected)
    return write_report(out, studies=studies, runs=runs, prune_studies=prune_studies,
                        title=title if title is not None else f"fairvision report: {names}",
                        command=_command(sources, out, bootstrap=bootstrap, seed=seed, top_k=top_k, title=title),
                        sources=[(s.path, s.kind) for s in detected], top_k=top_k, summary=summary)
