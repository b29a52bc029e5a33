"""Signalling with Bob's two operations and Alice's measurement set by the user
(engine/tools/signalling.py: ``bob``, ``alice_angle``; the command line's --bob-first,
--bob-second, --alice-angle)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, InputError, make_params
from real_ensemble_lab.engine.tools.signalling import _exact_alice, signalling, signalling_plan

STATE = {"state": "partial", "angle": 0.5}
SZ = np.diag([1.0, -1.0])
SX = np.array([[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("theta", [0.0, 0.8, 2.3])
def test_alices_pulse_measures_her_axis(theta):
    """After the pulse, Alice's exact outcome frequency is (1 + <sigma_theta x 1>)/2 of the
    state at the end of the free evolution: the pulse turns her axis onto the beables."""
    params = make_params(N=1000, t_end=2.0, dt_out=0.1)
    plan = signalling_plan("two_qubits", STATE, params, 2, alice_angle=theta, pulse=1.0)
    for ham in plan.hams:
        psi = ExactEvolution.of(ham).psi(2.0)
        sigma = np.kron(math.cos(theta) * SZ + math.sin(theta) * SX, np.eye(2))
        want = 0.5 * (1 + np.vdot(psi, sigma @ psi).real)
        assert _exact_alice(plan, ham, np.array([3.0]))[0] == pytest.approx(want, abs=1e-12)


def test_measured_marginal_shows_no_signal_at_r_minus_half_and_one_at_r_zero():
    """Bob's two operations chosen by the user, Alice measuring along 0.8: quantum mechanics
    gives no difference (1e-12); the ensemble's is within 3 standard errors of zero at
    r = -1/2 (N = 10^5, 6 pairs) and far from it at r = 0."""
    bob = ({"coupling_B": 0.5, "delta_B": 1.0}, {"coupling_B": 2.0, "detuning_B": -0.7})
    kw = dict(seeds=6, bob=bob, alice_angle=0.8)
    quiet = signalling("two_qubits", STATE, make_params(N=10**5, t_end=4.0), **kw)
    m = quiet["measured"]
    assert abs(m["qm_delta"]) < 1e-12 and quiet["qm_max_delta"] < 1e-12
    assert m["ci"][0] <= 0 <= m["ci"][1] and abs(m["delta"]) < 0.02, m
    loud = signalling("two_qubits", STATE, make_params(N=10**5, t_end=4.0, r=0.0), **kw)
    lo, hi = loud["ci"]
    assert not lo <= 0 <= hi and abs(loud["max_delta"]) > 0.05, loud


def test_bobs_arms_are_the_ones_given():
    params = make_params(N=1000, t_end=1.0)
    plan = signalling_plan("two_qubits", STATE, params, 2,
                           bob=({"coupling_B": 0.5}, {"coupling_B": 2.0}))
    default = signalling_plan("two_qubits", STATE, params, 2)
    assert abs(plan.hams[0].H[0, 1]) == pytest.approx(0.5)
    assert abs(plan.hams[1].H[0, 1]) == pytest.approx(2.0)
    assert abs(default.hams[0].H[0, 1]) == 0.0  # Bob idle by default
    assert np.array_equal(plan.hams[0].psi0, plan.hams[1].psi0)


@pytest.mark.parametrize("kw, words", [
    (dict(bob=({"coupling_A": 1.0}, {})), "only his own parameters"),
    (dict(alice_angle=0.5, pulse=0.25), "whole number of output steps"),
    (dict(alice_angle=0.5, pulse=-1.0), "whole number of output steps"),
])
def test_bad_options_are_one_sentence(kw, words):
    with pytest.raises(InputError) as err:
        signalling_plan("two_qubits", STATE, make_params(N=100, dt_out=0.1), 2, **kw)
    assert words in str(err.value) and str(err.value).count(". ") == 0
    with pytest.raises(InputError, match="two qubits only"):
        signalling_plan("three_qubits", {}, make_params(N=100), 2, alice_angle=0.3)


def test_cli_options():
    from tests.test_cli import run_cli

    out = run_cli("signalling", "--set", "state=partial", "--N", "2000", "--seeds", "2",
                  "--t-end", "1", "--alice-angle", "0.8", "--bob-second", "coupling_B=2",
                  "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["measured"]["angle"] == 0.8 and abs(data["measured"]["qm_delta"]) < 1e-12
    bad = run_cli("signalling", "--bob-first", "coupling_A=1", "--N", "100")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "coupling_A" in bad.stderr
