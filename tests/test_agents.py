"""Agent engine: individual phases, the copy rule by thinning, phase alignment (PHYSICS.md §2, §4).

Tolerances: counts are compared by z-scores built from the sample variances over seeds;
"follows |psi|^2" uses the same max_t D sqrt(N) < 5 floor as the population engine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from real_ensemble_lab.engine import Hamiltonian, InputError, make_stepper, simulate
from real_ensemble_lab.engine.core._agent_kernels import (
    NBLOCK,
    _apply_copies,
    _copy_jumps_dynamic,
    _counting_sort,
    _phase_pass_parallel,
    _phase_pass_serial,
    coefficient_table,
)
from real_ensemble_lab.engine.core.agents import SAMPLE_SIZE, AgentStepper, bytes_per_system
from real_ensemble_lab.engine.core.population import csr_edges


def uncoupled(E=(0.0, 0.3)) -> Hamiltonian:
    """R = 0: no copying, so the alignment dynamics runs alone."""
    return Hamiltonian.from_matrix(np.diag(E), np.ones(len(E)))


def _var_z(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z-score of the difference of two sample variances; the standard error of a sample
    variance is sqrt((m4 - var^2) / S) (fourth central moment), valid for any shape."""
    def var_se(s):
        c = s - s.mean(0)
        v = (c**2).mean(0)
        return v, np.sqrt(((c**4).mean(0) - v**2) / len(s))

    (vx, sx), (vy, sy) = var_se(x), var_se(y)
    return (vx - vy) / np.sqrt(sx**2 + sy**2)


@pytest.mark.slow
def test_locked_agents_agree_in_distribution_with_population(ham3):
    S, kw = 150, dict(N=1000, t_end=2.0, dt_out=0.5)
    pop = np.array([simulate(ham3, seed=s, **kw).n for s in range(S)])[:, 1:]
    agt = np.array([simulate(ham3, seed=10_000 + s, mode="agents", phases="locked", **kw).n
                    for s in range(S)])[:, 1:]
    se = np.sqrt(pop.var(0, ddof=1) / S + agt.var(0, ddof=1) / S)
    z = (pop.mean(0) - agt.mean(0)) / se
    assert np.abs(z).max() < 4.0, z
    zv = _var_z(pop, agt)
    assert np.abs(zv).max() < 4.0, zv
    # the test has power: a 50% change of the spread would be seen
    assert np.abs(_var_z(pop, 1.5 * (agt - agt.mean(0)) + agt.mean(0))).max() > 4.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_dynamic_phases_with_large_f_follow_schrodinger(ham3, seed):
    res = simulate(ham3, mode="agents", phases="dynamic", f=20.0, N=10**5, seed=seed,
                   t_end=6.0, dt_out=0.1)
    assert (res.tv * np.sqrt(res.N)).max() < 5.0
    assert np.nanmin(res.extra["polar"]) > 0.999  # stayed aligned


def test_locked_agents_follow_schrodinger(ham3):
    res = simulate(ham3, mode="agents", phases="locked", N=10**5, seed=0, t_end=6.0,
                   dt_out=0.1)
    assert (res.tv * np.sqrt(res.N)).max() < 5.0
    assert (res.n.sum(1) == 10**5).all()


def test_sign_convention_pinned_for_agents(ham3):
    from real_ensemble_lab.engine import ExactEvolution
    from real_ensemble_lab.engine.core.stepper import total_variation

    res = simulate(ham3.conj(), mode="agents", N=10**4, seed=0, t_end=6.0, dt_out=0.1)
    assert total_variation(res.n, res.N, ExactEvolution.of(ham3).prob(res.t)).max() > 0.2


