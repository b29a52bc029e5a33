"""The dashboard's pieces without a browser: the runner, the matrix editor, frames and
history rows -> Bokeh sources. The controller and the page's wiring: test_controller.py."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from real_ensemble_lab.app.matrix import MatrixEditor, parse_complex, parse_table, table_from
from real_ensemble_lab.app.plots import (
    DeviationView,
    HistogramView,
    PhaseView,
    PopulationsView,
    TrackedView,
)
from real_ensemble_lab.app.runner import Rows, Runner, coalesce, live_runners
from real_ensemble_lab.engine import InputError, build_preset, make_params, simulate
from real_ensemble_lab.engine.core.stepper import Frame, Systems


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
    P = len(n)
    systems = None
    if extra:
        full = dict(polar=np.ones(P), nematic=np.ones(P), sample_a=np.zeros(0, int),
                    sample_phi=np.zeros(0), tracked_a=np.zeros(0, int),
                    tracked_phi=np.zeros(0))
        full.update(extra)
        systems = Systems.of(full)
    return Frame(t=t, N=N, n=n, p=p, phi=np.zeros(P), phi_exact=np.zeros(P),
                 tv=float(0.5 * np.abs(n / N - p).sum()), steps=1, extra=extra,
                 systems=systems)


def rows(n, p, ts, tracked=None) -> Rows:
    """History rows with the same counts at every time ``ts``."""
    n = np.asarray(n)
    k = len(ts)
    N = int(n.sum())
    nn = np.tile(n, (k, 1))
    pp = np.tile(np.asarray(p, float), (k, 1))
    tv = 0.5 * np.abs(nn / N - pp).sum(1)
    tr = None if tracked is None else np.tile(np.asarray(tracked), (k, 1))
    return Rows(0, np.asarray(ts, float), nn, pp, tv, N, tr)


class FakeClock:
    """Wall-clock seconds that move only when told to."""

    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


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


def test_runner_measures_the_speed_it_achieves_on_its_clock():
    """The achieved simulated time per second, on an injected clock: the asked speed when
    each turn keeps up, the engine's own pace when every turn is slow (no wall clock)."""
    clock = FakeClock()
    r = Runner(build_preset("two_level"), make_params(N=1000), speed=2.0, start=False,
               clock=clock)
    for _ in range(12):  # turns of 25 ms that advanced 2 x 25 ms: keeping up
        r._measure_rate(0.05, 0.025)
    assert r.rate == pytest.approx(2.0)
    for _ in range(200):  # turns of 55 ms that advanced 0.01: the engine's limit
        r._measure_rate(0.01, 0.055)
    assert r.rate == pytest.approx(0.01 / 0.055, rel=1e-3)
    # an advance stops when its wall budget is spent, measured on the same clock
    st = r.stepper
    advance = st.advance

    def slow(t_target, wall_budget=None):
        clock.advance(0.03)
        return advance(min(t_target, st.t + 0.001))

    st.advance = slow
    t0 = st.t
    r._advance_by(1.0, wall_budget=0.1)
    assert st.t - t0 == pytest.approx(0.004, abs=1e-9)  # four chunks of 30 ms in 100 ms


def test_runner_rests_to_keep_within_its_cpu_share():
    """A hosted session's engine steps at most its share of wall time: after a turn that
    stepped 30 ms with a share of 1/4 it waits until 120 ms have passed (on its clock);
    without a cap it only waits for the frame period."""
    clock = FakeClock()
    capped = Runner(build_preset("two_level"), make_params(N=1000), start=False,
                    clock=clock, cpu_share=0.25)
    free = Runner(build_preset("two_level"), make_params(N=1000), start=False, clock=clock)
    for r in (capped, free):
        r.playing = True
        started = clock()
        clock.advance(0.03)  # the turn's steps and frame
        r._rest(started)
        assert r._timeout(started) == pytest.approx(0.09 if r is capped else 0.0)
    with pytest.raises(ValueError):
        Runner(build_preset("two_level"), make_params(N=1000), start=False, cpu_share=0.0)


