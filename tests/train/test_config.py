"""Typed training config: validation errors name the file and key path; --set overrides; shipped configs."""

from __future__ import annotations

import pytest
import yaml

from fairvision.errors import ConfigError
from fairvision.train import RunConfig, load_data_config, load_run_config
from fairvision.train.config import apply_overrides
from fairvision.train.data import expand_path

from .conftest import CONFIGS, TINY

# search, prune-study and zoo configs are tested in tests/search and tests/prune
SHIPPED = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith(("search-", "prune-", "zoo-")))


def write(tmp_path, data, name="run.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("section", ["data", "model", "head", "loss", "optim", "train", "data.eval_protocol", "data.synthetic"])
def test_unknown_key_names_path_and_file(tmp_path, section):
    data = yaml.safe_load(yaml.safe_dump(TINY))
    node = data
    for key in section.split("."):
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
    node["bogus_key"] = 1
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    msg = str(info.value)
    assert str(path) in msg
    assert f"{section}.bogus_key: unknown key" in msg


def test_unknown_top_level_section(tmp_path):
    path = write(tmp_path, {**TINY, "trian": {"epochs": 3}})
    with pytest.raises(ConfigError, match=r"trian: unknown key"):
        load_run_config(path)


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("optim.lr", -1, "optim.lr: must be > 0"),
        ("optim.lr", 0, "optim.lr: must be > 0"),
        ("optim.momentum", 1.5, "optim.momentum: must be < 1"),
        ("optim.name", "RMSprop", "optim.name: must be one of"),
        ("optim.min_lr", 1.0, "optim.min_lr: must not exceed lr"),
        ("train.epochs", 0, "train.epochs: must be >= 1"),
        ("train.batch_size", 1, "train.batch_size: must be >= 2"),
        ("train.precision", "fp16", "train.precision: must be one of 'fp32' or 'bf16'"),
        ("train.device", "gpu", "train.device: must be"),
        ("train.grad_clip", -1.0, "train.grad_clip: must be > 0"),
        ("train.epochs", "many", "train.epochs: Input should be a valid integer"),
        ("head.name", "NormFace", "head.name: unknown head 'NormFace'"),
        ("loss.name", "mse", "loss.name: unknown loss 'mse'"),
        ("loss.gamma", -2, "loss.gamma: must be >= 0"),
        ("model.edges", [0, 0, 9], "model.edges: each edge must be in 0..8"),
        ("model.width", 0, "model.width: must be > 0"),
        ("data.kind", "imagenet", "data.kind: unknown data kind 'imagenet'"),
        ("data.image_size", 4, "data.image_size: must be >= 8"),
        ("data.val_fraction", 0.6, "data.test_fraction: val_fraction + test_fraction must be < 1"),
        ("data.synthetic.size", 3, "data.synthetic.size"),
        ("data.eval_protocol.min_images", 1, "data.eval_protocol.min_images: must be >= 2"),
    ],
)
def test_bad_value_names_key(tmp_path, key, value, expected):
    data = yaml.safe_load(yaml.safe_dump(TINY))
    if key == "data.val_fraction":
        data["data"]["test_fraction"] = 0.5
    node = data
    *parents, last = key.split(".")
    for k in parents:
        if node.get(k) is None:
            node[k] = {}
        node = node[k]
    node[last] = value
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({**TINY, "model": {"name": "resnet18", "edges": [0, 0, 0]}}, "model.edges: only applies to model frnas_dpn"),
        ({**TINY, "data": {"kind": "celeba"}}, "data.root: required for kind 'celeba'"),
        ({**TINY, "data": {"kind": "rfw", "root": "x", "synthetic": {}}}, "data.synthetic: only applies to kind synthetic"),
        ({**TINY, "data": {"kind": "synthetic", "partition": "official"}}, "data.partition"),
        ({k: v for k, v in TINY.items() if k != "model"}, "model: required key is missing"),
        ({**TINY, "model": {"name": "resnet18", "kwargs": {"pretrained": True}}}, "model.kwargs.pretrained"),
    ],
)
def test_cross_field_errors_name_key(data, expected):
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        RunConfig.from_dict(data, source="inline")


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: [resnet18\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+: invalid YAML"):
        load_run_config(path)


@pytest.mark.parametrize(
    "override, check",
    [
        ("train.epochs=7", lambda c: c.train.epochs == 7),
        ("optim.lr=1e-3", lambda c: c.optim.lr == 1e-3),  # YAML reads 1e-3 as a string; still a valid float
        ("model.edges=[3, 0, 1]", lambda c: c.model.edges == (3, 0, 1)),
        ("model.kwargs.drop_rate=0.1", lambda c: c.model.kwargs == {"drop_rate": 0.1}),
        ("data.synthetic.group_difficulty.D=0.5", lambda c: c.data.synthetic.group_difficulty["D"] == 0.5),
        ("data.eval_protocol=null", lambda c: c.data.eval_protocol is None),
        ("loss=focal", lambda c: c.loss.name == "focal"),
        ("train.grad_clip=5", lambda c: c.train.grad_clip == 5.0),
    ],
)
def test_set_overrides(tmp_path, override, check):
    cfg = load_run_config(write(tmp_path, TINY), [override])
    assert check(cfg)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("optim.lrr=0.1", "unknown key 'optim.lrr'"),
        ("trian.epochs=3", "unknown key 'trian'"),
        ("train.epochs.max=3", "'train.epochs' is a value, not a section"),
        ("data.synthetic.colour=1", "unknown key 'data.synthetic.colour'"),
        ("train.epochs", "expects KEY.PATH=VALUE"),
        ("optim.lr=[1", "not valid YAML"),
    ],
)
def test_bad_set_path(tmp_path, override, expected):
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("[", r"\[")) as info:
        load_run_config(write(tmp_path, TINY), [override])
    assert "--set" in str(info.value)


