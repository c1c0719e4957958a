"""The bias-mitigation baselines on the known-bias benchmark: Error and Log-Odds Gap, mean ± std over seeds.

Run::

    .venv/bin/python benchmarks/bench_mitigation.py [--seeds 3] [--epochs 6] [--workers 2] [--out runs/mitigation]

For each of ``none``, ``flipped``, ``angular`` and ``discriminator`` a zoo study (one store per method:
``OUT/<method>.db``) trains the benchmark's DPN (``configs/synthetic-bias.yaml``, CosFace, AdamW) with that
``mitigation:`` section over ``--seeds`` seeds; the majority / better-served group is the control group ``A``
(Flipped relabels within A; Angular gives A the smaller margin). Figures are the trials' objectives on the
validation split (the search's objective). The last line is ``<method>=<error mean>/<gap mean> ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from fairvision.demo import MITIGATIONS
from fairvision.search.zoo import load_zoo_config, run_zoo

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
METHODS = MITIGATIONS  # none / flipped / angular / discriminator as training-config overrides (the demo's)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/mitigation")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for method, overrides in METHODS.items():
        cfg = load_zoo_config({
            "train": str(CONFIGS / "synthetic-bias.yaml"), "overrides": overrides, "backbones": ["frnas_dpn"],
            "heads": ["CosFace"], "optimizers": [{"name": "AdamW", "lr": 0.002}],
            "seeds": list(range(args.seeds)), "epochs": args.epochs, "objectives": ["Error", "Log-Odds Gap"],
            "study": f"mitigation-{method}",
        })
        print(f"== {method}", flush=True)
        trials = run_zoo(cfg, out / f"{method}.db", workers=args.workers, progress=False)
        for status, objectives in zip(trials["status"], trials["objectives"]):
            rows.append({"method": method, "status": status, **(objectives or {})})
    table = pd.DataFrame(rows)
    summary = table.groupby("method", sort=False)[["Error", "Log-Odds Gap"]].agg(["mean", "std", "count"])
    print(summary.round(4).to_string())
    print(" ".join(f"{m}={summary.loc[m, ('Error', 'mean')]:.4f}/{summary.loc[m, ('Log-Odds Gap', 'mean')]:.4f}"
                   for m in summary.index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
