"""The FR-NAS evaluation-split protocol and identity-disjoint splits, on in-memory face sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairvision.data import FaceSet, frnas_eval_split, split_identities
from fairvision.errors import DatasetError


def make_faces(groups: dict, *, column: str = "gender", name: str = "toy") -> FaceSet:
    """``{group: [n_images of identity 0, n_images of identity 1, ...]}`` -> FaceSet (paths need not exist)."""
    rows = []
    for group, counts in groups.items():
        for k, n in enumerate(counts):
            ident = f"{group}-{k:03d}"
            rows += [{"path": f"/data/{ident}/{j:04d}.jpg", "identity": ident, column: group} for j in range(n)]
    return FaceSet(pd.DataFrame(rows), name=name)


TOY = {"female": [2, 3, 4, 5, 8, 10], "male": [1, 3, 3, 4, 6, 7, 9, 12]}


def per_identity(faces: FaceSet, column: str = "gender") -> pd.DataFrame:
    return faces.identity_table([column])


def test_equal_identities_per_group_and_min_images():
    source = make_faces(TOY)
    faces = frnas_eval_split(source, group_column="gender")
    table = per_identity(faces)
    # female has 5 identities with >= 3 images, male 7: both groups keep 5
    assert table.groupby("gender").size().to_dict() == {"female": 5, "male": 5}
    assert (table["n_images"] >= 3).all()
    # without a cap every kept identity keeps all its images
    original = per_identity(source)["n_images"]
    assert (table["n_images"] == original.loc[table.index]).all()
    assert faces.name == "toy-eval"
    # female is the smallest group: all its eligible identities are kept
    assert sorted(table.index[table["gender"] == "female"]) == [f"female-{k:03d}" for k in range(1, 6)]


def test_rows_sorted_by_group_then_identity():
    faces = frnas_eval_split(make_faces(TOY), group_column="gender", seed=5)
    frame = faces.frame
    expected = frame.sort_values(["gender", "identity", "path"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame.index.tolist() == list(range(len(frame)))


@pytest.mark.parametrize("min_images", [1, 3, 5])
def test_min_images_threshold(min_images):
    faces = frnas_eval_split(make_faces(TOY), group_column="gender", min_images=min_images)
    table = per_identity(faces)
    eligible = {g: sum(n >= min_images for n in counts) for g, counts in TOY.items()}
    assert table.groupby("gender").size().to_dict() == {g: min(eligible.values()) for g in TOY}
    assert (table["n_images"] >= min_images).all()


def test_identities_per_group():
    faces = frnas_eval_split(make_faces(TOY), group_column="gender", identities_per_group=3)
    assert per_identity(faces).groupby("gender").size().to_dict() == {"female": 3, "male": 3}
    with pytest.raises(DatasetError, match=r"group 'female' of column 'gender' has only 5 identities .* but 6 per group"):
        frnas_eval_split(make_faces(TOY), group_column="gender", identities_per_group=6)


def test_group_without_eligible_identity():
    with pytest.raises(DatasetError, match=r"group 'male' of column 'gender' has no identity with at least 3 images"):
        frnas_eval_split(make_faces({"female": [3, 4], "male": [1, 2]}), group_column="gender")


@pytest.mark.parametrize("cap", [15, 20, 31])
def test_image_cap_is_respected_round_robin(cap):
    source = make_faces(TOY)
    faces = frnas_eval_split(source, group_column="gender", max_images_per_group=cap)
    table = per_identity(faces)
    original = per_identity(source)["n_images"]
    for group, sub in table.groupby("gender"):
        uncapped = int(original.loc[sub.index].sum())
        assert sub["n_images"].sum() == min(cap, uncapped), group
        assert (sub["n_images"] >= 3).all()
        # round-robin from the largest: an identity that lost images has (about) the most left
        reduced = sub.index[sub["n_images"] < original.loc[sub.index]]
        if len(reduced):
            assert sub.loc[reduced, "n_images"].min() >= sub["n_images"].max() - 1
    # kept images are a subset of the identity's images
    assert set(faces.frame["path"]) <= set(source.frame["path"])


def test_cap_at_the_minimum_keeps_exactly_min_images():
    faces = frnas_eval_split(make_faces(TOY), group_column="gender", max_images_per_group=15)
    assert (per_identity(faces)["n_images"] == 3).all()


def test_cap_below_min_images_times_identities():
    with pytest.raises(DatasetError, match=r"max_images_per_group=14 is below .* 3 x 5 = 15"):
        frnas_eval_split(make_faces(TOY), group_column="gender", max_images_per_group=14)


def test_deterministic_for_a_seed_and_independent_of_row_order():
    source = make_faces({"female": [4] * 30, "male": [5] * 20})
    a = frnas_eval_split(source, group_column="gender", max_images_per_group=70, seed=3)
    b = frnas_eval_split(source, group_column="gender", max_images_per_group=70, seed=3)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    shuffled = source.subset(np.random.default_rng(1).permutation(len(source)))
    c = frnas_eval_split(shuffled, group_column="gender", max_images_per_group=70, seed=3)
    pd.testing.assert_frame_equal(a.frame, c.frame)


def test_different_seed_gives_different_choice():
    source = make_faces({"female": [4] * 30, "male": [5] * 20})
    chosen = {
        seed: frozenset(frnas_eval_split(source, group_column="gender", seed=seed).identities) for seed in (0, 1, 222)
    }
    assert len(set(chosen.values())) == 3
    # images dropped by the cap depend on the seed too
    capped = [
        frozenset(frnas_eval_split(source, group_column="gender", max_images_per_group=70, seed=s).frame["path"])
        for s in (0, 1)
    ]
    assert capped[0] != capped[1]


def test_integer_group_column():
    faces = frnas_eval_split(make_faces({1: [3, 4, 5], 0: [3, 3]}, column="Male"), group_column="Male")
    table = per_identity(faces, "Male")
    assert table.groupby("Male").size().to_dict() == {0: 2, 1: 2}
    assert faces.frame["Male"].tolist()[0] == 0


def test_group_must_be_constant_per_identity_and_present():
    source = make_faces(TOY)
    frame = source.frame.copy()
    frame.loc[0, "gender"] = "male"  # identity female-000 now has two genders
    with pytest.raises(DatasetError, match=r"'gender' varies within identity 'female-000'"):
        frnas_eval_split(FaceSet(frame), group_column="gender")
    with pytest.raises(DatasetError, match=r"no group column 'race'"):
        frnas_eval_split(source, group_column="race")
    frame = source.frame.copy()
    frame["gender"] = frame["gender"].where(frame["identity"] != "male-003")
    with pytest.raises(DatasetError, match=r"identity 'male-003' has no value in column 'gender'"):
        frnas_eval_split(FaceSet(frame), group_column="gender")


@pytest.mark.parametrize("bad", [{"min_images": 0}, {"identities_per_group": -1}, {"max_images_per_group": 2.5}])
def test_invalid_numbers_are_rejected(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        frnas_eval_split(make_faces(TOY), group_column="gender", **bad)


# --------------------------------------------------------------------------- split_identities


def assert_partition(source: FaceSet, splits: dict[str, FaceSet]) -> None:
    """Identity-disjoint, every identity in exactly one split, every image kept once."""
    sets = [set(s.identities) for s in splits.values()]
    assert sum(len(s) for s in sets) == len(set().union(*sets)) == len(source.identities)
    assert sorted(p for s in splits.values() for p in s.frame["path"]) == sorted(source.frame["path"])


def test_split_identities_counts_and_disjointness():
    source = make_faces({"female": [2] * 60, "male": [3] * 40})
    splits = split_identities(source)
    assert list(splits) == ["train", "val", "test"]
    assert {k: len(v.identities) for k, v in splits.items()} == {"train": 80, "val": 10, "test": 10}
    assert_partition(source, splits)
    assert splits["val"].name == "toy-val"
    assert splits["train"].frame.index.tolist() == list(range(len(splits["train"])))


def test_split_identities_stratified():
    source = make_faces({"female": [2] * 60, "male": [3] * 40})
    splits = split_identities(source, stratify="gender", seed=4)
    assert_partition(source, splits)
    counts = {k: per_identity(v).groupby("gender").size().to_dict() for k, v in splits.items()}
    assert counts == {
        "train": {"female": 48, "male": 32},
        "val": {"female": 6, "male": 4},
        "test": {"female": 6, "male": 4},
    }


def test_split_identities_deterministic_and_seed_dependent():
    source = make_faces({"female": [2] * 30, "male": [1] * 30})
    a = split_identities(source, seed=1)
    b = split_identities(source, seed=1)
    c = split_identities(source, seed=2)
    for k in a:
        pd.testing.assert_frame_equal(a[k].frame, b[k].frame)
    assert set(a["test"].identities) != set(c["test"].identities)


def test_split_identities_custom_names_and_fractions():
    source = make_faces({"x": [1] * 7})
    splits = split_identities(source, fractions=(0.5, 0.5), names=("a", "b"))
    assert {k: len(v) for k, v in splits.items()} == {"a": 4, "b": 3}
    splits = split_identities(source, fractions=(1.0, 0.0), names=("all", "none"))
    assert len(splits["all"]) == 7 and len(splits["none"]) == 0


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 4), min_size=1, max_size=25),
    groups=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    stratified=st.booleans(),
)
def test_split_identities_always_partitions(counts, groups, seed, stratified):
    source = make_faces({f"g{g}": counts[g::groups] for g in range(groups) if counts[g::groups]})
    splits = split_identities(source, stratify="gender" if stratified else None, seed=seed)
    assert_partition(source, splits)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fractions": (0.8, 0.1)}, ValueError, "one fraction per split name"),
        ({"fractions": (0.8, 0.3, 0.1)}, ValueError, "sum to 1"),
        ({"fractions": (1.2, -0.1, -0.1)}, ValueError, "non-negative"),
        ({"names": ("a", "a", "b")}, ValueError, "distinct"),
        ({"stratify": "race"}, DatasetError, "no stratify column 'race'"),
    ],
)
def test_split_identities_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        split_identities(make_faces(TOY), **kwargs)


def test_split_identities_stratify_must_be_constant_per_identity():
    frame = make_faces(TOY).frame.copy()
    frame.loc[frame["identity"] == "male-005", "gender"] = ["male", "female"] * 3 + ["male"]
    with pytest.raises(DatasetError, match=r"'gender' varies within identity 'male-005'"):
        split_identities(FaceSet(frame), stratify="gender")