def test_set_value_error_names_key_and_set(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_run_config(write(tmp_path, TINY), ["optim.lr=-1"])
    assert "optim.lr: must be > 0" in str(info.value) and "--set optim.lr=-1" in str(info.value)


def test_apply_overrides_does_not_mutate():
    data = {"model": {"name": "resnet18"}}
    out = apply_overrides(data, ["model.kwargs.drop_rate=0.2"])
    assert data == {"model": {"name": "resnet18"}} and out["model"]["kwargs"] == {"drop_rate": 0.2}


def test_defaults_and_roundtrip():
    cfg = RunConfig.from_dict({"model": {"name": "resnet18"}, "data": {"kind": "celeba", "root": "/x"}})
    assert cfg.data.group_column == "Male"  # per-kind default
    assert cfg.optim.name == "SGD" and cfg.optim.momentum == 0.9 and cfg.optim.weight_decay == 1e-4
    assert cfg.train.precision == "fp32" and cfg.train.deterministic
    again = RunConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
    assert RunConfig.from_dict({"model": {"name": "m"}, "data": {"kind": "vggface2", "root": "/v"}}).data.group_column == "gender"
    assert RunConfig.from_dict({"model": {"name": "m"}, "data": {"kind": "rfw", "root": "/r"}}).data.group_column == "race"


def test_case_insensitive_names():
    cfg = RunConfig.from_dict({"model": {"name": "m"}, "optim": {"name": "adamw"}, "head": {"name": "arcface"}})
    assert cfg.optim.name == "AdamW" and cfg.head.name == "ArcFace"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_validates(path):
    cfg = load_run_config(path)
    assert RunConfig.from_dict(yaml.safe_load(cfg.to_yaml())) == cfg


def test_shipped_configs_present():
    names = {p.name for p in SHIPPED}
    assert {"synthetic-tiny.yaml", "synthetic-small.yaml", "frnas-dpn-celeba.yaml", "frnas-dpn-vggface2.yaml"} <= names


@pytest.mark.parametrize("name, kind, group, edges, lr, epochs, schedule, alternatives", [
    # CelebA: SMAC_000, 100 epochs; CelebA's own alternatives named as --set commands
    ("frnas-dpn-celeba.yaml", "celeba", "Male", (0, 0, 0), 0.2813, 100, None,
     [["model.edges=[0,1,0]", "optim.lr=0.3235"], ["model.edges=[6,8,0]", "optim.name=Adam", "optim.lr=6.05e-4"]]),
    # VGGFace2: SMAC_301, 10 epochs of a 100-epoch schedule; SMAC_000 the alternative
    ("frnas-dpn-vggface2.yaml", "vggface2", "gender", (3, 0, 1), 0.1383, 10, 100,
     [["model.edges=[0,0,0]", "optim.lr=0.2813", "train.epochs=100"]]),
])
def test_paper_configs_have_frnas_settings(name, kind, group, edges, lr, epochs, schedule, alternatives):
    cfg = load_run_config(CONFIGS / name)
    assert (cfg.data.kind, cfg.data.group_column, cfg.data.image_size) == (kind, group, 224)
    assert cfg.model.name == "frnas_dpn" and cfg.model.edges == edges
    assert (cfg.head.name, cfg.optim.name, cfg.optim.lr) == ("CosFace", "SGD", lr)
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.train.schedule_epochs) == (64, epochs, schedule)
    assert (cfg.loss.name, cfg.loss.gamma) == ("focal", 2.0)  # per sample; focal_batch stays available
    assert cfg.task.resize == "frnas" and cfg.task.resize_to(224) == 256  # resize 256, crop 224
    assert cfg.data.balance_train is None  # optional, off
    text = (CONFIGS / name).read_text()
    assert "focal_batch" in text
    commands = " ".join(text.replace("\\\n#", " ").split())  # the header's commands, continuation lines joined
    for sets in alternatives:
        assert " ".join(f"--set {s}" for s in sets) in commands
        alt = load_run_config(CONFIGS / name, sets)
        assert alt.model.edges == tuple(yaml.safe_load(sets[0].partition("=")[2]))


def test_placeholder_root_needs_the_variable(monkeypatch):
    monkeypatch.delenv("CELEBA_ROOT", raising=False)
    with pytest.raises(ConfigError, match=r"data\.root: environment variable CELEBA_ROOT .* not set"):
        expand_path("${CELEBA_ROOT}", "data.root")
    monkeypatch.setenv("CELEBA_ROOT", "/data/celeba")
    assert str(expand_path("${CELEBA_ROOT}/x", "data.root")) == "/data/celeba/x"


def test_load_data_config(tmp_path):
    spec = write(tmp_path, {"data": {"kind": "rfw", "root": "/rfw"}, "train": {"ignored": True}}, "data.yaml")
    cfg = load_data_config(spec, ["data.eval_protocol=null"])
    assert cfg.kind == "rfw" and cfg.group_column == "race" and cfg.eval_protocol is None
    with pytest.raises(ConfigError, match="needs a 'data' section"):
        load_data_config(write(tmp_path, {"model": {}}, "nodata.yaml"))
    with pytest.raises(ConfigError, match="only data"):
        load_data_config(spec, ["train.epochs=3"])
    with pytest.raises(ConfigError, match=r"data\.rooot"):
        load_data_config(spec, ["data.rooot=/x"])
