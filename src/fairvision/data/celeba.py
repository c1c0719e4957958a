"""Loader for CelebA (aligned images) from its official files on disk.

Expected under ``root`` (nothing is downloaded)::

    img_align_celeba/000001.jpg ...
    list_attr_celeba.txt      line 1: image count; line 2: 40 attribute names;
                              then "000001.jpg -1  1 ..." (any whitespace)
    identity_CelebA.txt       "000001.jpg 2950"
    list_eval_partition.txt   "000001.jpg 0"   (0 = train, 1 = val, 2 = test)

The annotation files may also sit in ``root/Anno`` and ``root/Eval`` and the
images in ``root/Img/img_align_celeba``, as in the Google Drive release.
All three annotation files are cross-checked, because a silently dropped or
mislabelled image would bias every per-group metric computed later.
:func:`load_celeba_annotations` reads only the attribute and partition files
(labels for scoring saved logits: no images needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fairvision.data._faceset import FaceSet
from fairvision.data.folders import _finish, _is_image_name, _root, _validate_policy
from fairvision.data.images import OnBadImage
from fairvision.errors import DatasetError

__all__ = ["load_celeba", "load_celeba_annotations", "CelebAAnnotations", "CELEBA_PARTITIONS"]

#: Code in list_eval_partition.txt -> partition name.
CELEBA_PARTITIONS = {"0": "train", "1": "val", "2": "test"}

ATTR_FILE = "list_attr_celeba.txt"
IDENTITY_FILE = "identity_CelebA.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIR = "img_align_celeba"
_PLUS_MINUS = frozenset({"1", "-1"})
_RESERVED = ("path", "identity", "partition")


def _find(root: Path, name: str, subdirs: tuple[str, ...], *, folder: bool = False) -> Path:
    for sub in ("", *subdirs):
        candidate = root / sub / name
        if candidate.is_dir() if folder else candidate.is_file():
            return candidate
    kind = "image folder" if folder else "annotation file"
    raise DatasetError(f"{root / name}: CelebA {kind} not found")


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a text file ({exc.reason})") from None


def _check_image_name(path: Path, lineno: int, token: str) -> None:
    if not _is_image_name(token):
        raise DatasetError(f"{path}, line {lineno}: malformed line: first field {token!r} is not an image file name")


def _read_pairs(path: Path, what: str) -> tuple[dict[str, str], dict[str, int]]:
    """Parse ``<image> <value>`` lines -> (image -> value, image -> line number)."""
    values: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for lineno, line in enumerate(_lines(path), 1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 2:
            raise DatasetError(
                f"{path}, line {lineno}: malformed line: expected '<image> <{what}>', found {len(tokens)} field(s)"
            )
        image, value = tokens
        _check_image_name(path, lineno, image)
        if image in line_of:
            raise DatasetError(f"{path}, line {lineno}: duplicate image {image!r} (first on line {line_of[image]})")
        values[image] = value
        line_of[image] = lineno
    return values, line_of


def _read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray, dict[str, int]]:
    """Parse list_attr_celeba.txt -> (attribute names, image names, 0/1 matrix, image -> line number)."""
    lines = _lines(path)
    if not lines or not lines[0].strip():
        raise DatasetError(f"{path}, line 1: malformed line: expected the number of images")
    head = lines[0].split()
    if len(head) != 1 or not head[0].isdigit():
        raise DatasetError(f"{path}, line 1: malformed line: expected the number of images, found {lines[0]!r}")
    declared = int(head[0])
    names = lines[1].split() if len(lines) > 1 else []
    if not names:
        raise DatasetError(f"{path}, line 2: malformed line: expected the attribute names")
    seen: set[str] = set()
    for attr in names:
        if attr in _RESERVED:
            raise DatasetError(f"{path}, line 2: attribute name {attr!r} is reserved")
        if attr in seen:
            raise DatasetError(f"{path}, line 2: attribute {attr!r} is named twice")
        seen.add(attr)
    n_fields = len(names) + 1
    images: list[str] = []
    rows: list[list[str]] = []
    line_of: dict[str, int] = {}
    for lineno, line in enumerate(lines[2:], 3):
        tokens = line.split()
        if not tokens:
            continue
        _check_image_name(path, lineno, tokens[0])
        if len(tokens) != n_fields:
            raise DatasetError(
                f"{path}, line {lineno}: {len(tokens) - 1} attribute value(s) for {tokens[0]!r}, "
                f"but the header (line 2) names {len(names)} attributes"
            )
        vals = tokens[1:]
        if not _PLUS_MINUS.issuperset(vals):
            j = next(k for k, v in enumerate(vals) if v not in _PLUS_MINUS)
            raise DatasetError(
                f"{path}, line {lineno}: attribute {names[j]!r} of {tokens[0]!r} is {vals[j]!r}, expected -1 or 1"
            )
        image = tokens[0]
        if image in line_of:
            raise DatasetError(f"{path}, line {lineno}: duplicate image {image!r} (first on line {line_of[image]})")
        line_of[image] = lineno
        images.append(image)
        rows.append(vals)
    if declared != len(images):
        raise DatasetError(f"{path}, line 1: header says {declared} images, but the file lists {len(images)}")
    matrix = (np.array(rows, dtype="U2").reshape(len(rows), len(names)) == "1").astype(np.int64)
    return names, images, matrix, line_of


def _cross_check(
    images: list[str],
    attr_lines: dict[str, int],
    attr_path: Path,
    others: list[tuple[Path, dict[str, int]]],
) -> None:
    """Every image must be listed in all three annotation files."""
    for other_file, other_lines in others:
        for image in images:
            if image not in other_lines:
                raise DatasetError(
                    f"image {image!r} is listed in {attr_path} (line {attr_lines[image]}) but not in {other_file}"
                )
        if len(other_lines) != len(images):
            extra = next(im for im in other_lines if im not in attr_lines)
            raise DatasetError(
                f"image {extra!r} is listed in {other_file} (line {other_lines[extra]}) but not in {attr_path}"
            )


def _check_partition_codes(partition: dict[str, str], line_of: dict[str, int], path: Path) -> None:
    """DatasetError naming the line of the first partition code other than 0, 1 or 2."""
    for image, code in partition.items():
        if code not in CELEBA_PARTITIONS:
            raise DatasetError(f"{path}, line {line_of[image]}: partition of {image!r} is {code!r}, expected 0, 1 or 2")


def load_celeba(
    root: str | os.PathLike,
    *,
    split: Literal["all", "train", "val", "test"] = "all",
    on_bad_image: OnBadImage = "error",
    check_images: bool = False,
) -> FaceSet:
    """Load CelebA from its official annotation files under ``root``.

    Columns: ``path``, ``identity`` (str), one int 0/1 column per attribute
    (named as in the header of list_attr_celeba.txt; -1 becomes 0) and
    ``partition`` ("train"/"val"/"test").  ``split`` keeps one partition.
    Malformed or inconsistent annotations raise DatasetError naming the file
    and line.  Images are not opened unless ``check_images=True``, which
    decodes each one under the ``on_bad_image`` policy.
    """
    if split not in ("all", "train", "val", "test"):
        raise ValueError(f"split must be 'all', 'train', 'val' or 'test', not {split!r}")
    _validate_policy(on_bad_image)
    base = _root(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: CelebA root folder not found")
    image_dir = _find(base, IMAGE_DIR, ("Img",), folder=True)
    attr_path = _find(base, ATTR_FILE, ("Anno",))
    id_path = _find(base, IDENTITY_FILE, ("Anno",))
    part_path = _find(base, PARTITION_FILE, ("Eval", "Anno"))

    names, images, matrix, attr_lines = _read_attributes(attr_path)
    identity, id_lines = _read_pairs(id_path, "identity")
    partition, part_lines = _read_pairs(part_path, "partition")
    _check_partition_codes(partition, part_lines, part_path)
    _cross_check(images, attr_lines, attr_path, [(id_path, id_lines), (part_path, part_lines)])

    folder = str(image_dir)
    frame = pd.DataFrame(
        {
            "path": pd.Series([os.path.join(folder, im) for im in images], dtype="str"),
            "identity": pd.Series([identity[im] for im in images], dtype="str"),
        }
    )
    frame = pd.concat([frame, pd.DataFrame(matrix, columns=names)], axis=1)
    frame["partition"] = pd.Series([CELEBA_PARTITIONS[partition[im]] for im in images], dtype="str")
    if split != "all":
        frame = frame.loc[frame["partition"] == split]
    name = "celeba" if split == "all" else f"celeba-{split}"
    return _finish(frame, name=name, on_bad_image=on_bad_image, check_images=check_images)


#: Partition name -> code in list_eval_partition.txt.
_PARTITION_CODES = {name: int(code) for code, name in CELEBA_PARTITIONS.items()}


@dataclass(frozen=True, eq=False)
class CelebAAnnotations:
    """CelebA's attribute labels and partitions, rows in the order of list_attr_celeba.txt.

    ``labels`` is an int8 0/1 matrix (images x attributes; -1 became 0) with
    columns in the file's attribute order; ``partition`` holds the codes of
    list_eval_partition.txt (0 train, 1 val, 2 test).
    """

    attributes: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    partition: np.ndarray
    attr_file: Path
    partition_file: Path

    def mask(self, split: Literal["train", "val", "test"]) -> np.ndarray:
        """Boolean mask of the rows of one partition."""
        if split not in _PARTITION_CODES:
            raise ValueError(f"split must be 'train', 'val' or 'test', not {split!r}")
        return self.partition == _PARTITION_CODES[split]

    def split_labels(self, split: Literal["train", "val", "test"]) -> np.ndarray:
        """The 0/1 labels of one partition, rows in file order (the row order of that partition's logits)."""
        return self.labels[self.mask(split)]


def load_celeba_annotations(root: str | os.PathLike) -> CelebAAnnotations:
    """CelebA labels and partitions from list_attr_celeba.txt and list_eval_partition.txt alone.

    No image folder or identity file is needed (scoring saved logits does
    not).  The files may sit in ``root`` or in ``root/Anno`` / ``root/Eval``.
    Both files must list the same images; malformed lines raise DatasetError
    naming the file and line, as :func:`load_celeba` does.
    """
    base = _root(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: CelebA root folder not found")
    attr_path = _find(base, ATTR_FILE, ("Anno",))
    part_path = _find(base, PARTITION_FILE, ("Eval", "Anno"))
    names, images, matrix, attr_lines = _read_attributes(attr_path)
    partition, part_lines = _read_pairs(part_path, "partition")
    _check_partition_codes(partition, part_lines, part_path)
    _cross_check(images, attr_lines, attr_path, [(part_path, part_lines)])
    return CelebAAnnotations(
        attributes=tuple(names),
        images=np.array(images, dtype=object),
        labels=matrix.astype(np.int8),
        partition=np.array([int(partition[im]) for im in images], dtype=np.int8),
        attr_file=attr_path,
        partition_file=part_path,
    )
