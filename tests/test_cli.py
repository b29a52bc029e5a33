"""The command-line contract: columns, sidecar, exit status 2 with one sentence."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from real_ensemble_lab.engine import build_preset, simulate


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_presets_lists_every_preset_and_parameter():
    out = run_cli("presets")
    assert out.returncode == 0
    for name in ["two_level", "three_level", "ring", "double_well", "random"]:
        assert name in out.stdout
    assert "--set detuning=" in out.stdout
    assert json.loads(run_cli("presets", "--json").stdout)["ring"]["params"]["k0"]


def test_run_to_stdout_matches_simulate():
    out = run_cli("run", "--preset", "three_level", "--N", "5000", "--t-end", "1",
                  "--dt-out", "0.25", "--seed", "4")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["t", "n_0", "n_1", "n_2", "p_0", "p_1", "p_2", "tv"]
    assert [float(r["t"]) for r in rows] == [0, 0.25, 0.5, 0.75, 1.0]
    res = simulate(build_preset("three_level"), N=5000, t_end=1, dt_out=0.25, seed=4)
    assert [int(r["n_1"]) for r in rows] == res.n[:, 1].tolist()
    assert np.allclose([float(r["tv"]) for r in rows], res.tv)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_run_to_file_writes_sidecar(tmp_path, fmt):
    out_file = tmp_path / f"run.{fmt}"
    out = run_cli("run", "--preset", "two_level", "--set", "delta=0.3", "--N", "1000",
                  "--t-end", "2", "--dt-out", "0.5", "--seed", "9", "--mode", "bell",
                  "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / f"run.{fmt}.meta.json").read_text())
    assert meta["seed"] == 9 and meta["params"]["mode"] == "bell"
    assert meta["preset"] == "two_level" and meta["preset_values"]["delta"] == 0.3
    assert len(meta["hamiltonian"]["H"]) == 2 and meta["version"] and meta["wall_time_s"] > 0
    if fmt == "parquet":
        table = pq.read_table(out_file)
        assert table.column_names == ["t", "n_0", "n_1", "p_0", "p_1", "tv"]
        assert table.num_rows == 5


def test_custom_hamiltonian_file(tmp_path):
    f = tmp_path / "h.json"
    f.write_text(json.dumps({"H": [[0, [0, 1]], [[0, -1], 1]], "psi0": [1, 1]}))
    out = run_cli("run", "--hamiltonian", str(f), "--N", "100", "--t-end", "0.2",
                  "--dt-out", "0.1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 4


@pytest.mark.parametrize("args, words", [
    (["--preset", "nope"], "Unknown preset 'nope'"),
    (["--preset", "two_level", "--N", "0"], "N = 0 is outside"),
    (["--preset", "two_level", "--r", "nan"], "finite"),
    (["--preset", "two_level", "--set", "coupling=nan"], "coupling"),
    (["--preset", "two_level", "--set", "colour=1"], "no parameter 'colour'"),
    (["--preset", "two_level", "--mode", "quantum"], "invalid choice"),
    (["--preset", "two_level", "--hamiltonian", "x.json"], "exactly one"),
    (["--hamiltonian", "missing.json"], "Cannot read"),
    (["--hamiltonian", "bad.json"], "not Hermitian"),
    (["--preset", "two_level", "--out", "run.txt"], ".csv or .parquet"),
    (["--preset", "two_level", "--out", "nodir/run.csv"], "does not exist"),
])
def test_bad_input_exits_2_with_one_sentence(tmp_path, args, words):
    (tmp_path / "bad.json").write_text(json.dumps({"H": [[0, 1], [0.5, 0]], "psi0": [1, 0]}))
    out = run_cli("run", *args, cwd=tmp_path)
    assert out.returncode == 2
    err = out.stderr.strip()
    assert words in err and err.count("\n") == 0, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]  # nothing half-written
