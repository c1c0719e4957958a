"""When to prune and to which sparsity: one-shot and gradual magnitude pruning (GMP, Zhu & Gupta 2017).

GMP prunes at the start of the epochs ``range(start, end, freq)`` (0-based, as the training loop counts
them) to the cubic schedule of :func:`gmp_sparsity` with ``t0 = start`` and ``t_end`` = the *last* pruning
epoch, so the first event prunes to ``s_i`` and the last exactly to ``s_f``; training after the last event
fine-tunes with the final mask. The two protocols of Iofinova et al. (CVPR 2023), sparsities at ``s_f = 0.9``:

* from scratch, 100 epochs: ``start=10, end=90, freq=10`` -> epochs 10, 20, ..., 80
  (0.05, 0.3647, 0.5902, 0.7414, 0.8331, 0.8802, 0.8975, 0.9), then 19 epochs of fine-tuning;
* post-training (``train.init_from`` a dense run, Adam lr 1e-4), 80 epochs: ``start=1, end=60, freq=4``
  -> epochs 1, 5, ..., 57 (15 events: 0.05, 0.2194, 0.3647, ..., 0.8997, 0.9), then 22 epochs of fine-tuning.
"""

from __future__ import annotations

from fairvision.errors import ConfigError

__all__ = ["gmp_sparsity", "gmp_schedule", "pruning_epochs"]


def gmp_sparsity(t: float, *, s_i: float = 0.05, s_f: float, t0: float, t_end: float) -> float:
    """``s_f - (s_f - s_i) * (1 - (t - t0) / (t_end - t0))**3`` with ``t`` clipped into ``[t0, t_end]``:
    ``s_i`` at ``t0``, ``s_f`` from ``t_end`` on, steep early and flat late. ``t_end == t0`` (a single
    pruning event) gives ``s_f``."""
    if t_end < t0:
        raise ConfigError(f"gmp_sparsity: t_end ({t_end}) must not be before t0 ({t0})")
    if t_end == t0:
        return float(s_f)
    frac = (min(max(t, t0), t_end) - t0) / (t_end - t0)
    if frac in (0.0, 1.0):  # the end points exactly, without rounding error
        return float(s_f if frac else s_i)
    return float(s_f - (s_f - s_i) * (1.0 - frac) ** 3)


def pruning_epochs(start: int, end: int, freq: int) -> list[int]:
    """The GMP pruning epochs ``range(start, end, freq)``; ConfigError unless ``start < end`` and ``freq >= 1``."""
    if freq < 1:
        raise ConfigError(f"prune.freq: must be >= 1 (got {freq})")
    if not start < end:
        raise ConfigError(f"prune.end: must be greater than prune.start ({end} <= {start})")
    return list(range(start, end, freq))


def gmp_schedule(*, s_i: float = 0.05, s_f: float, start: int, end: int, freq: int) -> list[tuple[int, float]]:
    """``[(epoch, sparsity), ...]`` of GMP: :func:`gmp_sparsity` at each of :func:`pruning_epochs`, with
    ``t0 = start`` and ``t_end`` = the last pruning epoch (so the last event prunes exactly to ``s_f``)."""
    epochs = pruning_epochs(start, end, freq)
    return [(e, gmp_sparsity(e, s_i=s_i, s_f=s_f, t0=epochs[0], t_end=epochs[-1])) for e in epochs]
