"""The session controller and the page's wiring, without a browser and without sleeps: a
runner driven by hand (``start=False``), an injected clock."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import param
import pytest

from real_ensemble_lab.app.controller import Controller
from real_ensemble_lab.app.dashboard import EnsembleApp
from real_ensemble_lab.app.parts.status import status_html
from real_ensemble_lab.app.runner import Published
from real_ensemble_lab.app.url import read_link
from real_ensemble_lab.engine import SimParams, build_preset, make_params
from real_ensemble_lab.engine.core.params import CONTROLS, N_MAX, param_names
from real_ensemble_lab.engine.core.presets import preset_names
from tests.test_app_unit import Edit, FakeClock, frame


def drive(runner) -> None:
    """What the runner's thread would do: apply every queued command."""
    while not runner._commands.empty():
        runner.process(*runner._commands.get())


@pytest.fixture
def app():
    a = EnsembleApp(clock=FakeClock())
    a.start(thread=False)
    sent = []
    send = a.ctl.runner.send
    a.ctl.runner.send = lambda cmd, value=None: (sent.append((cmd, value)), send(cmd, value))
    a.sent = sent
    a.tick()
    yield a
    a.ctl.runner = None


def test_live_params_coalesce_into_one_update_per_tick(app):
    app.ctl.sim.r = 0.25
    app.ctl.sim.f = 2.0
    app.ctl.sim.r = 0.3  # the latest value wins
    assert app.sent == []  # nothing until the next tick
    app.tick()
    assert app.sent == [("update", {"r": 0.3, "f": 2.0})]


def test_slider_values_are_rounded_to_their_step():
    c = Controller()
    c.sim.r = -0.6000000000000001
    assert c.sim.r == -0.6 and "r=-0.6" in c.share_query()


def test_restart_parameters_pause_grey_and_open_at_t0(app):
    app.ctl.playing = True
    drive(app.ctl.runner)
    app.ctl.runner.process("step", 0.3)
    app.tick()
    app.ctl.sim.N = 2000
    app.ctl.sim.seed = 7
    assert app.ctl.preparing and not app.ctl.playing  # greyed and paused at once
    assert "rel-stale" in app.plots.column.css_classes
    app.tick()
    assert [c for c, _ in app.sent].count("restart") == 1  # one restart for the burst
    ham, params = next(v for c, v in app.sent if c == "restart")
    assert params.N == 2000 and params.seed == 7 and ham.P == 2
    assert app.ctl.published.frame.N != 2000  # the old run still shows ...
    assert "preparing" in app.status.pane.object  # ... and says a new one is coming
    drive(app.ctl.runner)
    app.tick()
    pub = app.ctl.published
    assert not app.ctl.preparing and pub.frame.t == 0.0 and pub.frame.N == 2000
    assert "rel-stale" not in app.plots.column.css_classes
    assert app.plots.press_play.visible and not pub.playing
    assert 'class="rel-N">2 000<' in app.status.pane.object


def test_status_describes_the_running_ensemble_not_the_widgets(app):
    app.ctl.sim.mode = "bell"  # a restart parameter: until the runner builds it ...
    app.tick()
    assert ">population<" in app.status.pane.object  # ... the status shows what runs
    drive(app.ctl.runner)
    app.tick()
    assert ">bell<" in app.status.pane.object


def test_a_refused_restart_puts_the_widgets_back(app, monkeypatch):
    """N the runner cannot build (e.g. memory): one sentence, and the N slider goes back to
    the running N, so slider and run never disagree."""
    from real_ensemble_lab.app import runner as runner_module

    def no_memory(ham, params):
        raise MemoryError

    monkeypatch.setattr(runner_module, "make_stepper", no_memory)
    w = app.sim_controls.widgets["N"]
    with param.edit_constant(w):  # what the page sends when the slider is released
        w.param.update(value=10**7, value_throttled=10**7)
    assert app.ctl.sim.N == 10**7
    app.tick()
    drive(app.ctl.runner)
    app.tick()
    assert "Not enough memory" in app.ctl.error and not app.ctl.preparing
    assert app.ctl.sim.N == app.ctl.published.frame.N == 100_000
    assert w.value == 100_000


