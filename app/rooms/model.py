"""One classroom room: participants mapped to the systems of a :class:`RoomEnsemble`.

No Panel and no server here: a room is driven by ``tick(now)`` with an injected clock, so it
is tested without sleeps. Every public method takes the room's lock (the ticker thread,
the web handlers and the projector's session all call in).

Who is who: ``owners[I]`` is the :class:`Participant` whose phone is system I, a
:class:`Ghost` (a student who left, kept by the teacher's choice) or None (a virtual system).
Systems with an index at or above ``N`` are spectators (PHYSICS.md §3).
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from real_ensemble_lab.engine import Hamiltonian, InputError, SimParams
from real_ensemble_lab.engine.core.room import RoomEnsemble

from .people import Ghost, Participant, default_pace
from .text import clean_nickname, copy_lines, describe

#: Longest wall-clock interval one tick advances (a stalled server does not leap ahead).
MAX_WALL_STEP = 1.0
#: Lines kept in the projector's "who copied whom".
RECENT = 8
#: Wall seconds one tick may compute.
TICK_BUDGET = 0.1
#: Points of D(t) kept for the projector.
HISTORY = 2000


class Room:
    """A room for one Hamiltonian (see the module docstring).

    Parameters
    ----------
    code : str
        The room's code (``/join?room=CODE``).
    ham, params : the Hamiltonian and agents parameters (N, spectators, seed, r, f, ...).
    virtual : int
        Virtual systems beside the students.
    max_students : int
        Students the room admits.
    clock : callable
        Seconds (monotonic); every time in the room is read from it.
    """

    def __init__(self, code: str, ham: Hamiltonian, params: SimParams | None = None,
                 virtual: int = 0, max_students: int = 200, keep_ghosts: bool = False,
                 measure_mode: bool = False, pace: float | None = None, clock=None,
                 seed: int = 1):
        import time

        self.code = code
        self.ham, self.params = ham, params
        self.max_students = int(max_students)
        self.keep_ghosts, self.measure_mode = bool(keep_ghosts), bool(measure_mode)
        self.pace = default_pace(ham) if pace is None else float(pace)
        self.clock = clock or time.monotonic
        self.seed = int(seed)
        self.lock = threading.RLock()
        #: the teacher's key: takes the room over from a new page (Rooms.reattach)
        self.teacher_key = secrets.token_hex(4).upper()
        self.participants: dict[str, Participant] = {}
        self._numbers = 0
        self.running = False
        self.closed = False
        self.version = 0  # every change, ticks included (the projector's refresh)
        self.gversion = 0  # changes every phone shows (start, pause, joins, ...)
        #: ``on_change(room, who)`` after a change, under the lock: ``who`` None (every
        #: phone) or the participants whose card changed (the phones' wake-ups)
        self.on_change: Callable[[Room, Iterable[Participant] | None], None] | None = None
        self._last = self.clock()
        self.teacher_seen = self._last
        self._build(int(virtual))

    # -- the ensemble --------------------------------------------------------------------
    def _build(self, virtual: int) -> None:
        """A fresh ensemble at t = 0 with a system for every student and ``virtual`` more."""
        students = list(self.participants.values())
        self.ens = RoomEnsemble(self.ham, self.params, N=len(students) + virtual,
                                seed=self.seed)
        self.owners: list[Any] = [None] * self.ens.N
        for i, p in enumerate(students):
            self.owners[i] = p
            p.system, p.measured = i, None
            p.feed.clear()
        self.recent: deque = deque(maxlen=RECENT)
        self.history: list[tuple[float, float]] = []
        self._bump()

    def _bump(self, who: Iterable[Participant] | None = None) -> None:
        """A change: of every card (``who`` None) or of those of ``who``."""
        self.version += 1
        if who is None:
            self.gversion += 1
        else:
            who = list(who)
            for p in who:
                p.version += 1
        if self.on_change is not None and (who is None or who):
            self.on_change(self, who)

    def card_version(self, p: Participant | None) -> int:
        """Grows whenever the card of ``p`` changes (beyond t and the phase)."""
        return self.gversion + (p.version if p is not None else 0)

    def _renumber(self) -> None:
        for i, owner in enumerate(self.owners):
            if isinstance(owner, Participant):
                owner.system = i

    def _add(self, owner: Any) -> int:
        i = self.ens.add_system()
        self.owners.insert(i, owner)
        return i

    def _remove(self, i: int) -> None:
        self.ens.remove_system(i)
        del self.owners[i]
        self._renumber()

    # -- students ----------------------------------------------------------------------
    def join(self, nickname: str = "") -> Participant:
        """A new student (a new system, between steps); InputError when closed or full."""
        with self.lock:
            if self.closed:
                raise InputError("This room has closed.")
            if len(self.participants) >= self.max_students:
                raise InputError("This room is full; ask your teacher.")
            self._numbers += 1
            p = Participant(secrets.token_urlsafe(18), self._numbers, clean_nickname(nickname),
                            self.clock())
            p.system = self._add(p)
            self.participants[p.token] = p
            p.feed.append((self.ens.t, "you joined the ensemble"))
            self._bump()
            return p

    def find(self, token: str | None) -> Participant | None:
        """The student holding ``token`` (and mark them seen), or None."""
        with self.lock:
            p = self.participants.get(token or "")
            if p is not None:
                p.last_seen = self.clock()
            return p

    def leave(self, token: str) -> None:
        """A student leaves for good: their system goes, or stays as a ghost."""
        with self.lock:
            p = self.participants.pop(token, None)
            if p is None:
                return
            if self.keep_ghosts:
                self.owners[p.system] = Ghost(f"{p.label}'s ghost")
            else:
                self._remove(p.system)
            self._bump()

    def measure(self, token: str) -> tuple[float, int] | None:
        """The student reads their value now (measure mode's Measure button)."""
        with self.lock:
            p = self.participants.get(token)
            if p is None:
                return None
            a = int(self.ens.A[p.system])
            p.measured = (self.ens.t, a)
            p.feed.append((self.ens.t, f"you measured a = {self.ham.labels[a]}"))
            self._bump([p])
            return p.measured

    def forget_idle(self, gone_after: float) -> int:
        """Students not seen for ``gone_after`` seconds have left; returns how many."""
        with self.lock:
            now = self.clock()
            gone = [t for t, p in self.participants.items() if now - p.last_seen > gone_after]
            for t in gone:
                self.leave(t)
            return len(gone)

    # -- the teacher -------------------------------------------------------------------
    def set_virtual(self, k: int) -> None:
        """Add or remove (uniformly chosen) virtual systems until there are ``k``."""
        with self.lock:
            virtual = [i for i, o in enumerate(self.owners) if o is None]
            if k == len(virtual):
                return
            if k > len(virtual):
                for _ in range(k - len(virtual)):
                    self._add(None)
            else:
                rng = np.random.default_rng([self.seed, self.version])
                for i in sorted(rng.choice(virtual, len(virtual) - k, replace=False))[::-1]:
                    self._remove(int(i))
            self._bump()

    def set_measure_mode(self, on: bool) -> None:
        """Hide (or show) every phone's value; earlier measurements are forgotten."""
        with self.lock:
            if self.measure_mode == bool(on):
                return
            self.measure_mode = bool(on)
            for p in self.participants.values():
                p.measured = None
            self._bump()

    def start(self) -> None:
        with self.lock:
            self.running, self._last = True, self.clock()
            self._bump()

    def pause(self) -> None:
        with self.lock:
            self.running = False
            self._bump()

    def reset(self) -> None:
        """t = 0 again: the students keep their places, the initial state is dealt anew."""
        with self.lock:
            self.running = False
            self.seed += 1
            self._build(sum(o is None for o in self.owners))

    def close(self) -> None:
        with self.lock:
            self.closed, self.running = True, False
            self._bump()

    def seen_by_teacher(self) -> None:
        with self.lock:
            self.teacher_seen = self.clock()

    # -- time ------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> bool:
        """Advance by pace x the wall time since the last tick; True when anything moved."""
        with self.lock:
            now = self.clock() if now is None else now
            wall, self._last = min(max(now - self._last, 0.0), MAX_WALL_STEP), now
            if not self.running or self.closed or self.ens.N == 0 or wall == 0.0:
                return False
            # a budget keeps every tick short: a room too big for its pace lags, never
            # stalls the others (the next tick starts from where this one stopped)
            self.ens.advance(self.ens.t + self.pace * wall, wall_budget=TICK_BUDGET)
            touched = set()
            for c in copy_lines(self.ens.drain_events(), self.owners, self.ens.N):
                if isinstance(c.copier, Participant):
                    c.copier.feed.append((c.t, f"you copied the state of {describe(c.source)}"))
                    touched.add(c.copier)
                if isinstance(c.source, Participant) and c.source is not c.copier:
                    c.source.feed.append((c.t, f"{describe(c.copier)} copied your state"))
                    touched.add(c.source)
                self.recent.append(c)
            self.history.append((self.ens.t, self.ens.deviation()))
            del self.history[:-HISTORY]
            self._bump(touched)  # other phones refresh t and phase on their heartbeat
            return True

