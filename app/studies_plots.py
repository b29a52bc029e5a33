"""The Studies page's figures and tables, as plain functions over sweep results.

Plots (HoloViews, Bokeh backend) come from the engine's analysis helpers
(engine/studies/analysis.py): error·√N against t per N (PHYSICS.md §3 "Drift"), the probability
of absorption into an empty class against N with Wilson intervals, and a heatmap of a
deviation metric over two chosen parameters. The docs (docs/render_studies.py) render the
very same figures.
"""

from __future__ import annotations

import math
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd

from real_ensemble_lab.engine.core.errors import InputError
from real_ensemble_lab.engine.studies.analysis import (
    absorption_probability,
    deviation_grid,
    drift_fit,
    error_curves,
    varying,
)

from .studies_links import live_link

#: Curves drawn at most in the error plot (one per parameter combination).
MAX_CURVES = 40

if "bokeh" not in hv.Store.renderers:
    hv.extension("bokeh", logo=False)


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
        return str(v)
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _label(row: pd.Series | dict, cols: list[str]) -> str:
    return ", ".join(f"{c.removeprefix('pp_')}={_fmt(row[c])}" if c != "mode" else str(row[c])
                     for c in cols)


def drift_curves(series: pd.DataFrame) -> tuple[list[str], list[tuple[dict, pd.DataFrame]]]:
    """The curves of :func:`drift_plot`: the parameters that vary, and per curve (at most
    :data:`MAX_CURVES`) its values of them and its points (``t``, ``mean``, ...)."""
    by = varying(series)
    curves = error_curves(series, by)
    groups = list(curves.groupby(by, sort=True)) if by else [((), curves)]
    out = []
    for gkey, g in groups[:MAX_CURVES]:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        out.append((dict(zip(by, gkey, strict=True)), g))
    return by, out


def drift_pick(series: pd.DataFrame, t: float, y: float, tol: float = 0.05
               ) -> tuple[float, list[dict]]:
    """The curves of :func:`drift_plot` at a clicked point (``t``, ``y``): the output time
    of the nearest point and the parameter values of its curve, or of every curve through
    that same point (curves often meet, e.g. at t = 0). Distances are in fractions of the
    data's ranges; nothing within ``tol`` gives ``(nan, [])``."""
    _, curves = drift_curves(series)
    pts = [(i, float(tt), float(m)) for i, (_, g) in enumerate(curves)
           for tt, m in zip(g["t"], g["mean"], strict=True) if math.isfinite(m)]
    if not pts or t is None or y is None or not (math.isfinite(t) and math.isfinite(y)):
        return math.nan, []
    arr = np.array(pts)
    span = [np.ptp(arr[:, k]) or 1.0 for k in (1, 2)]
    dist = np.hypot((arr[:, 1] - t) / span[0], (arr[:, 2] - y) / span[1])
    best = float(dist.min())
    if best > tol:
        return math.nan, []
    near = np.flatnonzero(dist <= best + 1e-9)
    return float(arr[near[0], 1]), [curves[int(arr[i, 0])][0] for i in near]


def runs_of(summary: pd.DataFrame, values: dict) -> pd.DataFrame:
    """The runs of ``summary`` with these parameter values (one curve's runs), by seed."""
    mask = np.ones(len(summary), dtype=bool)
    for c, v in values.items():
        mask &= (summary[c] == v).to_numpy()
    return summary[mask].sort_values("seed")


def _size(width: int, height: int, responsive: bool) -> dict:
    """A fixed size, or (``responsive``) as wide as the page allows up to ``width``."""
    if responsive:
        return {"responsive": True, "height": height, "max_width": width}
    return {"width": width, "height": height}


def drift_plot(series: pd.DataFrame, width: int = 760, height: int = 380,
               responsive: bool = False) -> hv.Overlay:
    """Mean over seeds of tv·√N against t, one curve per parameter combination
    (``responsive``: as wide as the page allows, up to ``width``)."""
    by, groups = drift_curves(series)
    # One colour per N (the same for every mode), dashed lines for Bell's baseline.
    Ns = sorted(series["N"].unique()) if "N" in by else []
    palette = hv.Cycle("Category10").values
    hv_curves = []
    for i, (vals, g) in enumerate(groups):
        lab = _label(vals, by) or "all runs"
        dash = "dashed" if vals.get("mode") == "bell" else "solid"
        color = palette[(Ns.index(vals["N"]) if Ns else i) % len(palette)]
        hv_curves.append(hv.Curve(g, "t", ("mean", "tv·√N"), label=lab)
                         .opts(line_dash=dash, color=color))
    # the legend below the plot, four entries a row (one on a page that may be a phone's):
    # the curves keep the plot's width
    cols = 1 if responsive else 4
    return hv.Overlay(hv_curves).opts(
        **_size(width, height + 30 * math.ceil(len(hv_curves) / cols), responsive),
        legend_position="bottom", legend_cols=min(cols, len(hv_curves)),
        title="error·√N against t",
        show_grid=True, tools=["hover"], xlabel="t", ylabel="mean tv·√N")


