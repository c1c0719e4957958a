"""Identification ranks: fairvision's chunked exact algorithm vs the straightforward one.

Straightforward (what FR-NAS-style code does): the full N x N similarity
matrix, a full sort of every row, then a walk along each sorted row to the
first genuine image.  It is run in float64 so that both give identical ranks,
which is asserted.  The floor is one bare float32 N x N matrix product of the
same embeddings.  Peak memory is RSS above the start of each block, sampled in
this process.

    python benchmarks/bench_ranks.py                  # N = 5,000 and 15,272, then N = 100,000 ours alone
    python benchmarks/bench_ranks.py --sizes 2000 --big 0
    python benchmarks/bench_ranks.py --device cuda --big 1000000   # GPU, where available
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import Measure, machine, mib  # noqa: E402

from fairvision.metrics import identification_ranks  # noqa: E402


def make_data(n: int, dim: int, seed: int = 0, images_per_id: int = 17) -> tuple[np.ndarray, np.ndarray]:
    """Clustered embeddings (identity centre + noise), like a mediocre face model."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n) // images_per_id
    centres = rng.standard_normal((ids[-1] + 1, dim), dtype=np.float32)
    emb = centres[ids] + 2.5 * rng.standard_normal((n, dim), dtype=np.float32)
    return emb, ids


def straightforward(emb: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = emb.astype(np.float64)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    sims = e @ e.T
    n = len(e)
    by_id = np.full(n, -1)
    by_img = np.full(n, -1)
    for i in range(n):
        order = np.argsort(-sims[i], kind="stable")
        order = order[order != i]
        labels = ids[order]
        hits = np.flatnonzero(labels == ids[i])
        if len(hits) == 0:
            continue
        first = hits[0]
        by_img[i] = first
        by_id[i] = len(np.unique(labels[:first]))
    return by_id, by_img


def floor(emb: np.ndarray, device: str) -> None:
    t = torch.from_numpy(emb).to(device)
    (t @ t.T).sum().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[5000, 15272])
    parser.add_argument("--big", type=int, default=100_000, help="N for ours alone (0 = skip)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"d = {args.dim}, device = {args.device}")
    identification_ranks(*make_data(500, args.dim), device=args.device)  # warm-up
    header = f"{'N':>8} {'ours s':>8} {'ours mem':>10} {'naive s':>8} {'naive mem':>10} {'floor s':>8} {'naive/ours':>10} {'ours/floor':>10}"
    print(header)
    for n in args.sizes:
        emb, ids = make_data(n, args.dim)
        m_floor, m_ours, m_naive = Measure(), Measure(), Measure()
        with m_floor():
            floor(emb, args.device)
        with m_ours():
            ours = identification_ranks(emb, ids, device=args.device)
        with m_naive():
            ref = straightforward(emb, ids)
        assert np.array_equal(ours.rank_by_id, ref[0]) and np.array_equal(ours.rank_by_image, ref[1]), "ranks differ"
        print(
            f"{n:>8} {m_ours.seconds:>8.2f} {mib(m_ours.peak):>10} {m_naive.seconds:>8.2f} {mib(m_naive.peak):>10} "
            f"{m_floor.seconds:>8.2f} {m_naive.seconds / m_ours.seconds:>9.1f}x {m_ours.seconds / m_floor.seconds:>9.2f}x"
            f"   (identical ranks; {ours.n_rechecked} near-tie pairs re-checked in float64)"
        )
    if args.big:
        emb, ids = make_data(args.big, args.dim)
        m_big = Measure()
        with m_big():
            ours = identification_ranks(emb, ids, device=args.device)
        print(
            f"{args.big:>8} {m_big.seconds:>8.2f} {mib(m_big.peak):>10}   ours alone "
            f"(embeddings themselves: {mib(emb.nbytes)}; accuracy {np.mean(ours.rank_by_id == 0):.3f})"
        )


if __name__ == "__main__":
    main()
