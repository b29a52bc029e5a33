"""The live dashboard: small components over one session controller.

Data flow: widgets -> :class:`app.controller.Controller` (the session's data store, no
Panel) -> runner commands, coalesced and applied between steps in the runner's thread ->
the latest frame and the recorded history -> a periodic callback on the document's event
loop -> the components (status bar, notices, plots) update their Bokeh sources in place.

Components (``app/parts``): the transport, the lesson banner, the notices, the status bar,
the plots area, the simulation controls and the Hamiltonian controls. This module only
composes them, runs the session's lifecycle (start, tick, stop), the share link and the
export buttons.
"""

from __future__ import annotations

import io
import logging
from contextlib import nullcontext
from functools import cached_property
from importlib.resources import files
from typing import Any

import panel as pn
from tornado.ioloop import IOLoop

from . import a11y, hosting, patches
from .bell_tests import BellTests
from .controller import Controller
from .maths import math_markdown
from .parts.controls import HamiltonianControls, SimControls, control_widgets
from .parts.pacer import Doorbell, FramePacer
from .parts.plots_area import PlotsArea
from .parts.status import LessonBanner, Notices, StatusBar, lesson_options
from .parts.transport import Transport
from .rooms.projector import ClassroomView
from .url import read_link

log = logging.getLogger("real_ensemble_lab.app.dashboard")

# package data, found in a checkout and in an installed distribution alike
LOGO = files("real_ensemble_lab.assets") / "logo.svg"
STYLE = (files("real_ensemble_lab.app") / "style.css").read_text(encoding="utf-8")
#: Period of the document's pull of the latest frame while playing / paused (ms).
TICK_MS = 25
IDLE_TICK_MS = 100
#: The address follows the settings at most this often (seconds): the share link, built on
#: every tick without a frame, cost 0.15 ms a tick, 1200 ticks a second with 30 students
#: playing in one process (2026-12-03).
LOCATION_PERIOD = 0.5
_HIGHLIGHT_CSS = (":host(.lesson-highlight) {outline: 3px solid #f59e0b; outline-offset: 3px;"
                  " border-radius: 8px; background: #fff7ed;}")
#: The live run's controls (the template's sidebar) close on the Studies tab and open
#: again on the way back if they were open (the template's own openNav and closeNav).
STUDIES_CLOSES_SIDEBAR_JS = """
const sidebar = document.getElementById("sidebar")
if (sidebar == null || typeof closeNav !== "function" || typeof openNav !== "function") {
  return
}
if (cb_obj.active === 1) {
  window.__rel_sidebar_was_open = !sidebar.classList.contains("hidden")
  closeNav()
} else if (window.__rel_sidebar_was_open) {
  window.__rel_sidebar_was_open = false
  openNav()
}
"""
_CARD = dict(sizing_mode="stretch_width", header_background="#eef2ff",
             stylesheets=[":host .card-title {font-size: 17px; font-weight: 600;}"])


def _frozen(doc):
    """Bokeh's ``doc.models.freeze()``: the document's set of models is recomputed once when
    the block ends, not after every model added (Panel's links and plot swaps triggered a
    walk of the whole document each: half of a page's build, measured 2026-12-02). Only
    around changes that add models: the walk at the end costs a third of a second."""
    return doc.models.freeze() if doc is not None else nullcontext()


