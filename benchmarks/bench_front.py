"""One front on the known-bias benchmark: a search, a small zoo and the three mitigation baselines.

Run::

    .venv/bin/python benchmarks/bench_front.py [--out runs/front] [--seeds 3] [--workers 2]

Stages (each resumable: re-running continues the stores where they stopped):

1. ``fairvision search configs/search-synthetic.yaml`` (32 trials) into ``OUT/search.db``;
2. ``configs/zoo-synthetic.yaml`` with ``--seeds`` seeds into ``OUT/zoo.db``;
3. ``bench_mitigation.py`` (none / flipped / angular / discriminator, ``--seeds`` seeds) into ``OUT/mitigation/``;
4. every complete zoo and mitigation run evaluated on the independent *test* split too;
5. ``fairvision pareto OUT/search.db --plot OUT/front.png --baselines ...`` (baselines as mean ± std over seeds).

Prints, and writes to ``OUT/baselines.csv``, Error and Log-Odds Gap per baseline (mean ± std over seeds, validation
and test), and the search's front at the full budget.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

OBJECTIVES = ["Error", "Log-Odds Gap"]


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "fairvision.cli", *args]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def _baseline_runs(path: Path, label: str) -> list[dict]:
    from fairvision.search.analysis import open_store, trial_records
    from fairvision.train import evaluate

    store = open_store(path)
    try:
        records = [r for r in trial_records(store) if r["status"] == "complete"]
        frame = store.trials().set_index("number")
    finally:
        store.close()
    rows = []
    for r in records:
        cfg = r["config"]
        name = label or "/".join(str(cfg[k]) for k in ("backbone", "optimizer"))
        test = evaluate(frame.loc[r["number"], "run_dir"], split="test", device="cpu")
        rows.append({"name": name, "seed": int(frame.loc[r["number"], "seed"]),
                     **{f"val {k}": r["objectives"][k] for k in OBJECTIVES},
                     **{f"test {k}": float(test[k]) for k in OBJECTIVES}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/front")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    _cli("search", str(ROOT / "configs/search-synthetic.yaml"), "--store", str(out / "search.db"),
         "--workers", str(args.workers), "--quiet")

    from fairvision.search.zoo import load_zoo_config, run_zoo

    zoo = load_zoo_config(ROOT / "configs/zoo-synthetic.yaml")
    zoo.seeds = list(range(args.seeds))
    print("== zoo", flush=True)
    run_zoo(zoo, out / "zoo.db", workers=args.workers, progress=False)

    import bench_mitigation

    bench_mitigation.main(["--seeds", str(args.seeds), "--workers", str(args.workers),
                           "--out", str(out / "mitigation")])

    rows = _baseline_runs(out / "zoo.db", "")
    for method in bench_mitigation.METHODS:
        rows += _baseline_runs(out / "mitigation" / f"{method}.db", f"DPN + {method}")
    table = pd.DataFrame(rows)
    table.to_csv(out / "baselines.csv", index=False)
    cols = [f"{s} {k}" for s in ("val", "test") for k in OBJECTIVES]
    summary = table.groupby("name", sort=False)[cols].agg(["mean", "std", "count"])
    summary.to_csv(out / "baselines_summary.csv")
    print(summary.round(3).to_string())

    baselines = [str(out / "zoo.db")] + [str(out / "mitigation" / f"{m}.db") for m in bench_mitigation.METHODS]
    _cli("pareto", str(out / "search.db"), "--plot", str(out / "front.png"),
         *[a for b in baselines for a in ("--baselines", b)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
