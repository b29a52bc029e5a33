"""The plots: one pane per registered view (``app.plots.PLOTS``), each with its one-sentence
caption, shown only where it has a meaning. Instantaneous views take the latest frame; the
plots over time take the rows the runner recorded since the last tick (never the frames the
page happened to pull). While a new ensemble is prepared the old pictures are greyed at
once; a new ensemble opens paused under a large "Press Play"."""

from __future__ import annotations

import time

import panel as pn
import param

from ..controller import Controller
from ..plots import PLOTS, View, build_views
from ..plots.base import compact, lean, projector
from ..runner import Published

#: Seconds between updates of the plots over time while playing (their rows wait meanwhile).
SERIES_PERIOD = 0.2
LAYOUT = {  # where each plot sits: rows of the main area (they wrap on narrow screens)
    "top": ("hist", "phase", "dev"),
    "middle": ("marg", "joint"),
    # the phase order (agents) in a card of its own beside the plots over time, as tall as
    # they are: under the phase circle it made the top row twice as tall as its other plots
    "bottom": ("pop", "tracked", "order", "classical"),
}
#: CSS flex of each plot's box: grow, shrink, basis (the basis sets where rows wrap).
FLEX = {"hist": "3 1 420px", "phase": "0 0 300px", "dev": "2 1 340px", "pop": "3 1 420px",
        "tracked": "2 1 340px", "order": "1 1 300px", "classical": "2 1 340px",
        "marg": "1 1 340px", "joint": "1 1 340px"}


