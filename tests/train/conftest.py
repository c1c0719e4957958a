"""Fixtures of the training tests: a tiny, fast config and a shared synthetic-data cache."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest


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
def _one_thread(one_thread):
    """Every training test runs with one intra-op thread (tests/conftest.py)."""
    yield


def _maker(base: dict, data_cache: Path):
    """``make(**changes)``: a copy of ``base`` with ``data.root`` the shared cache and ``key__path=value`` changes."""

    def make(**changes) -> dict:
        cfg = copy.deepcopy(base)
        cfg["data"]["root"] = str(data_cache)
        for path, value in changes.items():
            node = cfg
            keys = path.split("__")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        return cfg

    return make


@pytest.fixture
def tiny(data_cache):
    """A function returning a copy of the tiny config dict, with ``key__path=value`` changes applied."""
    return _maker(TINY, data_cache)


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
    return _maker(ATTRIBUTE, data_cache)
