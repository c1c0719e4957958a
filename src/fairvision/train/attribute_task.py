"""Multi-label attribute classification (Iofinova et al., CVPR 2023): ``task: {name: attribute}``.

One sigmoid output per attribute (a :class:`~fairvision.models.LinearHead` on the backbone's features),
trained with ``binary_cross_entropy_with_logits``; every attribute is a target (the paper predicts CelebA's
40 jointly). Data: any face set whose frame has 0/1 attribute columns -- CelebA (all 40, official
partition, rows in ``list_eval_partition.txt`` order) or the synthetic faces (``Male``, ``Young``, the
CelebA-named attributes, and one column per group with ``group_onehot``).  The FR-NAS evaluation protocol
does not apply: val and test are the whole splits, in order.

Pipeline (:func:`fairvision.data.torch_dataset.input_images`, shared with face identification): training
images are resized to ``task.resize`` and randomly cropped to ``data.image_size`` (plus the engine's horizontal
flips), evaluation images resized and centre-cropped; mean = std = 0.5. CelebA's paper setting is
``resize: 256, image_size: 224``.

Outputs besides the engine's (file names from :class:`~fairvision.train.RunLayout`):

* ``labels_{train,val,test}.csv``: ``ids, path, identity, <attribute columns>`` (+ the group column, and
  before the targets the protected attributes that are not targets, e.g. the ``data.trigger`` column, which
  is never a target: :mod:`fairvision.train.trigger`); ``triggered_{split}.csv`` with a ``data.trigger``;
* ``logits/epoch_<E>_{val,test}.txt`` per evaluated epoch and ``logits_{val,test}.txt`` (latest): the
  paper's format -- ``np.savetxt``, no header, one row per sample of the split in its order, one column
  per target attribute in ``labels_*.csv`` column order -- readable by ``fairvision attribute-bias``;
* ``metrics.json``: ``Error`` (1 - mean validation accuracy), ``Accuracy``, ``Mean AUC``, ``Mean |BA|``
  and the validation split's attribute bias report (default threshold 0).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch

from fairvision._io import write_csv
from fairvision.data import FaceSet
from fairvision.data.torch_dataset import input_images
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import attribute_bias_report, write_logits
from fairvision.models import create_loss
from fairvision.train.data import load_splits
from fairvision.train.step import autocast, build_head
from fairvision.train.tasks import TASKS, Task
from fairvision.train.trigger import protected_attributes, trigger_column, write_triggered

__all__ = ["AttributeTask", "attribute_columns"]

_NOT_ATTRIBUTES = frozenset({"path", "identity", "partition"})
SPLITS = ("val", "test")


def attribute_columns(frame: pd.DataFrame) -> list[str]:
    """The 0/1 columns of a face-set frame (in frame order), i.e. the attributes a model can predict."""
    out = []
    for col in frame.columns:
        if col in _NOT_ATTRIBUTES or not (pd.api.types.is_integer_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])):
            continue
        if set(np.unique(frame[col].to_numpy())) <= {0, 1}:
            out.append(str(col))
    return out


@TASKS.register("attribute", aliases=("attributes",))
class AttributeTask(Task):
    """Multi-label attribute classification (see the module docstring)."""

    metric_fields = ("Error", "Accuracy", "Mean AUC", "Mean |BA|")

    def __init__(self, cfg, layout) -> None:
        super().__init__(cfg, layout)
        self.logits: dict[str, Any] = {}  # {"epoch": E, "val": tensor, "test": tensor} of the latest evaluation

    # ------------------------------------------------------------------ data
    def setup(self) -> None:
        cfg, tc = self.cfg, self.cfg.task
        data = cfg.data.model_copy(update={"eval_protocol": None})
        parts = load_splits(data, run_dir=self.layout.root)
        write_triggered(self.layout.root, parts)
        train_set = parts["train"]
        self.splits = {name: parts[name] for name in SPLITS if len(parts.get(name, ())) > 0}
        if "val" not in self.splits:
            raise DatasetError(f"{train_set.name}: the validation split is empty (data.val_fraction = "
                               f"{cfg.data.val_fraction})")
        if len(train_set) < cfg.train.batch_size:
            raise ConfigError(f"train.batch_size: {cfg.train.batch_size} is larger than the training split "
                              f"({len(train_set)} images)")
        sets = {"train": train_set, **self.splits}
        group = cfg.data.group_column
        values = sorted({str(v) for s in sets.values() for v in s.frame[group].unique()}) if tc.group_onehot else []
        frames = {name: self._with_groups(s, values) for name, s in sets.items()}
        self.attributes = self._targets(frames["train"])
        self.protected = protected_attributes(tc.protected, self.attributes, trigger_column(cfg.data))
        columns = attribute_columns(frames["train"])
        unknown = [p for p in self.protected if p not in columns]
        if unknown:
            raise ConfigError(f"task.protected: {unknown} are not 0/1 attribute columns of the data (available: "
                              f"{', '.join(columns)})")
        self.labels = {name: frame[self.attributes].to_numpy(np.int64) for name, frame in frames.items()}
        # protected attributes that are not targets (e.g. the data.trigger column): group labels of the metrics
        self.group_only = [p for p in self.protected if p not in self.attributes]
        self.group_labels = {name: frame[self.group_only] for name, frame in frames.items()}
        self.train_labels = torch.from_numpy(self.labels["train"].astype(np.float32))
        size = cfg.data.image_size
        resize = tc.resize_to(size)  # >= size: checked when the config is validated
        self.train_dataset = input_images(train_set, size=size, resize=resize, random_crop=True)
        self.eval_data = {n: input_images(s, size=size, resize=resize) for n, s in self.splits.items()}
        for name, frame in frames.items():
            meta = pd.DataFrame({"ids": np.arange(len(frame)), "path": frame["path"].to_numpy(),
                                 "identity": frame["identity"].to_numpy()})
            if group in frame.columns and group not in self.attributes:
                meta[group] = frame[group].to_numpy()
            meta = pd.concat([meta, frame[[c for c in self.group_only if c not in meta]],
                              frame[self.attributes]], axis=1)
            write_csv(self.layout.labels(name), meta)

    def _with_groups(self, faces: FaceSet, values: list[str]) -> pd.DataFrame:
        """The frame of ``faces`` with one 0/1 column ``<group column>=<value>`` per group value (group_onehot)."""
        frame = faces.frame.reset_index(drop=True)
        if values:
            group = self.cfg.data.group_column
            onehot = {f"{group}={v}": (frame[group].astype(str) == v).astype(np.int64) for v in values}
            frame = pd.concat([frame, pd.DataFrame(onehot)], axis=1)
        return frame

    def _targets(self, frame: pd.DataFrame) -> list[str]:
        available = [c for c in attribute_columns(frame) if c != trigger_column(self.cfg.data)]  # never a target
        wanted = self.cfg.task.attributes
        if wanted is None:
            if not available:
                raise DatasetError(f"the training data has no 0/1 attribute columns (columns: {list(frame.columns)})")
            return available
        unknown = [a for a in wanted if a not in available]
        if unknown:
            raise ConfigError(f"task.attributes: {unknown} are not 0/1 attribute columns of the data "
                              f"(available: {', '.join(available)})")
        return list(wanted)

    # ------------------------------------------------------------------ model
    def build_head(self, embedding_dim: int) -> torch.nn.Module:
        self.head = build_head(self.cfg, int(embedding_dim), len(self.attributes))
        return self.head

    def build_loss(self) -> torch.nn.Module:
        if self.cfg.loss.name not in ("ce", "bce"):
            raise ConfigError(f"loss.name: task attribute trains with bce (binary cross-entropy per attribute), "
                              f"not {self.cfg.loss.name!r}")
        return create_loss("bce")

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        return self.train_labels[index]

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict(self, forward: torch.nn.Module, split: str, *, device: torch.device) -> np.ndarray:
        """Logits (N, attributes) of the split ``split`` in its order (float64)."""
        tc = self.cfg.train
        loader = torch.utils.data.DataLoader(self.eval_data[split], batch_size=tc.eval_batch_size, shuffle=False,
                                             num_workers=self.cfg.data.num_workers)
        modes = forward.training, self.head.training
        forward.eval()
        self.head.eval()
        out = []
        cuda = [device.index or 0] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=cuda), autocast(device, tc.precision):
                for images, _ in loader:
                    x = images.to(device)
                    if tc.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    out.append(self.head(forward(x).float()).float().cpu())
        finally:
            forward.train(modes[0])
            self.head.train(modes[1])
        return torch.cat(out).double().numpy()

    def evaluate(self, forward, epoch, *, device, last):
        logits = {name: self.predict(forward, name, device=device) for name in self.splits}
        if not all(np.isfinite(z).all() for z in logits.values()):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = attribute_bias_report(logits["val"], self.labels["val"], attributes=self.attributes,
                                           train_labels=self.labels["train"], protected=self.protected,
                                           group_labels=self.group_labels["val"],
                                           train_group_labels=self.group_labels["train"])
        table = report.attributes
        ba = report.bias["bias_amplification"].abs()
        scores = {"Accuracy": float(table["accuracy"].mean()), "Mean AUC": float(table["auc"].mean()),
                  "Mean |BA|": float(ba.mean()) if ba.notna().any() else None}
        scores["Error"] = 1.0 - scores["Accuracy"]
        self.logits = {"epoch": epoch, **{n: torch.from_numpy(z) for n, z in logits.items()}}
        metrics = {**scores, "split": "val", "attribute_bias": report.to_dict(), "epoch": epoch,
                   "status": "complete" if last else "running"}
        return {"record": scores, "metrics": metrics, "report": None}

    def state_dict(self) -> dict[str, Any]:
        return {"attribute_logits": self.logits}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits = dict(state.get("attribute_logits") or {})

    def write_outputs(self) -> None:
        if not self.logits:
            return
        epoch = int(self.logits["epoch"])
        for name in SPLITS:
            if name in self.logits:
                z = self.logits[name].numpy()
                write_logits(self.layout.logits(name, epoch), z)
                write_logits(self.layout.logits(name), z)
