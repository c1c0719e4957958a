"""The three FR-NAS bias-mitigation baselines as training callbacks (checkpoint key ``mitigation``).

Each reads the demographic groups from the run's task (:meth:`fairvision.train.Task.groups`,
:attr:`~fairvision.train.Task.group_names`, :attr:`~fairvision.train.Task.class_groups`), never from global
state, and is exact on resume: :class:`FlippedLabels` draws from a generator seeded by (seed, epoch, step),
:class:`AngularMargins` has no state, :class:`GroupDiscriminator` saves its network and optimizer.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from fairvision.errors import ConfigError
from fairvision.mitigate.config import MitigationConfig
from fairvision.mitigate.heads import GroupMarginCosFace
from fairvision.models.heads import CosFace
from fairvision.train.callbacks import Batch, Callback, FitContext

__all__ = ["AngularMargins", "FlippedLabels", "GroupDiscriminator", "MitigationCallback", "majority_group",
           "sensitive_regularizer"]

#: The discriminator's target probability in the SensitiveNets regulariser ``log(1 + |0.9 - p_target|)``.
P_TARGET = 0.9


def _as_config(config: MitigationConfig | Mapping[str, Any] | None, name: str) -> MitigationConfig:
    if config is None:
        config = MitigationConfig(name=name)
    elif not isinstance(config, MitigationConfig):
        if not isinstance(config, Mapping):
            raise ConfigError(f"mitigation: expected a MitigationConfig or a mapping, got {type(config).__name__}")
        config = MitigationConfig(**{"name": name, **config})
    if config.name != name:
        raise ConfigError(f"mitigation.name: {config.name!r} given to the {name} callback")
    return config


def _groups_of(task: Any) -> list[str]:
    names = list(getattr(task, "group_names", None) or [])
    if len(names) < 2:
        raise ConfigError(f"mitigation.name: needs a task with at least two demographic groups in the training split "
                          f"(data.group_column), got {names}")
    return names


def _named_group(names: list[str], group: str, key: str) -> int:
    """Code of the group ``group`` given as ``mitigation.<key>``; ConfigError naming the key otherwise."""
    if group not in names:
        raise ConfigError(f"mitigation.{key}: {group!r} is not a group of the training split ({', '.join(names)})")
    return names.index(group)


def _training_counts(task: Any, names: list[str]) -> torch.Tensor:
    """Images per group in the task's training split."""
    return torch.bincount(task.groups(torch.arange(len(task.train_dataset))), minlength=len(names))


def majority_group(task: Any, group: str | None) -> int:
    """Code of the majority / better-served group: ``group`` (a value of ``data.group_column``) or, when None,
    the largest group of the task's training split (ConfigError when several are equally large)."""
    names = _groups_of(task)
    if group is not None:
        return _named_group(names, group, "group")
    counts = _training_counts(task, names)
    largest = (counts == counts.max()).nonzero().flatten().tolist()
    if len(largest) > 1:
        tied = ", ".join(f"{names[i]}" for i in largest)
        raise ConfigError(f"mitigation.group: no single largest group in the training split ({tied}: "
                          f"{int(counts.max())} images each); set the majority group")
    return int(largest[0])


class MitigationCallback(Callback):
    """Base of the mitigation callbacks: ``config`` (a :class:`MitigationConfig`), checkpoint key ``mitigation``."""

    method = "none"

    def __init__(self, config: MitigationConfig | Mapping[str, Any] | None = None) -> None:
        self.config = _as_config(config, self.method)

    @property
    def name(self) -> str:
        return "mitigation"


