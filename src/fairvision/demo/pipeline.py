"""The main job end to end (``fairvision demo``, ``make demo``): data to a front, baselines, pruning, one report.

Stages, each resumable (a finished stage leaves ``OUT/stages/<name>.json`` and is skipped when the demo runs
again; an interrupted stage continues its trial store or study where it stopped):

1. ``search`` -- SMAC (ParEGO, Hyperband) over the FR-NAS space on the known-bias benchmark, objectives
   Error and Log-Odds Gap on held-out identities -> ``OUT/search.db``;
2. ``front`` -- the Pareto front at the full budget, its knee and its fairest member -> ``OUT/front.csv``;
3. ``retrain`` -- the knee and the fairest member retrained with several seeds, evaluated on the *test*
   split -> ``OUT/retrain/``;
4. ``baselines`` -- a small timm zoo and the mitigation baselines (none, flipped, angular, discriminator)
   into their own stores -> ``OUT/zoo.db``, ``OUT/mitigation-*.db``;
5. ``prune-identification`` -- a sparsity sweep of the knee model trained with GMP from scratch (every level
   as many epochs as the dense model; face identification, FR-NAS metrics on test) -> ``OUT/prune-identification/``;
6. ``prune-attributes`` -- a sparsity sweep of an attribute classifier (the pruning paper's metrics)
   -> ``OUT/prune-attributes/``;
7. ``warnings`` -- how well the dense model's statistics predicted the bias growth of that sweep
   (``risk_validation.csv``) and its compression-identified exemplars (``cie.csv``, ``cie_summary.csv``);
8. ``report`` -- one self-contained HTML report of everything -> ``OUT/report.html``.

Every stage's exact config is written to ``OUT/configs/`` (the report shows them).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml
from rich.console import Console

from fairvision._io import atomic_write, write_csv, write_json
from fairvision.demo.profiles import FAIRNESS, PROFILES, DemoProfile, identification_sweep, stage_configs
from fairvision.errors import ConfigError

__all__ = ["STAGES", "run_demo"]


@dataclass
class _Context:
    out: Path
    profile: DemoProfile
    configs: dict[str, dict[str, Any]]
    console: Console
    workers: int
    progress: bool
    found: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write_config(self, name: str, config: dict[str, Any]) -> Path:
        path = self.out / "configs" / f"{name}.yaml"
        atomic_write(path, lambda tmp: tmp.write_text(yaml.safe_dump(config, sort_keys=False)))
        return path


def _search(ctx: _Context) -> dict[str, Any]:
    from fairvision.config import validate_config
    from fairvision.search.runner import SearchConfig, run_search_config

    ctx.write_config("search", ctx.configs["search"])
    cfg = validate_config(SearchConfig, ctx.configs["search"], source="demo search config")
    trials = run_search_config(cfg, ctx.out / "search.db", workers=ctx.workers, progress=ctx.progress)
    return {"trials": int(len(trials)), "status": trials["status"].value_counts().to_dict()}


def _front(ctx: _Context) -> dict[str, Any]:
    from fairvision.search.analysis import front_summary, open_store
    from fairvision.search.pareto import select

    store = open_store(ctx.out / "search.db")
    try:
        summary = front_summary(store)
    finally:
        store.close()
    front, objectives = summary["front"], summary["objectives"]
    names = [o.name for o in objectives]
    points = front[names].to_numpy(float)
    knee = front.iloc[select(points, objectives, by="knee")]
    fairest = front.iloc[select(points, objectives, by=FAIRNESS, names=names)]
    table = front[["number", "budget", *names, "config", "run_dir"]].assign(config=front["config"].map(json.dumps))
    write_csv(ctx.out / "front.csv", table)
    tau = summary["kendall_tau"]
    return {"front": int(len(front)), "trials_full_budget": int(len(summary["trials"])),
            "hypervolume": float(summary["hypervolume"]),
            "knee": _member(knee, names), "fairest": _member(fairest, names),
            "kendall_tau": None if tau is None or len(tau) == 0 else _jsonable_tau(tau)}


def _member(row: pd.Series, names: list[str]) -> dict[str, Any]:
    return {"number": int(row["number"]), "config": dict(row["config"]), "run_dir": str(row["run_dir"]),
            **{n: float(row[n]) for n in names}}


def _jsonable_tau(tau: Any) -> Any:
    if isinstance(tau, pd.DataFrame):
        return json.loads(tau.to_json(orient="records"))
    if isinstance(tau, pd.Series):
        return {str(k): (None if pd.isna(v) else float(v)) for k, v in tau.items()}
    return tau


def _retrain(ctx: _Context) -> dict[str, Any]:
    from fairvision.search.analysis import open_store, retrain_front

    store = open_store(ctx.out / "search.db")
    try:
        table = retrain_front(store, picks=["knee", FAIRNESS], seeds=ctx.profile.retrain_seeds,
                              out=ctx.out / "retrain", split="test", progress=ctx.progress)
    finally:
        store.close()
    return {row["pick"]: {"trial": int(row["number"]),
                          **{f"{m} {s}": float(row[f"{m}_{s}"]) for m in ("Error", FAIRNESS) for s in ("mean", "std")}}
            for _, row in table.iterrows()}


def _baselines(ctx: _Context) -> dict[str, Any]:
    from fairvision.search.zoo import load_zoo_config, run_zoo

    found = {}
    names = ["zoo"] + [k for k in ctx.configs if k.startswith("mitigation-")]
    for name in names:
        ctx.write_config(name, ctx.configs[name])
        ctx.console.print(f"  [dim]{name}[/]")
        trials = run_zoo(load_zoo_config(ctx.configs[name]), ctx.out / f"{name}.db", workers=ctx.workers,
                         progress=ctx.progress)
        done = trials[trials["status"] == "complete"]
        for _, row in done.iterrows():
            cfg = row["config"]
            key = f"{name}: {cfg['backbone']}" if name == "zoo" else name
            found.setdefault(key, []).append({k: float(v) for k, v in row["objectives"].items()})
        if len(done) < len(trials):
            found[f"{name}: failed"] = int(len(trials) - len(done))
    return {k: (pd.DataFrame(v).mean().to_dict() if isinstance(v, list) else v) for k, v in found.items()}


def _prune_identification(ctx: _Context) -> dict[str, Any]:
    knee = ctx.found["front"]["knee"]
    config = yaml.safe_load((Path(knee["run_dir"]) / "config.yaml").read_text())
    config["train"]["epochs"] = int(np.ceil(ctx.profile.max_budget))
    return _study(ctx, "prune-identification", identification_sweep(ctx.profile, config),
                  ["Error", FAIRNESS, "Rank Disparity"])


def _prune_attributes(ctx: _Context) -> dict[str, Any]:
    return _study(ctx, "prune-attributes", ctx.configs["prune-attributes"],
                  ["accuracy", "bias_amplification", "uncertainty", "interdependence_r2"])


def _study(ctx: _Context, name: str, config: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    from fairvision.prune.study import load_study_config, run_prune_study

    ctx.write_config(name, config)
    summary = run_prune_study(load_study_config(config), ctx.out / name, workers=ctx.workers, progress=ctx.progress)
    frame = summary.copy()
    if "threshold" in frame:
        frame = frame[frame["threshold"] == "default"]
    if "bias_amplification" in frame:
        frame = frame.assign(bias_amplification=frame["bias_amplification"].abs())
    cols = [c for c in columns if c in frame]
    levels = frame.groupby("requested")[cols].mean()
    return {f"{level:g}": {c: (None if pd.isna(v) else float(v)) for c, v in row.items()}
            for level, row in levels.iterrows()}


def _warnings(ctx: _Context) -> dict[str, Any]:
    from fairvision.prune.cie import write_cie
    from fairvision.prune.risk import write_risk_validation

    study = ctx.out / "prune-attributes"
    risk = write_risk_validation(study, n_permutations=199)
    cie, _ = write_cie(study)
    combined = risk[(risk["feature"] == "combined") & risk["auc"].notna()]
    by_level = cie.groupby("sparsity")["is_cie"].mean()
    return {"combined_auc": {f"{r['sparsity']:g} {r['target']}": float(r["auc"]) for _, r in combined.iterrows()},
            "cie_rate": {f"{k:g}": float(v) for k, v in by_level.items()}}


def _report(ctx: _Context) -> dict[str, Any]:
    from fairvision.sources import build_report

    sources = [ctx.out / "search.db", ctx.out / "zoo.db",
               *sorted(ctx.out.glob("mitigation-*.db")),
               *sorted((ctx.out / "retrain").glob("trial_*_seed0")),
               ctx.out / "prune-identification", ctx.out / "prune-attributes"]
    path = build_report([s for s in sources if s.exists()], ctx.out / "report.html",
                        title=f"fairvision demo ({ctx.profile.name}): the known-bias benchmark end to end",
                        summary=summary_lines(ctx.found))
    return {"report": str(path)}


#: (name, title, function) of every stage, in order.
STAGES: list[tuple[str, str, Callable[[_Context], dict[str, Any]]]] = [
    ("search", "architecture + hyperparameter search (SMAC, ParEGO, Hyperband)", _search),
    ("front", "Pareto front, knee and fairest member", _front),
    ("retrain", "retrain knee and fairest member with seeds; test split", _retrain),
    ("baselines", "zoo and mitigation baselines", _baselines),
    ("prune-identification", "sparsity sweep of the knee model (face identification)", _prune_identification),
    ("prune-attributes", "sparsity sweep of an attribute classifier", _prune_attributes),
    ("warnings", "dense-only bias warnings and compression-identified exemplars", _warnings),
    ("report", "HTML report", _report),
]


def _check_profile(out: Path, profile: DemoProfile) -> None:
    marker = out / "demo.json"
    if marker.is_file():
        held = json.loads(marker.read_text()).get("profile")
        if held != profile.model_dump():
            raise ConfigError(f"{out}: holds a demo of another size ({(held or {}).get('name')!r}); "
                              f"use another --out or delete it")
    else:
        write_json(marker, {"profile": profile.model_dump()})


def run_demo(out: str | Path, *, quick: bool = False, workers: int = 2, progress: bool = True,
             console: Console | None = None) -> dict[str, Any]:
    """Run (or continue) every stage into ``out``; returns what each stage found (also in
    ``out/stages/*.json``) and prints a short summary ending with the report's path."""
    if int(workers) < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    console = console or Console()
    profile = PROFILES["quick" if quick else "full"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_profile(out, profile)
    ctx = _Context(out=out, profile=profile, configs=stage_configs(profile, str((out / "data").resolve())),
                   console=console, workers=int(workers), progress=progress)
    start = time.perf_counter()
    for i, (name, title, fn) in enumerate(STAGES, 1):
        done = out / "stages" / f"{name}.json"
        if done.is_file():
            ctx.found[name] = json.loads(done.read_text())
            console.print(f"[bold]{i}/{len(STAGES)} {title}[/]: done before, skipped", soft_wrap=True)
            continue
        console.rule(f"[bold]{i}/{len(STAGES)} {title}")
        t0 = time.perf_counter()
        ctx.found[name] = fn(ctx)
        write_json(done, ctx.found[name] | {"seconds": round(time.perf_counter() - t0, 1)})
    lines = summary_lines(ctx.found)
    write_json(out / "summary.json", {"profile": profile.name, "lines": lines,
                                      "seconds": round(time.perf_counter() - start, 1)})
    console.rule("[bold]what the demo found")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    return ctx.found


def _pm(found: dict[str, Any], metric: str) -> str:
    mean, std = found.get(f"{metric} mean"), found.get(f"{metric} std")
    return f"{mean:.3f}" + ("" if std is None or np.isnan(std) else f" ± {std:.3f}")


def summary_lines(found: dict[str, dict[str, Any]]) -> list[str]:
    """At most 10 lines of what the demo found, from the stages' results."""
    lines = []
    s, f = found.get("search", {}), found.get("front", {})
    if s and f:
        knee, fair = f["knee"], f["fairest"]
        lines.append(f"search: {s['trials']} trials, a front of {f['front']} at the full budget "
                     f"(hypervolume {f['hypervolume']:.3f})")
        lines.append(f"knee: trial {knee['number']} (validation Error {knee['Error']:.3f}, {FAIRNESS} "
                     f"{knee[FAIRNESS]:.3f}); fairest: trial {fair['number']} (Error {fair['Error']:.3f}, "
                     f"{FAIRNESS} {fair[FAIRNESS]:.3f})")
    for pick, r in found.get("retrain", {}).items():
        if isinstance(r, dict):
            label = "fairest" if pick == FAIRNESS else pick
            lines.append(f"retrained {label} (trial {r['trial']}), test: Error {_pm(r, 'Error')}, "
                         f"{FAIRNESS} {_pm(r, FAIRNESS)}")
    base = {k: v for k, v in found.get("baselines", {}).items() if isinstance(v, dict) and k != "seconds"}
    if base and f:
        knee = f["knee"]
        beaten = [k for k, v in base.items() if knee["Error"] <= v["Error"] and knee[FAIRNESS] <= v[FAIRNESS]]
        lines.append(f"baselines: the knee is at least as good on both objectives as {len(beaten)} of "
                     f"{len(base)} baselines (validation)")
        best = min(base, key=lambda k: base[k]["Error"])
        lines.append(f"best baseline by Error: {best} (Error {base[best]['Error']:.3f}, "
                     f"{FAIRNESS} {base[best][FAIRNESS]:.3f})")
    for key, metric, label in (("prune-identification", "Error", "identification Error"),
                               ("prune-attributes", "bias_amplification", "attribute |BA|")):
        levels = {k: v for k, v in found.get(key, {}).items() if k != "seconds"}
        if levels:
            text = ", ".join(f"{float(k):.0%}: {v[metric]:.3f}" for k, v in levels.items()
                             if v.get(metric) is not None)
            lines.append(f"{label} by sparsity: {text}")
    w = found.get("warnings", {})
    if w.get("cie_rate"):
        rates = ", ".join(f"{float(k):.0%}: {v:.0%}" for k, v in w["cie_rate"].items())
        lines.append(f"compression-identified exemplars (share of test images): {rates}")
    lines = lines[:9]
    if "report" in found:
        lines.append(f"report: {found['report']['report']}")
    return lines
