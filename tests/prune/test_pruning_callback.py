"""PruningCallback in the training loop: schedules, masks through fine-tuning, resume, scope, init_from."""

from __future__ import annotations

import json

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.models import create_head, create_model
from fairvision.prune import PruneConfig, PruningCallback, get_masks, is_pruned, prunable_modules, sparsity_report
from fairvision.train import Callback, train
from fairvision.train.checkpoint import load_checkpoint, load_initial_weights

TIMING = ("seconds", "eval_seconds", "images_per_s")


def _history(result) -> list[dict]:
    records = [json.loads(line) for line in result.layout.history.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def _total(model) -> int:
    return sum(m.weight.numel() for _, m in prunable_modules(model))


def _fresh_model():
    return create_model("frnas_dpn", edges=(0, 0, 0), width=0.0625, embedding_dim=8)


def _folded(result):
    """A new model and head with the run's weights loaded through train.init_from's loader (masks folded)."""
    model = _fresh_model()
    num_classes = int(load_checkpoint(result.layout.checkpoint)["num_classes"])
    load_initial_weights(result.layout.root, model, create_head("CosFace", embedding_dim=8, num_classes=num_classes))
    return model


class Spy(Callback):
    """Placed after the pruning callback: masks at every epoch end; the weights as training left them."""

    def __init__(self) -> None:
        self.masks: list[dict[str, torch.Tensor]] = []
        self.kept: list[dict[str, torch.Tensor]] = []
        self.layers: list = []
        self.at_build: dict[str, torch.Tensor] = {}
        self.model: torch.nn.Module | None = None

    def on_modules_built(self, ctx):
        self.at_build = {k: v.clone() for k, v in ctx.model.state_dict().items()}

    def on_epoch_end(self, ctx, epoch, record):
        self.layers = prunable_modules(ctx.model, ctx.head)
        self.masks.append(get_masks(self.layers))
        self.kept.append({n: (m.weight_orig * m.weight_mask).detach().clone() for n, m in self.layers if is_pruned(m)})

    def on_fit_end(self, ctx):
        self.model = ctx.model


def test_oneshot_masks_survive_fine_tuning(tiny, tmp_path):
    """SGD with Nesterov momentum and weight decay: pruned weights stay exactly 0 (effective and weight_orig),
    the mask never changes, the other weights keep training."""
    spy = Spy()
    cfg = tiny(3, optim={"name": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.01})
    result = train(cfg, tmp_path / "run", progress=False,
                   callbacks=[PruningCallback(PruneConfig(method="oneshot", sparsity=0.7)), spy])
    total = _total(_fresh_model())
    assert [r["sparsity"] for r in _history(result)] == [round(0.7 * total) / total] * 3
    assert all(torch.equal(spy.masks[0][n], spy.masks[e][n]) for e in (1, 2) for n in spy.masks[0])
    assert any(not torch.equal(spy.kept[0][n], spy.kept[2][n]) for n in spy.kept[0])  # fine-tuning happened
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        spy.model.eval()(x)  # the forward pre-hooks refresh every module.weight
    for name, module in spy.layers:
        pruned = module.weight_mask == 0
        assert pruned.any() and torch.all(module.weight_orig[pruned] == 0), name
        assert torch.all(module.weight[pruned] == 0), name
    # the checkpoint: weight_orig zero where masked, masks equal to the callback's state
    state = load_checkpoint(result.layout.checkpoint)
    masks = state["callbacks"]["pruning"]["masks"]
    assert masks.keys() == spy.masks[-1].keys() and all(m.dtype == torch.bool for m in masks.values())
    for name, mask in masks.items():
        assert torch.equal(state["model"][f"{name}.weight_mask"].bool(), mask)
        assert torch.all(state["model"][f"{name}.weight_orig"][~mask] == 0)
    # the model from the checkpoint (masks folded) computes with exact zeros
    model = _folded(result)
    assert sparsity_report(prunable_modules(model))["overall"] == pytest.approx(round(0.7 * total) / total, abs=1e-3)
    assert model.eval()(x).shape == (2, 8)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_history_sparsity_follows_the_schedule(tiny, tmp_path, scope):
    prune_cfg = PruneConfig(method="gmp", sparsity=0.8, initial_sparsity=0.2, start=1, end=5, freq=2, scope=scope)
    assert prune_cfg.schedule() == [(1, 0.2), (3, 0.8)]
    result = train(tiny(5), tmp_path / "run", progress=False, callbacks=[PruningCallback(prune_cfg)])
    history = _history(result)
    sizes = {n: m.weight.numel() for n, m in prunable_modules(_fresh_model())}
    total = sum(sizes.values())
    expected = [0.0, 0.2, 0.2, 0.8, 0.8]  # pruned at the start of epochs 1 and 3; fine-tuned in between
    for record, s in zip(history, expected):
        assert record["sparsity_layers"].keys() == sizes.keys()
        if scope == "global":
            assert record["sparsity"] == round(s * total) / total
        else:
            assert all(record["sparsity_layers"][n] == round(s * size) / size for n, size in sizes.items())
    state = load_checkpoint(result.layout.checkpoint)["callbacks"]["pruning"]
    assert (state["last_epoch"], state["target"]) == (3, 0.8)


def test_oneshot_at_a_later_epoch(tiny, tmp_path):
    cb = PruningCallback({"method": "oneshot", "sparsity": 0.5, "oneshot_epoch": 1, "scope": "layerwise"})
    history = _history(train(tiny(3), tmp_path / "run", progress=False, callbacks=[cb]))
    assert [round(r["sparsity"], 2) for r in history] == [0.0, 0.5, 0.5]


def test_resume_and_extension_equal_an_uninterrupted_run(tiny, tmp_path):
    """2 epochs, then extended to 4 with new callback instances: weights, masks, optimizer state and history
    equal those of a 4-epoch run; GMP events fall on both sides of the break."""
    prune_cfg = PruneConfig(method="gmp", sparsity=0.75, start=0, end=4, freq=1)

    def run(epochs, folder):
        cfg = tiny(epochs, train={"schedule_epochs": 4}, optim={"name": "SGD", "lr": 0.05})
        return train(cfg, tmp_path / folder, progress=False, callbacks=[PruningCallback(prune_cfg)])

    whole = run(4, "whole")
    run(2, "parts")
    parts = run(4, "parts")
    assert _history(parts) == _history(whole)
    a, b = load_checkpoint(whole.layout.checkpoint), load_checkpoint(parts.layout.checkpoint)
    assert a["model"].keys() == b["model"].keys() and any(k.endswith("weight_orig") for k in a["model"])
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["head"][k], b["head"][k]) for k in a["head"])
    ma, mb = a["callbacks"]["pruning"], b["callbacks"]["pruning"]
    assert ma["masks"].keys() == mb["masks"].keys() and all(torch.equal(ma["masks"][k], mb["masks"][k]) for k in ma["masks"])
    assert (ma["last_epoch"], ma["target"]) == (mb["last_epoch"], mb["target"]) == (3, 0.75)
    assert [r["sparsity"] for r in _history(whole)] == pytest.approx(
        [s for _, s in prune_cfg.schedule()], abs=1e-4)


