"""Flow control between the session and its page: a few frames in flight at a time.

The runner publishes frames faster than a loaded browser can draw them (32 per second
against 13 to 18 drawn, bench_app at N = 10^6, 2026-12-02). Sent regardless, they queue
in the websocket and everything the page shows, a slider's effect included, lags by the
queue. The page says when it has painted a frame (two animation frames after the update
arrived), and the session keeps at most :data:`IN_FLIGHT` frames sent and not yet drawn,
so the screen is never more than that behind the simulation. A frame that answers the
user's change (the first computed after a command) may take one place more: it is not
queued behind frames computed before the change. A page that never answers
(a hidden tab: browsers stop animation frames there) still gets a frame every
:data:`ACK_TIMEOUT_S`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from .. import patches

log = logging.getLogger("real_ensemble_lab.app.pacer")

#: Frames sent and not yet drawn, at most. Each frame's round trip (sent, drawn,
#: acknowledged, the next one built) took about 110 ms at N = 10^6 with two in flight and
#: left the page idle between frames; three keep it busy (bench_app, 2026-12-03: 16 -> 19
#: frames/s), and the frame answering a change does not wait behind them.
IN_FLIGHT = 3
#: A frame not acknowledged within this time is treated as drawn (seconds).
ACK_TIMEOUT_S = 2.0


@patches.not_busy("drawn", "live")
class FramePacer(pn.custom.ReactiveHTML):
    """``frame``: the last frame sent (the session counts); ``drawn``: the last one the page
    has painted (the page answers)."""

    frame = param.Integer(default=0)
    drawn = param.Integer(default=0)
    live = param.Boolean(default=False, doc="A page answers (none in unit tests: no pacing).")

    # data-drawn: the last frame acknowledged, for tests
    _template = '<div id="pacer" class="rel-pacer" aria-hidden="true" data-drawn="0"></div>'
    _scripts = {
        "render": "data.drawn = data.frame; data.live = true;",
        # the update that set `frame` also carried the plots: two animation frames later
        # the browser has laid them out and painted them
        "frame": """
          const f = data.frame;
          requestAnimationFrame(() => requestAnimationFrame(() => {
            if (data.drawn < f) { data.drawn = f; pacer.setAttribute('data-drawn', f); }
          }));
        """,
    }

    def __init__(self, clock: Callable[[], float], **params):
        super().__init__(width=0, height=0, margin=0, **params)
        # the acknowledgement is handled at once: Panel's 50 ms wait for more changes from
        # the page held every frame back by that much (bench_app, 2026-12-03: 13 -> 18
        # frames/s; the page waited 110 ms from an acknowledgement to the next frame)
        patches.undebounced(self)
        self._clock = clock
        self._sent_at = -float("inf")

    def ready(self, urgent: bool = False) -> bool:
        """May the next frame be sent? (Fewer than IN_FLIGHT are on their way, or the last
        one is overdue.) An ``urgent`` frame, the first to answer the user's change, may
        take one place more."""
        limit = IN_FLIGHT + (1 if urgent else 0)
        return (not self.live or self.frame - self.drawn < limit
                or self._clock() - self._sent_at >= ACK_TIMEOUT_S)

    def sent(self) -> None:
        """Count a frame sent (call inside the document update that carries it)."""
        self._sent_at = self._clock()
        self.frame += 1


class Doorbell:
    """The runner rings when it publishes a frame (from its own thread); the session's
    ``callback`` then runs at once on the server's loop, under the document's lock, instead
    of at the next periodic tick.

    Pulled by a 25 ms tick, a frame waited 12 ms on average, and the frames the page got
    followed the tick's grid (25 or 50 ms apart) instead of the engine's (~33 ms): more
    of them arrived together and were drawn as one (bench_app, N = 10^6 agents,
    2026-12-04: 20 -> 23-25 frames/s with the next change in app/runner.py). Rings
    coalesce: one call waits at most. ``loop`` is the session's Tornado loop (its
    ``add_callback`` is the one call that is safe from another thread), ``doc`` the
    session's document."""

    def __init__(self, loop: Any, doc: Any, callback: Callable[[], None]):
        self._loop = loop
        self._doc = doc
        self._callback = callback
        self._lock = threading.Lock()
        self._pending = False
        self.closed = False

    def ring(self) -> None:
        """Any thread: run the callback soon (nothing when one is already on its way)."""
        with self._lock:
            if self._pending or self.closed:
                return
            self._pending = True
        self._loop.add_callback(self._on_loop)

    def _on_loop(self) -> None:
        try:  # Bokeh's next-tick callback: the document's lock, and curdoc set
            self._doc.add_next_tick_callback(self._answer)
        except Exception as err:  # noqa: BLE001 - a session closed meanwhile
            log.debug("doorbell not answered: %s", err)
            with self._lock:
                self._pending = False

    def _answer(self) -> None:
        with self._lock:
            self._pending = False
        if not self.closed:
            self._callback()

    def close(self) -> None:
        self.closed = True
