"""The trigger rows of a backdoor sparsity study (``data.trigger``), per level: mean ± std over seeds.

Run after ``fairvision prune-study configs/prune-synthetic-backdoor.yaml --out runs/prune-backdoor``::

    .venv/bin/python benchmarks/backdoor_table.py runs/prune-backdoor [--csv OUT.csv]

Reads ``DIR/summary.csv`` and the trigger (column, target) from the dense run's ``config.yaml``. For each
threshold policy (``default``, ``recalibrated``) and requested level, over seeds: the target's accuracy and AUC,
its bias amplification and FPR / FNR gaps with the trigger as the protected attribute (group 1 = triggered;
FPR gap > 0 and FNR gap < 0 mean the model predicts the target from the trigger), and the mean |BA| and mean
|FNR gap| of the other attributes with respect to the trigger (where defined). Prints a markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

METRICS = ("accuracy", "auc", "bias_amplification", "fpr_gap", "fnr_gap")


def trigger_table(study: Path) -> tuple[pd.DataFrame, str, str]:
    """Per (threshold, requested): mean and std over seeds of the target's and the other attributes' metrics."""
    summary = pd.read_csv(study / "summary.csv")
    cfg = yaml.safe_load((study / "runs" / "dense-seed0" / "config.yaml").read_text())
    trigger = cfg["data"]["trigger"]
    column, target = trigger["column"], trigger["target"]
    rows = summary[(summary["protected"] == column) & summary["threshold"].isin(["default", "recalibrated"])]
    keys = ["threshold", "requested", "seed"]
    on_target = rows[rows["attribute"] == target].set_index(keys)[["sparsity", *METRICS]]
    others = rows[rows["attribute"] != target].assign(
        others_abs_ba=lambda f: f["bias_amplification"].abs(), others_abs_fnr_gap=lambda f: f["fnr_gap"].abs())
    per_seed = on_target.join(others.groupby(keys)[["others_abs_ba", "others_abs_fnr_gap"]].mean()).reset_index()
    grouped = per_seed.drop(columns="seed").groupby(["threshold", "requested"], sort=False)
    table = grouped.mean().join(grouped.std(ddof=1).add_suffix("_std"))
    table["seeds"] = grouped.size()
    return table.reset_index(), column, target


def markdown(table: pd.DataFrame, threshold: str) -> str:
    """One markdown table (mean ± std) of ``threshold``'s rows."""
    cols = ("accuracy", "auc", "bias_amplification", "fpr_gap", "fnr_gap", "others_abs_ba", "others_abs_fnr_gap")
    head = ["level", "target acc", "target AUC", "BA", "FPR gap", "FNR gap", "others mean |BA|",
            "others mean |FNR gap|"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in table[table["threshold"] == threshold].iterrows():
        level = "dense" if row["requested"] == 0 else f"{row['requested']:g}"
        cells = [f"{row[c]:.3f} ± {row[c + '_std']:.3f}" if pd.notna(row[c]) else "n/a" for c in cols]
        lines.append("| " + " | ".join([level, *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--csv", type=Path, default=None, help="write the table here")
    args = parser.parse_args()
    table, column, target = trigger_table(args.study)
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    for threshold in ("default", "recalibrated"):
        print(f"\n{target} vs protected {column}, threshold {threshold} (mean ± std over seeds, test split)\n")
        print(markdown(table, threshold))


if __name__ == "__main__":
    main()
