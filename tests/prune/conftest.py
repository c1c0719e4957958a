"""Fixtures of the pruning tests: one intra-op thread and the tiny synthetic training config."""

from __future__ import annotations


import pytest

@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Every test here runs with one intra-op thread (tests/conftest.py)."""
    yield


@pytest.fixture
def tiny(plugin_run_config):
    """``tiny(epochs, **sections)``: a RunConfig of the plug-in tests' tiny config (tests/conftest.py)."""
    return plugin_run_config
