"""Loading the studies of trial stores for the report: fronts, trials, baselines (zoo, mitigation) overlaid."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from fairvision._io import jsonable
from fairvision.errors import ConfigError
from fairvision.report.html import Provenance, StudyData
from fairvision.sources._detect import Source

__all__ = ["BASELINE_ENGINES", "load_stores"]

#: Engines of studies that are baselines (hand-picked grids: zoo, mitigation), not searches.
BASELINE_ENGINES = ("grid",)


def _studies_of(source: Source) -> tuple[str, ...]:
    if source.studies:
        return source.studies
    from fairvision.search.store import TrialStore  # a SQLAlchemy URL: ask the database

    store = TrialStore(source.path)
    try:
        with store.engine.connect() as con:
            from sqlalchemy import text

            return tuple(row[0] for row in con.execute(text("SELECT name FROM studies ORDER BY id")))
    finally:
        store.close()


def _read_study(path: str, study: str) -> dict[str, Any]:
    from fairvision.search.analysis import front_summary, open_store

    store = open_store(path, study)
    try:
        row = store.study()
        trials = store.trials()
        try:
            summary = front_summary(store)
        except ConfigError:  # no complete trial yet
            summary = None
        return {"row": row, "trials": trials, "summary": summary}
    finally:
        store.close()


def _knee_config(summary: dict[str, Any]) -> tuple[str, str] | None:
    from fairvision.search.pareto import knee_point

    front = summary["front"]
    names = [o.name for o in summary["objectives"]]
    try:
        knee = front.iloc[knee_point(front[names].to_numpy(float), summary["objectives"])]
    except ValueError:
        return None
    config = Path(str(knee["run_dir"])) / "config.yaml"
    if not knee["run_dir"] or not config.is_file():
        return None
    return (f"trial {int(knee['number'])} (knee of the front), its run config {config}",
            config.read_text(encoding="utf-8", errors="replace"))


def _study_yaml(row: dict[str, Any]) -> str:
    stored = {"study": row["name"], "engine": row["engine"], "created": str(row["created"]),
              "objectives": [o.to_dict() if hasattr(o, "to_dict") else o for o in row["objectives"]],
              "settings": row["settings"], "space": row["space"]}
    return yaml.safe_dump(jsonable(stored), sort_keys=False, allow_unicode=True, width=110,
                          default_flow_style=None)


def load_stores(sources: Sequence[Source]) -> list[StudyData]:
    """One :class:`~fairvision.report.html.StudyData` per front to draw.

    Studies run by a search engine (not a grid) get a front each, with every grid study (a zoo, a mitigation
    study) of the given stores overlaid as baselines when it has the front's first two objectives; without a
    search study, every study gets a front with the other studies overlaid.
    """
    from fairvision.search.analysis import aggregate_baselines, baseline_table

    loaded = []
    for source in sources:
        for name in _studies_of(source):
            loaded.append((source.path, name, _read_study(source.path, name)))
    searches = [item for item in loaded if item[2]["row"]["engine"] not in BASELINE_ENGINES]
    fronts = searches or loaded
    out = []
    for path, name, data in fronts:
        row, summary = data["row"], data["summary"]
        names = [o.name for o in row["objectives"]]
        notes, tables, given = [], [], []
        for other_path, other, other_data in loaded:
            is_search = other_data["row"]["engine"] not in BASELINE_ENGINES
            if (other_path, other) == (path, name) or (searches and is_search):
                continue
            other_names = [o.name for o in other_data["row"]["objectives"]]
            if not set(names[:2]) <= set(other_names):
                notes.append(f"Study {other!r} of {other_path} is not overlaid: its objectives {other_names} lack "
                             f"{[n for n in names[:2] if n not in other_names]}.")
                continue
            table = baseline_table(other_path, other)
            if len(table):
                tables.append(table)
                given.append(other_path)
        baselines = pd.concat(tables, ignore_index=True) if tables else None
        aggregated = aggregate_baselines(baselines, names[:2]) if baselines is not None else None
        dominance = f" --dominance {summary['dominance']}" if summary is not None and "dominance" in summary else ""
        pareto = (f"fairvision pareto {shlex.quote(path)} --study {shlex.quote(name)}{dominance} --plot front.png"
                  + "".join(f" --baselines {shlex.quote(p)}" for p in dict.fromkeys(given)))
        configs = [(f"study {name!r} as stored in {path}", _study_yaml(row))]
        knee = _knee_config(summary) if summary is not None else None
        if knee:
            configs.append(knee)
        provenance = Provenance(commands=[("Command that draws the front figure on its own", pareto),
                                          ("Command that lists every trial",
                                           f"fairvision trials {shlex.quote(path)} --study {shlex.quote(name)}")],
                                configs=configs)
        out.append(StudyData(name, path, row["engine"], data["trials"], summary, baselines, aggregated, notes,
                             provenance))
    return out
