"""`fairvision pareto --plot --baselines`: CSV files and other trial stores (a zoo, a mitigation study) overlaid."""

from __future__ import annotations

import pandas as pd

from fairvision.cli import main
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search
from fairvision.search.analysis import baseline_table


def _store(path, objectives=("Error", "Rank Disparity"), seed=0, study="default"):
    engine = create_engine("random", frnas_space(), list(objectives), seed=seed, n_trials=4)
    store = TrialStore(path)
    try:
        run_search(ToyObjective(), engine=engine, store=store, n_trials=4, progress=False, study=study)
    finally:
        store.close()
    return path


def test_baseline_table_of_a_store(tmp_path):
    table = baseline_table(_store(tmp_path / "zoo.db", study="zoo"))
    assert len(table) == 4 and set(table.columns) >= {"name", "Error", "Rank Disparity"}
    assert all(n.startswith("zoo: ") for n in table["name"])


def test_pareto_plot_with_store_and_csv_baselines(tmp_path, capsys):
    search = _store(tmp_path / "search.db")
    zoo = _store(tmp_path / "zoo.db", seed=1)
    csv = tmp_path / "b.csv"
    pd.DataFrame({"name": ["paper"], "Error": [0.3], "Rank Disparity": [0.2]}).to_csv(csv, index=False)
    plot = tmp_path / "front.png"
    assert main(["pareto", str(search), "--plot", str(plot), "--baselines", str(zoo), "--baselines", str(csv)]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    other = tmp_path / "other.csv"
    pd.DataFrame({"name": ["x"], "Error": [0.3]}).to_csv(other, index=False)
    assert main(["pareto", str(search), "--plot", str(plot), "--baselines", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.csv" in err[0] and "Rank Disparity" in err[0]
