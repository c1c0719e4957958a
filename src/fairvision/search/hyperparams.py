"""Which hyperparameters matter? FR-NAS's phase-1 analysis: linear models, ANOVA, Tukey HSD, fronts.

For a table with one row per trained model -- factor columns (``head``, ``optimizer``,
``backbone``) and objective columns (``Error``, ``Disparity``, ``Rank Disparity``, ...) --
:func:`hyperparameter_analysis` fits, for every objective, the additive linear model

    objective ~ C(head) + C(optimizer) [+ C(backbone)]

(ordinary least squares, statsmodels), and reports

* **anova**: per factor, F and p of statsmodels' ``anova_lm`` (Type II by default: each factor
  adjusted for all the others, independent of their order; ``anova_type=1`` gives the sequential
  table that FR-NAS's own notebook printed);
* **tukey**: per factor, Tukey HSD of every pair of levels (``pairwise_tukeyhsd`` on the factor's
  marginal groups, family-wise error rate ``alpha``), ``diff`` = mean(b) - mean(a);
* **means**: n and mean of the objective per level, to read the direction of an effect;
* **fronts**: per (head, optimizer) combination, the front of the first objective against each
  other one -- FR-NAS's Error-vs-fairness fronts -- under ``dominance="pareto"`` (the usual
  definition, default) or ``"frnas"`` (FR-NAS's ``whatIsPareto``: only points strictly worse in
  both objectives are dropped), see :mod:`fairvision.search.pareto`.

Rows with a missing (empty, NaN, inf) value of an objective or a factor are left out of that
objective's model only. Inputs: :func:`read_phase1_csv` (FR-NAS's ``vgg_val_phase1.csv``
format, model names ``BACKBONE_HEAD_OPTIMIZER[_LR_SCHEDULE]``) and :func:`from_store` (complete
trials of a search store at its largest budget).
"""

from __future__ import annotations

import math
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairvision.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from fairvision.search.pareto import Dominance

__all__ = ["FACTORS", "HEADS", "from_store", "hyperparameter_analysis", "parse_model_name", "read_phase1_csv"]

#: The factors analysed by default, in this order, where the table has them.
FACTORS = ("head", "optimizer", "backbone")
#: Face-recognition heads recognised in a model name (case-insensitive).
HEADS = ("CosFace", "ArcFace", "MagFace")
#: Optimizer spellings of the FR-NAS names (lower case -> canonical); others are kept as written.
_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSProp", "rmsproptf": "RMSpropTF"}
#: Numeric columns that are never objectives by default.
_NOT_OBJECTIVES = {"epoch", "budget", "number", "seed", "lr"}


# ----------------------------------------------------------------------------------- inputs


def parse_model_name(name: str) -> dict[str, str]:
    """``{"backbone", "head", "optimizer", "suffix"}`` of a FR-NAS model name.

    ``selecsls60b_MagFace_SGD`` -> backbone ``selecsls60b``, head ``MagFace``, optimizer ``SGD``,
    suffix ``none``; ``xception65_ArcFace_AdamW_0.001_cosine`` -> suffix ``0.001_cosine``. The
    head is the last ``_``-separated token that is a known head (any case); the optimizer is the
    token after it (``sgd``/``SGD`` -> ``SGD``, ``adamw`` -> ``AdamW``, ``rmsproptf`` ->
    ``RMSpropTF`` ...). ValueError if there is no head token with a backbone before it and an
    optimizer after it.
    """
    tokens = str(name).strip().split("_")
    heads = {h.lower(): h for h in HEADS}
    at = [i for i, t in enumerate(tokens) if t.lower() in heads]
    if not at or at[-1] == 0 or at[-1] == len(tokens) - 1:
        raise ValueError(f"cannot read {name!r} as BACKBONE_HEAD_OPTIMIZER[_SUFFIX] with a head in {list(HEADS)}")
    i = at[-1]
    opt = tokens[i + 1]
    return {"backbone": "_".join(tokens[:i]), "head": heads[tokens[i].lower()],
            "optimizer": _OPTIMIZERS.get(opt.lower(), opt), "suffix": "_".join(tokens[i + 2:]) or "none"}


