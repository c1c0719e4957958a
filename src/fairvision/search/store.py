"""Trial store (SQLAlchemy 2): the durable record of a search, source of truth for resuming.

``TrialStore("runs/search.db")`` opens (creates) a SQLite file; any SQLAlchemy URL works too
(``"postgresql://..."``, ``"sqlite://"`` in memory). SQLite runs in WAL mode (readers never block
the writer) with a 30 s busy timeout. Every method is one transaction: a crash leaves either the
old or the new row, never half of it.

Tables: ``studies`` (name, space JSON, objectives JSON, engine, settings JSON, created),
``trials`` (study, number, config, budget, seed, status, objectives, metrics — incl. per-group
stats —, run_dir, started, finished, attempts, error, ask_seq, tell_seq) and ``locks`` (one row per
study being driven: holder host, pid, process start time, heartbeat). Statuses: ``running`` (added,
not finished: queued, in flight or interrupted), ``complete``, ``diverged``, ``crashed``. JSON values
are stored with NaN/inf as null.

Event order. ``ask_seq`` / ``tell_seq`` number, in one sequence per study, the moments a trial was
asked of the engine (:meth:`add_trial`) and its result told (:meth:`finish` / :meth:`fail`), so that
a resumed search can replay asks and tells in their original order and rebuild the engine's exact
state (Hyperband brackets included). Stores written before these columns existed are migrated in
place (``ALTER TABLE``); their old trials have no sequence and are restored without replay.

One driver per study: :meth:`acquire_lock` claims a study for one process (see its docstring);
readers (``trials``, ``pareto``) need no lock.

Usage: ``create_or_load_study(name, space=..., objectives=..., engine=...)`` selects the study the
other methods act on; loading an existing study with a different space or objectives raises
ConfigError. ``load_study(name)`` selects an existing study to read it (e.g. while a search runs).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from ConfigSpace import ConfigurationSpace
from sqlalchemy import (
    JSON, DateTime, Double, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine, delete, event,
    func, inspect, select, text,
)
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from fairvision._io import jsonable
from fairvision.errors import ConfigError
from fairvision.search.objectives import Objective, parse_objectives
from fairvision.search.spaces import space_to_dict

__all__ = ["FINISHED", "TRIAL_STATUSES", "StoreLocked", "TrialStore"]

TRIAL_STATUSES = ("running", "complete", "diverged", "crashed")
FINISHED = ("complete", "diverged", "crashed")
COLUMNS = ["number", "config", "budget", "seed", "status", "objectives", "metrics", "run_dir", "started",
           "finished", "attempts", "error", "ask_seq", "tell_seq"]
LOCK_HEARTBEAT_S = 30.0  # the holder refreshes its lock this often
LOCK_STALE_S = 300.0  # a lock of another host not refreshed for this long is taken over


class StoreLocked(ConfigError):
    """Another live process drives this study."""


class _Base(DeclarativeBase):
    pass


class _Study(_Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    space: Mapped[dict] = mapped_column(JSON)
    objectives: Mapped[list] = mapped_column(JSON)
    engine: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime)


class _Trial(_Base):
    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("study_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict] = mapped_column(JSON)
    budget: Mapped[float] = mapped_column(Double)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    objectives: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    run_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    ask_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tell_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


class _Lock(_Base):
    __tablename__ = "locks"
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    proc_start: Mapped[float] = mapped_column(Double)
    since: Mapped[datetime] = mapped_column(DateTime)
    heartbeat: Mapped[datetime] = mapped_column(DateTime)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _canonical(obj: Any) -> str:
    return json.dumps(jsonable(obj), sort_keys=True)


class TrialStore:
    """A SQLite file path or any SQLAlchemy URL."""

    def __init__(self, url_or_path: str | Path) -> None:
        text_ = str(url_or_path)
        if "://" in text_:
            self.url, self.path = text_, None
        else:
            self.path = Path(text_).resolve()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"trial store {text_}: cannot create its folder ({exc.strerror or exc})") from None
            self.url = f"sqlite:///{self.path}"
        try:
            self.engine = create_engine(self.url, json_serializer=lambda o: json.dumps(jsonable(o)))
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            raise ConfigError(f"trial store {text_}: not a usable SQLAlchemy URL or SQLite path ({exc})") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._create_tables()
        except DatabaseError as exc:  # not a database, read-only folder, server unreachable, ...
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise ConfigError(f"trial store {text_}: cannot open it as a database ({reason})") from None
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.study_id: int | None = None
        self.study_name: str | None = None
        self._heartbeat: threading.Event | None = None

    def _create_tables(self) -> None:
        for attempt in range(10):  # another process may be creating the tables at the same moment
            try:
                _Base.metadata.create_all(self.engine)  # checkfirst: only missing tables are created
                break
            except OperationalError as exc:
                if attempt == 9 or "locked" not in str(exc) and "already exists" not in str(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        columns = {c["name"] for c in inspect(self.engine).get_columns("trials")}
        for name in ("ask_seq", "tell_seq"):  # stores written before the event-order columns existed
            if name not in columns:
                try:
                    with self.engine.begin() as con:
                        con.execute(text(f"ALTER TABLE trials ADD COLUMN {name} INTEGER"))
                except OperationalError as exc:  # another process added it at the same moment
                    if "duplicate column" not in str(exc).lower():
                        raise

    def __repr__(self) -> str:
        return f"TrialStore({self.url!r}, study={self.study_name!r})"

    def close(self) -> None:
        self.release_lock()
        self.engine.dispose()

    # ------------------------------------------------------------------ studies
    def create_or_load_study(self, name: str, *, space: Any, objectives: Sequence[Any], engine: str,
                             settings: Mapping[str, Any] | None = None) -> int:
        """Create study ``name`` or load it; loading checks that space and objectives are the same."""
        space_d = space_to_dict(space) if isinstance(space, ConfigurationSpace) else dict(space)
        objs = [o.to_dict() for o in parse_objectives(objectives)]
        for attempt in range(2):
            try:
                with self._session.begin() as s:
                    row = s.scalar(select(_Study).where(_Study.name == name))
                    if row is None:
                        row = _Study(name=name, space=space_d, objectives=objs, engine=engine,
                                     settings=dict(settings or {}), created=_now())
                        s.add(row)
                        s.flush()
                    else:
                        self._check(name, row, space_d, objs)
                    self.study_id, self.study_name = row.id, name
                return self.study_id
            except IntegrityError:  # created by another process in between: load it
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _check(self, name: str, row: _Study, space_d: dict, objs: list[dict]) -> None:
        if _canonical(row.space) != _canonical(space_d):
            raise ConfigError(f"{self.url}: study {name!r} was created with a different search space; "
                              f"use a new study name or the original space")
        if _canonical(row.objectives) != _canonical(objs):
            raise ConfigError(f"{self.url}: study {name!r} has objectives "
                              f"{[o['name'] for o in row.objectives]} "
                              f"({[o['direction'] for o in row.objectives]}); "
                              f"cannot resume with {[o['name'] for o in objs]} "
                              f"({[o['direction'] for o in objs]})")

    def load_study(self, name: str | None = None) -> int:
        """Select an existing study to read it (``None``: the only study of the store); ConfigError
        if there is no such study (or, for ``None``, not exactly one)."""
        with self._session() as s:
            if name is None:
                names = list(s.scalars(select(_Study.name)))
                if len(names) != 1:
                    raise ConfigError(f"{self.url}: {'no study' if not names else f'studies {names}'}"
                                      f"{'' if not names else '; name the one to open'}")
                name = names[0]
            row = s.scalar(select(_Study).where(_Study.name == name))
            if row is None:
                raise ConfigError(f"{self.url}: no study {name!r}")
            self.study_id, self.study_name = row.id, name
        return self.study_id

    def study(self) -> dict[str, Any]:
        """The current study's row as a dict."""
        with self._session() as s:
            row = s.get(_Study, self._sid())
            return {"name": row.name, "space": row.space, "engine": row.engine, "settings": row.settings,
                    "objectives": [Objective(**o) for o in row.objectives], "created": row.created}

    def _sid(self) -> int:
        if self.study_id is None:
            raise ConfigError("TrialStore: call create_or_load_study() first")
        return self.study_id

    # ------------------------------------------------------------------ trials
    def _get(self, s: Session, number: int) -> _Trial:
        row = s.scalar(select(_Trial).where(_Trial.study_id == self._sid(), _Trial.number == int(number)))
        if row is None:
            raise KeyError(f"study {self.study_name!r} has no trial {number}")
        return row

    def add_trial(self, number: int, config: Mapping[str, Any], budget: float, seed: int, *,
                  run_dir: str | Path | None = None) -> None:
        """Record a new trial (status ``running``, 0 attempts) as the next event (``ask_seq``)."""
        try:
            with self._session.begin() as s:
                s.add(_Trial(study_id=self._sid(), number=int(number), config=dict(config),
                             budget=float(budget), seed=int(seed), status="running", attempts=0,
                             run_dir=None if run_dir is None else str(run_dir), ask_seq=self._next_seq(s)))
        except IntegrityError:
            raise ValueError(f"study {self.study_name!r} already has a trial {number}") from None

    def start(self, number: int) -> None:
        """An attempt begins: attempts + 1, started = now, status ``running``."""
        with self._session.begin() as s:
            row = self._get(s, number)
            row.attempts += 1
            row.started, row.finished, row.status = _now(), None, "running"

    def finish(self, number: int, *, status: str = "complete", objectives: Mapping[str, Any] | None = None,
               metrics: Mapping[str, Any] | None = None) -> int:
        """Record a result (``complete`` or ``diverged``); returns its event number (``tell_seq``)."""
        if status not in ("complete", "diverged"):
            raise ValueError(f"finish(): status must be 'complete' or 'diverged', got {status!r}")
        with self._session.begin() as s:
            row = self._get(s, number)
            row.status, row.finished, row.error = status, _now(), None
            row.tell_seq = self._next_seq(s)
            row.objectives = None if objectives is None else dict(objectives)
            row.metrics = None if metrics is None else dict(metrics)
            return row.tell_seq

    def fail(self, number: int, error: str) -> int:
        """Record a crashed trial with its error message; returns its event number (``tell_seq``)."""
        with self._session.begin() as s:
            row = self._get(s, number)
            row.status, row.finished, row.error = "crashed", _now(), str(error)
            row.tell_seq = self._next_seq(s)
            return row.tell_seq

    def note_error(self, number: int, error: str) -> None:
        """Keep the error of a failed attempt that will be retried (status unchanged)."""
        with self._session.begin() as s:
            self._get(s, number).error = str(error)

    def _next_seq(self, s: Session) -> int:
        top = s.scalar(select(func.max(func.coalesce(_Trial.tell_seq, _Trial.ask_seq)))
                       .where(_Trial.study_id == self._sid()))
        return 0 if top is None else int(top) + 1

    def rollback(self, from_seq: int) -> list[str]:
        """Undo every event numbered ``from_seq`` or later: trials asked then are deleted, results
        told then are forgotten (the trial is ``running`` again, to be re-run). Returns the run
        folders of the deleted or reset trials (the caller removes them). Used when a search stops on
        a streak of crashes, so that the crashed trials are retried once the cause is fixed."""
        folders = []
        with self._session.begin() as s:
            rows = s.scalars(select(_Trial).where(_Trial.study_id == self._sid()))
            for row in rows:
                if row.ask_seq is not None and row.ask_seq >= from_seq:
                    folders.append(row.run_dir)
                    s.delete(row)
                elif row.tell_seq is not None and row.tell_seq >= from_seq:
                    folders.append(row.run_dir)
                    row.status, row.finished, row.tell_seq = "running", None, None
                    row.objectives = row.metrics = None
        return [f for f in folders if f]

    # ------------------------------------------------------------------ one driver per study
    def acquire_lock(self) -> None:
        """Claim the current study for this process, or raise :class:`StoreLocked` naming the holder.

        A lock is taken over when its holder is gone: on this host, when its process no longer
        exists (a ``kill -9`` leaves the row behind; process ids are compared with their start
        time, so a reused id does not count); on another host, when its heartbeat (refreshed every
        30 s by a background thread) is older than 5 minutes. Released by :meth:`release_lock` /
        :meth:`close`."""
        me = _holder()
        sid = self._sid()
        for _attempt in range(3):
            try:
                with self._session.begin() as s:
                    row = s.get(_Lock, sid)
                    if row is None:
                        s.add(_Lock(study_id=sid, host=me[0], pid=me[1], proc_start=me[2], since=_now(),
                                    heartbeat=_now()))
                    elif (row.host, row.pid, row.proc_start) != me and _alive(row):
                        age = (_now() - row.heartbeat).total_seconds()
                        raise StoreLocked(
                            f"{self.url}: study {self.study_name!r} is being run by process {row.pid} on "
                            f"host {row.host} (since {row.since:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
                            f"{age:.0f} s ago); one search process per study: wait for it or stop it")
                    else:  # ours already, or its holder is gone
                        row.host, row.pid, row.proc_start, row.since, row.heartbeat = (*me, _now(), _now())
                break
            except IntegrityError:  # another process inserted its lock in between: look again
                continue
        else:
            raise StoreLocked(f"{self.url}: study {self.study_name!r}: could not take its lock (other processes "
                              f"kept taking it); try again")
        self._start_heartbeat(sid)

    def _start_heartbeat(self, sid: int) -> None:
        if self._heartbeat is not None:
            return
        stop = self._heartbeat = threading.Event()

        def beat() -> None:
            while not stop.wait(LOCK_HEARTBEAT_S):
                try:
                    with self._session.begin() as s:
                        row = s.get(_Lock, sid)
                        if row is not None and (row.host, row.pid) == _holder()[:2]:
                            row.heartbeat = _now()
                except Exception:  # noqa: BLE001 - a missed heartbeat is retried next time
                    pass

        threading.Thread(target=beat, name="fairvision-store-lock", daemon=True).start()

    def release_lock(self) -> None:
        """Give the study's lock back (a no-op when this process holds none)."""
        if self._heartbeat is None:
            return
        self._heartbeat.set()
        self._heartbeat = None
        host, pid, _ = _holder()
        with self._session.begin() as s:
            s.execute(delete(_Lock).where(_Lock.study_id == self._sid(), _Lock.host == host, _Lock.pid == pid))

    def trials(self, status: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The current study's trials ordered by number, one column per field (``config``,
        ``objectives``, ``metrics`` hold dicts) plus one column per objective of the study."""
        q = select(_Trial).where(_Trial.study_id == self._sid()).order_by(_Trial.number)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = set(statuses) - set(TRIAL_STATUSES)
            if bad:
                raise ValueError(f"unknown status {sorted(bad)}; choose from {TRIAL_STATUSES}")
            q = q.where(_Trial.status.in_(statuses))
        with self._session() as s:
            rows = [{c: getattr(r, c) for c in COLUMNS} for r in s.scalars(q)]
            names = [o["name"] for o in s.get(_Study, self._sid()).objectives]
        df = pd.DataFrame(rows, columns=COLUMNS)
        for name in names:
            if name not in df.columns:
                df[name] = [float("nan") if not o or o.get(name) is None else float(o[name])
                            for o in df["objectives"]]
        return df

    def unfinished(self) -> pd.DataFrame:
        """Trials added but not finished (``running``): to be run again on resume."""
        return self.trials("running")


def _holder() -> tuple[str, int, float]:
    import psutil

    pid = os.getpid()
    return socket.gethostname(), pid, round(psutil.Process(pid).create_time(), 3)


def _alive(row: _Lock) -> bool:
    """Whether the lock's holder may still run (see :meth:`TrialStore.acquire_lock`)."""
    if row.host != socket.gethostname():
        return (_now() - row.heartbeat).total_seconds() < LOCK_STALE_S
    import psutil

    try:
        return round(psutil.Process(row.pid).create_time(), 3) == row.proc_start
    except psutil.Error:
        return False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
