"""Unstructured magnitude pruning: scope, exact cumulative sparsity (global and layer-wise), masks, measurement."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from fairvision.errors import ConfigError
from fairvision.models import create_head, create_model
from fairvision.prune import (
    PRUNERS,
    apply_masks,
    enforce_masks,
    get_masks,
    is_pruned,
    magnitude_prune,
    prunable_modules,
    sparsity_report,
)


class Net(nn.Module):
    """Every kind of layer: conv1d/2d/3d, norms, linears (the last one the classifier)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(2, 3, 3)
        self.c2 = nn.Conv2d(3, 5, 3, bias=True)
        self.bn = nn.BatchNorm2d(5)
        self.c3 = nn.Conv3d(5, 4, 1)
        self.ln = nn.LayerNorm(4)
        self.fc1 = nn.Linear(40, 30)
        self.fc2 = nn.Linear(30, 7)


def _net(seed: int = 0) -> Net:
    torch.manual_seed(seed)
    return Net()


def _masked(layers) -> list[int]:
    return [int((m.weight_mask == 0).sum()) if is_pruned(m) else 0 for _, m in layers]


# --------------------------------------------------------------------------- scope


def test_scope_is_every_conv_and_linear_weight():
    model = _net()
    layers = prunable_modules(model)
    assert [n for n, _ in layers] == ["c1", "c2", "c3", "fc1", "fc2"]
    magnitude_prune(layers, 0.5)
    keys = set(model.state_dict())
    assert {f"{n}.weight_orig" for n, _ in layers} | {f"{n}.weight_mask" for n, _ in layers} <= keys
    assert {"c2.bias", "bn.weight", "bn.bias", "ln.weight", "fc2.bias"} <= keys  # biases and norms untouched
    assert not any(k.endswith("_mask") and not k.endswith("weight_mask") for k in keys)
    assert not any(k.startswith(("bn.", "ln.")) and k.endswith(("_orig", "_mask")) for k in keys)


def test_exclude_first_last():
    assert [n for n, _ in prunable_modules(_net(), exclude_first_last=True)] == ["c2", "c3", "fc1"]
    # a head with a Linear: its last Linear is "last"; the model's last Linear stays in scope
    head = nn.Sequential(nn.Linear(7, 7), nn.ReLU(), nn.Linear(7, 3))
    assert [n for n, _ in prunable_modules(_net(), head)] == ["c1", "c2", "c3", "fc1", "fc2", "head.0", "head.2"]
    assert [n for n, _ in prunable_modules(_net(), head, exclude_first_last=True)] == [
        "c2", "c3", "fc1", "fc2", "head.0"]


def test_scope_of_fairvision_backbones():
    dpn = create_model("frnas_dpn", edges=(0, 0, 0), width=0.0625, embedding_dim=8)
    margin_head = create_head("CosFace", embedding_dim=8, num_classes=5)
    names = [n for n, _ in prunable_modules(dpn, margin_head)]
    assert names[0] == "features.conv1_1.conv" and names[-1] == "classifier"  # the head has no Linear: not pruned
    kept = [n for n, _ in prunable_modules(dpn, margin_head, exclude_first_last=True)]
    assert kept == names[1:-1]  # no Linear in the DPN: its last conv (1x1-conv classifier) is "last"
    timm = create_model("resnet18", embedding_dim=16)
    names = [n for n, _ in prunable_modules(timm, margin_head, exclude_first_last=True)]
    assert "body.conv1" not in names and "embedding.0" not in names and "body.layer4.1.conv2" in names


def test_scope_with_a_linear_classifier_head():
    """Iofinova et al.'s attribute classifier: ResNet18 features and a fully connected layer (the ``Linear``
    head), which is pruned by default and is the "last" layer."""
    model = create_model("resnet18", embedding_dim=16)
    head = create_head("Linear", embedding_dim=16, num_classes=5)
    names = [n for n, _ in prunable_modules(model, head)]
    assert names[-2:] == ["embedding.0", "head"]
    kept = [n for n, _ in prunable_modules(model, head, exclude_first_last=True)]
    assert kept == names[1:-1]
    magnitude_prune(prunable_modules(model, head), 0.5)
    assert set(head.state_dict()) == {"weight_orig", "weight_mask", "bias"}
    assert head(torch.randn(2, 16)).shape == (2, 5)


# --------------------------------------------------------------------------- exact sparsity


LEVELS = [0.0, 0.05, 0.3647, 0.5, 0.7414, 0.9, 0.99]


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_cumulative_sparsity_is_exact(scope):
    layers = prunable_modules(_net())
    sizes = [m.weight.numel() for _, m in layers]
    total = sum(sizes)
    for s in LEVELS:  # repeated calls with increasing sparsity
        magnitude_prune(layers, s, scope=scope)
        masked = _masked(layers)
        if scope == "global":
            assert sum(masked) == round(s * total)
        else:
            assert masked == [round(s * n) for n in sizes]
        report = sparsity_report(layers)
        assert report["overall"] == pytest.approx(sum(masked) / total, abs=0)
        assert all(abs(report["layers"][n] - s) <= 1 / size for (n, _), size in zip(layers, sizes)) \
            or scope == "global"
        # the effective weights are exact zeros where masked, and masks only grow
        for _, m in layers:
            assert torch.all(m.weight[m.weight_mask == 0] == 0)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_smallest_magnitudes_are_pruned(scope):
    layers = prunable_modules(_net())
    dense = {n: m.weight.detach().abs().clone() for n, m in layers}
    magnitude_prune(layers, 0.4, scope=scope)
    if scope == "global":
        pruned = torch.cat([dense[n][m.weight_mask == 0] for n, m in layers])
        kept = torch.cat([dense[n][m.weight_mask == 1] for n, m in layers])
        assert pruned.max() <= kept.min()
    else:
        for n, m in layers:
            assert dense[n][m.weight_mask == 0].max() <= dense[n][m.weight_mask == 1].min()


