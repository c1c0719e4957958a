"""The FR-NAS DPN search-space network (fairvision.models.dpn)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fairvision._compat import import_timm
from fairvision.errors import ConfigError
from fairvision.models import FRNAS_OPS, create_model
from fairvision.models.dpn import DEFAULT_EDGES, DualPathBlock, FRNASDPN, make_op, scaled_config

SMALL = 0.0625  # the tiny width used for per-op forward/backward checks
EMB = 16


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run faster single-threaded (no thread hand-offs), notably on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _block_ops(block: DualPathBlock) -> list[nn.Module]:
    return [block.c1x1_a, block.c3x3_b, block.c1x1_c]


def test_ops_table():
    assert len(FRNAS_OPS) == 9
    assert [op.index for op in FRNAS_OPS] == list(range(9))
    assert [op.kernel_size for op in FRNAS_OPS] == [3, 1, 5] * 3
    assert [op.kind for op in FRNAS_OPS] == ["bn_relu_conv"] * 3 + ["conv"] * 3 + ["conv_bn_relu"] * 3
    assert len({op.name for op in FRNAS_OPS}) == 9


@pytest.mark.parametrize("index", range(9))
def test_make_op_layer_order(index):
    spec = FRNAS_OPS[index]
    op = make_op(index, 6, 9, stride=2, groups=3)
    layers = [m for m in op.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU))]
    kinds = [type(m).__name__ for m in layers]
    expected = {
        "bn_relu_conv": ["BatchNorm2d", "ReLU", "Conv2d"],
        "conv": ["Conv2d"],
        "conv_bn_relu": ["Conv2d", "BatchNorm2d", "ReLU"],
    }[spec.kind]
    assert kinds == expected
    conv = next(m for m in layers if isinstance(m, nn.Conv2d))
    assert conv.kernel_size == (spec.kernel_size,) * 2
    assert conv.padding == (spec.kernel_size // 2,) * 2
    assert conv.stride == (2, 2) and conv.groups == 3 and conv.bias is None
    bn = next((m for m in layers if isinstance(m, nn.BatchNorm2d)), None)
    if bn is not None:  # pre-activation BN sees the input channels, post-activation BN the output channels
        assert bn.num_features == (6 if spec.kind == "bn_relu_conv" else 9)
    y = op(torch.randn(2, 6, 7, 7))
    assert y.shape == (2, 9, 4, 4)  # "same" padding, stride 2


@pytest.mark.parametrize("position", range(3))
@pytest.mark.parametrize("op", range(9))
def test_every_op_at_every_edge_trains(op, position):
    edges = list(DEFAULT_EDGES)
    edges[position] = op
    torch.manual_seed(0)
    model = create_model("frnas_dpn", edges=tuple(edges), width=SMALL, embedding_dim=EMB)
    assert model.edges == tuple(edges)
    spec = FRNAS_OPS[op]
    for s, block in enumerate(b for b in model.features if isinstance(b, DualPathBlock)):
        chosen = _block_ops(block)[position]
        conv = next(m for m in chosen.modules() if isinstance(m, nn.Conv2d))
        assert conv.kernel_size == (spec.kernel_size,) * 2
        assert conv.groups == (model.config["groups"] if position == 1 else 1)
        assert conv.stride == ((1 if s == 0 else 2) if position == 1 else 1,) * 2
    x = torch.randn(2, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, EMB)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def _timm_dpn():
    timm = import_timm()
    from timm.models.dpn import DPN

    return timm, DPN


@pytest.mark.parametrize("stride", [1, 2])
def test_default_edges_equal_timm_dpn_block(stride):
    """edges (1, 0, 1) is exactly timm's DualPathBlock: same parameters, same outputs."""
    _, _ = _timm_dpn()
    from timm.models.dpn import DualPathBlock as TimmBlock

    torch.manual_seed(0)
    in_chs, r, bw, inc, groups = 24, 12, 16, 4, 3
    ref = TimmBlock(in_chs, r, r, bw, inc, groups, "proj" if stride == 1 else "down")
    ours = DualPathBlock(in_chs, r, r, bw, inc, groups, stride=stride, edges=(1, 0, 1))
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert [v.shape for v in our_sd.values()] == [v.shape for v in ref_sd.values()]
    for v in ref.state_dict().values():  # non-trivial BN statistics
        if v.is_floating_point():
            v.uniform_(0.5, 1.5)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, in_chs, 8, 8)
    for train in (True, False):
        ref.train(train)
        ours.train(train)
        torch.testing.assert_close(ours(x), ref(x))
    assert ours.out_chs == bw + 3 * inc == ref(x).shape[1]


