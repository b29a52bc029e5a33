"""The "Studies" page: results of parameter sweeps (engine/studies/) from the data folder
(engine/studies/datadir.py), and small sweeps run from the page on the shared Dask client
(app/studies_cluster.py).

The figures are plain functions in app/studies_plots.py (the docs render the same ones).
Every stored run links to the dashboard with its preset, parameters and seed
(app/studies_links.py): a row of the runs table, a point of a drift curve, or a cell of
the heatmap.
"""

from __future__ import annotations

import threading
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param

from real_ensemble_lab.engine.core.errors import InputError
from real_ensemble_lab.engine.studies.analysis import load_series, load_summary, varying
from real_ensemble_lab.engine.studies.datadir import STUDIES as STUDIES_SUBDIR
from real_ensemble_lab.engine.studies.datadir import data_dir, resolve_inside, result_dirs

from . import studies_cluster as cluster
from .a11y import SECTION_CSS
from .studies_cluster import close_shared_client, shared_client  # noqa: F401 - the API
from .studies_links import link_gaps, live_link
from .studies_plots import (  # noqa: F401 - re-exported for docs/render_studies.py
    MAX_CURVES,
    _fmt,
    _label,
    absorption_plot,
    categories,
    drift_pick,
    drift_plot,
    fit_table,
    heatmap_plot,
    runs_of,
    runs_table,
)

#: The study configs the page can run: package data (assets/studies/*.yaml).
STUDIES = files("real_ensemble_lab.assets") / "studies"
METRICS = ["max_tv_sqrtN", "final_tv_sqrtN", "max_tv", "final_tv", "absorbed", "wall_time"]
#: Runs listed at most under one heatmap cell or drift curve that was clicked.
MAX_CELL_LINKS = 12
#: Height of the runs table (px) past which it scrolls (about 12 rows).
RUNS_HEIGHT = 420
#: Under this page width (px) the controls stack above the plots (phones, small tablets).
NARROW = 800
#: The page's boxes on a narrow screen: the controls above the plots (the flex box wraps),
#: each as wide as the page. Heights stay the content's: a Bokeh Row set a fixed height
#: from its side-by-side layout, so on a phone the plots were drawn over the controls.
NARROW_CSS = f"""@media (max-width: {NARROW}px) {{
  :host {{max-width: calc(100vw - 16px);}}
  :host > * {{max-width: 100% !important; min-width: 0 !important;}}
}}"""
_LINK = {"type": "link", "label": "open live ↗", "target": "_blank"}


def _run_links(title: str, runs: pd.DataFrame) -> str:
    """Markdown: ``title`` and a live link per run (by seed, at most MAX_CELL_LINKS)."""
    links = [f"[seed {int(r['seed'])} ↗]({live_link(r)})"
             for _, r in runs.head(MAX_CELL_LINKS).iterrows()]
    more = f" (first {MAX_CELL_LINKS} of {len(runs)})" if len(runs) > MAX_CELL_LINKS else ""
    gaps = link_gaps(runs.iloc[0]) if len(runs) else []
    note = (f" The address cannot carry {', '.join(gaps)}: the live run uses the "
            f"dashboard's defaults for them." if gaps else "")
    return f"**{title}**: open a run live{more}: " + " · ".join(links) + note


