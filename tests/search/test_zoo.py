"""The zoo study: every backbone x head x optimizer x seed trained into one store; failures recorded, not fatal."""

from __future__ import annotations

import copy

import pytest

from fairvision.cli import main
from fairvision.errors import ConfigError
from fairvision.search.zoo import load_zoo_config, run_zoo, zoo_points

TRAIN = {
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 24, "images_per_identity": 4, "size": 16},
             "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.0, "eval_protocol": None},
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 16},
    "optim": {"name": "AdamW", "lr": 0.003, "warmup_epochs": 0},
    "train": {"epochs": 1, "batch_size": 16, "device": "cpu"},
}


def _zoo(tmp_path, **changes) -> dict:
    train = copy.deepcopy(TRAIN)
    train["data"]["root"] = str(tmp_path / "data")
    return {"train": train, "backbones": ["mobilenetv3_small_050", "no_such_net"], "heads": ["CosFace", "ArcFace"],
            "optimizers": [{"name": "AdamW", "lr": 0.003}], "epochs": 1, "objectives": ["Error", "Rank Disparity"],
            **changes}


def test_points_cover_the_product():
    cfg = load_zoo_config({"train": {}, "backbones": ["a", "b"], "heads": ["CosFace"], "seeds": [0, 1]})
    points = zoo_points(cfg)
    assert len(points) == 2 * 1 * 2 * 2  # backbones x heads x default optimizers (SGD 0.1, AdamW 1e-3) x seeds
    assert points[0] == {"config": {"backbone": "a", "head": "CosFace", "optimizer": "SGD", "lr": 0.1}, "seed": 0}


def test_zoo_trains_records_failures_and_resumes(tmp_path):
    cfg = load_zoo_config(_zoo(tmp_path))
    trials = run_zoo(cfg, tmp_path / "zoo.db", progress=False)
    assert len(trials) == 4
    by_backbone = {b: set(trials.loc[[c["backbone"] == b for c in trials["config"]], "status"])
                   for b in cfg.backbones}
    assert by_backbone == {"mobilenetv3_small_050": {"complete"}, "no_such_net": {"crashed"}}
    crashed = trials[trials["status"] == "crashed"]
    assert all("no_such_net" in str(e) for e in crashed["error"])
    again = run_zoo(cfg, tmp_path / "zoo.db", progress=False)  # nothing is run again
    assert again["attempts"].tolist() == trials["attempts"].tolist()


@pytest.mark.parametrize("change, match", [
    ({"heads": ["NormFace"]}, "unknown head 'NormFace'"),
    ({"optimizers": [{"name": "Lion", "lr": 0.1}]}, "optimizers: 'Lion'"),
    ({"backbones": ["a", "a"]}, "backbones: names repeat"),
    ({"optimizers": [{"name": "SGD", "lr": -1}]}, "optimizers.0.lr"),
    ({"colour": 1}, "colour: unknown key"),
])
def test_zoo_config_errors(tmp_path, change, match):
    with pytest.raises(ConfigError, match=match):
        run_zoo(load_zoo_config(_zoo(tmp_path, **change)), tmp_path / "zoo.db", progress=False)
    assert not (tmp_path / "zoo.db").exists()


def test_zoo_cli_one_line_error(tmp_path, capsys):
    (tmp_path / "z.yaml").write_text("train: {}\nbackbones: []\n")
    assert main(["zoo", str(tmp_path / "z.yaml"), "--store", str(tmp_path / "z.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "z.yaml" in err[0] and "backbones" in err[0]


@pytest.mark.parametrize("name", ["zoo-synthetic.yaml", "zoo-frnas-celeba.yaml"])
def test_shipped_zoo_configs_validate(name):
    from pathlib import Path

    cfg = load_zoo_config(Path(__file__).resolve().parents[2] / "configs" / name)
    assert cfg.backbones and len(zoo_points(cfg)) >= 6
    if name == "zoo-frnas-celeba.yaml":
        assert len(cfg.backbones) == 29 and cfg.heads == ["CosFace", "ArcFace", "MagFace"]