def test_exclude_first_last_leaves_them_dense(tiny, tmp_path):
    cb = PruningCallback(PruneConfig(method="oneshot", sparsity=0.6, exclude_first_last=True))
    result = train(tiny(1), tmp_path / "run", progress=False, callbacks=[cb])
    model = load_checkpoint(result.layout.checkpoint)["model"]
    assert "features.conv1_1.conv.weight" in model and "classifier.weight" in model  # not re-parametrised
    assert "features.conv1_1.conv.weight_mask" not in model and "classifier.weight_mask" not in model
    layers = _history(result)[0]["sparsity_layers"]
    assert "features.conv1_1.conv" not in layers and "classifier" not in layers
    assert "features.conv2_1.c1x1_a.conv.weight_mask" in model


def test_post_training_pruning_starts_from_a_dense_run(tiny, tmp_path):
    """train.init_from a dense run: the pruning run starts from its weights; a run started from the pruned
    run gets the masks folded in (zeros where pruned)."""
    dense = train(tiny(1), tmp_path / "dense", progress=False)
    spy = Spy()
    cfg = tiny(2, train={"init_from": str(dense.layout.root)}, optim={"name": "Adam", "lr": 1e-4})
    pruned = train(cfg, tmp_path / "pruned", progress=False,
                   callbacks=[spy, PruningCallback(PruneConfig(method="gmp", sparsity=0.6, start=0, end=2))])
    dense_state = load_checkpoint(dense.layout.checkpoint)["model"]
    assert all(torch.equal(spy.at_build[k], v) for k, v in dense_state.items())
    assert [round(r["sparsity"], 3) for r in _history(pruned)] == [0.05, 0.6]
    # a third run from the pruned one: dense modules, masks folded
    model = _folded(pruned)
    assert not any(is_pruned(m) for _, m in prunable_modules(model))
    assert sparsity_report(prunable_modules(model))["overall"] == pytest.approx(0.6, abs=1e-3)


