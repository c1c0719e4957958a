"""identification_ranks against a brute-force float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fairvision.metrics import identification_ranks
from fairvision.metrics import _ranks
from fairvision.metrics._ranks import similarity_tolerance


def brute_force(emb: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, one query at a time, in float64.

    Similarities are computed row by row with the same summation for every
    pair, so exact duplicates tie exactly (a BLAS matmul may differ by an ulp).
    """
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sims = np.stack([(e * row).sum(1) for row in e]) if len(e) else np.zeros((0, 0))
    n = len(e)
    by_id = np.full(n, -1)
    by_img = np.full(n, -1)
    for i in range(n):
        genuine = ids == ids[i]
        genuine[i] = False
        if not genuine.any():
            continue
        pos = sims[i, genuine].max()
        closer = (ids != ids[i]) & (sims[i] > pos)
        by_img[i] = closer.sum()
        by_id[i] = len(set(ids[closer].tolist()))
    return by_id, by_img


@st.composite
def lattice_sets(draw):
    """Unit vectors with four entries of +-0.5: every dot product is exact, so ties and duplicates are real."""
    n = draw(st.integers(1, 60))
    dim = draw(st.integers(4, 8))
    n_ids = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        idx = draw(st.lists(st.integers(0, dim - 1), min_size=4, max_size=4, unique=True))
        signs = draw(st.lists(st.sampled_from([-0.5, 0.5]), min_size=4, max_size=4))
        v = np.zeros(dim)
        v[idx] = signs
        rows.append(v)
    ids = np.array(draw(st.lists(st.integers(0, n_ids - 1), min_size=n, max_size=n)))
    return np.array(rows), ids


