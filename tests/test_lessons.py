"""Lessons (issue 6): each lesson's claim as a test on its own preset, the data's
validation, and the handout command line. Numbers in the docstrings were measured with the
lessons' own seeds; tolerances leave room for the 1/sqrt(N) noise of other seeds."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, InputError, simulate
from real_ensemble_lab.engine.core.classical import liouville, mean_position, newton, overlay
from real_ensemble_lab.engine.core.params import make_params
from real_ensemble_lab.engine.tools import lessons

ALL = ["frequencies", "r_exponent", "ensemble_size", "nodes", "alignment",
       "classical_limit", "bell_vs_ensemble", "entanglement"]


def runs_of(name: str, **overrides):
    return {v.label: res for v, res in lessons.run(lessons.get(name), **overrides)}


# --- the data -------------------------------------------------------------------------------

def test_eight_lessons_in_order_with_texts_and_highlights():
    assert lessons.lesson_names() == ALL
    for k, name in enumerate(ALL, start=1):
        lesson = lessons.get(name)
        assert lesson.number == k
        assert lesson.watch and lesson.try_ and lesson.means and lesson.highlight
        assert "(" in lesson.means  # cites the paper's equation numbers
        lesson.hamiltonian()
        lesson.sim_params()


def test_lesson_data_is_validated(tmp_path):
    good = textwrap.dedent("""\
        lessons:
          x:
            number: 1
            title: T
            preset: two_level
            preset_values: {theta: 0.5}
            params: {N: 100}
            highlight: [N, theta]
            watch: w
            try: t
            means: m
        """)
    cases = {
        "theta: 0.5": ("theta: 9.5", "outside its bounds"),
        "params: {N: 100}": ("params: {M: 100}", "Unknown parameter"),
        "highlight: [N, theta]": ("highlight: [N, width]", "no control"),
        "preset: two_level": ("preset: nowhere", "Unknown preset"),
    }
    p = tmp_path / "ok.yaml"
    p.write_text(good)
    assert list(lessons.load(p)) == ["x"]
    for old, (new, msg) in cases.items():
        p.write_text(good.replace(old, new))
        with pytest.raises(InputError, match=msg):
            lessons.load(p)


def test_unknown_lesson_is_one_sentence():
    with pytest.raises(InputError, match="Unknown lesson 'nope'; choose one of frequencies"):
        lessons.get("nope")


# --- each lesson's claim ---------------------------------------------------------------------

def test_lesson1_frequencies_follow_psi_and_tracked_systems_jump():
    """Measured: max D·sqrt(N) = 1.83 at N = 10^4; the 4 tracked systems jumped 6, 6, 2, 3
    times in t <= 12."""
    (res,) = runs_of("frequencies").values()
    assert (res.tv * np.sqrt(res.N)).max() < 5
    tr = res.extra["tracked_a"]
    jumps = (np.diff(tr, axis=0) != 0).sum(axis=0)
    assert (jumps >= 1).sum() >= 2 and jumps.sum() >= 4, jumps


def test_lesson2_only_r_minus_half_is_quantum():
    """Measured max D over t <= 6 at N = 10^5: 0.0070 (r = -1/2), 0.59 (r = 0), 0.62 (r = -1):
    a ratio of about 85; the issue asks for more than 10."""
    runs = runs_of("r_exponent")
    quantum = runs["r = -1/2"].tv.max()
    assert quantum * np.sqrt(runs["r = -1/2"].N) < 5
    for label in ("r = 0", "r = -1"):
        assert runs[label].tv.max() > 10 * quantum, (label, runs[label].tv.max(), quantum)


def test_lesson3_error_shrinks_like_one_over_sqrt_N():
    """D·sqrt(N) (max over t <= 6, mean of 4 seeds) stays of order one while D itself
    falls by a factor 100 from N = 10^2 to 10^6. Measured means: 3.0, 1.8, 1.2."""
    lesson = lessons.get("ensemble_size")
    D = {}
    for N in (100, 10**4, 10**6):
        D[N] = np.mean([simulate(lesson.hamiltonian(), make_params(
            **{**lesson.params, "N": N, "seed": s, "t_end": 6.0})).tv.max()
            for s in range(4)])
        assert 0.5 < D[N] * np.sqrt(N) < 6, (N, D[N] * np.sqrt(N))
    assert D[100] > 20 * D[10**6]


@pytest.mark.slow
def test_lesson3_small_ensemble_drifts_with_time():
    """N = 10^3, 6 seeds: mean D over t in [15, 20] is ten times its mean over [1, 5]
    (measured 0.224 vs 0.022). Asserted: more than three times."""
    lesson = lessons.get("ensemble_size")
    early, late = [], []
    for s in range(6):
        res = simulate(lesson.hamiltonian(), make_params(**{**lesson.params, "seed": s}))
        early.append(res.tv[(res.t >= 1) & (res.t <= 5)].mean())
        late.append(res.tv[res.t >= 15].mean())
    assert np.mean(late) > 3 * np.mean(early), (np.mean(early), np.mean(late))


def test_lesson4_nodes_absorb_and_spectators_restart():
    """Resonant Rabi from a basis state: frozen without spectators (D -> 1 as psi swaps),
    oscillates with one spectator (D < 0.05; measured 0.019); the node passage gets stuck
    (measured: class 1 empty from t = 0.6 on, D -> 1)."""
    runs = runs_of("nodes")
    frozen = runs["basis state, no spectators"]
    assert (frozen.n[:, 0] == frozen.N).all()
    assert frozen.p[:, 0].min() < 1e-3  # while quantum mechanics swaps the levels
    moving = runs["basis state, 1 spectator"]
    assert moving.n[:, 0].min() < 0.01 * moving.N and moving.tv.max() < 0.05
    stuck = runs["node passage"]
    t_abs = stuck.absorption_time()
    assert t_abs is not None and t_abs < 2.0
    after = stuck.t >= t_abs
    assert (stuck.n[after].min(axis=1) == 0).all()  # an emptied class stays empty
    assert stuck.tv.max() > 0.5


def _follows_own_state(res, t_from: float) -> float:
    """Max D between the ensemble after ``t_from`` and the exact evolution of the ensemble's
    own state psi = sqrt(n/N) e^{-i phi} at ``t_from`` (eq. 32-33)."""
    k = int(np.searchsorted(res.t, t_from))
    psi = np.sqrt(res.n[k] / res.N) * np.exp(-1j * res.phi[k])
    p = ExactEvolution(res.hamiltonian.H, psi).prob(res.t[k:] - res.t[k])
    return float((0.5 * np.abs(res.n[k:] / res.N - p).sum(axis=1)).max())


@pytest.mark.slow
def test_lesson5_alignment_then_quantum_from_the_ensembles_own_state():
    """Random phases, f = 6, gamma = 1, N = 5000, reference 'own' at polar order 0.999.
    Polar: the reference re-anchors (t ~ 6.6-7.5) and after that the tool's own D sqrt(N) is
    below 5 in most runs (measured 1.0-2.5 in 5 of 6 seeds, 14 in one), so the median over 5
    seeds is asserted, while against psi0 it stays ~20x larger. Nematic: nematic order
    > 0.99 but polar order < 0.5 (two antipodal clusters), it never re-anchors and does not
    follow its own state; without alignment neither."""
    runs = runs_of("alignment")
    pol, nem, off = runs["polar"], runs["nematic"], runs["no alignment (f = 0)"]
    assert pol.extra["polar"][0].max() < 0.1  # random start
    assert (nem.extra["nematic"][-1] > 0.99).all() and (nem.extra["polar"][-1] < 0.5).all()
    assert (off.extra["polar"][-1] < 0.5).all()
    assert nem.reanchor_t is None and off.reanchor_t is None
    lesson = lessons.get("alignment")
    follow, against_psi0 = [], []
    for seed in range(5):
        if seed:
            pol = simulate(lesson.hamiltonian(), make_params(**{**lesson.params, "seed": seed}))
        assert (pol.extra["polar"][-1] > 0.99).all()
        assert pol.reanchor_t is not None and 4.0 < pol.reanchor_t < 10.0
        after = pol.t >= pol.reanchor_t
        follow.append(pol.tv[after].max() * np.sqrt(pol.N))
        psi0 = ExactEvolution.of(pol.hamiltonian).prob(pol.t[after])
        against_psi0.append(0.5 * np.abs(pol.n[after] / pol.N - psi0).sum(1).mean())
    assert np.median(follow) < 5, follow
    assert np.median(against_psi0) * np.sqrt(pol.N) > 20 * np.median(follow), against_psi0
    for r in (nem, off):
        assert _follows_own_state(r, 8.0) * np.sqrt(r.N) > 5 * np.median(follow), follow


def test_lesson8_bob_cannot_signal_at_r_minus_half_but_can_at_r_zero():
    """Alice's marginal n_A0/N with Bob driven vs idle, same seeds (common random numbers):
    exactly equal in quantum mechanics (1e-12); at r = -1/2 the largest mean difference over
    6 seeds is within its 3-standard-error interval of zero; at r = 0 it is above 0.05 and
    far outside it (measured 0.45 at N = 10^5, 4 seeds)."""
    from real_ensemble_lab.engine.core.composite import marginals
    from real_ensemble_lab.engine.tools.signalling import signalling

    lesson = lessons.get("entanglement")
    runs = runs_of("entanglement")
    alice = {k: marginals(r.p, [2, 2])[0][:, 0] for k, r in runs.items()}
    assert np.abs(alice["Bob driven"] - alice["Bob idle"]).max() < 1e-12
    for r_exp, signal in ((-0.5, False), (0.0, True)):
        params = make_params(**{**lesson.params, "r": r_exp})
        out = signalling(lesson.preset, lesson.preset_values, params, seeds=6)
        lo, hi = out["ci"]
        assert out["qm_max_delta"] < 1e-12
        if signal:
            assert abs(out["max_delta"]) > 0.05 and not lo <= 0 <= hi, out
        else:
            assert lo <= 0 <= hi and abs(out["max_delta"]) < 0.02, out


def test_classical_helpers_agree_with_the_harmonic_solution():
    x = np.linspace(-20, 20, 401)
    w, m = 0.4, 1.0
    t = np.linspace(0, 10, 41)
    xc = newton(x, 0.5 * m * w**2 * x**2, m, -3.0, 1.0, t)
    assert np.abs(xc - (-3 * np.cos(w * t) + 1.0 / (m * w) * np.sin(w * t))).max() < 1e-3
    # Liouville mean of a linear force equals Newton's trajectory (within sampling noise)
    xl = liouville(x, 0.5 * m * w**2 * x**2, m, -3.0, 1.5, 1.0, t, samples=4000, seed=1)
    assert np.abs(xl - xc).max() < 4 * 1.5 / np.sqrt(4000)


def test_lesson6_ensemble_mean_follows_newton_for_one_period():
    """Ring, P = 96, a = 0.25, harmonic omega = 0.4, packet x0 = -3, width 1.5, k0 = 1,
    N = 10^6 with 2 spectators per site, t <= 16 (one period 15.7): the ensemble's mean
    position stays within 0.4 (1.6 lattice spacings; amplitude 3.9) of Newton's trajectory
    and of the Liouville mean, and within 0.02 of the exact quantum mean. Measured: 0.27,
    0.26 and 0.003. (Without spectators the empty sites ahead of the packet absorb.)"""
    (res,) = runs_of("classical_limit").values()
    assert res.t[-1] >= 2 * np.pi / 0.4
    ov = overlay(res.hamiltonian, res.t, samples=4000, seed=1)
    xm = mean_position(res.hamiltonian.x, res.n)
    assert np.ptp(ov.newton) > 7  # the packet really moves, well across the well
    assert np.abs(xm - ov.newton).max() < 0.4
    assert np.abs(xm - ov.liouville).max() < 0.4
    assert np.abs(xm - ov.exact).max() < 0.02


def test_lesson7_bell_flat_while_real_ensemble_drifts():
    """N = 10^4, t to 40. Mean D over t in [30, 40] vs [1, 5]: Bell 0.0063 vs 0.0042 (flat,
    both ~ 1/sqrt(N) = 0.01), real ensemble 0.35 vs 0.0062 (drift)."""
    runs = runs_of("bell_vs_ensemble")
    out = {}
    for label, res in runs.items():
        early = res.tv[(res.t >= 1) & (res.t <= 5)].mean()
        late = res.tv[res.t >= 30].mean()
        out[label] = (early, late)
    b_early, b_late = out["Bell baseline"]
    noise = 3 / np.sqrt(runs["Bell baseline"].N)  # D of N independent draws ~ 1/sqrt(N)
    assert abs(b_late - b_early) < noise, out
    e_early, e_late = out["real ensemble"]
    assert e_late > 5 * e_early and e_late > b_late + noise, out


# --- handouts -------------------------------------------------------------------------------

def test_cli_writes_valid_png_handouts(tmp_path):
    out = tmp_path / "handout"
    r = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "lesson", "nodes",
                        "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == ["nodes_populations.png"]
    for f in files:
        data = f.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert r.stdout.strip() == str(files[0])


def test_cli_list_and_bad_name():
    r = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "lesson", "--list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 8
    r = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "lesson", "nope",
                        "--out", "x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert err.startswith("error: Unknown lesson 'nope'") and err.count("\n") == 0
