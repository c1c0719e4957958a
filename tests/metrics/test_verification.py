"""verification_rates: shared threshold, per-group FMR/FNMR."""

from __future__ import annotations

import numpy as np
import pytest

from fairvision.metrics import FairnessWarning, verification_rates


def clustered(seed=0, noise=(0.3, 0.8), n_ids=40, per_id=5, dim=16):
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_ids), per_id)
    groups = np.where(ids < n_ids // 2, "a", "b")
    centers = rng.normal(size=(n_ids, dim))
    sigma = np.where(groups == "a", noise[0], noise[1])[:, None]
    return centers[ids] + sigma * rng.normal(size=(len(ids), dim)), ids, groups


def test_hand_computed_threshold_and_rates():
    # 1-D "embeddings" on the unit circle: scores are cosines we can list by hand.
    angles = np.array([0.0, 0.1, 1.0, 1.05, 2.0, 2.3])
    emb = np.stack([np.cos(angles), np.sin(angles)], 1)
    ids = np.array([0, 0, 1, 1, 2, 2])
    groups = np.array(["g", "g", "g", "g", "h", "h"])
    with pytest.warns(FairnessWarning, match="undefined"):  # group h has no same-group impostor pair
        table = verification_rates(emb, ids, groups, target_fmr=0.25)
    assert np.isnan(table.loc["h", "FMR"])
    imp = [np.cos(a - b) for i, a in enumerate(angles) for j, b in enumerate(angles) if i < j and ids[i] != ids[j]]
    assert len(imp) == 12
    # at most floor(0.25 * 12) = 3 impostor scores may reach the threshold
    assert np.sum(np.array(imp) >= table.attrs["threshold"]) <= 3
    assert np.sum(np.array(imp) >= np.nextafter(np.float32(table.attrs["threshold"]), -np.inf)) > 3
    assert table.loc["g", "genuine_pairs"] == 2 and table.loc["h", "genuine_pairs"] == 1
    assert table.loc["g", "impostor_pairs"] == 4 and table.loc["h", "impostor_pairs"] == 0


@pytest.mark.filterwarnings("ignore::fairvision.metrics.FairnessWarning")  # FNMR 0 in the reference
def test_noisier_group_has_higher_fnmr():
    emb, ids, groups = clustered()
    table = verification_rates(emb, ids, groups, target_fmr=0.01)
    assert table.loc["b", "FNMR"] > table.loc["a", "FNMR"]
    assert table.attrs["achieved_fmr"] <= 0.01
    assert table.loc["a", "FNMR_ratio"] == 1.0 or np.isnan(table.loc["a", "FNMR_ratio"])


@pytest.mark.filterwarnings("ignore::fairvision.metrics.FairnessWarning")
def test_sampled_impostors_are_seeded_and_close_to_exact():
    emb, ids, groups = clustered(n_ids=60)
    exact = verification_rates(emb, ids, groups, target_fmr=0.05)
    s1 = verification_rates(emb, ids, groups, target_fmr=0.05, max_impostor_pairs=20_000, seed=3)
    s2 = verification_rates(emb, ids, groups, target_fmr=0.05, max_impostor_pairs=20_000, seed=3)
    assert s1.attrs["impostors_sampled"] and not exact.attrs["impostors_sampled"]
    assert s1.attrs["threshold"] == s2.attrs["threshold"]
    assert abs(s1.attrs["threshold"] - exact.attrs["threshold"]) < 0.05


@pytest.mark.parametrize(
    "kwargs, match", [({"target_fmr": 0}, "target_fmr"), ({"reference_group": "zz"}, "not among")]
)
def test_bad_arguments(kwargs, match):
    emb, ids, groups = clustered()
    with pytest.raises(ValueError, match=match):
        verification_rates(emb, ids, groups, **kwargs)


def test_identity_in_two_groups_rejected():
    emb, ids, groups = clustered()
    groups = groups.copy()
    groups[0] = "b"
    with pytest.raises(ValueError, match="several groups"):
        verification_rates(emb, ids, groups)


@pytest.mark.parametrize(
    "emb, ids, groups, match",
    [
        (np.eye(4), [0, 0, None, 1], ["a", "a", "b", "b"], r"identities\[2\] is missing"),
        (np.eye(4), [0, 0, 1, 1], ["a", "a", "", "b"], r"groups\[2\] is missing"),
        (np.eye(4) * 1j, [0, 0, 1, 1], ["a", "a", "b", "b"], "complex"),
    ],
)
def test_missing_labels_and_complex_embeddings(emb, ids, groups, match):
    with pytest.raises(ValueError, match=match):
        verification_rates(emb, ids, groups)


def test_unknown_reference_group_shows_plain_names():
    emb = np.random.default_rng(0).normal(size=(8, 4))
    with pytest.raises(ValueError) as exc:
        verification_rates(emb, [0, 0, 1, 1, 2, 2, 3, 3], ["a", "a", "a", "a", "b", "b", "b", "b"], reference_group="z",
                           target_fmr=0.5)
    assert str(exc.value) == "reference group 'z' not among groups ['a', 'b']"