def test_preset_and_its_values_restart_and_reload_the_editor(app):
    app.ctl.preset = "three_level"
    app.tick()
    ham, _ = app.sent[-1][1]
    assert ham.P == 3 and app.ham_controls.matrix.table.value.shape == (3, 5)
    app.ctl.preset_values = {"E1": 2.0}
    app.tick()
    ham, _ = app.sent[-1][1]
    assert ham.H[1, 1].real == pytest.approx(2.0)


def test_bad_preset_value_shows_a_sentence_and_sends_nothing(app):
    app.ctl.preset_values = {"detuning": 99.0}  # outside the preset's bounds
    app.tick()
    assert [c for c, _ in app.sent if c == "restart"] == []
    assert app.notices.error.visible and "outside its bounds" in app.notices.error.object
    app.ctl.preset_values = {"detuning": 2.0}
    app.tick()
    assert [c for c, _ in app.sent] == ["pause", "restart"] or \
        [c for c, _ in app.sent][-1] == "restart"


def test_play_speed_and_matrix_edits(app):
    app.ctl.playing = True
    app.ctl.speed = 2.5
    assert app.sent[:2] == [("play", None), ("speed", 2.5)]
    assert app.transport.play.label == "Pause"
    app.sent.clear()
    ed = app.ham_controls.matrix
    ed.table.value.loc[0, "0"] = "1.5"
    ed._on_edit(Edit(0, "0", "1.5"))
    app.tick()
    assert app.sent[0][0] == "update" and app.sent[0][1]["H"][0, 0] == 1.5
    ed.mirror = False
    ed.table.value.loc[0, "1"] = "9"
    ed._on_edit(Edit(0, "1", "9"))
    app.tick()
    assert len(app.sent) == 1 and ed.alert.visible  # nothing reached the runner


@pytest.mark.parametrize("mode", ["agents", "population", "bell"])
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_ticks_in_every_mode(preset, mode):
    """Paused and playing, every view of every preset in every engine mode takes frames
    and history rows without an error or a warning (warnings are errors here); only the
    views with a meaning in the mode are shown."""
    clock = FakeClock()
    a = EnsembleApp(clock=clock, preset=preset, mode=mode, N=1000)
    a.start(thread=False)
    try:
        r = a.ctl.runner
        r.process("step", 0.1)
        a.tick()
        assert 'class="rel-time" data-frame' in a.status.pane.object
        assert ">0.10<" in a.status.pane.object
        shown = a.plots.shown()
        assert ("tracked" in shown) == ("order" in shown) == (mode == "agents")
        assert ("phase" in shown) == (mode != "bell")
        r.process("play")
        for _ in range(12):  # playing: one view flushed per frame, in turn
            clock.advance(0.06)
            r.process("step", 0.05)
            a.tick()
        assert r.error is None
        assert f">{r.latest().frame.t:.2f}<" in a.status.pane.object
        pop = a.plots.views["pop"]
        if pop.lines:
            assert len(pop.source.data["t"]) >= 7  # every recorded row, none skipped
    finally:
        r.stop()


def test_plots_over_time_come_from_the_history_not_the_frames(app):
    """A stall of the page (many steps between two ticks) leaves no straight segment: the
    plots over time get every row recorded on the output grid, with the exact curve
    computed on the same grid."""
    r = app.ctl.runner
    for _ in range(30):
        r.process("step", 0.1)  # 3 time units while the page did not look
    app.tick()
    src = app.plots.views["pop"].source.data
    t = np.asarray(src["t"], float)
    assert np.max(np.diff(t)) == pytest.approx(0.1, rel=1e-5)
    assert len(t) == 31
    p_exact = r.history.rows(0).p[:, 0]
    np.testing.assert_allclose(src["p0"], p_exact, rtol=1e-6)


