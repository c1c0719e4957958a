"""Structured channel pruning: parameters, MACs and CPU latency of a dense and a 50 %-channel-pruned model.

Run::

    .venv/bin/python benchmarks/bench_structured.py [--model resnet18] [--ratio 0.5] [--sizes 224 64]
        [--batches 1 32] [--repeats 15] [--threads N]

A timm model (``num_classes=40``, random weights, seed 0) is copied; the copy is pruned with
:func:`fairvision.prune.structured_prune` (Torch-Pruning, L2 channel magnitude, the classifier's 40
outputs kept). Both models then run side by side in this process, in eval mode under
``torch.inference_mode``: for each input size and batch, dense and pruned are timed alternately, pass by
pass (two untimed warm-up passes each, then ``--repeats`` timed ones), and their median latencies compared. Printed: parameters and MACs per image (``torch_pruning.utils.count_ops_and_params``), latency
per batch and per image, and the ratios pruned / dense (speed-up = dense / pruned).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from fairvision._compat import import_timm  # noqa: E402
from fairvision.prune import structured_prune  # noqa: E402


def _latency(dense, pruned, x, *, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median seconds of one forward pass of each model, the two timed alternately pass by pass (so that load
    from other processes hits both alike), after ``warmup`` untimed passes of each."""
    times: tuple[list[float], list[float]] = ([], [])
    with torch.inference_mode():
        for i in range(warmup + repeats):
            for model, out in zip((dense, pruned), times):
                t0 = time.perf_counter()
                model(x)
                if i >= warmup:
                    out.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 64])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import torch_pruning as tp

    torch.manual_seed(0)
    dense = import_timm().create_model(args.model, pretrained=False, num_classes=40).eval()
    pruned = copy.deepcopy(dense)
    report = structured_prune(pruned, example_inputs=torch.randn(1, 3, 64, 64), ratio=args.ratio, latency_repeats=None)
    pruned.eval()
    print(f"# {machine()}")
    print(f"# {args.model}, num_classes=40, {args.ratio:.0%} of the channels of every group pruned "
          f"(importance {report.importance}); median of {args.repeats} alternating passes")
    print(f"params: dense {report.params_before / 1e6:.2f} M, pruned {report.params_after / 1e6:.2f} M, "
          f"ratio {report.params_ratio:.3f}")
    header = f"{'input':>7} {'batch':>5} {'GMACs/img dense':>16} {'pruned':>8} {'ratio':>6} " \
             f"{'ms dense':>9} {'ms pruned':>10} {'ms/img dense':>13} {'ms/img pruned':>14} {'speed-up':>9}"
    print(header)
    for size in args.sizes:
        one = torch.randn(1, 3, size, size)
        macs_d, _ = tp.utils.count_ops_and_params(dense, one)
        macs_p, _ = tp.utils.count_ops_and_params(pruned, one)
        for batch in args.batches:
            x = torch.randn(batch, 3, size, size)
            with torch.inference_mode():
                assert dense(x).shape == pruned(x).shape == (batch, 40)
            t_d, t_p = _latency(dense, pruned, x, repeats=args.repeats)
            print(f"{size:>5}px {batch:>5} {macs_d / 1e9:>16.3f} {macs_p / 1e9:>8.3f} {macs_p / macs_d:>6.3f} "
                  f"{t_d * 1e3:>9.2f} {t_p * 1e3:>10.2f} {t_d * 1e3 / batch:>13.3f} {t_p * 1e3 / batch:>14.3f} "
                  f"{t_d / t_p:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
