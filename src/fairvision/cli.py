"""Command-line interface: thin wrappers over the library (``fairvision --help``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from fairvision.errors import FairvisionError, SearchFailed

__all__ = ["main", "build_parser"]


def _cmd_fairness(args: argparse.Namespace) -> int:
    from fairvision._io import jsonable
    from fairvision.metrics import fairness_metrics
    from fairvision.metrics._io import join_ranks, read_csv_checked
    from fairvision.report import print_fairness

    identity_column = args.identity_column
    if args.bootstrap and identity_column is None:
        header = read_csv_checked(args.groups, what="groups").columns
        identity_column = next((c for c in ("identity", "label") if c in header), None)
        if identity_column is None:
            raise FairvisionError(
                f"--bootstrap resamples identities: name the identity column of {args.groups} with --identity-column"
            )
    joined, columns = join_ranks(
        args.ranks,
        args.groups,
        on=args.on,
        group_column=args.group_column,
        rank_columns=args.rank_column,
        identity_column=identity_column,
    )
    _check_groups(joined["group"], args.reference_group, f"column {args.group_column!r} of {args.groups}")
    results = {}
    for col in columns:
        report = fairness_metrics(
            joined[col],
            joined["group"],
            reference_group=args.reference_group,
            identities=joined["identity"] if "identity" in joined else None,
            bootstrap=args.bootstrap,
            seed=args.seed,
        )
        results[col] = report
    if args.json:
        out = {c: r.to_dict() for c, r in results.items()}
        print(json.dumps(jsonable(out[columns[0]] if len(columns) == 1 else out), indent=2, allow_nan=False))
    else:
        for col, report in results.items():
            print_fairness(report, title=f"{Path(args.ranks).name} : {col}")
    return 0


def _cmd_ranks(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from fairvision._io import write_csv
    from fairvision.errors import DatasetError
    from fairvision.metrics import fairness_metrics, identification_ranks
    from fairvision.metrics._io import check_label_column, read_csv_checked
    from fairvision.report import print_fairness

    path = Path(args.embeddings)
    device = None if args.device is None else _resolve_device(args.device)
    try:
        emb = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read embeddings as a .npy array ({exc})") from None
    labels = read_csv_checked(args.labels, what="labels", blank_only_missing=True)
    cols = [args.identity_column] + ([args.group_column] if args.group_column else [])
    missing = [c for c in cols if c not in labels.columns]
    if missing:
        raise DatasetError(f"{args.labels}: no column(s) {missing}; columns are {list(labels.columns)}")
    if emb.ndim != 2 or len(emb) != len(labels):
        raise DatasetError(
            f"{path} has shape {emb.shape} but {args.labels} has {len(labels)} rows: need one row per embedding"
        )
    if not (np.issubdtype(emb.dtype, np.floating) or np.issubdtype(emb.dtype, np.integer)):
        kind = "complex numbers" if np.iscomplexobj(emb) else f"dtype {emb.dtype}"
        raise DatasetError(f"{path}: embeddings must be real numbers, got {kind}")
    check_label_column(labels, args.identity_column, args.labels, what="identity")
    if args.group_column:
        check_label_column(labels, args.group_column, args.labels, what="group")
        _check_groups(labels[args.group_column], None, f"column {args.group_column!r} of {args.labels}")
    try:
        ranks = identification_ranks(emb, labels[args.identity_column], chunk_size=args.chunk_size, device=device)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    out = pd.DataFrame({"ids": np.arange(len(emb))})
    for c in cols:
        out[c] = labels[c].to_numpy()
    out["rank_by_id"] = ranks.rank_by_id
    out["rank_by_image"] = ranks.rank_by_image
    write_csv(args.out, out)
    print(f"wrote {args.out} ({len(out)} rows; {int((~ranks.valid).sum())} without another image of their identity)")
    if args.group_column:
        report = fairness_metrics(ranks.rank_by_id, out[args.group_column], identities=out[args.identity_column])
        print_fairness(report, title="rank_by_id")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from fairvision.config import load_yaml
    from fairvision.data.synthetic import SyntheticFacesConfig, write_synthetic

    values = load_yaml(args.config) if args.config else {}
    flags = {
        "n_identities": args.identities,
        "images_per_identity": args.images_per_identity,
        "size": args.size,
        "seed": args.seed,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    if args.difficulty:
        difficulty = dict(values.get("group_difficulty") or SyntheticFacesConfig().group_difficulty)
        for item in args.difficulty:
            group, sep, value = item.partition("=")
            try:
                difficulty[group] = float(value)
            except ValueError:
                raise FairvisionError(f"--difficulty expects GROUP=VALUE, got {item!r}") from None
        values["group_difficulty"] = difficulty
    config = SyntheticFacesConfig(**values)
    out = write_synthetic(args.out_dir, config, layout=args.layout, progress=not args.quiet)
    print(f"wrote {config.n_images} synthetic faces ({args.layout} layout) to {out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from fairvision.demo import run_demo

    run_demo(args.out, quick=args.quick, workers=args.workers, progress=not args.quiet)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from fairvision.train import load_run_config, train

    config = load_run_config(args.config, args.set or ())
    result = train(config, args.out, progress=not args.quiet, console=Console(quiet=args.quiet))
    error, run = result.error, result.layout
    task_files = (run.logits("test"), run.logits("val")) if config.task.name == "attribute" else (run.ranks,)
    files = ", ".join(p.name for p in (run.metrics, run.history, *task_files, run.checkpoint))
    print(
        f"{args.out}: status {result.status}, epoch {result.metrics['epoch']}, "
        f"Error {'n/a' if error is None else f'{error:.4f}'} ({files})"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from fairvision._io import jsonable, write_json
    from fairvision.train import evaluate

    if args.pairs is not None:
        return _cmd_evaluate_pairs(args)
    pair_only = [f for f, v in (("--images", args.images), ("--demographics", args.demographics),
                                ("--target-fmr", args.target_fmr), ("--scores-out", args.scores_out)) if v is not None]
    if pair_only:
        from fairvision.errors import ConfigError

        raise ConfigError(f"{pair_only[0]} applies only with --pairs")
    result = evaluate(
        args.source,
        data=args.data,
        overrides=args.set or (),
        split=args.split,
        device=str(_resolve_device(args.device)),
        batch_size=args.batch_size,
        ranks_out=args.ranks_out,
        console=None if args.json else Console(),
    )
    if args.out:
        write_json(args.out, result)
    if args.json:
        print(json.dumps(jsonable(result), indent=2, allow_nan=False))
    elif result["status"] == "diverged":
        print(f"{args.source}: the run diverged; Error = 1 by convention")
    return 0


def _cmd_evaluate_pairs(args: argparse.Namespace) -> int:
    from rich.console import Console

    from fairvision._io import jsonable, write_json
    from fairvision.errors import ConfigError
    from fairvision.train.pairs import evaluate_pairs

    if args.images is None:
        raise ConfigError("--pairs needs --images DIR: the folder the pair file's image paths are relative to")
    if args.data or args.set or args.ranks_out:
        raise ConfigError("--data, --set and --ranks-out do not apply to --pairs")
    result = evaluate_pairs(
        args.source, args.pairs, args.images, format=args.pairs_format, demographics=args.demographics,
        group_column=args.group_column, target_fmr=args.target_fmr, device=str(_resolve_device(args.device)),
        batch_size=args.batch_size, scores_out=args.scores_out, console=None if args.json else Console(),
    )
    if args.out:
        write_json(args.out, result)
    if args.json:
        print(json.dumps(jsonable(result), indent=2, allow_nan=False))
    elif result["status"] == "diverged":
        print(f"{args.source}: the run diverged; no verification accuracy")
    return 0


def _cmd_attribute_bias(args: argparse.Namespace) -> int:
    from fairvision._io import jsonable
    from fairvision.data import load_celeba_annotations
    from fairvision.errors import ConfigError, DatasetError
    from fairvision.metrics import DEFAULT_PROTECTED, attribute_bias_report, read_logits

    recalibrate = args.threshold != "default"
    if not recalibrate and args.val_logits is not None:
        raise ConfigError("--val-logits is used only to recalibrate thresholds: add --threshold recalibrated "
                          "or --threshold recalibrated_per_group")
    if recalibrate and args.val_logits is None:
        raise ConfigError(f"--threshold {args.threshold} sets thresholds on the val partition: "
                          "give its logits with --val-logits VAL.txt")
    notes = load_celeba_annotations(args.celeba)
    names = list(notes.attributes)
    if args.protected is None:
        protected = [p for p in DEFAULT_PROTECTED if p in names]
    else:
        protected = [p.strip() for p in args.protected.split(",") if p.strip()]
        unknown = [p for p in protected if p not in names]
        if unknown:
            raise ConfigError(f"--protected: {unknown[0]!r} is not an attribute of {notes.attr_file} "
                              f"(attributes: {', '.join(names)})")
    if not protected:
        raise ConfigError(f"no protected attribute: name some of {notes.attr_file}'s with --protected A,B")

    def rows_of(split: str, flag: str, path: str | None = None):
        n = int(notes.mask(split).sum())
        if n == 0:
            raise DatasetError(f"the {split} partition of {notes.partition_file} has no images, needed for {flag}")
        if path is None:
            return notes.split_labels(split)
        logits = read_logits(path, n_cols=len(names))
        if len(logits) != n:
            raise DatasetError(f"{path}: {len(logits)} rows of logits, but the {split} partition of "
                               f"{notes.partition_file} has {n} images: {flag} needs one row per {split} image, "
                               "in file order")
        return logits

    logits = rows_of(args.split, "--logits", args.logits)
    val_logits = rows_of("val", "--val-logits", args.val_logits) if recalibrate else None
    try:
        report = attribute_bias_report(
            logits,
            rows_of(args.split, "--logits"),
            attributes=names,
            train_labels=rows_of("train", "the training rates"),
            protected=protected,
            policy=args.threshold,
            val_logits=val_logits,
            val_labels=rows_of("val", "--val-logits") if recalibrate else None,
        )
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    if args.json:
        print(json.dumps(jsonable(report.to_dict()), indent=2, allow_nan=False))
    else:
        title = f"{Path(args.logits).name}: {args.split} split, {args.threshold} thresholds"
        _print_attribute_bias(report, title=title)
    return 0


def _print_attribute_bias(report, *, title: str) -> None:
    """Rich tables of an AttributeBiasReport (80 columns wide): per-attribute metrics, then per protected attribute."""
    import math

    from rich import box
    from rich.console import Console
    from rich.table import Table

    def fmt(x) -> str:
        x = float(x)
        return "n/a" if math.isnan(x) else f"{x:+g}" if math.isinf(x) else f"{x:.3f}"

    short = {"threshold": "t", "threshold_0": "t(0)", "threshold_1": "t(1)", "accuracy": "acc", "auc": "AUC",
             "positive_rate": "pos", "uncertainty": "unc", "ece": "ECE", "interdependence_r2": "R²",
             "rare_value_ratio": "rare", "bias_amplification": "BA", "fpr_gap": "ΔFPR", "fnr_gap": "ΔFNR"}
    meaning = {"threshold": "threshold", "accuracy": "accuracy", "positive_rate": "predicted-positive rate",
               "uncertainty": "share with |p - 0.5| < 0.4", "interdependence_r2": "interdependence",
               "rare_value_ratio": "rare-value ratio", "bias_amplification": "bias amplification"}

    def table_of(rows, columns, title, note="", reasons=None) -> Table:
        legend = ", ".join(f"{short[c]} {meaning[c]}" for c in columns if c in meaning)
        table = Table(title=title, caption="; ".join(x for x in (note, legend) if x), box=box.SIMPLE_HEAD,
                      pad_edge=False, collapse_padding=True)
        table.add_column("attribute", no_wrap=True, min_width=max(len(a) for a in rows["attribute"]))
        cells = {c: [fmt(x) for x in rows[c]] for c in columns}
        for col in columns:
            table.add_column(short[col], justify="right", no_wrap=True, min_width=max(map(len, cells[col])))
        if reasons is not None:
            table.add_column("skipped because", overflow="fold")
        for i, name in enumerate(rows["attribute"]):
            extra = [] if reasons is None else [reasons.get(name) or ""]
            table.add_row(name, *[cells[c][i] for c in columns], *extra)
        return table

    console = Console()
    summary = report.summary()
    thresholded = ["accuracy", "positive_rate", "interdependence_r2", "rare_value_ratio"]
    first = summary[summary["protected"] == report.protected[0]]
    columns = ["auc", "uncertainty", "ece"]
    if not report.per_group:
        columns = ["threshold", "accuracy", "auc", "positive_rate", "uncertainty", "ece", *thresholded[2:]]
    console.print(table_of(first, columns, title))
    for g in report.protected:
        rows = summary[summary["protected"] == g]
        if report.per_group:
            console.print(table_of(rows, ["threshold_0", "threshold_1", *thresholded],
                                   f"thresholds by group of {g}", f"t(0), t(1) thresholds where {g}=0, {g}=1"))
        bias = report.bias[report.bias["protected"] == g]
        reasons = {a: r for a, r in zip(bias["attribute"], bias["skip_reason"]) if isinstance(r, str)}
        console.print(table_of(rows[rows["attribute"] != g], ["bias_amplification", "fpr_gap", "fnr_gap"],
                               f"bias with respect to {g}", f"gaps: {g}=1 minus {g}=0", reasons))


def _check_groups(groups, reference_group: str | None, where: str) -> None:
    """ConfigError/DatasetError unless there are two or more groups and ``reference_group`` is one of them."""
    from fairvision.errors import ConfigError, DatasetError

    names = sorted({str(g) for g in groups})
    if len(names) < 2:
        raise DatasetError(
            f"{where} has {'only the group ' + repr(names[0]) if names else 'no group'}: "
            "fairness metrics compare at least two groups"
        )
    if reference_group is not None and reference_group not in names:
        raise ConfigError(
            f"--reference-group: {reference_group!r} is not a group of {where}; groups are {', '.join(map(repr, names))}"
        )


def _resolve_device(name: str):
    """A torch device for ``--device`` (:func:`fairvision.train.step.resolve_device`, errors naming the flag)."""
    from fairvision.train.step import resolve_device

    return resolve_device(name, option="--device")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _bootstrap_count(text: str) -> int:
    """``--bootstrap``: 0 (no confidence intervals) or at least 2 replicates."""
    value = _whole_number(text)
    if value < 0 or value == 1:
        raise argparse.ArgumentTypeError(f"must be 0 (no confidence intervals) or at least 2 replicates, got {value}")
    return value


def _finite_float(text: str) -> float:
    """A finite number (not nan or inf)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _cmd_search(args: argparse.Namespace) -> int:
    from fairvision.search.runner import load_search_config, run_search_config

    cfg = load_search_config(args.config)
    if args.max_consecutive_crashes is not None:
        cfg.max_consecutive_crashes = args.max_consecutive_crashes
    if args.seed is not None:
        cfg.seed = args.seed
    options = _key_values(args.engine_option, "--engine-option")
    trials = run_search_config(cfg, args.store, engine=args.engine, engine_options=options, trials=args.trials,
                               workers=args.workers, dask_scheduler=args.dask_scheduler, progress=not args.quiet,
                               note=lambda text: print(f"fairvision search: note: {text}", file=sys.stderr))
    counts = trials["status"].value_counts().to_dict()
    print(f"{args.store}: study {cfg.study!r}: {len(trials)} trials ({counts}); "
          f"see `fairvision pareto {args.store}`")
    return 0


