"""Protocols (engine/core/protocol.py): segments of H(t), run by every engine mode."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.linalg import expm

from real_ensemble_lab.engine import ExactEvolution, InputError, simulate
from real_ensemble_lab.engine.core.protocol import MAX_SEGMENTS, Protocol, measurement_segment

#: Switch at t = 2 to the time-reversed ladder, 1.3 times stronger: a different evolution
#: from the same state (without the switch the exact p differs by > 0.1, checked below).
T_SWITCH, T_END = 2.0, 6.0

MODES = [("population", {}), ("bell", {}), ("agents", {"phases": "locked"}),
         ("agents", {"phases": "dynamic"})]


def two_segments(ham3) -> Protocol:
    return Protocol([{"duration": T_SWITCH},
                     {"duration": T_END - T_SWITCH, "H": 1.3 * ham3.H.conj(), "label": "b"}])


def piecewise_p(ham3, t: np.ndarray, segments=None) -> np.ndarray:
    """|psi(t)|^2 by matrix exponentials, segment by segment (independent of the engine);
    ``segments``: (duration, H) pairs, the last H holding on after its end."""
    segments = segments or [(T_SWITCH, ham3.H), (T_END - T_SWITCH, 1.3 * ham3.H.conj())]
    out = []
    for tk in t:
        psi, t0 = ham3.psi0, 0.0
        for k, (T, H) in enumerate(segments):
            last = k == len(segments) - 1
            if tk <= t0 + T or last:
                psi = expm(-1j * H * (tk - t0)) @ psi
                break
            psi, t0 = expm(-1j * H * T) @ psi, t0 + T
        out.append(psi)
    return np.abs(np.array(out)) ** 2


def test_the_switch_matters(ham3):
    t = np.arange(0, 61) * 0.1
    assert np.abs(piecewise_p(ham3, t) - ExactEvolution.of(ham3).prob(t)).max() > 0.1


@pytest.mark.parametrize("mode,extra", MODES, ids=[m + str(e) for m, e in MODES])
def test_every_mode_follows_the_piecewise_exact_evolution(ham3, mode, extra):
    # agents with dynamic phases take a minute at 10^6 on two cores: 10^5 only
    Ns = [10**5] if extra.get("phases") == "dynamic" else [10**5, 10**6]
    for N in Ns:
        res = simulate(ham3, mode=mode, N=N, seed=7, t_end=T_END, dt_out=0.1,
                       protocol=two_segments(ham3), **extra)
        np.testing.assert_allclose(res.p, piecewise_p(ham3, res.t), atol=1e-10)
        # statistical floor: max D sqrt(N) was 1.0-2.7 here (PHYSICS.md §3 measures 1.7-3.4)
        assert res.tv.max() * math.sqrt(N) < 5, (mode, N, res.tv.max() * math.sqrt(N))
        assert res.step_error < 0.2 / math.sqrt(N)


def test_boundaries_are_landed_on_and_recorded(ham3, tmp_path):
    proto = Protocol([{"duration": 0.25}, {"duration": 1.0, "H": 2 * ham3.H},
                      {"duration": 0.5, "H": ham3.H.conj()}])
    res = simulate(ham3, N=10**4, seed=1, t_end=2.0, dt_out=0.1, protocol=proto)
    # t = 0.25 and 1.25 are no output times: the switches still happen there, and the last
    # segment's H holds on after its end (t = 1.75)
    np.testing.assert_allclose(proto.starts, [0.0, 0.25, 1.25])
    np.testing.assert_allclose(res.p, piecewise_p(ham3, res.t, [(0.25, ham3.H), (1.0, 2 * ham3.H),
                                                               (0.5, ham3.H.conj())]),
                               atol=1e-10)
    assert res.tv.max() * 100 < 5
    meta = json.loads(json.dumps(res.meta()))
    segs = meta["protocol"]["segments"]
    assert [(s["t_start"], s["t_stop"]) for s in segs] == [(0, 0.25), (0.25, 1.25), (1.25, 1.75)]
    assert "H" not in segs[0] and segs[1]["H"][0][1] == pytest.approx([2 * ham3.H[0, 1].real,
                                                                      2 * ham3.H[0, 1].imag])
    assert Protocol.from_dict(meta["protocol"]).duration == pytest.approx(1.75)
    res.write(tmp_path / "run.csv")
    side = json.loads((tmp_path / "run.csv.meta.json").read_text())
    assert side["protocol"] == meta["protocol"]
    assert simulate(ham3, N=10**4, t_end=1.0).meta()["protocol"] is None


def test_measurement_segment_is_the_chsh_pulse():
    from real_ensemble_lab.engine.core.protocol import pulse_hamiltonian

    seg = measurement_segment(0.3, -1.1, 2.0)
    np.testing.assert_allclose(seg.H, pulse_hamiltonian(0.3, -1.1, 2.0))
    assert Protocol([seg]).duration == 2.0


BAD = [
    ([], "at least one segment"),
    ([{"duration": -1.0}], "positive finite duration"),
    ([{"duration": float("nan")}], "positive finite duration"),
    ([{"duration": float("inf")}], "positive finite duration"),
    ([{"duration": 1.0, "H": [[0, [1, 1]], [[1, 1], 0]]}], "not Hermitian"),
    ([{"duration": 1.0}] * (MAX_SEGMENTS + 1), f"at most {MAX_SEGMENTS}"),
    ([{"duration": 1.0, "H": [[0, 1], [1]]}], "differ in length"),
    ([{"duration": 1.0, "speed": 2}], "unknown key 'speed'"),
]


@pytest.mark.parametrize("segments,words", BAD, ids=[w for _, w in BAD])
def test_bad_protocols_are_refused_with_one_sentence(segments, words):
    with pytest.raises(InputError) as err:
        Protocol(segments)
    msg = str(err.value)
    assert words in msg and msg.endswith(".") and "\n" not in msg, msg


def test_wrong_size_is_refused(ham3):
    with pytest.raises(InputError, match=r"segment 1 has a 2 x 2 Hamiltonian, but the run has "
                       r"3 beable values\.$"):
        simulate(ham3, N=100, t_end=1.0,
                 protocol={"segments": [{"duration": 1.0}, {"duration": 1.0,
                                                            "H": [[0, 1], [1, 0]]}]})


def test_cli_runs_a_protocol_and_refuses_a_bad_one(tmp_path):
    from tests.test_cli import run_cli

    good = {"segments": [{"duration": 0.5}, {"duration": 0.5, "H": [[1, 0], [0, -1]]}]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    out = run_cli("run", "--preset", "two_level", "--N", "1000", "--t-end", "1",
                  "--protocol", "good.json", "--out", "o.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "o.csv.meta.json").read_text())
    assert meta["protocol"]["segments"][1]["t_start"] == 0.5
    for name, data, words in [("neg.json", {"segments": [{"duration": -2}]}, "duration"),
                              ("big.json", {"segments": [{"duration": 1, "H": np.eye(3)
                                                          .tolist()}]}, "2 beable values"),
                              ("broken.json", None, "not valid JSON")]:
        (tmp_path / name).write_text("{" if data is None else json.dumps(data))
        out = run_cli("run", "--preset", "two_level", "--N", "1000", "--protocol", name,
                      cwd=tmp_path)
        err = out.stderr.strip()
        assert out.returncode == 2 and words in err and "\n" not in err, err
