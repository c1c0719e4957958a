"""Does the architecture change fairness on the known-bias benchmark, beyond how well the model works?

Run::

    .venv/bin/python benchmarks/bench_archbias.py [--seeds 5] [--epochs 6] [--jobs 2] [--out runs/archbias]

Trains K configurations spanning the FR-NAS space (ops of the three block edges: BN-ReLU-Conv, plain
Conv and Conv-BN-ReLU at kernel 1/3/5; CosFace/ArcFace/MagFace; Adam, AdamW and SGD with the search's
per-optimizer overrides) x ``--seeds`` seeds on ``configs/synthetic-bias.yaml``, and scores each on the
validation split (the search's objective: 240 held-out identities) and on the independent test split
(240 other held-out identities, never used for any decision). The fairness objective is the
``Log-Odds Gap`` (max over group pairs of |logit err_a - logit err_b|).

Statistics (statsmodels), on the independent split, one row per (configuration, seed):

* one-way ANOVA of the Log-Odds Gap across configurations;
* ANCOVA ``gap ~ Error + C(config)`` (type II): is there a configuration effect on fairness once
  the model's Error is accounted for? (a uniformly better model is not "fairer" by this test);
* Spearman correlation of the configurations' mean gap between validation and the independent split
  (does the search's objective rank configurations the way fresh data does?);
* untrained = configurations whose mean independent Error exceeds 0.9 (chance is 0.996).

The last line is ``ancova_p=<float> anova_p=<float> spearman=<float> untrained=<int>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "synthetic-bias.yaml"
SEARCH = ROOT / "configs" / "search-synthetic.yaml"
FAIRNESS = "Log-Odds Gap"

#: name -> (edges, head, optimizer, lr); FR-NAS ops: 0/1/2 BN-ReLU-Conv k3/k1/k5, 3/4/5 Conv, 6/7/8 Conv-BN-ReLU
CONFIGS = {
    "frnas-default": ((2, 0, 1), "CosFace", "Adam", 1e-3),  # FR-NAS's default DPN configuration
    "preact-k3": ((0, 0, 0), "CosFace", "AdamW", 2e-3),
    "preact-k5": ((2, 2, 2), "CosFace", "AdamW", 2e-3),
    "plain-k3": ((3, 3, 3), "CosFace", "AdamW", 2e-3),
    "plain-k5": ((5, 5, 5), "ArcFace", "AdamW", 2e-3),
    "plain-mixed": ((3, 5, 3), "CosFace", "SGD", 0.1),
    "post-k3k5": ((6, 8, 6), "MagFace", "AdamW", 2e-3),
    "dpn-sgd": ((1, 0, 1), "ArcFace", "SGD", 0.2),
}


def _optimizer_overrides() -> dict[str, list[str]]:
    return yaml.safe_load(SEARCH.read_text()).get("optimizer_overrides", {})


def train_one(job: tuple[str, int, int, str]) -> dict:
    """Train one (configuration, seed) and score it on val and the independent test split."""
    import torch

    from fairvision.search.training import TrainingObjective
    from fairvision.train import evaluate

    torch.set_num_threads(1)
    name, seed, epochs, out = job
    edges, head, optimizer, lr = CONFIGS[name]
    base = yaml.safe_load(CONFIG.read_text())
    base["data"]["root"] = str(Path(out) / "data")  # one cached copy of the faces for every run
    objective = TrainingObjective(base, max_budget=epochs, objectives=["Error", FAIRNESS],
                                  optimizer_overrides=_optimizer_overrides())
    config = {"edge1": str(edges[0]), "edge2": str(edges[1]), "edge3": str(edges[2]), "head": head,
              "optimizer": optimizer, ("lr_sgd" if optimizer == "SGD" else "lr_adam"): lr}
    run_dir = Path(out) / f"{name}_seed{seed}"
    t0 = time.perf_counter()
    result = objective(config, epochs, seed, run_dir)
    test = evaluate(run_dir, split="test", device="cpu") if result["status"] == "complete" else {}
    return {"config": name, "seed": seed, "status": result["status"], "seconds": time.perf_counter() - t0,
            "val_error": result["metrics"].get("Error", 1.0), "val_gap": result["metrics"].get(FAIRNESS),
            "test_error": test.get("Error", 1.0), "test_gap": test.get(FAIRNESS),
            "test_groups": {g: v["error"] for g, v in test.get("groups", {}).items()},
            "val_groups": {g: v["error"] for g, v in result["metrics"].get("groups", {}).items()}}


def statistics(frame: pd.DataFrame) -> dict[str, float]:
    """ANOVA, ANCOVA (gap ~ Error + config), Spearman(val means, test means), untrained count."""
    from fairvision._extras import require_extra

    require_extra("stats")  # one line naming the pip command instead of an ImportError
    import statsmodels.formula.api as smf
    from scipy.stats import spearmanr
    from statsmodels.stats.anova import anova_lm

    ok = frame.dropna(subset=["test_gap", "val_gap"])
    anova = anova_lm(smf.ols("test_gap ~ C(config)", ok).fit())
    ancova = anova_lm(smf.ols("test_gap ~ test_error + C(config)", ok).fit(), typ=2)
    means = ok.groupby("config")[["val_gap", "test_gap"]].mean()
    return {
        "ancova_p": float(ancova.loc["C(config)", "PR(>F)"]),
        "anova_p": float(anova.loc["C(config)", "PR(>F)"]),
        "spearman": float(spearmanr(means["val_gap"], means["test_gap"]).statistic),
        "untrained": int((frame.groupby("config")["test_error"].mean() > 0.9).sum()),
    }


def _show(row: dict) -> None:
    print(f"{row['config']:<14} seed {row['seed']}  {row['seconds']:5.0f} s  val Error {row['val_error']:.3f} "
          f"gap {row['val_gap'] or float('nan'):.3f} | test Error {row['test_error']:.3f} "
          f"gap {row['test_gap'] or float('nan'):.3f}  "
          + " ".join(f"{g}={e:.2f}" for g, e in row["test_groups"].items()), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="runs/archbias")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = p.parse_args()
    jobs = [(name, seed, args.epochs, args.out) for seed in range(args.seeds) for name in args.configs]
    t0 = time.perf_counter()
    rows = [train_one(jobs.pop(0))]  # alone first: it generates the cached data every run then reads
    _show(rows[0])
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(train_one, jobs):
            rows.append(row)
            _show(row)
    frame = pd.DataFrame(rows)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    frame.to_json(Path(args.out) / "archbias.json", orient="records", indent=1)
    groups = pd.DataFrame(list(frame["test_groups"])).add_prefix("err_")
    table = pd.concat([frame[["config", "val_error", "val_gap", "test_error", "test_gap"]], groups], axis=1)
    print(table.groupby("config", sort=False).mean().round(3).to_string())
    stats = statistics(frame)
    print(f"wall {time.perf_counter() - t0:.0f} s for {len(rows)} runs ({args.jobs} jobs)")
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in stats.items()))


if __name__ == "__main__":
    sys.exit(main())
