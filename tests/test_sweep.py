"""Sweeps on Dask (engine/studies/) and their analysis (engine/studies/analysis.py), issue 5.

- config validation fails before any work, naming the key (exit status 2);
- an unreachable scheduler fails fast with one sentence;
- a real LocalCluster (2 worker processes) writes the documented schema, and its rows
  agree exactly with direct ``simulate`` calls with the same seeds;
- a sweep terminated midway resumes: every run appears exactly once, none is recomputed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from real_ensemble_lab.engine import InputError, build_preset, simulate
from real_ensemble_lab.engine.core.params import param_names
from real_ensemble_lab.engine.studies.analysis import (
    absorption_probability,
    compare_with_bell,
    deviation_grid,
    drift_fit,
    load_series,
    load_summary,
    wilson_interval,
)
from real_ensemble_lab.engine.studies.config import expand
from real_ensemble_lab.engine.studies.runner import run_sweep
from real_ensemble_lab.engine.studies.tables import done_keys
from real_ensemble_lab.engine.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent

SMALL = {
    "title": "test",
    "preset": "two_level",
    "preset_params": {"theta": [1.2, 2.0]},
    "grid": {"mode": ["population", "bell"], "N": [50, 5000]},
    "seeds": 9,
    "t_end": 3.0,
    "dt_out": 0.5,
}  # 2 x 2 x 2 x 9 = 72 runs

SUMMARY_COLUMNS = {
    "key", "preset", "preset_values", "P", "T", "steps", "wall_time", "max_tv", "final_tv",
    "max_tv_sqrtN", "final_tv_sqrtN", "t_max_tv", "absorbed", "absorption_time",
    "empty_final", "version",
}
SERIES_COLUMNS = {"key", "preset", "preset_values", "t", "tv", "tv_sqrtN", "n", "p"}


def _write(tmp_path: Path, config: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


# --- config -----------------------------------------------------------------------------

def test_expand_counts_and_keys_are_stable():
    specs = expand(SMALL)
    assert len(specs) == 72 and len({s.key for s in specs}) == 72
    # The same run written differently (int for a float parameter, a string number) has
    # the same key, and a repeated value is dropped.
    a = expand({"preset": "two_level", "grid": {"r": [-0.5, "-0.5"], "N": 100},
                "t_end": 1})
    b = expand({"preset": "two_level", "runs": [{"N": 1e2, "t_end": 1.0}]})
    assert len(a) == 1 and [s.key for s in a] == [s.key for s in b]
    assert set(a[0].params) == set(param_names())


@pytest.mark.parametrize("config, names", [
    ({"gird": {"N": [10]}}, "'gird'"),
    ({"grid": {"N": [10], "colour": ["red"]}}, "'colour'"),
    ({"grid": {"r": [-0.5, 5.0]}}, "grid.r"),
    ({"grid": {"N": [0]}}, "grid.N"),
    ({"grid": {"mode": ["quantum"]}}, "grid.mode"),
    ({"preset_params": {"theta": [1.0, 9.0]}}, "preset_params"),
    ({"preset_params": {"mass": 1.0}}, "'mass'"),
    ({"seeds": -3}, "seeds"),
    ({"runs": [{"N": 10}, {"spectators": -1}]}, "runs[1].spectators"),
    ({"t_end": -1.0}, "grid.t_end"),
])
def test_bad_config_names_the_key(config, names):
    with pytest.raises(InputError) as err:
        expand({"preset": "two_level", **config})
    assert names in str(err.value)


def test_bad_config_fails_before_any_work(tmp_path, capsys):
    cfg = _write(tmp_path, {**SMALL, "grid": {**SMALL["grid"], "r": [-0.5, 3.0]}})
    out = tmp_path / "out"
    start = time.perf_counter()
    assert main(["sweep", str(cfg), "--out", str(out)]) == 2
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "grid.r" in err and len(err.splitlines()) == 1
    assert not out.exists()  # no folder, no cluster: nothing started

    cfg = _write(tmp_path, {**SMALL, "grdi": {}}, "typo.yaml")
    assert main(["sweep", str(cfg), "--out", str(out)]) == 2
    assert "'grdi'" in capsys.readouterr().err and not out.exists()


def test_bad_config_exit_status_from_the_command_line(tmp_path):
    cfg = _write(tmp_path, {**SMALL, "preset_params": {"coupling": 99.0}})
    proc = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "sweep", str(cfg),
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert "coupling" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_fast(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL)
    start = time.perf_counter()
    rc = main(["sweep", str(cfg), "--out", str(tmp_path / "out"),
               "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    took = time.perf_counter() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and took < 10
    assert err[-1].startswith("error: Cannot reach the Dask scheduler at tcp://127.0.0.1:")
    assert len([e for e in err if e.startswith("error")]) == 1


def test_wilson_interval_known_values():
    # Wilson (1927) 95 % interval for 0/10 and 5/10.
    lo, hi = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(0.2775, abs=1e-4)
    assert lo[1] == pytest.approx(0.2366, abs=1e-4) and hi[1] == pytest.approx(0.7634, abs=1e-4)


# --- a real LocalCluster ----------------------------------------------------------------

@pytest.mark.slow
def test_local_cluster_sweep_schema_and_values(tmp_path, monkeypatch):
    out = tmp_path / "res"
    seen = []
    res = run_sweep(SMALL, out, workers=2, progress=lambda d, t: seen.append((d, t)),
                    log=lambda msg: None)
    assert (res.total, res.computed, res.skipped, res.failed) == (72, 72, 0, 0)
    assert res.workers == 2 and res.dashboard.startswith("http")
    assert seen[-1] == (72, 72)

    summary = load_summary(out)
    assert len(summary) == 72 and summary["key"].is_unique
    assert SUMMARY_COLUMNS | set(param_names()) <= set(summary.columns)
    assert {"pp_theta", "pp_detuning"} <= set(summary.columns)
    manifest = json.loads((out / "sweep.json").read_text())
    assert set(manifest["runs"]) == set(summary["key"]) == done_keys(out)
    series = load_series(out)
    assert SERIES_COLUMNS | set(param_names()) <= set(series.columns)
    assert len(series) == 72 * 7  # t = 0, 0.5, ..., 3
    assert (series["n"].map(sum) == series["N"]).all()

    # Spot checks: the same seeds through simulate() directly give identical numbers.
    for _, row in summary.sample(4, random_state=0).iterrows():
        ham = build_preset("two_level", **json.loads(row["preset_values"]))
        direct = simulate(ham, mode=row["mode"], N=int(row["N"]), seed=int(row["seed"]),
                          t_end=3.0, dt_out=0.5)
        rows = series[series["key"] == row["key"]].sort_values("t")
        np.testing.assert_array_equal(np.stack(rows["n"].to_numpy()), direct.n)
        np.testing.assert_allclose(rows["tv"], direct.tv, rtol=0, atol=1e-15)
        assert row["max_tv"] == pytest.approx(direct.tv.max(), abs=1e-15)
        assert row["final_tv_sqrtN"] == pytest.approx(direct.tv[-1] * np.sqrt(row["N"]))
        absorbed = direct.absorption_time()
        assert row["absorbed"] == (absorbed is not None)
        if absorbed is not None:
            assert row["absorption_time"] == absorbed

    # The analysis helpers read the dataset.
    fit = drift_fit(series, by=["mode", "N", "pp_theta"], t_min=0.5, n_boot=20)
    assert len(fit) == 8 and fit["alpha"].notna().all() and (fit["runs"] == 9).all()
    ab = absorption_probability(summary, by=["mode", "N"])
    assert (ab["runs"] == 18).all() and ((ab["lo"] <= ab["prob"]) & (ab["prob"] <= ab["hi"])).all()
    cmp = compare_with_bell(summary)
    assert set(cmp["mode"]) == {"population"} and cmp["ratio"].notna().all()
    grid = deviation_grid(summary, "N", "pp_theta")
    assert len(grid) == 4

    # The Studies page reads the same folder inside its data folder (no server, no cluster).
    from real_ensemble_lab.app.studies import StudiesView

    monkeypatch.setenv("REAL_ENSEMBLE_LAB_DATA", str(tmp_path))
    view = StudiesView(directory=str(out))
    assert "72 runs" in view.message.object
    assert view._drift.object is not None and view._absorb.object is not None
    assert {view.x, view.y} <= {"mode", "N", "pp_theta"} and view._heat.object is not None
    assert "growth exponent" in view._tables.object


# --- interrupt and resume ---------------------------------------------------------------

SLOW = {
    "preset": "two_level",
    "grid": {"N": [1000, 100000]},
    "seeds": 20,
    "t_end": 2000.0,  # about 0.1 s per run: long enough to interrupt the sweep midway
    "dt_out": 2.0,
}  # 40 runs


def _sweep_cmd(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "real_ensemble_lab.engine", "sweep", str(cfg), "--out", str(out),
            "--workers", "2", "--batch", "1", "--json", "--no-progress"]


@pytest.mark.slow
def test_terminated_sweep_resumes_without_recomputing(tmp_path):
    import psutil

    cfg = _write(tmp_path, SLOW)
    out = tmp_path / "res"
    proc = subprocess.Popen(_sweep_cmd(cfg, out), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(done_keys(out)) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = done_keys(out)
    assert 6 <= len(first) < 40, f"the sweep was not interrupted midway: {stderr}"
    assert proc.returncode == 130, stderr
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, "the interrupted sweep left worker processes behind"

    stamps = {k: (out / "summary" / f"run-{k}.parquet").stat().st_mtime_ns for k in first}
    again = subprocess.run(_sweep_cmd(cfg, out), cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    outcome = json.loads(again.stdout)
    assert outcome["skipped"] == len(first)
    assert outcome["computed"] == 40 - len(first)
    # The runs finished before the interruption were not written again.
    for k, ns in stamps.items():
        assert (out / "summary" / f"run-{k}.parquet").stat().st_mtime_ns == ns

    summary = load_summary(out)
    assert len(summary) == 40 and summary["key"].is_unique
    series_files = sorted((out / "series").glob("run-*.parquet"))
    assert len(series_files) == 40
    assert not [p for p in (out / "series").iterdir() if p.name.startswith(".")]
    assert set(json.loads((out / "sweep.json").read_text())["runs"]) == set(summary["key"])
    assert pq.read_table(series_files[0]).num_rows == 1001

    # A third run has nothing left to do.
    third = subprocess.run(_sweep_cmd(cfg, out), cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert json.loads(third.stdout)["computed"] == 0 and third.returncode == 0
