"""The teacher's projector view of a room (a Panel component of the dashboard).

Before a room: its options and "Open a room" for the dashboard's current Hamiltonian and
agents parameters. With a room: the join link and QR code (hideable), the counts, the
controls (start/pause, pace, reset, close, virtual systems), the class's histogram against
|psi(t)|^2 (empty classes marked), D(t) with its 1/sqrt(N) band and the last copies. The
view reads the room every PERIOD_MS on its document's loop and counts as the teacher's
presence (a room closes ROOM_EXPIRE seconds after its projector was last seen).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import panel as pn

from real_ensemble_lab.engine import InputError
from real_ensemble_lab.engine.core.room import MAX_SYSTEMS
from real_ensemble_lab.engine.core.stepper import Frame

from ..plots.base import palette
from ..plots.ensemble import HistogramView
from ..plots.series import DeviationView
from .board import counts_html, recent_html
from .people import rounded, slowest_period
from .qr import join_url, page_base, qr_svg
from .registry import Rooms, rooms
from .state import projector_state

PERIOD_MS = 500
#: Seconds the teacher key stays on screen after "Show teacher key" (the projector is
#: public: with the code, the key takes the room over from any dashboard).
KEY_SHOWN_S = 10


class _Rows:
    """The rows DeviationView.add_rows reads (t and tv)."""

    def __init__(self, pts: list[tuple[float, float]]):
        self.t = np.array([p[0] for p in pts], float)
        self.tv = np.array([p[1] for p in pts], float)

    def __len__(self) -> int:
        return len(self.t)


class ClassroomView(pn.viewable.Viewer):
    """``ClassroomView(context)``: ``context()`` gives (Hamiltonian, SimParams) at the press
    of "Open a room"; ``registry`` defaults to this process's rooms."""

    def __init__(self, context: Callable[[], tuple[Any, Any]],
                 registry: Callable[[], Rooms] = rooms, base: str | None = None):
        super().__init__()
        self._context, self._registry, self._base = context, registry, base
        self.room = None
        self._seen_version = -1
        self._shown = 0
        self._callback = None
        self.virtual = pn.widgets.IntInput(label="Virtual systems", value=0, start=0,
                                           end=MAX_SYSTEMS, width=170)
        self.spectators = pn.widgets.IntInput(label="Spectators per value", value=0,
                                              start=0, end=100, width=170,
                                              css_classes=["room-spectators"])
        self.ghosts = pn.widgets.Checkbox(label="Keep a student who leaves as a ghost")
        self.measure = pn.widgets.Checkbox(label="Measure mode (values hidden on phones)")
        self.open = pn.widgets.Button(label="Open a room for this Hamiltonian",
                                      color="primary", css_classes=["room-open"])
        self.open.on_click(lambda e: self.open_room())
        self.message = pn.pane.Markdown("", css_classes=["room-message"])
        self.play = pn.widgets.Button(label="Start", color="primary",
                                      css_classes=["room-play"], width=120)
        self.play.on_click(lambda e: self.toggle())
        self.reset = pn.widgets.Button(label="Reset", variant="outline",
                                       css_classes=["room-reset"], width=120)
        self.reset.on_click(lambda e: self._act("reset"))
        self.close = pn.widgets.Button(label="Close the room", color="danger",
                                       variant="outline", css_classes=["room-close"])
        self.close.on_click(lambda e: self.close_room())
        self.pace = pn.widgets.FloatInput(label="Pace (simulated time units per second)",
                                          value=0.1, start=0.001, end=10.0, step=0.01,
                                          width=260, css_classes=["room-pace"])
        self.pace.param.watch(lambda e: self._set("pace", e.new), "value")
        self.pace_note = pn.pane.HTML("", css_classes=["room-pace-note"], margin=(0, 10))
        self.pace.param.watch(lambda e: self._note_pace(), "value")
        self.virtual.param.watch(lambda e: self.room and self.room.set_virtual(e.new), "value")
        self.measure.param.watch(lambda e: self.room and self.room.set_measure_mode(e.new),
                                 "value")
        self.show_qr = pn.widgets.Checkbox(label="Show the QR code", value=True)
        self.qr = pn.pane.HTML("", css_classes=["room-qr"])
        self.qr_box = pn.Column(self.qr)
        self.show_qr.link(self.qr_box, value="visible")
        self.link = pn.pane.HTML("", css_classes=["room-link"])
        self.counts = pn.pane.HTML("", css_classes=["room-counts"])
        self.recent = pn.pane.HTML("", css_classes=["room-recent"])
        self.plots = pn.Column(sizing_mode="stretch_width")
        self.hist = self.dev = None
        self.show_key = pn.widgets.Toggle(label="Show teacher key", variant="outline",
                                          width=170, css_classes=["room-show-key"])
        self.show_key.param.watch(lambda e: self._reveal(e.new), "value")
        self.key = pn.pane.HTML("", css_classes=["room-key-box"])
        self._key_until: float | None = None
        self.again_code = pn.widgets.TextInput(label="Room code", width=120)
        self.again_key = pn.widgets.PasswordInput(label="Teacher key", width=160)
        self.again = pn.widgets.Button(label="Reconnect", variant="outline",
                                       css_classes=["room-reconnect"])
        self.again.on_click(lambda e: self.reconnect())
        self.intro = pn.pane.Markdown(
            "### Classroom: the class is the ensemble\nOpen a room for the Hamiltonian "
            "chosen in the sidebar. Each phone that joins becomes one system of the agent "
            "engine; the copy rule runs among the students.", sizing_mode="stretch_width")
        self.setup = pn.Column(self.intro, pn.Row(self.virtual, self.spectators), self.ghosts,
                               self.measure, self.open,
                               pn.pane.Markdown("Or take over a room that is still open "
                                                "(after a reload of this page):"),
                               pn.Row(self.again_code, self.again_key, self.again),
                               sizing_mode="stretch_width", css_classes=["room-setup"])
        # what the class and the teacher need at once sits in one strip at the top (at
        # 1280 x 720 all of it above the fold): the QR code, the link and code, the
        # controls, the counts; it wraps on a narrower screen
        controls = pn.Column(self.link, pn.Row(self.play, self.reset, self.close),
                             self.pace, self.pace_note, width=500)
        top = pn.FlexBox(self.qr_box, controls, pn.Column(self.counts, width=430),
                         flex_wrap="wrap", align_items="flex-start",
                         sizing_mode="stretch_width", css_classes=["room-top"])
        side = pn.Column(self.recent, self.virtual, self.measure, self.show_qr,
                         self.show_key, self.key, width=400)
        self.live = pn.Column(top, pn.Row(self.plots, side, sizing_mode="stretch_width"),
                              visible=False, sizing_mode="stretch_width",
                              css_classes=["room-live"])

    # -- actions ---------------------------------------------------------------------
    def open_room(self) -> None:
        ham, params = self._context()
        try:
            room = self._registry().create(
                ham, _with(params, mode="agents", phases="dynamic",
                            spectators=self.spectators.value),
                virtual=self.virtual.value, keep_ghosts=self.ghosts.value,
                measure_mode=self.measure.value)
        except InputError as err:
            self.message.object = str(err)
            return
        self._show(room)

    def reconnect(self) -> None:
        """Take over an open room (after a reload of the dashboard) by code and key."""
        room = self._registry().reattach(self.again_code.value, self.again_key.value)
        if room is None:
            self.message.object = "No open room has this code and teacher key."
            return
        self._show(room)

    def _show(self, room) -> None:
        self.room, self._seen_version, self._shown = room, -1, 0
        self.message.object = ""
        self.pace.value = rounded(room.pace, 3)
        self._note_pace()
        self.virtual.value = sum(o is None for o in room.owners)
        self.measure.value = room.measure_mode
        url = join_url(self._base if self._base is not None else page_base(pn.state.curdoc),
                       room.code)
        self.qr.object = qr_svg(url)
        # the link never breaks inside a part: only before "?room=" when it must
        base, query = html.escape(url).split("?", 1)
        self.link.object = (f'<p class="room-join" style="font-size:20px;margin:0">Join at '
                            f'<b class="room-url"><span style="white-space:nowrap">{base}'
                            f'</span><wbr><span style="white-space:nowrap">?{query}</span></b>'
                            f'<br>Room code <b class="room-code" '
                            f'style="font-size:32px;letter-spacing:3px">{room.code}</b></p>')
        self.show_key.value = False
        self.hist = HistogramView(room.ham.P, tuple(room.ham.labels))
        self.dev = DeviationView(max(room.ens.N, 1))
        self.plots.objects = [pn.pane.Bokeh(self.hist.fig, sizing_mode="stretch_width"),
                              pn.pane.Bokeh(self.dev.fig, sizing_mode="stretch_width")]
        self.setup.visible, self.live.visible = False, True
        self.refresh()
        self._start_callback()

    def _note_pace(self) -> None:
        """What the pace means: the wall seconds of one period of the slowest oscillation."""
        period = slowest_period(self.room.ham) if self.room is not None else None
        pace = self.pace.value or 0.0
        self.pace_note.object = "" if period is None or pace <= 0 else (
            f'<span style="font-size:15px">One period of the slowest oscillation '
            f"({rounded(period, 3):g} time units) takes {period / pace:.0f} s.</span>")

    def _reveal(self, on: bool) -> None:
        """Show the teacher key for KEY_SHOWN_S seconds (or until a second click); it is
        not in the page otherwise."""
        room = self.room
        if on and room is not None:
            self._key_until = room.clock() + KEY_SHOWN_S
            self.key.object = (f'<p style="font-size:16px">Teacher key <b class="room-key">'
                               f"{room.teacher_key}</b>: with the room code it takes this "
                               f"room over after a reload of the dashboard. Hidden again in "
                               f"{KEY_SHOWN_S} s.</p>")
            self.show_key.label = "Hide teacher key"
        else:
            self._key_until = None
            self.key.object = ""
            self.show_key.label = "Show teacher key"
            if on:
                self.show_key.value = False

    def toggle(self) -> None:
        if self.room is not None:
            self.room.pause() if self.room.running else self.room.start()
            self.refresh()

    def _act(self, what: str) -> None:
        if self.room is not None:
            getattr(self.room, what)()
            if what == "reset" and self.dev is not None:
                self.dev.reset(max(self.room.ens.N, 1))
                self._shown = 0
            self.refresh()

    def _set(self, name: str, value: Any) -> None:
        if self.room is not None:
            with self.room.lock:
                setattr(self.room, name, float(value))

    def close_room(self) -> None:
        if self.room is not None:
            self._registry().close(self.room.code)
        self.show_key.value = False
        self.room = None
        self._stop_callback()
        self.setup.visible, self.live.visible = True, False

    # -- the picture -----------------------------------------------------------------
    def _stop_callback(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _start_callback(self) -> None:
        if self._callback is not None:
            return
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return  # a test without a server calls refresh() itself
        self._callback = pn.state.add_periodic_callback(self.refresh, period=PERIOD_MS)
        pn.state.on_session_destroyed(lambda ctx: self._callback and self._callback.stop())

    def refresh(self) -> None:
        room = self.room
        if room is None:
            return
        room.seen_by_teacher()
        if self._key_until is not None and room.clock() >= self._key_until:
            self.show_key.value = False
        if room.version == self._seen_version:
            return
        s = projector_state(room)
        self._seen_version = s["version"]
        self.play.label = "Pause" if s["running"] else "Start"
        self.counts.object = counts_html(s, room.ham.labels, palette(room.ham.P))
        self.recent.object = recent_html(s)
        N = s["N"]
        frame = Frame(t=s["t"], N=max(N, 1), n=s["n"], p=s["p"], phi=np.zeros(len(s["n"])),
                      phi_exact=np.zeros(len(s["n"])), tv=s["D"], steps=0)
        with pn.io.hold():
            self.hist.update(frame)
            # empty means absorbing: a class with spectators is never empty (PHYSICS.md §3)
            empty = np.asarray(s["empty"], np.float32)
            if not np.array_equal(empty, self.hist._empty):
                self.hist._empty = empty
                self.hist.bars.patch({"empty": [(slice(None), empty)]})
            new = [pt for pt in s["history"][self._shown:] if math.isfinite(pt[1])]
            self._shown = len(s["history"])
            if new:
                self.dev.add_rows(_Rows(new))
                self.dev.flush()
            floor = 1 / math.sqrt(max(N, 1))
            for k, (band, label) in enumerate(zip(self.dev.bands, self.dev.labels,
                                                  strict=True)):
                band.top = label.y = (1 + 2 * k) * floor

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.message, self.setup, self.live,
                         sizing_mode="stretch_width", css_classes=["rel-classroom"])


def _with(params: Any, **changes: Any) -> Any:
    from real_ensemble_lab.engine.core.params import make_params, params_dict

    return make_params(**{**params_dict(params), **changes})
