"""Local worker processes share the machine's cores: torch threads = cores // workers unless OMP_NUM_THREADS."""

from __future__ import annotations

import os

import pytest
import torch

from fairvision.search.executors import PoolExecutor, share_cores


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("env, expected", [(None, 1), ("3", None)])
def test_share_cores(monkeypatch, threads, env, expected):
    torch.set_num_threads(2)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    share_cores(1)
    assert torch.get_num_threads() == (expected if expected is not None else 2)  # an explicit setting wins


def _worker_threads() -> int:
    return torch.get_num_threads()


def test_pool_workers_get_their_share(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pool = PoolExecutor(2)
    try:
        got = pool.wait([pool.submit(_worker_threads)])[0][1]
    finally:
        pool.close()
    assert got == max(1, (os.cpu_count() or 1) // 2)
