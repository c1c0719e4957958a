"""Shared pieces of fairvision's self-contained HTML pages: templates, inline images, thumbnails.

Pages are rendered with jinja2 from ``fairvision/report/templates/*.j2`` (package data) with autoescaping
on, and carry every image inline as a ``data:`` URI, so a page is one file that opens offline and makes
no request.

* :func:`template_environment` -- the jinja2 Environment of the package templates (autoescape, strict
  undefined variables);
* :func:`render_template` -- render one template to a string;
* :func:`data_uri` -- PNG/JPEG/GIF/WebP bytes or an image file as a ``data:`` URI;
* :func:`thumbnail_png` -- an image file, PIL image or array shrunk to fit a square, as PNG bytes;
* :func:`html_out` -- a page's output path, checked before any work.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TEMPLATES", "data_uri", "html_out", "render_template", "template_environment", "thumbnail_png"]

#: Folder of the package's templates.
TEMPLATES = Path(__file__).parent / "templates"

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))


@lru_cache(maxsize=1)
def template_environment():
    """The jinja2 Environment of ``fairvision/report/templates``: autoescaping on for every template (they
    are HTML), undefined variables an error, blocks trimmed."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_template(name: str, **context: Any) -> str:
    """Render the package template ``name`` (e.g. ``cie_view.html.j2``) with ``context``."""
    return template_environment().get_template(name).render(**context)


def _mime(data: bytes) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("not a PNG, JPEG, GIF or WebP image (unknown leading bytes)")


def data_uri(image: bytes | str | Path, *, mime: str | None = None) -> str:
    """``data:<mime>;base64,...`` of image bytes or of an image file; the type is read from the bytes unless
    ``mime`` is given."""
    data = Path(image).read_bytes() if isinstance(image, (str, Path)) else bytes(image)
    return f"data:{mime or _mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail_png(image, *, max_side: int = 128) -> bytes:
    """``image`` (a file path, a PIL image or an ``(H, W[, C])`` uint8 array) shrunk to fit ``max_side`` x
    ``max_side`` (aspect kept, never enlarged), as PNG bytes; OSError for an unreadable file."""
    from PIL import Image

    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            picture = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    elif isinstance(image, np.ndarray):
        picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    else:
        picture = image.copy()
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def html_out(out: str | Path) -> Path:
    """``out`` as the path of an HTML page to write; ConfigError (naming ``--out``) for a folder or a name not
    ending in .html/.htm -- checked before any work."""
    from fairvision.errors import ConfigError

    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the page's file name, e.g. {out / 'report.html'}")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out}: the page is an HTML file; give a name ending in .html")
    return out

