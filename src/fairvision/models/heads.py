"""Margin-based classification heads for face-recognition training.

Every head holds a class-centre matrix ``weight`` of shape
``(num_classes, embedding_dim)``.  ``forward(embeddings, labels)`` returns
logits ``(B, num_classes)``: ``scale * cos(theta_j)`` for the non-target
classes ``j`` and ``scale * f(theta_y)`` (the margin) for the target class
``y``, where ``cos(theta_j)`` is the cosine between the L2-normalised
embedding and the L2-normalised ``weight[j]``.  The logits go into a
classification loss (see :mod:`fairvision.models.losses`);
``regularizer(embeddings)`` returns a scalar added to that loss (non-zero
only for MagFace).  At test time only the backbone's embeddings are used.

=============  ============================================================
CosFace        target ``s * (cos - m)``;  s=64, m=0.35
ArcFace        target ``s * cos(theta + m)`` if ``cos > cos(pi - m)`` else
               ``s * (cos - sin(pi - m) * m)`` (insightface), or with
               ``easy_margin`` ``s * cos`` when ``cos <= 0``; s=64, m=0.5
MagFace        ArcFace with margin ``m(a) = l_m + (u_m - l_m)(a - l_a)/(u_a - l_a)``
               where ``a = clamp(||x||, l_a, u_a)``; s=32, l_a=10, u_a=110,
               l_m=0.45, u_m=0.8; regulariser ``lambda_g * mean(1/a + a/u_a^2)``, lambda_g=20
SphereFace     A-Softmax with multiplicative margin m=4 (see :class:`SphereFace`)
AdaFace        m=0.4, h=0.333, s=64, t_alpha=0.01 (see :class:`AdaFace`)
=============  ============================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fairvision.errors import ConfigError, show_value
from fairvision.registry import Registry

__all__ = [
    "MarginHead",
    "CosFace",
    "ArcFace",
    "MagFace",
    "SphereFace",
    "AdaFace",
    "LinearHead",
    "HEADS",
    "create_head",
]


#: Head classes by canonical name (lookup is case-insensitive); ``@HEADS.register(name)`` adds one.
HEADS: Registry[type["MarginHead"]] = Registry("head")


class MarginHead(nn.Module):
    """Base class: normalised class centres, cosine logits, a margin on the target class."""

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        for key, v in (("embedding_dim", embedding_dim), ("num_classes", num_classes)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ConfigError(f"{type(self).__name__}: {key} must be a positive integer, got {show_value(v)}")
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(B, num_classes)`` cosines between normalised embeddings and normalised class centres."""
        return F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1)).clamp(-1.0, 1.0)

    def _check(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if embeddings.dim() != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"{type(self).__name__}: expected embeddings (B, {self.embedding_dim}), got {tuple(embeddings.shape)}"
            )
        labels = labels.reshape(-1).long()
        if labels.shape[0] != embeddings.shape[0]:
            raise ValueError(f"{type(self).__name__}: {labels.shape[0]} labels for {embeddings.shape[0]} embeddings")
        return labels

    @staticmethod
    def _with_target(cos: torch.Tensor, labels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``cos`` with column ``labels[i]`` of row ``i`` replaced by ``target[i]`` (out of place)."""
        return cos.scatter(1, labels[:, None], target.reshape(-1, 1).to(cos.dtype))

    def regularizer(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Scalar added to the classification loss; zero except for MagFace."""
        return embeddings.new_zeros(())

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def _sin(cos: torch.Tensor) -> torch.Tensor:
    # sqrt(1 - cos^2) with a floor keeping the gradient finite at cos = +-1.
    return torch.sqrt((1.0 - cos * cos).clamp_min(1e-12))


@HEADS.register("CosFace")
class CosFace(MarginHead):
    """CosFace / large-margin cosine loss (Wang et al. 2018): target logit ``s * (cos - m)``."""

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 64.0, m: float = 0.35) -> None:
        super().__init__(embedding_dim, num_classes)
        self.s, self.m = float(s), float(m)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        cos = self.cosine(embeddings)
        target = cos.gather(1, labels[:, None]) - self.m
        return self.s * self._with_target(cos, labels, target)

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, s={self.s}, m={self.m}"


