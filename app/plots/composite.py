"""Views of composite systems (two_qubits, three_qubits): each part's marginal and the joint
frequencies as a grid, from ``frame.n`` and ``frame.p`` through engine/core/composite.py.

Each view declares where it has meaning (:meth:`applies`): a Hamiltonian that carries its
parts (``ham.extra["parts"]``); the dashboard builds and shows it only there.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FixedTicker, Label, LinearColorMapper, Range1d
from bokeh.palettes import Blues256
from bokeh.plotting import figure
from bokeh.transform import transform

from real_ensemble_lab.engine.core.composite import PART_NAMES, marginals, parts_of
from real_ensemble_lab.engine.core.stepper import Frame

from .base import EXACT, View, f32, left_border, legend_row, style_legend, styled, wire

#: One colour per part: Alice, Bob, Charlie.
PART_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
#: Who holds each part, for axis labels.
PERSONS = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Frank", "Grace", "Heidi")
#: Height of the parts' plots (the joint grid holds two grids, one above the other).
GRID_HEIGHT = 440
#: Light to dark, so that a larger frequency is a darker cell.
CELL_PALETTE = tuple(reversed(Blues256))[16:]


class MarginalsView(View):
    """Each part's marginal n_k/N as bars with the exact marginal overlaid (as the joint
    histogram): the parts side by side, a gap between them (engine/core/composite.py)."""

    @staticmethod
    def applies(ham) -> bool:
        return parts_of(ham) is not None

    def __init__(self, parts: list[int]):
        self.parts = list(parts)
        xs, names, cols = [], [], []
        x = 0.0
        for k, d in enumerate(self.parts):
            for v in range(d):
                xs.append(x)
                # spaces only where there is room for them (three parts: six bars)
                names.append(f"{PART_NAMES[k]} = {v}" if len(self.parts) <= 2
                             else f"{PART_NAMES[k]}={v}")
                cols.append(PART_COLORS[k % len(PART_COLORS)])
                x += 1.0
            x += 0.6  # the gap between parts
        a = f32(xs)
        m = len(xs)
        self.bars = ColumnDataSource({"x": a, "rho": np.zeros(m, np.float32), "color": cols,
                                      "x0": a - 0.4, "x1": a + 0.4,
                                      "p": np.zeros(m, np.float32)})
        fig = figure(height=GRID_HEIGHT, sizing_mode="stretch_width", tools="save",
                     y_range=Range1d(0, 1.05), x_range=Range1d(-0.6, xs[-1] + 0.6),
                     x_axis_label="part = value", y_axis_label="fraction of systems")
        fig.vbar(x="x", top="rho", width=0.8, source=self.bars, color="color", alpha=0.85,
                 line_color=None, legend_label="ensemble  n/N")
        fig.segment(x0="x0", y0="p", x1="x1", y1="p", source=self.bars, color=EXACT,
                    line_width=4, legend_label="exact marginal")
        fig.xaxis.ticker = FixedTicker(ticks=xs)
        fig.xaxis.major_label_overrides = {float(x): s for x, s in zip(xs, names, strict=True)}
        fig.xgrid.grid_line_color = None
        self.fig = styled(fig, "Marginal of each part")
        if len(self.parts) > 2:  # six bars and more: smaller labels, or they touch
            fig.xaxis.major_label_text_font_size = "10pt"
        style_legend(fig)
        legend_row(fig, size="11pt")  # above: not over the bars
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def values(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """Marginal fractions n/N and exact marginals, parts concatenated (A first)."""
        rho = np.asarray(frame.n, float) / max(frame.N, 1)
        return (np.concatenate(marginals(rho, self.parts)),
                np.concatenate(marginals(np.asarray(frame.p, float), self.parts)))

    def reset(self, N: int) -> None:
        self._last = None

    def update(self, frame: Frame) -> None:
        rho, p = (f32(x) for x in self.values(frame))
        last = self._last
        changed = {}
        if last is None or not np.array_equal(rho, last[0]):
            changed["rho"] = rho
        if last is None or not np.array_equal(p, last[1]):
            changed["p"] = p
        if changed:
            self._last = (rho, p)
            self.bars.data.update({k: wire(v) for k, v in changed.items()})


def _ket(bits: str) -> str:
    return f"|{bits}⟩"


class JointGridView(View):
    """The joint frequencies n_a/N as a grid, A's value down the rows and the other parts'
    values across, next to the same grid of exact |psi_a|^2; the numbers in the cells."""

    @staticmethod
    def applies(ham) -> bool:
        parts = parts_of(ham)
        return parts is not None and int(np.prod(parts[1:])) <= 8

    def __init__(self, parts: list[int]):
        self.parts = list(parts)
        self.rows = parts[0]
        self.cols = int(np.prod(parts[1:]))
        P = self.rows * self.cols
        a = np.arange(P)
        row, col = a // self.cols, a % self.cols
        gap = 0.75  # between the grids: room for the lower one's heading
        # the ensemble's grid above the exact one (cells stay wide enough for the numbers
        # in a half-width plot); A = 0 is the top row of each
        top = self.rows + gap
        x = np.concatenate([col, col]).astype(np.float32)
        y = np.concatenate([top + self.rows - 1 - row, self.rows - 1 - row]).astype(np.float32)
        self.P = P
        self.mapper = LinearColorMapper(palette=CELL_PALETTE, low=0.0, high=1.0)
        self.cells = ColumnDataSource({"x": x, "y": y, "v": np.zeros(2 * P, np.float32),
                                       "text": [""] * (2 * P),
                                       "ink": ["#111827"] * (2 * P)})
        fig = figure(height=GRID_HEIGHT, sizing_mode="stretch_width", tools="save",
                     x_range=Range1d(-0.5, self.cols - 0.5),
                     y_range=Range1d(-0.52, top + self.rows - 0.5 + gap))
        fig.rect(x="x", y="y", width=0.97, height=0.94, source=self.cells,
                 fill_color=transform("v", self.mapper), line_color="white")
        fig.text(x="x", y="y", text="text", source=self.cells, text_align="center",
                 text_baseline="middle", text_font_size="20pt" if self.cols <= 2 else "15pt",
                 text_color="ink", text_font_style="bold")
        for y0, head in ((top, "ensemble  n/N"), (0.0, "exact  |ψ|²")):
            fig.add_layout(Label(x=(self.cols - 1) / 2, y=y0 + self.rows - 0.5, text=head,
                                 text_align="center", text_baseline="bottom", y_offset=3,
                                 text_font_size="14pt", text_color="#374151"))
        names = [_ket(np.base_repr(c, 2).zfill(len(parts) - 1)) if all(d == 2 for d in parts)
                 else str(c) for c in range(self.cols)]
        fig.xaxis.ticker = FixedTicker(ticks=[float(c) for c in range(self.cols)])
        fig.xaxis.major_label_overrides = {float(c): n for c, n in enumerate(names)}
        who = ", ".join(PERSONS[k] for k in range(1, len(parts)))
        fig.xaxis.axis_label = f"{who} ({' '.join(PART_NAMES[1:len(parts)])})"
        yt = [float(y0 + self.rows - 1 - r) for y0 in (top, 0.0) for r in range(self.rows)]
        fig.yaxis.ticker = FixedTicker(ticks=yt)
        fig.yaxis.major_label_overrides = {t: _ket(str(r % self.rows))
                                           for r, t in enumerate(yt)}
        fig.yaxis.axis_label = f"{PERSONS[0]} (A)"
        fig.grid.visible = False
        self.fig = styled(fig, "Joint frequencies")
        left_border(fig, 40)
        fig.xaxis.major_label_text_font_size = "13pt" if self.cols <= 2 else "11pt"
        self._last: np.ndarray | None = None

    def values(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """The two grids (rows: A's value; columns: the other parts' joint value)."""
        rho = np.asarray(frame.n, float) / max(frame.N, 1)
        p = np.asarray(frame.p, float)
        return rho.reshape(self.rows, self.cols), p.reshape(self.rows, self.cols)

    def reset(self, N: int) -> None:
        self._last = None

    def update(self, frame: Frame) -> None:
        rho, p = self.values(frame)
        v = np.concatenate([rho.ravel(), p.ravel()])
        # three decimals: what a reader can compare at projector distance
        v = np.round(v, 3)
        if self._last is not None and np.array_equal(v, self._last):
            return
        self._last = v
        # the colour scale in steps of 0.1: it rarely changes, so the grid rarely re-colours
        high = max(0.1, float(np.ceil(v.max(initial=0.0) * 10) / 10))
        if high != self.mapper.high:
            self.mapper.high = high
        ink = ["white" if x > 0.55 * high else "#111827" for x in v]
        self.cells.data.update(v=wire(v), text=[f"{x:.3f}" for x in v], ink=ink)
