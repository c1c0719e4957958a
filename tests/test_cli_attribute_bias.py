"""`fairvision attribute-bias` on a tiny fake CelebA annotation folder (official on-disk format) and saved logits."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from fairvision.metrics import attribute_bias_report
from .cli_run import run_cli as run_any

CELEBA_ATTRS = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
SIZES = {0: 300, 1: 100, 2: 120}  # train, val, test


@pytest.fixture
def celeba(tmp_path) -> SimpleNamespace:
    """list_attr_celeba.txt and list_eval_partition.txt for 520 images (partitions interleaved), and logits files."""
    rng = np.random.default_rng(0)
    n = sum(SIZES.values())
    partition = np.repeat(list(SIZES), list(SIZES.values()))
    rng.shuffle(partition)  # partitions are interleaved in the files, as nothing guarantees they are contiguous
    scores = rng.standard_normal((n, 3)) @ rng.standard_normal((3, 40)) + rng.uniform(-1.5, 0.5, 40)
    labels = (scores + 0.5 * rng.standard_normal((n, 40)) > 0).astype(int)
    logits = 2 * scores + rng.standard_normal((n, 40))
    images = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    root = tmp_path / "celeba"
    root.mkdir()
    lines = [str(n), " ".join(CELEBA_ATTRS) + " "]
    lines += [im + "".join(f" {v:>2}" for v in row) for im, row in zip(images, np.where(labels == 1, 1, -1))]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{im} {p}\n" for im, p in zip(images, partition)))
    files = {}
    for code, split in ((1, "val"), (2, "test")):
        files[split] = tmp_path / f"{split}_outputs.txt"
        np.savetxt(files[split], logits[partition == code])
    return SimpleNamespace(root=root, labels=labels, logits=logits, partition=partition, files=files,
                           tmp=tmp_path)


def assert_one_line_error(code, err, *parts):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("fairvision attribute-bias: error: "), err
    for part in parts:
        assert part in err, err


def base_args(celeba, *extra):
    return ["attribute-bias", "--logits", celeba.files["test"], "--celeba", celeba.root, *extra]


def test_json_default_thresholds(celeba, capsys):
    code, out, err = run_any(capsys, *base_args(celeba, "--json"))
    assert code == 0, err
    result = json.loads(out)
    assert list(result) == ["attributes", "bias_amplification", "fpr_gap", "fnr_gap", "thresholds"]
    assert list(result["attributes"]) == CELEBA_ATTRS
    assert list(result["bias_amplification"]) == ["Male", "Young", "Chubby", "Pale_Skin"]
    assert set(result["fpr_gap"]["Male"]) == set(CELEBA_ATTRS) - {"Male"}
    assert result["thresholds"] == {name: 0.0 for name in CELEBA_ATTRS}
    # independent arithmetic on the test rows (file order) for one attribute
    test = celeba.partition == 2
    z, y = celeba.logits[test], celeba.labels[test]
    j = CELEBA_ATTRS.index("Smiling")
    smiling = result["attributes"]["Smiling"]
    assert smiling["accuracy"] == pytest.approx(np.mean((z[:, j] > 0) == y[:, j]))
    assert smiling["positive_rate"] == pytest.approx(np.mean(z[:, j] > 0))
    male = y[:, CELEBA_ATTRS.index("Male")] == 1
    fpr = [np.mean(z[(y[:, j] == 0) & (male == v), j] > 0) for v in (False, True)]
    assert result["fpr_gap"]["Male"]["Smiling"] == pytest.approx(fpr[1] - fpr[0])
    # training rates come from the train partition
    train = celeba.labels[celeba.partition == 0]
    expected = attribute_bias_report(z, y, attributes=CELEBA_ATTRS, train_labels=train).to_dict()
    assert result["bias_amplification"] == expected["bias_amplification"]  # np.savetxt round-trips exactly
    computed = [v for by_attr in result["bias_amplification"].values() for v in by_attr.values() if v is not None]
    assert computed, "some bias amplification must be computed on this data"


@pytest.mark.parametrize("policy", ["recalibrated", "recalibrated_per_group"])
def test_json_recalibrated(celeba, capsys, policy):
    code, out, err = run_any(capsys, *base_args(celeba, "--val-logits", celeba.files["val"], "--threshold", policy,
                                                "--protected", "Male,Young", "--json"))
    assert code == 0, err
    result = json.loads(out)
    val = celeba.partition == 1
    zv, yv = celeba.logits[val], celeba.labels[val]
    j = CELEBA_ATTRS.index("Smiling")
    if policy == "recalibrated":
        k = int(yv[:, j].sum())
        assert result["thresholds"]["Smiling"] == pytest.approx(np.sort(zv[:, j])[::-1][k - 1])  # k-th largest
    else:
        assert list(result["thresholds"]) == ["Male", "Young"]
        male = yv[:, CELEBA_ATTRS.index("Male")] == 1
        k = int(yv[male, j].sum())
        assert result["thresholds"]["Male"]["Smiling"]["1"] == pytest.approx(np.sort(zv[male, j])[::-1][k - 1])
        assert set(result["attributes"]) == {"Male", "Young"}
    assert list(result["bias_amplification"]) == ["Male", "Young"]


def test_val_split(celeba, capsys):
    code, out, err = run_any(capsys, "attribute-bias", "--logits", celeba.files["val"], "--celeba", celeba.root,
                             "--split", "val", "--json")
    assert code == 0, err
    val = celeba.partition == 1
    j = CELEBA_ATTRS.index("Bald")
    assert json.loads(out)["attributes"]["Bald"]["accuracy"] == pytest.approx(
        np.mean((celeba.logits[val, j] > 0) == celeba.labels[val, j]))


def test_tables_without_json(celeba, capsys):
    code, out, err = run_any(capsys, *base_args(celeba, "--protected", "Male"))
    assert code == 0, err
    assert "test_outputs.txt: test split, default thresholds" in out
    assert "bias with respect to Male" in out and "Mouth_Slightly_Open" in out and "rare-value ratio" in out
    assert "…" not in out  # nothing cropped at 80 columns
    assert "fewer than 10 evaluated positives" in out  # skip reasons are shown


def test_tables_per_group(celeba, capsys):
    code, out, err = run_any(capsys, *base_args(celeba, "--val-logits", celeba.files["val"], "--threshold",
                                                "recalibrated_per_group", "--protected", "Young"))
    assert code == 0, err
    assert "thresholds by group of Young" in out and "t(0)" in out and "bias with respect to Young" in out


def test_help(capsys):
    code, out, _ = run_any(capsys, "attribute-bias", "--help")
    assert code == 0 and "--val-logits" in out and "recalibrated_per_group" in out


def test_wrong_number_of_rows_names_the_partition(celeba, capsys):
    np.savetxt(celeba.files["test"], celeba.logits[celeba.partition == 2][:-1])
    code, _, err = run_any(capsys, *base_args(celeba))
    assert_one_line_error(code, err, "test_outputs.txt: 119 rows of logits", "the test partition of",
                          "list_eval_partition.txt has 120 images")


def test_wrong_number_of_val_rows(celeba, capsys):
    code, _, err = run_any(capsys, *base_args(celeba, "--threshold", "recalibrated", "--val-logits",
                                              celeba.files["test"]))
    assert_one_line_error(code, err, "120 rows of logits", "the val partition", "has 100 images", "--val-logits")


def test_wrong_number_of_columns_names_the_line(celeba, capsys):
    np.savetxt(celeba.files["test"], celeba.logits[celeba.partition == 2][:, :39])
    code, _, err = run_any(capsys, *base_args(celeba))
    assert_one_line_error(code, err, "test_outputs.txt, line 1: 39 value(s), expected 40 (one per attribute)")


def test_non_numeric_cell_names_line_and_column(celeba, capsys):
    path = celeba.files["test"]
    lines = path.read_text().splitlines()
    cells = lines[4].split()
    cells[2] = "abc"
    lines[4] = " ".join(cells)
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run_any(capsys, *base_args(celeba))
    assert_one_line_error(code, err, "test_outputs.txt, line 5, column 3: 'abc' is not a number")


def test_unknown_protected(celeba, capsys):
    code, _, err = run_any(capsys, *base_args(celeba, "--protected", "Male,Hat"))
    assert_one_line_error(code, err, "--protected: 'Hat' is not an attribute of", "list_attr_celeba.txt")


def test_recalibration_needs_val_logits(celeba, capsys):
    code, out, err = run_any(capsys, *base_args(celeba, "--threshold", "recalibrated"))
    assert_one_line_error(code, err, "--threshold recalibrated", "--val-logits")
    assert out == ""


def test_val_logits_without_recalibration(celeba, capsys):
    code, _, err = run_any(capsys, *base_args(celeba, "--val-logits", celeba.files["val"]))
    assert_one_line_error(code, err, "--val-logits is used only to recalibrate thresholds")


@pytest.mark.parametrize(
    "argv, parts",
    [
        (["--threshold", "per_group"], ["argument --threshold: invalid choice: 'per_group'"]),
        (["--split", "train"], ["argument --split: invalid choice: 'train'"]),
    ],
)
def test_bad_choices(celeba, capsys, argv, parts):
    code, _, err = run_any(capsys, *base_args(celeba, *argv))
    assert code == 2 and err.count("\n") == 1
    for part in parts:
        assert part in err


def test_missing_annotation_folder_and_logits(celeba, capsys):
    code, _, err = run_any(capsys, "attribute-bias", "--logits", celeba.files["test"], "--celeba",
                           celeba.tmp / "nowhere")
    assert_one_line_error(code, err, "CelebA root folder not found")
    code, _, err = run_any(capsys, "attribute-bias", "--logits", celeba.tmp / "none.txt", "--celeba", celeba.root)
    assert_one_line_error(code, err, "none.txt: logits file not found")


def test_empty_partition(celeba, capsys):
    path = celeba.root / "list_eval_partition.txt"
    path.write_text(path.read_text().replace(" 1\n", " 0\n"))  # no val images left
    code, _, err = run_any(capsys, *base_args(celeba, "--threshold", "recalibrated", "--val-logits",
                                              celeba.files["val"]))
    assert_one_line_error(code, err, "the val partition of", "has no images")
