"""Chained vs independent sparsity sweeps: what does chaining cost, and does it give the same bias?

Run::

    .venv/bin/python benchmarks/bench_prune.py [--config configs/prune-synthetic-tiny.yaml] [--out runs/bench-prune]

Runs the study of ``--config`` twice in this process, sharing its dense models:

* **chained** -- the config's sweep with ``schedule: chained`` (each level fine-tunes the previous level's
  pruned model for the config's ``finetune`` epochs);
* **independent** -- ``schedule: scratch``: every level is one full training with GMP from scratch (pruning
  events spread over the middle of training, as the paper's 10..80 of 100 epochs), i.e. one training per level.

Cost = training + evaluation seconds recorded in each run's history (so the shared dense models and the
driver's overhead are not counted twice). Per level: mean accuracy and mean |bias amplification| (default
threshold, test split) of each sweep, mean over seeds, and whether the chained mean lies inside the
independent runs' seed range (min..max). The last line is
``chained_cost_vs_dense=<x> independent_cost_vs_dense=<x> levels_inside_spread=<k>/<n>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from fairvision.prune.study import load_study_config, run_prune_study
from fairvision.prune.summary import by_level, run_name


def _seconds(run_dir: Path) -> float:
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]
    return sum(r["seconds"] + (r["eval_seconds"] or 0.0) for r in records)


def _scratch_prune(epochs: int) -> dict:
    start = max(1, epochs // 5)
    end = max(start + 1, (3 * epochs) // 4)
    return {"method": "gmp", "scope": "global", "start": start, "end": end, "freq": max(1, (end - start) // 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/prune-synthetic-tiny.yaml")
    parser.add_argument("--out", default="runs/bench-prune")
    args = parser.parse_args(argv)
    out = Path(args.out)
    base = load_study_config(args.config)
    train = base.train if isinstance(base.train, dict) else None
    chained = base.model_copy(update={"sweep": base.sweep.model_copy(update={"schedule": "chained"})})
    chained.base_dir = base.base_dir
    epochs = int((train or {}).get("train", {}).get("epochs", 10))
    scratch = base.model_copy(update={"sweep": base.sweep.model_copy(
        update={"schedule": "scratch", "finetune": [], "prune": _scratch_prune(epochs)})})
    scratch.base_dir = base.base_dir
    summaries = {}
    for name, cfg in (("chained", chained), ("independent", scratch)):
        folder = out / name
        if name == "independent" and (out / "chained" / "runs").exists():  # share the dense models
            for seed in cfg.sweep.seeds:
                src, dst = out / "chained" / "runs" / run_name(0.0, seed), folder / "runs" / run_name(0.0, seed)
                if src.exists() and not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.symlink_to(src.resolve())
        print(f"== {name} sweep -> {folder}", flush=True)
        summaries[name] = run_prune_study(cfg, folder, progress=False)
    seeds, levels = base.sweep.seeds, base.sweep.sparsities
    dense = sum(_seconds(out / "chained" / "runs" / run_name(0.0, s)) for s in seeds) / len(seeds)
    cost = {name: sum(_seconds(out / name / "runs" / run_name(level, s)) for s in seeds for level in levels) / len(seeds)
            for name in summaries}
    print(f"\none dense training: {dense:.1f} s (mean over {len(seeds)} seeds)")
    for name, c in cost.items():
        print(f"{name:12s} sweep over {len(levels)} levels: {c:.1f} s per seed = {c / dense:.2f} x one dense training")
    tables = {name: by_level(s) for name, s in summaries.items()}
    rows, inside = [], 0
    for level in levels:
        row: dict = {"level": level}
        ok = True
        for metric in ("accuracy", "mean_abs_ba"):
            parts = {n: t[(t["requested"] == level) & (t["threshold"] == "default")][metric] for n, t in tables.items()}
            ind = parts["independent"]
            mean = parts["chained"].mean()
            row[f"chained {metric}"] = round(mean, 4)
            row[f"independent {metric} (min..max)"] = f"{ind.mean():.4f} ({ind.min():.4f}..{ind.max():.4f})"
            ok &= bool(ind.min() <= mean <= ind.max())
        row["inside spread"] = ok
        inside += ok
        rows.append(row)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))
    print(f"chained_cost_vs_dense={cost['chained'] / dense:.2f} independent_cost_vs_dense="
          f"{cost['independent'] / dense:.2f} levels_inside_spread={inside}/{len(levels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
