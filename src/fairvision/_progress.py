"""The one place that builds a rich progress bar.

``with progress(total, "description") as bar: ... bar.advance(n)`` shows a bar
on a terminal (or in Jupyter) and is a silent no-op otherwise, or with
``enabled=False``: piped output, log files and captured test output stay clean.

Options: ``console`` (default rich's global console), ``transient`` (remove the
bar when done), ``columns`` (rich column objects or format strings; default
rich's description / bar / percentage / time-remaining columns) and task
``fields`` that custom columns read as ``{task.fields[name]}`` and that
``advance``/``update`` may change::

    with progress(steps, "train", transient=True, columns=[TextColumn("loss {task.fields[loss]:.3f}")],
                  loss=float("nan")) as bar:
        bar.advance(1, loss=0.7)
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from rich import get_console
from rich.console import Console
from rich.progress import Progress, ProgressColumn, TaskID

__all__ = ["ProgressBar", "progress"]


class ProgressBar:
    """Handle of one bar; every method is a no-op when the bar is disabled."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None) -> None:
        self._bar, self._task = bar, task

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def advance(self, n: float = 1, **fields: Any) -> None:
        """Move the bar ``n`` steps forward, updating custom ``fields``."""
        if self._bar is not None:
            self._bar.update(self._task, advance=n, **fields)

    def update(self, *, completed: float | None = None, total: float | None = None, **fields: Any) -> None:
        """Set the number of completed steps (and/or the total, custom ``fields``)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, total=total, **fields)


@contextlib.contextmanager
def progress(
    total: float | None,
    description: str,
    *,
    enabled: bool = True,
    console: Console | None = None,
    transient: bool = False,
    columns: Sequence[ProgressColumn | str] | None = None,
    **fields: Any,
) -> Iterator[ProgressBar]:
    """A progress bar of ``total`` steps (None: unknown) while the block runs; see the module docstring."""
    console = console if console is not None else get_console()
    if not (enabled and (console.is_terminal or console.is_jupyter)):
        yield ProgressBar()
        return
    bar = Progress(*(columns or Progress.get_default_columns()), console=console, transient=transient)
    with bar:
        yield ProgressBar(bar, bar.add_task(description, total=total, **fields))

