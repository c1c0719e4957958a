"""The training engine: outputs, exact resume, budget extension, divergence, determinism, data kinds, heads."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from fairvision.errors import ConfigError
from fairvision.metrics import METRIC_NAMES, fairness_metrics
from fairvision.train import OUTPUT_FILES, RunConfig, RunLayout, TrainResult, evaluate, train
from fairvision.train.checkpoint import load_checkpoint, save_checkpoint

HISTORY_KEYS = {
    "epoch", "status", "train_loss", "images_per_s", "lr", "seconds", "evaluated", "eval_seconds", "groups", *METRIC_NAMES,
}  # fmt: skip
METRICS_KEYS = {*METRIC_NAMES, "groups", "epoch", "status"}


def run(cfg: dict, out, **kwargs) -> TrainResult:
    return train(RunConfig.from_dict(cfg), out, progress=False, **kwargs)


def history(out) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def assert_same_weights(a, b) -> None:
    sa, sb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
    for part in ("model", "head"):
        assert sa[part].keys() == sb[part].keys()
        for key in sa[part]:
            assert torch.equal(sa[part][key], sb[part][key]), f"{part}.{key} differs"
    for x, y in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values()):
        for key in x:
            assert torch.equal(torch.as_tensor(x[key]), torch.as_tensor(y[key])), f"optimizer state {key} differs"


def without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "eval_seconds", "images_per_s")} for r in records]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_cache):
    from .conftest import TINY

    cfg = json.loads(json.dumps(TINY))
    cfg["data"]["root"] = str(data_cache)
    out = tmp_path_factory.mktemp("run")
    result = run(cfg, out)
    return out, cfg, result


def test_outputs_and_keys(trained):
    out, cfg, result = trained
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == METRICS_KEYS and metrics == result.metrics
    assert metrics["status"] == "complete" and metrics["epoch"] == 1
    assert (result.status, result.epochs_done, result.run_dir, result.diverged) == ("complete", 2, out, False)
    assert result.error == metrics["Error"] and result.layout == RunLayout(out)
    assert set(metrics["groups"]) == {"A", "B", "C", "D"}
    assert 0.0 <= metrics["Error"] < 1.0

    records = history(out)
    assert [r["epoch"] for r in records] == [0, 1]
    for r in records:
        assert set(r) == HISTORY_KEYS and r["status"] == "ok" and r["evaluated"]
        assert r["train_loss"] > 0 and r["images_per_s"] > 0 and r["lr"] >= 0
    assert records[-1]["Error"] == metrics["Error"] and records[-1]["groups"] == metrics["groups"]
    assert records[1]["train_loss"] < records[0]["train_loss"]

    ranks = pd.read_csv(out / "ranks_val.csv")
    meta = pd.read_csv(out / "val_meta.csv")
    assert list(ranks.columns) == ["ids", "epoch_0", "epoch_1"]
    assert list(meta.columns) == ["ids", "identity", "group", "path"]
    assert (ranks["ids"] == meta["ids"]).all() and len(meta) == 12 * 4  # 25% of 48 identities x 4 images
    # the final metrics are exactly those of the last rank column
    report = fairness_metrics(ranks["epoch_1"], meta["group"])
    assert report.to_dict()["Error"] == pytest.approx(metrics["Error"], abs=1e-15)
    assert report.to_dict()["Rank Disparity"] == pytest.approx(metrics["Rank Disparity"], abs=1e-15)

    resolved = RunConfig.from_dict(yaml.safe_load((out / "config.yaml").read_text()))
    assert resolved == RunConfig.from_dict(cfg)

    state = torch.load(out / "checkpoint.pt", weights_only=True)  # plain tensors and primitives only
    assert state["epoch"] == 2 and state["status"] == "complete"
    assert {"model", "head", "optimizer", "scheduler", "rng", "config", "history", "ranks"} <= set(state)
    assert {"torch", "numpy", "python", "loader"} <= set(state["rng"])


def test_fairness_cli_reads_run_outputs(trained, capsys):
    from fairvision.cli import main

    out, _, result = trained
    code = main(["fairness", "--ranks", str(out / "ranks_val.csv"), "--rank-column", "epoch_1",
                 "--groups", str(out / "val_meta.csv"), "--group-column", "group", "--on", "ids", "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {k: result.metrics[k] for k in (*METRIC_NAMES, "groups")}


def test_evaluate_val_split_reproduces_training_metrics(trained):
    out, _, result = trained
    again = evaluate(out, split="val", device="cpu")
    assert {k: again[k] for k in (*METRIC_NAMES, "groups")} == {k: result.metrics[k] for k in (*METRIC_NAMES, "groups")}
    test = evaluate(out / "checkpoint.pt", split="test", device="cpu")
    assert set(test) == METRICS_KEYS | {"split", "images", "identities", "group_column", "eval_protocol", "pairwise"}
    assert test["split"] == "test" and test["images"] == 48 and test["identities"] == 12


def test_rerun_of_finished_run_trains_nothing(trained):
    out, cfg, result = trained
    before = (out / "checkpoint.pt").read_bytes()
    assert run(cfg, out) == result
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize(
    "change, key",
    [({"optim__lr": 0.01}, "optim.lr"), ({"model__embedding_dim": 16}, "model.embedding_dim"), ({"train__seed": 3}, "train.seed")],
)
def test_rerun_with_other_config_is_refused(trained, tiny, change, key):
    out, _, _ = trained
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run(tiny(**change), out)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        # 32 px: at 16 px the last DPN stage sees 1x1 maps, where CPU bf16 channels-last conv backward (oneDNN,
        # torch 2.13) sometimes returns NaN weight gradients -- the engine then records a divergence
        {"train__precision": "bf16", "train__channels_last": True, "train__grad_clip": 1.0, "train__eval_every": 2,
         "data__image_size": 32},
        {"head__name": "SphereFace", "optim__name": "SGD", "optim__lr": 0.05},  # a head with a checkpointed buffer
    ],
    ids=["fp32", "bf16-channels_last-clip-eval_every", "sphereface-sgd"],
)
def test_resume_after_interruption_equals_uninterrupted(tmp_path, tiny, variant):
    """Stop after 1 of 3 epochs, run the same command again: same weights, optimizer state, ranks and metrics."""
    cfg = tiny(train__epochs=3, train__schedule_epochs=3, **variant)
    straight = run(cfg, tmp_path / "straight")
    first = tiny(train__epochs=1, train__schedule_epochs=3, **variant)
    partial = run(first, tmp_path / "resumed")
    assert partial.metrics["epoch"] == 0 and partial.status == "complete"
    resumed = run(cfg, tmp_path / "resumed")
    assert resumed.metrics == straight.metrics and resumed.epochs_done == straight.epochs_done == 3
    assert_same_weights(tmp_path / "straight", tmp_path / "resumed")
    h1, h2 = without_timing(history(tmp_path / "straight")), without_timing(history(tmp_path / "resumed"))
    assert [(r["epoch"], r["train_loss"], r["lr"]) for r in h1] == [(r["epoch"], r["train_loss"], r["lr"]) for r in h2]
    assert h1[-1] == h2[-1]
    # with eval_every=2 the 1-epoch run also evaluated epoch 0 (its last): an extra column, nothing else
    a, b = pd.read_csv(tmp_path / "straight" / "ranks_val.csv"), pd.read_csv(tmp_path / "resumed" / "ranks_val.csv")
    pd.testing.assert_frame_equal(a, b[a.columns])


def test_budget_extension_with_default_schedule(tmp_path, tiny):
    """schedule_epochs null: the schedule follows train.epochs; trained epochs stay, the rest anneal to min_lr."""
    one = run(tiny(train__epochs=1), tmp_path / "ext")
    first_record = history(tmp_path / "ext")[0]
    three = run(tiny(train__epochs=3), tmp_path / "ext")
    records = history(tmp_path / "ext")
    assert [r["epoch"] for r in records] == [0, 1, 2] and three.metrics["epoch"] == 2 and three.status == "complete"
    assert without_timing([records[0]]) == without_timing([first_record])  # epoch 0 kept, not retrained
    assert one.metrics["epoch"] == 0
    # epochs 1 and 2 use the lr of a 3-epoch cosine schedule, like a run planned for 3 epochs
    run(tiny(train__epochs=3), tmp_path / "planned")
    planned = history(tmp_path / "planned")
    assert [r["lr"] for r in records[1:]] == pytest.approx([r["lr"] for r in planned[1:]], rel=1e-12)
    assert records[0]["lr"] != pytest.approx(planned[0]["lr"])
    assert list(pd.read_csv(tmp_path / "ext" / "ranks_val.csv").columns) == ["ids", "epoch_0", "epoch_1", "epoch_2"]
    assert run(tiny(train__epochs=3), tmp_path / "ext") == three  # the same budget again: nothing to train


def test_fewer_epochs_than_the_run_has_done_is_refused(tmp_path, tiny):
    """A finished 2-epoch run cannot give a 1-epoch run's result: a one-line ConfigError, files untouched."""
    out = tmp_path / "r"
    run(tiny(train__epochs=2), out)
    before = {p.name: p.read_bytes() for p in RunLayout(out).outputs}
    with pytest.raises(ConfigError) as info:
        run(tiny(train__epochs=1), out)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"train.epochs: 1 is fewer than the 2 epoch(s) the run in {out}")
    assert {p.name: p.read_bytes() for p in RunLayout(out).outputs} == before
    assert run(tiny(train__epochs=2), out).epochs_done == 2  # the same budget still works

    # a run that diverged in epoch 1 (after 1 complete epoch) cannot give a 1-epoch run's result either
    state = load_checkpoint(RunLayout(out).checkpoint)
    save_checkpoint(RunLayout(out).checkpoint, {**state, "epoch": 1, "status": "diverged"})
    with pytest.raises(ConfigError, match=r"train\.epochs: 1 stops before epoch 1, in which the run .* diverged"):
        run(tiny(train__epochs=1), out)
    assert run(tiny(train__epochs=2), out).diverged  # a longer budget gets the diverged record