def test_runner_waits_for_its_session_to_take_the_last_frame():
    """A session that has taken neither of the last two frames (its page or the server is
    busy) gets no new one each frame period: the runner steps in turns of IDLE_PERIOD (the
    simulation keeps pace) until the frame is taken, which wakes it. A runner whose session
    never took a frame (no page) keeps the frame period."""
    from real_ensemble_lab.app.runner import _WAKE, FRAME_PERIOD, IDLE_PERIOD

    clock = FakeClock()
    r = Runner(build_preset("two_level"), make_params(N=1000), start=False, clock=clock)
    r.playing = True
    t = clock()
    assert r._timeout(t) == pytest.approx(FRAME_PERIOD)  # never taken: no pacing
    r.taken(r.latest().seq)
    assert r._timeout(t) == pytest.approx(FRAME_PERIOD)
    r._advance_by(0.02)  # a turn publishes a new frame, not taken yet: one ahead is fine
    assert r._timeout(t) == pytest.approx(FRAME_PERIOD)
    r._advance_by(0.02)  # two ahead of what the session took: wait for it
    assert r._timeout(t) == pytest.approx(IDLE_PERIOD)
    assert r._commands.empty()
    r.taken(r.latest().seq)  # the page takes it: the waiting runner is woken
    assert r._commands.get_nowait() is _WAKE
    assert r._timeout(t) == pytest.approx(FRAME_PERIOD)
    r.taken(r.latest().seq)  # not waiting: nothing queued
    assert r._commands.empty()
    r.stop()


def test_runner_waits_at_the_page_gate_for_at_most_wait_max():
    """While a page is built (the process's gate closed) a playing runner does not step:
    it looks again every GATE_POLL, and after gate.wait_max in a row it steps one turn and
    waits again; an open gate (or none) never holds it. On an injected clock."""
    from real_ensemble_lab.app.hosting import PageGate
    from real_ensemble_lab.app.runner import FRAME_PERIOD, GATE_POLL

    clock = FakeClock()
    gate = PageGate(clock, hold_max=30.0, wait_max=1.0)
    r = Runner(build_preset("two_level"), make_params(N=1000), start=False, clock=clock,
               gate=gate)
    r.playing = True
    t = clock()
    assert r._held(clock()) == 0.0 and r._timeout(t) == pytest.approx(FRAME_PERIOD)
    token = gate.hold()
    assert r._held(clock()) == pytest.approx(GATE_POLL)  # held from now
    clock.advance(0.2)
    assert r._timeout(clock()) == pytest.approx(GATE_POLL)  # looks again soon
    assert r._held(clock()) == pytest.approx(GATE_POLL)
    clock.advance(0.78)
    assert r._held(clock()) == pytest.approx(0.02)  # the rest of wait_max
    clock.advance(0.02)
    assert r._held(clock()) == 0.0  # a second in a row: one turn
    assert r._held(clock()) == pytest.approx(GATE_POLL)  # and held again
    gate.release(token)
    assert r._held(clock()) == 0.0
    free = Runner(build_preset("two_level"), make_params(N=1000), start=False, clock=clock)
    assert free._held(clock()) == 0.0
    r.stop()
    free.stop()


def test_runner_thread_does_not_step_while_the_gate_is_closed():
    """The loop itself honours the gate: a playing runner behind a closed gate (wait_max
    far away) does not step; opened, it steps on."""
    from real_ensemble_lab.app.runner import Runner as RealRunner

    class Gate:
        wait_max = 3600.0

        def __init__(self):
            self.shut, self.asked = True, threading.Event()
            self.calls = 0

        def closed(self):
            self.calls += 1
            if self.calls >= 5:
                self.asked.set()
            return self.shut

    gate = Gate()
    r = RealRunner(build_preset("two_level"), make_params(N=1000), gate=gate)
    r.send("play")  # answered with a frame at t = 0
    assert gate.asked.wait(60)  # the loop looked at the gate five times...
    assert r.stepper.t == 0.0 and r.latest().frame.t == 0.0  # ...and never stepped
    gate.shut = False
    deadline = time.monotonic() + 60
    while r.stepper.t == 0.0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the runner looks at the gate again within GATE_POLL
    assert r.stepper.t > 0.0
    r.stop()


