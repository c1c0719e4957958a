"""Typed training configuration (pydantic v2): ``data``, ``model``, ``head``, ``loss``, ``optim``, ``train``.

A config is a YAML mapping read with :func:`fairvision.config.load_yaml`
(``yaml.safe_load``).  Every section forbids unknown keys; a bad value or an
unknown key raises :class:`fairvision.errors.ConfigError` whose message names
the file and the key path, e.g. ``run.yaml: optim.lr: must be > 0 (got -1)``.

Names that select an implementation (``data.kind``, ``model.name``,
``head.name``, ``loss.name``) are checked against their registries
(:data:`fairvision.data.DATA_KINDS`, :data:`fairvision.models.HEADS`,
:data:`fairvision.models.LOSSES`; models when the model is built), so a new
head or data kind needs no change here.

``--set key.path=value`` overrides (:func:`apply_overrides`) parse ``value``
with ``yaml.safe_load`` and check the key path against the schema first, so a
typo is reported as an unknown key rather than silently ignored.  Free-form
mappings (``model.kwargs``, ``head.kwargs``, ``data.synthetic.group_difficulty``)
accept any sub-key.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairvision.config import load_yaml, validate_config
from fairvision.data import DATA_KINDS
from fairvision.data.synthetic import SyntheticFacesConfig
from fairvision.data.torch_dataset import frnas_resize
from fairvision.data.trigger import TriggerConfig
from fairvision.errors import ConfigError
from fairvision.models import FRNAS_OPS, HEADS, LOSSES
from fairvision.train._registries import TASKS

__all__ = [
    "BalanceTrainConfig",
    "DataConfig",
    "EvalProtocolConfig",
    "HeadConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "TaskConfig",
    "TrainSettings",
    "apply_overrides",
    "load_data_config",
    "load_run_config",
    "parse_overrides",
    "OPTIMIZERS",
]

#: Optimizers of ``optim.name`` (timm's ``create_optimizer_v2`` names, case as FR-NAS spells them).
OPTIMIZERS = ("Adam", "AdamW", "SGD")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalProtocolConfig(_Section):
    """FR-NAS balanced evaluation split applied to val/test (:func:`fairvision.data.frnas_eval_split`)."""

    min_images: int = Field(3, ge=2, description="drop identities with fewer images")
    identities_per_group: int | None = Field(None, ge=1, description="identities kept per group (default: smallest group)")
    max_images_per_group: int | None = Field(None, ge=1, description="cap on images per group")
    seed: int = Field(222, ge=0, description="seed of the random choices (FR-NAS: 222)")


class BalanceTrainConfig(_Section):
    """Balanced training split (FR-NAS balanced CelebA's and VGGFace2's training sets by gender), applied to the
    training split only (:func:`fairvision.train.data.balance_train`); val and test are unchanged."""

    identities: Literal["equal"] | None = Field(
        "equal", description="equal: the same number of identities in every group of data.group_column (the "
        "smallest group's), drawn at random; null: keep every training identity")
    max_images_per_group: int | None = Field(
        None, ge=1, description="cap on training images per group: images are removed round-robin from the "
        "group's largest identities, never the last image of an identity (null: no cap)")
    seed: int = Field(222, ge=0, description="seed of the random choices (FR-NAS: 222)")

    @model_validator(mode="after")
    def _check(self) -> "BalanceTrainConfig":
        if self.identities is None and self.max_images_per_group is None:
            raise ValueError("@identities: with max_images_per_group null too there is nothing to balance "
                             "(set data.balance_train: null to train on the whole split)")
        return self


class DataConfig(_Section):
    kind: str = Field("synthetic", description="a name of fairvision.data.DATA_KINDS")
    root: str | None = Field(None, description="data set root; for synthetic: cache folder (default RUN_DIR/data)")
    demographics: str | None = Field(None, description="folders: FR-NAS JSON or CSV of identity demographics")
    group_column: str | None = Field(None, description="demographic column scored by the fairness metrics")
    synthetic: SyntheticFacesConfig | None = Field(None, description="synthetic faces generator config")
    heldout: dict[str, Any] | None = Field(
        None,
        description="generated kinds: val and test come from a second, separately generated set: `synthetic` "
        "with these keys changed (e.g. {seed: 1000, n_identities: 480, group_weights: null}); the training "
        "split is then the whole first set, and the second is split val:test by val_fraction:test_fraction",
    )
    image_size: int = Field(112, ge=8, le=1024)
    partition: Literal["random", "official"] = "random"
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_seed: int = Field(0, ge=0)
    eval_protocol: EvalProtocolConfig | None = Field(default_factory=EvalProtocolConfig)
    balance_train: BalanceTrainConfig | None = Field(
        None, description="balance the training split by data.group_column: equal identities per group and/or an "
        "image cap per group, seeded (null: the whole training split)")
    trigger: TriggerConfig | None = Field(
        None, description="controlled spurious correlation (fairvision.data.trigger): a grayscale or square trigger "
        "on a share of each class of `target` (training: fraction_negatives / fraction_positives; val/test: "
        "eval_fraction), recorded as a 0/1 protected column (null: off)")
    num_workers: int = Field(0, ge=0, le=256)

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        return DATA_KINDS.canonical(value)

    @field_validator("group_column")
    @classmethod
    def _check_group_column(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-empty column name")
        return value

    @model_validator(mode="after")
    def _resolve(self) -> "DataConfig":
        if self.val_fraction + self.test_fraction >= 1.0 and self.heldout is None:
            raise ValueError("@test_fraction: val_fraction + test_fraction must be < 1 (no training identities left)")
        spec = DATA_KINDS.get(self.kind)
        if spec.generated:
            if self.synthetic is None:
                self.synthetic = SyntheticFacesConfig()
            if self.heldout is not None:
                if self.val_fraction + self.test_fraction <= 0:
                    raise ValueError("@heldout: needs val_fraction + test_fraction > 0 to split the held-out set")
                self.heldout_config()  # invalid keys are reported here
        elif self.heldout is not None:
            raise ValueError(f"@heldout: only applies to kind {_kinds_with('generated')}, not {self.kind!r}")
        else:
            if self.synthetic is not None:
                raise ValueError(f"@synthetic: only applies to kind {_kinds_with('generated')}, not {self.kind!r}")
            if not self.root:
                raise ValueError(f"@root: required for kind {self.kind!r}")
        if self.demographics is not None and not spec.demographics:
            raise ValueError(f"@demographics: only applies to kind {_kinds_with('demographics')}, not {self.kind!r}")
        if self.partition == "official" and not spec.official_partition:
            raise ValueError(f"@partition: 'official' exists for {_kinds_with('official_partition')}, not {self.kind!r}")
        if self.group_column is None:
            self.group_column = spec.group_column
        return self


    def heldout_config(self) -> "DataConfig":
        """The data config of the held-out evaluation set (``synthetic`` updated with ``heldout``)."""
        assert self.synthetic is not None and self.heldout is not None
        if self.heldout.get("seed", self.synthetic.seed) == self.synthetic.seed:
            raise ValueError(f"@heldout.seed: must differ from data.synthetic.seed ({self.synthetic.seed}), or the "
                             f"held-out set would repeat the training identities")
        try:
            synthetic = SyntheticFacesConfig(**{**self.synthetic.model_dump(), **self.heldout})
        except ConfigError as exc:
            raise ValueError(f"@heldout: {exc}") from None
        return self.model_copy(update={"synthetic": synthetic, "heldout": None})


def _kinds_with(flag: str) -> str:
    """Names of the data kinds whose :class:`fairvision.data.DataKind` has ``flag`` set, e.g. "celeba or vggface2"."""
    return " or ".join(name for name in DATA_KINDS.names() if getattr(DATA_KINDS.get(name), flag))


class ModelConfig(_Section):
    name: str = Field(..., min_length=1, description='timm model name or "frnas_dpn"')
    embedding_dim: int | None = Field(None, ge=1, le=65536, description="default: the model's (timm 512, frnas_dpn 1000)")
    edges: tuple[int, int, int] | None = Field(None, description="frnas_dpn: the three searched edges (FRNAS_OPS indices)")
    width: float | None = Field(None, gt=0, le=16, description="frnas_dpn: width multiplier")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments of create_model")

    @field_validator("edges")
    @classmethod
    def _check_edges(cls, value):
        if value is not None and any(not 0 <= e < len(FRNAS_OPS) for e in value):
            raise ValueError(f"each edge must be in 0..{len(FRNAS_OPS) - 1}, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _check_dpn(self) -> "ModelConfig":
        if self.name != "frnas_dpn":
            for key in ("edges", "width"):
                if getattr(self, key) is not None:
                    raise ValueError(f"@{key}: only applies to model frnas_dpn, not {self.name!r}")
        if "pretrained" in self.kwargs and self.kwargs["pretrained"]:
            raise ValueError("@kwargs.pretrained: there is no network; models are trained from scratch")
        return self

    def create_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`fairvision.models.create_model` (besides the name)."""
        out = dict(self.kwargs)
        if self.embedding_dim is not None:
            out["embedding_dim"] = self.embedding_dim
        if self.edges is not None:
            out["edges"] = tuple(self.edges)
        if self.width is not None:
            out["width"] = self.width
        return out


