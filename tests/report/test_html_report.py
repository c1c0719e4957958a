"""The HTML report: one self-contained page (doctype, charset, title, inline CSS and PNG data URIs, alt texts,
no http(s) anywhere) with a section per source, a short note for whatever is missing, the figures also
written beside it, and the ``fairvision report`` command (exit 0; a bad source exits 2 with one line)."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest

import numpy as np
import pandas as pd

from fairvision.cli import main
from fairvision.report.html import RunData, table, write_report
from fairvision.report.html._blocks import interval_cells
from fairvision.report.html._figures import plot_group_intervals
from fairvision.sources import build_report

from ..cli_run import run_cli
from ..sources.fakes import make_prune_study, make_run, make_store, search_trials, zoo_trials


class _Page(HTMLParser):
    """Tags of interest of a page: images (src, alt), section ids, headings, table headers, details summaries."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.sections: list[str] = []
        self.headers: list[str] = []
        self.tags: list[str] = []
        self._th = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "section":
            self.sections.append(attrs.get("id"))
        self._th = tag == "th"

    def handle_data(self, data):
        if self._th:
            self.headers.append(data)
            self._th = False


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return {
        "run": make_run(root / "runs" / "tiny"),
        "search": make_store(root / "search.db", study="search", engine="smac", trials=search_trials()),
        "zoo": make_store(root / "zoo.db", study="zoo", engine="grid", trials=zoo_trials()),
        "study": make_prune_study(root / "prune"),
        "bare_study": make_prune_study(root / "bare", predictions=False),
    }


