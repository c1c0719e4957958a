"""Attribute bias metrics (Iofinova et al., CVPR 2023) at CelebA size: a whole sparsity study.

A study of the paper's shape: 7 sparsities x 3 seeds x 3 threshold policies
(default, recalibrated, recalibrated_per_group) on CelebA-sized synthetic
data -- 19,962 test and 19,867 validation rows of 40 logits, 162,770 training
label rows.  Labels come from correlated latent traits (like CelebA's
attributes, e.g. Male / No_Beard), logits from the same traits with noise that
grows with sparsity.  Timed: ``attribute_bias_report(...).summary()`` for
every (sparsity, seed, policy); making the data is not.  Wall time depends on
other load on the machine; CPU time (all threads) is printed beside it.

    python benchmarks/bench_attribute_metrics.py
    python benchmarks/bench_attribute_metrics.py --seeds 1 --sparsities 0 0.9
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402

from fairvision.metrics import POLICIES, attribute_bias_report  # noqa: E402

CELEBA_ATTRS = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
SIZES = {"train": 162_770, "val": 19_867, "test": 19_962}


class Traits:
    """Latent traits -> 40 correlated attribute scores; rare attributes get a negative offset."""

    def __init__(self, seed: int = 0, n_traits: int = 6) -> None:
        rng = np.random.default_rng(seed)
        self.weights = rng.standard_normal((n_traits, len(CELEBA_ATTRS))) * 0.8
        self.offsets = rng.uniform(-2.5, 0.8, len(CELEBA_ATTRS))

    def scores(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.weights.shape[0])) @ self.weights + self.offsets

    def labels(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (scores + 0.7 * rng.standard_normal(scores.shape) > 0).astype(np.int8)


def logits_for(scores: np.ndarray, sparsity: float, seed: int) -> np.ndarray:
    """A model's logits: sharper than the scores, noisier and biased towards common values as sparsity grows."""
    rng = np.random.default_rng(seed)
    noise = 0.6 + 2.0 * sparsity**3
    return 2.5 * scores - 0.5 * sparsity + noise * rng.standard_normal(scores.shape)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    traits = Traits()
    scores = {split: traits.scores(n, rng) for split, n in SIZES.items()}
    labels = {split: traits.labels(s, rng) for split, s in scores.items()}
    print(machine())
    print(f"test {labels['test'].shape}, val {labels['val'].shape}, train {labels['train'].shape}; "
          f"{len(args.sparsities)} sparsities x {args.seeds} seeds x {len(POLICIES)} policies")

    rows = []
    for sparsity in args.sparsities:
        for seed in range(args.seeds):
            test = logits_for(scores["test"], sparsity, 1000 * seed + 1)
            val = logits_for(scores["val"], sparsity, 1000 * seed + 2)
            for policy in POLICIES:
                t0, c0 = time.perf_counter(), time.process_time()
                report = attribute_bias_report(test, labels["test"], attributes=CELEBA_ATTRS,
                                               train_labels=labels["train"], policy=policy,
                                               val_logits=val, val_labels=labels["val"])
                summary = report.summary()
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
                rows.append({"sparsity": sparsity, "seed": seed, "policy": policy, "seconds": seconds, "cpu": cpu,
                             "rows": len(summary), "mean_accuracy": summary["accuracy"].mean(),
                             "mean_abs_ba": summary["bias_amplification"].abs().mean(),
                             "ba_computed": int(summary["bias_amplification"].notna().sum())})
    table = pd.DataFrame(rows)
    by_policy = table.groupby("policy", sort=False)["seconds"].agg(["mean", "median", "max"])
    pd.set_option("display.width", 140)
    print(table.groupby(["sparsity", "policy"], sort=False)[["mean_accuracy", "mean_abs_ba", "ba_computed"]]
          .mean().round(4).to_string())
    print("seconds per (sparsity, seed, policy), by policy:")
    print(by_policy.round(4).to_string())
    total = table["seconds"].sum()
    print(f"total {total:.2f} s wall ({table['cpu'].sum():.2f} s CPU, all threads) for {len(table)} summaries "
          f"({total / len(table):.3f} s each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