def test_thinning_matches_the_pair_rate_with_unaligned_phases():
    """One jump step with scattered phases: the mean number of copies b -> a equals
    dt * sum_{I in b} sum_{J in a} 2 R sin+(phi_J - phi_I + delta) / sqrt(n_a n_b) (C)."""
    R, delta, dt = 0.7, 0.4, 0.01
    H = np.array([[0.0, R * np.exp(1j * delta)], [R * np.exp(-1j * delta), 0.0]])
    ham = Hamiltonian.from_matrix(H, [1, 1])
    rng = np.random.default_rng(0)
    na, nb = 300, 200
    A0 = np.array([0] * na + [1] * nb, dtype=np.uint8)
    phi0 = rng.uniform(-np.pi, np.pi, na + nb)
    U0 = np.stack([np.cos(phi0), np.sin(phi0)], axis=1).astype(np.float32)
    phi0 = np.arctan2(U0[:, 1], U0[:, 0]).astype(float)  # the stored phases
    # expected copies by members of b (class 1) of members of a (class 0), and back
    d = phi0[:na][None, :] - phi0[na:][:, None]  # phi_J(a) - phi_I(b)
    exp_b_to_a = dt * (2 * R * np.maximum(np.sin(d + delta), 0) / np.sqrt(na * nb)).sum()
    exp_a_to_b = dt * (2 * R * np.maximum(np.sin(-d - delta), 0) / np.sqrt(na * nb)).sum()
    ea, eb, eR, ed, estart = csr_edges(ham)
    n = np.array([na, nb])
    lam = 2 * eR * np.sqrt(n[ea] / n[eb])
    counts, gen = [], np.random.default_rng(1)
    for _ in range(3000):
        A, U = A0.copy(), U0.copy()
        idx, start = np.empty(na + nb, np.int32), np.zeros(3, np.int64)
        _counting_sort(A, 2, start, idx)
        src, dst = np.empty(500, np.int64), np.empty(500, np.int64)
        k = _copy_jumps_dynamic(A, U, np.zeros(0), False, idx, start, n, n, ea, eb, eR, ed,
                                estart, lam, np.ones(2), dt, gen, src, dst)
        counts.append([(A0[dst[:k]] == 1).sum(), (A0[dst[:k]] == 0).sum()])
        # every copy: I takes a member J of the other class, with J's pre-step phase
        _apply_copies(A, U, np.zeros(0), False, k, src, dst, *(np.zeros((NBLOCK, 2),
                      complex) for _ in range(3)), 0.0, np.zeros(0, np.int64),
                      np.zeros((1, 6)), np.zeros(1, np.int64))
        assert (A0[src[:k]] != A0[dst[:k]]).all()
        assert np.array_equal(A[dst[:k]], A0[src[:k]]) and np.array_equal(U[dst[:k]],
                                                                           U0[src[:k]])
    counts = np.array(counts)
    for col, expected in enumerate([exp_b_to_a, exp_a_to_b]):
        mean, se = counts[:, col].mean(), counts[:, col].std(ddof=1) / np.sqrt(len(counts))
        assert abs(mean - expected) < 4 * se, (col, mean, expected, se)


def test_alignment_with_damping_rises_to_order_one(ham3):
    st = make_stepper(ham3, mode="agents", N=5000, seed=3, f=3.0, gamma=1.0,
                      potential="polar", init_phases="random")
    start = st.observables()["polar"]
    assert start.max() < 0.1  # random phases: order ~ 1/sqrt(n_a)
    st.advance(10.0)
    assert st.observables()["polar"].min() > 0.98


@pytest.mark.parametrize("f", [2.0, 20.0, 100.0])
@pytest.mark.parametrize("potential", ["nematic", "polar"])
def test_alignment_energy_is_conserved_without_damping(f, potential):
    """gamma = 0, R = 0: H = sum pi^2/2 + pi Omega + V is conserved. The integrator
    (Stormer-Verlet leapfrog, h * omega <= 0.2) keeps it in a band that does not drift;
    measured 0.02-0.4% over t in [0.5, 10] for f in 2..100. Tolerance: 1%."""
    st = make_stepper(uncoupled(), mode="agents", N=2000, seed=3, f=f, gamma=0.0,
                      potential=potential, init_phases="noisy", phase_noise=0.5)
    energies = []
    for t in np.linspace(0.5, 10.0, 12):
        st.advance(t)
        energies.append(st.alignment_energy())
    E = np.array(energies)
    assert np.isfinite(st.phi_sys).all() and np.isfinite(st.pi).all()
    assert (E.max() - E.min()) / abs(E.mean()) < 0.01, E


