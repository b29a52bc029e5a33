"""What every live plot shares: styling, legends, the wire format, and the two kinds of
view (instantaneous views fed by frames, plots over time fed by the recorded history).

Each view is built for one ensemble (P beable values, N systems). ``update(frame)`` is
called on the document's event loop (up to 40 Hz) with the latest :class:`engine.Frame`;
plots over time also get ``add_rows(rows)`` with the rows the runner recorded on the output
grid since the last call (:class:`app.runner.Rows`), so a stall of the page never becomes
a straight segment: every curve is drawn from the same grid as the export. Long arrays go
to Bokeh as float32 bytes, short ones inline (:func:`wire`); time series use
``stream(..., rollover)``; bars send only the columns that changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.events import RangesUpdate, Reset
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    GlyphRenderer,
    Label,
    Legend,
    Range1d,
    Span,
)
from bokeh.palettes import Category10_10, Viridis256

from real_ensemble_lab.engine.core.stepper import Frame

from ..runner import Rows

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


_SUBSCRIPT = str.maketrans("0123456789+-=()aehijklmnoprstuvx",
                           "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")


def subscript(label: str) -> str:
    """``label`` as a Unicode subscript where every character has one ("0" -> "₀", "a" ->
    "ₐ"); otherwise ``_label`` (a plot's text is plain, not typeset)."""
    out = label.translate(_SUBSCRIPT)
    return out if all(c != o for c, o in zip(out, label, strict=True)) else f"_{label}"


def styled(fig, title: str):
    """Large type, quiet grid: readable at projector distance."""
    fig.title.text = title
    fig.title.text_font_size = FONTS[False][0]
    fig.title.text_color = INK
    fig.title.text_font_style = "bold"
    for ax in (*fig.xaxis, *fig.yaxis):
        ax.axis_label_text_font_size = FONTS[False][1]
        ax.axis_label_text_font_style = "normal"
        ax.major_label_text_font_size = FONTS[False][2]
        ax.axis_line_color = "#9ca3af"
    fig.grid.grid_line_alpha = 0.35
    fig.outline_line_color = None
    fig.toolbar.logo = None
    fig.toolbar.autohide = True
    fig.background_fill_color = "#ffffff"
    fig.border_fill_color = "#ffffff"
    left_border(fig, 60)
    return fig


def left_border(fig, px: int) -> None:
    """The figure's least left border, with its title starting 10 px from the canvas's
    edge rather than at the frame's: the room a title needs on a phone or a projector."""
    fig.min_border_left = px
    fig.title.offset = -max(px - 10, 0)


#: Font sizes (title, axis label, tick label) on a screen and on a projector.
FONTS = {False: ("15pt", "14pt", "12pt"), True: ("17pt", "17pt", "15pt")}


def projector(fig, on: bool) -> None:
    """The projector profile (after PhET's): larger type, lines 1.6 times thicker, a
    stronger grid and darker axes, so a plot reads from the back of a classroom."""
    if getattr(fig, "_rel_projector", False) == on:
        return
    fig._rel_projector = on
    title, label, tick = FONTS[on]
    fig.title.text_font_size = title
    for ax in (*fig.xaxis, *fig.yaxis):
        ax.axis_label_text_font_size = label
        ax.major_label_text_font_size = tick
        ax.axis_line_color = "#111827" if on else "#9ca3af"
        ax.major_tick_line_color = "#111827" if on else "black"
    fig.grid.grid_line_alpha = 0.6 if on else 0.35
    k = 1.6 if on else 1 / 1.6
    for r in fig.renderers:
        glyph = getattr(r, "glyph", None)
        width = getattr(glyph, "line_width", None)
        if isinstance(width, int | float) and width > 0:
            glyph.line_width = width * k


#: Title, and legend and axis-title type on a phone (plots about 340 px wide: they fit).
COMPACT = ("12pt", "10pt")


def compact(fig, on: bool, presentation: bool = False) -> None:
    """Smaller titles and legends and fewer ticks on a narrow screen (under 600 px), so a
    title is not cut off, a legend above the plot fits its width and tick labels do not
    run into each other; off, the screen or projector profile's."""
    fig.title.text_font_size = COMPACT[0] if on else FONTS[presentation][0]
    for ax in (*fig.xaxis, *fig.yaxis):  # fewer ticks: their labels must not touch
        # an axis title as long as the axis ("fraction of systems" beside a 150 px axis)
        ax.axis_label_text_font_size = COMPACT[1] if on else FONTS[presentation][1]
        if hasattr(ax.ticker, "desired_num_ticks"):
            ax.ticker.desired_num_ticks = 3 if on else 6
    for leg in legends(fig):
        if not hasattr(leg, "_rel_label_size"):
            leg._rel_label_size = leg.label_text_font_size
            leg._rel_row = (leg.spacing, leg.label_standoff, leg.glyph_width)
        leg.label_text_font_size = COMPACT[1] if on else leg._rel_label_size
        if leg.orientation == "horizontal":  # a row of entries: narrower gaps and swatches
            spacing, standoff, glyph = leg._rel_row
            leg.update(spacing=min(spacing, 8) if on else spacing,
                       label_standoff=min(standoff, 4) if on else standoff,
                       glyph_width=min(glyph, 20) if on else glyph)


#: Glyph properties that place a glyph (a legend swatch's copy gets NaN there).
_COORDS = {"x", "y", "x0", "y0", "x1", "y1", "top", "bottom", "left", "right", "xs", "ys"}


def legends(fig) -> list[Legend]:
    """The figure's legends, from its side panels (``fig.select`` walks every model the
    figure reaches, data sources included: 40 ms a legend when a page is built)."""
    return [m for m in (*fig.center, *fig.above, *fig.below, *fig.left, *fig.right)
            if isinstance(m, Legend)]


def detach_legend(fig) -> None:
    """Point every legend entry at a static copy of its renderers.

    BokehJS (3.9) rebuilds a legend's DOM and swatch canvases whenever anything reachable
    from its items changes, data sources included: with sources updated 25 times a second
    that took most of the browser's time. The copies carry the same glyph visuals on a
    one-row source at NaN coordinates (so they draw nothing), one source for all the
    copies of a figure where their columns agree; clicking an entry still hides its live
    renderers.
    """
    sources: list[ColumnDataSource] = []
    for leg in legends(fig):
        live = []
        for item in leg.items:
            live.append(list(item.renderers))
            copies = []
            for r in item.renderers:
                row = _swatch_row(r)
                copy = GlyphRenderer(data_source=_shared_source(sources, row),
                                     glyph=r.glyph.clone())
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


def _swatch_row(r: GlyphRenderer) -> dict[str, list]:
    """The one row a legend swatch's copy of ``r`` draws from (NaN where it would place)."""
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
    return row


def _same(a: list, b: list) -> bool:
    return all(x == y or (x != x and y != y) for x, y in zip(a, b, strict=True))  # NaN


def _shared_source(sources: list[ColumnDataSource], row: dict[str, list]) -> ColumnDataSource:
    """A source holding ``row``: one of ``sources`` whose columns agree with it (extended by
    its new columns), else a new one. Every source is a model (with its selection and
    policy) that the server builds and sends and the page builds a view of."""
    for src in sources:
        data = src.data
        if all(_same(data[k], v) for k, v in row.items() if k in data):
            src.data.update({k: v for k, v in row.items() if k not in data})
            return src
    sources.append(ColumnDataSource(dict(row)))
    return sources[-1]


def lean(fig) -> None:
    """No unselected or muted variants of the figure's glyphs: nothing selects or mutes
    (legends hide), and ``figure``'s glyph methods add both to every renderer, two more
    models for the server to send and the page to build."""
    for r in fig.renderers:
        if isinstance(r, GlyphRenderer):
            r.nonselection_glyph = None
            r.muted_glyph = None


def style_legend(fig, location: str = "top_right") -> None:
    detach_legend(fig)
    for leg in legends(fig):
        leg.location = location
        leg.label_text_font_size = "12pt"
        leg.background_fill_alpha = 0.8
        leg.border_line_color = None
        leg.click_policy = "hide"
        leg.spacing = 2
        leg.padding = 6


#: A horizontal legend's gap between entries and between a swatch and its label (px): at
#: Bokeh's defaults an entry's label ran into the next one's swatch ("ensemble▬ exact").
ROW_SPACING = 12
ROW_STANDOFF = 6


def legend_row(fig, place: str = "above", size: str = "10pt") -> Legend:
    """Move the figure's (styled) legend out of the plot to ``place`` as one row (or
    ``ncols`` columns), entries spaced so that each label stands clear of the next swatch."""
    leg = fig.legend[0]
    fig.add_layout(leg, place)
    leg.orientation = "horizontal"
    leg.label_text_font_size = size
    leg.spacing = ROW_SPACING
    leg.label_standoff = ROW_STANDOFF
    leg.padding = 4
    return leg


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

    #: Engine modes in which the view means something (empty: all).
    modes: tuple[str, ...] = ()

    #: Least seconds between two updates while playing (0: every frame). Paused, a view
    #: takes every frame, so what stays on the screen is the last one.
    period = 0.0

    def update(self, frame: Frame) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def add_rows(self, rows: Rows) -> None:
        """Rows of the recorded history (only plots over time use them)."""

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

    def _columns(self, rows: Rows) -> dict[str, np.ndarray] | None:  # pragma: no cover
        raise NotImplementedError

    def update(self, frame: Frame) -> None:
        self.show_reanchor(frame.reanchor_t)

    def add_rows(self, rows: Rows) -> None:
        """Rows recorded on the output grid since the last call (sent on :meth:`flush`)."""
        if len(rows) == 0:
            return
        cols = self._columns(rows)
        if cols is None:
            return
        pending = getattr(self, "_pending", None)
        if pending is None:
            self._pending = {k: [np.asarray(v, float)] for k, v in cols.items()}
        else:
            for k, v in cols.items():
                pending[k].append(np.asarray(v, float))

    def flush(self) -> None:
        pending = getattr(self, "_pending", None)
        if not pending:
            return
        self._pending = None
        new = {k: wire(np.concatenate(v)) for k, v in pending.items()}
        if len(self.source.data.get("t", ())) == 0:
            # the first rows replace the data: a stream into a source whose figure is new
            # to the page would arrive on top of the same rows in its first picture
            self.source.data = new
        else:
            self.source.stream(new, rollover=ROLLOVER)
        self.follow()

    def reset(self, N: int) -> None:
        self._pending = None
        self.source.data = {k: f32([]) for k in self.source.data}
        self.following = True
        self.show_reanchor(None)
        if self.x is not None:
            self.x.update(start=0.0, end=1.0)
