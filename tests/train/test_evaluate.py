"""`fairvision evaluate` on another data set: the README's RFW example on a run trained on synthetic faces."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from fairvision.cli import main
from fairvision.errors import ConfigError, DatasetError
from fairvision.train import evaluate

RACES = ("African", "Asian", "Caucasian", "Indian")


@pytest.fixture
def trained(tmp_path, tiny, capsys):
    out = tmp_path / "run"
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(tiny(train__epochs=1)))
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    return out


def fake_rfw(root, *, races=RACES, identities=4, images=3, size=40):
    """RFW layout root/<race>/<identity>/<image>: colour JPEGs larger than the run's 16 px, some grayscale PNGs."""
    rng = np.random.default_rng(0)
    count = 0
    for race in races:
        for i in range(identities):
            ident = f"m.0{race[:2].lower()}{i}"
            for k in range(images):
                path = root / race / ident / f"{ident}_{k + 1:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                if k == 2:
                    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(path.with_suffix(".png"))
                else:
                    Image.fromarray(rng.integers(0, 256, (size, size + 10, 3), dtype=np.uint8)).save(path)
                count += 1
    return count


def test_readme_rfw_example(trained, tmp_path, capsys):
    """README: `fairvision evaluate RUN --set data.kind=rfw --set data.root=/data/RFW --split all`."""
    n = fake_rfw(tmp_path / "RFW")
    code = main(["evaluate", str(trained), "--set", "data.kind=rfw", "--set", f"data.root={tmp_path / 'RFW'}",
                 "--split", "all", "--json"])  # fmt: skip
    cap = capsys.readouterr()
    assert code == 0, cap.err
    result = json.loads(cap.out)
    assert result["split"] == "all" and result["images"] == n and result["identities"] == 16
    assert set(result["groups"]) == set(RACES)  # group column defaults to RFW's race
    assert all(g["n"] == 12 for g in result["groups"].values())
    assert 0.0 <= result["Error"] <= 1.0


def test_rfw_data_spec_without_image_size(trained, tmp_path, capsys):
    """A data spec that does not set image_size is evaluated at the run's 16 px, not DataConfig's default 112."""
    n = fake_rfw(tmp_path / "RFW")
    spec = tmp_path / "rfw.yaml"
    spec.write_text(yaml.safe_dump({"data": {"kind": "rfw", "root": str(tmp_path / "RFW")}}))
    result = evaluate(trained, data=spec, split="all", device="cpu")
    assert result["images"] == n and set(result["groups"]) == set(RACES)


def test_rfw_data_spec_with_another_image_size_is_an_error(trained, tmp_path):
    fake_rfw(tmp_path / "RFW")
    spec = tmp_path / "rfw.yaml"
    spec.write_text(yaml.safe_dump({"data": {"kind": "rfw", "root": str(tmp_path / "RFW"), "image_size": 112}}))
    with pytest.raises(ConfigError, match=r"data.image_size: the run was trained on 16 px images"):
        evaluate(trained, data=spec, split="all", device="cpu")


def test_rfw_with_one_race_is_a_clear_error(trained, tmp_path, capsys):
    fake_rfw(tmp_path / "RFW", races=("Asian",))
    code = main(["evaluate", str(trained), "--set", "data.kind=rfw", "--set", f"data.root={tmp_path / 'RFW'}",
                 "--split", "all"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "has only the group 'Asian' in column 'race'" in err


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_bad_batch_size_before_loading(tmp_path, batch_size):
    # the run folder does not even exist: the argument is checked first
    with pytest.raises(ConfigError, match=r"batch_size: must be a whole number >= 1"):
        evaluate(tmp_path / "no-run", batch_size=batch_size)


def test_bad_split_before_loading(tmp_path):
    with pytest.raises(ConfigError, match=r"split must be one of train, val, test, all, not 'tset'"):
        evaluate(tmp_path / "no-run", split="tset")


def test_own_data_keeps_working(trained, capsys):
    assert main(["evaluate", str(trained), "--split", "test", "--batch-size", "7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["images"] == 12 * 4
    with pytest.raises(DatasetError):
        evaluate(trained, overrides=["data.kind=rfw", f"data.root={trained / 'nothing'}"], split="all")


def test_image_size_rules(trained, tmp_path, monkeypatch):
    import importlib

    from fairvision.train.config import DataConfig

    module = importlib.import_module("fairvision.train.evaluate")  # the attribute is the function

    sizes = []
    real = module.embed_and_score
    monkeypatch.setattr(module, "embed_and_score", lambda *a, **k: sizes.append(k["image_size"]) or real(*a, **k))
    fake_rfw(tmp_path / "RFW")
    rfw = DataConfig(kind="rfw", root=str(tmp_path / "RFW"))
    assert rfw.image_size == 112  # DataConfig's default, not the run's 16
    assert evaluate(trained, data=rfw, split="all", device="cpu")["images"] == 48
    assert sizes == [16]  # the images were resized to the run's input size
    assert evaluate(trained, data=rfw, overrides=["data.eval_protocol=null"], split="all", device="cpu")["images"] == 48
    with pytest.raises(ConfigError, match="data.image_size: the run was trained on 16 px"):
        evaluate(trained, overrides=["data.image_size=112"], split="test", device="cpu")
    with pytest.raises(ConfigError, match="data.image_size"):
        evaluate(trained, data=rfw, overrides=["data.image_size=32"], split="all", device="cpu")
    assert evaluate(trained, overrides=["data.image_size=16"], split="test", device="cpu")["images"] == 48
    assert sizes == [16, 16, 16]
