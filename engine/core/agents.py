"""Agent engine: N individual systems, each with a beable a_I and its own phase phi_I
(and an alignment momentum pi_I when f > 0 or gamma > 0). PHYSICS.md §2 and §4.

One step of size dt is Strang-split: half a step of phase dynamics, the copy jumps,
half a step of phase dynamics. The phase half-steps are sub-stepped so that the
alignment oscillation (frequency ~ sqrt(2) f, or f sqrt(2 n_a) in the paper's
normalisation) is always resolved: h * omega_align <= ALIGN_H. With ``phases='locked'``
phi_I = phi_{a_I} exactly and only class phases are integrated (the f -> infinity limit).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._agent_kernels import (
    NBLOCK,
    _apply_copies,
    _class_sums,
    _copy_jumps_dynamic,
    _counting_sort,
    _locked_advance,
    _phase_histogram,
    _phase_pass,
    coefficient_table,
    unit_vectors,
)
from ._kernels import _population_rates
from .errors import InputError
from .population import csr_edges
from .stepper import DT_MIN, Stepper, apportion

#: Largest h * omega_align in one phase sub-step (symplectic Euler is stable below 2).
ALIGN_H = 0.2
#: Fraction of available memory an ensemble may take.
MEMORY_FRACTION = 0.8
HIST_BINS = 36
#: Systems drawn in the phase plots (a fixed random sample). More only slows the browser:
#: 1200 took about 9 ms more of the page's time per frame than 400 (2026-12-03).
SAMPLE_SIZE = 400
MAX_EVENTS = 100_000
#: Copy buffers (source and destination indices) per system, at the largest jump_tol.
COPY_BUFFER_BYTES = 2
#: Systems whose phases feed the per-frame histogram and scatter sample.
HIST_SAMPLE = 50_000


#: cgroup files (v2, then v1) with the memory limit and usage of this process's group.
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _cgroup_free(files=CGROUP_FILES) -> int | None:
    """Limit minus usage of the memory cgroup (a container's limit), or None without one."""
    for limit_path, usage_path in files:
        try:
            with open(limit_path) as fh:
                limit = fh.read().strip()
            with open(usage_path) as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:  # no limit set
            return None
        return max(0, int(limit) - usage)
    return None


def available_memory() -> int:
    """Bytes of memory available to a new allocation: the smaller of MemAvailable and what
    the memory cgroup (a container's limit) still allows."""
    have = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if have is None:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    free = _cgroup_free()
    return have if free is None else min(have, free)


def check_memory(N: int, P: int, spectators: int = 0, phases: str = "dynamic",
                 f: float = 0.0, gamma: float = 0.0) -> None:
    """Refuse, with one sentence, an agents run whose state cannot fit in memory."""
    total = N + P * spectators
    if total >= 2**31 - 1:
        raise InputError(f"The agent engine holds at most 2^31 systems, not {total}; "
                         f"use the population mode for larger N.")
    need = state_bytes(N, P, spectators, phases, f, gamma)
    have = available_memory()
    if need > MEMORY_FRACTION * have:
        raise InputError(f"N = {N} agents need {_fmt_bytes(need)} but only "
                         f"{_fmt_bytes(have)} of memory is available; use a smaller N "
                         f"or the population mode.")


def state_bytes(N: int, P: int, spectators: int = 0, phases: str = "dynamic",
                f: float = 0.0, gamma: float = 0.0) -> int:
    """Bytes an agents run of N systems holds: per system (:func:`bytes_per_system` and
    the copy buffers) plus the P x P tables, which do not depend on N."""
    locked = phases == "locked"
    momentum = (not locked) and (f > 0 or gamma > 0)
    total = N + P * spectators
    return total * (bytes_per_system(P, locked, momentum) + COPY_BUFFER_BYTES) + 64 * P * P * 8


def bytes_per_system(P: int, locked: bool, momentum: bool) -> int:
    """Memory per system: beable, class index, phase, momentum (PHYSICS.md §1)."""
    beable = 1 if P <= 255 else 2  # the largest value marks systems chosen to jump
    if locked:
        return beable  # no phase, no class index: jumpers are found by rejection
    return beable + 4 + 8 + (8 if momentum else 0)


def _fmt_bytes(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


class AgentStepper(Stepper):
    """Every system individually: ``advance(t)``, ``frame()``, ``update(...)``.

    State arrays (length N + P*s, spectators last): ``A`` beables (uint8/uint16),
    ``U`` unit phase vectors (cos phi_I, sin phi_I) in float32 (``phi_sys`` gives the
    angles), ``pi`` alignment momenta (only when the alignment dynamics is on),
    ``idx`` systems sorted by class (rebuilt every step for uniform draws).
    """

    mode = "agents"

    # -- set-up --------------------------------------------------------------------------
    def _init_state(self) -> None:
        p, P = self.params, self.ham.P
        self.s = int(p.spectators)
        self.locked = p.phases == "locked"
        momentum = (not self.locked) and (p.f > 0 or p.gamma > 0)
        total = self.N + P * self.s
        check_memory(self.N, P, self.s, p.phases, p.f, p.gamma)
        # Build the state in place: no N-sized temporaries beyond the arrays themselves.
        n0 = apportion(self.N, np.abs(self.ham.psi0) ** 2)
        dtype = np.uint8 if P <= 255 else np.uint16
        self._mark = np.iinfo(dtype).max
        self.A = np.empty(total, dtype=dtype)
        pos = 0
        for a, k in enumerate(np.concatenate([n0, np.full(P, self.s)])):
            self.A[pos:pos + k] = a % P
            pos += k
        self.idx = np.empty(0 if self.locked else total, dtype=np.int32)
        self.start = np.zeros(P + 1, dtype=np.int64)
        phi0 = -np.angle(self.ham.psi0)
        self.phi_a = phi0.astype(float).copy()  # class phases (locked mode)
        init_rng = np.random.default_rng([self.seed, 1])  # keeps the main stream clean
        self.U = np.empty((0 if self.locked else total, 2), dtype=np.float32)
        for lo in range(0, self.U.shape[0], 1 << 22):  # in chunks: no N-sized temporaries
            hi = min(lo + (1 << 22), total)
            if p.init_phases == "random":
                ph = init_rng.random(hi - lo) * (2 * np.pi) - np.pi
            else:
                ph = phi0[self.A[lo:hi]]
                if p.init_phases == "noisy":
                    ph = ph + p.phase_noise * init_rng.standard_normal(hi - lo)
            unit_vectors(ph, self.U[lo:hi])
        self.pi = np.zeros(total if momentum else 0)
        K = min(int(p.tracked), self.N)
        self.tracked = ((np.arange(K) + 0.5) * self.N / max(K, 1)).astype(np.int64)
        self.events = np.zeros((MAX_EVENTS, 6))
        self.nev = np.zeros(1, dtype=np.int64)
        self._view_rng = np.random.default_rng([self.seed, 2])
        # the systems drawn in phase plots: a fixed uniform sample, so each point is one
        # system whose phase can be followed from frame to frame
        self.sample_idx = np.sort(self._view_rng.choice(total, min(SAMPLE_SIZE, total),
                                                        replace=False))
        # class-sum partials (NBLOCK x P)
        self.pZ = np.zeros((NBLOCK, P), complex)
        self.pZ2 = np.zeros((NBLOCK, P), complex)
        self.pY = np.zeros((NBLOCK, P), complex)
        self.pW = np.zeros((NBLOCK, P), complex)
        self.pmin = np.zeros(NBLOCK)
        self.pmax = np.zeros(NBLOCK)
        self._spread = None
        self._h_prev = 0.0  # last drift: momenta sit half a step behind the phases
        self._pending = 0.0  # phase time not yet integrated (phases lag t by this)
        self._on_update()
        self._sort()
        self.tracked = np.sort(self.tracked)
        if not self.locked:
            self._sums()
            self.pW[:] = 0.0

    def _on_update(self) -> None:
        p = self.params
        if not self.locked and p.f > 0 and self.pi.size == 0:
            self.pi = np.zeros(self.A.shape[0])  # alignment switched on live
            self._h_prev = 0.0
        self._E = self.ham.E
        self._ea, self._eb, self._eR, self._ed, self._estart = csr_edges(self.ham)

    # -- helpers -------------------------------------------------------------------------
    def _sort(self) -> None:
        if self.locked:  # counts only; no index is kept in locked mode
            self.n_all = np.bincount(self.A, minlength=self.ham.P).astype(np.int64)
        else:
            _counting_sort(self.A, self.ham.P, self.start, self.idx)
            self.n_all = np.diff(self.start)  # includes spectators
        self.m = self.n_all - self.s

    def _sums(self) -> None:
        _class_sums(self.A, self.U, self.pi, self.pi.size > 0, self.ham.P, self.pZ,
                    self.pZ2, self.pY)

    def _weights(self, n: np.ndarray) -> np.ndarray:
        """w_ab = n_a^r n_b^(-r-1) per edge (a, b); 0 where a class is empty."""
        na, nb = n[self._ea].astype(float), n[self._eb].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where((na > 0) & (nb > 0), na ** self.params.r * nb ** (-self.params.r - 1),
                         0.0)
        return w

    def _coupling(self, Z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """C_a = sum_b w_ab R_ab e^{i delta_ab} conj(Z_b) (edges e = (a, b))."""
        C = np.zeros(self.ham.P, complex)
        np.add.at(C, self._ea, w * self._eR * np.exp(1j * self._ed) * np.conj(Z[self._eb]))
        return C

    def _omega_align(self) -> float:
        p = self.params
        if self.pi.size == 0 or p.f == 0:
            return 0.0
        scale = 1.0 if p.normalisation == "mean-field" else math.sqrt(max(self.n_all.max(), 1))
        return p.f * scale * (math.sqrt(2.0) if p.potential == "nematic" else 1.0)

    # -- dynamic phases ------------------------------------------------------------------
    def _phase_half(self, tau: float) -> None:
        """Advance all phases (and momenta) by tau, in sub-steps that resolve alignment."""
        p, P = self.params, self.ham.P
        n = self.n_all.astype(float)
        w = self._weights(self.n_all)
        w_rev = self._weights_rev(w)
        f2 = p.f**2
        with np.errstate(divide="ignore", invalid="ignore"):  # empty classes: 0 (f = 0: 0/0)
            inv_n_f2 = np.where(n > 0, f2 / n, 0.0) if p.normalisation == "mean-field" \
                else np.full(P, f2)
        nsub = max(1, math.ceil(tau * self._omega_align() / ALIGN_H))
        h = tau / nsub
        has_pi = self.pi.size > 0
        for _ in range(nsub):
            hk = 0.5 * (self._h_prev + h)  # leapfrog kick between two drifts
            damp = math.exp(-p.gamma * hk)
            self._h_prev = h
            Z, Z2, Y, W = (self.pZ.sum(0), self.pZ2.sum(0), self.pY.sum(0), self.pW.sum(0))
            C = self._coupling(Z, w)
            ChalfE = self._coupling(Z + 0.5j * h * W, w) * np.exp(0.5j * h * self._E)
            rotE = np.exp(1j * h * self._E)
            D = np.zeros(P, complex)
            if has_pi:
                np.add.at(D, self._ea, w_rev * self._eR[self._rev] * np.exp(
                    1j * self._ed[self._rev]) * Y[self._eb])
            nematic = p.potential == "nematic"
            K = coefficient_table(self._E, C, ChalfE, rotE, D, Z, Z2, inv_n_f2, nematic)
            _phase_pass(self.A, self.U, self.pi, has_pi, K, nematic, damp, hk, h, self.pZ,
                        self.pZ2, self.pY, self.pW, self.pmin, self.pmax)
        self._spread = float(self.pmax.max() - self.pmin.min())

    def _weights_rev(self, w: np.ndarray) -> np.ndarray:
        """w_ba for each edge e = (a, b), via the reverse edge."""
        if not hasattr(self, "_rev") or self._rev.shape != self._ea.shape:
            key = {(a, b): e for e, (a, b) in enumerate(zip(self._ea, self._eb, strict=True))}
            self._rev = np.array([key[(b, a)] for a, b in zip(self._ea, self._eb, strict=True)],
                                 dtype=np.int64)
        return w[self._rev]

    def _choose_dt(self, t_stop: float, t: float) -> float:
        """Step from the phase-velocity spread of the last pass and the proposal rates."""
        p, P = self.params, self.ham.P
        n = self.n_all.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where((n[self._ea] > 0) & (n[self._eb] > 0),
                           2 * self._eR * np.sqrt(n[self._ea] / n[self._eb]), 0.0)
        Lam = np.zeros(P)
        np.add.at(Lam, self._eb, lam)
        dt = t_stop - t
        if self._ea.size == 0:  # no couplings, no copies: the phase sub-steps do all
            return dt
        spread = self._spread if self._spread is not None else self._class_spread()
        if spread > 0:
            dt = min(dt, p.phase_tol / spread)
        lmax = Lam[self.m > 0].max() if (self.m > 0).any() else 0.0
        if lmax > 0:
            dt = min(dt, p.jump_tol / lmax)
        # relative growth of a receiving class (PHYSICS.md §3, "Step control")
        inflow = np.zeros(P)
        np.add.at(inflow, self._ea, self.m[self._eb] * lam)
        gmax = (inflow / np.maximum(n, 1.0)).max()
        if gmax > 0:
            dt = min(dt, p.jump_tol / gmax)
        return min(max(dt, DT_MIN), t_stop - t)

    def _midpoint_counts(self, dt: float) -> np.ndarray:
        """Class sizes half a step ahead, n_a + (dt/2) dn_a/dt, from the class sums at t_mid.

        The flux b -> a of (C) summed over all pairs is
        (m_b/n_b) 2 R_ab sum_{I in b, J in a} sin+(phi_J - phi_I + delta_ab) / sqrt(n_a n_b);
        the pair sum is estimated as [Im(Z_a conj(Z_b) e^{i delta_ab})]+, which is exact for
        aligned classes and makes the net flux exact for any phases when s = 0."""
        n = self.n_all.astype(float)
        Z = self.pZ.sum(0)
        ea, eb = self._ea, self._eb
        with np.errstate(divide="ignore", invalid="ignore"):
            flux = np.where((n[ea] > 0) & (n[eb] > 0), self.m[eb] / n[eb] * 2 * self._eR
                            * np.maximum((Z[ea] * np.conj(Z[eb]) * np.exp(1j * self._ed)).imag,
                                         0.0) / np.sqrt(n[ea] * n[eb]), 0.0)
        drift = np.zeros(self.ham.P)
        np.add.at(drift, ea, flux)
        np.add.at(drift, eb, -flux)
        return np.maximum(n + 0.5 * dt * drift, float(self.s))

    def _jumps_dynamic(self, dt: float, t_mid: float) -> None:
        """Copy jumps at the middle of a step (phases are at t_mid).

        Proposal rates lam_e = 2 R_ab sqrt(n_a/n_b) and the number of copiers are both taken
        at the midpoint class sizes, so the mean flux is the midpoint flux (second order)."""
        nmid = self._midpoint_counts(dt)
        ea, eb = self._ea, self._eb
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where((self.n_all[ea] > 0) & (nmid[eb] > 0),
                           2 * self._eR * np.sqrt(nmid[ea] / nmid[eb]), 0.0)
            wmid = np.where(self.m > 0, (nmid - self.s) / self.m, 0.0)
        src, dst = self._bufs()
        ncopy = _copy_jumps_dynamic(self.A, self.U, self.pi, self.pi.size > 0, self.idx,
                                    self.start, self.m, self.n_all, self._ea, self._eb,
                                    self._eR, self._ed, self._estart, lam, wmid, dt, self.rng,
                                    src, dst)
        _apply_copies(self.A, self.U, self.pi, self.pi.size > 0, ncopy, src, dst,
                      self.pZ, self.pZ2, self.pY, t_mid, self.tracked, self.events, self.nev)
        self._sort()

    def _advance_dynamic(self, t_stop: float, max_steps: int) -> int:
        """Strang splitting with adjacent phase half-steps fused: the phases advance by
        dt_k/2 + dt_{k+1}/2 between the jumps of steps k and k+1 (one pass per step).

        The last half-step is left pending (the phases lag by ``_pending``) and fused with
        the next call's first one, so stepping in many short calls costs no extra passes;
        ``advance`` closes it unless ``lazy_phases`` is set."""
        dt = self._choose_dt(t_stop, self.t)
        self._phase_half(self._pending + 0.5 * dt)
        self._pending = 0.0
        steps = 0
        while True:
            self._jumps_dynamic(dt, self.t + 0.5 * dt)
            steps += 1
            t_next = self.t + dt
            if t_next >= t_stop or steps >= max_steps:
                self._pending = 0.5 * dt
                self.t = t_next
                return steps
            dt2 = self._choose_dt(t_stop, t_next)
            self._phase_half(0.5 * dt + 0.5 * dt2)
            self.t, dt = t_next, dt2

    def sync_phases(self) -> None:
        """Integrate the pending half-step: every phase is then at time ``t``."""
        if self._pending > 0.0:
            self._phase_half(self._pending)
            self._pending = 0.0

    def advance(self, t_target: float, wall_budget: float | None = None) -> float:
        """Advance to ``t_target`` (or until the ``wall_budget`` is spent, see
        :meth:`Stepper.advance`); return the time.

        With ``lazy_phases = True`` (the dashboard, which draws a frame after every short
        advance) the phases may stay up to half a step (~0.01) behind ``t`` in between:
        the counts n_a are always current, the phase plots lag invisibly, and one pass
        over the ensemble per step is saved.
        """
        super().advance(t_target, wall_budget)
        if not self.lazy_phases:
            self.sync_phases()
        return self.t

    def update(self, **live: Any) -> None:
        self.sync_phases()  # the pending half-step belongs to the old parameters
        super().update(**live)

    def polar_order(self) -> np.ndarray:
        """|<e^{i phi}>_a| = |Z_a| / n_a over every member (spectators included)."""
        if self.locked:
            return super().polar_order()
        n = self.n_all.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, np.minimum(np.abs(self.pZ.sum(0)) / n, 1.0), np.nan)

    def reanchor(self) -> np.ndarray:
        self.sync_phases()  # the class means at t itself
        return super().reanchor()

    def _bufs(self):
        need = int(self.A.shape[0] * self.params.jump_tol * 4) + 1024
        if not hasattr(self, "_src") or self._src.shape[0] < need:
            self._src = np.empty(need, dtype=np.int64)
            self._dst = np.empty(need, dtype=np.int64)
        return self._src, self._dst

    def _class_spread(self) -> float:
        n = self.n_all.astype(float)
        phidot = np.empty(self.ham.P)
        T = np.empty(self._ea.shape[0])
        _population_rates(n, self._class_phases(), self._E, self._ea, self._eb, self._eR,
                          self._ed, float(self.params.r), T, phidot)
        occ = n > 0
        return float(phidot[occ].max() - phidot[occ].min()) if occ.any() else 0.0

    # -- locked phases -------------------------------------------------------------------
    def _advance_locked(self, t_stop: float, max_steps: int) -> int:
        p = self.params
        src, dst = self._bufs()
        self.t, steps = _locked_advance(
            self.A, self.N, self._mark, self.m, self.s, self.phi_a, self._E, self._ea,
            self._eb, self._eR, self._ed, self._estart, float(p.r), self.t, t_stop,
            float(p.phase_tol), float(p.jump_tol), DT_MIN, max_steps, self.rng, self.tracked,
            self.events, self.nev, src, dst)
        self.n_all = self.m + self.s
        return steps

    # -- Stepper interface ---------------------------------------------------------------
    def _advance_kernel(self, t_stop: float, max_steps: int) -> int:
        if self.locked:
            return self._advance_locked(t_stop, max_steps)
        return self._advance_dynamic(t_stop, max_steps)

    def chunk_steps(self, wall_budget: float | None) -> int:
        """Steps per kernel call: small enough to honour a wall budget at large N."""
        if wall_budget is None:
            return super().chunk_steps(wall_budget)
        work = self.A.shape[0] * (1 if self.locked else 40)  # ~ns per step
        return max(1, int(wall_budget * 1e9 / 4 / max(work, 1)))

    @property
    def n(self) -> np.ndarray:
        return self.m.copy()

    def _class_phases(self) -> np.ndarray:
        if self.locked:
            return self.phi_a
        return np.angle(self.pZ.sum(0))

    @property
    def phi_sys(self) -> np.ndarray | None:
        """Every system's phase in (-pi, pi] (a new float64 array; None when locked)."""
        if self.locked:
            return None
        return np.arctan2(self.U[:, 1], self.U[:, 0]).astype(float)

    @property
    def phi(self) -> np.ndarray:
        """Class phases: circular means of the members' phases (phi_a when locked)."""
        return self._class_phases().copy()

    def observables(self) -> dict[str, np.ndarray]:
        """Per-class order parameters and phase statistics relative to the exact phase."""
        P = self.ham.P
        n = self.n_all.astype(float)
        phi_exact = -np.angle(self.exact_psi())
        if self.locked:
            Z = n * np.exp(1j * self.phi_a)
            Z2 = n * np.exp(2j * self.phi_a)
        else:  # the running class sums are current after every advance
            Z, Z2 = self.pZ.sum(0), self.pZ2.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            polar = np.where(n > 0, np.minimum(np.abs(Z) / n, 1.0), np.nan)
            nematic = np.where(n > 0, np.minimum(np.abs(Z2) / n, 1.0), np.nan)
        mean_rel = np.angle(Z * np.exp(-1j * phi_exact))
        spread = np.sqrt(-2 * np.log(np.clip(polar, 1e-300, 1.0)))
        hist = np.zeros((P, HIST_BINS))
        total = self.A.shape[0]
        if self.locked:
            k = np.clip(((self.phi_a + np.pi) % (2 * np.pi) / (2 * np.pi) * HIST_BINS)
                        .astype(int), 0, HIST_BINS - 1)
            hist[np.arange(P), k] = self.n_all
            sample_a = self.A[self.sample_idx].astype(np.int64)
            sample_phi = self.phi_a[sample_a]
        else:
            # histogram of every stride-th system from a random offset, scaled to the
            # class counts (every system, i.e. exact, below 2 HIST_SAMPLE systems)
            stride = max(1, total // HIST_SAMPLE)
            offset = int(self._view_rng.integers(0, stride))
            _phase_histogram(self.A, self.U, offset, stride, hist)
            got = hist.sum(1)
            scale = np.divide(n, got, out=np.zeros(P), where=got > 0)
            hist *= scale[:, None]
            sample_a = self.A[self.sample_idx].astype(np.int64)
            u = self.U[self.sample_idx]
            sample_phi = np.arctan2(u[:, 1], u[:, 0]).astype(float)
        return {"polar": polar, "nematic": nematic, "phase_mean_rel": mean_rel,
                "phase_spread": spread, "phase_hist": hist, "sample_a": sample_a,
                "sample_phi": np.angle(np.exp(1j * sample_phi)),
                "tracked_a": self.A[self.tracked].astype(np.int64),
                "tracked_phi": self._tracked_phi()}

    def _fresh_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Z and Z2 recomputed from the phases (the running sums skip Z2 when unused)."""
        P = self.ham.P
        qZ, qZ2, qY = (np.zeros((NBLOCK, P), complex) for _ in range(3))
        _class_sums(self.A, self.U, self.pi, False, P, qZ, qZ2, qY)
        return qZ.sum(0), qZ2.sum(0)

    def _tracked_phi(self) -> np.ndarray:
        if self.locked:
            return self.phi_a[self.A[self.tracked]]
        return np.arctan2(self.U[self.tracked, 1], self.U[self.tracked, 0]).astype(float)

    def tracked_events(self) -> np.ndarray:
        """Copies made by tracked systems: rows (t, k, a_old, a_new, J, phi_J); J = -1 when
        locked (any member of the class, whose phase is the class phase)."""
        return self.events[: int(self.nev[0])].copy()

    def _extra(self) -> dict[str, Any]:
        return self.observables()

    def record(self) -> dict[str, Any]:
        obs = self.observables()
        return {"polar": obs["polar"], "nematic": obs["nematic"],
                "tracked_a": obs["tracked_a"], "tracked_phi": obs["tracked_phi"]}

    def alignment_energy(self) -> float:
        """H = sum_I [pi_I^2/2 + pi_I Omega_I] + V (PHYSICS.md §4), for R = 0 checks."""
        self.sync_phases()
        p = self.params
        n = self.n_all.astype(float)
        Z, Z2 = self._fresh_sums()
        norm = 1.0 / np.where(n > 0, n, 1.0) if p.normalisation == "mean-field" \
            else np.ones_like(n)
        if p.potential == "nematic":  # sum_{I,J} sin^2 = (n^2 - |Z2|^2) / 2
            V = 0.5 * p.f**2 * np.sum(norm * 0.5 * (n**2 - np.abs(Z2) ** 2))
        else:  # sum_{I,J} (1 - cos) = n^2 - |Z|^2
            V = 0.5 * p.f**2 * np.sum(norm * (n**2 - np.abs(Z) ** 2))
        w = self._weights(self.n_all)
        C = self._coupling(Z, w)
        e = self.U[:, 0].astype(float) + 1j * self.U[:, 1]
        omega = self._E[self.A] + (e * C[self.A]).real
        pi = self.pi if self.pi.size else np.zeros(self.U.shape[0])
        if self.pi.size:
            # momenta live half a step behind: synchronise with half a kick
            nI = np.maximum(n[self.A], 1.0)
            scale = p.f**2 / nI if p.normalisation == "mean-field" else p.f**2
            if p.potential == "nematic":
                vp = scale * (e * e * np.conj(Z2[self.A])).imag
            else:
                vp = scale * (e * np.conj(Z[self.A])).imag
            jac = -pi * (e * C[self.A]).imag
            pi = pi + 0.5 * self._h_prev * (-vp - jac)
        return float(np.sum(0.5 * pi**2 + pi * omega) + V)
