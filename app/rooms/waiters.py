"""Long-poll wake-ups: a phone's request waits on its room's next change (any thread may
notify; the waiting coroutine is resumed on its own event loop)."""

from __future__ import annotations

import asyncio
import threading


class Waiters:
    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}

    def register(self, code: str) -> asyncio.Future:
        """A future resolved at the room's next change (register *before* reading the
        room's version, so that no change between the two is lost)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            self._waiting.setdefault(code, []).append((loop, fut))
        return fut

    def discard(self, code: str, fut: asyncio.Future) -> None:
        with self._lock:
            lst = self._waiting.get(code, [])
            self._waiting[code] = [(lp, f) for lp, f in lst if f is not fut]
            if not self._waiting[code]:
                del self._waiting[code]

    def notify(self, code: str) -> None:
        with self._lock:
            waiting = self._waiting.pop(code, [])
        for loop, fut in waiting:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # its loop has closed: nobody waits any more
                pass

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiting.values())


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


WAITERS = Waiters()
