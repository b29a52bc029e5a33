"""Private numba kernels shared by the population and Bell engines.

Edges are the ordered pairs (a, b), a != b, with R_ab > 0, sorted by the source b
(CSR layout: the edges leaving class b are ``start[b]:start[b+1]``). Edge e carries
the jump b -> a ("a copied by a member of b") and the phase term of a that involves b.
"""

from __future__ import annotations

import math

import numpy as np

from ._binomial import _binomial
from ._jit import jit


@jit
def _population_rates(n, phi, E, ea, eb, eR, ed, r, T, phidot):
    """Per-member jump rates T[e] = T_{b->a} and class phase velocities (PHYSICS.md (A), (B)).

    T_{b->a} = 2 R_ab sqrt(n_a/n_b) sin+(phi_a - phi_b + delta_ab)          (from (C))
    dphi_a/dt = E_a + sum_b R_ab (n_a/n_b)^r cos(phi_a - phi_b + delta_ab)  (B)
    ``n`` may be fractional (midpoint estimates); empty classes take no part.
    """
    P = n.shape[0]
    for a in range(P):
        phidot[a] = E[a]
    for e in range(ea.shape[0]):
        a = ea[e]
        b = eb[e]
        T[e] = 0.0
        if n[a] <= 0.0 or n[b] <= 0.0:
            continue
        x = phi[a] - phi[b] + ed[e]
        ratio = n[a] / n[b]
        s = math.sin(x)
        if s > 0.0:
            T[e] = 2.0 * eR[e] * math.sqrt(ratio) * s
        phidot[a] += eR[e] * math.exp(r * math.log(ratio)) * math.cos(x)


@jit
def _bell_rates(psi, H, ea, eb, T):
    """Bell's minimal jump rates T_{b->a} = [2 Im(psi_a* H_ab psi_b)]+ / |psi_b|^2 (§6)."""
    for e in range(ea.shape[0]):
        a = ea[e]
        b = eb[e]
        rb = psi[b].real ** 2 + psi[b].imag ** 2
        T[e] = 0.0
        if rb > 0.0:
            j = 2.0 * (np.conj(psi[a]) * H[a, b] * psi[b]).imag
            if j > 0.0:
                T[e] = j / rb


@jit
def _out_rates(T, start, out):
    for b in range(out.shape[0]):
        acc = 0.0
        for e in range(start[b], start[b + 1]):
            acc += T[e]
        out[b] = acc


@jit
def _jumps(m, w, T, out, start, ea, dt, rng, dm):
    """Sample tau-leap jumps: each of the m_b copiers in b leaves with probability
    w_b out_b dt, its destination drawn with probabilities T[e]/out_b; w_b = m_b(mid)/m_b
    makes the mean flux the midpoint flux. Counts never go negative."""
    P = m.shape[0]
    for a in range(P):
        dm[a] = 0
    for b in range(P):
        if m[b] == 0 or out[b] <= 0.0:
            continue
        # Mean jump count = midpoint flux * dt: second order in dt.
        k = _binomial(rng, m[b], min(1.0, w[b] * out[b] * dt))
        if k == 0:
            continue
        dm[b] -= k
        rest = out[b]
        for e in range(start[b], start[b + 1]):
            if k == 0:
                break
            if e == start[b + 1] - 1 or rest <= T[e]:
                x = k
            else:
                x = _binomial(rng, k, min(1.0, T[e] / rest))
            rest -= T[e]
            dm[ea[e]] += x
            k -= x


@jit
def _relative_inflow(m, n, T, ea, eb, inflow):
    """Largest relative growth rate max_a inflow_a / max(n_a, 1), inflow_a = sum_b m_b T_{b->a}.

    Bounding inflow * dt by jump_tol * n_a keeps a class that is leaving a node from growing
    several-fold in one step (PHYSICS.md §3, "Step control"); the floor of one system lets an
    empty class be entered (Bell) without a zero step. Returns 0 when nothing flows."""
    for a in range(inflow.shape[0]):
        inflow[a] = 0.0
    for e in range(ea.shape[0]):
        inflow[ea[e]] += m[eb[e]] * T[e]
    g = 0.0
    for a in range(inflow.shape[0]):
        g = max(g, inflow[a] / max(n[a], 1.0))
    return g if g > 0.0 else 1e-300


@jit
def _mean_jumps(m, w, T, out, start, ea, dt, dm):
    """The mean of :func:`_jumps` (the N -> infinity limit), for fractional counts m.

    A shrinking class left with less than half a system is emptied, as the stochastic
    process would absorb it: the limit then keeps the step control's view of nodes."""
    P = m.shape[0]
    for a in range(P):
        dm[a] = -w[a] * m[a] * out[a] * dt
    for b in range(P):
        for e in range(start[b], start[b + 1]):
            dm[ea[e]] += w[b] * m[b] * T[e] * dt
    for a in range(P):
        if dm[a] < 0.0 and m[a] + dm[a] < 0.5:
            dm[a] = -m[a]


