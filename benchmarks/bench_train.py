"""Training throughput: fairvision's training step vs a plain fp32 PyTorch loop, same model, data and process.

Run::

    .venv/bin/python benchmarks/bench_train.py                  # CPU: resnet18, 112 px, batch 64
    .venv/bin/python benchmarks/bench_train.py --device cuda    # GPU: also the FR-NAS DPN (width 1) at 224 px

Both sides train the same backbone (``fairvision.models.create_model``) with
the same CosFace head, cross-entropy loss and optimizer (timm SGD, built by the
engine's ``build_optimizer``), from the same initial weights, on the same
fixed batch of random images:

* **plain fp32 loop**: ``emb = model(x); loss = ce(head(emb, y), y);
  zero_grad(); backward(); step()`` in float32, NCHW;
* **engine step**: :class:`fairvision.train.TrainStep` as ``fairvision train``
  runs it -- ``precision: bf16`` (``torch.autocast`` bfloat16 for the
  backbone; head and loss in float32) and ``channels_last: true``, plus its
  NaN/inf checks of the loss, embeddings and gradient norm.

Each side runs ``--warmup`` steps, then ``--rounds`` timed rounds of
``--steps`` steps, alternating sides (so load from other processes hits both);
the best round of each side is reported as images/s, with the ratio.
bf16 needs AVX512-BF16/AMX on CPU (else it is emulated and slower) or an
Ampere+ GPU.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from fairvision.models import create_head, create_loss, create_model  # noqa: E402
from fairvision.train import OptimConfig, TrainStep  # noqa: E402
from fairvision.train.step import build_optimizer  # noqa: E402

NUM_CLASSES = 1000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainStep:
    """The baseline: a straightforward fp32 training step."""

    def __init__(self, model, head, loss_fn, optimizer, device) -> None:
        self.model, self.head, self.loss_fn, self.optimizer, self.device = model, head, loss_fn, optimizer, device

    def __call__(self, images, labels):
        x, y = images.to(self.device), labels.to(self.device)
        emb = self.model(x)
        loss = self.loss_fn(self.head(emb, y), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def _build(name: str, kwargs: dict, device: torch.device, *, engine: bool, template=None):
    torch.manual_seed(0)
    model = create_model(name, embedding_dim=512, **kwargs)
    head = create_head("CosFace", embedding_dim=512, num_classes=NUM_CLASSES)
    if template is not None:
        model.load_state_dict(template[0].state_dict())
        head.load_state_dict(template[1].state_dict())
    model.to(device).train()
    head.to(device).train()
    loss_fn = create_loss("ce")
    optimizer = build_optimizer(OptimConfig(name="SGD", lr=0.01), torch.nn.ModuleList([model, head]))
    if engine:
        model.to(memory_format=torch.channels_last)
        step = TrainStep(model, head, loss_fn, optimizer, device=device, precision="bf16", channels_last=True)
    else:
        step = PlainStep(model, head, loss_fn, optimizer, device)
    return (model, head), step


def _time(step, images, labels, steps: int, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(images, labels)
    _sync(device)
    return time.perf_counter() - t0


def bench(name: str, kwargs: dict, *, size: int, batch: int, device: torch.device, steps: int, warmup: int, rounds: int):
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=gen)
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=gen)
    if device.type == "cuda":
        images, labels = images.to(device), labels.to(device)
    template, plain = _build(name, kwargs, device, engine=False)
    template = copy.deepcopy(template)
    _, engine = _build(name, kwargs, device, engine=True, template=template)
    for step in (plain, engine):
        _time(step, images, labels, warmup, device)
    best = {"plain": float("inf"), "engine": float("inf")}
    for _ in range(rounds):
        best["plain"] = min(best["plain"], _time(plain, images, labels, steps, device))
        best["engine"] = min(best["engine"], _time(engine, images, labels, steps, device))
    rate = {k: batch * steps / v for k, v in best.items()}
    return rate["plain"], rate["engine"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="steps per timed round (default 5 on CPU, 50 on GPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per side (default 3 on CPU, 20 on GPU)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device available", file=sys.stderr)
        return 2
    gpu = device.type == "cuda"
    steps = args.steps or (50 if gpu else 5)
    warmup = args.warmup or (20 if gpu else 3)
    if gpu:
        torch.backends.cudnn.benchmark = True
    cases = [("resnet18", {}, 112)]
    if gpu:
        cases.append(("frnas_dpn", {"edges": (0, 0, 0), "width": 1.0}, 224))
    print(machine())
    print(f"device {device}, batch {args.batch_size}, best of {args.rounds} rounds of {steps} steps (after {warmup} warm-up)")
    print(f"{'model':<12} {'px':>4} {'plain fp32 img/s':>17} {'engine bf16+CL img/s':>21} {'ratio':>6}")
    for name, kwargs, size in cases:
        plain, engine = bench(
            name, kwargs, size=size, batch=args.batch_size, device=device, steps=steps, warmup=warmup, rounds=args.rounds
        )
        print(f"{name:<12} {size:>4} {plain:>17.1f} {engine:>21.1f} {engine / plain:>5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
