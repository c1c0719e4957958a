"""Discriminator: the regulariser's value on a hand-made batch; one step moves the backbone and the
discriminator; the regulariser's gradient reaches the backbone."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fairvision.mitigate import GroupDiscriminator, sensitive_regularizer
from fairvision.models import create_head, create_loss
from fairvision.train import TrainStep
from fairvision.train.callbacks import Batch


def test_regularizer_on_a_hand_made_batch():
    cb = GroupDiscriminator({"alpha": 2.0})
    cb.build(2, 2)
    cb.target = 1
    cb.net = nn.Identity()  # the discriminator's logits are the embeddings
    emb = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0], [0.0, math.log(4.0)], [math.log(9.0), 0.0]])
    groups = torch.tensor([0, 0, 1, 1])
    # softmax rows: (1/2, 1/2), (3/4, 1/4), (1/5, 4/5), (9/10, 1/10); p of the target group 1 for every row
    # (not of the row's own group): 1/2, 1/4, 4/5, 1/10 -> |0.9 - p| = 0.4, 0.65, 0.1, 0.8
    expected = (math.log(1.4) + math.log(1.65) + math.log(1.1) + math.log(1.8)) / 4
    assert float(cb.regularizer(emb)) == pytest.approx(expected, rel=1e-6)
    batch = Batch(images=torch.zeros(4, 1), targets=torch.zeros(4, dtype=torch.long), index=torch.arange(4),
                  groups=groups, epoch=0, step=0)
    assert float(cb.extra_loss(None, batch, emb, torch.zeros(4, 3))) == pytest.approx(2 * expected, rel=1e-6)
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    assert float(sensitive_regularizer(probs, 0)) == pytest.approx(math.log(1.7) / 2)
    assert float(sensitive_regularizer(probs, 1)) == pytest.approx((math.log(1.8) + math.log(1.1)) / 2)


class _Task:
    group_names = ["female", "male", "other"]
    train_dataset = range(7)

    def groups(self, index):
        return torch.tensor([1, 1, 1, 0, 0, 2, 2])[index]


@pytest.mark.parametrize("target, code", [(None, 0), ("male", 1), ("other", 2)])
def test_target_group(target, code):
    from fairvision.mitigate.callbacks import target_group

    assert target_group(_Task(), target) == code  # default: the smallest group (ties: the first)


def test_unknown_target_group_is_an_error():
    from fairvision.errors import ConfigError
    from fairvision.mitigate.callbacks import target_group

    with pytest.raises(ConfigError, match="mitigation.target: 'x' is not a group"):
        target_group(_Task(), "x")


def _setup(alpha: float):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    head = create_head("CosFace", embedding_dim=4, num_classes=5, s=8.0)
    optimizer = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)
    step = TrainStep(model, head, create_loss("ce"), optimizer, device=torch.device("cpu"))
    cb = GroupDiscriminator({"alpha": alpha, "hidden": 8, "lr": 0.01})
    cb.build(4, 2, seed=1)
    return model, head, step, cb


def _one_step(alpha: float):
    model, head, step, cb = _setup(alpha)
    before = {"model": [p.detach().clone() for p in model.parameters()],
              "disc": [p.detach().clone() for p in cb.net.parameters()]}
    gen = torch.Generator().manual_seed(2)
    images = torch.randn(6, 3, 2, 2, generator=gen)
    batch = Batch(images=images, targets=torch.tensor([0, 1, 2, 3, 4, 0]), index=torch.arange(6),
                  groups=torch.tensor([0, 1, 0, 1, 0, 1]), epoch=0, step=0)
    loss, finite = step(batch.images, batch.targets, groups=batch.groups,
                        extra_loss=lambda emb, logits: cb.extra_loss(None, batch, emb, logits))
    assert bool(finite)
    cb.on_after_optimizer_step(None, 0, 0)
    return model, cb, before


def test_one_step_updates_the_backbone_and_the_discriminator():
    model, cb, before = _one_step(alpha=1.0)
    assert all(not torch.equal(a, b) for a, b in zip(before["model"], model.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before["disc"], cb.net.parameters()))
    assert cb.optimizer.state  # Adam's moments: the discriminator's own optimizer stepped
    record: dict = {}
    cb.on_epoch_end(None, 0, record)
    assert record.keys() == {"sensitive_regularizer", "discriminator_loss", "discriminator_accuracy"}
    assert 0 < record["sensitive_regularizer"] < math.log(1.9) and 0 <= record["discriminator_accuracy"] <= 1


def test_the_regularizer_moves_the_backbone():
    with_reg, _, _ = _one_step(alpha=1.0)
    without, _, _ = _one_step(alpha=0.0)
    assert any(not torch.equal(a, b) for a, b in zip(with_reg.parameters(), without.parameters()))


def test_state_round_trip():
    _, cb, _ = _one_step(alpha=1.0)
    state = cb.state_dict()
    other = GroupDiscriminator({"alpha": 1.0, "hidden": 8, "lr": 0.01})
    other.load_state_dict(state)
    other.build(4, 2, seed=99)  # the saved weights win over the new draw
    assert all(torch.equal(a, b) for a, b in zip(cb.net.parameters(), other.net.parameters()))
    assert other.optimizer.state_dict()["state"].keys() == cb.optimizer.state_dict()["state"].keys()
