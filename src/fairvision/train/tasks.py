"""Training tasks: what the engine trains. A task owns data -> batches -> targets -> head -> evaluation;
the engine (:mod:`fairvision.train.engine`) owns the loop, resume, budget extension, divergence, progress,
history and checkpoints, and calls the task:

* :meth:`Task.setup` loads the splits (validated before any training) and writes their metadata;
* :meth:`Task.build_head` makes the output head for the backbone's embedding;
* :attr:`Task.train_dataset` yields ``(image, index)``; :meth:`Task.targets` turns a batch of indices into
  the targets the head and loss take, :meth:`Task.groups` into the samples' group codes (an index into
  :attr:`Task.group_names`; group-aware training plug-ins such as :mod:`fairvision.mitigate` read them);
* :meth:`Task.evaluate` scores the model on the validation split at an evaluated epoch: the history fields
  and the metrics (``metrics.json``), or None when the outputs are not finite (divergence);
* :meth:`Task.state_dict` / :meth:`Task.load_state_dict` keep per-epoch outputs in the checkpoint, and
  :meth:`Task.write_outputs` writes them to the run folder;
* :meth:`Task.build_loss`, :attr:`Task.metric_fields` and :meth:`Task.diverged_metrics` give the loss, the
  metric names of a history record and the record of a diverged run.

:data:`TASKS` maps the config's ``task.name`` to a task class: :class:`IdentificationTask` is face
identification (margin heads over identity classes, exact leave-one-out ranks and the FR-NAS fairness
metrics of the validation split); :class:`~fairvision.train.attribute_task.AttributeTask` is multi-label
attribute classification (Iofinova et al.).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from fairvision._io import write_csv
from fairvision.data import FaceSet
from fairvision.data.torch_dataset import input_images
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import METRIC_NAMES, FairnessReport, fairness_metrics, identification_ranks
from fairvision.models import create_loss, embed
from fairvision.train._registries import TASKS
from fairvision.train.config import RunConfig
from fairvision.train.data import class_labels, load_splits
from fairvision.train.layout import RunLayout
from fairvision.train.step import autocast, build_head
from fairvision.train.trigger import write_triggered

__all__ = ["IdentificationTask", "TASKS", "Task", "diverged_metrics", "embed_and_score"]



class Task(ABC):
    """One kind of training (see the module docstring)."""

    #: Metric keys every history record carries (None in epochs without evaluation).
    metric_fields: tuple[str, ...] = ()

    def __init__(self, cfg: RunConfig, layout: RunLayout) -> None:
        self.cfg, self.layout = cfg, layout

    def empty_record(self) -> dict[str, Any]:
        """The metric fields of a history record of an epoch that was not evaluated."""
        return {name: None for name in self.metric_fields}

    def diverged_metrics(self, epoch: int) -> dict[str, Any]:
        """metrics.json of a run that diverged in ``epoch``: Error = 1 (FR-NAS), other metrics undefined."""
        return {**self.empty_record(), "Error": 1.0, "epoch": epoch, "status": "diverged"}

    def build_loss(self) -> torch.nn.Module:
        """The training loss (``loss`` section of the config)."""
        return create_loss(self.cfg.loss.name, gamma=self.cfg.loss.gamma)

    @abstractmethod
    def setup(self) -> None:
        """Load and check the data; set :attr:`train_dataset`."""

    train_dataset: torch.utils.data.Dataset

    @abstractmethod
    def build_head(self, embedding_dim: int) -> torch.nn.Module:
        """The output head on top of the backbone."""

    @abstractmethod
    def targets(self, index: torch.Tensor) -> torch.Tensor:
        """Targets of the training samples ``index``."""

    #: Sorted values of ``data.group_column`` in the training split (empty for tasks without groups); a group
    #: code is an index into this list.
    group_names: Sequence[str] = ()
    #: Group code of every output class (identification: of every identity), None for tasks without groups.
    class_groups: torch.Tensor | None = None

    def groups(self, index: torch.Tensor) -> torch.Tensor | None:
        """Group codes (LongTensor, indices into :attr:`group_names`) of the training samples ``index``; None
        for tasks without groups (the default)."""
        return None

    @abstractmethod
    def evaluate(self, forward: torch.nn.Module, epoch: int, *, device: torch.device, last: bool) -> dict | None:
        """``{"record": history fields, "metrics": metrics.json content, "report": ...}``, None if not finite."""

    def state_dict(self) -> dict[str, Any]:
        """Per-epoch outputs to keep in the checkpoint (top-level keys)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` from a checkpoint."""

    def write_outputs(self) -> None:
        """Write the task's files in the run folder from its (checkpointed) state."""


def diverged_metrics(epoch: int) -> dict[str, Any]:
    """FR-NAS's convention for a diverged run: Error = 1, the other metrics undefined."""
    out: dict[str, Any] = {name: None for name in METRIC_NAMES}
    out["Error"] = 1.0
    out["groups"] = {}
    out.update(epoch=epoch, status="diverged")
    return out


def embed_and_score(
    model: torch.nn.Module,
    faces: FaceSet,
    group_column: str,
    *,
    image_size: int,
    resize: int | None = None,
    device: torch.device,
    precision: str = "fp32",
    batch_size: int = 256,
    num_workers: int = 0,
) -> tuple[np.ndarray, Any, FairnessReport] | None:
    """Flip-TTA embeddings, identification ranks and fairness report of ``faces``; None if embeddings are not finite.

    Images are resized to ``image_size``, or to ``resize`` and centre-cropped to ``image_size`` (the
    evaluation side of ``task.resize``, :meth:`~fairvision.train.config.TaskConfig.resize_to`)."""
    data = input_images(faces, size=image_size, resize=resize)
    cuda = [device.index or 0] if device.type == "cuda" else []
    # fork_rng: evaluating must not move the training RNG (the DataLoader draws a seed from it),
    # so that results do not depend on which epochs were evaluated.
    with torch.random.fork_rng(devices=cuda), autocast(device, precision):
        emb = embed(model, data, batch_size=batch_size, device=device, num_workers=num_workers)
    if not np.isfinite(emb).all() or (np.linalg.norm(emb, axis=1) == 0).any():
        return None
    frame = faces.frame
    ranks = identification_ranks(emb, frame["identity"].to_numpy())
    with warnings.catch_warnings():  # undefined ratios early in training are reported as null
        warnings.simplefilter("ignore")
        report = fairness_metrics(ranks.rank_by_id, frame[group_column].to_numpy(), identities=frame["identity"].to_numpy())
    return emb, ranks, report


@TASKS.register("identification")
class IdentificationTask(Task):
    """Face identification: identity classes, a margin head, ranks + FR-NAS metrics on validation."""

    metric_fields = tuple(METRIC_NAMES)

    def empty_record(self) -> dict[str, Any]:
        return {**super().empty_record(), "groups": {}}

    def diverged_metrics(self, epoch: int) -> dict[str, Any]:
        return diverged_metrics(epoch)

    def __init__(self, cfg: RunConfig, layout: RunLayout) -> None:
        super().__init__(cfg, layout)
        self.ranks: dict[str, torch.Tensor] = {}  # rank_by_id of the validation images per evaluated epoch

    def setup(self) -> None:
        cfg, tc = self.cfg, self.cfg.train
        parts = load_splits(cfg.data, run_dir=self.layout.root)
        write_triggered(self.layout.root, parts)
        train_set, self.val_set = parts["train"], parts["val"]
        group = self.group = cfg.data.group_column
        if len(self.val_set) == 0:
            raise DatasetError(f"{train_set.name}: the validation split is empty (data.val_fraction = "
                               f"{cfg.data.val_fraction})")
        if self.val_set.frame[group].nunique() < 2:
            raise DatasetError(f"{self.val_set.name}: the validation split has fewer than two groups in column "
                               f"{group!r}")
        if len(train_set) < tc.batch_size:
            raise ConfigError(f"train.batch_size: {tc.batch_size} is larger than the training split "
                              f"({len(train_set)} images)")
        labels, self.classes = class_labels(train_set)
        self.label_tensor = torch.from_numpy(labels)
        values = train_set.frame[group].astype(str).to_numpy()
        self.group_names = sorted(set(values))
        codes = {name: code for code, name in enumerate(self.group_names)}
        self.group_tensor = torch.tensor([codes[v] for v in values], dtype=torch.long)
        _, first = np.unique(labels, return_index=True)  # every class has an image: one per class, in order
        self.class_groups = self.group_tensor[torch.from_numpy(first)]  # an identity's group: its first image's
        size = cfg.data.image_size
        self.train_dataset = input_images(train_set, size=size, resize=cfg.task.resize_to(size), random_crop=True)
        val = self.val_set.frame
        meta = pd.DataFrame({"ids": np.arange(len(val)), "identity": val["identity"].to_numpy()})
        meta["group"] = val[group].to_numpy()
        if group != "group":
            meta[group] = val[group].to_numpy()
        meta["path"] = val["path"].to_numpy()
        write_csv(self.layout.val_meta, meta)

    def build_head(self, embedding_dim: int) -> torch.nn.Module:
        return build_head(self.cfg, int(embedding_dim), len(self.classes))

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        return self.label_tensor[index]

    def groups(self, index: torch.Tensor) -> torch.Tensor:
        """Codes of the samples' ``data.group_column`` values (indices into :attr:`group_names`)."""
        return self.group_tensor[index]

    def evaluate(self, forward, epoch, *, device, last):
        cfg, tc = self.cfg, self.cfg.train
        scored = embed_and_score(
            forward, self.val_set, self.group, image_size=cfg.data.image_size,
            resize=cfg.task.resize_to(cfg.data.image_size), device=device,
            precision=tc.precision, batch_size=tc.eval_batch_size, num_workers=cfg.data.num_workers,
        )  # fmt: skip
        if scored is None:
            return None
        _, ranks, report = scored
        result = report.to_dict()
        self.ranks[RunLayout.rank_column(epoch)] = torch.from_numpy(ranks.rank_by_id.astype(np.int64))
        return {"record": {k: result[k] for k in (*METRIC_NAMES, "groups")},
                "metrics": {**result, "epoch": epoch, "status": "complete" if last else "running"},
                "report": report}

    def state_dict(self) -> dict[str, Any]:
        return {"ranks": self.ranks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ranks = dict(state.get("ranks") or {})

    def write_outputs(self) -> None:
        if self.ranks:
            n = len(next(iter(self.ranks.values())))
            frame = pd.DataFrame({"ids": np.arange(n)})
            for col in sorted(self.ranks, key=RunLayout.column_epoch):
                frame[col] = self.ranks[col].numpy()
            write_csv(self.layout.ranks, frame)