def test_stable_at_the_largest_f_in_paper_normalisation():
    st = make_stepper(uncoupled(), mode="agents", N=400, seed=0, f=100.0, gamma=0.0,
                      normalisation="paper", init_phases="noisy", phase_noise=0.3)
    E0 = None
    for t in (0.05, 0.1, 0.2):
        st.advance(t)
        E0 = E0 if E0 is not None else st.alignment_energy()
    assert np.isfinite(st.pi).all()
    assert abs(st.alignment_energy() - E0) / abs(E0) < 0.02


def test_nematic_can_split_into_antipodal_clusters_polar_cannot():
    nem = make_stepper(uncoupled(), mode="agents", N=2000, seed=3, f=3.0, gamma=1.0,
                       potential="nematic", init_phases="random")
    pol = make_stepper(uncoupled(), mode="agents", N=2000, seed=3, f=3.0, gamma=1.0,
                       potential="polar", init_phases="random")
    nem.advance(15.0)
    pol.advance(15.0)
    on, op = nem.observables(), pol.observables()
    assert (on["nematic"] > 0.99).all() and (on["polar"] < 0.5).all()  # two clusters, pi apart
    assert (op["polar"] > 0.99).all() and (op["nematic"] > 0.99).all()  # one cluster
    # the histogram shows the two clusters: two peaks half a turn apart
    h = on["phase_hist"][0]
    top = np.argsort(h)[-1]
    assert h[(top + len(h) // 2) % len(h)] > 0.1 * h[top]


def test_tracked_systems_change_beable_only_by_copying(ham3):
    st = make_stepper(ham3, mode="agents", N=300, seed=2, tracked=30, t_end=4.0)
    history = [st.A[st.tracked].copy()]
    for t in np.arange(0.2, 4.01, 0.2):
        st.advance(t)
        history.append(st.A[st.tracked].copy())
    ev = st.tracked_events()
    assert len(ev) > 0
    for k in range(len(st.tracked)):
        mine = ev[ev[:, 1] == k]
        # each copy took a system J != I from another class, and the changes chain up
        assert (mine[:, 2] != mine[:, 3]).all() and (mine[:, 4] != st.tracked[k]).all()
        assert (mine[1:, 2] == mine[:-1, 3]).all()
        if len(mine):
            assert mine[0, 2] == history[0][k] and mine[-1, 3] == history[-1][k]
        else:
            assert all(h[k] == history[0][k] for h in history)


def test_reproducible_and_independent_of_thread_count(ham3):
    code = ("import numpy as np, hashlib; from real_ensemble_lab.engine import *;"
            "r = simulate(build_preset('three_level'), mode='agents', N=20000, seed=5, f=2.0,"
            "init_phases='noisy', t_end=1.0, dt_out=0.5);"
            "print(hashlib.sha1(r.n.tobytes() + r.phi.tobytes()).hexdigest())")
    digests = set()
    for threads in ("1", "2", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"NUMBA_NUM_THREADS": threads, "PATH": "/usr/bin:/bin"},
                             timeout=300)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_memory_per_system_and_refusals(ham3):
    assert bytes_per_system(2, locked=False, momentum=True) <= 24
    assert bytes_per_system(4096, locked=False, momentum=True) <= 24
    with pytest.raises(InputError, match="memory is available"):
        AgentStepper(ham3, N=2_000_000_000, mode="agents")  # ~30 GB > 24 GB machine
    with pytest.raises(InputError, match="at most 2\\^31"):
        AgentStepper(ham3, N=3_000_000_000, mode="agents")
    for bad in (dict(f=-1.0), dict(gamma=-0.1), dict(f=float("nan"))):
        with pytest.raises(InputError, match=next(iter(bad))):
            AgentStepper(ham3, mode="agents", N=100, **bad)


def test_cli_agents_mode(tmp_path):
    out = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "run",
                          "--preset", "two_level", "--mode", "agents", "--f", "2", "--gamma",
                          "0.5", "--potential", "polar", "--init-phases", "random", "--N", "500",
                          "--t-end", "0.5", "--dt-out", "0.25", "--out", str(tmp_path / "a.csv")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "a.csv.meta.json").read_text())
    assert meta["params"]["potential"] == "polar" and meta["params"]["init_phases"] == "random"
    bad = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "run",
                          "--preset", "two_level", "--mode", "agents", "--f", "-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "f = -1.0 is outside" in bad.stderr


