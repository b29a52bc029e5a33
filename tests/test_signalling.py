"""Signalling (engine/signalling.py): Bob's local Hamiltonian and Alice's marginal."""

from __future__ import annotations

import json

import pytest

from engine import make_params
from engine.signalling import signalling

#: Partially entangled (Alice's marginal moves; a Bell pair's stays 1/2 whatever happens),
#: turned on Alice's side so that no class is ever nearly empty (min |psi_a|^2 = 0.002).
STATE = {"state": "partial", "angle": 0.5}


def test_no_signal_at_r_minus_half():
    out = signalling("two_qubits", STATE, make_params(N=10**6, r=-0.5), seeds=8)
    assert out["qm_max_delta"] <= 1e-12
    lo, hi = out["ci"]
    assert lo < 0 < hi and hi - lo < 0.01


def test_signal_at_r_zero():
    out = signalling("two_qubits", STATE, make_params(N=10**6, r=0.0), seeds=4)
    assert out["qm_max_delta"] <= 1e-12
    lo, hi = out["ci"]
    assert abs(out["max_delta"]) > 0.05 and (lo > 0 or hi < 0)


def test_interaction_carries_a_quantum_signal():
    out = signalling("two_qubits", {**STATE, "interaction": "ZZ", "J": 0.5},
                     make_params(N=10**5), seeds=2)
    assert out["qm_max_delta"] > 0.01


def test_cli_json_and_errors():
    from tests.test_cli import run_cli

    out = run_cli("signalling", "--set", "state=partial", "--N", "10000", "--seeds", "2",
                  "--t-end", "1", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"max_delta", "ci", "N", "r", "seeds", "qm_max_delta"}
    assert data["N"] == 10000 and data["seeds"] == 2 and data["r"] == pytest.approx(-0.5)
    bad = run_cli("signalling", "--preset", "two_level", "--N", "1000")
    assert bad.returncode == 2 and "composite" in bad.stderr
