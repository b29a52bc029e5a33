"""An estimate of the time-stepping error of a run, beside its statistical error.

At N = 10^15 the sampling noise (~1/sqrt(N)) is 3e-8, so what is left of D(t) is the
integrator's. To tell the two apart, the same integrator is run without noise (its
N -> infinity limit: every jump count replaced by its mean) at the run's tolerances and at a
quarter of them, from the same state. For a second-order scheme the first is off by
16/15 of their distance, which is reported as ``step_error``. Cost: O(P) per step, no
O(N) work, so it runs beside every mode.

The population, locked-agent and Bell integrators are exactly the schemes so estimated;
the dynamic-phase agent integrator is estimated by the aligned-phase scheme, which it
equals in the limit of aligned classes.
"""

from __future__ import annotations

import numpy as np

from ._kernels import _bell_advance, _population_advance

#: The finer companion runs at this fraction of both tolerances.
REFINE = 0.25
#: (1/REFINE)^2 / ((1/REFINE)^2 - 1): the coarse run's error from the two runs' distance.
SECOND_ORDER = 16.0 / 15.0
MAX_STEPS = 1 << 40


class StepErrorEstimate:
    """Two noise-free companions of a stepper at tolerances x1 and x1/4.

    Parameters
    ----------
    stepper : Stepper
        The run to follow. Its Hamiltonian, r, tolerances and spectators are read at each
        :meth:`restart`.
    """

    def __init__(self, stepper) -> None:
        self.stepper = stepper
        self.value = 0.0  # largest estimate so far
        self.restart(stepper.t, stepper.n, stepper.phi)

    def restart(self, t: float, n: np.ndarray, phi: np.ndarray) -> None:
        """Start both companions from counts ``n`` and class phases ``phi`` at time ``t``
        (after a live change of H, r or a tolerance, or a re-anchoring)."""
        self.t = float(t)
        self.m = [np.asarray(n, dtype=float).copy() for _ in range(2)]
        self.phi = [np.asarray(phi, dtype=float).copy() for _ in range(2)]

    def advance(self, t: float) -> float:
        """Advance both companions to ``t``; return the largest estimate so far."""
        st = self.stepper
        p = st.params
        if t > self.t:
            ea, eb, eR, ed, start = _edges(st)
            for k, scale in enumerate((1.0, REFINE)):
                tol = (float(p.phase_tol) * scale, float(p.jump_tol) * scale, 1e-10, MAX_STEPS)
                if st.mode == "bell":
                    ex = st.exact
                    _bell_advance(self.m[k], ex.lam, np.ascontiguousarray(ex.V),
                                  np.ascontiguousarray(ex.c), np.ascontiguousarray(st.ham.H),
                                  ea, eb, start, self.t, float(t), *tol, None)
                else:
                    _population_advance(self.m[k], int(p.spectators), self.phi[k], st.ham.E,
                                        ea, eb, eR, ed, start, float(p.r), self.t, float(t),
                                        *tol, None)
            self.t = float(t)
            self.value = max(self.value, self.current())
        return self.value

    def current(self) -> float:
        """SECOND_ORDER x the total-variation distance of the two companions now."""
        a, b = (m / max(m.sum(), 1e-300) for m in self.m)
        return SECOND_ORDER * 0.5 * float(np.abs(a - b).sum())


def _edges(st):
    """The stepper's Hamiltonian as CSR edges (cached per Hamiltonian object)."""
    from .population import csr_edges

    cached = getattr(st, "_step_error_edges", None)
    if cached is None or cached[0] is not st.ham:
        st._step_error_edges = cached = (st.ham, csr_edges(st.ham))
    return cached[1]