def test_width1_network_equals_timm_dpn107_with_one_block_per_stage():
    """The default network is timm's DPN-107 with k_sec=(1, 1, 1, 1) (the FR-NAS skeleton)."""
    _, DPN = _timm_dpn()
    torch.manual_seed(0)
    ref = DPN(k_sec=(1, 1, 1, 1), inc_sec=(20, 64, 64, 128), k_r=200, groups=50, num_init_features=128,
              num_classes=1000).eval()
    # FR-NAS (and timm < 1.0) end with BN + ELU; timm 1.0's DPN builds that norm with ReLU instead.
    ref.features.conv5_bn_ac.bn.act = nn.ELU()
    ours = FRNASDPN().eval()
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert [v.shape for v in our_sd.values()] == [v.shape for v in ref_sd.values()]
    assert _n_params(ours) == _n_params(ref) == 14_241_592
    ours.load_state_dict(ref_sd, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


def test_width1_channel_counts():
    model = create_model("frnas_dpn")
    assert model.embedding_dim == 1000  # FR-NAS default when embedding_dim is not given
    assert model.stage_channels == (316, 704, 1216, 2432)
    assert model.num_features == 2432
    blocks = [m for m in model.features if isinstance(m, DualPathBlock)]
    assert len(blocks) == 4
    stem = model.features.conv1_1
    assert stem.conv.out_channels == 128 and stem.conv.kernel_size == (7, 7) and stem.conv.stride == (2, 2)
    assert isinstance(model.features.conv1_pool, nn.MaxPool2d)
    in_chs = 128
    for s, (block, bw, inc) in enumerate(zip(blocks, (256, 512, 1024, 2048), (20, 64, 64, 128))):
        r = 200 * 2**s
        stride = 1 if s == 0 else 2
        assert block.proj.conv.in_channels == in_chs
        assert block.proj.conv.out_channels == bw + 2 * inc
        assert block.proj.conv.stride == (stride, stride)
        a, b, c = (op.conv for op in _block_ops(block))
        assert (a.in_channels, a.out_channels, a.kernel_size) == (in_chs, r, (1, 1))
        assert (b.in_channels, b.out_channels, b.kernel_size, b.groups) == (r, r, (3, 3), 50)
        assert b.stride == (stride, stride)
        assert (c.in_channels, c.out_channels, c.kernel_size) == (r, bw + inc, (1, 1))
        assert block.out_chs == bw + 3 * inc
        in_chs = block.out_chs
    assert isinstance(model.features.conv5_bn_ac.act, nn.ELU)
    assert model.features.conv5_bn_ac.bn.num_features == 2432
    assert (model.classifier.in_channels, model.classifier.out_channels) == (2432, 1000)
    assert [f["num_chs"] for f in model.feature_info] == [128, 316, 704, 1216, 2432]


@pytest.mark.parametrize("width", [0.03, 0.0625, 0.1, 0.125, 0.2, 0.25, 0.33, 0.5, 0.75, 1.0, 1.5, 2.0])
def test_width_scaling_keeps_groups_valid(width):
    cfg = scaled_config(width)
    assert all(r % cfg["groups"] == 0 and r >= cfg["groups"] for r in cfg["r"])
    assert all(b >= 1 for b in cfg["bw"]) and all(i >= 1 for i in cfg["inc"])
    assert cfg["out_chs"] == tuple(b + 3 * i for b, i in zip(cfg["bw"], cfg["inc"]))
    assert list(cfg["r"]) == sorted(cfg["r"])  # bottleneck widens with depth, as at width 1
    assert abs(cfg["bw"][3] - 2048 * width) <= 0.5
    model = FRNASDPN(width=width, embedding_dim=8)
    assert model.stage_channels == cfg["out_chs"]


def test_width1_config_is_dpn107():
    assert scaled_config(1.0) == {
        "num_init_features": 128,
        "groups": 50,
        "bw": (256, 512, 1024, 2048),
        "inc": (20, 64, 64, 128),
        "r": (200, 400, 800, 1600),
        "out_chs": (316, 704, 1216, 2432),
    }


def test_small_width_is_small_and_reduces_by_32():
    model = FRNASDPN(width=0.125, embedding_dim=64)
    assert _n_params(model) < 300_000
    with torch.no_grad():
        f = model.eval().forward_features(torch.randn(1, 3, 64, 64))
    assert f.shape == (1, model.num_features, 2, 2)


@pytest.mark.parametrize(
    "kwargs",
    [dict(edges=(1, 0)), dict(edges=(1, 0, 9)), dict(edges=(1, -1, 1)), dict(edges=(1.0, 0, 1)), dict(edges=5),
     dict(width=0), dict(width=-1.0), dict(width=float("nan"))],
)
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        create_model("frnas_dpn", embedding_dim=8, **kwargs)