def test_controller_tells_the_runner_which_frame_it_took():
    from real_ensemble_lab.app.controller import Controller

    ctl = Controller()
    runner = ctl.start(thread=False)
    pub = ctl.tick()
    assert pub is not None and runner._taken == pub.seq
    runner._advance_by(0.1, wall_budget=60.0)
    assert ctl.tick(pull=False) is None and runner._taken == pub.seq
    ctl.runner = None


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are Linux's")
def test_runner_thread_runs_at_the_niceness_asked_for():
    """Engine threads below the web server's: the runner's own thread gets the niceness."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    want = min(19, base + 5)
    r = Runner(build_preset("two_level"), make_params(N=1000), nice=want)
    try:
        wait_for(lambda: r._thread.native_id is not None and r.latest() is not None)
        wait_for(lambda: os.getpriority(os.PRIO_PROCESS, r._thread.native_id) == want)
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the server's thread is untouched
    finally:
        r.stop()


def test_runner_coalesces_a_burst_of_commands():
    """Commands that arrive together: only the last new ensemble is built; live changes and
    steps it replaces are dropped; play, pause and speed keep their order; stop ends it."""
    a, b = ("restart", "A"), ("restart", "B")
    batch = [("update", {"r": 0.1}), a, ("play", None), ("step", 0.1), b, ("update", 1)]
    assert coalesce(batch) == [("play", None), b, ("update", 1)]
    assert coalesce([("update", 1), ("step", None)]) == [("update", 1), ("step", None)]
    assert coalesce([a, ("stop", None), b]) == [a, ("stop", None)]
    r = Runner(build_preset("two_level"), make_params(N=1000), start=False)
    gen = r.generation
    for N in (200, 300, 400):
        r.send("restart", (build_preset("two_level"), make_params(N=N)))
    batch = []
    while not r._commands.empty():
        batch.append(r._commands.get())
    for cmd, value in coalesce(batch):
        r.process(cmd, value)
    assert r.generation == gen + 1 and r.latest().frame.N == 400


def test_a_non_finite_state_pauses_the_run_with_one_sentence():
    """NaN never reaches the page: the last finite frame stays, the run pauses and says why."""
    r = Runner(build_preset("two_level"), make_params(N=1000), start=False)
    r.process("play")
    r.process("step", 0.1)
    good = r.latest().frame
    real = r.stepper.frame

    def broken():
        f = real()
        return replace(f, tv=float("nan"), p=np.full_like(f.p, np.nan))

    r.stepper.frame = broken
    r.process("step", 0.1)
    assert not r.playing and not r.latest().playing
    assert r.error.startswith("The simulation produced a value that is not a finite number")
    assert r.error.count(". ") == 0 and r.latest().frame is good


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
    got = r.history.rows(2)
    assert got.start == 2 and len(got) == 4 and got.t[0] == pytest.approx(0.2)
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
    v.add_rows(rows([60, 40], [0.5, 0.5], [0.0, 0.1]))
    v.add_rows(rows([60, 40], [0.5, 0.5], [0.2]))
    assert len(v.source.data["t"]) == 0  # rows wait for the next flush, none is lost
    v.flush()
    assert len(v.source.data["t"]) == 3
    np.testing.assert_allclose(v.source.data["t"], [0.0, 0.1, 0.2], rtol=1e-6)
    assert (v.x.start, v.x.end) == pytest.approx((0.0, 0.204))  # the axis follows time
    v.flush()  # nothing new: nothing sent
    assert len(v.source.data["t"]) == 3
    assert {"rangesupdate", "reset"} <= set(v.fig._event_callbacks)  # wired to the plot
    v._on_ranges_update(None)  # the user pans or zooms: the axis stays where they left it
    v.add_rows(rows([60, 40], [0.5, 0.5], [0.5]))
    v.flush()
    assert v.x.end == pytest.approx(0.204)
    v._on_reset(None)  # the reset tool: following again
    assert v.x.end == pytest.approx(0.51)
    lattice = PopulationsView(64)
    n = np.zeros(64, int)
    n[10:20] = 10
    p = np.zeros(64)
    p[10:20] = 0.1
    lattice.add_rows(rows(n, p, 0.05 * np.arange(400)))
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

    from real_ensemble_lab.app.plots.base import INLINE_MAX

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
            v.add_rows(rows([600, 400 + t], [0.55, 0.45], [t], tracked=[0, 1, 1]))
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
    d.add_rows(rows([60, 40], [0.6, 0.4], [0.0]))  # D = 0 is clipped for the log axis
    d.flush()
    assert d.source.data["D"][0] > 0
    tr = TrackedView(3, k=2)
    tr.add_rows(rows([1, 1, 1], [1 / 3] * 3, [0.0]))  # no tracked systems: nothing drawn
    tr.flush()
    assert len(tr.source.data["t"]) == 0
    tr.add_rows(rows([1, 1, 1], [1 / 3] * 3, [0.0, 0.1], tracked=[2, 0]))
    tr.flush()
    assert list(tr.source.data["a0"]) == [2.0, 2.0]


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


# --- re-anchoring the reference and the time-stepping estimate ------------------------------

def test_reanchor_command_reaches_the_stepper_and_the_next_frame():
    """The button's command is applied in the runner's thread: the next frame carries the
    time of the re-anchoring and compares with the exact evolution of the ensemble's own
    state psi_a = sqrt(n_a/N) e^{-i phibar_a} (at that instant: |psi_a|^2 = n_a/N)."""
    from real_ensemble_lab.engine import ExactEvolution

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




@pytest.mark.parametrize("name, noisy, shown", [("r", -0.5 + 0.05 + 1e-16, -0.45),
                                                ("r", 0.1 + 0.2, 0.3),
                                                ("f", 0.7000000000000001, 0.7)])
def test_a_slider_value_off_its_step_settles_in_one_round(name, noisy, shown):
    """A key press on a slider sends e.g. -0.4499999999999999: the spec and the slider both
    settle on the step's value at once. Compared unrounded, the two sent the value back and
    forth until Python's recursion limit, on every key press (seconds of latency)."""
    from real_ensemble_lab.app.controller import Controller
    from real_ensemble_lab.app.widgets import sim_widget

    ctl = Controller()
    w = sim_widget(ctl.sim, name)
    sets = []
    ctl.sim.param.watch(lambda e: sets.append(e.new), name)
    inner = getattr(w, "_slider", w)  # an Editable slider's own slider, as the page moves it
    inner.value = noisy
    assert getattr(ctl.sim, name) == shown and w.value == shown
    assert sets == [shown]