@pytest.fixture(scope="module")
def full_report(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report.html"
    build_report([sources["search"], sources["zoo"], sources["run"], sources["study"]], out, bootstrap=100)
    return out


def test_page_is_self_contained_and_valid_enough(full_report):
    text = full_report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert re.search(r"<title>fairvision report: search.db, zoo.db, tiny, prune</title>", text)
    assert "http://" not in text and "https://" not in text and "<script" not in text and "<link" not in text
    assert "<style>" in text and "@media print" in text
    page = _Page(text)
    assert page.images and all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    assert all(img.get("alt") for img in page.images)
    for img in page.images:  # every data URI is a whole PNG
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_source_has_its_section_with_tables_and_figures(full_report):
    text = full_report.read_text(encoding="utf-8")
    page = _Page(text)
    assert page.sections == ["search-search", "run-runs-tiny", "prune-prune"]
    search = text[text.index('id="search-search"'):text.index('id="run-runs-tiny"')]
    assert search.count("<img") == 1 and "Multi-fidelity check" in search and "Kendall τ" in search
    assert "zoo" in search and "resnet18/CosFace/AdamW" in search and "± " in search  # baselines, mean ± std
    assert "fairvision pareto" in search and "--baselines" in search and "engine: smac" in search
    run = text[text.index('id="run-runs-tiny"'):text.index('id="prune-prune"')]
    assert run.count("<img") == 2  # per-group intervals, per-epoch curves
    assert "value [95% interval]" in run and "100 replicates" in run and "Log-Odds Gap" in run
    assert "fairvision train" in run and "frnas_dpn" in run  # the command and the config, in <details>
    prune = text[text.index('id="prune-prune"'):]
    assert prune.count('alt="mean accuracy') == 1 and prune.count('alt="mean |bias amplification|') == 1
    assert "mean ± std over seeds" in prune and "risk_validation.csv" in prune and "combined" in prune
    gallery = prune[prune.index('class="gallery"'):]
    assert gallery.count("<li>") == 4 and gallery.count("data:image/png") == 3  # one image is missing
    assert "image not found" in gallery and "CIE at sparsity 0.9" in gallery and "Male 1" in gallery
    assert text.count("<details>") >= 6
    assert "No training run" not in text and "No search study" not in text


def test_figures_are_written_beside_the_report(full_report):
    folder = full_report.parent / "report_files"
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["prune-prune-curves-0.png", "prune-prune-curves-1.png", "run-runs-tiny-curves.png",
                    "run-runs-tiny-groups-validation-split-epoch-2.png", "search-search-front.png"]
    text = full_report.read_text(encoding="utf-8")
    for name in pngs:
        assert f"report_files/{name}" in text
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"


def test_missing_sources_and_files_give_notes(sources, tmp_path):
    out = build_report([sources["bare_study"]], tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert "No training run section: no source was a training run folder" in text
    assert "No search study section: no source was a trial store" in text
    assert "Not shown: no risk_validation.csv in the study folder" in text
    assert "Not shown: no cie.csv in the study folder" in text
    assert 'class="gallery"' not in text and text.count("<img") == 2


def test_identification_prune_study(tmp_path):
    """A face-identification sparsity study (FR-NAS metrics per run, no threshold policies) gets its own curves."""
    root = tmp_path / "study"
    root.mkdir()
    pd.DataFrame([{"requested": s, "seed": seed, "threshold": "identification", "sparsity": s, "Error": 0.2 + s / 5,
                   "Rank Disparity": 0.5 + s, "Disparity": 0.1, "Log-Odds Gap": 1.0 - s / 2, "status": "complete"}
                  for s in (0.0, 0.5, 0.9) for seed in (0, 1)]).to_csv(root / "summary_by_level.csv", index=False)
    text = build_report([root], tmp_path / "r.html").read_text(encoding="utf-8")
    page = _Page(text)
    [img] = page.images
    assert img["alt"].startswith("Error, Disparity, Rank Disparity, Log-Odds Gap against sparsity")
    assert "0.2 ± 0" in text and "Rank Disparity" in page.headers


def test_a_run_without_history_or_metrics(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: {name: frnas_dpn}\n")
    (run / "checkpoint.pt").write_bytes(b"")
    text = build_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No per-group results: metrics.json not found." in text
    assert "Per-epoch curves not shown: history.jsonl not found or empty." in text
    assert "<img" not in text


def test_values_are_escaped(tmp_path):
    run = RunData(name="<b>bold</b>", path="x & y", notes=["a <script> note"])
    text = write_report(tmp_path / "r.html", runs=[run], title="<T>").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "x &amp; y" in text and "a &lt;script&gt; note" in text
    assert "<title>&lt;T&gt;</title>" in text and "<script>" not in text


def test_tables_format_values_and_intervals():
    frame = pd.DataFrame({"group": ["A", "B"], "error": [0.123456, np.nan], "error_lower": [0.1, np.nan],
                          "error_upper": [0.15, np.nan], "n": [3, 4], "gap": [-0.0, 0.5], "gap_std": [0.01, np.nan]})
    shown = table(interval_cells(frame, ["error", "gap"]), caption="c")
    assert shown.columns == ["group", "error", "n", "gap"]
    assert shown.rows == [["A", "0.1235 [0.1, 0.15]", "3", "0 ± 0.01"], ["B", "–", "4", "0.5"]]
    assert shown.numeric == [False, True, True, True]
    assert table(frame, max_rows=1).caption == "(first 1 of 2 rows)"


def test_group_interval_bars(tmp_path, monkeypatch):
    """The error bars span exactly [lower, upper]; a column without intervals has none; a PNG is written."""
    from fairvision.report.html import _figures

    groups = pd.DataFrame({"error": [0.2, 0.4], "error_lower": [0.1, 0.3], "error_upper": [0.35, 0.45],
                           "mean_rank": [1.0, 2.0]}, index=["A", "B"])
    assert plot_group_intervals(groups, tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    figures = []
    monkeypatch.setattr(_figures, "save_figure", lambda fig, path, title="": figures.append(fig) or path)
    plot_group_intervals(groups, tmp_path / "h.png", columns=["error", "mean_rank"])
    error_ax, rank_ax = figures[0].axes
    segments = [seg for coll in error_ax.collections for seg in coll.get_segments()]
    assert sorted((round(s[0][1], 6), round(s[1][1], 6)) for s in segments) == [(0.1, 0.35), (0.3, 0.45)]
    assert not [seg for coll in rank_ax.collections for seg in coll.get_segments()]
    assert [t.get_text() for t in error_ax.get_xticklabels()] == ["A", "B"]


def test_cli(sources, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(sources["run"]), str(sources["zoo"]), "--out", str(out), "--bootstrap", "20"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out and out.is_file()
    assert (tmp_path / "cli_files").is_dir()
    bad = str(tmp_path / "bad.html")
    for argv, message in [
        ([str(tmp_path / "nope"), "--out", bad], "nope: no such file or folder"),
        ([str(out), "--out", bad], "cli.html: not a trial store"),
        ([str(sources["run"]), "--out", bad, "--top-k", "0"], "--top-k"),
        ([str(sources["run"]), "--out", bad, "--bootstrap", "1"], "--bootstrap"),
        ([str(sources["run"]), "--out", str(tmp_path)], "is a folder"),
        ([str(sources["run"]), "--out", str(tmp_path / "r.pdf")], "ending in .html"),
    ]:
        code, _, err = run_cli(capsys, "report", *argv)
        err = err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "bad.html").exists()


def test_report_renders_in_a_browser(browser, full_report):
    result = browser.check(full_report, size=(1366, 900))
    assert result.ok, result.problems()
    assert len(result.images) == 8 and all(width > 0 for _, width in result.images)
    assert not result.external_requests


@pytest.mark.parametrize("kinds", [["run"], ["search"], ["search", "zoo"], ["study"], ["bare_study"]])
def test_each_report_kind_renders_in_a_browser(browser, sources, tmp_path, kinds):
    """Every kind of source on its own: the page loads offline, is not blank, every image decodes, no console
    error, no request leaves the machine."""
    out = tmp_path / "report.html"
    build_report([sources[k] for k in kinds], out, bootstrap=0)
    result = browser.check(out, size=(1366, 900))
    assert result.ok, result.problems()
    assert result.images and all(width > 0 for _, width in result.images)