def _arc_margin(cos: torch.Tensor, m: torch.Tensor | float, easy_margin: bool) -> torch.Tensor:
    """insightface's ``cos(theta + m)`` with its fallbacks where ``theta + m`` would pass pi."""
    m_t = torch.as_tensor(m, dtype=cos.dtype, device=cos.device)
    phi = cos * torch.cos(m_t) - _sin(cos) * torch.sin(m_t)
    if easy_margin:
        return torch.where(cos > 0, phi, cos)
    th = torch.cos(math.pi - m_t)  # theta + m <= pi  <=>  cos(theta) >= cos(pi - m)
    mm = torch.sin(math.pi - m_t) * m_t
    return torch.where(cos > th, phi, cos - mm)


@HEADS.register("ArcFace")
class ArcFace(MarginHead):
    """ArcFace / additive angular margin (Deng et al. 2019): target ``s * cos(theta + m)``.

    As in insightface, where ``theta + m > pi`` (``cos <= th = cos(pi - m)``)
    the target logit is ``s * (cos - mm)`` with ``mm = sin(pi - m) * m``, which
    keeps it monotone in ``theta``; with ``easy_margin=True`` the margin is
    applied only where ``cos > 0``.
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, *, s: float = 64.0, m: float = 0.5, easy_margin: bool = False
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        self.s, self.m, self.easy_margin = float(s), float(m), bool(easy_margin)
        self.th = math.cos(math.pi - self.m)
        self.mm = math.sin(math.pi - self.m) * self.m

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        cos = self.cosine(embeddings)
        target = _arc_margin(cos.gather(1, labels[:, None]), self.m, self.easy_margin)
        return self.s * self._with_target(cos, labels, target)

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, s={self.s}, m={self.m}, "
            f"easy_margin={self.easy_margin}"
        )


@HEADS.register("MagFace")
class MagFace(MarginHead):
    """MagFace (Meng et al. 2021): an ArcFace margin that grows with the feature magnitude.

    With ``a = clamp(||x||, l_a, u_a)`` the target logit is
    ``s * cos(theta + m(a))``, ``m(a) = l_m + (u_m - l_m) * (a - l_a) / (u_a - l_a)``
    (same threshold rule as :class:`ArcFace`), and
    ``regularizer(x) = lambda_g * mean(g(a))`` with ``g(a) = 1/a + a/u_a^2``.
    Defaults are FR-NAS's / MagFace's: s=32, l_a=10, u_a=110, l_m=0.45,
    u_m=0.8, lambda_g=20.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        s: float = 32.0,
        l_a: float = 10.0,
        u_a: float = 110.0,
        l_m: float = 0.45,
        u_m: float = 0.8,
        lambda_g: float = 20.0,
        easy_margin: bool = False,
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        if not 0 < l_a < u_a:
            raise ConfigError(f"MagFace: need 0 < l_a < u_a, got l_a={l_a}, u_a={u_a}")
        self.s, self.l_a, self.u_a = float(s), float(l_a), float(u_a)
        self.l_m, self.u_m, self.lambda_g = float(l_m), float(u_m), float(lambda_g)
        self.easy_margin = bool(easy_margin)

    def magnitude(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``a = clamp(||x||, l_a, u_a)``, shape (B, 1)."""
        return embeddings.norm(dim=1, keepdim=True).clamp(self.l_a, self.u_a)

    def margin(self, a: torch.Tensor) -> torch.Tensor:
        """``m(a)``: linear from ``l_m`` at ``l_a`` to ``u_m`` at ``u_a``."""
        return self.l_m + (self.u_m - self.l_m) * (a - self.l_a) / (self.u_a - self.l_a)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        cos = self.cosine(embeddings)
        m = self.margin(self.magnitude(embeddings))
        target = _arc_margin(cos.gather(1, labels[:, None]), m, self.easy_margin)
        return self.s * self._with_target(cos, labels, target)

    def regularizer(self, embeddings: torch.Tensor) -> torch.Tensor:
        a = self.magnitude(embeddings)
        g = 1.0 / a + a / self.u_a**2
        return self.lambda_g * g.mean()

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, s={self.s}, "
            f"l_a={self.l_a}, u_a={self.u_a}, l_m={self.l_m}, u_m={self.u_m}, lambda_g={self.lambda_g}"
        )


def _cos_m_theta(cos: torch.Tensor, m: int) -> torch.Tensor:
    """``cos(m * theta)`` as the Chebyshev polynomial ``T_m(cos theta)`` (no acos, finite gradients)."""
    t_prev, t = torch.ones_like(cos), cos
    if m == 0:
        return t_prev
    for _ in range(m - 1):
        t_prev, t = t, 2 * cos * t - t_prev
    return t


@HEADS.register("SphereFace")
class SphereFace(MarginHead):
    """SphereFace / A-Softmax (Liu et al. 2017) with multiplicative angular margin ``m`` (default 4).

    Choice made here, following FR-NAS's (face.evoLVe's) implementation:

    * target function ``psi(theta) = (-1)^k cos(m theta) - 2k`` for
      ``theta in [k pi/m, (k+1) pi/m]``, the standard monotone extension of
      ``cos(m theta)`` (``cos(m theta)`` is computed as a Chebyshev polynomial
      of ``cos theta``; ``k`` is piecewise constant, so no gradient flows through it);
    * the original A-Softmax annealing: the target logit is
      ``cos + (psi - cos) / (1 + lambda)`` with
      ``lambda = max(lambda_min, base * (1 + gamma * it) ** -power)``, ``it``
      counting training-mode forward calls (a buffer, so it is checkpointed);
      defaults base=1000, gamma=0.12, power=1, lambda_min=5.  Pass
      ``base=0, lambda_min=0`` for the pure ``psi`` target;
    * scaling: ``s=None`` (default) multiplies each row of logits by the
      embedding's norm ``||x||``, as A-Softmax (which normalises only the
      weights) does; a number ``s`` uses a fixed scale like the other heads.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        m: int = 4,
        s: float | None = None,
        base: float = 1000.0,
        gamma: float = 0.12,
        power: float = 1.0,
        lambda_min: float = 5.0,
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ConfigError(f"SphereFace: m must be a positive integer, got {m!r}")
        self.m = m
        self.s = None if s is None else float(s)
        self.base, self.gamma, self.power, self.lambda_min = float(base), float(gamma), float(power), float(lambda_min)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def current_lambda(self) -> float:
        """``lambda`` for the current ``iteration``."""
        it = int(self.iteration)
        return max(self.lambda_min, self.base * (1.0 + self.gamma * it) ** (-self.power))

    def psi(self, cos: torch.Tensor) -> torch.Tensor:
        """``(-1)^k cos(m theta) - 2k``, ``k = floor(m theta / pi)``."""
        with torch.no_grad():
            k = torch.floor(self.m * torch.acos(cos) / math.pi).clamp(0, self.m - 1)
            sign = 1.0 - 2.0 * torch.remainder(k, 2)
        return sign * _cos_m_theta(cos, self.m) - 2.0 * k

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        if self.training:
            self.iteration += 1
        lamb = self.current_lambda()
        cos = self.cosine(embeddings)
        cos_t = cos.gather(1, labels[:, None])
        target = cos_t + (self.psi(cos_t) - cos_t) / (1.0 + lamb)
        logits = self._with_target(cos, labels, target)
        scale = embeddings.norm(dim=1, keepdim=True) if self.s is None else self.s
        return scale * logits

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, m={self.m}, "
            f"s={'||x||' if self.s is None else self.s}, lambda_min={self.lambda_min}"
        )


