"""Structured channel pruning (Torch-Pruning): smaller models with the same output; unsupported ones refused fast."""

from __future__ import annotations

import time

import pytest
import torch

pytest.importorskip("torch_pruning")

from fairvision._compat import import_timm  # noqa: E402
from fairvision.errors import ConfigError  # noqa: E402
from fairvision.models import create_model  # noqa: E402
from fairvision.prune import (  # noqa: E402
    IMPORTANCES,
    StructuredReport,
    check_structured_support,
    measure_latency,
    structured_prune,
)
from fairvision.prune import structured  # noqa: E402

X64 = torch.randn(1, 3, 64, 64)


def _timm(name: str, **kwargs):
    return import_timm().create_model(name, pretrained=False, **kwargs)


def test_resnet18_half_channels():
    torch.manual_seed(0)
    model = _timm("resnet18", num_classes=40)
    report = structured_prune(model, example_inputs=X64, ratio=0.5, latency_repeats=2)
    assert isinstance(report, StructuredReport) and report.architecture == "resnet18"
    assert report.params_after < 0.35 * report.params_before and report.macs_after < 0.35 * report.macs_before
    assert report.params_after == sum(p.numel() for p in model.parameters())
    assert model.fc.out_features == 40 and model.conv1.out_channels == 32  # classifier width kept, channels halved
    assert model.training  # mode restored
    with torch.no_grad():
        assert model.eval()(torch.randn(3, 3, 96, 96)).shape == (3, 40)
    assert report.speedup is not None and report.speedup > 0
    assert set(report.to_dict()) >= {"params_before", "macs_after", "latency_after_s", "params_ratio", "speedup"}


@pytest.mark.parametrize("importance", ["magnitude", "l1", "lamp", "fpgm", "bn_scale", "random"])
def test_backbone_keeps_its_embedding_width(importance):
    torch.manual_seed(0)
    model = create_model("resnet18", embedding_dim=24)
    before = model.body.layer1[0].conv1.out_channels
    report = structured_prune(model, example_inputs=torch.randn(2, 3, 32, 32), ratio=0.25, importance=importance,
                              latency_repeats=None)
    assert report.latency_before_s is None and report.speedup is None and report.importance == importance
    assert report.params_after < report.params_before
    assert model.body.layer1[0].conv1.out_channels == before - before // 4
    assert model.embedding[0].out_features == 24 and model.embedding_dim == 24
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 24)


def test_ignored_layers_keep_their_channels():
    model = _timm("resnet18", num_classes=10)
    structured_prune(model, example_inputs=X64, ratio=0.5, ignored_layers=[model.layer1[0].conv1], latency_repeats=None)
    assert model.layer1[0].conv1.out_channels == 64 and model.layer2[0].conv1.out_channels == 64


@pytest.mark.parametrize("name", ["dpn68", "dpn92", "rexnet_100", "rexnetr_200", "frnas_dpn", "DPN107"])
def test_refused_by_name_fast(name):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=f"architecture '{name}' is not supported"):
        check_structured_support(name)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("make", [
    lambda: _timm("dpn68", num_classes=10),
    lambda: _timm("rexnet_100", num_classes=10),  # Torch-Pruning never finishes on it
    lambda: create_model("frnas_dpn", width=0.0625, embedding_dim=8),
    lambda: create_model("dpn68", embedding_dim=8),  # TimmBackbone: by model_name
    lambda: torch.nn.Sequential(_timm("rexnet_100", num_classes=10)),  # wrapped: by its layers' classes
], ids=["dpn68", "rexnet_100", "frnas_dpn", "backbone-dpn68", "wrapped-rexnet"])
def test_unsupported_models_are_refused_up_front(make):
    model = make()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="is not supported .*use unstructured magnitude pruning"):
        structured_prune(model, example_inputs=X64, ratio=0.5)
    assert time.perf_counter() - t0 < 1.0


def test_frnas_dpn_really_fails_in_torch_pruning(monkeypatch):
    """Why frnas_dpn is denied: without the denylist Torch-Pruning maps its sliced dual path wrongly."""
    monkeypatch.setattr(structured, "check_structured_support", lambda model: None)
    model = create_model("frnas_dpn", width=0.125, embedding_dim=8)
    with pytest.raises(ConfigError, match="Torch-Pruning cannot prune 'frnas_dpn'"):
        structured_prune(model, example_inputs=torch.randn(1, 3, 32, 32), ratio=0.5, latency_repeats=None)


def test_wall_clock_guard_stops_a_hang():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="building the groups of 'x' took more than 0.2 s"):
        with structured._time_limit(0.2, "building the groups of 'x'"):
            while True:
                pass
    assert time.perf_counter() - t0 < 1.0
    with structured._time_limit(5.0, "quick"):  # no alarm left behind
        pass
    time.sleep(0.05)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, True])
def test_bad_ratio(ratio):
    with pytest.raises(ConfigError, match="ratio: must be a number in"):
        structured_prune(_timm("resnet18", num_classes=4), example_inputs=X64, ratio=ratio)


def test_unknown_importance():
    with pytest.raises(ConfigError, match="unknown channel importance 'magnitud'"):
        structured_prune(_timm("resnet18", num_classes=4), example_inputs=X64, ratio=0.5, importance="magnitud")
    assert IMPORTANCES.names()[0] == "magnitude"


def test_measure_latency():
    model = torch.nn.Linear(8, 8).train()
    seconds = measure_latency(model, torch.randn(4, 8), repeats=3, warmup=1)
    assert 0 < seconds < 1 and model.training
    with pytest.raises(ConfigError, match="repeats must be >= 1"):
        measure_latency(model, torch.randn(4, 8), repeats=0)