def test_method_none_changes_nothing(tiny, tmp_path):
    plain = train(tiny(1), tmp_path / "plain", progress=False)
    hooked = train(tiny(1), tmp_path / "none", progress=False, callbacks=[PruningCallback()])
    a, b = load_checkpoint(plain.layout.checkpoint), load_checkpoint(hooked.layout.checkpoint)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]) and a["model"].keys() == b["model"].keys()
    assert _history(hooked)[0]["sparsity"] == pytest.approx(0.0, abs=1e-3)
    assert b["callbacks"]["pruning"] == {"masks": {}, "last_epoch": -1, "target": 0.0}


def test_schedule_beyond_the_run_is_refused(tiny, tmp_path):
    cb = PruningCallback(PruneConfig(method="gmp", sparsity=0.5, start=0, end=5))
    with pytest.raises(ConfigError, match=r"prune.end: the last pruning epoch \(4\) is not within the run's 2 epoch"):
        train(tiny(2), tmp_path / "run", progress=False, callbacks=[cb])
    # with the full budget in train.schedule_epochs, a shorter first step of the budget is allowed
    train(tiny(2, train={"schedule_epochs": 5}), tmp_path / "ok", progress=False, callbacks=[cb])


def test_callback_arguments():
    assert PruningCallback().name == "pruning" and PruningCallback().config == PruneConfig()
    assert PruningCallback({"method": "oneshot", "sparsity": 0.3}).config.sparsity == 0.3
    with pytest.raises(ConfigError, match="prune: sparsity: must be < 1.0"):
        PruningCallback({"method": "oneshot", "sparsity": 1.2})
    with pytest.raises(ConfigError, match="expected a PruneConfig or a mapping, got float"):
        PruningCallback(0.5)  # type: ignore[arg-type]


def _has_prune_section() -> bool:
    from fairvision.train import RunConfig

    return "prune" in RunConfig.model_fields


@pytest.mark.skipif(not _has_prune_section(), reason="the training config has no prune: section yet")
def test_prune_section_of_the_training_config(tiny, tmp_path):
    """``prune:`` in the run config adds the callback by itself (fairvision.train.plugins); the schedule is
    checked against train.schedule_epochs or train.epochs when the config is validated."""
    cfg = tiny(2, prune={"method": "oneshot", "sparsity": 0.5, "scope": "layerwise"})
    assert cfg.prune["scope"] == "layerwise"
    history = _history(train(cfg, tmp_path / "run", progress=False))
    assert [round(r["sparsity"], 2) for r in history] == [0.5, 0.5]
    assert tiny(1, prune="none").prune["method"] == "none"
    with pytest.raises(ConfigError, match=r"prune.end: the last pruning epoch \(2\) is not within the run's 2 "
                                          r"epoch\(s\) .*\(train.epochs = 2\)"):
        tiny(2, prune={"method": "gmp", "sparsity": 0.5, "end": 3})
    tiny(2, prune={"method": "gmp", "sparsity": 0.5, "end": 3}, train={"schedule_epochs": 3})
    with pytest.raises(ConfigError, match="prune.sparsity: must be < 1.0"):
        tiny(2, prune={"method": "oneshot", "sparsity": 1.0})


def test_chained_post_training_remasks_the_inherited_zeros(tiny, tmp_path):
    """From a pruned run (masks folded into zeros), GMP with initial_sparsity = the parent's sparsity and
    start 0 masks exactly the parent's pruned weights at its first event, before any step."""
    parent = train(tiny(1), tmp_path / "parent", progress=False,
                   callbacks=[PruningCallback(PruneConfig(method="oneshot", sparsity=0.5))])
    parent_masks = load_checkpoint(parent.layout.checkpoint)["callbacks"]["pruning"]["masks"]
    spy = Spy()
    child_cfg = PruneConfig(method="gmp", initial_sparsity=0.5, sparsity=0.7, start=0, end=2)
    child = train(tiny(2, train={"init_from": str(parent.layout.root)}), tmp_path / "child", progress=False,
                  callbacks=[PruningCallback(child_cfg), spy])
    assert all(torch.equal(spy.masks[0][n], m) for n, m in parent_masks.items())
    assert [round(r["sparsity"], 3) for r in _history(child)] == [0.5, 0.7]
    assert all(not (spy.masks[1][n] & ~m).any() for n, m in parent_masks.items())  # masks only grow
