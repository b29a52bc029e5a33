"""Exports with metadata (engine/tools/export.py): write, read back, rerun from the metadata alone.

The rerun must give the *same counts* on the output grid (same seed, same H and psi0 to the
last bit), not merely statistically similar ones.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from real_ensemble_lab.engine import Hamiltonian, InputError, build_preset, make_params, simulate
from real_ensemble_lab.engine.tools.export import (
    CSV_META_PREFIX,
    META_KEY,
    export_csv,
    export_meta,
    export_name,
    export_parquet,
    read_export,
    rerun,
)

WRITERS = {"csv": export_csv, "parquet": export_parquet}


def custom_complex() -> Hamiltonian:
    """A hand-edited complex 3-level H (as the matrix editor would hand it over)."""
    H = np.array([[0.3, 0.8 * np.exp(0.7j), 0.1 - 0.25j],
                  [0.0, -0.4, 0.6j],
                  [0.0, 0.0, 1.1]])
    H = np.triu(H) + np.triu(H, 1).conj().T
    return Hamiltonian.from_matrix(H, [0.62, 0.55 * np.exp(0.4j), 0.56 * np.exp(-1.1j)])


def _run(ham, **kw):
    params = make_params(N=1000, seed=7, t_end=1.0, dt_out=0.1, **kw)
    return params, simulate(ham, params)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("mode", ["population", "agents"])
def test_rerun_from_the_export_alone_gives_the_same_counts(tmp_path, fmt, mode):
    ham = build_preset("three_level")
    params, res = _run(ham, mode=mode)
    meta = export_meta(ham, params, "three_level", {})
    path = tmp_path / export_name(meta, fmt)
    path.write_bytes(WRITERS[fmt](res.columns(), meta))

    cols, back = read_export(path)
    assert back == json.loads(json.dumps(meta))
    assert back["seed"] == 7 and back["params"]["mode"] == mode and back["version"]
    assert back["matrix_edited"] is False
    assert list(cols) == list(res.columns())
    assert cols["n_0"].dtype == np.int64
    for k, v in res.columns().items():
        np.testing.assert_array_equal(cols[k], v)  # floats at full precision

    ham2, params2 = rerun(back)  # nothing but the file's metadata
    again = simulate(ham2, params2)
    np.testing.assert_array_equal(again.n, res.n)
    np.testing.assert_array_equal(again.t, cols["t"])
    np.testing.assert_allclose(again.p, res.p, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_hand_edited_complex_matrix_round_trips(fmt):
    ham = custom_complex()
    params, res = _run(ham, mode="agents", init_phases="noisy")
    meta = export_meta(ham, params, preset="three_level", preset_values={})
    assert meta["matrix_edited"] is True  # not the preset's own matrix
    cols, back = read_export(WRITERS[fmt](res.columns(), meta))
    ham2, params2 = rerun(back)
    np.testing.assert_array_equal(ham2.H, ham.H)  # every bit of every complex entry
    np.testing.assert_allclose(ham2.psi0, ham.psi0, rtol=0, atol=1e-15)
    assert ham2.H[0, 1] == pytest.approx(0.8 * np.exp(0.7j)) and ham2.H[1, 0].imag < 0
    np.testing.assert_array_equal(cols["n_2"], res.n[:, 2])
    np.testing.assert_array_equal(simulate(ham2, params2).n, res.n)


def test_admixture_is_applied_once_on_rerun():
    """The metadata holds psi0 before the admixture; the rerun applies it again, once."""
    ham = build_preset("two_level", theta=0.0)
    params, res = _run(ham, admixture=0.2, spectators=1)
    for meta in (export_meta(ham, params), res.meta()):  # the dashboard's and the sidecar's
        ham2, params2 = rerun(json.loads(json.dumps(meta)))
        np.testing.assert_allclose(ham2.psi0, ham.psi0, atol=1e-15)
        assert params2.admixture == 0.2
        np.testing.assert_array_equal(simulate(ham2, params2).n, res.n)


def test_runner_history_export_reruns():
    """The dashboard's path: the runner's history columns, stepped on the output grid."""
    from real_ensemble_lab.app.runner import Runner

    ham = build_preset("two_level")
    params = make_params(N=1000, seed=2, dt_out=0.1, t_end=0.5)
    r = Runner(ham, params, start=False)
    for _ in range(5):
        r.process("step", 0.1)
    meta = export_meta(r.ham, r.params, "two_level", {})
    cols, back = read_export(export_csv(r.history_columns(), meta))
    again = simulate(*rerun(back))
    np.testing.assert_allclose(again.t, cols["t"], atol=1e-12)
    np.testing.assert_array_equal(again.columns()["n_0"], cols["n_0"])
    np.testing.assert_array_equal(again.columns()["n_1"], cols["n_1"])


def test_csv_header_is_readable_and_one_line_of_json():
    ham = build_preset("two_level")
    meta = export_meta(ham, make_params(seed=3), extra_note=np.float64(1.5), count=np.int64(2))
    text = export_csv({"t": np.array([0.0, 0.5]), "n_0": np.array([3, 4])}, meta).decode()
    lines = text.splitlines()
    assert lines[0].startswith("# Real Ensemble Lab run export")
    meta_line = next(line for line in lines if line.startswith(CSV_META_PREFIX))
    assert json.loads(meta_line[len(CSV_META_PREFIX):])["count"] == 2
    assert lines[-3:] == ["t,n_0", "0,3", "0.5,4"]


def test_parquet_keeps_the_metadata_under_its_key():
    import io

    import pyarrow.parquet as pq

    meta = export_meta(build_preset("two_level"), make_params())
    data = export_parquet({"t": np.arange(3.0), "n_0": np.arange(3)}, meta)
    kv = pq.read_schema(io.BytesIO(data)).metadata
    assert json.loads(kv[META_KEY.encode()])["preset"] == "two_level"


@pytest.mark.parametrize("data, words", [
    (b"t,n_0\n0,1\n", "no '# meta:' line"),
    (b"# meta: [1]\nt\n0\n", "not a JSON object"),
    (b"# meta: {\"a\": 1}\nt,n_0\n0\n", "Row 1"),
    (b"# meta: {\"a\": 1}\nt\nx\n", "not a number"),
    (b"\xff\xfe", "neither Parquet nor UTF-8"),
])
def test_bad_exports_are_one_sentence(data, words):
    with pytest.raises(InputError, match=words):
        read_export(data)


def test_rerun_refuses_incomplete_metadata():
    with pytest.raises(InputError, match="no 'hamiltonian'"):
        rerun({"params": {}})
    meta = export_meta(build_preset("two_level"), make_params(seed=1))
    with pytest.raises(InputError, match="seed"):
        rerun({**meta, "seed": 2})


def test_export_name():
    meta = export_meta(build_preset("two_level"), make_params(N=1000, seed=4))
    assert export_name(meta, "csv") == "real-ensemble_two_level_population_N1000_seed4.csv"
