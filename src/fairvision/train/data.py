"""Data for training and evaluation: load the configured face set, split identities, apply the eval protocol.

* ``kind: synthetic`` generates the configured synthetic faces once, into
  ``data.root/synthetic-<hash of the generator config>`` when ``root`` is set
  (a cache shared by runs; written to a temporary folder and renamed, so a
  half-written set is never used) or into ``RUN_DIR/data`` otherwise.
* Splits are identity-disjoint (:func:`fairvision.data.split_identities`),
  stratified by the group column and seeded with ``data.split_seed``;
  ``partition: official`` uses CelebA's ``list_eval_partition.txt`` or
  VGGFace2's ``train/`` and ``test/`` folders instead.
* ``eval_protocol`` (unless null) applies the FR-NAS balanced evaluation split
  (:func:`fairvision.data.frnas_eval_split`) to val, test and "all".
* ``balance_train`` (unless null) balances the training split only (:func:`balance_train`).
* ``trigger`` (unless null) adds a trigger to a seeded share of each split's images, last
  (:func:`fairvision.data.trigger.apply_trigger`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from fairvision._io import make_temp_dir
from fairvision.data import DATA_KINDS, FaceSet, frnas_eval_split, split_identities
from fairvision.data.protocol import _sorted
from fairvision.data.synthetic import write_synthetic
from fairvision.data.trigger import apply_trigger
from fairvision.errors import ConfigError, DatasetError
from fairvision.train.config import DataConfig
from fairvision.train.layout import RunLayout

__all__ = ["SPLITS", "balance_train", "expand_path", "load_faces", "load_split", "load_splits", "make_splits",
           "synthetic_dir"]

SPLITS = ("train", "val", "test", "all")


def expand_path(value: str, key: str) -> Path:
    """``~`` and ``$VAR``/``${VAR}`` expanded; an unset variable is a ConfigError naming ``key``."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    unset = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded)
    if unset:
        raise ConfigError(
            f"{key}: environment variable {unset[0]} in {value!r} is not set "
            f"(export it, or pass --set {key}=PATH)"
        )
    return Path(expanded)


def synthetic_dir(cfg: DataConfig, run_dir: str | Path | None, *, heldout: bool = False) -> Path:
    """Folder holding the synthetic face set of ``cfg`` (generated on first use; deterministic);
    ``heldout``: ``cfg`` is a held-out set's config (its own default folder in the run)."""
    assert cfg.synthetic is not None
    payload = _payload(cfg.synthetic.model_dump(mode="json"))
    if cfg.root:
        digest = hashlib.sha1(payload.encode()).hexdigest()[:12]
        out = expand_path(cfg.root, "data.root") / f"synthetic-{digest}"
    elif run_dir is not None:
        out = RunLayout(run_dir).heldout_data if heldout else RunLayout(run_dir).data
    else:
        raise ConfigError("data.root: needed for synthetic data when there is no run folder")
    if _holds(out, payload):
        return out
    if (out / "synthetic.json").is_file() and not cfg.root:
        raise ConfigError(f"{out} holds a synthetic face set with a different config; use a new run folder or set data.root")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out.parent / f".{out.name}.lock"):  # concurrent trials of a search share one cache
        if _holds(out, payload):  # another process generated it while we waited
            return out
        tmp = make_temp_dir(out.parent, prefix=f".{out.name}.")  # umask permissions, not mkdtemp's 0700
        try:
            write_synthetic(tmp, cfg.synthetic, layout="folders", progress=False)
            if out.exists():  # stale (another config under the same digest folder, or half-written)
                shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return out


def _payload(config: dict) -> str:
    """Canonical JSON of a generator config; keys added in later versions are left out while they hold
    their "off" value, so caches (and their folder digests) written before those keys existed stay valid."""
    config = dict(config)
    if not config.get("group_cues"):
        config.pop("group_cues", None)
    return json.dumps(config, sort_keys=True)


