"""The dashboard without a browser: runner commands, params -> commands, frames -> sources."""

from __future__ import annotations

import io
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app.dashboard import EnsembleApp, available_modes, n_options
from app.matrix import MatrixEditor, parse_complex, parse_table, table_from
from app.runner import Published, Runner, live_runners
from app.views import (
    DeviationView,
    HistogramView,
    PhaseView,
    PopulationsView,
    TrackedView,
)
from engine import InputError, build_preset, make_params, simulate
from engine.presets import preset_names
from engine.stepper import Frame


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def frame(n, p, t=0.5, N=None, **extra) -> Frame:
    n = np.asarray(n)
    p = np.asarray(p, dtype=float)
    N = int(n.sum()) if N is None else N
    return Frame(t=t, N=N, n=n, p=p, phi=np.zeros(len(n)), phi_exact=np.zeros(len(n)),
                 tv=float(0.5 * np.abs(n / N - p).sum()), steps=1, extra=extra)


# --- runner -------------------------------------------------------------------------------

@pytest.fixture
def runner():
    r = Runner(build_preset("two_level"), make_params(mode="population", N=10_000))
    yield r
    r.stop()


def test_runner_plays_pauses_and_stops(runner):
    assert runner.latest().frame.t == 0.0
    runner.send("speed", 5.0)
    runner.send("play")
    wait_for(lambda: runner.latest().frame.t > 0.5)
    runner.send("pause")
    time.sleep(0.2)
    t = runner.latest().frame.t
    time.sleep(0.3)
    assert runner.latest().frame.t == t  # paused: no progress
    runner.send("step", 0.1)
    wait_for(lambda: runner.latest().frame.t > t)
    assert runner.latest().frame.t == pytest.approx(t + 0.1)
    runner.stop()
    assert not runner.alive and runner not in live_runners()


def test_runner_live_update_and_bad_input_keeps_running(runner):
    runner.send("update", {"r": 0.0})
    wait_for(lambda: runner.stepper.params.r == 0.0)
    assert runner.error is None
    st = runner.stepper
    runner.send("update", {"N": 5})  # needs a restart: refused with a sentence
    wait_for(lambda: runner.error is not None)
    assert "restart" in runner.error and runner.stepper is st
    bad = np.array([[0, 1], [2, 0]], dtype=complex)
    runner.send("update", {"H": bad})
    wait_for(lambda: "Hermitian" in (runner.error or ""))
    assert runner.alive and runner.stepper is st
    runner.send("play")
    t0 = runner.latest().frame.t
    wait_for(lambda: runner.latest().frame.t > t0)  # still running after bad input


def test_runner_reports_the_speed_it_achieves(runner):
    """The achieved simulated time per second: the asked speed when the engine keeps up
    (population mode, N = 10^4), far below it when every advance is slow."""
    runner.send("speed", 2.0)
    runner.send("play")
    wait_for(lambda: runner.latest().rate > 0)
    time.sleep(1.5)
    assert runner.latest().rate == pytest.approx(2.0, rel=0.15)
    st = runner.stepper
    advance = st.advance

    def slow(t_target, wall_budget=None):  # 50 ms for at most 0.01 time units
        time.sleep(0.05)
        return advance(min(t_target, st.t + 0.01))

    st.advance = slow
    time.sleep(4.0)  # four time constants of the average
    assert 0.05 < runner.latest().rate < 0.4  # about 0.01 / 0.055 s = 0.18
    runner.send("pause")
    wait_for(lambda: not runner.latest().playing)
    assert runner.latest().rate == 0.0


def test_sliders_are_handled_without_panels_debounce(app):
    """Panel waits 50 ms before handling a change from the page unless told otherwise."""
    for w in (app.r_slider, app.f_slider, app.speed_slider):
        assert w._debounce == 0


def test_speed_stat_flags_an_engine_that_cannot_keep_up(app):
    app.speed = 1.0
    pub = Published(1, 1, None, True, -0.5, 0.31)
    html = app._speed_stat(pub)
    assert 'class="stat slow"' in html and ">0.31<" in html and "of 1" in html
    assert "cannot keep up" in html
    ok = app._speed_stat(Published(1, 1, None, True, -0.5, 0.97))
    assert "slow" not in ok and ">0.97<" in ok
    assert app._speed_stat(Published(1, 1, None, False, -0.5, 0.0)) == ""


