"""``task.resize``: resize then crop (random in training, centre in evaluation) for both tasks; FR-NAS's sizes."""

from __future__ import annotations

import pytest
import torch

from fairvision.data import FaceImageDataset
from fairvision.data.torch_dataset import Crop, frnas_resize, input_images
from fairvision.errors import ConfigError
from fairvision.train import RunConfig, RunLayout, evaluate, train
from fairvision.train.data import load_splits
from fairvision.train.tasks import TASKS, embed_and_score


@pytest.fixture(scope="module")
def faces(data_cache, tmp_path_factory):
    """The tiny synthetic training split (16 px images)."""
    from .conftest import TINY

    cfg = RunConfig.from_dict({**TINY, "data": {**TINY["data"], "root": str(data_cache)}})
    return load_splits(cfg.data, run_dir=tmp_path_factory.mktemp("faces"))["train"]


@pytest.mark.parametrize("size, expected", [(112, 128), (224, 256), (16, 18), (96, 109)])
def test_frnas_resize(size, expected):
    assert frnas_resize(size) == expected
    cfg = RunConfig.from_dict({"model": {"name": "resnet18"}, "task": {"resize": "frnas"}, "data": {"image_size": size}})
    assert cfg.task.resize_to(size) == expected


@pytest.mark.parametrize("resize, random_crop", [(None, False), (16, True), (18, True), (18, False), (24, True)])
def test_tensor_sizes(faces, resize, random_crop):
    data = input_images(faces, size=16, resize=resize, random_crop=random_crop)
    image, index = data[3]
    assert image.shape == (3, 16, 16) and index == 3
    assert data.size == (resize or 16)
    if resize in (None, 16):
        assert data.transform is None  # resized straight to the input size, no crop
    else:
        assert isinstance(data.transform, Crop) and data.transform.random is random_crop


def test_default_is_the_plain_pipeline(faces, tiny, tmp_path):
    """No task.resize: exactly FaceImageDataset(size=image_size), as before the option existed."""
    plain = FaceImageDataset(faces, size=16)
    default = input_images(faces, size=16)
    for i in (0, 5):
        assert torch.equal(default[i][0], plain[i][0])
    cfg = RunConfig.from_dict(tiny())
    assert cfg.task.resize is None and cfg.task.resize_to(16) == 16
    task = TASKS.get("identification")(cfg, RunLayout(tmp_path))
    task.setup()
    assert task.train_dataset.size == 16 and task.train_dataset.transform is None


def test_centre_crop_is_the_middle_of_the_resized_image(faces):
    big = FaceImageDataset(faces, size=20)
    centre = input_images(faces, size=16, resize=20)
    for i in (0, 7):
        assert torch.equal(centre[i][0], big[i][0][:, 2:18, 2:18])


def test_random_crop_is_a_seeded_window(faces):
    big = FaceImageDataset(faces, size=20)[4][0]
    data = input_images(faces, size=16, resize=20, random_crop=True)
    windows = {(t, l): big[:, t : t + 16, l : l + 16] for t in range(5) for l in range(5)}

    def offsets(seed: int) -> list[tuple[int, int]]:
        torch.manual_seed(seed)
        out = []
        for _ in range(12):
            crop = data[4][0]
            out.append(next(k for k, w in windows.items() if torch.equal(crop, w)))  # StopIteration: not a window
        return out

    first = offsets(0)
    assert len(set(first)) > 1  # random offsets
    assert offsets(0) == first  # from torch's (seeded, checkpointed) RNG


def test_identification_task_resizes_and_crops(tiny, tmp_path):
    cfg = RunConfig.from_dict(tiny(task={"name": "identification", "resize": "frnas"}))
    task = TASKS.get("identification")(cfg, RunLayout(tmp_path))
    task.setup()
    data = task.train_dataset
    assert data.size == 18 and isinstance(data.transform, Crop) and data.transform.random
    assert data[0][0].shape == (3, 16, 16)


def test_training_and_evaluate_use_the_centre_crop(tiny, tmp_path):
    """A run trained with task.resize: `evaluate` on val reproduces the training metrics (same resize + centre
    crop), and those embeddings differ from resizing straight to the input size."""
    out = tmp_path / "run"
    result = train(RunConfig.from_dict(tiny(task={"resize": "frnas"}, train__epochs=1)), out, progress=False)
    again = evaluate(out, split="val", device="cpu")
    keys = ("Error", "Disparity", "Rank Disparity", "groups")
    assert {k: again[k] for k in keys} == {k: result.metrics[k] for k in keys}
    from fairvision.train.evaluate import load_trained_model

    model, cfg, _ = load_trained_model(out / "checkpoint.pt", device=torch.device("cpu"))
    val = load_splits(cfg.data, run_dir=out)["val"]
    common = dict(image_size=16, device=torch.device("cpu"))
    cropped = embed_and_score(model, val, "group", resize=18, **common)[0]
    straight = embed_and_score(model, val, "group", **common)[0]
    assert cropped.shape == straight.shape and not (cropped == straight).all()


@pytest.mark.parametrize("resize, match", [
    (8, r"task\.resize: 8 is smaller than data\.image_size \(16\), the crop"),
    (5000, r"task\.resize: must be a size in pixels \(8\.\.4096\), \"frnas\" or null, got 5000"),
    ("big", r"task\.resize: must be a size .* got 'big'"),
    (True, r"task\.resize: must be a size .* got True"),
    (17.5, r"task\.resize: must be a size .* got 17\.5"),
])
@pytest.mark.parametrize("task", ["identification", "attribute"])
def test_bad_resize_names_the_key(tiny, task, resize, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict(tiny(task={"name": task, "resize": resize}))
