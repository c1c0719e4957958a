"""The FR-NAS search-space network: a one-block-per-stage Dual Path Network.

FR-NAS (Dooley et al., "Rethinking Bias Mitigation: Fairer Architectures Make
for Fairer Face Recognition", NeurIPS 2023) searches over a DPN-107-like
skeleton with ``k_sec=(1, 1, 1, 1)`` (one dual-path block per stage),
``k_r=200``, ``groups=50``, ``inc_sec=(20, 64, 64, 128)`` and
``num_init_features=128``:

* stem: 7x7 conv stride 2 + BN + ReLU, then 3x3 max-pool stride 2 (as timm's
  DPN; only the final norm uses ELU);
* four :class:`DualPathBlock` s, the first of each stage a projection block:
  stage 1 stride 1 (``'proj'``), stages 2-4 stride 2 (``'down'``);
* BN + ELU after the last stage, global average pooling, a 1x1 conv (with
  bias) to the embedding (1000-d by default), flatten.

Channel arithmetic (width 1).  Stage ``s`` (0-based) has
``bw = 256 * 2**s`` residual channels (DPN-107's ``64 * bw_factor * 2**s``
with ``bw_factor=4``), a bottleneck of ``r = k_r * 2**s = 200 * 2**s``
channels (``k_r * bw / 256``) and a dense increment ``inc = inc_sec[s]``.  The
projection shortcut (BN-ReLU-Conv 1x1, fixed, not searched) yields
``bw + 2*inc`` channels, the block's main path yields ``bw + inc``; the
residual parts are summed and the dense parts concatenated, so a block
outputs ``bw + 3*inc`` channels::

    stage 1: 256  + 3*20  = 316
    stage 2: 512  + 3*64  = 704
    stage 3: 1024 + 3*64  = 1216
    stage 4: 2048 + 3*128 = 2432   (= num_features)

Search space.  The block's three convolutions (1x1 reduce ``a``, grouped 3x3
``b``, 1x1 expand ``c`` in DPN) are each chosen by ``edges=(e1, e2, e3)``
from the nine :data:`FRNAS_OPS`: 0/1/2 = BN-ReLU-Conv k3/k1/k5, 3/4/5 = Conv
k3/k1/k5, 6/7/8 = Conv-BN-ReLU k3/k1/k5, all with "same" padding
(``k // 2``) and no conv bias.  The middle op (``e2``) is grouped and carries
the block's stride; ``a`` and ``c`` are ungrouped with stride 1, as in FR-NAS.
``edges=(1, 0, 1)`` is exactly the original DPN block.  Module and
parameter names follow timm's DPN (``c1x1_w_s1``/``c1x1_w_s2``, ``c1x1_a``,
``c3x3_b``, ``c1x1_c``, ``.bn``/``.conv``), so a block with the default edges
has the same ``state_dict`` keys and shapes as ``timm.models.dpn.DualPathBlock``.

Width multiplier.  ``width`` scales every channel count so the same space
trains quickly on a CPU (``width=0.125`` on 32-64 px images):

* ``num_init_features``, ``bw`` and ``inc``: ``max(1, floor(c * width + 0.5))``;
* ``groups``: ``max(1, floor(50 * width + 0.5))``;
* ``r``: the nearest multiple of the scaled ``groups`` to ``r * width`` (at
  least one group), so the grouped conv is valid at every width.

At ``width=1`` every count is exactly DPN-107's.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import NamedTuple, Sequence

import torch
from torch import nn

from fairvision.errors import ConfigError, show_value

__all__ = [
    "FRNAS_OPS",
    "OpSpec",
    "make_op",
    "DualPathBlock",
    "FRNASDPN",
    "frnas_dpn",
    "DEFAULT_EDGES",
    "scaled_config",
]

BN_EPS = 1e-3  # DPN's BatchNorm epsilon


class OpSpec(NamedTuple):
    """One of the nine candidate operations of an FR-NAS edge."""

    index: int
    name: str
    kind: str  #: "bn_relu_conv", "conv" or "conv_bn_relu"
    kernel_size: int


#: The nine operations shared by the three edges of every block (index = edge value).
FRNAS_OPS: tuple[OpSpec, ...] = tuple(
    OpSpec(3 * i + j, f"{kind}_{k}x{k}", kind, k)
    for i, kind in enumerate(("bn_relu_conv", "conv", "conv_bn_relu"))
    for j, k in enumerate((3, 1, 5))
)

DEFAULT_EDGES = (1, 0, 1)  #: BN-ReLU-Conv 1x1, BN-ReLU-Conv 3x3 (grouped), BN-ReLU-Conv 1x1: the DPN block

# DPN-107 hyper-parameters of the FR-NAS space.
K_R = 200
GROUPS = 50
INC_SEC = (20, 64, 64, 128)
BW_SEC = (256, 512, 1024, 2048)
NUM_INIT_FEATURES = 128


def _conv(in_chs: int, out_chs: int, k: int, stride: int, groups: int) -> nn.Conv2d:
    return nn.Conv2d(in_chs, out_chs, k, stride=stride, padding=k // 2, groups=groups, bias=False)


class BnActConv2d(nn.Module):
    """BN-ReLU-Conv (pre-activation), ops 0/1/2.  Same keys as timm's ``BnActConv2d``."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_chs, eps=BN_EPS)
        self.act = nn.ReLU(inplace=True)
        self.conv = _conv(in_chs, out_chs, kernel_size, stride, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.act(self.bn(x)))


