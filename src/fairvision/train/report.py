"""Terminal output of the engine: a rich progress bar per epoch, one line per epoch, a final summary table."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from fairvision._progress import ProgressBar, progress
from fairvision.metrics import METRIC_NAMES, FairnessReport
from fairvision.report import print_fairness

__all__ = ["Reporter", "history_table"]


def _epoch_columns() -> tuple:
    """Columns of the per-epoch bar (new ones per bar: columns cache by task id); they read the task fields
    epoch, epochs, rate and loss."""
    return (
        TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} img/s  loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


class _Bar:
    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar
        self.images = 0

    def advance(self, *, loss: float, images: int, elapsed: float) -> None:
        self.images += images
        self.bar.advance(1, loss=loss, rate=self.images / elapsed if elapsed > 0 else 0.0)


class Reporter:
    """Prints progress when ``enabled``; otherwise silent."""

    def __init__(self, console: Console, *, enabled: bool = True, metrics: Sequence[str] = METRIC_NAMES) -> None:
        self.metrics = tuple(metrics)
        self.console = console
        self.enabled = enabled

    @contextlib.contextmanager
    def epoch(self, epoch: int, epochs: int, steps: int) -> Iterator[_Bar]:
        with progress(steps, "train", enabled=self.enabled, console=self.console, transient=True,
                      columns=_epoch_columns(), epoch=epoch, epochs=epochs - 1, loss=float("nan"), rate=0.0) as bar:
            yield _Bar(bar)

    def epoch_done(self, record: dict) -> None:
        if not self.enabled:
            return
        line = (
            f"epoch {record['epoch']}: loss {_fmt(record['train_loss'], 3)}, {_fmt(record['images_per_s'], 0)} img/s, "
            f"lr {record['lr']:.1e}, {record['seconds']:.1f} s"
        )
        if record["evaluated"]:
            line += "; " + ", ".join(f"{m} {_fmt(record.get(m), 3)}" for m in self.metrics[:2])
        if record["status"] != "ok":
            line += f" [bold red]{record['status']}[/]"
        self.console.print(line)

    def summary(self, history: list[dict], report: FairnessReport | None) -> None:
        if not self.enabled or not history:
            return
        self.console.print(history_table(history, metrics=self.metrics))
        if report is not None:
            print_fairness(report, title=f"Validation, epoch {history[-1]['epoch']}", console=self.console)


#: Short column names of the summary table (fits 80 columns).
SHORT = {"Error": "Error", "Disparity": "Disp", "Ratio": "Ratio", "Error Ratio": "ErrR", "Rank Disparity": "RankD", "Rank Ratio": "RankR", "Log-Odds Gap": "LogOdds"}


def history_table(history: list[dict], *, metrics: Sequence[str] = METRIC_NAMES) -> Table:
    """One row per epoch: loss, images/s, the task's metrics (short names), and status if not all ok."""
    frnas = tuple(metrics) == tuple(METRIC_NAMES)
    table = Table(
        title="Training summary (validation on held-out identities)" if frnas else "Training summary (validation)",
        caption="Disp = Disparity, ErrR = Error Ratio, RankD/RankR = Rank Disparity/Ratio" if frnas else None,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
    )
    show_status = any(r["status"] != "ok" for r in history)
    for col in ("epoch", "loss", "img/s", *(SHORT.get(m, m) for m in metrics), *(["status"] if show_status else [])):
        table.add_column(col, justify="left" if col == "status" else "right")
    for r in history:
        shown = r.get("evaluated") or r["status"] == "diverged"
        table.add_row(
            str(r["epoch"]),
            _fmt(r["train_loss"], 3),
            _fmt(r["images_per_s"], 0),
            *[_fmt(r.get(m), 3) if shown else "" for m in metrics],
            *([r["status"]] if show_status else []),
        )
    return table
