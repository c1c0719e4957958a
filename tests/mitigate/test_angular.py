"""Angular: each group's margin on that group's rows; the head swap keeps CosFace's weights and state dict."""

from __future__ import annotations

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.mitigate import AngularMargins, GroupMarginCosFace, MitigationConfig
from fairvision.models import create_head
from fairvision.models.heads import CosFace


def test_each_group_gets_its_margin():
    torch.manual_seed(0)
    head = GroupMarginCosFace(6, 5, margins=[0.35, 0.45, 0.6], s=30.0)
    emb, labels = torch.randn(9, 6), torch.randint(0, 5, (9,))
    groups = torch.tensor([0, 1, 2, 0, 1, 2, 2, 1, 0])
    logits = head(emb, labels, groups=groups)
    for code, m in enumerate([0.35, 0.45, 0.6]):
        plain = CosFace(6, 5, s=30.0, m=m)
        plain.load_state_dict(head.state_dict())
        rows = groups == code
        assert torch.allclose(logits[rows], plain(emb[rows], labels[rows]), atol=1e-6)
    cos = head.cosine(emb)
    target = logits.gather(1, labels[:, None]).squeeze(1)
    assert torch.allclose(cos.gather(1, labels[:, None]).squeeze(1) - target / 30.0,
                          torch.tensor([0.35, 0.45, 0.6])[groups], atol=1e-6)  # exactly the group's margin
    off = torch.ones_like(logits, dtype=torch.bool).scatter(1, labels[:, None], False)
    assert torch.allclose(logits[off], 30.0 * cos[off])  # other classes: no margin
    with pytest.raises(ValueError, match="needs the group of every row"):
        head(emb, labels)
    assert set(head.state_dict()) == {"weight"}  # margins are not saved: a CosFace checkpoint


def test_callback_swaps_the_cosface_head(make_task):
    task = make_task([0, 1, 1, 0, 1], group_names=("female", "male"))  # male: the largest group
    head = create_head("CosFace", embedding_dim=4, num_classes=5, s=32.0)
    state = torch.get_rng_state()
    new = AngularMargins().on_head_built(task, head)
    assert torch.equal(torch.get_rng_state(), state)  # no random draw: a plain run's RNG stream
    assert isinstance(new, GroupMarginCosFace) and new.uses_groups and new.s == 32.0
    assert new.weight is head.weight
    assert new.margins.tolist() == pytest.approx([0.45, 0.35])  # female: minority margin, male: majority
    cb = AngularMargins({"group": "female", "m_majority": 0.3, "m_minority": 0.5})
    assert cb.on_head_built(task, head).margins.tolist() == pytest.approx([0.3, 0.5])
    assert cb.margins == {"female": 0.3, "male": 0.5}
    with pytest.raises(ConfigError, match="angular needs head CosFace, not ArcFace"):
        cb.on_head_built(task, create_head("ArcFace", embedding_dim=4, num_classes=5))


def test_margins_must_differ():
    assert (MitigationConfig(name="angular").m_majority, MitigationConfig(name="angular").m_minority) == (0.35, 0.45)
    with pytest.raises(ConfigError, match="m_minority: must be larger than m_majority"):
        MitigationConfig(name="angular", m_majority=0.35, m_minority=0.35)
