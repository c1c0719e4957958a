"""The headless-Chromium harness (tests/browser.py) on small fixed pages: each check it makes catches its case."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image

from ..browser import MIN_VARIANCE, Browser, BrowserError

SIZE = (640, 480)


def _png_data_uri(width: int = 64, height: int = 48) -> str:
    """A colour-gradient PNG as a data: URI."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 128, np.uint8)],
                   axis=-1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(tmp_path, body: str, name: str = "page.html"):
    path = tmp_path / name
    head = "<meta charset='utf-8'><title>t</title>"
    path.write_text(f"<!doctype html><html><head>{head}</head><body>{body}</body></html>")
    return path


def test_good_page_passes(browser, tmp_path):
    page = _page(tmp_path, f"<h1>Fairness report</h1><img src='{_png_data_uri()}' width=256>")
    result = browser.check(page, size=SIZE)
    assert result.ok, result.problems()
    assert result.images == [(_png_data_uri()[:60], 64)]
    assert result.variance > 100 * MIN_VARIANCE
    assert result.screenshot == tmp_path / "page.screenshot.png"
    with Image.open(result.screenshot) as shot:
        assert shot.format == "PNG" and shot.size == SIZE


def test_broken_image_fails(browser, tmp_path):
    page = _page(tmp_path, "<h1>Report</h1><img src='data:image/png;base64,bm90IGEgcG5nIGF0IGFsbA=='>")
    result = browser.check(page, tmp_path / "shot.png", size=SIZE)
    assert result.images == [("data:image/png;base64,bm90IGEgcG5nIGF0IGFsbA==", 0)]
    assert not result.ok
    assert result.problems() == ["image did not load: 'data:image/png;base64,bm90IGEgcG5nIGF0IGFsbA=='"]
    assert (tmp_path / "shot.png").is_file()


def test_external_image_is_caught_quickly(browser, tmp_path):
    page = _page(tmp_path, "<h1>Report</h1><img src='https://example.com/x.png'>")
    start = time.monotonic()
    result = browser.check(page, size=SIZE)
    assert time.monotonic() - start < 5
    assert result.external_requests == ["https://example.com/x.png"]
    assert result.images == [("https://example.com/x.png", 0)]
    assert result.failed_requests == ["https://example.com/x.png: inspector"]  # blocked before it left
    assert "external request: https://example.com/x.png" in result.problems()


def test_every_way_out_is_observed(browser, tmp_path):
    """Frames, fetch, websockets and sibling files count as requests too (a report must be one file)."""
    (tmp_path / "plot.png").write_bytes(base64.b64decode(_png_data_uri().split(",")[1]))
    page = _page(tmp_path, "<h1>Report</h1><img src='plot.png'><iframe src='http://10.0.0.1/frame'></iframe>"
                           "<script>fetch('https://api.example.net/z').catch(() => {});"
                           "new WebSocket('wss://ws.example.com/');</script>")
    result = browser.check(page, size=SIZE)
    assert sorted(result.external_requests) == sorted([
        (tmp_path / "plot.png").as_uri(), "http://10.0.0.1/frame", "https://api.example.net/z",
        "wss://ws.example.com/"])
    assert not [line for line in result.failed_requests if not line.startswith(("http", "wss"))]


@pytest.mark.parametrize(("script", "expected"), [
    ("console.error('x')", "x"),
    ("throw new Error('boom')", "Error: boom"),
])
def test_console_error_is_caught(browser, tmp_path, script, expected):
    page = _page(tmp_path, f"<h1>Report</h1><script>console.log('fine'); {script}</script>")
    result = browser.check(page, size=SIZE)
    assert len(result.console_errors) == 1 and result.console_errors[0].startswith(expected)
    assert result.external_requests == [] and not result.ok


def test_blank_page_has_no_variance(browser, tmp_path):
    page = _page(tmp_path, "", name="blank.html")
    result = browser.check(page, size=SIZE)
    assert result.variance < 1e-9
    assert result.problems() == [f"the page is blank (pixel variance {result.variance:.3g} <= {MIN_VARIANCE})"]


def test_missing_page(browser, tmp_path):
    with pytest.raises(FileNotFoundError):
        browser.check(tmp_path / "nope.html")


def test_no_chromium_is_a_clear_error(tmp_path):
    with pytest.raises(BrowserError, match="cannot start"):
        Browser(str(tmp_path / "no-chromium"))
    with pytest.raises(BrowserError, match="chromium ended"):  # an executable that is not a browser
        Browser("true")
