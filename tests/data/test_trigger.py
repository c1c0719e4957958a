"""Controlled spurious correlations (``data.trigger``): exact per-class fractions, seeded selection, pixels that
change only on triggered images, and one-line config errors naming the key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairvision.data import FaceImageDataset, FaceSet, load_image
from fairvision.data.trigger import SquareConfig, Trigger, TriggerConfig, apply_trigger, triggered_rows
from fairvision.errors import ConfigError
from fairvision.train import RunConfig
from fairvision.train.data import load_splits


def _expected(fraction: float, n: int) -> int:
    """The documented count: round half up."""
    return int(np.floor(fraction * n + 0.5))


@pytest.mark.parametrize("fractions", [(0.05, 0.95), (0.35, 0.65), (0.0, 1.0), (0.5, 0.5)])
@pytest.mark.parametrize("n_neg, n_pos", [(1000, 250), (37, 11), (3, 0)])
def test_exact_fraction_of_each_class(fractions, n_neg, n_pos):
    target = np.random.default_rng(1).permutation(np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)])
    mask = triggered_rows(target, fractions, seed=0, split="train")
    for value, fraction, n in ((0, fractions[0], n_neg), (1, fractions[1], n_pos)):
        count = int(mask[target == value].sum())
        assert count == _expected(fraction, n)
        assert abs(count - fraction * n) <= 0.5  # within rounding


def test_selection_is_seeded_nested_and_split_specific():
    target = np.random.default_rng(2).integers(0, 2, 500)
    first = triggered_rows(target, (0.05, 0.95), seed=3, split="train")
    np.testing.assert_array_equal(first, triggered_rows(target, (0.05, 0.95), seed=3, split="train"))
    assert (first != triggered_rows(target, (0.05, 0.95), seed=4, split="train")).any()
    larger = triggered_rows(target, (0.35, 0.95), seed=3, split="train")
    assert (larger >= first).all() and larger.sum() > first.sum()  # a larger fraction triggers a superset
    val, test = (triggered_rows(target, (0.5, 0.5), seed=3, split=s) for s in ("val", "test"))
    assert (val != test).any()


def test_config_defaults_and_fractions():
    cfg = TriggerConfig(kind="square", target="Smiling")
    assert cfg.square == SquareConfig() and cfg.column == "Trigger" and cfg.seed == 0
    assert cfg.fractions("train") == (0.05, 0.95)
    assert cfg.fractions("val") == cfg.fractions("test") == cfg.fractions("all") == (0.5, 0.5)
    assert TriggerConfig(kind="grayscale", target="Smiling").square is None


BASE = {"model": {"name": "resnet18"}, "data": {"kind": "synthetic"}}


@pytest.mark.parametrize("trigger, match", [
    ({"kind": "blur", "target": "Smiling"}, r"data\.trigger\.kind"),
    ({"kind": "grayscale"}, r"data\.trigger\.target"),
    ({"kind": "grayscale", "target": "Smiling", "fraction_positives": 1.5}, r"data\.trigger\.fraction_positives"),
    ({"kind": "grayscale", "target": "Smiling", "eval_fraction": -0.1}, r"data\.trigger\.eval_fraction"),
    ({"kind": "grayscale", "target": "Smiling", "colour": 1}, r"data\.trigger\.colour"),
    ({"kind": "grayscale", "target": "Smiling", "square": {"size": 4}}, r"data\.trigger\.square: only applies"),
    ({"kind": "square", "target": "Smiling", "square": {"size": 1.5}}, r"data\.trigger\.square\.size: .*whole"),
    ({"kind": "square", "target": "Smiling", "square": {"color": [0, 300, 0]}}, r"data\.trigger\.square\.color"),
    ({"kind": "square", "target": "Smiling", "square": {"corner": "middle"}}, r"data\.trigger\.square\.corner"),
    ({"kind": "square", "target": "Smiling", "column": "Smiling"}, r"data\.trigger\.column: must differ"),
    ({"kind": "square", "target": "Smiling", "column": "identity"}, r"data\.trigger\.column: 'identity' is reserved"),
])
def test_config_errors_name_the_key(trigger, match):
    with pytest.raises(ConfigError, match=match) as info:
        RunConfig.from_dict({**BASE, "data": {"kind": "synthetic", "trigger": trigger}})
    assert "\n" not in str(info.value)


def test_trigger_null_is_the_default():
    assert RunConfig.from_dict(BASE).data.trigger is None


def _faces(tmp_path, n: int = 40) -> FaceSet:
    """``n`` coloured 12 x 12 images; ``Smiling`` = every third image."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)
        rows.append({"path": str(path), "identity": str(i // 2), "Smiling": int(i % 3 == 0), "Male": i % 2,
                     "group": "A"})
    return FaceSet(pd.DataFrame(rows), name="toy")


def _pixels(dataset: FaceImageDataset, i: int) -> np.ndarray:
    """The uint8 image of item i (undoing the [-1, 1] normalisation)."""
    return np.rint((dataset[i][0].permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255).astype(np.int64)


def test_grayscale_changes_only_triggered_images(tmp_path):
    faces = _faces(tmp_path)
    cfg = TriggerConfig(kind="grayscale", target="Smiling")
    triggered = apply_trigger(cfg, {"train": faces})["train"]
    mask = triggered.frame["Trigger"].to_numpy() == 1
    assert triggered.edit is not None and 0 < mask.sum() < len(mask)
    plain, edited = FaceImageDataset(faces, size=12), FaceImageDataset(triggered, size=12)
    for i in range(len(faces)):
        before, after = _pixels(plain, i), _pixels(edited, i)
        if mask[i]:
            assert (after[..., 0] == after[..., 1]).all() and (after[..., 1] == after[..., 2]).all()
            luma = np.floor(load_image(faces.frame["path"][i]).astype(float) @ [0.299, 0.587, 0.114] + 0.5)
            np.testing.assert_array_equal(after[..., 0], luma)
        else:
            np.testing.assert_array_equal(after, before)
            assert (before[..., 0] != before[..., 1]).any()  # the originals are in colour


@pytest.mark.parametrize("corner, size, side", [("bottom_right", 0.25, 3), ("top_left", 5, 5), ("top_right", 0.5, 6)])
def test_square_paints_the_corner_of_triggered_images(tmp_path, corner, size, side):
    faces = _faces(tmp_path)
    cfg = TriggerConfig(kind="square", target="Smiling", square={"size": size, "color": [0, 255, 0], "corner": corner})
    triggered = apply_trigger(cfg, {"train": faces})["train"]
    mask = triggered.frame["Trigger"].to_numpy() == 1
    plain, edited = FaceImageDataset(faces, size=12), FaceImageDataset(triggered, size=12)
    rows = slice(0, side) if corner.startswith("top") else slice(12 - side, 12)
    cols = slice(0, side) if corner.endswith("left") else slice(12 - side, 12)
    outside = np.ones((12, 12), dtype=bool)
    outside[rows, cols] = False
    for i in range(len(faces)):
        before, after = _pixels(plain, i), _pixels(edited, i)
        if mask[i]:
            assert (after[rows, cols] == [0, 255, 0]).all()
            np.testing.assert_array_equal(after[outside], before[outside])
        else:
            np.testing.assert_array_equal(after, before)


def test_trigger_edit_survives_subset_and_reads_the_column(tmp_path):
    faces = apply_trigger(TriggerConfig(kind="grayscale", target="Smiling"), {"train": _faces(tmp_path)})["train"]
    part = faces.subset(np.arange(10, 20))
    assert part.edit is faces.edit
    np.testing.assert_array_equal(part.edit.rows(part.frame), faces.frame["Trigger"].to_numpy()[10:20] == 1)
    assert isinstance(part.edit, Trigger)


def test_eval_splits_are_half_of_each_class(tmp_path):
    faces = _faces(tmp_path, n=60)
    parts = apply_trigger(TriggerConfig(kind="grayscale", target="Smiling"),
                          {"train": faces, "val": faces, "test": faces, "empty": faces.subset(np.arange(0))})
    assert len(parts["empty"]) == 0 and parts["empty"].edit is None
    for split in ("val", "test"):
        frame = parts[split].frame
        for value in (0, 1):
            n = int((frame["Smiling"] == value).sum())
            assert int(frame.loc[frame["Smiling"] == value, "Trigger"].sum()) == _expected(0.5, n)
    train = parts["train"].frame
    assert int(train.loc[train["Smiling"] == 1, "Trigger"].sum()) == _expected(0.95, 20)
    assert int(train.loc[train["Smiling"] == 0, "Trigger"].sum()) == _expected(0.05, 40)


def test_bad_target_and_clashing_column_are_one_line_errors(tmp_path):
    faces = _faces(tmp_path)
    with pytest.raises(ConfigError, match=r"^data\.trigger\.target: 'Blond_Har' is not a 0/1 attribute of 'toy' "
                                          r"\(valid: Smiling, Male\)$"):
        apply_trigger(TriggerConfig(kind="grayscale", target="Blond_Har"), {"train": faces})
    with pytest.raises(ConfigError, match=r"^data\.trigger\.column: 'Male' is already a column"):
        apply_trigger(TriggerConfig(kind="grayscale", target="Smiling", column="Male"), {"train": faces})


def test_load_splits_applies_the_trigger_to_every_split(data_cache):
    data = {"kind": "synthetic", "root": str(data_cache), "image_size": 16, "eval_protocol": None,
            "synthetic": {"n_identities": 48, "images_per_identity": 4, "size": 16, "seed": 0},
            "val_fraction": 0.25, "test_fraction": 0.25}
    plain = load_splits(RunConfig.from_dict({**BASE, "data": data}).data)
    cfg = RunConfig.from_dict({**BASE, "data": {**data, "trigger": {"kind": "grayscale", "target": "Smiling",
                                                                    "fraction_negatives": 0.35,
                                                                    "fraction_positives": 0.65}}}).data
    parts = load_splits(cfg)
    assert set(parts) == {"train", "val", "test"}
    for split, faces in parts.items():
        assert isinstance(faces.edit, Trigger)
        pd.testing.assert_frame_equal(faces.frame.drop(columns="Trigger"), plain[split].frame)  # rows unchanged
        fractions = (0.35, 0.65) if split == "train" else (0.5, 0.5)
        for value, fraction in zip((0, 1), fractions):
            chosen = faces.frame.loc[faces.frame["Smiling"] == value, "Trigger"]
            assert int(chosen.sum()) == _expected(fraction, len(chosen))
    again = load_splits(cfg)  # deterministic
    for split in parts:
        pd.testing.assert_frame_equal(parts[split].frame, again[split].frame)
    with pytest.raises(ConfigError, match=r"data\.trigger\.target: 'Blond_Har' is not a 0/1 attribute .*valid: "
                                          r"Male, Young, Black_Hair"):
        load_splits(cfg.model_copy(update={"trigger": cfg.trigger.model_copy(update={"target": "Blond_Har"})}))