def test_kill_and_rerun_equals_uninterrupted(tmp_path, tiny):
    """SIGKILL a `fairvision train` subprocess after its first checkpoint; re-running the command finishes the run
    with exactly the weights of an uninterrupted run (whatever moment the kill hit)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = tiny(train__epochs=6, data__synthetic__n_identities=96)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run(cfg, tmp_path / "straight")  # also fills the data cache
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fairvision.cli", "train", str(path), "--out", str(out), "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()  # killed mid-run
    done = load_checkpoint(out / "checkpoint.pt")["epoch"]
    assert 1 <= done < 6
    run(cfg, out)
    assert_same_weights(tmp_path / "straight", out)
    assert json.loads((out / "metrics.json").read_text()) == json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert [r["epoch"] for r in history(out)] == list(range(6))


def test_divergence_is_recorded_not_raised(tmp_path, tiny):
    cfg = tiny(optim__name="SGD", optim__lr=1.0e6, train__epochs=3)
    result = run(cfg, tmp_path / "div")  # a real divergence: weight decay x lr = 100 blows the weights up
    assert result.status == "diverged" and result.diverged and result.error == 1.0
    assert all(result.metrics[m] is None for m in METRIC_NAMES[1:])
    metrics = json.loads((tmp_path / "div" / "metrics.json").read_text())
    assert metrics == result.metrics
    records = history(tmp_path / "div")
    assert records[-1]["status"] == "diverged" and records[-1]["Error"] == 1.0
    assert load_checkpoint(tmp_path / "div" / "checkpoint.pt")["status"] == "diverged"
    assert run(cfg, tmp_path / "div") == result  # re-running a diverged run does not train again
    assert evaluate(tmp_path / "div", split="val", device="cpu")["status"] == "diverged"


def test_same_seed_same_model_other_seed_differs(tmp_path, tiny):
    a = run(tiny(train__epochs=1), tmp_path / "a")
    b = run(tiny(train__epochs=1), tmp_path / "b")
    assert a.metrics == b.metrics
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    run(tiny(train__epochs=1, train__seed=1), tmp_path / "c")
    sa = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    sc = load_checkpoint(tmp_path / "c" / "checkpoint.pt")["model"]
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


def test_eval_every(tmp_path, tiny):
    run(tiny(train__epochs=3, train__eval_every=2), tmp_path / "r")
    records = history(tmp_path / "r")
    assert [r["evaluated"] for r in records] == [False, True, True]  # the last epoch is always evaluated
    assert records[0]["Error"] is None
    assert list(pd.read_csv(tmp_path / "r" / "ranks_val.csv").columns) == ["ids", "epoch_1", "epoch_2"]


@pytest.mark.parametrize("head", ["CosFace", "ArcFace", "MagFace", "SphereFace", "AdaFace"])
@pytest.mark.parametrize("loss", ["ce", "focal"])
def test_every_head_and_loss_trains(tmp_path, tiny, head, loss):
    result = run(tiny(train__epochs=1, head__name=head, loss={"name": loss}), tmp_path / "r")
    assert result.status == "complete" and math.isfinite(result.error)
    assert math.isfinite(history(tmp_path / "r")[0]["train_loss"])


def test_timm_backbone_trains(tmp_path, tiny):
    cfg = tiny(train__epochs=1, model={"name": "resnet18", "embedding_dim": 16})
    assert run(cfg, tmp_path / "r").status == "complete"


@pytest.fixture(scope="module")
def both_layouts(tmp_path_factory):
    from fairvision.data.synthetic import SyntheticFacesConfig, write_synthetic

    root = tmp_path_factory.mktemp("layouts")
    write_synthetic(root, SyntheticFacesConfig(n_identities=100, images_per_identity=4, size=16, seed=3), layout="both", progress=False)
    return root


def test_folders_and_celeba_kinds(tmp_path, tiny, both_layouts):
    folders = tiny(train__epochs=1)
    folders["data"] = {**folders["data"], "kind": "folders", "root": str(both_layouts / "images"),
                       "demographics": str(both_layouts / "demographics.csv"), "synthetic": None}  # fmt: skip
    assert run(folders, tmp_path / "folders").status == "complete"

    celeba = tiny(train__epochs=1)
    celeba["data"] = {**celeba["data"], "kind": "celeba", "root": str(both_layouts / "celeba"), "synthetic": None,
                      "partition": "official"}  # fmt: skip
    result = run(celeba, tmp_path / "celeba")
    assert set(result.metrics["groups"]) == {"0", "1"}  # CelebA's Male attribute is the default group column
    meta = pd.read_csv(tmp_path / "celeba" / "val_meta.csv")
    assert list(meta.columns) == ["ids", "identity", "group", "Male", "path"]
    # evaluate the whole folder set ("all", e.g. a separate RFW-style set) with a data spec
    spec = {"data": {"kind": "folders", "root": str(both_layouts / "images"),
                     "demographics": str(both_layouts / "demographics.csv"), "image_size": 16}}  # fmt: skip
    all_ = evaluate(tmp_path / "celeba", data=spec, split="all", device="cpu")
    assert all_["split"] == "all" and 0 < all_["images"] <= 400 and set(all_["groups"]) == {"A", "B", "C", "D"}


def test_bad_batch_size_and_model_name(tmp_path, tiny):
    with pytest.raises(ConfigError, match=r"train\.batch_size: 500 is larger than the training split"):
        run(tiny(train__batch_size=500), tmp_path / "a")
    with pytest.raises(ConfigError, match=r"model: unknown model 'resnet_18'"):
        run(tiny(model={"name": "resnet_18"}), tmp_path / "b")
    with pytest.raises(ConfigError, match=r"head: bad arguments"):
        run(tiny(head={"name": "CosFace", "kwargs": {"margin": 0.3}}), tmp_path / "c")


def test_synthetic_cache_is_shared_and_deterministic(tiny, data_cache):
    cfg = RunConfig.from_dict(tiny())
    from fairvision.train.data import synthetic_dir

    first = synthetic_dir(cfg.data, None)
    assert first.parent == data_cache and (first / "synthetic.json").is_file()
    assert synthetic_dir(cfg.data, None) == first
    other = RunConfig.from_dict(tiny(data__synthetic__seed=5)).data
    assert synthetic_dir(other, None) != first
    np.testing.assert_array_equal(
        sorted(p.name for p in (first / "images").iterdir()), sorted(p.name for p in (synthetic_dir(other, None) / "images").iterdir())
    )


@pytest.mark.parametrize(
    "scheduler, expected",
    [
        ("cosine", lambda lrs, lr: lrs[0] < lr and lrs[-1] < 0.1 * lr and lrs == sorted(lrs, reverse=True)),
        ("constant", lambda lrs, lr: lrs == pytest.approx([lr] * len(lrs))),
        ("none", lambda lrs, lr: lrs == pytest.approx([lr] * len(lrs))),
    ],
)
def test_schedulers(tmp_path, tiny, scheduler, expected):
    lr = 0.002
    run(tiny(train__epochs=3, train__eval_every=3, optim__scheduler=scheduler, optim__lr=lr), tmp_path / "r")
    lrs = [r["lr"] for r in history(tmp_path / "r")]  # lr of the last update of each epoch
    assert expected(lrs, lr), lrs
