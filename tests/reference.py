"""A slow, obviously-correct reference: every system and every pair, straight from the equations.

Per-pair copy rate (PHYSICS.md (C)): system I (class b) copies J (class a) at
    2 R_ab sin+(phi_J - phi_I + delta_ab) / sqrt(n_I n_J)
and the phase law (PHYSICS.md §2, individual phases)
    dphi_I/dt = E_{a_I}
                + sum_{J: a_J != a_I} n_I^r n_J^(-r-1) R cos(phi_I - phi_J + delta_{a_I a_J}).
Euler steps of size dt with one Bernoulli trial per system per step; O(N^2) per step.
Used only in tests, at small N, to check the fast kernels in distribution.
"""

from __future__ import annotations

import numpy as np


def naive_run(H, psi0, N, t_out, dt, r=-0.5, seed=0, spectators=0):
    """Counts n_a (spectators excluded) at the times ``t_out``; aligned initial phases."""
    rng = np.random.default_rng(seed)
    H = np.asarray(H)
    P = H.shape[0]
    E = H.diagonal().real
    R = np.abs(H)
    np.fill_diagonal(R, 0.0)
    delta = np.angle(H)
    p0 = np.abs(psi0) ** 2
    exact = N * p0 / p0.sum()
    n0 = np.floor(exact).astype(int)
    n0[np.argsort(-(exact - n0), kind="stable")[: N - n0.sum()]] += 1
    a = np.repeat(np.arange(P), n0)
    spect = np.zeros(N, dtype=bool)
    if spectators:
        a = np.concatenate([a, np.repeat(np.arange(P), spectators)])
        spect = np.concatenate([spect, np.ones(P * spectators, dtype=bool)])
    phi = -np.angle(psi0)[a]
    out = []
    t = 0.0
    k = 0
    t_out = list(t_out)
    while k < len(t_out):
        if t >= t_out[k] - 1e-12:
            out.append(np.bincount(a[~spect], minlength=P))
            k += 1
            continue
        n = np.bincount(a, minlength=P).astype(float)
        nI = n[a]
        # pair matrices, I rows, J columns
        diff = phi[None, :] - phi[:, None]  # phi_J - phi_I
        Rab = R[a[None, :], a[:, None]]  # R_{a_J a_I}
        dab = delta[a[None, :], a[:, None]]  # delta_{a_J a_I}
        other = a[None, :] != a[:, None]
        norm = np.sqrt(nI[:, None] * nI[None, :])
        rate = np.where(other, 2 * Rab * np.maximum(np.sin(diff + dab), 0.0) / norm, 0.0)
        rate[spect] = 0.0
        w = nI[:, None] ** r * nI[None, :] ** (-r - 1)
        Rba = R[a[:, None], a[None, :]]
        dba = delta[a[:, None], a[None, :]]
        omega = E[a] + np.where(other, w * Rba * np.cos(-diff + dba), 0.0).sum(axis=1)
        total = rate.sum(axis=1)
        jump = rng.random(a.size) < total * dt
        phi_next = phi + omega * dt
        new_a, new_phi = a.copy(), phi_next.copy()
        for i in np.nonzero(jump)[0]:
            j = rng.choice(a.size, p=rate[i] / total[i])
            new_a[i], new_phi[i] = a[j], phi_next[j]
        a, phi = new_a, new_phi
        t += dt
    return np.array(out)
