"""Reading a finished (or running) search back from its store: trials, the front, retraining.

* :func:`trial_records` -- every trial as ``{"number", "config", "budget", "status", "objectives"}``;
* :func:`front_summary` -- the Pareto front at the full budget (strict dominance by default, as
  FR-NAS), its hypervolume for an explicit reference point, the hypervolume after each trial, and
  Kendall τ of each objective between every lower budget and the full budget (is Hyperband safe for
  a fairness objective here?);
* :func:`retrain_front` -- FR-NAS phase 2: retrain the best front configurations at the full budget
  with several seeds and evaluate them on the test split (mean ± std).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairvision.errors import ConfigError

__all__ = ["baseline_table", "open_store", "trial_records", "front_summary", "retrain_front"]


def open_store(path: str | Path, study: str | None = None):
    """Open an existing store file/URL and its study (the only one when ``study`` is None)."""
    from fairvision.search.store import TrialStore

    if "://" not in str(path) and not Path(path).is_file():
        raise ConfigError(f"{path}: no trial store at this path")
    store = TrialStore(path)
    try:
        store.load_study(study)
    except BaseException:
        store.close()
        raise
    return store


def trial_records(store) -> list[dict[str, Any]]:
    """Every trial of the store's study, in number order."""
    out = []
    for row in store.trials().itertuples(index=False):
        out.append({"number": int(row.number), "config": row.config, "budget": float(row.budget),
                    "status": row.status, "objectives": row.objectives or {}})
    return out


def baseline_table(path: str | Path, study: str | None = None) -> pd.DataFrame:
    """The complete trials of another store (a zoo, a mitigation study) as baselines to overlay on a front:
    one row per trial, ``name`` (its configuration, e.g. ``resnet18/CosFace/AdamW``, and seed) plus its
    objectives."""
    store = open_store(path, study)
    try:
        rows = []
        for r in trial_records(store):
            if r["status"] != "complete":
                continue
            parts = [str(r["config"][k]) for k in ("backbone", "head", "optimizer") if k in r["config"]]
            name = "/".join(parts) or f"trial {r['number']}"
            rows.append({"name": f"{store.study_name}: {name}", **r["objectives"]})
        return pd.DataFrame(rows)
    finally:
        store.close()


def _reference(frame: pd.DataFrame, objectives, reference: Sequence[float] | None) -> list[float]:
    if reference is not None:
        if len(reference) != len(objectives):
            raise ConfigError(f"reference point needs {len(objectives)} values, got {len(reference)}")
        return [float(v) for v in reference]
    ref = []
    for o in objectives:  # Error is bounded by 1; others: worst observed value, widened by 10%
        if o.is_error:
            ref.append(1.0)
            continue
        col = frame[o.name].astype(float)
        worst = col.max() if o.direction == "minimize" else col.min()
        ref.append(float(worst + 0.1 * abs(worst) + 1e-12) if o.direction == "minimize"
                   else float(worst - 0.1 * abs(worst) - 1e-12))
    return ref


def front_summary(store, *, strict: bool = True, reference: Sequence[float] | None = None) -> dict[str, Any]:
    """Front, hypervolume, hypervolume curve and Kendall τ of the store's study."""
    from fairvision.search.pareto import hypervolume, kendall_tau_by_budget, pareto_front

    objectives = store.study()["objectives"]
    names = [o.name for o in objectives]
    trials = store.trials()
    done = trials[(trials["status"] == "complete") & trials[names].notna().all(axis=1)]
    if done.empty:
        raise ConfigError(f"{store.url}: no complete trial yet")
    full = done[done["budget"] == done["budget"].max()]
    mask = pareto_front(full[names].to_numpy(float), objectives, strict=strict)
    front = full[mask]
    ref = _reference(full, objectives, reference)
    hv = hypervolume(front[names].to_numpy(float), ref, objectives)
    curve = {}
    for number in full["number"]:
        upto = full[full["number"] <= number]
        curve[int(number)] = hypervolume(upto[names].to_numpy(float), ref, objectives)
    tau = kendall_tau_by_budget(done, names, full_budget=float(done["budget"].max()))
    return {"objectives": objectives, "trials": full, "front": front, "hypervolume": hv,
            "reference_point": ref, "hypervolume_curve": pd.Series(curve, dtype=float), "kendall_tau": tau}


def retrain_front(store, *, top: int, seeds: int, out: str | Path, split: str = "test",
                  progress: bool = True) -> pd.DataFrame:
    """Retrain the ``top`` front configurations (knee first, then by the first objective) with
    ``seeds`` seeds at the full budget and evaluate each on ``split``; returns one row per
    configuration with mean and std of every metric (also written to ``out/retrain.csv``)."""
    import yaml

    from fairvision._io import write_csv
    from fairvision.metrics import METRIC_NAMES
    from fairvision.search.pareto import knee_point
    from fairvision.train import RunConfig, RunLayout, evaluate, train

    if top < 1 or seeds < 1:
        raise ConfigError(f"retrain: need --top >= 1 and --seeds >= 1, got {top}, {seeds}")
    summary = front_summary(store)
    front, objectives = summary["front"], summary["objectives"]
    names = [o.name for o in objectives]
    knee = front.index[knee_point(front[names].to_numpy(float), objectives)]
    order = [knee] + [i for i in front.sort_values(names).index if i != knee]
    out = Path(out)
    rows = []
    for idx in order[:top]:
        trial = front.loc[idx]
        cfg_path = RunLayout(trial["run_dir"]).config
        if not cfg_path.is_file():
            raise ConfigError(f"{cfg_path}: the run folder of trial {trial['number']} is gone; cannot retrain it")
        base = yaml.safe_load(cfg_path.read_text())
        results = []
        for seed in range(seeds):
            base["train"]["seed"] = seed
            base["train"]["epochs"] = int(math.ceil(float(trial["budget"])))
            run_dir = out / f"trial_{int(trial['number']):05d}_seed{seed}"
            if train(RunConfig.from_dict(base, source=str(cfg_path)), run_dir, progress=progress).diverged:
                results.append({m: (1.0 if m == "Error" else np.nan) for m in METRIC_NAMES})
                continue
            results.append(evaluate(run_dir, split=split))
        frame = pd.DataFrame([{m: r.get(m) for m in METRIC_NAMES} for r in results], dtype=float)
        row = {"number": int(trial["number"]), "config": trial["config"], "seeds": seeds, "split": split}
        for m in METRIC_NAMES:
            row[f"{m}_mean"] = float(frame[m].mean())
            row[f"{m}_std"] = float(frame[m].std(ddof=1)) if seeds > 1 else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    write_csv(out / "retrain.csv", table.assign(config=table["config"].map(str)))
    return table