def _cmd_prune_study(args: argparse.Namespace) -> int:
    from fairvision.prune.study import load_study_config, run_prune_study

    cfg = load_study_config(args.config)
    summary = run_prune_study(cfg, args.out, workers=args.workers, dask_scheduler=args.dask_scheduler,
                              progress=not args.quiet)
    out = Path(args.out)
    files = [p.name for p in (out / "summary.csv", out / "summary_by_level.csv", out / "curves.png") if p.exists()]
    print(f"{out}: {summary[['requested', 'seed']].drop_duplicates().shape[0]} runs summarised "
          f"({', '.join(files)}); runs in {out / 'runs'}, trials in {out / 'study.db'}")
    return 0


def _study_folder(path: str, flag: str) -> Path:
    """A prune-study output folder named on the command line (ConfigError naming ``flag`` otherwise)."""
    from fairvision.errors import ConfigError

    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{flag}: {folder}: study folder not found")
    return folder


def _cmd_predict_bias(args: argparse.Namespace) -> int:
    """Rank a dense model's attributes by risk of bias growth under pruning (fairvision.prune.risk)."""
    from fairvision._io import jsonable, write_csv
    from fairvision.prune.risk import TARGET_NAMES, model_features, rank_bias_risk, write_risk_validation

    evidence = _study_folder(args.evidence, "--evidence") if args.evidence else None
    features = model_features(args.sources, celeba=args.celeba)
    options = {"threshold": args.threshold, "n_permutations": args.permutations, "seed": args.seed}
    if evidence is not None:
        out = Path(args.validation_out) if args.validation_out else evidence / "risk_validation.csv"
        write_risk_validation(evidence, out=out, **options)
    report = rank_bias_risk(features, evidence=evidence, target=args.target, sparsity=args.sparsity, **options)
    if args.out:
        write_csv(args.out, report.table)
    for line in report.warnings:
        print(f"fairvision predict-bias: warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable(report.to_dict()), indent=2, allow_nan=False))
        return 0
    what = f"{len(args.sources)} dense model(s): {', '.join(map(str, args.sources))}"
    print(f"bias-growth risk of {what}; ranked by {report.ranked_by}"
          + (f" ({report.method}): |{TARGET_NAMES[report.target]}| growth > {report.threshold:g} at sparsity "
             f"{report.sparsity:g}"
             if evidence is not None else ""))
    columns = ["rank", "attribute", "score", "flagged", *report.features_used]
    print(report.table[columns].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if evidence is not None:
        print(f"\nvalidation evidence: {evidence} (risk_validation.csv: {out}); the combined score's AUC is "
              "leave-one-attribute-out, single features are scored as they are")
        table = report.validation[["feature", "spearman", "p_value", "auc", "n", "n_flagged"]]
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    for note in report.notes:
        print(f"note: {note}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def _cmd_cie(args: argparse.Namespace) -> int:
    """Compression-identified exemplars of a study (fairvision.prune.cie): cie.csv and cie_summary.csv."""
    from fairvision.prune.cie import write_cie

    study = _study_folder(args.study, "STUDY_DIR")
    out = Path(args.out) if args.out else study
    cie, summary = write_cie(study, out=out, split=args.split, k=args.k)
    overall = summary[summary["by"].isin(["", "dense_score", "dense_disagreement"]) | (summary["by"] == "group")]
    table = overall.assign(name=overall["statistic"] + overall["by"].map(lambda b: f"[{b}]" if b else "")
                           + overall["level"].map(lambda v: f"={v}" if v else ""))
    wanted = ["n_cie", "cie_rate", "auc[dense_score]", "auc[dense_disagreement]", "precision_at_k[dense_score]"]
    wanted += sorted(n for n in table["name"].unique() if n.startswith("cie_rate[group]"))
    wide = table.pivot_table(index="sparsity", columns="name", values="value", sort=True)
    print(wide[[c for c in wanted if c in wide.columns]].reset_index().to_string(
        index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"wrote {out / 'cie.csv'} ({len(cie)} rows) and {out / 'cie_summary.csv'}")
    return 0


def _cmd_cie_view(args: argparse.Namespace) -> int:
    """The susceptible-samples HTML page of a study (fairvision.prune.cie.cie_view)."""
    from fairvision.prune.cie import cie_view

    study = _study_folder(args.study, "STUDY_DIR")
    path = cie_view(study, args.out, top_k=args.top_k, sparsity=args.sparsity, split=args.split,
                    max_cies=args.max_cie)
    print(f"wrote {path}")
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from fairvision.search.zoo import load_zoo_config, run_zoo

    cfg = load_zoo_config(args.config)
    trials = run_zoo(cfg, args.store, workers=args.workers, dask_scheduler=args.dask_scheduler,
                     progress=not args.quiet)
    counts = trials["status"].value_counts().to_dict()
    print(f"{args.store}: study {cfg.study!r}: {len(trials)} trials ({counts}); "
          f"see `fairvision trials {args.store}` and `fairvision pareto {args.store}`")
    return 0


def _key_values(items: list[str] | None, flag: str) -> dict:
    """``KEY=VALUE`` strings (values parsed as YAML) as a dict; ConfigError naming ``flag``."""
    import yaml

    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FairvisionError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise FairvisionError(f"{flag} {key}: cannot parse the value {value!r}") from None
    return out


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _cmd_trials(args: argparse.Namespace) -> int:
    from fairvision._io import jsonable
    from fairvision.search.analysis import open_store, trial_records

    store = open_store(args.store, args.study)
    try:
        records = trial_records(store)
        if args.json:
            print(json.dumps(jsonable(records), indent=2, default=str, allow_nan=False))
        else:
            from rich.console import Console
            from rich.table import Table

            names = [o.name for o in store.study()["objectives"]]
            table = Table(title=f"{args.store}: study {store.study_name!r}")
            for col in ["#", "budget", "status", *names, "config"]:
                table.add_column(col, overflow="fold")
            for r in records:
                table.add_row(str(r["number"]), f"{r['budget']:g}", r["status"],
                              *[f"{r['objectives'][n]:.4g}" if n in r["objectives"] else "-" for n in names],
                              json.dumps(r["config"]))
            Console().print(table)
        return 0
    finally:
        store.close()


def _cmd_pareto(args: argparse.Namespace) -> int:
    import pandas as pd

    from fairvision._io import jsonable
    from fairvision.errors import ConfigError
    from fairvision.search.analysis import front_summary, open_store

    if args.baselines and not args.plot:
        raise ConfigError("--baselines are drawn on the --plot figure: give --plot OUT.png too")
    store = open_store(args.store, args.study)
    try:
        summary = front_summary(store, dominance=args.dominance, reference=args.reference)
        names = [o.name for o in summary["objectives"]]
        front = summary["front"]
        baselines_csv = None
        if args.plot:
            from fairvision._io import write_csv
            from fairvision.report.search_plots import plot_search
            from fairvision.search.analysis import aggregate_baselines, load_baselines

            # CSVs (name + objectives [+ seed, source]) or other trial stores; mean +- std over seeds per name
            baselines = load_baselines(args.baselines, names[:2]) if args.baselines else None
            plot_search(summary["trials"], front, summary["objectives"], args.plot,
                        hypervolume_curve=summary["hypervolume_curve"], baselines=baselines,
                        title=f"{args.store}: study {store.study_name!r} ({args.dominance} dominance)")
            if baselines is not None:
                baselines_csv = Path(args.plot).with_name(f"{Path(args.plot).stem}_baselines.csv")
                write_csv(baselines_csv, aggregate_baselines(baselines, [n for n in names if n in baselines.columns]))
        records = [{"number": int(row["number"]), "budget": float(row["budget"]), "config": row["config"],
                    "objectives": {n: float(row[n]) for n in names}} for _, row in front.iterrows()]
        if args.json:
            print(json.dumps(jsonable(records), indent=2, default=str, allow_nan=False))
            return 0
        print(pd.DataFrame([{"#": r["number"], **r["objectives"], "config": json.dumps(r["config"])} for r in records])
              .to_string(index=False))
        print(f"hypervolume {summary['hypervolume']:.6g} (reference point {summary['reference_point']}, "
              f"{args.dominance} dominance, budget {front['budget'].max():g})")
        tau = summary["kendall_tau"]
        if len(tau):
            print("Kendall tau of each lower budget vs the full budget:")
            print(tau.to_string(index=False))
        if args.plot:
            print(f"wrote {args.plot}" + (f" and {baselines_csv} (baselines: mean, std over seeds)"
                                          if baselines_csv else ""))
        return 0
    finally:
        store.close()


def _cmd_analyze(args: argparse.Namespace) -> int:
    import pandas as pd

    from fairvision._extras import require_extra
    from fairvision._io import jsonable
    from fairvision.errors import ConfigError
    from fairvision.search.hyperparams import from_store, hyperparameter_analysis, read_phase1_csv

    require_extra("stats")
    is_csv = "://" not in args.source and Path(args.source).suffix.lower() in (".csv", ".tsv", ".txt")
    if is_csv and args.study:
        raise ConfigError("--study applies to a trial store, not to a CSV file")
    frame = read_phase1_csv(args.source) if is_csv else from_store(args.source, args.study)
    if args.max_error is not None:
        if "Error" not in frame.columns:
            raise ConfigError(f"--max-error needs an 'Error' column; columns are {list(frame.columns)}")
        attrs = dict(frame.attrs)
        frame = frame[~(frame["Error"] > args.max_error)]  # keeps rows without an Error value
        frame.attrs.update(attrs)
    result = hyperparameter_analysis(frame, objectives=args.objectives, factors=args.factors, alpha=args.alpha,
                                     anova_type=args.anova_type, dominance=args.dominance)
    if args.json:
        print(json.dumps(jsonable({"source": args.source, **result}), indent=2, allow_nan=False))
        return 0
    kind = "Type II" if args.anova_type == 2 else "Type I (sequential)"
    for obj in result["objectives"]:
        print(f"{result['formula'][obj]}   (n={result['n'][obj]}, {kind} ANOVA, "
              f"R^2={result['residual'][obj]['r_squared']:.3f})")
        print(pd.DataFrame(result["anova"][obj]).T[["df", "F", "p"]].to_string(float_format=lambda v: f"{v:.4g}"))
        for factor, pairs in result["tukey"][obj].items():
            levels = result["means"][obj][factor]
            rejected = sum(p["reject"] for p in pairs)
            print(f"  Tukey HSD {factor}: {rejected} of {len(pairs)} pairs differ at FWER {result['alpha']:g}"
                  f"{' (all pairs and means: --json)' if len(levels) > 6 else ''}")
            if len(levels) > 6:
                continue
            print("    means: " + ", ".join(f"{k} {v['mean']:.4g} (n={v['n']})" for k, v in levels.items()))
            for p in pairs:
                print(f"    {p['a']:>12} vs {p['b']:<12} diff {p['diff']:+.4f}  p_adj {p['p_adj']:.3g}"
                      f"{'  *' if p['reject'] else ''}")
        print()
    print(f"Fronts ({args.dominance} dominance) per combination:")
    for key, entry in result["fronts"].items():
        sizes = ", ".join(f"{pair}: {len(rows)}" for pair, rows in entry["fronts"].items())
        print(f"  {key} (n={entry['n']}): {sizes}")
    return 0


def _cmd_retrain(args: argparse.Namespace) -> int:
    from fairvision.search.analysis import open_store, retrain_front

    store = open_store(args.store, args.study)
    try:
        table = retrain_front(store, top=args.top, seeds=args.seeds, out=args.out, split=args.split,
                              progress=not args.quiet, dominance=args.dominance, picks=args.pick)
        cols = ["pick", "number"] + [c for c in table.columns if c.endswith("_mean") or c.endswith("_std")]
        print(table[cols].to_string(index=False))
        print(f"wrote {args.out}/retrain.csv")
        return 0
    finally:
        store.close()


def _cmd_report(args: argparse.Namespace) -> int:
    from fairvision.report.html import files_folder
    from fairvision.sources import build_report

    out = build_report(args.sources, args.out, bootstrap=args.bootstrap, seed=args.seed, top_k=args.top_k,
                       title=args.title)
    print(f"wrote {out} (figures also in {files_folder(out)})")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``fairvision CMD: error: ...``, exit 2); ``--help`` shows usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fairvision",
        description="Accurate and fair vision models: identification ranks, FR-NAS fairness metrics, synthetic faces.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("fairness", help="FR-NAS fairness metrics from a per-sample rank file joined with metadata")
    p.add_argument("--ranks", required=True, help="CSV of per-sample ranks, e.g. FR-NAS 'ids, epoch_19, ...'")
    p.add_argument("--rank-column", action="append", help="rank column(s) to score (repeatable; default: all)")
    p.add_argument("--groups", required=True, help="metadata CSV with the key and group columns")
    p.add_argument("--group-column", required=True, help="column of --groups holding the group, e.g. gender_expression")
    p.add_argument("--on", required=True, help="key column present in both files, e.g. ids")
    p.add_argument("--identity-column", help="identity column of --groups (needed by --bootstrap; default identity/label)")
    p.add_argument("--reference-group", help="denominator group of the ratios (default: first in sorted order)")
    p.add_argument("--bootstrap", type=_bootstrap_count, default=0, metavar="N",
                   help="bootstrap replicates over identities for 95%% CIs (0 = none, else >= 2)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--json", action="store_true", help="print one JSON object (one per column if several)")
    p.set_defaults(func=_cmd_fairness)

    p = sub.add_parser("ranks", help="exact leave-one-out identification ranks of saved embeddings")
    p.add_argument("embeddings", help=".npy file of shape (N, d)")
    p.add_argument("--labels", required=True, help="CSV with one row per embedding: identity (and group) columns")
    p.add_argument("--out", required=True, help="output CSV: ids, identity, [group], rank_by_id, rank_by_image")
    p.add_argument("--identity-column", default="identity")
    p.add_argument("--group-column", default=None, help="if given, also print fairness metrics by this column")
    p.add_argument("--chunk-size", type=_positive_int, default=None, help="queries per chunk (memory ~ chunk x N floats)")
    p.add_argument("--device", default=None, help="cpu (default), cuda, cuda:N or auto")
    p.set_defaults(func=_cmd_ranks)

    p = sub.add_parser("synth", help="write a synthetic faces data set with a known group bias")
    p.add_argument("out_dir")
    p.add_argument("--config", help="YAML file of SyntheticFacesConfig keys (flags below override it)")
    p.add_argument("--identities", type=int, default=None, help="number of identities")
    p.add_argument("--images-per-identity", type=int, default=None)
    p.add_argument("--size", type=int, default=None, help="image side in pixels")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--difficulty", action="append", metavar="GROUP=VALUE", help="difficulty in [0, 1] of one group, e.g. D=0.7 (repeatable; other groups keep theirs)")
    p.add_argument("--layout", choices=["folders", "celeba", "both"], default="folders")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("demo", help="the known-bias benchmark end to end: search, front, baselines, pruning, "
                                    "HTML report (resumable; what `make demo` runs)")
    p.add_argument("--out", default="runs/demo", help="output directory (re-running continues it)")
    p.add_argument("--quick", action="store_true", help="smaller everything, same stages (< 3 min on 2 cores)")
    p.add_argument("--workers", type=_positive_int, default=2, help="parallel training processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "train",
        help="train a face-recognition model from a YAML config; re-running resumes (or extends) the run",
        description="Train (or resume, or extend) the run in --out. Writes config.yaml, history.jsonl, ranks_val.csv, "
        "val_meta.csv, checkpoint.pt and metrics.json. A diverged run is recorded (status diverged, Error 1), exit 0.",
    )
    p.add_argument("config", help="YAML config (sections data, model, head, loss, optim, train), e.g. configs/synthetic-tiny.yaml")
    p.add_argument("--out", required=True, help="run folder (created; an existing run in it is resumed)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override a config key, e.g. train.epochs=3 (repeatable; value parsed as YAML)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="fairness metrics of a trained run on a split of its data or on another data set",
        description="Embed a split with the trained backbone (flip TTA), rank, and print the FR-NAS metrics.",
    )
    p.add_argument("source", help="run folder or checkpoint.pt")
    p.add_argument("--data", help="YAML file with a 'data' section (default: the run's own data config)")
    p.add_argument("--set", action="append", metavar="data.KEY=VALUE", help="override a data key, e.g. data.root=/data/rfw (repeatable)")
    p.add_argument("--split", choices=["train", "val", "test", "all"], default="test", help="split to evaluate; 'all' = the whole data set (default test)")
    p.add_argument("--json", action="store_true", help="print one JSON object (fairness --json keys, epoch, status, split)")
    p.add_argument("--out", help="also write the JSON object to this file")
    p.add_argument("--ranks-out", help="write per-image ranks (ids, identity, group, path, rank_by_id, rank_by_image)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="embedding batch size (default: the run's eval_batch_size)")
    p.add_argument("--pairs", metavar="PAIRS.txt", help="1:1 verification on a pair list instead of identification: LFW "
                   "pairs.txt or CALFW/CPLFW pairs_*.txt; 10-fold accuracy (needs --images)")
    p.add_argument("--images", metavar="DIR", help="with --pairs: the folder the pair file's image paths are relative to")
    p.add_argument("--pairs-format", choices=["auto", "lfw", "calfw", "cplfw"], default="auto",
                   help="with --pairs: the pair-file format (default: guessed from the file)")
    p.add_argument("--demographics", metavar="FILE", help="with --pairs: FR-NAS JSON or CSV of identity groups; adds "
                   "per-group FMR/FNMR at one shared threshold")
    p.add_argument("--group-column", default="group", help="with --pairs --demographics: the group column (default group)")
    p.add_argument("--target-fmr", type=float, default=None, help="with --pairs --demographics: the shared threshold "
                   "gives this FMR (default: the threshold of best accuracy)")
    p.add_argument("--scores-out", help="with --pairs: write every pair's score (first, second, same, fold, score)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "attribute-bias",
        help="attribute bias metrics of saved CelebA logits (Iofinova et al., CVPR 2023)",
        description="Accuracy, AUC, calibration, interdependence, bias amplification and FPR/FNR gaps of a 40-attribute "
        "CelebA classifier's saved logits, labels and training rates from the CelebA annotation files.",
    )
    p.add_argument("--logits", required=True, metavar="TEST.txt", help="np.savetxt file: one row per image of --split "
                   "(file order), one column per attribute of list_attr_celeba.txt")
    p.add_argument("--celeba", required=True, metavar="ROOT", help="folder with list_attr_celeba.txt and "
                   "list_eval_partition.txt (or Anno/, Eval/); no images needed")
    p.add_argument("--val-logits", metavar="VAL.txt", help="logits of the val partition (the recalibrated thresholds)")
    p.add_argument("--protected", metavar="A,B,...", help="protected attributes, comma-separated "
                   "(default Male,Young,Chubby,Pale_Skin)")
    p.add_argument("--threshold", choices=["default", "recalibrated", "recalibrated_per_group"], default="default",
                   help="default: logit > 0; recalibrated: per attribute from --val-logits; recalibrated_per_group: "
                   "per attribute and protected group from --val-logits")
    p.add_argument("--split", choices=["test", "val"], default="test", help="partition --logits holds (default test)")
    p.add_argument("--json", action="store_true", help='print {"attributes", "bias_amplification", "fpr_gap", '
                   '"fnr_gap", "thresholds"} (NaN as null)')
    p.set_defaults(func=_cmd_attribute_bias)

    p = sub.add_parser(
        "prune-study",
        help="sparsity sweep: dense + pruned models x seeds, bias metrics per level (resumable)",
        description="Train dense and pruned models at several sparsities and seeds (the grid runs on the search "
        "driver: re-running continues, nothing completed is retrained), then write DIR/summary.csv, "
        "DIR/summary_by_level.csv and DIR/curves.png.",
    )
    p.add_argument("config", help="study YAML (see configs/prune-synthetic-tiny.yaml)")
    p.add_argument("--out", required=True, metavar="DIR", help="study folder (runs/, study.db, summary files)")
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument("--dask-scheduler", help="address of an existing Dask scheduler (runs on a shared file system)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_prune_study)

    p = sub.add_parser(
        "predict-bias",
        help="rank a dense model's attributes by risk of bias growth under pruning (dense-only warnings)",
        description="From a dense model alone (a run folder, or CelebA test logits with --celeba), rank the "
        "attributes most at risk of bias growth under pruning. With --evidence, a combined score fitted on a "
        "finished prune study (validated leave-one-attribute-out there; STUDY_DIR/risk_validation.csv) flags "
        "attributes; without it, attributes are ranked by dense uncertainty alone. See docs/bias-warnings.md.",
    )
    p.add_argument("sources", nargs="+", metavar="RUN_OR_LOGITS", help="run folder(s) of the dense model, or its "
                   "CelebA test-partition logits file(s) (np.savetxt); several = several seeds of one model")
    p.add_argument("--celeba", metavar="ROOT", help="with logits files: folder with list_attr_celeba.txt and "
                   "list_eval_partition.txt (labels and partition)")
    p.add_argument("--evidence", metavar="STUDY_DIR", help="finished `fairvision prune-study` folder to fit and "
                   "validate the combined score on")
    p.add_argument("--target", choices=["ba", "fpr_gap", "fnr_gap"], default="ba",
                   help="bias metric whose growth is predicted (default ba: |bias amplification|)")
    p.add_argument("--sparsity", type=_finite_float, metavar="P", help="level of the evidence study to predict "
                   "for (default: the one nearest 0.9)")
    p.add_argument("--threshold", type=_finite_float, default=0.02, metavar="X",
                   help="flag growth of |metric| by more than X (default 0.02)")
    p.add_argument("--permutations", type=_positive_int, default=999, metavar="N",
                   help="permutations of the Spearman p-values (default 999)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="permutation seed (default 0)")
    p.add_argument("--validation-out", metavar="CSV", help="where to write the evidence's validation table "
                   "(default STUDY_DIR/risk_validation.csv)")
    p.add_argument("--json", action="store_true", help='print {"ranking", "validation", "warnings", "notes", ...}')
    p.add_argument("--out", metavar="CSV", help="also write the ranked table to this CSV")
    p.set_defaults(func=_cmd_predict_bias)

    p = sub.add_parser(
        "cie",
        help="compression-identified exemplars of a prune study: DIR/cie.csv and DIR/cie_summary.csv",
        description="Samples whose modal prediction over the pruned seeds differs from the dense seeds' (Hooker "
        "et al. 2020), per level; how well dense-only scores find them, their rate per group and protected "
        "attribute, and error rates. See docs/bias-warnings.md.",
    )
    p.add_argument("study", metavar="STUDY_DIR", help="finished `fairvision prune-study` folder")
    p.add_argument("--split", choices=["test", "val"], default="test", help="split of the runs' logits (default test)")
    p.add_argument("--k", type=_positive_int, help="precision@k (default: the number of CIEs of each level)")
    p.add_argument("--out", metavar="DIR", help="folder of cie.csv and cie_summary.csv (default STUDY_DIR)")
    p.set_defaults(func=_cmd_cie)

    p = sub.add_parser(
        "cie-view",
        help="self-contained HTML page of the samples most susceptible to pruning (images inline, filterable)",
    )
    p.add_argument("study", metavar="STUDY_DIR", help="finished `fairvision prune-study` folder")
    p.add_argument("--out", required=True, metavar="HTML", help="page to write, e.g. cie.html")
    p.add_argument("--top-k", type=_non_negative_int, default=48, help="samples of highest dense score (default 48; 0: the CIEs only)")
    p.add_argument("--sparsity", type=_finite_float, metavar="P", help="level of the study (default: nearest 0.9)")
    p.add_argument("--split", choices=["test", "val"], default="test")
    p.add_argument("--max-cie", type=_non_negative_int, default=200, metavar="N",
                   help="show at most N CIEs, most flipped attributes first (default 200)")
    p.set_defaults(func=_cmd_cie_view)

    p = sub.add_parser("zoo", help="train hand-picked backbones x heads x optimizers into one trial store (resumable)")
    p.add_argument("config", help="zoo YAML (see configs/zoo-synthetic.yaml, configs/zoo-frnas-celeba.yaml)")
    p.add_argument("--store", required=True, help="trial store: a SQLite file path or an SQLAlchemy URL")
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument("--dask-scheduler", help="address of an existing Dask scheduler")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_zoo)

    p = sub.add_parser("search", help="multi-objective, multi-fidelity architecture + hyperparameter search (resumable)")
    p.add_argument("config", help="search YAML (see configs/search-synthetic.yaml)")
    p.add_argument("--store", required=True, help="trial store: a SQLite file path or an SQLAlchemy URL")
    p.add_argument("--engine", help="smac | optuna | optuna-nsga2 | optuna-tpe | optuna-gp | random (default: config)")
    p.add_argument("--engine-option", action="append", metavar="KEY=VALUE",
                   help="an option of the engine that runs, e.g. eta=3 (repeatable; value parsed as YAML)")
    p.add_argument("--trials", type=_positive_int, help="finish this many trials in total (default: config)")
    p.add_argument("--seed", type=_non_negative_int, help="the engine's seed (default: config)")
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument("--max-consecutive-crashes", type=_non_negative_int, metavar="K",
                   help="stop with exit status 1 when K trials crash in a row (default: config, 3; 0 = never)")
    p.add_argument("--dask-scheduler", help="address of an existing Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("trials", help="every trial of a search store")
    p.add_argument("store")
    p.add_argument("--study", help="study name (default: the only one)")
    p.add_argument("--json", action="store_true", help='list of {"number", "config", "budget", "status", "objectives"}')
    p.set_defaults(func=_cmd_trials)

    dominance_help = ("which points are on the front: 'pareto' (default) drops a point that another is at least as "
                      "good as in every objective and better in one; 'frnas' is FR-NAS's whatIsPareto: drops a point "
                      "only if another is strictly better in every objective, so weakly dominated points (e.g. same "
                      "Error, worse disparity) stay")
    p = sub.add_parser("pareto", help="Pareto front, hypervolume and Kendall tau of a search store")
    p.add_argument("store")
    p.add_argument("--study", help="study name (default: the only one)")
    p.add_argument("--json", action="store_true", help='list of {"config", "objectives", ...} on the front')
    p.add_argument("--plot", metavar="OUT.png", help="front, hypervolume over trials, parallel coordinates")
    p.add_argument("--baselines", metavar="CSV_OR_DB", action="append",
                   help="baseline models to overlay on the --plot front: a CSV (columns name + objectives, optional "
                   "seed, source) or another trial store, e.g. a zoo or mitigation study (repeatable); the rows of "
                   "one name are drawn once, mean +- std over seeds, and written to OUT_baselines.csv by the plot")
    p.add_argument("--dominance", choices=["pareto", "frnas"], default="pareto", help=dominance_help)
    p.add_argument("--reference", type=_finite_float, nargs="+", help="hypervolume reference point (default: Error 1, "
                   "others worst observed + 10%%)")
    p.set_defaults(func=_cmd_pareto)

    p = sub.add_parser(
        "analyze",
        help="hyperparameter analysis: ANOVA, Tukey HSD and fronts per head/optimizer (store or FR-NAS phase-1 CSV)",
        description="For every objective, the linear model objective ~ head + optimizer (+ backbone): ANOVA F/p per "
        "factor, Tukey HSD of every pair of levels, and the Pareto front of the first objective against each other "
        "one per (head, optimizer) combination. Input: a search store (complete trials at the largest budget) or a "
        "CSV in FR-NAS's vgg_val_phase1.csv format (model names BACKBONE_HEAD_OPTIMIZER[_LR_SCHEDULE]).",
    )
    p.add_argument("source", metavar="DB_OR_CSV", help="trial store (SQLite path or SQLAlchemy URL) or a .csv file")
    p.add_argument("--study", help="study name of a store (default: the only one)")
    p.add_argument("--objectives", nargs="+", metavar="NAME",
                   help="objective columns, the first is the fronts' x axis (default: all; a store's study objectives)")
    p.add_argument("--factors", nargs="+", metavar="NAME",
                   help="factor columns (default: head, optimizer, backbone where present)")
    p.add_argument("--alpha", type=_finite_float, default=0.05, help="family-wise error rate of Tukey HSD (default 0.05)")
    p.add_argument("--anova-type", type=int, choices=[1, 2], default=2,
                   help="2: each factor adjusted for the others (default); 1: sequential, in the order of --factors")
    p.add_argument("--max-error", type=_finite_float, metavar="E",
                   help="leave out rows with Error above E (non-converged models; FR-NAS's notebook used 0.75)")
    p.add_argument("--dominance", choices=["pareto", "frnas"], default="pareto", help=dominance_help)
    p.add_argument("--json", action="store_true", help='{"anova": {objective: {factor: {"F", "p", ...}}}, '
                   '"tukey": {objective: {factor: [{"a", "b", "diff", "p_adj", "reject", ...}]}}, "fronts": ..., ...}')
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("retrain", help="retrain the best front configurations with several seeds; test-split mean/std")
    p.add_argument("store")
    p.add_argument("--study", help="study name (default: the only one)")
    p.add_argument("--top", type=_positive_int, default=3, help="front configurations to retrain (knee first)")
    p.add_argument("--pick", action="append", metavar="KNEE_OR_OBJECTIVE",
                   help="instead of --top: retrain this front member, 'knee' or the best on an objective "
                        "(e.g. --pick knee --pick 'Log-Odds Gap'); repeatable")
    p.add_argument("--seeds", type=_positive_int, default=3, help="seeds per configuration")
    p.add_argument("--out", default="runs/retrain")
    p.add_argument("--split", choices=["train", "val", "test", "all"], default="test",
                   help="split the retrained models are scored on (default test)")
    p.add_argument("--dominance", choices=["pareto", "frnas"], default="pareto", help=dominance_help)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_retrain)

    p = sub.add_parser(
        "report",
        help="one self-contained HTML report of training runs, trial stores and pruning studies",
        description="Detects each SOURCE -- a training run folder, a trial store (search, zoo, mitigation studies) or "
        "a pruning study folder -- and writes one HTML file that opens offline (inline CSS and images, no scripts): "
        "fronts with baselines, hypervolume and Kendall tau; per-group tables with bootstrap intervals and per-epoch "
        "curves of runs; bias vs sparsity curves, dense-only warnings and susceptible samples of pruning studies; "
        "the commands and configs behind each figure. The figures are also written to OUT_files/*.png.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="run folder, trial store (.db or SQLAlchemy URL) or "
                   "pruning study folder (repeatable, any mix)")
    p.add_argument("--out", required=True, metavar="REPORT.html", help="the HTML file to write")
    p.add_argument("--bootstrap", type=_bootstrap_count, default=1000,
                   help="bootstrap replicates of the runs' per-group intervals (0 = none, else >= 2; default 1000)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--top-k", type=_positive_int, default=24,
                   help="susceptible samples shown per pruning study, highest dense score first (default 24)")
    p.add_argument("--title", help="the report's title (default: the sources' names)")
    p.set_defaults(func=_cmd_report)
    return parser


def _fix_hash_seed(args: argparse.Namespace) -> None:
    """SMAC's proposals depend on Python's string hashing; a search (and its exact resume) is
    reproducible only with a fixed ``PYTHONHASHSEED``. When the command line runs ``search`` without
    one, re-run this process with ``PYTHONHASHSEED=0`` (set it yourself to choose another)."""
    if args.command in ("search", "prune-study") and os.environ.get("PYTHONHASHSEED") is None and not sys.flags.ignore_environment:
        os.environ["PYTHONHASHSEED"] = "0"
        # the same interpreter flags and script (sys.orig_argv), so module lookup is exactly as now
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _one_line_warnings(command: str) -> None:
    """fairvision's own warnings (e.g. an undefined metric) as one line each; others as usual."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("fairvision"):
            print(f"fairvision {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # a real command line, not a call from Python
        _fix_hash_seed(args)
    try:
        with warnings.catch_warnings():
            _one_line_warnings(args.command)
            return args.func(args)
    except SearchFailed as exc:  # the input was fine, the trials crashed: exit 1
        print(f"fairvision {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except FairvisionError as exc:
        print(f"fairvision {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output path, missing folder, full disk: a clear line, not a traceback
        print(f"fairvision {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
