"""Training and evaluation of face-recognition models (FR-NAS protocol) with fairness metrics.

* :func:`train` -- train / resume / extend a run in a folder (see :mod:`fairvision.train.engine`);
  returns a :class:`TrainResult`; :class:`RunLayout` names the files of a run folder;
* :func:`evaluate` -- metrics of a trained run on a split or another data set;
* :class:`RunConfig` and :func:`load_run_config` -- the typed YAML config with ``--set`` overrides;
* :data:`TASKS` -- what is trained (``task.name``: identification, attribute), :class:`Callback` -- hooks
  into the loop, :data:`PLUGINS` -- config sections (``prune:``) that add callbacks.
"""

from fairvision.train.config import (
    DataConfig,
    EvalProtocolConfig,
    HeadConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TaskConfig,
    TrainSettings,
    apply_overrides,
    load_data_config,
    load_run_config,
)
from fairvision.train.callbacks import Batch, Callback, FitContext
from fairvision.train.tasks import TASKS, IdentificationTask, Task
from fairvision.train.attribute_task import AttributeTask
from fairvision.train.plugins import PLUGINS, Plugin
from fairvision.train.engine import RESUMABLE_KEYS, train
from fairvision.train.evaluate import evaluate, load_trained_model
from fairvision.train.layout import OUTPUT_FILES, RunLayout
from fairvision.train.result import RunStatus, TrainResult
from fairvision.train.step import TrainStep

__all__ = [
    "AttributeTask",
    "Batch",
    "Callback",
    "IdentificationTask",
    "PLUGINS",
    "Plugin",
    "TASKS",
    "Task",
    "TaskConfig",
    "DataConfig",
    "FitContext",
    "EvalProtocolConfig",
    "HeadConfig",
    "LossConfig",
    "ModelConfig",
    "OUTPUT_FILES",
    "OptimConfig",
    "RESUMABLE_KEYS",
    "RunConfig",
    "RunLayout",
    "RunStatus",
    "TrainResult",
    "TrainSettings",
    "TrainStep",
    "apply_overrides",
    "evaluate",
    "load_data_config",
    "load_run_config",
    "load_trained_model",
    "train",
]
