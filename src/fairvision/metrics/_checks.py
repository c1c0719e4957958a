"""Input checks shared by the metrics: labels that are present, ranks that are counts, real embeddings.

Every check raises ``ValueError`` naming the argument, the 0-based position
and the value (shown as a user reads it, ``inf`` not ``np.float64(inf)``);
the rank-file reader (:mod:`fairvision.metrics._io`) reports the same problems
with the file and line instead.

Rules:

* **labels** (identities, groups): a missing label -- ``None``, NaN, ``pd.NA``
  or a blank (empty or whitespace-only) string -- is an error.  Dropping such
  a sample in one computation but not in another (e.g. the bootstrap but not
  the point estimate) would make the numbers disagree.
* **ranks**: whole numbers from ``-1`` (no other image of the identity) up to
  :data:`RANK_LIMIT` (2**53, the largest range of whole numbers a float64
  holds exactly: a larger "rank" cannot be a count of images).  NaN, infinite
  and fractional values are errors; so are complex numbers and non-numbers.
  There is no tighter bound from the number of samples: ranks may be scored on
  a subset of the images they were computed on.
* **embeddings**: real (not complex) and finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from fairvision.errors import show_value

__all__ = [
    "RANK_LIMIT",
    "RANK_RULE",
    "as_labels",
    "bad_rank_positions",
    "check_bootstrap",
    "check_labels",
    "check_ranks",
    "missing_labels",
    "real_array",
]

#: Ranks must be < 2**53 (whole numbers beyond are not exact in float64).
RANK_LIMIT = 2**53
#: How the rank rule reads in error messages.
RANK_RULE = "ranks must be integers >= -1 (-1: no other image of the identity) and below 2**53"


def missing_labels(values) -> np.ndarray:
    """Boolean mask of missing labels: None, NaN, NA or a blank / whitespace-only string."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return np.zeros(arr.shape, dtype=bool).ravel()
    if arr.dtype.kind == "f":
        return np.isnan(arr).ravel()
    series = pd.Series(arr.astype(object).ravel(), dtype=object)
    try:
        blank = series.str.strip().eq("").to_numpy(dtype=bool)  # non-strings give NaN here: not blank
    except AttributeError:  # pandas refuses .str when no value is a string: nothing blank
        blank = np.zeros(len(series), dtype=bool)
    return series.isna().to_numpy(dtype=bool) | blank


def as_labels(values) -> np.ndarray:
    """Labels as a numpy array; Python lists become object arrays (numpy would turn None/NaN into 'None'/'nan')."""
    if isinstance(values, (list, tuple)):
        return np.array(values, dtype=object)
    return np.asarray(values)


def check_labels(values, name: str) -> None:
    """ValueError naming ``name[i]`` if a label is missing (see :func:`missing_labels`)."""
    missing = missing_labels(values)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"{name}[{i}] is missing ({show_value(np.asarray(values, dtype=object).ravel()[i])}): "
            f"every sample needs one ({int(missing.sum())} missing)"
        )


def bad_rank_positions(values: np.ndarray) -> np.ndarray:
    """Boolean mask of float/int ``values`` that break the rank rule (NaN, inf, fractional, < -1, >= 2**53)."""
    if np.issubdtype(values.dtype, np.integer):
        return (values < -1) | (values >= RANK_LIMIT)
    values = values.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (values < -1) | (values >= RANK_LIMIT) | (values != np.floor(values))


def check_ranks(ranks, name: str = "ranks") -> np.ndarray:
    """``ranks`` as int64 after checking the rank rule (module docstring); ValueError naming ``name[i]`` and the value."""
    if isinstance(ranks, torch.Tensor):
        ranks = ranks.detach().cpu().numpy()
    arr = np.asarray(ranks)
    if arr.dtype == object:  # e.g. a pandas column with pd.NA; strings are not ranks
        try:
            arr = pd.to_numeric(pd.Series(arr.ravel(), dtype=object), errors="raise").to_numpy().reshape(arr.shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numbers ({exc})") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real whole numbers, got complex values (dtype {arr.dtype})")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be whole numbers, got dtype {arr.dtype}")
    bad = bad_rank_positions(arr)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name}[{i}] is {show_value(arr.ravel()[i])}: {RANK_RULE}")
    return arr.astype(np.int64)


def real_array(values, name: str) -> np.ndarray:
    """A numpy float64 array of ``values`` (numpy or torch); complex values are a ValueError, not a silent ``.real``."""
    if isinstance(values, torch.Tensor):
        if values.is_complex():
            raise ValueError(f"{name} must be real numbers, got a complex tensor ({values.dtype})")
        values = values.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(values)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real numbers, got complex values (dtype {arr.dtype})")
    if arr.dtype == object and any(isinstance(v, complex) for v in arr.ravel()):
        raise ValueError(f"{name} must be real numbers, got complex values")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be real numbers ({exc})") from None


def check_bootstrap(replicates, name: str = "bootstrap") -> int:
    """Bootstrap replicates: 0 (no confidence intervals) or a whole number >= 2 (one replicate has no spread)."""
    if isinstance(replicates, (bool, np.bool_)) or not isinstance(replicates, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number of replicates (0 = none, or >= 2), got {show_value(replicates)}")
    if replicates < 0 or replicates == 1:
        raise ValueError(f"{name} must be 0 (no confidence intervals) or at least 2 replicates, got {int(replicates)}")
    return int(replicates)
