"""Embedding a data set with a model, with flip test-time augmentation.

FR-NAS (and most face-recognition evaluation) embeds each image as
``l2norm(f(x) + f(flip(x)))``: the features of the image and of its
horizontal mirror are summed before normalising.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fairvision._progress import progress as show_progress

__all__ = ["embed"]


@torch.no_grad()
def embed(
    model: torch.nn.Module,
    data: Dataset | DataLoader | torch.Tensor | Iterable,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    flip: bool = True,
    num_workers: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """L2-normalised (N, d) float32 embeddings of ``data``, in data order.

    ``data`` is an image tensor (N, C, H, W), a Dataset whose items are images
    or ``(image, ...)`` tuples, or a DataLoader / iterable of such batches.
    With ``flip=True`` each embedding is ``l2norm(f(x) + f(flip(x)))``.
    The model is put in eval mode for the call and restored afterwards.
    """
    dev = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    if isinstance(data, torch.Tensor):
        batches: Iterable = data.split(batch_size)
    elif isinstance(data, Dataset) and not isinstance(data, DataLoader):
        batches = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    else:
        batches = data
    was_training = model.training
    model.eval()
    out = []
    try:
        total: int | None = len(batches)  # type: ignore[arg-type]
    except TypeError:  # a generator, or a DataLoader over an IterableDataset
        total = None
    try:
        with show_progress(total, "embedding", enabled=progress, transient=True) as bar:
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                x = x.to(dev, non_blocking=True)
                f = model(x)
                if flip:
                    f = f + model(torch.flip(x, dims=[3]))
                out.append(torch.nn.functional.normalize(f.float(), dim=1).cpu())
                bar.advance()
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0), np.float32)
    return torch.cat(out).numpy()
