"""``data.balance_train``: equal identities and an image cap per group in the training split only, seeded."""

from __future__ import annotations

import pandas as pd
import pytest

from fairvision.data import FaceSet
from fairvision.errors import ConfigError, DatasetError
from fairvision.train import RunConfig
from fairvision.train.config import DataConfig
from fairvision.train.data import balance_train, load_splits, make_splits

#: images per identity in each group: 6 female and 8 male identities, 32 and 45 images
TOY = {"female": [2, 3, 4, 5, 8, 10], "male": [1, 3, 3, 4, 6, 7, 9, 12]}


def make_faces(groups: dict[str, list[int]], *, column: str = "gender") -> FaceSet:
    """``{group: [images of identity 0, of identity 1, ...]}`` -> FaceSet (paths need not exist)."""
    rows = []
    for group, counts in groups.items():
        for k, n in enumerate(counts):
            ident = f"{group}-{k:03d}"
            rows += [{"path": f"/data/{ident}/{j:04d}.jpg", "identity": ident, column: group} for j in range(n)]
    return FaceSet(pd.DataFrame(rows), name="toy")


def data_cfg(balance: dict | None, **changes) -> DataConfig:
    return DataConfig(kind="folders", root="/unused", group_column="gender", balance_train=balance, **changes)


def per_group(faces: FaceSet) -> pd.DataFrame:
    """Identities and images per group."""
    return faces.frame.groupby("gender").agg(identities=("identity", "nunique"), images=("path", "size"))


@pytest.mark.parametrize("balance, identities, images", [
    ({"identities": "equal"}, {"female": 6, "male": 6}, None),  # the smallest group's count
    ({"identities": "equal", "max_images_per_group": 20}, {"female": 6, "male": 6}, {"female": 20, "male": 20}),
    ({"identities": None, "max_images_per_group": 20}, {"female": 6, "male": 8}, {"female": 20, "male": 20}),
    ({"identities": "equal", "max_images_per_group": 40}, {"female": 6, "male": 6}, None),  # cap above the counts
])
def test_counts_per_group(balance, identities, images):
    faces = make_faces(TOY)
    out = balance_train(data_cfg(balance), faces)
    table = per_group(out)
    assert table["identities"].to_dict() == identities
    if images is not None:
        assert table["images"].to_dict() == images
    assert table["images"].max() <= (balance.get("max_images_per_group") or len(faces))
    # a subset of the rows, in their order, every kept identity with at least one image
    assert set(out.frame["path"]) <= set(faces.frame["path"])
    assert out.frame["path"].tolist() == [p for p in faces.frame["path"] if p in set(out.frame["path"])]
    assert out.name == "toy-balanced"


def test_cap_only_keeps_every_identity_and_takes_from_the_largest():
    out = balance_train(data_cfg({"identities": None, "max_images_per_group": 24}), make_faces(TOY))
    counts = out.frame.groupby("identity").size()
    assert counts["female-000"] == 2 and counts["female-005"] < 10  # small identities untouched, large ones cut
    assert counts.groupby(lambda i: i.split("-")[0]).sum().to_dict() == {"female": 24, "male": 24}


def test_deterministic_by_seed():
    faces = make_faces(TOY)
    spec = {"identities": "equal", "max_images_per_group": 18}
    runs = {seed: [balance_train(data_cfg({**spec, "seed": seed}), faces).frame["path"].tolist() for _ in range(2)]
            for seed in range(4)}
    assert all(a == b for a, b in runs.values())  # same seed, same rows
    assert len({tuple(a) for a, _ in runs.values()}) > 1  # the seed changes the choice


def test_off_leaves_the_training_split_unchanged():
    faces = make_faces(TOY)
    assert balance_train(data_cfg(None), faces) is faces


def test_only_the_training_split_is_balanced():
    faces = make_faces({"female": [3] * 12, "male": [3] * 30})
    split = {"val_fraction": 0.25, "test_fraction": 0.25, "eval_protocol": None, "split_seed": 1}
    plain = make_splits(data_cfg(None, **split), faces)
    balanced = make_splits(data_cfg({"identities": "equal", "max_images_per_group": 15}, **split), faces)
    for name in ("val", "test"):
        pd.testing.assert_frame_equal(plain[name].frame, balanced[name].frame)
    assert per_group(plain["train"])["identities"].to_dict() == {"female": 6, "male": 15}
    # 6 identities per group (the smaller group's), 18 images capped to 15 by taking images, not identities
    assert per_group(balanced["train"]).to_dict() == {"identities": {"female": 6, "male": 6},
                                                      "images": {"female": 15, "male": 15}}


def test_training_run_uses_the_balanced_split(tiny, tmp_path):
    """Through the config and load_splits (as training loads them): equal identities per group in train."""
    cfg = RunConfig.from_dict(tiny(data__balance_train={"identities": "equal", "max_images_per_group": 20}))
    parts = load_splits(cfg.data, run_dir=tmp_path)
    off = load_splits(RunConfig.from_dict(tiny()).data, run_dir=tmp_path)
    table = parts["train"].frame.groupby("group").agg(identities=("identity", "nunique"), images=("path", "size"))
    assert table["identities"].nunique() == 1 and (table["images"] <= 20).all()
    assert len(parts["train"]) < len(off["train"])
    pd.testing.assert_frame_equal(parts["val"].frame, off["val"].frame)


def test_group_without_training_identity_is_an_error():
    faces = make_faces({"female": [3, 3], "male": [3, 3], "other": [3]})
    train = faces.subset((faces.frame["gender"] != "other").to_numpy())
    with pytest.raises(DatasetError, match=r"data\.balance_train: group 'other' of column 'gender' has no identity"):
        balance_train(data_cfg({"identities": "equal"}), train, groups_of=faces)


@pytest.mark.parametrize("balance", [{"identities": "equal", "max_images_per_group": 5},
                                     {"identities": None, "max_images_per_group": 7}])
def test_cap_below_the_identities_kept_is_an_error(balance):
    with pytest.raises(ConfigError, match=r"data\.balance_train\.max_images_per_group: \d+ is below"):
        balance_train(data_cfg(balance), make_faces(TOY))


@pytest.mark.parametrize("balance, match", [
    ({"identities": None}, r"data\.balance_train\.identities: with max_images_per_group null too"),
    ({"identities": "yes"}, r"data\.balance_train\.identities: must be one of"),
    ({"max_images_per_group": 0}, r"data\.balance_train\.max_images_per_group: must be >= 1"),
    ({"seed": -1}, r"data\.balance_train\.seed: must be >= 0"),
    ({"per_group": 3}, r"data\.balance_train\.per_group: unknown key"),
])
def test_bad_config_names_the_key(balance, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict({"model": {"name": "resnet18"}, "data": {"balance_train": balance}})
