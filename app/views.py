"""The live plots: Bokeh figures whose ColumnDataSources are updated in place from frames.

Each view is built for one ensemble (P beable values, N systems) and has ``update(frame)``,
called on the document's event loop (up to 40 Hz) with the latest :class:`engine.Frame`.
Long arrays go to Bokeh as float32 bytes, short ones inline (:func:`wire`); time series
use ``stream(..., rollover)``; bars send only the columns that changed. Keys missing from
``frame.extra`` (population and Bell modes have no individual phases or tracked systems)
fall back to class-level data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.events import RangesUpdate, Reset
from bokeh.models import (
    BoxAnnotation,
    ColorBar,
    ColumnDataSource,
    CustomJS,
    FixedTicker,
    GlyphRenderer,
    Label,
    Legend,
    LinearColorMapper,
    LogAxis,
    Range1d,
    Span,
)
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure
from bokeh.transform import linear_cmap

from engine.stepper import Frame

#: Rows kept in the scrolling time series (at ~25 frames per second: two minutes).
ROLLOVER = 3000
#: Time columns kept in a lattice heat strip.
STRIP_COLUMNS = 360
#: Beable values up to which the populations are drawn as lines (above: a heat strip).
MAX_LINES = 8

INK = "#1f2a44"
ACCENT = "#c2410c"
EXACT = "#111827"
EMPTY = "#dc2626"
REANCHOR = "#7c3aed"
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


def palette(P: int) -> list[str]:
    """One colour per beable value: Category10 for few, Viridis along a lattice."""
    if P <= 10:
        return list(Category10_10[:P])
    return [Viridis256[int(round(i * 255 / (P - 1)))] for i in range(P)]


def styled(fig, title: str):
    """Large type, quiet grid: readable at projector distance."""
    fig.title.text = title
    fig.title.text_font_size = "17pt"
    fig.title.text_color = INK
    fig.title.text_font_style = "bold"
    for ax in (*fig.xaxis, *fig.yaxis):
        ax.axis_label_text_font_size = "14pt"
        ax.axis_label_text_font_style = "normal"
        ax.major_label_text_font_size = "12pt"
        ax.axis_line_color = "#9ca3af"
    fig.grid.grid_line_alpha = 0.35
    fig.outline_line_color = None
    fig.toolbar.logo = None
    fig.toolbar.autohide = True
    fig.background_fill_color = "#ffffff"
    fig.border_fill_color = "#ffffff"
    fig.min_border_left = 60
    return fig


#: Glyph properties that place a glyph (a legend swatch's copy gets NaN there).
_COORDS = {"x", "y", "x0", "y0", "x1", "y1", "top", "bottom", "left", "right", "xs", "ys"}


def detach_legend(fig) -> None:
    """Point every legend entry at a static copy of its renderers.

    BokehJS (3.9) rebuilds a legend's DOM and swatch canvases whenever anything reachable
    from its items changes, data sources included: with sources updated 25 times a second
    that took most of the browser's time. The copies carry the same glyph visuals on a
    one-row source at NaN coordinates (so they draw nothing); clicking an entry still
    hides its live renderers.
    """
    for leg in fig.select(type=Legend):
        live = []
        for item in leg.items:
            live.append(list(item.renderers))
            copies = []
            for r in item.renderers:
                glyph = r.glyph
                row: dict[str, list] = {}
                for name in glyph.dataspecs():
                    prop = glyph.lookup(name).property
                    spec = prop.to_serializable(glyph, name, getattr(glyph, name))
                    field = getattr(spec, "field", None)
                    if not isinstance(field, str) or field in row:
                        continue
                    col = r.data_source.data.get(field, [])
                    if name in _COORDS:
                        row[field] = [np.nan]
                    elif name.endswith("alpha"):
                        row[field] = [1.0]
                    elif name == "size":
                        row[field] = [10.0]
                    else:
                        row[field] = [col[0]] if len(col) else [0.0]
                copy = GlyphRenderer(data_source=ColumnDataSource(row), glyph=glyph.clone())
                fig.renderers.append(copy)
                copies.append(copy)
            item.renderers = copies
        # The legend's own click policy greys out the entry (it hides the copies); this
        # hides the live renderers. It hangs on the legend, outside the items' reach.
        leg.js_on_event("legend_item_click", CustomJS(args={"items": list(leg.items),
                                                            "live": live}, code="""
            const k = items.indexOf(cb_obj.item);
            if (k >= 0) for (const r of live[k]) r.visible = !r.visible;
        """))


def style_legend(fig, location: str = "top_right") -> None:
    detach_legend(fig)
    for leg in fig.select(type=Legend):
        leg.location = location
        leg.label_text_font_size = "12pt"
        leg.background_fill_alpha = 0.8
        leg.border_line_color = None
        leg.click_policy = "hide"
        leg.spacing = 2
        leg.padding = 6


def f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


#: Arrays up to this length travel inside a message's JSON; longer ones as float32 bytes.
#: Bokeh sends every binary buffer as two more WebSocket messages (its header and its
#: bytes), and each is a task for the page: a frame of a few short arrays came as 23
#: messages, which cost the browser about as much as drawing it.
INLINE_MAX = 256


def wire(x: Any) -> np.ndarray | list[float]:
    """A column for a data source: a list when short (inline), float32 when long."""
    a = np.asarray(x)
    if a.ndim == 1 and a.size <= INLINE_MAX:
        return a.astype(float).tolist()
    return a.astype(np.float32)


class View:
    """A Bokeh figure fed by frames.

    ``update(frame)`` takes every frame; views that draw a history over time buffer the
    rows and send them in one ``stream`` on ``flush()``, which the dashboard calls a few
    times a second (each Bokeh repaint costs the browser several milliseconds; a scrolling
    line does not need 25 of them a second). Nothing is dropped.
    """

    fig: Any
    #: Whether the view buffers data for :meth:`flush` (the dashboard flushes these in turn).
    buffered = False

    def update(self, frame: Frame) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def flush(self) -> None:
        """Send buffered rows (views that update directly have none)."""

    def reset(self, N: int) -> None:
        """Forget the previous ensemble (a restart with the same P): the figure stays, so
        the browser keeps its views instead of building new ones."""


class SeriesView(View):
    """A view whose source grows by one row per frame (``stream`` with rollover).

    Views over time that call :meth:`follow_time` get their time axis from here: on every
    flush the x range is set to the rows kept, in the same document update as the rows
    (one repaint; an auto-ranging axis would repaint a second time and send its new
    bounds back to the server). Panning or zooming a plot stops the following for that
    plot; its reset tool resumes it.
    """

    source: ColumnDataSource
    x: Range1d | None = None
    following: bool = True
    buffered = True
    #: The dashed line (and its label) at the time the reference re-anchored, if drawn.
    anchor_line: Span | None = None
    anchor_label: Label | None = None
    anchor_t: float | None = None

    def mark_reanchor(self, fig) -> None:
        """Add the mark of the re-anchoring (``frame.reanchor_t``): a dashed vertical line,
        labelled "re-anchored" at the foot of the plot (clear of the legends, whatever the
        y axis or its zoom), hidden until it happens."""
        self.anchor_line = Span(location=0.0, dimension="height", line_color=REANCHOR,
                                line_dash="dashed", line_width=2, visible=False)
        self.anchor_label = Label(x=0.0, y=4, y_units="screen", text="re-anchored",
                                  text_align="right", text_baseline="bottom", x_offset=-5,
                                  text_font_size="11pt", text_color=REANCHOR,
                                  background_fill_color="white", background_fill_alpha=0.7,
                                  visible=False)
        fig.add_layout(self.anchor_line)
        fig.add_layout(self.anchor_label)

    def show_reanchor(self, t: float | None) -> None:
        """Move the mark to ``t`` (hide it for None); nothing is sent when it stays."""
        if self.anchor_line is None or t == self.anchor_t:
            return
        self.anchor_t = t
        if t is not None:
            self.anchor_line.location = self.anchor_label.x = float(t)
        self.anchor_line.visible = self.anchor_label.visible = t is not None

    def follow_time(self) -> Range1d:
        """The x range to build the figure with; call :meth:`watch` on the figure after."""
        self.x = Range1d(0.0, 1.0)
        self.following = True
        return self.x

    def watch(self, fig) -> None:
        fig.on_event(RangesUpdate, self._on_ranges_update)
        fig.on_event(Reset, self._on_reset)

    def _on_ranges_update(self, event) -> None:
        self.following = False

    def _on_reset(self, event) -> None:
        self.following = True  # the reset tool (its RangesUpdate came first)
        self.follow()

    def follow(self) -> None:
        """Show the time span of the rows kept (when following)."""
        if self.x is None or not self.following:
            return
        t = self.source.data.get("t", ())
        if len(t) == 0:
            return
        self.set_span(float(t[0]), float(t[-1]))

    def set_span(self, t0: float, t1: float) -> None:
        end = t1 + 0.02 * (t1 - t0)
        self.x.update(start=t0, end=max(end, t0 + 0.05))

    def _row(self, frame: Frame) -> dict[str, float] | None:  # pragma: no cover
        raise NotImplementedError

    def update(self, frame: Frame) -> None:
        self.show_reanchor(frame.reanchor_t)
        row = self._row(frame)
        if row is None:
            return
        pending = getattr(self, "_pending", None)
        if pending is None:
            pending = self._pending = {k: [] for k in row}
        for k, v in row.items():
            pending[k].append(v)

    def flush(self) -> None:
        pending = getattr(self, "_pending", None)
        if not pending:
            return
        self._pending = None
        self.source.stream({k: wire(v) for k, v in pending.items()}, rollover=ROLLOVER)
        self.follow()

    def reset(self, N: int) -> None:
        self._pending = None
        self.source.data = {k: f32([]) for k in self.source.data}
        self.following = True
        self.show_reanchor(None)
        if self.x is not None:
            self.x.update(start=0.0, end=1.0)


class HistogramView(View):
    """n_a/N as bars with the exact |psi_a(t)|^2 overlaid; empty (absorbing) classes marked."""

    def __init__(self, P: int, labels: tuple[str, ...] = ()):
        self.P = P
        a = np.arange(P, dtype=np.float32)
        cols = palette(P)
        w = 0.8 if P <= 16 else 0.95
        # one source for bars, exact marks and empty-class crosses: one change per frame
        self.bars = ColumnDataSource({
            "a": a, "rho": np.zeros(P, np.float32), "color": cols,
            "empty": np.zeros(P, np.float32),
            "x0": a - 0.45, "x1": a + 0.45, "p": np.zeros(P, np.float32),
        })
        self.y = Range1d(0, 1.05)
        fig = figure(height=540, sizing_mode="stretch_width", y_range=self.y,
                     x_range=Range1d(-0.6, P - 0.4), tools=TOOLS,
                     x_axis_label="beable value a", y_axis_label="fraction of systems")
        fig.vbar(x="a", top="rho", width=w, source=self.bars, color="color", alpha=0.85,
                 line_color=None, legend_label="ensemble  n_a / N")
        fig.segment(x0="x0", y0="p", x1="x1", y1="p", source=self.bars, color=EXACT,
                    line_width=4 if P <= 16 else 2, legend_label="exact |ψ_a(t)|²")
        fig.scatter(x="a", y=0, source=self.bars, marker="x", size=16 if P <= 16 else 8,
                    line_width=3, color=EMPTY, line_alpha="empty",
                    legend_label="empty class (absorbing)")
        if P <= 16 and labels:
            fig.xaxis.ticker = FixedTicker(ticks=list(range(P)))
            fig.xaxis.major_label_overrides = {i: str(s) for i, s in enumerate(labels)}
        fig.xgrid.grid_line_color = None
        self.fig = styled(fig, "Ensemble vs. quantum probabilities")
        style_legend(fig)
        self._rho = None
        self._p = None
        self._empty = None

    def reset(self, N: int) -> None:
        self._rho = self._p = self._empty = None
        self.y.end = 1.05

    def update(self, frame: Frame) -> None:
        rho = f32(np.asarray(frame.n) / max(frame.N, 1))
        p = f32(frame.p)
        empty = f32(np.asarray(frame.n) == 0)
        changed: dict[str, np.ndarray] = {}
        if self._rho is None or not np.array_equal(rho, self._rho):
            changed["rho"] = self._rho = rho
        if self._empty is None or not np.array_equal(empty, self._empty):
            changed["empty"] = self._empty = empty
        if self._p is None or not np.array_equal(p, self._p):
            changed["p"] = self._p = p
        if changed:
            self.bars.data.update({k: wire(v) for k, v in changed.items()})
        top = float(max(rho.max(initial=0.0), p.max(initial=0.0)))
        if top > 0.95 * self.y.end:  # grow only: a steady axis is easier to read
            self.y.end = min(1.05, 1.25 * top)


def ring_radius(P: int) -> np.ndarray:
    """Radius of the ring on which class a is drawn (concentric rings, one per class)."""
    return (0.35 + 0.6 * (np.arange(P) + 0.5) / P).astype(np.float32)


class PhaseView(View):
    """Each system's phase on a ring of its beable; exact phases -arg psi_a marked.

    With individual phases (agents mode) a sample of systems is drawn; otherwise each
    class phase phi_a is one dot sized by n_a/N. A bar chart beside it shows the per-class
    polar |<e^{i phi}>| and nematic |<e^{2i phi}>| order (1 when phases are aligned).
    """

    buffered = True  # the order bars

    def __init__(self, P: int):
        self.P = P
        self.radius = ring_radius(P)
        cols = palette(P)
        self._jitter: np.ndarray | None = None
        self._order: tuple[np.ndarray, np.ndarray] | None = None
        self.points = ColumnDataSource({"x": f32([]), "y": f32([]), "a": f32([]),
                                        "size": f32([])})
        self.exact = ColumnDataSource({"x": f32(np.zeros(P)), "y": f32(np.zeros(P)),
                                       "color": cols})
        fig = figure(height=360, width=360, match_aspect=True, tools="save",
                     x_range=Range1d(-1.12, 1.12), y_range=Range1d(-1.12, 1.12))
        t = np.linspace(0, 2 * np.pi, 121)
        if P <= 16:
            xs = [list(r * np.cos(t)) for r in self.radius]
            ys = [list(r * np.sin(t)) for r in self.radius]
            fig.multi_line(xs, ys, color=cols, alpha=0.35, line_width=1.5)
        else:
            fig.multi_line([list(np.cos(t)), list(0.35 * np.cos(t))],
                           [list(np.sin(t)), list(0.35 * np.sin(t))], color="#9ca3af")
        cmap = linear_cmap("a", palette=cols if P > 1 else ["#1f77b4"], low=-0.5,
                           high=P - 0.5)
        fig.scatter("x", "y", source=self.points, size="size", color=cmap, alpha=0.7,
                    line_color=None, legend_label="systems")
        fig.scatter("x", "y", source=self.exact, marker="diamond", size=16, fill_color="white",
                    line_color=EXACT, line_width=2.5, legend_label="exact −arg ψ_a")
        for spine in ("0", "π/2", "π", "3π/2"):
            ang = {"0": 0, "π/2": np.pi / 2, "π": np.pi, "3π/2": 3 * np.pi / 2}[spine]
            fig.add_layout(Label(x=1.06 * np.cos(ang), y=1.06 * np.sin(ang), text=spine,
                                 text_align="center", text_baseline="middle",
                                 text_font_size="11pt", text_color="#6b7280"))
        fig.axis.visible = False
        fig.grid.visible = False
        self.fig = styled(fig, "Phases φ on the circle")
        style_legend(fig)
        fig.add_layout(fig.legend[0], "below")
        fig.legend.orientation = "horizontal"
        fig.min_border_left = 10

        self.order = ColumnDataSource({"a": np.arange(P, dtype=np.float32) - 0.18,
                                       "b": np.arange(P, dtype=np.float32) + 0.18,
                                       "polar": np.ones(P, np.float32),
                                       "nematic": np.ones(P, np.float32)})
        ofig = figure(height=230, sizing_mode="stretch_width", y_range=Range1d(0, 1.05),
                      x_range=Range1d(-0.6, P - 0.4), tools="save",
                      x_axis_label="beable value a", y_axis_label="order")
        w = 0.34 if P <= 16 else 0.45
        ofig.vbar(x="a", top="polar", width=w, source=self.order, color="#2563eb",
                  legend_label="polar |⟨e^{iφ}⟩|")
        ofig.vbar(x="b", top="nematic", width=w, source=self.order, color="#f59e0b",
                  legend_label="nematic |⟨e^{2iφ}⟩|")
        ofig.xgrid.grid_line_color = None
        if P <= 16:
            ofig.xaxis.ticker = FixedTicker(ticks=list(range(P)))
        self.order_fig = styled(ofig, "Phase alignment per class")
        ofig.title.text_font_size = "13pt"
        style_legend(ofig)
        ofig.add_layout(ofig.legend[0], "above")
        ofig.legend.orientation = "horizontal"
        ofig.legend.label_text_font_size = "10pt"

    def reset(self, N: int) -> None:
        self._jitter = None
        self._order = None
        self.points.data = {"x": f32([]), "y": f32([]), "a": f32([]), "size": f32([])}

    def update(self, frame: Frame) -> None:
        ex = frame.extra
        R = self.radius
        if "sample_a" in ex and "sample_phi" in ex:
            a = np.asarray(ex["sample_a"], dtype=np.int64)
            phi = np.asarray(ex["sample_phi"], dtype=float)
            if self._jitter is None or len(self._jitter) != len(a):
                # fixed radial jitter per sample slot, so points do not sit on one line
                width = 0.25 / max(self.P, 1)
                self._jitter = np.random.default_rng(0).uniform(-width, width, len(a))
            r = R[a] + self._jitter
            size = np.full(len(a), 6.0 if len(a) > 400 else 8.0)
        else:
            a = np.arange(self.P)
            phi = np.asarray(frame.phi, dtype=float)
            r = R
            rho = np.asarray(frame.n, dtype=float) / max(frame.N, 1)
            size = np.where(rho > 0, 6.0 + 34.0 * np.sqrt(rho), 0.0)
        x, y = f32(r * np.cos(phi)), f32(r * np.sin(phi))
        a, size = f32(a), f32(size)
        old = self.points.data
        if len(old["a"]) == len(a) and np.array_equal(old["a"], a) and \
                np.array_equal(old["size"], size):
            # the same systems: only their phases moved
            self.points.data.update(x=wire(x), y=wire(y))
        else:
            self.points.data = {"x": wire(x), "y": wire(y), "a": wire(a),
                                "size": wire(size)}
        pe = np.asarray(frame.phi_exact, dtype=float)
        self.exact.data.update(x=wire(R * np.cos(pe)), y=wire(R * np.sin(pe)))
        if "polar" in ex and "nematic" in ex:
            self._order = (f32(ex["polar"]), f32(ex["nematic"]))

    def flush(self) -> None:
        """The order bars move slowly: they follow at the pace of the plots over time."""
        if self._order is not None:
            polar, nematic = self._order
            self._order = None
            self.order.data.update(polar=wire(polar), nematic=wire(nematic))


class PopulationsView(SeriesView):
    """Populations over time, ensemble vs exact: lines for P <= 8, heat strips above."""

    def __init__(self, P: int, labels: tuple[str, ...] = ()):
        self.P = P
        self.lines = P <= MAX_LINES
        if self.lines:
            cols = palette(P)
            data = {"t": f32([])}
            data.update({f"n{a}": f32([]) for a in range(P)})
            data.update({f"p{a}": f32([]) for a in range(P)})
            self.source = ColumnDataSource(data)
            # the legend sits above the plot: ensemble and exact in rows of their own, of
            # up to six entries; the figure grows by the legend's rows
            ncols = P if P <= 6 else math.ceil(P / 2)
            fig = figure(height=296 + 22 * math.ceil(2 * P / ncols),
                         sizing_mode="stretch_width", tools=TOOLS,
                         x_range=self.follow_time(), y_range=Range1d(0, 1.02),
                         x_axis_label="time t", y_axis_label="probability")
            names = [labels[a] if a < len(labels) else str(a) for a in range(P)]
            for a in range(P):  # the ensemble's lines first: the legend's first row(s)
                fig.line("t", f"n{a}", source=self.source, color=cols[a], line_width=3,
                         legend_label=f"n_{names[a]}/N")
            for a in range(P):
                fig.line("t", f"p{a}", source=self.source, color=cols[a], line_width=2,
                         line_dash="dashed", alpha=0.9, legend_label=f"|ψ_{names[a]}|²")
            self.fig = styled(fig, "Populations over time")
            style_legend(fig)
            fig.add_layout(fig.legend[0], "above")  # not over the lines
            fig.legend.orientation = "horizontal"
            fig.legend.ncols = ncols
            fig.legend.label_text_font_size = "10pt"
            self.mark_reanchor(fig)
        else:
            self._buf_n = np.zeros((P, STRIP_COLUMNS), np.float32)
            self._buf_p = np.zeros((P, STRIP_COLUMNS), np.float32)
            self._t = np.full(STRIP_COLUMNS, np.nan)
            self._k = 0
            self.mapper = LinearColorMapper(palette=Viridis256, low=0, high=1.0 / P * 4)
            self.source = ColumnDataSource({"image": [self._buf_n[:, :1]],
                                            "exact": [self._buf_p[:, :1]],
                                            "x": f32([0]), "dw": f32([1e-3])})
            fig = figure(height=340, sizing_mode="stretch_width", tools=TOOLS,
                         x_range=self.follow_time(), y_range=Range1d(-0.5, 2 * P + 3.5),
                         x_axis_label="time t", y_axis_label="site a")
            fig.image(image="image", x="x", y=-0.5, dw="dw", dh=P, source=self.source,
                      color_mapper=self.mapper)
            fig.image(image="exact", x="x", y=P + 3.5, dw="dw", dh=P, source=self.source,
                      color_mapper=self.mapper)
            fig.yaxis.ticker = FixedTicker(ticks=[P / 2 - 0.5, P + 3 + P / 2])
            fig.yaxis.major_label_overrides = {P / 2 - 0.5: "ensemble",
                                               P + 3 + P / 2: "exact"}
            fig.yaxis.major_label_orientation = math.pi / 2
            fig.add_layout(ColorBar(color_mapper=self.mapper, width=12,
                                    title="n_a/N, |ψ_a|²"), "right")
            self.fig = styled(fig, "Populations over time (heat strips)")
            self.mark_reanchor(fig)
        self.watch(fig)

    def _row(self, frame: Frame) -> dict[str, float]:
        rho = np.asarray(frame.n) / max(frame.N, 1)
        row = {"t": float(frame.t)}
        row.update({f"n{a}": float(rho[a]) for a in range(self.P)})
        row.update({f"p{a}": float(frame.p[a]) for a in range(self.P)})
        return row

    def update(self, frame: Frame) -> None:
        if self.lines:
            super().update(frame)
            return
        self.show_reanchor(frame.reanchor_t)
        rho = f32(np.asarray(frame.n) / max(frame.N, 1))
        p = f32(frame.p)
        k = self._k
        if k >= STRIP_COLUMNS:  # scroll: keep the latest STRIP_COLUMNS columns
            self._buf_n[:, :-1] = self._buf_n[:, 1:]
            self._buf_p[:, :-1] = self._buf_p[:, 1:]
            self._t[:-1] = self._t[1:]
            k = STRIP_COLUMNS - 1
        self._buf_n[:, k] = rho
        self._buf_p[:, k] = p
        self._t[k] = frame.t
        self._k = k + 1
        self.mapper_high = max(getattr(self, "mapper_high", self.mapper.high) * 0.999,
                               float(p.max()) * 1.1, 1e-6)
        self._dirty = True

    def reset(self, N: int) -> None:
        if self.lines:
            super().reset(N)
            return
        self._buf_n[:] = 0.0
        self._buf_p[:] = 0.0
        self._t[:] = np.nan
        self._k = 0
        self._dirty = False
        self.show_reanchor(None)
        self.mapper_high = self.mapper.high = 1.0 / self.P * 4
        self.following = True
        self.x.update(start=0.0, end=1.0)

    def flush(self) -> None:
        if self.lines:
            super().flush()
            return
        if not getattr(self, "_dirty", False):
            return
        self._dirty = False
        k = self._k - 1
        t0, t1 = float(self._t[0]), float(self._t[k])
        self.mapper.high = self.mapper_high
        self.source.data = {"image": [self._buf_n[:, :k + 1].copy()],
                            "exact": [self._buf_p[:, :k + 1].copy()],
                            "x": [t0], "dw": [max(t1 - t0, 1e-3)]}
        self.follow()

    def follow(self) -> None:
        if self.lines:
            super().follow()
        elif self.following and self._k > 0:  # the heat strip's columns carry the times
            self.set_span(float(self._t[0]), float(self._t[self._k - 1]))


class DeviationView(SeriesView):
    """D(t) = 1/2 sum_a |n_a/N - |psi_a|^2| on a log axis, with the 1/sqrt(N) band."""

    def __init__(self, N: int):
        self.source = ColumnDataSource({"t": f32([]), "D": f32([])})
        floor = 1 / math.sqrt(max(N, 1))
        self.y = Range1d(max(floor / 10, 1e-9), 1.0)
        fig = figure(height=340, sizing_mode="stretch_width", tools=TOOLS, y_axis_type="log",
                     x_range=self.follow_time(), y_range=self.y, x_axis_label="time t",
                     y_axis_label="D(t)")
        self.bands = (BoxAnnotation(top=floor, fill_color="#2563eb", fill_alpha=0.2),
                      BoxAnnotation(top=3 * floor, fill_color="#60a5fa", fill_alpha=0.15))
        fig.add_layout(self.bands[1])
        fig.add_layout(self.bands[0])
        fig.line("t", "D", source=self.source, color=ACCENT, line_width=3,
                 legend_label="D(t) = ½ Σ |n_a/N − |ψ_a|²|")
        self.labels = (Label(x=8, y=floor, x_units="screen", text="1/√N",
                             text_font_size="12pt", text_color="#1d4ed8",
                             text_baseline="bottom"),
                       Label(x=8, y=3 * floor, x_units="screen", text="3/√N",
                             text_font_size="12pt", text_color="#3b82f6",
                             text_baseline="bottom"))
        for label in self.labels:
            fig.add_layout(label)
        self.fig = styled(fig, "Deviation D(t) from |ψ|²")
        self.mark_reanchor(fig)
        self.watch(fig)
        style_legend(fig, "top_left")
        for ax in fig.select(type=LogAxis):
            ax.major_label_text_font_size = "12pt"

    def _row(self, frame: Frame) -> dict[str, float]:
        return {"t": float(frame.t), "D": max(float(frame.tv), 1e-9)}  # log axis: no 0

    def reset(self, N: int) -> None:
        super().reset(N)
        floor = 1 / math.sqrt(max(N, 1))
        self.y.start = max(floor / 10, 1e-9)
        for k, (band, label) in enumerate(zip(self.bands, self.labels, strict=True)):
            band.top = label.y = (1 + 2 * k) * floor


class TrackedView(SeriesView):
    """The beable of a few tagged systems over time (agents mode)."""

    def __init__(self, P: int, k: int = 5):
        self.P, self.k = P, k
        cols = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                "#be185d", "#4d7c0f"]
        data = {"t": f32([])}
        data.update({f"a{i}": f32([]) for i in range(k)})
        self.source = ColumnDataSource(data)
        fig = figure(height=340, sizing_mode="stretch_width", tools=TOOLS,
                     x_range=self.follow_time(), y_range=Range1d(-0.5, P - 0.5),
                     x_axis_label="time t", y_axis_label="beable a")
        for i in range(k):
            fig.step("t", f"a{i}", source=self.source, mode="after", line_width=3,
                     color=cols[i % len(cols)], alpha=0.85, legend_label=f"system {i + 1}")
        self.note = Label(x=0, y=0, x_units="screen", y_units="screen", x_offset=70,
                          y_offset=120, text="Individual systems exist in the agents engine.",
                          text_font_size="14pt", text_color="#6b7280", visible=False)
        fig.add_layout(self.note)
        if P <= 16:
            fig.yaxis.ticker = FixedTicker(ticks=list(range(P)))
        self.fig = styled(fig, "Tracked systems: who copies whom")
        self.watch(fig)
        style_legend(fig)
        fig.add_layout(fig.legend[0], "above")  # not over the steps
        fig.legend.orientation = "horizontal"
        fig.legend.label_text_font_size = "10pt"
        self._seen = False

    def _row(self, frame: Frame) -> dict[str, float] | None:
        tracked = frame.extra.get("tracked_a")
        if tracked is None:
            if not self.note.visible:
                self.note.visible = True
            return None
        if self.note.visible:
            self.note.visible = False
        tr = np.asarray(tracked, dtype=float)[: self.k]
        row = {"t": float(frame.t)}
        row.update({f"a{i}": float(tr[i]) if i < len(tr) else np.nan for i in range(self.k)})
        return row