def test_observables_shapes_and_sample(ham3):
    st = make_stepper(ham3, mode="agents", N=10_000, seed=0, init_phases="noisy")
    st.advance(0.3)
    fr = st.frame()
    ex = fr.extra
    assert np.isclose(ex["phase_hist"].sum(), 10_000) and ex["phase_hist"].shape[0] == 3
    assert len(ex["sample_a"]) == SAMPLE_SIZE and np.abs(ex["sample_phi"]).max() <= np.pi
    assert (ex["phase_spread"] > 0).all() and (ex["polar"] <= 1).all()
    assert len(ex["tracked_a"]) == 5
    # an aligned ensemble's class phase sits on the exact phase -arg psi_a
    st2 = make_stepper(ham3, mode="agents", N=10_000, seed=0)
    st2.advance(1.0)
    assert np.abs(st2.observables()["phase_mean_rel"]).max() < 0.1


def test_phase_histogram_of_a_large_ensemble_matches_the_full_one(ham3):
    """Above 2 HIST_SAMPLE systems the histogram comes from every stride-th system,
    scaled to the class counts: it must agree with the histogram of all systems within
    the sampling noise (variance ~ stride x count per bin)."""
    from real_ensemble_lab.engine.core.agents import HIST_BINS, HIST_SAMPLE

    N = 4 * HIST_SAMPLE
    st = make_stepper(ham3, mode="agents", N=N, seed=1, init_phases="noisy")
    st.advance(0.2)
    st.sync_phases()
    h = st.observables()["phase_hist"]
    phi = np.arctan2(st.U[:, 1], st.U[:, 0]).astype(float)
    k = np.clip(((phi + np.pi) / (2 * np.pi) * HIST_BINS).astype(int), 0, HIST_BINS - 1)
    full = np.zeros_like(h)
    np.add.at(full, (st.A.astype(int), k), 1.0)
    np.testing.assert_allclose(h.sum(1), full.sum(1))  # scaled to the class counts
    stride = N // HIST_SAMPLE
    assert np.all(np.abs(h - full) <= 5 * np.sqrt(stride * np.maximum(full, 1.0)) + stride)
    assert np.abs(h - full).max() > 0  # a sample, not the full count (the test can fail)


def test_lazy_phases_in_short_advances_follow_schrodinger(ham3):
    """The dashboard's way of stepping: many short advances with a frame after each and
    the last phase half-step left pending (lazy_phases). Same tolerance as above."""
    from real_ensemble_lab.engine import ExactEvolution

    st = make_stepper(ham3, mode="agents", N=20_000, seed=1, f=20.0)
    st.lazy_phases = True
    ex = ExactEvolution.of(ham3)
    worst = 0.0
    while st.t < 3.0:
        st.advance(st.t + 0.02)
        fr = st.frame()
        assert 0.0 <= st._pending < 0.02  # phases lag by at most half a step
        p = ex.prob(np.array([st.t]))[0]
        worst = max(worst, 0.5 * np.abs(fr.n / st.N - p).sum())
    assert worst * np.sqrt(st.N) < 5, worst
    st.sync_phases()
    assert st._pending == 0.0 and np.nanmin(st.observables()["polar"]) > 0.99