def test_frame_pacer_keeps_at_most_in_flight_frames_undrawn():
    """The session sends a frame only while fewer than IN_FLIGHT are undrawn, or when the
    page has not answered for ACK_TIMEOUT_S (a hidden tab)."""
    from real_ensemble_lab.app.parts.pacer import ACK_TIMEOUT_S, IN_FLIGHT, FramePacer

    now = [0.0]
    pacer = FramePacer(clock=lambda: now[0])
    assert all(pacer.ready() for _ in range(5))  # no page has answered: no pacing
    pacer.live = True
    for _ in range(IN_FLIGHT):
        assert pacer.ready()
        pacer.sent()
    assert not pacer.ready()
    pacer.drawn = 1  # the page painted the first
    assert pacer.ready()
    pacer.sent()
    assert not pacer.ready()
    assert pacer.ready(urgent=True)  # a frame answering the user's change: one place more
    now[0] += ACK_TIMEOUT_S  # no answer for that long: one more goes out
    assert pacer.ready()


def test_page_changes_skip_panels_debounce():
    """The pacer's acknowledgement and the live sliders are handled at once (Panel waits
    50 ms for more by default). An editable slider's changes arrive at its inner slider
    and text box: the patch must reach them (on the composite alone it did nothing)."""
    import panel as pn

    from real_ensemble_lab.app import patches
    from real_ensemble_lab.app.parts.pacer import FramePacer

    assert FramePacer(clock=lambda: 0.0)._debounce == 0
    w = patches.undebounced(pn.widgets.EditableFloatSlider(start=-1.0, end=0.0, value=-0.5))
    assert w._slider._debounce == 0 and w._value_edit._debounce == 0
    assert pn.widgets.FloatSlider()._debounce > 0  # what Panel does otherwise