class HeadConfig(_Section):
    name: str = Field("CosFace", description="a name of fairvision.models.HEADS (any case)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments of create_head")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return HEADS.canonical(value)


class LossConfig(_Section):
    name: str = Field("ce", description="a name of fairvision.models.LOSSES (any case)")
    gamma: float = Field(2.0, ge=0.0, le=100.0, description="focal loss exponent")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return LOSSES.canonical(value)


class OptimConfig(_Section):
    name: Literal[OPTIMIZERS] = "SGD"  # type: ignore[valid-type]
    lr: float = Field(0.1, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    scheduler: Literal["cosine", "constant", "none"] = "cosine"
    warmup_epochs: float = Field(0.0, ge=0.0)
    warmup_lr: float = Field(1e-5, ge=0.0)
    min_lr: float = Field(0.0, ge=0.0)

    @field_validator("name", mode="before")
    @classmethod
    def _case(cls, value):
        if isinstance(value, str):
            return next((o for o in OPTIMIZERS if o.lower() == value.lower()), value)
        return value

    @model_validator(mode="after")
    def _check(self) -> "OptimConfig":
        if self.min_lr > self.lr:
            raise ValueError(f"@min_lr: must not exceed lr ({self.min_lr} > {self.lr})")
        return self


class TrainSettings(_Section):
    epochs: int = Field(10, ge=1, le=100_000)
    schedule_epochs: int | None = Field(
        None, ge=1, description="length of the lr schedule in epochs (default: epochs at the start of the run)"
    )
    batch_size: int = Field(64, ge=2, le=65536)
    seed: int = Field(0, ge=0)
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    grad_clip: float | None = Field(None, gt=0.0)
    device: str = Field("auto", description='"auto", "cpu", "cuda" or "cuda:N"')
    eval_every: int = Field(1, ge=1)
    deterministic: bool = True
    hflip: float = Field(0.5, ge=0.0, le=1.0, description="probability of a horizontal flip of a training image")
    eval_batch_size: int = Field(256, ge=1)
    init_from: str | None = Field(
        None, description="a run folder or checkpoint.pt whose model and head weights start this run (fine-tuning, "
        "post-training pruning; masks of a pruned run are folded in)"
    )

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise ValueError(f'must be "auto", "cpu", "cuda" or "cuda:N", got {value!r}')
        return value


class TaskConfig(_Section):
    """What is trained: ``identification`` (face identification, the FR-NAS protocol) or ``attribute``
    (multi-label attribute classification, Iofinova et al.); names of :data:`fairvision.train.TASKS`."""

    name: str = Field("identification", description="a name of fairvision.train.TASKS")
    attributes: list[str] | None = Field(
        None, description="attribute: target columns (default: every 0/1 attribute of the data, e.g. CelebA's 40)")
    protected: list[str] | None = Field(
        None, description="attribute: protected attributes of the bias metrics (default: Male, Young, Chubby, "
        "Pale_Skin where present)")
    group_onehot: bool = Field(False, description="attribute: add one 0/1 target per value of data.group_column")
    resize: int | Literal["frnas"] | None = Field(
        None, description="resize images to resize x resize, then crop data.image_size (random crop in training, "
        "centre crop in evaluation); \"frnas\" = FR-NAS's int(128 * image_size / 112), e.g. 256 for 224; null = "
        "resize straight to data.image_size, no crop (Iofinova et al.'s CelebA attribute pipeline: 256 -> 224)")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return TASKS.canonical(value)

    @field_validator("attributes", "protected")
    @classmethod
    def _check_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value or any(not str(v).strip() for v in value):
                raise ValueError("must be a non-empty list of attribute names")
            if len(set(value)) != len(value):
                raise ValueError(f"names repeat: {sorted({v for v in value if value.count(v) > 1})}")
        return value

    @field_validator("resize", mode="before")
    @classmethod
    def _check_resize(cls, value: Any) -> Any:
        if value is None or value == "frnas":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 4096:
            raise ValueError(f'must be a size in pixels (8..4096), "frnas" or null, got {value!r}')
        return value

    def resize_to(self, image_size: int) -> int:
        """The side images are resized to before the crop to ``image_size`` (``image_size`` itself: no crop)."""
        if self.resize is None:
            return image_size
        return frnas_resize(image_size) if self.resize == "frnas" else int(self.resize)

    @model_validator(mode="after")
    def _check(self) -> "TaskConfig":
        if self.name == "identification":
            for key in ("attributes", "protected"):
                if getattr(self, key) is not None:
                    raise ValueError(f"@{key}: only applies to task attribute")
            if self.group_onehot:
                raise ValueError("@group_onehot: only applies to task attribute")
        return self


class RunConfig(_Section):
    """The whole training configuration."""

    task: TaskConfig = Field(default_factory=TaskConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    head: HeadConfig = Field(default_factory=HeadConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainSettings = Field(default_factory=TrainSettings)
    prune: dict[str, Any] | None = Field(
        None, description="pruning during training (fairvision.prune.PruneConfig: method, sparsity, schedule, scope)")
    mitigation: dict[str, Any] | None = Field(
        None, description="bias mitigation during training (fairvision.mitigate.MitigationConfig: name none, "
        "flipped, angular or discriminator, and its options)")

    @field_validator("loss", "task", mode="before")
    @classmethod
    def _name_shorthand(cls, value):
        return {"name": value} if isinstance(value, str) else value

    @field_validator("prune", "mitigation", mode="before")
    @classmethod
    def _plugin_section(cls, value, info):
        from fairvision.train.plugins import validate_section

        return validate_section(info.field_name, value)

    @model_validator(mode="after")
    def _check_resize(self) -> "RunConfig":
        size = self.data.image_size
        if self.task.resize_to(size) < size:
            raise ValueError(f"@task.resize: {self.task.resize} is smaller than data.image_size ({size}), the crop")
        return self

    @model_validator(mode="after")
    def _cross_check(self) -> "RunConfig":
        from fairvision.train.plugins import check_sections

        check_sections(self)
        return self

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "config") -> "RunConfig":
        """Validate a mapping; ConfigError names ``source`` and every bad key path."""
        return validate_config(cls, data, source=source)

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready dict that validates back to an equal config."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


# --------------------------------------------------------------------------- overrides


def _unwrap(annotation) -> list:
    """The non-None members of an Optional/Union annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _check_path(model: type[BaseModel], path: list[str], text: str) -> None:
    """Raise ConfigError unless ``path`` names a key of ``model`` (free-form dicts accept any sub-key)."""
    current: Any = model
    for depth, key in enumerate(path):
        if isinstance(current, type) and issubclass(current, BaseModel):
            if key not in current.model_fields:
                where = ".".join(path[: depth + 1])
                known = ", ".join(current.model_fields)
                raise ConfigError(f"--set {text}: unknown key {where!r} (known keys here: {known})")
            members = _unwrap(current.model_fields[key].annotation)
            current = next((m for m in members if isinstance(m, type) and issubclass(m, BaseModel)), members[0])
        else:
            origin = typing.get_origin(current) or current
            if origin is dict:
                return  # free-form mapping: any sub-key
            where = ".".join(path[:depth])
            raise ConfigError(f"--set {text}: {where!r} is a value, not a section, so {key!r} is unknown")


def parse_overrides(items: Sequence[str]) -> list[tuple[list[str], Any]]:
    """Parse ``key.path=value`` strings; the value is read with ``yaml.safe_load``."""
    out = []
    for text in items:
        key, sep, raw = text.partition("=")
        path = key.strip().split(".")
        if not sep or not key.strip() or any(not p for p in path):
            raise ConfigError(f"--set expects KEY.PATH=VALUE, got {text!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {text}: value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
        out.append((path, value))
    return out


def apply_overrides(
    data: dict[str, Any], items: Sequence[str], *, schema: type[BaseModel] = None  # type: ignore[assignment]
) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` of ``items`` set; unknown key paths raise ConfigError."""
    import copy

    schema = schema or RunConfig
    out = copy.deepcopy(data)
    for (path, value), text in zip(parse_overrides(items), items):
        _check_path(schema, path, text)
        node = out
        for depth, key in enumerate(path[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {text}: {'.'.join(path[: depth + 1])!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    return out


# --------------------------------------------------------------------------- loading


def load_run_config(path: str | Path | dict, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML config file (or take a mapping), apply ``--set`` overrides, validate."""
    if isinstance(path, dict):
        data, source = path, "config"
    else:
        data, source = load_yaml(path), str(path)
    if overrides:
        data = apply_overrides(data, overrides)
        source += " (with --set " + " ".join(overrides) + ")"
    return RunConfig.from_dict(data, source=source)


class _DataOnly(_Section):
    data: DataConfig


def load_data_config(
    path: str | Path | dict | None, overrides: Sequence[str] = (), *, base: DataConfig | None = None
) -> DataConfig:
    """The ``data`` section of a YAML file (other sections are ignored), with ``--set data.x=y`` overrides.

    Without a file, overrides apply to ``base`` (e.g. the data config of a trained run).
    """
    if path is None:
        data: dict[str, Any] = {"data": base.model_dump(mode="json") if base is not None else {}}
        source = "data config of the run" if base is not None else "default data config"
    elif isinstance(path, dict):
        data, source = dict(path), "data spec"
    else:
        data, source = load_yaml(path), str(path)
    if "data" not in data:
        raise ConfigError(f"{source}: needs a 'data' section")
    data = {"data": data["data"] if data["data"] is not None else {}}
    if overrides:
        bad = [o for o in overrides if not o.strip().startswith("data.")]
        if bad:
            raise ConfigError(f"--set {bad[0]}: only data.* keys can be set here")
        data = apply_overrides(data, overrides, schema=_DataOnly)
        source += " (with --set " + " ".join(overrides) + ")"
    return validate_config(_DataOnly, data, source=source).data
