"""``train.schedule_epochs``: a run of E epochs on a longer lr schedule (FR-NAS's SMAC_301: 10 of 100 epochs)."""

from __future__ import annotations

import json

import pytest
import torch

from fairvision.train import RunConfig, load_run_config, train
from fairvision.train.step import build_scheduler

from .conftest import CONFIGS


def lr_at(optim, *, schedule_epochs: int, updates_per_epoch: int, update: int) -> float:
    """The lr a fresh scheduler of ``schedule_epochs`` gives at update ``update``."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=optim.lr)
    scheduler = build_scheduler(optim, optimizer, schedule_epochs=schedule_epochs, updates_per_epoch=updates_per_epoch)
    scheduler.step_update(num_updates=update)
    return optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("epoch", [1, 5, 10])
def test_vggface2_config_is_10_epochs_of_a_100_epoch_schedule(epoch):
    """configs/frnas-dpn-vggface2.yaml (SMAC_301): the lr at epoch 10 is the 100-epoch schedule's, not min_lr."""
    cfg = load_run_config(CONFIGS / "frnas-dpn-vggface2.yaml")
    assert (cfg.train.epochs, cfg.train.schedule_epochs) == (10, 100)
    upe = 50
    got = lr_at(cfg.optim, schedule_epochs=cfg.train.schedule_epochs, updates_per_epoch=upe, update=epoch * upe)
    assert got == lr_at(cfg.optim, schedule_epochs=100, updates_per_epoch=upe, update=epoch * upe)
    if epoch == 10:
        assert got > 0.9 * cfg.optim.lr  # early in the 100-epoch cosine
        assert lr_at(cfg.optim, schedule_epochs=10, updates_per_epoch=upe, update=epoch * upe) == cfg.optim.min_lr


@pytest.mark.parametrize("optim", [{"name": "SGD", "lr": 0.05}, {"name": "AdamW", "lr": 0.002, "warmup_epochs": 1}])
def test_engine_follows_the_longer_schedule(tmp_path, tiny, optim):
    """A 2-of-6-epoch run: each epoch's lr (history) is the 6-epoch schedule's, not the 2-epoch one's."""
    cfg = RunConfig.from_dict(tiny(train__epochs=2, train__schedule_epochs=6, optim={**optim, "weight_decay": 0.0}))
    train(cfg, tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    upe = int(state["updates_per_epoch"])
    for r in records:  # the lr of an epoch's last update
        last = r["epoch"] * upe + upe - 1
        assert r["lr"] == pytest.approx(lr_at(cfg.optim, schedule_epochs=6, updates_per_epoch=upe, update=last), rel=1e-12)
    # after the warm-up (equal in both) a 2-epoch schedule would already be annealing towards min_lr
    last = 2 * upe - 1
    assert records[-1]["lr"] > 1.5 * lr_at(cfg.optim, schedule_epochs=2, updates_per_epoch=upe, update=last)
    assert state["schedule_epochs"] == 6


@pytest.mark.parametrize("name", ["search-frnas-celeba.yaml", "search-frnas-vggface2.yaml"])
@pytest.mark.parametrize("budget", [25, 50, 100])
def test_frnas_searches_train_25_to_100_epochs_on_the_100_epoch_schedule(name, budget):
    """FR-NAS's Hyperband budgets: 25-100 epochs with eta 2 (rungs 25, 50, 100); every trial, whatever its
    budget (and the base config's own epochs), trains on the 100-epoch schedule, so a promotion continues."""
    import math

    from fairvision.search.runner import _train_mapping, load_search_config
    from fairvision.search.training import TrainingObjective

    cfg = load_search_config(CONFIGS / name)
    eta = cfg.engine_options["smac"]["eta"]
    assert (cfg.min_budget, cfg.max_budget, eta) == (25, 100, 2)
    assert [cfg.min_budget * eta**k for k in range(int(math.log(cfg.max_budget / cfg.min_budget, eta)) + 1)] == [25, 50, 100]
    objective = TrainingObjective(_train_mapping(cfg), max_budget=cfg.max_budget, objectives=cfg.objectives)
    run = objective.run_config({"edge1": "3", "edge2": "0", "edge3": "1", "head": "CosFace", "optimizer": "SGD",
                                "lr_sgd": 0.1383}, budget, 0)
    assert (run.train.epochs, run.train.schedule_epochs) == (budget, 100)
    assert (run.loss.name, run.task.resize) == ("focal", "frnas")