class StudiesView(pn.viewable.Viewer):
    """Browse sweep results in the data folder and run small sweeps (issues 5, 17, 18)."""

    directory = param.String(default="", doc="Results folder inside the data folder "
                             "(relative to it, or absolute inside it).")
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
        studies = sorted(p.name.removesuffix(".yaml") for p in STUDIES.iterdir()
                         if p.name.endswith(".yaml"))
        dirs = self._dirs()
        params.setdefault("directory", dirs[0] if dirs else "")
        super().__init__(**params)
        self.param.study.objects = studies
        if studies and self.study is None:
            self.study = studies[0]
        cluster.hold()  # this session may use the shared cluster (here or in its Bell tests)
        self.summary = pd.DataFrame()
        self.series = pd.DataFrame()
        self._doc = None
        self._loading = False
        self.param.watch(self._swap, ["x", "y"])
        self._dir_select = pn.widgets.Select(label="Results", options=[""] + dirs,
                                             value=self.directory if self.directory in dirs
                                             else "")
        self._dir_select.param.watch(self._picked, "value")
        self._dir_input = pn.widgets.TextInput.from_param(self.param.directory,
                                                          label="Results folder")
        self._x_select = pn.widgets.Select.from_param(self.param.x, label="Heatmap x")
        self._y_select = pn.widgets.Select.from_param(self.param.y, label="Heatmap y")
        self._run_button = pn.widgets.Button(label="Run sweep", color="primary",
                                             disabled=cluster.hosted())
        self._run_button.on_click(self._start_sweep)
        self.progress = pn.indicators.Progress(value=0, max=1, width=300, visible=False)
        self.status = pn.pane.Markdown(self._hosted_note(), sizing_mode="stretch_width")
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width",
                                        css_classes=["studies-message"])
        self._drift = pn.pane.HoloViews(None, sizing_mode="stretch_width", max_width=760)
        self._curve = pn.pane.Markdown("", sizing_mode="stretch_width",
                                       css_classes=["studies-curve-links"])
        self._absorb = pn.pane.HoloViews(None, sizing_mode="stretch_width", max_width=620)
        self._heat = pn.pane.HoloViews(None, sizing_mode="stretch_width", max_width=620)
        self._cell = pn.pane.Markdown("", sizing_mode="stretch_width")
        # a wide table scrolls inside its own box on a phone, not the page
        self._tables = pn.pane.Markdown("", sizing_mode="stretch_width",
                                        stylesheets=[":host {overflow-x: auto; max-width: 100%;}"])
        # no pagination: Tabulator puts its page buttons inside its role=grid (axe:
        # aria-required-children); the table scrolls instead, every row drawn so that Tab
        # reaches every run's link
        self._runs = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False,
                                          pagination=None, max_height=RUNS_HEIGHT,
                                          configuration={"renderVertical": "basic"},
                                          formatters={"live": _LINK}, visible=False,
                                          css_classes=["studies-runs"],
                                          # a phone: the table scrolls, not the page
                                          stylesheets=[":host {max-width: 100%;}"])
        self._load()

    # -- data -------------------------------------------------------------------------
    @staticmethod
    def _dirs() -> list[str]:
        try:
            return result_dirs()
        except InputError:
            return []

    @staticmethod
    def _hosted_note() -> str:
        if cluster.hosted():
            return ("Sweeps from the page are off on this hosted server; load existing "
                    "results above.")
        return ""

    def _picked(self, event) -> None:
        if event.new:
            self.directory = event.new

    def refresh_dirs(self) -> None:
        """List the results folders again (after a sweep, or one written meanwhile)."""
        self._dir_select.options = [""] + self._dirs()

    @param.depends("directory", watch=True)
    def _load(self) -> None:
        self.summary, self.series = pd.DataFrame(), pd.DataFrame()
        self._cell.object = self._curve.object = ""
        if not self.directory:
            self.message.object = "Choose a results folder, or run a sweep below."
            self._refresh()
            return
        try:
            path = resolve_inside(self.directory, data_dir())
            self.summary = load_summary(path)
            if not self.summary.empty:
                cols = ["key", "t", "tv_sqrtN", *varying(self.summary), "seed"]
                self.series = load_series(path, columns=cols)
        except InputError as err:
            self.summary, self.series = pd.DataFrame(), pd.DataFrame()
            self.message.object = f"**{err}**"
            self._refresh()
            return
        axes = varying(self.summary)
        self._loading = True  # one redraw at the end, not one per axis set
        try:
            self.param.x.objects = axes
            self.param.y.objects = axes
            if axes:  # not discard_events: the boxes must show the axes drawn
                x = "N" if "N" in axes else axes[-1]
                rest = [a for a in axes if a != x]
                self.param.update(x=x, y=rest[0] if rest else x)
        finally:
            self._loading = False
        self.message.object = (f"{len(self.summary)} runs in `{self.directory}`; parameters "
                               f"that vary: {', '.join(axes) or 'none'}.")
        self._refresh()

    def _swap(self, *events) -> None:
        """x chosen equal to y (or y to x): the other axis takes the one given up."""
        if self._loading or self.x != self.y:
            return
        for e in events:
            if e.old is not None and e.old != e.new:
                setattr(self, "y" if e.name == "x" else "x", e.old)
                return

    @param.depends("metric", "x", "y", "t_min", watch=True)
    def _refresh(self) -> None:
        if self._loading:
            return
        s, ser = self.summary, self.series
        if s.empty:
            for pane in (self._drift, self._absorb, self._heat):
                pane.object = None
            self._tables.object = self._curve.object = ""
            self._runs.value, self._runs.visible = pd.DataFrame(), False
            return
        if ser.empty:
            self._drift.object, self._curve.object = None, ""
        else:
            drift = drift_plot(ser, responsive=True)
            hv.streams.Tap(source=drift, x=None, y=None).add_subscriber(self._curve_links)
            self._drift.object = drift
            if not self._curve.object:
                self._curve.object = "Click a point of a curve for links to its runs."
        self._absorb.object = absorption_plot(s, responsive=True) if "N" in s.columns else None
        if self.x and self.y and self.x != self.y:
            heat = heatmap_plot(s, self.x, self.y, self.metric, responsive=True)
            hv.streams.Tap(source=heat, x=None, y=None).add_subscriber(self._cell_links)
            self._heat.object = heat
            if not self._cell.object:
                self._cell.object = "Click a cell of the heatmap for links to its runs."
        else:
            self._heat.object = None
        self._tables.object = fit_table(ser, t_min=self.t_min) if not ser.empty else ""
        self._runs.value, self._runs.visible = runs_table(s), True

    def _cell_links(self, x: Any = None, y: Any = None) -> None:
        """Links to the runs under the heatmap cell at (x, y) (axis labels)."""
        s = self.summary
        if x is None or y is None or s.empty or not self.x or self.x == self.y:
            return
        xs, ys = categories(s, self.x), categories(s, self.y)
        if x not in xs or y not in ys:
            return
        cell = s[(s[self.x] == xs[x]) & (s[self.y] == ys[y])].sort_values("seed")
        self._cell.object = _run_links(f"{self.x} = {x}, {self.y} = {y}", cell)

    def _curve_links(self, x: Any = None, y: Any = None) -> None:
        """Links to the runs of the drift curve(s) through the point nearest (x, y)."""
        s, ser = self.summary, self.series
        if x is None or y is None or s.empty or ser.empty:
            return
        t, picked = drift_pick(ser, x, y)
        if not picked:
            self._curve.object = ("No curve there: click a point of a curve for links to "
                                  "its runs.")
            return
        by = list(picked[0])
        self._curve.object = "\n\n".join(
            _run_links(f"{_label(vals, by) or 'all runs'} (point at t = {_fmt(t)})",
                       runs_of(s, vals)) for vals in picked)

    # -- running a sweep ----------------------------------------------------------------
    def _start_sweep(self, event=None) -> None:
        if self.running or self.study is None:
            return
        refused = cluster.try_start_sweep()
        if refused is not None:
            self.status.object = refused
            return
        self._doc = pn.state.curdoc
        cluster.hold()
        with param.edit_constant(self):
            self.running = True
        self._run_button.disabled = True
        self.progress.value, self.progress.max, self.progress.visible = 0, 1, True
        where = "the Dask scheduler" if cluster.remote() else "a local cluster"
        self.status.object = f"Starting {where} for **{self.study}** …"
        threading.Thread(target=self._run_sweep, args=(self.study, self.seeds),
                         daemon=True).start()

    def _on_loop(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the document's event loop (or now, without a server)."""
        doc = self._doc
        if doc is not None and getattr(doc, "session_context", None) is not None:
            try:
                doc.add_next_tick_callback(lambda: fn(*args))
            except Exception:  # the page was closed meanwhile: nobody to tell
                pass
        else:
            fn(*args)

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.object = f"Running **{self.study}**: {done} / {total} runs"

    def _finished(self, out: str, text: str) -> None:
        self.progress.visible = False
        self.status.object = text
        self.refresh_dirs()  # the new folder, and any written meanwhile
        if out:
            if self.directory == out:
                self._load()  # the same folder, with more runs
            else:
                self.directory = out
            self._dir_select.value = out if out in self._dir_select.options else ""
        self._run_button.disabled = cluster.hosted()
        with param.edit_constant(self):
            self.running = False  # last: whoever waits for it sees the results loaded

    def sweep_folder(self, study: str, seeds: int) -> tuple[str, Path]:
        """Where a sweep from the page writes: relative name and path in the data folder."""
        rel = f"{STUDIES_SUBDIR}/{study}-page-{seeds}seeds"
        return rel, resolve_inside(rel, data_dir(create=True))

    def _run_sweep(self, study: str, seeds: int) -> None:
        from real_ensemble_lab.engine.studies.config import load_config
        from real_ensemble_lab.engine.studies.runner import run_sweep

        try:
            rel, out = self.sweep_folder(study, seeds)
            with as_file(STUDIES / f"{study}.yaml") as path:
                config = {**load_config(path), "seeds": seeds}
            out.parent.mkdir(parents=True, exist_ok=True)
            res = run_sweep(config, out, client=shared_client(),
                            shared_fs=not cluster.remote(),
                            progress=lambda d, t: self._on_loop(self._progress, d, t),
                            log=lambda msg: None)
            text = (f"Done: {res.computed} runs computed, {res.skipped} already there, "
                    f"{res.failed} failed, in {res.wall_time:.1f} s → `{rel}`")
            self._on_loop(self._finished, rel, text)
        except Exception as err:  # shown on the page; the thread must not die silently
            self._on_loop(self._finished, "", f"**The sweep failed: {err}**")
        finally:
            cluster.end_sweep()

    # -- layout -------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Column(
            pn.pane.Markdown("## Results", stylesheets=[SECTION_CSS]),
            self._dir_select, self._dir_input,
            pn.pane.Markdown(f"Folders inside the data folder `{data_dir()}` "
                             f"(set by `REAL_ENSEMBLE_LAB_DATA`).",
                             styles={"color": "#6b7280", "font-size": "0.85em"}),
            pn.widgets.Select.from_param(self.param.metric, label="Heatmap metric"),
            self._x_select, self._y_select,
            pn.widgets.FloatInput.from_param(self.param.t_min, label="Drift fit from t ="),
            pn.pane.Markdown("## Run a small sweep", stylesheets=[SECTION_CSS]),
            pn.widgets.Select.from_param(self.param.study, label="Study (assets/studies)"),
            pn.widgets.IntSlider.from_param(self.param.seeds, label="Seeds"),
            self._run_button, self.progress, self.status,
            width=320,
        )
        plots = pn.Column(self.message, self._drift, self._curve, self._tables,
                          self._absorb, self._heat, self._cell,
                          "**Runs** (each opens live in the dashboard with its preset, "
                          "parameters and seed)", self._runs, sizing_mode="stretch_width",
                          styles={"flex": f"1 1 {NARROW - 320}px", "min-width": "0"})
        # a CSS flex box, not a Row: under NARROW px the plots wrap below the controls
        return pn.FlexBox(controls, plots, name="Studies", flex_wrap="wrap",
                          align_items="flex-start", sizing_mode="stretch_width",
                          stylesheets=[NARROW_CSS], css_classes=["studies-page"])
