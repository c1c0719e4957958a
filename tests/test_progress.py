"""The one progress-bar helper (fairvision._progress): shown on a terminal, silent otherwise."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import TextColumn

from fairvision._progress import progress


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, force_jupyter=False, width=80), out


def test_shown_on_a_terminal_with_custom_columns_and_fields():
    console, out = _console(terminal=True)
    with progress(4, "work", console=console, columns=[TextColumn("{task.description} {task.completed:.0f}/"
                                                                   "{task.total:.0f} loss={task.fields[loss]}")],
                  loss="-") as bar:
        assert bar.enabled
        bar.advance(2, loss="0.5")
        bar.update(completed=4)
    text = out.getvalue()
    assert "work 4/4 loss=0.5" in text


def test_silent_when_not_a_terminal_or_disabled():
    for terminal, enabled in ((False, True), (True, False)):
        console, out = _console(terminal)
        with progress(3, "work", console=console, enabled=enabled) as bar:
            assert not bar.enabled
            bar.advance()
            bar.update(completed=3, total=5, loss=1.0)  # every call is a no-op
        assert out.getvalue() == ""


def test_unknown_total_and_transient():
    console, out = _console(terminal=True)
    with progress(None, "embedding", console=console, transient=True) as bar:
        assert bar.enabled
        bar.advance(10)
        task = bar._bar.tasks[0]
        assert task.total is None and task.completed == 10 and bar._bar.live.transient
    assert out.getvalue()  # drew (then erased) a bar