def absorption_plot(summary: pd.DataFrame, width: int = 620, height: int = 320,
                    responsive: bool = False) -> hv.Overlay:
    """Probability of absorption against N with 95 % Wilson intervals, per other parameter."""
    if "N" not in summary.columns:
        raise InputError("The results have no N column.")
    by = [c for c in varying(summary) if c != "N"]
    ab = absorption_probability(summary, by=[*by, "N"])
    parts = []
    groups = list(ab.groupby(by, sort=True)) if by else [((), ab)]
    for i, (gkey, g) in enumerate(groups[:MAX_CURVES]):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        lab = _label(dict(zip(by, gkey, strict=True)), by) or "all runs"
        color = hv.Cycle("Category20").values[i % 20]
        g = g.assign(neg=g["prob"] - g["lo"], pos=g["hi"] - g["prob"])
        parts.append(hv.Curve(g, "N", ("prob", "P(absorbed)"), label=lab)
                     .opts(color=color, logx=True))
        parts.append(hv.Scatter(g, "N", "prob").opts(color=color, size=6, logx=True))
        parts.append(hv.ErrorBars(g, "N", ["prob", "neg", "pos"])
                     .opts(line_color=color, logx=True))
    return hv.Overlay(parts).opts(
        **_size(width, height, responsive), logx=True,
        legend_position="bottom" if responsive else "right",
        show_grid=True,
        title="absorption into an empty class against N (95 % Wilson)", ylim=(-0.02, 1.02),
        xlabel="N", ylabel="P(absorbed)")


def heatmap_plot(summary: pd.DataFrame, x: str, y: str, metric: str = "max_tv_sqrtN",
                 width: int = 620, height: int = 360, logz: bool = False,
                 responsive: bool = False) -> hv.HeatMap:
    """Mean of ``metric`` over the runs at each (x, y): the deviation over two parameters."""
    df = summary.assign(absorbed=summary["absorbed"].astype(float))
    grid = deviation_grid(df, x, y, metric)
    # Categorical axes keep uneven grids (N = 100, 1000, ...) readable.
    grid[x] = grid[x].map(_fmt)
    grid[y] = grid[y].map(_fmt)
    return hv.HeatMap(grid, [x, y], metric).opts(
        **_size(width, height, responsive), cmap="viridis", colorbar=True, tools=["hover"],
        logz=logz, title=f"mean {metric} over {x} and {y}", xrotation=45)


def _alpha_cell(r: pd.Series) -> str:
    """The fitted exponent with its error bar, or the reason it has none."""
    if not np.isfinite(r["alpha"]):
        return "no fit (fewer than two output times after t_min, or a zero mean error)"
    if int(r["runs"]) < 2:
        return (f"{r['alpha']:.3f} (no error bar: {int(r['runs'])} seed; the bootstrap over "
                f"seeds needs at least 2)")
    if not np.isfinite(r["alpha_err"]):
        return f"{r['alpha']:.3f} (no error bar: the resampled means did not stay positive)"
    return f"{r['alpha']:.3f} ± {r['alpha_err']:.3f}"


def fit_table(series: pd.DataFrame, t_min: float = 1.0, n_boot: int = 100) -> str:
    """Markdown table of the drift fit (mean tv·√N ∝ t^alpha) per parameter combination;
    '' when nothing varies or the groups are too many to list."""
    by = varying(series) if not series.empty else []
    if not by:
        return ""
    fit = drift_fit(series, by=by, t_min=t_min, n_boot=n_boot)
    if len(fit) > MAX_CURVES:
        return ""
    lines = ["| " + " | ".join(by) + " | runs | growth exponent alpha |",
             "|" + "---|" * (len(by) + 2)]
    for _, r in fit.iterrows():
        vals = " | ".join(_fmt(r[c]) for c in by)
        lines.append(f"| {vals} | {r['runs']} | {_alpha_cell(r)} |")
    return ("**Drift fit** (mean tv·√N ∝ t^alpha for t ≥ t_min; ± is a bootstrap "
            "over seeds):\n\n" + "\n".join(lines))


def categories(summary: pd.DataFrame, column: str) -> dict[str, Any]:
    """A heatmap axis's labels (as :func:`heatmap_plot` writes them) to the values."""
    return {_fmt(v): v for v in summary[column].dropna().unique()}


def runs_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per stored run: what varies, the seed, two metrics and its live link."""
    if summary.empty:
        return pd.DataFrame()
    cols = [c for c in [*varying(summary), "seed", "max_tv_sqrtN", "absorbed"]
            if c in summary.columns]
    table = summary.sort_values(cols[:-2] or ["key"])
    out = table[cols].reset_index(drop=True)
    out["live"] = [live_link(r) for _, r in table.iterrows()]
    return out
