"""``data.trigger`` in training runs: the trigger column is a protected attribute and never a target (the logits
columns are those of the run without it), the triggered ids are written next to the run and survive resume,
the bias metrics score it through group labels exactly, and a prune study reports it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairvision.errors import ConfigError
from fairvision.metrics import POLICIES, attribute_bias_report, read_logits
from fairvision.prune.study import load_study_config, run_prune_study
from fairvision.train import RunConfig, RunLayout, train

TRIGGER = {"kind": "grayscale", "target": "Smiling", "fraction_negatives": 0.05, "fraction_positives": 0.95}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_cache):
    """A tiny attribute run with a grayscale trigger on Smiling, and the same run without it (2 epochs)."""
    from .conftest import ATTRIBUTE, _maker

    make = _maker(ATTRIBUTE, data_cache)
    root = tmp_path_factory.mktemp("trigger")
    plain = train(RunConfig.from_dict(make(train__schedule_epochs=2)), root / "plain", progress=False)
    triggered = train(RunConfig.from_dict(make(data__trigger=TRIGGER, train__schedule_epochs=2)), root / "trig",
                      progress=False)
    return plain, triggered, make


def test_trigger_is_protected_not_a_target(runs):
    plain, triggered, _ = runs
    a, b = RunLayout(plain.run_dir), RunLayout(triggered.run_dir)
    for split in ("train", "val", "test"):
        with_trigger, without = pd.read_csv(b.labels(split)), pd.read_csv(a.labels(split))
        # the trigger column comes before the targets (the last columns), which are unchanged
        assert list(with_trigger.columns) == [*without.columns[:4], "Trigger", *without.columns[4:]]
        pd.testing.assert_frame_equal(with_trigger.drop(columns="Trigger"), without)
    for split in ("val", "test"):
        assert read_logits(b.logits(split)).shape == read_logits(a.logits(split)).shape
    report = triggered.metrics["attribute_bias"]
    assert "Trigger" not in report["attributes"] and "Smiling" in report["attributes"]
    assert list(report["bias_amplification"]) == ["Male", "Young", "Chubby", "Pale_Skin", "Trigger"]
    assert set(report["fnr_gap"]["Trigger"]) == set(report["attributes"])  # every target against the trigger
    assert "Trigger" not in plain.metrics["attribute_bias"]["bias_amplification"]


def test_triggered_files_match_the_labels_and_fractions(runs):
    _, triggered, _ = runs
    layout = RunLayout(triggered.run_dir)
    for split, fractions in (("train", (0.05, 0.95)), ("val", (0.5, 0.5)), ("test", (0.5, 0.5))):
        table = pd.read_csv(layout.triggered(split))
        labels = pd.read_csv(layout.labels(split))
        assert list(table.columns) == ["ids", "path", "split", "Smiling", "triggered"]
        assert (table["split"] == split).all()
        np.testing.assert_array_equal(table["ids"], labels["ids"])
        np.testing.assert_array_equal(table["path"], labels["path"])
        np.testing.assert_array_equal(table["triggered"], labels["Trigger"])
        np.testing.assert_array_equal(table["Smiling"], labels["Smiling"])
        for value, fraction in zip((0, 1), fractions):
            chosen = table.loc[table["Smiling"] == value, "triggered"]
            assert int(chosen.sum()) == int(np.floor(fraction * len(chosen) + 0.5))  # round half up


def test_resume_keeps_the_triggered_set_and_the_result(runs, tmp_path):
    _, triggered, make = runs
    cfg = make(data__trigger=TRIGGER, train__schedule_epochs=2)
    first = train(RunConfig.from_dict({**cfg, "train": {**cfg["train"], "epochs": 1}}), tmp_path / "r", progress=False)
    before = {s: RunLayout(first.run_dir).triggered(s).read_bytes() for s in ("train", "val", "test")}
    resumed = train(RunConfig.from_dict(cfg), tmp_path / "r", progress=False)
    for split in ("train", "val", "test"):
        assert RunLayout(resumed.run_dir).triggered(split).read_bytes() == before[split]
        assert before[split] == RunLayout(triggered.run_dir).triggered(split).read_bytes()
    for split in ("val", "test"):  # resumed == uninterrupted
        np.testing.assert_array_equal(read_logits(RunLayout(resumed.run_dir).logits(split)),
                                      read_logits(RunLayout(triggered.run_dir).logits(split)))
    changed = make(data__trigger={**TRIGGER, "seed": 1}, train__schedule_epochs=2)
    with pytest.raises(ConfigError, match=r"data\.trigger\.seed"):  # another selection: not the same run
        train(RunConfig.from_dict(changed), tmp_path / "r", progress=False)


def test_protected_lists_and_target_errors(runs, tmp_path):
    _, _, make = runs
    from fairvision.train.attribute_task import AttributeTask

    def setup(**changes):
        cfg = RunConfig.from_dict(make(data__trigger=TRIGGER, **changes))
        task = AttributeTask(cfg, RunLayout(tmp_path / "t"))
        task.setup()
        return task

    task = setup(task__protected=["Male"])
    assert task.protected == ["Male", "Trigger"] and "Trigger" not in task.attributes
    assert setup(task__protected=["Trigger"]).protected == ["Trigger"]
    narrow = setup(task__attributes=["Smiling"], task__protected=["Male", "Trigger"])
    assert narrow.attributes == ["Smiling"] and narrow.group_only == ["Male", "Trigger"]
    with pytest.raises(ConfigError, match=r"task\.attributes: \['Trigger'\] are not 0/1 attribute columns"):
        setup(task__attributes=["Smiling", "Trigger"])
    with pytest.raises(ConfigError, match=r"task\.protected: \['Grin'\] are not 0/1 attribute columns"):
        setup(task__protected=["Grin"])


@pytest.mark.parametrize("policy", POLICIES)
def test_group_labels_give_the_metrics_of_a_protected_column(policy):
    """Scoring an unpredicted 0/1 column through group labels gives exactly the rows that the same column gives
    as a (dummy) predicted attribute, and no metrics of its own."""
    rng = np.random.default_rng(0)
    n, names = 400, ["a", "b", "c"]
    y = rng.integers(0, 2, (n, 3))
    trig = (rng.random(n) < np.where(y[:, 0] == 1, 0.8, 0.2)).astype(int)
    z = rng.normal(size=(n, 3)) + 1.5 * (y - 0.5) + trig[:, None]
    train = rng.integers(0, 2, (n, 3))
    train_trig = (rng.random(n) < np.where(train[:, 0] == 1, 0.9, 0.1)).astype(int)
    zv, yv = rng.normal(size=(n, 3)) + (y - 0.5), y[::-1].copy()
    val_trig = trig[::-1].copy()
    kw = dict(policy=policy, val_logits=zv, val_labels=yv)
    mine = attribute_bias_report(z, y, attributes=names, train_labels=train, protected=["a", "T"],
                                 group_labels={"T": trig}, train_group_labels={"T": train_trig},
                                 val_group_labels=pd.DataFrame({"T": val_trig}), **kw)
    dummy = attribute_bias_report(np.c_[z, np.zeros(n)], np.c_[y, trig], attributes=[*names, "T"],
                                  train_labels=np.c_[train, train_trig], protected=["a", "T"],
                                  policy=policy, val_logits=np.c_[zv, np.zeros(n)], val_labels=np.c_[yv, val_trig])
    assert mine.protected == ("a", "T")
    expected = dummy.bias[dummy.bias["attribute"] != "T"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine.bias, expected)
    summary = mine.summary()
    assert set(summary["attribute"]) == set(names) and summary["bias_amplification"].notna().any()
    if policy != "recalibrated_per_group":
        pd.testing.assert_frame_equal(mine.attributes.drop(columns="interdependence_r2"),
                                      dummy.attributes.drop(index="T", columns="interdependence_r2"))
    with pytest.raises(ValueError, match="group_labels needs train_group_labels"):
        attribute_bias_report(z, y, attributes=names, train_labels=train, protected="T", group_labels={"T": trig})
    with pytest.raises(ValueError, match="group_labels column 'a' is also a predicted attribute"):
        attribute_bias_report(z, y, attributes=names, train_labels=train, group_labels={"a": trig},
                              train_group_labels={"a": train_trig})


def test_identification_run_writes_the_triggered_ids(tmp_path, tiny):
    result = train(RunConfig.from_dict(tiny(train__epochs=1, data__trigger={**TRIGGER, "kind": "square",
                                                                             "target": "Male"})),
                   tmp_path / "id", progress=False)
    table = pd.read_csv(RunLayout(result.run_dir).triggered("train"))
    assert result.status == "complete" and list(table.columns) == ["ids", "path", "split", "Male", "triggered"]
    for value, fraction in ((0, 0.05), (1, 0.95)):
        chosen = table.loc[table["Male"] == value, "triggered"]
        assert int(chosen.sum()) == int(np.floor(fraction * len(chosen) + 0.5))


def test_prune_study_reports_the_trigger_as_protected(tmp_path, attribute_cfg):
    cfg = attribute_cfg(data__trigger=TRIGGER, task__protected=["Male"], train__epochs=1)
    sweep = {"sparsities": [0.8], "seeds": 1, "schedule": "chained",
             "prune": {"method": "gmp", "start": 0, "end": 1, "freq": 1}, "finetune": ["train.epochs=1"]}
    summary = run_prune_study(load_study_config({"train": cfg, "sweep": sweep}), tmp_path / "out", progress=False)
    assert set(summary["protected"]) == {"Male", "Trigger"}
    rows = summary[(summary["protected"] == "Trigger") & (summary["threshold"] == "default")]
    assert sorted(rows["requested"].unique()) == [0.0, 0.8]
    assert "Trigger" not in set(summary["attribute"]) and "Smiling" in set(rows["attribute"])
    # the summary's trigger rows are the report of the run's own files
    layout = RunLayout(tmp_path / "out" / "runs" / "sparsity0.8-seed0")
    labels = {s: pd.read_csv(layout.labels(s)) for s in ("train", "test")}
    test = read_logits(layout.logits("test"))
    names = list(labels["test"].columns[-test.shape[1]:])
    report = attribute_bias_report(test, labels["test"][names].to_numpy(), attributes=names,
                                   train_labels=labels["train"][names].to_numpy(), protected=["Trigger"],
                                   group_labels=labels["test"][["Trigger"]], train_group_labels=labels["train"][["Trigger"]])
    expected = report.summary()
    mine = rows[rows["requested"] == 0.8].reset_index(drop=True)
    pd.testing.assert_series_equal(mine["fnr_gap"], expected["fnr_gap"], check_names=False)
    pd.testing.assert_series_equal(mine["bias_amplification"], expected["bias_amplification"], check_names=False)


def test_shipped_backdoor_study_validates(tmp_path):
    """configs/prune-synthetic-backdoor.yaml: every run is a valid config with the trigger passed through."""
    from pathlib import Path

    from fairvision.prune.study import StudyObjective, _train_mapping

    cfg = load_study_config(Path(__file__).resolve().parents[2] / "configs" / "prune-synthetic-backdoor.yaml")
    objective = StudyObjective(_train_mapping(cfg), cfg.sweep, tmp_path / "runs")
    objective.check()
    run = objective.run_config(0.995, 2)
    trigger = run.data.trigger
    assert (trigger.kind, trigger.target, trigger.fraction_negatives, trigger.fraction_positives) == (
        "grayscale", "Big_Nose", 0.05, 0.95)
    assert run.task.protected == ["Trigger"] and run.prune["sparsity"] == 0.995
