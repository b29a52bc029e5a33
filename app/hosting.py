"""Server-wide limits for a lab that holds a class (issue #17, item 5).

Everything here is shared by the sessions of one server process and read from the
environment once, at first use (README, "Hosting a class"):

=====================================  ==========================================  ========
variable                               meaning                                     default
=====================================  ==========================================  ========
``REAL_ENSEMBLE_LAB_MAX_SESSIONS``     browser sessions served at once             40
``REAL_ENSEMBLE_LAB_MEMORY_BUDGET``    bytes all ensembles may hold (``4G``)       0.6 x free
``REAL_ENSEMBLE_LAB_IDLE_PAUSE``       seconds without input before Pause          600
``REAL_ENSEMBLE_LAB_IDLE_CLOSE``       seconds without input before closing        1800
``REAL_ENSEMBLE_LAB_HOSTED``           1: sweeps from the page are off             0
``REAL_ENSEMBLE_LAB_MAX_SWEEPS``       sweeps run from the page at once (1-64)     1
``REAL_ENSEMBLE_LAB_PUBLIC_RUNNERS``   1: ``GET /runners`` answers every address   0
``REAL_ENSEMBLE_LAB_MAX_ROOMS``        classroom rooms open at once                10
``REAL_ENSEMBLE_LAB_ROOM_SIZE``        students one room admits                    200
``REAL_ENSEMBLE_LAB_ROOM_EXPIRE``      seconds a room outlives its projector       600
``REAL_ENSEMBLE_LAB_ENGINE_NICE``      niceness of the engine threads (0-19)       10
``REAL_ENSEMBLE_LAB_CPU_SHARE``        wall-time share one session's engine may    1
                                       spend stepping (0.05-1; 1: no cap)
=====================================  ==========================================  ========

The pieces are plain Python, no Panel, and take an injected clock where time matters, so
they are tested without a server: :class:`Sessions` (admission), :class:`MemoryBudget`
with :func:`n_cap` (the largest N that still fits), :class:`IdleWatch`, :class:`PageGate`
(pages are built before engines step) and :func:`server`, this process's instances. The
Studies page enforces HOSTED and MAX_SWEEPS itself (``app/studies_cluster.py``, which reads
the same variables by the same rules); they are read here too so that a malformed value
stops the server at start-up. With
``panel serve --num-procs k`` every process has its own: the limits apply per process;
only the page gates are shared (a page built in one worker holds the others' engines too,
``app/sibling_gates.py``).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

PREFIX = "REAL_ENSEMBLE_LAB_"
#: Share of the memory available at start-up that ensembles may hold together by default.
#: Less than the engine's own 0.8 for one run: every session also holds a document, its
#: plots and its recorded history outside this budget.
DEFAULT_BUDGET_FRACTION = 0.6
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


# -- settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The server-wide limits (one environment variable each, see the module's table)."""

    max_sessions: int = 40
    memory_budget: int | None = None  # None: DEFAULT_BUDGET_FRACTION of what is free
    idle_pause: float = 600.0  # 0: never
    idle_close: float = 1800.0  # 0: never
    hosted: bool = False
    max_sweeps: int = 1
    public_runners: bool = False
    max_rooms: int = 10
    room_size: int = 200
    room_expire: float = 600.0  # 0: never
    #: the engine threads run at this niceness, so the web server's thread (page loads,
    #: every session's messages) is served first when the cores are busy
    engine_nice: int = 10
    #: share of wall time one session's engine may spend stepping (1: no cap)
    cpu_share: float = 1.0

    @property
    def sweeps_on(self) -> bool:
        """Whether the page may start sweeps at all."""
        return not self.hosted


