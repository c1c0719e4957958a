"""Shared benchmark helpers: wall time and peak resident memory of a code block, in this process."""

from __future__ import annotations

import os
import platform
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


class Measure:
    """Times a block and samples RSS every ``interval`` s; ``peak`` is the max RSS above the start."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.seconds = 0.0
        self.peak = 0

    @contextmanager
    def __call__(self):
        start_rss = rss_bytes()
        peak = [start_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_bytes())
                stop.wait(self.interval)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds = time.perf_counter() - t0
            stop.set()
            thread.join()
            self.peak = max(peak[0], rss_bytes()) - start_rss


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
