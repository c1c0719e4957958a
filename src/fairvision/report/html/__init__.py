"""The HTML report (``fairvision report``): one self-contained page (inline CSS and PNG data URIs, no scripts,
no network) of training runs, search studies with their baselines and pruning studies.

This package renders data already loaded -- :class:`RunData`, :class:`StudyData`, :class:`PruneData` -- with
jinja2 templates (``fairvision/report/templates/report*.j2``) and matplotlib; :mod:`fairvision.sources`
detects and loads the sources and calls :func:`write_report` (``fairvision.sources.build_report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fairvision.report.html._blocks import (
    Details, Figure, FigureFolder, Gallery, GalleryItem, Heading, Note, Section, Table, data_uri, format_value, slug,
    table, thumbnail_uri,
)
from fairvision.report.html._render import render_html, write_html
from fairvision.report.html._sections import (
    CIE_COLUMNS, GroupResult, Provenance, PruneData, RunData, StudyData, missing_kinds, prune_section,
    run_section, search_section,
)

__all__ = ["CIE_COLUMNS", "Details", "Figure", "FigureFolder", "Gallery", "GalleryItem", "GroupResult", "Heading",
           "Note", "Provenance", "PruneData", "RunData", "Section", "StudyData", "Table", "data_uri", "files_folder",
           "format_value", "prune_section", "render_html", "run_section", "search_section", "table", "thumbnail_uri",
           "write_html", "write_report"]


def files_folder(out: str | Path) -> Path:
    """Where the figures of the report ``out`` are written: ``report_files/`` beside ``report.html``."""
    out = Path(out)
    return out.parent / f"{out.stem}_files"


def write_report(out: str | Path, *, studies: Sequence[StudyData] = (), runs: Sequence[RunData] = (),
                 prune_studies: Sequence[PruneData] = (), title: str = "fairvision report", command: str = "",
                 sources: Sequence[tuple[str, str]] = (), top_k: int = 24, summary: Sequence[str] = ()) -> Path:
    """Write the report ``out`` (HTML) and its figures (``<stem>_files/*.png``); returns ``out``.

    ``studies``: trial-store studies (a front each, with the baselines the loader attached);
    ``sources``: ``(path, kind)`` listed at the top; kinds of source not given get a note instead of a section;
    ``summary``: lines shown first, under the title.
    """
    out = Path(out)
    folder = files_folder(out)
    files = FigureFolder(folder, link_prefix=folder.name)
    used: set[str] = set()
    sections: list[Section] = []
    for study in studies:
        sections.append(search_section(study, files, section_id=slug(f"search {study.name}", used)))
    for run in runs:
        sections.append(run_section(run, files, section_id=slug(f"run {run.name}", used)))
    for study in prune_studies:
        sections.append(prune_section(study, files, section_id=slug(f"prune {study.name}", used), top_k=top_k))
    present = ["run"] * bool(runs) + ["store"] * bool(studies) + ["prune-study"] * bool(prune_studies)
    return write_html(out, sections, title=title, command=command, sources=sources, notes=missing_kinds(present),
                      files=folder.name, summary=summary)