def parse_bytes(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"1.5GiB"`` or a plain number of bytes -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*", text, re.I)
    if m is None:
        raise ValueError(f"{text!r} is not an amount of memory (e.g. 4G, 512M or 1000000).")
    return int(float(m[1]) * _UNITS[m[2].upper()])


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default ``os.environ``); a bad value raises
    ValueError with one sentence naming the variable."""
    env = os.environ if environ is None else environ

    def get(name: str, convert: Callable[[str], Any], default: Any, ok=lambda v: True) -> Any:
        raw = env.get(PREFIX + name, "").strip()
        if not raw:
            return default
        try:
            value = convert(raw)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise ValueError(f"{PREFIX}{name}={raw!r} is not valid: expected "
                             f"{_EXPECTED[name]}.")
        return value

    return Settings(
        max_sessions=get("MAX_SESSIONS", int, 40, lambda v: v >= 1),
        memory_budget=get("MEMORY_BUDGET", parse_bytes, None, lambda v: v > 0),
        idle_pause=get("IDLE_PAUSE", float, 600.0, lambda v: v >= 0 and math.isfinite(v)),
        idle_close=get("IDLE_CLOSE", float, 1800.0, lambda v: v >= 0 and math.isfinite(v)),
        hosted=get("HOSTED", _flag, False),
        max_sweeps=get("MAX_SWEEPS", int, 1, lambda v: 1 <= v <= 64),
        public_runners=get("PUBLIC_RUNNERS", _flag, False),
        max_rooms=get("MAX_ROOMS", int, 10, lambda v: 0 <= v <= 1000),
        room_size=get("ROOM_SIZE", int, 200, lambda v: 1 <= v <= 1000),
        room_expire=get("ROOM_EXPIRE", float, 600.0, lambda v: v >= 0 and math.isfinite(v)),
        engine_nice=get("ENGINE_NICE", int, 10, lambda v: 0 <= v <= 19),
        cpu_share=get("CPU_SHARE", float, 1.0, lambda v: 0.05 <= v <= 1.0),
    )


_EXPECTED = {
    "MAX_SESSIONS": "a whole number of sessions, at least 1",
    "MEMORY_BUDGET": "a positive amount of memory such as 4G, 512M or a number of bytes",
    "IDLE_PAUSE": "seconds, 0 or more (0 never pauses)",
    "IDLE_CLOSE": "seconds, 0 or more (0 never closes)",
    "HOSTED": "1 or 0",
    "MAX_SWEEPS": "a whole number from 1 to 64",
    "PUBLIC_RUNNERS": "1 or 0",
    "MAX_ROOMS": "a whole number of rooms from 0 to 1000 (0 turns rooms off)",
    "ROOM_SIZE": "a whole number of students from 1 to 1000",
    "ROOM_EXPIRE": "seconds, 0 or more (0 never expires)",
    "ENGINE_NICE": "a whole number from 0 to 19",
    "CPU_SHARE": "a fraction from 0.05 to 1 (1: no cap)",
}


def _flag(raw: str) -> bool:
    v = raw.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def default_budget() -> int:
    """DEFAULT_BUDGET_FRACTION of the memory available now (the smaller of MemAvailable
    and what the container's memory cgroup still allows)."""
    from real_ensemble_lab.engine.core.agents import available_memory

    return int(DEFAULT_BUDGET_FRACTION * available_memory())


# -- sessions --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Ticket:
    """One admitted session (identity matters: two tickets are never equal)."""

    number: int
    opened: float


class Sessions:
    """Admission of browser sessions: at most ``cap`` hold a ticket at once (thread-safe)."""

    def __init__(self, cap: int, clock: Callable[[], float] = time.monotonic):
        if cap < 1:
            raise ValueError("A server must admit at least one session.")
        self.cap = int(cap)
        self._clock = clock
        self._held: set[Ticket] = set()
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def admit(self) -> Ticket | None:
        """A ticket for a new session, or None when ``cap`` sessions already hold one."""
        with self._lock:
            if len(self._held) >= self.cap:
                return None
            ticket = Ticket(next(self._numbers), self._clock())
            self._held.add(ticket)
            return ticket

    def release(self, ticket: Ticket | None) -> None:
        """Give a ticket back (again, or None: nothing happens)."""
        with self._lock:
            self._held.discard(ticket)

    @property
    def count(self) -> int:
        """Sessions holding a ticket now."""
        with self._lock:
            return len(self._held)

    def full_message(self) -> str:
        """What a visitor who was refused reads."""
        n = self.count
        who = "1 student is" if n == 1 else f"{n} students are"
        return f"The lab is full — {who} using it; try again in a few minutes."


# -- memory ----------------------------------------------------------------------------------
class MemoryBudget:
    """Bytes the sessions' ensembles may hold together; one reservation per ticket.

    A session reserves before it builds an ensemble; a new reservation replaces its old one
    (a restart frees the old ensemble), so :meth:`left` for a ticket counts what the other
    sessions hold.
    """

    def __init__(self, total: int):
        self.total = int(total)
        self._held: dict[Ticket, int] = {}
        self._lock = threading.Lock()

    def left(self, ticket: Ticket | None = None) -> int:
        """Bytes free for ``ticket``'s next ensemble (its own reservation counts as free)."""
        with self._lock:
            used = sum(b for t, b in self._held.items() if t is not ticket)
        return max(0, self.total - used)

    def reserve(self, ticket: Ticket, nbytes: int) -> bool:
        """Hold ``nbytes`` for ``ticket`` instead of what it held; False (and nothing
        changed) when they do not fit beside the other sessions' reservations."""
        with self._lock:
            used = sum(b for t, b in self._held.items() if t is not ticket)
            if used + nbytes > self.total:
                return False
            self._held[ticket] = int(nbytes)
            return True

    def release(self, ticket: Ticket | None) -> None:
        with self._lock:
            self._held.pop(ticket, None)

    @property
    def reserved(self) -> int:
        with self._lock:
            return sum(self._held.values())


def ensemble_bytes(mode: str, N: int, P: int, spectators: int = 0, phases: str = "dynamic",
                   f: float = 0.0, gamma: float = 0.0) -> int:
    """The engine's estimate of what an ensemble holds (``engine.core.agents.state_bytes``, the
    figure its own memory check uses). Population and Bell modes hold counts per class,
    not per system: only the P x P tables, whatever N is."""
    from real_ensemble_lab.engine.core.agents import state_bytes

    if mode == "agents":
        return state_bytes(N, P, spectators, phases, f, gamma)
    return state_bytes(0, P)


def n_cap(mode: str, P: int, budget_left: int, spectators: int = 0, phases: str = "dynamic",
          f: float = 0.0, gamma: float = 0.0) -> int:
    """The largest N whose ensemble fits in ``budget_left`` bytes (at most the app's
    ``N_MAX[mode]``; 0 when not even the N-independent tables fit)."""
    from real_ensemble_lab.engine.core.params import N_MAX

    top = N_MAX[mode]
    fixed = ensemble_bytes(mode, 0, P, spectators, phases, f, gamma)
    if fixed > budget_left:
        return 0
    if mode != "agents":
        return top
    per = ensemble_bytes(mode, 1, P, 0, phases, f, gamma) - ensemble_bytes(mode, 0, P, 0,
                                                                           phases, f, gamma)
    return max(0, min(top, (budget_left - fixed) // per))


def slider_floor(N: int) -> int:
    """The largest of the N slider's values (1, 2 or 5 x 10^k, from 10) not above ``N``;
    0 below 10."""
    best = 0
    for k in range(1, 16):
        for m in (1, 2, 5):
            if m * 10**k <= N:
                best = m * 10**k
    return best


def fit_N(mode: str, N: int, P: int, budget_left: int, sessions: int = 1,
          on_slider: bool = False, **kw: Any) -> tuple[int, str | None]:
    """The N to run (``N``, or :func:`n_cap` when smaller) and, when capped, the sentence
    that tells the user why (``sessions``: how many share the server now). ``on_slider``:
    a capped N is one of the N slider's values (:func:`slider_floor`), so that the slider
    can show the N that runs."""
    cap = n_cap(mode, P, budget_left, **kw)
    if on_slider and N > cap:
        cap = slider_floor(cap)
    if N <= cap:
        return N, None
    if sessions > 1:
        where = (f"the memory left on this server ({_fmt_bytes(budget_left)}: "
                 + ("another session holds" if sessions == 2 else
                    f"{sessions - 1} other sessions hold") + " the rest)")
    else:
        where = f"this server's memory for ensembles ({_fmt_bytes(budget_left)})"
    if cap == 0:
        return 0, f"No ensemble fits in {where} now; try again in a few minutes."
    return cap, (f"N = {N:,} would not fit in {where}, so N = {cap:,} is used. The population "
                 f"engine needs no memory per system.")


def _fmt_bytes(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


# -- idleness --------------------------------------------------------------------------------
class IdleWatch:
    """Time since the last user input: 'active', then 'pause', then 'close'.

    ``touch()`` on every input from the user; ``state()`` on the page's tick. A limit of
    0 (or None) never fires. Touches inside ``with watch.quiet():`` are ignored, so that
    the app pausing a session itself does not count as input.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 pause_after: float | None = None, close_after: float | None = None):
        s = server().settings if pause_after is None or close_after is None else None
        self.pause_after = s.idle_pause if pause_after is None else float(pause_after)
        self.close_after = s.idle_close if close_after is None else float(close_after)
        self._clock = clock
        self._last = clock()
        self._quiet = 0

    def touch(self) -> None:
        if not self._quiet:
            self._last = self._clock()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def idle(self, now: float | None = None) -> float:
        """Seconds since the last input."""
        return (self._clock() if now is None else now) - self._last

    def state(self, now: float | None = None) -> str:
        idle = self.idle(now)
        if self.close_after and idle >= self.close_after:
            return "close"
        if self.pause_after and idle >= self.pause_after:
            return "pause"
        return "active"

    def message(self, state: str) -> str:
        """The sentence shown when the watch paused or closed the session."""
        if state == "close":
            return (f"This session was closed after {_fmt_minutes(self.close_after)} without "
                    f"input, to free the server for others. Reload the page to start again.")
        return (f"Paused after {_fmt_minutes(self.pause_after)} without input, to share the "
                f"server. Press Play to go on.")


class SessionLimits:
    """One session's share of the server: the memory its ensemble holds and its idleness.

    ``fit`` caps a new ensemble's N to the memory the other sessions leave (or refuses
    it) and reserves what it will hold; ``release`` gives the session's place and memory
    back (idle close, end of session); ``watch`` is its :class:`IdleWatch`.
    """

    def __init__(self, host: Server, ticket: Ticket | None,
                 clock: Callable[[], float] = time.monotonic):
        self.host, self.ticket = host, ticket
        self.watch = IdleWatch(clock, host.settings.idle_pause, host.settings.idle_close)

    def fit(self, params: Any, P: int) -> tuple[Any | None, str | None]:
        """``params`` with N capped to what fits (and a sentence saying so), the same
        ``params`` when they fit, or ``(None, sentence)`` when nothing fits now."""
        from real_ensemble_lab.engine import make_params
        from real_ensemble_lab.engine.core.params import params_dict

        kw = dict(spectators=int(params.spectators), phases=params.phases,
                  f=float(params.f), gamma=float(params.gamma))
        N, note = fit_N(params.mode, int(params.N), P, self.host.memory.left(self.ticket),
                        sessions=self.host.sessions.count, on_slider=True, **kw)
        if N == 0:
            return None, note
        if N != params.N:
            params = make_params(**{**params_dict(params), "N": N})
        if self.ticket is not None and not self.host.memory.reserve(
                self.ticket, ensemble_bytes(params.mode, N, P, **kw)):
            return None, ("Another session took the memory this ensemble needs a moment ago; "
                          "try again.")
        return params, note

    def release(self) -> None:
        self.host.release(self.ticket)

    def engine_share(self) -> dict[str, Any]:
        """The runner's niceness, CPU share and the process's page gate
        (``Runner(nice=..., cpu_share=..., gate=...)``)."""
        return {"nice": self.host.settings.engine_nice, "cpu_share": self.host.settings.cpu_share,
                "gate": self.host.gate}


class PageGate:
    """Pages first: while a visitor's page is being built, this process's engines wait.

    A process's Python threads share one interpreter lock, and with 30 engines stepping the
    thread that builds a visitor's page got a small share of it: a fresh page took 17 s
    under that load against 4 s alone (2026-12-03). :meth:`hold` closes the gate until
    :meth:`release` or ``hold_max`` seconds (a visitor whose browser never finishes
    loading holds nobody for long); an engine asks :meth:`closed` before each turn and
    waits while it is closed, at most ``wait_max`` seconds in a row (``app.runner``), so
    a stream of arrivals slows the simulations without stopping them.

    Nor can one visitor who reloads the page again and again hold the others' simulations:
    the gate is closed at most ``share_max`` of the time in the long run. It has a budget
    of ``burst`` seconds of closure (a class arriving, pages overlapping), spent while it
    is closed at ``1 - share_max`` per second and earned back while it is open at
    ``share_max`` per second; with the budget spent it stays open whatever is held.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, hold_max: float = 5.0,
                 wait_max: float = 1.0, share_max: float = 0.5, burst: float = 10.0,
                 siblings: Any = None):
        if not 0.0 < share_max < 1.0:
            raise ValueError("share_max is the gate's longest share of the time, in (0, 1)")
        self.clock, self.hold_max, self.wait_max = clock, float(hold_max), float(wait_max)
        self.share_max, self.burst = float(share_max), float(burst)
        # the other worker processes' gates (app.sibling_gates; None: one process)
        self.siblings = siblings
        self._holds: dict[int, float] = {}  # token -> deadline
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        self._budget = self.burst  # seconds of closure left
        self._seen: tuple[float, bool] | None = None  # (when, closed then) at the last look

    def hold(self) -> int:
        """Close the gate for one page; the token goes to :meth:`release`."""
        with self._lock:
            now = self.clock()
            self._account(now)
            token = next(self._tokens)
            self._holds[token] = now + self.hold_max
            self._account(now)
            return token

    def release(self, token: int | None) -> None:
        with self._lock:
            now = self.clock()
            self._account(now)
            self._holds.pop(token, None)
            self._account(now)

    def closed(self) -> bool:
        """Whether the engines wait now: a page is being built and the gate's budget of
        closure is not spent."""
        if self.siblings is not None and self.siblings.closed(self.clock()):
            return True  # a page is being built in another worker process
        if not self._holds and self._seen is None:  # the engines' common case: no lock
            return False
        with self._lock:
            return self._account(self.clock())

    @property
    def building(self) -> int:
        """Pages held for now (holds past their deadline are dropped)."""
        if not self._holds:
            return 0
        with self._lock:
            self._account(self.clock())
            return len(self._holds)

    def _account(self, now: float) -> bool:
        """Bring the budget up to ``now`` and say whether the gate is closed from now on.
        Between two looks the gate was what the first said (the engines wait on that)
        until its last hold expired, and open after that."""
        if self._seen is not None:
            then, was_closed = self._seen
            span = max(0.0, now - then)
            shut = 0.0
            if was_closed and self._holds:
                shut = min(span, max(0.0, max(self._holds.values()) - then))
            earned = self.share_max * (span - shut) - (1.0 - self.share_max) * shut
            self._budget = min(self.burst, max(0.0, self._budget + earned))
        for token in [k for k, end in self._holds.items() if end <= now]:
            del self._holds[token]
        closed = bool(self._holds) and self._budget > 0.0
        if self.siblings is not None:  # until when, as far as this look can tell
            self.siblings.publish(min(max(self._holds.values()), now + self._budget / (
                1.0 - self.share_max)) if closed else 0.0)
        # open with a full budget: nothing to account for until the next hold
        self._seen = None if not closed and self._budget >= self.burst else (now, closed)
        return closed


def _fmt_minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"


# -- this process ----------------------------------------------------------------------------
def _process_gate() -> PageGate:
    """This process's page gate; a forked worker's (``--num-procs``) also sees its
    siblings' (``app.sibling_gates``)."""
    from .sibling_gates import SiblingGates

    gate = PageGate()
    gate.siblings = SiblingGates.for_this_process(horizon=gate.hold_max)
    return gate


@dataclass
class Server:
    """This process's limits and their shared state."""

    settings: Settings
    sessions: Sessions
    memory: MemoryBudget
    gate: PageGate = field(default_factory=_process_gate)
    _tickets: dict[int, Ticket] = field(default_factory=dict)

    def release(self, ticket: Ticket | None) -> None:
        """A session ends: its place and its memory go back."""
        self.memory.release(ticket)
        self.sessions.release(ticket)

    def summary(self) -> dict[str, Any]:
        """For ``GET /runners``."""
        return {"sessions": self.sessions.count, "max_sessions": self.sessions.cap,
                "memory_reserved": self.memory.reserved, "memory_budget": self.memory.total,
                "pages_building": self.gate.building,
                "hosted": self.settings.hosted, "max_sweeps": self.settings.max_sweeps}


_server: Server | None = None
_server_lock = threading.Lock()


def server(environ: Mapping[str, str] | None = None) -> Server:
    """This process's :class:`Server`, built from the environment on first use."""
    global _server
    with _server_lock:
        if _server is None:
            s = read_settings(environ)
            _server = Server(s, Sessions(s.max_sessions),
                             MemoryBudget(s.memory_budget or default_budget()))
        return _server


def ticket_of(doc: Any) -> Ticket | None:
    """The ticket ``app/main.py`` admitted the session of Bokeh document ``doc`` with."""
    return server()._tickets.get(id(doc)) if doc is not None else None


def bind(doc: Any, ticket: Ticket) -> None:
    """Remember ``ticket`` for ``doc`` (until :meth:`unbind`)."""
    server()._tickets[id(doc)] = ticket


def unbind(doc: Any) -> None:
    server()._tickets.pop(id(doc), None)


def end_session(doc: Any, ticket: Ticket, session_context: Any) -> None:
    """The session of ``doc`` ended (``on_session_destroyed``): its place and memory go back."""
    unbind(doc)
    server().release(ticket)
