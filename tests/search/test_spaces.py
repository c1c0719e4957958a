"""Search spaces: FR-NAS space equals the released configspace.json; YAML schema; compression dims."""

from __future__ import annotations

import json
import warnings

import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from fairvision.errors import ConfigError
from fairvision.search import frnas_space, load_space, space_from_dict, timm_zoo_space, with_compression
from fairvision.search.spaces import config_to_dict, space_fingerprint

RELEASED = "smac3_output/smac_dpn_vgg_test2/0/configspace.json"


def test_frnas_space_equals_released_json_via_configspace_reader(frnas_dir):
    with warnings.catch_warnings():  # format 0.4 spells 'default', ConfigSpace 1.x warns but reads it
        warnings.simplefilter("ignore")
        released = ConfigurationSpace.from_json(frnas_dir / RELEASED)
    assert frnas_space() == released
    assert space_fingerprint(frnas_space(seed=1)) == space_fingerprint(released)


def test_frnas_space_field_by_field(frnas_dir):
    raw = json.loads((frnas_dir / RELEASED).read_text())
    cs = frnas_space()
    assert sorted(cs.keys()) == sorted(h["name"] for h in raw["hyperparameters"])
    for h in raw["hyperparameters"]:
        hp = cs[h["name"]]
        assert hp.default_value == h["default"], h["name"]
        if h["type"] == "categorical":
            assert list(hp.choices) == h["choices"]
        else:
            assert h["type"] == "uniform_float"
            assert (hp.lower, hp.upper, hp.log) == (h["lower"], h["upper"], h["log"])
    conds = {c.child.name: (c.parent.name, sorted(c.values)) for c in cs.conditions}
    assert conds == {c["child"]: (c["parent"], sorted(c["values"])) for c in raw["conditions"]}
    assert raw["forbiddens"] == [] and not cs.forbidden_clauses


def test_frnas_conditional_lr_is_respected_by_sampling():
    cs = frnas_space(seed=0)
    for c in cs.sample_configuration(200):
        d = config_to_dict(c)
        assert all(type(v) in (str, float) for v in d.values())
        assert ("lr_sgd" in d) == (d["optimizer"] == "SGD")
        assert ("lr_adam" in d) == (d["optimizer"] in ("Adam", "AdamW"))


def test_timm_zoo_space():
    cs = timm_zoo_space(["dpn107", "rexnet_200"], optimizers=["AdamW", "SGD"])
    assert list(cs["backbone"].choices) == ["dpn107", "rexnet_200"]
    assert list(cs["optimizer"].choices) == ["AdamW", "SGD"]
    c = cs.get_default_configuration()
    assert dict(c) == {"backbone": "dpn107", "head": "CosFace", "optimizer": "AdamW", "lr_adam": 0.001}
    with pytest.raises(ConfigError, match="backbone"):
        timm_zoo_space([])
    with pytest.raises(ConfigError, match="unknown optimizer"):
        timm_zoo_space(["x"], optimizers=["Lion"])
    cs = timm_zoo_space(["x"], optimizers=["SGD"])
    assert "lr_adam" not in cs and "lr_sgd" in cs


SCHEMA = """
edge1: {type: categorical, choices: ["0", "1", "2"], default: "1"}
optimizer: {type: categorical, choices: [Adam, SGD]}
lr_adam: {type: float, low: 1.0e-5, high: 1.0e-2, log: true, default: 1.0e-3}
lr_sgd: {type: float, low: 0.09, high: 0.8, log: true}
depth: {type: int, low: 2, high: 8}
dropout: {type: constant, value: 0.1}
conditions:
  - {child: lr_adam, parent: optimizer, in: [Adam]}
  - {child: lr_sgd, parent: optimizer, equals: SGD}
  - {child: depth, parent: optimizer, equals: SGD}
  - {child: depth, parent: edge1, in: ["1", "2"]}
"""


