"""A minimal W3C WebDriver client (plain HTTP via httpx) for Debian's chromium and chromedriver.

Enough for the browser test: open pages, set a cookie, find elements (also inside a frame), type,
click, read text, run a script, list the requests sent and take screenshots. No Selenium needed.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from tests.ops.services import Processes, free_port, wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1800",
]  # fmt: skip


def find_browser() -> tuple[str | None, str | None]:
    """Paths of chromium and chromedriver (None where absent)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    return chromium, shutil.which("chromedriver")


class WebDriverError(RuntimeError):
    """The driver refused a command; the message carries its answer."""


class Browser:
    """One chromium session driven through chromedriver."""

    def __init__(self, procs: Processes, profile: Path, chromium: str, chromedriver: str) -> None:
        port = free_port()
        procs.start("chromedriver", [chromedriver, f"--port={port}", "--allowed-ips=127.0.0.1"])
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        wait_until(
            "chromedriver to be ready", lambda: self._http.get("/status").json()["value"]["ready"], 60, procs
        )
        options = {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]}
        # The performance log carries the DevTools network events: every request the pages make.
        match = {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"performance": "ALL"},
        }
        caps = {"capabilities": {"alwaysMatch": match}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        resp = self._http.request(method, path, json=body)
        value = resp.json().get("value") if resp.content else None
        if resp.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {resp.status_code} {str(value)[:1000]}")
        return value

    def _s(self, method: str, path: str, body: dict | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def add_cookie(self, name: str, value: str) -> None:
        self._s("POST", "/cookie", {"cookie": {"name": name, "value": value, "path": "/"}})

    def find(self, css: str, timeout: float = 0) -> str:
        """The first element matching ``css`` (waiting up to ``timeout`` seconds for one)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._s("POST", "/elements", {"using": "css selector", "value": css})
            if found:
                return found[0][ELEMENT]
            if time.monotonic() >= deadline:
                raise WebDriverError(f"no element matches {css!r} in {self.source()[:3000]}")
            time.sleep(0.5)

    def text(self, element: str) -> str:
        return self._s("GET", f"/element/{element}/text")

    def attribute(self, element: str, name: str) -> str | None:
        return self._s("GET", f"/element/{element}/attribute/{name}")

    def type(self, element: str, text: str) -> None:
        self._s("POST", f"/element/{element}/clear", {})
        self._s("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._s("POST", f"/element/{element}/click", {})

    def frame(self, element: str | None) -> None:
        """Enter the frame ``element`` (None: back to the top document)."""
        self._s("POST", "/frame", {"id": None if element is None else {ELEMENT: element}})

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: ``return ...``) in the current page or frame."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def requests(self) -> list[str]:
        """URLs of the requests the browser sent since the last call (DevTools network events)."""
        entries = self._s("POST", "/se/log", {"type": "performance"})
        urls = []
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def source(self) -> str:
        return self._s("GET", "/source")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def quit(self) -> None:
        try:
            self._s("DELETE", "")
        finally:
            self._http.close()
