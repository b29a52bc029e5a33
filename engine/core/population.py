"""Population engine: counts n_a and class phases phi_a (phases aligned), PHYSICS.md §2-§3.

The copy process (C) summed over aligned classes is a Markov jump process on the counts;
it is simulated by midpoint tau-leaping with binomial/multinomial jump counts, so the
cost of a step does not depend on N (1 <= N <= 10^15).
"""

from __future__ import annotations

import numpy as np

from ._kernels import _bell_advance, _population_advance
from .errors import InputError
from .stepper import DT_MIN, Stepper, apportion


def csr_edges(ham):
    """Edges of ``ham`` sorted by source b, with the CSR offsets ``start``."""
    a, b, R, d = ham.edges()
    order = np.lexsort((a, b))
    a, b, R, d = a[order], b[order], R[order], d[order]
    start = np.searchsorted(b, np.arange(ham.P + 1)).astype(np.int64)
    return a, b, R, d, start


class PopulationStepper(Stepper):
    """Stateful population engine for live use: ``advance(t)``, ``frame()``, ``update()``.

    State: ``m`` copying members per class (int64), ``s`` spectators per class, class
    phases ``phi`` with psi_a = sqrt(rho_a) exp(-i phi_a) (PHYSICS.md §1).
    """

    mode = "population"

    def _init_state(self) -> None:
        self.m = apportion(self.N, np.abs(self.ham.psi0) ** 2)
        self.s = int(self.params.spectators)
        self.phi_a = -np.angle(self.ham.psi0).astype(float)
        self._on_update()

    def _on_update(self) -> None:
        self._E = self.ham.E
        self._ea, self._eb, self._eR, self._ed, self._start = csr_edges(self.ham)

    def _advance_kernel(self, t_stop: float, max_steps: int) -> int:
        p = self.params
        self.t, steps = _population_advance(
            self.m, self.s, self.phi_a, self._E, self._ea, self._eb, self._eR, self._ed,
            self._start, float(p.r), self.t, t_stop, float(p.phase_tol), float(p.jump_tol),
            DT_MIN, max_steps, self.rng)
        return steps

    @property
    def n(self) -> np.ndarray:
        return self.m

    @property
    def phi(self) -> np.ndarray:
        return self.phi_a


class BellStepper(Stepper):
    """Bell/Vink baseline (PHYSICS.md §6): N independent systems guided by the exact psi(t).

    Each system jumps b -> a at rate [2 Im(psi_a* H_ab psi_b)]+ / |psi_b|^2; the
    population-level tau-leap is exact in distribution as the step shrinks.
    """

    mode = "bell"

    def _init_state(self) -> None:
        self.m = apportion(self.N, np.abs(self.ham.psi0) ** 2)
        self._on_update()

    def _on_update(self) -> None:
        self._ea, self._eb, _, _, self._start = csr_edges(self.ham)
        self._H = np.ascontiguousarray(self.ham.H)

    def _advance_kernel(self, t_stop: float, max_steps: int) -> int:
        p = self.params
        ex = self.exact
        self.t, steps = _bell_advance(
            self.m, ex.lam, np.ascontiguousarray(ex.V), np.ascontiguousarray(ex.c), self._H,
            self._ea, self._eb, self._start, self.t, t_stop, float(p.phase_tol),
            float(p.jump_tol), DT_MIN, max_steps, self.rng)
        return steps

    @property
    def n(self) -> np.ndarray:
        return self.m

    @property
    def phi(self) -> np.ndarray:
        return -np.angle(self.exact_psi())

    def reanchor(self) -> np.ndarray:
        raise InputError("The Bell baseline is guided by psi(t) from psi0 and has no phases of "
                         "its own to re-anchor to.")
