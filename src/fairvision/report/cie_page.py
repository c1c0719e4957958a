"""The susceptible-samples page (``fairvision cie-view``): one self-contained HTML file.

One card per sample: its image (inline ``data:`` URI, shrunk to a thumbnail), ids, group, protected
labels, whether it is a compression-identified exemplar (CIE) and its rank by the dense-only score, and
a table of the relevant attributes with the true label and the dense and pruned modal predictions.
A few lines of inline JavaScript filter the cards by attribute, group and kind (top-k / CIE); nothing
is fetched from anywhere.  The frames come from :func:`fairvision.prune.cie.cie_view`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from fairvision._io import atomic_write
from fairvision.report._html_base import data_uri, render_template, thumbnail_png

__all__ = ["DETAIL_COLUMNS", "SAMPLE_COLUMNS", "render_cie_page", "write_cie_page"]

#: Columns ``samples`` must have (plus one per protected attribute).
SAMPLE_COLUMNS = ("ids", "path", "group", "is_cie", "top_rank", "dense_score", "dense_disagreement")
#: Columns ``details`` must have: one row per (sample, shown attribute).
DETAIL_COLUMNS = ("ids", "attribute", "label", "dense", "pruned", "is_cie")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column {missing[0]!r} (needs {', '.join(columns)})")


def _image(path: Any, side: int) -> str | None:
    """The thumbnail's data URI, or None when there is no readable image file."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return data_uri(thumbnail_png(path, max_side=side))
    except (OSError, ValueError):
        return None


def render_cie_page(samples: pd.DataFrame, details: pd.DataFrame, *, protected: Sequence[str] = (),
                    summary: Mapping[str, Any] | None = None, thumbnail: int = 96,
                    title: str = "Samples most susceptible to pruning") -> str:
    """The page as a string. ``samples``: one row per card (:data:`SAMPLE_COLUMNS` and the ``protected``
    columns), in display order; ``details``: the attribute rows of the cards (:data:`DETAIL_COLUMNS`);
    ``summary``: facts shown at the top (study, split, sparsity, n, n_cie, ...)."""
    _require(samples, [*SAMPLE_COLUMNS, *protected], "samples")
    _require(details, DETAIL_COLUMNS, "details")
    by_sample = {key: rows for key, rows in details.groupby("ids", sort=False)}
    cards, missing = [], 0
    for row in samples.to_dict(orient="records"):
        rows = by_sample.get(row["ids"])
        rows = rows.to_dict(orient="records") if rows is not None else []
        image = _image(row["path"], thumbnail)
        missing += image is None
        rank = row["top_rank"]
        cards.append({
            "ids": row["ids"], "group": str(row["group"]), "image": image, "path": str(row["path"]),
            "is_cie": bool(row["is_cie"]), "top_rank": None if pd.isna(rank) else int(rank),
            "dense_score": float(row["dense_score"]), "dense_disagreement": float(row["dense_disagreement"]),
            "protected": [(name, int(row[name])) for name in protected],
            "rows": [{"attribute": r["attribute"], "label": int(r["label"]), "dense": int(r["dense"]),
                      "pruned": int(r["pruned"]), "flipped": bool(r["is_cie"])} for r in rows],
            "attributes": "|".join(r["attribute"] for r in rows),
        })
    facts = {k: (f"{v:g}" if isinstance(v, float) and math.isfinite(v) else v) for k, v in (summary or {}).items()}
    return render_template(
        "cie_view.html.j2", title=title, facts=facts, cards=cards, missing_images=missing, thumbnail=int(thumbnail),
        attributes=sorted({r["attribute"] for c in cards for r in c["rows"]}),
        groups=sorted({c["group"] for c in cards if c["group"]}),
    )


def write_cie_page(path: str | Path, samples: pd.DataFrame, details: pd.DataFrame, **options: Any) -> Path:
    """:func:`render_cie_page` written to ``path`` (atomically); returns the path."""
    html = render_cie_page(samples, details, **options)
    return atomic_write(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
