"""The classical limit (paper §V, shared/PHYSICS.md §5): Newton's law for the packet centre
and a classical Liouville ensemble, to overlay on the quantum and ensemble mean positions.

NumPy only, so the dashboard and the command line can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hamiltonian import Hamiltonian


def _force(x_grid: np.ndarray, V: np.ndarray):
    """F(x) = -dV/dx from the lattice potential, linearly interpolated between sites."""
    F_grid = -np.gradient(V, x_grid)

    def F(x: np.ndarray) -> np.ndarray:
        return np.interp(x, x_grid, F_grid)

    return F


def newton(x_grid: np.ndarray, V: np.ndarray, mass: float, x0: np.ndarray | float,
           p0: np.ndarray | float, t: np.ndarray, substeps: int = 20) -> np.ndarray:
    """Integrate m x'' = -V'(x) with velocity Verlet; positions at the times ``t``.

    Parameters
    ----------
    x_grid, V : array
        Lattice positions and the potential on them (``Hamiltonian.x``, ``extra['V']``).
    mass : float
        Mass m of the particle.
    x0, p0 : float or array
        Initial positions and momenta (arrays: one trajectory per element, vectorised).
    t : array
        Output times, increasing from 0.
    substeps : int
        Verlet steps per output interval.

    Returns
    -------
    array of shape ``(len(t),) + shape(x0)``
    """
    F = _force(np.asarray(x_grid, float), np.asarray(V, float))
    x = np.array(x0, dtype=float, copy=True)
    p = np.broadcast_to(np.asarray(p0, dtype=float), x.shape).copy()
    out = np.empty((len(t),) + x.shape)
    out[0] = x
    f = F(x)
    for k in range(1, len(t)):
        h = (t[k] - t[k - 1]) / substeps
        for _ in range(substeps):
            p += 0.5 * h * f
            x += h * p / mass
            f = F(x)
            p += 0.5 * h * f
        out[k] = x
    return out


def liouville(x_grid: np.ndarray, V: np.ndarray, mass: float, x0: float, width: float,
              k0: float, t: np.ndarray, samples: int = 2000, seed: int = 0) -> np.ndarray:
    """Mean position of a classical Liouville ensemble started from the packet's Wigner
    distribution: x ~ N(x0, width), p ~ N(k0, 1/(2 width)) (hbar = 1, minimal uncertainty).
    """
    rng = np.random.default_rng(seed)
    xs = rng.normal(x0, width, samples)
    ps = rng.normal(k0, 1.0 / (2.0 * width), samples)
    return newton(x_grid, V, mass, xs, ps, t).mean(axis=1)


@dataclass
class ClassicalOverlay:
    """Mean positions over time: Newton, Liouville, exact quantum, and (optionally) ensemble."""

    t: np.ndarray
    newton: np.ndarray
    liouville: np.ndarray
    exact: np.ndarray


def is_lattice(ham: Hamiltonian) -> bool:
    """Whether the Hamiltonian is a lattice preset with positions and a potential."""
    return ham.x is not None and "V" in ham.extra and "mass" in ham.extra


def overlay(ham: Hamiltonian, t: np.ndarray, samples: int = 2000,
            seed: int = 0) -> ClassicalOverlay:
    """Classical trajectory, Liouville mean and exact quantum mean position of a lattice
    preset's Gaussian packet (ring: x0, width, k0 from the preset values)."""
    from .exact import ExactEvolution

    x = np.asarray(ham.x, float)
    V, mass = np.asarray(ham.extra["V"], float), float(ham.extra["mass"])
    vals = ham.extra.get("values", {})
    x0 = float(vals.get("x0", -float(vals.get("well", 0.0))))
    width = float(vals.get("width", 1.0))
    k0 = float(vals.get("k0", 0.0))
    t = np.asarray(t, float)
    prob = ExactEvolution.of(ham).prob(t)
    return ClassicalOverlay(
        t=t,
        newton=newton(x, V, mass, x0, k0, t),
        liouville=liouville(x, V, mass, x0, width, k0, t, samples=samples, seed=seed),
        exact=prob @ x,
    )


def mean_position(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The ensemble's mean position sum_a x_a n_a / N (rows of ``n`` are times)."""
    n = np.asarray(n, float)
    return n @ np.asarray(x, float) / n.sum(axis=-1)