def test_a_frame_answering_a_change_is_pulled_past_the_pacer():
    """While the page draws earlier frames, the first frame computed after a command (the
    user moved r) is still taken when the pacer allows an urgent one; an ordinary new frame
    is not."""
    from real_ensemble_lab.app.controller import Controller

    ctl = Controller()
    runner = ctl.start(thread=False)
    ctl.tick()
    runner._advance_by(0.1, wall_budget=60.0)  # what a play turn does
    assert ctl.tick(pull=False, urgent=True) is None  # new, but it answers nothing
    runner.process("update", {"r": -0.4})
    pub = ctl.tick(pull=False, urgent=True)
    assert pub is not None and pub.r == pytest.approx(-0.4)
    runner._advance_by(0.1, wall_budget=60.0)
    assert ctl.tick(pull=False, urgent=True) is None  # answered already
    assert ctl.tick(pull=False, urgent=False) is None
    ctl.runner = None


def test_runner_stops_advancing_when_a_command_waits():
    """A play turn ends after its current chunk when the user's change is queued (it waited
    for the whole wall budget, on a loaded machine up to 100 ms more); an explicit Step
    does not stop early."""
    r = Runner(build_preset("two_level"), make_params(mode="population", N=1000),
               start=False)
    r.send("update", {"r": -0.4})
    r._advance_by(5.0, wall_budget=60.0)
    assert 0.0 < r.stepper.t < 1.0
    t0 = r.stepper.t
    r._advance_by(0.5, wall_budget=60.0, yields=False)
    assert r.stepper.t == pytest.approx(t0 + 0.5)
    r.stop()


def test_controller_tick_without_pull_keeps_the_newest_frame():
    from real_ensemble_lab.app.controller import Controller

    ctl = Controller()
    runner = ctl.start(thread=False)
    ctl.tick()
    runner.process("step", 0.1)
    assert ctl.tick(pull=False) is None  # the page is busy: nothing taken
    pub = ctl.tick()
    assert pub is not None and pub.frame.t > 0
    ctl.runner = None


def test_deviation_axis_ticks_never_crowd():
    """1, 2, 5 per decade on a short log range (a classroom's N = 11), decades on a long
    one; Bokeh's own ticker labelled 0.1, 0.2, ..., 0.9, on top of each other."""
    from real_ensemble_lab.app.plots.series import DeviationView, log_ticks

    assert log_ticks(0.03, 1.0)[0] == [0.05, 0.1, 0.2, 0.5, 1.0]
    assert log_ticks(1e-4, 1.0)[0] == [1e-4, 1e-3, 0.01, 0.1, 1.0]
    view = DeviationView(11)
    assert view.ticker.ticks == [0.05, 0.1, 0.2, 0.5, 1.0]
    view.reset(10**6)
    assert view.ticker.ticks == [1e-4, 1e-3, 0.01, 0.1, 1.0]


def test_horizontal_legends_keep_their_entries_apart():
    """A legend in a row above or below a plot leaves a gap between an entry's label and
    the next entry's swatch ("ensemble▬ exact |ψₐ|²" ran together); a phone's narrower."""
    from bokeh.models import Legend

    from real_ensemble_lab.app.plots.base import ROW_SPACING, compact

    views = [HistogramView(2), PhaseView(2), PopulationsView(2), TrackedView(2, k=3)]
    figs = [*(v.fig for v in views), views[1].order_fig]
    for fig in figs:
        for leg in fig.select(type=Legend):
            assert leg.orientation == "horizontal"
            assert leg.spacing == ROW_SPACING and leg.label_standoff >= 6, fig.title.text
    hist = views[0].fig.legend[0]
    compact(views[0].fig, True)
    assert hist.spacing < ROW_SPACING and hist.glyph_width <= 20  # fits a phone
    compact(views[0].fig, False)
    assert hist.spacing == ROW_SPACING and hist.glyph_width == 28


