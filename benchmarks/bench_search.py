"""Search engines on a tabular benchmark built from FR-NAS's phase-1 results (VGGFace2 validation).

Run::

    .venv/bin/python benchmarks/bench_search.py [--seeds 20] [--cap 300] [--jobs 2] \\
        [--engines random optuna-nsga2 optuna-tpe smac]

Table: ``tests/data/frnas/analysis/vgg_val_phase1.csv``. Each row's ``index`` is parsed as
``<backbone>_<head>_<optimizer>[_<lr variant>]`` (``xception65_ArcFace_AdamW_0.001_cosine`` →
xception65 / ArcFace / AdamW / "0.001_cosine"; ``selecsls60b_MagFace_SGD`` → lr variant "default").
Optimizer spellings are kept as written (the table has distinct ``AdamW`` and ``adamw`` runs).

Space: flat categorical backbone (29) × head (3) × optimizer (9) × lr variant (3) = 2,349
combinations; 355 are in the table, 302 of them usable. Objectives: Error and Rank Disparity,
both minimised, by lookup. A combination absent from the table is a crashed trial; a diverged row
(all values empty, or Error = 1, as the paper treated them) is told as diverged. Every engine runs
at one budget (the table's 10 epochs; smac with min_budget = max_budget, so Hyperband degenerates
to plain BO with the same RF/ParEGO model). Every ``ask`` counts as a trial, repeats included.

Runs execute in spawned worker processes with ``PYTHONHASHSEED=0``: SMAC's results depend on the
hash seed (its local search de-duplicates start points through a ``set``), optuna's and random's
do not. With that, every figure below is reproducible run to run.

Metric: number of trials until the hypervolume of the usable results seen so far reaches 95 % of the
hypervolume of the whole table's front, reference point (Error = 1, Rank Disparity = max over usable
rows = 13.677). Median over ``--seeds`` seeds; a run that has not reached it after ``--cap`` trials
counts as "not reached" (> cap) in the median and is reported. Ratio = engine median / random median.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TABLE = Path(__file__).resolve().parents[1] / "tests/data/frnas/analysis/vgg_val_phase1.csv"
NAME = re.compile(r"^(?P<backbone>.+)_(?P<head>CosFace|ArcFace|MagFace)_(?P<optimizer>[A-Za-z]+)(?:_(?P<lr>.+))?$")
OBJ = ["Error", "Rank Disparity"]
TARGET = 0.95
BUDGET = 10.0  # the table's epoch
ENGINES = ["random", "optuna-nsga2", "optuna-tpe", "smac"]


def load_table() -> tuple[pd.DataFrame, dict]:
    df = pd.read_csv(TABLE)
    parts = df["index"].str.extract(NAME)
    if parts.isna()["backbone"].any():
        raise SystemExit(f"unparsed names: {df['index'][parts['backbone'].isna()].tolist()}")
    df = pd.concat([df, parts.fillna({"lr": "default"})], axis=1)
    usable = df[OBJ].notna().all(axis=1) & (df["Error"] < 1)
    lookup = {}
    for r in df.assign(usable=usable).to_dict("records"):
        key = (r["backbone"], r["head"], r["optimizer"], r["lr"])
        lookup[key] = (r["Error"], r["Rank Disparity"], bool(r["usable"]))
    return df[usable], lookup


def space():
    from ConfigSpace import Categorical, ConfigurationSpace

    df = pd.read_csv(TABLE)["index"].str.extract(NAME).fillna({"lr": "default"})
    cs = ConfigurationSpace()
    cs.add(*(Categorical(col, sorted(df[col].unique())) for col in ("backbone", "head", "optimizer", "lr")))
    return cs


def reference_and_target(usable: pd.DataFrame) -> tuple[list[float], float]:
    from fairvision.search import hypervolume

    ref = [1.0, float(usable["Rank Disparity"].max())]
    return ref, TARGET * hypervolume(usable[OBJ].to_numpy(), ref, ["minimize"] * 2)


def one_run(engine_name: str, seed: int, cap: int) -> tuple[int | None, float]:
    """Trials needed to reach the target (None if not within ``cap``) and wall seconds."""
    import logging
    import tempfile

    from fairvision.search import create_engine, hypervolume, pareto_front

    logging.getLogger("fairvision").setLevel(logging.ERROR)
    logging.getLogger("smac").setLevel(logging.ERROR)  # "Did not find enough configurations ..."
    usable, lookup = load_table()
    ref, target = reference_and_target(usable)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        eng = create_engine(engine_name, space(), OBJ, seed=seed, min_budget=BUDGET, max_budget=BUDGET,
                            n_trials=cap, output_dir=tmp)
        front = np.empty((0, 2))
        for n in range(1, cap + 1):
            t = eng.ask()
            key = (t.config["backbone"], t.config["head"], t.config["optimizer"], t.config["lr"])
            if key not in lookup:
                eng.tell(t, None, status="crashed")
                continue
            err, rd, ok = lookup[key]
            if not ok:
                eng.tell(t, {"Error": err, "Rank Disparity": rd}, status="diverged")
                continue
            eng.tell(t, {"Error": err, "Rank Disparity": rd})
            pts = np.vstack([front, [[err, rd]]])
            front = pts[pareto_front(pts, ["minimize"] * 2)]
            if hypervolume(front, ref, ["minimize"] * 2) >= target:
                return n, time.perf_counter() - t0
    return None, time.perf_counter() - t0


def _job(args: tuple[str, int, int]) -> tuple[str, int, int | None, float]:
    name, seed, cap = args
    n, secs = one_run(name, seed, cap)
    return name, seed, n, secs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--cap", type=int, default=300)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--engines", nargs="+", default=ENGINES)
    a = p.parse_args(argv)

    usable, lookup = load_table()
    ref, target = reference_and_target(usable)
    n_space = int(np.prod([len(h.choices) for h in space().values()]))
    print(f"table: {len(lookup)} configurations, {len(usable)} usable; space: {n_space} combinations")
    print(f"reference point {ref}; target = 95% of full-front hypervolume = {target:.4f}")
    jobs = [(e, s, a.cap) for e in a.engines for s in range(a.seeds)]
    t0 = time.perf_counter()
    results: dict[str, list[int | None]] = {e: [None] * a.seeds for e in a.engines}
    secs: dict[str, float] = {e: 0.0 for e in a.engines}
    # SMAC's local search orders its start points through a set of Configurations, whose hashes
    # depend on PYTHONHASHSEED: fix it in the (spawned) workers so smac's figures are reproducible
    os.environ["PYTHONHASHSEED"] = "0"
    with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for name, seed, n, s in pool.map(_job, jobs):
            results[name][seed] = n
            secs[name] += s
    wall = time.perf_counter() - t0

    def median(vals: list[int | None]) -> float:
        return statistics.median([v if v is not None else float("inf") for v in vals])

    base = median(results["random"]) if "random" in results else float("nan")
    print(f"\n{'engine':<14} {'median trials':>13} {'ratio to random':>15} {'not reached':>11} "
          f"{'min':>5} {'max':>5} {'cpu s/run':>9}")
    for name in a.engines:
        vals = results[name]
        reached = [v for v in vals if v is not None]
        med = median(vals)
        med_s = f"> {a.cap}" if med == float("inf") else f"{med:g}"
        ratio = med / base if np.isfinite(med) and np.isfinite(base) else float("nan")
        print(f"{name:<14} {med_s:>13} {ratio:>15.2f} {len(vals) - len(reached):>6} / {len(vals):<3} "
              f"{min(reached, default=0):>5} {max(reached, default=0):>5} {secs[name] / len(vals):>9.2f}")
    print(f"\nper-seed trials: " + "; ".join(f"{k}: {v}" for k, v in results.items()))
    print(f"wall time {wall:.0f} s with {a.jobs} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
