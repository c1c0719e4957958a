"""`fairvision train` and `fairvision evaluate` end to end, with exit codes."""

from __future__ import annotations

import json

import pytest
import yaml

from fairvision.cli import main
from fairvision.metrics import METRIC_NAMES


@pytest.fixture
def config_file(tmp_path, tiny):
    def make(**changes):
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(tiny(**changes)))
        return path

    return make


def test_train_then_evaluate(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    code = main(["train", str(config_file()), "--out", str(out), "--set", "train.epochs=2", "--set", "train.eval_every=1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "status complete" in captured.out and "Training summary" in captured.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epoch"] == 1

    assert main(["evaluate", str(out), "--split", "test", "--json", "--out", str(tmp_path / "test.json"),
                 "--ranks-out", str(tmp_path / "ranks.csv")]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert {*METRIC_NAMES, "groups", "epoch", "status", "split"} <= set(printed)
    assert printed["split"] == "test" and printed["status"] == "complete"
    assert json.loads((tmp_path / "test.json").read_text()) == printed
    assert (tmp_path / "ranks.csv").read_text().startswith("ids,identity,group,path,rank_by_id,rank_by_image")

    assert main(["evaluate", str(out / "checkpoint.pt"), "--split", "val"]) == 0
    table = capsys.readouterr().out
    assert "Rank Disparity" in table and "val split" in table

    # the same command again resumes, finds nothing to do and exits 0
    assert main(["train", str(config_file()), "--out", str(out), "--set", "train.epochs=2", "--quiet"]) == 0
    assert "status complete" in capsys.readouterr().out


def test_evaluate_with_data_spec(tmp_path, config_file, tiny, capsys):
    out = tmp_path / "run"
    assert main(["train", str(config_file(train__epochs=1)), "--out", str(out), "--quiet"]) == 0
    spec = tmp_path / "data.yaml"
    other = tiny()["data"]
    other["synthetic"] = {**other["synthetic"], "seed": 7, "n_identities": 24}
    spec.write_text(yaml.safe_dump({"data": other}))
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(spec), "--split", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "all" and result["images"] == 24 * 4
    assert main(["evaluate", str(out), "--set", "data.val_fraction=0.5", "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 24 * 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "optim.lr=-1"], "optim.lr: must be > 0"),
        (["--set", "optim.bogus=1"], "unknown key 'optim.bogus'"),
        (["--set", "model.edges=null", "--set", "model.width=null", "--set", "model.name=not_a_model"], "unknown model 'not_a_model'"),
        (["--set", "model.name=resnet18"], "model.edges: only applies to model frnas_dpn"),
    ],
)
def test_train_bad_config_exits_2(tmp_path, config_file, capsys, args, message):
    code = main(["train", str(config_file()), "--out", str(tmp_path / "run"), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert err.startswith("fairvision train: error:")


def test_train_fewer_epochs_than_done_exits_2(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    assert main(["train", str(config_file(train__epochs=2)), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    code = main(["train", str(config_file(train__epochs=2)), "--out", str(out), "--quiet", "--set", "train.epochs=1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fairvision train: error: train.epochs: 1 is fewer than the 2 epoch(s) the run in {out}")


def test_train_missing_config_exits_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_train_diverged_exits_0(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    code = main(["train", str(config_file()), "--out", str(out), "--set", "optim.name=SGD", "--set", "optim.lr=1e6"])
    captured = capsys.readouterr()
    assert code == 0
    assert "diverged" in captured.out and "status diverged" in captured.out
    assert json.loads((out / "metrics.json").read_text())["Error"] == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}"], "checkpoint not found"),
        (["{run}", "--set", "data.kind=imagenet"], "data.kind: unknown data kind 'imagenet'"),
        (["{run}", "--set", "train.epochs=3"], "only data.* keys"),
        (["{run}", "--data", "{missing}"], "config file not found"),
        (["{run}", "--device", "gpu"], "device must be"),
    ],
)
def test_evaluate_errors_exit_2(tmp_path, config_file, capsys, args, message):
    run = tmp_path / "run"
    assert main(["train", str(config_file(train__epochs=1)), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    args = [a.format(run=run, missing=tmp_path / "missing.yaml") for a in args]
    code = main(["evaluate", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
