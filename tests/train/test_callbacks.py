"""Callbacks: hooks in order, state saved in the checkpoint and restored on resume, behaviour that plugs in."""

from __future__ import annotations

import json

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.train import Callback, RunConfig, train

CFG = {
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 16, "images_per_identity": 3, "size": 16},
             "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.0, "eval_protocol": None},
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 8},
    "head": {"name": "CosFace"}, "optim": {"name": "AdamW", "lr": 0.003},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
}


def _cfg(epochs: int) -> RunConfig:
    return RunConfig.from_dict({**CFG, "train": {**CFG["train"], "epochs": epochs}})


class Recorder(Callback):
    """Logs every hook; counts optimizer steps across resumes (its state)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.steps = 0

    def on_fit_start(self, ctx):
        self.events.append(("fit_start",))

    def on_epoch_start(self, ctx, epoch):
        self.events.append(("epoch_start", epoch))

    def on_after_optimizer_step(self, ctx, epoch, step):
        self.steps += 1

    def on_epoch_end(self, ctx, epoch, record):
        record["steps_so_far"] = self.steps
        self.events.append(("epoch_end", epoch))

    def on_fit_end(self, ctx):
        self.events.append(("fit_end",))

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


class ZeroFirstConv(Callback):
    """Keeps one weight tensor at zero after every step: a fixed pruning mask, the way pruning will plug in."""

    def on_after_optimizer_step(self, ctx, epoch, step):
        with torch.no_grad():
            next(p for n, p in ctx.model.named_parameters() if p.dim() == 4).zero_()


def test_hooks_order_state_and_resume(tmp_path):
    first = Recorder()
    result = train(_cfg(2), tmp_path / "run", progress=False, callbacks=[first])
    assert first.events == [("fit_start",), ("epoch_start", 0), ("epoch_end", 0), ("epoch_start", 1),
                            ("epoch_end", 1), ("fit_end",)]
    per_epoch = first.steps // 2
    history = [json.loads(line) for line in result.layout.history.read_text().splitlines()]
    assert per_epoch > 0 and [r["steps_so_far"] for r in history] == [per_epoch, 2 * per_epoch]
    # budget extension with a fresh instance: its state comes back from the checkpoint
    second = Recorder()
    train(_cfg(3), tmp_path / "run", progress=False, callbacks=[second])
    assert second.steps == 3 * per_epoch
    assert second.events[:2] == [("fit_start",), ("epoch_start", 2)]


def test_callback_changes_training(tmp_path):
    result = train(_cfg(1), tmp_path / "run", progress=False, callbacks=[ZeroFirstConv()])
    state = torch.load(result.layout.checkpoint, weights_only=False)
    first = next(v for k, v in state["model"].items() if v.dim() == 4)
    assert torch.count_nonzero(first) == 0


def test_without_callbacks_results_are_unchanged(tmp_path):
    plain = train(_cfg(1), tmp_path / "a", progress=False)
    hooked = train(_cfg(1), tmp_path / "b", progress=False, callbacks=[Recorder()])
    assert plain.metrics["Error"] == hooked.metrics["Error"] and plain.metrics["groups"] == hooked.metrics["groups"]
    assert plain.layout.ranks.read_bytes() == hooked.layout.ranks.read_bytes()
    weights = [torch.load(r.layout.checkpoint, weights_only=False)["model"] for r in (plain, hooked)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize("callbacks, message", [([Recorder(), Recorder()], "unique"), (["x"], "not a fairvision")])
def test_bad_callbacks(tmp_path, callbacks, message):
    with pytest.raises(ConfigError, match=message):
        train(_cfg(1), tmp_path / "run", progress=False, callbacks=callbacks)


def test_run_recorded_before_new_config_keys_resumes(tmp_path):
    """A checkpoint whose recorded config predates a key (data.synthetic.group_cues, data.heldout) still
    resumes and extends: defaults of new keys are not a config change."""
    from fairvision.train.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    first = train(_cfg(1), run, progress=False)
    state = load_checkpoint(first.layout.checkpoint)
    state["config"]["data"]["synthetic"].pop("group_cues")
    state["config"]["data"].pop("heldout")
    save_checkpoint(first.layout.checkpoint, state)
    assert train(_cfg(2), run, progress=False).epochs_done == 2