def test_an_empty_class_shows_the_same_cross_in_the_plot_and_its_legend():
    """The legend's "empty class" is the plot's red × (at Bokeh's 20 px swatch with 3 px
    lines it was a dot), and a × at y = 0 is drawn whole: the axis starts below 0."""
    v = HistogramView(3)
    item = next(i for i in v.fig.legend[0].items if i.label.value == "empty class")
    swatch = item.renderers[0].glyph

    def val(x):
        return getattr(x, "value", x)

    assert val(swatch.marker) == "x" and val(swatch.line_width) <= 2
    assert min(v.fig.legend[0].glyph_width, v.fig.legend[0].glyph_height) * 0.4 >= 10
    live = next(r.glyph for r in v.fig.renderers
                if val(getattr(r.glyph, "marker", None)) == "x" and r.data_source is v.bars)
    assert val(live.y) == 0
    frame_px = 150  # the figure less its title, legend and x axis (measured: 157 px)
    below = -v.y.start * frame_px / (v.y.end - v.y.start)
    assert below >= (val(live.size) + val(live.line_width)) / 2
    v.reset(100)
    assert v.y.start < 0


def test_the_phase_order_plot_is_tall_enough_for_its_ticks_and_title():
    """Three ticks (0, 0.5, 1) in a plot as tall as the plots over time beside it, under a
    title that fits a 300 px card in presentation mode."""
    v = PhaseView(2)
    fig = v.order_fig
    assert fig.height >= 280
    assert list(fig.yaxis[0].ticker.ticks) == [0, 0.5, 1]
    assert fig.title.text == "Phase order per class"


def test_a_frame_updates_the_status_text_alone_and_skips_the_design(monkeypatch):
    """Per frame the server re-sent every property of the status bar and recomputed a
    component's design parameters for each parameter change (together about 5 ms of its
    thread a frame, 2026-12-03). Now the status bar sends its text and a change that is
    not of stylesheets skips the design, with the same properties sent as before."""
    import panel as pn
    import param
    from bokeh.document import Document
    from panel.theme.base import Design

    from real_ensemble_lab.app import patches
    from real_ensemble_lab.app.parts.pacer import FramePacer

    patches.design_params_only_for_stylesheets()
    calls = []
    original = Design.params
    monkeypatch.setattr(Design, "params", lambda self, *a, **k: (calls.append(1),
                                                                original(self, *a, **k))[1])
    doc = Document()
    design = patches.offline_fast()
    pane = patches.TextHTML("<b>1</b>", css_classes=["rel-status"], design=design)
    model = pane.get_root(doc)
    plain = pn.pane.HTML("<b>1</b>", css_classes=["rel-status"], design=design)
    ref = plain.get_root(doc)
    pacer = FramePacer(clock=lambda: 0.0, design=design)
    pacer_model = pacer.get_root(doc)
    before = {k: v for k, v in model.properties_with_values().items() if k != "text"}
    calls.clear()
    pane.object = plain.object = "<b>2 &amp; 3</b>"
    pacer.sent()
    assert model.text == ref.text == "&lt;b&gt;2 &amp;amp; 3&lt;/b&gt;"
    assert {k: v for k, v in model.properties_with_values().items() if k != "text"} == before
    assert pacer_model.data.frame == 1
    # the plain pane re-derived its properties once (Panel's HTML._update); nothing else did
    assert len(calls) == 1
    # what Panel computes for a change: the same properties, the design only for stylesheets
    events = [param.parameterized.Event(what="value", name=n, obj=pane, cls=type(pane),
                                        old=None, new=v, type="changed")
              for n, v in (("css_classes", ["rel-status", "big"]), ("visible", False))]
    patched = pane._update_properties(*events, doc=doc)
    assert patched == type(pane)._update_properties.__wrapped__(pane, *events, doc=doc)
    assert patched == {"css_classes": ["rel-status", "big"], "visible": False}
    sheet = param.parameterized.Event(what="value", name="stylesheets", obj=pane,
                                      cls=type(pane), old=[], new=[":host {color: red;}"],
                                      type="changed")
    calls.clear()
    with_design = pane._update_properties(sheet, doc=doc)
    assert len(calls) == 1 and len(with_design["stylesheets"]) > 1  # the design's, then ours