def _phase_pass_reference(A, e, pi, E, C, ChalfE, rotE, D, Z, Z2, g, nematic, damp, hk, h):
    """One pass of the phase law written out with complex exponentials (module docstring
    of engine.core._agent_kernels), from the stored unit vectors e: the kernel must reproduce
    it."""
    p = pi.copy()
    if pi.size:
        zz = Z2[A] if nematic else Z[A]
        vp = g[A] * np.imag((e**2 if nematic else e) * np.conj(zz))
        jac = -p * np.imag(e * C[A]) + np.imag(np.conj(e) * D[A])
        p = damp * (p + hk * (-vp - jac))
    pk = p if pi.size else 0.0
    e_mid = e * np.exp(0.5j * h * (np.real(e * C[A]) + pk))
    u = np.real(e_mid * ChalfE[A]) + pk
    e_new = e * np.exp(1j * h * u) * rotE[A]
    e_new /= np.abs(e_new)
    v = E[A] + u
    P = E.size
    sums = [np.bincount(A, w, minlength=P) for w in (e_new.real, e_new.imag)]
    Zn = sums[0] + 1j * sums[1]
    Wn = np.bincount(A, (v * e_new).real, P) + 1j * np.bincount(A, (v * e_new).imag, P)
    Z2n = np.bincount(A, (e_new**2).real, P) + 1j * np.bincount(A, (e_new**2).imag, P)
    Yn = (np.bincount(A, (pk * e_new).real, P) + 1j * np.bincount(A, (pk * e_new).imag, P)
          if pi.size else np.zeros(P, complex))
    return e_new, p, Zn, Z2n, Yn, Wn, v.min(), v.max()


@pytest.mark.parametrize("P", [2, 6])  # class masks (P <= 4) and per-system gathers
@pytest.mark.parametrize("nematic,momenta", [(True, True), (False, True), (False, False)])
def test_phase_pass_matches_the_written_out_phase_law(P, nematic, momenta):
    """Both builds of the kernel against complex arithmetic, on 50 000 systems (several
    chunks per block) with complex couplings; class 1's large ChalfE sends most of its
    rotations h u beyond the series' range, through the exact-trigonometry fix-up."""
    rng = np.random.default_rng(P)
    N, h = 50_000, 0.02
    A = rng.integers(0, P, N).astype(np.uint8)
    phi = rng.uniform(-np.pi, np.pi, N)
    U = np.stack([np.cos(phi), np.sin(phi)], 1).astype(np.float32)
    pi = rng.normal(0, 0.2, N) if momenta else np.zeros(0)

    def cplx():
        return rng.normal(size=P) + 1j * rng.normal(size=P)

    E, C, ChalfE, D, Z, Z2 = rng.normal(size=P), cplx(), cplx(), cplx(), cplx(), cplx()
    ChalfE[1] *= 60.0 / abs(ChalfE[1])
    C[1] *= 0.2  # keeps the midpoint rotation y = h (Re(e C) + p) / 2 of class 1 below 0.01
    rotE, g = np.exp(1j * h * E), rng.uniform(0.5, 2.0, P)
    e = U[:, 0] + 1j * U[:, 1].astype(float)
    ref = _phase_pass_reference(A, e, pi, E, C, ChalfE, rotE, D, Z, Z2, g, nematic, 0.97,
                                0.015, h)
    v = np.real(e * ChalfE[A])  # about Omega - E_a
    assert (h * np.abs(v[A == 1]) > 0.6).mean() > 0.4  # the fix-up path is taken
    K = coefficient_table(E, C, ChalfE, rotE, D, Z, Z2, g, nematic)
    for kernel in (_phase_pass_serial, _phase_pass_parallel):
        U1, pi1 = U.copy(), pi.copy()
        out = [np.zeros((NBLOCK, P), complex) for _ in range(4)]
        out += [np.zeros(NBLOCK), np.zeros(NBLOCK)]
        kernel(A, U1, pi1, momenta, K, nematic, 0.97, 0.015, h, *out)
        e1 = U1[:, 0] + 1j * U1[:, 1]
        # float32 storage: 6e-8 per component; the kernel's third-order midpoint rotation
        # adds h |ChalfE| y^4 / 24 < 1e-8
        assert np.abs(e1 - ref[0]).max() < 3e-7
        if momenta:
            np.testing.assert_allclose(pi1, ref[1], rtol=0, atol=1e-12)
        for got, want in zip(out[:4], ref[2:6], strict=True):
            np.testing.assert_allclose(got.sum(0), want, rtol=0, atol=3e-7 * N)
        assert np.isclose(out[4].min(), ref[6]) and np.isclose(out[5].max(), ref[7])
