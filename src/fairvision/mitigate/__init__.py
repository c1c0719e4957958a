"""Bias-mitigation baselines of FR-NAS (Dooley et al., "Rethinking Bias Mitigation: Fairer Architectures Make
for Fairer Face Recognition", NeurIPS 2023) as training plug-ins.

In a training config, the ``mitigation:`` section (validated by :class:`MitigationConfig`; importing this
package registers it as a :mod:`fairvision.train.plugins` plugin) gives the run one callback::

    mitigation: {name: flipped, fraction: 0.3, group: male}   # or --set mitigation.name=flipped
    mitigation: {name: angular, m_majority: 0.35, m_minority: 0.45}
    mitigation: {name: discriminator, alpha: 1.0, hidden: 128, lr: 0.001, target: female}

* ``flipped`` (:class:`FlippedLabels`): in every training batch, ``fraction`` (0.3) of the images of the
  majority / better-served ``group`` (FR-NAS: male) are relabelled to random *other* identities of that group;
* ``angular`` (:class:`AngularMargins`): the CosFace head gets a margin per group
  (:class:`GroupMarginCosFace`): ``m_majority`` (0.35) for ``group``, ``m_minority`` (0.45) for the others.
  FR-NAS's released code left both at 0.35 (plain CosFace); the defaults here differ on purpose;
* ``discriminator`` (:class:`GroupDiscriminator`, SensitiveNets-style): an MLP on the embedding predicts the
  group; the backbone's loss gets ``alpha * log(1 + |0.9 - p_target|)`` (every image pushed to look like group
  ``target`` to the discriminator, as FR-NAS's code does), the discriminator takes alternating steps of its own
  Adam on the group cross-entropy.

``group`` defaults to the largest group of the training split (an error when there is no single largest one).
Groups reach the callbacks through the task (:meth:`fairvision.train.Task.groups`), never global state. Every
method works from scratch and as fine-tuning of a trained run (``train.init_from``), and resumes exactly (the
discriminator and its optimizer are in the checkpoint). The methods need the identification task; angular
needs ``head.name: CosFace``. In code:
``fairvision.train.train(cfg, run_dir, callbacks=[FlippedLabels({"fraction": 0.5, "group": "A"})])``.
See ``docs/mitigation.md``.
"""

from fairvision.mitigate.callbacks import (
    CALLBACKS,
    AngularMargins,
    FlippedLabels,
    GroupDiscriminator,
    MitigationCallback,
    majority_group,
    sensitive_regularizer,
)
from fairvision.mitigate.config import MITIGATION_METHODS, MitigationConfig
from fairvision.mitigate.heads import GroupMarginCosFace
from fairvision.mitigate.plugin import register as _register_plugin

__all__ = [
    "CALLBACKS",
    "MITIGATION_METHODS",
    "AngularMargins",
    "FlippedLabels",
    "GroupDiscriminator",
    "GroupMarginCosFace",
    "MitigationCallback",
    "MitigationConfig",
    "majority_group",
    "sensitive_regularizer",
]

_register_plugin()  # the training config's `mitigation:` section (fairvision.train.plugins)