def _holds(out: Path, payload: str) -> bool:
    """Whether ``out`` holds a complete synthetic set of the config ``payload`` (the recorded config is
    validated again, so that defaults of keys added later are filled in before comparing)."""
    from fairvision.data.synthetic import SyntheticFacesConfig

    try:
        recorded = json.loads((out / "synthetic.json").read_text())["config"]
        return _payload(SyntheticFacesConfig(**recorded).model_dump(mode="json")) == payload
    except (OSError, ValueError, KeyError, TypeError):  # ConfigError is a ValueError
        return False


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive advisory lock (``flock``) on ``path`` while the block runs; released if the process dies.
    (POSIX; elsewhere no lock: concurrent generation of one cache is then not protected.)"""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_faces(cfg: DataConfig, *, run_dir: str | Path | None = None, which: str = "all",
               heldout: bool = False) -> FaceSet:
    """The configured face set (``which="test"`` selects VGGFace2's ``test/`` folder for the official partition)."""
    spec = DATA_KINDS.get(cfg.kind)
    group = cfg.group_column
    assert group is not None
    if spec.generated:
        root = synthetic_dir(cfg, run_dir, heldout=heldout)
    else:
        assert cfg.root is not None
        root = expand_path(cfg.root, "data.root")
    demo = expand_path(cfg.demographics, "data.demographics") if cfg.demographics else None
    faces = spec.load(root, group_column=group, demographics=demo, which=which)
    if group not in faces.frame.columns:
        raise DatasetError(
            f"data.group_column: {group!r} is not a column of {faces.name!r} "
            f"(columns: {', '.join(faces.attributes)})"
        )
    return faces


def _protocol(cfg: DataConfig, faces: FaceSet) -> FaceSet:
    p = cfg.eval_protocol
    if p is None:
        return faces
    return frnas_eval_split(
        faces,
        group_column=cfg.group_column,
        min_images=p.min_images,
        identities_per_group=p.identities_per_group,
        max_images_per_group=p.max_images_per_group,
        seed=p.seed,
    )


def make_splits(cfg: DataConfig, faces: FaceSet, *, test_faces: FaceSet | None = None) -> dict[str, FaceSet]:
    """``train``/``val``/``test`` identity-disjoint splits; the eval protocol is applied to val and test,
    ``data.balance_train`` to train."""
    if cfg.partition == "official" and cfg.kind == "celeba":
        part = faces.frame["partition"]
        parts = {name: faces.subset((part == name).to_numpy(), name=f"{faces.name}-{name}") for name in ("train", "val", "test")}
    else:
        if cfg.partition == "official":  # vggface2: train/ folder -> train+val; test/ folder -> test
            fracs = (1.0 - cfg.val_fraction, cfg.val_fraction, 0.0)
        else:
            fracs = (1.0 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction)
        parts = split_identities(
            faces, fractions=fracs, names=("train", "val", "test"), stratify=cfg.group_column, seed=cfg.split_seed
        )
        if cfg.partition == "official":
            parts["test"] = test_faces if test_faces is not None else parts["test"]
    parts = _evaluation_protocol(cfg, parts)
    if len(parts["train"]) == 0:
        raise DatasetError(f"{faces.name}: the training split is empty")
    parts["train"] = balance_train(cfg, parts["train"], groups_of=faces)
    return parts


def balance_train(cfg: DataConfig, train: FaceSet, *, groups_of: FaceSet | None = None) -> FaceSet:
    """The training split balanced by ``data.balance_train`` (``train`` itself when that is null).

    ``identities: equal`` keeps the same number of identities in every group of ``data.group_column`` -- the
    smallest group's -- drawn at random; ``max_images_per_group`` then caps each group's images, removing them
    round-robin from the group's largest identities and never an identity's last image (the algorithm of the
    FR-NAS evaluation protocol, :func:`fairvision.data.frnas_eval_split`, with ``min_images = 1``).  Without
    ``identities: equal`` each group is capped on its own.  Deterministic for ``seed``; rows keep their order.
    Every group of ``groups_of`` (the whole data set) must have a training identity (DatasetError otherwise).
    """
    spec = cfg.balance_train
    if spec is None:
        return train
    group = cfg.group_column
    assert group is not None
    wanted = groups_of if groups_of is not None else train
    present = set(train.frame[group].dropna().unique())
    empty = [g for g in _sorted(wanted.frame[group].dropna().unique()) if g not in present]
    if empty:
        raise DatasetError(
            f"data.balance_train: group {empty[0]!r} of column {group!r} has no identity in the training split of "
            f"{train.name!r}, so the groups cannot be balanced"
        )
    per_group = train.identity_table([group])[group].value_counts()
    kept_ids = per_group.clip(upper=per_group.min()) if spec.identities == "equal" else per_group
    cap = spec.max_images_per_group
    if cap is not None and cap < kept_ids.max():
        g = kept_ids.idxmax()
        raise ConfigError(
            f"data.balance_train.max_images_per_group: {cap} is below the {kept_ids[g]} training identities kept "
            f"in group {g!r}, each of which keeps at least one image"
        )
    frame = train.frame.assign(_row=np.arange(len(train)))
    tagged = FaceSet(frame, name=train.name)
    if spec.identities == "equal":
        kept = frnas_eval_split(tagged, group_column=group, min_images=1, max_images_per_group=cap,
                                seed=spec.seed).frame["_row"]
    else:  # cap only: each group on its own (every identity kept)
        assert cap is not None
        kept = pd.concat([
            frnas_eval_split(tagged.subset((frame[group] == g).to_numpy()), group_column=group, min_images=1,
                             max_images_per_group=cap, seed=spec.seed).frame["_row"]
            for g in _sorted(per_group.index)
        ])
    keep = np.zeros(len(train), dtype=bool)
    keep[kept.to_numpy()] = True
    return train.subset(keep, name=f"{train.name}-balanced")


def _evaluation_protocol(cfg: DataConfig, parts: dict[str, FaceSet]) -> dict[str, FaceSet]:
    """``parts`` with the eval protocol applied to its non-empty val and test splits."""
    return {name: _protocol(cfg, part) if name in ("val", "test") and len(part) else part
            for name, part in parts.items()}


def load_splits(cfg: DataConfig, *, run_dir: str | Path | None = None, only: str | None = None) -> dict[str, FaceSet]:
    """``train``/``val``/``test`` as training uses them. With ``data.heldout`` (generated kinds), train is
    the whole generated set and val/test split a second, separately generated set (identity-disjoint,
    stratified by group, in the ratio val_fraction : test_fraction, eval protocol applied).
    ``only``: the one split the caller needs; data that cannot change it is not loaded (held-out val/test
    without the training set, VGGFace2's ``test/`` folder only for test)."""
    if cfg.heldout is None:
        faces = load_faces(cfg, run_dir=run_dir)
        test = None
        if cfg.kind == "vggface2" and cfg.partition == "official" and only in (None, "test"):
            test = load_faces(cfg, run_dir=run_dir, which="test")
        return apply_trigger(cfg.trigger, make_splits(cfg, faces, test_faces=test))
    out: dict[str, FaceSet] = {}
    if only in (None, "train"):
        out["train"] = balance_train(cfg, load_faces(cfg, run_dir=run_dir))
    if only != "train":
        held = load_faces(cfg.heldout_config(), run_dir=run_dir, heldout=True)
        total = cfg.val_fraction + cfg.test_fraction
        out.update(split_identities(held, fractions=(cfg.val_fraction / total, cfg.test_fraction / total),
                                    names=("val", "test"), stratify=cfg.group_column, seed=cfg.split_seed))
    return apply_trigger(cfg.trigger, _evaluation_protocol(cfg, out))


def load_split(cfg: DataConfig, split: str, *, run_dir: str | Path | None = None) -> FaceSet:
    """One split (``train``/``val``/``test``, exactly as training made it) or ``all`` (the whole set, protocol applied)."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if split == "all":
        return apply_trigger(cfg.trigger, {"all": _protocol(cfg, load_faces(cfg, run_dir=run_dir))})["all"]
    out = load_splits(cfg, run_dir=run_dir, only=split)[split]
    if len(out) == 0:
        raise DatasetError(f"the {split!r} split of {out.name!r} is empty (data.{split}_fraction is 0?)")
    return out


def class_labels(faces: FaceSet) -> tuple[np.ndarray, list[str]]:
    """Integer class of every row (identities in sorted order) and the identity of each class."""
    names = sorted(map(str, faces.identities))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[str(i)] for i in faces.frame["identity"]], dtype=np.int64), names
