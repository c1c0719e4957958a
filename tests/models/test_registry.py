"""Model registry and factory (fairvision.models.registry / backbones)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fairvision.errors import ConfigError
from fairvision.models import create_model, is_model, list_models, register_model
from fairvision.models.registry import MODELS
from fairvision.models.backbones import TimmBackbone
from fairvision.models.dpn import FRNASDPN


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_list_models_lists_our_models():
    assert "frnas_dpn" in list_models()
    assert list_models("frnas*") == ["frnas_dpn"]
    assert list_models("FRNAS_*") == ["frnas_dpn"]
    assert list_models("resnet*") == []  # timm's models are not ours
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize(
    "name, expected",
    [("frnas_dpn", True), ("FRNAS_DPN", True), ("resnet18", True), ("rexnet_100", True),
     ("resnet18.a1_in1k", True), ("not_a_model_xyz", False), ("hf-hub:timm/resnet18.a1_in1k", False)],
)
def test_is_model(name, expected):
    assert is_model(name) is expected


def test_register_model_and_create():
    name = "test_tiny_linear_xyz"

    @register_model(name)
    def tiny(*, embedding_dim: int = 7, bias: bool = False) -> nn.Module:
        m = nn.Sequential(nn.Flatten(1), nn.LazyLinear(embedding_dim, bias=bias))
        m.embedding_dim = embedding_dim
        return m

    try:
        assert name in list_models()
        assert is_model(name)
        m = create_model(name)
        assert m.embedding_dim == 7  # the builder's own default embedding size
        assert create_model(name, embedding_dim=3, bias=True)(torch.randn(2, 3, 4, 4)).shape == (2, 3)
        with pytest.raises(ConfigError, match="bad arguments"):
            create_model(name, depth=3)
        with pytest.raises(ValueError, match="already registered"):
            register_model(name)(lambda **kw: nn.Identity())
    finally:
        MODELS.unregister(name)
    assert name not in list_models()


def test_frnas_dpn_embedding_dim_defaults():
    m = create_model("frnas_dpn", width=0.0625)
    assert isinstance(m, FRNASDPN) and m.embedding_dim == 1000
    m = create_model("frnas_dpn", width=0.0625, embedding_dim=32)
    assert m.embedding_dim == 32 and m.classifier.out_channels == 32


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("resnet18", {}),
        ("mobilenetv3_small_050", {}),
        ("vit_tiny_patch16_224", {"img_size": 32, "patch_size": 8}),
    ],
)
def test_timm_backbones_train(name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, embedding_dim=24, **kwargs)
    assert isinstance(model, TimmBackbone)
    assert model.embedding_dim == 24
    linear, bn = model.embedding
    assert isinstance(linear, nn.Linear) and linear.bias is None
    assert (linear.in_features, linear.out_features) == (model.num_features, 24)
    assert isinstance(bn, nn.BatchNorm1d) and bn.num_features == 24
    assert not any(isinstance(m, nn.Linear) and m.out_features == 1000 for m in model.body.modules())  # no classifier
    x = torch.randn(2, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, 24) and torch.isfinite(y).all()
    y.pow(2).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    assert linear.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert model(x[:1]).shape == (1, 24)  # eval mode: a single image works (BatchNorm1d uses running stats)


def test_timm_default_embedding_dim_is_512():
    model = create_model("resnet18")
    assert model.embedding_dim == 512 and model.num_features == 512
    assert model.embedding[0].out_features == 512


@pytest.mark.parametrize("bad, close", [("resnt18", "resnet18"), ("frnas_dpm", "frnas_dpn")])
def test_unknown_model_error_lists_close_matches(bad, close):
    with pytest.raises(ConfigError) as info:
        create_model(bad)
    msg = str(info.value)
    assert repr(bad) in msg and close in msg and "timm.list_models()" in msg


def test_refuses_pretrained_and_bad_kwargs():
    with pytest.raises(ConfigError, match="pretrained"):
        create_model("resnet18", pretrained=True)
    with pytest.raises(ConfigError):
        create_model("resnet18", num_classes=10)
    with pytest.raises(ConfigError):
        create_model("frnas_dpn", depth=3)
    with pytest.raises(ConfigError):
        create_model("resnet18", embedding_dim=0)


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_builds_and_embeds(name):
    """Generated from the registry: every fairvision model builds with its defaults (small where it can be)."""
    kwargs = {"width": 0.0625} if name == "frnas_dpn" else {}
    model = create_model(name, embedding_dim=8, **kwargs).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 8)
