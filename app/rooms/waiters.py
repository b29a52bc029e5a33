"""Long-poll wake-ups: a phone's request waits on its card's next change (any thread may
notify; the waiting coroutine is resumed on its own event loop). Waiters are kept per room
and per student token, so a copy wakes only the phones whose cards it changed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any


class Waiters:
    def __init__(self):
        self._lock = threading.Lock()
        #: room code -> token -> [(loop, future)]
        self._waiting: dict[str, dict[str, list]] = {}

    def register(self, code: str, token: str) -> asyncio.Future:
        """A future resolved at the next change of this card (register *before* reading
        the version, so that no change between the two is lost)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            self._waiting.setdefault(code, {}).setdefault(token, []).append((loop, fut))
        return fut

    def discard(self, code: str, token: str, fut: asyncio.Future) -> None:
        with self._lock:
            room = self._waiting.get(code, {})
            kept = [(lp, f) for lp, f in room.get(token, []) if f is not fut]
            if kept:
                room[token] = kept
            else:
                room.pop(token, None)
            if not room:
                self._waiting.pop(code, None)

    def notify(self, code: str, tokens: Iterable[str] | None = None) -> None:
        """Wake the phones of ``tokens`` in room ``code`` (None: all of them)."""
        with self._lock:
            room = self._waiting.get(code, {})
            if tokens is None:
                waiting = [w for lst in room.values() for w in lst]
                room.clear()
            else:
                waiting = [w for t in tokens for w in room.pop(t, [])]
        for loop, fut in waiting:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # its loop has closed: nobody waits any more
                pass

    def notify_room(self, room: Any, who: Iterable[Any] | None) -> None:
        """A room's ``on_change`` hook: ``who`` None or the participants concerned."""
        self.notify(room.code, None if who is None else [p.token for p in who])

    def count(self) -> int:
        with self._lock:
            return sum(len(lst) for room in self._waiting.values() for lst in room.values())


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


WAITERS = Waiters()