def read_phase1_csv(path: str | Path) -> pd.DataFrame:
    """A table in FR-NAS's ``vgg_val_phase1.csv`` format, with ``backbone``, ``head``,
    ``optimizer`` and ``suffix`` columns parsed from the model names.

    The model name is in the column ``index`` (or an unnamed first column); every other column
    except ``epoch`` is an objective and must be numeric (empty cells are missing values).
    DatasetError (one line naming the file, and the line for a bad row) for a missing, empty or
    malformed file, a name that does not parse or a value that is not a number.
    """
    from fairvision.metrics._io import csv_line, read_csv_checked

    frame = read_csv_checked(path, what="phase-1 results", blank_only_missing=True)
    name_col = "index" if "index" in frame.columns else None
    if name_col is None and len(frame.columns) and str(frame.columns[0]).startswith("Unnamed"):
        name_col = frame.columns[0]
    if name_col is None:
        raise DatasetError(f"{path}: no model-name column 'index'; columns are {list(frame.columns)}")
    objectives = [c for c in frame.columns if c != name_col and c not in _NOT_OBJECTIVES | set(FACTORS) | {"suffix"}]
    if not objectives:
        raise DatasetError(f"{path}: no objective column (e.g. Error, Disparity) next to {name_col!r}")
    n = len(frame)
    if n == 0:
        raise DatasetError(f"{path}: no rows below the header")
    parsed = []
    for row, name in enumerate(frame[name_col].tolist()):
        if pd.isna(name) or not str(name).strip():
            raise DatasetError(f"{path}, line {csv_line(path, row, n)}: empty model name")
        try:
            parsed.append(parse_model_name(str(name)))
        except ValueError as exc:
            raise DatasetError(f"{path}, line {csv_line(path, row, n)}: {exc}") from None
    out = pd.DataFrame({"name": frame[name_col].astype(str).str.strip().to_numpy()})
    for key in ("backbone", "head", "optimizer", "suffix"):
        out[key] = [p[key] for p in parsed]
    if "epoch" in frame.columns:
        out["epoch"] = frame["epoch"].to_numpy()
    for col in objectives:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetError(f"{path}, line {csv_line(path, row, n)}: {col} is {frame[col].iloc[row]!r}, "
                               f"not a number")
        out[col] = values.astype(float).to_numpy()
    out.attrs["objectives"] = list(objectives)
    return out


def from_store(path: str | Path, study: str | None = None) -> pd.DataFrame:
    """Complete trials of a search store at its largest budget: columns ``number``, ``budget``,
    the factors of the configuration (``backbone``, ``head``, ``optimizer`` where the space has
    them) and one column per study objective; ``attrs["objectives"]`` / ``attrs["directions"]``
    carry the study's objectives. ConfigError if the store has no complete trial."""
    from fairvision.search.analysis import open_store, trial_records

    store = open_store(path, study)
    try:
        objectives = store.study()["objectives"]
        records = [r for r in trial_records(store) if r["status"] == "complete"]
        name = store.study_name
    finally:
        store.close()
    if not records:
        raise ConfigError(f"{path}: study {name!r} has no complete trial")
    full = max(r["budget"] for r in records)
    rows = []
    for r in records:
        if r["budget"] != full:
            continue
        row: dict[str, Any] = {"number": r["number"], "budget": r["budget"]}
        for key in FACTORS:
            if key in (r["config"] or {}):
                row[key] = str(r["config"][key])
        for o in objectives:
            value = r["objectives"].get(o.name)
            row[o.name] = math.nan if value is None else float(value)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(0, "name", [f"trial {n}" for n in frame["number"]])
    frame.attrs["objectives"] = [o.name for o in objectives]
    frame.attrs["directions"] = {o.name: o.direction for o in objectives}
    return frame


# --------------------------------------------------------------------------------- analysis


def _default_objectives(frame: pd.DataFrame, factors: Sequence[str]) -> list[str]:
    if frame.attrs.get("objectives"):
        return [o for o in frame.attrs["objectives"] if o in frame.columns]
    skip = _NOT_OBJECTIVES | set(factors) | set(FACTORS) | {"name", "suffix"}
    return [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]


