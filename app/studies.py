"""The "Studies" page: results of parameter sweeps (engine/sweep.py), and small sweeps run
from the page on a local Dask cluster.

Plots (HoloViews, Bokeh backend) come from the engine's analysis helpers
(engine/analysis.py): error·√N against t per N (PHYSICS.md §3 "Drift"), the probability
of absorption into an empty class against N with Wilson intervals, and a heatmap of a
deviation metric over two chosen parameters. The plot builders are plain functions so the
docs (docs/studies.md) render the very same figures.
"""

from __future__ import annotations

import atexit
import math
import threading
from pathlib import Path
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from engine.analysis import (
    absorption_probability,
    deviation_grid,
    drift_fit,
    error_curves,
    load_series,
    load_summary,
    varying,
)
from engine.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "assets" / "studies"
RESULTS = ROOT / "results"
METRICS = ["max_tv_sqrtN", "final_tv_sqrtN", "max_tv", "final_tv", "absorbed", "wall_time"]
#: Curves drawn at most in the error plot (one per parameter combination).
MAX_CURVES = 40

if "bokeh" not in hv.Store.renderers:
    hv.extension("bokeh", logo=False)


# --- plot builders (used by the page and by docs/render_studies.py) ----------------------

def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
        return str(v)
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _label(row: pd.Series | dict, cols: list[str]) -> str:
    return ", ".join(f"{c.removeprefix('pp_')}={_fmt(row[c])}" if c != "mode" else str(row[c])
                     for c in cols)


def drift_plot(series: pd.DataFrame, width: int = 760, height: int = 380) -> hv.Overlay:
    """Mean over seeds of tv·√N against t, one curve per parameter combination."""
    by = varying(series)
    curves = error_curves(series, by)
    groups = list(curves.groupby(by, sort=True)) if by else [((), curves)]
    # One colour per N (the same for every mode), dashed lines for Bell's baseline.
    Ns = sorted(series["N"].unique()) if "N" in by else []
    palette = hv.Cycle("Category10").values
    hv_curves = []
    for i, (gkey, g) in enumerate(groups[:MAX_CURVES]):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        vals = dict(zip(by, gkey, strict=True))
        lab = _label(vals, by) or "all runs"
        dash = "dashed" if vals.get("mode") == "bell" else "solid"
        color = palette[(Ns.index(vals["N"]) if Ns else i) % len(palette)]
        hv_curves.append(hv.Curve(g, "t", ("mean", "tv·√N"), label=lab)
                         .opts(line_dash=dash, color=color))
    # the legend below the plot, four entries a row: the curves keep the plot's width
    return hv.Overlay(hv_curves).opts(
        width=width, height=height + 30 * math.ceil(len(hv_curves) / 4),
        legend_position="bottom", legend_cols=min(4, len(hv_curves)),
        title="error·√N against t",
        show_grid=True, tools=["hover"], xlabel="t", ylabel="mean tv·√N")


def absorption_plot(summary: pd.DataFrame, width: int = 620, height: int = 320) -> hv.Overlay:
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
        width=width, height=height, logx=True, legend_position="right", show_grid=True,
        title="absorption into an empty class against N (95 % Wilson)", ylim=(-0.02, 1.02),
        xlabel="N", ylabel="P(absorbed)")


def heatmap_plot(summary: pd.DataFrame, x: str, y: str, metric: str = "max_tv_sqrtN",
                 width: int = 620, height: int = 360, logz: bool = False) -> hv.HeatMap:
    """Mean of ``metric`` over the runs at each (x, y): the deviation over two parameters."""
    df = summary.assign(absorbed=summary["absorbed"].astype(float))
    grid = deviation_grid(df, x, y, metric)
    # Categorical axes keep uneven grids (N = 100, 1000, ...) readable.
    grid[x] = grid[x].map(_fmt)
    grid[y] = grid[y].map(_fmt)
    return hv.HeatMap(grid, [x, y], metric).opts(
        width=width, height=height, cmap="viridis", colorbar=True, tools=["hover"],
        logz=logz, title=f"mean {metric} over {x} and {y}", xrotation=45)


# --- a local cluster shared by every session of the page --------------------------------

_CLUSTER: dict[str, Any] = {}
_LOCK = threading.Lock()