def test_plots_over_time_flush_one_per_frame_in_turn_while_playing(app, monkeypatch):
    from real_ensemble_lab.app.parts import plots_area

    app.ctl.runner.process("step", 0.1)
    app.tick()  # paused: everything is sent at once
    flushed = []
    for name, view in app.plots.views.items():
        monkeypatch.setattr(view, "flush", lambda k=name: flushed.append(k))
    per_frame = []
    for _ in range(8):
        app.plots.clock.advance(0.07)  # one frame every 70 ms
        before = len(flushed)
        app.plots._flush(playing=True, now=app.plots.clock())
        per_frame.append(len(flushed) - before)
    buffered = [k for k, v in app.plots.views.items() if v.buffered]
    assert set(buffered) == {"phase", "pop", "dev"} and "hist" not in flushed
    assert per_frame == [1] * 8  # one plot per frame
    assert flushed[:6] == buffered * 2  # in turn
    for k in buffered:
        assert flushed.count(k) <= 8 * 0.07 / plots_area.SERIES_PERIOD + 1


def test_the_phase_plot_takes_a_frame_a_tenth_of_a_second_while_playing_all_paused(app,
                                                                                   monkeypatch):
    r = app.ctl.runner
    r.process("step", 0.1)
    app.tick()
    took = []
    for name in ("hist", "phase"):
        view = app.plots.views[name]
        monkeypatch.setattr(view, "update", lambda f, k=name, u=view.update: (took.append(k),
                                                                              u(f)))
    r.process("play")
    for _ in range(10):  # frames 40 ms apart (25 a second)
        app.plots.clock.advance(0.04)
        r.process("step", 0.01)
        app.tick()
    # the phase plot at most every PhaseView.period = 0.1 s: the frames at 0.12, 0.24, 0.36
    assert took.count("hist") == 10 and took.count("phase") == 3
    r.process("pause")  # the frame that stays on the screen is drawn by every view
    took.clear()
    app.tick()
    assert took == ["hist", "phase"]
    phi = app.plots.views["phase"].points.data["x"]
    assert len(phi) > 0


def test_restart_with_the_same_shape_keeps_the_figures(app):
    r = app.ctl.runner
    r.process("step", 0.3)
    app.tick()
    views = app.plots.views
    figs = {k: v.fig for k, v in views.items()}
    assert len(views["pop"].source.data["t"]) > 0
    r.process("restart", (build_preset("two_level"), make_params(mode="population", N=100,
                                                                 seed=4)))
    app.tick()
    assert {k: v.fig for k, v in app.plots.views.items()} == figs
    assert len(app.plots.views["pop"].source.data["t"]) == 1  # the new run's first row
    assert app.plots.views["dev"].bands[0].top == pytest.approx(0.1)
    r.process("restart", (build_preset("three_level"), make_params(mode="population",
                                                                   N=100)))
    app.tick()
    assert app.plots.views["hist"].fig is not figs["hist"] and app.plots.views["hist"].P == 3
    assert app.plots.panes["hist"].object is app.plots.views["hist"].fig


def test_lesson_opens_paused_with_its_banner_and_highlights(app):
    app.lesson_select.value = "alignment"  # the picker
    c = app.ctl
    assert c.lesson == "alignment" and c.sim.f == 6.0 and c.sim.mode == "agents"
    assert c.preset == "three_level" and not c.playing and c.preparing
    assert any("lesson-highlight" in w.css_classes
               for w in [app.sim_controls.boxes["f"]])
    app.tick()
    drive(c.runner)
    app.tick()
    assert c.published.frame.t == 0.0 and not c.playing and app.plots.press_play.visible
    assert app.banner.box.visible and "Lesson 5:" in app.banner.line.object
    assert "Lesson 5:" in app.banner.full.object and not app.banner.full.visible
    c.lesson = "no_such_lesson"
    assert "Unknown lesson 'no_such_lesson'" in c.error and c.lesson == ""
    assert app.lesson_select.value == ""


