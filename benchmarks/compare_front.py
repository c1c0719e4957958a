"""Is a search's front fairer than FR-NAS's default configuration at no more than its error?

Run (after ``bench_archbias.py``, which trains the default configuration with 5 seeds, and one or more
searches of ``configs/search-synthetic.yaml``)::

    .venv/bin/python benchmarks/compare_front.py runs/archbias/archbias.json runs/search-s0/synthetic.db ...

For each store: the Pareto front at the full budget; its fairest member (lowest ``Log-Odds Gap``) among
those whose validation Error is at most the default's mean validation Error; whether it is fairer than
the default on validation; and the same member re-evaluated on the independent test split
(:func:`fairvision.train.evaluate`) next to the default's test figures.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from fairvision.search.analysis import front_summary, open_store
from fairvision.train import evaluate

FAIRNESS = "Log-Odds Gap"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bench", help="archbias.json written by bench_archbias.py")
    p.add_argument("stores", nargs="+", help="trial stores of searches on configs/search-synthetic.yaml")
    args = p.parse_args()
    default = pd.read_json(args.bench)
    default = default[default["config"] == "frnas-default"]
    val_e, val_g = default["val_error"].mean(), default["val_gap"].mean()
    test_e, test_g = default["test_error"].mean(), default["test_gap"].mean()
    print(f"FR-NAS default (edges 2/0/1, CosFace, Adam 1e-3), {len(default)} seeds: val Error {val_e:.3f} gap "
          f"{val_g:.3f}; test Error {test_e:.3f} gap {test_g:.3f}")
    for path in args.stores:
        store = open_store(path)
        try:
            front = front_summary(store)["front"]
            trials = store.trials()
        finally:
            store.close()
        full = int((trials["budget"] >= trials["budget"].max()).sum())
        line = f"{path}: {len(trials)} trials ({full} at the full budget), front of {len(front)} points"
        eligible = front[front["Error"] <= val_e]
        if len(eligible):
            best = eligible.sort_values(FAIRNESS).iloc[0]
            test = evaluate(best["run_dir"], split="test", device="cpu")
            verdict = "fairer" if best[FAIRNESS] < val_g else "NOT fairer"
            line += (f"; fairest with Error <= default: trial {int(best['number'])} {json.dumps(best['config'])}: "
                     f"val Error {best['Error']:.3f} gap {best[FAIRNESS]:.3f} ({verdict}); test Error "
                     f"{test['Error']:.3f} gap {test[FAIRNESS]:.3f}")
        else:
            line += "; no front member with Error <= the default's"
        print(line)
        print(front[["number", "budget", "Error", FAIRNESS]].to_string(index=False))


if __name__ == "__main__":
    main()
