"""The demo's two sizes: ``full`` (the product's whole story, about 12 min on 2 cores) and ``quick`` (< 3 min).

A :class:`DemoProfile` holds the sizes only; :func:`stage_configs` turns it into the exact configs every stage
runs (a search config, zoo configs, prune study configs), which are also written next to the results so that
each figure of the report names the config that produced it. The data is the known-bias benchmark
(``configs/synthetic-bias.yaml``, :data:`BENCHMARK`): four groups that carry identity through different
channels, so that *which* group a model fails depends on its architecture.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BENCHMARK", "MITIGATIONS", "PROFILES", "DemoProfile", "stage_configs"]

#: The known-bias benchmark's training config (identical to ``configs/synthetic-bias.yaml``; a test keeps
#: them equal). Groups: A control; B identity only in the lower face (headscarf on 25% of images); C 68% less
#: contrast; D identity only in the upper face plus a faint skin colour.
BENCHMARK: dict[str, Any] = {
    "data": {
        "kind": "synthetic", "root": None,
        "synthetic": {
            "n_identities": 240, "images_per_identity": 8, "size": 32, "seed": 0,
            "group_difficulty": {"A": 0.0, "B": 0.0, "C": 0.8, "D": 0.0},
            "difficulty_shrink": 0.0, "difficulty_nuisance": 0.0, "difficulty_contrast": 0.85,
            "group_cues": {"B": {"region": "lower", "occlusion": "upper", "occlusion_p": 0.25}},
        },
        "heldout": {"seed": 1000, "n_identities": 480, "images_per_identity": 6},
        "group_column": "group", "image_size": 32, "val_fraction": 0.5, "test_fraction": 0.5,
        "eval_protocol": None, "num_workers": 0,
    },
    "model": {"name": "frnas_dpn", "edges": [1, 0, 1], "width": 0.125, "embedding_dim": 128},
    "head": {"name": "CosFace"},
    "loss": {"name": "ce"},
    "optim": {"name": "AdamW", "lr": 0.002, "weight_decay": 0.05, "scheduler": "cosine", "warmup_epochs": 1,
              "min_lr": 0.0},
    "train": {"epochs": 6, "batch_size": 32, "seed": 0, "precision": "fp32", "channels_last": False,
              "compile": False, "grad_clip": None, "device": "auto", "eval_every": 1, "deterministic": True},
}

#: The bias-mitigation baselines, as overrides of a training config (``mitigation:`` plug-in). The majority /
#: better-served group of the benchmark is the control group ``A``.
MITIGATIONS: dict[str, list[str]] = {
    "none": [],
    "flipped": ["mitigation.name=flipped", "mitigation.group=A"],
    "angular": ["mitigation.name=angular", "mitigation.group=A"],
    "discriminator": ["mitigation.name=discriminator"],
}

#: The search's per-optimizer defaults (``configs/search-synthetic.yaml``): SGD at the space's learning rates
#: only trains this small network with gradient clipping; Adam's coupled L2 decay must be small.
OPTIMIZER_OVERRIDES = {
    "SGD": ["optim.weight_decay=5.0e-4", "train.grad_clip=1.0"],
    "Adam": ["optim.weight_decay=0.0"],
    "AdamW": ["optim.weight_decay=0.05"],
}

FAIRNESS = "Log-Odds Gap"
OBJECTIVES = ["Error", FAIRNESS]


class DemoProfile(BaseModel):
    """Sizes of every stage of the demo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["full", "quick"]
    n_identities: int = Field(ge=8, description="training identities of the synthetic faces")
    images_per_identity: int = Field(ge=2)
    heldout_identities: int = Field(ge=8, description="val + test identities (a separately generated set)")
    heldout_images: int = Field(ge=2)
    trials: int = Field(ge=2, description="search trials (SMAC, ParEGO, Hyperband)")
    n_initial: int = Field(ge=1, description="random configurations before the surrogate")
    min_budget: float = Field(gt=0)
    max_budget: float = Field(gt=0)
    retrain_seeds: int = Field(ge=1, description="seeds of the retrained knee and fairest front members")
    baseline_seeds: int = Field(ge=1, description="seeds of each zoo / mitigation baseline")
    zoo: list[str] = Field(min_length=1, description="timm backbones of the zoo")
    zoo_epochs: int = Field(ge=1)
    prune_sparsities: list[float] = Field(min_length=1, description="identification sweep of the best model")
    attribute_sparsities: list[float] = Field(min_length=1, description="attribute-model sweep")
    attribute_seeds: int = Field(ge=1)
    attribute_epochs: int = Field(ge=1)


PROFILES: dict[str, DemoProfile] = {
    "full": DemoProfile(
        name="full", n_identities=240, images_per_identity=8, heldout_identities=480, heldout_images=6,
        trials=24, n_initial=8, min_budget=1.5, max_budget=6, retrain_seeds=2, baseline_seeds=1,
        zoo=["resnet18", "mobilenetv3_small_100"], zoo_epochs=6,
        prune_sparsities=[0.5, 0.8, 0.9, 0.95],
        attribute_sparsities=[0.8, 0.9, 0.95, 0.98, 0.99], attribute_seeds=2, attribute_epochs=6),
    "quick": DemoProfile(
        name="quick", n_identities=80, images_per_identity=6, heldout_identities=160, heldout_images=4,
        trials=8, n_initial=4, min_budget=1, max_budget=2, retrain_seeds=2, baseline_seeds=1,
        zoo=["resnet18"], zoo_epochs=2,
        prune_sparsities=[0.5, 0.9],
        attribute_sparsities=[0.9, 0.99], attribute_seeds=2, attribute_epochs=3),
}


