"""Loaders for face sets stored as one folder per identity.

* :func:`load_identity_folders` reads ``root/<identity>/<image>`` and attaches
  demographics from an FR-NAS JSON file (group -> identities) or a CSV file.
* :func:`load_rfw` reads the Racial Faces in-the-Wild layout
  ``root/<race>/<identity>/<image>``.

Nothing is downloaded: the user points at a copy on disk.  Listings are sorted
so that the same folder always gives the same table.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd

from fairvision.data._faceset import REQUIRED_COLUMNS, FaceSet
from fairvision.data.images import OnBadImage
from fairvision.data.images import check_images as _check_images
from fairvision.errors import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "load_identity_folders", "load_rfw"]

#: File extensions (lower case) recognised as images; matching is case-insensitive.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# --------------------------------------------------------------------------- helpers shared by the loaders


def _validate_policy(on_bad_image: str) -> None:
    if on_bad_image not in ("error", "skip"):
        raise ValueError(f"on_bad_image must be 'error' or 'skip', not {on_bad_image!r}")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")
    return path


def _root(root: str | os.PathLike) -> Path:
    """The absolute form of a user-given root (no symlink resolution per image, for speed)."""
    return Path(root).expanduser().absolute()


def _subdirs(folder: Path) -> list[os.DirEntry]:
    """Visible sub-folders of ``folder``, sorted by name (hidden ones such as ``.cache`` are ignored)."""
    with os.scandir(folder) as it:
        dirs = [e for e in it if e.is_dir() and not e.name.startswith(".")]
    return sorted(dirs, key=lambda e: e.name)


def _images_in(folder: str | os.PathLike) -> list[str]:
    """Absolute paths of the image files directly inside ``folder``, sorted by file name."""
    with os.scandir(folder) as it:
        names = [e.name for e in it if _is_image_name(e.name) and not e.name.startswith(".") and e.is_file()]
    return [os.path.join(folder, n) for n in sorted(names)]


def _scan_identities(folder: Path) -> dict[str, list[str]]:
    """``identity -> sorted image paths`` for ``folder/<identity>/<image>``; empty identity folders are left out."""
    out: dict[str, list[str]] = {}
    for entry in _subdirs(folder):
        images = _images_in(entry.path)
        if images:
            out[entry.name] = images
    return out


def _identity_frame(images: dict[str, list[str]]) -> pd.DataFrame:
    paths = [p for ps in images.values() for p in ps]
    ids = [i for i, ps in images.items() for _ in ps]
    return pd.DataFrame({"path": pd.Series(paths, dtype="str"), "identity": pd.Series(ids, dtype="str")})


def _finish(frame: pd.DataFrame, *, name: str, on_bad_image: OnBadImage, check_images: bool) -> FaceSet:
    """Wrap ``frame`` in a FaceSet and, if asked, decode every image under the ``on_bad_image`` policy."""
    faces = FaceSet(frame.reset_index(drop=True), name=name)
    if check_images:
        faces = _check_images(faces, on_bad_image=on_bad_image)
    return faces


def _check_column_name(column: str, what: str) -> None:
    if column in REQUIRED_COLUMNS:
        raise ValueError(f"{what} must not be {column!r}: that column is reserved")


# --------------------------------------------------------------------------- demographics files


def _read_demographics_json(path: Path, group_column: str) -> pd.DataFrame:
    """FR-NAS JSON ``{"male": [ids...], "female": [ids...]}`` -> frame (identity, group_column)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not isinstance(data, dict) or not data:
        raise DatasetError(f"{path}: expected a JSON object mapping each group to a list of identities")
    group_of: dict[str, str] = {}
    for group, members in data.items():
        if not isinstance(members, list):
            raise DatasetError(f"{path}: group {group!r} must map to a list of identities, not {type(members).__name__}")
        for ident in members:
            if isinstance(ident, bool) or not isinstance(ident, (str, int)):
                raise DatasetError(f"{path}: group {group!r} lists {ident!r}, which is not an identity name")
            ident = str(ident)
            other = group_of.get(ident)
            if other is not None and other != group:
                raise DatasetError(f"{path}: identity {ident!r} is listed under two groups, {other!r} and {group!r}")
            group_of[ident] = group
    return pd.DataFrame(
        {"identity": pd.Series(list(group_of), dtype="str"), group_column: pd.Series(list(group_of.values()), dtype="str")}
    )


def _csv_data_line_numbers(path: Path) -> list[int]:
    """1-based line numbers of the non-empty data rows of a CSV file (after the header)."""
    lines: list[int] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if row and any(c.strip() for c in row):
                lines.append(reader.line_num)
    return lines


