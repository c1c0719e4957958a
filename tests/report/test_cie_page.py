"""The susceptible-samples page: inline images only (data URIs, no URL), escaping, the helpers of
report/_html_base.py, and `fairvision cie-view` on a hand-made study."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from fairvision.cli import main
from fairvision.report._html_base import data_uri, render_template, thumbnail_png
from fairvision.report.cie_page import render_cie_page

DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _png(path, size=(20, 12), color=(200, 30, 30)):
    Image.new("RGB", size, color).save(path)
    return str(path)


def _frames(tmp_path, n: int, *, missing: int = 0):
    paths = [_png(tmp_path / f"{i}.png") for i in range(n - missing)] + [str(tmp_path / "gone.png")] * missing
    samples = pd.DataFrame({"ids": range(n), "path": paths, "group": ["A", "B"] * (n // 2) + ["A"] * (n % 2),
                            "is_cie": [i % 2 == 0 for i in range(n)], "top_rank": [i + 1.0 for i in range(n)],
                            "dense_score": -np.linspace(0.01, 0.3, n), "dense_disagreement": 0.0,
                            "Male": [i % 2 for i in range(n)]})
    details = pd.DataFrame({"ids": range(n), "attribute": "Smiling", "label": 1, "dense": 1, "pruned": 0,
                            "is_cie": True})
    return samples, details


@pytest.mark.parametrize("n, missing", [(1, 0), (5, 0), (4, 1)])
def test_every_image_is_an_inline_data_uri_and_nothing_is_fetched(tmp_path, n, missing):
    samples, details = _frames(tmp_path, n, missing=missing)
    html = render_cie_page(samples, details, protected=["Male"], summary={"sparsity": 0.9, "n": n})
    uris = DATA_URI.findall(html)
    assert len(uris) == n - missing
    assert html.count('class="noimage"') == missing
    assert not re.search(r"https?://", html) and "<link" not in html and "@import" not in html
    assert html.count('<section class="card') == n
    with Image.open(io.BytesIO(base64.b64decode(uris[0]))) as image:  # a real PNG thumbnail
        assert image.format == "PNG" and image.size == (20, 12)


def test_text_is_escaped(tmp_path):
    samples, details = _frames(tmp_path, 1)
    details["attribute"] = "<script>alert(1)</script>"
    html = render_cie_page(samples, details)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_missing_columns_are_named(tmp_path):
    samples, details = _frames(tmp_path, 2)
    with pytest.raises(ValueError, match="samples has no column 'top_rank'"):
        render_cie_page(samples.drop(columns="top_rank"), details)


@pytest.mark.parametrize("size, side, expected", [((200, 100), 50, (50, 25)), ((20, 12), 96, (20, 12))])
def test_thumbnail_keeps_aspect_and_never_enlarges(tmp_path, size, side, expected):
    png = thumbnail_png(_png(tmp_path / "x.png", size), max_side=side)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == expected


def test_data_uri_reads_the_type_from_the_bytes(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "x.jpg", format="JPEG")
    assert data_uri(tmp_path / "x.jpg").startswith("data:image/jpeg;base64,")
    assert data_uri(thumbnail_png(np.zeros((3, 3, 3), dtype=np.uint8))).startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="not a PNG, JPEG, GIF or WebP"):
        data_uri(b"plain text")


def test_templates_autoescape():
    assert "&lt;b&gt;" in render_template("cie_view.html.j2", title="<b>", facts={}, cards=[], missing_images=0,
                                          attributes=[], groups=[], thumbnail=96)


# ----------------------------------------------------------------------------- fairvision cie-view


def _study(tmp_path):
    """2 dense + 2 pruned seeds of 6 samples x 2 attributes; samples 0 and 3 flip Smiling when pruned."""
    root = tmp_path / "study"
    images = [_png(tmp_path / f"img{i}.png", color=(40 * i, 0, 0)) for i in range(6)]
    labels = pd.DataFrame({"ids": range(6), "path": images, "identity": [f"i{i}" for i in range(6)],
                           "group": list("ABCABC"), "Male": [0, 1, 0, 1, 0, 1], "Smiling": [1, 1, 0, 0, 1, 0]})
    dense = np.array([[-2, 0.2], [2, 1], [-2, -1], [2, 0.3], [-2, 2], [2, -2]], dtype=float)
    pruned = dense.copy()
    pruned[[0, 3], 1] = -1.0
    for kind, logits in (("dense", dense), ("sparsity0.9", pruned)):
        for seed in (0, 1):
            run = root / "runs" / f"{kind}-seed{seed}"
            run.mkdir(parents=True)
            np.savetxt(run / "logits_test.txt", logits + 0.01 * seed)
            labels.to_csv(run / "labels_test.csv", index=False)
            (run / "config.yaml").write_text(yaml.safe_dump({"task": {"protected": ["Male"]}}))
    return root


@pytest.mark.parametrize("top_k, cards", [(2, 2), (0, 2), (6, 6)])
def test_cli_cie_view_writes_a_self_contained_page(tmp_path, capsys, top_k, cards):
    study, out = _study(tmp_path), tmp_path / "page" / "cie.html"
    assert main(["cie-view", str(study), "--out", str(out), "--top-k", str(top_k)]) == 0
    html = out.read_text()
    assert len(DATA_URI.findall(html)) == cards  # top-k by dense score plus the 2 CIEs (0 and 3 are the top 2)
    assert not re.search(r"https?://", html)
    assert html.count('<tr class="flipped">') == 2
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [(["{missing}", "--out", "{out}"], "STUDY_DIR: "),
     (["{study}", "--out", "{out}", "--sparsity", "0.5"], "sparsity 0.5 is not a level"),
     (["{study}", "--out", "{txt}"], "give a name ending in .html"),
     (["{study}", "--out", "{folder}"], "is a folder")],
)
def test_cli_cie_view_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    values = {"missing": tmp_path / "nope", "out": tmp_path / "cie.html", "study": _study(tmp_path),
              "txt": tmp_path / "cie.txt", "folder": tmp_path}
    code = main(["cie-view", *[a.format(**values) for a in argv]])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("fairvision cie-view: error: ") and message in err
    assert not (tmp_path / "cie.html").exists() and not (tmp_path / "cie.txt").exists()


def test_cie_view_page_renders_offline_in_a_browser(browser, tmp_path):
    """Headless Chromium (tests/browser.py; skipped without Chromium): loads, every thumbnail decodes, the
    filter script raises nothing, no request leaves the page."""
    study, out = _study(tmp_path), tmp_path / "cie.html"
    assert main(["cie-view", str(study), "--out", str(out), "--top-k", "6"]) == 0
    result = browser.check(out, tmp_path / "cie.png")
    assert result.ok, result.problems()
    assert len(result.images) == 6 and all(width > 0 for _, width in result.images)
