"""Sparsity sweeps: the grid on the search driver, parents trained first, summary.csv exactly the metrics of
each run's logits, resume after kill -9 retrains nothing, identification studies, and clear config errors."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fairvision.errors import ConfigError
from fairvision.metrics import attribute_bias_report, read_logits
from fairvision.prune.study import StudyObjective, load_study_config, run_prune_study, study_points
from fairvision.prune.summary import ATTRIBUTE_COLUMNS, POLICIES, run_name
from fairvision.train import RunLayout

TRAIN = {
    "task": {"name": "attribute", "protected": ["Male", "Young"]},
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 24, "images_per_identity": 3, "size": 16},
             "image_size": 16, "val_fraction": 0.25, "test_fraction": 0.25, "eval_protocol": None},
    "model": {"name": "resnet18", "kwargs": {"embedding": False, "channels": [8, 8, 16, 16], "stem_width": 8}},
    "head": {"name": "Linear"}, "loss": {"name": "bce"},
    "optim": {"name": "Adam", "lr": 0.003, "weight_decay": 0.0},
    "train": {"epochs": 2, "batch_size": 16, "device": "cpu"},
}
SWEEP = {"sparsities": [0.5, 0.9], "seeds": 2, "schedule": "chained",
         "prune": {"method": "gmp", "start": 0, "end": 2, "freq": 1}, "finetune": ["train.epochs=2"]}


def _study(data_cache, **sweep) -> dict:
    train = copy.deepcopy(TRAIN)
    train["data"]["root"] = str(data_cache)
    return {"train": train, "sweep": {**SWEEP, **sweep}, "study": "t"}


def test_points_and_run_configs(tmp_path, data_cache):
    cfg = load_study_config(_study(data_cache))
    assert [(p["config"]["sparsity"], p["seed"]) for p in study_points(cfg.sweep)] == [
        (0.0, 0), (0.0, 1), (0.5, 0), (0.5, 1), (0.9, 0), (0.9, 1)]
    objective = StudyObjective(cfg.train, cfg.sweep, tmp_path / "runs")
    dense, first, second = (objective.run_config(s, 1) for s in (0.0, 0.5, 0.9))
    assert dense.prune is None and dense.train.init_from is None and dense.train.seed == 1
    assert first.train.init_from == str(tmp_path / "runs" / "dense-seed1")
    assert second.train.init_from == str(tmp_path / "runs" / "sparsity0.5-seed1")  # chained
    assert second.prune["sparsity"] == 0.9 and second.prune["initial_sparsity"] == 0.5
    posttrain = StudyObjective(cfg.train, load_study_config(_study(data_cache, schedule="posttrain")).sweep,
                               tmp_path / "runs")
    assert posttrain.run_config(0.9, 0).train.init_from == str(tmp_path / "runs" / "dense-seed0")
    scratch = load_study_config(_study(data_cache, schedule="scratch", finetune=[]))
    run = StudyObjective(cfg.train, scratch.sweep, tmp_path / "runs").run_config(0.9, 0)
    assert run.train.init_from is None and run.prune["method"] == "gmp"


def test_study_end_to_end_summary_and_no_retraining(tmp_path, data_cache):
    cfg = load_study_config(_study(data_cache))
    summary = run_prune_study(cfg, tmp_path / "out", progress=False)
    out = tmp_path / "out"
    assert list(summary.columns[: len(ATTRIBUTE_COLUMNS)]) == list(ATTRIBUTE_COLUMNS)
    assert set(summary["threshold"]) == set(POLICIES)
    assert sorted(set(zip(summary["requested"], summary["seed"]))) == [(r, s) for r in (0.0, 0.5, 0.9) for s in (0, 1)]
    for requested in (0.5, 0.9):  # measured sparsity, exact to a weight
        measured = summary.loc[summary["requested"] == requested, "sparsity"]
        assert np.allclose(measured, requested, atol=1e-4)
    assert (summary.loc[summary["requested"] == 0, "sparsity"] == 0).all()
    # the rows are exactly the metrics of the run's saved logits
    layout = RunLayout(out / "runs" / "sparsity0.9-seed1")
    labels = {s: pd.read_csv(layout.labels(s)) for s in ("train", "val", "test")}
    attrs = list(labels["test"].columns[-read_logits(layout.logits("test")).shape[1]:])
    report = attribute_bias_report(read_logits(layout.logits("test")), labels["test"][attrs].to_numpy(),
                                   attributes=attrs, train_labels=labels["train"][attrs].to_numpy(),
                                   protected=["Male", "Young"], policy="recalibrated",
                                   val_logits=read_logits(layout.logits("val")), val_labels=labels["val"][attrs].to_numpy())
    mine = summary[(summary["requested"] == 0.9) & (summary["seed"] == 1) & (summary["threshold"] == "recalibrated")]
    expected = report.summary()
    pd.testing.assert_series_equal(mine["accuracy"].reset_index(drop=True), expected["accuracy"].reset_index(drop=True),
                                   check_names=False)
    for name in ("summary_by_level.csv", "curves.png", "study.db"):
        assert (out / name).stat().st_size > 0
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/checkpoint.pt")}
    assert len(stamps) == 6
    again = run_prune_study(cfg, out, progress=False)  # re-running trains nothing
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/checkpoint.pt")} == stamps
    pd.testing.assert_frame_equal(again, summary)


SCRIPT = """
import sys
from fairvision.prune.study import load_study_config, run_prune_study
run_prune_study(load_study_config(sys.argv[1]), sys.argv[2], progress=False)
"""


def test_kill_9_then_resume_retrains_nothing_completed(tmp_path, data_cache):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(_study(data_cache, sparsities=[0.9])))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(config), str(out)], env=env)
    dense = RunLayout(out / "runs" / "dense-seed0").metrics
    deadline = time.time() + 240
    while not (dense.exists() and '"complete"' in dense.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stamp = RunLayout(out / "runs" / "dense-seed0").checkpoint.stat().st_mtime_ns
    done = subprocess.run([sys.executable, str(script), str(config), str(out)], env=env, timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert RunLayout(out / "runs" / "dense-seed0").checkpoint.stat().st_mtime_ns == stamp  # not retrained
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, str(script), str(config), str(ref)], env=env, timeout=300, check=True)
    a, b = pd.read_csv(out / "summary.csv"), pd.read_csv(ref / "summary.csv")
    pd.testing.assert_frame_equal(a, b)  # the interrupted study gives the uninterrupted one's numbers


def test_identification_study(tmp_path, data_cache):
    """Face identification under pruning: the FR-NAS metrics of the test split per sparsity and seed."""
    train = {
        "data": {"kind": "synthetic", "root": str(data_cache),
                 "synthetic": {"n_identities": 24, "images_per_identity": 4, "size": 16},
                 "image_size": 16, "val_fraction": 0.25, "test_fraction": 0.25, "eval_protocol": None},
        "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 8},
        "head": {"name": "CosFace"}, "optim": {"name": "AdamW", "lr": 0.003},
        "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
    }
    sweep = {"sparsities": [0.7], "seeds": 1, "schedule": "posttrain",
             "prune": {"method": "oneshot"}, "finetune": ["train.epochs=1"]}
    summary = run_prune_study(load_study_config({"train": train, "sweep": sweep}), tmp_path / "out", progress=False)
    assert summary["requested"].tolist() == [0.0, 0.7]
    assert summary["sparsity"].iloc[1] == pytest.approx(0.7, abs=1e-4)
    for name in ("Error", "Rank Disparity", "Disparity"):
        assert summary[name].between(0, 1).all() or name == "Rank Disparity"
    assert (tmp_path / "out" / "runs" / run_name(0.7, 0) / "checkpoint.pt").exists()
    assert (tmp_path / "out" / "curves.png").stat().st_size > 0


@pytest.mark.parametrize("change, match", [
    ({"sweep": {"sparsities": [1.2]}}, "sweep.sparsities: each sparsity must be in"),
    ({"sweep": {"seeds": 0}}, "sweep.seeds"),
    ({"sweep": {"schedule": "scratch", "finetune": ["train.epochs=1"]}}, "sweep.finetune: only applies"),
    ({"sweep": {"prune": {"method": "gmp", "start": 0, "end": 9}}}, "prune.end"),
    ({"sweep": {"prune": {"method": "snip"}}}, "prune.method"),
    ({"colour": 1}, "colour: unknown key"),
])
def test_study_config_errors(tmp_path, data_cache, change, match):
    data = _study(data_cache)
    for key, value in change.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) and key == "sweep" else value
    with pytest.raises(ConfigError, match=match):
        run_prune_study(load_study_config(data), tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "study.db").exists()  # validated before anything is created


def test_cli_prune_study(tmp_path, data_cache, capsys):
    from fairvision.cli import main

    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(_study(data_cache, sparsities=[0.8], seeds=1)))
    assert main(["prune-study", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 runs summarised (summary.csv, summary_by_level.csv, curves.png)" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**_study(data_cache), "sweep": {"sparsities": [0.5, 0.5]}}))
    assert main(["prune-study", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml" in err[0] and "sweep.sparsities: " in err[0] and "repeat" in err[0]
    assert main(["prune-study", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("name", ["prune-synthetic-tiny.yaml", "prune-synthetic.yaml", "prune-celeba-resnet18.yaml"])
def test_shipped_study_configs_validate(tmp_path, name):
    """Every run of a shipped study (dense and each level) is a valid training config."""
    cfg = load_study_config(Path(__file__).resolve().parents[2] / "configs" / name)
    from fairvision.prune.study import _train_mapping

    objective = StudyObjective(_train_mapping(cfg), cfg.sweep, tmp_path / "runs")
    objective.check()
    assert cfg.sweep.sparsities == [0.8, 0.9, 0.95, 0.98, 0.99, 0.995] and len(cfg.sweep.seeds) == 3
    if name == "prune-celeba-resnet18.yaml":  # the paper's setting: GMP from scratch at epochs 10, 20, ..., 80 of 100
        run = objective.run_config(0.9, 0)
        assert (run.task.name, run.data.kind, run.data.partition, run.model.name) == ("attribute", "celeba", "official", "resnet18")
        assert (run.prune["start"], run.prune["end"], run.prune["freq"], run.train.epochs) == (10, 90, 10, 100)
