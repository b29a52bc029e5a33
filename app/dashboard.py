"""The live dashboard: a ``pn.viewable.Viewer`` that drives one :class:`Runner` per session.

Data flow (issue 4): widgets -> parameters -> runner commands (applied between steps in the
runner's thread) -> latest frame in a slot -> periodic callback on the document's event
loop -> Bokeh ColumnDataSources updated in place. The widgets are built from the engine's
single parameter spec, :class:`engine.SimParams`.
"""

from __future__ import annotations

import io
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
from panel.theme.fast import Fast

from engine import (
    Hamiltonian,
    InputError,
    SimParams,
    build_preset,
    make_params,
    preset_info,
    preset_names,
)
from engine import lessons as lesson_data
from engine.classical import is_lattice
from engine.params import N_MAX, param_names, params_dict
from engine.simulate import write_csv

from . import bokeh_fixes
from .bell_tests import BellTests
from .composite_views import JointGridView, MarginalsView
from .lesson_views import ClassicalView
from .matrix import MatrixEditor
from .runner import Published, Runner
from .views import (
    DeviationView,
    HistogramView,
    PhaseView,
    PopulationsView,
    TrackedView,
)

log = logging.getLogger("app.dashboard")

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LOGO = ASSETS / "logo.svg"
#: Period of the document's pull of the latest frame while playing (ms): 40 Hz, so a
#: frame waits little for its pull (frames come at most as fast as the engine steps).
TICK_MS = 25
#: ... and while paused (a step, restart or error still shows within a tenth of a second).
IDLE_TICK_MS = 100
#: Seconds between updates of the plots over time (their rows are buffered meanwhile).
SERIES_PERIOD = 0.2
#: Parameters shown only with individual phases (agents mode).
AGENT_ONLY = ("phases", "f", "gamma", "potential", "normalisation", "init_phases",
              "phase_noise", "tracked")
#: Simulation parameters carried by the URL (the rest keep their defaults).
URL_PARAMS = ("mode", "N", "r", "f", "gamma", "potential", "normalisation", "init_phases",
              "phases", "spectators", "admixture", "seed", "reference", "align_threshold")
REFERENCE_LABELS = {
    "exact from ψ₀": "initial",
    "the ensemble's own state once aligned": "own",
}
REANCHOR_TIP = ("Compare from now on with the exact evolution of the state the ensemble "
                "stands for, ψ_a = √(n_a/N) e^{−iφ̄_a}; use it once the phases have aligned.")
STEP_ERROR_TIP = ("The time stepping, not the finite ensemble, dominates D·√N here: "
                  "lower the tolerances.")
MODE_LABELS = {
    "agents": "Agents: every system has its own phase",
    "population": "Population: counts and class phases",
    "bell": "Bell baseline: guided by the exact ψ",
}


def available_modes() -> list[str]:
    """Engine modes that can run here ('agents' only once engine.agents imports)."""
    modes = ["population", "bell"]
    try:
        import engine.agents  # noqa: F401
    except ImportError:
        return modes
    return ["agents", *modes]


def n_options(mode: str) -> dict[str, int]:
    """N on a log scale: 1, 2, 5 x 10^k up to the mode's limit, labelled like 2×10⁵."""
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    out: dict[str, int] = {}
    for k in range(1, 16):
        for m in (1, 2, 5):
            n = m * 10**k
            if n > N_MAX[mode]:
                return out
            label = f"10{str(k).translate(sup)}" if m == 1 else f"{m}×10{str(k).translate(sup)}"
            out[label if k > 3 else f"{n:,}".replace(",", " ")] = n
    return out


def nearest_option(N: int, options: dict[str, int]) -> int:
    vals = np.array(list(options.values()), dtype=float)
    return int(vals[np.argmin(np.abs(np.log10(vals) - math.log10(max(N, 1))))])


