"""Exact reference: psi(t) = exp(-i H t) psi0 by eigendecomposition (PHYSICS.md §6)."""

from __future__ import annotations

import numpy as np

from .hamiltonian import Hamiltonian


class ExactEvolution:
    """Evaluate psi(t) at any times without time stepping.

    ``H = V diag(lam) V^dagger``, so ``psi(t) = V (exp(-i lam t) * (V^dagger psi0))``.
    """

    def __init__(self, H: np.ndarray, psi0: np.ndarray):
        self.lam, self.V = np.linalg.eigh(np.asarray(H, dtype=complex))
        self.c = self.V.conj().T @ np.asarray(psi0, dtype=complex)

    @classmethod
    def of(cls, ham: Hamiltonian) -> ExactEvolution:
        return cls(ham.H, ham.psi0)

    def psi(self, t) -> np.ndarray:
        """psi at time(s) ``t``: shape (P,) for a scalar, (T, P) for a list of times."""
        t = np.asarray(t, dtype=float)
        phase = np.exp(-1j * np.multiply.outer(t, self.lam))  # (..., P)
        return (phase * self.c) @ self.V.T

    def prob(self, t) -> np.ndarray:
        """|psi_a(t)|^2."""
        return np.abs(self.psi(t)) ** 2


def exact_psi(ham: Hamiltonian, t) -> np.ndarray:
    """psi(t) = exp(-i H t) psi0 for a scalar or a list of times."""
    return ExactEvolution.of(ham).psi(t)
