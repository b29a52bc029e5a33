"""Plots over time, drawn from the runner's recorded history (never from pulled frames):
populations (ensemble and exact on the same grid), the deviation D(t) with its 1/sqrt(N)
band, and the tracked systems (agents engine)."""

from __future__ import annotations

import math

import numpy as np
from bokeh.models import (
    BoxAnnotation,
    ColorBar,
    ColumnDataSource,
    FixedTicker,
    Label,
    LinearColorMapper,
    LogAxis,
    Range1d,
)
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from ..runner import Rows
from .base import (
    ACCENT,
    MAX_LINES,
    STRIP_COLUMNS,
    TOOLS,
    SeriesView,
    f32,
    legend_row,
    palette,
    style_legend,
    styled,
    subscript,
)


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
            fig = figure(height=250 + 22 * math.ceil(2 * P / ncols),
                         sizing_mode="stretch_width", tools=TOOLS,
                         x_range=self.follow_time(), y_range=Range1d(0, 1.02),
                         x_axis_label="time t", y_axis_label="probability")
            names = [labels[a] if a < len(labels) else str(a) for a in range(P)]
            for a in range(P):  # the ensemble's lines first: the legend's first row(s)
                fig.line("t", f"n{a}", source=self.source, color=cols[a], line_width=3,
                         legend_label=f"n{subscript(names[a])}/N")
            for a in range(P):
                fig.line("t", f"p{a}", source=self.source, color=cols[a], line_width=2,
                         line_dash="dashed", alpha=0.9, legend_label=f"|ψ{subscript(names[a])}|²")
            self.fig = styled(fig, "Populations over time")
            style_legend(fig)
            legend_row(fig).ncols = ncols  # above: not over the lines
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
            fig = figure(height=300, sizing_mode="stretch_width", tools=TOOLS,
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

    def _columns(self, rows: Rows) -> dict[str, np.ndarray]:
        rho = rows.n / max(rows.N, 1)
        cols = {"t": rows.t}
        cols.update({f"n{a}": rho[:, a] for a in range(self.P)})
        cols.update({f"p{a}": rows.p[:, a] for a in range(self.P)})
        return cols

    def add_rows(self, rows: Rows) -> None:
        if self.lines:
            super().add_rows(rows)
            return
        rho = (rows.n / max(rows.N, 1)).astype(np.float32)
        for i in range(len(rows)):
            k = self._k
            if k >= STRIP_COLUMNS:  # scroll: keep the latest STRIP_COLUMNS columns
                self._buf_n[:, :-1] = self._buf_n[:, 1:]
                self._buf_p[:, :-1] = self._buf_p[:, 1:]
                self._t[:-1] = self._t[1:]
                k = STRIP_COLUMNS - 1
            self._buf_n[:, k] = rho[i]
            self._buf_p[:, k] = rows.p[i]
            self._t[k] = rows.t[i]
            self._k = k + 1
            self.mapper_high = max(getattr(self, "mapper_high", self.mapper.high) * 0.999,
                                   float(rows.p[i].max()) * 1.1, 1e-6)
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


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Major and minor ticks for a log axis from ``lo`` to ``hi``: 1, 2 and 5 per decade
    over two decades or less, decades over more (Bokeh's own ticker labels every 0.1
    between 0.1 and 1 on a short range: labels on top of each other at small N)."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1, 2, 5) if k1 - k0 <= 2 else (1,)
    major = [m * 10.0**k for k in range(k0, k1 + 1) for m in mantissas]
    minor = [m * 10.0**k for k in range(k0, k1 + 1) for m in range(1, 10)]

    def inside(ts: list[float]) -> list[float]:
        return [round(t, 12) for t in ts if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]

    return inside(major), inside(minor)


class DeviationView(SeriesView):
    """D(t) = 1/2 sum_a |n_a/N - |psi_a|^2| on a log axis, with the 1/sqrt(N) band."""

    def __init__(self, N: int):
        self.source = ColumnDataSource({"t": f32([]), "D": f32([])})
        floor = 1 / math.sqrt(max(N, 1))
        self.y = Range1d(max(floor / 10, 1e-9), 1.0)
        fig = figure(height=300, sizing_mode="stretch_width", tools=TOOLS, y_axis_type="log",
                     x_range=self.follow_time(), y_range=self.y, x_axis_label="time t",
                     y_axis_label="D(t)")
        self.bands = (BoxAnnotation(top=floor, fill_color="#2563eb", fill_alpha=0.2),
                      BoxAnnotation(top=3 * floor, fill_color="#60a5fa", fill_alpha=0.15))
        fig.add_layout(self.bands[1])
        fig.add_layout(self.bands[0])
        fig.line("t", "D", source=self.source, color=ACCENT, line_width=3,
                 legend_label="D(t)")
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
        for ax in (*fig.xaxis, *fig.yaxis):  # (not fig.select: it walks every model)
            if isinstance(ax, LogAxis):
                ax.major_label_text_font_size = "12pt"
        self.ticker = FixedTicker(ticks=[], minor_ticks=[])
        fig.yaxis.ticker = self.ticker
        self._ticks()

    def _ticks(self) -> None:
        major, minor = log_ticks(self.y.start, self.y.end)
        self.ticker.update(ticks=major, minor_ticks=minor)

    def _columns(self, rows: Rows) -> dict[str, np.ndarray]:
        return {"t": rows.t, "D": np.maximum(rows.tv, 1e-9)}  # log axis: no 0

    def reset(self, N: int) -> None:
        super().reset(N)
        floor = 1 / math.sqrt(max(N, 1))
        self.y.start = max(floor / 10, 1e-9)
        self._ticks()
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
        fig = figure(height=300, sizing_mode="stretch_width", tools=TOOLS,
                     x_range=self.follow_time(), y_range=Range1d(-0.5, P - 0.5),
                     x_axis_label="time t", y_axis_label="beable a")
        for i in range(k):
            fig.step("t", f"a{i}", source=self.source, mode="after", line_width=3,
                     color=cols[i % len(cols)], alpha=0.85, legend_label=f"system {i + 1}")
        if P <= 16:
            fig.yaxis.ticker = FixedTicker(ticks=list(range(P)))
        self.fig = styled(fig, "Tracked systems: who copies whom")
        self.watch(fig)
        style_legend(fig)
        # above, not over the steps; three entries a row: five in one ran past the card
        legend_row(fig).ncols = min(k, 3)
        self._seen = False

    def _columns(self, rows: Rows) -> dict[str, np.ndarray] | None:
        if rows.tracked_a is None:
            return None
        tr = rows.tracked_a.astype(float)
        cols = {"t": rows.t}
        cols.update({f"a{i}": tr[:, i] if i < tr.shape[1] else np.full(len(rows), np.nan)
                     for i in range(self.k)})
        return cols
