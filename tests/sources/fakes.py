"""Small fixed sources for the report tests, built in a temporary folder: a training run folder, trial
stores (a search, a zoo) and a pruning study folder, in the layouts fairvision writes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from fairvision.metrics import fairness_metrics

#: Validation ranks of the fake run: 2 groups x 4 identities x 3 images; group B is worse.
GROUPS = ["A"] * 12 + ["B"] * 12
IDENTITIES = [f"{g}{i // 3}" for g, i in zip(GROUPS, list(range(12)) * 2)]
RANKS = {  # epoch column -> ranks
    1: [0, 1, 0, 2, 0, 0, 1, 0, 0, 3, 0, 1] + [2, 0, 4, 1, 3, 0, 5, 2, 0, 1, 6, 0],
    2: [0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0] + [1, 0, 3, 0, 2, 0, 4, 1, 0, 0, 5, 0],
}
RUN_CONFIG = {
    "data": {"kind": "synthetic", "image_size": 16, "group_column": "group"},
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.125},
    "head": {"name": "CosFace"},
    "optim": {"name": "AdamW", "lr": 0.002},
    "train": {"epochs": 3, "seed": 0},
}


def _metrics(epoch: int) -> dict:
    return fairness_metrics(RANKS[epoch], GROUPS).to_dict()


def make_run(root: Path, *, ranks: bool = True, history: bool = True) -> Path:
    """A finished identification run: config.yaml, history.jsonl (3 epochs, validated at 1 and 2), metrics.json
    and, with ``ranks``, ranks_val.csv and val_meta.csv."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump(RUN_CONFIG))
    if history:
        records = []
        for epoch in range(3):
            record = {"epoch": epoch, "status": "ok", "train_loss": 3.0 - epoch, "lr": 0.001, "seconds": 1.0,
                      "evaluated": epoch in RANKS, "groups": {}}
            record.update(_metrics(epoch) if epoch in RANKS else {"Error": None})
            records.append(record)
        (root / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "metrics.json").write_text(json.dumps({**_metrics(2), "epoch": 2, "status": "complete"}))
    if ranks:
        ids = list(range(len(GROUPS)))
        pd.DataFrame({"ids": ids, **{f"epoch_{e}": r for e, r in RANKS.items()}}).to_csv(root / "ranks_val.csv",
                                                                                          index=False)
        pd.DataFrame({"ids": ids, "identity": IDENTITIES, "group": GROUPS,
                      "path": [f"img/{i}.png" for i in ids]}).to_csv(root / "val_meta.csv", index=False)
    return root


