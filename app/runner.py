"""One simulation per browser session, stepped in a background thread.

The runner owns a stepper (``engine.make_stepper``). Its thread advances the ensemble in
small wall-clock slices, publishes the latest :class:`engine.Frame` to a slot and records
the run on the output grid ``t = 0, dt_out, 2 dt_out, ...`` for export. The session's
document pulls the slot on a periodic callback (latest frame wins, nothing piles up).
Everything the user changes reaches the thread as a command, applied between steps, so the
engine is only ever touched by its own thread.

No panel, bokeh or holoviews here: the runner is tested without a server.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from real_ensemble_lab.engine import Hamiltonian, InputError, SimParams, make_stepper
from real_ensemble_lab.engine.core.stepper import Frame

log = logging.getLogger("real_ensemble_lab.app.runner")

#: Least time between published frames while playing (the page pulls at 40 Hz).
FRAME_PERIOD = 0.025
#: Turn period while the session has taken neither of the last two frames (a busy page,
#: or a busy server whose thread builds every session's frames): the simulation keeps pace
#: in longer turns and does not spend the server's time (and the GIL) on frames nobody
#: takes. Taking a frame wakes the runner at once.
IDLE_PERIOD = 4 * FRAME_PERIOD
#: Largest wall-clock time one advance may take before a frame is published. When the
#: engine is behind (large N), this sets the frame rate: ~32 frames/s published at
#: N = 10^6 agents (~3 engine steps a turn), 31-32 drawn by a browser sharing this 2-core
#: machine (bench_app, 2026-12-04; at 0.04 the page drew 24-24.4 while it merged frames
#: that arrived within one display frame, 25.4 and 24.6 at 0.03). The page acknowledges
#: what it drew (FramePacer), so a shorter turn does not queue frames in the socket.
WALL_BUDGET = 0.03
#: While the process's page gate is closed, a playing runner looks at it this often (s).
GATE_POLL = 0.05
#: Time constant (wall seconds) of the achieved-speed average shown to the user.
RATE_TAU = 1.0
#: The recorded history is thinned (every other row dropped) beyond this many cells.
MAX_HISTORY_CELLS = 4_000_000

_registry: weakref.WeakSet[Runner] = weakref.WeakSet()
_registry_lock = threading.Lock()
_ids = itertools.count(1)


def live_runners() -> list[Runner]:
    """Runners whose thread is alive (one per open browser session)."""
    with _registry_lock:
        return [r for r in _registry if r.alive]


@dataclass(frozen=True)
class Published:
    """What the thread hands to the document: a frame and where it comes from."""

    seq: int  # increases with every publication
    generation: int  # increases with every restart (a new ensemble)
    frame: Frame
    playing: bool
    r: float  # the exponent the frame was (and the next steps are) computed with
    rate: float = 0.0  # simulated time per wall second actually achieved while playing
    mode: str = ""  # the engine mode of the running ensemble
    rows: int = 0  # rows recorded on the output grid so far (History)
    thinned: int = 0  # times the history was thinned (its rows were renumbered)
    answered: int = 0  # commands applied so far (a frame that answers the user's change)


@dataclass(frozen=True)
class Rows:
    """Rows of the history from ``start``: the plots over time draw these, never frames."""

    start: int
    t: np.ndarray
    n: np.ndarray  # (rows, P) counts
    p: np.ndarray  # (rows, P) exact probabilities on the same grid
    tv: np.ndarray
    N: int
    tracked_a: np.ndarray | None  # (rows, k) beable values of tracked systems (agents)

    def __len__(self) -> int:
        return len(self.t)


class History:
    """The run on the output grid: t, counts n, exact probabilities p, deviation tv (and the
    tracked systems' beables in agents mode)."""

    def __init__(self, P: int, dt: float):
        self.P, self.dt = P, dt
        self.N = 0
        self._t: list[float] = []
        self._n: list[np.ndarray] = []
        self._p: list[np.ndarray] = []
        self._tv: list[float] = []
        self._tracked: list[np.ndarray] = []
        self.thinned = 0
        self.lock = threading.Lock()

    def add(self, f: Frame) -> None:
        with self.lock:
            self.N = f.N
            self._t.append(f.t)
            self._n.append(np.asarray(f.n, dtype=np.int64).copy())
            self._p.append(np.asarray(f.p, dtype=float).copy())
            self._tv.append(f.tv)
            if f.systems is not None:
                self._tracked.append(np.asarray(f.systems.tracked_a, dtype=np.int64).copy())
            if len(self._t) * self.P > MAX_HISTORY_CELLS:
                # Keep the memory bounded on long runs: halve the resolution in time.
                for lst in (self._t, self._n, self._p, self._tv, self._tracked):
                    del lst[1::2]
                self.dt *= 2
                self.thinned += 1

    def __len__(self) -> int:
        return len(self._t)

    def rows(self, start: int = 0) -> Rows:
        """The rows from ``start`` on (all of them from 0)."""
        with self.lock:
            k = len(self._t)
            start = min(max(start, 0), k)
            t = np.asarray(self._t[start:], dtype=float)
            n = np.asarray(self._n[start:], dtype=np.int64).reshape(len(t), self.P)
            p = np.asarray(self._p[start:], dtype=float).reshape(len(t), self.P)
            tv = np.asarray(self._tv[start:], dtype=float)
            tracked = (np.asarray(self._tracked[start:], dtype=np.int64).reshape(len(t), -1)
                       if len(self._tracked) == k and k > 0 else None)
        return Rows(start, t, n, p, tv, self.N, tracked)

    def columns(self) -> dict[str, np.ndarray]:
        """The command line's columns: t, n_0..n_{P-1}, p_0..p_{P-1}, tv."""
        rows = self.rows(0)
        cols: dict[str, np.ndarray] = {"t": rows.t}
        cols.update({f"n_{a}": rows.n[:, a] for a in range(self.P)})
        cols.update({f"p_{a}": rows.p[:, a] for a in range(self.P)})
        cols["tv"] = rows.tv
        return cols


class Runner:
    """A simulation stepped in its own thread, driven by commands.

    Parameters
    ----------
    ham : Hamiltonian
        The Hamiltonian and initial state.
    params : SimParams
        Validated simulation parameters (``engine.make_params``).
    speed : float
        Simulated time units per wall-clock second while playing.
    start : bool
        Start the thread now (tests may drive :meth:`process` by hand instead).
    clock : callable
        Wall-clock seconds (tests inject a fake one).
    nice : int
        Niceness of the runner's thread (Linux; 0 leaves it): a hosted server runs its
        engines below the web server's own thread, so page loads and messages go first.
    cpu_share : float
        Share of wall time the runner may spend stepping while playing (1: no cap). After
        a turn that stepped for ``w`` seconds it rests until ``w / cpu_share`` has passed,
        so one session cannot take more than its share of a core (the status bar shows
        the simulated time per second it achieves).
    gate : app.hosting.PageGate, optional
        The process's page gate: while it is closed (a visitor's page is being built)
        the runner does not step, for at most ``gate.wait_max`` seconds in a row; it
        looks again every :data:`GATE_POLL` seconds, and a command still wakes it.
    """

    def __init__(self, ham: Hamiltonian, params: SimParams, speed: float = 1.0,
                 start: bool = True, name: str | None = None,
                 clock: Callable[[], float] = time.perf_counter, nice: int = 0,
                 cpu_share: float = 1.0, gate: Any = None):
        if not 0.0 < cpu_share <= 1.0:
            raise ValueError(f"cpu_share must lie in (0, 1], not {cpu_share!r}.")
        self.clock = clock
        self.nice = int(nice)
        self.cpu_share = float(cpu_share)
        self._rest_until = -float("inf")  # no stepping before this (the CPU share)
        self.gate = gate
        self._held_since: float | None = None  # waiting at the closed gate since
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.speed = float(speed)
        self.playing = False
        self.rate = 0.0  # achieved simulated time per wall second (running average)
        self.error: str | None = None  # the latest error sentence, for the document
        self.error_seq = 0
        self._seq = 0
        self._answered = 0
        #: Commands sent (the session's side); a publication with ``answered`` below it
        #: was made before the runner saw them all.
        self.sent = 0
        self._taken: int | None = None  # the last publication the session took
        #: Called in the runner's thread after each publication (the session's wake-up).
        self.on_publish: Callable[[], None] | None = None
        self._waiting_for_take = False
        self.generation = 0
        self._latest: Published | None = None
        self._build(ham, params)  # raises InputError before any thread exists
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=name or f"ensemble-runner-{next(_ids)}")
        with _registry_lock:
            _registry.add(self)
        if start:
            self._thread.start()

    # -- the document's side ------------------------------------------------------------
    def send(self, cmd: str, value: Any = None) -> None:
        """Queue a command: play, pause, step, reset, speed, update, reanchor, restart or
        stop."""
        if cmd not in _COMMANDS:
            raise ValueError(f"Unknown runner command {cmd!r}.")
        self.sent += 1  # before it can be answered: a publication never counts ahead
        self._commands.put((cmd, value))

    def latest(self) -> Published | None:
        """The latest published frame (None before the first)."""
        return self._latest

    def taken(self, seq: int) -> None:
        """The session took publication ``seq`` for its page: a runner waiting for that
        (see :data:`IDLE_PERIOD`) steps again now."""
        self._taken = seq
        if self._waiting_for_take:
            self._waiting_for_take = False
            self._commands.put(_WAKE)

    def history_columns(self) -> dict[str, np.ndarray]:
        return self.history.columns()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and drop the ensemble."""
        self.send("stop")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread's side --------------------------------------------------------------
    def _build(self, ham: Hamiltonian, params: SimParams) -> None:
        st = make_stepper(ham, params)
        st.lazy_phases = True  # a frame after every short advance: no extra phase pass
        self.ham, self.params, self.stepper = ham, params, st
        self.history = History(st.ham.P, float(params.dt_out))
        self._next_out = 0.0
        self.generation += 1
        self._record_and_publish()

    def _record_and_publish(self) -> None:
        f = self.stepper.frame()
        if not (np.isfinite(f.tv) and np.all(np.isfinite(f.p))):
            # a matrix at the edge of what floats hold, a blown-up step: never draw NaN
            if self.playing or self.error is None:
                self.playing = False
                self._fail("The simulation produced a value that is not a finite number, so "
                           "it was paused; press Reset, or choose smaller entries of H.")
            return
        if f.t >= self._next_out - 1e-12:
            self.history.add(f)
            k = np.floor(f.t / self.history.dt + 1e-9) + 1
            self._next_out = k * self.history.dt
        self._seq += 1
        self._latest = self._publish(f)
        if self.on_publish is not None:
            self.on_publish()

    def _publish(self, f: Frame) -> Published:
        return Published(self._seq, self.generation, f, self.playing, float(self.params.r),
                         self.rate if self.playing else 0.0, self.params.mode,
                         len(self.history), self.history.thinned, self._answered)

    def _fail(self, msg: str) -> None:
        self.error = msg
        self.error_seq += 1
        self._seq += 1
        if self._latest is not None:
            self._latest = self._publish(self._latest.frame)

    def process(self, cmd: str, value: Any = None) -> bool:
        """Apply one command in the thread; return False when the runner must stop."""
        self._answered += 1
        try:
            if cmd == "stop":
                return False
            if cmd == "play":
                self.playing = True
            elif cmd == "pause":
                self.playing = False
            elif cmd == "speed":
                self.speed = float(value)
            elif cmd == "step":
                self._advance_by(float(value) if value else float(self.params.dt_out),
                                 wall_budget=5.0, yields=False)
            elif cmd == "update":
                self.stepper.update(**value)
                self.params = self.stepper.params
                if "H" in value:
                    self.ham = self.ham.with_matrix(value["H"])
            elif cmd == "reanchor":
                # from now on compare with the exact evolution of the ensemble's own state
                self.stepper.reanchor()
            elif cmd == "restart":
                ham, params = value
                self._build(ham, params)
            elif cmd == "reset":
                self._build(self.ham, self.params)
            self.error = None if cmd in ("restart", "update", "reset") else self.error
        except InputError as err:
            self._fail(str(err))
        except MemoryError:
            self._fail("Not enough memory for this ensemble; choose a smaller N.")
        except Exception as err:  # noqa: BLE001 - a bad command must never kill the session
            log.exception("runner command %s failed", cmd)
            self._fail(f"The simulation could not apply that change ({type(err).__name__}).")
        if cmd != "step":
            self._record_and_publish()
        return True

    def _advance_by(self, dt_sim: float, wall_budget: float = WALL_BUDGET,
                    yields: bool = True) -> None:
        """Advance by ``dt_sim`` (at most ``wall_budget`` seconds), stopping on output times
        and, if ``yields``, as soon as a command waits (after one chunk at least)."""
        st = self.stepper
        target = st.t + dt_sim
        t_begin = st.t
        start = self.clock()
        published_at = None  # the time of this turn's last publication
        while st.t < target - 1e-12:
            left = wall_budget - (self.clock() - start)
            if left <= 0 or (st.t > t_begin and left < st.chunk_wall):
                break  # spent, or the next chunk would likely overrun it
            if yields and st.t > t_begin and not self._commands.empty():
                break  # the user changed something: apply it now, not after the budget
            t_next = min(target, self._next_out)
            st.advance(t_next, wall_budget=left)
            if st.t >= self._next_out - 1e-12:
                self._record_and_publish()
                published_at = st.t
        if published_at != st.t:
            # the end of the turn, unless it ended on the frame just published (on the
            # output grid): the same state twice cost ~2 ms, and the page would take the
            # second, a frame lost (about 3 a second at N = 10^6 agents, 2026-12-04)
            self._record_and_publish()

    def _timeout(self, last: float) -> float | None:
        """How long to wait for a command before the next turn (None: paused, wait for
        one): the rest of the frame period (IDLE_PERIOD while the session is behind)
        since the turn at ``last``, or of the rest the CPU share asks for, whichever is
        longer. Records whether the wait is for the session to take a frame, so that
        :meth:`taken` wakes it."""
        if not self.playing:
            return None
        now = self.clock()
        # a session that takes frames and has taken neither of the last two: no new one
        # yet (one frame ahead of what it took keeps a busy page supplied)
        self._waiting_for_take = self._taken is not None and self._taken < self._seq - 1
        period = IDLE_PERIOD if self._waiting_for_take else FRAME_PERIOD
        held = min(GATE_POLL, self._gate_left(now))
        return max(0.0, period - (now - last), self._rest_until - now, held)

    def _gate_left(self, now: float) -> float:
        """Of the current wait at the page gate, the seconds left (0: not waiting)."""
        if self._held_since is None:
            return 0.0
        return max(0.0, self._held_since + self.gate.wait_max - now)

    def _held(self, now: float) -> float:
        """Before a turn: the seconds left to wait at the page gate (0: step now). A closed
        gate holds the runner for at most ``gate.wait_max`` seconds in a row; then it
        steps one turn and waits again."""
        if self.gate is None or not self.gate.closed():
            self._held_since = None
            return 0.0
        if self._held_since is None:
            self._held_since = now
        left = self._gate_left(now)
        if left <= 0.0:
            self._held_since = None
            return 0.0
        return min(GATE_POLL, left)

    def _rest(self, started: float) -> None:
        """After a turn that began at ``started``: no stepping until the turn's stepping
        time is ``cpu_share`` of the time since it began."""
        if self.cpu_share < 1.0:
            self._rest_until = started + (self.clock() - started) / self.cpu_share

    def _measure_rate(self, dt_sim: float, wall: float) -> None:
        """Fold dt_sim simulated in ``wall`` seconds (one loop turn: steps, frame and
        waiting) into the achieved speed, an exponential average over RATE_TAU seconds,
        capped at the asked speed (a turn that kept up may run a little over)."""
        if wall <= 0.0:
            return
        x = min(dt_sim / wall, self.speed)
        k = min(1.0, wall / RATE_TAU)
        self.rate = x if self.rate == 0.0 else self.rate + k * (x - self.rate)

    def _loop(self) -> None:
        log.info("runner started (%s)", self._thread.name)
        lower_priority(self.nice)
        last = self.clock()
        mark: tuple[float, float] | None = None  # (wall, simulated time) last turn
        try:
            while True:
                # Paused: block until a command arrives (no CPU). Playing: pace the frames.
                timeout = self._timeout(last)
                try:
                    batch = [self._commands.get(timeout=timeout)]
                except queue.Empty:
                    batch = []
                if batch:
                    while True:  # everything queued meanwhile: one batch, coalesced
                        try:
                            batch.append(self._commands.get_nowait())
                        except queue.Empty:
                            break
                    batch = [c for c in batch if c is not _WAKE]
                    if not batch:  # the page took the last frame: wait out the period
                        continue
                    merged = coalesce(batch)
                    # every command sent counts as answered once its batch is applied
                    # (Published.answered), those merged away included
                    self._answered += len(batch) - len(merged)
                    if not all(self.process(cmd, value) for cmd, value in merged):
                        break
                    mark = None  # a command may move t (reset, restart, step)
                    continue
                now = self.clock()
                if not self.playing:
                    last = now
                    continue
                if self._held(now) > 0.0:  # a page is being built: look again shortly
                    continue
                if mark is not None:
                    self._measure_rate(self.stepper.t - mark[1], now - mark[0])
                mark = (now, self.stepper.t)
                # Never try to catch up more than a few frames after a slow step.
                dt_wall = min(now - last, 4 * FRAME_PERIOD)
                last = now
                try:
                    self._advance_by(self.speed * dt_wall)
                    self._rest(now)
                except Exception as err:  # noqa: BLE001 - report, pause, keep the session
                    log.exception("runner step failed")
                    self.playing = False
                    self._fail(f"The simulation stopped: {err}")
        finally:
            self._latest = None
            self.stepper = None  # free the ensemble now, not when the session is collected
            log.info("runner stopped (%s)", self._thread.name)


def lower_priority(nice: int) -> None:
    """Run the calling thread at niceness ``nice`` (Linux threads have their own; 0 or
    another system: nothing is changed)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        # never raise a thread above the process's own priority (that needs privileges)
        os.setpriority(os.PRIO_PROCESS, tid, max(nice, os.getpriority(os.PRIO_PROCESS, tid)))
    except OSError as err:  # e.g. a sandbox that forbids it: run at the usual priority
        log.warning("could not lower the engine thread's priority: %s", err)


def coalesce(batch: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Commands that arrived together, as few as give the same result: only the last new
    ensemble (restart or reset) is built, and what came before it that it replaces (steps,
    live updates, earlier restarts) is dropped; a stop ends the batch."""
    for i, (cmd, _) in enumerate(batch):
        if cmd == "stop":
            return batch[: i + 1]
    last = max((i for i, (cmd, _) in enumerate(batch) if cmd in ("restart", "reset")),
               default=-1)
    if last < 0:
        return batch
    keep = [(c, v) for c, v in batch[:last] if c in ("play", "pause", "speed")]
    return [*keep, *batch[last:]]


_COMMANDS = ("play", "pause", "step", "reset", "speed", "update", "reanchor", "restart",
             "stop")
#: Put in the queue by :meth:`Runner.taken` to end a wait early; not a command.
_WAKE = ("wake", None)
