"""Image decoding with PIL and the ``on_bad_image`` policy.

Images are decoded with PIL (never torchvision.io, which is unavailable when
the installed torchvision is a CUDA build on a CPU torch, see
``fairvision._compat``).  :func:`load_image` is the one place images are
decoded (training, evaluation, the demo and :func:`check_images` all go
through it), so the rules below hold everywhere:

* every image becomes 8-bit RGB.  16-bit images (PIL modes ``I;16``,
  ``I;16B``, ``I;16L``, ``I;16N``, e.g. 16-bit grayscale PNGs, and 32-bit
  integer mode ``I`` holding values 0..65535) are scaled to 8 bit, ``v / 257``
  rounded (65535 -> 255), instead of PIL's conversion, which clips every value
  above 255 to white.  A mode ``I`` image with values outside 0..65535 and
  floating-point images (mode ``F``) have no known range and are bad images;
* an image larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (PIL's decompression-
  bomb limit, about 89 million pixels; PIL only warns up to twice that) is a
  bad image, like a corrupt one.

A bad image raises :class:`DatasetError` naming the file, or is skipped with
``on_bad_image="skip"`` in :func:`check_images` (and the loaders'
``check_images=True``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from fairvision.data._faceset import FaceSet
from fairvision.errors import DatasetError

__all__ = ["load_image", "check_images", "OnBadImage"]

OnBadImage = Literal["error", "skip"]

#: PIL modes of 16-bit integer images (read as 0..65535 and scaled to 8 bit).
_MODES_16BIT = ("I;16", "I;16B", "I;16L", "I;16N")


class _BadImage(Exception):
    """Internal: why an image cannot be used (the message, without the path)."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB; 16-bit integer images scaled by 1/257 (not clipped)."""
    if img.mode in _MODES_16BIT or img.mode == "I":
        values = np.asarray(img).astype(np.int64)
        if img.mode == "I" and values.size and (values.min() < 0 or values.max() > 65535):
            raise _BadImage(
                f"32-bit integer image with values {int(values.min())}..{int(values.max())}, outside the 16-bit "
                "range 0..65535 (convert it to 8 or 16 bit)"
            )
        img = Image.fromarray(((values + 128) // 257).astype(np.uint8), mode="L")
    elif img.mode == "F":
        raise _BadImage("32-bit floating-point image: its value range is unknown (convert it to 8 or 16 bit)")
    return img.convert("RGB")


def _decode(path: str | Path, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Fully decoded (H, W, 3) uint8 RGB image; raises _BadImage with the reason."""
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that: a bad image either way
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = _to_rgb(img)
                if size is not None:
                    h, w = (size, size) if isinstance(size, int) else size
                    if img.size != (w, h):
                        img = img.resize((w, h), Image.BILINEAR)
                return np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise _BadImage("image file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _BadImage(f"image too large, refused as a possible decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise _BadImage(f"cannot decode image ({exc})") from None


def load_image(path: str | Path, *, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Decode one image as an RGB ``uint8`` array of shape (H, W, 3).

    ``size`` resizes (bilinear) to ``size`` x ``size`` or to (height, width).
    16-bit images are scaled to 8 bit (see the module docstring).  Raises
    DatasetError naming the file if it is missing, cannot be decoded, has no
    known value range or exceeds PIL's decompression-bomb limit.
    """
    try:
        return _decode(path, size)
    except _BadImage as exc:
        raise DatasetError(f"{path}: {exc}") from None


def check_images(faces: FaceSet, *, on_bad_image: OnBadImage = "error") -> FaceSet:
    """Check that every image of ``faces`` exists and fully decodes.

    Each image is decoded completely, exactly as training and evaluation
    decode it (:func:`load_image`), not just header-checked with
    ``Image.verify``, which misses truncated files.  With
    ``on_bad_image="error"`` the first bad image raises DatasetError naming it;
    with ``"skip"`` bad images are dropped and listed in ``FaceSet.skipped``.
    """
    if on_bad_image not in ("error", "skip"):
        raise ValueError(f"on_bad_image must be 'error' or 'skip', not {on_bad_image!r}")
    bad: list[tuple[str, str]] = []
    for path in faces.frame["path"]:
        try:
            _decode(path)
        except _BadImage as exc:
            reason = str(exc)
        else:
            continue
        if on_bad_image == "error":
            raise DatasetError(f"{path}: {reason}")
        bad.append((str(path), reason))
    if not bad:
        return faces
    keep = ~faces.frame["path"].isin({p for p, _ in bad})
    frame = faces.frame.loc[keep].reset_index(drop=True)
    return FaceSet(frame, name=faces.name, skipped=faces.skipped + tuple(bad))
