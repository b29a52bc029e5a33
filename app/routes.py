"""Extra server routes: ``panel serve app --plugins app.routes``.

``GET /runners`` answers ``{"runners": k, "threads": [...]}``: the simulation threads alive
in this server (one per open session). Tests and operators use it to check that closing a
session stops its thread.
"""

from __future__ import annotations

import json
import sys

from tornado import web

from app.runner import live_runners
from engine import SetupError, require_threadsafe_layer

# Server start-up: refuse here, with one sentence, rather than abort mid-session when two
# sessions run parallel kernels at once on a layer that is not thread-safe.
try:
    require_threadsafe_layer()
except SetupError as _err:
    print(f"error: {_err}", file=sys.stderr)
    raise SystemExit(2) from None


class RunnersHandler(web.RequestHandler):
    def get(self) -> None:
        runners = live_runners()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({"runners": len(runners),
                               "threads": sorted(r._thread.name for r in runners)}))


ROUTES = [(r"/runners", RunnersHandler, {})]