def test_presentation_mode_closes_the_sidebar_and_enlarges_the_text(app):
    app.ctl.lesson = "nodes"
    app.present.value = True
    assert app.ctl.presentation and app.transport.keys.collapse
    assert "big" in app.status.pane.css_classes
    assert not app.explain_box.visible
    # the larger lesson text (on a projector's width), the maths font kept
    assert "22px" in app.banner.line.stylesheets[-1]
    assert any("math {" in css for css in app.banner.line.stylesheets)
    from real_ensemble_lab.app.a11y import SECTION_CSS

    assert SECTION_CSS in app.banner.full.stylesheets  # the full text keeps its own sheet
    hist = app.plots.views["hist"].fig
    assert hist.title.text_font_size == "17pt"  # the projector profile
    width = hist.renderers[1].glyph.line_width
    app.present.value = False
    assert hist.title.text_font_size == "15pt"
    assert hist.renderers[1].glyph.line_width == pytest.approx(width / 1.6)
    assert not app.transport.keys.collapse and app.explain_box.visible


def test_space_key_presses_toggle_play(app):
    app.transport.keys.presses += 1
    assert app.ctl.playing
    app.transport.keys.presses += 1
    assert not app.ctl.playing


def test_r_button_explains_an_emptied_class(app):
    r = app.ctl.runner
    f = replace(r.latest().frame, n=np.array([100_000, 0]), p=np.array([0.6, 0.4]))
    app.ctl.published = Published(99, r.generation, f, False, 0.4, mode="population")
    app.ctl.sim.r = 0.4
    app.sim_controls.r_reset.clicks += 1
    assert app.ctl.sim.r == -0.5
    assert "class 1 emptied" in app.ctl.advice and "Reset" in app.ctl.advice
    assert app.notices.advice.visible and app.notices.fix.visible
    app.notices.fix.clicks += 1
    assert app.ctl.advice == "" and app.ctl.preparing  # a fresh ensemble is on its way


def test_reanchor_and_reference_widgets(app):
    box = app.sim_controls.cards["alignment"].objects
    assert app.sim_controls.reanchor in box
    assert "ψ_a = √(n_a/N)" in app.sim_controls.reanchor.description
    app.sim_controls.reanchor.clicks += 1
    assert app.sent == [("reanchor", None)]
    app.sent.clear()
    w = app.sim_controls.widgets["reference"]
    assert w.options == {"exact from ψ₀": "initial",
                         "the ensemble's own state once aligned": "own"}
    w.value = "own"
    app.sim_controls.widgets["align_threshold"].value = 0.9
    app.tick()
    assert app.sent == [("update", {"reference": "own", "align_threshold": 0.9})]


def test_status_shows_steps_and_flags_the_time_stepping_error():
    f = replace(frame([5000, 5000], [0.5, 0.5]), steps=14616, step_error=2.2e-5)
    html = status_html(Published(1, 1, f, False, -0.5, mode="population"), 1.0, False)
    assert "14 616" in html and "2.2e-05" in html and "warn" not in html
    html = status_html(Published(2, 1, replace(f, step_error=0.02), False, -0.5,
                                 mode="population"), 1.0, False)
    assert 'class="stat aux warn"' in html and "lower the tolerances" in html
    slow = status_html(Published(3, 1, f, True, -0.5, 0.31, mode="agents"), 1.0, False)
    assert 'class="stat slow"' in slow and ">0.31<" in slow and "cannot keep up" in slow


def test_bell_refuses_to_reanchor_with_a_sentence_and_keeps_running():
    a = EnsembleApp(clock=FakeClock(), mode="bell", N=1000)
    a.start(thread=False)
    try:
        r = a.ctl.runner
        r.process("play")
        r.process("step", 0.1)
        a.tick()
        a.sim_controls.reanchor.clicks += 1
        drive(r)
        a.tick()
        assert "Bell baseline" in a.ctl.error and a.notices.error.visible
        assert r.latest().playing and r.stepper.reanchor_t is None
        r.process("step", 0.1)
        a.tick()
        assert ">0.20<" in a.status.pane.object
    finally:
        r.stop()


