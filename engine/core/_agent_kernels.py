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
Each phase is stored as its unit vector U_I = (cos phi_I, sin phi_I) in float32 (8 bytes,
resolution ~1e-7 rad, far below the 1/sqrt(N) noise): every term above needs only
e^{i phi_I}, so the hot loops do no trigonometry.
Systems are processed in NBLOCK fixed blocks, so sums (and results) do not depend on the
number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._binomial import _binomial
from ._jit import jit, jit_pair
from ._kernels import _midpoint_rates, _midpoint_scratch

NBLOCK = 64
#: Ensembles at least this large run the block loops in parallel.
PARALLEL_MIN_N = 200_000


@jit
def _block(blk, N):
    """Systems lo..hi-1 of block blk: NBLOCK fixed blocks, whatever the thread count."""
    return blk * N // NBLOCK, (blk + 1) * N // NBLOCK


#: Rows of the per-class coefficient table K (K[row, a]) read by the phase pass.
K_C, K_CH, K_ROT, K_D, K_V, K_E = 0, 2, 4, 6, 8, 10
K_ROWS = 11
#: Systems per chunk of the phase pass; scratch rows are padded so that they do not sit
#: a multiple of 4 KiB apart (4K aliasing stalls the stores of the gather).
CHUNK = 512
_PAD = CHUNK + 8
#: Ensembles with at most this many classes gather coefficients and sum classes by masks
#: (vectorised, P passes over a chunk); larger ones gather and scatter per system.
MASK_MAX_P = 4


def coefficient_table(E, C, ChalfE, rotE, D, Z, Z2, inv_n_f2, nematic):
    """The phase pass's per-class coefficients as rows of one float64 table K[row, a]:
    C, ChalfE, rotE, D and V = inv_n_f2 Z2 (nematic) or inv_n_f2 Z (polar) as real and
    imaginary rows, then E."""
    V = inv_n_f2 * (Z2 if nematic else Z)
    K = np.empty((K_ROWS, E.shape[0]))
    for row, z in ((K_C, C), (K_CH, ChalfE), (K_ROT, rotE), (K_D, D), (K_V, V)):
        K[row] = z.real
        K[row + 1] = z.imag
    K[K_E] = E
    return K


