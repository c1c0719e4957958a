"""Headless-Chromium check of self-contained HTML pages (fairvision's HTML reports).

Use the ``browser`` fixture of ``tests/conftest.py`` (one Chromium per test session; it skips when Chromium is
missing, and fails instead when ``CI=true``)::

    def test_report_renders(browser, tmp_path):
        html = tmp_path / "report.html"          # written by the code under test
        result = browser.check(html)
        assert result.ok, result.problems()

``Browser.check(html_path, screenshot=None, *, size=(1280, 900), full_page=False)`` opens the file in a fresh
tab (its own browser context: no shared cache), waits for the load event and for the network to go quiet,
and returns a :class:`BrowserResult`:

- ``screenshot``: the PNG it saved (default ``<stem>.screenshot.png`` next to the page);
- ``variance``: variance of the screenshot's grayscale pixels (0-255 scale; a blank page gives 0);
- ``images``: ``(src[:60], naturalWidth)`` of every ``<img>`` (0: it did not load or decode);
- ``console_errors``: ``console.error``/``console.assert`` calls, uncaught exceptions and browser log errors;
- ``external_requests``: URL of every request the page (its frames and workers too) made that is neither a
  ``data:``/``blob:``/``about:`` URL nor the page file itself;
- ``loaded``: whether the load event fired within the timeout;
- ``failed_requests``: ``"url: reason"`` of each request that failed (information; not a check);
- ``ok`` / ``problems()``: whether every check passed / the failed checks in words (for assertion messages).

Requests a page starts later than the load event plus a quiet network (0.25 s), e.g. from timers, are missed.

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe`` (fds 3/4, NUL-separated JSON),
so no websocket client is needed. Requests are observed (``Network.requestWillBeSent`` in every attached
target) and also kept from leaving the machine: ``Network.setBlockedURLs`` on http(s)/ws(s)/ftp, host names
resolving to nothing, and a dead proxy on 127.0.0.1:9. The executable is ``$FAIRVISION_CHROMIUM`` or the
first of :data:`CANDIDATES` on ``PATH``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = "chromium not installed: apt-get install -y chromium"
#: a page whose screenshot's grayscale variance is at most this is considered blank
MIN_VARIANCE = 1.0
#: schemes that never leave the machine
LOCAL_SCHEMES = ("data:", "blob:", "about:")
#: run in the page: make lazy images load, wait for every image (2 s at most) and two frames, list the images
_IMAGES_JS = """
(async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === "lazy") i.loading = "eager"; });
  const done = i => i.complete ? null
    : new Promise(r => { i.addEventListener("load", r); i.addEventListener("error", r); });
  await Promise.race([Promise.all(imgs.map(done)), new Promise(r => setTimeout(r, 2000))]);
  await Promise.race([new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))),
                      new Promise(r => setTimeout(r, 500))]);
  return imgs.map(i => [(i.currentSrc || i.src || "").slice(0, 60), i.naturalWidth]);
})()
"""
_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-component-update",
    "--disable-background-networking", "--disable-sync", "--disable-default-apps", "--no-pings",
    "--dns-prefetch-disable", "--mute-audio", "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    """Chromium could not be started, ended, or answered a DevTools call with an error."""


@dataclass
class BrowserResult:
    """What :meth:`Browser.check` saw (see the module docstring)."""

    screenshot: Path
    variance: float
    images: list[tuple[str, int]]
    console_errors: list[str]
    external_requests: list[str]
    loaded: bool = True
    failed_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every failed check, in words (empty when the page passes)."""
        out = []
        if not self.loaded:
            out.append("the page did not finish loading")
        if self.variance <= MIN_VARIANCE:
            out.append(f"the page is blank (pixel variance {self.variance:.3g} <= {MIN_VARIANCE})")
        out += [f"image did not load: {src!r}" for src, width in self.images if width <= 0]
        out += [f"console error: {text}" for text in self.console_errors]
        out += [f"external request: {url}" for url in self.external_requests]
        return out

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.problems()