def test_exports_carry_the_cli_columns_and_rerun_from_their_metadata(app):
    """A downloaded run holds its parameters, seed, preset, H and psi0: the same counts come
    back from the file alone."""
    from real_ensemble_lab.engine import simulate
    from real_ensemble_lab.engine.tools.export import read_export, rerun

    app.ctl.runner.process("step", 0.3)
    app.tick()
    csv = app._export_csv().getvalue()
    assert b"t,n_0,n_1,p_0,p_1,tv" in csv
    table = pd.read_parquet(io.BytesIO(app._export_parquet().getvalue()))
    assert list(table.columns)[:6] == ["t", "n_0", "n_1", "p_0", "p_1", "tv"]
    for data in (csv, app._export_parquet().getvalue()):
        cols, meta = read_export(data)
        ham, params = rerun(meta)
        again = simulate(ham, params, t_end=0.3).columns()
        np.testing.assert_array_equal(again["n_0"], cols["n_0"])


# --- the one spec ------------------------------------------------------------------------

def test_every_parameter_has_one_widget_one_flag_and_the_same_bounds():
    """SimParams declares each parameter once; the page's widget and the command line's
    flag are generated from it and agree on its bounds."""
    import argparse

    from real_ensemble_lab.engine.tools.cli import add_param_options

    a = EnsembleApp()
    widgets = a.sim_controls.widgets
    assert set(CONTROLS) == set(param_names())
    assert set(widgets) == set(param_names()) - {"t_end"}  # t_end: the command line's
    parser = argparse.ArgumentParser()
    add_param_options(parser)
    flags = {act.dest: act for act in parser._actions if act.dest in param_names()}
    assert set(flags) == set(param_names())
    for name in param_names():
        p = SimParams.param[name]
        act = flags[name]
        if isinstance(p, param.Selector):
            assert list(act.choices) == list(p.objects)
            if name in widgets:
                assert sorted(widgets[name].values) == sorted(p.objects)
            continue
        lo, hi = p.bounds
        assert f"from {lo:g} to {hi:g}" in act.help
        if name not in widgets:
            continue
        w = widgets[name]
        if name == "N":  # a log scale, capped per mode in the app (N_MAX)
            assert max(w.values) == N_MAX[a.ctl.sim.mode] and min(w.values) >= lo
            continue
        got = (w.fixed_start, w.fixed_end) if hasattr(w, "fixed_start") else (w.start, w.end)
        assert got == (lo, hi), name


def test_links_with_bad_values_are_read_with_notices():
    cases = {
        'pv={"theta":99}': "theta=99 from the link is outside",
        'pv={"nope":1}': "has no parameter 'nope'",
        "N=-5": "N=-5 from the link is outside 1 to 10¹⁵ in the population mode",
        "mode=foo": "mode=foo from the link must be one of",
        "lesson=nope": "lesson=nope from the link is not a lesson",
        "r=100": "r=100 from the link is outside -2 to 2, so 2 is used",
        "speed=1000": "speed=1000 from the link is outside",
        "mode=agents&N=300000000": "so 10⁷ is used instead",
        "x=1": "'x' is not a setting",
    }
    for query, text in cases.items():
        link = read_link(query)
        assert len(link.notices) == 1 and text in link.notices[0], query
        c = Controller()
        c.apply_link(link)  # applies without an exception
        c.hamiltonian(), c.sim_params()
    assert read_link("r=100").sim["r"] == 2.0


def test_share_link_round_trips_a_custom_matrix():
    c = Controller()
    H = np.array([[1.0, 0.5j], [-0.5j, -1.0]])
    c.edit_matrix("restart", H, np.array([0.6, 0.8]))
    c.sim.r = -0.6000000000000001
    q = c.share_query()
    assert "r=-0.6&" in q + "&" and "H=" in q and "psi0=" in q
    d = Controller()
    d.apply_link(read_link(q))
    assert d.notices == []
    np.testing.assert_allclose(d.hamiltonian().H, H)
    np.testing.assert_allclose(d.hamiltonian().psi0, [0.6, 0.8])
    assert d.sim.r == -0.6


