"""AgeDB: ``<id>_<name>_<age>_<gender>.jpg`` files in one folder, grouped by age bins.

Every image file directly in ``root`` must be named ``<id>_<name>_<age>_<gender>.<ext>``
(e.g. ``0_MariaCallas_35_f.jpg``): ``id`` a whole number, ``name`` the person
(it may itself contain underscores), ``age`` a whole number of years and
``gender`` ``m`` or ``f``.  The table has one row per image with columns

* ``identity`` -- the name (AgeDB shows each person at many ages);
* ``age`` -- the age in years, ``image_id`` -- the leading number;
* ``age_group`` -- the age bin, a label like ``"0-25"`` (see :func:`age_bin_labels`);
* ``gender`` -- ``male`` or ``female`` (a second attribute, constant per person).

Age changes within an identity, so ``age_group`` is a per-image attribute:
each image is a probe scored in the bin of its own age (see ``docs/transfer.md``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fairvision.data._faceset import FaceSet
from fairvision.data.folders import _finish, _images_in, _require_dir, _root, _validate_policy
from fairvision.data.images import OnBadImage
from fairvision.errors import DatasetError

__all__ = ["AGEDB_BINS", "age_bin_labels", "load_agedb", "parse_bins"]

#: Default age bin edges: [0, 25), [25, 50), [50, 75), [75, 110].
AGEDB_BINS = (0, 25, 50, 75, 110)

_NAME = re.compile(r"(?P<id>\d+)_(?P<name>.+)_(?P<age>\d+)_(?P<gender>[mfMF])")
_GENDERS = {"m": "male", "f": "female"}


def parse_bins(bins: Sequence[int] | str) -> tuple[int, ...]:
    """Bin edges as a tuple of whole numbers, strictly increasing, at least two; a string is ``"0,25,50,110"``.

    Raises ValueError naming the problem.
    """
    if isinstance(bins, str):
        try:
            bins = [int(b) for b in bins.replace(" ", "").split(",") if b != ""]
        except ValueError:
            raise ValueError(f"age bins must be whole numbers separated by commas, not {bins!r}") from None
    edges = []
    for b in bins:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise ValueError(f"age bin edges must be whole numbers, not {b!r}")
        edges.append(int(b))
    if len(edges) < 2:
        raise ValueError(f"age bins need at least two edges, got {edges}")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"age bin edges must increase strictly, got {edges}")
    if edges[0] < 0:
        raise ValueError(f"age bin edges must not be negative, got {edges}")
    return tuple(edges)


def age_bin_labels(bins: Sequence[int] | str = AGEDB_BINS) -> list[str]:
    """Labels ``"lo-hi"`` of the bins; every bin is ``lo <= age < hi`` except the last, ``lo <= age <= hi``."""
    edges = parse_bins(bins)
    return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:])]


def _bin_of(ages: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """Index of each age's bin, -1 outside ``[edges[0], edges[-1]]``."""
    idx = np.searchsorted(np.asarray(edges), ages, side="right") - 1
    idx = np.where(ages == edges[-1], len(edges) - 2, idx)  # the last bin is closed
    return np.where((ages < edges[0]) | (ages > edges[-1]), -1, idx)


def load_agedb(
    root: str | os.PathLike,
    *,
    bins: Sequence[int] | str = AGEDB_BINS,
    group_column: str = "age_group",
    on_bad_image: OnBadImage = "error",
    check_images: bool = False,
) -> FaceSet:
    """Load AgeDB (``root/<id>_<name>_<age>_<gender>.jpg``) with ages binned by ``bins``.

    ``bins`` are the bin edges (default :data:`AGEDB_BINS`); the bin labels go
    to column ``group_column`` (default ``age_group``).  A file whose name does
    not follow the pattern, or whose age lies outside the bins, is a
    DatasetError naming the file.  Rows are sorted by file name.
    """
    _validate_policy(on_bad_image)
    edges = parse_bins(bins)
    if group_column in ("path", "identity", "age", "gender", "image_id"):
        raise ValueError(f"group_column must not be {group_column!r}: AgeDB uses that column")
    base = _require_dir(_root(root), "AgeDB")
    paths = _images_in(base)
    if not paths:
        raise DatasetError(f"{base}: no images found (AgeDB keeps <id>_<name>_<age>_<gender>.jpg files in one folder)")
    ids, names, ages, genders = [], [], [], []
    for path in paths:
        file = os.path.basename(path)
        match = _NAME.fullmatch(os.path.splitext(file)[0])
        if match is None:
            raise DatasetError(f"{path}: not an AgeDB file name <id>_<name>_<age>_<gender>.jpg (gender m or f)")
        ids.append(int(match["id"]))
        names.append(match["name"])
        ages.append(int(match["age"]))
        genders.append(_GENDERS[match["gender"].lower()])
    age = np.asarray(ages, dtype=np.int64)
    which = _bin_of(age, edges)
    outside = np.flatnonzero(which < 0)
    if len(outside):
        i = int(outside[0])
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise DatasetError(f"{paths[i]}: age {ages[i]} is outside the age bins {list(edges)}{more}")
    labels = np.asarray(age_bin_labels(edges), dtype=object)
    frame = pd.DataFrame(
        {
            "path": pd.Series(paths, dtype="str"),
            "identity": pd.Series(names, dtype="str"),
            "image_id": np.asarray(ids, dtype=np.int64),
            "age": age,
            group_column: pd.Series(labels[which], dtype="str"),
            "gender": pd.Series(genders, dtype="str"),
        }
    )
    return _finish(frame, name="agedb", on_bad_image=on_bad_image, check_images=check_images)
