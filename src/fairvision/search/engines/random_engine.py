"""Random search: uniform samples of the ConfigSpace space, always at ``max_budget``, seeded.

Constraints are honoured the only way random search can: trials whose reported values violate them
are marked infeasible (``history[i]["feasible"]``) and left out of :meth:`Engine.front`; sampling
itself ignores them. After :meth:`Engine.restore` the sampler is advanced by one draw per restored
trial, so a resumed search proposes exactly what the uninterrupted search would have.
"""

from __future__ import annotations

import copy
from typing import Any

from fairvision.search.engines.base import Engine, Trial
from fairvision.search.spaces import config_to_dict

__all__ = ["RandomEngine"]


class RandomEngine(Engine):
    name = "random"

    def __init__(self, space, objectives, **kwargs: Any) -> None:
        super().__init__(space, objectives, **kwargs)
        self._space = copy.deepcopy(space)
        self._space.seed(self.seed)

    def _sample(self) -> dict[str, Any]:
        return config_to_dict(self._space.sample_configuration())

    def _ask(self):
        return self._sample(), self.max_budget, self.seed, None

    def _restore(self, config, budget, seed, running):
        self._sample()  # keep the random stream aligned with the uninterrupted search
        return None

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        pass  # nothing to learn
