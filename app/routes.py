"""Extra server routes: ``panel serve app --plugins app.routes``.

``GET /runners`` answers ``{"runners": k, "threads": [...]}``: the simulation threads alive
in this server (one per open session). Tests and operators use it to check that closing a
session stops its thread.
"""

from __future__ import annotations

import json
import os
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


# Compile (or load from numba's cache) every engine's kernels and measure this machine's
# speed before the first visitor: a compile holds the interpreter lock for seconds, which
# froze the page of the session that triggered it; the measure sizes the "will run slowly"
# notices (app/cost.py).
if os.environ.get("REAL_ENSEMBLE_LAB_WARMUP", "1") != "0":
    from app.cost import calibrate

    calibrate()


class RunnersHandler(web.RequestHandler):
    def get(self) -> None:
        runners = live_runners()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({"runners": len(runners),
                               "threads": sorted(r._thread.name for r in runners)}))


ROUTES = [(r"/runners", RunnersHandler, {})]