class Conv2d(nn.Module):
    """Plain Conv, ops 3/4/5."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = _conv(in_chs, out_chs, kernel_size, stride, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ConvBnAct(nn.Module):
    """Conv-BN-ReLU (post-activation), ops 6/7/8; also the stem."""

    def __init__(
        self, in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__()
        self.conv = _conv(in_chs, out_chs, kernel_size, stride, groups)
        self.bn = nn.BatchNorm2d(out_chs, eps=BN_EPS)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class BnAct(nn.Module):
    """BN + activation (the final ``conv5_bn_ac``: BN + ELU)."""

    def __init__(self, chs: int, act: nn.Module) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(chs, eps=BN_EPS)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x))


_KINDS = {"bn_relu_conv": BnActConv2d, "conv": Conv2d, "conv_bn_relu": ConvBnAct}


def _check_op(index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(FRNAS_OPS):
        raise ConfigError(f"FR-NAS op index must be an integer in 0..{len(FRNAS_OPS) - 1}, got {show_value(index)}")
    return int(index)


def make_op(index: int, in_chs: int, out_chs: int, *, stride: int = 1, groups: int = 1) -> nn.Module:
    """Instantiate :data:`FRNAS_OPS` ``[index]`` from ``in_chs`` to ``out_chs`` channels."""
    spec = FRNAS_OPS[_check_op(index)]
    return _KINDS[spec.kind](in_chs, out_chs, spec.kernel_size, stride, groups)


def _check_edges(edges: object) -> tuple[int, int, int]:
    try:
        e = tuple(edges)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"edges must be a sequence of 3 op indices, got {edges!r}") from None
    if len(e) != 3:
        raise ConfigError(f"edges must have 3 entries (e1, e2, e3), got {edges!r}")
    return tuple(_check_op(i) for i in e)  # type: ignore[return-value]


class DualPathBlock(nn.Module):
    """A DPN dual-path projection block whose three convolutions are FR-NAS ops.

    Input ``in_chs`` channels; output ``num_1x1_c + 3 * inc`` channels: the
    residual path (first ``num_1x1_c`` channels) is ``shortcut + main`` and
    the dense path concatenates the shortcut's ``2*inc`` and the main path's
    ``inc`` new channels.  ``stride`` is 1 (``'proj'``) or 2 (``'down'``).
    """

    def __init__(
        self,
        in_chs: int,
        num_1x1_a: int,
        num_3x3_b: int,
        num_1x1_c: int,
        inc: int,
        groups: int,
        *,
        stride: int = 1,
        edges: Sequence[int] = DEFAULT_EDGES,
    ) -> None:
        super().__init__()
        e1, e2, e3 = _check_edges(edges)
        if num_3x3_b % groups or num_1x1_a % groups:
            raise ConfigError(f"groups={groups} must divide the bottleneck width ({num_1x1_a}, {num_3x3_b})")
        self.edges = (e1, e2, e3)
        self.num_1x1_c = num_1x1_c
        self.inc = inc
        self.key_stride = stride
        self.out_chs = num_1x1_c + 3 * inc
        # The projection shortcut is fixed (not searched); names follow timm for state_dict compatibility.
        proj = BnActConv2d(in_chs, num_1x1_c + 2 * inc, 1, stride)
        if stride == 1:
            self.c1x1_w_s1 = proj
        else:
            self.c1x1_w_s2 = proj
        self.c1x1_a = make_op(e1, in_chs, num_1x1_a)
        self.c3x3_b = make_op(e2, num_1x1_a, num_3x3_b, stride=stride, groups=groups)
        self.c1x1_c = make_op(e3, num_3x3_b, num_1x1_c + inc)

    @property
    def proj(self) -> nn.Module:
        return self.c1x1_w_s1 if self.key_stride == 1 else self.c1x1_w_s2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_s = self.proj(x)
        y = self.c1x1_c(self.c3x3_b(self.c1x1_a(x)))
        c = self.num_1x1_c
        return torch.cat([x_s[:, :c] + y[:, :c], x_s[:, c:], y[:, c:]], dim=1)


def _round(x: float) -> int:
    return max(1, int(math.floor(x + 0.5)))


def scaled_config(width: float = 1.0) -> dict:
    """Channel counts of the FR-NAS DPN at ``width`` (see the module docstring for the rounding rules).

    Returns ``num_init_features``, ``groups``, and per stage ``bw``, ``inc``,
    ``r`` and ``out_chs`` (tuples of 4).
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ConfigError(f"width must be a positive number, got {width!r}")
    groups = _round(GROUPS * width)
    bw = tuple(_round(b * width) for b in BW_SEC)
    inc = tuple(_round(i * width) for i in INC_SEC)
    r = tuple(groups * _round(K_R * 2**s * width / groups) for s in range(4))
    return {
        "num_init_features": _round(NUM_INIT_FEATURES * width),
        "groups": groups,
        "bw": bw,
        "inc": inc,
        "r": r,
        "out_chs": tuple(b + 3 * i for b, i in zip(bw, inc)),
    }


