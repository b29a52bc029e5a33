"""Population and Bell engines against exact Schrödinger evolution (PHYSICS.md §2, §3, §6).

Tolerances come from the statistical floor: for a node-free problem max_t D(t) sqrt(N)
was measured at 1.7-3.4 with a plain reference implementation (PHYSICS.md §3), so 5 is
a bound a correct engine meets and a wrong sign, factor or exponent misses by far.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, build_preset, make_stepper, simulate
from real_ensemble_lab.engine.core.stepper import total_variation

from .conftest import min_rho
from .reference import naive_run

SEEDS = range(4)


def test_validation_problem_is_node_free(ham3):
    # The tolerance argument needs every rho_a well above 1/N on [0, 6].
    assert min_rho(ham3, 6.0) > 0.02


@pytest.mark.parametrize("N", [10**4, 10**6])
@pytest.mark.parametrize("seed", SEEDS)
def test_population_follows_schrodinger(ham3, N, seed):
    res = simulate(ham3, N=N, seed=seed, t_end=6.0, dt_out=0.05)
    assert (res.tv * np.sqrt(N)).max() < 5.0


@pytest.mark.parametrize("mode", ["population", "bell"])
def test_sign_convention_is_pinned(ham3, mode):
    """Evolving under conj(H) must depart from the exact evolution under H."""
    exact = ExactEvolution.of(ham3)
    res = simulate(ham3.conj(), N=10**6, seed=0, mode=mode, t_end=6.0, dt_out=0.05)
    assert total_variation(res.n, res.N, exact.prob(res.t)).max() > 0.2
    assert (res.tv * np.sqrt(res.N)).max() < 5.0  # ... while following its own H


@pytest.mark.parametrize("r", [0.0, -1.0, 0.5])
def test_only_r_minus_half_is_quantum(ham3, r):
    bad = simulate(ham3, N=10**6, seed=0, r=r, t_end=6.0, dt_out=0.05)
    good = simulate(ham3, N=10**6, seed=0, r=-0.5, t_end=6.0, dt_out=0.05)
    assert bad.tv.max() > 0.2
    assert good.tv.max() < 5 / np.sqrt(10**6)


@pytest.mark.slow
def test_error_shrinks_like_one_over_sqrt_N(ham3):
    Ns = np.array([10**3, 10**4, 10**5, 10**6, 10**7])
    mean_tv = [np.mean([simulate(ham3, N=int(N), seed=s, t_end=6.0, dt_out=0.1).tv.mean()
                        for s in range(12)]) for N in Ns]
    slope = np.polyfit(np.log(Ns), np.log(mean_tv), 1)[0]
    assert -0.6 < slope < -0.4, slope


def test_basis_state_is_absorbing_without_spectators():
    ham = build_preset("two_level", theta=0.0, detuning=0.0)  # resonant Rabi from |0>
    res = simulate(ham, N=10**4, seed=0, t_end=6.0, dt_out=0.5)
    assert (res.n[:, 0] == 10**4).all() and (res.n[:, 1] == 0).all()
    assert res.p[:, 1].max() > 0.99  # quantum mechanics would have flopped completely
    assert res.absorption_time() is None  # nothing was occupied that emptied...


@pytest.mark.parametrize("s", [1, 3])
def test_spectators_start_the_oscillation(s):
    ham = build_preset("two_level", theta=0.0, detuning=0.0)
    res = simulate(ham, N=10**4, seed=0, spectators=s, t_end=1.4, dt_out=0.1)
    # Before the first node (t = pi/2) the ensemble follows |psi|^2 closely.
    assert res.n[-1, 1] / 10**4 > 0.8
    assert np.abs(res.n[:, 1] / 10**4 - res.p[:, 1]).max() < 0.05


@pytest.mark.parametrize("N", [10**3, 10**5, 10**9])
def test_exact_node_is_absorbing_at_any_N(N):
    """Resonant Rabi whose Bloch vector passes the pole: |psi_1|^2 touches 0 exactly
    (chi = -delta + pi/2). The ensemble falls in with probability O(1) at any N and
    never leaves, although quantum mechanics refills the state (PHYSICS.md §3)."""
    ham = build_preset("two_level", theta=1.2, detuning=0.0, chi=-0.5 + np.pi / 2)
    assert min_rho(ham, 1.0) < 1e-6
    stuck = 0
    for seed in range(10):
        res = simulate(ham, N=N, seed=seed, t_end=3.0, dt_out=0.05)
        t_abs = res.absorption_time()
        if t_abs is not None:
            stuck += 1
            assert (res.n[res.t >= t_abs, 1] == 0).all()
            assert res.tv[-1] > 0.3  # quantum mechanics has moved on
    assert stuck >= 5


def test_one_spectator_rides_through_nodes():
    """With s = 1 nothing is absorbed; the stiff passages leave a bounded error
    (measured 0.07-0.14 with fine steps in PHYSICS.md §3)."""
    ham = build_preset("two_level", theta=0.0, detuning=0.0)
    worst = [simulate(ham, N=10**4, seed=s, spectators=1, t_end=8.0, dt_out=0.05).tv.max()
             for s in range(10)]
    assert 0.01 < np.median(worst) < 0.2, worst


@pytest.mark.parametrize("mode", ["population", "bell"])
def test_counts_are_conserved_and_runs_reproducible(ham3, mode):
    kw = dict(N=12345, seed=7, mode=mode, t_end=3.0, dt_out=0.1,
              spectators=2 if mode == "population" else 0)  # Bell takes no spectators
    a, b = simulate(ham3, **kw), simulate(ham3, **kw)
    assert (a.n.sum(axis=1) == 12345).all()
    assert np.array_equal(a.n, b.n) and np.array_equal(a.phi, b.phi)
    assert a.seed == 7 and a.params["seed"] == 7
    c = simulate(ham3, **{**kw, "seed": 8})
    assert not np.array_equal(a.n, c.n)


def test_huge_N_costs_the_same(ham3):
    small = simulate(ham3, N=10**3, seed=0, t_end=6.0, dt_out=0.1)
    huge = simulate(ham3, N=10**15, seed=0, t_end=6.0, dt_out=0.1)
    assert huge.n.sum(axis=1).tolist() == [10**15] * len(huge.t)
    assert abs(huge.steps - small.steps) < 0.1 * small.steps
    # At 10^15 only the integrator's deterministic error is left: second order in the step.
    assert huge.tv.max() < 1e-4


def test_halving_tolerances_changes_less_than_statistical_error(ham3):
    def mean_tv(**tol):
        v = [simulate(ham3, N=10**5, seed=s, t_end=6.0, dt_out=0.1, **tol).tv.mean()
             for s in range(20)]
        return np.mean(v), np.std(v, ddof=1) / np.sqrt(len(v))

    m1, e1 = mean_tv()
    m2, e2 = mean_tv(phase_tol=0.005, jump_tol=0.01)
    assert abs(m1 - m2) < 2 * np.hypot(e1, e2)


def test_integrator_converges_at_second_order(ham3):
    """Deterministic limit (N = 10^15): halving both tolerances quarters the error."""
    errs = [simulate(ham3, N=10**15, seed=0, t_end=6.0, dt_out=0.1, phase_tol=pt,
                     jump_tol=2 * pt).tv.max() for pt in (0.02, 0.01, 0.005)]
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert (ratios > 3.0).all(), errs


@pytest.mark.slow
def test_bell_error_flat_while_ensemble_drifts(ham3):
    def windows(mode):
        early, late = [], []
        for s in range(40):
            r = simulate(ham3, N=10**4, mode=mode, seed=s, t_end=40.0, dt_out=0.5)
            x = r.tv * np.sqrt(r.N)
            early.append(x[(r.t >= 1) & (r.t <= 5)].mean())
            late.append(x[r.t >= 30].mean())
        se = np.hypot(np.std(early, ddof=1), np.std(late, ddof=1)) / np.sqrt(40)
        return np.mean(early), np.mean(late), se

    e, l, se = windows("bell")
    assert abs(l - e) < 4 * se, (e, l, se)
    e, l, se = windows("population")
    assert l > 3 * e and l - e > 4 * se, (e, l, se)


@pytest.mark.slow
def test_agrees_in_distribution_with_naive_reference(ham3):
    """Fast population kernel vs the O(N^2) pair-by-pair reference in tests/reference.py."""
    N, S, t_out = 40, 150, [0.0, 0.5, 1.0, 1.5]
    fast = np.array([simulate(ham3, N=N, seed=s, t_end=1.5, dt_out=0.5).n for s in range(S)])
    slow = np.array([naive_run(ham3.H, ham3.psi0, N, t_out, dt=0.004, seed=1000 + s)
                     for s in range(S)])
    se = np.sqrt(fast.var(axis=0, ddof=1) / S + slow.var(axis=0, ddof=1) / S) + 1e-9
    z = (fast.mean(axis=0) - slow.mean(axis=0)) / se
    assert np.abs(z[1:]).max() < 4.0, z
    # variances agree within a factor that S samples resolve
    ratio = fast.var(axis=0, ddof=1)[1:] / slow.var(axis=0, ddof=1)[1:]
    assert ((ratio > 0.6) & (ratio < 1.6)).all(), ratio
    # ... and the exact mean is matched too (the reference is correct by construction)
    assert np.abs(fast.mean(axis=0)[1:] / N - ExactEvolution.of(ham3).prob(t_out[1:])).max() < 0.03


def test_admixture_is_shared_with_exact_reference():
    ham = build_preset("two_level", theta=0.0, detuning=0.0)
    res = simulate(ham, N=10**5, seed=0, admixture=0.1, t_end=1.0, dt_out=0.1)
    assert res.n[0, 1] > 0 and res.p[0, 1] > 0
    assert (res.tv * np.sqrt(res.N)).max() < 5.0


def test_wall_budget_stops_before_the_next_chunk_would_overrun_it(ham3, monkeypatch):
    """advance(..., wall_budget) takes the last chunk's duration as the estimate of the
    next: with 20 ms chunks and a 75 ms budget it stops after three (60 ms), not four
    (a chunk may run 5 ms late before the test changes its outcome)."""
    st = make_stepper(ham3, mode="population", N=1000, seed=0)
    st.advance(0.01)  # compiled
    kernel, steps = st._advance_kernel, st.steps

    def slow(t_stop, max_steps):
        time.sleep(0.02)
        return kernel(t_stop, 1)

    monkeypatch.setattr(st, "_advance_kernel", slow)
    st.advance(1e6, wall_budget=0.075)
    assert st.steps - steps == 3 and 0.019 < st.chunk_wall < 0.05
    st.advance(1e6, wall_budget=0.001)  # always at least one chunk
    assert st.steps - steps == 4