def test_space_from_yaml(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SCHEMA)
    cs = load_space(path, seed=0)
    assert cs["edge1"].default_value == "1"
    assert cs["lr_adam"].log and cs["lr_adam"].default_value == pytest.approx(1e-3)
    assert (cs["depth"].lower, cs["depth"].upper) == (2, 8)
    assert Configuration(cs, values={"edge1": "2", "optimizer": "SGD", "lr_sgd": 0.1, "depth": 3, "dropout": 0.1})
    with pytest.raises(Exception):  # depth inactive when edge1 == "0" (AND of two conditions)
        Configuration(cs, values={"edge1": "0", "optimizer": "SGD", "lr_sgd": 0.1, "depth": 3, "dropout": 0.1})
    # same schema nested under 'hyperparameters:'
    import yaml

    d = yaml.safe_load(SCHEMA)
    nested = {"hyperparameters": {k: v for k, v in d.items() if k != "conditions"}, "conditions": d["conditions"]}
    assert space_from_dict(nested) == cs


@pytest.mark.parametrize("spec, match", [
    ({"a": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"a": {"type": "categorical", "choices": [1, 1]}}, "duplicate"),
    ({"a": {"type": "categorical", "choices": [1, 2], "default": 3}}, "default 3"),
    ({"a": {"type": "float", "low": 1, "high": 0}}, "low < high"),
    ({"a": {"type": "float", "low": 0, "high": 1, "log": True}}, "low > 0"),
    ({"a": {"type": "float", "low": 0}}, "missing 'high'"),
    ({"a": {"type": "float", "low": "x", "high": 1}}, "must be a number"),
    ({"a": {"type": "int", "low": 0.5, "high": 3}}, "integer"),
    ({"a": {"type": "float", "low": 0, "high": 1, "default": 2}}, "outside"),
    ({"a": {"type": "float", "low": 0, "high": 1, "step": 2}}, "unknown keys"),
    ({"a": {"type": "normal"}}, "unknown type"),
    ({"a": [1, 2]}, "expected a mapping"),
    ({}, "no hyperparameters"),
    ({"a": {"type": "float", "low": 0, "high": 1}, "conditions": [{"child": "a", "parent": "b", "in": [1]}]},
     "parent 'b' is not"),
    ({"a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "categorical", "choices": [1, 2]},
      "conditions": [{"child": "a", "parent": "b", "in": [3]}]}, "not a legal value"),
    ({"a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "categorical", "choices": [1, 2]},
      "conditions": [{"child": "a", "parent": "b"}]}, "exactly one of"),
    ({"a": {"type": "float", "low": 0, "high": 1}, "conditions": {"x": 1}}, "must be a list"),
])
def test_space_schema_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        space_from_dict(spec)


def test_load_space_error_names_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: {type: float, low: 1, high: 0}\n")
    with pytest.raises(ConfigError, match="bad.yaml.*'a'.*low < high"):
        load_space(path)


def test_with_compression():
    base = frnas_space()
    cs = with_compression(base)
    assert "sparsity" not in base  # a copy
    assert (cs["sparsity"].lower, cs["sparsity"].upper, cs["sparsity"].default_value) == (0.0, 0.95, 0.0)
    assert list(cs["width"].choices) == [0.25, 0.5, 1.0] and cs["width"].default_value == 1.0
    assert "width" not in with_compression(base, width=None)
    assert "sparsity" not in with_compression(base, sparsity=None)
    with pytest.raises(ConfigError, match="sparsity"):
        with_compression(base, sparsity=(0.5, 1.2))
    with pytest.raises(ConfigError, match="width"):
        with_compression(base, width=[0.5, 0.5])


def test_frnas_op_count_matches_the_network():
    from fairvision.models import FRNAS_OPS
    from fairvision.search.spaces import N_OPS

    assert N_OPS == len(FRNAS_OPS)
    assert frnas_space()["edge1"].choices == tuple(str(i) for i in range(len(FRNAS_OPS)))
