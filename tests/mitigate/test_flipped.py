"""Flipped: the configured fraction of the chosen group's images in a batch, relabelled to other identities of
that group only; the default group; determinism."""

from __future__ import annotations

import math

import pytest
import torch

from fairvision.errors import ConfigError
from fairvision.mitigate import FlippedLabels, MitigationConfig, majority_group

#: 10 classes: f = {0, 3, 6}, m = {1, 2, 4, 5, 7, 8, 9}
CLASS_GROUPS = [0, 1, 1, 0, 1, 1, 0, 1, 1, 1]


@pytest.mark.parametrize("fraction", [0.3, 0.5, 1.0])
@pytest.mark.parametrize("group, code", [("m", 1), ("f", 0)])
def test_relabels_the_fraction_of_the_group_to_its_other_identities(make_task, fraction, group, code):
    task = make_task(CLASS_GROUPS)
    cb = FlippedLabels({"fraction": fraction, "group": group})
    cb.setup(task, seed=3)
    class_groups = task.class_groups
    pool = set((class_groups == code).nonzero().flatten().tolist())
    for step in range(20):
        gen = torch.Generator().manual_seed(step)
        targets = torch.randint(0, len(CLASS_GROUPS), (16,), generator=gen)
        groups, original = class_groups[targets], targets.clone()
        new = cb.relabel(targets, groups, cb.generator(0, step))
        changed = new != targets
        n = int((groups == code).sum())
        assert int(changed.sum()) == math.floor(fraction * n + 0.5)  # the configured fraction, rounded half up
        assert torch.all(groups[changed] == code)  # only the chosen group's images
        assert all(int(t) in pool for t in new[changed])  # ... to identities of that group
        assert torch.equal(new[~changed], targets[~changed])
        assert torch.equal(targets, original)  # a new tensor: the task's targets are not changed in place


def test_every_other_identity_of_the_group_is_drawn(make_task):
    task = make_task(CLASS_GROUPS)
    cb = FlippedLabels({"fraction": 1.0, "group": "f"})
    cb.setup(task)
    targets = torch.zeros(300, dtype=torch.long)  # class 0 (group f) only
    new = cb.relabel(targets, task.class_groups[targets], torch.Generator().manual_seed(0))
    assert set(new.tolist()) == {3, 6}  # never the own identity, never another group's
    assert cb.relabelled == 300


def test_draws_depend_on_seed_epoch_and_step_only(make_task):
    task = make_task(CLASS_GROUPS)
    a, b = FlippedLabels({"group": "m"}), FlippedLabels({"group": "m"})
    a.setup(task, seed=1)
    b.setup(task, seed=1)
    targets = torch.arange(10).repeat(4)
    groups = task.class_groups[targets]
    assert torch.equal(a.relabel(targets, groups, a.generator(2, 5)), b.relabel(targets, groups, b.generator(2, 5)))
    assert not torch.equal(a.relabel(targets, groups, a.generator(2, 5)), a.relabel(targets, groups, a.generator(2, 6)))


def test_default_group_is_the_largest_of_the_training_split(make_task):
    assert majority_group(make_task(CLASS_GROUPS), None) == 1  # m: 7 identities x 3 images
    assert majority_group(make_task(CLASS_GROUPS), "f") == 0
    with pytest.raises(ConfigError, match=r"mitigation.group: no single largest group .*\(f, m: 6 images each\)"):
        majority_group(make_task([0, 1, 0, 1]), None)
    with pytest.raises(ConfigError, match=r"mitigation.group: 'x' is not a group of the training split \(f, m\)"):
        majority_group(make_task(CLASS_GROUPS), "x")
    with pytest.raises(ConfigError, match="at least two demographic groups"):
        majority_group(make_task([0, 0], group_names=("f",)), None)


def test_a_group_with_one_identity_cannot_be_relabelled(make_task):
    with pytest.raises(ConfigError, match="'f' has 1 training identity"):
        FlippedLabels({"group": "f"}).setup(make_task([0, 1, 1]))


def test_callback_arguments():
    assert FlippedLabels().config == MitigationConfig(name="flipped") and FlippedLabels().name == "mitigation"
    assert FlippedLabels({"fraction": 0.5}).config.fraction == 0.5
    with pytest.raises(ConfigError, match="mitigation: fraction"):
        FlippedLabels({"fraction": 0})
    with pytest.raises(ConfigError, match="'angular' given to the flipped callback"):
        FlippedLabels(MitigationConfig(name="angular"))
    with pytest.raises(ConfigError, match="expected a MitigationConfig or a mapping, got float"):
        FlippedLabels(0.3)  # type: ignore[arg-type]
