"""Run folders and synthetic data caches get the user's umask permissions (not tempfile's 0600 / 0700)."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from fairvision.cli import main


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def modes(root):
    """{relative path: (is a folder, permission bits)} of everything under ``root`` (``"."``: root itself)."""
    out = {".": (True, stat.S_IMODE(os.stat(root).st_mode))}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = (name in dirnames, stat.S_IMODE(os.stat(path).st_mode))
    return out


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
@pytest.mark.parametrize("shared_cache", [False, True], ids=["data-in-run", "data-root"])
def test_training_outputs_follow_the_umask(tmp_path, tiny, capsys, umask, mask, file_mode, dir_mode, shared_cache):
    umask(mask)
    cfg = tiny(train__epochs=1)
    cfg["data"]["synthetic"] = {**cfg["data"]["synthetic"], "n_identities": 24}  # a fresh, small set
    cfg["data"]["val_fraction"] = cfg["data"]["test_fraction"] = 0.25
    cfg["data"]["root"] = str(tmp_path / "cache") if shared_cache else None
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "runs" / "tiny"
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(run), "--quiet"]) == 0, capsys.readouterr().err
    assert main(["evaluate", str(run), "--split", "test", "--out", str(run / "test.json"),
                 "--ranks-out", str(run / "test_ranks.csv")]) == 0  # fmt: skip
    trees = [run] + ([next((tmp_path / "cache").glob("synthetic-*"))] if shared_cache else [])
    found = {}
    for tree in trees:
        found.update({f"{tree.name}/{k}": v for k, v in modes(tree).items()})
    wrong = {path: oct(m) for path, (is_dir, m) in found.items() if m != (dir_mode if is_dir else file_mode)}
    assert not wrong, wrong
    names = set(found)
    for output in ("config.yaml", "history.jsonl", "ranks_val.csv", "val_meta.csv", "checkpoint.pt", "metrics.json",
                   "test.json", "test_ranks.csv"):
        assert f"tiny/{output}" in names
    if shared_cache:
        assert any(n.endswith("/images") for n in names) and any(n.endswith(".png") for n in names)
    else:
        assert "tiny/data/images" in names
