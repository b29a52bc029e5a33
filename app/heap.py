"""The server's heap: the sessions' long-lived objects kept out of the collector's scans.

A page's document and its components are about 70 000 Python objects that live as long as
the session. CPython's cyclic collector examines every tracked object in each full
(generation 2) collection, and nothing else runs meanwhile: no frame leaves, no page is
built. With 30 students in one process (2 million objects) a full collection took
1.1-2.9 s, 21 of them over 20 ms in one ``bench_load`` run (2026-12-03), and Panel adds
one ``gc.collect()`` five seconds after every session that ends.

So: once a page is built, everything alive is frozen (``gc.freeze``: moved to the
permanent generation, which collections skip; it costs nothing), and the collector's
automatic collections look only at what is younger, the frames' short-lived objects.
A closed session's cycles are frozen too; they are freed by a full collection (unfreeze,
collect, freeze again) that replaces Panel's. That one still stops the server (1.5-2.2 s
with 30 students), so it waits until :data:`FULL_AFTER` sessions have ended or
:data:`FULL_PERIOD` seconds have passed: students leaving one after another do not stop
the class once each. A closed session's engine arrays are freed at once (the runner drops
them); what waits is its Python objects, about 9 MiB a session.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("real_ensemble_lab.app.heap")

#: A full collection once this many sessions have ended since the last one ...
FULL_AFTER = 10
#: ... or once this many seconds have passed since it (and a session has ended).
FULL_PERIOD = 300.0
#: While a collection waits, whether it is due is looked at this often (s).
LOOK_AGAIN = 10.0


class Heap:
    """When to freeze the heap and when to collect it in full.

    ``collector`` is the ``gc`` module (a fake in tests); ``clock`` a monotonic clock."""

    def __init__(self, collector=gc, clock: Callable[[], float] = time.monotonic,
                 period: float = FULL_PERIOD, after: int = FULL_AFTER):
        self.gc = collector
        self.clock = clock
        self.period = period
        self.after = after
        self.last_full = clock()  # when the last full collection ran (or the start)
        self.ended = 0  # sessions ended since then

    def settle(self) -> None:
        """After a page is built (and after its controls arrive): what is alive now is
        left out of the collections that follow."""
        self.gc.freeze()

    def session_ended(self, *context) -> None:
        """``pn.state.on_session_destroyed``'s callback."""
        self.ended += 1

    def collect(self) -> float | None:
        """A full collection if one is due (None), else the seconds until it should be
        looked at again."""
        now = self.clock()
        if self.ended < self.after and now - self.last_full < self.period:
            return min(LOOK_AGAIN, self.period - (now - self.last_full))
        started = time.perf_counter()
        self.gc.unfreeze()
        freed = self.gc.collect()
        self.gc.freeze()
        self.last_full, self.ended = now, 0
        log.info("full collection: %d objects freed in %.2f s", freed,
                 time.perf_counter() - started)
        return None


#: The server process's heap (one per process).
HEAP = Heap()
