"""Building blocks of the engine: device, seeding, model/head/optimizer/scheduler, and the training step.

:class:`TrainStep` is the one training step the engine runs (and
``benchmarks/bench_train.py`` times): optional channels-last input, the
backbone under ``torch.autocast(dtype=bfloat16)`` when ``precision: bf16``,
the margin head and loss in float32 (cosine margins are too sensitive for
bfloat16's 8-bit mantissa), the head's regulariser, backward, optional
gradient-norm clipping and the optimizer step.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from fairvision.errors import ConfigError
from fairvision.models import create_head, create_model
from fairvision.train.config import OptimConfig, RunConfig

__all__ = [
    "TrainStep",
    "autocast",
    "build_head",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "deterministic_mode",
    "resolve_device",
    "seed_everything",
]


def resolve_device(name: str, *, option: str = "train.device") -> torch.device:
    """``auto`` -> ``cuda`` if available, else ``cpu``; a malformed name, ``cuda`` without a GPU or a GPU
    index that does not exist is a ConfigError naming ``option`` (the config key or command-line flag)."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(name)):
        raise ConfigError(f"{option} must be auto, cpu, cuda or cuda:N, not {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{option}: {name} requested but no CUDA device is available (use cpu or auto)")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{option}: {name} requested but there are only {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in DataLoader workers
    """DataLoader ``worker_init_fn``: numpy and ``random`` seeded from the worker's torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


@contextlib.contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` and cuDNN settings, restored afterwards."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = previous[2], previous[3]


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast context for ``precision == "bf16"``, else a no-op."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def build_model(cfg: RunConfig) -> nn.Module:
    try:
        return create_model(cfg.model.name, **cfg.model.create_kwargs())
    except ConfigError as exc:
        raise ConfigError(f"model: {exc}") from None


def build_head(cfg: RunConfig, embedding_dim: int, num_classes: int) -> nn.Module:
    try:
        return create_head(cfg.head.name, embedding_dim=embedding_dim, num_classes=num_classes, **cfg.head.kwargs)
    except ConfigError as exc:
        raise ConfigError(f"head: {exc}") from None


def build_optimizer(optim: OptimConfig, modules: nn.Module) -> torch.optim.Optimizer:
    """timm's ``create_optimizer_v2`` (as FR-NAS): ``SGD`` is Nesterov SGD; no weight decay on biases and norms."""
    from fairvision._compat import import_timm

    import_timm()
    from timm.optim import create_optimizer_v2

    kwargs = {"momentum": optim.momentum} if optim.name == "SGD" else {}
    return create_optimizer_v2(modules, opt=optim.name.lower(), lr=optim.lr, weight_decay=optim.weight_decay, **kwargs)


def build_scheduler(optim: OptimConfig, optimizer: torch.optim.Optimizer, *, schedule_epochs: int, updates_per_epoch: int):
    """timm's ``create_scheduler_v2``, stepped per update (``step_update(n)``); None for ``scheduler: none``.

    The lr is a pure function of the update count: cosine from ``lr`` to
    ``min_lr`` over ``schedule_epochs`` (after ``warmup_epochs`` of linear
    warm-up from ``warmup_lr``, inside the schedule), then ``min_lr``.
    """
    if optim.scheduler == "none":
        return None
    from fairvision._compat import import_timm

    import_timm()
    from timm.scheduler import create_scheduler_v2

    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=optim.scheduler,
        num_epochs=schedule_epochs,
        warmup_epochs=optim.warmup_epochs,
        warmup_lr=optim.warmup_lr,
        min_lr=optim.min_lr,
        step_on_epochs=False,
        updates_per_epoch=updates_per_epoch,
    )
    return scheduler


class TrainStep:
    """One optimisation step: ``step(images, labels) -> (loss, finite)`` (detached loss tensor, bool tensor);
    optional ``groups=`` (for group-aware heads) and ``extra_loss=`` (training plug-ins' regularisers).

    ``finite`` is False when the loss, an embedding or the gradient norm is
    NaN/inf; the optimizer step is then skipped so the caller can stop
    (divergence).  With ``grad_clip`` the gradients are scaled to that total
    L2 norm at most.
    """

    def __init__(
        self,
        model: nn.Module,
        head: nn.Module,
        loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool = False,
        grad_clip: float | None = None,
    ) -> None:
        self.model, self.head, self.loss_fn, self.optimizer = model, head, loss_fn, optimizer
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        self.grad_clip = grad_clip
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def __call__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        groups: torch.Tensor | None = None,
        extra_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``groups``: group code of every sample, passed to heads whose ``uses_groups`` is true (a margin per
        group); ``extra_loss(embeddings, logits)``: a scalar (or None) added to the loss before backward."""
        x = images.to(self.device, non_blocking=True)
        y = labels.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            emb = self.model(x)
        emb = emb.float()
        if groups is not None and getattr(self.head, "uses_groups", False):
            logits = self.head(emb, y, groups=groups.to(self.device, non_blocking=True))
        else:
            logits = self.head(emb, y)
        loss = self.loss_fn(logits, y) + self.head.regularizer(emb)
        if extra_loss is not None:
            extra = extra_loss(emb, logits)
            if extra is not None:
                loss = loss + extra
        finite = torch.isfinite(loss) & torch.isfinite(emb).all()
        self.optimizer.zero_grad(set_to_none=True)
        if not bool(finite):
            return loss.detach(), finite
        loss.backward()
        # A NaN/inf gradient (with a finite loss) would silently poison the weights: check the
        # gradient norm too, and skip the update so the last checkpointed weights stay clean.
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads)
        finite = finite & torch.isfinite(norm)
        if not bool(finite):
            return loss.detach(), finite
        if self.grad_clip is not None:
            torch.nn.utils.clip_grads_with_norm_(self.params, self.grad_clip, norm)
        self.optimizer.step()
        return loss.detach(), finite
