"""FR-NAS's multi-objective, multi-fidelity architecture/hyperparameter search, independent of training.

* spaces: :func:`frnas_space`, :func:`timm_zoo_space`, :func:`space_from_dict` / :func:`load_space`
  (YAML), :func:`with_compression`.
* objectives: :class:`Objective`, :class:`Constraint`.
* engines (ask/tell): :func:`create_engine` (``"smac"``, ``"optuna"`` / ``"optuna-nsga2|tpe|gp"``,
  ``"random"``), :class:`Engine`, :class:`Trial`.
* analysis: :func:`pareto_front`, :func:`hypervolume`, :func:`knee_point`, :func:`select`,
  :func:`front_frame`, :func:`kendall_tau_by_budget`.
* persistence and execution: :class:`TrialStore`, :func:`run_search` (resume, retries, process pool,
  Dask).
* :class:`ToyObjective` / :func:`frnas_toy`: a cheap analytic objective on the FR-NAS space.
"""

from fairvision._extras import require_extra

require_extra("search")  # one line naming `pip install 'fairvision[search]'` instead of an ImportError

from fairvision.search.driver import run_search  # noqa: E402
from fairvision.search.engines import ENGINES, STATUSES, Engine, Trial, create_engine
from fairvision.search.objectives import Constraint, Objective
from fairvision.search.pareto import (
    front_frame,
    hypervolume,
    kendall_tau_by_budget,
    knee_point,
    pareto_front,
    select,
)
from fairvision.search.spaces import (
    config_to_dict,
    frnas_space,
    load_space,
    space_from_dict,
    timm_zoo_space,
    with_compression,
)
from fairvision.search.store import TrialStore
from fairvision.search.toy import ToyObjective, frnas_toy

__all__ = [
    "ENGINES",
    "STATUSES",
    "Constraint",
    "Engine",
    "Objective",
    "ToyObjective",
    "Trial",
    "TrialStore",
    "config_to_dict",
    "create_engine",
    "frnas_space",
    "frnas_toy",
    "front_frame",
    "hypervolume",
    "kendall_tau_by_budget",
    "knee_point",
    "load_space",
    "pareto_front",
    "run_search",
    "select",
    "space_from_dict",
    "timm_zoo_space",
    "with_compression",
]
