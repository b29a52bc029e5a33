"""Lesson 6's view: mean position over time, classical vs quantum vs ensemble (paper §V)."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from real_ensemble_lab.engine.core.classical import overlay
from real_ensemble_lab.engine.core.hamiltonian import Hamiltonian

from ..runner import Rows
from .base import TOOLS, SeriesView, f32, style_legend, styled


class ClassicalView(SeriesView):
    """Newton's trajectory, the Liouville mean and the exact <x> (computed once, to
    ``t_end``) with the ensemble's mean position sum_a x_a n_a / N streamed live."""

    def __init__(self, ham: Hamiltonian, t_end: float):
        self.positions = np.asarray(ham.x, float)  # x_a (SeriesView.x is a time axis)
        t = np.linspace(0.0, max(float(t_end), 10.0), 400)
        ov = overlay(ham, t)
        self.lines = ColumnDataSource({"t": t, "newton": ov.newton, "liouville": ov.liouville,
                                       "exact": ov.exact})
        self.source = ColumnDataSource({"t": f32([]), "x": f32([])})
        fig = figure(height=320, sizing_mode="stretch_width", tools=TOOLS,
                     x_axis_label="time t", y_axis_label="mean position")
        fig.line("t", "newton", source=self.lines, color="black", line_width=3,
                 legend_label="Newton (packet centre)")
        fig.line("t", "liouville", source=self.lines, color="#ea580c", line_width=2,
                 line_dash="dashed", legend_label="Liouville mean")
        fig.line("t", "exact", source=self.lines, color="#2563eb", line_width=2,
                 line_dash="dotted", legend_label="exact ⟨x⟩")
        fig.scatter("t", "x", source=self.source, color="#dc2626", size=5,
                    legend_label="ensemble Σ x_a n_a / N")
        self.fig = styled(fig, "Classical limit: mean position")
        style_legend(fig, "top_left")

    def _columns(self, rows: Rows) -> dict[str, np.ndarray] | None:
        n = rows.n.astype(float)
        total = n.sum(axis=1)
        ok = total > 0
        if not ok.any():
            return None
        return {"t": rows.t[ok], "x": (n[ok] @ self.positions) / total[ok]}
