"""The ``mitigation:`` section: validation and overrides, every method end to end, method none changes
nothing, exact resume of a discriminator run, fine-tuning from a trained run."""

from __future__ import annotations

import json

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.mitigate import AngularMargins, FlippedLabels, GroupDiscriminator, GroupMarginCosFace
from fairvision.train import Callback, RunConfig, load_run_config, train
from fairvision.train.checkpoint import load_checkpoint
from fairvision.train.plugins import plugin_callbacks

TIMING = ("seconds", "eval_seconds", "images_per_s")
#: The tiny data's training split: groups A (3 identities, 9 images), B (4, 12) and C (2, 6); D is in val only.
METHODS = {
    "flipped": ({"name": "flipped"}, FlippedLabels, "relabelled"),
    "angular": ({"name": "angular"}, AngularMargins, "margins"),
    "discriminator": ({"name": "discriminator", "hidden": 16}, GroupDiscriminator, "discriminator_loss"),
}


def _history(result) -> list[dict]:
    records = [json.loads(line) for line in result.layout.history.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


class Spy(Callback):
    """The head trained and the weights at on_modules_built."""

    def on_modules_built(self, ctx):
        self.head = ctx.head
        self.model_at_build = {k: v.clone() for k, v in ctx.model.state_dict().items()}
        self.head_at_build = {k: v.clone() for k, v in ctx.head.state_dict().items()}

    @property
    def name(self):
        return "spy"


def test_section_validates_and_fills_defaults(tiny):
    cfg = tiny(1, mitigation={"name": "flipped"})
    assert cfg.mitigation == {"name": "flipped", "group": None, "fraction": 0.3, "m_majority": 0.35,
                              "m_minority": 0.45, "alpha": 1.0, "hidden": 128, "lr": 0.001, "target": None}
    assert [type(cb) for cb in plugin_callbacks(cfg)] == [FlippedLabels]
    assert tiny(1, mitigation="angular").mitigation["name"] == "angular"  # shorthand
    assert plugin_callbacks(tiny(1, mitigation={"name": "none"})) == []
    assert tiny(1).mitigation is None and plugin_callbacks(tiny(1)) == []
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # the recorded config validates back


@pytest.mark.parametrize("section, message", [
    ({"name": "flipped", "bogus": 1}, r"mitigation.bogus"),
    ({"name": "mirror"}, r"mitigation.name"),
    ({"name": "flipped", "alpha": 2.0}, r"mitigation.alpha: only applies to name discriminator, not 'flipped'"),
    ({"name": "discriminator", "group": "A"}, r"mitigation.group: only applies to name flipped or angular"),
    ({"name": "flipped", "fraction": 1.5}, r"mitigation.fraction"),
    ({"name": "angular", "m_majority": 0.5}, r"mitigation.m_minority: must be larger than m_majority"),
])
def test_bad_sections_are_config_errors(tiny, section, message):
    with pytest.raises(ConfigError, match=message):
        tiny(1, mitigation=section)


def test_method_must_fit_the_run(tiny):
    with pytest.raises(ConfigError, match=r"mitigation.name: angular .* needs head.name CosFace, not 'ArcFace'"):
        tiny(1, mitigation={"name": "angular"}, head={"name": "ArcFace"})
    with pytest.raises(ConfigError, match=r"mitigation.name: angular sets the margins .* remove head.kwargs.m"):
        tiny(1, mitigation={"name": "angular"}, head={"name": "CosFace", "kwargs": {"m": 0.4}})
    with pytest.raises(ConfigError, match=r"mitigation.name: discriminator needs task identification"):
        tiny(1, mitigation={"name": "discriminator"}, task={"name": "attribute"}, head={"name": "Linear"},
             loss={"name": "bce"})


def test_set_overrides(tiny):
    data = tiny(1).to_dict()  # as `fairvision train CONFIG --set ...` reads CONFIG
    cfg = load_run_config(data, ["mitigation.name=angular", "mitigation.m_minority=0.5"])
    assert (cfg.mitigation["name"], cfg.mitigation["m_minority"]) == ("angular", 0.5)
    assert load_run_config(data, ["mitigation=discriminator"]).mitigation["name"] == "discriminator"
    with pytest.raises(ConfigError, match="mitigation.bogus"):
        load_run_config(data, ["mitigation.name=flipped", "mitigation.bogus=1"])


def test_the_group_must_be_in_the_training_split(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"mitigation.group: 'D' is not a group of the training split \(A, B, C\)"):
        train(tiny(1, mitigation={"name": "flipped", "group": "D"}), tmp_path / "run", progress=False)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_end_to_end(tiny, tmp_path, method):
    section, cls, key = METHODS[method]
    spy = Spy()
    result = train(tiny(2, mitigation=section), tmp_path / "run", progress=False, callbacks=[spy])
    assert result.status == "complete" and result.epochs_done == 2
    history = _history(result)
    assert all(key in r for r in history)
    state = load_checkpoint(result.layout.checkpoint)
    assert "mitigation" in state["callbacks"]
    if method == "flipped":
        assert all(r["relabelled"] > 0 for r in history)
    elif method == "angular":
        assert isinstance(spy.head, GroupMarginCosFace)
        assert history[0]["margins"] == {"A": 0.45, "B": 0.35, "C": 0.45}  # B: the largest training group
        assert state["head"].keys() == {"weight"}
    else:
        disc = state["callbacks"]["mitigation"]
        assert disc["net"].keys() == {"0.weight", "0.bias", "2.weight", "2.bias"} and disc["optimizer"]["state"]
        assert all(0 <= r["discriminator_accuracy"] <= 1 and r["sensitive_regularizer"] > 0 for r in history)


def test_method_none_changes_nothing(tiny, tmp_path):
    plain = train(tiny(1), tmp_path / "plain", progress=False)
    none = train(tiny(1, mitigation="none"), tmp_path / "none", progress=False)
    a, b = load_checkpoint(plain.layout.checkpoint), load_checkpoint(none.layout.checkpoint)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert _history(plain) == _history(none) and b["callbacks"] == {}


def test_methods_change_training(tiny, tmp_path):
    plain = load_checkpoint(train(tiny(1), tmp_path / "plain", progress=False).layout.checkpoint)
    for method, (section, _, _) in METHODS.items():
        run = train(tiny(1, mitigation=section), tmp_path / method, progress=False)
        state = load_checkpoint(run.layout.checkpoint)
        assert any(not torch.equal(plain["model"][k], state["model"][k]) for k in plain["model"]), method


@pytest.mark.parametrize("method", ["discriminator", "flipped"])
def test_resume_equals_an_uninterrupted_run(tiny, tmp_path, method):
    section = METHODS[method][0]

    def run(epochs, folder):
        return train(tiny(epochs, mitigation=section, train={"schedule_epochs": 3}), tmp_path / folder,
                     progress=False)

    whole = run(3, "whole")
    run(1, "parts")
    parts = run(3, "parts")
    assert _history(parts) == _history(whole)
    a, b = load_checkpoint(whole.layout.checkpoint), load_checkpoint(parts.layout.checkpoint)
    for key in ("model", "head"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    if method == "discriminator":
        da, db = a["callbacks"]["mitigation"], b["callbacks"]["mitigation"]
        assert all(torch.equal(da["net"][k], db["net"][k]) for k in da["net"])
        sa, sb = da["optimizer"]["state"], db["optimizer"]["state"]
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i] if torch.is_tensor(sa[i][k]))