def make_attribute_run(root: Path) -> Path:
    """A finished attribute run (metrics.json with an ``attribute_bias`` section)."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({**RUN_CONFIG, "task": {"name": "attribute"}}))
    (root / "history.jsonl").write_text("".join(
        json.dumps({"epoch": e, "train_loss": 1.0 / (e + 1), "Error": 0.3 - 0.1 * e, "Mean AUC": 0.6 + 0.1 * e,
                    "sparsity": 0.5 * e}) + "\n" for e in range(2)))
    (root / "metrics.json").write_text(json.dumps({
        "Accuracy": 0.8, "Mean AUC": 0.7, "Mean |BA|": 0.05, "Error": 0.2, "split": "val", "epoch": 1,
        "status": "complete",
        "attribute_bias": {
            "attributes": {"Male": {"accuracy": 0.9, "auc": 0.95}, "Smiling": {"accuracy": 0.7, "auc": 0.75}},
            "bias_amplification": {"Male": {"Smiling": -0.2}},
            "fpr_gap": {"Male": {"Smiling": 0.1}},
            "fnr_gap": {"Male": {"Smiling": None}},
        }}))
    return root


def make_store(path: Path, *, study: str, engine: str, trials: list[tuple[dict, float, int, dict]],
               objectives: tuple[str, ...] = ("Error", "Log-Odds Gap")) -> Path:
    """A trial store with one study: ``trials`` as ``(config, budget, seed, objective values)``, all complete."""
    from ConfigSpace import ConfigurationSpace

    from fairvision.search import TrialStore

    store = TrialStore(path)
    try:
        space = ConfigurationSpace({"backbone": ["dpn", "resnet18"], "head": ["CosFace", "ArcFace"],
                                    "optimizer": ["AdamW", "SGD"]})
        store.create_or_load_study(study, space=space, objectives=list(objectives), engine=engine,
                                   settings={"engine": engine, "n_trials": len(trials)})
        for number, (config, budget, seed, values) in enumerate(trials):
            store.add_trial(number, config, budget, seed)
            store.finish(number, objectives=values, metrics=values)
    finally:
        store.close()
    return path


def search_trials() -> list[tuple[dict, float, int, dict]]:
    """Six configurations at budget 1, four of them promoted to budget 3 (same order at both: τ = 1)."""
    out = []
    configs = [{"backbone": "dpn", "head": h, "optimizer": o} for h in ("CosFace", "ArcFace") for o in ("AdamW", "SGD")]
    configs += [{"backbone": "resnet18", "head": "CosFace", "optimizer": "AdamW"},
                {"backbone": "resnet18", "head": "ArcFace", "optimizer": "SGD"}]
    for i, config in enumerate(configs):
        out.append((config, 1.0, 0, {"Error": 0.5 + 0.05 * i, "Log-Odds Gap": 1.5 - 0.1 * i}))
    for i, config in enumerate(configs[:4]):
        out.append((config, 3.0, 0, {"Error": 0.3 + 0.05 * i, "Log-Odds Gap": 1.2 - 0.1 * i}))
    return out


def zoo_trials() -> list[tuple[dict, float, int, dict]]:
    """Two configurations x two seeds at budget 3."""
    return [({"backbone": "resnet18", "head": "CosFace", "optimizer": o}, 3.0, seed,
             {"Error": 0.4 + 0.1 * k + 0.01 * seed, "Log-Odds Gap": 1.0 + 0.05 * seed})
            for k, o in enumerate(("AdamW", "SGD")) for seed in (0, 1)]


#: summary_by_level.csv columns of a real attribute study (fairvision.prune.summary.by_level).
LEVEL_COLUMNS = ["requested", "seed", "threshold", "sparsity", "accuracy", "auc", "uncertainty", "ece",
                 "interdependence_r2", "rare_value_ratio", "mean_abs_ba", "mean_abs_fpr_gap", "mean_abs_fnr_gap"]


def make_prune_study(root: Path, *, predictions: bool = True) -> Path:
    """A pruning study folder: summary_by_level.csv (2 policies x 3 levels x 2 seeds), study.db (grid) and, with
    ``predictions``, risk_validation.csv, cie.csv (with 4 images) and cie_summary.csv."""
    root.mkdir(parents=True)
    rows = []
    for policy_i, policy in enumerate(("default", "recalibrated")):
        for level in (0.0, 0.8, 0.9):
            for seed in (0, 1):
                base = {"requested": level, "seed": seed, "threshold": policy, "sparsity": level}
                rows.append({**base, **{c: round(0.1 + level / 10 + seed / 100 + policy_i / 20 + k / 1000, 6)
                                         for k, c in enumerate(LEVEL_COLUMNS[4:])}})
    pd.DataFrame(rows, columns=LEVEL_COLUMNS).to_csv(root / "summary_by_level.csv", index=False)
    (root / "runs" / "dense-seed0").mkdir(parents=True)
    (root / "runs" / "dense-seed0" / "config.yaml").write_text(yaml.safe_dump({**RUN_CONFIG, "task": "attribute"}))
    make_store(root / "study.db", study="prune", engine="grid", objectives=("Error",),
               trials=[({"sparsity": s}, 1.0, seed, {"Error": 0.2 + s / 10})
                       for s in (0.0, 0.8, 0.9) for seed in (0, 1)])
    if predictions:
        pd.DataFrame({"sparsity": [0.8, 0.8, 0.9], "target": ["fnr_gap"] * 3,
                      "feature": ["combined", "ece", "combined"],
                      "spearman": [0.6, 0.2, 0.7], "p_value": [0.01, 0.4, 0.02], "auc": [0.8, 0.55, 0.85],
                      "n": [12, 12, 12], "n_flagged": [3, 3, 4], "method": ["logistic", "", "logistic"],
                      "note": ["", "", ""]}).to_csv(root / "risk_validation.csv", index=False)
        images = root / "images"
        images.mkdir()
        paths = []
        for i in range(4):
            Image.fromarray(np.full((20, 20, 3), 60 * i, np.uint8)).save(images / f"{i}.png")
            paths.append(f"images/{i}.png")
        paths[3] = str(root / "missing.png")  # an image that is gone
        cie = []
        for level in (0.8, 0.9):
            for i in range(4):
                flipped = level == 0.9 and i < 2
                cie.append({"sparsity": level, "ids": i, "path": paths[i], "identity": f"id{i}", "group": "AB"[i % 2],
                            "Male": i % 2, "is_cie": int(flipped), "n_cie_attributes": int(flipped),
                            "cie_attributes": "Smiling" if flipped else "", "dense_score": -0.1 * i,
                            "dense_disagreement": 0.0})
        pd.DataFrame(cie).to_csv(root / "cie.csv", index=False)
        pd.DataFrame({"sparsity": [0.9], "statistic": ["auc"], "by": ["dense_score"], "level": [""], "n": [4],
                      "value": [0.9], "note": [""]}).to_csv(root / "cie_summary.csv", index=False)
    return root
