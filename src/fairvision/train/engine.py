"""The training engine: ``train(config, run_dir)``.

Per epoch: one pass over the training identities (shuffled by a seeded
DataLoader generator, random horizontal flips), then -- every ``eval_every``
epochs and always after the last -- validation on held-out identities:
flip-TTA embeddings (:func:`fairvision.models.embed`), exact leave-one-out
identification ranks, FR-NAS fairness metrics by ``data.group_column``.

After every epoch the complete state is saved atomically to
``checkpoint.pt`` and the result files are rewritten from it, so the files
never disagree with the checkpoint.  Running the same command again on the
same run folder resumes after the last complete epoch and produces the same
weights and metrics as an uninterrupted run (CPU, same seed); a larger
``train.epochs`` extends a finished run (see :func:`train` for the schedule);
a smaller one is refused.  File names come from :class:`~fairvision.train.layout.RunLayout`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from rich.console import Console

from fairvision._io import atomic_write, jsonable, write_json
from fairvision.errors import ConfigError
from fairvision.metrics import FairnessReport
from fairvision.train.callbacks import Batch, Callback, FitContext, check_callbacks
from fairvision.train.checkpoint import (
    capture_rng,
    load_checkpoint,
    load_initial_weights,
    restore_rng,
    save_checkpoint,
)
from fairvision.train.config import RunConfig, load_run_config
from fairvision.train.layout import RunLayout
from fairvision.train.report import Reporter
from fairvision.train.result import TrainResult
from fairvision.train.step import (
    TrainStep,
    build_model,
    build_optimizer,
    build_scheduler,
    deterministic_mode,
    resolve_device,
    seed_everything,
    seed_worker,
)
from fairvision.train.plugins import plugin_callbacks
from fairvision.train.tasks import TASKS, Task

__all__ = ["train", "normalized_config", "RESUMABLE_KEYS"]

#: Config keys that may change between runs on the same run folder (everything else must match).
RESUMABLE_KEYS = frozenset(
    {
        "train.epochs",
        "train.schedule_epochs",
        "train.eval_every",
        "train.device",
        "train.compile",
        "train.eval_batch_size",
        "data.num_workers",
        "data.root",
    }
)


def _as_config(config: RunConfig | dict | str | Path) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    return load_run_config(config)


def _config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and path not in ("model.kwargs", "head.kwargs"):
            keys += _config_diff(a, b, path + ".")
        elif a != b and path not in RESUMABLE_KEYS:
            keys.append(f"{path} ({a!r} -> {b!r})")
    return keys


class _Run:
    """State of one training run; :func:`train` drives it."""

    def __init__(self, cfg: RunConfig, layout: RunLayout, console: Console, progress: bool,
                 callbacks: Sequence[Callback] = ()) -> None:
        self.cfg, self.layout, self.console = cfg, layout, console
        self.callbacks = check_callbacks([*plugin_callbacks(cfg), *callbacks])
        self.task: Task = TASKS.get(cfg.task.name)(cfg, layout)
        self.reporter = Reporter(console, enabled=progress, metrics=self.task.metric_fields)
        self.history: list[dict] = []
        self.metrics: dict[str, Any] | None = None
        self.status = "running"
        self.epoch = 0  # completed epochs
        self.final_report: FairnessReport | None = None

    # ------------------------------------------------------------ outputs
    def write_outputs(self) -> None:
        """Rewrite history.jsonl, the task's files (ranks_val.csv) and metrics.json from the in-memory
        (checkpointed) state."""
        text = "".join(json.dumps(jsonable(r), allow_nan=False) + "\n" for r in self.history)
        atomic_write(self.layout.history, lambda p: p.write_text(text))
        self.task.write_outputs()
        if self.metrics is not None:
            write_json(self.layout.metrics, self.metrics)

    def result(self) -> TrainResult:
        metrics = self.metrics if self.metrics is not None else self.task.diverged_metrics(self.epoch - 1)
        status = "diverged" if self.status == "diverged" else "complete"
        return TrainResult(status=status, epochs_done=self.epoch, metrics=metrics, run_dir=self.layout.root)

    def checkpoint_state(self, model, head, optimizer, scheduler, generator, schedule_epochs, upe) -> dict:
        return {
            "epoch": self.epoch,
            "status": self.status,
            "model": model.state_dict(),
            "head": head.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": capture_rng(generator),
            "config": self.cfg.to_dict(),
            "schedule_epochs": schedule_epochs,
            "updates_per_epoch": upe,
            "embedding_dim": int(model.embedding_dim),
            "num_classes": int(head.num_classes),
            "history": self.history,
            **self.task.state_dict(),
            "metrics": self.metrics,
            "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
        }


def train(
    config: RunConfig | dict | str | Path,
    run_dir: str | Path,
    *,
    progress: bool = True,
    console: Console | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train (or resume, or extend) the run in ``run_dir``; returns its :class:`TrainResult`.

    Outputs in ``run_dir``: ``config.yaml`` (resolved config), ``history.jsonl``
    (one record per epoch), ``ranks_val.csv`` (``ids, epoch_0, epoch_1, ...``:
    ``rank_by_id`` of every validation image at every evaluated epoch),
    ``val_meta.csv`` (``ids, identity, group, <group_column>, path``),
    ``checkpoint.pt`` and ``metrics.json`` (``fairvision fairness --json`` keys
    plus ``epoch`` -- the 0-based epoch the metrics come from -- and ``status``:
    ``running`` while epochs remain, ``complete``, or ``diverged``).

    **Resume and budget extension.** If ``run_dir`` holds a checkpoint of the
    same config (only the keys in :data:`RESUMABLE_KEYS`, e.g. ``train.epochs``,
    may differ; anything else is a ConfigError), training continues after its
    last complete epoch; a finished run with ``train.epochs`` raised trains the
    extra epochs.  ``train.epochs`` below the epochs the folder's run has done
    is a ConfigError (that run cannot give a shorter run's result).  The learning rate is a pure function of the update count
    and of the schedule length ``train.schedule_epochs`` (cosine from ``lr``
    to ``min_lr``, then ``min_lr``):

    * ``schedule_epochs`` set (recommended for successive halving / Hyperband:
      the maximum budget): the schedule never changes, so training ``e``
      epochs and later extending to ``E`` gives exactly the weights of
      training ``E`` epochs in one go (CPU, same seed);
    * ``schedule_epochs: null`` (default): the schedule spans the *current*
      ``train.epochs``.  Extending a finished run from ``e`` to ``E`` epochs
      keeps the epochs already trained as they were and continues with the lr
      that an ``E``-epoch schedule has at epoch ``e`` (a warm restart that
      anneals to ``min_lr`` at epoch ``E``).  A plain interruption does not
      change ``train.epochs``, so resuming is exact either way.

    **Callbacks** (:class:`fairvision.train.Callback`) plug new behaviour into the loop (hooks when the head
    is built, at fit start/end, epoch start/end, before every training step -- with a
    :class:`~fairvision.train.callbacks.Batch` holding the samples' groups --, extra loss terms, after every
    optimizer step); their state is saved in the checkpoint and restored on resume. Without callbacks the loop
    is exactly the plain one.

    **Divergence.** A NaN/inf loss or embedding stops training; the run is
    recorded with ``status: "diverged"`` and ``Error = 1`` (FR-NAS), a message
    is printed and the function returns normally.  Re-running a diverged run
    returns its record without training.
    """
    cfg = _as_config(config)
    layout = RunLayout(run_dir)
    console = console or Console(quiet=not progress)
    layout.root.mkdir(parents=True, exist_ok=True)
    state = load_checkpoint(layout.checkpoint) if layout.checkpoint.exists() else None
    if state is not None:
        _check_resumable(state, cfg, layout.root)
    run = _Run(cfg, layout, console, progress, callbacks)
    if state is not None:
        run.history, run.metrics = list(state["history"]), state["metrics"]
        run.task.load_state_dict(state)
        run.epoch, run.status = int(state["epoch"]), state["status"]
        if run.status == "diverged" or run.epoch >= cfg.train.epochs:
            console.print(
                f"{layout.root}: run already {run.status if run.status == 'diverged' else 'complete'} "
                f"({run.epoch} epoch(s)); nothing to train"
            )
            if run.status != "diverged" and run.metrics is not None and run.metrics.get("status") == "running":
                run.metrics["status"] = "complete"
            run.write_outputs()
            run.reporter.summary(run.history, None)
            return run.result()

    schedule_epochs = cfg.train.schedule_epochs or cfg.train.epochs
    atomic_write(layout.config, lambda p: p.write_text(cfg.to_yaml()))

    with deterministic_mode(cfg.train.deterministic):
        _train(run, state, schedule_epochs)
    return run.result()


