"""Reading a finished (or running) search back from its store: trials, the front, retraining.

* :func:`trial_records` -- every trial as ``{"number", "config", "budget", "status", "objectives"}``;
* :func:`front_summary` -- the Pareto front at the full budget (``dominance="pareto"``, the usual
  definition, or ``"frnas"``, FR-NAS's ``whatIsPareto``: see :mod:`fairvision.search.pareto`), its
  hypervolume for an explicit reference point, the hypervolume after each trial, and Kendall τ of
  each objective between every lower budget and the full budget (is Hyperband safe for a fairness
  objective here?);
* :func:`baseline_table`, :func:`load_baselines`, :func:`aggregate_baselines` -- baseline models
  (another store, e.g. a zoo or a mitigation study, or a CSV) to overlay on a front, and their mean
  ± std over seeds per configuration;
* :func:`retrain_front` -- FR-NAS phase 2: retrain the best front configurations at the full budget
  with several seeds and evaluate them on the test split (mean ± std).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from fairvision.report.tables import aggregate_baselines  # re-exported: baselines of a front

from fairvision.errors import ConfigError

if TYPE_CHECKING:
    from fairvision.search.pareto import Dominance

__all__ = ["aggregate_baselines", "baseline_table", "load_baselines", "open_store", "trial_records", "front_summary",
           "retrain_front"]


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


def _config_name(config: Any, number: int) -> str:
    parts = [str(config[k]) for k in ("backbone", "head", "optimizer") if isinstance(config, dict) and k in config]
    return "/".join(parts) or f"trial {number}"


def baseline_table(path: str | Path, study: str | None = None) -> pd.DataFrame:
    """The complete trials of another store (a zoo, a mitigation study) as baselines to overlay on a front.

    One row per trial: ``source`` (the study name), ``name`` (``"STUDY: CONFIG"``; CONFIG is e.g.
    ``resnet18/CosFace/AdamW``, with the other config keys that differ appended, e.g. ``lr=0.01``, when
    one such name covers several configurations; ``trial N`` when the config has no backbone, head or
    optimizer), ``seed``, ``number`` and the objectives. Trials of one configuration under several
    seeds share ``source`` and ``name``: :func:`aggregate_baselines` averages them.
    """
    import json

    store = open_store(path, study)
    try:
        trials = store.trials("complete")
        names = [o.name for o in store.study()["objectives"]]
        source = store.study_name
    finally:
        store.close()
    keys = [json.dumps(c, sort_keys=True, default=str) for c in trials["config"]]
    first: dict[str, int] = {}  # config -> number of its first trial (names of config-less trials)
    for key, number in zip(keys, trials["number"]):
        first.setdefault(key, int(number))
    configs = {key: json.loads(key) for key in first}
    base = {key: _config_name(configs[key], first[key]) for key in first}
    label = {}
    for name in set(base.values()):  # one name, several configurations: append the keys that differ
        same = [k for k in base if base[k] == name]
        varying = sorted({k for key in same for k in configs[key] if k not in ("backbone", "head", "optimizer")
                          and len({json.dumps(configs[s].get(k), default=str) for s in same}) > 1})
        for key in same:
            extra = ", ".join(f"{k}={configs[key].get(k)}" for k in varying)
            label[key] = f"{name} ({extra})" if extra else name
    return pd.DataFrame({"source": [source] * len(keys), "name": [f"{source}: {label[k]}" for k in keys],
                         "seed": trials["seed"].astype(int).to_numpy(),
                         "number": trials["number"].astype(int).to_numpy(),
                         **{n: trials[n].astype(float).to_numpy() for n in names}},
                        columns=["source", "name", "seed", "number", *names])


def load_baselines(sources: Sequence[str | Path], objectives: Sequence[str]) -> pd.DataFrame:
    """Baselines from CSV files and trial stores, one table with a ``source`` column per file.

    A ``.csv`` has a ``name`` column (default ``row I``), the ``objectives`` and optionally ``seed`` and
    ``source`` (default: the file stem); a store gives :func:`baseline_table`. When two files give the
    same source (two zoo stores both with study ``zoo``), the source becomes ``SOURCE (PATH)``.
    FairvisionError naming the file when it lacks one of the ``objectives``.
    """
    from fairvision.errors import FairvisionError
    from fairvision.metrics._io import read_csv_checked

    tables = []
    for path in sources:
        is_csv = str(path).lower().endswith(".csv")
        if is_csv:
            table = read_csv_checked(path, what="baselines")
            if "name" not in table.columns:
                table.insert(0, "name", [f"row {i + 1}" for i in range(len(table))])
            if "source" not in table.columns:
                table.insert(0, "source", Path(path).stem)
            table["name"] = table["name"].astype(str)
            table["source"] = table["source"].astype(str)
        else:
            table = baseline_table(path)
        missing = [n for n in objectives if n not in table.columns]
        if missing:
            raise FairvisionError(f"{path}: baselines need objectives {missing}"
                                  f"{' (and a name column)' if is_csv else ' (the store has other objectives)'}")
        tables.append((str(path), table))
    owners: dict[str, set[str]] = {}
    for path, table in tables:
        for src in table["source"].unique():
            owners.setdefault(src, set()).add(path)
    out = []
    for path, table in tables:
        table = table.copy()
        for src in table["source"].unique():
            if len(owners[src]) < 2:
                continue
            new = f"{src} ({path})"
            rows = table["source"] == src
            table.loc[rows, "name"] = [new + n[len(src):] if n.startswith(f"{src}: ") else n
                                       for n in table.loc[rows, "name"]]
            table.loc[rows, "source"] = new
        out.append(table)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["source", "name", *objectives])


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


def front_summary(store, *, dominance: Dominance = "pareto",
                  reference: Sequence[float] | None = None) -> dict[str, Any]:
    """Front (``dominance``: ``"pareto"`` or ``"frnas"``, see :mod:`fairvision.search.pareto`), hypervolume,
    hypervolume curve and Kendall τ of the store's study."""
    from fairvision.search.pareto import check_dominance, hypervolume, kendall_tau_by_budget, pareto_front

    check_dominance(dominance)
    objectives = store.study()["objectives"]
    names = [o.name for o in objectives]
    trials = store.trials()
    done = trials[(trials["status"] == "complete") & trials[names].notna().all(axis=1)]
    if done.empty:
        raise ConfigError(f"{store.url}: no complete trial yet")
    full = done[done["budget"] == done["budget"].max()]
    mask = pareto_front(full[names].to_numpy(float), objectives, dominance=dominance)
    front = full[mask]
    ref = _reference(full, objectives, reference)
    hv = hypervolume(front[names].to_numpy(float), ref, objectives)
    curve = {}
    for number in full["number"]:
        upto = full[full["number"] <= number]
        curve[int(number)] = hypervolume(upto[names].to_numpy(float), ref, objectives)
    tau = kendall_tau_by_budget(done, names, full_budget=float(done["budget"].max()))
    return {"objectives": objectives, "dominance": dominance, "trials": full, "front": front, "hypervolume": hv,
            "reference_point": ref, "hypervolume_curve": pd.Series(curve, dtype=float), "kendall_tau": tau}


