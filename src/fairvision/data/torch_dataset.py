"""PyTorch view of a :class:`FaceSet`: decoded, resized, normalised image tensors.

:func:`input_images` is the input pipeline of training and evaluation: images resized straight to the
model's input size, or resized larger and cropped to it (:class:`Crop`: random in training, centre in
evaluation), e.g. FR-NAS's ``resize(int(128 * s / 112))`` + ``crop(s)`` (:func:`frnas_resize`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from fairvision.data._faceset import FaceSet
from fairvision.data.images import load_image
from fairvision.errors import DatasetError

__all__ = ["Crop", "FaceImageDataset", "WorkerDatasetError", "frnas_resize", "input_images", "to_tensor"]

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

    ``faces.edit`` (e.g. a backdoor trigger) is applied to the decoded, resized uint8 image of the rows it
    selects, before the tensor conversion and ``transform``.
    """

    def __init__(self, faces: FaceSet, *, size: int, transform: Callable | None = None) -> None:
        self.paths = faces.frame["path"].tolist()
        self.size = size
        self.transform = transform
        self.edit = faces.edit
        self.edited = faces.edit.rows(faces.frame) if faces.edit is not None else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            pixels = load_image(self.paths[index], size=self.size)
            if self.edited is not None and self.edited[index]:
                pixels = self.edit(pixels)
            image = to_tensor(pixels)
        except DatasetError as exc:
            if get_worker_info() is None:
                raise
            raise WorkerDatasetError(str(exc)) from None  # see WorkerDatasetError
        if self.transform is not None:
            image = self.transform(image)
        return image, index


class Crop:
    """Random (training) or centre (evaluation) crop of a (3, H, W) tensor to ``size`` x ``size``.

    The random offsets come from torch's global RNG, so they follow the engine's seeding, checkpointed RNG
    state and DataLoader worker seeds.
    """

    def __init__(self, size: int, *, random: bool) -> None:
        self.size, self.random = int(size), bool(random)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        if h < self.size or w < self.size:
            raise DatasetError(f"cannot crop {self.size} x {self.size} from a {h} x {w} image")
        if self.random:
            top = int(torch.randint(0, h - self.size + 1, ()))
            left = int(torch.randint(0, w - self.size + 1, ()))
        else:
            top, left = (h - self.size) // 2, (w - self.size) // 2
        return image[..., top : top + self.size, left : left + self.size]

    def __repr__(self) -> str:
        return f"Crop({self.size}, random={self.random})"


def frnas_resize(size: int) -> int:
    """FR-NAS's resize before cropping ``size``: ``int(128 * size / 112)`` (112 -> 128, 224 -> 256)."""
    return int(128 * size / 112)


def input_images(
    faces: FaceSet, *, size: int, resize: int | None = None, random_crop: bool = False
) -> FaceImageDataset:
    """``faces`` as model inputs of ``size`` x ``size``: resized to ``resize`` then cropped to ``size`` (a random
    crop with ``random_crop``, for training; else the centre crop), or resized straight to ``size`` when
    ``resize`` is None or equal to ``size`` (exactly ``FaceImageDataset(faces, size=size)``)."""
    if resize is None or resize == size:
        return FaceImageDataset(faces, size=size)
    if resize < size:
        raise ValueError(f"resize {resize} is smaller than the crop {size}")
    return FaceImageDataset(faces, size=resize, transform=Crop(size, random=random_crop))