def normalized_config(recorded: dict) -> dict:
    """A config recorded by an earlier version, with the defaults of keys added since filled in (so that
    e.g. ``data.synthetic.group_cues: {}`` does not count as a change); as recorded if it no longer validates."""
    try:
        return RunConfig.from_dict(recorded, source="recorded config").to_dict()
    except ConfigError:
        return recorded


def _check_resumable(state: dict, cfg: RunConfig, run_dir: Path) -> None:
    """ConfigError unless ``cfg`` may continue the checkpointed run: same config up to
    :data:`RESUMABLE_KEYS`, and ``train.epochs`` not below the epochs already done (nor, for a
    diverged run, ending before the epoch that diverged)."""
    diff = _config_diff(normalized_config(state["config"]), cfg.to_dict())
    if diff:
        raise ConfigError(
            f"{run_dir} holds a run with a different config ({'; '.join(diff)}); "
            "only train.epochs and the keys that do not change results may differ -- use a new --out folder"
        )
    epochs, done = cfg.train.epochs, int(state["epoch"])
    if state["status"] == "diverged" and epochs <= done:
        problem, fix = f"stops before epoch {done}, in which the run in {run_dir} diverged", f"> {done}"
    elif epochs < done:
        problem, fix = f"is fewer than the {done} epoch(s) the run in {run_dir} has already trained", f">= {done}"
    else:
        return
    raise ConfigError(
        f"train.epochs: {epochs} {problem}, so its result is not that of a {epochs}-epoch run "
        f"-- use a new --out folder (or train.epochs {fix})"
    )


