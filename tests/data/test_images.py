"""Image decoding: 16-bit images scaled (not clipped), decompression bombs and bad images as DatasetError,
and the same one-line error from DataLoader worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fairvision.data import FaceImageDataset, FaceSet, check_images, load_image
from fairvision.data.torch_dataset import WorkerDatasetError
from fairvision.errors import DatasetError


def ramp16(height: int = 64, width: int = 64) -> np.ndarray:
    """16-bit values spanning 0..65535."""
    return np.linspace(0, 65535, height * width).round().astype(np.uint16).reshape(height, width)


def expected8(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64) / 257.0).astype(np.uint8)


def faceset(paths) -> FaceSet:
    import pandas as pd

    return FaceSet(pd.DataFrame({"path": [str(p) for p in paths], "identity": [f"id{i}" for i in range(len(paths))]}))


@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_16bit_grayscale_is_scaled_not_clipped(tmp_path, fmt):
    values = ramp16()
    path = tmp_path / f"g16.{fmt}"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")  # what PIL gives for these files
    out = load_image(path)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], expected8(values))
    assert (out[..., 0] == out[..., 2]).all()
    assert out.min() == 0 and out.max() == 255
    assert (out == 255).mean() < 0.01  # PIL's own conversion makes >99% of these pixels white
    assert len(np.unique(out)) == 256


def test_16bit_big_endian_and_mode_I(tmp_path):
    values = ramp16(16, 16)
    be = Image.frombytes("I;16B", (16, 16), values.astype(">u2").tobytes())
    be.save(tmp_path / "be.tiff")
    mode_i = Image.fromarray(values.astype(np.int32), mode="I")
    mode_i.save(tmp_path / "i.tiff")
    for name in ("be.tiff", "i.tiff"):
        np.testing.assert_array_equal(load_image(tmp_path / name)[..., 1], expected8(values))


def test_16bit_resize_keeps_the_scale(tmp_path):
    values = np.full((20, 20), 32896, np.uint16)  # 32896 / 257 = 128
    Image.fromarray(values).save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png", size=8)
    assert out.shape == (8, 8, 3) and (out == 128).all()


def test_8bit_images_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (12, 12), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(gray).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, axis=2))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Image.fromarray(np.full((4, 4), 70000, np.int32), mode="I"), "outside the 16-bit range 0..65535"),
        (lambda: Image.fromarray(np.full((4, 4), -1, np.int32), mode="I"), "values -1..-1"),
        (lambda: Image.fromarray(np.full((4, 4), 0.5, np.float32), mode="F"), "floating-point image"),
    ],
)
def test_images_without_a_known_range_are_bad(tmp_path, make, message):
    path = tmp_path / "odd.tiff"
    make().save(path)
    with pytest.raises(DatasetError, match=message) as exc:
        load_image(path)
    assert str(exc.value).startswith(f"{path}: ")
    faces = check_images(faceset([path, tmp_path / "missing.png"]), on_bad_image="skip")
    assert len(faces) == 0 and message.split()[0] in faces.skipped[0][1]
    assert faces.skipped[1] == (str(tmp_path / "missing.png"), "image file not found")


@pytest.mark.parametrize("limit", [200, 100], ids=["warning-level", "error-level"])
def test_decompression_bomb_is_a_bad_image(tmp_path, monkeypatch, limit):
    """16 x 16 = 256 pixels: PIL only warns up to twice MAX_IMAGE_PIXELS (limit 200), and raises above (limit 100)."""
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)  # 64 pixels
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (16, 16)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(DatasetError, match=r"bomb.png: image too large, refused as a possible decompression bomb"):
        load_image(bomb)
    assert load_image(good).shape == (8, 8, 3)
    with pytest.raises(DatasetError, match="bomb.png: image too large"):
        check_images(faceset([good, bomb]))
    kept = check_images(faceset([good, bomb]), on_bad_image="skip")
    assert kept.frame["path"].tolist() == [str(good)]
    assert kept.skipped[0][0] == str(bomb) and "decompression bomb" in kept.skipped[0][1]


def test_worker_error_message_is_recovered():
    message = "/data/x.png: cannot decode image (broken)"
    wrapped = (
        "Caught WorkerDatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "worker.py", line 1, in fetch\n'
        f"fairvision.data.torch_dataset.WorkerDatasetError: {message}\n"
    )
    assert str(WorkerDatasetError(wrapped)) == message
    assert str(WorkerDatasetError(message)) == message  # an ordinary message is kept
    assert isinstance(WorkerDatasetError(message), DatasetError)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_bad_image_in_a_dataloader_is_one_line(tmp_path, helpers, num_workers):
    paths = [helpers.write_image(tmp_path / f"{i}.png") for i in range(4)]
    helpers.write_garbage(paths[2])
    loader = torch.utils.data.DataLoader(FaceImageDataset(faceset(paths), size=8), batch_size=2, num_workers=num_workers)
    with pytest.raises(DatasetError) as exc:
        list(loader)
    assert str(exc.value).startswith(f"{paths[2]}: cannot decode image")
    assert "\n" not in str(exc.value) and "Traceback" not in str(exc.value)
