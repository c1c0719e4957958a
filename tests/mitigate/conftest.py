"""Fixtures of the mitigation tests: one intra-op thread, the tiny synthetic training config and a stand-in task."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Every test here runs with one intra-op thread (tests/conftest.py)."""
    yield


@pytest.fixture
def tiny(plugin_run_config):
    """``tiny(epochs, **sections)``: a RunConfig of the plug-in tests' tiny config (tests/conftest.py)."""
    return plugin_run_config


def fake_task(class_groups: list[int], group_names=("f", "m"), images_per_class: int = 3) -> SimpleNamespace:
    """What the mitigation callbacks read of a task: ``group_names``, ``class_groups``, ``groups(index)`` and
    ``train_dataset`` (its length), with ``images_per_class`` images per class in class order."""
    class_groups_t = torch.tensor(class_groups)
    labels = torch.arange(len(class_groups)).repeat_interleave(images_per_class)
    return SimpleNamespace(group_names=list(group_names), class_groups=class_groups_t, labels=labels,
                           groups=lambda index: class_groups_t[labels[index]], train_dataset=range(len(labels)))


@pytest.fixture
def make_task():
    """:func:`fake_task` as a fixture."""
    return fake_task
