"""PyTorch view of a :class:`FaceSet`: decoded, resized, normalised image tensors."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from fairvision.data._faceset import FaceSet
from fairvision.data.images import load_image
from fairvision.errors import DatasetError

__all__ = ["FaceImageDataset", "WorkerDatasetError", "to_tensor"]

MEAN = 0.5
STD = 0.5


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1] (FR-NAS normalisation, mean = std = 0.5)."""
    t = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)
    return (t / 255.0 - MEAN) / STD


class WorkerDatasetError(DatasetError):
    """A :class:`DatasetError` raised in a DataLoader worker process, re-raised in the main process.

    A DataLoader re-raises a worker's exception in the main process as
    ``type(exc)(text)``, where ``text`` is ``"Caught <type> in DataLoader worker
    process N. Original Traceback ..."`` followed by the worker's traceback and
    ``"<module>.<type>: <message>"``.  This type recovers ``<message>`` from that
    text, so a bad image gives the same one-line error (naming the file) with
    ``data.num_workers > 0`` as without workers.
    """

    def __init__(self, message: object = "") -> None:
        text = str(message)
        if text.startswith(f"Caught {type(self).__name__} ") and "Original Traceback" in text:
            _, found, rest = text.rpartition(f"{type(self).__module__}.{type(self).__qualname__}: ")
            if found and rest.strip():
                text = rest.strip()
        super().__init__(text)


class FaceImageDataset(Dataset):
    """Items are ``(image, index)``: the normalised image tensor and its row in ``faces.frame``.

    Args:
        faces: the face set.
        size: images are resized to ``size`` x ``size``.
        transform: optional callable applied to the tensor (augmentation).
    """

    def __init__(self, faces: FaceSet, *, size: int, transform: Callable | None = None) -> None:
        self.paths = faces.frame["path"].tolist()
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            image = to_tensor(load_image(self.paths[index], size=self.size))
        except DatasetError as exc:
            if get_worker_info() is None:
                raise
            raise WorkerDatasetError(str(exc)) from None  # see WorkerDatasetError
        if self.transform is not None:
            image = self.transform(image)
        return image, index
