"""Command-line interface: thin wrappers over the library (``fairvision --help``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fairvision.errors import FairvisionError

__all__ = ["main", "build_parser"]


def _cmd_fairness(args: argparse.Namespace) -> int:
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
        print(json.dumps(out[columns[0]] if len(columns) == 1 else out, indent=2))
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
    from fairvision.metrics._io import read_csv_checked
    from fairvision.report import print_fairness

    path = Path(args.embeddings)
    try:
        emb = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read embeddings as a .npy array ({exc})") from None
    labels = read_csv_checked(args.labels, what="labels")
    cols = [args.identity_column] + ([args.group_column] if args.group_column else [])
    missing = [c for c in cols if c not in labels.columns]
    if missing:
        raise DatasetError(f"{args.labels}: no column(s) {missing}; columns are {list(labels.columns)}")
    if emb.ndim != 2 or len(emb) != len(labels):
        raise DatasetError(
            f"{path} has shape {emb.shape} but {args.labels} has {len(labels)} rows: need one row per embedding"
        )
    try:
        ranks = identification_ranks(emb, labels[args.identity_column], chunk_size=args.chunk_size, device=args.device)
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

    run_demo(args.out, seed=args.seed, bootstrap=args.bootstrap)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fairvision",
        description="Accurate and fair vision models: identification ranks, FR-NAS fairness metrics, synthetic faces.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fairness", help="FR-NAS fairness metrics from a per-sample rank file joined with metadata")
    p.add_argument("--ranks", required=True, help="CSV of per-sample ranks, e.g. FR-NAS 'ids, epoch_19, ...'")
    p.add_argument("--rank-column", action="append", help="rank column(s) to score (repeatable; default: all)")
    p.add_argument("--groups", required=True, help="metadata CSV with the key and group columns")
    p.add_argument("--group-column", required=True, help="column of --groups holding the group, e.g. gender_expression")
    p.add_argument("--on", required=True, help="key column present in both files, e.g. ids")
    p.add_argument("--identity-column", help="identity column of --groups (needed by --bootstrap; default identity/label)")
    p.add_argument("--reference-group", help="denominator group of the ratios (default: first in sorted order)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap replicates over identities for 95%% CIs")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--json", action="store_true", help="print one JSON object (one per column if several)")
    p.set_defaults(func=_cmd_fairness)

    p = sub.add_parser("ranks", help="exact leave-one-out identification ranks of saved embeddings")
    p.add_argument("embeddings", help=".npy file of shape (N, d)")
    p.add_argument("--labels", required=True, help="CSV with one row per embedding: identity (and group) columns")
    p.add_argument("--out", required=True, help="output CSV: ids, identity, [group], rank_by_id, rank_by_image")
    p.add_argument("--identity-column", default="identity")
    p.add_argument("--group-column", default=None, help="if given, also print fairness metrics by this column")
    p.add_argument("--chunk-size", type=int, default=None, help="queries per chunk (memory ~ chunk x N floats)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda")
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

    p = sub.add_parser("demo", help="synthesise faces with a bias, embed, rank and score them (what `make demo` runs)")
    p.add_argument("--out", default="runs/demo", help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FairvisionError as exc:
        print(f"fairvision {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
