"""Extra server routes: ``panel serve app --plugins real_ensemble_lab.app.routes``.

``GET /runners`` answers ``{"runners": k, "threads": [...], "playing": j, "sessions": n,
...}``: the simulation threads alive in this process (one per open session; j of them
playing), the sessions admitted (:mod:`app.hosting`) and the memory reserved, with this
process's ``pid`` (under ``--num-procs`` each request reaches one process). Tests and
operators use it to check that closing a session stops its thread. It answers only
requests made on this machine (127.0.0.1 or ::1, not forwarded by a proxy) unless
REAL_ENSEMBLE_LAB_PUBLIC_RUNNERS=1.

The classroom rooms add ``/join`` (the student page) and ``/room/CODE/...`` (its JSON
endpoints), see :mod:`app.rooms.handlers`.
"""

from __future__ import annotations

import json
import os
import sys

from tornado import web

from real_ensemble_lab.app import hosting
from real_ensemble_lab.app.cost import warm_up
from real_ensemble_lab.app.runner import live_runners
from real_ensemble_lab.engine import SetupError

# Server start-up: refuse here, with one sentence, rather than abort mid-session when two
# sessions run parallel kernels at once on a layer that is not thread-safe, or fail at the
# first visitor on a malformed REAL_ENSEMBLE_LAB_* setting. The layer starts at the engines'
# niceness (its worker threads inherit it). Unless REAL_ENSEMBLE_LAB_WARMUP=0, every
# engine's kernels are compiled (or loaded from numba's cache) and this machine's speed
# measured before the first visitor: a compile holds the interpreter lock for seconds, which
# froze the page of the session that triggered it; the measure sizes the "will run slowly"
# notices (app/cost.py).
try:
    warm_up(hosting.read_settings().engine_nice,
            measure=os.environ.get("REAL_ENSEMBLE_LAB_WARMUP", "1") != "0")
except (SetupError, ValueError) as _err:
    print(f"error: {_err}", file=sys.stderr)
    raise SystemExit(2) from None

LOCAL = ("127.0.0.1", "::1")
#: Headers a reverse proxy adds: a request through a proxy on this machine is not local.
FORWARDED = ("X-Forwarded-For", "X-Real-Ip", "Forwarded")


def is_local(request) -> bool:
    """Made on this machine, directly (not relayed by a proxy that runs here)."""
    return request.remote_ip in LOCAL and not any(h in request.headers for h in FORWARDED)


class RunnersHandler(web.RequestHandler):
    def get(self) -> None:
        host = hosting.server()
        if not (host.settings.public_runners or is_local(self.request)):
            raise web.HTTPError(403, reason="GET /runners answers only requests from this "
                                            "machine")
        runners = live_runners()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({"runners": len(runners),
                               "threads": sorted(r._thread.name for r in runners),
                               "playing": sum(bool(r.playing) for r in runners),
                               **host.summary(), "pid": os.getpid()}))


from real_ensemble_lab.app.rooms.handlers import ROUTES as ROOM_ROUTES  # noqa: E402 - after the start-up checks

ROUTES = [(r"/runners", RunnersHandler, {}), *ROOM_ROUTES]
