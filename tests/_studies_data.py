"""A tiny sweep results folder for the Studies tests, written without a Dask cluster."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

#: Four runs: two modes by two N, one seed, t = 0, 0.5, ..., 2.
TINY = {"preset": "two_level", "preset_params": {"theta": 0.9},
        "grid": {"mode": ["population", "bell"], "N": [100, 1000], "r": -0.5},
        "seeds": [7], "t_end": 2.0, "dt_out": 0.5}


def make_results(out: Path, config: dict | None = None, copy_from: Path | None = None) -> Path:
    """Write the runs of ``config`` (default :data:`TINY`) as a sweep folder at ``out``, or
    copy the folder ``copy_from``."""
    from real_ensemble_lab.engine.studies.config import expand
    from real_ensemble_lab.engine.studies.runner import run_batch
    from real_ensemble_lab.engine.studies.tables import prepare_out

    out.parent.mkdir(parents=True, exist_ok=True)
    if copy_from is not None:
        shutil.copytree(copy_from, out)
        return out
    config = config or TINY
    specs = expand(config)
    out.mkdir()
    prepare_out(out, config, specs)
    errors = [r["error"] for r in run_batch([asdict(s) for s in specs], str(out)) if "error" in r]
    assert not errors, errors
    return out


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> Path:
    """The :data:`TINY` results, computed once per test session (copy them to use them)."""
    return make_results(tmp_path_factory.mktemp("tiny") / "tiny")