def test_runner_restart_new_generation(runner):
    gen = runner.latest().generation
    runner.send("restart", (build_preset("three_level"), make_params(N=500, seed=3)))
    wait_for(lambda: runner.latest().generation == gen + 1)
    assert len(runner.latest().frame.n) == 3 and runner.latest().frame.N == 500


def test_runner_history_has_cli_columns():
    ham = build_preset("two_level")
    params = make_params(N=1000, seed=2, dt_out=0.1)
    r = Runner(ham, params, start=False)
    for _ in range(5):
        r.process("step", 0.1)
    cols = r.history_columns()
    expected = simulate(ham, params, t_end=0.5).columns()
    assert list(cols) == list(expected)
    np.testing.assert_allclose(cols["t"], np.arange(6) * 0.1, atol=1e-12)
    np.testing.assert_allclose(cols["p_0"], expected["p_0"], rtol=1e-9)
    assert cols["n_0"].dtype == np.int64


# --- matrix editor ----------------------------------------------------------------------

@pytest.mark.parametrize("text, z", [("0.8", 0.8), ("0.3-0.2i", 0.3 - 0.2j), ("i", 1j),
                                     ("-2.5j", -2.5j), (" 1 + i ", 1 + 1j), (1.5, 1.5)])
def test_parse_complex(text, z):
    assert parse_complex(text, "H[0][1]") == z


def test_parse_table_names_bad_entry():
    df = table_from(build_preset("two_level"))
    H, psi = parse_table(df)
    np.testing.assert_allclose(H, build_preset("two_level").H, atol=1e-6)
    df.loc[0, "1"] = "abc"
    with pytest.raises(InputError, match=r"H\[0\]\[1\] = 'abc' is not a number"):
        parse_table(df)
    df.loc[0, "1"] = "5"
    with pytest.raises(InputError, match="not Hermitian"):
        parse_table(df)


class Edit:
    def __init__(self, row, column, value):
        self.row, self.column, self.value = row, column, value


def test_matrix_editor_live_restart_and_error():
    calls = []
    ed = MatrixEditor(on_apply=lambda kind, H, psi: calls.append((kind, H, psi)))
    ed.load(build_preset("two_level"))
    ed.table.value.loc[0, "1"] = "0.5"  # the browser's edit
    ed._on_edit(Edit(0, "1", "0.5"))  # mirrored into H[1][0]
    assert [c[0] for c in calls] == ["live"]
    assert calls[0][1][1, 0] == 0.5 and not ed.alert.visible
    ed.mirror = False
    ed.table.value.loc[0, "1"] = "0.7i"
    ed._on_edit(Edit(0, "1", "0.7i"))
    assert len(calls) == 1 and ed.alert.visible and "not Hermitian" in ed.error
    ed.table.value.loc[0, "1"] = "0.5"
    ed.table.value.loc[1, "psi0"] = "1"
    ed._on_edit(Edit(1, "psi0", "1"))
    assert [c[0] for c in calls] == ["live", "restart"] and not ed.alert.visible


# --- the app: params -> runner commands ----------------------------------------------------

@pytest.fixture
def app():
    a = EnsembleApp()
    a.start(thread=False)  # a runner driven by hand: commands are recorded, not run
    sent = []
    a.runner.send = lambda cmd, value=None: sent.append((cmd, value))
    a.sent = sent
    yield a
    a.runner = None


def test_live_params_become_update_commands(app):
    app.sim.r = 0.25
    app.sim.f = 2.0
    assert app.sent == [("update", {"r": 0.25}), ("update", {"f": 2.0})]


def test_ensemble_params_restart_once_on_next_tick(app):
    app.sim.N = 2000
    app.sim.seed = 7
    assert app.sent == []  # coalesced: nothing until the next tick
    app.tick()
    assert [c for c, _ in app.sent] == ["restart"]
    ham, params = app.sent[0][1]
    assert params.N == 2000 and params.seed == 7 and ham.P == 2


