"""The demo (``fairvision demo``, ``make demo``): a known-bias benchmark, end to end.

1. Synthesise faces of the known-bias benchmark (group ``B``: identity only in
   the lower face; group ``C``: low contrast; ``A``/``D``: controls) and write
   them to disk in the identity-folder layout the real loaders read.
2. Load them back with :func:`load_identity_folders`, split identities into a
   fitting half and a held-out evaluation half.
3. Embed the held-out images with a fixed, training-free feature extractor
   (PCA of pixels fitted on the other half), with flip test-time augmentation.
4. Exact leave-one-out identification ranks, FR-NAS fairness metrics by group
   with identity-bootstrap confidence intervals, and verification FMR/FNMR.
5. Print readable tables; write ``metrics.json``, ``groups.csv``,
   ``pairs.csv``, ``ranks.csv``, ``verification.csv`` and ``groups.png``.
6. Train a small CNN (the FR-NAS DPN at width 1/8, CosFace, AdamW) with the
   training engine on the *same* fitting identities, evaluate it on the same
   held-out images, and print it next to the pixel-PCA baseline; its metrics
   go to ``metrics.json["trained"]`` and its run folder to ``train/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console

from fairvision._io import write_csv, write_json
from fairvision.data import FaceImageDataset, load_identity_folders, split_identities
from fairvision.data.synthetic import SyntheticFacesConfig, write_synthetic
from fairvision.metrics import fairness_metrics, identification_ranks, verification_rates
from fairvision.models import PixelPCA, embed
from fairvision.report import print_fairness
from fairvision.report.plots import plot_group_metrics

__all__ = ["DEMO_CONFIG", "DEMO_TRAINING", "run_demo"]

#: The known-bias benchmark's groups (configs/synthetic-bias.yaml, README "Known-bias benchmark"):
#: B carries identity only in the lower face (a headscarf on 25% of images), C has 68% less contrast;
#: A and D are controls. The pre-activation DPN trained below serves C worst (where normalisation sits).
DEMO_CONFIG = dict(
    n_identities=240,
    images_per_identity=8,
    size=48,
    group_difficulty={"A": 0.0, "B": 0.0, "C": 0.8, "D": 0.0},
    difficulty_shrink=0.0,
    difficulty_nuisance=0.0,
    difficulty_contrast=0.85,
    group_cues={"B": {"region": "lower", "occlusion": "upper", "occlusion_p": 0.25}},
)


#: The trained model of the demo (engine config sections; data and seeds are filled in by run_demo).
DEMO_TRAINING = dict(
    model={"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.125, "embedding_dim": 128},
    head={"name": "CosFace"},
    loss={"name": "ce"},
    optim={"name": "AdamW", "lr": 0.002, "weight_decay": 0.05, "scheduler": "cosine", "warmup_epochs": 1},
    train={"epochs": 8, "batch_size": 32, "device": "cpu", "eval_every": 2},
)


def run_demo(
    out: str | Path,
    *,
    seed: int = 0,
    bootstrap: int = 1000,
    console: Console | None = None,
    train_model: bool = True,
) -> dict:
    """Run the demo into ``out``; returns the metrics dict also written to ``metrics.json``.

    Every argument is checked before any work: ``bootstrap`` is 0 (no
    confidence intervals) or at least 2, ``seed`` a whole number in
    ``0 .. 2**63 - 1`` (ConfigError otherwise).
    """
    from fairvision.errors import ConfigError
    from fairvision.metrics._checks import check_bootstrap

    try:
        check_bootstrap(bootstrap)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed}")
    console = console or Console()
    out = Path(out)
    config = SyntheticFacesConfig(**DEMO_CONFIG, seed=seed)
    console.print(
        f"[bold]1/5[/] synthesising {config.n_images} faces of {config.n_identities} identities "
        f"(known-bias benchmark: B identity in the lower face only, C low contrast; A, D controls)"
    )
    data_dir = write_synthetic(out / "faces", config, layout="folders", progress=True)
    faces = load_identity_folders(data_dir / "images", demographics=data_dir / "demographics.csv")
    parts = split_identities(faces, fractions=(0.5, 0.5), names=("fit", "eval"), stratify="group", seed=seed)
    fit, held_out = parts["fit"], parts["eval"]

    console.print(f"[bold]2/5[/] fitting pixel PCA on {len(fit)} images of other identities; embedding {len(held_out)}")
    fit_images = torch.stack([img for img, _ in FaceImageDataset(fit, size=config.size)])
    model = PixelPCA.fit(fit_images, dim=64)
    emb = embed(model, FaceImageDataset(held_out, size=config.size), batch_size=256)

    console.print("[bold]3/5[/] exact leave-one-out identification ranks")
    frame = held_out.frame
    ranks = identification_ranks(emb, frame["identity"])
    report = fairness_metrics(
        ranks.rank_by_id, frame["group"], identities=frame["identity"], bootstrap=bootstrap, seed=seed
    )
    verification = verification_rates(emb, frame["identity"], frame["group"], target_fmr=1e-2)

    console.print("[bold]4/5[/] results (held-out identities; B: identity only in the lower face, C: low contrast)")
    print_fairness(report, title="Identification fairness (rank_by_id)", console=console)
    console.print(verification.round(4).to_string())
    console.print(f"threshold {verification.attrs['threshold']:.4f} for FMR {verification.attrs['target_fmr']}")

    result = report.to_dict()
    result["pairs"] = report.pairs.to_dict(orient="records")
    result["summary"] = report.summary.to_dict()
    result["verification"] = {
        "threshold": verification.attrs["threshold"],
        "target_fmr": verification.attrs["target_fmr"],
        "groups": verification.to_dict(orient="index"),
    }
    result["data"] = {"config": config.model_dump(), "images": len(held_out), "identities": int(frame["identity"].nunique())}
    write_json(out / "metrics.json", result)
    write_csv(out / "groups.csv", report.by_group, index=True)
    write_csv(out / "pairs.csv", report.pairs)
    write_csv(out / "verification.csv", verification, index=True)
    ranks_frame = pd.DataFrame(
        {
            "ids": np.arange(len(frame)),
            "identity": frame["identity"],
            "group": frame["group"],
            "path": frame["path"],
            "rank_by_id": ranks.rank_by_id,
            "rank_by_image": ranks.rank_by_image,
        }
    )
    write_csv(out / "ranks.csv", ranks_frame)
    plot_group_metrics(report, out / "groups.png", title="Synthetic faces, pixel-PCA embedding")
    if train_model:
        result["trained"] = _train_and_compare(out, data_dir, held_out, report, config, seed, bootstrap, console)
        write_json(out / "metrics.json", result)
    console.print(f"wrote {out}/metrics.json, groups.csv, pairs.csv, ranks.csv, verification.csv, groups.png")
    return result


def _train_and_compare(out: Path, data_dir: Path, held_out, baseline, config, seed: int, bootstrap: int, console: Console) -> dict:
    """Step 5: train DEMO_TRAINING on the fitting identities with the engine; score it on the held-out images."""
    import shutil

    from fairvision.train import RunConfig, train

    run_dir = out / "train"
    shutil.rmtree(run_dir, ignore_errors=True)  # always a fresh run (the faces were just rewritten)
    cfg = RunConfig.from_dict(
        {
            # the engine's stratified identity split with fractions (0.5, 0.5, 0) and this seed is exactly
            # the demo's fit / held-out split above
            "data": {
                "kind": "folders",
                "root": str(data_dir / "images"),
                "demographics": str(data_dir / "demographics.csv"),
                "group_column": "group",
                "image_size": config.size,
                "val_fraction": 0.5,
                "test_fraction": 0.0,
                "split_seed": seed,
                "eval_protocol": None,
            },
            **DEMO_TRAINING,
            "train": {**DEMO_TRAINING["train"], "seed": seed},
        },
        source="demo training config",
    )
    console.print(
        f"[bold]5/5[/] training {cfg.model.name} (width {cfg.model.width}, {cfg.head.name}, {cfg.optim.name}) "
        f"for {cfg.train.epochs} epochs on the fitting identities; validation on the held-out ones"
    )
    result = train(cfg, run_dir, progress=False, console=console)
    trained = dict(result.metrics)
    if not result.diverged:
        epoch, files = result.metrics["epoch"], result.layout
        ranks = pd.read_csv(files.ranks)
        meta = pd.read_csv(files.val_meta, dtype={"identity": str})
        if sorted(meta["path"]) != sorted(held_out.frame["path"]):  # pragma: no cover - guards the comment above
            raise RuntimeError("demo: the engine's validation images differ from the held-out images")
        report = fairness_metrics(
            ranks[files.rank_column(epoch)], meta["group"], identities=meta["identity"], bootstrap=bootstrap, seed=seed
        )
        trained = {**report.to_dict(), "epoch": epoch, "status": result.status}
        console.print(_comparison_table(baseline, report))
    else:  # pragma: no cover - the demo config does not diverge
        console.print(f"the trained model {result.status}")
    trained["config"] = cfg.to_dict()
    trained["run_dir"] = str(run_dir)
    return trained


def _comparison_table(baseline, trained):
    from rich.table import Table

    from fairvision.metrics import METRIC_NAMES

    def fmt(x) -> str:
        return "n/a" if x is None or np.isnan(x) else f"{x:.4f}"

    def ci(report, name) -> str:
        if report.ci is None:
            return ""
        lo, hi = report.ci.loc[name, ["lower", "upper"]]
        return f" [{fmt(lo)}, {fmt(hi)}]"

    table = Table(title="Held-out identities: pixel PCA vs trained CNN (95% CI)")
    table.add_column("metric")
    table.add_column("pixel PCA", justify="right")
    table.add_column("trained CNN", justify="right")
    for name in METRIC_NAMES:
        table.add_row(name, fmt(baseline.metrics[name]) + ci(baseline, name), fmt(trained.metrics[name]) + ci(trained, name))
    for g in baseline.by_group.index:
        table.add_row(
            f"{g}: error / mean rank",
            f"{fmt(baseline.by_group.loc[g, 'error'])} / {baseline.by_group.loc[g, 'mean_rank']:.2f}",
            f"{fmt(trained.by_group.loc[g, 'error'])} / {trained.by_group.loc[g, 'mean_rank']:.2f}",
        )
    return table
