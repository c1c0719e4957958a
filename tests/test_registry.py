"""The one registry type (fairvision.registry.Registry) and the registries built on it."""

from __future__ import annotations

import pytest

from fairvision.data import DATA_KINDS
from fairvision.errors import ConfigError
from fairvision.registry import Registry


@pytest.fixture
def reg() -> Registry:
    r: Registry[object] = Registry("widget")

    @r.register("FooBar")
    class FooBar:
        pass

    r.register("baz", len, aliases=("bazz", "b-a-z"))
    return r


def test_register_get_names_contains(reg):
    assert reg.names() == ["FooBar", "baz"]  # registration order, canonical spelling, no aliases
    assert reg.get("foobar").__name__ == "FooBar" and reg.get("FOOBAR") is reg.get("FooBar")
    assert reg.get("BAZZ") is len and reg.get("b-a-z") is len
    assert reg.canonical("foobar") == "FooBar" and reg.canonical("bazz") == "baz"
    assert "fooBAR" in reg and "bazz" in reg and "nope" not in reg and None not in reg
    assert repr(reg) == "Registry('widget', ['FooBar', 'baz'])"


def test_unknown_name_is_a_config_error_with_suggestions(reg):
    with pytest.raises(ConfigError) as info:
        reg.get("fobar")
    assert str(info.value) == "unknown widget 'fobar' (did you mean 'FooBar'?); must be one of FooBar, baz"
    with pytest.raises(ConfigError, match=r"unknown widget 'qqq'; must be one of FooBar, baz$"):
        reg.canonical("qqq")
    with pytest.raises(ConfigError, match="unknown widget 3"):
        reg.get(3)  # type: ignore[arg-type]


def test_duplicates_and_unregister(reg):
    reg.register("FOOBAR", reg.get("FooBar"))  # the same object again (e.g. a reload) is fine
    with pytest.raises(ValueError, match="widget 'foobar' is already registered"):
        reg.register("foobar", object())
    with pytest.raises(ValueError, match="already registered"):
        reg.register("other", object(), aliases=("BAZZ",))
    reg.unregister("bazz")  # by alias: removes the name and all its aliases
    assert reg.names() == ["FooBar"] and "baz" not in reg and "b-a-z" not in reg
    reg.unregister("never-registered")


def test_pydantic_field_validated_by_a_registry_reports_the_key():
    from pydantic import BaseModel, field_validator

    from fairvision.config import validate_config

    widgets: Registry[int] = Registry("widget")
    widgets.register("Small", 1)

    class Cfg(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _check(cls, value: str) -> str:
            return widgets.canonical(value)

    assert validate_config(Cfg, {"name": "SMALL"}, source="x.yaml").name == "Small"
    with pytest.raises(ConfigError, match=r"^x\.yaml: name: unknown widget 'smal' \(did you mean 'Small'\?\)"):
        validate_config(Cfg, {"name": "smal"}, source="x.yaml")


@pytest.mark.parametrize("kind", DATA_KINDS.names())
def test_every_data_kind_is_a_valid_config(kind):
    """Generated from DATA_KINDS: each kind validates (any case), with its default group column and flags honoured."""
    from fairvision.train import DataConfig

    spec = DATA_KINDS.get(kind)
    cfg = DataConfig(kind=kind.upper(), root=None if spec.generated else "/data")
    assert cfg.kind == kind and cfg.group_column == spec.group_column
    assert (cfg.synthetic is not None) == spec.generated
    official = {"kind": kind, "root": "/data", "partition": "official"}
    if spec.official_partition:
        assert DataConfig(**official).partition == "official"
    else:
        with pytest.raises(ValueError, match="'official' exists for celeba or vggface2"):
            DataConfig(**official)