def test_resume_refuses_another_method(tiny, tmp_path):
    train(tiny(1, mitigation=METHODS["flipped"][0]), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"mitigation.name \('flipped' -> 'angular'\)"):
        train(tiny(2, mitigation=METHODS["angular"][0]), tmp_path / "run", progress=False)


@pytest.mark.parametrize("method", METHODS)
def test_fine_tuning_from_a_trained_run(tiny, tmp_path, method):
    base = train(tiny(1), tmp_path / "base", progress=False)
    spy = Spy()
    cfg = tiny(1, mitigation=METHODS[method][0], train={"init_from": str(base.layout.root)},
               optim={"name": "Adam", "lr": 1e-4})
    tuned = train(cfg, tmp_path / "tuned", progress=False, callbacks=[spy])
    start = load_checkpoint(base.layout.checkpoint)
    assert all(torch.equal(spy.model_at_build[k], v) for k, v in start["model"].items())
    assert all(torch.equal(spy.head_at_build[k], v) for k, v in start["head"].items())
    end = load_checkpoint(tuned.layout.checkpoint)
    assert any(not torch.equal(end["model"][k], v) for k, v in start["model"].items())
    assert tuned.status == "complete"


def test_cli_train_with_set_then_evaluate(tiny, tmp_path, capsys):
    """`fairvision train CONFIG --set mitigation.name=angular`, then `fairvision evaluate` of the run (its head
    loads as a plain CosFace)."""
    import yaml

    from fairvision.cli import main

    path, out = tmp_path / "run.yaml", tmp_path / "run"
    path.write_text(yaml.safe_dump(tiny(1).to_dict()))
    code = main(["train", str(path), "--out", str(out), "--set", "mitigation.name=angular",
                 "--set", "mitigation.group=A", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert yaml.safe_load((out / "config.yaml").read_text())["mitigation"]["name"] == "angular"
    assert main(["evaluate", str(out), "--split", "val"]) == 0
    assert main(["train", str(path), "--out", str(tmp_path / "bad"), "--set", "mitigation.nme=angular"]) != 0
    assert "mitigation.nme" in capsys.readouterr().err
