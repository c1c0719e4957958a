"""`FaceSet`: the one in-memory representation every loader returns.

A face set is a table with one row per image: ``path`` (absolute path of the
image file), ``identity`` (string) and any number of attribute columns
(demographic attributes such as ``Male`` or ``group``, and per-image
attributes such as ``Smiling``).  Group names are data: a fairness metric
takes the *name of a column*, never a hard-wired value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from fairvision.errors import DatasetError, show_value

__all__ = ["FaceSet", "ImageEdit"]

REQUIRED_COLUMNS = ("path", "identity")


class ImageEdit(Protocol):
    """A change of some images of a face set, decided per row from the frame (e.g. a trigger column)."""

    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` whose images are edited."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The edited copy of an (H, W, 3) uint8 RGB image."""


@dataclass(frozen=True)
class FaceSet:
    """Images of identities with attributes.

    Attributes:
        frame: one row per image; columns ``path``, ``identity`` and attributes.
        name: a short human-readable name (used in reports).
        skipped: paths of images dropped by ``on_bad_image="skip"``, with the reason.
        edit: an :class:`ImageEdit` that :class:`~fairvision.data.FaceImageDataset` applies to the decoded
            images of the rows it selects (e.g. a backdoor trigger, :mod:`fairvision.data.trigger`); None
            for none. :meth:`subset` keeps it.
    """

    frame: pd.DataFrame
    name: str = "faces"
    skipped: tuple[tuple[str, str], ...] = field(default=())
    edit: "ImageEdit | None" = field(default=None, compare=False)

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.frame.columns]
        if missing:
            raise DatasetError(f"face set {self.name!r} lacks column(s) {missing}")
        ids = self.frame["identity"]
        lacking = ids.isna().to_numpy(dtype=bool, copy=True)
        if ids.dtype == object or pd.api.types.is_string_dtype(ids):
            try:  # blank or whitespace-only names are missing too
                lacking |= ids.astype(object).str.strip().eq("").to_numpy(dtype=bool)
            except AttributeError:  # no string at all (pandas refuses .str)
                pass
        if lacking.any():
            i = int(lacking.argmax())
            raise DatasetError(
                f"face set {self.name!r}: image {self.frame['path'].iloc[i]} (row {i}) has no identity "
                f"({int(lacking.sum())} image(s) without one)"
            )

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def identities(self) -> pd.Index:
        """Distinct identities, in order of first appearance."""
        return pd.Index(pd.unique(self.frame["identity"]))

    @property
    def attributes(self) -> list[str]:
        """Names of the attribute columns (everything but path and identity)."""
        return [c for c in self.frame.columns if c not in REQUIRED_COLUMNS]

    def subset(self, mask_or_index, *, name: str | None = None) -> "FaceSet":
        """Rows selected by a boolean mask or positional index, renumbered from 0."""
        frame = self.frame.loc[mask_or_index] if _is_mask(mask_or_index) else self.frame.iloc[mask_or_index]
        return FaceSet(frame.reset_index(drop=True), name=name or self.name, skipped=self.skipped, edit=self.edit)

    def identity_table(self, columns: list[str] | None = None) -> pd.DataFrame:
        """One row per identity: image count and the identity-level attribute values.

        Raises DatasetError if an attribute that should be constant per identity
        (e.g. a demographic) varies within an identity.
        """
        cols = self.attributes if columns is None else list(columns)
        grouped = self.frame.groupby("identity", sort=False)
        out = grouped.size().rename("n_images").to_frame()
        for col in cols:
            nunique = grouped[col].nunique(dropna=False)
            bad = nunique[nunique > 1]
            if len(bad):
                raise DatasetError(
                    f"face set {self.name!r}: attribute {col!r} varies within identity {show_value(bad.index[0])}"
                )
            out[col] = grouped[col].first()
        return out


def _is_mask(sel) -> bool:
    dtype = getattr(sel, "dtype", None)
    return dtype is not None and dtype == bool
