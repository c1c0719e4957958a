"""Cost of an exact resume: replaying a finished search's asks and tells vs restoring its results.

Run::

    PYTHONHASHSEED=0 .venv/bin/python benchmarks/bench_resume.py [--trials 100] [--engines smac optuna-tpe random]

For each engine, a search of ``--trials`` trials on the analytic FR-NAS objective
(:class:`fairvision.search.ToyObjective`, no training) is run to the end once. Then, side by side on
copies of that store, a fresh engine is brought back to the recorded state two ways:

* *replay* (what ``run_search`` does): every recorded ask is asked again and every result told again in
  the recorded order, so the engine is exactly where the uninterrupted search was (Hyperband brackets
  included);
* *restore* (the baseline, and the fallback for old stores): results are told to the engine in finishing
  order without asking; cheap, but SMAC's Hyperband state is lost.

Printed: seconds of the uninterrupted search, of each way back, and replay / restore and replay / search
ratios: the price of an exact resume, paid once per restart. Real trials train for minutes to hours,
so the absolute seconds are what matters.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search
from fairvision.search.driver import _restore, _resume

OBJ = ["Error", "Rank Disparity"]


def _engine(name: str, n: int):
    options = {"eta": 2, "n_initial": 10} if name == "smac" else {}
    return create_engine(name, frnas_space(), OBJ, seed=0, min_budget=1, max_budget=16, n_trials=n, **options)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--engines", nargs="+", default=["smac", "optuna-tpe", "optuna-nsga2", "random"])
    args = p.parse_args()
    logging.disable(logging.WARNING)
    print(f"{'engine':<14}{'search s':>10}{'replay s':>10}{'restore s':>11}{'replay/restore':>16}{'replay/search':>15}")
    for name in args.engines:
        tmp = Path(tempfile.mkdtemp())
        try:
            t0 = time.perf_counter()
            first = TrialStore(tmp / "s.db")
            run_search(ToyObjective(), engine=_engine(name, args.trials), store=first, n_trials=args.trials,
                       progress=False)
            search = time.perf_counter() - t0
            first.close()  # checkpoints SQLite's write-ahead log into s.db before the copies
            times = {}
            for way in ("replay", "restore"):
                shutil.copy(tmp / "s.db", tmp / f"{way}.db")
                store = TrialStore(tmp / f"{way}.db")
                store.load_study("default")
                engine = _engine(name, args.trials)
                t0 = time.perf_counter()
                if way == "replay":
                    engine, _, done = _resume(engine, store, "default")
                else:
                    _restore(engine, store.trials())
                times[way] = time.perf_counter() - t0
                engine.close()
                store.close()
            print(f"{name:<14}{search:>10.2f}{times['replay']:>10.2f}{times['restore']:>11.2f}"
                  f"{times['replay'] / times['restore']:>15.2f}x{times['replay'] / search:>14.2f}x")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