def find_chromium() -> str | None:
    """Path of the Chromium executable: ``$FAIRVISION_CHROMIUM`` or the first of :data:`CANDIDATES` on PATH."""
    env = os.environ.get("FAIRVISION_CHROMIUM")
    if env:
        return shutil.which(env) or (env if os.access(env, os.X_OK) else None)
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _screenshot_variance(png: Path) -> float:
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        return float(np.asarray(image.convert("L"), dtype=np.float64).var())


class Browser:
    """One headless Chromium process; :meth:`check` renders pages in it. Use as a context manager."""

    def __init__(self, executable: str | None = None, *, timeout: float = 15.0):
        self.executable = executable or find_chromium()
        if self.executable is None:
            env = os.environ.get("FAIRVISION_CHROMIUM")
            raise BrowserError(f"FAIRVISION_CHROMIUM={env} is not an executable" if env else INSTALL_HINT)
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="fv-chromium-")
        self._log = open(os.path.join(self._profile, "chromium.log"), "wb")  # noqa: SIM115 (closed in close())
        to_chrome_r, self._wfd = os.pipe()
        self._rfd, from_chrome_w = os.pipe()

        def map_fds():  # in the child: the pipe ends as fds 3 (commands) and 4 (replies)
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        try:
            self._proc = subprocess.Popen(
                [self.executable, *_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, close_fds=False,
                preexec_fn=map_fds, start_new_session=True)
        except OSError as err:
            self._cleanup()
            raise BrowserError(f"cannot start {self.executable}: {err}") from err
        finally:
            os.close(to_chrome_r)
            os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict] = []
        try:
            self.version = self._send("Browser.getVersion", timeout=max(timeout, 30.0))["product"]
        except BrowserError:
            self.close()
            raise

    # -- DevTools pipe ---------------------------------------------------------------------------------------
    def _log_tail(self) -> str:
        self._log.flush()
        lines = Path(self._profile, "chromium.log").read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "dbus" not in line)[-2000:]

    def _post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._wfd, data):]
        except OSError as err:
            try:
                code = self._proc.wait(timeout=2)  # a closed pipe is usually a browser that has exited
            except subprocess.TimeoutExpired:
                raise BrowserError(f"chromium pipe closed ({err}); its log:\n{self._log_tail()}") from err
            raise BrowserError(f"chromium ended (exit code {code}); its log:\n{self._log_tail()}") from err
        return self._next_id

    def _read(self, deadline: float) -> dict | None:
        """The next message, or None at the deadline."""
        while b"\0" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._rfd], [], [], remaining)[0]:
                return None
            chunk = os.read(self._rfd, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium ended (exit code {self._proc.poll()}); its log:\n{self._log_tail()}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self._on_event(message)
        return message

    def _send(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float | None = None) -> dict:
        """Call a DevTools method and wait for its result (events read meanwhile are kept)."""
        call = self._post(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._read(deadline)
            if message is None:
                raise BrowserError(f"no answer to {method} within {timeout or self.timeout:g} s")
            if message.get("id") == call:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def _on_event(self, event: dict) -> None:
        self._events.append(event)
        if event["method"] == "Target.attachedToTarget":  # an iframe or worker of the page: watch it too
            self._watch(event["params"]["sessionId"], resume=True)
        elif event["method"] == "Page.javascriptDialogOpening":  # alert() & co. would block the page
            self._post("Page.handleJavaScriptDialog", {"accept": False}, event.get("sessionId"))

    def _watch(self, session: str, resume: bool = False) -> None:
        """Enable the events the checks use in ``session`` (without waiting for the answers)."""
        for method, params in (("Network.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                               ("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*",
                                                                   "ftp://*"]}),
                               ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                                         "flatten": True})):
            self._post(method, params, session)
        if resume:
            self._post("Runtime.runIfWaitingForDebugger", {}, session)

    def _wait(self, until, timeout: float) -> bool:
        """Read events until ``until()`` is true (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not until():
            if self._read(deadline) is None:
                return until()
        return True

    # -- the check -------------------------------------------------------------------------------------------
    def check(self, html_path: str | os.PathLike, screenshot: str | os.PathLike | None = None, *,
              size: tuple[int, int] = (1280, 900), full_page: bool = False) -> BrowserResult:
        """Render ``html_path``, save its screenshot, and report what it loaded and logged."""
        page = Path(html_path).resolve()
        if not page.is_file():
            raise FileNotFoundError(page)
        shot = Path(screenshot) if screenshot else page.with_name(page.stem + ".screenshot.png")
        url = page.as_uri()
        self._events = []
        context = self._send("Target.createBrowserContext")["browserContextId"]
        try:
            target = self._send("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
            session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self._watch(session)
            self._send("Page.enable", session=session)
            self._send("Emulation.setDeviceMetricsOverride", {"width": size[0], "height": size[1],
                                                              "deviceScaleFactor": 1, "mobile": False}, session)
            self._events = []  # forget about:blank
            started = time.monotonic()
            nav = self._send("Page.navigate", {"url": url}, session)
            if nav.get("errorText"):
                raise BrowserError(f"cannot open {url}: {nav['errorText']}")
            loaded = self._wait(lambda: any(e["method"] == "Page.loadEventFired" and e.get("sessionId") == session
                                            for e in self._events), self.timeout)
            self._wait_network_idle(started + self.timeout)
            images = self._send("Runtime.evaluate", {"expression": _IMAGES_JS, "awaitPromise": True,
                                                     "returnByValue": True}, session)
            if "exceptionDetails" in images:
                raise BrowserError(f"image check failed: {images['exceptionDetails'].get('text')}")
            params = {"format": "png"}
            if full_page:
                width, height = (self._send("Page.getLayoutMetrics", session=session)["cssContentSize"][k]
                                 for k in ("width", "height"))
                params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": width, "height": height,
                                                                "scale": 1})
            shot.write_bytes(base64.b64decode(self._send("Page.captureScreenshot", params, session)["data"]))
            self._send("Target.closeTarget", {"targetId": target})
        finally:
            self._send("Target.disposeBrowserContext", {"browserContextId": context})
        return BrowserResult(
            screenshot=shot, variance=_screenshot_variance(shot),
            images=[(src, int(width)) for src, width in images["result"]["value"]],
            console_errors=self._console_errors(), external_requests=self._external_requests(url),
            loaded=loaded, failed_requests=self._failed_requests())

    def _wait_network_idle(self, deadline: float, quiet: float = 0.25) -> None:
        """Read events until no request has been in flight for ``quiet`` seconds (or the deadline)."""
        while time.monotonic() < deadline:
            pending = set()
            for e in self._events:
                if e["method"] == "Network.requestWillBeSent":
                    pending.add(e["params"]["requestId"])
                elif e["method"] in ("Network.loadingFinished", "Network.loadingFailed"):
                    pending.discard(e["params"]["requestId"])
            message = self._read(min(deadline, time.monotonic() + quiet))
            if message is None and not pending:
                return

    def _of(self, method: str) -> list[dict]:
        return [e["params"] for e in self._events if e["method"] == method]

    def _external_requests(self, page_url: str) -> list[str]:
        urls = [p["request"]["url"] for p in self._of("Network.requestWillBeSent")]
        urls += [p["url"] for p in self._of("Network.webSocketCreated")]
        local = lambda u: u.startswith(LOCAL_SCHEMES) or u.split("#")[0] == page_url  # noqa: E731
        return list(dict.fromkeys(u for u in urls if not local(u)))

    def _failed_requests(self) -> list[str]:
        sent = {p["requestId"]: p["request"]["url"] for p in self._of("Network.requestWillBeSent")}
        return [f"{sent.get(p['requestId'], '?')}: {p.get('blockedReason') or p.get('errorText')}"
                for p in self._of("Network.loadingFailed")]

    def _console_errors(self) -> list[str]:
        out = []
        for p in self._of("Runtime.consoleAPICalled"):
            if p["type"] in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        for p in self._of("Runtime.exceptionThrown"):
            d = p["exceptionDetails"]
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        for p in self._of("Log.entryAdded"):
            if p["entry"]["level"] == "error":
                entry = p["entry"]
                out.append(f"[{entry['source']}] {entry['text']}" + (f" ({entry['url']})" if entry.get("url") else ""))
        return out

    # -- lifetime --------------------------------------------------------------------------------------------
    def close(self) -> None:
        """End Chromium and remove its profile."""
        if self._proc.poll() is None:
            try:
                self._post("Browser.close")
                self._proc.wait(timeout=5)
            except (BrowserError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in (self._wfd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
