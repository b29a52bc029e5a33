"""The student page's endpoints (tornado's test server on 127.0.0.1, no Panel session)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from tornado.httpclient import HTTPClientError
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.web import Application

from real_ensemble_lab.app.rooms import handlers, registry
from real_ensemble_lab.app.rooms.waiters import WAITERS
from real_ensemble_lab.engine import build_preset


class Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


class RoomEndpoints(AsyncHTTPTestCase):
    def run(self, result=None):
        """Each test in a thread of its own: a browser test earlier in the same pytest run
        leaves Playwright's event loop running on the main thread, and tornado's test
        loop cannot run inside another ("Cannot run the event loop while another loop is
        running", CI 2026-12-02)."""
        done: list = []
        worker = threading.Thread(target=lambda: done.append(super(RoomEndpoints, self)
                                                             .run(result)))
        worker.start()
        worker.join()
        return done[0] if done else None

    def get_app(self):
        self.clock = Clock()
        self.rooms = registry.Rooms(max_rooms=3, room_size=3, clock=self.clock,
                                    on_change=WAITERS.notify_room)
        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(handlers, "rooms", lambda: self.rooms)
        self._patch.setattr(handlers, "POLL_S", 60.0)  # no heartbeat inside a test
        self.room = self.rooms.create(build_preset("three_level"), virtual=10)
        return Application(handlers.ROUTES)

    def tearDown(self):
        self._patch.undo()
        super().tearDown()

    def call(self, method, path, body=None, cookie=None, **kw):
        headers = {"Cookie": cookie} if cookie else {}
        r = self.fetch(path, method=method, headers=headers, raise_error=False,
                       body=body if body is None or isinstance(body, bytes)
                       else json.dumps(body), **kw)
        return r, json.loads(r.body) if r.headers.get("Content-Type", "").startswith(
            "application/json") else r.body

    def join(self, nickname="Sam"):
        r, card = self.call("POST", f"/room/{self.room.code}/join", {"nickname": nickname})
        assert r.code == 200, card
        assert "httponly" in r.headers["Set-Cookie"].lower()
        return r.headers["Set-Cookie"].split(";")[0], card

    def test_the_page_and_its_assets_are_local_and_locked_down(self):
        r = self.fetch("/join?room=" + self.room.code)
        assert r.code == 200 and b"/room-assets/join.js" in r.body
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert b"http" not in r.body  # no external asset
        assert self.fetch("/room-assets/join.css").code == 200
        for bad in ("/room-assets/..%2Fmodel.py", "/room-assets/handlers.py",
                    "/room-assets/x.js"):
            assert self.fetch(bad).code == 404

    def test_join_reload_measure_leave(self):
        cookie, card = self.join("<b>Sam</b>\n")
        assert card["you"] == "<b>Sam</b>" and card["value"]["colour"].startswith("#")
        assert self.room.ens.N == 11
        # a reload: the same cookie gets the same system back, no new one
        r, again = self.call("POST", f"/room/{self.room.code}/join", {}, cookie=cookie)
        assert again["you"] == card["you"] and self.room.ens.N == 11
        r, state = self.call("GET", f"/room/{self.room.code}/state", cookie=cookie)
        assert state["value"] == card["value"] and state["feed"][0]["text"] == \
            "you joined the ensemble"
        r, m = self.call("POST", f"/room/{self.room.code}/measure", {}, cookie=cookie)
        assert m["feed"][0]["text"].startswith("you measured a = ")
        r, left = self.call("POST", f"/room/{self.room.code}/leave", {}, cookie=cookie)
        assert left == {"left": True} and self.room.ens.N == 10
        r, state = self.call("GET", f"/room/{self.room.code}/state", cookie=cookie)
        assert state["gone"] is True

    def test_bad_codes_and_full_rooms_get_one_sentence(self):
        for code in ("ZZZZ", "ab", "K7Q2X1"):
            r, body = self.call("GET", f"/room/{code}/state")
            assert r.code == 404 and body["error"].startswith("There is no open room")
            assert "Traceback" not in r.body.decode()
        self.join("a")
        self.join("b")
        self.join("c")
        r, body = self.call("POST", f"/room/{self.room.code}/join", {"nickname": "d"})
        assert r.code == 409 and body == {"error": "This room is full; ask your teacher."}
        r, body = self.call("POST", f"/room/{self.room.code}/join", b"\xff not json")
        assert r.code == 409  # still full, and the body never mattered
        self.room.close()
        r, body = self.call("GET", f"/room/{self.room.code}/state")
        assert r.code == 404

    def test_a_student_cannot_change_the_simulation(self):
        cookie, _ = self.join()
        before = (self.room.pace, self.room.running, self.room.ens.t)
        for path in ("start", "pace", "reset", "close", "../join"):
            r = self.fetch(f"/room/{self.room.code}/{path}", method="POST", body="{}",
                           headers={"Cookie": cookie}, raise_error=False)
            assert r.code in (404, 405)
        assert (self.room.pace, self.room.running, self.room.ens.t) == before

    @gen_test(timeout=30)
    async def test_a_long_poll_returns_at_the_next_change(self):
        r = await self.http_client.fetch(self.get_url(f"/room/{self.room.code}/join"),
                                         method="POST", body="{}")
        cookie = r.headers["Set-Cookie"].split(";")[0]
        version = json.loads(r.body)["version"]
        waiting = asyncio.ensure_future(self.http_client.fetch(
            self.get_url(f"/room/{self.room.code}/state?since={version}"),
            headers={"Cookie": cookie}))
        while WAITERS.count() == 0:  # the request is parked on the room
            await asyncio.sleep(0)
        assert not waiting.done()
        self.room.start()  # any change wakes it
        card = json.loads((await waiting).body)
        assert card["running"] is True and card["version"] > version
        with pytest.raises(HTTPClientError):
            await self.http_client.fetch(self.get_url("/room/ZZZZ/state"))

    @gen_test(timeout=30)
    async def test_a_copy_wakes_only_the_phones_it_concerns(self):
        a, b = WAITERS.register("ROOM", "a"), WAITERS.register("ROOM", "b")
        WAITERS.notify("ROOM", ["a"])
        await a
        assert not b.done()
        WAITERS.notify("ROOM")  # a change for everyone
        await b
        assert WAITERS.count() == 0
