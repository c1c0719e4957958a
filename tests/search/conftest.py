"""Shared helpers of the search tests."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fairvision.errors import ConfigError
from fairvision.search import TrialStore


def wait_for_complete(proc: subprocess.Popen, db: Path, n: int, *, study: str = "default", timeout: float = 60) -> None:
    """Block until the search run by ``proc`` has ``n`` complete trials in ``db`` (fail if it ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if proc.poll() is not None:
            pytest.fail(f"search script ended early: {proc.stderr.read().decode()[-2000:]}")
        if not db.exists():
            continue
        reader = TrialStore(db)
        try:
            reader.load_study(study)
            if (reader.trials()["status"] == "complete").sum() >= n:
                return
        except ConfigError:  # the search has not created its study yet
            pass
        finally:
            reader.close()
    pytest.fail(f"{db}: fewer than {n} complete trials after {timeout} s")


@pytest.fixture
def wait_complete():
    """:func:`wait_for_complete`, for tests that drive a search in a subprocess."""
    return wait_for_complete


@pytest.fixture
def start_script(tmp_path):
    """Write ``text`` to a script in ``tmp_path`` and start it with ``args`` (stderr piped); killed at teardown."""
    import sys
    import textwrap

    procs = []

    def start(text: str, *args: str) -> subprocess.Popen:
        script = tmp_path / f"script_{len(procs)}.py"
        script.write_text(textwrap.dedent(text))
        proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