@HEADS.register("AdaFace")
class AdaFace(MarginHead):
    """AdaFace (Kim et al. 2022): a margin adapted to image quality via the feature norm.

    With ``||x||`` clipped to [0.001, 100] and detached, the running batch
    mean ``mu`` and standard deviation ``sigma`` of the norms (EMA with
    ``t_alpha``, initialised at 20 and 100, updated before use in training
    mode only) give ``z = clip(h * (||x|| - mu) / (sigma + eps), -1, 1)``.
    The target logit is ``s * (cos(clip(theta - m z, eps, pi - eps)) - (m + m z))``
    (angular margin ``g_angle = -m z`` plus additive ``g_add = m z + m``);
    cosines are clamped to ``[-1 + eps, 1 - eps]`` with ``eps = 1e-3``, as in
    the official implementation.  Defaults m=0.4, h=0.333, s=64, t_alpha=0.01.
    """

    eps = 1e-3

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        m: float = 0.4,
        h: float = 0.333,
        s: float = 64.0,
        t_alpha: float = 0.01,
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        self.m, self.h, self.s, self.t_alpha = float(m), float(h), float(s), float(t_alpha)
        self.register_buffer("batch_mean", torch.full((1,), 20.0))
        self.register_buffer("batch_std", torch.full((1,), 100.0))

    def margin_scaler(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``z`` (B, 1); in training mode first updates the running norm statistics."""
        norms = embeddings.detach().norm(dim=1, keepdim=True).clamp(0.001, 100.0)
        if self.training:
            with torch.no_grad():
                a = self.t_alpha
                self.batch_mean.mul_(1 - a).add_(a * norms.mean())
                if norms.shape[0] > 1:
                    self.batch_std.mul_(1 - a).add_(a * norms.std())
        z = (norms - self.batch_mean) / (self.batch_std + self.eps) * self.h
        return z.clamp(-1.0, 1.0)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        cos = self.cosine(embeddings).clamp(-1 + self.eps, 1 - self.eps)
        z = self.margin_scaler(embeddings)
        theta = torch.acos(cos.gather(1, labels[:, None]))
        theta_m = (theta - self.m * z).clamp(self.eps, math.pi - self.eps)
        target = torch.cos(theta_m) - (self.m + self.m * z)
        return self.s * self._with_target(cos, labels, target)

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, m={self.m}, h={self.h}, "
            f"s={self.s}, t_alpha={self.t_alpha}"
        )


@HEADS.register("Linear")
class LinearHead(nn.Module):
    """Plain affine logits ``x W^T + b`` (one per output, e.g. per attribute of multi-label attribute
    classification, as the fully connected layer of Iofinova et al.'s ResNet18); labels are not used.
    Initialised as ``torch.nn.Linear``."""

    def __init__(self, embedding_dim: int, num_classes: int, *, bias: bool = True) -> None:
        super().__init__()
        for key, v in (("embedding_dim", embedding_dim), ("num_classes", num_classes)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ConfigError(f"{type(self).__name__}: {key} must be a positive integer, got {show_value(v)}")
        self.embedding_dim, self.num_classes = int(embedding_dim), int(num_classes)
        layer = nn.Linear(self.embedding_dim, self.num_classes, bias=bias)
        self.weight = layer.weight
        self.bias = layer.bias

    def regularizer(self, embeddings: torch.Tensor) -> torch.Tensor:
        return embeddings.new_zeros(())

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return F.linear(embeddings, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, bias={self.bias is not None}"


def create_head(name: str, *, embedding_dim: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build the head ``name`` of :data:`HEADS` (case-insensitive: CosFace, ArcFace, MagFace, SphereFace, AdaFace,
    Linear).

    ``kwargs`` override the head's hyper-parameters (e.g. ``s``, ``m``).
    Raises :class:`~fairvision.errors.ConfigError` for an unknown name or argument.
    """
    cls = HEADS.get(name)
    try:
        return cls(embedding_dim, num_classes, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad arguments for head {name!r}: {exc}") from exc
