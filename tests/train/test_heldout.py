"""data.heldout: validation and test from a separately generated, balanced synthetic set."""

from __future__ import annotations

import pandas as pd
import pytest

from fairvision.errors import ConfigError
from fairvision.train import RunConfig, train
from fairvision.train.data import load_split, load_splits

DATA = {
    "kind": "synthetic",
    "synthetic": {"n_identities": 20, "images_per_identity": 3, "size": 16, "group_weights": {"A": 3, "B": 1},
                  "group_difficulty": {"A": 0.0, "B": 0.5}},
    "heldout": {"seed": 77, "n_identities": 16, "images_per_identity": 2, "group_weights": None},
    "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.5, "eval_protocol": None,
}


def _cfg(**data) -> RunConfig:
    return RunConfig.from_dict({
        "data": {**DATA, **data},
        "model": {"name": "frnas_dpn", "edges": [0, 0, 0], "width": 0.0625, "embedding_dim": 8},
        "head": {"name": "CosFace"}, "optim": {"name": "AdamW", "lr": 0.003},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
    })


def test_splits_come_from_the_heldout_set(tmp_path):
    cfg = _cfg()
    parts = load_splits(cfg.data, run_dir=tmp_path)
    assert len(parts["train"]) == 20 * 3  # the whole training set
    val, test = parts["val"].frame, parts["test"].frame
    assert set(val["identity"]).isdisjoint(test["identity"])
    assert len(val) + len(test) == 16 * 2
    # balanced held-out set (group_weights null): both groups in both halves, stratified
    assert set(val["group"]) == set(test["group"]) == {"A", "B"}
    assert all("data_heldout" in str(p) for p in val["path"])
    assert load_split(cfg.data, "test", run_dir=tmp_path).frame["identity"].tolist() == test["identity"].tolist()


def test_training_validates_on_the_heldout_set(tmp_path):
    result = train(_cfg(), tmp_path / "run", progress=False)
    meta = pd.read_csv(result.layout.val_meta)
    assert meta["path"].str.contains("data_heldout").all()
    assert sum(g["n"] for g in result.metrics["groups"].values()) == len(meta)


@pytest.mark.parametrize("data, message", [
    ({"heldout": {"n_identities": 0}}, "data.heldout"),
    ({"heldout": {"size": 24}}, r"data.heldout.seed: must differ from data.synthetic.seed"),
    ({"heldout": {"bogus": 1}}, "data.heldout"),
    ({"heldout": {"seed": 1}, "val_fraction": 0.0, "test_fraction": 0.0}, "data.heldout"),
    ({"kind": "folders", "synthetic": None, "root": "/x", "heldout": {"seed": 1}}, "data.heldout"),
])
def test_bad_heldout(data, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(**data)


def _generate(args):
    from fairvision.train.config import DataConfig
    from fairvision.train.data import load_faces

    root, n = args
    cfg = DataConfig(kind="synthetic", root=root, synthetic={"n_identities": n, "images_per_identity": 2, "size": 16})
    return len(load_faces(cfg))


def test_concurrent_processes_share_one_synthetic_cache(tmp_path):
    """Trials of a search running at once generate the same cached set: one writes it, none reads a half
    or deleted copy (a race seen in a 2-worker search)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(_generate, [(str(tmp_path), 60)] * 3)
    assert results == [120, 120, 120]
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("synthetic-")]) == 1


def test_cache_written_before_group_cues_existed_is_reused(tmp_path):
    """A synthetic.json recorded by a version without the group_cues key still matches (no regeneration,
    no "different config" error for an old run folder)."""
    import json

    from fairvision.train.data import synthetic_dir

    cfg = _cfg(heldout=None, val_fraction=0.5, test_fraction=0.25).data
    first = synthetic_dir(cfg, tmp_path)
    meta = first / "synthetic.json"
    recorded = json.loads(meta.read_text())
    recorded["config"].pop("group_cues")
    meta.write_text(json.dumps(recorded))
    stamp = meta.stat().st_mtime_ns
    assert synthetic_dir(cfg, tmp_path) == first and meta.stat().st_mtime_ns == stamp