def _train(run: _Run, state: dict | None, schedule_epochs: int) -> None:
    cfg, run_dir, console = run.cfg, run.layout.root, run.console
    tc = cfg.train
    seed_everything(tc.seed)
    device = resolve_device(tc.device)
    model = build_model(cfg)  # before the data, so that a bad model config fails fast

    task = run.task
    task.setup()
    head = task.build_head(int(model.embedding_dim))
    for cb in run.callbacks:
        replaced = cb.on_head_built(task, head)
        head = head if replaced is None else replaced
    model.to(device)
    head.to(device)
    if tc.channels_last:
        model.to(memory_format=torch.channels_last)
    loss_fn = task.build_loss()
    optimizer = build_optimizer(cfg.optim, torch.nn.ModuleList([model, head]))
    generator = torch.Generator()
    generator.manual_seed(tc.seed)
    loader = torch.utils.data.DataLoader(
        task.train_dataset,
        batch_size=tc.batch_size,
        shuffle=True,
        drop_last=True,
        generator=generator,
        num_workers=cfg.data.num_workers,
        worker_init_fn=seed_worker,
        persistent_workers=cfg.data.num_workers > 0,
        pin_memory=device.type == "cuda",
    )
    upe = len(loader)
    scheduler = build_scheduler(cfg.optim, optimizer, schedule_epochs=schedule_epochs, updates_per_epoch=upe)
    ctx = FitContext(cfg=cfg, model=model, head=head, optimizer=optimizer, device=device, run_dir=run_dir,
                     task=task)
    if state is None and tc.init_from:
        load_initial_weights(tc.init_from, model, head)
    if state is not None:
        if int(state["updates_per_epoch"]) != upe:
            raise ConfigError(f"{run_dir}: the checkpoint has {state['updates_per_epoch']} updates per epoch, now {upe}")
        saved = state.get("callbacks") or {}
        for cb in run.callbacks:
            if cb.name in saved:
                cb.load_state_dict(saved[cb.name])
    for cb in run.callbacks:
        cb.on_modules_built(ctx)
    if state is not None:
        model.load_state_dict(state["model"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        # the scheduler is not restored: its lr is a pure function of the update count and
        # schedule_epochs, which may have changed (budget extension, see train())
        restore_rng(state["rng"], generator)
        console.print(f"resuming {run_dir} after epoch {run.epoch - 1} ({run.epoch} of {tc.epochs} done)")
    forward = torch.compile(model) if tc.compile else model
    step = TrainStep(
        forward, head, loss_fn, optimizer, device=device, precision=tc.precision,
        channels_last=tc.channels_last, grad_clip=tc.grad_clip,
    )  # fmt: skip
    save = lambda: save_checkpoint(  # noqa: E731
        run.layout.checkpoint, run.checkpoint_state(model, head, optimizer, scheduler, generator, schedule_epochs, upe)
    )

    loss_callbacks = [cb for cb in run.callbacks if type(cb).extra_loss is not Callback.extra_loss]
    for cb in run.callbacks:
        cb.on_fit_start(ctx)
    for epoch in range(run.epoch, tc.epochs):
        for cb in run.callbacks:
            cb.on_epoch_start(ctx, epoch)
        model.train()
        head.train()
        t0 = time.perf_counter()
        total, count, diverged = 0.0, 0, False
        with run.reporter.epoch(epoch, tc.epochs, upe) as bar:
            for i, (images, index) in enumerate(loader):
                if scheduler is not None:
                    scheduler.step_update(num_updates=epoch * upe + i)
                if tc.hflip > 0:
                    flip = torch.rand(len(images)) < tc.hflip
                    images = torch.where(flip[:, None, None, None], images.flip(3), images)
                batch = Batch(images=images, targets=task.targets(index), index=index, groups=task.groups(index),
                              epoch=epoch, step=i)
                for cb in run.callbacks:
                    cb.on_train_batch(ctx, batch)
                extra = _extra_loss(ctx, batch, loss_callbacks) if loss_callbacks else None
                loss, finite = step(batch.images, batch.targets, groups=batch.groups, extra_loss=extra)
                if not bool(finite):
                    diverged = True
                    break
                for cb in run.callbacks:
                    cb.on_after_optimizer_step(ctx, epoch, i)
                total += float(loss) * len(images)
                count += len(images)
                bar.advance(loss=float(loss), images=len(images), elapsed=time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        record: dict[str, Any] = {
            "epoch": epoch,
            "status": "ok",
            "train_loss": total / count if count else None,
            "images_per_s": count / seconds if seconds > 0 else None,
            "lr": float(optimizer.param_groups[0]["lr"]),
            "seconds": seconds,
            "evaluated": False,
            "eval_seconds": None,
            **task.empty_record(),
        }
        last = epoch == tc.epochs - 1
        if not diverged and (last or (epoch + 1) % tc.eval_every == 0):
            t1 = time.perf_counter()
            scored = task.evaluate(forward, epoch, device=device, last=last)
            if scored is None:
                diverged = True
            else:
                record.update(scored["record"], evaluated=True)
                record["eval_seconds"] = time.perf_counter() - t1
                run.metrics = scored["metrics"]
                run.final_report = scored["report"]
        if diverged:
            record.update(task.diverged_metrics(epoch))
            record["status"] = "diverged"
            run.status = "diverged"
            run.metrics = task.diverged_metrics(epoch)
            console.print(
                f"[bold red]diverged[/] in epoch {epoch}: the loss, the embeddings or the gradients became NaN/inf "
                f"(optim.lr = {cfg.optim.lr}); recorded with status 'diverged' and Error = 1"
            )
        else:
            run.epoch = epoch + 1
            run.status = "complete" if last else "running"
        for cb in run.callbacks:
            cb.on_epoch_end(ctx, epoch, record)
        run.history.append(record)
        save()
        run.write_outputs()
        run.reporter.epoch_done(record)
        if diverged:
            break
    for cb in run.callbacks:
        cb.on_fit_end(ctx)
    run.reporter.summary(run.history, run.final_report)


def _extra_loss(ctx: FitContext, batch: Batch, callbacks: list[Callback]):
    """``(embeddings, logits) -> the sum of the callbacks' extra_loss terms`` for TrainStep (None: no term)."""

    def extra(embeddings: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        terms = [t for cb in callbacks if (t := cb.extra_loss(ctx, batch, embeddings, logits)) is not None]
        return sum(terms[1:], terms[0]) if terms else None

    return extra