def _phase_pass_py(A, U, pi, has_pi, K, nematic, damp, hk, h, pZ, pZ2, pY, pW, pmin, pmax):
    """One kick-drift step for every system; accumulate the new class sums.

    Phases are stored as unit vectors U[I] = (cos phi_I, sin phi_I) in float32, so the
    pass needs no trigonometry: the drift e^{i h Omega_I} is split into the class part
    rotE[a] = e^{i h E_a} (computed once per class) and a small remainder done by series.

    Kick by hk = (h_prev + h)/2 (alignment force, Jacobian term, exact damping), then
    drift by h with Omega taken at the midpoint (ChalfE = class sums predicted half a
    step ahead, times e^{i h E_a / 2}). With momenta living at half steps this is the
    Stormer-Verlet leapfrog for the alignment part (symplectic, second order) and second
    order for the phase law.

    K is :func:`coefficient_table`. Each block runs in chunks of CHUNK systems: gather the
    class coefficients into rows, do the per-system arithmetic in one branch-free loop
    (SIMD), redo the rare large rotations with exact trigonometry, then add up the
    class sums.
    """
    N = A.shape[0]
    P = K.shape[1]
    nem = 1.0 if nematic else 0.0
    kick = 1.0 if has_pi else 0.0
    nrows = K_ROWS if has_pi else K_D  # without momenta D and V are not read
    for blk in prange(NBLOCK):
        lo, hi = _block(blk, N)
        G = np.empty((K_ROWS, _PAD))  # coefficients of each system's class
        if not has_pi:
            G[K_D:K_E, :] = 0.0  # not gathered; zero so that 0 * G stays 0
        X = np.empty((7, _PAD))  # c, s, p (in and out), c', s', Omega - E_a, h u
        acc = np.zeros((P, 8))
        vmin = np.inf
        vmax = -np.inf
        for c0 in range(lo, hi, CHUNK):
            m = min(c0 + CHUNK, hi) - c0
            # views of the chunk: indices from 0 let the compiler drop the wraparound
            # checks that would keep these loops scalar
            Ac = A[c0:c0 + m]
            Uc = U[c0:c0 + m]
            for i in range(m):
                X[0, i] = np.float64(Uc[i, 0])
                X[1, i] = np.float64(Uc[i, 1])
            if has_pi:
                pc = pi[c0:c0 + m]
                for i in range(m):
                    X[2, i] = pc[i]
            else:
                for i in range(m):
                    X[2, i] = 0.0
            for j in range(K_ROWS):
                if j >= nrows and j != K_E:
                    continue
                if P <= MASK_MAX_P:
                    k0 = K[j, 0]
                    for i in range(m):
                        G[j, i] = k0
                    for b in range(1, P):
                        kb = K[j, b]
                        for i in range(m):
                            G[j, i] = kb if Ac[i] == b else G[j, i]
                else:
                    for i in range(m):
                        G[j, i] = K[j, Ac[i]]
            nbig = 0
            for i in range(m):
                c = X[0, i]
                s = X[1, i]
                ecr = c * G[K_C, i] - s * G[K_C + 1, i]
                eci = c * G[K_C + 1, i] + s * G[K_C, i]
                # dV/dphi: nematic uses e^{2 i phi}, polar e^{i phi}
                cc = c + nem * (c * c - s * s - c)
                ss = s + nem * (2.0 * s * c - s)
                vp = ss * G[K_V, i] - cc * G[K_V + 1, i]
                p = X[2, i]
                jac = -p * eci + (c * G[K_D + 1, i] - s * G[K_D, i])
                p = kick * damp * (p + hk * (-vp - jac))
                # midpoint phase (third order) and midpoint Omega - E_a
                y = 0.5 * h * (ecr + p)
                y2 = y * y
                cy = 1.0 - 0.5 * y2
                sy = y * (1.0 - y2 * (1.0 / 6.0))
                ch = c * cy - s * sy
                sh = c * sy + s * cy
                u = ch * G[K_CH, i] - sh * G[K_CH + 1, i] + p
                # e^{i h u} by its Taylor series of order 9 (error < 3e-10 for |h u| < 0.5;
                # beyond that the fix-up below uses exact trigonometry)
                x = h * u
                x2 = x * x
                nbig += x2 >= 0.25
                cx = 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0 - x2 / 40320.0)))
                sx = x * (1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 5040.0
                                                                         - x2 / 362880.0))))
                cn = c * cx - s * sx
                sn = c * sx + s * cx
                cr = cn * G[K_ROT, i] - sn * G[K_ROT + 1, i]
                sr = cn * G[K_ROT + 1, i] + sn * G[K_ROT, i]
                g = 1.5 - 0.5 * (cr * cr + sr * sr)  # one Newton step back to |U| = 1
                X[2, i] = p
                X[3, i] = np.float64(np.float32(g * cr))
                X[4, i] = np.float64(np.float32(g * sr))
                X[5, i] = u
                X[6, i] = x
            if nbig > 0:  # rare: steps keep h |Omega - E_a| small
                for i in range(m):
                    x = X[6, i]
                    if x * x >= 0.25:
                        c = X[0, i]
                        s = X[1, i]
                        cn = c * math.cos(x) - s * math.sin(x)
                        sn = c * math.sin(x) + s * math.cos(x)
                        cr = cn * G[K_ROT, i] - sn * G[K_ROT + 1, i]
                        sr = cn * G[K_ROT + 1, i] + sn * G[K_ROT, i]
                        g = 1.5 - 0.5 * (cr * cr + sr * sr)
                        X[3, i] = np.float64(np.float32(g * cr))
                        X[4, i] = np.float64(np.float32(g * sr))
            for i in range(m):
                Uc[i, 0] = np.float32(X[3, i])
                Uc[i, 1] = np.float32(X[4, i])
                v = G[K_E, i] + X[5, i]
                vmin = min(vmin, v)
                vmax = max(vmax, v)
            if has_pi:
                pc = pi[c0:c0 + m]
                for i in range(m):
                    pc[i] = X[2, i]
            # class sums Z, W = sum (Omega - E_a) e^{i phi} (E_a Z_a added below), Z2, Y
            if P <= MASK_MAX_P:
                for b in range(P):
                    zr = 0.0
                    zi = 0.0
                    wr = 0.0
                    wi = 0.0
                    z2r = 0.0
                    z2i = 0.0
                    yr = 0.0
                    yi = 0.0
                    for i in range(m):
                        mk = 1.0 if Ac[i] == b else 0.0
                        cn = X[3, i] * mk
                        sn = X[4, i] * mk
                        zr += cn
                        zi += sn
                        wr += X[5, i] * cn
                        wi += X[5, i] * sn
                        z2r += cn * cn - sn * sn
                        z2i += 2.0 * sn * cn
                        yr += X[2, i] * cn
                        yi += X[2, i] * sn
                    acc[b, 0] += zr
                    acc[b, 1] += zi
                    acc[b, 2] += wr
                    acc[b, 3] += wi
                    acc[b, 4] += z2r
                    acc[b, 5] += z2i
                    acc[b, 6] += yr
                    acc[b, 7] += yi
            else:
                for i in range(m):
                    a = Ac[i]
                    cn = X[3, i]
                    sn = X[4, i]
                    acc[a, 0] += cn
                    acc[a, 1] += sn
                    acc[a, 2] += X[5, i] * cn
                    acc[a, 3] += X[5, i] * sn
                    acc[a, 4] += cn * cn - sn * sn
                    acc[a, 5] += 2.0 * sn * cn
                    acc[a, 6] += X[2, i] * cn
                    acc[a, 7] += X[2, i] * sn
        for b in range(P):
            z = complex(acc[b, 0], acc[b, 1])
            pZ[blk, b] = z
            pW[blk, b] = complex(acc[b, 2], acc[b, 3]) + K[K_E, b] * z
            pZ2[blk, b] = complex(acc[b, 4], acc[b, 5])
            pY[blk, b] = complex(acc[b, 6], acc[b, 7]) if has_pi else 0.0
        pmin[blk] = vmin
        pmax[blk] = vmax