@st.composite
def gaussian_sets(draw):
    n = draw(st.integers(1, 80))
    dim = draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n_ids = draw(st.integers(1, 20))
    emb = rng.normal(size=(n, dim))
    n_dup = draw(st.integers(0, n // 2))
    if n_dup:  # exact duplicates, possibly across identities
        emb[rng.integers(0, n, n_dup)] = emb[rng.integers(0, n, n_dup)]
    return emb, rng.integers(0, n_ids, n)


@pytest.mark.parametrize("sparse_fraction", [0.0, 0.05, 1.0], ids=["dense", "default", "sparse"])
@settings(max_examples=100, deadline=None)
@given(data=st.one_of(lattice_sets(), gaussian_sets()), chunk=st.integers(1, 25))
def test_matches_brute_force(sparse_fraction, data, chunk):
    """Both chunk paths (dense scan, sparse candidate identities) against the definition."""
    emb, ids = data
    saved = _ranks._SPARSE_FRACTION
    _ranks._SPARSE_FRACTION = sparse_fraction
    try:
        result = identification_ranks(emb, ids, chunk_size=chunk)
    finally:
        _ranks._SPARSE_FRACTION = saved
    by_id, by_img = brute_force(emb, ids)
    np.testing.assert_array_equal(result.rank_by_id, by_id)
    np.testing.assert_array_equal(result.rank_by_image, by_img)
    assert result.rank_by_id.dtype == np.int64 and result.rank_by_image.dtype == np.int64


@pytest.mark.parametrize("labels", [["a", "b", "a", "c", "b"], [3.5, 1.0, 3.5, 2.0, 1.0]])
def test_identity_labels_of_any_type_and_singletons(labels):
    emb = np.array([[1.0, 0], [0.9, 0.1], [0.8, 0.3], [0, 1], [0.1, 1]])
    result = identification_ranks(emb, labels)
    # "c" (or 2.0) has one image: both ranks -1, and it is excluded from valid.
    assert result.rank_by_id[3] == -1 and result.rank_by_image[3] == -1
    assert result.valid.tolist() == [True, True, True, False, True]
    np.testing.assert_array_equal(result.rank_by_id, brute_force(emb, np.array([str(x) for x in labels]))[0])


def test_duplicate_of_query_in_other_identity_is_a_tie_not_a_miss():
    # Query 0 has an exact duplicate (row 2) of another identity at the same
    # distance as its genuine match would be, if the genuine match is also a duplicate.
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ids = np.array([0, 0, 1, 1])
    result = identification_ranks(emb, ids)
    assert result.rank_by_id[0] == 0  # tie with identity 1 is not strictly closer
    assert result.rank_by_id[2] == 1  # identity 0 is strictly closer than row 3


def test_near_ties_are_decided_in_float64():
    # Differences far below float32 resolution: only the float64 re-check gets them right.
    base = np.array([1.0, 0.0, 0.0])
    eps = 1e-9
    emb = np.array([base, [1.0, 2e-4, 0.0], [1.0, 2e-4 + eps, 0.0], [0.0, 0.0, 1.0]])
    ids = np.array([0, 0, 1, 1])
    result = identification_ranks(emb, ids)
    by_id, by_img = brute_force(emb, ids)
    np.testing.assert_array_equal(result.rank_by_id, by_id)
    assert result.rank_by_id[0] == 0 and result.n_rechecked > 0
    # and the mirror case: the impostor a hair closer wins
    emb[2, 1] = 2e-4 - eps
    assert identification_ranks(emb, ids).rank_by_id[0] == 1


def test_torch_input_and_float32_equal_numpy():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(300, 32)).astype(np.float32)
    ids = rng.integers(0, 40, 300)
    a = identification_ranks(emb, ids)
    b = identification_ranks(torch.from_numpy(emb), ids, chunk_size=7)
    np.testing.assert_array_equal(a.rank_by_id, b.rank_by_id)
    np.testing.assert_array_equal(a.rank_by_image, b.rank_by_image)
    frame = a.to_frame()
    assert list(frame.columns) == ["rank_by_id", "rank_by_image"] and len(frame) == 300


def test_matmul_precision_restored():
    torch.set_float32_matmul_precision("medium")
    try:
        identification_ranks(np.eye(3), [0, 0, 1])
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")


@pytest.mark.parametrize(
    "emb, ids, match",
    [
        (np.zeros((3, 2)), [0, 0, 1], "all zeros"),
        (np.array([[1.0, np.nan], [1, 0]]), [0, 0], "NaN"),
        (np.ones(3), [0, 0, 1], "2-D"),
        (np.ones((3, 2)), [0, 1], "length 3"),
        (np.ones((2, 2)), [0, None], "missing"),
        (np.eye(3), [0, np.nan, 1], r"identities\[1\] is missing \(nan\)"),
        (np.eye(3), ["a", "", "a"], r"identities\[1\] is missing \(''\)"),
        (np.eye(3), np.array(["a", "b", "  "], dtype=object), r"identities\[2\] is missing"),
        (np.eye(2) * (1 + 1j), [0, 0], "real numbers, got complex"),
        (np.array([[1, 1j], [1, 0]]), [0, 0], "real numbers, got complex"),
        (torch.eye(2, dtype=torch.complex64), [0, 0], "complex tensor"),
        (np.array([[1.0, 0.0], [np.inf, 0.0]]), [0, 0], "row 1 contains NaN or inf"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 0], "real numbers"),
    ],
)
def test_bad_input_is_a_clear_error(emb, ids, match):
    with pytest.raises(ValueError, match=match):
        identification_ranks(emb, ids)


@pytest.mark.parametrize("device, match", [("bogus", "not 'bogus'"), ("cuda", "no CUDA device"), ("cuda:0", "no CUDA device")])
def test_bad_device_is_a_clear_error(device, match):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a GPU is available")
    with pytest.raises(ValueError, match=match):
        identification_ranks(np.eye(3), [0, 0, 1], device=device)


def test_empty_input():
    result = identification_ranks(np.zeros((0, 4)), [])
    assert result.rank_by_id.shape == (0,)


@pytest.mark.parametrize("dim", [1, 64, 512, 4096])
def test_tolerance_covers_float32_error(dim):
    # Observed float32-vs-float64 dot-product error of unit vectors never exceeds the bound.
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(200, dim))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    exact = a @ a.T
    approx = (torch.from_numpy(a).float() @ torch.from_numpy(a).float().T).double().numpy()
    assert np.abs(exact - approx).max() <= similarity_tolerance(dim)
