"""Signalling (engine/signalling.py): Bob's local Hamiltonian and Alice's marginal."""

from __future__ import annotations

import json

import pytest

from engine import InputError, make_params
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


def test_a_study_of_paired_runs_gives_the_signalling_statistic():
    """A sweep config expresses the pairs (runs: Bob idle, Bob driven; shared grid and
    seeds); analysis.paired_difference of its series equals signalling() exactly."""
    import pyarrow as pa

    from engine.analysis import paired_difference
    from engine.sweep import expand, run_batch

    config = {"preset": "two_qubits", "preset_params": STATE,
              "runs": [{"preset_params": {"detuning_B": 0.0, "coupling_B": 0.0,
                                          "delta_B": 0.0}}, {}],
              "grid": {"r": [-0.5, 0.0], "N": 10**4}, "seeds": [1, 2, 3], "t_end": 3.0}
    specs = expand(config)
    assert len(specs) == 12
    done = run_batch([s.__dict__ for s in specs])
    series = pa.concat_tables([d["series"] for d in done]).to_pandas()
    out = paired_difference(series, {"pp_coupling_B": 0.0}, {"pp_coupling_B": 1.3})
    assert list(out["r"]) == [-0.5, 0.0] and (out["pairs"] == 3).all()
    for _, row in out.iterrows():
        ref = signalling("two_qubits", STATE, make_params(N=10**4, r=row["r"], t_end=3.0),
                         seeds=3)
        assert row["max_delta"] == pytest.approx(ref["max_delta"], abs=1e-15)
        assert [row["lo"], row["hi"]] == pytest.approx(ref["ci"], abs=1e-15)
        assert row["t"] == pytest.approx(ref["t"])
    with pytest.raises(InputError, match="no partner"):
        paired_difference(series[~((series["seed"] == 2) & (series["pp_coupling_B"] == 0))],
                          {"pp_coupling_B": 0.0}, {"pp_coupling_B": 1.3})


def test_the_signalling_study_config_pairs_every_run():
    from pathlib import Path

    from engine.sweep import expand, load_config

    specs = expand(load_config(Path(__file__).parent.parent / "assets" / "studies"
                               / "signalling_vs_N.yaml"))
    assert len(specs) == 2 * 3 * 2 * 6 * 32
    idle = {(s.params["r"], s.params["spectators"], s.params["N"], s.params["seed"])
            for s in specs if s.preset_values["coupling_B"] == 0.0}
    driven = {(s.params["r"], s.params["spectators"], s.params["N"], s.params["seed"])
              for s in specs if s.preset_values["coupling_B"] != 0.0}
    assert idle == driven and len(idle) == len(specs) // 2


def test_seeds_run_apart_and_aggregated_equal_signalling_exactly():
    """The split used to distribute the test (one pair of runs per seed, in any order,
    through pickling as to a Dask worker) gives signalling()'s result to the last bit."""
    import pickle

    import numpy as np

    from engine.signalling import signalling_from_seeds, signalling_plan, signalling_seed

    params = make_params(N=2000, r=0.0, t_end=2.0, seed=3)
    plan = pickle.loads(pickle.dumps(signalling_plan("two_qubits", STATE, params, seeds=3)))
    deltas = {i: signalling_seed(plan, i) for i in (1, 2, 0)}
    assert not np.array_equal(deltas[0], deltas[1])
    out = signalling_from_seeds(plan, [deltas[i] for i in range(3)])
    assert out == signalling("two_qubits", STATE, params, seeds=3)
    assert out["max_delta"] != 0.0
