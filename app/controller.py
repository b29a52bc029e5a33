"""One session's state and its runner: the data store the dashboard's views watch.

No Panel here (``param`` only): the controller turns parameters into runner commands,
coalesces bursts of changes (the latest value wins, applied once per tick), keeps the play
and lesson state, says what the running ensemble is, and is driven by an injected clock, so
it is tested without a server and without sleeps.

Rules the page relies on:

- A new ensemble (a lesson, a link, a preset, a restart parameter, Reset) opens paused at
  t = 0; ``preparing`` is true from the request until the runner publishes it, so the views
  grey the old pictures at once.
- ``published`` always describes the running ensemble (mode, N, r, t); the widgets may be
  ahead of it only while ``preparing``.
- A change that would make the page crawl gets a ``cost`` sentence (see :mod:`app.cost`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import param

from real_ensemble_lab.engine import (
    Hamiltonian,
    InputError,
    SimParams,
    build_preset,
    make_params,
    preset_names,
)
from real_ensemble_lab.engine.core.params import params_dict, quantize
from real_ensemble_lab.engine.tools import lessons as lesson_data

from . import cost as cost_model
from .hosting import SessionLimits
from .runner import Published, Runner
from .url import SPEED_BOUNDS, Link, write_link


class Controller(param.Parameterized):
    """The session's data store (see the module docstring)."""

    preset = param.Selector(default="two_level", objects=preset_names(),
                            doc="Preset Hamiltonian (assets/presets.yaml).")
    preset_values = param.Dict(default={}, doc="The preset's own parameters (overrides).")
    speed = param.Number(default=1.0, bounds=SPEED_BOUNDS, step=0.05,
                         doc="Simulated time units per second of wall-clock time.")
    playing = param.Boolean(default=False, doc="Whether the simulation runs.")
    lesson = param.String(default="", doc="The lesson shown ('' none).")
    presentation = param.Boolean(default=False, doc="Projector layout.")
    preparing = param.Boolean(default=False, doc="A new ensemble is on its way.")
    error = param.String(default="", doc="Why the last change was not applied ('' none).")
    notices = param.List(default=[], item_type=str, doc="Sentences about the link.")
    cost = param.String(default="", doc="How slow the chosen settings will run ('' fine).")
    advice = param.String(default="", doc="A hint about the running ensemble ('' none).")
    published = param.Parameter(default=None, doc="The latest frame of the running ensemble.")
    custom = param.Parameter(default=None, doc="A Hamiltonian edited by hand (or None).")

    closed = param.Boolean(default=False, doc="The run was stopped for idleness (for good).")

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 runner_factory: Callable[..., Runner] = Runner,
                 limits: SessionLimits | None = None, **values: Any):
        sim_values = {k: values.pop(k) for k in list(values) if k in SimParams.param
                      and k != "name"}
        super().__init__(**values)
        self.clock = clock
        self._runner_factory = runner_factory
        #: this session's share of the server (memory, idleness); None: no limits
        self.limits = limits
        self.sim = make_params(**sim_values) if sim_values else SimParams()
        self.runner: Runner | None = None
        self._live: dict[str, Any] = {}  # live changes not yet sent (latest wins)
        self._restart = False  # a new ensemble is wanted
        self._seq = -1
        self._answered = 0
        self._lesson: lesson_data.Lesson | None = None
        self._quiet = False  # applying a bundle of changes: one restart at the end
        self._error_seq = 0
        self._expect = 0  # the generation a restart will publish
        self.sim.param.watch(self._on_sim, [k for k in SimParams.param if k != "name"])
        self.param.watch(self._on_preset, ["preset"])
        self.param.watch(self._on_preset_values, ["preset_values"])
        self.param.watch(self._on_speed, ["speed"])
        self.param.watch(self._on_playing, ["playing"])
        self.param.watch(lambda e: self.open_lesson(e.new or None), ["lesson"])
        # any choice on the page is input: the idle clock starts again
        self.sim.param.watch(self._touch, [k for k in SimParams.param if k != "name"])
        self.param.watch(self._touch, ["preset", "preset_values", "custom", "lesson",
                                       "speed", "playing", "presentation"])

    def _touch(self, *events) -> None:
        if self.limits is not None:
            self.limits.watch.touch()

    # -- what the run is made of ------------------------------------------------------
    def hamiltonian(self) -> Hamiltonian:
        if self.custom is not None:
            return self.custom
        return build_preset(self.preset, **self.preset_values)

    def sim_params(self) -> SimParams:
        return make_params(**params_dict(self.sim))

    @property
    def lesson_data(self) -> lesson_data.Lesson | None:
        return self._lesson

    # -- changes from the page --------------------------------------------------------
    def _on_sim(self, *events) -> None:
        if self._quiet:
            return
        for ev in events:
            q = quantize(ev.name, ev.new)
            if q != ev.new:  # -0.6000000000000001 -> -0.6, everywhere at once
                setattr(self.sim, ev.name, q)
                return
        for ev in events:
            if ev.name in SimParams.LIVE:
                self._live[ev.name] = ev.new
            else:
                self.request_restart()
        if any(ev.name in ("r",) for ev in events):
            self.advice = ""

    def _on_preset(self, event) -> None:
        if self._quiet:
            return
        self.custom = None
        self.preset_values = {}
        self.request_restart()

    def _on_preset_values(self, event) -> None:
        if self._quiet:
            return
        self.custom = None
        self.request_restart()

    def _on_speed(self, event) -> None:
        if self.runner is not None:
            self.runner.send("speed", event.new)

    def _on_playing(self, event) -> None:
        if event.new and self.limits is not None \
                and self.advice == self.limits.watch.message("pause"):
            self.advice = ""
        if self.runner is not None:
            self.runner.send("play" if event.new else "pause")

    def toggle_play(self) -> None:
        self.playing = not self.playing

    def pause_unseen(self) -> None:
        """Pause because nobody sees the run (its page closed): not the user's input."""
        with self.limits.watch.quiet() if self.limits is not None else nullcontext():
            self.playing = False

    def step(self) -> None:
        if self.runner is not None and not self.preparing:
            self.runner.send("step")

    def reset(self) -> None:
        """The same settings, a fresh ensemble at t = 0 (paused)."""
        self.request_restart()

    def reanchor(self) -> None:
        if self.runner is not None:
            self.runner.send("reanchor")

    def edit_matrix(self, kind: str, H: np.ndarray, psi: np.ndarray) -> None:
        """A valid edit from the matrix editor: H applies live, psi0 needs a new ensemble."""
        base = self.hamiltonian()
        if kind == "live":
            self.custom = base.with_matrix(H)
            self._live["H"] = H
        else:
            self.custom = Hamiltonian.from_matrix(H, psi, labels=base.labels, name="custom",
                                                  description=base.description)
            self.request_restart()

    def restore_r(self) -> None:
        """Put r back to -1/2, and say why it may not be enough: an empty class stays
        empty (nobody is left to copy), so the ensemble cannot follow psi any more."""
        self.sim.r = -0.5
        pub = self.published
        if pub is None:
            return
        f = pub.frame
        empty = [a for a in range(len(f.n)) if f.n[a] == 0 and f.p[a] > 1.0 / max(f.N, 1)]
        if empty and self.sim.spectators == 0:
            which = ", ".join(str(a) for a in empty[:5])
            self.advice = (f"r is back at −½, but class {which} emptied while r was away, "
                           f"and an empty class never refills (no member is left to be "
                           f"copied). Press Reset for a fresh ensemble, or add spectators.")

    def request_restart(self) -> None:
        """A new ensemble is needed: paused, the old pictures greyed at once, built on the
        next tick (a burst of changes makes one restart)."""
        self._restart = True
        self.preparing = True
        self.error = ""
        if self.playing:
            self.playing = False

    # -- lessons and links -------------------------------------------------------------
    def open_lesson(self, name: str | None) -> None:
        """One click: the lesson's preset, values and parameters; paused at t = 0."""
        if (name or "") != self.lesson:
            self.lesson = name or ""  # its watcher comes back here
            return
        if not name:
            self._lesson = None
            self.request_restart()
            return
        try:
            lesson = lesson_data.get(name)
        except InputError as err:
            self.lesson = ""  # back to no lesson (a restart), then say why
            self.error = str(err)
            return
        self._lesson = lesson
        values = {k: SimParams.param[k].default for k in params_dict(self.sim)}
        values.update(lesson.params)
        self.apply(preset=lesson.preset, preset_values=dict(lesson.preset_values),
                   sim=values)

    def apply(self, preset: str | None = None, preset_values: dict | None = None,
              sim: dict[str, Any] | None = None, custom: Hamiltonian | None = None) -> None:
        """Several settings at once, one restart."""
        self._quiet = True
        try:
            if preset is not None:
                self.preset = preset
            self.preset_values = dict(preset_values or {})
            self.custom = custom
            if sim:
                self.sim.param.update(**sim)
        finally:
            self._quiet = False
        self.request_restart()

    def apply_link(self, link: Link) -> None:
        """Settings read from a share link (already checked by :func:`app.url.read_link`)."""
        self.notices = list(link.notices)
        if link.speed is not None:
            self.speed = link.speed
        if link.present is not None:
            self.presentation = link.present
        if link.lesson:
            self._quiet = True
            self.lesson = link.lesson
            self._quiet = False
            self.open_lesson(link.lesson)
        custom = None
        if link.H is not None or link.psi0 is not None:
            base = build_preset(link.preset or self.preset, **link.preset_values)
            H = link.H if link.H is not None else base.H
            psi = link.psi0 if link.psi0 is not None else base.psi0
            try:
                custom = Hamiltonian.from_matrix(H, psi, labels=base.labels if len(psi) ==
                                                 base.P else None, name="custom")
            except InputError as err:
                self.notices = [*self.notices, f"{err} The link's matrix was ignored."]
        if link.preset or link.preset_values or link.sim or custom is not None:
            self.apply(preset=link.preset or (None if link.lesson else self.preset),
                       preset_values=link.preset_values or (self.preset_values
                                                            if link.lesson else {}),
                       sim=link.sim, custom=custom)

    def share_query(self) -> str:
        ham = self.custom
        return write_link(params_dict(self.sim), self.preset, self.preset_values, self.speed,
                          self.lesson, self.presentation,
                          H=ham.H if ham is not None else None,
                          psi0=ham.psi0 if ham is not None else None)

    # -- the runner ----------------------------------------------------------------------
    def start(self, thread: bool = True) -> Runner:
        """Create the session's runner (its thread unless ``thread=False``)."""
        ham, params = self.hamiltonian(), self.sim_params()
        fitted, note = self._fit(ham, params)
        if fitted is None:  # nothing fits now: the population engine needs no memory per system
            fitted = make_params(**{**params_dict(params), "mode": "population"})
            self._show_fitted(fitted)
        share = {} if self.limits is None else self.limits.engine_share()
        self.runner = self._runner_factory(ham, fitted, speed=self.speed, start=thread, **share)
        self._restart, self._live = False, {}
        self.preparing = False
        self._update_cost(fitted, ham.P, note)
        return self.runner

    def _fit(self, ham: Hamiltonian, params: SimParams) -> tuple[SimParams | None, str | None]:
        """The parameters this server's memory allows now: N capped (with a sentence), or
        None (with a sentence) when no ensemble fits; the widgets follow a capped N."""
        if self.limits is None:
            return params, None
        fitted, note = self.limits.fit(params, ham.P)
        if fitted is not None and fitted is not params:
            self._show_fitted(fitted)
        return fitted, note

    def _show_fitted(self, params: SimParams) -> None:
        self._quiet = True
        try:
            self.sim.param.update(N=int(params.N), mode=params.mode)
        finally:
            self._quiet = False

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def tick(self, pull: bool = True, urgent: bool = False) -> Published | None:
        """Send what changed since the last tick, then return a new frame (or None).

        With ``pull=False`` only the commands go out: the page has not drawn the last frame
        yet, and the newest one stays in the runner for the next tick, unless ``urgent``
        allows it and it is the first to answer a command (what the user changed shows at
        once instead of after the frames the page is still drawing)."""
        runner = self.runner
        if runner is None:
            return None
        if self.limits is not None and self._idle():
            return None
        if self._live:
            live, self._live = self._live, {}
            runner.send("update", live)
        if self._restart:
            self._restart = False
            try:
                ham, params = self.hamiltonian(), self.sim_params()
            except InputError as err:
                self.error = str(err)
                self.preparing = False
            else:
                fitted, note = self._fit(ham, params)
                if fitted is None:
                    self.error = note or ""
                    self._after_failed_restart()
                else:
                    self._update_cost(fitted, ham.P, note)
                    self._expect = runner.generation + 1
                    runner.send("restart", (ham, fitted))
        if runner.error_seq != self._error_seq:
            self._error_seq = runner.error_seq
            self.error = runner.error or ""
            if self.preparing and runner.error:
                self._after_failed_restart()
        pub = runner.latest()
        if pub is None or pub.seq == self._seq:
            return None
        if not pull and not (urgent and pub.answered != self._answered):
            return None
        self._seq = pub.seq
        self._answered = pub.answered
        runner.taken(pub.seq)
        if self.preparing and pub.generation >= self._expect and not self._restart:
            self.preparing = False
        if pub.playing != self.playing and not self.preparing and pub.answered >= runner.sent:
            # the runner paused itself (an error): the button follows. Not from a frame
            # published before the runner saw the user's last play or pause: that frame
            # would undo it (a Pause click was lost when frames were sent at once)
            self.playing = pub.playing
        self.published = pub
        cost_model.record(pub, runner.params, self.speed)
        return pub

    def _after_failed_restart(self) -> None:
        """A restart the runner refused (e.g. memory): the widgets go back to the running
        ensemble, so they never disagree with it."""
        pub = self.runner.latest() if self.runner is not None else None
        self.preparing = False
        if pub is None:
            return
        self._quiet = True
        try:
            self.sim.param.update(**params_dict(self.runner.params))
        finally:
            self._quiet = False

    def _update_cost(self, params: SimParams, P: int, note: str | None = None) -> None:
        self.cost = " ".join(x for x in (note, cost_model.warning(params, P, self.speed)) if x)

    def _idle(self) -> bool:
        """Pause after the idle time, stop for good after the longer one (the server's
        settings); True when the run was stopped now."""
        watch = self.limits.watch
        state = watch.state()
        if state == "close":
            self.stop()
            self.limits.release()  # the session's place and memory, for the next visitor
            with watch.quiet():
                self.playing = False
            self.error = watch.message("close")
            self.closed = True
            return True
        if state == "pause" and self.playing:
            with watch.quiet():
                self.playing = False
            self.advice = watch.message("pause")
        return False

    # -- exports ---------------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        if self.runner is None:
            return {"t": np.zeros(0)}
        return self.runner.history_columns()

    def export_meta(self) -> dict[str, Any]:
        """The running run's metadata (the command line's sidecar): parameters, seed,
        preset, H and psi0, so a downloaded file can be rerun from itself alone."""
        from real_ensemble_lab.engine.tools.export import export_meta

        r = self.runner
        if r is None:
            raise InputError("There is no run to export yet.")
        extra = r.ham.extra
        return export_meta(r.ham, r.params, extra.get("preset"), extra.get("values"))