def test_lower_sparsity_is_refused_same_is_a_noop():
    layers = prunable_modules(_net())
    magnitude_prune(layers, 0.5)
    before = get_masks(layers)
    magnitude_prune(layers, 0.5)  # no-op
    assert all(torch.equal(before[n], m) for n, m in get_masks(layers).items())
    with pytest.raises(ConfigError, match="below the current global sparsity"):
        magnitude_prune(layers, 0.3)
    with pytest.raises(ConfigError, match="below the current sparsity .* of layer c2"):
        magnitude_prune(layers, 0.3, scope="layerwise")
    assert all(torch.equal(before[n], m) for n, m in get_masks(layers).items())  # nothing pruned before refusing


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), True, "0.5"])
def test_bad_sparsity(bad):
    with pytest.raises(ConfigError, match="sparsity: must be a number in"):
        magnitude_prune(prunable_modules(_net()), bad)


def test_unknown_scope_and_empty_scope():
    with pytest.raises(ConfigError, match="unknown pruning scope 'globl' .*did you mean 'global'"):
        magnitude_prune(prunable_modules(_net()), 0.5, scope="globl")
    with pytest.raises(ConfigError, match="no prunable layers"):
        magnitude_prune([], 0.5)
    assert PRUNERS.names() == ["global", "layerwise"] and "layer-wise" in PRUNERS


def test_importance_is_the_current_weight_not_the_stale_attribute():
    """After an optimizer step, ``module.weight`` of a pruned module is stale until the next forward; the next
    pruning event must rank the current ``weight_orig * weight_mask``."""
    lin = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    layers = [("lin", lin)]
    magnitude_prune(layers, 0.25)  # masks 1.0
    with torch.no_grad():
        lin.weight_orig.copy_(torch.tensor([[1.0, 5.0, 0.5, 4.0]]))  # an "optimizer step"; lin.weight is stale
    magnitude_prune(layers, 0.5)
    assert lin.weight_mask.tolist() == [[0.0, 1.0, 0.0, 1.0]]  # 0.5 pruned, not 2.0 (the stale weight)


# --------------------------------------------------------------------------- masks


def test_masks_round_trip_into_a_new_model():
    a, b = _net(0), _net(1)
    magnitude_prune(prunable_modules(a), 0.6)
    masks = get_masks(prunable_modules(a))
    assert all(m.dtype == torch.bool and m.device.type == "cpu" for m in masks.values())
    apply_masks(prunable_modules(b), masks)
    b.load_state_dict(a.state_dict())  # weight_orig / weight_mask keys load
    x = torch.randn(2, 30)
    assert torch.equal(a.fc2(x), b.fc2(x))  # both forward pre-hooks give the same masked weight
    assert sparsity_report(prunable_modules(b)) == sparsity_report(prunable_modules(a))


def test_apply_masks_refuses_unknown_names_and_shapes():
    with pytest.raises(ConfigError, match=r"not in this model's pruning scope: \['nope'\]"):
        apply_masks(prunable_modules(_net()), {"nope": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(ConfigError, match="the saved mask of fc2 has shape"):
        apply_masks(prunable_modules(_net()), {"fc2": torch.ones(3, 3, dtype=torch.bool)})


def test_enforce_masks_keeps_weight_orig_at_zero_under_momentum_and_decay():
    """Why the callback enforces masks: with SGD momentum and weight decay the effective weight stays 0 (the
    pre-hook multiplies by the mask) but ``weight_orig`` drifts at pruned positions; enforcing zeroes it."""
    for enforce in (False, True):
        torch.manual_seed(0)
        lin = nn.Linear(8, 8)
        opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
        x = torch.randn(16, 8)
        lin(x).square().mean().backward()
        opt.step()  # momentum buffers hold dense gradients
        magnitude_prune([("lin", lin)], 0.5)
        pruned = lin.weight_mask == 0
        for _ in range(3):
            opt.zero_grad()
            lin(x).square().mean().backward()
            assert torch.all(lin.weight_orig.grad[pruned] == 0)
            opt.step()
            if enforce:
                enforce_masks([("lin", lin)])
            lin(x)  # the forward pre-hook refreshes lin.weight
            assert torch.all(lin.weight[pruned] == 0)
        drift = lin.weight_orig.detach()[pruned].abs().max()
        assert (drift == 0) if enforce else (drift > 0)


def test_sparsity_report_of_dense_layers_counts_zeros():
    lin = nn.Linear(4, 5, bias=False)
    with torch.no_grad():
        lin.weight[:2] = 0
    report = sparsity_report([("lin", lin)])
    assert report == {"overall": 0.4, "layers": {"lin": 0.4}}
    assert not is_pruned(lin) and not prune.is_pruned(lin)