def _class_sums_py(A, U, pi, has_pi, P, pZ, pZ2, pY):
    N = A.shape[0]
    for blk in prange(NBLOCK):
        lo, hi = _block(blk, N)
        pZ[blk, :] = 0.0
        pZ2[blk, :] = 0.0
        pY[blk, :] = 0.0
        for I in range(lo, hi):
            a = A[I]
            e = complex(np.float64(U[I, 0]), np.float64(U[I, 1]))
            pZ[blk, a] += e
            pZ2[blk, a] += e * e
            if has_pi:
                pY[blk, a] += pi[I] * e


def _counting_sort_py(A, P, start, idx):
    """idx lists the systems class by class (stable: spectators, the highest indices,
    come last in each class segment); start[a] is the segment offset. Counted per block,
    so the result does not depend on the number of threads."""
    N = A.shape[0]
    cnt = np.zeros((NBLOCK, P), dtype=np.int64)
    for blk in prange(NBLOCK):
        lo, hi = _block(blk, N)
        for I in range(lo, hi):
            cnt[blk, A[I]] += 1
    acc = 0
    for a in range(P):
        start[a] = acc
        for blk in range(NBLOCK):
            k = cnt[blk, a]
            cnt[blk, a] = acc
            acc += k
    start[P] = acc
    for blk in prange(NBLOCK):
        lo, hi = _block(blk, N)
        for I in range(lo, hi):
            a = A[I]
            idx[cnt[blk, a]] = I
            cnt[blk, a] += 1


_phase_pass_serial, _phase_pass_parallel = jit_pair(_phase_pass_py, fastmath=True)
_class_sums_serial, _class_sums_parallel = jit_pair(_class_sums_py)
_counting_sort_serial, _counting_sort_parallel = jit_pair(_counting_sort_py)


def _phase_pass(A, *args):
    """Dispatch: parallel block loop for large ensembles, serial otherwise."""
    kernel = _phase_pass_parallel if A.shape[0] >= PARALLEL_MIN_N else _phase_pass_serial
    kernel(A, *args)


def _class_sums(A, *args):
    kernel = _class_sums_parallel if A.shape[0] >= PARALLEL_MIN_N else _class_sums_serial
    kernel(A, *args)


def _counting_sort(A, *args):
    kernel = _counting_sort_parallel if A.shape[0] >= PARALLEL_MIN_N else _counting_sort_serial
    kernel(A, *args)


