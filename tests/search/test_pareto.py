"""Pareto fronts (usual dominance and FR-NAS's whatIsPareto), exact hypervolume, knee/select, Kendall τ by
budget, FR-NAS table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairvision.errors import ConfigError
from fairvision.search import (
    Objective,
    front_frame,
    hypervolume,
    kendall_tau_by_budget,
    knee_point,
    pareto_front,
    select,
)

MIN2 = ["minimize", "minimize"]


def _dominates(a, b) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def _what_is_pareto(df: pd.DataFrame, x_inc: bool = False, y_inc: bool = False) -> np.ndarray:
    """FR-NAS's released ``whatIsPareto`` (2-D), transcribed loop for loop."""
    is_pareto = np.zeros(df.shape[0])
    for i, (_, (c1, c2)) in enumerate(df.iterrows()):
        tmp = np.delete(np.array(df), i, axis=0)
        better_x = (lambda v: v > c1) if x_inc else (lambda v: v < c1)
        better_y = (lambda v: v > c2) if y_inc else (lambda v: v < c2)
        if not any(better_x(r[0]) and better_y(r[1]) for r in tmp):
            is_pareto[i] = 1
    return is_pareto == 1


# (Error, disparity) rows and the expected masks: "pareto" (usual) and "frnas" (whatIsPareto)
HAND_MADE = [
    pytest.param([[1, 3], [2, 2], [2, 2], [3, 1], [2, 3], [1, 3], [4, 4]],
                 [True, True, True, True, False, True, False], [True, True, True, True, True, True, False],
                 id="duplicates-kept;(2,3)-only-weakly-dominated"),
    pytest.param([[0.1, 0.5], [0.1, 0.9], [0.3, 0.2]], [True, False, True], [True, True, True],
                 id="same-error-worse-disparity"),
    pytest.param([[0.1, 0.5], [0.4, 0.5], [0.05, 0.8]], [True, False, True], [True, True, True],
                 id="same-disparity-worse-error"),
    pytest.param([[0.1, 0.5], [0.2, 0.6], [0.1, 0.5]], [True, False, True], [True, False, True],
                 id="strictly-worse-dropped-by-both"),
    pytest.param([[0.2, 0.2]], [True], [True], id="single"),
]


@pytest.mark.parametrize("points, pareto, frnas", HAND_MADE)
def test_pareto_and_frnas_fronts_hand_made(points, pareto, frnas):
    pts = np.array(points, float)
    assert pareto_front(pts, MIN2).tolist() == pareto
    assert pareto_front(pts, MIN2, dominance="pareto").tolist() == pareto
    assert pareto_front(pts, MIN2, dominance="frnas").tolist() == frnas
    assert _what_is_pareto(pd.DataFrame(pts)).tolist() == frnas


@pytest.mark.parametrize("dominance, expected", [
    ("pareto", [True, False, True, False, False, False]),
    ("frnas", [True, True, True, False, False, False]),
])
def test_front_with_maximize_and_nan(dominance, expected):
    # accuracy (maximised) vs disparity: row 1 has row 0's accuracy and a worse disparity
    pts = np.array([[0.9, 0.1], [0.9, 0.3], [0.8, 0.05], [0.7, 0.2], [np.nan, 0.0], [0.95, np.inf]])
    assert pareto_front(pts, ["maximize", "minimize"], dominance=dominance).tolist() == expected
    finite = ~np.isnan(pts).any(axis=1) & np.isfinite(pts).all(axis=1)
    if dominance == "frnas":  # same as whatIsPareto on the finite rows (it would keep NaN rows: we do not)
        got = _what_is_pareto(pd.DataFrame(pts[finite]), x_inc=True)
        assert got.tolist() == [e for e, f in zip(expected, finite) if f]
    assert pareto_front(np.empty((0, 2)), MIN2, dominance=dominance).tolist() == []
    assert not pareto_front(np.full((3, 2), np.nan), MIN2, dominance=dominance).any()


@pytest.mark.parametrize("bad", ["strict", "weak", "FRNAS", None, True])
def test_bad_dominance_and_directions(bad):
    pts = np.array([[0.9, 0.1], [0.8, 0.05]])
    with pytest.raises(ConfigError, match="^dominance must be 'pareto' .* or 'frnas' .*got"):
        pareto_front(pts, MIN2, dominance=bad)
    with pytest.raises(ConfigError, match="dominance"):
        front_frame(pd.DataFrame(pts, columns=["a", "b"]), ["a", "b"], dominance=bad)
    with pytest.raises(ValueError, match="directions"):
        pareto_front(pts, ["minimize"])
    with pytest.raises(ValueError, match="directions must be"):
        pareto_front(pts, ["min", "max"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 6)] * 3), min_size=1, max_size=25))