def _anova(data: pd.DataFrame, factors: list[str], anova_type: int) -> tuple[dict, dict]:
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    terms = {f"C(f{i})": f for i, f in enumerate(factors)}
    design = pd.DataFrame({"y": data["__y"].to_numpy()})
    for i, f in enumerate(factors):
        design[f"f{i}"] = data[f].astype(str).to_numpy()
    model = smf.ols("y ~ " + " + ".join(terms), data=design)
    rank = int(np.linalg.matrix_rank(model.exog))
    if rank < model.exog.shape[1]:
        raise DatasetError(f"the factors {' + '.join(factors)} are confounded among these rows (some levels only "
                           f"occur together, the model has rank {rank} < {model.exog.shape[1]}); "
                           f"analyse fewer factors")
    fit = model.fit()
    table = anova_lm(fit, typ=anova_type)
    out = {}
    for term, factor in terms.items():
        r = table.loc[term]
        out[factor] = {"F": float(r["F"]), "p": float(r["PR(>F)"]), "df": float(r["df"]), "sum_sq": float(r["sum_sq"])}
    resid = table.loc["Residual"]
    return out, {"df": float(resid["df"]), "sum_sq": float(resid["sum_sq"]), "r_squared": float(fit.rsquared)}


def _tukey(y: np.ndarray, groups: np.ndarray, alpha: float) -> list[dict[str, Any]]:
    from statsmodels.stats.multicomp import pairwise_tukeyhsd

    res = pairwise_tukeyhsd(y, groups, alpha=alpha)
    levels = [str(g) for g in res.groupsunique]
    a_idx, b_idx = np.triu_indices(len(levels), 1)  # the order of statsmodels' pairs
    out = []
    for k, (i, j) in enumerate(zip(a_idx, b_idx)):
        out.append({"a": levels[i], "b": levels[j], "diff": float(res.meandiffs[k]), "p_adj": float(res.pvalues[k]),
                    "reject": bool(res.reject[k]), "lower": float(res.confint[k][0]),
                    "upper": float(res.confint[k][1])})
    return out


def _fronts(frame: pd.DataFrame, objectives: list[str], directions: Mapping[str, str],
            factors: list[str], dominance: Dominance) -> dict[str, Any]:
    from fairvision.search.objectives import Objective
    from fairvision.search.pareto import front_frame

    combo = [f for f in ("head", "optimizer") if f in factors]
    pairs = [(objectives[0], o) for o in objectives[1:]] or [(objectives[0],)]
    keep = [c for c in ("name", "number", *factors) if c in frame.columns]
    groups: list[tuple[tuple, pd.DataFrame]]
    if combo:
        levels = [sorted(frame[c].dropna().astype(str).unique()) for c in combo]
        groups = []
        for key in product(*levels):
            mask = np.ones(len(frame), dtype=bool)
            for c, v in zip(combo, key):
                mask &= (frame[c].astype(str) == v).to_numpy() & frame[c].notna().to_numpy()
            if mask.any():
                groups.append((key, frame[mask]))
    else:
        groups = [((), frame)]
    out: dict[str, Any] = {}
    for key, sub in groups:
        entry: dict[str, Any] = {"levels": dict(zip(combo, key)), "n": int(len(sub)), "fronts": {}}
        for pair in pairs:
            objs = [Objective(o, directions.get(o, "minimize")) for o in pair]
            finite = sub[np.isfinite(sub[list(pair)].to_numpy(float)).all(axis=1)]
            front = front_frame(finite, objs, dominance=dominance).sort_values(list(pair),
                                                          ascending=[o.direction == "minimize" for o in objs])
            entry["fronts"][" vs ".join(pair)] = [
                {**{c: (int(r[c]) if c == "number" else str(r[c])) for c in keep if pd.notna(r[c])},
                 **{o: float(r[o]) for o in pair}} for _, r in front.iterrows()]
        out["/".join(key) if key else "all"] = entry
    return out


