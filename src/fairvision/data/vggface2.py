"""Loader for VGGFace2 from its official layout on disk.

Expected under ``root`` (nothing is downloaded)::

    train/<class_id>/<image>.jpg      e.g. train/n000002/0001_01.jpg
    test/<class_id>/<image>.jpg
    identity_meta.csv                 Class_ID, Name, Sample_Num, Flag, Gender
                                      n000001, "14th_Dalai_Lama", 424, 0, m

``identity_meta.csv`` is comma + space separated with quoted names that may
contain commas, so it is parsed with the csv module (``skipinitialspace``).
Gender is the demographic FR-NAS evaluates on, so every identity on disk must
have a meta row with a known gender.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Literal

import pandas as pd

from fairvision.data._faceset import FaceSet
from fairvision.data.folders import _finish, _identity_frame, _require_dir, _root, _scan_identities, _validate_policy
from fairvision.data.images import OnBadImage
from fairvision.errors import DatasetError

__all__ = ["load_vggface2", "read_vggface2_meta"]

META_FILE = "identity_meta.csv"
_GENDERS = {"m": "male", "f": "female"}
_REQUIRED = ("Class_ID", "Name", "Gender")


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:  # some copies of the meta file are Latin-1; names are informative only
        return data.decode("latin-1")


def read_vggface2_meta(path: str | os.PathLike) -> pd.DataFrame:
    """Parse VGGFace2's ``identity_meta.csv`` -> frame indexed by class id with columns ``name``, ``gender``.

    Raises DatasetError naming the file and line for a missing header column,
    a row with the wrong number of fields, an empty or duplicate class id, or
    a Gender other than m/f.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{path}: VGGFace2 meta file not found")
    reader = csv.reader(_read_text(path).splitlines(), skipinitialspace=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        lookup = {h.lower(): k for k, h in enumerate(header)}
        missing = [c for c in _REQUIRED if c.lower() not in lookup]
        if missing:
            raise DatasetError(f"{path}, line 1: malformed header: no column {missing[0]!r} (found {header})")
        i_id, i_name, i_gender = (lookup[c.lower()] for c in _REQUIRED)
        ids: list[str] = []
        names: list[str] = []
        genders: list[str] = []
        line_of: dict[str, int] = {}
        for row in reader:
            lineno = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise DatasetError(
                    f"{path}, line {lineno}: malformed row: {len(row)} fields, expected {len(header)} "
                    f"({', '.join(header)}); quote names that contain commas"
                )
            class_id = row[i_id].strip()
            if not class_id:
                raise DatasetError(f"{path}, line {lineno}: malformed row: empty Class_ID")
            if class_id in line_of:
                raise DatasetError(f"{path}, line {lineno}: duplicate Class_ID {class_id!r} (first on line {line_of[class_id]})")
            gender = row[i_gender].strip()
            if gender.lower() not in _GENDERS:
                raise DatasetError(f"{path}, line {lineno}: unknown Gender {gender!r} for {class_id!r}, expected 'm' or 'f'")
            line_of[class_id] = lineno
            ids.append(class_id)
            names.append(row[i_name].strip())
            genders.append(_GENDERS[gender.lower()])
    except csv.Error as exc:
        raise DatasetError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None
    if not ids:
        raise DatasetError(f"{path}: no identities listed")
    index = pd.Index(ids, dtype="str", name="identity")
    return pd.DataFrame(
        {"name": pd.Series(names, dtype="str", index=index), "gender": pd.Series(genders, dtype="str", index=index)}
    )


def load_vggface2(
    root: str | os.PathLike,
    *,
    split: Literal["train", "test"] = "train",
    meta: str | os.PathLike | None = None,
    on_bad_image: OnBadImage = "error",
    check_images: bool = False,
) -> FaceSet:
    """Load one split of VGGFace2 (``root/<split>/<class_id>/<image>``) with names and genders.

    Columns: ``path``, ``identity`` (the class id, e.g. ``n000002``), ``name``
    and ``gender`` ("male"/"female").  ``meta`` defaults to
    ``root/identity_meta.csv``; meta rows without a folder are ignored, but a
    folder without a meta row is an error.  ``check_images=True`` decodes each
    image under the ``on_bad_image`` policy.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    _validate_policy(on_bad_image)
    base = _root(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: VGGFace2 root folder not found")
    split_dir = _require_dir(base / split, f"VGGFace2 {split!r} split")
    meta_path = Path(meta).expanduser() if meta is not None else base / META_FILE
    table = read_vggface2_meta(meta_path)
    images = _scan_identities(split_dir)
    if not images:
        raise DatasetError(f"{split_dir}: no images found in <class_id>/ sub-folders")
    lacking = [i for i in images if i not in table.index]
    if lacking:
        more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
        raise DatasetError(f"{meta_path}: no row for identity {lacking[0]!r}{more} found in {split_dir}")
    frame = _identity_frame(images)
    rows = table.loc[frame["identity"]]
    frame["name"] = rows["name"].to_numpy()
    frame["gender"] = rows["gender"].to_numpy()
    frame = frame.astype({"name": "str", "gender": "str"})
    return _finish(frame, name=f"vggface2-{split}", on_bad_image=on_bad_image, check_images=check_images)