class PlotsArea(pn.viewable.Viewer):
    narrow = param.Boolean(default=False, doc="A phone-sized screen: compact titles.")

    def __init__(self, ctl: Controller, clock=time.monotonic, **params):
        super().__init__(**params)
        self.ctl = ctl
        self.clock = clock
        self.views: dict[str, View] = {}
        self._key: tuple | None = None
        self._generation = -1
        self._rows = 0
        self._thinned = 0
        self._flushed: dict[str, float] = {}
        self._updated: dict[str, float] = {}  # when each view last took a frame
        self._turn = 0
        self.panes = {k: pn.pane.Bokeh(None, sizing_mode="fixed" if k == "phase"
                                       else "stretch_width",
                                       css_classes=[f"rel-plot-{k}", f"plot-{k}"])
                      for k in PLOTS}
        self.captions = {k: pn.pane.Markdown(spec.caption, sizing_mode="stretch_width",
                                             css_classes=["rel-caption"],
                                             stylesheets=[_CAPTION])
                         for k, spec in PLOTS.items()}
        self.boxes = {}
        for k in PLOTS:  # a box is in its row while its plot is shown (see _build)
            self.boxes[k] = pn.Column(self.panes[k], self.captions[k],
                                      sizing_mode="stretch_width",
                                      styles={**_BOX, "flex": FLEX[k]}, margin=(3, 3),
                                      css_classes=[f"rel-box-{k}"])
        self.press_play = pn.pane.HTML(
            '<div class="rel-press-play">Press <b>Play</b>'
            '<span class="rel-space"> (or Space)</span> to start</div>',
            visible=False, stylesheets=[_PRESS], css_classes=["rel-press"], width=330,
            margin=(8, 4))
        self.show_captions = pn.widgets.Checkbox(label="Show plot captions", value=True,
                                                 css_classes=["rel-captions-toggle"])
        self.show_captions.param.watch(self._captions, "value")
        self.rows = [pn.FlexBox(flex_wrap="wrap", sizing_mode="stretch_width")
                     for _ in LAYOUT]
        self.column = pn.Column(*self.rows, sizing_mode="stretch_width",
                                css_classes=["rel-plots"])
        ctl.param.watch(self._stale, "preparing")
        ctl.param.watch(lambda e: self._projector(), "presentation")
        self.param.watch(lambda e: self._projector(), "narrow")

    # -- data ----------------------------------------------------------------------------
    def rebuilds(self, pub: Published) -> bool:
        """Will :meth:`show` build new plots for ``pub`` (a new ensemble)?"""
        return pub.generation != self._generation

    def show(self, pub: Published, runner) -> None:
        """Draw a new publication: rebuild for a new ensemble, then frame and history rows."""
        if pub.generation != self._generation:
            self._generation = pub.generation
            self._thinned = pub.thinned
            self._build(pub, runner)
        now = self.clock()
        for k, view in self.views.items():
            if pub.playing and now - self._updated.get(k, -1e9) < view.period:
                continue  # a slower view (View.period): it takes a later frame
            self._updated[k] = now
            view.update(pub.frame)
        if pub.thinned != self._thinned:  # the history was renumbered: draw it again
            self._thinned = pub.thinned
            self._reset_series(pub.frame.N)
        if pub.rows > self._rows:
            rows = runner.history.rows(self._rows)
            self._rows += len(rows)
            for view in self.views.values():
                view.add_rows(rows)
        self._flush(pub.playing, now)
        at_start = not pub.playing and pub.frame.t == 0.0 and not self.ctl.preparing
        if self.press_play.visible != at_start:
            self.press_play.visible = at_start

    def _reset_series(self, N: int) -> None:
        self._rows = 0
        for view in self.views.values():
            view.reset(N)

    def _build(self, pub: Published, runner) -> None:
        f = pub.frame
        ham = runner.ham
        P = len(f.n)
        self._updated = {}  # a new ensemble: every view draws its first frame
        labels = tuple(ham.labels)
        params = runner.params
        key = (P, labels, pub.mode, int(params.tracked), tuple(ham.extra.get("parts") or ()),
               "classical" in self.views or PLOTS["classical"].shown(pub.mode, ham))
        self._rows = 0
        if key == self._key and "classical" not in self.views:
            for view in self.views.values():  # same shape: keep the figures, clear data
                view.reset(f.N)
            return
        self._key = key
        self.views = build_views(P, labels, f.N, pub.mode, ham, params.tracked,
                                 params.t_end)
        for fig in self._figures():
            lean(fig)
        self._projector()
        for k, pane in self.panes.items():
            view = self.views.get("phase") if k == "order" else self.views.get(k)
            fig = None if view is None else (view.order_fig if k == "order" else view.fig)
            if k == "order" and not PLOTS["order"].shown(pub.mode, ham):
                fig = None
            pane.object = fig
            self.captions[k].visible = self.show_captions.value
        # only the plots shown go into the page: a hidden box is still models for the server
        # to send and views for the page to build
        for row, names in zip(self.rows, LAYOUT.values(), strict=True):
            boxes = [self.boxes[k] for k in names if self.panes[k].object is not None]
            if list(row.objects) != boxes:
                row.objects = boxes

    def shown(self) -> set[str]:
        """The plots in the page now."""
        return {k for row in self.rows for k, box in self.boxes.items() if box in row.objects}

    def _flush(self, playing: bool, now: float) -> None:
        """Send buffered rows: all at once when paused; while playing, one view per frame in
        turn, each at most every SERIES_PERIOD (an even load renders more frames)."""
        names = [k for k, v in self.views.items() if v.buffered]
        if not playing:
            for k in names:
                self.views[k].flush()
            return
        for i in range(len(names)):
            k = names[(self._turn + i) % len(names)]
            if now - self._flushed.get(k, -1e9) >= SERIES_PERIOD:
                self._flushed[k] = now
                self._turn = (self._turn + i + 1) % len(names)
                self.views[k].flush()
                return

    # -- looks ---------------------------------------------------------------------------
    def _stale(self, event) -> None:
        classes = ["rel-plots", *(["rel-stale"] if event.new else [])]
        self.column.css_classes = classes
        if event.new:
            self.press_play.visible = False

    def _projector(self) -> None:
        """Presentation mode draws every plot in the projector profile; a narrow screen
        draws titles and legends smaller."""
        on = self.ctl.presentation
        for fig in self._figures():
            projector(fig, on)
            if self.narrow or getattr(fig, "_rel_compact", False):
                fig._rel_compact = self.narrow
                compact(fig, self.narrow, on)

    def _figures(self) -> list:
        return [fig for view in self.views.values()
                for fig in (view.fig, getattr(view, "order_fig", None)) if fig is not None]

    def _captions(self, event) -> None:
        for cap in self.captions.values():
            cap.visible = event.new

    def __panel__(self):
        return self.column


_BOX = {"background": "white", "border-radius": "10px",
        "box-shadow": "0 1px 3px rgba(15,23,42,.12)", "padding": "4px"}
_CAPTION = ":host {font-size: 14px; color: #374151; margin: 0 8px;} p {margin: 2px 0;}"
_PRESS = """
.rel-press-play {text-align: center; font-size: 20px; color: #14532d; background: #dcfce7;
  border: 2px solid #16a34a; border-radius: 10px; padding: 4px 8px;}
@media (hover: none) {.rel-space {display: none;}}  /* a touch screen has no Space bar */
"""