@pytest.mark.parametrize("mode", ["population", "agents"])
def test_a_served_page_passes_bokehs_document_checks(mode):
    """The server skips Bokeh's document validation for each visitor (app/main.py: about
    0.1 s of a page); the page it builds is checked here instead, with its controls in."""
    import panel as pn
    from bokeh.core.validation.check import check_integrity
    from bokeh.document import Document

    from real_ensemble_lab.app.dashboard import EnsembleApp

    doc = Document()
    pn.state.curdoc = doc
    try:
        app = EnsembleApp(mode=mode)
        page = app.template()
        app.start(thread=False)
        app.tick()
        page.server_doc(doc)
        app._fill_sidebar()
        issues = check_integrity([m for root in doc.roots for m in root.references()])
        assert (issues.error, issues.warning) == ([], [])
        assert any("rel-status" in (m.css_classes or []) for m in doc.models
                   if hasattr(m, "css_classes"))  # the page, not an empty document
        app.stop()
    finally:
        pn.state.curdoc = None



def test_a_turn_ending_on_the_output_grid_publishes_its_frame_once():
    """The frame recorded at an output time is the turn's last: publishing the same state
    again cost the engine a frame's work and the page a frame (it took the second)."""
    clock = FakeClock()
    r = Runner(build_preset("two_level"), make_params(mode="population", N=1000, dt_out=0.05),
               start=False, clock=clock)
    rung = []
    r.on_publish = lambda: rung.append(r.latest().seq)
    seq = r.latest().seq
    r._advance_by(0.05)  # from t = 0 exactly onto the first output time
    assert r.latest().frame.t == pytest.approx(0.05)
    assert r.latest().seq == seq + 1 and rung == [seq + 1]
    assert len(r.history) == 2  # t = 0 and t = 0.05, each recorded once
    r._advance_by(0.02)  # a turn ending between output times publishes its end
    assert r.latest().seq == seq + 2 and rung == [seq + 1, seq + 2]
    r.stop()


def test_the_doorbell_runs_the_session_once_per_burst_of_rings():
    """The runner rings from its thread; the session's callback runs on the loop under the
    document (Bokeh's next-tick callback), once however many rings came meanwhile."""
    import threading

    from real_ensemble_lab.app.parts.pacer import Doorbell

    class Loop:
        def __init__(self):
            self.queued = []

        def add_callback(self, f):
            self.queued.append(f)

    class Doc:
        def __init__(self):
            self.queued, self.gone = [], False

        def add_next_tick_callback(self, f):
            if self.gone:
                raise RuntimeError("Attempting to add session callback to already-destroyed "
                                   "Document")
            self.queued.append(f)

    loop, doc, calls = Loop(), Doc(), []
    bell = Doorbell(loop, doc, lambda: calls.append(1))
    threads = [threading.Thread(target=bell.ring) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loop.queued) == 1 and calls == []
    loop.queued.pop()()
    assert len(doc.queued) == 1
    bell.ring()  # still on its way: nothing more
    assert loop.queued == []
    doc.queued.pop()()
    assert calls == [1]
    bell.ring()  # answered: a new ring goes through
    doc.gone = True  # the session closed meanwhile: no error, and the bell is free again
    loop.queued.pop()()
    assert doc.queued == [] and calls == [1]
    doc.gone = False
    bell.ring()
    loop.queued.pop()()
    doc.queued.pop()()
    assert calls == [1, 1]
    bell.close()
    bell.ring()
    assert loop.queued == []
