"""Exact leave-one-out 1:N identification ranks.

For every query image ``i`` the gallery is every *other* image of the set
(closed-set, leave-one-out, the FR-NAS protocol).  With ``pos_i`` the
similarity of ``i`` to its nearest same-identity image:

* ``rank_by_image[i]`` = number of images of other identities strictly closer
  to ``i`` than ``pos_i``;
* ``rank_by_id[i]`` = number of distinct other identities with at least one
  image strictly closer;
* both are ``-1`` when ``i``'s identity has no other image.

Rank 0 means correct identification.  The query is excluded *by index*, so
duplicated embeddings and ties never break the protocol (FR-NAS assumed that
the first entry of each sorted distance row is the query itself).  Ties are
not "strictly closer": an impostor at exactly the same distance as the
nearest genuine image does not count.

Exactness
---------
Embeddings are L2-normalised in float64; Euclidean distance is then a
decreasing function of the cosine similarity, ``d^2 = 2 - 2 s``, so all
comparisons are done on similarities.  The ranks are *exact with respect to
float64 similarities* ``s = fl64(x . y)`` of the normalised vectors.  The bulk
of the work is a float32 matrix product; for unit vectors its error is at most
``tol = gamma_d (1+u)^2 + 2u + u^2 + gamma_d^(64)`` (u = 2^-24, gamma_d =
d u / (1 - d u); the bound holds for any summation order, blocked BLAS and
FMA included, and accounts for rounding the inputs to float32).  A float32
comparison ``s32_j > pos32`` can therefore only be wrong when
``|s32_j - pos32| <= 2 tol``; exactly those "near-tie" pairs are re-computed
in float64 (together with ``pos`` itself, whose maximiser is always among
them) and decided there.  Float32 matmul precision is forced to "highest"
during the computation (no TF32 / bf16 shortcuts).

Cost is one N x N x d float32 product plus O(N^2) streaming passes, in chunks
of queries: memory is O(chunk x N), never an N x N matrix.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from fairvision.metrics._checks import as_labels, check_labels, real_array

__all__ = ["IdentificationRanks", "identification_ranks"]

_U32 = 2.0**-24
_U64 = 2.0**-53
#: Target number of float32 similarity entries held per chunk, per device type.
_CHUNK_ELEMENTS = {"cpu": 2**23, "cuda": 2**28}
#: Near-tie pairs re-checked in float64 per batch (bounds memory in degenerate cases).
#: Sparse path when candidate images are at most this fraction of a chunk (see _chunk_ranks).
_SPARSE_FRACTION = 0.05
_RECHECK_BATCH_ELEMENTS = 2**22


@dataclass(frozen=True)
class IdentificationRanks:
    """Per-sample identification ranks (int64 arrays of length N, -1 = no genuine pair)."""

    rank_by_id: np.ndarray
    rank_by_image: np.ndarray
    n_rechecked: int = 0  #: near-tie pairs decided in float64

    @property
    def valid(self) -> np.ndarray:
        """True where the query's identity has another image (rank defined)."""
        return self.rank_by_id >= 0

    def to_frame(self, index=None) -> pd.DataFrame:
        """The ranks as a DataFrame with columns ``rank_by_id`` and ``rank_by_image``."""
        return pd.DataFrame(
            {"rank_by_id": self.rank_by_id, "rank_by_image": self.rank_by_image}, index=index
        )


def similarity_tolerance(dim: int) -> float:
    """Worst-case |float32 - float64| error of a dot product of two unit vectors of length ``dim``."""
    gamma32 = dim * _U32 / (1.0 - dim * _U32)
    gamma64 = dim * _U64 / (1.0 - dim * _U64)
    return gamma32 * (1.0 + _U32) ** 2 + 2.0 * _U32 + _U32**2 + gamma64


