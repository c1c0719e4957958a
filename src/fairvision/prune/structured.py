"""Structured channel pruning with Torch-Pruning: smaller dense layers, fewer MACs, lower latency.

:func:`structured_prune` removes the fraction ``ratio`` of the output channels of every prunable group
(layers coupled by residual additions, concatenations and norms are pruned together, by Torch-Pruning's
dependency graph) by channel importance (:data:`IMPORTANCES`), in place, and reports parameters, MACs
(``torch_pruning.utils.count_ops_and_params``) and CPU latency before and after. The model's last layer
(its last ``Linear``, else its last conv) is never pruned, so the output width -- embedding or number of
classes -- stays the same.

Architectures Torch-Pruning 1.6 cannot handle are refused up front with a ConfigError
(:func:`check_structured_support`): DPN (``dpn*``, and fairvision's DPN-based ``frnas_dpn``: the dual path
slices channels, which the dependency graph maps wrongly -- an error or an IndexError) and ReXNet
(``rexnet*``: building the pruning groups never ends). The group search of any other model runs under a
wall-clock limit (``build_timeout_s``, main thread only), so an unknown hang is a ConfigError too.
"""

from __future__ import annotations

import fnmatch
import signal
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from fairvision.errors import ConfigError
from fairvision.prune.magnitude import _last_layer, _layers_of
from fairvision.registry import Registry

__all__ = [
    "DENIED_ARCHITECTURES",
    "IMPORTANCES",
    "StructuredReport",
    "architecture_name",
    "check_structured_support",
    "measure_latency",
    "structured_prune",
]

#: Model-name patterns (``fnmatch``, any case) that structured pruning refuses, with the reason.
DENIED_ARCHITECTURES: dict[str, str] = {
    "dpn*": "the DPN dual path slices and concatenates channels; Torch-Pruning's graph fails on it",
    "frnas_dpn*": "DPN-based: its dual path slices channels, which Torch-Pruning maps to wrong indices",
    "rexnet*": "building Torch-Pruning's channel groups for ReXNet never finishes",
}

#: Python modules whose layers mark a denied architecture inside any wrapper (same reasons as above).
_DENIED_MODULES = {
    "timm.models.dpn": "dpn*",
    "fairvision.models.dpn": "frnas_dpn*",
    "timm.models.rexnet": "rexnet*",
}


def _tp():
    from fairvision._extras import require_extra

    require_extra("prune")  # one line naming `pip install 'fairvision[prune]'`
    import torch_pruning

    return torch_pruning


#: Channel importance criteria by name: ``fn(torch_pruning) -> importance``.
IMPORTANCES: Registry[Callable[[Any], Any]] = Registry("channel importance")
IMPORTANCES.register("magnitude", lambda tp: tp.importance.GroupMagnitudeImportance(p=2), aliases=("l2",))
IMPORTANCES.register("l1", lambda tp: tp.importance.GroupMagnitudeImportance(p=1))
IMPORTANCES.register("lamp", lambda tp: tp.importance.LAMPImportance(p=2))
IMPORTANCES.register("fpgm", lambda tp: tp.importance.FPGMImportance(p=2))
IMPORTANCES.register("bn_scale", lambda tp: tp.importance.BNScaleImportance(), aliases=("bn-scale", "slimming"))
IMPORTANCES.register("random", lambda tp: tp.importance.RandomImportance())


# --------------------------------------------------------------------------- support


def architecture_name(model: nn.Module) -> str:
    """The architecture name of ``model``: ``model_name`` of a fairvision ``TimmBackbone``, ``frnas_dpn``,
    a timm model's ``pretrained_cfg["architecture"]``, else the class name in lower case."""
    name = getattr(model, "model_name", None)
    if isinstance(name, str):
        return name
    if type(model).__name__ == "FRNASDPN":
        return "frnas_dpn"
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    if isinstance(cfg, dict) and isinstance(cfg.get("architecture"), str):
        return cfg["architecture"]
    return type(model).__name__.lower()


def _denied(name: str) -> str | None:
    return next((p for p in DENIED_ARCHITECTURES if fnmatch.fnmatch(name.lower(), p)), None)


