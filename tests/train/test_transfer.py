"""Transfer evaluation: RFW (cap, race pairs), AgeDB (age bins), verification pair lists, on a tiny trained run."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairvision.data import DATA_KINDS, RFW_MAX_IMAGES_PER_GROUP
from fairvision.errors import DatasetError
from fairvision.metrics import verification_accuracy_10fold
from fairvision.train import RunConfig, evaluate, train
from fairvision.train.pairs import evaluate_pairs

from .conftest import TINY

RACES = ("African", "Asian", "Caucasian", "Indian")

@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_cache):
    cfg = copy.deepcopy(TINY)  # the training tests' tiny config, 1 epoch
    cfg["train"]["epochs"] = 1
    cfg["data"]["root"] = str(data_cache)
    out = tmp_path_factory.mktemp("transfer") / "run"
    train(RunConfig.from_dict(cfg), out, progress=False)
    return out


def noise(path, rng, size=20):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


def fake_rfw(root, *, identities=4, images=5):
    rng = np.random.default_rng(1)
    for race in RACES:
        for i in range(identities):
            ident = f"m.{race[:2].lower()}{i}"
            for k in range(images):
                noise(root / race / ident / f"{ident}_{k + 1:04d}.jpg", rng)
    return root


def rfw(root):
    return ["data.kind=rfw", f"data.root={root}"]


def test_rfw_default_protocol_and_race_pairs(trained, tmp_path):
    root = fake_rfw(tmp_path / "RFW")
    result = evaluate(trained, overrides=rfw(root), split="all", device="cpu")
    assert result["eval_protocol"]["max_images_per_group"] == RFW_MAX_IMAGES_PER_GROUP == 8327
    assert result["eval_protocol"]["min_images"] == 3 and result["images"] == 80 and result["group_column"] == "race"
    pairwise = result["pairwise"]
    assert [p["groups"] for p in pairwise["pairs"]] == [
        ["African", "Asian"], ["African", "Caucasian"], ["African", "Indian"],
        ["Asian", "Caucasian"], ["Asian", "Indian"], ["Caucasian", "Indian"],
    ]  # fmt: skip
    acc = {g: v["accuracy"] for g, v in result["groups"].items()}
    for pair in pairwise["pairs"]:
        a, b = pair["groups"]
        assert pair["Disparity"] == pytest.approx(abs(acc[a] - acc[b]))
        assert pair["Accuracy"] == pytest.approx((acc[a] + acc[b]) / 2)  # equal group sizes
        assert pair["Accuracy"] == pytest.approx(1 - pair["Error"])
    # FR-NAS's RFW analysis: accuracy averaged over pairs, disparities the max over pairs (the headline values)
    assert pairwise["mean accuracy"] == pytest.approx(np.mean(list(acc.values())))
    assert pairwise["max Disparity"] == pytest.approx(result["Disparity"])
    assert pairwise["max Rank Disparity"] == pytest.approx(result["Rank Disparity"])


def test_rfw_cap_is_applied(trained, tmp_path, monkeypatch):
    root = fake_rfw(tmp_path / "RFW")  # 4 identities x 5 images = 20 images per race
    monkeypatch.setitem(DATA_KINDS.get("rfw").eval_protocol, "max_images_per_group", 14)
    result = evaluate(trained, overrides=rfw(root), split="all", device="cpu")
    assert result["images"] == 4 * 14 and all(g["n"] == 14 for g in result["groups"].values())
    # a spec that sets other protocol keys keeps the kind's cap; one that sets the cap wins; null: no protocol
    result = evaluate(trained, overrides=[*rfw(root), "data.eval_protocol.seed=5"], split="all", device="cpu")
    assert result["eval_protocol"]["seed"] == 5 and result["images"] == 56
    result = evaluate(trained, overrides=[*rfw(root), "data.eval_protocol.max_images_per_group=16"], split="all",
                      device="cpu")  # fmt: skip
    assert result["images"] == 64
    result = evaluate(trained, overrides=[*rfw(root), "data.eval_protocol=null"], split="all", device="cpu")
    assert result["eval_protocol"] is None and result["images"] == 80


def test_rfw_identities_balanced_and_min_images(trained, tmp_path):
    root = fake_rfw(tmp_path / "RFW")
    rng = np.random.default_rng(2)
    for k in range(2):  # an identity with only two images is dropped
        noise(root / "Asian" / "m.small" / f"m.small_{k + 1:04d}.jpg", rng)
    for k in range(3):  # an extra Indian identity: every race keeps the smallest race's 4 identities
        noise(root / "Indian" / "m.extra" / f"m.extra_{k + 1:04d}.jpg", rng)
    result = evaluate(trained, overrides=rfw(root), split="all", device="cpu")
    # 4 identities per race (the Indian ones drawn from 5), the two-image identity left out
    assert result["identities"] == 16 and result["images"] in (78, 80)


def fake_agedb(root, *, people=6, ages=(10, 30, 60, 80)):
    rng = np.random.default_rng(3)
    k = 0
    for p in range(people):
        for age in ages:
            noise(root / f"{k}_Person{p}_{age + p}_{'mf'[p % 2]}.jpg", rng)
            k += 1
    return root


def test_agedb_age_bins(trained, tmp_path):
    root = fake_agedb(tmp_path / "AgeDB")
    result = evaluate(trained, overrides=["data.kind=agedb", f"data.root={root}"], split="all", device="cpu")
    assert result["eval_protocol"] is None  # age varies within a person: every image is a probe of its own bin
    assert result["group_column"] == "age_group" and result["images"] == 24 and result["identities"] == 6
    assert set(result["groups"]) == {"0-25", "25-50", "50-75", "75-110"}
    assert all(g["n"] == 6 for g in result["groups"].values())
    assert len(result["pairwise"]["pairs"]) == 6
    assert result["pairwise"]["max Disparity"] == pytest.approx(result["Disparity"])
    # bins through the group column, and gender as the attribute
    custom = evaluate(trained, overrides=["data.kind=agedb", f"data.root={root}", "data.group_column=age_group:0,50,110"],
                      split="all", device="cpu")  # fmt: skip
    assert set(custom["groups"]) == {"0-50", "50-110"} and custom["group_column"] == "age_group:0,50,110"
    by_gender = evaluate(trained, overrides=["data.kind=agedb", f"data.root={root}", "data.group_column=gender"],
                         split="all", device="cpu")  # fmt: skip
    assert set(by_gender["groups"]) == {"male", "female"} and len(by_gender["pairwise"]["pairs"]) == 1


def fake_lfw(root, names=("Ann_A", "Bob_B", "Cid_C", "Dee_D", "Eve_E", "Fay_F"), images=3):
    rng = np.random.default_rng(4)
    for name in names:
        for k in range(images):
            noise(root / name / f"{name}_{k + 1:04d}.jpg", rng)
    return root


LFW_PAIRS = """2 3
Ann_A 1 2
Bob_B 1 3
Cid_C 2 3
Ann_A 1 Dee_D 1
Bob_B 2 Eve_E 3
Cid_C 1 Fay_F 2
Dee_D 1 2
Eve_E 2 3
Fay_F 1 3
Ann_A 3 Bob_B 3
Dee_D 3 Fay_F 1
Eve_E 1 Cid_C 3
"""


def test_evaluate_pairs_lfw(trained, tmp_path):
    root = fake_lfw(tmp_path / "lfw")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(LFW_PAIRS)
    demo = tmp_path / "demo.csv"
    demo.write_text("identity,gender\nAnn_A,f\nBob_B,m\nCid_C,m\nDee_D,f\nEve_E,f\nFay_F,m\n")
    scores_csv = tmp_path / "scores.csv"
    result = evaluate_pairs(trained, pairs, root, demographics=demo, group_column="gender", device="cpu",
                            scores_out=scores_csv)  # fmt: skip
    assert result["format"] == "lfw" and result["pairs"] == 12 and result["same_pairs"] == 6
    assert result["folds"] == 2 and result["images"] == 18 and result["status"] != "diverged"
    assert 0.0 <= result["accuracy"] <= 1.0 and len(result["fold_accuracies"]) == 2
    scores = pd.read_csv(scores_csv)
    again = verification_accuracy_10fold(scores["score"].to_numpy(), scores["same"].to_numpy(), scores["fold"].to_numpy())
    assert result["accuracy"] == pytest.approx(again.mean) and result["accuracy_std"] == pytest.approx(again.std)
    assert np.all(np.abs(scores["score"]) <= 1 + 1e-6)
    # per-group rates at one shared threshold: same-gender pairs only
    assert set(result["groups"]) == {"f", "m"}
    assert result["groups"]["f"]["genuine_pairs"] == 3 and result["groups"]["m"]["genuine_pairs"] == 3
    assert result["groups"]["f"]["impostor_pairs"] == 1 and result["groups"]["m"]["impostor_pairs"] == 1
    assert result["threshold_rule"] == "best accuracy"
    at_fmr = evaluate_pairs(trained, pairs, root, demographics=demo, group_column="gender", device="cpu", target_fmr=0.2)
    assert at_fmr["threshold_rule"] == "FMR 0.2" and at_fmr["accuracy"] == result["accuracy"]


def test_evaluate_pairs_errors(trained, tmp_path):
    root = fake_lfw(tmp_path / "lfw")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(LFW_PAIRS.replace("Fay_F 1 3", "Fay_F 1 4"))
    with pytest.raises(DatasetError, match=r"pairs.txt, line 10: image .*Fay_F_0004.jpg not found"):
        evaluate_pairs(trained, pairs, root, device="cpu")
    pairs.write_text(LFW_PAIRS)
    with pytest.raises(DatasetError, match="image folder not found"):
        evaluate_pairs(trained, pairs, tmp_path / "nothing", device="cpu")
    demo = tmp_path / "demo.csv"
    demo.write_text("identity,gender\nAnn_A,f\n")
    with pytest.raises(DatasetError, match=r"demo.csv: no 'gender' for identity 'Bob_B'"):
        evaluate_pairs(trained, pairs, root, demographics=demo, group_column="gender", device="cpu")
