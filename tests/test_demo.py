"""``fairvision demo --quick`` end to end: every stage's outputs, the summary, the report, resuming."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fairvision.cli import main
from fairvision.demo import BENCHMARK, PROFILES, STAGES, stage_configs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    t0 = time.perf_counter()
    assert main(["demo", "--quick", "--out", str(out), "--quiet", "--workers", "2"]) == 0
    return out, time.perf_counter() - t0


def test_benchmark_is_the_shipped_config():
    assert BENCHMARK == yaml.safe_load((CONFIGS / "synthetic-bias.yaml").read_text())


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_stage_configs_validate(name, tmp_path):
    from fairvision.config import validate_config
    from fairvision.prune.study import load_study_config
    from fairvision.search.runner import SearchConfig
    from fairvision.search.zoo import load_zoo_config

    configs = stage_configs(PROFILES[name], str(tmp_path))
    validate_config(SearchConfig, configs["search"], source="search")
    assert {k for k in configs if k.startswith("mitigation-")} == {
        "mitigation-none", "mitigation-flipped", "mitigation-angular", "mitigation-discriminator"}
    for key in configs:
        if key == "zoo" or key.startswith("mitigation-"):
            load_zoo_config(configs[key])
    load_study_config(configs["prune-attributes"])
    assert PROFILES["full"].trials >= 24


def test_every_stage_ran(demo):
    out, _ = demo
    assert sorted(p.stem for p in (out / "stages").glob("*.json")) == sorted(name for name, _, _ in STAGES)
    for name in ("risk_validation.csv", "cie.csv", "cie_summary.csv", "study.yaml"):
        assert (out / "prune-attributes" / name).is_file()
    with sqlite3.connect(out / "search.db") as db:
        assert db.execute("select count(*) from trials where status = 'complete'").fetchone()[0] == \
            PROFILES["quick"].trials
    front = pd.read_csv(out / "front.csv")
    assert len(front) >= 1 and {"Error", "Log-Odds Gap"} <= set(front.columns)
    retrain = pd.read_csv(out / "retrain" / "retrain.csv")
    assert retrain["pick"].iloc[0] == "knee" and set(retrain["pick"]) <= {"knee", "Log-Odds Gap"}
    assert (retrain["seeds"] == PROFILES["quick"].retrain_seeds).all()
    assert retrain["Error_mean"].between(0, 1).all()
    for number in retrain["number"]:
        assert len(list((out / "retrain").glob(f"trial_{number:05d}_seed*"))) == PROFILES["quick"].retrain_seeds
    for name in ("zoo", "mitigation-none", "mitigation-flipped", "mitigation-angular", "mitigation-discriminator"):
        assert (out / f"{name}.db").is_file() and (out / "configs" / f"{name}.yaml").is_file()
    ident = pd.read_csv(out / "prune-identification" / "summary.csv")
    assert sorted(ident["requested"].unique()) == [0.0, *PROFILES["quick"].prune_sparsities]
    attrs = pd.read_csv(out / "prune-attributes" / "summary.csv")
    assert {"bias_amplification", "uncertainty"} <= set(attrs.columns)


def test_summary_and_report(demo):
    out, _ = demo
    summary = json.loads((out / "summary.json").read_text())
    lines = summary["lines"]
    assert 5 <= len(lines) <= 10
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert any(line.startswith("search: 8 trials") for line in lines)
    html = (out / "report.html").read_text()
    assert "<img" in html and "https://" not in html and "http://" not in html


def test_rerun_continues_without_retraining(demo, capsys):
    out, _ = demo
    (out / "stages" / "report.json").unlink()  # as if the demo had stopped before its last stage
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "stages").glob("*.json")}
    checkpoints = {p: p.stat().st_mtime_ns for p in out.rglob("checkpoint.pt")}
    assert main(["demo", "--quick", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert text.count("done before, skipped") == len(STAGES) - 1
    assert (out / "stages" / "report.json").is_file()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stages").glob("*.json") if p.name in kept} == kept
    assert checkpoints and {p: p.stat().st_mtime_ns for p in checkpoints} == checkpoints  # nothing retrained
    assert set(out.rglob("checkpoint.pt")) == set(checkpoints)


def test_other_size_in_same_folder_is_refused(demo, capsys):
    out, _ = demo
    assert main(["demo", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another size" in err[0] and str(out) in err[0]
