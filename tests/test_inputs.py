"""Every input bounded before work starts: exit status 2 and one sentence, nothing left over.

Files (encoding, size, declared matrix size), output paths (an existing folder, an
unwritable folder, checked before the run), sweeps (number of runs, agents memory,
a scheduler that accepts and never answers) and output times.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from real_ensemble_lab.engine import InputError
from real_ensemble_lab.engine.core.hamiltonian import FILE_MAX_BYTES, Hamiltonian
from real_ensemble_lab.engine.studies import cluster, config, runner

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"preset": "two_level", "grid": {"N": [50, 100]}, "t_end": 0.5, "dt_out": 0.25}


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, timeout=timeout)


def one_sentence(out: subprocess.CompletedProcess, *words: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    err = out.stderr.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and err.endswith("."), err
    for w in words:
        assert w in err, err
    return err


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


# --- files ------------------------------------------------------------------------------

def test_non_utf8_hamiltonian_file(tmp_path):
    f = tmp_path / "h.json"
    f.write_bytes(b'{"H": [[0, 1], [1, 0]], "psi0": [1, 0], "labels": ["\xff", "b"]}')
    one_sentence(run_cli("run", "--hamiltonian", str(f), "--N", "10"), "not UTF-8")


def test_non_utf8_sweep_config(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_bytes(b"preset: two_level\ntitle: \xe9t\xe9\n")
    one_sentence(run_cli("sweep", str(f), "--out", str(tmp_path / "o")), "not UTF-8")
    assert not (tmp_path / "o").exists()


def test_oversized_hamiltonian_file_refused_before_reading(tmp_path):
    f = tmp_path / "big.json"
    with open(f, "wb") as fh:  # sparse: no disk used, and never read
        fh.truncate(FILE_MAX_BYTES + 1)
    with pytest.raises(InputError, match="MiB allowed"):
        Hamiltonian.from_json(f)


def test_declared_matrix_size_refused_before_parsing_entries(monkeypatch):
    import real_ensemble_lab.engine.core.hamiltonian as hmod

    def parsed(*_):  # no entry may be parsed before the size is refused
        raise AssertionError("an entry was parsed")

    monkeypatch.setattr(hmod, "_entry", parsed)
    row = [0.0] * 5000
    with pytest.raises(InputError, match="H has 5000 rows"):
        Hamiltonian.from_dict({"H": [row] * 5000, "psi0": [1.0] + [0.0] * 4999})


# --- output paths -----------------------------------------------------------------------

def test_out_an_existing_folder(tmp_path):
    (tmp_path / "r.csv").mkdir()
    one_sentence(run_cli("run", "--preset", "two_level", "--N", "10", "--t-end", "0.2",
                         "--out", "r.csv", cwd=tmp_path), "existing folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # no hidden temp file


def test_result_write_cleans_up_when_the_rename_fails(tmp_path):
    from real_ensemble_lab.engine import build_preset, simulate

    res = simulate(build_preset("two_level"), N=10, t_end=0.2)
    (tmp_path / "r.csv").mkdir()
    from real_ensemble_lab.engine.core._files import atomic

    with pytest.raises(InputError, match="Cannot write"), atomic(tmp_path / "r.csv") as tmp:
        Path(tmp).write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    res.write(tmp_path / "ok.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.csv", "ok.csv.meta.json", "r.csv"]


def test_the_atomic_writer_cleans_up_after_a_failed_block_and_keeps_usual_modes(tmp_path):
    """The one atomic writer (run files, sweep tables, sweep.json): nothing left behind when
    the writing fails, and the file gets a new file's permissions (umask), not 0600."""
    from real_ensemble_lab.engine.core._files import atomic

    with pytest.raises(RuntimeError, match="boom"), atomic(tmp_path / "r.csv") as tmp:
        Path(tmp).write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic(tmp_path / "r.csv") as tmp:
        Path(tmp).write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_out_in_an_unwritable_folder_refused_before_the_run(tmp_path, monkeypatch, capsys):
    from real_ensemble_lab.engine.tools.cli import main

    (tmp_path / "file").write_text("")  # a path under a regular file: unwritable, even as root

    def ran(*_, **__):  # the refusal must come before any simulation
        raise AssertionError("the run started")

    monkeypatch.setattr(sys.modules["real_ensemble_lab.engine.core.simulate"], "simulate", ran)
    rc = main(["run", "--preset", "two_level", "--mode", "agents", "--N", "10000000",
               "--out", str(tmp_path / "file" / "r.csv")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 0, err
    assert "not a folder" in err
    # and the same through the real command line
    one_sentence(run_cli("run", "--preset", "two_level", "--out", "file/r.csv", cwd=tmp_path),
                 "not a folder")


def test_out_in_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write to a read-only folder (root)")
        one_sentence(run_cli("run", "--preset", "two_level", "--N", "10",
                             "--out", str(ro / "r.csv")), "Cannot write")
    finally:
        ro.chmod(0o700)


def test_lesson_out_unwritable(tmp_path):
    (tmp_path / "file").write_text("")
    name = run_cli("lesson", "--list").stdout.split(":")[0]
    one_sentence(run_cli("lesson", name, "--out", str(tmp_path / "file" / "figs")),
                 "not a folder")


def test_dt_out_larger_than_t_end():
    one_sentence(run_cli("run", "--preset", "two_level", "--t-end", "1", "--dt-out", "2"),
                 "dt_out", "t_end")


# --- sweeps -----------------------------------------------------------------------------

def test_sweep_run_count_capped_before_building_runs(monkeypatch):
    cfg = {"preset": "two_level", "grid": {"N": list(range(10, 10_010))}, "seeds": 10_000}
    def built(*_, **__):  # refused before a single run is built
        raise AssertionError("a run was built")

    monkeypatch.setattr(config, "RunSpec", built)
    with pytest.raises(InputError, match="100000000 runs, more than"):
        config.expand(cfg)


def test_sweep_agents_memory_refused_before_a_cluster_starts(tmp_path, monkeypatch):
    from real_ensemble_lab.engine.core import agents

    monkeypatch.setattr(agents, "available_memory", lambda: 2**30)

    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(runner, "local_cluster", no_cluster)
    cfg = {**SMALL, "grid": {"mode": "agents", "N": [100, 10**9]}}
    with pytest.raises(InputError, match="memory is available"):
        runner.run_sweep(cfg, tmp_path / "out", progress=False, log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_scheduler_that_never_answers_gives_up_and_leaves_no_folder(tmp_path):
    cfg = _write(tmp_path / "s.yaml", SMALL)
    with socket.socket() as srv:  # accepts connections (the kernel does) and never answers
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        addr = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
        start = time.perf_counter()
        out = run_cli("sweep", str(cfg), "--out", str(tmp_path / "out"), "--scheduler", addr,
                      "--no-progress", timeout=60)
        took = time.perf_counter() - start
    one_sentence(out, "Cannot reach the Dask scheduler")
    assert took < cluster.CONNECT_TIMEOUT_S + 20
    assert not (tmp_path / "out").exists()


def test_refused_connection_leaves_no_folder(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match="Cannot reach"):
        runner.run_sweep(SMALL, tmp_path / "out", scheduler=f"tcp://127.0.0.1:{port}",
                            progress=False, log=lambda m: None)
    assert not (tmp_path / "out").exists()


# --- memory -----------------------------------------------------------------------------

def test_available_memory_reads_the_cgroup_limit(tmp_path, monkeypatch):
    import real_ensemble_lab.engine.core.agents as agents

    v2 = (str(tmp_path / "memory.max"), str(tmp_path / "memory.current"))
    v1 = (str(tmp_path / "limit_in_bytes"), str(tmp_path / "usage_in_bytes"))
    Path(v2[0]).write_text("max\n")
    Path(v2[1]).write_text("123\n")
    assert agents._cgroup_free((v2,)) is None  # no limit
    Path(v2[0]).write_text(f"{2**30}\n")
    Path(v2[1]).write_text(f"{2**28}\n")
    assert agents._cgroup_free((v2,)) == 3 * 2**28
    Path(v1[0]).write_text(f"{2**31}\n")
    Path(v1[1]).write_text(f"{2**30}\n")
    assert agents._cgroup_free(((str(tmp_path / "missing"), v2[1]), v1)) == 2**30
    monkeypatch.setattr(agents, "_cgroup_free", lambda: 12345)
    assert agents.available_memory() == 12345  # the smaller of the cgroup and MemAvailable


# --- the dashboard's URL ----------------------------------------------------------------

@pytest.mark.parametrize("query", ["?N=300000000", "?mode=agents&N=300000000"])
def test_url_N_above_the_mode_cap_is_refused_with_a_notice(query):
    from panel.io.location import Location

    from real_ensemble_lab.app.dashboard import EnsembleApp
    from real_ensemble_lab.engine.core.params import N_MAX

    app = EnsembleApp(mode="agents")
    app.read_location(Location(search=query))
    assert app.ctl.sim.N == N_MAX["agents"]
    (note,) = app.ctl.notices
    assert app.notices.link.visible and note.count(". ") == 0 and note.endswith(".")
    assert N_MAX["agents"] == 10**7
    assert "N=300000000" in note and "so 10⁷ is used" in note
    assert app.template() is not None  # the page still renders
    app.stop()


def test_the_address_follows_the_settings_at_most_every_location_period():
    """The page's address (the share link) follows the settings on a tick without a new
    frame, at most every LOCATION_PERIOD: building the link on every tick cost a busy
    server a sixth of its thread. On an injected clock."""
    from panel.io.location import Location

    from real_ensemble_lab.app.dashboard import LOCATION_PERIOD, EnsembleApp

    class Clock:
        t = 50.0

        def __call__(self):
            return self.t

    clock = Clock()
    app = EnsembleApp(clock=clock)
    app.start(thread=False)
    try:
        loc = Location(search="")
        app.read_location(loc)
        app.tick()  # the first frame
        app.ctl.sim.r = -0.6
        app.tick()  # no new frame: the address follows
        assert "r=-0.6" in loc.search
        app.ctl.sim.r = -0.7
        app.tick()
        assert "r=-0.6" in loc.search  # not yet
        clock.t += LOCATION_PERIOD
        app.tick()
        assert "r=-0.7" in loc.search
    finally:
        app.stop()