def test_preset_and_its_values_restart(app):
    app.preset = "three_level"
    app.tick()
    ham, _ = app.sent[-1][1]
    assert ham.P == 3 and app.matrix.table.value.shape == (3, 5)
    app.preset_values = {"E1": 2.0}
    app.tick()
    ham, _ = app.sent[-1][1]
    assert ham.H[1, 1].real == pytest.approx(2.0)


@pytest.mark.parametrize("mode", available_modes())
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_ticks_in_every_mode(preset, mode, monkeypatch):
    """Paused and playing, every view of every preset in every engine mode takes frames
    without an error or a warning (warnings are errors here), and the status follows.
    Lattices (ring, double well) add the mean-position view, which flushes in turn too."""
    import app.dashboard as dashboard
    from engine.classical import is_lattice

    clock = iter(np.arange(100.0, 200.0, 0.06))
    monkeypatch.setattr(dashboard.time, "monotonic", lambda: next(clock))
    a = EnsembleApp(preset=preset, mode=mode, N=1000)
    a.start(thread=False)
    try:
        a.runner.process("step", 0.1)
        a.tick()  # paused: every view flushed at once
        assert "0.10" in a.status.object
        lattice = is_lattice(a.runner.ham)
        assert ("classical" in a.views) == lattice == a.classical_box.visible
        a.runner.process("play")
        for _ in range(12):  # playing: one view flushed per frame, in turn
            a.runner.process("step", 0.05)
            a.tick()
        assert a.runner.error is None
        assert f"{a.runner.latest().frame.t:.2f}" in a.status.object
        if lattice:
            assert len(a.views["classical"].source.data["t"]) > 1
    finally:
        a.runner.stop()


def test_play_speed_and_matrix_edits(app):
    app.playing = True
    app.speed = 2.5
    assert app.sent[:2] == [("play", None), ("speed", 2.5)]
    assert app.play_button.label == "Pause"
    app.sent.clear()
    app.matrix.table.value.loc[0, "0"] = "1.5"
    app.matrix._on_edit(Edit(0, "0", "1.5"))
    assert app.sent[0][0] == "update" and app.sent[0][1]["H"][0, 0] == 1.5
    app.matrix.mirror = False
    app.matrix.table.value.loc[0, "1"] = "9"
    app.matrix._on_edit(Edit(0, "1", "9"))
    assert len(app.sent) == 1 and app.matrix.alert.visible  # nothing reached the runner


def test_bad_input_shows_a_sentence_and_sends_nothing(app):
    app.preset_values = {"detuning": 99.0}  # outside the preset's bounds
    app.tick()
    assert app.sent == []
    assert app.error.visible and "outside its bounds" in app.error.object
    app.preset_values = {"detuning": 2.0}
    app.tick()
    assert [c for c, _ in app.sent] == ["restart"]


def test_modes_and_N_scale():
    modes = available_modes()
    assert modes[-2:] == ["population", "bell"]
    assert ("agents" in modes) == ("engine.agents" in sys.modules or _imports("engine.agents"))
    opts = n_options("agents")
    assert max(opts.values()) == 10**7 and min(opts.values()) == 10
    assert max(n_options("population").values()) == 10**15