def benchmark_config(profile: DemoProfile, data_root: str) -> dict[str, Any]:
    """The known-bias benchmark's training config at the profile's size, its faces cached in ``data_root``."""
    cfg = copy.deepcopy(BENCHMARK)
    data = cfg["data"]
    data["root"] = data_root
    data["synthetic"].update(n_identities=profile.n_identities, images_per_identity=profile.images_per_identity)
    data["heldout"].update(n_identities=profile.heldout_identities, images_per_identity=profile.heldout_images)
    cfg["train"].update(epochs=int(profile.max_budget + 0.999), device="cpu")
    return cfg


def stage_configs(profile: DemoProfile, data_root: str) -> dict[str, dict[str, Any]]:
    """The config of every stage: ``search`` (a search config), ``zoo`` and ``mitigation-<name>`` (zoo
    configs), ``prune-attributes`` (a prune study config). The identification sweep's config depends on the
    search's result and is made by the pipeline from the chosen model's run config."""
    base = benchmark_config(profile, data_root)
    epochs = int(profile.max_budget + 0.999)
    configs: dict[str, dict[str, Any]] = {
        "search": {
            "train": base, "overrides": ["train.eval_every=100"], "space": "frnas", "engine": "smac",
            "engine_options": {"smac": {"eta": 2, "n_initial": profile.n_initial}}, "objectives": OBJECTIVES,
            "optimizer_overrides": OPTIMIZER_OVERRIDES, "trials": profile.trials, "min_budget": profile.min_budget,
            "max_budget": profile.max_budget, "seed": 0, "study": "demo-search", "retries": 1,
        },
        "zoo": {
            "train": base, "overrides": ["train.eval_every=100"], "backbones": list(profile.zoo),
            "heads": ["CosFace"], "optimizers": [{"name": "AdamW", "lr": 0.001}],
            "seeds": list(range(profile.baseline_seeds)), "epochs": profile.zoo_epochs, "objectives": OBJECTIVES,
            "optimizer_overrides": {"AdamW": OPTIMIZER_OVERRIDES["AdamW"]}, "study": "zoo",
        },
    }
    for method, overrides in MITIGATIONS.items():
        configs[f"mitigation-{method}"] = {
            "train": base, "overrides": ["train.eval_every=100", *overrides], "backbones": ["frnas_dpn"],
            "heads": ["CosFace"], "optimizers": [{"name": "AdamW", "lr": 0.002}],
            "seeds": list(range(profile.baseline_seeds)), "epochs": epochs, "objectives": OBJECTIVES,
            "study": f"mitigation-{method}",
        }
    configs["prune-attributes"] = {
        "train": {
            "task": {"name": "attribute", "protected": ["Male", "Young", "Chubby", "Pale_Skin"]},
            "data": {"kind": "synthetic", "root": data_root,
                     "synthetic": {"n_identities": 120, "images_per_identity": 4, "size": 32, "seed": 0},
                     "heldout": {"seed": 1000, "n_identities": 120, "images_per_identity": 2},
                     "image_size": 32, "val_fraction": 0.5, "test_fraction": 0.5},
            "model": {"name": "resnet18",
                      "kwargs": {"embedding": False, "channels": [16, 32, 64, 128], "stem_width": 16}},
            "head": {"name": "Linear"}, "loss": {"name": "bce"},
            "optim": {"name": "Adam", "lr": 0.003, "weight_decay": 0.0, "scheduler": "cosine"},
            "train": {"epochs": profile.attribute_epochs, "batch_size": 32, "hflip": 0.5, "device": "cpu"},
        },
        "sweep": {"sparsities": list(profile.attribute_sparsities), "seeds": profile.attribute_seeds,
                  "schedule": "chained", "prune": {"method": "gmp", "scope": "global", "start": 0, "end": 2,
                                                   "freq": 1},
                  "finetune": ["optim.lr=0.001", "train.epochs=2"]},
        "study": "demo-prune-attributes",
    }
    return configs


def identification_sweep(profile: DemoProfile, run_config: dict[str, Any]) -> dict[str, Any]:
    """The prune study of a chosen face-identification model (its run's config), one seed, GMP *from scratch*:
    every level trains as many epochs as the dense model, pruning along the cubic schedule over the first 3/4
    of them, so that the levels differ in sparsity only (no extra fine-tuning epochs)."""
    train = copy.deepcopy(run_config)
    train.pop("prune", None)
    train.setdefault("train", {})["eval_every"] = 100
    epochs = int(train["train"].get("epochs", 1))
    return {
        "train": train,
        "sweep": {"sparsities": list(profile.prune_sparsities), "seeds": 1, "schedule": "scratch",
                  "prune": {"method": "gmp", "scope": "global", "start": 0, "end": max(1, (3 * epochs) // 4),
                            "freq": 1}},
        "study": "demo-prune-identification",
    }