def identification_ranks(
    embeddings,
    identities,
    *,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
) -> IdentificationRanks:
    """Exact leave-one-out identification ranks of every sample (see module docstring).

    Args:
        embeddings: (N, d) array-like of floats (numpy array or torch tensor).
        identities: length-N identity labels (any hashable values).
        chunk_size: queries per chunk; default keeps a chunk near 32 MB on CPU.
        device: torch device for the computation (e.g. ``"cuda"``); default CPU.
    """
    dev = _device(device)
    emb64, codes = _prepare(embeddings, identities)
    n, dim = emb64.shape
    rank_by_id = np.full(n, -1, dtype=np.int64)
    rank_by_image = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return IdentificationRanks(rank_by_id, rank_by_image)

    # Sort by identity so each identity is a contiguous block of the gallery.
    order = np.argsort(codes, kind="stable")
    codes_sorted = torch.from_numpy(codes[order]).to(dev)
    seg_size = torch.bincount(codes_sorted)
    seg_start = torch.cumsum(seg_size, 0) - seg_size
    e64 = torch.from_numpy(emb64[order]).to(dev)
    e32 = e64.to(torch.float32)
    # Margin on float32 differences: twice the dot-product bound, with slack for
    # rounding ``pos + margin`` and ``s - pos`` themselves in float32.
    tol2 = 2.02 * similarity_tolerance(dim) + 4.0 * _U32
    if chunk_size is None:
        budget = _CHUNK_ELEMENTS.get(dev.type, _CHUNK_ELEMENTS["cpu"])
        chunk_size = max(16, min(n, budget // n))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    out_id = torch.empty(n, dtype=torch.int64, device=dev)
    out_img = torch.empty(n, dtype=torch.int64, device=dev)
    n_rechecked = 0
    with _highest_matmul_precision(), torch.no_grad():
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            by_id, by_img, k = _chunk_ranks(e32, e64, codes_sorted, seg_start, seg_size, start, stop, tol2)
            out_id[start:stop] = by_id
            out_img[start:stop] = by_img
            n_rechecked += k
    rank_by_id[order] = out_id.cpu().numpy()
    rank_by_image[order] = out_img.cpu().numpy()
    return IdentificationRanks(rank_by_id, rank_by_image, n_rechecked)


def _device(device) -> torch.device:
    """``device`` as a torch device (default CPU); ValueError for an unknown name or a missing GPU."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device such as cpu, cuda or cuda:N, not {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} requested but no CUDA device is available")
    return dev


def _prepare(embeddings, identities) -> tuple[np.ndarray, np.ndarray]:
    emb = real_array(embeddings, "embeddings")
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D (N, d) array, got shape {emb.shape}")
    labels = as_labels(identities)
    if labels.ndim != 1 or len(labels) != len(emb):
        raise ValueError(f"identities must be 1-D of length {len(emb)}, got shape {labels.shape}")
    check_labels(labels, "identities")
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise ValueError(f"embedding row {int(np.flatnonzero(bad)[0])} contains NaN or inf")
    norms = np.linalg.norm(emb, axis=1)
    if (norms == 0).any():
        raise ValueError(f"embedding row {int(np.flatnonzero(norms == 0)[0])} is all zeros")
    codes, _ = pd.factorize(pd.Series(labels), sort=False)
    return emb / norms[:, None], codes.astype(np.int64)


@contextlib.contextmanager
def _highest_matmul_precision() -> Iterator[None]:
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _chunk_ranks(e32, e64, codes, seg_start, seg_size, start, stop, tol2):
    """Ranks of queries ``start:stop`` (gallery order); returns (by_id, by_image, n_rechecked).

    After the float32 product and the per-identity maxima (one scatter pass),
    only "candidate" identities can hold an image above or near the genuine
    similarity: those whose maximum is >= pos - 2 tol.  When their images are
    few (a reasonable model) only those are visited (sparse path); otherwise
    (near-random embeddings) the whole chunk is scanned (dense path).
    """
    dev = e32.device
    c = stop - start
    n = e32.shape[0]
    rows = torch.arange(c, device=dev)
    sims = e32[start:stop] @ e32.T  # (c, N) float32
    sims[rows, rows + start] = -math.inf  # leave-one-out, by index
    seg = torch.full((c, seg_size.numel()), -math.inf, device=dev).scatter_reduce_(
        1, codes.expand(c, -1), sims, "amax"
    )
    own = codes[start:stop]
    pos = seg[rows, own]  # similarity of the nearest genuine image (float32)
    has_genuine = torch.isfinite(pos)
    hi = (pos + tol2)[:, None]
    by_id = (seg > hi).sum(1)
    cand_r, cand_k = torch.nonzero((seg >= (pos - tol2)[:, None]) & has_genuine[:, None], as_tuple=True)
    n_visit = int(seg_size[cand_k].sum()) if cand_k.numel() else 0
    if n_visit <= _SPARSE_FRACTION * c * n:
        # Sparse: expand candidate identities to their images.
        sizes = seg_size[cand_k]
        r = torch.repeat_interleave(cand_r, sizes)
        first = torch.repeat_interleave(seg_start[cand_k] - (torch.cumsum(sizes, 0) - sizes), sizes)
        j = first + torch.arange(n_visit, device=dev)
        diff = sims[r, j] - pos[r]
        above = diff > tol2
        by_img = torch.bincount(r[above], minlength=c)
        band = (diff.abs() <= tol2) & (j != r + start)
        band_r, band_j = r[band], j[band]
    else:
        # Dense: |s32 - pos32| <= 2 tol over the whole chunk.
        sims.sub_(pos[:, None])
        band_r, band_j = torch.nonzero(sims.abs() <= tol2, as_tuple=True)
        by_img = sims.gt_(tol2).sum(1, dtype=torch.float32).to(torch.int64)  # exact below 2^24 columns
        keep = has_genuine[band_r] & (band_j != band_r + start)
        band_r, band_j = band_r[keep], band_j[keep]
    n_band = int(band_r.numel())
    if n_band:
        _recheck(e64, codes, own, start, band_r, band_j, seg, hi, by_id, by_img)
    by_id = torch.where(has_genuine, by_id, -1)
    by_img = torch.where(has_genuine, by_img, -1)
    return by_id, by_img, n_band


def _recheck(e64, codes, own, start, band_r, band_j, seg, hi, by_id, by_img):
    """Decide near-tie pairs with float64 similarities; updates by_id / by_img in place."""
    dim = e64.shape[1]
    step = max(1, _RECHECK_BATCH_ELEMENTS // dim)
    s64 = torch.cat(
        [
            (e64[band_r[i : i + step] + start] * e64[band_j[i : i + step]]).sum(1)
            for i in range(0, band_r.numel(), step)
        ]
    )
    same = codes[band_j] == own[band_r]
    c = own.numel()
    # Exact pos: the float32 maximiser is in the band, so the float64 max over
    # genuine band pairs is the float64 nearest-genuine similarity.
    pos64 = torch.full((c,), -math.inf, dtype=torch.float64, device=e64.device).scatter_reduce_(
        0, band_r[same], s64[same], "amax"
    )
    above = ~same & (s64 > pos64[band_r])
    r_above, j_above = band_r[above], band_j[above]
    by_img.index_add_(0, r_above, torch.ones_like(r_above))
    # An identity counts once: only those not already counted in float32
    # (segment max above the band), and each (query, identity) pair once.
    k_above = codes[j_above]
    fresh = seg[r_above, k_above] <= hi[r_above, 0]
    keys = torch.unique(r_above[fresh] * seg.shape[1] + k_above[fresh])
    by_id.index_add_(0, keys // seg.shape[1], torch.ones_like(keys))
