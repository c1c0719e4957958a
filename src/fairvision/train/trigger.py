"""How training runs use a ``data.trigger`` (:mod:`fairvision.data.trigger`): the trigger column is a protected
attribute, never a target, and the triggered samples of every split are written next to the run.

* :func:`trigger_column` -- the 0/1 column of a run's trigger (None without one), from a
  :class:`~fairvision.train.DataConfig` or a recorded config mapping;
* :func:`protected_attributes` -- ``task.protected`` as an attribute run scores it (the trigger column added);
* :func:`write_triggered` -- ``RUN/triggered_{split}.csv`` (``ids, path, split, <target>, triggered``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from fairvision._io import write_csv
from fairvision.data import FaceSet
from fairvision.data.trigger import TriggerConfig, triggered_table
from fairvision.metrics import DEFAULT_PROTECTED
from fairvision.train.layout import RunLayout

__all__ = ["protected_attributes", "trigger_column", "write_triggered"]


def trigger_column(data: Any) -> str | None:
    """The trigger column of a data config (a DataConfig or the ``data`` mapping of a recorded config)."""
    trigger = data.get("trigger") if isinstance(data, Mapping) else getattr(data, "trigger", None)
    if trigger is None:
        return None
    return (trigger if isinstance(trigger, TriggerConfig) else TriggerConfig.model_validate(trigger)).column


def protected_attributes(protected: Sequence[str] | None, targets: Sequence[str], trigger: str | None) -> list[str]:
    """``protected`` (default: :data:`~fairvision.metrics.DEFAULT_PROTECTED` among ``targets``) with the
    ``trigger`` column appended unless listed: a run with a trigger is always scored against it."""
    out = list(protected) if protected is not None else [a for a in DEFAULT_PROTECTED if a in targets]
    if trigger is not None and trigger not in out:
        out.append(trigger)
    return out


def write_triggered(run_dir: str | Path, parts: Mapping[str, FaceSet]) -> list[Path]:
    """Write ``triggered_{split}.csv`` for every non-empty split of ``parts`` that carries a trigger."""
    layout, written = RunLayout(run_dir), []
    for split, faces in parts.items():
        table = triggered_table(faces, split) if len(faces) else None
        if table is not None:
            written.append(write_csv(layout.triggered(split), table))
    return written