class EnsembleApp(pn.viewable.Viewer):
    """The Real Ensemble Lab dashboard (issue 4).

    Parameters are declared here (preset, speed, play state) and in ``sim``, an instance of
    the engine's :class:`SimParams`; each widget is built from that declaration.
    """

    preset = param.Selector(default="two_level", objects=preset_names(),
                            doc="Preset Hamiltonian (assets/presets.yaml).")
    preset_values = param.Dict(default={}, doc="The preset's own parameters (overrides).")
    speed = param.Number(default=1.0, bounds=(0.05, 20.0), step=0.05,
                         doc="Simulated time units per second of wall-clock time.")
    playing = param.Boolean(default=False, doc="Whether the simulation runs.")
    lesson = param.String(default="", doc="The lesson shown (assets/lessons.yaml); '' none.")
    presentation = param.Boolean(default=False, doc="Projector layout: large text, the "
                                 "lesson on top, advanced controls hidden.")
    sim = param.ClassSelector(class_=SimParams, doc="The simulation parameters (engine spec).")

    def __init__(self, **params: Any):
        sim_values = {k: params.pop(k) for k in list(params) if k in SimParams.param
                      and k != "name"}
        super().__init__(**params)
        _pin_local_stylesheets()
        self.sim = make_params(**sim_values) if sim_values else SimParams()
        self.modes = available_modes()
        if self.sim.mode not in self.modes:
            self.sim.mode = "population"
        self.runner: Runner | None = None
        self._callback = None
        self._last_seq = -1
        self._generation = -1
        self._flushed: dict[str, float] = {}  # view name -> time of its last flush
        self._flush_turn = 0
        self._error_seq = 0
        self._restart_pending = False
        self._custom: Hamiltonian | None = None  # a matrix edited by hand
        self._lesson: lesson_data.Lesson | None = None  # the lesson shown (issue 6)
        self._preset_widgets: dict[str, pn.widgets.Widget] = {}
        self._cards: dict[str, pn.Card] = {}
        self._building = False
        self.views: dict[str, Any] = {}
        self._build_widgets()
        self.sim.param.watch(self._on_sim_change, [k for k in SimParams.param if k != "name"])
        self.param.watch(self._on_preset, ["preset"])
        self.param.watch(self._on_preset_values, ["preset_values"])
        self.param.watch(lambda e: self.load_lesson(e.new or None), ["lesson"])
        self.param.watch(lambda e: self.set_presentation(e.new), ["presentation"])
        self.param.watch(self._on_speed, ["speed"])
        self.param.watch(self._on_playing, ["playing"])
        self._show_preset_widgets()

    # -- the Hamiltonian and parameters --------------------------------------------------
    def hamiltonian(self) -> Hamiltonian:
        """The current Hamiltonian: the hand-edited matrix, or the preset with its values."""
        if self._custom is not None:
            return self._custom
        return build_preset(self.preset, **self.preset_values)

    def sim_params(self) -> SimParams:
        """Validated parameters for a new ensemble (InputError sentence when invalid)."""
        return make_params(**params_dict(self.sim))

    def _bell_context(self) -> tuple[Hamiltonian, SimParams, str, dict]:
        """What the Bell tests run with: the current Hamiltonian, parameters and preset."""
        return self.hamiltonian(), self.sim_params(), self.preset, dict(self.preset_values)

    # -- widgets -----------------------------------------------------------------------
    def _w(self, pname: str, widget: type, **kw: Any) -> pn.widgets.Widget:
        """A widget for SimParams parameter ``pname``, built from and linked to its spec."""
        w = widget.from_param(self.sim.param[pname], sizing_mode="stretch_width", **kw)
        return undebounced(w)

    def _build_widgets(self) -> None:
        W = pn.widgets
        sim = self.sim
        self.play_button = W.Button(label="Play", color="success", height=48,
                                    sizing_mode="stretch_width", stylesheets=[_BIG_BUTTON])
        self.play_button.on_click(lambda e: setattr(self, "playing", not self.playing))
        self.step_button = W.Button(label="Step", height=48, color="primary",
                                    sizing_mode="stretch_width",
                                    variant="outline", stylesheets=[_BIG_BUTTON])
        self.step_button.on_click(lambda e: self._send("step"))
        self.reset_button = W.Button(label="Reset", height=48, color="primary",
                                     sizing_mode="stretch_width",
                                     variant="outline", stylesheets=[_BIG_BUTTON])
        self.reset_button.on_click(lambda e: self.reset())
        self.speed_slider = undebounced(W.FloatSlider.from_param(
            self.param.speed, label="Speed (time units / s)", start=0.05, end=5.0, step=0.05,
            sizing_mode="stretch_width"))
        self.mode_select = W.Select(label="Engine", options={MODE_LABELS[m]: m
                                                              for m in self.modes},
                                    value=sim.mode, description=SimParams.param.mode.doc,
                                    sizing_mode="stretch_width")
        self.mode_select.link(sim, value="mode", bidirectional=True)
        opts = n_options(sim.mode)
        self.N_slider = W.DiscreteSlider(label="Ensemble size N (log scale)", options=opts,
                                         value=nearest_option(sim.N, opts),
                                         sizing_mode="stretch_width")
        self.N_slider.param.watch(lambda e: setattr(self.sim, "N", int(e.new)), "value")
        self.r_slider = self._w("r", W.FloatSlider, step=0.01, css_classes=["r-slider"],
                                label="Exponent r (quantum: −1/2)")
        self.r_reset = W.Button(label="r = −½", width=80, color="light",
                                align="end")
        self.r_reset.on_click(lambda e: setattr(self.sim, "r", -0.5))
        self.f_slider = self._w("f", W.FloatSlider, start=0.0, end=20.0, step=0.1,
                                label="Alignment frequency f")
        self.gamma_slider = self._w("gamma", W.FloatSlider, start=0.0, end=10.0, step=0.05,
                                    label="Damping γ")
        self.potential = self._w("potential", W.RadioButtonGroup, label="Potential",
                                 color="primary", variant="outline")
        self.normalisation = self._w("normalisation", W.RadioButtonGroup,
                                     label="Normalisation", color="primary",
                                     variant="outline")
        self.phases = self._w("phases", W.RadioButtonGroup, label="Phases",
                              color="primary", variant="outline")
        self.init_phases = self._w("init_phases", W.Select, label="Initial phases")
        self.reference = self._w("reference", W.Select, label="Compare with",
                                 options=REFERENCE_LABELS, css_classes=["reference"])
        self.align_threshold = self._w("align_threshold", W.FloatSlider, start=0.0, end=1.0,
                                       step=0.001, format="0.000",
                                       label="Re-anchor when every class's order reaches")
        self.reanchor_button = W.Button(label="Re-anchor to the ensemble", color="primary",
                                        variant="outline", description=REANCHOR_TIP,
                                        sizing_mode="stretch_width",
                                        css_classes=["reanchor"])
        self.reanchor_button.on_click(lambda e: self._send("reanchor"))
        self.spectators = self._w("spectators", W.IntInput, label="Spectators per beable",
                                  start=0, end=10**6)
        self.admixture = self._w("admixture", W.FloatSlider, step=0.01,
                                 label="Admixture ε of the ground state")
        self.seed = self._w("seed", W.IntInput, label="Seed", start=0, end=2**31 - 1)
        self.advanced = [
            self._w("phase_noise", W.FloatSlider, start=0.0, end=3.0, step=0.05,
                    label="Phase noise σ ('noisy' start)"),
            self._w("tracked", W.IntSlider, start=0, end=8, label="Tracked systems"),
            self._w("dt_out", W.FloatInput, label="Export spacing Δt", start=1e-3),
            self._w("phase_tol", W.FloatInput, label="Phase step tolerance", start=1e-6),
            self._w("jump_tol", W.FloatInput, label="Jump step tolerance", start=1e-6),
        ]
        self.agent_widgets = [self.f_slider, self.gamma_slider, self.potential,
                              self.normalisation, self.phases, self.init_phases,
                              self.advanced[0], self.advanced[1]]
        self.preset_select = W.Select.from_param(
            self.param.preset, label="Preset", sizing_mode="stretch_width",
            options={preset_info(n)["title"]: n for n in preset_names()})
        self.preset_box = pn.Column(sizing_mode="stretch_width")
        self.matrix = MatrixEditor(on_apply=self._on_matrix)
        self.csv_button = W.FileDownload(callback=self._export_csv, filename="ensemble.csv",
                                         label="Download CSV", color="primary",
                                         variant="outline", sizing_mode="stretch_width")
        self.parquet_button = W.FileDownload(callback=self._export_parquet,
                                             filename="ensemble.parquet",
                                             label="Download Parquet", color="primary",
                                             variant="outline",
                                             sizing_mode="stretch_width")
        self.status = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["status"],
                                   stylesheets=[_STATUS_CSS, _STATUS_BIG])
        self.error = pn.pane.Alert("", alert_type="danger", visible=False,
                                   sizing_mode="stretch_width", css_classes=["run-error"])
        self.notice = pn.pane.Alert("", alert_type="warning", visible=False,
                                    sizing_mode="stretch_width", css_classes=["url-notice"])
        self.explain = pn.pane.Markdown("", sizing_mode="stretch_width",
                                        css_classes=["lesson-text"],
                                        stylesheets=[_EXPLAIN_CSS])
        # where the explanation sits: below the plots, or on top in presentation mode
        self.banner = pn.Column(sizing_mode="stretch_width", styles=_BOX, margin=(6, 6),
                                visible=False)
        self.explain_box = pn.Column(self.explain, sizing_mode="stretch_width", styles=_BOX,
                                     margin=(6, 6))
        self.panes = {k: pn.pane.Bokeh(None, sizing_mode="stretch_width", css_classes=[f"plot-{k}"])
                      for k in ("hist", "phase", "order", "pop", "dev", "tracked", "classical")}
        self.classical_box = pn.Column(self.panes["classical"], sizing_mode="stretch_width",
                                       styles=_BOX, margin=(6, 6), visible=False)
        self.tracked_box = pn.Column(self.panes["tracked"], sizing_mode="stretch_width",
                                     styles=_BOX, margin=(6, 6))
        # composite presets only: each part's marginal, the joint grid, the Bell tests
        for k in ("marg", "joint"):
            self.panes[k] = pn.pane.Bokeh(None, sizing_mode="stretch_width",
                                          css_classes=[f"plot-{k}"])
        self.composite_box = pn.Row(
            pn.Column(self.panes["marg"], sizing_mode="stretch_width", styles=_BOX,
                      margin=(6, 6)),
            pn.Column(self.panes["joint"], sizing_mode="stretch_width", styles=_BOX,
                      margin=(6, 6)),
            sizing_mode="stretch_width", visible=False, css_classes=["composite"])
        self.bell = BellTests(self._bell_context)
        self.bell_box = pn.Column(self.bell, sizing_mode="stretch_width", styles=_BOX,
                                  margin=(6, 6), visible=False, css_classes=["bell-tests"])
        # --- lessons (issue 6): picker and presentation mode
        self.lesson_select = W.Select(
            label="Lesson", sizing_mode="stretch_width", css_classes=["lesson-select"],
            options={"Choose a lesson…": "", **{
                f"{lesson_data.get(k).number}. {lesson_data.get(k).title}": k
                for k in lesson_data.lesson_names()}})
        self.lesson_select.param.watch(lambda e: self.load_lesson(e.new or None), "value")
        self.present_toggle = W.Toggle(label="Presentation mode", color="primary",
                                       variant="outline", sizing_mode="stretch_width",
                                       css_classes=["present-toggle"])
        self.present_toggle.param.watch(lambda e: self.set_presentation(e.new), "value")
        self._sync_agent_widgets()

    def _sync_agent_widgets(self) -> None:
        agents = self.sim.mode == "agents"
        for w in self.agent_widgets:
            w.disabled = not agents

    def _show_preset_widgets(self) -> None:
        """One widget per parameter of the current preset, from the preset data."""
        specs = preset_info(self.preset)["params"]
        widgets = []
        self._preset_widgets = {}
        for key, spec in specs.items():
            value = self.preset_values.get(key, spec["default"])
            if "bounds" in spec:  # a value from the URL may be out of range: show it clipped
                try:
                    value = min(max(float(value), spec["bounds"][0]), spec["bounds"][1])
                except (TypeError, ValueError):
                    value = spec["default"]
            if "objects" in spec:
                w = pn.widgets.Select(label=key, options=list(spec["objects"]), value=value)
            elif spec.get("integer"):
                lo, hi = spec["bounds"]
                w = pn.widgets.IntSlider(label=key, start=int(lo), end=int(min(hi, 256)),
                                         value=int(value))
            else:
                lo, hi = spec["bounds"]
                step = 10 ** math.floor(math.log10((hi - lo) / 200))
                w = pn.widgets.FloatSlider(label=key, start=lo, end=hi, step=step,
                                           value=float(value))
            w.description = spec.get("doc")
            w.sizing_mode = "stretch_width"
            w.param.watch(lambda e, k=key: self._set_preset_value(k, e.new), "value_throttled"
                          if isinstance(w, pn.widgets.slider._SliderBase) else "value")
            widgets.append(w)
            self._preset_widgets[key] = w
        self.preset_box.objects = widgets
        self._apply_highlight()

    def _set_preset_value(self, key: str, value: Any) -> None:
        self._building = True  # the widgets already show this value
        try:
            self.preset_values = {**self.preset_values, key: value}
        finally:
            self._building = False

    # -- reactions (document's event loop) ------------------------------------------------
    def _send(self, cmd: str, value: Any = None) -> None:
        if self.runner is not None:
            self.runner.send(cmd, value)

    def _on_sim_change(self, *events) -> None:
        live, restart = {}, False
        for ev in events:
            if ev.name in SimParams.LIVE:
                live[ev.name] = ev.new
            else:
                restart = True
            if ev.name == "mode":
                self._sync_agent_widgets()
                opts = n_options(ev.new)
                value = min(self.sim.N, N_MAX[ev.new])
                self.N_slider.options = opts
                self.N_slider.value = nearest_option(value, opts)
            if ev.name == "N" and ev.new != self.N_slider.value and \
                    ev.new in self.N_slider.options.values():
                self.N_slider.value = ev.new
        if live:
            self._send("update", live)
        if restart:
            self.request_restart()

    def _on_preset(self, event) -> None:
        self._custom = None
        self.preset_values = {}
        self._show_preset_widgets()
        self.request_restart()

    def _on_preset_values(self, event) -> None:
        if not self._building:  # set from outside (URL): show the values in the widgets
            self._show_preset_widgets()
        self._custom = None
        self.request_restart()

    def _on_speed(self, event) -> None:
        self._send("speed", event.new)

    def _on_playing(self, event) -> None:
        self.play_button.label = "Pause" if event.new else "Play"
        self.play_button.color = "warning" if event.new else "success"
        self._send("play" if event.new else "pause")
        if self._callback is not None:
            self._callback.period = TICK_MS if event.new else IDLE_TICK_MS

    def _on_matrix(self, kind: str, H: np.ndarray, psi: np.ndarray) -> None:
        base = self.hamiltonian()
        if kind == "live":
            self._custom = base.with_matrix(H)
            self._send("update", {"H": H})
        else:
            self._custom = Hamiltonian.from_matrix(H, psi, labels=base.labels, name="custom",
                                                   description=base.description)
            self.request_restart(reload_matrix=False)

    def request_restart(self, reload_matrix: bool = True) -> None:
        """A new ensemble is needed: built on the next tick, so bursts of changes coalesce."""
        self._restart_pending = True
        self._reload_matrix = getattr(self, "_reload_matrix", False) or reload_matrix

    def reset(self) -> None:
        self._send("reset")

    def _do_restart(self) -> None:
        self._restart_pending = False
        try:
            ham = self.hamiltonian()
            params = self.sim_params()
        except InputError as err:
            self.show_error(str(err))
            return
        if self._reload_matrix:
            self.matrix.load(ham.with_admixture(0.0))
        self._reload_matrix = False
        self._explain(ham)
        self.show_error(None)
        if self.runner is None:
            return
        self.runner.send("restart", (ham, params))
        if self.playing:
            self.runner.send("play")

    def show_error(self, msg: str | None) -> None:
        if msg:
            self.error.object = f"**Not applied:** {msg}"
            self.error.visible = True
        elif self.error.visible:
            self.error.visible = False

    # -- lessons (issue 6) -----------------------------------------------------------------
    def control_widgets(self) -> dict[str, pn.widgets.Widget]:
        """The widget of each control a lesson may highlight, by parameter name."""
        out = {"mode": self.mode_select, "N": self.N_slider, "r": self.r_slider,
               "f": self.f_slider, "gamma": self.gamma_slider, "potential": self.potential,
               "normalisation": self.normalisation, "phases": self.phases,
               "init_phases": self.init_phases, "reference": self.reference,
               "align_threshold": self.align_threshold, "spectators": self.spectators,
               "admixture": self.admixture, "seed": self.seed,
               "phase_noise": self.advanced[0], "tracked": self.advanced[1],
               "dt_out": self.advanced[2], "phase_tol": self.advanced[3],
               "jump_tol": self.advanced[4], "speed": self.speed_slider}
        return {**out, **self._preset_widgets}

    def load_lesson(self, name: str | None) -> None:
        """One click: the lesson's preset, values and parameters, its text, its highlights."""
        if (name or "") != self.lesson:
            self.lesson = name or ""  # its watcher comes back here (and to the URL)
            return
        if name is None:
            self._lesson = None
            if self.lesson_select.value:
                self.lesson_select.value = ""
            self._apply_highlight()
            self.request_restart(reload_matrix=False)
            return
        try:
            lesson = lesson_data.get(name)
        except InputError as err:  # e.g. a hand-edited link
            self.show_error(str(err))
            self.lesson = ""
            return
        self._lesson = lesson
        if self.lesson_select.value != name:
            self.lesson_select.value = name
        values = {k: SimParams.param[k].default for k in param_names()}
        values.update(lesson.params)
        if values["mode"] not in self.modes:
            values["mode"] = "population"
        self.preset = lesson.preset
        self.preset_values = dict(lesson.preset_values)
        self.sim.param.update(**values)
        self._apply_highlight()
        self.request_restart()
        self.playing = True

    def _apply_highlight(self) -> None:
        names = set(self._lesson.highlight) if self._lesson is not None else set()
        for key, w in self.control_widgets().items():
            classes = [c for c in w.css_classes if c != "lesson-highlight"]
            if key in names:
                classes.append("lesson-highlight")
                if _HIGHLIGHT_CSS not in w.stylesheets:
                    w.stylesheets = [*w.stylesheets, _HIGHLIGHT_CSS]
            if classes != list(w.css_classes):
                w.css_classes = classes

    def set_presentation(self, on: bool) -> None:
        """Projector layout: larger text, advanced controls hidden, the lesson in focus."""
        if on != self.presentation:
            self.presentation = on  # its watcher comes back here (and to the URL)
            return
        self._apply_presentation()

    def _apply_presentation(self) -> None:
        on = self.presentation
        # the lesson text moves from the bottom of the page to the top
        self.banner.objects, self.explain_box.objects = \
            ([self.explain], []) if on else ([], [self.explain])
        self.banner.visible, self.explain_box.visible = on, not on
        for key in ("matrix", "advanced", "export"):
            if key in self._cards:
                self._cards[key].visible = not on
        if "alignment" in self._cards:
            self._cards["alignment"].visible = not on or self.sim.mode == "agents"
        self.tracked_box.visible = not on or self.sim.mode == "agents"
        self.explain.stylesheets = [_EXPLAIN_BIG if on else _EXPLAIN_CSS]
        self.status.css_classes = ["status", "big"] if on else ["status"]
        if self.present_toggle.value != on:
            self.present_toggle.value = on

    def _explain(self, ham: Hamiltonian) -> None:
        if self._lesson is not None and self._lesson.preset == self.preset:
            self.explain.object = self._lesson.markdown()
            return
        info = preset_info(self.preset)
        desc = " ".join(info["description"].split())
        edited = ("\n\n*The matrix was edited by hand: the preset's explanation describes the "
                  "matrix it started from.*" if self._custom is not None else "")
        self.explain.object = (
            f"### {info['title']}\n\n{desc}{edited}\n\n"
            f"**What to try.** Press play: the bars (the ensemble, n_a/N) follow the black "
            f"marks (quantum mechanics, |ψ_a|²) because each system copies others at the "
            f"rate of eq. (C). Then drag **r** away from −½, shrink **N**, or start the "
            f"agents with **random** phases and watch the deviation leave its 1/√N band."
        )

    # -- views -----------------------------------------------------------------------------
    def _build_views(self, pub: Published) -> None:
        f = pub.frame
        P = len(f.n)
        labels = tuple(self.runner.ham.labels) if self.runner is not None else ()
        k = int(self.sim.tracked) or 1
        ham = self.runner.ham if self.runner is not None else None
        lattice = ham is not None and is_lattice(ham)
        parts = tuple(ham.extra.get("parts") or ()) if ham is not None else ()
        key = (P, labels, k, parts)
        if not lattice and getattr(self, "_views_key", None) == key and \
                "classical" not in self.views:
            # Same shape: keep the figures (the browser keeps its views; building new
            # ones takes it seconds) and clear their data.
            for view in self.views.values():
                view.reset(f.N)
            return
        self._views_key = key
        self.views = {
            "hist": HistogramView(P, labels),
            "phase": PhaseView(P),
            "pop": PopulationsView(P, labels),
            "dev": DeviationView(f.N),
            "tracked": TrackedView(P, k),
        }
        self.panes["hist"].object = self.views["hist"].fig
        self.panes["phase"].object = self.views["phase"].fig
        self.panes["order"].object = self.views["phase"].order_fig
        self.panes["pop"].object = self.views["pop"].fig
        self.panes["dev"].object = self.views["dev"].fig
        self.panes["tracked"].object = self.views["tracked"].fig
        # views of the parts: built where they have meaning (each view says where)
        for name, cls in (("marg", MarginalsView), ("joint", JointGridView)):
            if cls.applies(ham):
                self.views[name] = cls(list(parts))
                self.panes[name].object = self.views[name].fig
            else:
                self.panes[name].object = None
        self.composite_box.visible = "marg" in self.views
        self.bell_box.visible = BellTests.applies(ham)
        if lattice:
            self.views["classical"] = ClassicalView(ham, self.sim.t_end)
            self.panes["classical"].object = self.views["classical"].fig
            self.classical_box.visible = True
        else:
            self.panes["classical"].object = None
            self.classical_box.visible = False

    def tick(self) -> None:
        """Pull the latest frame and update the plots (periodic callback, 40 Hz while playing)."""
        if self._restart_pending:
            self._do_restart()
        runner = self.runner
        if runner is None:
            return
        if runner.error_seq != self._error_seq:
            self._error_seq = runner.error_seq
            self.show_error(runner.error)
        pub = runner.latest()
        if pub is None or pub.seq == self._last_seq:
            return
        self._last_seq = pub.seq
        with pn.io.hold():
            if pub.generation != self._generation:
                self._generation = pub.generation
                self._build_views(pub)
            for view in self.views.values():
                view.update(pub.frame)
            self._flush_views(pub.playing)
            self._update_status(pub)

    def _flush_views(self, playing: bool) -> None:
        """Send the buffered rows: all at once when paused; while playing, one view per
        frame in turn, each at most every SERIES_PERIOD, so that no frame has to repaint
        every plot at once (an even load renders more frames than bursts do)."""
        names = [k for k, v in self.views.items() if v.buffered]
        if not playing:
            for k in names:
                self.views[k].flush()
            return
        now = time.monotonic()
        for i in range(len(names)):
            k = names[(self._flush_turn + i) % len(names)]
            if now - self._flushed.get(k, 0.0) >= SERIES_PERIOD:
                self._flushed[k] = now
                self._flush_turn = (self._flush_turn + i + 1) % len(names)
                self.views[k].flush()
                return

    def _speed_stat(self, pub: Published) -> str:
        """The simulated time per second actually achieved while playing; flagged when the
        engine cannot keep up with the speed asked (large N, dynamic phases)."""
        if not pub.playing or pub.rate <= 0.0:
            return ""
        slow = pub.rate < 0.9 * self.speed
        title = (f' title="The engine cannot keep up: {pub.rate:.2g} time units per second '
                 f'of the {self.speed:.2g} asked. A smaller N runs faster."') if slow else ""
        return (f'<div class="stat{" slow" if slow else ""}"{title}><span>time units / s'
                f'</span><b class="v">{pub.rate:.2g}</b>'
                + (f'<small> of {self.speed:.2g}</small>' if slow else "") + "</div>")

    def _update_status(self, pub: Published) -> None:
        f = pub.frame
        D = float(f.tv)
        html = (
            f'<div class="stat"><span>time</span><b class="t" data-frame="{pub.seq}">'
            f'{f.t:.2f}</b></div>'
            f'<div class="stat"><span>systems N</span><b>{_fmt_N(f.N)}</b></div>'
            f'<div class="stat"><span>deviation D</span><b class="D">{D:.4f}</b></div>'
            f'<div class="stat"><span>D·√N</span><b>{D * math.sqrt(f.N):.2f}</b></div>'
            f'<div class="stat"><span>engine</span><b>{self.sim.mode}</b></div>'
            f'<div class="stat"><span>r</span><b class="r">{pub.r:+.2f}</b></div>'
            + self._speed_stat(pub)
            + _steps_stat(f)
        )
        if html != self.status.object:
            self.status.object = html

    # -- session lifecycle -------------------------------------------------------------------
    def start(self, thread: bool = True) -> Runner:
        """Create this session's runner (and its thread unless ``thread=False``)."""
        ham = self.hamiltonian()
        self.matrix.load(ham)
        self._explain(ham)
        self.runner = Runner(ham, self.sim_params(), speed=self.speed, start=thread)
        self._restart_pending = False
        if self.playing:
            self.runner.send("play")
        return self.runner

    def stop(self) -> None:
        """Stop the periodic callback and the runner's thread."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def _on_session_destroyed(self, session_context) -> None:
        log.info("session destroyed: stopping its runner")
        self.stop()

    def _session_setup(self) -> None:
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            return  # e.g. the liveness probe builds a document without a session
        bokeh_fixes.install(doc)
        if pn.state.location is not None:
            self.sync_location(pn.state.location)
        self.start()
        pn.state.on_session_destroyed(self._on_session_destroyed)
        pn.state.onload(self._start_ticking)

    def sync_location(self, location) -> None:
        """Two-way link between the parameters and the URL, then the URL's values capped."""
        location.sync(self.sim, {k: k for k in URL_PARAMS})
        # preset before its values: a new preset clears the values
        location.sync(self, {"preset": "preset"})
        location.sync(self, {"preset_values": "pv", "speed": "speed"})
        location.sync(self, {"lesson": "lesson", "presentation": "present"})
        self.cap_to_limits()

    def cap_to_limits(self) -> None:
        """Bring values past the widgets' caps (written by the URL) within them, and say so."""
        mode, N = self.sim.mode, self.sim.N
        if N > N_MAX[mode]:
            self.sim.N = N_MAX[mode]
            self.notice.object = (f"N = {N} from the address is above the {mode} mode's "
                                  f"limit of {N_MAX[mode]}, so N = {N_MAX[mode]} is used "
                                  f"instead.")
            self.notice.visible = True

    def _start_ticking(self) -> None:
        """Start pulling frames once the page has loaded (its resources are resolved)."""
        from panel.io.callbacks import PeriodicCallback

        if self.runner is None or self._callback is not None:
            return
        # background=True: the tick must not flip the template's busy indicator.
        self._callback = PeriodicCallback(callback=self.tick, log=False, background=True,
                                          period=TICK_MS if self.playing else IDLE_TICK_MS)
        self._callback.start()

    # -- layout -----------------------------------------------------------------------------
    def sidebar(self) -> list:
        card = dict(sizing_mode="stretch_width", header_background="#eef2ff",
                    stylesheets=[_CARD_CSS])
        self._cards = {
            "lessons": pn.Card(self.lesson_select, self.present_toggle, title="Lessons",
                               **card),
            "hamiltonian": pn.Card(self.preset_select, self.preset_box, title="Hamiltonian",
                                   **card),
            "ensemble": pn.Card(self.mode_select, self.N_slider,
                                pn.Row(self.r_slider, self.r_reset), self.spectators,
                                self.admixture, self.seed, title="Ensemble", **card),
            "alignment": pn.Card(pn.pane.Markdown("Each system's own phase (agents engine).",
                                                  styles={"color": "#6b7280"}),
                                 self.phases, self.f_slider, self.gamma_slider,
                                 self.potential, self.normalisation, self.init_phases,
                                 self.reference, self.align_threshold, self.reanchor_button,
                                 title="Phase alignment", **card),
            "matrix": pn.Card(self.matrix, title="Matrix editor (H and ψ₀)", collapsed=False,
                              **card),
            "advanced": pn.Card(*self.advanced, title="Advanced", collapsed=True, **card),
            "export": pn.Card(self.csv_button, self.parquet_button,
                              pn.pane.Markdown("Plots: the save tool on each plot downloads "
                                               "a PNG.", styles={"color": "#6b7280"}),
                              title="Export", **card),
        }
        self._apply_presentation()  # a link may ask for it before the layout exists
        return [
            pn.Column(self.play_button, pn.Row(self.step_button, self.reset_button,
                                               sizing_mode="stretch_width"),
                      self.speed_slider, sizing_mode="stretch_width"),
            *self._cards.values(),
        ]

    def main(self) -> pn.viewable.Viewable:
        box = dict(sizing_mode="stretch_width", styles=_BOX, margin=(6, 6))
        live = pn.Column(
            self.banner,
            self.status,
            self.notice,
            self.error,
            pn.Row(pn.Column(self.panes["hist"], **box),
                   pn.Column(self.panes["phase"], self.panes["order"], width=400,
                             styles=_BOX, margin=(6, 6)),
                   sizing_mode="stretch_width"),
            self.composite_box,
            self.bell_box,
            pn.Row(pn.Column(self.panes["pop"], **box), pn.Column(self.panes["dev"], **box),
                   sizing_mode="stretch_width"),
            self.classical_box,
            pn.Row(self.tracked_box, self.explain_box,
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        try:
            from .studies import StudiesView
        except ImportError:
            return live
        return pn.Tabs(("Live ensemble", live), ("Studies", StudiesView()),
                       sizing_mode="stretch_width", dynamic=True)

    def __panel__(self) -> pn.viewable.Viewable:
        self._session_setup()
        return pn.Row(pn.Column(*self.sidebar(), width=400), self.main(),
                      sizing_mode="stretch_width")

    def template(self) -> pn.template.FastListTemplate:
        return pn.template.FastListTemplate(
            design=OfflineFast,
            font="'Segoe UI', 'Helvetica Neue', 'DejaVu Sans', Arial, sans-serif",
            accent="#4338ca",
            theme_toggle=False,
            title="Real Ensemble Lab",
            logo=str(LOGO) if LOGO.exists() else None,
            favicon=str(LOGO) if LOGO.exists() else "",
            sidebar=self.sidebar(),
            main=[self.main()],
            sidebar_width=420,
            header_background="#1e1b4b",
            raw_css=[_PAGE_CSS],
        )

    def servable(self, title: str | None = "Real Ensemble Lab", location: bool = True,
                 area: str = "main", target: str | None = None):
        """Serve the whole page (template with sidebar) and start this session's runner."""
        page = self.template()  # build first: a failure here must not leave a thread behind
        self._session_setup()
        return page.servable(title=title)

    # -- export -------------------------------------------------------------------------------
    def _columns(self) -> dict[str, np.ndarray]:
        if self.runner is None:
            return {"t": np.zeros(0)}
        return self.runner.history_columns()

    def _export_csv(self) -> io.StringIO:
        buf = io.StringIO()
        write_csv(self._columns(), buf)
        buf.seek(0)
        return buf

    def _export_parquet(self) -> io.BytesIO:
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.table(self._columns()), buf)
        buf.seek(0)
        return buf


# The Fast design without its Google web font, so the page loads nothing from outside (a
# classroom behind a proxy, a container without internet, no console errors). Panel finds
# the design's bundled files by class name, hence the same name.
OfflineFast = type("Fast", (Fast,), {
    "_resources": {k: v for k, v in Fast._resources.items() if k != "font"},
    "__doc__": "Panel's Fast design without the external web font.",
})


def undebounced(widget: pn.widgets.Widget) -> pn.widgets.Widget:
    """Handle the widget's changes from the page at once. Panel (1.x) waits
    ``Syncable._debounce`` = 50 ms before it processes a change that arrives from the
    browser; measured on the live dashboard that was a fifth of the slider-to-screen time.
    Changes that arrive while one is being handled are still merged into one."""
    widget._debounce = 0
    return widget


def _steps_stat(f) -> str:
    """Steps taken and the estimated time-stepping error of D (engine/step_error.py), flagged
    when it exceeds the finite ensemble's own scale 1/√N."""
    err = float(f.step_error)
    warn = err * math.sqrt(f.N) > 1.0
    head = (f'<div class="stat aux warn" title="{STEP_ERROR_TIP}">' if warn
            else '<div class="stat aux">')
    steps = f"{f.steps:,}".replace(",", " ")
    return (f'{head}<span>steps · <em>Δt</em> error</span><b class="steps">{steps} · '
            f'{f"≈ {err:.1e}" if err > 0.0 else "0"}</b></div>')


def _fmt_N(N: int) -> str:
    if N < 10**5:
        return f"{N:,}".replace(",", " ")
    k = int(math.floor(math.log10(N)))
    m = N / 10**k
    sup = str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"10{sup}" if abs(m - 1) < 1e-9 else f"{m:.3g}×10{sup}"


_BOX = {"background": "white", "border-radius": "10px",
        "box-shadow": "0 1px 3px rgba(15,23,42,.12)", "padding": "6px"}
_BIG_BUTTON = ":host .bk-btn {font-size: 18px; font-weight: 600;}"
_CARD_CSS = ":host .card-title {font-size: 17px; font-weight: 600;}"
_STATUS_CSS = """
:host {display: block;}
.stat {display: inline-block; margin: 4px 22px 4px 6px; vertical-align: top;}
.stat span {display: block; font-size: 14px; color: #6b7280; text-transform: uppercase;
            letter-spacing: .05em;}
.stat b {font-size: 30px; color: #1e1b4b; font-variant-numeric: tabular-nums;}
.stat.slow b, .stat.slow small, .stat.warn b {color: #b45309;}
.stat small {font-size: 15px;}
.stat.aux b {font-size: 20px; line-height: 36px;}
.stat span em {font-style: normal; text-transform: none;}
"""
_EXPLAIN_CSS = ":host {font-size: 17px;}"
_EXPLAIN_BIG = ":host {font-size: 24px; line-height: 1.45;}"
_STATUS_BIG = (":host(.big) .stat b {font-size: 42px;} :host(.big) .stat span {font-size: 18px;}"
               " :host(.big) .stat.aux b {font-size: 26px; line-height: 50px;}")
_HIGHLIGHT_CSS = """
:host(.lesson-highlight) {outline: 3px solid #f59e0b; outline-offset: 3px;
                          border-radius: 8px; background: #fff7ed;}
"""
_PAGE_CSS = """
body {font-size: 16px;}
#sidebar {font-size: 16px;}
.bk-input, .bk-input-group label, .bk-slider-title {font-size: 15px !important;}
"""


def _pin_local_stylesheets() -> None:
    """Serve every component stylesheet from this server, never from Panel's CDN.

    Panel 1.9 resolves the stylesheet URL of a model update through
    ``doc._template_variables['dist_url']``, which is only set when the page is rendered;
    an update made before that (more likely on a loaded machine) points at
    cdn.holoviz.org, which fails offline. Set it as the page render would, up front.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return
    from panel.io.resources import LOCAL_DIST

    rel = pn.state.rel_path
    doc._template_variables.setdefault("dist_url", f"{rel}/{LOCAL_DIST}" if rel else LOCAL_DIST)
