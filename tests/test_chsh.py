"""CHSH by measurement pulses (engine/tools/chsh.py): the exact reference and the ensemble."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, build_preset, make_params
from real_ensemble_lab.engine.tools.chsh import PARITY, _best_pulse, chsh

SX = np.array([[0, 1], [1, 0]], dtype=complex)
SZ = np.diag([1.0, -1.0]).astype(complex)
TSIRELSON = 2 * math.sqrt(2)
HALF_PI = math.pi / 2
#: phi+ turned by R_y(pi/2) on Alice's side: every class 1/4, and every pulse of the shifted
#: optimal angles keeps every class above 0.07 (no empty class on the way).
TURNED = dict(state="phi+", theta_A=HALF_PI, chi_A=0.0)
TURNED_ANGLES = (HALF_PI, math.pi, math.pi / 4, 3 * math.pi / 4)


def sigma(theta):
    return math.cos(theta) * SZ + math.sin(theta) * SX


@pytest.mark.parametrize("ta, tb", [(0.3, 1.9), (-2.2, 0.7), (2.8, -0.4)])
def test_pulse_measures_the_axis_at_angle_theta(ta, tb):
    """E from the pulse and the beable parity is <psi| sigma_a x sigma_b |psi> for a generic
    complex state: a wrong sign of the pulse or a wrong Kronecker order breaks it."""
    rng = np.random.default_rng(7)
    psi = rng.normal(size=4) + 1j * rng.normal(size=4)
    psi /= np.linalg.norm(psi)
    H, sign, _ = _best_pulse(psi, ta, tb, 1.3)
    E_pulse = sign * PARITY @ ExactEvolution(H, psi).prob(1.3)
    E_op = np.vdot(psi, np.kron(sigma(ta), sigma(tb)) @ psi).real
    assert E_pulse == pytest.approx(E_op, abs=1e-12)
    assert abs(E_op - np.vdot(psi, np.kron(sigma(tb), sigma(ta)) @ psi).real) > 1e-3


def test_exact_s_of_phi_plus_is_tsirelson_and_the_ensemble_sticks_at_two():
    """Plain phi+ has two empty classes; they are absorbing (PHYSICS.md §3), so the ensemble
    keeps perfect correlations, E = 1 for every pair and S = 2 exactly."""
    ham = build_preset("two_qubits", state="phi+", theta_A=0.0, chi_A=0.0)
    res = chsh(ham, make_params(N=10_000), seeds=2)
    assert res.S_qm == pytest.approx(TSIRELSON, abs=1e-9)
    assert [r["E"] for r in res.rows] == [1.0] * 4 and res.S == 2.0


def test_ensemble_reaches_tsirelson_from_a_node_free_bell_pair():
    res = chsh(build_preset("two_qubits", **TURNED), make_params(mode="population", N=10**6),
               angles=TURNED_ANGLES, seeds=8)
    assert res.S_qm == pytest.approx(TSIRELSON, abs=1e-9)
    assert min(r["min_p"] for r in res.rows) > 0.07
    assert 0 < res.S_err < 0.01
    assert abs(res.S - TSIRELSON) < 4 * res.S_err
    assert res.S > 2 + 100 * res.S_err  # a violation of Bell's inequality, far beyond noise


def test_product_state_obeys_bell_inequality():
    ham = build_preset("two_qubits", state="product", theta_A=0.6, theta_B=2.0, chi_A=0.0)
    res = chsh(ham, make_params(N=10**6), seeds=12)
    assert abs(res.S_qm) <= 2 + 1e-9 and abs(res.S) <= 2 + 4 * res.S_err
    assert abs(res.S - res.S_qm) < 4 * res.S_err


def test_cli_json_and_errors():
    from tests.test_cli import run_cli

    out = run_cli("chsh", "--set", "theta_A=1.5707963267948966", "--set", "chi_A=0",
                  "--angles", *map(str, TURNED_ANGLES), "--N", "100000", "--seeds", "3",
                  "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"S", "S_err", "S_qm"} and data["S_qm"] == pytest.approx(TSIRELSON)
    table = run_cli("chsh", "--N", "1000", "--seeds", "2")
    assert table.returncode == 0 and "S = " in table.stdout
    bad = run_cli("chsh", "--preset", "three_qubits", "--N", "1000")
    assert bad.returncode == 2 and "two qubits" in bad.stderr
    bad = run_cli("chsh", "--N", "1000", "--seeds", "1")
    assert bad.returncode == 2 and "at least 2" in bad.stderr


@pytest.mark.parametrize("values, S_max", [
    (dict(state="phi+", theta_A=0.0, chi_A=0.0), TSIRELSON),
    (TURNED, TSIRELSON),
    (dict(state="partial", angle=0.3, theta_A=0.0, chi_A=0.0),
     2 * math.sqrt(1 + math.sin(0.6) ** 2)),
    (dict(state="product", theta_A=0.6, theta_B=2.0, chi_A=0.0), 2.0),
])
def test_default_angles_maximise_the_quantum_s(values, S_max):
    """Without --angles the measurement angles are the optimal ones for the initial state
    (Horodecki's bound in the x-z plane): 2 sqrt(1 + sin^2 2 theta) for cos|00> + sin|11>."""
    from real_ensemble_lab.engine.tools.chsh import PAIRS, optimal_angles

    psi = build_preset("two_qubits", **values).psi0
    ang = optimal_angles(psi)
    S = sum(sign * np.vdot(psi, np.kron(sigma(ang[i]), sigma(ang[j])) @ psi).real
            for (i, j), sign in PAIRS)
    assert S == pytest.approx(S_max, abs=1e-9)


def test_seeds_run_apart_and_aggregated_equal_chsh_exactly():
    """The split used to distribute CHSH (one task per seed, in any order, through pickling
    as to a Dask worker) gives chsh()'s result to the last bit."""
    import pickle

    from real_ensemble_lab.engine.tools.chsh import chsh_from_seeds, chsh_plan, chsh_seed

    ham = build_preset("two_qubits", **TURNED)
    params = make_params(mode="population", N=2000, seed=5)
    plan = pickle.loads(pickle.dumps(chsh_plan(ham, params, seeds=3)))
    E = {i: chsh_seed(plan, i) for i in (2, 0, 1)}
    assert all(len(e) == 4 for e in E.values()) and E[0] != E[1]
    assert chsh_from_seeds(plan, [E[i] for i in range(3)]) == chsh(ham, params, seeds=3)
