"""Image decoding with PIL and the ``on_bad_image`` policy.

Images are decoded with PIL (never torchvision.io, which is unavailable when
the installed torchvision is a CUDA build on a CPU torch, see
``fairvision._compat``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from fairvision.data._faceset import FaceSet
from fairvision.errors import DatasetError

__all__ = ["load_image", "check_images", "OnBadImage"]

OnBadImage = Literal["error", "skip"]


def load_image(path: str | Path, *, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Decode one image as an RGB ``uint8`` array of shape (H, W, 3).

    ``size`` resizes (bilinear) to ``size`` x ``size`` or to (height, width).
    Raises DatasetError naming the file if it is missing or cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if size is not None:
                h, w = (size, size) if isinstance(size, int) else size
                if img.size != (w, h):
                    img = img.resize((w, h), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot decode image ({exc})") from None


def check_images(faces: FaceSet, *, on_bad_image: OnBadImage = "error") -> FaceSet:
    """Check that every image of ``faces`` exists and fully decodes.

    Each image is decoded completely (``Image.load``), not just header-checked
    with ``Image.verify``, which misses truncated files.  With
    ``on_bad_image="error"`` the first bad image raises DatasetError naming it;
    with ``"skip"`` bad images are dropped and listed in ``FaceSet.skipped``.
    """
    if on_bad_image not in ("error", "skip"):
        raise ValueError(f"on_bad_image must be 'error' or 'skip', not {on_bad_image!r}")
    bad: list[tuple[str, str]] = []
    for path in faces.frame["path"]:
        try:
            with Image.open(path) as img:
                img.load()
        except FileNotFoundError:
            reason = "image file not found"
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason = f"cannot decode image ({exc})"
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

