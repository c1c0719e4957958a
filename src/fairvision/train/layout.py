"""The layout of a training run folder: the one module that knows its file names.

Everything that reads or writes a run folder (the engine, evaluation, the CLI,
the demo, the search objective) goes through :class:`RunLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["OUTPUT_FILES", "RunLayout"]


def _file(name: str, doc: str) -> property:
    return property(lambda self: self.root / name, doc=doc)


@dataclass(frozen=True)
class RunLayout:
    """Paths of the files of the run folder ``root``."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # accept a str

    config = _file("config.yaml", "The resolved config (YAML).")
    history = _file("history.jsonl", "One JSON record per epoch.")
    ranks = _file("ranks_val.csv", "``ids, epoch_0, ...``: ``rank_by_id`` of every validation image per evaluated epoch.")
    val_meta = _file("val_meta.csv", "``ids, identity, group, [group column], path`` of the validation images.")
    checkpoint = _file("checkpoint.pt", "The training state (:mod:`fairvision.train.checkpoint`).")
    metrics = _file("metrics.json", "``fairvision fairness --json`` keys plus ``epoch`` and ``status``.")
    data = _file("data", "Default folder of generated (synthetic) data when ``data.root`` is not set.")
    heldout_data = _file("data_heldout", "Default folder of the generated held-out evaluation set (``data.heldout``).")

    logits_dir = _file("logits", "Attribute task: per-epoch logits ``epoch_<E>_<split>.txt``.")

    def logits(self, split: str, epoch: int | None = None) -> Path:
        """Attribute task: logits of ``split`` (``val``/``test``) at ``epoch``, or the latest (``logits_<split>.txt``);
        ``np.savetxt`` format, one row per sample in split order, one column per attribute."""
        return self.root / f"logits_{split}.txt" if epoch is None else self.logits_dir / f"epoch_{epoch}_{split}.txt"

    def labels(self, split: str) -> Path:
        """Attribute task: ``ids, path, identity, [group column], [protected non-targets], <attributes>`` of
        ``split`` in its order."""
        return self.root / f"labels_{split}.csv"

    def triggered(self, split: str) -> Path:
        """``data.trigger``: ``ids, path, split, <target>, triggered`` of ``split`` in its order."""
        return self.root / f"triggered_{split}.csv"

    @property
    def outputs(self) -> tuple[Path, ...]:
        """Every file a training run writes."""
        return (self.config, self.history, self.ranks, self.val_meta, self.checkpoint, self.metrics)

    @staticmethod
    def rank_column(epoch: int) -> str:
        """Column of :attr:`ranks` holding the ranks of 0-based ``epoch`` (FR-NAS's ``epoch_N``)."""
        return f"epoch_{epoch}"

    @staticmethod
    def column_epoch(column: str) -> int:
        """Inverse of :meth:`rank_column`."""
        return int(column.removeprefix("epoch_"))


#: Names of the files a training run writes.
OUTPUT_FILES: tuple[str, ...] = tuple(p.name for p in RunLayout(".").outputs)
