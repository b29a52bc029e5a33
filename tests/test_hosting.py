"""Server-wide limits (app/hosting.py): admission, memory budget, idleness, sweeps; and one
served page that finds the lab full."""

from __future__ import annotations

import threading

import pytest

from real_ensemble_lab.app import hosting
from real_ensemble_lab.app.hosting import IdleWatch, MemoryBudget, Sessions
from real_ensemble_lab.engine.core.agents import state_bytes
from real_ensemble_lab.engine.core.params import N_MAX


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_no_ui_import():
    """The limits are plain Python: importing them loads no Panel, Bokeh or Tornado."""
    import subprocess
    import sys

    code = ("import sys, real_ensemble_lab.app.hosting; from real_ensemble_lab import app; "
            "print(sorted(m for m in ('panel', 'bokeh', 'holoviews', 'tornado') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=hosting.__file__.rsplit("/app/", 1)[0])
    assert out.stdout.strip() == "[]"


# -- settings --------------------------------------------------------------------------------
def test_settings_defaults_and_values():
    s = hosting.read_settings({})
    assert (s.max_sessions, s.memory_budget, s.idle_pause, s.idle_close, s.hosted,
            s.max_sweeps, s.public_runners) == (40, None, 600.0, 1800.0, False, 1, False)
    assert s.sweeps_on
    s = hosting.read_settings({"REAL_ENSEMBLE_LAB_MAX_SESSIONS": "25",
                               "REAL_ENSEMBLE_LAB_MEMORY_BUDGET": "4G",
                               "REAL_ENSEMBLE_LAB_IDLE_PAUSE": "300",
                               "REAL_ENSEMBLE_LAB_IDLE_CLOSE": "0",
                               "REAL_ENSEMBLE_LAB_HOSTED": "1",
                               "REAL_ENSEMBLE_LAB_MAX_SWEEPS": "2"})
    assert (s.max_sessions, s.memory_budget, s.idle_pause, s.idle_close, s.hosted,
            s.max_sweeps) == (25, 4 * 2**30, 300.0, 0.0, True, 2)
    assert not s.sweeps_on


def test_room_settings_defaults_and_values():
    s = hosting.read_settings({})
    assert (s.max_rooms, s.room_size, s.room_expire) == (10, 200, 600.0)
    s = hosting.read_settings({"REAL_ENSEMBLE_LAB_MAX_ROOMS": "0",
                               "REAL_ENSEMBLE_LAB_ROOM_SIZE": "40",
                               "REAL_ENSEMBLE_LAB_ROOM_EXPIRE": "90"})
    assert (s.max_rooms, s.room_size, s.room_expire) == (0, 40, 90.0)


def test_engine_share_settings():
    s = hosting.read_settings({})
    assert (s.engine_nice, s.cpu_share) == (10, 1.0)
    s = hosting.read_settings({"REAL_ENSEMBLE_LAB_ENGINE_NICE": "0",
                               "REAL_ENSEMBLE_LAB_CPU_SHARE": "0.25"})
    host = hosting.Server(s, hosting.Sessions(2), hosting.MemoryBudget(2**30))
    limits = hosting.SessionLimits(host, host.sessions.admit())
    assert limits.engine_share() == {"nice": 0, "cpu_share": 0.25, "gate": host.gate}


@pytest.mark.parametrize("text, nbytes", [("1000000", 1_000_000), ("512M", 512 * 2**20),
                                          ("1.5GiB", 3 * 2**29), ("2 gb", 2 * 2**30),
                                          ("64k", 65536)])
def test_parse_bytes(text, nbytes):
    assert hosting.parse_bytes(text) == nbytes


@pytest.mark.parametrize("name, value", [("MAX_SESSIONS", "0"), ("MAX_SESSIONS", "many"),
                                         ("MEMORY_BUDGET", "4 apples"), ("IDLE_PAUSE", "-1"),
                                         ("IDLE_CLOSE", "nan"), ("HOSTED", "maybe"),
                                         ("MAX_SWEEPS", "0"), ("MAX_ROOMS", "-1"),
                                         ("ROOM_SIZE", "0"), ("ROOM_EXPIRE", "inf"),
                                         ("ENGINE_NICE", "20"), ("CPU_SHARE", "0"),
                                         ("CPU_SHARE", "1.5")])
def test_bad_setting_is_one_sentence_naming_the_variable(name, value):
    with pytest.raises(ValueError, match=rf"^REAL_ENSEMBLE_LAB_{name}=.* is not valid: "
                                         rf"expected .*\.$"):
        hosting.read_settings({f"REAL_ENSEMBLE_LAB_{name}": value})


def test_default_budget_is_a_share_of_available_memory(monkeypatch):
    monkeypatch.setattr("real_ensemble_lab.engine.core.agents.available_memory", lambda: 10 * 2**30)
    assert hosting.default_budget() == int(hosting.DEFAULT_BUDGET_FRACTION * 10 * 2**30)


# -- sessions --------------------------------------------------------------------------------
def test_sessions_cap_and_release():
    reg = Sessions(2)
    a, b = reg.admit(), reg.admit()
    assert a is not None and b is not None and a != b and reg.count == 2
    assert reg.admit() is None
    assert reg.full_message() == ("The lab is full — 2 students are using it; try again in "
                                  "a few minutes.")
    reg.release(a)
    reg.release(a)  # twice: no effect
    reg.release(None)
    assert reg.count == 1
    c = reg.admit()
    assert c is not None and reg.admit() is None
    reg.release(b)
    reg.release(c)
    assert reg.count == 0


def test_sessions_thread_safe():
    """Many threads admitting at once never hold more than the cap; all come back."""
    cap, threads, rounds = 7, 32, 200
    reg = Sessions(cap)
    most = [0]
    most_lock = threading.Lock()
    admitted = [0] * threads
    start = threading.Barrier(threads)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(rounds):
            t = reg.admit()
            if t is None:
                continue
            admitted[i] += 1
            with most_lock:
                most[0] = max(most[0], reg.count)
            reg.release(t)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert most[0] <= cap and reg.count == 0 and sum(admitted) > 0


def test_sessions_thread_safe_exact_count():
    """100 threads racing for 10 places: exactly 10 tickets, all distinct."""
    reg = Sessions(10)
    got: list = []
    start = threading.Barrier(100)

    def worker() -> None:
        start.wait()
        got.append(reg.admit())

    pool = [threading.Thread(target=worker) for _ in range(100)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    tickets = [t for t in got if t is not None]
    assert len(tickets) == 10 and len({t.number for t in tickets}) == 10 and reg.count == 10


# -- memory ----------------------------------------------------------------------------------
def test_memory_budget_reserve_replace_release():
    reg, budget = Sessions(5), MemoryBudget(1000)
    a, b = reg.admit(), reg.admit()
    assert budget.reserve(a, 600) and budget.left(b) == 400 and budget.left(a) == 1000
    assert not budget.reserve(b, 500)  # does not fit beside a's 600
    assert budget.reserved == 600
    assert budget.reserve(a, 900)  # a restart: its own reservation is replaced, not added
    assert budget.reserved == 900 and budget.left() == 100
    assert budget.reserve(b, 100) and budget.left() == 0
    budget.release(a)
    budget.release(a)
    assert budget.reserved == 100 and budget.left(b) == 1000


@pytest.mark.parametrize("phases, f, P, s", [("dynamic", 0.0, 2, 0), ("dynamic", 2.0, 3, 10),
                                             ("locked", 0.0, 30, 0)])
def test_n_cap_agents_is_the_largest_fitting_N(phases, f, P, s):
    kw = dict(spectators=s, phases=phases, f=f)
    left = 20 * 2**20  # below N_MAX in every case here
    N = hosting.n_cap("agents", P, left, **kw)
    assert 0 < N < N_MAX["agents"]
    assert hosting.ensemble_bytes("agents", N, P, **kw) <= left
    assert hosting.ensemble_bytes("agents", N + 1, P, **kw) > left
    # the engine's own estimate, the one its memory check uses
    assert hosting.ensemble_bytes("agents", N, P, **kw) == state_bytes(N, P, s, phases, f)


def test_n_cap_limits():
    assert hosting.n_cap("agents", 2, 2**50) == N_MAX["agents"]  # plenty: the app's cap
    assert hosting.n_cap("agents", 2, 10) == 0  # not even the tables
    for mode in ("population", "bell"):  # counts per class: N costs no memory
        assert hosting.n_cap(mode, 4, 2**20) == N_MAX[mode]
        assert hosting.n_cap(mode, 4, 100) == 0


def test_fit_N_sentences():
    left = 100 * 2**20
    assert hosting.fit_N("agents", 1000, 2, left) == (1000, None)
    N, msg = hosting.fit_N("agents", 10**7, 2, left, sessions=13)
    assert N == hosting.n_cap("agents", 2, left)
    assert msg == (f"N = 10,000,000 would not fit in the memory left on this server "
                   f"(100 MiB: 12 other sessions hold the rest), so N = {N:,} is used. The "
                   f"population engine needs no memory per system.")
    N, msg = hosting.fit_N("agents", 10**7, 2, left, sessions=1)
    assert "this server's memory for ensembles (100 MiB)" in msg
    assert hosting.fit_N("population", 10**15, 2, 10)[1] == (
        "No ensemble fits in this server's memory for ensembles (0 MiB) now; try again in a "
        "few minutes.")


# -- idleness --------------------------------------------------------------------------------
def test_idle_watch_states_with_a_fake_clock():
    clock = FakeClock()
    w = IdleWatch(clock, pause_after=600, close_after=1800)
    assert w.state() == "active"
    clock.t += 599.9
    assert w.state() == "active"
    clock.t += 0.1
    assert w.state() == "pause"
    w.touch()
    assert w.state() == "active" and w.idle() == 0
    clock.t += 1800
    assert w.state() == "close"
    assert w.state(now=clock.t - 1300) == "active"  # an explicit time is honoured
    w.touch()
    clock.t += 700
    with w.quiet():  # the app pausing the session itself is not input
        w.touch()
    assert w.state() == "pause"
    clock.t += 1100
    assert w.state() == "close"
    assert "10 minutes" in w.message("pause") and "30 minutes" in w.message("close")


def test_page_gate_holds_until_released_or_its_deadline():
    """A page being built closes the gate (the engines wait) until it is released, or for
    hold_max seconds when the visitor's browser never finishes loading; holds are
    independent and a released or unknown token is harmless."""
    clock = FakeClock()
    gate = hosting.PageGate(clock, hold_max=5.0, wait_max=1.0)
    assert not gate.closed() and gate.building == 0
    a = gate.hold()
    clock.t += 1.0
    b = gate.hold()
    assert gate.closed() and gate.building == 2
    gate.release(a)
    assert gate.closed() and gate.building == 1
    gate.release(a)  # twice: nothing more happens
    gate.release(None)
    assert gate.building == 1
    clock.t += 4.9  # b was held at t0 + 1: open at t0 + 6
    assert gate.closed()
    clock.t += 0.1
    assert not gate.closed() and gate.building == 0
    gate.release(b)  # already expired: harmless
    assert hosting.server().summary()["pages_building"] == hosting.server().gate.building


def test_idle_watch_zero_never_fires():
    clock = FakeClock()
    w = IdleWatch(clock, pause_after=0, close_after=0)
    clock.t += 10**9
    assert w.state() == "active"
    w = IdleWatch(clock, pause_after=0, close_after=60)
    clock.t += 59
    assert w.state() == "active"
    clock.t += 1
    assert w.state() == "close"


# -- sweeps ----------------------------------------------------------------------------------
@pytest.mark.parametrize("hosted, n", [("", ""), ("1", "3"), ("no", "64"), ("yes", "1")])
def test_sweep_settings_agree_with_the_studies_page(monkeypatch, hosted, n):
    """HOSTED and MAX_SWEEPS are read here (at start-up) and by the Studies page
    (app/studies_cluster.py): the same values, the same refusals."""
    from real_ensemble_lab.app import studies_cluster

    monkeypatch.setenv("REAL_ENSEMBLE_LAB_HOSTED", hosted)
    monkeypatch.setenv("REAL_ENSEMBLE_LAB_MAX_SWEEPS", n)
    s = hosting.read_settings()
    assert s.hosted == studies_cluster.hosted() and s.sweeps_on == (not s.hosted)
    assert s.max_sweeps == studies_cluster.max_sweeps()


@pytest.mark.parametrize("n", ["0", "65", "two", "-1"])
def test_bad_max_sweeps_refused_by_both(monkeypatch, n):
    from real_ensemble_lab.app import studies_cluster
    from real_ensemble_lab.engine.core.errors import InputError

    monkeypatch.setenv("REAL_ENSEMBLE_LAB_MAX_SWEEPS", n)
    with pytest.raises(ValueError, match="REAL_ENSEMBLE_LAB_MAX_SWEEPS"):
        hosting.read_settings()
    with pytest.raises(InputError, match="REAL_ENSEMBLE_LAB_MAX_SWEEPS"):
        studies_cluster.max_sweeps()


# -- this process and the admin route ------------------------------------------------------------
def test_end_session_gives_place_and_memory_back(monkeypatch):
    host = hosting.Server(hosting.read_settings({}), Sessions(1), MemoryBudget(100))
    monkeypatch.setattr(hosting, "_server", host)
    doc = object()
    t = host.sessions.admit()
    hosting.bind(doc, t)
    assert hosting.ticket_of(doc) is t and host.memory.reserve(t, 60)
    hosting.end_session(doc, t, None)
    assert hosting.ticket_of(doc) is None and host.sessions.count == 0
    assert host.memory.reserved == 0 and host.sessions.admit() is not None


@pytest.mark.parametrize("ip, headers, local", [
    ("127.0.0.1", {}, True), ("::1", {}, True), ("10.0.0.7", {}, False),
    ("172.17.0.1", {}, False),  # docker's bridge: a visitor from outside the container
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, False),  # a proxy on this machine
    ("127.0.0.1", {"X-Real-Ip": "127.0.0.1"}, False)])
def test_runners_route_answers_only_local_requests(ip, headers, local):
    from types import SimpleNamespace

    from tornado.httputil import HTTPHeaders

    from real_ensemble_lab.app.routes import is_local

    assert is_local(SimpleNamespace(remote_ip=ip, headers=HTTPHeaders(headers))) is local


# -- the served page ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_of_one():
    from tests._app_fixtures import free_port, panel_argv, serve

    port = free_port()
    with serve(panel_argv(port), port, env={"REAL_ENSEMBLE_LAB_MAX_SESSIONS": "1"}) as base:
        yield base


@pytest.fixture(scope="session")
def browser_type_launch_args():
    from tests._app_fixtures import CHROMIUM, CHROMIUM_ARGS

    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_second_visitor_finds_the_lab_full(browser, server_of_one):
    from playwright.sync_api import expect

    from tests._app_fixtures import get_json

    first = browser.new_context()
    page = first.new_page()
    page.goto(server_of_one + "/app")
    expect(page.locator(".rel-status .rel-time")).to_be_visible(timeout=60_000)
    # the controls follow once the page has loaded, and then the engines step again
    expect(page.locator(".lesson-select select")).to_be_attached(timeout=60_000)
    wait_until(lambda: get_json(server_of_one + "/runners")["pages_building"] == 0)

    second = browser.new_context()
    late = second.new_page()
    late.goto(server_of_one + "/app")
    expect(late.get_by_text("The lab is full — 1 student is using it")).to_be_visible(
        timeout=60_000)
    assert late.locator(".rel-status").count() == 0  # no dashboard
    info = get_json(server_of_one + "/runners")
    assert (info["runners"], info["sessions"], info["max_sessions"]) == (1, 1, 1)
    second.close()

    first.close()  # the server destroys the session after its unused lifetime (1 s)
    wait_until(lambda: get_json(server_of_one + "/runners")["sessions"] == 0)
    assert get_json(server_of_one + "/runners")["runners"] == 0
    third = browser.new_context()
    again = third.new_page()
    again.goto(server_of_one + "/app")
    expect(again.locator(".rel-status .rel-time")).to_be_visible(timeout=60_000)
    third.close()


def wait_until(cond, timeout: float = 30.0) -> None:
    """Poll ``cond`` (the server's own state) until it holds."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.mark.parametrize("N, floor", [(9, 0), (10, 10), (19, 10), (20, 20), (49, 20),
                                      (50, 50), (2_097_015, 2_000_000), (10**15, 10**15)])
def test_slider_floor_is_the_largest_slider_value_not_above(N, floor):
    assert hosting.slider_floor(N) == floor


def test_page_gate_is_closed_at_most_share_max_of_the_time():
    """A visitor who reloads again and again must not hold the others' simulations: past
    its burst the gate is closed at most share_max of the time, and a quiet spell earns
    the burst back."""
    clock = FakeClock()
    gate = hosting.PageGate(clock, hold_max=5.0, wait_max=1.0, share_max=0.5, burst=10.0)

    def closed_share(seconds: float, reload_every: float | None = 0.5) -> float:
        shut = looks = 0
        next_reload = clock.t
        for _ in range(int(seconds / 0.05)):  # the engines look every 50 ms
            if reload_every is not None and clock.t >= next_reload:
                gate.hold()  # a new page, never loaded (its hold lasts hold_max)
                next_reload += reload_every
            shut += gate.closed()
            looks += 1
            clock.t += 0.05
        return shut / looks

    # the burst: closed for burst / (1 - share_max) = 20 s, as for a class arriving
    assert closed_share(19.0) == 1.0
    # then never more than half of the time, however long the reloading goes on
    assert 0.4 <= closed_share(60.0) <= 0.51
    # a page built after a quiet spell closes the gate again for the whole burst
    closed_share(gate.hold_max, reload_every=None)  # the last reloads' holds run out
    assert closed_share(20.0, reload_every=None) == 0.0
    gate.hold()
    assert closed_share(5.0, reload_every=None) == 1.0


def test_a_page_built_in_one_worker_process_holds_its_siblings_engines(tmp_path):
    """``--num-procs``: the workers' gates share a file; a page held in one closes the
    others, for as long as its own gate is closed (hold, release, budget), and a time that
    lies beyond any hold (a file from an earlier boot) holds nobody."""
    from real_ensemble_lab.app.sibling_gates import SiblingGates

    clock = FakeClock()
    path = tmp_path / "gates"
    gates = [hosting.PageGate(clock, hold_max=5.0, wait_max=1.0, share_max=0.5, burst=2.0,
                              siblings=SiblingGates(path, k, horizon=5.0)) for k in range(2)]
    a, b = gates
    assert not a.closed() and not b.closed()
    token = a.hold()
    assert a.closed() and b.closed()
    clock.t += 1.0
    assert b.closed()
    a.release(token)
    assert not a.closed() and not b.closed()
    # a hold never released: its siblings wait until its deadline, or until the holder's
    # budget of closure (burst / (1 - share_max) = 4 s here) is spent, whichever is first
    clock.t += 100.0  # the budget is earned back
    a.hold()
    clock.t += 3.9
    assert b.closed()
    clock.t += 0.2
    assert not b.closed() and not a.closed()
    # a stale file: a time far ahead (another boot's clock) holds nobody
    other = SiblingGates(path, 5, horizon=5.0)
    other.publish(clock.t + 1e6)
    assert not b.closed()
    other.publish(clock.t + 2.0)
    assert b.closed() and a.closed()
    other.publish(0.0)
    assert not b.closed()
    for g in (*gates, None):
        (g.siblings if g else other).close()


def test_a_single_process_shares_no_gate():
    from real_ensemble_lab.app.sibling_gates import SiblingGates

    assert SiblingGates.for_this_process(horizon=5.0) is None  # not a forked worker
    with pytest.raises(ValueError, match="outside"):
        SiblingGates("/nonexistent/never-made", 64)


def test_worker_processes_share_their_page_gates():
    """``panel serve --num-procs 2``: both workers map one gates file, named after the
    server's main process (a single process makes none: the test above)."""
    import os
    import tempfile

    import psutil

    from tests._app_fixtures import free_port, get_json, panel_argv, serve

    port = free_port()
    with serve(panel_argv(port, "--num-procs", "2"), port, timeout=120) as base:
        pids = set()
        for _ in range(200):  # each request reaches one worker: until both have answered
            pids.add(get_json(base + "/runners", timeout=30)["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2
        [main] = {psutil.Process(pid).ppid() for pid in pids}
        folder = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
        path = os.path.join(folder, f"real-ensemble-lab-gates-{main}")
        assert os.path.exists(path)
        assert all(path in {m.path for m in psutil.Process(pid).memory_maps(grouped=True)}
                   for pid in pids)
