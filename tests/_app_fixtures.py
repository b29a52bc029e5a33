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