def _imports(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# --- frames -> data sources ----------------------------------------------------------------

def test_histogram_inline_columns_and_absorbed_marks():
    v = HistogramView(3, ("0", "1", "2"))
    v.update(frame([60, 40, 0], [0.5, 0.4, 0.1]))
    d = v.bars.data
    assert isinstance(d["rho"], list)  # short: inside the message, not a binary buffer
    np.testing.assert_allclose(d["rho"], [0.6, 0.4, 0.0])
    np.testing.assert_array_equal(d["empty"], [0, 0, 1])
    np.testing.assert_allclose(d["p"], [0.5, 0.4, 0.1], rtol=1e-6)
    before, p_before = v.bars.data["empty"], v.bars.data["p"]
    v.update(frame([50, 50, 0], [0.5, 0.4, 0.1]))
    assert v.bars.data["empty"] is before  # unchanged columns not resent
    assert v.bars.data["p"] is p_before


def test_phase_view_population_and_agents():
    v = PhaseView(2)
    v.update(frame([75, 25], [0.75, 0.25]))
    assert len(v.points.data["x"]) == 2 and v.points.data["size"][0] > v.points.data["size"][1]
    k = 300
    rng = np.random.default_rng(0)
    extra = dict(sample_a=rng.integers(0, 2, k), sample_phi=rng.uniform(-np.pi, np.pi, k),
                 polar=np.array([0.9, 0.5]), nematic=np.array([0.95, 0.7]))
    v.update(frame([75, 25], [0.75, 0.25], **extra))
    x, y = v.points.data["x"], v.points.data["y"]
    assert len(x) == k and x.dtype == np.float32
    r = np.hypot(x, y)
    a = extra["sample_a"]
    assert np.all(np.abs(r - v.radius[a]) < 0.2)  # each on its class's ring
    assert list(v.order.data["polar"]) == [1.0, 1.0]  # order bars wait for the flush
    v.flush()
    np.testing.assert_allclose(v.order.data["polar"], [0.9, 0.5], rtol=1e-6)


def test_populations_lines_stream_and_heat_strip():
    v = PopulationsView(2)
    for i in range(3):
        v.update(frame([60, 40], [0.5, 0.5], t=0.1 * i))
    assert len(v.source.data["t"]) == 0  # rows wait for the next flush, none is lost
    v.flush()
    assert len(v.source.data["t"]) == 3
    np.testing.assert_allclose(v.source.data["t"], [0.0, 0.1, 0.2], rtol=1e-6)
    assert (v.x.start, v.x.end) == pytest.approx((0.0, 0.204))  # the axis follows time
    v.flush()  # nothing new: nothing sent
    assert len(v.source.data["t"]) == 3
    assert {"rangesupdate", "reset"} <= set(v.fig._event_callbacks)  # wired to the plot
    v._on_ranges_update(None)  # the user pans or zooms: the axis stays where they left it
    v.update(frame([60, 40], [0.5, 0.5], t=0.5))
    v.flush()
    assert v.x.end == pytest.approx(0.204)
    v._on_reset(None)  # the reset tool: following again
    assert v.x.end == pytest.approx(0.51)
    lattice = PopulationsView(64)
    n = np.zeros(64, int)
    n[10:20] = 10
    p = np.zeros(64)
    p[10:20] = 0.1
    for i in range(400):
        lattice.update(frame(n, p, t=0.05 * i))
    lattice.flush()
    img = lattice.source.data["image"][0]
    assert img.shape == (64, 360) and img.dtype == np.float32
    assert lattice.source.data["x"][0] == pytest.approx(0.05 * 40)
    assert lattice.x.start == pytest.approx(0.05 * 40)
    lattice.x.update(start=0.0, end=1.0)
    lattice._on_reset(None)  # the reset tool re-spans the heat strip at once
    assert lattice.x.start == pytest.approx(0.05 * 40)


def test_a_frame_travels_in_few_websocket_messages():
    """Bokeh sends each binary buffer as two more WebSocket messages, each a task for the
    page: only the phase plot's sample (long) goes as bytes; short columns go inline."""
    from bokeh.document import Document
    from bokeh.protocol import Protocol

    from app.views import INLINE_MAX

    views = [HistogramView(2), PhaseView(2), PopulationsView(2), DeviationView(1000),
             TrackedView(2, k=3)]
    doc = Document()
    for fig in (*(v.fig for v in views), views[1].order_fig):
        doc.add_root(fig)
    events = []
    doc.on_change(events.append)
    k = INLINE_MAX + 1000
    rng = np.random.default_rng(1)
    extra = dict(sample_a=rng.integers(0, 2, k), sample_phi=rng.uniform(-np.pi, np.pi, k),
                 polar=np.array([0.9, 0.5]), nematic=np.array([0.9, 0.6]),
                 tracked_a=np.array([0, 1, 1]))
    buffers = []
    for t in (1, 2):
        events.clear()
        for v in views:
            v.update(frame([600, 400 + t], [0.55, 0.45], t=t, **extra))
            v.flush()
        buffers.append(len(Protocol().create("PATCH-DOC", events).buffers))
        changed = {getattr(ev, "model", None) for ev in events}
        assert {views[0].bars, views[1].points, views[1].exact, views[1].order,
                *(v.source for v in views[2:])} <= changed  # every view sent its data
    # a new sample: its a, size, x and y; then the same systems again: their x and y only
    assert buffers == [4, 2]
    x = views[1].points.data["x"]
    assert x.dtype == np.float32 and len(x) == k


def test_deviation_and_tracked():
    d = DeviationView(10_000)
    d.update(frame([60, 40], [0.6, 0.4]))  # D = 0 is clipped for the log axis
    d.flush()
    assert d.source.data["D"][0] > 0
    tr = TrackedView(3, k=2)
    tr.update(frame([1, 1, 1], [1 / 3] * 3))
    tr.flush()
    assert tr.note.visible and len(tr.source.data["t"]) == 0
    tr.update(frame([1, 1, 1], [1 / 3] * 3, tracked_a=np.array([2, 0])))
    tr.flush()
    assert not tr.note.visible and list(tr.source.data["a0"]) == [2.0]


def test_plots_over_time_flush_one_per_frame_in_turn_while_playing(app, monkeypatch):
    import app.dashboard as dashboard

    app.runner.process("step", 0.1)
    app.tick()  # paused: everything is sent at once
    flushed = []
    for name, view in app.views.items():
        monkeypatch.setattr(view, "flush", lambda k=name: flushed.append(k))
    clock = iter(np.arange(100.0, 200.0, 0.06))  # one frame every 60 ms
    monkeypatch.setattr(dashboard.time, "monotonic", lambda: next(clock))
    per_frame = []
    for _ in range(8):
        before = len(flushed)
        app._flush_views(playing=True)
        per_frame.append(len(flushed) - before)
    buffered = [k for k, v in app.views.items() if v.buffered]
    assert set(buffered) == {"phase", "pop", "dev", "tracked"} and "hist" not in flushed
    assert per_frame == [1] * 8  # one plot per frame (four frames per SERIES_PERIOD)
    assert flushed == buffered * 2  # in turn
    for k in buffered:  # each at most every SERIES_PERIOD
        assert flushed.count(k) <= 8 * 0.06 / dashboard.SERIES_PERIOD + 1
    flushed.clear()
    app._flush_views(playing=False)
    assert sorted(flushed) == sorted(buffered)


def test_bokeh_workaround_is_installed_on_document_ready():
    from bokeh.document import Document

    from app import bokeh_fixes

    doc = Document()
    bokeh_fixes.install(doc)
    (cb,) = doc.callbacks._js_event_callbacks["document_ready"]
    assert "InlineStyleSheet" in cb.code and "__rel_style_patch" in cb.code
    assert "GlyphRendererView" in cb.code and "setTimeout" in cb.code


def test_tick_builds_views_from_frames_and_exports(app):
    app.runner.process("step", 0.3)
    app.tick()
    assert set(app.views) == {"hist", "phase", "pop", "dev", "tracked"}
    assert app.panes["hist"].object is app.views["hist"].fig
    assert "0.30" in app.status.object
    csv = app._export_csv().getvalue()
    assert csv.splitlines()[0] == "t,n_0,n_1,p_0,p_1,tv" and len(csv.splitlines()) == 5
    table = pd.read_parquet(io.BytesIO(app._export_parquet().getvalue()))
    assert list(table.columns) == ["t", "n_0", "n_1", "p_0", "p_1", "tv"]


def test_legends_hang_on_static_copies_of_the_live_renderers():
    """BokehJS rebuilds a legend whenever anything its items reach changes, so legend
    entries must not reach the live data sources (that cost most of the browser's time)."""
    from bokeh.models import Legend

    v = PopulationsView(2)
    live = {id(r.data_source) for r in v.fig.renderers if r.data_source is v.source}
    assert live
    for leg in v.fig.select(type=Legend):
        assert "legend_item_click" in leg.js_event_callbacks  # click still hides lines
        for item in leg.items:
            for r in item.renderers:
                assert id(r.data_source) not in live
                data = r.data_source.data
                assert all(len(col) == 1 for col in data.values())
                assert np.isnan(data["t"][0])  # draws nothing


def test_restart_with_the_same_shape_keeps_the_figures(app):
    app.runner.process("step", 0.3)
    app.tick()
    figs = {k: v.fig for k, v in app.views.items()}
    assert len(app.views["pop"].source.data["t"]) > 0
    # a new ensemble of another N, same P: same figures, cleared data, band moved
    app.runner.process("restart", (build_preset("two_level"), make_params(mode="population",
                                                                          N=100, seed=4)))
    app.tick()
    assert {k: v.fig for k, v in app.views.items()} == figs
    assert len(app.views["pop"].source.data["t"]) == 1  # the new run's first row only
    assert app.views["dev"].bands[0].top == pytest.approx(0.1)
    # another P: new figures
    app.runner.process("restart", (build_preset("three_level"), make_params(mode="population",
                                                                            N=100)))
    app.tick()
    assert app.views["hist"].fig is not figs["hist"] and app.views["hist"].P == 3
    assert app.panes["hist"].object is app.views["hist"].fig


def test_lesson_from_picker_or_link_and_presentation_mode(app):
    app.lesson_select.value = "alignment"  # the picker
    assert app.lesson == "alignment" and app.sim.f == 6.0 and app.sim.mode == "agents"
    assert app.preset == "three_level" and app.playing
    assert "lesson-highlight" in app.f_slider.css_classes
    app.tick()  # the restart, with the lesson's text
    assert "restart" in [c for c, _ in app.sent] and "Lesson 5:" in app.explain.object
    app.lesson = "bell_vs_ensemble"  # what a shared link (?lesson=...) sets
    app.tick()
    assert app.lesson_select.value == "bell_vs_ensemble" and "Lesson 7:" in app.explain.object
    app.lesson = "no_such_lesson"
    assert "Unknown lesson 'no_such_lesson'" in app.error.object and app.lesson == ""
    assert app.lesson_select.value == ""
    app.lesson = "alignment"
    app.sidebar()
    app.presentation = True  # ?present=true
    assert app.present_toggle.value and app.banner.objects == [app.explain]
    assert app.status.css_classes == ["status", "big"]  # large figures in the status bar
    assert app.banner.visible and not app.explain_box.visible
    assert not app._cards["matrix"].visible and not app._cards["advanced"].visible
    app.present_toggle.value = False
    assert not app.presentation and app.explain_box.objects == [app.explain]
    assert app.status.css_classes == ["status"]
    assert app._cards["matrix"].visible


# --- re-anchoring the reference and the time-stepping estimate ------------------------------

def test_reanchor_command_reaches_the_stepper_and_the_next_frame():
    """The button's command is applied in the runner's thread: the next frame carries the
    time of the re-anchoring and compares with the exact evolution of the ensemble's own
    state psi_a = sqrt(n_a/N) e^{-i phibar_a} (at that instant: |psi_a|^2 = n_a/N)."""
    from engine import ExactEvolution

    r = Runner(build_preset("three_level"),
               make_params(mode="agents", N=3000, init_phases="random", f=6.0, gamma=1.0,
                           seed=5), start=False)
    for _ in range(3):
        r.process("step", 0.5)
    p_initial = r.latest().frame.p
    assert r.latest().frame.reanchor_t is None
    r.send("reanchor")  # a known command (queued; this runner has no thread to take it)
    r.process("reanchor")  # what the thread does with it, between steps
    f = r.latest().frame
    st = r.stepper
    assert r.error is None
    assert f.reanchor_t == st.reanchor_t == pytest.approx(f.t)
    np.testing.assert_allclose(f.p, f.n / f.N, atol=1e-12)  # |psi_own|^2 = n_a/N
    psi = st.reanchor_psi
    np.testing.assert_allclose(np.abs(psi) ** 2, f.n / f.N, atol=1e-12)
    assert np.abs(f.p - p_initial).sum() > 1e-3  # no longer |e^{-iHt} psi0|^2
    r.process("step", 0.4)
    g = r.latest().frame
    assert g.reanchor_t == f.reanchor_t and g.t == pytest.approx(f.t + 0.4)
    own = ExactEvolution(st.ham.H, psi).psi(g.t - f.reanchor_t)
    np.testing.assert_allclose(g.p, np.abs(own) ** 2, atol=1e-9)
    r.stop()


def test_reanchor_button_and_reference_widgets_send_commands(app):
    app.sidebar()
    alignment = app._cards["alignment"].objects
    assert {id(app.reference), id(app.align_threshold), id(app.reanchor_button)} <= \
        {id(w) for w in alignment}
    assert "ψ_a = √(n_a/N) e^{−iφ̄_a}" in app.reanchor_button.description
    app.reanchor_button.clicks += 1
    assert app.sent == [("reanchor", None)]
    app.sent.clear()
    assert app.reference.options == {"exact from ψ₀": "initial",
                                     "the ensemble's own state once aligned": "own"}
    app.reference.value = "own"
    app.align_threshold.value = 0.9
    assert app.sent == [("update", {"reference": "own"}),
                        ("update", {"align_threshold": 0.9})]
    assert app.sim.reference == "own" and app.sim.align_threshold == 0.9
    from app.dashboard import URL_PARAMS

    assert {"reference", "align_threshold"} <= set(URL_PARAMS)


def test_plots_over_time_mark_the_reanchoring(app):
    """A dashed line labelled 're-anchored' at frame.reanchor_t on the populations and
    deviation plots: hidden before, moved to the frame's time, hidden again on restart."""
    app.runner.process("step", 0.3)
    app.tick()
    marked = [app.views["pop"], app.views["dev"]]
    for v in marked:
        assert v.anchor_line in v.fig.center and not v.anchor_line.visible
        assert v.anchor_line.line_dash == [6]  # bokeh's "dashed"
        assert v.anchor_label.text == "re-anchored" and not v.anchor_label.visible
    app.runner.process("reanchor")
    app.runner.process("step", 0.2)
    app.tick()
    t_a = app.runner.stepper.reanchor_t
    assert t_a == pytest.approx(0.3)
    for v in marked:
        assert v.anchor_line.visible and v.anchor_label.visible
        assert v.anchor_line.location == v.anchor_label.x == t_a
    app.runner.process("reset")  # a new ensemble: not re-anchored yet
    app.tick()
    for v in marked:
        assert not v.anchor_line.visible and not v.anchor_label.visible
    strip = PopulationsView(64)  # heat strips (P > 8) carry the mark too
    n = np.full(64, 10)
    strip.update(replace(frame(n, n / n.sum(), t=1.0), reanchor_t=0.75))
    assert strip.anchor_line.visible and strip.anchor_line.location == 0.75
    strip.reset(640)
    assert not strip.anchor_line.visible


def test_status_shows_steps_and_flags_the_time_stepping_error(app):
    """Steps and the estimated time-stepping error of D; amber, with the reason, once it
    exceeds the ensemble's own scale 1/sqrt(N)."""
    f = replace(frame([5000, 5000], [0.5, 0.5]), steps=14616, step_error=2.2e-5)
    app._update_status(Published(1, 1, f, False, -0.5))
    html = app.status.object
    assert "14 616" in html and "2.2e-05" in html
    assert "warn" not in html and "lower the tolerances" not in html  # 2.2e-5 * 100 < 1
    app._update_status(Published(2, 1, replace(f, step_error=0.02), False, -0.5))
    html = app.status.object
    assert 'class="stat aux warn"' in html and "2.0e-02" in html
    assert 'title="The time stepping, not the finite ensemble, dominates D·√N here: lower ' \
           'the tolerances."' in html


def test_bell_refuses_to_reanchor_with_a_sentence_and_keeps_running():
    a = EnsembleApp(mode="bell", N=1000)
    a.start(thread=False)
    try:
        a.runner.process("play")
        a.runner.process("step", 0.1)
        a.tick()
        a.runner.send = a.runner.process  # no thread here: commands apply at once
        a.reanchor_button.clicks += 1
        a.tick()
        assert a.error.visible and "Bell baseline" in a.error.object
        assert "re-anchor" in a.error.object and a.error.object.count(".") == 1
        assert a.runner.latest().playing and a.runner.stepper.reanchor_t is None
        a.runner.process("step", 0.1)
        a.tick()
        assert "0.20" in a.status.object  # still running
    finally:
        a.runner.stop()