def hyperparameter_analysis(frame: pd.DataFrame, *, objectives: Sequence[str] | None = None,
                            factors: Sequence[str] | None = None, alpha: float = 0.05,
                            anova_type: int = 2, directions: Mapping[str, str] | None = None,
                            dominance: Dominance = "pareto") -> dict[str, Any]:
    """ANOVA, Tukey HSD, level means and per-(head, optimizer) fronts of ``frame`` (see the module doc).

    ``objectives``: objective columns (default: ``frame.attrs["objectives"]`` when set, else every
    numeric column but ``epoch``/``budget``/``number``/``seed``/``lr``), in order; the first is the
    x axis of the fronts. ``factors``: categorical columns (default: those of ``head``,
    ``optimizer``, ``backbone`` that the frame has); a factor with one level among an objective's
    rows is left out of that objective's model (listed under ``"skipped"``). ``directions``:
    objective -> ``"minimize"``/``"maximize"`` for the fronts (default ``frame.attrs["directions"]``,
    else minimise). ``dominance``: the fronts' (``"pareto"`` or FR-NAS's ``"frnas"``). Returns
    ``{"objectives", "factors", "alpha", "anova_type", "dominance", "n", "formula", "anova", "residual",
    "tukey", "means", "skipped", "fronts"}``; F/p are NaN where undefined.
    ConfigError for unknown columns or options, DatasetError for a non-numeric objective or too few
    rows to fit a model.
    """
    from fairvision._extras import require_extra

    require_extra("stats")
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"hyperparameter_analysis: expected a pandas DataFrame, got {type(frame).__name__}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}")
    if anova_type not in (1, 2):
        raise ConfigError(f"anova_type must be 1 (sequential) or 2, got {anova_type!r}")
    from fairvision.search.pareto import check_dominance

    check_dominance(dominance)
    if factors is None:
        factors = [f for f in FACTORS if f in frame.columns]
        if not factors:
            raise ConfigError(f"no factor column: the table needs one of {list(FACTORS)}; "
                              f"columns are {list(frame.columns)}")
    factors = list(factors)
    missing = [f for f in factors if f not in frame.columns]
    if missing or not factors or len(set(factors)) != len(factors):
        raise ConfigError(f"factors {factors}: unknown or repeated {missing or factors}; "
                          f"columns are {list(frame.columns)}")
    objectives = list(_default_objectives(frame, factors) if objectives is None else objectives)
    missing = [o for o in objectives if o not in frame.columns]
    if missing or not objectives or len(set(objectives)) != len(objectives):
        raise ConfigError(f"objectives {objectives}: unknown or repeated {missing or objectives}; "
                          f"columns are {list(frame.columns)}")
    clash = set(objectives) & set(factors)
    if clash:
        raise ConfigError(f"{sorted(clash)} given both as objective and as factor")
    directions = dict(frame.attrs.get("directions", {}) if directions is None else directions)
    bad = {o: d for o, d in directions.items() if d not in ("minimize", "maximize")}
    if bad:
        raise ConfigError(f"directions must be 'minimize' or 'maximize', got {bad}")
    values = {}
    for o in objectives:
        try:
            values[o] = pd.to_numeric(frame[o], errors="raise").astype(float)
        except (ValueError, TypeError):
            raise DatasetError(f"objective {o!r} is not numeric (first values {frame[o].head(3).tolist()})") from None

    result: dict[str, Any] = {"objectives": objectives, "factors": factors, "alpha": float(alpha),
                              "anova_type": anova_type, "dominance": dominance, "n": {}, "formula": {}, "anova": {},
                              "residual": {}, "tukey": {}, "means": {}, "skipped": {}}
    for o in objectives:
        y = values[o]
        ok = np.isfinite(y.to_numpy())
        for f in factors:
            ok &= frame[f].notna().to_numpy()
        data = frame.loc[ok, factors].copy()
        for f in factors:
            data[f] = data[f].astype(str)
        data["__y"] = y[ok].to_numpy()
        used = [f for f in factors if data[f].nunique() >= 2]
        result["skipped"][o] = [f for f in factors if f not in used]
        result["n"][o] = int(len(data))
        if not used:
            raise DatasetError(f"{o}: no factor has two or more levels among its {len(data)} rows with a value")
        n_params = 1 + sum(data[f].nunique() - 1 for f in used)
        if len(data) <= n_params:
            raise DatasetError(f"{o}: {len(data)} rows with a value, too few for a model with {n_params} "
                               f"parameters ({' + '.join(used)})")
        result["formula"][o] = f"{o} ~ " + " + ".join(used)
        try:
            result["anova"][o], result["residual"][o] = _anova(data, used, anova_type)
        except DatasetError as exc:
            raise DatasetError(f"{o}: {exc}") from None
        result["tukey"][o] = {f: _tukey(data["__y"].to_numpy(), data[f].to_numpy(), alpha) for f in used}
        result["means"][o] = {f: {str(k): {"n": int(g.size), "mean": float(g.mean())}
                                  for k, g in data.groupby(f, sort=True)["__y"]} for f in used}
    result["fronts"] = _fronts(frame.assign(**values), objectives, directions, factors, dominance)
    return result
