"""The attribute task: multi-label targets from the data's 0/1 columns, BCE, per-epoch logits in the paper's
format, labels beside them, exact resume, crops, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fairvision.data.synthetic.config import ATTRIBUTES
from fairvision.errors import ConfigError
from fairvision.metrics import read_logits
from fairvision.train import TASKS, RunConfig, RunLayout, train
from fairvision.train.attribute_task import attribute_columns

from .conftest import ATTRIBUTE as ATTRIBUTE_CFG


def test_task_registry_and_config_shorthand():
    assert TASKS.names() == ["identification", "attribute"]
    cfg = RunConfig.from_dict({"task": "Attribute", "model": {"name": "resnet18"}})
    assert cfg.task.name == "attribute"
    assert RunConfig.from_dict({"model": {"name": "resnet18"}}).task.name == "identification"


@pytest.mark.parametrize("task, match", [
    ({"name": "segmentation"}, "unknown task 'segmentation'"),
    ({"name": "identification", "protected": ["Male"]}, "task.protected: only applies to task attribute"),
    ({"name": "identification", "group_onehot": True}, "task.group_onehot"),
    ({"name": "attribute", "attributes": []}, "task.attributes: must be a non-empty list"),
    ({"name": "attribute", "protected": ["Male", "Male"]}, "task.protected: names repeat"),
    ({"name": "attribute", "colour": 1}, "task.colour: unknown key"),
])
def test_task_config_errors(task, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict({"task": task, "model": {"name": "resnet18"}})


def test_attribute_columns_are_the_binary_ones():
    frame = pd.DataFrame({"path": ["a"] * 3, "identity": ["1", "2", "3"], "Male": [0, 1, 1],
                          "group": ["A", "B", "A"], "age": [20, 30, 40], "Smiling": [1, 1, 1]})
    assert attribute_columns(frame) == ["Male", "Smiling"]


def test_attribute_run_writes_logits_and_labels(tmp_path, attribute_cfg):
    result = train(RunConfig.from_dict(attribute_cfg()), tmp_path / "run", progress=False)
    layout = RunLayout(tmp_path / "run")
    assert result.status == "complete"
    expected = ["Male", "Young", *ATTRIBUTES]
    for split in ("train", "val", "test"):
        labels = pd.read_csv(layout.labels(split))
        assert list(labels.columns) == ["ids", "path", "identity", "group", *expected]
        assert labels["ids"].tolist() == list(range(len(labels)))
    for split in ("val", "test"):
        n = len(pd.read_csv(layout.labels(split)))
        for epoch in (0, 1):
            z = read_logits(layout.logits(split, epoch), n_rows=n, n_cols=len(expected))
            assert np.isfinite(z).all()
        np.testing.assert_array_equal(read_logits(layout.logits(split)), read_logits(layout.logits(split, 1)))
    metrics = result.metrics
    assert metrics["Error"] == pytest.approx(1 - metrics["Accuracy"])
    report = metrics["attribute_bias"]
    assert set(report["attributes"]) == set(expected)
    assert set(report["bias_amplification"]) == {"Male", "Young", "Chubby", "Pale_Skin"}
    history = [r for r in map(__import__("json").loads, layout.history.read_text().splitlines())]
    assert all(r["evaluated"] and r["Accuracy"] is not None for r in history)


def test_attribute_logits_match_the_model(tmp_path, attribute_cfg):
    """The saved test logits are the trained model's outputs on the test images, in labels_test.csv order."""
    from fairvision.data import FaceImageDataset, load_image  # noqa: F401 - the task's own decoding
    from fairvision.train import load_trained_model

    train(RunConfig.from_dict(attribute_cfg(train__epochs=1)), tmp_path / "run", progress=False)
    layout = RunLayout(tmp_path / "run")
    state = torch.load(layout.checkpoint, weights_only=True)
    model, cfg, _ = load_trained_model(layout.checkpoint, device=torch.device("cpu"))
    head = torch.nn.Linear(state["head"]["weight"].shape[1], state["head"]["weight"].shape[0])
    head.load_state_dict(state["head"])
    paths = pd.read_csv(layout.labels("test"))["path"].tolist()[:5]
    from fairvision.data.torch_dataset import to_tensor

    x = torch.stack([to_tensor(load_image(p, size=16)) for p in paths])
    with torch.no_grad():
        z = head(model.eval()(x)).double().numpy()
    np.testing.assert_allclose(read_logits(layout.logits("test"))[:5], z, atol=1e-4)


