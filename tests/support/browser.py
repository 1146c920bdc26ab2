"""The real-browser harness: `hiljade serve` as a subprocess on a free port of 127.0.0.1, Debian's
Chromium driven by Playwright, every request's host recorded, screenshots kept as test artifacts
(``$HILJADE_TEST_ARTIFACTS``, else a temporary folder; never in the repository)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.web import SECRET

try:  # an optional test dependency: the browser tests skip without it
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")


def missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if sync_playwright is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    return ""


def artifacts() -> Path:
    """Where screenshots go: ``$HILJADE_TEST_ARTIFACTS`` or a temporary folder."""
    chosen = os.environ.get("HILJADE_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "hiljade-test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    config: Path, *, workers: int = 1, timeout: float = 60.0, pids: list[int] | None = None
) -> Iterator[str]:
    """Run ``hiljade --config CONFIG serve`` on a free port; yields its base URL, stops it after.
    The server's process id is appended to ``pids`` when given."""
    port = free_port()
    env = {**os.environ, "HILJADE_WEB_SECRET": SECRET}
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hiljade", "--config", str(config), "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        if pids is not None:
            pids.append(process.pid)
        try:
            _wait_for(base, process, log, timeout)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(base: str, process: subprocess.Popen, log: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"hiljade serve stopped: {log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(base + "/data", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("hiljade serve did not answer in time") from None
            time.sleep(0.2)


@dataclass
class Recorded:
    """A page and what it did: the host of every request, console errors, dialogs opened."""

    page: Page
    base: str
    hosts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """A full-page screenshot under the artifacts folder."""
        path = artifacts() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_hosts(self) -> set[str]:
        """Hosts requested other than hiljade's own (``data:`` and ``blob:`` URLs are not requests)."""
        own = urlsplit(self.base).netloc
        return {h for h in self.hosts if h and h != own}


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium."""
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def recording_page(chromium: Browser, base: str, **context: Any) -> Iterator[Recorded]:
    """A fresh browser context's page that records every request's host, console errors and dialogs
    (dialogs are dismissed: an ``alert`` would mean a script of a stranger ran)."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 800}, **context)
    page = ctx.new_page()
    recorded = Recorded(page, base)
    page.on("request", lambda request: recorded.hosts.append(urlsplit(request.url).netloc))
    page.on("console", lambda msg: recorded.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: recorded.errors.append(str(exc)))

    def dismiss(dialog: Any) -> None:
        recorded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    try:
        yield recorded
    finally:
        ctx.close()