def test_front_invariants(points):
    p = np.array(points, float)
    mask = pareto_front(p, ["minimize"] * 3)
    front = p[mask]
    for i in range(len(p)):
        dominated = any(_dominates(front[j], p[i]) for j in range(len(front)))
        assert mask[i] == (not dominated)  # members non-dominated; non-members dominated by a member
    frnas = pareto_front(p, ["minimize"] * 3, dominance="frnas")
    for i in range(len(p)):
        assert frnas[i] == (not any(np.all(q < p[i]) for q in p))  # dropped iff strictly beaten everywhere
    assert not (mask & ~frnas).any()  # the usual front is inside FR-NAS's
    if p.shape[0]:
        two = p[:, :2]
        assert pareto_front(two, MIN2, dominance="frnas").tolist() == _what_is_pareto(pd.DataFrame(two)).tolist()


@pytest.mark.parametrize("dominance", ["pareto", "frnas"])
def test_hypervolume_ignores_the_mode_and_duplicates(dominance):
    pts = np.array([[1, 3], [2, 2], [2, 2], [3, 1], [1, 3.5], [3, 1]], float)
    front = pts[pareto_front(pts, MIN2, dominance=dominance)]
    assert hypervolume(front, [4, 4], MIN2) == pytest.approx(6.0) == hypervolume(pts, [4, 4], MIN2)


def test_hypervolume_hand_computed_2d_and_3d():
    pts = np.array([[1, 3], [2, 2], [3, 1]], float)
    assert hypervolume(pts, [4, 4], MIN2) == pytest.approx(6.0)  # 1×1 + 1×2 + 1×3 sweep
    assert hypervolume(np.vstack([pts, [[3.5, 3.5], [5, 0]]]), [4, 4], MIN2) == pytest.approx(6.0)
    assert hypervolume(pts, [0.5, 0.5], MIN2) == 0.0
    # maximisation: accuracy up, disparity down; reference (0, 1)
    assert hypervolume([[0.8, 0.5]], [0.0, 1.0], ["maximize", "minimize"]) == pytest.approx(0.4)
    ref3 = [2, 2, 2]
    assert hypervolume([[1, 1, 1]], ref3, ["minimize"] * 3) == pytest.approx(1.0)
    assert hypervolume([[0, 0, 1], [1, 1, 0]], ref3, ["minimize"] * 3) == pytest.approx(5.0)  # 4 + 2 − 1
    three = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert hypervolume(three, ref3, ["minimize"] * 3) == pytest.approx(4.0)  # 3×2 − 3×1 + 1
    assert hypervolume(three + [[1, 1, 1]], ref3, ["minimize"] * 3) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="finite"):
        hypervolume(pts, [np.inf, 4], MIN2)


def _grid_volume(points: np.ndarray, ref: int) -> int:
    k = points.shape[1]
    total = 0
    for cell in itertools.product(range(ref), repeat=k):  # unit cell [c, c+1)^k
        if any(np.all(p <= np.array(cell)) for p in points):
            total += 1
    return total


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3).flatmap(
    lambda k: st.lists(st.tuples(*[st.integers(0, 5)] * k), min_size=1, max_size=8)))
def test_hypervolume_equals_brute_force_grid(points):
    p = np.array(points, float)
    k = p.shape[1]
    assert hypervolume(p, [6] * k, ["minimize"] * k) == pytest.approx(_grid_volume(p, 6))


def test_knee_and_select():
    pts = np.array([[0.0, 1.0], [0.2, 0.3], [0.5, 0.2], [1.0, 0.0], [0.9, 0.9]])
    assert knee_point(pts, MIN2) == 1
    assert select(pts, MIN2) == 1
    assert select(pts, MIN2, by=0) == 0
    assert select(pts, MIN2, by="Rank Disparity", names=["Error", "Rank Disparity"]) == 3
    assert select(pts, MIN2, by={0: 1.0, 1: 0.1}) == 0
    assert select(pts, MIN2, by={"Error": 1.0, "Rank Disparity": 1.0}, names=["Error", "Rank Disparity"]) == 1
    with pytest.raises(ValueError, match="names="):
        select(pts, MIN2, by="Error")
    with pytest.raises(ValueError, match="empty"):
        knee_point(np.full((2, 2), np.nan), MIN2)


@pytest.mark.parametrize("dominance, front, knee, best_disparity", [
    ("pareto", [0, 2, 3], 2, 3),
    ("frnas", [0, 1, 2, 3], 2, 3),  # (0.0, 1.2): same Error as row 0, worse disparity
])
def test_knee_select_front_frame_follow_the_mode(dominance, front, knee, best_disparity):
    pts = np.array([[0.0, 1.0], [0.0, 1.2], [0.2, 0.3], [1.0, 0.0], [0.9, 0.9]])
    frame = pd.DataFrame(pts, columns=["Error", "Disparity"], index=list("abcde"))
    assert list(front_frame(frame, ["Error", "Disparity"], dominance=dominance).index) == [
        "abcde"[i] for i in front]
    assert knee_point(pts, MIN2, dominance=dominance) == knee
    assert select(pts, MIN2, by=1, dominance=dominance) == best_disparity
    assert select(pts, MIN2, by=0, dominance=dominance) == 0  # ties on Error broken by disparity