def _read_demographics_csv(path: Path) -> pd.DataFrame:
    """CSV with an identity column (``identity``, else the first column) and attribute columns, values as read."""
    try:
        header = pd.read_csv(path, nrows=0, skipinitialspace=True).columns
        id_col = "identity" if "identity" in header else header[0]
        frame = pd.read_csv(path, dtype={id_col: str}, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: malformed CSV ({str(exc).strip()})") from None
    frame = frame.rename(columns={id_col: "identity"})
    attrs = [c for c in frame.columns if c != "identity"]
    if not attrs:
        raise DatasetError(f"{path}: needs at least one attribute column besides the identity column {id_col!r}")
    if "path" in attrs:
        raise DatasetError(f"{path}: column 'path' is reserved for image paths")
    try:
        line_of = _csv_data_line_numbers(path)
    except (csv.Error, UnicodeDecodeError):
        line_of = []
    if len(line_of) != len(frame):  # embedded blank lines etc.: fall back to header + row index
        line_of = [i + 2 for i in range(len(frame))]
    missing = frame["identity"].isna() | (frame["identity"].str.strip() == "")
    if missing.any():
        i = int(missing.to_numpy().nonzero()[0][0])
        raise DatasetError(f"{path}, line {line_of[i]}: empty identity in column {id_col!r}")
    frame["identity"] = frame["identity"].str.strip()
    dup = frame["identity"].duplicated(keep="first")
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        ident = frame["identity"].iloc[i]
        first = int((frame["identity"] == ident).to_numpy().nonzero()[0][0])
        raise DatasetError(
            f"{path}, line {line_of[i]}: identity {ident!r} is listed twice (first on line {line_of[first]})"
        )
    return frame


def _read_demographics(path: str | os.PathLike, group_column: str) -> tuple[Path, pd.DataFrame]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{path}: demographics file not found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return path, _read_demographics_json(path, group_column)
    if suffix == ".csv":
        return path, _read_demographics_csv(path)
    raise DatasetError(f"{path}: demographics file must be .json (FR-NAS groups) or .csv, not {suffix or 'no suffix'!r}")


# --------------------------------------------------------------------------- public loaders


def load_identity_folders(
    root: str | os.PathLike,
    *,
    demographics: str | os.PathLike | None = None,
    group_column: str = "group",
    on_bad_image: OnBadImage = "error",
    check_images: bool = False,
    name: str | None = None,
) -> FaceSet:
    """Load ``root/<identity>/<image>`` (one folder per identity) as a FaceSet.

    Images are files with extensions in :data:`IMAGE_EXTENSIONS` (any case),
    sorted by name; empty identity folders are ignored.  ``demographics`` is
    an FR-NAS JSON file ``{group: [identity, ...]}`` (its groups fill column
    ``group_column``) or a CSV file whose ``identity`` column (else its first
    column) keys attribute columns that are copied as read.  Every identity on
    disk must have demographics; extra demographic rows are ignored.
    ``check_images=True`` decodes every image under the ``on_bad_image`` policy.
    """
    _validate_policy(on_bad_image)
    _check_column_name(group_column, "group_column")
    base = _require_dir(_root(root), "identity")
    images = _scan_identities(base)
    if not images:
        raise DatasetError(f"{base}: no images found in <identity>/ sub-folders (extensions {', '.join(IMAGE_EXTENSIONS)})")
    frame = _identity_frame(images)
    if demographics is not None:
        demo_path, demo = _read_demographics(demographics, group_column)
        known = set(demo["identity"])
        lacking = [i for i in images if i not in known]
        if lacking:
            more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
            raise DatasetError(f"{demo_path}: no demographics for identity {lacking[0]!r}{more} found in {base}")
        frame = frame.merge(demo, on="identity", how="left", validate="many_to_one")
    return _finish(frame, name=name or base.name or "faces", on_bad_image=on_bad_image, check_images=check_images)


def load_rfw(
    root: str | os.PathLike,
    *,
    group_column: str = "race",
    on_bad_image: OnBadImage = "error",
    check_images: bool = False,
) -> FaceSet:
    """Load Racial Faces in-the-Wild, laid out as ``root/<race>/<identity>/<image>``.

    The race folder name (e.g. ``African``) becomes the value of
    ``group_column``.  An identity found under two races is an error, since a
    demographic must be constant per identity.
    """
    _validate_policy(on_bad_image)
    _check_column_name(group_column, "group_column")
    base = _require_dir(_root(root), "RFW")
    images: dict[str, list[str]] = {}
    race_of: dict[str, str] = {}
    for race in _subdirs(base):
        for ident, paths in _scan_identities(Path(race.path)).items():
            if ident in race_of:
                raise DatasetError(
                    f"{base}: identity {ident!r} appears under two races, {race_of[ident]!r} and {race.name!r}"
                )
            race_of[ident] = race.name
            images[ident] = paths
    if not images:
        raise DatasetError(f"{base}: no images found in <race>/<identity>/ sub-folders")
    frame = _identity_frame(images)
    frame[group_column] = pd.Series([race_of[i] for i in frame["identity"]], dtype="str")
    return _finish(frame, name="rfw", on_bad_image=on_bad_image, check_images=check_images)
