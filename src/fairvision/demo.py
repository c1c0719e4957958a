"""The demo (``fairvision demo``, ``make demo``): a known-bias benchmark, end to end.

1. Synthesise faces whose group ``D`` is made harder to identify (lower
   contrast, less distinctive traits, more nuisance) and write them to disk in
   the identity-folder layout the real loaders read.
2. Load them back with :func:`load_identity_folders`, split identities into a
   fitting half and a held-out evaluation half.
3. Embed the held-out images with a fixed, training-free feature extractor
   (PCA of pixels fitted on the other half), with flip test-time augmentation.
4. Exact leave-one-out identification ranks, FR-NAS fairness metrics by group
   with identity-bootstrap confidence intervals, and verification FMR/FNMR.
5. Print readable tables; write ``metrics.json``, ``groups.csv``,
   ``pairs.csv``, ``ranks.csv``, ``verification.csv`` and ``groups.png``.
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

__all__ = ["DEMO_CONFIG", "run_demo"]

#: Groups A-C at difficulty 0, group D harder: the known bias the demo must reveal.
DEMO_CONFIG = dict(
    n_identities=240,
    images_per_identity=8,
    size=48,
    group_difficulty={"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.7},
)


def run_demo(out: str | Path, *, seed: int = 0, bootstrap: int = 1000, console: Console | None = None) -> dict:
    """Run the demo into ``out``; returns the metrics dict also written to ``metrics.json``."""
    console = console or Console()
    out = Path(out)
    config = SyntheticFacesConfig(**DEMO_CONFIG, seed=seed)
    console.print(
        f"[bold]1/4[/] synthesising {config.n_images} faces of {config.n_identities} identities "
        f"(difficulty by group: {config.group_difficulty})"
    )
    data_dir = write_synthetic(out / "faces", config, layout="folders", progress=True)
    faces = load_identity_folders(data_dir / "images", demographics=data_dir / "demographics.csv")
    parts = split_identities(faces, fractions=(0.5, 0.5), names=("fit", "eval"), stratify="group", seed=seed)
    fit, held_out = parts["fit"], parts["eval"]

    console.print(f"[bold]2/4[/] fitting pixel PCA on {len(fit)} images of other identities; embedding {len(held_out)}")
    fit_images = torch.stack([img for img, _ in FaceImageDataset(fit, size=config.size)])
    model = PixelPCA.fit(fit_images, dim=64)
    emb = embed(model, FaceImageDataset(held_out, size=config.size), batch_size=256)

    console.print("[bold]3/4[/] exact leave-one-out identification ranks")
    frame = held_out.frame
    ranks = identification_ranks(emb, frame["identity"])
    report = fairness_metrics(
        ranks.rank_by_id, frame["group"], identities=frame["identity"], bootstrap=bootstrap, seed=seed
    )
    verification = verification_rates(emb, frame["identity"], frame["group"], target_fmr=1e-2)

    console.print("[bold]4/4[/] results (held-out identities; group D was made harder)")
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
    console.print(f"wrote {out}/metrics.json, groups.csv, pairs.csv, ranks.csv, verification.csv, groups.png")
    return result
