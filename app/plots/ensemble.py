"""Views of the ensemble now: the histogram against |psi|^2, and the phases on the circle
with each class's order."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FixedTicker, Label, Range1d
from bokeh.plotting import figure
from bokeh.transform import linear_cmap

from real_ensemble_lab.engine.core.stepper import Frame

from .base import (
    EMPTY,
    EXACT,
    TOOLS,
    View,
    f32,
    left_border,
    legend_row,
    palette,
    style_legend,
    styled,
    wire,
)

#: Where the histogram's y axis starts: far enough below 0 for half an empty-class ×.
EMPTY_Y0 = -0.08


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
        # starts a little below 0: an empty class's × at y = 0 is drawn whole, not cut
        # in half by the frame (it looked like a chevron)
        self.y = Range1d(EMPTY_Y0, 1.05)
        fig = figure(height=300, sizing_mode="stretch_width", y_range=self.y,
                     x_range=Range1d(-0.6, P - 0.4), tools=TOOLS,
                     x_axis_label="beable value a", y_axis_label="fraction of systems")
        fig.vbar(x="a", top="rho", width=w, source=self.bars, color="color", alpha=0.85,
                 line_color=None, legend_label="ensemble")
        fig.segment(x0="x0", y0="p", x1="x1", y1="p", source=self.bars, color=EXACT,
                    line_width=4 if P <= 16 else 2, legend_label="exact |ψₐ|²")
        fig.scatter(x="a", y=0, source=self.bars, marker="x", size=16 if P <= 16 else 8,
                    line_width=3, color=EMPTY, line_alpha="empty",
                    legend_label="empty class")
        if P <= 16 and labels:
            fig.xaxis.ticker = FixedTicker(ticks=list(range(P)))
            fig.xaxis.major_label_overrides = {i: str(s) for i, s in enumerate(labels)}
        fig.xgrid.grid_line_color = None
        self.fig = styled(fig, "Ensemble nₐ/N vs. |ψₐ|²")
        style_legend(fig)
        # Bokeh draws a legend's marker at 0.4 of its swatch: at 20 px and 3 px lines the
        # × was a red dot; a larger swatch and thinner lines show the × of the plot
        fig.legend.glyph_height = fig.legend.glyph_width = 28
        fig.legend.items[-1].renderers[0].glyph.line_width = 2
        legend_row(fig, size="11pt")  # above: never over the bars
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
    modes = ("agents", "population")  # the Bell baseline's systems have no phases
    #: Ten times a second while playing (the histogram and status take every frame): its
    #: repaint is the page's costliest, ~13 ms of 1200 dots against ~4 for the histogram
    #: and ~11 for all the rest of a frame (N = 10^6 agents, 2026-12-04; every other frame
    #: until then, which drew 1-2 frames a second fewer in all).
    period = 0.1

    def __init__(self, P: int, individual: bool = True):
        self.P = P
        self.points_label = "systems" if individual else "class phase"
        self.radius = ring_radius(P)
        cols = palette(P)
        self._jitter: np.ndarray | None = None
        self._order: tuple[np.ndarray, np.ndarray] | None = None
        self.points = ColumnDataSource({"x": f32([]), "y": f32([]), "a": f32([]),
                                        "size": f32([])})
        self.exact = ColumnDataSource({"x": f32(np.zeros(P)), "y": f32(np.zeros(P)),
                                       "color": cols})
        fig = figure(height=330, width=290, match_aspect=True, tools="save",
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
                    line_color=None, legend_label=self.points_label)
        fig.scatter("x", "y", source=self.exact, marker="diamond", size=16, fill_color="white",
                    line_color=EXACT, line_width=2.5, legend_label="exact")
        for spine in ("0", "π/2", "π", "3π/2"):
            ang = {"0": 0, "π/2": np.pi / 2, "π": np.pi, "3π/2": 3 * np.pi / 2}[spine]
            fig.add_layout(Label(x=1.06 * np.cos(ang), y=1.06 * np.sin(ang), text=spine,
                                 text_align="center", text_baseline="middle",
                                 text_font_size="11pt", text_color="#6b7280"))
        fig.axis.visible = False
        fig.grid.visible = False
        self.fig = styled(fig, "Phases φ on the circle")
        style_legend(fig)
        legend_row(fig, "below")  # at 12pt it ran past the plot's 290 px
        left_border(fig, 10)

        self.order = ColumnDataSource({"a": np.arange(P, dtype=np.float32) - 0.18,
                                       "b": np.arange(P, dtype=np.float32) + 0.18,
                                       "polar": np.ones(P, np.float32),
                                       "nematic": np.ones(P, np.float32)})
        self.order_fig = None
        if not individual:  # class phases: no order within a class to show
            return
        # as tall as the plots over time beside it (its own card in their row): at 190 px
        # in the phase card six tick labels shared 55 px and the column grew past its row
        ofig = figure(height=300, sizing_mode="stretch_width", y_range=Range1d(0, 1.05),
                      x_range=Range1d(-0.6, P - 0.4), tools="save",
                      x_axis_label="beable value a", y_axis_label="order")
        w = 0.34 if P <= 16 else 0.45
        ofig.vbar(x="a", top="polar", width=w, source=self.order, color="#2563eb",
                  legend_label="polar |⟨eⁱᵠ⟩|")
        ofig.vbar(x="b", top="nematic", width=w, source=self.order, color="#f59e0b",
                  legend_label="nematic |⟨e²ⁱᵠ⟩|")
        ofig.xgrid.grid_line_color = None
        if P <= 16:
            ofig.xaxis.ticker = FixedTicker(ticks=list(range(P)))
        ofig.yaxis.ticker = FixedTicker(ticks=[0, 0.5, 1])  # an order: none, half, full
        self.order_fig = styled(ofig, "Phase order per class")
        style_legend(ofig)
        legend_row(ofig)

    def reset(self, N: int) -> None:
        self._jitter = None
        self._order = None
        self.points.data = {"x": f32([]), "y": f32([]), "a": f32([]), "size": f32([])}

    def update(self, frame: Frame) -> None:
        sys_ = frame.systems
        R = self.radius
        if sys_ is not None:
            a = np.asarray(sys_.sample_a, dtype=np.int64)
            phi = np.asarray(sys_.sample_phi, dtype=float)
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
        if sys_ is not None:
            self._order = (f32(np.nan_to_num(sys_.polar)), f32(np.nan_to_num(sys_.nematic)))

    def flush(self) -> None:
        """The order bars move slowly: they follow at the pace of the plots over time."""
        if self._order is not None:
            polar, nematic = self._order
            self._order = None
            self.order.data.update(polar=wire(polar), nematic=wire(nematic))
