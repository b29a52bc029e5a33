"""Signalling (engine/tools/signalling.py): Bob's local Hamiltonian and Alice's marginal."""

from __future__ import annotations

import json

import pytest

from real_ensemble_lab.engine import InputError, make_params
from real_ensemble_lab.engine.tools.signalling import signalling

#: Partially entangled (Alice's marginal moves; a Bell pair's stays 1/2 whatever happens),
#: turned on Alice's side so that no class is ever nearly empty (min |psi_a|^2 = 0.002).
STATE = {"state": "partial", "angle": 0.5}
#: The signal this state carries at r = 0 (the preset's default chi_A = 0): Delta = -0.451,
#: population at N = 10^6 and agents (locked) at 10^5 alike (4 pairs; the tests below).
R0_DELTA = 0.45
#: The effect a no-signal test must be able to see: a fifth of the r = 0 signal. A test
#: whose interval (+-3 standard errors) is narrower than this would have excluded zero,
#: by at least 12 standard errors, for any signal of at least 0.09 (in either sign).
DETECT = R0_DELTA / 5


def _no_signal(out):
    """Zero inside the interval, and the interval narrow enough to have seen DETECT."""
    assert out["qm_max_delta"] <= 1e-12
    lo, hi = out["ci"]
    assert lo < 0 < hi, out
    assert 0.5 * (hi - lo) < DETECT, out


def test_no_signal_at_r_minus_half():
    """Population, N = 10^6, 8 pairs: no signal, with the power to see one of DETECT = 0.09
    (a fifth of this state's r = 0 signal). Measured: half-width 1.4e-3, 64 times smaller,
    so the test would catch a signal down to ~3e-3 (under 1 % of the r = 0 one)."""
    out = signalling("two_qubits", STATE, make_params(N=10**6, r=-0.5), seeds=8)
    _no_signal(out)
    lo, hi = out["ci"]
    assert hi - lo < 0.01


def test_signal_at_r_zero():
    out = signalling("two_qubits", STATE, make_params(N=10**6, r=0.0), seeds=4)
    assert out["qm_max_delta"] <= 1e-12
    lo, hi = out["ci"]
    assert abs(abs(out["max_delta"]) - R0_DELTA) < 0.01 and (lo > 0 or hi < 0)


def test_agents_mode_signals_like_population():
    """Agents mode, phases locked, N = 10^5: no signal at r = -1/2 (8 pairs: half-width 0.027,
    under DETECT; 4 pairs gave 0.052, too close to it; at this N the agents' pairs scatter
    four times as much as population's), the r = 0 signal of population at r = 0 (4 pairs)."""
    agents = {"mode": "agents", "phases": "locked", "N": 10**5}
    _no_signal(signalling("two_qubits", STATE, make_params(r=-0.5, **agents), seeds=8))
    out = signalling("two_qubits", STATE, make_params(r=0.0, **agents), seeds=4)
    lo, hi = out["ci"]
    assert abs(abs(out["max_delta"]) - R0_DELTA) < 0.01 and (lo > 0 or hi < 0)


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

    from real_ensemble_lab.engine.studies.analysis import paired_difference
    from real_ensemble_lab.engine.studies.config import expand
    from real_ensemble_lab.engine.studies.runner import run_batch

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

    from real_ensemble_lab.engine.studies.config import expand, load_config

    specs = expand(load_config(Path(__file__).parent.parent / "assets" / "studies"
                               / "signalling_vs_N.yaml"))
    assert len(specs) == 2 * 3 * 2 * 8 * 32
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

    from real_ensemble_lab.engine.tools.signalling import (
        signalling_from_seeds,
        signalling_plan,
        signalling_seed,
    )

    params = make_params(N=2000, r=0.0, t_end=2.0, seed=3)
    plan = pickle.loads(pickle.dumps(signalling_plan("two_qubits", STATE, params, seeds=3)))
    deltas = {i: signalling_seed(plan, i) for i in (1, 2, 0)}
    assert not np.array_equal(deltas[0], deltas[1])
    out = signalling_from_seeds(plan, [deltas[i] for i in range(3)])
    assert out == signalling("two_qubits", STATE, params, seeds=3)
    assert out["max_delta"] != 0.0
