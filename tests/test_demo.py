"""The demo end to end: it reveals the bias the generator put in, and writes files a user can open."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from rich.console import Console

from fairvision.cli import main
from fairvision.demo import run_demo


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("demo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # robust to other processes on the same cores (pytest -n); the demo trains a CNN
    try:
        with open(out / "console.txt", "w") as fh:
            run_demo(out, seed=0, bootstrap=200, console=Console(file=fh))
    finally:
        torch.set_num_threads(threads)
    return out


def test_demo_finds_the_harder_group(demo_dir):
    """Pixel PCA (no training) is hurt by B's channel (identity only in the lower face), not by C's low
    contrast (PCA distances of a centred image barely depend on its contrast)."""
    result = json.loads((demo_dir / "metrics.json").read_text())
    groups = result["groups"]
    assert set(groups) == {"A", "B", "C", "D"}
    worst = max(groups, key=lambda g: groups[g]["error"])
    assert worst == "B"
    assert groups["B"]["mean_rank"] > max(groups[g]["mean_rank"] for g in "ACD")
    assert 0.05 < result["Error"] < 0.6  # informative, neither perfect nor chance
    lo, hi = result["ci"]["Disparity"]
    assert lo > 0.05  # the gap is outside sampling noise


def test_demo_trained_model(demo_dir):
    """The demo also trains a small CNN on the fitting identities and scores it on the same held-out images."""
    result = json.loads((demo_dir / "metrics.json").read_text())
    trained = result["trained"]
    assert trained["status"] == "complete"
    assert {"Error", "Disparity", "Ratio", "Error Ratio", "Rank Disparity", "Rank Ratio", "groups", "ci"} <= set(trained)
    groups = trained["groups"]
    # the pre-activation DPN serves the low-contrast group worst: a different group than pixel PCA's
    assert max(groups, key=lambda g: groups[g]["error"]) == "C"
    lo, hi = trained["ci"]["Log-Odds Gap"]
    assert lo > 0.5
    assert sum(g["n"] for g in groups.values()) == sum(g["n"] for g in result["groups"].values())  # same images
    assert trained["Error"] < result["Error"]  # and it identifies better than pixel PCA
    assert (demo_dir / "train" / "checkpoint.pt").is_file() and (demo_dir / "train" / "history.jsonl").is_file()
    assert "pixel PCA vs trained CNN" in (demo_dir / "console.txt").read_text()


def test_demo_files(demo_dir):
    for name in ("metrics.json", "groups.csv", "pairs.csv", "ranks.csv", "verification.csv", "groups.png"):
        assert (demo_dir / name).stat().st_size > 0
    ranks = pd.read_csv(demo_dir / "ranks.csv")
    assert {"identity", "group", "rank_by_id", "rank_by_image"} <= set(ranks.columns)
    assert (ranks["rank_by_id"] <= ranks["rank_by_image"]).all()
    assert len(pd.read_csv(demo_dir / "pairs.csv")) == 6
    assert (demo_dir / "groups.png").read_bytes()[:4] == b"\x89PNG"
    assert "Rank Disparity" in (demo_dir / "console.txt").read_text()


def test_synth_cli_with_yaml_and_overrides(tmp_path, capsys):
    (tmp_path / "synth.yaml").write_text("n_identities: 6\nimages_per_identity: 3\nsize: 32\n")
    code = main(["synth", str(tmp_path / "out"), "--config", str(tmp_path / "synth.yaml"), "--seed", "4",
                 "--difficulty", "B=0.5", "--quiet"])
    assert code == 0
    demo = pd.read_csv(tmp_path / "out" / "demographics.csv")
    assert len(demo) == 6
    config = json.loads((tmp_path / "out" / "synthetic.json").read_text())["config"]
    assert config["seed"] == 4 and config["group_difficulty"] == {"A": 0.0, "B": 0.5, "C": 0.0, "D": 0.0}
    assert len(list((tmp_path / "out" / "images").rglob("*.png"))) == 18


@pytest.mark.parametrize(
    "yaml_text, message",
    [("n_identities: [1\n", "line"), ("bogus_key: 1\n", "bogus_key: unknown key"), ("size: 3\n", "size")],
)
def test_synth_cli_bad_config(tmp_path, capsys, yaml_text, message):
    (tmp_path / "synth.yaml").write_text(yaml_text)
    code = main(["synth", str(tmp_path / "out"), "--config", str(tmp_path / "synth.yaml"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bootstrap": -5}, "bootstrap must be 0 (no confidence intervals) or at least 2 replicates, got -5"),
        ({"bootstrap": 1}, "at least 2 replicates, got 1"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": 2**64}, "seed must be a whole number"),
    ],
)
def test_demo_checks_arguments_before_any_work(tmp_path, kwargs, message):
    from fairvision.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        run_demo(tmp_path / "demo", **kwargs)
    assert not (tmp_path / "demo").exists()
