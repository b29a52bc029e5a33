"""Private numba kernels of the agent engine (every system with its own phase).

Class sums make every term O(N P) (PHYSICS.md §2 "Individual phases", §4):
    Z_b  = sum_{J in b} e^{i phi_J},   Z2_b = sum e^{2 i phi_J},   Y_b = sum pi_J e^{i phi_J}.
With w_ab = n_a^r n_b^(-r-1) and C_a = sum_b w_ab R_ab e^{i delta_ab} conj(Z_b):
    Omega_I          = E_a + Re(e^{i phi_I} C_a)                             (38)/(B)
    dOmega_I/dphi_I  = -Im(e^{i phi_I} C_a)
    sum_K pi_K dOmega_K/dphi_I = pi_I dOmega_I/dphi_I + Im(e^{-i phi_I} D_a),
        D_a = sum_b w_ba R_ba e^{i delta_ba} Y_b
    dV/dphi_I = (f^2/n_a) Im(e^{2 i phi_I} conj(Z2_a))   nematic, mean-field
              = (f^2/n_a) Im(e^{i phi_I} conj(Z_a))      polar    (paper: no 1/n_a)
Systems are processed in NBLOCK fixed blocks, so sums (and results) do not depend on the
number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, jit_pair
from ._kernels import _midpoint_rates, _midpoint_scratch

NBLOCK = 64
#: Ensembles at least this large run the block loops in parallel.
PARALLEL_MIN_N = 200_000


@jit
def _rot(c, s, x):
    """(c + i s) * e^{i x}; Taylor for small |x| (no sincos), exact otherwise."""
    if abs(x) < 0.05:
        x2 = x * x
        cx = 1.0 - x2 * (0.5 - x2 / 24.0)
        sx = x * (1.0 - x2 * (1.0 / 6.0 - x2 / 120.0))
    else:
        cx = math.cos(x)
        sx = math.sin(x)
    return c * cx - s * sx, c * sx + s * cx


def _phase_pass_py(A, phi, pi, has_pi, E, C, Chalf, D, Z, Z2, inv_n_f2, nematic, damp, hk,
                   h, pZ, pZ2, pY, pW, pmin, pmax):
    """One kick-drift step for every system; accumulate the new class sums.

    Kick by hk = (h_prev + h)/2 (alignment force, Jacobian term, exact damping), then
    drift by h with Omega taken at the midpoint (Chalf: class sums predicted half a step
    ahead). With momenta living at half steps this is the Stormer-Verlet leapfrog for
    the alignment part (symplectic, second order) and second order for the phase law.
    """
    N = A.shape[0]
    P = E.shape[0]
    for blk in prange(NBLOCK):
        lo = blk * N // NBLOCK
        hi = (blk + 1) * N // NBLOCK
        for a in range(P):
            pZ[blk, a] = 0.0
            pZ2[blk, a] = 0.0
            pY[blk, a] = 0.0
            pW[blk, a] = 0.0
        vmin = np.inf
        vmax = -np.inf
        for I in range(lo, hi):
            a = A[I]
            f = phi[I]
            # single-precision trig (error ~1e-7, far below the 1/sqrt(N) noise): the
            # pass is compute bound and this halves its cost
            f32 = np.float32(f)
            c = np.float64(math.cos(f32))
            s = np.float64(math.sin(f32))
            Ca = C[a]
            ecr = c * Ca.real - s * Ca.imag
            eci = c * Ca.imag + s * Ca.real
            omega = E[a] + ecr
            p = 0.0
            if has_pi:
                p = pi[I]
                if nematic:
                    z = Z2[a]
                    c2 = c * c - s * s
                    s2 = 2.0 * s * c
                    vp = inv_n_f2[a] * (s2 * z.real - c2 * z.imag)
                else:
                    z = Z[a]
                    vp = inv_n_f2[a] * (s * z.real - c * z.imag)
                Da = D[a]
                jac = -p * eci + (c * Da.imag - s * Da.real)
                p = damp * (p + hk * (-vp - jac))
                pi[I] = p
            # midpoint phase and midpoint Omega
            ch, sh = _rot(c, s, 0.5 * h * (omega + p))
            Ch = Chalf[a]
            omega_h = E[a] + (ch * Ch.real - sh * Ch.imag)
            v = omega_h + p
            x = h * v
            cn, sn = _rot(c, s, x)
            fn = f + x
            if fn > math.pi or fn < -math.pi:
                fn -= 2.0 * math.pi * math.floor((fn + math.pi) / (2.0 * math.pi))
            phi[I] = fn
            pZ[blk, a] += complex(cn, sn)
            pW[blk, a] += v * complex(cn, sn)
            pZ2[blk, a] += complex(cn * cn - sn * sn, 2.0 * sn * cn)
            if has_pi:
                pY[blk, a] += p * complex(cn, sn)
            vmin = min(vmin, v)
            vmax = max(vmax, v)
        pmin[blk] = vmin
        pmax[blk] = vmax


def _class_sums_py(A, phi, pi, has_pi, P, pZ, pZ2, pY):
    N = A.shape[0]
    for blk in prange(NBLOCK):
        lo = blk * N // NBLOCK
        hi = (blk + 1) * N // NBLOCK
        for a in range(P):
            pZ[blk, a] = 0.0
            pZ2[blk, a] = 0.0
            pY[blk, a] = 0.0
        for I in range(lo, hi):
            a = A[I]
            e = complex(math.cos(phi[I]), math.sin(phi[I]))
            pZ[blk, a] += e
            pZ2[blk, a] += e * e
            if has_pi:
                pY[blk, a] += pi[I] * e


_phase_pass_serial, _phase_pass_parallel = jit_pair(_phase_pass_py, fastmath=True)
_class_sums_serial, _class_sums_parallel = jit_pair(_class_sums_py)


def _phase_pass(A, *args):
    """Dispatch: parallel block loop for large ensembles, serial otherwise."""
    kernel = _phase_pass_parallel if A.shape[0] >= PARALLEL_MIN_N else _phase_pass_serial
    kernel(A, *args)


def _class_sums(A, *args):
    kernel = _class_sums_parallel if A.shape[0] >= PARALLEL_MIN_N else _class_sums_serial
    kernel(A, *args)


@jit
def _counting_sort(A, P, start, idx):
    """idx lists the systems class by class (stable: spectators, the highest indices,
    come last in each class segment); start[a] is the segment offset."""
    N = A.shape[0]
    cnt = np.zeros(P + 1, dtype=np.int64)
    for I in range(N):
        cnt[A[I] + 1] += 1
    for a in range(P):
        cnt[a + 1] += cnt[a]
    for a in range(P + 1):
        start[a] = cnt[a]
    for I in range(N):
        a = A[I]
        idx[cnt[a]] = I
        cnt[a] += 1


@jit
def _choose_distinct(idx, lo, m, k, rng):
    """Partial Fisher-Yates: after the call idx[lo:lo+k] are k distinct uniform picks
    from idx[lo:lo+m]."""
    for j in range(k):
        r = lo + j + int(rng.random() * (m - j))
        if r >= lo + m:
            r = lo + m - 1
        tmp = idx[lo + j]
        idx[lo + j] = idx[r]
        idx[r] = tmp


@jit
def _copy_jumps_dynamic(A, phi, pi, has_pi, idx, start, m, n, ea, eb, eR, ed, estart, lam,
                        w, dt, rng, src_buf, dst_buf):
    """Copy rule (C) by thinning: in class b, Binomial(m_b, w_b Lambda_b dt) distinct
    copiers propose; each picks class a with prob lam_e / Lambda_b and a uniform member J
    of a, and copies it with probability sin+(phi_J - phi_I + delta_ab).
    Returns the number of copies; they are applied after all are drawn (pre-step values)."""
    P = m.shape[0]
    ncopy = 0
    for b in range(P):
        if m[b] == 0:
            continue
        Lam = 0.0
        for e in range(estart[b], estart[b + 1]):
            Lam += lam[e]
        if Lam <= 0.0:
            continue
        k = rng.binomial(m[b], min(1.0, w[b] * Lam * dt))
        if k == 0:
            continue
        _choose_distinct(idx, start[b], m[b], k, rng)
        for j in range(k):
            I = idx[start[b] + j]
            u = rng.random() * Lam
            e = estart[b]
            acc = lam[e]
            while acc < u and e < estart[b + 1] - 1:
                e += 1
                acc += lam[e]
            a = ea[e]
            J = idx[start[a] + min(int(rng.random() * n[a]), n[a] - 1)]
            if rng.random() < math.sin(phi[J] - phi[I] + ed[e]):
                src_buf[ncopy] = J
                dst_buf[ncopy] = I
                ncopy += 1
    return ncopy


@jit
def _apply_copies(A, phi, pi, has_pi, ncopy, src_buf, dst_buf, pZ, pZ2, pY, t, trk, ev_buf,
                  nev):
    """I <- J for every drawn copy, from pre-step values; update class sums (block 0)."""
    sa = np.empty(ncopy, dtype=np.int64)
    sphi = np.empty(ncopy)
    spi = np.empty(ncopy)
    for q in range(ncopy):
        J = src_buf[q]
        sa[q] = A[J]
        sphi[q] = phi[J]
        spi[q] = pi[J] if has_pi else 0.0
    for q in range(ncopy):
        I = dst_buf[q]
        a_old = A[I]
        eo = complex(math.cos(phi[I]), math.sin(phi[I]))
        po = pi[I] if has_pi else 0.0
        pZ[0, a_old] -= eo
        pZ2[0, a_old] -= eo * eo
        pY[0, a_old] -= po * eo
        A[I] = sa[q]
        phi[I] = sphi[q]
        if has_pi:
            pi[I] = spi[q]
        en = complex(math.cos(sphi[q]), math.sin(sphi[q]))
        pZ[0, sa[q]] += en
        pZ2[0, sa[q]] += en * en
        pY[0, sa[q]] += spi[q] * en
        for k in range(trk.shape[0]):
            if trk[k] == I and nev[0] < ev_buf.shape[0]:
                r = nev[0]
                ev_buf[r, 0] = t
                ev_buf[r, 1] = k
                ev_buf[r, 2] = a_old
                ev_buf[r, 3] = sa[q]
                ev_buf[r, 4] = src_buf[q]
                ev_buf[r, 5] = sphi[q]
                nev[0] += 1


@jit
def _is_tracked(trk, I):
    lo, hi = 0, trk.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if trk[mid] < I:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < trk.shape[0] and trk[lo] == I else -1


@jit
def _locked_advance(A, Ncop, mark, m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop,
                    phase_tol, jump_tol, dt_min, max_steps, rng, trk, ev_buf, nev, buf_I,
                    buf_a):
    """Locked phases (phi_I = phi_{a_I}): the population engine's midpoint tau-leap
    (PHYSICS.md §2-§3), with the jumpers of class b drawn as distinct systems.

    Distinct members of class b are found by rejection (uniform I among the Ncop copiers
    until A[I] == b; chosen ones are marked) or, when that would take more than ~Ncop/4
    draws, by one selection-sampling scan. No sort and no index array: O(jumps) a step.
    """
    P = m.shape[0]
    n, nmid, phimid, phidot, out, w, T = _midpoint_scratch(P, ea.shape[0])
    cap = buf_I.shape[0]
    steps = 0
    while t < t_stop and steps < max_steps:
        dt = _midpoint_rates(m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop, phase_tol,
                             jump_tol, dt_min, n, nmid, phimid, T, phidot, out, w)
        nj = 0
        for b in range(P):
            if m[b] == 0 or out[b] <= 0.0:
                continue
            k = rng.binomial(m[b], min(1.0, w[b] * out[b] * dt))
            k = min(k, cap - nj)  # cap >> expected jumps; never reached in practice
            if k == 0:
                continue
            first = nj
            if k * (Ncop / m[b]) < 0.25 * Ncop:
                got = 0
                while got < k:
                    I = int(rng.random() * Ncop)
                    if I < Ncop and A[I] == b:
                        A[I] = mark
                        buf_I[nj] = I
                        nj += 1
                        got += 1
            else:  # selection sampling (Knuth's algorithm S) over the copiers of b
                need = k
                left = m[b]
                I = 0
                while need > 0 and I < Ncop:
                    if A[I] == b:
                        if rng.random() * left < need:
                            A[I] = mark
                            buf_I[nj] = I
                            nj += 1
                            need -= 1
                        left -= 1
                    I += 1
            for q in range(first, nj):
                u = rng.random() * out[b]
                e = start[b]
                acc = T[e]
                while acc < u and e < start[b + 1] - 1:
                    e += 1
                    acc += T[e]
                buf_a[q] = ea[e]
                m[b] -= 1
                m[ea[e]] += 1
                kt = _is_tracked(trk, buf_I[q])
                if kt >= 0 and nev[0] < ev_buf.shape[0]:
                    row = nev[0]
                    ev_buf[row, 0] = t + 0.5 * dt
                    ev_buf[row, 1] = kt
                    ev_buf[row, 2] = b
                    ev_buf[row, 3] = ea[e]
                    ev_buf[row, 4] = -1
                    ev_buf[row, 5] = phimid[ea[e]]
                    nev[0] += 1
        for q in range(nj):
            A[buf_I[q]] = buf_a[q]
        for a in range(P):
            phi[a] += dt * phidot[a]
        t += dt
        steps += 1
    return t, steps
