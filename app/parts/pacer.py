"""Flow control between the session and its page: one frame in flight at a time.

The runner publishes frames faster than a loaded browser can draw them (32 per second
against 13 to 18 drawn, bench_app at N = 10^6, 2026-12-02). Sent regardless, they queue
in the websocket and everything the page shows, a slider's effect included, lags by the
queue. The page says when it has painted a frame (two animation frames after the update
arrived), and the session keeps at most :data:`IN_FLIGHT` frames sent and not yet drawn,
so the screen is never more than that behind the simulation. A page that never answers
(a hidden tab: browsers stop animation frames there) still gets a frame every
:data:`ACK_TIMEOUT_S`.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from .. import patches

#: Frames sent and not yet drawn, at most: two keep both the server and the browser busy
#: (one would make each wait for the other), more only add latency.
IN_FLIGHT = 2
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
        self._clock = clock
        self._sent_at = -float("inf")

    def ready(self) -> bool:
        """May the next frame be sent? (The last one was drawn, or it is overdue.)"""
        return (not self.live or self.frame - self.drawn < IN_FLIGHT
                or self._clock() - self._sent_at >= ACK_TIMEOUT_S)

    def sent(self) -> None:
        """Count a frame sent (call inside the document update that carries it)."""
        self._sent_at = self._clock()
        self.frame += 1
