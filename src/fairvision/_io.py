"""Atomic file writes (a reader never sees a half-written result file), with the user's umask.

``tempfile.mkstemp``/``mkdtemp`` create private files (0600) and folders
(0700) whatever the umask; every output written through here ends up with the
permissions an ordinary ``open``/``mkdir`` would give it: ``0o666 & ~umask``
for files, ``0o777 & ~umask`` for folders (see :func:`current_umask`).

:func:`jsonable` is the one NaN/inf -> ``None`` conversion for JSON output.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

__all__ = [
    "atomic_write",
    "write_json",
    "write_csv",
    "jsonable",
    "current_umask",
    "file_mode",
    "dir_mode",
    "make_temp_dir",
]


def current_umask() -> int:
    """The process umask.

    Read from ``/proc/self/status`` (``Umask:`` line, Linux >= 4.7) where
    available, which changes nothing.  Elsewhere it is read by setting and
    restoring it (``os.umask(0); os.umask(old)``): the umask is process-global,
    so a thread creating a file between those two calls would get umask 0.
    fairvision writes its outputs from one thread, so that window is harmless
    here.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """Permissions of a new regular file under the current umask: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Permissions of a new folder under the current umask: ``0o777 & ~umask``."""
    return 0o777 & ~current_umask()


def make_temp_dir(parent: str | Path, *, prefix: str) -> Path:
    """``tempfile.mkdtemp`` in ``parent`` (unique, race-free), with the umask's folder permissions instead of 0700.

    Meant for folders that are filled and then renamed into place.
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        os.chmod(tmp, dir_mode())
    except BaseException:
        os.rmdir(tmp)
        raise
    return tmp


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    The file gets ``0o666 & ~umask`` permissions, as if ``write`` had created
    ``path`` itself.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN written as null), atomically."""
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))


def write_csv(path: str | Path, frame: pd.DataFrame, *, index: bool = False) -> Path:
    """Write a DataFrame as CSV, atomically."""
    return atomic_write(path, lambda p: frame.to_csv(p, index=index))


def jsonable(obj: Any) -> Any:
    """``obj`` ready for strict JSON: NaN/inf -> ``None``, numpy scalars -> Python, tuples -> lists, keys -> str.

    The one NaN -> ``null`` conversion of fairvision's JSON outputs (metrics,
    run histories, reports); recurses into dicts, lists and tuples.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


#: Former private name (kept for existing imports).
