"""The one formatter of pydantic validation errors (fairvision.config), for every typed config."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fairvision.config import ConfigValidationError, format_validation_error, validate_config
from fairvision.data.synthetic import SyntheticFacesConfig
from fairvision.errors import ConfigError
from fairvision.train import RunConfig


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr: float = Field(0.1, gt=0)
    min_lr: float = 0.0

    @model_validator(mode="after")
    def _check(self):
        if self.min_lr > self.lr:
            raise ValueError(f"@min_lr: must not exceed lr ({self.min_lr} > {self.lr})")
        return self


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    optim: _Inner = Field(default_factory=_Inner)
    name: str


def test_every_error_as_key_path_and_problem():
    with pytest.raises(ConfigValidationError) as info:
        validate_config(_Outer, {"optim": {"lr": -1, "bogus": 2}, "extra": 1}, source="run.yaml")
    assert str(info.value) == (
        "run.yaml: optim.lr: must be > 0.0 (got -1); optim.bogus: unknown key; name: required key is missing; "
        "extra: unknown key"
    )
    assert format_validation_error(info.value.validation_error) == str(info.value).removeprefix("run.yaml: ")
    with pytest.raises(ConfigError, match=r"^x: optim\.min_lr: must not exceed lr \(1\.0 > 0\.1\)$"):
        validate_config(_Outer, {"name": "a", "optim": {"min_lr": 1.0}}, source="x")  # a validator naming its key
    with pytest.raises(ConfigError, match="^x: config must be a mapping of keys, not list$"):
        validate_config(_Outer, [1], source="x")


def test_synthetic_config_errors_same_format_alone_and_nested():
    """SyntheticFacesConfig validates itself (its own __init__); nested in a training config its errors keep
    their full key paths, formatted once, not a message inside a message."""
    bad = {"size": 3, "colour": 1, "group_difficulty": {"A": 2.0}}
    with pytest.raises(ConfigError) as alone:
        SyntheticFacesConfig(**bad)
    assert str(alone.value) == (
        "invalid synthetic faces config: size: must be >= 16 (got 3); "
        "group_difficulty: difficulty of 'A' must be in [0, 1], got 2.0; colour: unknown key"
    )
    with pytest.raises(ConfigError) as nested:
        RunConfig.from_dict({"model": {"name": "resnet18"}, "data": {"synthetic": bad}}, source="run.yaml")
    assert str(nested.value) == (
        "run.yaml: data.synthetic.size: must be >= 16 (got 3); "
        "data.synthetic.group_difficulty: difficulty of 'A' must be in [0, 1], got 2.0; data.synthetic.colour: unknown key"
    )
    with pytest.raises(ConfigError, match=r"^run\.yaml: data\.synthetic: group_weights keys \['Z'\] must equal"):
        RunConfig.from_dict({"model": {"name": "x"}, "data": {"synthetic": {"group_weights": {"Z": 1}}}},
                            source="run.yaml")