def retrain_front(store, *, top: int = 3, seeds: int, out: str | Path, split: str = "test",
                  progress: bool = True, dominance: Dominance = "pareto",
                  picks: Sequence[str] | None = None) -> pd.DataFrame:
    """Retrain front configurations with ``seeds`` seeds at the full budget and evaluate each on ``split``;
    returns one row per configuration (``pick``, ``number``, ``config``, mean and std of every metric; also
    written to ``out/retrain.csv``; the runs are ``out/trial_NNNNN_seedS``).

    Which: the ``top`` front members (knee first, then by the objectives in order), or ``picks``: each
    ``"knee"`` or an objective's name (the front member best on it, see :func:`fairvision.search.pareto.select`);
    a member picked twice is retrained once, under its first pick. ``dominance``: the front's (``"pareto"`` or
    FR-NAS's ``"frnas"``), see :func:`front_summary`."""
    import yaml

    from fairvision._io import write_csv
    from fairvision.metrics import METRIC_NAMES
    from fairvision.search.pareto import knee_point, select
    from fairvision.train import RunConfig, RunLayout, evaluate, train

    if top < 1 or seeds < 1:
        raise ConfigError(f"retrain: need --top >= 1 and --seeds >= 1, got {top}, {seeds}")
    summary = front_summary(store, dominance=dominance)
    front, objectives = summary["front"], summary["objectives"]
    names = [o.name for o in objectives]
    points = front[names].to_numpy(float)
    if picks:
        bad = [p for p in picks if p != "knee" and p not in names]
        if bad:
            raise ConfigError(f"retrain: pick {bad[0]!r} is neither 'knee' nor an objective ({', '.join(names)})")
        chosen: dict[Any, str] = {}
        for pick in picks:
            position = select(points, objectives, by=pick, names=names, dominance=dominance)
            chosen.setdefault(front.index[position], pick)
        order = list(chosen)
    else:
        knee = front.index[knee_point(points, objectives, dominance=dominance)]
        order = ([knee] + [i for i in front.sort_values(names).index if i != knee])[:top]
        chosen = {i: ("knee" if i == knee else f"front #{k}") for k, i in enumerate(order)}
    out = Path(out)
    rows = []
    for idx in order:
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
        row = {"pick": chosen[idx], "number": int(trial["number"]), "config": trial["config"], "seeds": seeds,
               "split": split}
        for m in METRIC_NAMES:
            row[f"{m}_mean"] = float(frame[m].mean())
            row[f"{m}_std"] = float(frame[m].std(ddof=1)) if seeds > 1 else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    write_csv(out / "retrain.csv", table.assign(config=table["config"].map(str)))
    return table
