"""The agent engine's step in plain vectorised NumPy: the baseline the numba kernels are
measured against (STYLE.md, Tests: "the naive NumPy implementation as the baseline").

The same physics as engine/core/agents.py, written for clarity rather than speed: copy rule
(C) with rates 2 R_ab sin+(...) / sqrt(n_I n_J) and, with dynamic phases, phase law (B) with
the alignment momentum. It lives here, not in the engine: an installed package has no use
for it, and ``real-ensemble-lab bench`` times the engine alone.
"""

from __future__ import annotations

import time

import numpy as np


class NumpyAgents:
    """The agent engine's step in plain vectorised NumPy (the baseline; same physics)."""

    def __init__(self, ham, N: int, phases: str, f: float, seed: int):
        self.rng = np.random.default_rng(seed)
        self.P = ham.P
        self.E, self.R, self.delta = ham.E, ham.R, ham.delta
        p0 = np.abs(ham.psi0) ** 2
        self.A = self.rng.choice(self.P, size=N, p=p0 / p0.sum()).astype(np.uint8)
        self.phi_a = -np.angle(ham.psi0)
        self.phi = self.phi_a[self.A].copy()
        self.pi = np.zeros(N) if f > 0 else None
        self.f, self.locked = f, phases == "locked"

    def step(self, dt: float) -> None:
        P, A = self.P, self.A
        n = np.bincount(A, minlength=P).astype(float)
        ratio = np.divide(n[:, None], n[None, :], out=np.zeros((P, P)), where=n[None, :] > 0)
        if self.locked:
            x = self.phi_a[:, None] - self.phi_a[None, :] + self.delta
            T = 2 * self.R * np.sqrt(ratio) * np.maximum(np.sin(x), 0)  # T[a, b]: b -> a
            inv = np.divide(1, ratio, out=np.zeros_like(ratio), where=ratio > 0)
            phidot = self.E + (self.R * np.sqrt(inv) * np.cos(x)).sum(1)  # (B), r = -1/2
            out = T.sum(0)
            jump = self.rng.random(A.size) < (out * dt)[A]
            src = A[jump]
            cum = np.cumsum(T[:, src], axis=0) / np.maximum(out[src], 1e-300)
            A[jump] = (self.rng.random(src.size) > cum).sum(0).clip(0, P - 1)
            self.phi_a += dt * phidot
            return
        e = np.exp(1j * self.phi)
        Z = np.bincount(A, e.real, P) + 1j * np.bincount(A, e.imag, P)
        w = np.sqrt(np.divide(1, n[:, None] * n[None, :], out=np.zeros((P, P)),
                              where=(n[:, None] * n[None, :]) > 0))
        C = (w * self.R * np.exp(1j * self.delta) * np.conj(Z)[None, :]).sum(1)
        omega = self.E[A] + (e * C[A]).real
        if self.pi is not None:
            Z2 = np.bincount(A, (e * e).real, P) + 1j * np.bincount(A, (e * e).imag, P)
            vp = self.f**2 / np.maximum(n[A], 1) * (e * e * np.conj(Z2[A])).imag
            self.pi -= dt * vp
            omega = omega + self.pi
        lam = 2 * self.R * np.sqrt(ratio)  # proposal rates, lam[a, b]: b -> a
        Lam = lam.sum(0)
        prop = np.nonzero(self.rng.random(A.size) < (Lam * dt)[A])[0]
        order = np.argsort(A, kind="stable")
        start = np.concatenate([[0], np.cumsum(n.astype(np.int64))])
        b = A[prop]
        cum = np.cumsum(lam[:, b], axis=0) / np.maximum(Lam[b], 1e-300)
        a = (self.rng.random(b.size) > cum).sum(0).clip(0, P - 1)
        J = order[start[a] + (self.rng.random(b.size) * n[a]).astype(np.int64)]
        ok = self.rng.random(b.size) < np.sin(self.phi[J] - self.phi[prop] + self.delta[a, b])
        I, J = prop[ok], J[ok]
        A[I], self.phi[I] = A[J], self.phi[J]
        self.phi += dt * omega


def system_steps_per_s(ham, N: int, phases: str, f: float, seed: int, dt: float,
                       steps: int = 20, repeat: int = 3) -> float:
    """Median system-steps/s of :class:`NumpyAgents` at a fixed step ``dt`` (the agent
    engine's mean step in the same benchmark), after one warm-up step."""
    base = NumpyAgents(ham, N, phases, f, seed)
    base.step(dt)
    nb = max(3, min(steps, 20))
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(nb):
            base.step(dt)
        rates.append(N * nb / (time.perf_counter() - t0))
    return float(np.median(rates))
