"""Composite systems: qubit presets (Kronecker order, states, interactions) and marginals."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ExactEvolution, InputError, build_preset

SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)
I2 = np.eye(2)


def local(detuning, coupling, delta):
    return detuning / 2 * SZ + coupling * (np.cos(delta) * SX - np.sin(delta) * SY)


def test_two_qubits_is_a_kronecker_sum_with_alice_first():
    v = dict(detuning_A=0.4, coupling_A=0.7, delta_A=0.3, detuning_B=-1.1, coupling_B=1.3,
             delta_B=-0.8)
    ham = build_preset("two_qubits", **v)
    HA, HB = local(0.4, 0.7, 0.3), local(-1.1, 1.3, -0.8)
    assert np.allclose(ham.H, np.kron(HA, I2) + np.kron(I2, HB))
    assert ham.labels == ("|00⟩", "|01⟩", "|10⟩", "|11⟩") and ham.extra["parts"] == [2, 2]
    # Alice's coupling flips the high bit a = 2 a_A + a_B: |00> <-> |10>
    alice = build_preset("two_qubits", coupling_B=0.0, detuning_B=0.0, coupling_A=0.7)
    assert np.isclose(alice.H[0, 2], 0.7) and alice.H[0, 1] == 0


def test_interactions():
    quiet = dict(coupling_A=0.0, detuning_A=0.0, coupling_B=0.0, detuning_B=0.0)
    zz = build_preset("two_qubits", interaction="ZZ", J=0.6, **quiet).H
    assert np.allclose(zz, 0.6 * np.diag([1, -1, -1, 1]))
    ex = build_preset("two_qubits", interaction="exchange", J=0.6, **quiet).H
    assert np.allclose(ex, 0.6 * (np.kron(SX, SX) + np.kron(SY, SY)) / 2)
    assert np.isclose(ex[1, 2], 0.6) and np.isclose(ex[0, 3], 0)
    three = build_preset("three_qubits", interaction="ZZ", J=1.0, coupling_C=0.0,
                         detuning_C=0.0, **quiet).H
    assert np.allclose(np.diag(three).real, [3, -1, -1, -1, -1, -1, -1, 3])  # every pair


@pytest.mark.parametrize(("state", "amps"), [
    ("phi+", [1, 0, 0, 1]), ("phi-", [1, 0, 0, -1]), ("psi+", [0, 1, 1, 0]),
    ("psi-", [0, 1, -1, 0]),
])
def test_bell_states(state, amps):
    ham = build_preset("two_qubits", state=state, theta_A=0.0, chi_A=0.0)
    assert np.allclose(ham.psi0, np.array(amps) / np.sqrt(2))


def test_product_partial_ghz_w_and_local_rotations():
    # |1> on Alice, |0> on Bob is index 2
    ham = build_preset("two_qubits", state="product", theta_A=3.14159, chi_A=0.0)
    assert abs(ham.psi0[2]) ** 2 > 1 - 1e-10 and abs(ham.psi0[1]) < 1e-5
    part = build_preset("two_qubits", state="partial", angle=0.3, theta_A=0.0, chi_A=0.0)
    assert np.allclose(part.psi0, [np.cos(0.3), 0, 0, np.sin(0.3)])
    ghz = build_preset("three_qubits", state="GHZ", theta_A=0.0, theta_B=0.0, theta_C=0.0,
                         chi_A=0.0)
    assert np.allclose(ghz.psi0, np.array([1, 0, 0, 0, 0, 0, 0, 1]) / np.sqrt(2))
    w = build_preset("three_qubits", state="W", theta_A=0.0, theta_B=0.0, theta_C=0.0,
                         chi_A=0.0)
    assert np.allclose(w.psi0, np.array([0, 1, 1, 0, 1, 0, 0, 0]) / np.sqrt(3))
    # the default Bell pair is turned on Alice's side: no class starts empty
    assert (np.abs(build_preset("two_qubits").psi0) ** 2).min() > 0.2
    assert (np.abs(build_preset("three_qubits").psi0) ** 2).min() > 0.005
    with pytest.raises(InputError, match="state"):
        build_preset("three_qubits", state="phi+")


def test_admixture_keeps_the_parts():
    from engine import make_stepper

    st = make_stepper(build_preset("two_qubits", state="phi+", theta_A=0.0), N=1000,
                      admixture=0.1)
    assert st.ham.extra["parts"] == [2, 2] and (st.n > 0).all()
    assert ExactEvolution.of(st.ham).prob(0.0).min() > 1e-3