def check_structured_support(model: nn.Module | str) -> None:
    """ConfigError if structured pruning refuses the architecture (a model or its name; checked by name and
    by the classes of its layers, so a wrapped DPN is caught too). Fast: no tracing, no Torch-Pruning."""
    name = model if isinstance(model, str) else architecture_name(model)
    pattern = _denied(name)
    if pattern is None and isinstance(model, nn.Module):
        origin = {type(m).__module__ for m in model.modules()}
        pattern = next((p for mod, p in _DENIED_MODULES.items() if mod in origin), None)
    if pattern is not None:
        raise ConfigError(f"structured pruning: architecture {name!r} is not supported "
                          f"({pattern}: {DENIED_ARCHITECTURES[pattern]}); use unstructured magnitude pruning")


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """ConfigError if the block runs longer than ``seconds`` (SIGALRM: main thread on Unix only; elsewhere
    or with ``seconds=None`` the block runs unguarded)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout:
        raise ConfigError(f"structured pruning: {what} took more than {seconds} s; the architecture is "
                          "probably not supported by Torch-Pruning") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- measuring


def _call(model: nn.Module, example_inputs: Any) -> Any:
    if isinstance(example_inputs, (tuple, list)):
        return model(*example_inputs)
    if isinstance(example_inputs, dict):
        return model(**example_inputs)
    return model(example_inputs)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def measure_latency(model: nn.Module, example_inputs: Any, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median seconds of one forward pass of ``example_inputs`` (eval mode, ``torch.inference_mode``),
    after ``warmup`` passes that are not timed."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"measure_latency: repeats must be >= 1 and warmup >= 0 (got {repeats}, {warmup})")
    times = []
    with _eval_mode(model), torch.inference_mode():
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            _call(model, example_inputs)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


@dataclass(frozen=True)
class StructuredReport:
    """What :func:`structured_prune` did: sizes and CPU latency before and after (latency None if skipped)."""

    architecture: str
    ratio: float
    importance: str
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    latency_before_s: float | None
    latency_after_s: float | None

    @property
    def params_ratio(self) -> float:
        """params after / before."""
        return self.params_after / self.params_before

    @property
    def macs_ratio(self) -> float:
        """MACs after / before."""
        return self.macs_after / self.macs_before

    @property
    def speedup(self) -> float | None:
        """latency before / after."""
        if self.latency_before_s is None or self.latency_after_s is None:
            return None
        return self.latency_before_s / self.latency_after_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "params_ratio": self.params_ratio, "macs_ratio": self.macs_ratio,
                "speedup": self.speedup}


# --------------------------------------------------------------------------- pruning


def _output_shape(model: nn.Module, example_inputs: Any) -> tuple[int, ...]:
    with _eval_mode(model), torch.no_grad():
        out = _call(model, example_inputs)
    return tuple(out.shape) if isinstance(out, torch.Tensor) else ()


def structured_prune(
    model: nn.Module,
    *,
    example_inputs: Any,
    ratio: float,
    ignored_layers: Sequence[nn.Module] | None = None,
    importance: str = "magnitude",
    latency_repeats: int | None = 10,
    build_timeout_s: float | None = 60.0,
) -> StructuredReport:
    """Remove ``ratio`` of the output channels of every prunable group of ``model``, in place.

    ``example_inputs`` trace the model (and time it); ``importance``: a name of :data:`IMPORTANCES`;
    ``ignored_layers`` keep their output channels, as the model's last layer always does (the output
    width does not change). ``latency_repeats=None`` skips the latency measurement. Refused with a
    ConfigError before anything is traced: a denied architecture (:func:`check_structured_support`), a
    ``ratio`` outside ``[0, 1)``. Later: a group search longer than ``build_timeout_s`` (wall clock, main
    thread) or a Torch-Pruning error while building the groups (the model is unchanged); an error while
    removing channels, or a changed output shape (the model may then be partly pruned: prune a copy if the
    original matters).
    """
    check_structured_support(model)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio < 1.0:
        raise ConfigError(f"ratio: must be a number in [0, 1), got {ratio!r}")
    make_importance = IMPORTANCES.get(importance)
    tp = _tp()
    name = architecture_name(model)
    last = dict(_layers_of(model)).get(_last_layer(_layers_of(model)) or "")
    ignored = list(ignored_layers or []) + ([last] if last is not None else [])

    with _eval_mode(model):
        shape = _output_shape(model, example_inputs)
        macs_before, params_before = tp.utils.count_ops_and_params(model, example_inputs)
        latency_before = measure_latency(model, example_inputs, repeats=latency_repeats) if latency_repeats else None
        try:
            with _time_limit(build_timeout_s, f"building the channel groups of {name!r}"):
                pruner = tp.pruner.MetaPruner(model, example_inputs, importance=make_importance(tp),
                                              pruning_ratio=float(ratio), ignored_layers=ignored)
            pruner.step()
        except ConfigError:
            raise
        except Exception as exc:  # Torch-Pruning fails in many ways on graphs it cannot map
            raise ConfigError(f"structured pruning: Torch-Pruning cannot prune {name!r} "
                              f"({type(exc).__name__}: {exc})") from exc
        new_shape = _output_shape(model, example_inputs)
        if new_shape != shape:
            raise ConfigError(f"structured pruning changed the output shape of {name!r} from {shape} to {new_shape}")
        macs_after, params_after = tp.utils.count_ops_and_params(model, example_inputs)
        latency_after = measure_latency(model, example_inputs, repeats=latency_repeats) if latency_repeats else None
    return StructuredReport(
        architecture=name, ratio=float(ratio), importance=IMPORTANCES.canonical(importance),
        params_before=int(params_before), params_after=int(params_after),
        macs_before=int(macs_before), macs_after=int(macs_after),
        latency_before_s=latency_before, latency_after_s=latency_after,
    )
