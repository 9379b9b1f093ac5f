"""A small Chrome DevTools Protocol client for the report's browser test: headless Chromium opens a
file, and we read its console errors, its images' natural sizes, values from the DOM and a screenshot.

Chromium is Debian's package (``/usr/bin/chromium``; ``bash scripts/setup-test-deps.sh`` installs it).
The flags keep it from reaching the network (this machine has none) and from needing a sandbox as root.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1200,1600",
    "--remote-debugging-port=0",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(message)
            if message.get("method") == method:
                return message

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", "")[:500])
        return errors


class Browser:
    """``with Browser() as b: page = b.open(path)``: one headless Chromium, closed at exit."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = tempfile.mkdtemp(prefix="acav-chromium-")
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.sockets = contextlib.ExitStack()

    def __enter__(self) -> Browser:
        self.proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode} before listening")
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                self.port = int(match.group(1))
                break
        else:
            raise RuntimeError("chromium did not start its DevTools endpoint within 60 s")
        # keep draining stderr so chromium never blocks on a full pipe
        import threading

        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        return self

    def open(self, path: Path) -> Page:
        from websockets.sync.client import connect

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=30) as response:
            targets = json.loads(response.read())
        target = next(t for t in targets if t.get("type") == "page")
        ws = self.sockets.enter_context(
            connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        )
        page = Page(ws)
        for domain in ("Runtime", "Log", "Page"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=Path(path).resolve().as_uri())
        page.wait_event("Page.loadEventFired", timeout=120)
        return page

    def screenshot(self, page: Page, out: Path) -> None:
        size = page.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}
        shot = page.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip, timeout=120
        )
        out.write_bytes(base64.b64decode(shot["data"]))

    def __exit__(self, *exc: object) -> None:
        self.sockets.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def skip_reason() -> str | None:
    if find_chromium() is None:
        return (
            "headless Chromium not found: install it with `bash scripts/setup-test-deps.sh` "
            "(Debian package chromium, needs root)"
        )
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return "the websockets package is missing: pip install -r requirements-dev.txt"
    if os.environ.get("ACAV_NO_BROWSER") == "1":
        return "ACAV_NO_BROWSER=1"
    return None
