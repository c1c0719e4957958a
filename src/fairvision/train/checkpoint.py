"""Checkpoints: atomic writes, ``weights_only`` loading, RNG state capture and restore.

A checkpoint is a plain dict of tensors and Python primitives, so that
``torch.load(path, weights_only=True)`` reads it: the state dicts of model,
head, optimizer and scheduler, the number of completed epochs, the run status,
the RNG states (torch CPU and CUDA, numpy, Python ``random`` and the
DataLoader's shuffling generator, each as a tensor or plain values), the
resolved config, the history records and the per-epoch validation ranks.
It is written to a temporary file beside the checkpoint
(:attr:`fairvision.train.RunLayout.checkpoint`) and moved into
place with ``os.replace``: a crash leaves the previous complete checkpoint.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fairvision._io import atomic_write
from fairvision.errors import ConfigError

__all__ = ["FORMAT", "capture_rng", "restore_rng", "save_checkpoint", "load_checkpoint", "dense_state_dict", "load_initial_weights"]

FORMAT = "fairvision-train-checkpoint/1"


def capture_rng(loader_generator: torch.Generator | None = None) -> dict[str, Any]:
    """All RNG states as tensors and plain values (``weights_only``-loadable)."""
    version, state, gauss = random.getstate()
    np_state = np.random.get_state()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(version), "state": torch.tensor(state, dtype=torch.int64), "gauss": gauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if loader_generator is not None:
        out["loader"] = loader_generator.get_state()
    return out


def restore_rng(states: dict[str, Any], loader_generator: torch.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = states["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss"]))
    if states.get("cuda") and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    if loader_generator is not None and "loader" in states:
        loader_generator.set_state(states["loader"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format tag) to ``path`` atomically."""
    payload = {"format": FORMAT, **state}
    return atomic_write(path, lambda p: torch.save(payload, p))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code runs); ConfigError if it is not one."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # unpickling errors come in many types
        raise ConfigError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a fairvision training checkpoint")
    return state


def dense_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with ``torch.nn.utils.prune`` re-parametrisations folded: ``X_orig`` and ``X_mask``
    become ``X = X_orig * X_mask`` (pruned weights are exact zeros), so it loads into an unpruned module."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith("_mask") and key[: -len("_mask")] + "_orig" in state:
            continue
        if key.endswith("_orig") and key[: -len("_orig")] + "_mask" in state:
            base = key[: -len("_orig")]
            out[base] = value * state[base + "_mask"].to(value.dtype)
        else:
            out[key] = value
    return out


def load_initial_weights(source: str | Path, model: torch.nn.Module, head: torch.nn.Module) -> None:
    """Load model and head weights of the run folder (or checkpoint file) ``source`` into new modules
    (``train.init_from``: fine-tuning, post-training pruning); masks of a pruned run are folded in.
    ConfigError if it is not a checkpoint or its shapes differ from this run's modules."""
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoint.pt"
    state = load_checkpoint(path)
    for name, module in (("model", model), ("head", head)):
        try:
            module.load_state_dict(dense_state_dict(state[name]))
        except (RuntimeError, KeyError) as exc:
            first = str(exc).strip().splitlines()
            raise ConfigError(f"train.init_from: the {name} in {path} does not fit this run's {name} "
                              f"({first[-1].strip() if first else exc})") from None
