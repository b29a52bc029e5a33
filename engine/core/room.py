"""An agent ensemble whose size changes between steps: the physics of a classroom room.

:class:`RoomEnsemble` *is* an :class:`~engine.core.agents.AgentStepper` (the same kernels, the
same copy rule (C) and phase law (B)/(38), PHYSICS.md §2): it only adds
:meth:`~RoomEnsemble.add_system` and :meth:`~RoomEnsemble.remove_system`, applied between
steps, and it tracks every copying system so that each copy names who copied whom.

A system that joins at time t is a fresh system prepared in the state psi(t): its beable is
drawn from the exact |psi_a(t)|^2 and it takes its class's circular-mean phase (the exact
phase -arg psi_a(t) when its class is empty). Joining can therefore refill an empty class;
leaving removes one member and nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .agents import AgentStepper
from .errors import InputError
from .hamiltonian import Hamiltonian
from .params import SimParams, make_params, params_dict

#: Copy events kept between two drains (a room drains after every advance).
ROOM_EVENTS = 20_000
#: Largest ensemble a room holds (students, virtual systems; spectators not counted).
MAX_SYSTEMS = 5_000


class RoomEnsemble(AgentStepper):
    """An agents run of ``N`` systems (``N`` may be 0) whose size changes between steps.

    Parameters
    ----------
    ham : Hamiltonian
    params : SimParams, optional
        Agents parameters; ``phases`` is forced to 'dynamic' (each system has its own phase)
        and ``N`` is replaced by the ``N`` given here.
    N : int
        Systems at the start (0 allowed: the room fills as students join).
    shuffle : bool
        Deal the initial beables to the systems in a random order (students who join
        before the start should not all sit in class 0); False keeps the agent engine's
        order, so the run is bit-identical to ``AgentStepper`` with the same seed.
    """

    def __init__(self, ham: Hamiltonian, params: SimParams | None = None, N: int = 0,
                 shuffle: bool = True, **kw: Any):
        if not 0 <= N <= MAX_SYSTEMS:
            raise InputError(f"A room holds 0 to {MAX_SYSTEMS} systems, not {N}.")
        base = params_dict(params) if params is not None else {}
        values = {**base, **kw, "mode": "agents", "phases": "dynamic", "N": max(N, 1)}
        super().__init__(ham, make_params(**values))
        self.events = np.zeros((ROOM_EVENTS, 6))
        self._join_rng = np.random.default_rng([self.seed, 3])
        if shuffle and N > 1:
            order = self._join_rng.permutation(self.N)
            self.A[:N] = self.A[order]
            self.U[:N] = self.U[order]
            if self.pi.size:
                self.pi[:N] = self.pi[order]
        if N == 0:
            self.remove_system(0)
        self._resized()

    # -- size changes (between steps) ----------------------------------------------------
    def _resized(self) -> None:
        """Rebuild what depends on the number of systems: index, sums, tracked set."""
        total = self.A.shape[0]
        self.idx = np.empty(total, dtype=np.int32)
        self.sample_idx = np.arange(min(total, 1200), dtype=np.int64)
        self._sort()
        self._sums()
        self.pW[:] = 0.0
        self.tracked = np.arange(self.N, dtype=np.int64)  # every copying system

    def add_system(self) -> int:
        """A new copying system prepared in psi(t) (module docstring); returns its index
        (always the last copying system, ``N - 1`` after the call)."""
        if self.N >= MAX_SYSTEMS:
            raise InputError(f"A room holds at most {MAX_SYSTEMS} systems.")
        self.sync_phases()
        p = np.abs(self.exact_psi()) ** 2
        a = int(self._join_rng.choice(self.ham.P, p=p / p.sum()))
        Z = self.pZ.sum(0)
        phi = float(np.angle(Z[a])) if self.n_all[a] > 0 else float(-np.angle(
            self.exact_psi()[a]))
        at = self.N  # before the spectators
        self.A = np.insert(self.A, at, a).astype(self.A.dtype)
        self.U = np.insert(self.U, at, [np.cos(phi), np.sin(phi)], axis=0).astype(np.float32)
        if self.pi.size:
            self.pi = np.insert(self.pi, at, 0.0)
        self.N += 1
        self._resized()
        return at

    def remove_system(self, index: int) -> None:
        """Remove copying system ``index``; systems above it move down by one."""
        if not 0 <= index < self.N:
            raise InputError(f"There is no system {index} in this room.")
        self.sync_phases()
        self.A = np.delete(self.A, index)
        self.U = np.ascontiguousarray(np.delete(self.U, index, axis=0))
        if self.pi.size:
            self.pi = np.delete(self.pi, index)
        self.N -= 1
        self._resized()

    # -- reading -----------------------------------------------------------------------
    def advance(self, t_target: float, wall_budget: float | None = None) -> float:
        if self.N == 0:  # nothing to evolve: time waits for the first system
            return self.t
        return super().advance(t_target, wall_budget)

    def drain_events(self) -> np.ndarray:
        """Copies since the last drain: rows (t, I, a_old, a_new, J, phi_J), I the copier's
        index (every copying system is tracked) and J the copied system's."""
        rows = self.events[: int(self.nev[0])].copy()
        self.nev[0] = 0
        return rows

    def system(self, index: int) -> tuple[int, float]:
        """Beable and phase (in (-pi, pi]) of system ``index``."""
        u = self.U[index]
        return int(self.A[index]), float(np.arctan2(u[1], u[0]))

    def deviation(self) -> float:
        """D(t) = 1/2 sum_a |n_a/N - |psi_a(t)|^2| (nan with no system)."""
        if self.N == 0:
            return float("nan")
        p = np.abs(self.exact_psi()) ** 2
        return float(0.5 * np.abs(self.m / self.N - p).sum())
