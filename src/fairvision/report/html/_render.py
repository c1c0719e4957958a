"""Rendering sections into one self-contained HTML file with the package's jinja2 templates
(:func:`fairvision.report._html_base.render_template`: autoescaping, strict undefined variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fairvision._io import atomic_write
from fairvision.report._html_base import render_template
from fairvision.report.html._blocks import Section

__all__ = ["render_html", "write_html"]

TEMPLATE = "report.html.j2"


def render_html(sections: Sequence[Section], *, title: str, command: str = "",
                sources: Sequence[tuple[str, str]] = (), notes: Sequence[str] = (), files: str = "",
                summary: Sequence[str] = ()) -> str:
    """The report's HTML: ``sources`` as ``(path, kind)``, ``notes`` about sections left out, ``files`` the
    folder (relative to the report) holding the figures' PNG copies, ``summary`` lines shown first (e.g.
    what the demo found)."""
    return render_template(TEMPLATE, title=title, command=command, sources=list(sources), notes=list(notes),
                           sections=list(sections), files=files, summary=list(summary))


def write_html(out: str | Path, sections: Sequence[Section], **kwargs) -> Path:
    """:func:`render_html` written to ``out`` atomically (the user's umask)."""
    text = render_html(sections, **kwargs)
    return atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