class EnsembleApp(pn.viewable.Viewer):
    """The Real Ensemble Lab dashboard: ``EnsembleApp(**settings).servable()``."""

    def __init__(self, clock=None, **values: Any):
        super().__init__()
        patches.pin_local_stylesheets()
        patches.design_params_only_for_stylesheets()
        self._links = patches.LinkLedger()  # forgotten when the session ends (a Panel leak)
        kw = {"clock": clock} if clock is not None else {}
        self.ctl = ctl = Controller(**kw, **values)
        self.transport = Transport(ctl)
        self.status = StatusBar(ctl)
        self.notices = Notices(ctl)
        self.banner = LessonBanner(ctl)
        self.plots = PlotsArea(ctl, **kw)
        self.pacer = FramePacer(clock=ctl.clock)
        self.transport.keys.param.watch(lambda e: setattr(self.plots, "narrow", e.new),
                                        "narrow")
        self.bell = BellTests(lambda: (ctl.hamiltonian(), ctl.sim_params(), ctl.preset,
                                       dict(ctl.preset_values)))
        self.bell_box = pn.Column(self.bell, sizing_mode="stretch_width", visible=False,
                                  css_classes=["bell-tests"])
        self.lesson_select = pn.widgets.Select(label="Lesson", options=lesson_options(),
                                               value=ctl.lesson, sizing_mode="stretch_width",
                                               css_classes=["lesson-select"])
        self.lesson_select.param.watch(lambda e: setattr(ctl, "lesson", e.new), "value")
        self.present = pn.widgets.Toggle(label="Presentation mode", color="primary",
                                         variant="outline", value=ctl.presentation,
                                         sizing_mode="stretch_width",
                                         css_classes=["present-toggle"])
        self.present.param.watch(lambda e: setattr(ctl, "presentation", e.new), "value")
        self.explain = math_markdown("", sizing_mode="stretch_width",
                                        css_classes=["rel-explain"],
                                        stylesheets=[":host {font-size: 17px;}",
                                                     a11y.SECTION_CSS])
        self.csv_button = pn.widgets.FileDownload(
            callback=self._export_csv, filename="ensemble.csv",
            label="Download CSV (with its parameters)",
            color="primary", variant="outline", sizing_mode="stretch_width")
        self.parquet_button = pn.widgets.FileDownload(
            callback=self._export_parquet, filename="ensemble.parquet",
            label="Download Parquet (with its parameters)", color="primary",
            variant="outline",
            sizing_mode="stretch_width")
        self.explain_box = pn.Column(self.explain, sizing_mode="stretch_width",
                                     css_classes=["rel-explain-box"])
        self._callback = None
        self._doorbell: Doorbell | None = None
        self._connected = False  # a page has connected to this session
        self._location = None
        self._location_at = -float("inf")  # when the address last followed the settings
        self._sidebar_boxes: list = []  # the template's sidebar until it is filled
        ctl.param.watch(self._on_lesson, "lesson")
        ctl.param.watch(self._on_present, "presentation")
        ctl.param.watch(lambda e: self._explain(), ["preset", "custom", "lesson"])
        ctl.param.watch(self._on_playing, "playing")
        self._explain()
        self._on_present(None)

    # the controls are built when first needed (the sidebar is filled once the page has
    # loaded): a third of a page's build on the server (2026-12-03)
    # (their sliders' JavaScript links are the session's, forgotten at its end)
    @cached_property
    def sim_controls(self) -> SimControls:
        with self._links.collecting():
            return SimControls(self.ctl)

    @cached_property
    def ham_controls(self) -> HamiltonianControls:
        with self._links.collecting():
            return HamiltonianControls(self.ctl, links=self._links)

    # -- reactions ----------------------------------------------------------------------
    def _on_lesson(self, event) -> None:
        now = self.ctl.lesson  # not event.new: a refused lesson was reset meanwhile
        if self.lesson_select.value != now:
            self.lesson_select.value = now
        self._highlight()

    def _on_present(self, event) -> None:
        on = self.ctl.presentation
        if self.present.value != on:
            self.present.value = on
        self.explain_box.visible = not on

    def _on_playing(self, event) -> None:
        if self._callback is not None:
            self._callback.period = TICK_MS if event.new else IDLE_TICK_MS

    def _highlight(self) -> None:
        lesson = self.ctl.lesson_data
        names = set(lesson.highlight) if lesson is not None else set()
        widgets = control_widgets(self.sim_controls, self.ham_controls,
                                  self.transport.speed)
        for key, w in widgets.items():
            classes = [c for c in w.css_classes if c != "lesson-highlight"]
            if key in names:
                classes.append("lesson-highlight")
                if _HIGHLIGHT_CSS not in w.stylesheets:
                    w.stylesheets = [*w.stylesheets, _HIGHLIGHT_CSS]
            if classes != list(w.css_classes):
                w.css_classes = classes

    def _explain(self) -> None:
        from real_ensemble_lab.engine import preset_info

        info = preset_info(self.ctl.preset)
        desc = " ".join(info["description"].split())
        edited = ("\n\n*The matrix was edited by hand: the preset's explanation describes the "
                  "matrix it started from.*" if self.ctl.custom is not None else "")
        self.explain.object = (
            f"## {info['title']}\n\n{desc}{edited}\n\n"
            "**What to try.** Press Play: the bars (the ensemble, nₐ/N) follow the black "
            "marks (quantum mechanics, |ψₐ|²) because each system copies others at the "
            "rate of the paper's copy rule (37). Then drag **r** away from −½, shrink **N**, "
            "or start the agents with **random** phases and watch the deviation leave its "
            "1/√N band.")

    # -- the session ----------------------------------------------------------------------
    def tick(self) -> None:
        """Pull the latest frame; update the page (periodic callback)."""
        # one document update per frame: status bar, plots and all (two would make the
        # page draw twice per frame)
        with pn.io.hold():
            # a page still drawing earlier frames gets none: the newest waits in the runner
            pub = self.ctl.tick(pull=self.pacer.ready(),
                                urgent=self.pacer.ready(urgent=True))
            if pub is not None:
                # new plots for a new ensemble: the document's models are counted once
                new = self.plots.rebuilds(pub)
                with _frozen(pn.state.curdoc) if new else nullcontext():
                    self.plots.show(pub, self.ctl.runner)
                self.pacer.sent()
                applies = BellTests.applies(self.ctl.runner.ham)
                if self.bell_box.visible != applies:
                    self.bell_box.visible = applies
        if self.ctl.playing and self._page_gone():
            self.ctl.pause_unseen()
        if self.ctl.closed and self._callback is not None:  # stopped for idleness
            self._callback.stop()
            self._callback = None
        now = self.ctl.clock()
        if (self._location is not None and pub is None
                and now - self._location_at >= LOCATION_PERIOD):
            # the address follows the settings, written on a tick without a new frame
            self._location_at = now
            query = self.ctl.share_query()
            search = f"?{query}" if query else ""
            if self._location.search != search:
                self._location.search = search

    def start(self, thread: bool = True):
        return self.ctl.start(thread=thread)

    def _page_gone(self) -> bool:
        """Has the page that was connected closed? (The session outlives it by 15-30 s.)"""
        n = patches.connections(pn.state.curdoc)
        if n:
            self._connected = True
        return n == 0 and self._connected

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self._doorbell is not None:
            self._doorbell.close()
        self.ctl.stop()
        self._links.close()

    def read_location(self, location) -> None:
        """Apply the page's link (every bad value becomes a notice; the page renders)."""
        self.ctl.apply_link(read_link(location.search or "", mode=self.ctl.sim.mode))
        self._location = location

    def _session_setup(self) -> None:
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            return  # e.g. the liveness probe builds a document without a session
        patches.install(doc)
        # this session's share of the server: N capped by the memory left, idle pause/close
        self.ctl.limits = hosting.SessionLimits(hosting.server(), hosting.ticket_of(doc))
        if pn.state.location is not None:
            self.read_location(pn.state.location)
        self.start()
        pn.state.on_session_destroyed(lambda ctx: self.stop())
        pn.state.onload(self._start_ticking)
        pn.state.onload(self._fill_sidebar)

    def _start_ticking(self) -> None:
        from panel.io.callbacks import PeriodicCallback

        if self.ctl.runner is None or self._callback is not None:
            return
        self._callback = PeriodicCallback(callback=self.tick, log=False, background=True,
                                          period=TICK_MS if self.ctl.playing else IDLE_TICK_MS)
        self._callback.start()
        # a published frame is sent at once, not at the next tick
        self._doorbell = Doorbell(IOLoop.current(), pn.state.curdoc, self._rung)
        self.ctl.runner.on_publish = self._doorbell.ring

    def _rung(self) -> None:
        if self._callback is not None:
            self.tick()

    def _fill_sidebar(self) -> None:
        """The controls go into the page once it shows the experiment: they are two thirds
        of a fresh page's models (the server took 2.9 s to answer, the browser 2.6 s more
        to draw, 2026-12-03), and a teacher looks at the plots first."""
        boxes, self._sidebar_boxes = self._sidebar_boxes, []
        if not boxes or self.ctl.closed:
            return
        with pn.io.hold(), _frozen(pn.state.curdoc):
            for box, item in zip(boxes, [self.transport.speed_box(), *self.sidebar()],
                                 strict=True):
                box.objects = [item]

    # -- layout ---------------------------------------------------------------------------
    def sidebar(self) -> list:
        export = pn.Card(self.csv_button, self.parquet_button,
                         pn.pane.Markdown("Plots: the save tool on each plot downloads a PNG."),
                         title="Export", collapsed=True, **_CARD)
        lessons = pn.Card(self.lesson_select, self.present, self.plots.show_captions,
                          title="Lessons and display", **_CARD)
        return [lessons, self.ham_controls, self.sim_controls, export]

    def main(self) -> pn.viewable.Viewable:
        t = self.transport
        # the "Press Play" banner is an item of its own: on a phone it wraps under the
        # buttons instead of running off the screen
        top = pn.FlexBox(pn.Row(t.play, t.step, t.reset), self.plots.press_play,
                         self.status, flex_wrap="wrap", sizing_mode="stretch_width",
                         css_classes=["rel-top"])
        live = pn.Column(top, self.banner, self.notices, self.plots, self.bell_box,
                         self.explain_box, self.transport.keys, self.pacer,
                         sizing_mode="stretch_width")
        from .studies import StudiesView

        # Studies and Classroom are built when first opened: with them a fresh page took
        # 0.5 s more of the server (2026-12-03), and most visitors never open them
        ctl = self.ctl  # a room for the current Hamiltonian and parameters (app/rooms)
        builders = {1: StudiesView,
                    2: lambda: ClassroomView(lambda: (ctl.hamiltonian(), ctl.sim_params()))}
        tabs = pn.Tabs(("Live ensemble", live),
                       *((name, pn.Column(sizing_mode="stretch_width"))
                         for name in ("Studies", "Classroom")),
                       sizing_mode="stretch_width", dynamic=True)

        def build_tab(event) -> None:
            make = builders.pop(event.new, None)
            if make is not None:
                tabs[event.new].objects = [make()]

        tabs.param.watch(build_tab, "active")
        # the Studies tab is the second: its sidebar script counts on it
        tabs.jscallback(active=STUDIES_CLOSES_SIDEBAR_JS)
        return tabs

    def __panel__(self) -> pn.viewable.Viewable:
        self._session_setup()
        return pn.Row(pn.Column(*self.sidebar(), width=400), self.main(),
                      sizing_mode="stretch_width")

    def template(self) -> pn.template.FastListTemplate:
        """The page; its sidebar is filled when the page has loaded (:meth:`_fill_sidebar`)."""
        self._sidebar_boxes = [
            pn.Column(pn.pane.Markdown("Loading the controls…",
                                       css_classes=["rel-sidebar-loading"]),
                      sizing_mode="stretch_width"),
            *(pn.Column(sizing_mode="stretch_width") for _ in range(4))]
        return pn.template.FastListTemplate(
            design=a11y.accessible(patches.offline_fast()),
            font="'Segoe UI', 'Helvetica Neue', 'DejaVu Sans', Arial, sans-serif",
            accent="#4338ca", theme_toggle=False, title="Real Ensemble Lab",
            logo=str(LOGO) if LOGO.is_file() else None,
            favicon=str(LOGO) if LOGO.is_file() else "",
            sidebar=self._sidebar_boxes, main=[self.main()],
            sidebar_width=400, header_background="#1e1b4b", raw_css=[STYLE],
            # a phone lays the page out at its own width (without this: 980 px, shrunk)
            meta_viewport="width=device-width, initial-scale=1",
            collapsed_sidebar=self.ctl.presentation)

    def servable(self, title: str | None = "Real Ensemble Lab", location: bool = True,
                 area: str = "main", target: str | None = None):
        page = self.template()  # build first: a failure here must not leave a thread behind
        self._links.seal()
        self._session_setup()
        try:
            # the first frame's plots go into the page before its models exist: drawn into
            # a served page, each plot re-processed the whole document (seconds per visitor)
            self.tick()
            with _frozen(pn.state.curdoc):
                return page.servable(title=title)
        except BaseException:
            self.stop()
            raise

    # -- export -----------------------------------------------------------------------------
    def _export_csv(self) -> io.BytesIO:
        from real_ensemble_lab.engine.tools.export import export_csv

        return io.BytesIO(export_csv(self.ctl.columns(), self.ctl.export_meta()))

    def _export_parquet(self) -> io.BytesIO:
        from real_ensemble_lab.engine.tools.export import export_parquet

        return io.BytesIO(export_parquet(self.ctl.columns(), self.ctl.export_meta()))