def shared_client(workers: int = 2):
    """A Dask client on one LocalCluster shared by the page's sweeps (closed at exit)."""
    from distributed import Client

    from engine.sweep import local_cluster

    with _LOCK:
        if "client" not in _CLUSTER:
            cluster = local_cluster(workers)
            _CLUSTER["cluster"] = cluster
            _CLUSTER["client"] = Client(cluster, set_as_default=False)
            atexit.register(close_shared_client)
        return _CLUSTER["client"]


def close_shared_client() -> None:
    with _LOCK:
        client = _CLUSTER.pop("client", None)
        cluster = _CLUSTER.pop("cluster", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def result_dirs(root: Path = RESULTS) -> list[str]:
    """Folders under ``root`` holding sweep results (a summary/ folder)."""
    if not root.is_dir():
        return []
    return sorted(str(p.parent) for p in root.glob("*/summary") if p.is_dir())


# --- the page ---------------------------------------------------------------------------

class StudiesView(pn.viewable.Viewer):
    """Browse sweep results and run small sweeps (issue 5)."""

    directory = param.String(default="", doc="Folder of sweep results (python -m engine sweep).")
    metric = param.Selector(default="max_tv_sqrtN", objects=METRICS,
                            doc="Deviation shown in the heatmap.")
    x = param.Selector(default=None, objects=[], doc="Heatmap: parameter on the x axis.")
    y = param.Selector(default=None, objects=[], doc="Heatmap: parameter on the y axis.")
    study = param.Selector(default=None, objects=[], doc="Study config to run from the page.")
    seeds = param.Integer(default=5, bounds=(1, 50),
                          doc="Seeds per grid point of the sweep run from the page.")
    t_min = param.Number(default=1.0, bounds=(0.0, None), doc="Drift fit: earliest time used.")
    running = param.Boolean(default=False, constant=True)

    def __init__(self, **params: Any):
        studies = sorted(p.stem for p in STUDIES.glob("*.yaml"))
        dirs = result_dirs()
        params.setdefault("directory", dirs[0] if dirs else "")
        super().__init__(**params)
        self.param.study.objects = studies
        if studies and self.study is None:
            self.study = studies[0]
        self.summary = pd.DataFrame()
        self.series = pd.DataFrame()
        self._doc = None
        self._dir_select = pn.widgets.Select(label="Results", options=[""] + dirs,
                                             value=self.directory if self.directory in dirs
                                             else "")
        self._dir_select.param.watch(self._picked, "value")
        self._dir_input = pn.widgets.TextInput.from_param(self.param.directory,
                                                          label="Results folder")
        self._run_button = pn.widgets.Button(label="Run sweep", color="primary")
        self._run_button.on_click(self._start_sweep)
        self.progress = pn.indicators.Progress(value=0, max=1, width=300, visible=False)
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._drift = pn.pane.HoloViews(None, sizing_mode="fixed")
        self._absorb = pn.pane.HoloViews(None, sizing_mode="fixed")
        self._heat = pn.pane.HoloViews(None, sizing_mode="fixed")
        self._tables = pn.pane.Markdown("")
        self._load()

    # -- data -------------------------------------------------------------------------
    def _picked(self, event) -> None:
        if event.new:
            self.directory = event.new

    @param.depends("directory", watch=True)
    def _load(self) -> None:
        self.summary, self.series = pd.DataFrame(), pd.DataFrame()
        if not self.directory:
            self.message.object = "Choose a results folder, or run a sweep below."
            self._refresh()
            return
        try:
            self.summary = load_summary(self.directory)
            if not self.summary.empty:
                cols = ["key", "t", "tv_sqrtN", *varying(self.summary), "seed"]
                self.series = load_series(self.directory, columns=cols)
        except InputError as err:
            self.message.object = f"**{err}**"
            self._refresh()
            return
        axes = varying(self.summary)
        self.param.x.objects = axes
        self.param.y.objects = axes
        if axes:
            with param.parameterized.discard_events(self):
                self.x = axes[-1] if "N" not in axes else "N"
                rest = [a for a in axes if a != self.x]
                self.y = rest[0] if rest else self.x
        self.message.object = (f"{len(self.summary)} runs in `{self.directory}`; parameters "
                               f"that vary: {', '.join(axes) or 'none'}.")
        self._refresh()

    @param.depends("metric", "x", "y", "t_min", watch=True)
    def _refresh(self) -> None:
        s, ser = self.summary, self.series
        if s.empty:
            for pane in (self._drift, self._absorb, self._heat):
                pane.object = None
            self._tables.object = ""
            return
        self._drift.object = drift_plot(ser) if not ser.empty else None
        self._absorb.object = absorption_plot(s) if "N" in s.columns else None
        if self.x and self.y and self.x != self.y:
            self._heat.object = heatmap_plot(s, self.x, self.y, self.metric)
        else:
            self._heat.object = None
        self._tables.object = self._fit_table()

    def _fit_table(self) -> str:
        by = varying(self.series)
        if self.series.empty or not by:
            return ""
        fit = drift_fit(self.series, by=by, t_min=self.t_min, n_boot=100)
        if len(fit) > MAX_CURVES:
            return ""
        lines = ["| " + " | ".join(by) + " | runs | growth exponent alpha |",
                 "|" + "---|" * (len(by) + 2)]
        for _, r in fit.iterrows():
            vals = " | ".join(_fmt(r[c]) for c in by)
            lines.append(f"| {vals} | {r['runs']} | {r['alpha']:.3f} ± {r['alpha_err']:.3f} |")
        return ("**Drift fit** (mean tv·√N ∝ t^alpha for t ≥ t_min; ± is a bootstrap "
                "over seeds):\n\n" + "\n".join(lines))

    # -- running a sweep ----------------------------------------------------------------
    def _start_sweep(self, event=None) -> None:
        if self.running or self.study is None:
            return
        self._doc = pn.state.curdoc
        with param.edit_constant(self):
            self.running = True
        self._run_button.disabled = True
        self.progress.value, self.progress.max, self.progress.visible = 0, 1, True
        self.status.object = f"Starting a local cluster for **{self.study}** …"
        threading.Thread(target=self._run_sweep, args=(self.study, self.seeds),
                         daemon=True).start()

    def _on_loop(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the document's event loop (or now, without a server)."""
        doc = self._doc
        if doc is not None and getattr(doc, "session_context", None) is not None:
            doc.add_next_tick_callback(lambda: fn(*args))
        else:
            fn(*args)

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.object = f"Running **{self.study}**: {done} / {total} runs"

    def _finished(self, out: str, text: str) -> None:
        with param.edit_constant(self):
            self.running = False
        self._run_button.disabled = False
        self.progress.visible = False
        self.status.object = text
        self._dir_select.options = [""] + result_dirs()
        if out:
            self.directory = ""  # force a reload even when the folder is the same
            self.directory = out

    def _run_sweep(self, study: str, seeds: int) -> None:
        from engine.sweep import load_config, run_sweep

        out = RESULTS / f"{study}-page-{seeds}seeds"
        try:
            config = {**load_config(STUDIES / f"{study}.yaml"), "seeds": seeds}
            RESULTS.mkdir(exist_ok=True)
            res = run_sweep(config, out, client=shared_client(),
                            progress=lambda d, t: self._on_loop(self._progress, d, t),
                            log=lambda msg: None)
            text = (f"Done: {res.computed} runs computed, {res.skipped} already there, "
                    f"{res.failed} failed, in {res.wall_time:.1f} s → `{out}`")
            self._on_loop(self._finished, str(out), text)
        except Exception as err:  # shown on the page; the thread must not die silently
            self._on_loop(self._finished, "", f"**The sweep failed: {err}**")

    # -- layout -------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Column(
            "### Results",
            self._dir_select, self._dir_input,
            pn.widgets.Select.from_param(self.param.metric, label="Heatmap metric"),
            pn.widgets.Select.from_param(self.param.x, label="Heatmap x"),
            pn.widgets.Select.from_param(self.param.y, label="Heatmap y"),
            pn.widgets.FloatInput.from_param(self.param.t_min, label="Drift fit from t ="),
            "### Run a small sweep",
            pn.widgets.Select.from_param(self.param.study, label="Study (assets/studies)"),
            pn.widgets.IntSlider.from_param(self.param.seeds, label="Seeds"),
            self._run_button, self.progress, self.status,
            width=320,
        )
        plots = pn.Column(self.message, self._drift, self._tables, self._absorb, self._heat)
        return pn.Row(controls, plots, name="Studies")
