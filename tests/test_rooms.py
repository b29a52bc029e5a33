"""Classroom rooms without a server (issue #14): the ensemble, the room, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from real_ensemble_lab.app.rooms import registry
from real_ensemble_lab.app.rooms.model import MAX_WALL_STEP, Ghost, Room, default_pace
from real_ensemble_lab.app.rooms.state import projector_state, student_state
from real_ensemble_lab.app.rooms.text import NICK_MAX, clean_nickname, noun, plural
from real_ensemble_lab.engine import InputError
from real_ensemble_lab.engine.core.agents import AgentStepper
from real_ensemble_lab.engine.core.room import RoomEnsemble

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c"]


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


# -- the ensemble: the agent engine's copy rule ------------------------------------------
def test_a_room_without_joins_is_the_agent_engine_bit_for_bit(ham3):
    ref = AgentStepper(ham3, mode="agents", N=300, seed=7)
    ens = RoomEnsemble(ham3, N=300, seed=7, shuffle=False)
    for t in (0.5, 1.5, 3.0):
        ref.advance(t)
        ens.advance(t)
        assert np.array_equal(ref.A, ens.A) and np.array_equal(ref.U, ens.U)
        assert ref.steps == ens.steps


def test_every_copy_event_names_its_copier_and_source(ham3):
    ens = RoomEnsemble(ham3, N=400, seed=3)
    ens.advance(0.5)
    ens.drain_events()
    seen = 0
    for _ in range(200):
        A0, U0 = ens.A.copy(), ens.U.copy()
        ens._advance_dynamic(ens.t + 1.0, 1)  # exactly one step
        for _t, i, a_old, a_new, j, phi_j in ens.drain_events():
            i, j = int(i), int(j)
            assert A0[i] == a_old and A0[j] == a_new and ens.A[i] == a_new
            # the copier took J's phase at mid-step; half-steps of phase law move it a little
            for u in (ens.U[i], U0[j]):
                assert abs(np.angle(np.exp(1j * (phi_j - np.arctan2(u[1], u[0]))))) < 0.1
            seen += 1
    assert seen > 20


def test_join_and_leave_between_steps_keep_everyone_elses_state(ham3):
    ens = RoomEnsemble(ham3, N=50, seed=1)
    ens.advance(1.0)
    before = [ens.system(i) for i in range(50)]
    k = ens.add_system()
    assert k == 50 and ens.N == 51 and ens.n.sum() == 51
    ens.remove_system(10)
    assert ens.N == 50
    after = [ens.system(i) for i in range(50)]
    assert after[:10] == before[:10] and after[10:49] == before[11:50]
    ens.advance(2.0)  # runs on with the new N
    assert ens.t == 2.0 and ens.n.sum() == 50


def test_an_empty_room_waits_and_fills_from_psi_t(ham2):
    ens = RoomEnsemble(ham2, N=0, seed=1)
    assert ens.advance(5.0) == 0.0 and np.isnan(ens.deviation())
    for _ in range(3):
        ens.add_system()
    assert ens.N == 3 and ens.n.sum() == 3


def run_n1(make, seeds, T):
    """Fraction in class 1 at time T over runs with the given seeds."""
    out = []
    for s in seeds:
        st = make(s)
        st.advance(T)
        out.append(st.n[1] / st.N)
    return np.array(out)


def two_sample_z(x, y) -> float:
    """(mean x - mean y) / its standard error."""
    return (x.mean() - y.mean()) / np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)


N_STAT, RUNS, T_STAT = 200, 20, 1.5


@pytest.fixture(scope="module")
def agent_runs(ham3):
    return run_n1(lambda s: AgentStepper(ham3, mode="agents", N=N_STAT, seed=s),
                  range(1000, 1000 + RUNS), T_STAT)


def test_a_room_of_virtual_systems_has_the_agent_runs_distribution(ham3, agent_runs):
    """Same mean (4 standard errors) and a spread of the 1/sqrt(N) size (F-like bound)."""
    room = run_n1(lambda s: RoomEnsemble(ham3, N=N_STAT, seed=s), range(RUNS), T_STAT)
    assert abs(two_sample_z(room, agent_runs)) < 4
    ratio = room.std(ddof=1) / agent_runs.std(ddof=1)
    assert 0.5 < ratio < 2.0  # 20 runs each: F(19, 19) puts 99 % of std ratios in 0.58-1.7
    # both near |psi_1(T)|^2 within a few 1/sqrt(N)
    p1 = np.abs(RoomEnsemble(ham3, N=1, seed=0).exact_psi(T_STAT)[1]) ** 2
    assert abs(room.mean() - p1) < 4 / np.sqrt(N_STAT)


def test_the_distribution_test_fails_on_a_wrong_copy_rule(ham3, agent_runs):
    """The same statistic with delta's sign flipped (H conjugated, PHYSICS.md §2)."""
    wrong = run_n1(lambda s: RoomEnsemble(ham3.conj(), N=N_STAT, seed=s), range(RUNS // 2),
                   T_STAT)
    assert abs(two_sample_z(wrong, agent_runs)) > 4


# -- the room ----------------------------------------------------------------------------
def make_room(ham, clock=None, **kw) -> Room:
    return Room("K7QA", ham, clock=clock or Clock(), **kw)


def test_students_join_leave_and_rejoin_between_steps(ham3):
    clock = Clock()
    room = make_room(ham3, clock, virtual=20)
    sam, ana, bo = (room.join(n) for n in ("Sam", "Ana", ""))
    assert room.ens.N == 23 and bo.label == "Student 3"
    room.start()
    clock.t += 0.5
    room.tick()
    state = room.ens.system(ana.system)
    assert room.find(ana.token) is ana  # a reload: the same system back
    room.leave(sam.token)
    assert room.ens.N == 22 and room.find(sam.token) is None
    assert room.ens.system(ana.system) == state and room.owners[ana.system] is ana
    clock.t += 0.5
    assert room.tick() and room.ens.N == 22
    assert sorted(room.owners.index(p) for p in (ana, bo)) == sorted((ana.system, bo.system))


def test_ghosts_keep_the_system_and_spectators_are_named(ham3):
    room = make_room(ham3, virtual=5, keep_ghosts=True)
    sam = room.join("Sam")
    room.leave(sam.token)
    assert room.ens.N == 6 and Ghost("Sam's ghost") in room.owners


def test_pace_follows_the_injected_clock_and_pause(ham2):
    clock = Clock()
    room = make_room(ham2, clock, virtual=30, pace=0.2)
    clock.t += 1.0
    assert not room.tick() and room.ens.t == 0.0  # not started
    room.start()
    clock.t += 0.5
    room.tick()
    assert room.ens.t == pytest.approx(0.1)
    clock.t += 60.0  # a stall: at most MAX_WALL_STEP of wall time counts
    room.tick()
    assert room.ens.t == pytest.approx(0.1 + 0.2 * MAX_WALL_STEP)
    room.pause()
    clock.t += 1.0
    assert not room.tick()
    room.reset()
    assert room.ens.t == 0.0 and room.ens.N == 30 and not room.running


def test_default_pace_makes_one_rabi_period_thirty_seconds(ham2, ham3):
    for ham in (ham2, ham3):
        lam = np.linalg.eigvalsh(ham.H)
        pace = default_pace(ham)
        # two significant digits (a teacher reads 0.094, not 0.0937...): within 5 %
        assert pace * 30 == pytest.approx(2 * np.pi / (lam[-1] - lam[0]), rel=0.05)
        assert pace == float(f"{pace:.2g}")


def test_feeds_name_who_copied_whom_and_the_projector_counts_match(ham3):
    clock = Clock()
    room = make_room(ham3, clock, virtual=0)
    students = [room.join(f"S{k}") for k in range(30)]
    room.start()
    for _ in range(40):
        clock.t += 0.5
        room.tick()
    lines = [text for p in students for _, text in p.feed]
    assert any(t.startswith("you copied the state of S") for t in lines)
    assert any(t.endswith("copied your state") for t in lines)
    proj = projector_state(room)
    cards = [student_state(room, p, COLOURS)["value"]["a"] for p in students]
    assert list(proj["student_counts"]) == list(np.bincount(cards, minlength=3))
    assert proj["students"] == 30 and proj["n"].sum() == 30
    assert proj["band"] == pytest.approx(30 ** -0.5) and proj["recent"]


def test_measure_mode_leaves_the_value_out_until_measured(ham2):
    room = make_room(ham2, virtual=3, measure_mode=True)
    p = room.join("Sam")
    card = student_state(room, p, COLOURS)
    assert card["value"] is None and card["measured"] is None
    t, a = room.measure(p.token)
    card = student_state(room, p, COLOURS)
    assert card["measured"]["a"] == a and card["feed"][0]["text"].startswith("you measured")
    room.leave(p.token)
    assert student_state(room, p, COLOURS)["gone"]


def test_a_full_or_closed_room_refuses_with_a_sentence(ham2):
    room = make_room(ham2, max_students=2)
    room.join()
    room.join()
    with pytest.raises(InputError, match="full"):
        room.join()
    room.close()
    with pytest.raises(InputError, match="closed"):
        room.join()


def test_virtual_systems_can_be_added_and_removed(ham3):
    room = make_room(ham3, virtual=10)
    sam = room.join("Sam")
    room.set_virtual(100)
    assert room.ens.N == 101 and room.owners[sam.system] is sam
    room.set_virtual(0)
    assert room.ens.N == 1 and room.owners == [sam]


@pytest.mark.parametrize("raw, cleaned", [
    ("  Sam  ", "Sam"), ("<script>alert(1)</script>", "<script>alert(1)</scri"),
    ("a\u202eb\x00c\nd", "abc d"), (None, ""), ("x" * 500, "x" * NICK_MAX)])
def test_nicknames_are_short_plain_text(raw, cleaned):
    assert clean_nickname(raw) == cleaned[:NICK_MAX]


@pytest.mark.parametrize("k, text", [(0, "0 students"), (1, "1 student"), (2, "2 students"),
                                     (11, "11 students")])
def test_counts_agree_with_their_noun(k, text):
    assert plural(k, "student") == text
    assert noun(k, "copy", "copies") == ("copy" if k == 1 else "copies")


# -- the registry ------------------------------------------------------------------------
def test_codes_are_short_unambiguous_and_checked():
    codes = {registry.new_code() for _ in range(200)}
    assert all(len(c) == 4 and set(c) <= set(registry.ALPHABET) for c in codes)
    assert not set("0O1IL2Z5S8B") & set(registry.ALPHABET)
    assert registry.normal_code(" k7qa ") == "K7QA"
    for bad in ("", "ABC", "ABCDE", "AB0D", None, 12, "../x"):
        assert registry.normal_code(bad) is None


def test_the_server_caps_rooms_and_expires_them_when_the_teacher_is_gone(ham2):
    clock = Clock()
    rooms = registry.Rooms(max_rooms=2, room_size=3, expire=60.0, clock=clock)
    r1, r2 = rooms.create(ham2), rooms.create(ham2)
    with pytest.raises(InputError, match="2 rooms, its limit"):
        rooms.create(ham2)
    with pytest.raises(InputError, match="turned off"):
        registry.Rooms(max_rooms=0).create(ham2)
    assert rooms.get(r1.code.lower()) is r1 and rooms.get("XXXX") is None
    sam = r1.join("Sam")
    clock.t += 50
    r1.seen_by_teacher()
    r1.find(sam.token)
    clock.t += 30
    assert rooms.sweep() == [r2.code]  # r2's teacher was last seen 80 s ago
    assert rooms.get(r2.code) is None and r2.closed and len(rooms) == 1
    clock.t += registry.STUDENT_GONE + 1
    r1.seen_by_teacher()
    rooms.sweep()
    assert r1.participants == {}  # Sam stopped polling: gone for good


def test_the_room_model_imports_no_ui():
    """A room, its registry and what phones and projector read load without Panel/Bokeh."""
    import subprocess
    import sys

    code = ("import sys, real_ensemble_lab.app.rooms.model, real_ensemble_lab.app.rooms.registry, "
            "real_ensemble_lab.app.rooms.state, real_ensemble_lab.app.rooms.waiters, "
            "real_ensemble_lab.app.rooms.board;"
            "bad = [m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
