"""Fixtures of the mitigation tests: one intra-op thread, the tiny synthetic training config and a stand-in task."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

#: The tiny config of tests/train/test_callbacks.py: 16 identities x 3 images at 16 px, FR-NAS DPN at width 1/16.
CFG = {
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 16, "images_per_identity": 3, "size": 16},
             "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.0, "eval_protocol": None},
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 8},
    "head": {"name": "CosFace"}, "optim": {"name": "AdamW", "lr": 0.003},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: tiny models, and pytest -n runs other processes on the same cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic-cache")


@pytest.fixture
def tiny(data_cache):
    """``tiny(epochs, **sections)``: a RunConfig of the tiny config (``train={"seed": 1}`` updates a section,
    a value that is not a mapping replaces it)."""
    from fairvision.train import RunConfig

    def make(epochs: int = 2, **sections) -> RunConfig:
        cfg = copy.deepcopy(CFG)
        cfg["data"]["root"] = str(data_cache)
        cfg["train"]["epochs"] = epochs
        for name, update in sections.items():
            if isinstance(update, dict):
                cfg.setdefault(name, {}).update(update)
            else:
                cfg[name] = update
        return RunConfig.from_dict(cfg)

    return make


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
