"""Extra server routes: ``panel serve app --plugins app.routes``.

``GET /runners`` answers ``{"runners": k, "threads": [...]}``: the simulation threads alive
in this server (one per open session). Tests and operators use it to check that closing a
session stops its thread.
"""

from __future__ import annotations

import json

from tornado import web

from app.runner import live_runners


class RunnersHandler(web.RequestHandler):
    def get(self) -> None:
        runners = live_runners()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({"runners": len(runners),
                               "threads": sorted(r._thread.name for r in runners)}))


ROUTES = [(r"/runners", RunnersHandler, {})]
