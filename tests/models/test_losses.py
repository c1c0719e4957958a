"""Classification losses (fairvision.models.losses)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fairvision.errors import ConfigError
from fairvision.models import LOSSES, create_loss

LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 3.0, 0.5]])
LABELS = torch.tensor([0, 2, 0])


def _p_true() -> list[float]:
    p = []
    for row, y in zip(LOGITS.tolist(), LABELS.tolist()):
        z = sum(math.exp(v) for v in row)
        p.append(math.exp(row[y]) / z)
    return p


def test_ce_is_cross_entropy_by_hand():
    loss = create_loss()  # default "ce"
    expected = sum(-math.log(p) for p in _p_true()) / 3
    assert loss(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)
    assert create_loss("CE")(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_focal_gamma0_equals_ce(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(16, 10, generator=g) * 3
    labels = torch.randint(0, 10, (16,), generator=g)
    ce = F.cross_entropy(logits, labels)
    torch.testing.assert_close(create_loss("focal", gamma=0.0)(logits, labels), ce)
    torch.testing.assert_close(create_loss("focal_batch", gamma=0.0)(logits, labels), ce)


def test_focal_gamma2_by_hand():
    # p = e^2/(e^2+e+1) = 0.6652, 1/3, e^-1/(e^-1+e^3+e^0.5) = 0.01711
    expected = sum((1 - p) ** 2 * -math.log(p) for p in _p_true()) / 3
    assert create_loss("focal")(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)
    assert create_loss("Focal", gamma=2.0)(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)
    assert create_loss("focal").gamma == 2.0  # FR-NAS default


def test_focal_batch_variant_by_hand():
    ce = sum(-math.log(p) for p in _p_true()) / 3
    expected = (1 - math.exp(-ce)) ** 2 * ce
    assert create_loss("focal_batch")(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)


def test_focal_downweights_easy_examples_and_backprops():
    logits = LOGITS.clone().requires_grad_(True)
    focal = create_loss("focal", gamma=2.0)(logits, LABELS)
    assert 0 < focal.item() < F.cross_entropy(LOGITS, LABELS).item()
    focal.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert focal.dim() == 0


def test_unknown_loss_and_bad_gamma():
    with pytest.raises(ConfigError) as info:
        create_loss("hinge")
    assert "'hinge'" in str(info.value) and "focal" in str(info.value) and "ce" in str(info.value)
    with pytest.raises(ConfigError):
        create_loss("focal", gamma=-1.0)


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_builds_and_reduces_to_a_scalar(name):
    """Generated from the registry: every loss builds by name (any case) and returns a finite scalar."""
    for spelled in (name, name.upper()):
        loss = create_loss(spelled, gamma=2.0)
        targets = (LABELS[:, None] == torch.arange(LOGITS.shape[1])).float() if getattr(loss, "multilabel", False) \
            else LABELS  # multi-label losses take the one-hot matrix
        value = loss(LOGITS, targets)
        assert value.shape == () and torch.isfinite(value) and value > 0


def test_unknown_loss_suggests_close_names():
    with pytest.raises(ConfigError, match=r"unknown loss 'focl' \(did you mean 'focal'.*\); must be one of ce, focal"):
        create_loss("focl")