@jit
def _midpoint_rates(m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop, phase_tol, jump_tol,
                    dt_min, n, nmid, phimid, T, phidot, out, w):
    """Choose the step and leave the midpoint rates in T, out, phidot and weights in w.

    The step bounds the change of any relative phase by ``phase_tol``, and both the expected
    fraction of any class that leaves and the relative growth of any class by ``jump_tol``.
    Rates are then taken at the midpoint of a deterministic half step, and
    w_b = m_b(mid) / m_b scales the jump probability so that the mean flux is the midpoint
    flux (second order in dt). Returns dt.
    """
    P = m.shape[0]
    for a in range(P):
        n[a] = m[a] + s
    _population_rates(n, phi, E, ea, eb, eR, ed, r, T, phidot)
    _out_rates(T, start, out)
    dt = t_stop - t
    lo = np.inf
    hi = -np.inf
    fmax = 0.0
    for a in range(P):
        if n[a] > 0:
            lo = min(lo, phidot[a])
            hi = max(hi, phidot[a])
            if m[a] > 0:
                fmax = max(fmax, out[a])
    if hi > lo:
        dt = min(dt, phase_tol / (hi - lo))
    if fmax > 0.0:
        dt = min(dt, jump_tol / fmax)
    dt = min(dt, jump_tol / _relative_inflow(m, n, T, ea, eb, nmid))
    dt = min(max(dt, dt_min), t_stop - t)
    for a in range(P):
        nmid[a] = n[a] - 0.5 * dt * m[a] * out[a]
        phimid[a] = phi[a] + 0.5 * dt * phidot[a]
    for e in range(ea.shape[0]):
        nmid[ea[e]] += 0.5 * dt * m[eb[e]] * T[e]
    _population_rates(nmid, phimid, E, ea, eb, eR, ed, r, T, phidot)
    _out_rates(T, start, out)
    for a in range(P):
        w[a] = (nmid[a] - s) / m[a] if m[a] > 0 else 0.0
    return dt


@jit
def _midpoint_scratch(P, ne):
    """Work arrays of :func:`_midpoint_rates`: n, nmid, phimid, phidot, out, w and T."""
    return (np.empty(P), np.empty(P), np.empty(P), np.empty(P), np.empty(P), np.empty(P),
            np.empty(ne))


@jit
def _population_advance(m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop, phase_tol,
                        jump_tol, dt_min, max_steps, rng):
    """Midpoint tau-leaping of the copy process with aligned phases (PHYSICS.md §2-§3).

    With ``rng=None`` and float counts it integrates the mean jumps instead (the N -> infinity
    limit of the same scheme, used to estimate the time-stepping error). Returns (t, steps).
    """
    P = m.shape[0]
    n, nmid, phimid, phidot, out, w, T = _midpoint_scratch(P, ea.shape[0])
    dm = np.zeros_like(m)
    steps = 0
    while t < t_stop and steps < max_steps:
        dt = _midpoint_rates(m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop, phase_tol,
                             jump_tol, dt_min, n, nmid, phimid, T, phidot, out, w)
        if rng is None:
            _mean_jumps(m, w, T, out, start, ea, dt, dm)
        else:
            _jumps(m, w, T, out, start, ea, dt, rng, dm)
        for a in range(P):
            phi[a] += dt * phidot[a]
            m[a] += dm[a]
        t += dt
        steps += 1
    return t, steps


@jit
def _bell_advance(m, lam, V, c, H, ea, eb, start, t, t_stop, phase_tol, jump_tol, dt_min,
                  max_steps, rng):
    """Bell/Vink baseline: independent systems jumping with rates from the exact psi(t).

    ``rng=None`` with float counts: the mean jumps, as in :func:`_population_advance`."""
    P = m.shape[0]
    ne = ea.shape[0]
    T = np.empty(ne)
    out = np.empty(P)
    dm = np.zeros_like(m)
    psi = np.empty(P, dtype=np.complex128)
    w = np.empty(P)
    spread = lam.max() - lam.min()
    steps = 0
    while t < t_stop and steps < max_steps:
        _psi_at(lam, V, c, t, psi)
        _bell_rates(psi, H, ea, eb, T)
        _out_rates(T, start, out)
        dt = t_stop - t
        if spread > 0:
            dt = min(dt, phase_tol / spread)
        fmax = 0.0
        for b in range(P):
            if m[b] > 0:
                fmax = max(fmax, out[b])
        if fmax > 0.0:
            dt = min(dt, jump_tol / fmax)
        dt = min(dt, jump_tol / _relative_inflow(m, m.astype(np.float64), T, ea, eb, w))
        dt = min(max(dt, dt_min), t_stop - t)
        # midpoint counts from a deterministic half step, as in the population engine
        for b in range(P):
            w[b] = 1.0 - 0.5 * dt * out[b]
        for e in range(ne):
            if m[eb[e]] > 0 and m[ea[e]] > 0:
                w[ea[e]] += 0.5 * dt * m[eb[e]] * T[e] / m[ea[e]]
        _psi_at(lam, V, c, t + 0.5 * dt, psi)
        _bell_rates(psi, H, ea, eb, T)
        _out_rates(T, start, out)
        if rng is None:
            _mean_jumps(m, w, T, out, start, ea, dt, dm)
        else:
            _jumps(m, w, T, out, start, ea, dt, rng, dm)
        for a in range(P):
            m[a] += dm[a]
        t += dt
        steps += 1
    return t, steps


@jit
def _psi_at(lam, V, c, t, psi):
    P = V.shape[0]
    K = lam.shape[0]
    for a in range(P):
        psi[a] = 0.0
    for k in range(K):
        ck = c[k] * np.exp(-1j * lam[k] * t)
        for a in range(P):
            psi[a] += V[a, k] * ck
