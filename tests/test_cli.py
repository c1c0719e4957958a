"""The CLI: help on every command, clear errors on bad input, the ranks command end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fairvision.cli import build_parser, main
from .cli_run import run_cli as run

COMMANDS = ["fairness", "ranks", "synth", "demo", "train", "evaluate", "attribute-bias", "prune-study", "zoo", "search",
            "trials", "pareto", "retrain", "analyze", "report", "predict-bias", "cie", "cie-view"]


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


# --------------------------------------------------------------------------- one-line errors (issue 8)


def assert_one_line_error(code, err, *parts):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "np." not in err, err
    for part in parts:
        assert part in err, err


def fairness_args(rank_files, *extra):
    return ["fairness", "--ranks", str(rank_files / "ranks.csv"), "--rank-column", "epoch_1",
            "--groups", str(rank_files / "meta.csv"), "--group-column", "sex", "--on", "ids", *extra]


@pytest.mark.parametrize(
    "extra, parts",
    [
        (["--bootstrap", "-5"], ["argument --bootstrap", "at least 2", "got -5"]),
        (["--bootstrap", "1"], ["argument --bootstrap", "at least 2", "got 1"]),
        (["--bootstrap", "ten"], ["argument --bootstrap", "'ten'"]),
        (["--reference-group", "x"], ["--reference-group: 'x' is not a group of column 'sex'", "groups are 'f', 'm'"]),
    ],
)
def test_fairness_bad_options(rank_files, capsys, extra, parts):
    code, out, err = run(capsys, *fairness_args(rank_files, *extra))
    assert_one_line_error(code, err, *parts)
    assert out == ""


def test_fairness_bootstrap_zero_means_none(rank_files, capsys):
    code, out, _ = run(capsys, *fairness_args(rank_files, "--bootstrap", "0", "--json"))
    assert code == 0 and "ci" not in json.loads(out)


def test_fairness_single_group(rank_files, capsys):
    meta = pd.read_csv(rank_files / "meta.csv").assign(sex="f")
    meta.to_csv(rank_files / "meta.csv", index=False)
    code, _, err = run(capsys, *fairness_args(rank_files))
    assert_one_line_error(code, err, "has only the group 'f'", "at least two groups", "meta.csv")


@pytest.mark.parametrize("value, shown", [("inf", "inf"), ("1e30", "1e+30"), ("2.5", "2.5"), ("", "blank")])
def test_fairness_bad_rank_values(rank_files, capsys, value, shown):
    ranks = pd.read_csv(rank_files / "ranks.csv").astype({"epoch_1": object})
    ranks.loc[3, "epoch_1"] = value  # line 5 of the file
    ranks.to_csv(rank_files / "ranks.csv", index=False)
    code, _, err = run(capsys, *fairness_args(rank_files))
    assert_one_line_error(code, err, "ranks.csv, line 5: column 'epoch_1' is " + shown, "integers >= -1")


@pytest.mark.parametrize("bootstrap", [[], ["--bootstrap", "50"]])
def test_fairness_blank_identity_names_the_line(rank_files, capsys, bootstrap):
    """The bootstrap dropped a row with a blank identity that the point estimate kept: now an error."""
    text = (rank_files / "meta.csv").read_text().splitlines()
    text[3] = text[3].replace(",2,", ",,")  # ids 2: blank label, line 4
    (rank_files / "meta.csv").write_text("\n".join(text) + "\n")
    code, _, err = run(capsys, *fairness_args(rank_files, "--identity-column", "label", *bootstrap))
    assert_one_line_error(code, err, "meta.csv, line 4: identity column 'label' is blank")


def test_fairness_bootstrap_detects_blank_identity_column(rank_files, capsys):
    text = (rank_files / "meta.csv").read_text().replace("\n2,2,f\n", "\n2,,f\n")
    (rank_files / "meta.csv").write_text(text)
    code, _, err = run(capsys, *fairness_args(rank_files, "--bootstrap", "50"))
    assert_one_line_error(code, err, "line 4: identity column 'label' is blank")


@pytest.fixture
def embedding_files(tmp_path):
    ids = np.repeat(np.arange(6), 2)
    emb = np.random.default_rng(0).normal(size=(12, 4))
    np.save(tmp_path / "emb.npy", emb)
    pd.DataFrame({"identity": ids, "group": np.where(ids < 3, "a", "b")}).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def ranks_args(files, *extra):
    return ["ranks", str(files / "emb.npy"), "--labels", str(files / "labels.csv"), "--out", str(files / "r.csv"), *extra]


@pytest.mark.parametrize(
    "device, parts",
    [
        ("bogus", ["--device must be auto, cpu, cuda or cuda:N, not 'bogus'"]),
        ("cuda", ["--device: cuda requested but no CUDA device is available"]),
        ("cuda:3", ["--device: cuda:3 requested"]),
    ],
)
def test_ranks_bad_device(embedding_files, capsys, device, parts):
    if device.startswith("cuda") and torch_cuda_available():
        pytest.skip("a GPU is available")
    code, _, err = run(capsys, *ranks_args(embedding_files, "--device", device))
    assert_one_line_error(code, err, *parts)
    assert not (embedding_files / "r.csv").exists()


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_ranks_complex_embeddings(embedding_files, capsys, dtype):
    emb = np.load(embedding_files / "emb.npy").astype(dtype) * (1 + 1j)
    np.save(embedding_files / "emb.npy", emb)
    code, _, err = run(capsys, *ranks_args(embedding_files))
    assert_one_line_error(code, err, "emb.npy: embeddings must be real numbers, got complex numbers")


def test_ranks_non_finite_embeddings(embedding_files, capsys):
    emb = np.load(embedding_files / "emb.npy")
    emb[5, 1] = np.inf
    np.save(embedding_files / "emb.npy", emb)
    code, _, err = run(capsys, *ranks_args(embedding_files))
    assert_one_line_error(code, err, "emb.npy: embedding row 5 contains NaN or inf")


@pytest.mark.parametrize("column", ["identity", "group"])
def test_ranks_blank_labels_name_the_line(embedding_files, capsys, column):
    labels = pd.read_csv(embedding_files / "labels.csv").astype({column: object})
    labels.loc[6, column] = None  # line 8
    labels.to_csv(embedding_files / "labels.csv", index=False)
    code, _, err = run(capsys, *ranks_args(embedding_files, "--group-column", "group"))
    assert_one_line_error(code, err, f"labels.csv, line 8: {column} column '{column}' is blank")


def test_ranks_single_group(embedding_files, capsys):
    pd.read_csv(embedding_files / "labels.csv").assign(group="a").to_csv(embedding_files / "labels.csv", index=False)
    code, _, err = run(capsys, *ranks_args(embedding_files, "--group-column", "group"))
    assert_one_line_error(code, err, "has only the group 'a'")


@pytest.mark.parametrize(
    "argv, parts",
    [
        (["demo", "--workers", "0"], ["argument --workers", "got 0"]),
        (["demo", "--workers", "x"], ["argument --workers"]),
        (["evaluate", "RUN", "--batch-size", "-5"], ["argument --batch-size", "must be >= 1, got -5"]),
        (["evaluate", "RUN", "--batch-size", "0"], ["argument --batch-size", "must be >= 1, got 0"]),
        (["pareto", "STORE", "--reference", "nan", "nan"], ["argument --reference", "must be a finite number, got nan"]),
        (["pareto", "STORE", "--reference", "1", "inf"], ["argument --reference", "got inf"]),
        (["retrain", "STORE", "--split", "tset"], ["argument --split", "'tset'"]),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, capsys, argv, parts):
    import time

    argv = [a.replace("RUN", str(tmp_path / "run")).replace("STORE", str(tmp_path / "s.db")) for a in argv]
    if argv[0] == "demo":
        argv += ["--out", str(tmp_path / "demo")]
    start = time.perf_counter()
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, *parts)
    assert time.perf_counter() - start < 10  # the demo used to fail after ~13 s of work
    assert list(tmp_path.iterdir()) == []  # nothing written, no store created


@pytest.mark.parametrize("value", ["0", "-3"])
def test_ranks_bad_chunk_size(embedding_files, capsys, value):
    code, _, err = run(capsys, *ranks_args(embedding_files, "--chunk-size", value))
    assert_one_line_error(code, err, "argument --chunk-size", f"got {value}")


def test_fairness_warning_is_one_line(tmp_path, capsys):
    """An undefined metric (reference group with accuracy 0) is a one-line warning, not a stack of lines."""
    from fairvision.cli import main

    (tmp_path / "ranks.csv").write_text("ids,r\n0,0\n1,0\n2,3\n3,2\n")
    (tmp_path / "groups.csv").write_text("ids,group,identity\n0,a,x\n1,a,x\n2,b,y\n3,b,y\n")
    assert main(["fairness", "--ranks", str(tmp_path / "ranks.csv"), "--groups", str(tmp_path / "groups.csv"),
                 "--group-column", "group", "--on", "ids", "--reference-group", "b", "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("fairvision fairness: warning: ") for line in err), err