def test_kendall_tau_by_budget():
    rows = []
    for c in range(6):
        cfg = {"edge1": str(c)}
        rows.append({"config": cfg, "budget": 8.0, "status": "complete", "objectives": {"Error": c, "D": c}})
        rows.append({"config": cfg, "budget": 2.0, "status": "complete", "objectives": {"Error": c, "D": -c}})
        if c < 3:
            rows.append({"config": cfg, "budget": 4.0, "status": "complete",
                         "objectives": {"Error": 10 - c, "D": c}})
    rows.append({"config": {"edge1": "9"}, "budget": 2.0, "status": "crashed", "objectives": None})
    out = kendall_tau_by_budget(pd.DataFrame(rows))
    got = {(r.budget, r.objective): (r.n, r.tau) for r in out.itertuples()}
    assert got[(2.0, "Error")] == (6, pytest.approx(1.0))
    assert got[(2.0, "D")] == (6, pytest.approx(-1.0))
    assert got[(4.0, "Error")] == (3, pytest.approx(-1.0))
    assert got[(4.0, "D")] == (3, pytest.approx(1.0))
    # objective columns instead of a dict column
    flat = pd.DataFrame([{"config": r["config"], "budget": r["budget"], "Error": r["objectives"]["Error"]}
                         for r in rows if r["objectives"]])
    assert kendall_tau_by_budget(flat, ["Error"])["tau"].round(6).tolist() == [1.0, -1.0]


# --------------------------------------------------------------------------- FR-NAS phase-1 table

@pytest.fixture(scope="module")
def vgg(frnas_dir):
    df = pd.read_csv(frnas_dir / "analysis" / "vgg_val_phase1.csv")
    # diverged rows, as the paper did: the all-empty row and the 52 rows with Error = 1
    # (a collapsed model: one group at accuracy 0, Rank Disparity 0 — "fair" only by being useless)
    return df.dropna(subset=["Error", "Rank Disparity"]).query("Error < 1").set_index("index")


def test_frnas_phase1_front(vgg):
    assert len(vgg) == 302
    front = front_frame(vgg, ["Error", "Rank Disparity"])
    assert sorted(front.index) == ["dpn107_CosFace_SGD_0.1_cosine", "dpn107_CosFace_sgd",
                                   "rexnet_200_CosFace_AdamW_0.001_cosine"]
    # hand checks against the table
    a, b = vgg.loc["dpn107_CosFace_SGD_0.1_cosine"], vgg.loc["dpn107_CosFace_AdamW_0.001_cosine"]
    assert a["Error"] < b["Error"] and a["Rank Disparity"] < b["Rank Disparity"]  # b is not on the front
    best_rd = vgg["Rank Disparity"].idxmin()
    assert best_rd == "rexnet_200_CosFace_AdamW_0.001_cosine" and best_rd in front.index
    assert vgg["Error"].idxmin() == "dpn107_CosFace_SGD_0.1_cosine"
    assert "swin_base_patch4_window7_224_CosFace_SGD_0.1_cosine" not in front.index
    # invariants on the whole table
    pts, fp = vgg[["Error", "Rank Disparity"]].to_numpy(), front[["Error", "Rank Disparity"]].to_numpy()
    assert not any(_dominates(p, q) for p in pts for q in fp)
    non = vgg.drop(front.index)[["Error", "Rank Disparity"]].to_numpy()
    assert all(any(_dominates(q, p) for q in fp) for p in non)


def test_frnas_phase1_hypervolume(vgg):
    pts = vgg[["Error", "Rank Disparity"]].to_numpy()
    ref = [1.0, vgg["Rank Disparity"].max()]
    hv = hypervolume(pts, ref, MIN2)
    f = vgg.loc[["dpn107_CosFace_SGD_0.1_cosine", "dpn107_CosFace_sgd",
                 "rexnet_200_CosFace_AdamW_0.001_cosine"], ["Error", "Rank Disparity"]].to_numpy()
    f = f[np.argsort(f[:, 0])]
    # 2-D staircase by hand: widths between successive errors × height below the reference
    by_hand = sum((nxt - e) * (ref[1] - rd) for (e, rd), nxt in zip(f, list(f[1:, 0]) + [ref[0]]))
    assert hv == pytest.approx(by_hand, rel=1e-12)
    assert hv == pytest.approx(hypervolume(f, ref, MIN2), rel=1e-12)
    assert 13.0 < hv < ref[1]
    assert hypervolume(pts, ref, [Objective("Error"), Objective("Rank Disparity")]) == hv


def test_frnas_phase1_front_matches_what_is_pareto(vgg):
    table = vgg[["Error", "Rank Disparity"]]
    frnas = front_frame(vgg, ["Error", "Rank Disparity"], dominance="frnas")
    assert list(frnas.index) == list(table.index[_what_is_pareto(table)])
    usual = front_frame(vgg, ["Error", "Rank Disparity"])
    assert set(usual.index) <= set(frnas.index)
