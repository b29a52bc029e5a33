"""The Dockerfile's exact CMD, started here on a free local port: /liveness and the page."""

from __future__ import annotations

import json
import re

import pytest

from real_ensemble_lab.cli import panel_argv, serve_parser
from tests._app_fixtures import ROOT, VENV_BIN, free_port, get, get_json, serve

pytestmark = pytest.mark.timeout(120)


def dockerfile_cmd() -> list[str]:
    """The CMD of the Dockerfile (exec form), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmds = [line for line in text.splitlines() if line.startswith("CMD ")]
    assert len(cmds) == 1, "the Dockerfile must have exactly one CMD"
    return json.loads(cmds[0][4:])


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_cmd_serves_liveness_and_page(tmp_path, monkeypatch):
    argv = dockerfile_cmd()
    monkeypatch.setenv("BOKEH_ALLOW_WS_ORIGIN", dockerfile_env()["BOKEH_ALLOW_WS_ORIGIN"])
    assert argv[:2] == ["real-ensemble-lab", "serve"]
    assert argv[argv.index("--port") + 1] == "5006"
    assert argv[argv.index("--address") + 1] == "0.0.0.0"
    ns, rest = serve_parser().parse_known_args(argv[2:])
    panel = panel_argv(ns, rest)
    assert "--liveness" in panel and "real_ensemble_lab.app.routes" in panel
    assert not any(a.startswith("--allow-websocket-origin") for a in panel), \
        "the image's origins come from BOKEH_ALLOW_WS_ORIGIN"
    port = free_port()
    # the same command; only where it listens changes (127.0.0.1, a free port), and it runs
    # from a folder outside the checkout, as the image runs it from the lab user's home
    argv[argv.index("--address") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    argv[0] = str(VENV_BIN / "real-ensemble-lab")
    env = {k: v for k, v in dockerfile_env().items() if k.startswith("BOKEH_")}
    env["BOKEH_ALLOW_WS_ORIGIN"] = f"127.0.0.1:{port}"
    with serve(argv, port, env=env, cwd=tmp_path) as base:
        assert get_json(base + "/liveness") == {"/liveness": True}
        assert get_json(base + "/liveness?endpoint=/app", timeout=60) == {"/app": True}
        # the probe built a document without a session: no simulation thread was left
        assert get_json(base + "/runners")["runners"] == 0
        status, html = get(base + "/app", timeout=30)
        assert status == 200 and "Real Ensemble Lab" in html


def test_dockerfile_basics():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert re.search(r"^USER \d+", text, re.M), "runs as a non-root user"
    assert "HEALTHCHECK" in text and "/liveness" in text
    # dependencies from the runtime lock; the project on top without re-resolving them
    assert "pip install --no-cache-dir -r requirements/lock-runtime.txt" in text
    assert "pip install --no-cache-dir --no-deps ." in text and " -e ." not in text