class FRNASDPN(nn.Module):
    """The FR-NAS DPN backbone; ``forward(x[B,3,H,W]) -> [B, embedding_dim]`` (unnormalised).

    Attributes: ``edges``, ``width``, ``embedding_dim``, ``num_features``
    (channels after the last stage), ``stage_channels`` (block outputs),
    ``config`` (:func:`scaled_config`) and timm-style ``feature_info``.
    """

    def __init__(
        self,
        *,
        edges: Sequence[int] = DEFAULT_EDGES,
        width: float = 1.0,
        embedding_dim: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        self.edges = _check_edges(edges)
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise ConfigError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
        cfg = scaled_config(width)
        self.width = float(width)
        self.config = cfg
        self.embedding_dim = embedding_dim

        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        init = cfg["num_init_features"]
        blocks["conv1_1"] = ConvBnAct(in_chans, init, 7, stride=2)
        blocks["conv1_pool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.feature_info = [dict(num_chs=init, reduction=2, module="features.conv1_1")]
        in_chs = init
        for s in range(4):
            stride = 1 if s == 0 else 2
            r = cfg["r"][s]
            block = DualPathBlock(
                in_chs, r, r, cfg["bw"][s], cfg["inc"][s], cfg["groups"], stride=stride, edges=self.edges
            )
            blocks[f"conv{s + 2}_1"] = block
            in_chs = block.out_chs
            self.feature_info.append(dict(num_chs=in_chs, reduction=4 * 2**s, module=f"features.conv{s + 2}_1"))
        blocks["conv5_bn_ac"] = BnAct(in_chs, nn.ELU())
        self.features = nn.Sequential(blocks)
        self.stage_channels = tuple(cfg["out_chs"])
        self.num_features = in_chs
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        # 1x1 conv classifier with bias, as timm's DPN (create_classifier(use_conv=True)).
        self.classifier = nn.Conv2d(in_chs, embedding_dim, kernel_size=1, bias=True)
        self.flatten = nn.Flatten(1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.classifier(self.global_pool(self.forward_features(x))))


def frnas_dpn(
    *, edges: Sequence[int] = DEFAULT_EDGES, width: float = 1.0, embedding_dim: int = 1000, in_chans: int = 3
) -> FRNASDPN:
    """The FR-NAS search-space DPN with ops ``edges=(e1, e2, e3)`` (default ``(1, 0, 1)``, the DPN block)."""
    return FRNASDPN(edges=edges, width=width, embedding_dim=embedding_dim, in_chans=in_chans)
