"""Margin heads (fairvision.models.heads): logits against hand-computed formulas."""

from __future__ import annotations

import math

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.models import create_head
from fairvision.models.heads import HEADS, AdaFace, ArcFace, CosFace, MagFace, SphereFace

NAMES = HEADS.names()


def _head(name: str, **kwargs):
    """A head on 2-D embeddings with 3 classes at angles 0, pi/2 and pi."""
    head = create_head(name, embedding_dim=2, num_classes=3, **kwargs)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5], [-3.0, 0.0]]))  # norms don't matter
    return head


def _emb(angles, norms=1.0) -> torch.Tensor:
    """Embeddings at the given angles (radians) from class 0, with the given norms."""
    a = torch.as_tensor(angles, dtype=torch.float64).float()
    r = torch.as_tensor(norms, dtype=torch.float32).expand_as(a)
    return torch.stack([r * torch.cos(a), r * torch.sin(a)], dim=1)


def _non_target(logits, s, angles):
    """Logits of classes 1 and 2 for label 0: s * cos(pi/2 - a) and s * cos(pi - a)."""
    a = torch.as_tensor(angles, dtype=torch.float32)
    expected = torch.stack([s * torch.sin(a), -s * torch.cos(a)], dim=1)
    torch.testing.assert_close(logits[:, 1:], expected, rtol=1e-5, atol=1e-4)


def test_create_head_names_case_insensitive_and_weight_shape():
    for name in NAMES:
        for spelled in (name, name.lower(), name.upper()):
            head = create_head(spelled, embedding_dim=8, num_classes=5)
            assert type(head) is HEADS.get(name)
            assert head.weight.shape == (5, 8) and isinstance(head.weight, torch.nn.Parameter)


def test_unknown_head_names_choices():
    with pytest.raises(ConfigError) as info:
        create_head("NormFace", embedding_dim=8, num_classes=5)
    assert "'NormFace'" in str(info.value)
    assert all(n in str(info.value) for n in NAMES)
    with pytest.raises(ConfigError):
        create_head("CosFace", embedding_dim=8, num_classes=5, margin=0.2)
    with pytest.raises(ConfigError):
        create_head("CosFace", embedding_dim=0, num_classes=5)


def test_default_hyperparameters():
    h = create_head("cosface", embedding_dim=4, num_classes=2)
    assert (h.s, h.m) == (64.0, 0.35)
    h = create_head("arcface", embedding_dim=4, num_classes=2)
    assert (h.s, h.m, h.easy_margin) == (64.0, 0.5, False)
    h = create_head("magface", embedding_dim=4, num_classes=2)
    assert (h.s, h.l_a, h.u_a, h.l_m, h.u_m, h.lambda_g) == (32.0, 10.0, 110.0, 0.45, 0.8, 20.0)
    h = create_head("sphereface", embedding_dim=4, num_classes=2)
    assert h.m == 4
    h = create_head("adaface", embedding_dim=4, num_classes=2)
    assert (h.m, h.h, h.s, h.t_alpha) == (0.4, 0.333, 64.0, 0.01)


ANGLES = [0.6, 1.2, 2.0, 2.9]
LABELS0 = torch.zeros(len(ANGLES), dtype=torch.long)


def test_cosface_logits():
    head = _head("CosFace")
    logits = head(_emb(ANGLES, 5.0), LABELS0)
    expected = torch.tensor([64 * (math.cos(a) - 0.35) for a in ANGLES])
    torch.testing.assert_close(logits[:, 0], expected, rtol=1e-5, atol=1e-4)
    _non_target(logits, 64.0, ANGLES)


def test_cosface_target_column_follows_label():
    head = _head("CosFace", s=10.0, m=0.2)
    x = _emb([0.3, 0.3])
    logits = head(x, torch.tensor([1, 2]))
    c = [math.cos(0.3), math.sin(0.3), -math.cos(0.3)]
    expected = torch.tensor([[10 * c[0], 10 * (c[1] - 0.2), 10 * c[2]], [10 * c[0], 10 * c[1], 10 * (c[2] - 0.2)]])
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-4)