def test_attribute_resume_is_exact(tmp_path, attribute_cfg):
    train(RunConfig.from_dict(attribute_cfg(train__epochs=2)), tmp_path / "straight", progress=False)
    train(RunConfig.from_dict(attribute_cfg(train__epochs=1, train__schedule_epochs=2)), tmp_path / "resumed",
          progress=False)
    train(RunConfig.from_dict(attribute_cfg(train__epochs=2, train__schedule_epochs=2)), tmp_path / "resumed",
          progress=False)
    straight = RunConfig.from_dict(attribute_cfg(train__epochs=2, train__schedule_epochs=2))
    train(straight, tmp_path / "straight2", progress=False)
    a = read_logits(RunLayout(tmp_path / "straight2").logits("test"))
    b = read_logits(RunLayout(tmp_path / "resumed").logits("test"))
    np.testing.assert_array_equal(a, b)


def test_targets_protected_onehot_and_crop(tmp_path, attribute_cfg):
    cfg = attribute_cfg(task={"name": "attribute", "attributes": ["Male", "Smiling", "Eyeglasses"],
                              "protected": ["Male"], "group_onehot": False, "resize": 20}, train__epochs=1)
    result = train(RunConfig.from_dict(cfg), tmp_path / "a", progress=False)
    assert set(result.metrics["attribute_bias"]["attributes"]) == {"Male", "Smiling", "Eyeglasses"}
    assert read_logits(RunLayout(tmp_path / "a").logits("val")).shape[1] == 3
    cfg = attribute_cfg(task={"name": "attribute", "group_onehot": True}, train__epochs=1)
    train(RunConfig.from_dict(cfg), tmp_path / "b", progress=False)
    columns = pd.read_csv(RunLayout(tmp_path / "b").labels("val")).columns
    assert [c for c in columns if c.startswith("group=")] == ["group=A", "group=B", "group=C", "group=D"]


@pytest.mark.parametrize("change, match", [
    ({"task": {"name": "attribute", "protected": ["Bald_Eagle"]}}, r"task.protected: \['Bald_Eagle'\]"),
    ({"task": {"name": "attribute", "attributes": ["Wings"]}}, r"task.attributes: \['Wings'\]"),
    ({"task": {"name": "attribute", "resize": 8}}, "task.resize: 8 is smaller than data.image_size"),
    ({"loss": {"name": "focal"}}, "loss.name: task attribute trains with bce"),
])
def test_attribute_setup_errors(tmp_path, attribute_cfg, change, match):
    with pytest.raises(ConfigError, match=match):
        train(RunConfig.from_dict({**attribute_cfg(), **change}), tmp_path / "run", progress=False)


def test_celeba_layout_official_partition_order(tmp_path):
    """On a CelebA-layout folder (official partition), every attribute of list_attr_celeba.txt is a target in
    its column order, and the logits rows follow list_eval_partition.txt's test images in file order."""
    from fairvision.data import load_celeba_annotations
    from fairvision.data.synthetic import write_synthetic

    root = write_synthetic(tmp_path / "faces", {"n_identities": 30, "images_per_identity": 3, "size": 16},
                           layout="celeba") / "celeba"
    cfg = {**ATTRIBUTE_CFG, "data": {"kind": "celeba", "root": str(root), "partition": "official",
                                      "image_size": 16, "eval_protocol": None}}
    train(RunConfig.from_dict({**cfg, "train": {**cfg["train"], "epochs": 1}}), tmp_path / "run", progress=False)
    ann = load_celeba_annotations(root)
    layout = RunLayout(tmp_path / "run")
    labels = pd.read_csv(layout.labels("test"))
    assert list(labels.columns[-len(ann.attributes):]) == list(ann.attributes)
    test_images = [name for name, part in zip(ann.images, ann.partition) if part == 2]
    assert [Path(p).name for p in labels["path"]] == test_images
    assert read_logits(layout.logits("test")).shape == (len(test_images), len(ann.attributes))
    np.testing.assert_array_equal(labels[list(ann.attributes)].to_numpy(), ann.split_labels("test"))
