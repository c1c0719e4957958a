"""Speed of the synthetic face generator on one core.

Run::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        .venv/bin/python benchmarks/bench_synth.py [--n-identities 300] [--size 64]

(``taskset`` pins the process to one core; the thread variables keep numpy's
BLAS single-threaded.  The renderer itself is single-threaded numpy.)

Prints images/s for generation in memory and for generation plus writing PNGs
(``write_synthetic``, folder layout), each as a ratio to the 1,000 img/s
target and to two baselines measured in the same process:

* "one image per call": the same numpy renderer called with a batch of one
  image, i.e. what the batched, vectorised rendering gains;
* "naive PIL ImageDraw": one PIL call per shape, per image, drawing the same
  number of ellipses (about 20 per face).  PIL's C rasteriser is fast, but it
  draws aliased, axis-aligned ellipses only: no rotation, anti-aliasing,
  lighting, blur or noise, so it is a lower bound on cost, not an equivalent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from fairvision.data.synthetic import SyntheticFacesConfig, generate_faces, write_synthetic  # noqa: E402
from fairvision.data.synthetic.render import _render  # noqa: E402
from fairvision.data.synthetic.sample import _sample  # noqa: E402

TARGET = 1000.0  # images per second, one core, 64 x 64
SHAPES_PER_FACE = 20


def naive_pil(n_images: int, size: int, seed: int = 0) -> float:
    """Images/s of a per-image PIL loop drawing SHAPES_PER_FACE ellipses (no effects)."""
    rng = np.random.default_rng(seed)
    boxes = rng.uniform(0, size, (n_images, SHAPES_PER_FACE, 4))
    boxes[..., 2:] = boxes[..., :2] + rng.uniform(2, size / 2, (n_images, SHAPES_PER_FACE, 2))
    colours = rng.integers(0, 256, (n_images, SHAPES_PER_FACE, 3))
    out = np.empty((n_images, size, size, 3), np.uint8)
    start = time.perf_counter()
    for i in range(n_images):
        img = Image.new("RGB", (size, size), (128, 128, 128))
        draw = ImageDraw.Draw(img)
        for j in range(SHAPES_PER_FACE):
            draw.ellipse(tuple(boxes[i, j]), fill=tuple(int(c) for c in colours[i, j]))
        out[i] = np.asarray(img)
    return n_images / (time.perf_counter() - start)


def one_image_per_call(cfg: SyntheticFacesConfig, n_images: int) -> float:
    """Images/s of the same renderer called once per image (no batching)."""
    _, _, params = _sample(cfg)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for i in range(n_images):
        _render(params, np.array([i]), cfg.size, rng)
    return n_images / (time.perf_counter() - start)


def best_rate(fn, n_images: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_images / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-identities", type=int, default=300)
    parser.add_argument("--images-per-identity", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    cfg = SyntheticFacesConfig(
        n_identities=args.n_identities, images_per_identity=args.images_per_identity, size=args.size, seed=0
    )
    n = cfg.n_images
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"synthetic faces: {n} images of {cfg.size}x{cfg.size}, CPUs available to this process: {affinity}")
    if affinity and affinity > 1:
        print("  (not pinned to one core: run under `taskset -c 0` for a one-core figure)")

    generate_faces(cfg.model_copy(update={"n_identities": 2}))  # warm-up
    gen = best_rate(lambda: generate_faces(cfg), n, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        write = best_rate(
            lambda: write_synthetic(os.path.join(tmp, str(next(counter))), cfg, layout="folders"), n, args.repeats
        )
    single = one_image_per_call(cfg, min(n, 1000))
    naive = naive_pil(n, cfg.size)

    rows = [
        ("generation (in memory)", gen),
        ("generation + PNG writing", write),
        ("baseline: one image per call", single),
        ("baseline: naive PIL ImageDraw", naive),
    ]
    print(f"{'':32s} {'img/s':>9s} {'vs target':>10s} {'vs 1/call':>10s} {'vs naive PIL':>13s}")
    for name, rate in rows:
        print(f"{name:32s} {rate:9.0f} {rate / TARGET:9.2f}x {rate / single:9.2f}x {rate / naive:12.2f}x")
    print(f"target: {TARGET:.0f} img/s at 64x64 on one core (generation only)")
    ok = gen >= TARGET or cfg.size != 64
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
