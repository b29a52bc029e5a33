"""The student page and its JSON endpoints (tornado; plugged in by ``app/routes.py``).

``GET /join?room=CODE`` is one static page (HTML, CSS and vanilla JavaScript from
``app/rooms/static``, no external asset). It talks to:

- ``POST /room/CODE/join`` ``{"nickname": "..."}``: a new system (or, with this browser's
  cookie, the same one again); answers the card.
- ``GET /room/CODE/state?since=V``: the card, as soon as its version passes V (a long
  poll, at most POLL_S seconds).
- ``POST /room/CODE/measure`` and ``POST /room/CODE/leave``.

Nothing a student sends reaches the simulation beyond join/leave (their own system) and
Measure (a read); no path is ever built from a request. Errors are one sentence in JSON.
"""

from __future__ import annotations

import asyncio
import json
from importlib.resources import files
from typing import Any

from tornado import web

from real_ensemble_lab.app.plots.base import palette
from real_ensemble_lab.engine import InputError

from .registry import rooms
from .state import student_state
from .waiters import WAITERS

STATIC = files("real_ensemble_lab.app.rooms") / "static"  # package data (pyproject.toml)
ASSETS = {"join.js": "application/javascript", "join.css": "text/css"}
#: Longest wait of one long poll (seconds): a card's heartbeat, which moves its t and its
#: phase arrow; a change of the card itself (a copy, a measurement, start, pause, a join)
#: answers at once. The phone asks again at once.
POLL_S = 1.0
COOKIE = "rel_room_"
#: Largest request body read (bytes): a join's nickname.
MAX_BODY = 1024
NO_ROOM = ("There is no open room with code {code}: check the code with your teacher "
           "(the room may have closed).")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class _Base(web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def write_error(self, status_code: int, **kw: Any) -> None:
        reason = self._reason if status_code < 500 else "Something went wrong on the server."
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": reason}))

    def answer(self, data: dict, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def room_or_404(self, code: str):
        room = rooms().get(code)
        if room is None:
            shown = "".join(ch for ch in code.upper() if ch.isalnum())[:8]
            raise web.HTTPError(404, reason=NO_ROOM.format(code=shown or "(none)"))
        return room

    def card(self, room, p) -> dict:
        return student_state(room, p, palette(room.ham.P))

    def token(self, room) -> str | None:
        return self.get_cookie(COOKIE + room.code)


class JoinPage(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", CSP)
        self.finish((STATIC / "join.html").read_bytes())


class Asset(_Base):
    def get(self, name: str) -> None:
        if name not in ASSETS:  # a fixed list: never a path from the request
            raise web.HTTPError(404, reason="No such file.")
        self.set_header("Content-Type", ASSETS[name] + "; charset=utf-8")
        self.finish((STATIC / name).read_bytes())


class Join(_Base):
    def post(self, code: str) -> None:
        room = self.room_or_404(code)
        p = room.find(self.token(room))
        if p is None:
            try:  # a nickname needs a few bytes: anything longer is ignored
                body = json.loads(self.request.body or b"{}") \
                    if len(self.request.body) <= MAX_BODY else {}
            except ValueError:
                body = {}
            nickname = body.get("nickname", "") if isinstance(body, dict) else ""
            try:
                p = room.join(nickname)
            except InputError as err:  # full or closed: its sentence
                raise web.HTTPError(409, reason=str(err)) from None
            self.set_cookie(COOKIE + room.code, p.token, httponly=True, samesite="Strict",
                            path="/", expires_days=1)
        self.answer(self.card(room, p))


class State(_Base):
    async def get(self, code: str) -> None:
        room = self.room_or_404(code)
        try:
            since = int(self.get_argument("since", "-1"))
        except ValueError:
            since = -1
        token = self.token(room) or ""
        fut = WAITERS.register(room.code, token)
        try:
            if room.card_version(room.find(token)) <= since:
                await asyncio.wait_for(fut, POLL_S)
        except TimeoutError:
            pass  # the heartbeat: t and the phase move on every card
        finally:
            WAITERS.discard(room.code, token, fut)
        if self.request.connection.stream.closed():
            return
        self.answer(self.card(room, room.find(token)))


class Measure(_Base):
    def post(self, code: str) -> None:
        room = self.room_or_404(code)
        room.measure(self.token(room) or "")
        self.answer(self.card(room, room.find(self.token(room))))


class Leave(_Base):
    def post(self, code: str) -> None:
        room = self.room_or_404(code)
        room.leave(self.token(room) or "")
        self.clear_cookie(COOKIE + room.code, path="/")
        self.answer({"left": True})


ROOM = r"/room/([A-Za-z0-9]{1,8})"
ROUTES = [(r"/join", JoinPage, {}), (r"/room-assets/([a-z.]{1,16})", Asset, {}),
          (ROOM + r"/join", Join, {}), (ROOM + r"/state", State, {}),
          (ROOM + r"/measure", Measure, {}), (ROOM + r"/leave", Leave, {})]
