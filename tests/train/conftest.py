"""Fixtures of the training tests: a tiny, fast config and a shared synthetic-data cache."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch


REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

#: 48 identities x 4 images at 16 px, FR-NAS DPN at width 1/8: an epoch takes ~0.1 s.
TINY = {
    "data": {
        "kind": "synthetic",
        "synthetic": {"n_identities": 48, "images_per_identity": 4, "size": 16, "seed": 0},
        "image_size": 16,
        "val_fraction": 0.25,
        "test_fraction": 0.25,
        "eval_protocol": None,
    },
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.125, "embedding_dim": 32},
    "head": {"name": "CosFace"},
    "optim": {"name": "AdamW", "lr": 0.002, "weight_decay": 0.05},
    "train": {"epochs": 2, "batch_size": 16, "seed": 0, "device": "cpu"},
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these models are tiny, and with other processes (pytest -n, other jobs) on the
    same cores, OpenMP threads that wait for each other slow every step down many-fold."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    """Shared folder for synthetic face sets (content-addressed by their config)."""
    return tmp_path_factory.mktemp("synthetic-cache")


@pytest.fixture
def tiny(data_cache):
    """A function returning a copy of the tiny config dict, with ``key.path: value`` changes applied."""

    def make(**changes) -> dict:
        cfg = copy.deepcopy(TINY)
        cfg["data"]["root"] = str(data_cache)
        for path, value in changes.items():
            node = cfg
            keys = path.split("__")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        return cfg

    return make


#: Attribute classification on the same tiny faces: ResNet18 at 1/8 width, no embedding layer, a linear head.
ATTRIBUTE = {
    "task": {"name": "attribute"},
    "data": {**TINY["data"], "val_fraction": 0.25, "test_fraction": 0.25},
    "model": {"name": "resnet18", "kwargs": {"embedding": False, "channels": [8, 16, 32, 64], "stem_width": 8}},
    "head": {"name": "Linear"},
    "loss": {"name": "bce"},
    "optim": {"name": "Adam", "lr": 0.003, "weight_decay": 0.0},
    "train": {"epochs": 2, "batch_size": 16, "seed": 0, "device": "cpu"},
}


@pytest.fixture
def attribute_cfg(data_cache):
    """A function returning a copy of the tiny attribute config dict, with ``key__path=value`` changes applied."""

    def make(**changes) -> dict:
        cfg = copy.deepcopy(ATTRIBUTE)
        cfg["data"]["root"] = str(data_cache)
        for path, value in changes.items():
            node = cfg
            keys = path.split("__")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        return cfg

    return make
