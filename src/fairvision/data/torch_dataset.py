"""PyTorch view of a :class:`FaceSet`: decoded, resized, normalised image tensors."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from fairvision.data._faceset import FaceSet
from fairvision.data.images import load_image

__all__ = ["FaceImageDataset", "to_tensor"]

MEAN = 0.5
STD = 0.5


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1] (FR-NAS normalisation, mean = std = 0.5)."""
    t = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)
    return (t / 255.0 - MEAN) / STD


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
        image = to_tensor(load_image(self.paths[index], size=self.size))
        if self.transform is not None:
            image = self.transform(image)
        return image, index