# -- the server's limits (app/hosting.py) -------------------------------------------------------
def _limited(budget: int, clock=None, pause: float = 600.0, close: float = 1800.0, **values):
    from real_ensemble_lab.app import hosting

    settings = hosting.Settings(idle_pause=pause, idle_close=close)
    host = hosting.Server(settings, hosting.Sessions(5), hosting.MemoryBudget(budget))
    ticket = host.sessions.admit()
    clock = clock or FakeClock()
    limits = hosting.SessionLimits(host, ticket, clock)
    ctl = Controller(clock=clock, limits=limits, **values)
    ctl.start(thread=False)
    return ctl, host, ticket


def test_memory_caps_N_to_a_slider_value_and_says_so():
    from real_ensemble_lab.app import hosting

    left = 3 * 2**20  # room for some 10^5 agents, not 10^6
    ctl, host, ticket = _limited(left, mode="agents", N=1000)
    assert ctl.runner.params.N == 1000 and ctl.cost == ""
    assert host.memory.reserved == hosting.ensemble_bytes("agents", 1000, 2)
    ctl.sim.N = 10**6
    ctl.tick()
    drive(ctl.runner)
    ctl.tick()
    N = ctl.runner.params.N
    cap = hosting.n_cap("agents", 2, left)
    assert N == hosting.slider_floor(cap) and 0 < N < 10**6
    assert ctl.sim.N == N  # the slider shows the N that runs
    assert "N = 1,000,000 would not fit" in ctl.cost and f"so N = {N:,} is used" in ctl.cost
    assert host.memory.reserved == hosting.ensemble_bytes("agents", N, 2)
    ctl.limits.release()
    assert host.memory.reserved == 0 and host.sessions.count == 0


def test_no_memory_left_refuses_the_restart_with_a_sentence_and_keeps_the_run():
    ctl, host, _ = _limited(3 * 2**20, mode="population", N=1000)
    other = host.sessions.admit()
    assert host.memory.reserve(other, host.memory.left(other))  # another took the rest
    ctl.sim.mode = "agents"  # memory per system: not even N = 10 fits now
    ctl.tick()
    assert "No ensemble fits in the memory left on this server" in ctl.error
    assert ctl.sim.mode == ctl.runner.params.mode == "population" and not ctl.preparing


def test_an_idle_session_is_paused_then_stopped_and_gives_its_place_back():
    clock = FakeClock()
    ctl, host, _ = _limited(2**30, clock=clock, pause=60, close=120)

    def tick():  # the runner's thread applies the commands, then the page's tick
        if ctl.runner is not None:
            drive(ctl.runner)
        ctl.tick()

    ctl.playing = True
    tick()
    clock.t += 59
    tick()
    assert ctl.playing  # not idle yet
    clock.t += 2
    tick()
    assert not ctl.playing and "Paused after 60 seconds without input" in ctl.advice
    ctl.playing = True  # input: the clock starts again, the advice goes
    assert ctl.advice == ""
    tick()
    clock.t += 119
    tick()
    assert ctl.runner is not None
    clock.t += 2
    tick()
    assert ctl.closed and ctl.runner is None and not ctl.playing
    assert "closed after 2 minutes without input" in ctl.error
    assert host.sessions.count == 0 and host.memory.reserved == 0


def test_a_closed_session_frees_its_dashboard():
    """Panel's link registry keeps every editable slider (and through its watchers the
    whole dashboard) of a closed session alive; the dashboard's ledger forgets its links
    when the session stops, so nothing of it stays in memory."""
    import gc
    import weakref

    from real_ensemble_lab.app import patches

    def build(ledger_closes: bool):
        a = EnsembleApp(clock=FakeClock())
        a.template()  # what servable builds: every component of the page
        a._links.seal()
        a.start(thread=False)
        a.ctl.preset = "three_level"  # a preset's sliders rebuilt after the page was built
        ref = weakref.ref(a)
        if ledger_closes:
            a.stop()
        else:
            a._links.close = lambda: 0  # the ledger's work left undone
            a.stop()
        return ref

    assert patches._link_registry() is not None  # Panel still has the registry it patches
    kept, freed = build(False), build(True)
    gc.collect()
    assert kept() is not None  # Panel's leak: without the ledger the dashboard stays
    assert freed() is None