def _arc_expected(a: float, m: float, s: float, easy: bool = False) -> float:
    cos = math.cos(a)
    if easy:
        return s * (math.cos(a + m) if cos > 0 else cos)
    if cos > math.cos(math.pi - m):
        return s * math.cos(a + m)
    return s * (cos - math.sin(math.pi - m) * m)


def test_arcface_logits_with_threshold_rule():
    head = _head("ArcFace")
    logits = head(_emb(ANGLES, 3.0), LABELS0)
    # 0.6, 1.2, 2.0: theta + m < pi -> s*cos(theta + m); 2.9 > pi - 0.5 -> s*(cos theta - sin(pi - m) m)
    expected = [64 * math.cos(1.1), 64 * math.cos(1.7), 64 * math.cos(2.5),
                64 * (math.cos(2.9) - math.sin(math.pi - 0.5) * 0.5)]
    torch.testing.assert_close(logits[:, 0], torch.tensor(expected), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(logits[:, 0], torch.tensor([_arc_expected(a, 0.5, 64) for a in ANGLES]))
    _non_target(logits, 64.0, ANGLES)


def test_arcface_easy_margin():
    head = _head("ArcFace", easy_margin=True)
    logits = head(_emb(ANGLES), LABELS0)
    expected = [64 * math.cos(1.1), 64 * math.cos(1.7), 64 * math.cos(2.0), 64 * math.cos(2.9)]
    torch.testing.assert_close(logits[:, 0], torch.tensor(expected), rtol=1e-5, atol=1e-4)


def test_arcface_target_is_monotone_in_theta():
    head = _head("ArcFace")
    angles = torch.linspace(0.0, math.pi, 200)
    target = head(_emb(angles), torch.zeros(200, dtype=torch.long))[:, 0]
    assert (target[1:] <= target[:-1] + 1e-4).all()


@pytest.mark.parametrize(
    "norm, margin",
    [(5.0, 0.45), (10.0, 0.45), (60.0, 0.625), (110.0, 0.8), (500.0, 0.8), (32.0, 0.45 + 0.35 * 22 / 100)],
)
def test_magface_margin_depends_on_norm(norm, margin):
    head = _head("MagFace")
    logits = head(_emb([0.6, 2.9], norm), torch.zeros(2, dtype=torch.long))
    expected = torch.tensor([_arc_expected(0.6, margin, 32.0), _arc_expected(2.9, margin, 32.0)])
    torch.testing.assert_close(logits[:, 0], expected, rtol=1e-5, atol=1e-4)
    _non_target(logits, 32.0, [0.6, 2.9])


def test_magface_regularizer_by_hand():
    head = _head("MagFace")
    x = _emb([0.1, 1.0, 2.0], torch.tensor([5.0, 60.0, 200.0]))
    # a = clamp(norm, 10, 110) = 10, 60, 110; g(a) = 1/a + a/110^2; 20 * mean
    g = [1 / 10 + 10 / 110**2, 1 / 60 + 60 / 110**2, 1 / 110 + 110 / 110**2]
    expected = 20 * sum(g) / 3
    torch.testing.assert_close(head.regularizer(x), torch.tensor(expected), rtol=1e-6, atol=1e-6)
    assert head.regularizer(x).dim() == 0
    # g is minimised at a = u_a (where g'(a) = -1/a^2 + 1/u_a^2 = 0), so the gradient pushes norms up to u_a
    x = _emb([0.5], 50.0).requires_grad_(True)
    head.regularizer(x).backward()
    assert (x.grad * x.detach()).sum() < 0  # d reg / d norm < 0 below u_a


@pytest.mark.parametrize("name", [n for n in NAMES if n != "MagFace"])
def test_regularizer_zero_for_other_heads(name):
    head = _head(name)
    reg = head.regularizer(_emb([0.5, 1.0], 30.0))
    assert reg.dim() == 0 and reg.item() == 0.0


def _psi(theta: float, m: int = 4) -> float:
    k = math.floor(m * theta / math.pi)
    k = min(k, m - 1)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def test_sphereface_pure_psi_fixed_scale():
    head = _head("SphereFace", s=64.0, base=0.0, lambda_min=0.0)
    logits = head(_emb(ANGLES, 7.0), LABELS0)
    # 0.6: k=0 -> cos(2.4); 1.2: k=1 -> -cos(4.8) - 2; 2.0: k=2 -> cos(8) - 4; 2.9: k=3 -> -cos(11.6) - 6
    expected = [64 * math.cos(2.4), 64 * (-math.cos(4.8) - 2), 64 * (math.cos(8.0) - 4), 64 * (-math.cos(11.6) - 6)]
    torch.testing.assert_close(logits[:, 0], torch.tensor(expected), rtol=1e-5, atol=1e-3)
    _non_target(logits, 64.0, ANGLES)


def test_sphereface_psi_is_continuous_and_monotone():
    head = SphereFace(2, 3, m=4)
    cos = torch.cos(torch.linspace(0.0, math.pi, 2001, dtype=torch.float64))
    psi = head.psi(cos)
    assert psi[0].item() == pytest.approx(1.0) and psi[-1].item() == pytest.approx(-7.0)
    assert (psi[1:] <= psi[:-1] + 1e-9).all()
    assert (psi[1:] - psi[:-1]).abs().max() < 0.02  # no jumps at theta = k pi / m
    for t in (0.3, 1.0, 1.7, 2.5, 3.1):
        assert head.psi(torch.tensor([math.cos(t)], dtype=torch.float64)).item() == pytest.approx(_psi(t), abs=1e-9)


def test_sphereface_default_feature_norm_scale_and_annealing():
    head = _head("SphereFace")
    assert head.s is None
    x = _emb([0.6, 1.2], torch.tensor([3.0, 7.0]))
    labels = torch.zeros(2, dtype=torch.long)
    head.train()
    logits = head(x, labels)
    lamb = max(5.0, 1000.0 / (1 + 0.12 * 1))  # first training iteration
    assert int(head.iteration) == 1 and head.current_lambda() == pytest.approx(lamb)
    for i, (a, r) in enumerate([(0.6, 3.0), (1.2, 7.0)]):
        target = math.cos(a) + (_psi(a) - math.cos(a)) / (1 + lamb)
        assert logits[i, 0].item() == pytest.approx(r * target, rel=1e-5)
        assert logits[i, 1].item() == pytest.approx(r * math.sin(a), rel=1e-5)  # ||x|| * cos
    head.eval()
    head(x, labels)
    assert int(head.iteration) == 1  # eval forwards do not advance the schedule
    head.iteration.fill_(100_000)
    assert head.current_lambda() == 5.0
    logits = head(x, labels)
    assert logits[0, 0].item() == pytest.approx(3.0 * (math.cos(0.6) + (_psi(0.6) - math.cos(0.6)) / 6), rel=1e-5)


def _ada_expected(a: float, norm: float, mean: float, std: float, m=0.4, h=0.333, s=64.0, eps=1e-3) -> float:
    z = max(-1.0, min(1.0, h * (norm - mean) / (std + eps)))
    theta = min(max(a - m * z, eps), math.pi - eps)
    return s * (math.cos(theta) - (m + m * z))


def test_adaface_eval_uses_running_statistics():
    head = _head("AdaFace").eval()
    angles, norms = [0.6, 1.2, 2.0], [50.0, 20.0, 5.0]
    logits = head(_emb(angles, torch.tensor(norms)), torch.zeros(3, dtype=torch.long))
    expected = [_ada_expected(a, r, 20.0, 100.0) for a, r in zip(angles, norms)]
    torch.testing.assert_close(logits[:, 0], torch.tensor(expected), rtol=1e-5, atol=1e-4)
    _non_target(logits, 64.0, angles)
    assert head.batch_mean.item() == 20.0 and head.batch_std.item() == 100.0  # untouched in eval
    # norm at the running mean: z = 0 -> plain CosFace-like margin m (cos(theta) - m)
    assert logits[1, 0].item() == pytest.approx(64 * (math.cos(1.2) - 0.4), rel=1e-5)


def test_adaface_training_updates_ema_before_use():
    head = _head("AdaFace", h=1.0, m=0.5).train()
    norms = torch.tensor([50.0, 10.0])
    logits = head(_emb([0.6, 1.2], norms), torch.zeros(2, dtype=torch.long))
    mean = 0.99 * 20 + 0.01 * 30.0
    std = 0.99 * 100 + 0.01 * norms.std().item()  # unbiased std of the batch norms (28.28)
    assert head.batch_mean.item() == pytest.approx(mean, rel=1e-6)
    assert head.batch_std.item() == pytest.approx(std, rel=1e-6)
    expected = [_ada_expected(0.6, 50.0, mean, std, m=0.5, h=1.0), _ada_expected(1.2, 10.0, mean, std, m=0.5, h=1.0)]
    torch.testing.assert_close(logits[:, 0], torch.tensor(expected), rtol=1e-5, atol=1e-4)


def test_adaface_scaler_is_clipped():
    head = _head("AdaFace", h=1.0).eval()
    with torch.no_grad():
        head.batch_std.fill_(1.0)
    logits = head(_emb([1.0, 1.0], torch.tensor([90.0, 0.5])), torch.zeros(2, dtype=torch.long))
    # z = +1: cos(theta - m) - 2m ; z = -1: cos(theta + m) - 0
    assert logits[0, 0].item() == pytest.approx(64 * (math.cos(0.6) - 0.8), rel=1e-5)
    assert logits[1, 0].item() == pytest.approx(64 * math.cos(1.4), rel=1e-5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_backward_finite_including_aligned_embeddings(name, mode):
    torch.manual_seed(0)
    head = create_head(name, embedding_dim=8, num_classes=5).train(mode == "train")
    x = torch.randn(6, 8) * 10
    with torch.no_grad():  # two embeddings exactly on their class centre, one exactly opposite (cos = +-1)
        x[0] = head.weight[2] * 3
        x[1] = -head.weight[4] * 3
        x[2] = head.weight[0] * 5
    x.requires_grad_(True)
    labels = torch.tensor([2, 4, 0, 1, 3, 3])
    logits = head(x, labels)
    assert logits.shape == (6, 5) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, labels) + head.regularizer(x)
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.isfinite(head.weight.grad).all() and head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_margin_lowers_the_target_logit(name):
    """Compared with plain s*cos, each head's margin makes the target logit harder (for theta < pi/2)."""
    head = _head(name, **({"s": 64.0} if name == "SphereFace" else {})).eval()
    x = _emb([0.5, 1.0], 30.0)
    logits = head(x, torch.zeros(2, dtype=torch.long))
    s = 64.0 if name != "MagFace" else 32.0
    plain = s * torch.cos(torch.tensor([0.5, 1.0]))
    assert (logits[:, 0] < plain - 1e-3).all()


def test_labels_shape_checked():
    head = CosFace(4, 3)
    with pytest.raises(ValueError):
        head(torch.randn(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError):
        head(torch.randn(2, 5), torch.tensor([0, 1]))
    assert isinstance(create_head("adaface", embedding_dim=4, num_classes=3), AdaFace)
    assert isinstance(create_head("magface", embedding_dim=4, num_classes=3), MagFace)
    assert isinstance(create_head("arcface", embedding_dim=4, num_classes=3), ArcFace)


@pytest.mark.parametrize("name", HEADS.names())
def test_every_registered_head_builds_and_trains(name):
    """Generated from the registry: every head builds by name, gives (B, C) logits and a finite gradient."""
    head = create_head(name, embedding_dim=6, num_classes=4)
    emb = torch.randn(5, 6, requires_grad=True)
    logits = head(emb, torch.tensor([0, 1, 2, 3, 0]))
    assert logits.shape == (5, 4) and torch.isfinite(logits).all()
    (logits.sum() + head.regularizer(emb)).backward()
    assert torch.isfinite(emb.grad).all() and torch.isfinite(head.weight.grad).all()
