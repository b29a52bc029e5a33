"""Helpers for the dashboard tests: serve the app in a subprocess on a free local port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - local test server
        return r.status, r.read().decode()


def get_json(url: str, timeout: float = 5.0) -> dict:
    return json.loads(get(url, timeout)[1])


@contextmanager
def serve(argv: Sequence[str], port: int, ready_path: str = "/liveness",
          env: dict[str, str] | None = None, timeout: float = 180.0,
          cwd: Path | None = None) -> Iterator[str]:
    """Run a server command (in ``cwd``, the checkout by default); yield its base URL once
    ``ready_path`` answers; always kill it."""
    log = open(ROOT / "test-results" / f"server-{port}.log", "w") if \
        (ROOT / "test-results").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(list(argv), cwd=cwd or ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {argv}")
            try:
                get(base + ready_path, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"server not ready within {timeout} s") from None
                time.sleep(0.3)
        yield base
    finally:
        # the server's own process group only: panel and anything it started
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if log is not subprocess.DEVNULL:
            log.close()


def panel_argv(port: int, *extra: str) -> list[str]:
    """``panel serve app`` for tests: local only, quick cleanup of closed sessions."""
    return [str(VENV_BIN / "panel"), "serve", "app", "--address", "127.0.0.1",
            "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
            "--liveness", "--plugins", "real_ensemble_lab.app.routes",
            "--check-unused-sessions", "500", "--unused-session-lifetime", "1000", *extra]


def open_tab(page, name: str, shows: str | None = None, timeout: float = 60_000) -> None:
    """Open the dashboard's tab ``name`` and wait for ``shows`` (a selector) inside it.

    A click that did not select the tab is repeated (three tries): one CI run (2026-12-03)
    waited 30 s for the Classroom tab's button after a single click, which the same test
    never reproduced here in 30 tries. A tab that is selected but never shows its content
    still fails, with the tab's state in the message."""
    from playwright.sync_api import expect

    tab = page.get_by_role("tab", name=name, exact=True)
    for _ in range(3):
        tab.click()
        try:
            expect(tab).to_have_attribute("aria-selected", "true", timeout=5_000)
            break
        except AssertionError:
            continue
    selected = tab.get_attribute("aria-selected")
    assert selected == "true", f"the {name} tab is not selected after three clicks"
    if shows is not None:
        expect(page.locator(shows).first).to_be_visible(timeout=timeout)