def unit_vectors(phi: np.ndarray, out: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Fill out[:, 0], out[:, 1] (float32) with cos phi, sin phi, in chunks (no N-sized
    float64 temporaries)."""
    for lo in range(0, phi.shape[0], chunk):
        x = phi[lo:lo + chunk]
        out[lo:lo + chunk, 0] = np.cos(x)
        out[lo:lo + chunk, 1] = np.sin(x)
    return out


@jit
def _phase_histogram(A, U, offset, stride, hist):
    """hist[a, k] += 1 for each sampled system I = offset, offset + stride, ... of class a
    whose phase atan2(U[I, 1], U[I, 0]) falls in bin k of hist.shape[1] equal bins over
    [-pi, pi). A strided sample reads memory in order (a random one costs a cache miss
    per system) and still covers every part of the ensemble."""
    bins = hist.shape[1]
    for I in range(offset, A.shape[0], stride):
        phi = math.atan2(np.float64(U[I, 1]), np.float64(U[I, 0]))
        k = int((phi + math.pi) / (2.0 * math.pi) * bins)
        k = min(max(k, 0), bins - 1)
        hist[A[I], k] += 1.0


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
def _copy_jumps_dynamic(A, U, pi, has_pi, idx, start, m, n, ea, eb, eR, ed, estart, lam,
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
        k = _binomial(rng, m[b], min(1.0, w[b] * Lam * dt))
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
            # sin(phi_J - phi_I + delta) = Im(U_J conj(U_I) e^{i delta})
            cI, sI = np.float64(U[I, 0]), np.float64(U[I, 1])
            cJ, sJ = np.float64(U[J, 0]), np.float64(U[J, 1])
            sin_x = (sJ * cI - cJ * sI) * math.cos(ed[e]) + (cJ * cI + sJ * sI) * math.sin(ed[e])
            if rng.random() < sin_x:
                src_buf[ncopy] = J
                dst_buf[ncopy] = I
                ncopy += 1
    return ncopy


@jit
def _apply_copies(A, U, pi, has_pi, ncopy, src_buf, dst_buf, pZ, pZ2, pY, t, trk, ev_buf,
                  nev):
    """I <- J for every drawn copy, from pre-step values; update class sums (block 0)."""
    sa = np.empty(ncopy, dtype=np.int64)
    sU = np.empty((ncopy, 2), dtype=U.dtype)
    spi = np.empty(ncopy)
    for q in range(ncopy):
        J = src_buf[q]
        sa[q] = A[J]
        sU[q, 0] = U[J, 0]
        sU[q, 1] = U[J, 1]
        spi[q] = pi[J] if has_pi else 0.0
    for q in range(ncopy):
        I = dst_buf[q]
        a_old = A[I]
        eo = complex(np.float64(U[I, 0]), np.float64(U[I, 1]))
        po = pi[I] if has_pi else 0.0
        pZ[0, a_old] -= eo
        pZ2[0, a_old] -= eo * eo
        pY[0, a_old] -= po * eo
        A[I] = sa[q]
        U[I, 0] = sU[q, 0]
        U[I, 1] = sU[q, 1]
        if has_pi:
            pi[I] = spi[q]
        en = complex(np.float64(sU[q, 0]), np.float64(sU[q, 1]))
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
                ev_buf[r, 5] = math.atan2(en.imag, en.real)
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
    m0 = np.empty(P, dtype=np.int64)
    cap = buf_I.shape[0]
    steps = 0
    while t < t_stop and steps < max_steps:
        dt = _midpoint_rates(m, s, phi, E, ea, eb, eR, ed, start, r, t, t_stop, phase_tol,
                             jump_tol, dt_min, n, nmid, phimid, T, phidot, out, w)
        # Every class's jumps are drawn from the counts at the start of the step: m changes
        # below as jumpers arrive, and drawing from it would favour classes handled later.
        # The beables A are rewritten only after all draws, so the unmarked members of b
        # are exactly its m0[b] - (chosen so far) pre-step members.
        m0[:] = m
        nj = 0
        for b in range(P):
            if m0[b] == 0 or out[b] <= 0.0:
                continue
            k = _binomial(rng, m0[b], min(1.0, w[b] * out[b] * dt))
            k = min(k, cap - nj)  # cap >> expected jumps; never reached in practice
            if k == 0:
                continue
            first = nj
            if k * (Ncop / m0[b]) < 0.25 * Ncop:
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
                left = m0[b]
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
