"""The CLI: help on every command, clear errors on bad input, the ranks command end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fairvision.cli import build_parser, main

COMMANDS = ["fairness", "ranks", "synth", "demo", "train", "evaluate", "search", "trials", "pareto", "retrain"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert command in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "fairvision.cli", "--help"], capture_output=True, text=True, check=True)
    for command in COMMANDS:
        assert command in out.stdout
    assert set(build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)


@pytest.fixture
def rank_files(tmp_path):
    ranks = pd.DataFrame({"ids": range(6), "epoch_1": [0, 1, 0, 0, 2, -1], "epoch_2": [0, 0, 0, 1, 0, 0]})
    meta = pd.DataFrame({"ids": range(6), "label": [1, 1, 2, 3, 3, 4], "sex": ["f", "f", "f", "m", "m", "m"]})
    ranks.to_csv(tmp_path / "ranks.csv", index=False)
    meta.to_csv(tmp_path / "meta.csv", index=False)
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_fairness_json_with_bootstrap(rank_files, capsys):
    code, out, _ = run(capsys, "fairness", "--ranks", str(rank_files / "ranks.csv"), "--rank-column", "epoch_1",
                       "--groups", str(rank_files / "meta.csv"), "--group-column", "sex", "--on", "ids",
                       "--bootstrap", "50", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["groups"]["f"] == pytest.approx({"n": 3, "accuracy": 2 / 3, "error": 1 / 3, "mean_rank": 1 / 3})
    assert result["groups"]["m"]["n"] == 2  # the -1 row is excluded
    assert len(result["ci"]["Error"]) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--rank-column": "epoch_9"}, "no column(s) ['epoch_9']"),
        ({"--group-column": "gender"}, "no column(s) ['gender']"),
        ({"--on": "key"}, "no column(s) ['key']"),
    ],
)
def test_fairness_unknown_columns(rank_files, capsys, change, message):
    argv = {"--ranks": str(rank_files / "ranks.csv"), "--groups": str(rank_files / "meta.csv"),
            "--group-column": "sex", "--on": "ids", "--rank-column": "epoch_1"}
    argv.update(change)
    code, _, err = run(capsys, "fairness", *[x for kv in argv.items() for x in kv])
    assert code == 2 and message in err and "Traceback" not in err


def test_fairness_ids_that_do_not_join(rank_files, capsys):
    meta = pd.read_csv(rank_files / "meta.csv")
    meta.iloc[:4].to_csv(rank_files / "meta.csv", index=False)
    code, _, err = run(capsys, "fairness", "--ranks", str(rank_files / "ranks.csv"), "--groups",
                       str(rank_files / "meta.csv"), "--group-column", "sex", "--on", "ids")
    assert code == 2 and "2 key(s)" in err and "[4, 5]" in err


def test_fairness_bad_rank_value_names_line(rank_files, capsys):
    (rank_files / "ranks.csv").write_text("ids,epoch_1\n0,0\n1,x\n")
    code, _, err = run(capsys, "fairness", "--ranks", str(rank_files / "ranks.csv"), "--groups",
                       str(rank_files / "meta.csv"), "--group-column", "sex", "--on", "ids")
    assert code == 2 and "line 3" in err


def test_fairness_missing_file(tmp_path, capsys):
    code, _, err = run(capsys, "fairness", "--ranks", str(tmp_path / "nope.csv"), "--groups", str(tmp_path / "m.csv"),
                       "--group-column", "g", "--on", "ids")
    assert code == 2 and "nope.csv: ranks file not found" in err


def test_ranks_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(20), 4)
    emb = rng.normal(size=(20, 8))[ids] + 0.5 * rng.normal(size=(80, 8))
    np.save(tmp_path / "emb.npy", emb)
    pd.DataFrame({"identity": ids, "group": np.where(ids < 10, "a", "b")}).to_csv(tmp_path / "labels.csv", index=False)
    code, out, _ = run(capsys, "ranks", str(tmp_path / "emb.npy"), "--labels", str(tmp_path / "labels.csv"),
                       "--out", str(tmp_path / "ranks.csv"), "--group-column", "group")
    assert code == 0 and "Rank Disparity" in out
    written = pd.read_csv(tmp_path / "ranks.csv")
    assert list(written.columns) == ["ids", "identity", "group", "rank_by_id", "rank_by_image"]
    from fairvision.metrics import identification_ranks

    np.testing.assert_array_equal(written["rank_by_id"], identification_ranks(emb, ids).rank_by_id)


def test_ranks_row_count_mismatch(tmp_path, capsys):
    np.save(tmp_path / "emb.npy", np.ones((3, 2)))
    pd.DataFrame({"identity": [1, 2]}).to_csv(tmp_path / "labels.csv", index=False)
    code, _, err = run(capsys, "ranks", str(tmp_path / "emb.npy"), "--labels", str(tmp_path / "labels.csv"),
                       "--out", str(tmp_path / "r.csv"))
    assert code == 2 and "one row per embedding" in err