class FlippedLabels(MitigationCallback):
    """*Flipped*: in every training batch, ``fraction`` of the images of the majority group (rounded half up)
    are relabelled to a random other identity of that group (uniformly among the group's other training
    identities). The choice is drawn from a generator seeded by ``(train.seed, epoch, step)``, so resumed runs
    relabel exactly as uninterrupted ones. History records get ``relabelled`` (images relabelled in the epoch).
    """

    method = "flipped"

    def __init__(self, config: MitigationConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.group = -1
        self.pool = torch.empty(0, dtype=torch.long)  # the group's classes
        self.position = torch.empty(0, dtype=torch.long)  # class -> index in pool (-1: another group)
        self.seed = 0
        self.relabelled = 0

    def setup(self, task: Any, seed: int = 0) -> None:
        """Resolve the group and its identities from ``task`` (``group_names``, ``groups``, ``class_groups``)."""
        self.group = majority_group(task, self.config.group)
        class_groups = torch.as_tensor(task.class_groups)
        self.pool = (class_groups == self.group).nonzero().flatten()
        if len(self.pool) < 2:
            raise ConfigError(f"mitigation.group: {task.group_names[self.group]!r} has {len(self.pool)} training "
                              "identity; relabelling needs at least two")
        self.position = torch.full((len(class_groups),), -1, dtype=torch.long)
        self.position[self.pool] = torch.arange(len(self.pool))
        self.seed = int(seed)

    def on_modules_built(self, ctx: FitContext) -> None:
        self.setup(ctx.task, ctx.cfg.train.seed)

    def on_epoch_start(self, ctx: FitContext, epoch: int) -> None:
        self.relabelled = 0

    def generator(self, epoch: int, step: int) -> torch.Generator:
        """The generator of the draws of batch ``step`` of ``epoch``."""
        return torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 1_000_033 + step)

    def relabel(self, targets: torch.Tensor, groups: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A copy of ``targets`` with ``round(fraction * n)`` of the ``n`` rows of the group relabelled, each to
        another identity of the group."""
        targets = targets.clone()
        position = self.position[targets]
        rows = ((groups == self.group) & (position >= 0)).nonzero().flatten()
        k = math.floor(self.config.fraction * len(rows) + 0.5)
        if k == 0:
            return targets
        chosen = rows[torch.randperm(len(rows), generator=generator)[:k]]
        draw = torch.randint(0, len(self.pool) - 1, (k,), generator=generator)
        current = position[chosen]
        targets[chosen] = self.pool[draw + (draw >= current).long()]  # skips the row's own identity
        self.relabelled += k
        return targets

    def on_train_batch(self, ctx: FitContext, batch: Batch) -> None:
        if batch.groups is None:
            raise ConfigError("mitigation.name: flipped needs a task with groups")
        batch.targets = self.relabel(batch.targets, batch.groups, self.generator(batch.epoch, batch.step))

    def on_epoch_end(self, ctx: FitContext, epoch: int, record: dict[str, Any]) -> None:
        record["relabelled"] = self.relabelled


class AngularMargins(MitigationCallback):
    """*Angular*: the run's CosFace head becomes a :class:`GroupMarginCosFace` with margin ``m_majority`` for the
    majority group and ``m_minority`` for every other group (same ``s`` and class centres). The defaults differ
    (0.35 / 0.45); FR-NAS's released code left both at 0.35, i.e. plain CosFace. History records get
    ``margins`` ({group: margin})."""

    method = "angular"

    def __init__(self, config: MitigationConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.margins: dict[str, float] = {}

    def group_margins(self, task: Any) -> list[float]:
        """The margin of every group code of ``task``."""
        names = _groups_of(task)
        major = majority_group(task, self.config.group)
        margins = [self.config.m_majority if i == major else self.config.m_minority for i in range(len(names))]
        self.margins = dict(zip(names, margins))
        return margins

    def on_head_built(self, task: Any, head: nn.Module) -> nn.Module:
        if not isinstance(head, CosFace):
            raise ConfigError(f"mitigation.name: angular needs head CosFace, not {type(head).__name__}")
        margins = self.group_margins(task)
        with torch.random.fork_rng(devices=[]):  # the global RNG stream stays that of a plain run
            new = GroupMarginCosFace(head.embedding_dim, head.num_classes, margins=margins, s=head.s)
        new.weight = head.weight  # the class centres as the task's head drew them
        return new

    def on_epoch_end(self, ctx: FitContext, epoch: int, record: dict[str, Any]) -> None:
        record["margins"] = dict(self.margins)


def sensitive_regularizer(probabilities: torch.Tensor, target: int) -> torch.Tensor:
    """``mean_i log(1 + |0.9 - p_i|)`` with ``p_i = probabilities[i, target]``: the discriminator's probability
    of the *target* group for every row, whatever the row's own group (SensitiveNets as FR-NAS's code applies it:
    ``torch.log(1 + torch.abs(0.9 - softmax_scores[:, 1])).mean()``)."""
    return torch.log1p((P_TARGET - probabilities[:, int(target)]).abs()).mean()


def target_group(task: Any, group: str | None) -> int:
    """Code of the discriminator's target group: ``group`` or, when None, the smallest group of the task's
    training split (ties: the first in the task's group order)."""
    names = _groups_of(task)
    if group is not None:
        return _named_group(names, group, "target")
    return int(_training_counts(task, names).argmin())


class GroupDiscriminator(MitigationCallback):
    """*Discriminator* (SensitiveNets-style), alternating updates:

    1. the backbone (and head) step adds ``alpha * log(1 + |0.9 - p_target|)`` (mean over the batch;
       :func:`sensitive_regularizer`) to the loss, ``p_target`` being the discriminator's softmax probability of
       the target group (``target``; :func:`target_group`) for *every* image, computed with the discriminator as
       it is -- all images are pushed to look like the target group, so the embedding stops separating groups;
    2. after that optimizer step the discriminator -- an MLP ``Linear(d, hidden), ReLU, Linear(hidden, groups)``
       on the embedding -- takes one step of its own Adam (``lr``) on the cross-entropy of the groups of the same
       batch's (detached) embeddings.

    Gradient reversal is not offered: the regulariser is not the negated discriminator loss. The network and its
    optimizer are in the checkpoint (resume continues exactly); history records get ``discriminator_loss``,
    ``discriminator_accuracy`` and ``sensitive_regularizer`` (epoch means).
    """

    method = "discriminator"

    def __init__(self, config: MitigationConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self._saved: dict[str, Any] | None = None
        self._batch: tuple[torch.Tensor, torch.Tensor] | None = None
        self._sums = [0.0, 0.0, 0.0, 0]  # regulariser, discriminator loss, correct, images
        self.target = 0

    def build(self, embedding_dim: int, num_groups: int, *, device: torch.device | str = "cpu", seed: int = 0) -> None:
        """Make the discriminator and its optimizer (weights drawn from ``seed``, leaving the global RNG as it was);
        a resumed run's saved state is loaded into them."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Linear(embedding_dim, self.config.hidden), nn.ReLU(),
                                     nn.Linear(self.config.hidden, num_groups))
        self.net.to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        if self._saved is not None:
            self.net.load_state_dict(self._saved["net"])
            self.optimizer.load_state_dict(self._saved["optimizer"])
            self._saved = None

    def on_modules_built(self, ctx: FitContext) -> None:
        groups = _groups_of(ctx.task)
        self.target = target_group(ctx.task, self.config.target)
        self.build(int(ctx.model.embedding_dim), len(groups), device=ctx.device, seed=ctx.cfg.train.seed)

    def on_epoch_start(self, ctx: FitContext, epoch: int) -> None:
        self._sums = [0.0, 0.0, 0.0, 0]

    def regularizer(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``log(1 + |0.9 - p_target|)``, mean over the batch (not weighted by alpha)."""
        assert self.net is not None, "build() first"
        return sensitive_regularizer(F.softmax(self.net(embeddings), dim=1), self.target)

    def extra_loss(self, ctx: FitContext, batch: Batch, embeddings: torch.Tensor,
                   logits: torch.Tensor) -> torch.Tensor:
        if batch.groups is None:
            raise ConfigError("mitigation.name: discriminator needs a task with groups")
        groups = batch.groups.to(embeddings.device)
        reg = self.regularizer(embeddings)
        self._batch = (embeddings.detach(), groups)
        self._sums[0] += float(reg.detach()) * len(groups)
        return self.config.alpha * reg

    def discriminator_step(self, embeddings: torch.Tensor, groups: torch.Tensor) -> float:
        """One Adam step of the discriminator on the cross-entropy of ``groups``; returns that loss."""
        assert self.net is not None and self.optimizer is not None, "build() first"
        self.optimizer.zero_grad(set_to_none=True)  # also drops the gradients the backbone's backward left
        out = self.net(embeddings.detach())
        loss = F.cross_entropy(out, groups)
        loss.backward()
        self.optimizer.step()
        value = float(loss.detach())
        self._sums[1] += value * len(groups)
        self._sums[2] += float((out.detach().argmax(1) == groups).sum())
        self._sums[3] += len(groups)
        return value

    def on_after_optimizer_step(self, ctx: FitContext, epoch: int, step: int) -> None:
        if self._batch is not None:
            embeddings, groups = self._batch
            self._batch = None
            self.discriminator_step(embeddings, groups)

    def on_epoch_end(self, ctx: FitContext, epoch: int, record: dict[str, Any]) -> None:
        reg, loss, correct, n = self._sums
        record["sensitive_regularizer"] = reg / n if n else None
        record["discriminator_loss"] = loss / n if n else None
        record["discriminator_accuracy"] = correct / n if n else None

    def state_dict(self) -> dict[str, Any]:
        if self.net is None or self.optimizer is None:
            return dict(self._saved or {})
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._saved = dict(state) if state else None


#: Callback class of every method but ``none``.
CALLBACKS: dict[str, type[MitigationCallback]] = {
    "flipped": FlippedLabels,
    "angular": AngularMargins,
    "discriminator": GroupDiscriminator,
}
