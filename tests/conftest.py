"""Shared fixtures: paths of the FR-NAS reference data copied into tests/data/frnas."""

from __future__ import annotations

from pathlib import Path

import pytest

FRNAS = Path(__file__).parent / "data" / "frnas"


@pytest.fixture(scope="session")
def frnas_dir() -> Path:
    return FRNAS


@pytest.fixture(scope="session")
def celeba_val_meta() -> Path:
    return FRNAS / "celeba" / "val_identities_gender-expression_seed_222.csv"


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread: the test models are tiny, and with other processes (pytest -n, other jobs) on the
    same cores, OpenMP threads that wait for each other slow every step down many-fold. Folders of training
    tests use it autouse (their conftest)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    """Shared folder for synthetic face sets (content-addressed by their config)."""
    return tmp_path_factory.mktemp("synthetic-cache")


#: 16 identities x 3 images at 16 px, FR-NAS DPN at width 1/16: the plug-in tests' (prune, mitigate) run config.
PLUGIN_CFG = {
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 16, "images_per_identity": 3, "size": 16},
             "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.0, "eval_protocol": None},
    "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 8},
    "head": {"name": "CosFace"}, "optim": {"name": "AdamW", "lr": 0.003},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
}


@pytest.fixture
def plugin_run_config(data_cache):
    """``make(epochs, **sections)``: a RunConfig of :data:`PLUGIN_CFG` (``train={"seed": 1}`` updates a section,
    a value that is not a mapping replaces it)."""
    import copy

    from fairvision.train import RunConfig

    def make(epochs: int = 2, **sections):
        cfg = copy.deepcopy(PLUGIN_CFG)
        cfg["data"]["root"] = str(data_cache)
        cfg["train"]["epochs"] = epochs
        for name, update in sections.items():
            if isinstance(update, dict):
                cfg.setdefault(name, {}).update(update)
            else:
                cfg[name] = update
        return RunConfig.from_dict(cfg)

    return make


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (tests/browser.py): ``browser.check(html_path)`` renders a page and returns a
    BrowserResult (``.ok``, ``.problems()``). Skips when Chromium is missing or cannot start; fails instead
    under ``CI=true`` (``.ci/run`` installs it), unless ``.ci/run`` could not install it (FAIRVISION_NO_CHROMIUM)."""
    import os

    from .browser import Browser, BrowserError

    try:
        chromium = Browser()
    except BrowserError as err:
        if os.environ.get("FAIRVISION_NO_CHROMIUM"):  # .ci/run tried to install it and could not
            pytest.skip(f"{err} ({os.environ['FAIRVISION_NO_CHROMIUM']})")
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{err} (CI=true: .ci/run should have installed chromium)")
        pytest.skip(str(err))
    yield chromium
    chromium.close()
