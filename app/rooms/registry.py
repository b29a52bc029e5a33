"""This server process's rooms: codes, the server-wide cap, expiry, and the ticker.

Limits come from :mod:`app.hosting` (README, "Hosting a class"): at most ``max_rooms`` rooms
at once, ``room_size`` students per room, and a room closes when its teacher's projector
has not been seen for ``room_expire`` seconds. Times come from an injected clock.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from real_ensemble_lab.engine import InputError

from .model import Room
from .text import plural

log = logging.getLogger("real_ensemble_lab.app.rooms")

#: Room codes: no 0/O, 1/I/L, 2/Z, 5/S, 8/B (read aloud or off a projector without doubt).
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LEN = 4
#: Seconds without a poll after which a student has left for good (a phone whose screen
#: is locked stops polling: a lesson's pause must not cost a student their system).
STUDENT_GONE = 600.0
#: Period of the ticker thread (seconds): the delay from a copy to the phone is about this.
TICK_S = 0.1


def new_code(taken: Any = ()) -> str:
    """A random code of CODE_LEN characters from ALPHABET, not in ``taken``."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))
        if code not in taken:
            return code


def normal_code(raw: Any) -> str | None:
    """The code a student typed, upper-cased; None unless it could be a code at all."""
    if not isinstance(raw, str):
        return None
    code = raw.strip().upper()
    if len(code) != CODE_LEN or any(ch not in ALPHABET for ch in code):
        return None
    return code


class Rooms:
    """The rooms of one server process (thread-safe)."""

    def __init__(self, max_rooms: int = 10, room_size: int = 200, expire: float = 600.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[..., None] | None = None):
        self.max_rooms, self.room_size, self.expire = int(max_rooms), int(room_size), expire
        self.clock = clock
        self.on_change = on_change  # every room's change hook (wakes the waiting phones)
        self._rooms: dict[str, Room] = {}
        self._lock = threading.Lock()

    def create(self, ham, params=None, **kw: Any) -> Room:
        """A new room (InputError, one sentence, when the server holds max_rooms)."""
        with self._lock:
            if self.max_rooms == 0:
                raise InputError("Classroom rooms are turned off on this server "
                                 "(REAL_ENSEMBLE_LAB_MAX_ROOMS=0).")
            if len(self._rooms) >= self.max_rooms:
                raise InputError(f"This server already holds {plural(self.max_rooms, 'room')}, "
                                 f"its limit; close one or "
                                 f"try again later.")
            code = new_code(self._rooms)
            kw.setdefault("seed", secrets.randbelow(2**31))
            room = Room(code, ham, params, max_students=self.room_size, clock=self.clock,
                        **kw)
            room.on_change = self.on_change
            self._rooms[code] = room
            return room

    def get(self, code: Any) -> Room | None:
        code = normal_code(code)
        with self._lock:
            room = self._rooms.get(code) if code else None
        return None if room is None or room.closed else room

    def reattach(self, code: Any, key: Any) -> Room | None:
        """The open room ``code`` if ``key`` is its teacher key (a reloaded projector)."""
        room = self.get(code)
        if room is None or not isinstance(key, str):
            return None
        ok = secrets.compare_digest(key.strip().upper().encode(), room.teacher_key.encode())
        return room if ok else None

    def close(self, code: str) -> None:
        with self._lock:
            room = self._rooms.pop(code, None)
        if room is not None:
            room.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rooms)

    def all(self) -> list[Room]:
        with self._lock:
            return list(self._rooms.values())

    def sweep(self) -> list[str]:
        """Close rooms whose teacher is gone (or that were closed); forget silent students."""
        now, closed = self.clock(), []
        for room in self.all():
            if room.closed or (self.expire and now - room.teacher_seen > self.expire):
                self.close(room.code)
                closed.append(room.code)
            else:
                room.forget_idle(STUDENT_GONE)
        return closed

    def tick(self) -> list[Room]:
        """Advance every running room; returns those that changed."""
        return [room for room in self.all() if room.tick()]


class Ticker:
    """A daemon thread: ``rooms.tick()`` every ``period`` s, ``rooms.sweep()`` every 2 s."""

    def __init__(self, rooms: Rooms, period: float = TICK_S):
        self.rooms, self.period = rooms, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rooms-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.period):
            n += 1
            try:
                if n % 20 == 0:
                    self.rooms.sweep()
                self.rooms.tick()
            except Exception:  # one bad tick must not stop every room
                log.exception("rooms ticker")

    def stop(self) -> None:
        self._stop.set()


_rooms: Rooms | None = None
_lock = threading.Lock()


def rooms() -> Rooms:
    """This process's :class:`Rooms`, with the limits of :func:`app.hosting.server`; the
    first call starts its :class:`Ticker` and wires the phones' wake-ups."""
    global _rooms
    with _lock:
        if _rooms is None:
            from real_ensemble_lab.app import hosting

            from .waiters import WAITERS

            s = hosting.server().settings
            _rooms = Rooms(s.max_rooms, s.room_size, s.room_expire,
                           on_change=WAITERS.notify_room)
            Ticker(_rooms)
        return _rooms