def test_the_page_plots_carry_no_model_they_do_not_draw(app):
    """Every model is built by the server, sent and built again by the page (a fresh page
    took 3-4 s alone, 2026-12-03): no glyph renderer keeps the unselected and muted glyphs
    that ``figure`` adds (nothing selects or mutes), and the legend swatches of a figure
    share one source where their columns agree (they had one each)."""
    from bokeh.models import GlyphRenderer

    figs = [v.fig for v in app.plots.views.values()]
    assert {"hist", "pop", "dev"} <= set(app.plots.views)
    for fig in figs:
        for r in fig.renderers:
            if isinstance(r, GlyphRenderer):
                assert r.nonselection_glyph is None and r.muted_glyph is None
    pop = app.plots.views["pop"].fig
    swatches = {id(r.data_source) for item in pop.legend[0].items for r in item.renderers}
    assert len(pop.legend[0].items) >= 4 and len(swatches) == 1


def test_a_closed_page_pauses_its_run_without_counting_as_input(app, monkeypatch):
    """Bokeh keeps a session 15-30 s after its page closed: its engine must not play on for
    nobody (a class closing its tabs held the server's cores that long)."""
    from real_ensemble_lab.app import patches

    pages = [None]  # a session without a server (unit tests): nothing is known
    monkeypatch.setattr(patches, "connections", lambda doc: pages[0])
    app.ctl.playing = True
    app.tick()
    pages[0] = 0  # the session exists before its page connects: it plays on
    app.tick()
    assert app.ctl.playing
    pages[0] = 1
    app.tick()
    assert app.ctl.playing
    app.sent.clear()
    pages[0] = 0  # the page closed
    app.tick()
    assert not app.ctl.playing and app.sent == [("pause", None)]


def test_connections_reads_the_pages_of_a_bokeh_server_session():
    """The private place patches.connections reads (fails when a Bokeh upgrade moves it)."""
    import weakref

    from bokeh.document import Document
    from bokeh.server.contexts import BokehSessionContext
    from bokeh.server.session import ServerSession

    from real_ensemble_lab.app import patches

    assert patches.connections(Document()) is None
    doc = Document()
    context = BokehSessionContext("s", None, doc)
    doc._session_context = weakref.ref(context)
    session = ServerSession("s", doc, io_loop=None, token="t")
    context._set_session(session)
    assert patches.connections(doc) == 0
    page = object()
    session.subscribe(page)
    assert patches.connections(doc) == 1
    session.unsubscribe(page)
    assert patches.connections(doc) == 0


def _run_queued(runner) -> None:
    """What the runner's thread does with the commands waiting (a test has no thread)."""
    batch = []
    while not runner._commands.empty():
        batch.append(runner._commands.get_nowait())
    for cmd, value in batch:
        runner.process(cmd, value)


def test_a_frame_published_before_the_runner_saw_a_pause_does_not_undo_it():
    """A Pause click, then a frame the runner published before it took the pause (sent at
    once by the doorbell): the button stays on Play. A runner that pauses by itself (an
    error) is still followed."""
    ctl = Controller(mode="population", N=1000)
    r = ctl.start(thread=False)
    ctl.playing = True
    _run_queued(r)
    r._advance_by(0.01)
    assert ctl.tick() is not None and ctl.playing
    ctl.playing = False  # the click; "pause" waits in the runner's queue
    r._advance_by(0.01)  # the turn under way ends with a frame still playing
    pub = ctl.tick()
    assert pub.playing and not ctl.playing  # not undone
    _run_queued(r)
    assert not ctl.tick().playing and not ctl.playing
    ctl.playing = True  # and the other way round: Play is not undone either
    r._advance_by(0.01)
    assert ctl.tick() is not None and ctl.playing
    _run_queued(r)
    r.playing = False  # the runner pauses itself (as after a non-finite value)
    r._fail("The simulation stopped.")
    assert not ctl.tick().playing and not ctl.playing
    r.stop()
