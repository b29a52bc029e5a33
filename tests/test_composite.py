"""Composite systems: qubit presets (Kronecker order, states, interactions) and marginals."""

from __future__ import annotations

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, InputError, build_preset, make_stepper

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
    from real_ensemble_lab.engine import make_stepper

    st = make_stepper(build_preset("two_qubits", state="phi+", theta_A=0.0), N=1000,
                      admixture=0.1)
    assert st.ham.extra["parts"] == [2, 2] and (st.n > 0).all()
    assert ExactEvolution.of(st.ham).prob(0.0).min() > 1e-3


# --- marginals ------------------------------------------------------------------------

def test_marginals_sum_the_other_parts():
    from real_ensemble_lab.engine.core.composite import marginals

    n = np.arange(8).reshape(1, 8)  # index a = 4 a_A + 2 a_B + a_C
    mA, mB, mC = marginals(n, [2, 2, 2])
    assert mA.tolist() == [[0 + 1 + 2 + 3, 4 + 5 + 6 + 7]]
    assert mB.tolist() == [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7]]
    assert mC.tolist() == [[0 + 2 + 4 + 6, 1 + 3 + 5 + 7]]
    with pytest.raises(InputError, match="joint values"):
        marginals(n, [2, 3])


TS = np.linspace(0.0, 6.0, 61)


def alice_marginal(**values):
    from real_ensemble_lab.engine.core.composite import marginals

    return marginals(ExactEvolution.of(build_preset("two_qubits", **values)).prob(TS), [2, 2])[0]


@pytest.mark.parametrize("state", ["phi+", "phi-", "psi+", "psi-"])
def test_bell_state_marginals_stay_one_half_under_local_hamiltonians(state):
    from real_ensemble_lab.engine.core.composite import marginals

    ham = build_preset("two_qubits", state=state, detuning_A=0.9, coupling_A=0.7, delta_A=0.4,
                       detuning_B=-0.3, coupling_B=1.3, delta_B=-1.0)
    pA, pB = marginals(ExactEvolution.of(ham).prob(TS), [2, 2])
    assert np.allclose(pA, 0.5, atol=1e-12) and np.allclose(pB, 0.5, atol=1e-12)


def test_product_state_marginal_is_the_qubit_alone():
    """Alice's marginal of a product state is her own qubit's |psi|^2: fails for a wrong
    Kronecker order in the builder or in the marginals."""
    pA = alice_marginal(state="product", theta_A=0.8, chi_A=0.3, theta_B=2.0,
                        detuning_A=0.4, coupling_A=0.7, delta_A=0.5, coupling_B=1.3)
    alone = build_preset("two_level", detuning=0.4, coupling=0.7, delta=0.5, theta=0.8, chi=0.3)
    assert np.allclose(pA, ExactEvolution.of(alone).prob(TS), atol=1e-12)


def test_alice_marginal_ignores_bob_local_hamiltonian():
    """No signalling in quantum mechanics: for an entangled state and no interaction, Alice's
    exact marginal is the same whatever Bob's local H (several random ones)."""
    rng = np.random.default_rng(3)
    common = dict(state="partial", angle=0.6, theta_A=1.1, chi_A=0.4, theta_B=0.7,
                  chi_B=-0.9, detuning_A=0.4, coupling_A=0.7, delta_A=0.2)
    base = alice_marginal(**common, detuning_B=0.0, coupling_B=0.0)
    assert np.ptp(base[:, 0]) > 0.1  # Alice's marginal does move
    for _ in range(4):
        bob = dict(detuning_B=rng.uniform(-3, 3), coupling_B=rng.uniform(0, 3),
                   delta_B=rng.uniform(-3, 3))
        assert np.abs(alice_marginal(**common, **bob) - base).max() < 1e-12
    coupled = alice_marginal(**common, coupling_B=1.3, interaction="ZZ", J=0.5)
    assert np.abs(coupled - base).max() > 1e-2  # an interaction does carry Bob's H over


def test_run_writes_marginal_columns(tmp_path):
    from real_ensemble_lab.engine import simulate

    res = simulate(build_preset("three_qubits"), N=2000, t_end=0.5, dt_out=0.25, seed=2)
    cols = res.columns()
    names = list(cols)
    assert names[-12:] == ["nA_0", "nA_1", "pA_0", "pA_1", "nB_0", "nB_1", "pB_0", "pB_1",
                           "nC_0", "nC_1", "pC_0", "pC_1"]
    assert np.array_equal(cols["nA_1"], res.n[:, 4:].sum(axis=1))
    assert np.array_equal(cols["nC_0"], res.n[:, ::2].sum(axis=1))
    assert np.allclose(cols["pB_0"], res.p[:, [0, 1, 4, 5]].sum(axis=1))
    assert "nA_0" not in simulate(build_preset("two_level"), N=100, t_end=0.1).columns()
    res.write(tmp_path / "run.csv")
    assert (tmp_path / "run.csv").read_text().splitlines()[0].endswith("pC_0,pC_1")


def test_cli_run_writes_marginals():
    import csv
    import io

    from tests.test_cli import run_cli

    out = run_cli("run", "--preset", "two_qubits", "--set", "state=psi-", "--N", "1000",
                  "--t-end", "0.2", "--dt-out", "0.1")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {"nA_0", "pA_1", "nB_1", "pB_0"} <= set(rows[0])
    assert all(int(r["nA_0"]) == int(r["n_0"]) + int(r["n_1"]) for r in rows)


def test_the_live_frame_carries_the_marginals():
    """A stepper's frame of a composite preset carries each part's counts and exact
    probabilities (the dashboard's marginal view and the command line's nA_/pA_ columns);
    a frame of a system that is not composite has none."""
    st = make_stepper(build_preset("two_qubits"), N=1000, seed=0)
    st.advance(0.5)
    f = st.frame()
    m = f.marginals()
    assert f.parts == (2, 2) and set(m) == {"nA", "pA", "nB", "pB"}
    assert m["nA"].tolist() == [f.n[0] + f.n[1], f.n[2] + f.n[3]]
    assert m["nB"].tolist() == [f.n[0] + f.n[2], f.n[1] + f.n[3]]
    assert np.allclose(m["pA"], [f.p[0] + f.p[1], f.p[2] + f.p[3]])
    assert make_stepper(build_preset("two_level"), N=10).frame().marginals() is None
