"""numba's threading layer: thread-safe everywhere, or a refusal at start-up.

Each test runs in a subprocess that hides a layer the way a bare machine lacks it
(``python:3.11-slim`` has no libgomp, so numba's OpenMP layer cannot load there).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import pytest

from real_ensemble_lab.engine.core._agent_kernels import PARALLEL_MIN_N

HIDE_OMP = "import sys; sys.modules['numba.np.ufunc.omppool'] = None\n"
HIDE_TBB = "import sys; sys.modules['numba.np.ufunc.tbbpool'] = None\n"

CONCURRENT = f"""
import threading
import numba
import numpy as np
from real_ensemble_lab.engine import build_preset, simulate

kw = dict(mode="agents", N={PARALLEL_MIN_N}, t_end=1.0, dt_out=0.25, f=1.0)
ham = build_preset("three_level")
seq = [simulate(ham, seed=s, **kw).n for s in (1, 2)]
out = [None, None]

def go(i):
    out[i] = simulate(ham, seed=i + 1, **kw).n

threads = [threading.Thread(target=go, args=(i,)) for i in (0, 1)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=240)
assert all(np.array_equal(a, b) for a, b in zip(out, seq)), "concurrent != sequential"
print(numba.threading_layer())
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300)


def _has_tbb() -> bool:
    try:
        return bool(version("tbb"))
    except PackageNotFoundError:
        return False


@pytest.mark.skipif(not _has_tbb(), reason="the tbb wheel is not installed on this platform")
def test_two_engines_in_two_threads_without_openmp():
    """Two sessions' parallel kernels at once, with libgomp absent: no abort, same results."""
    out = _python(HIDE_OMP + CONCURRENT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "tbb"


def _refused(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    err = out.stderr.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and err.endswith(".")
    return err


def test_cli_refuses_at_start_up_when_only_workqueue_is_available():
    cli = ("from real_ensemble_lab.engine.tools.cli import main; "
           "raise SystemExit(main(sys.argv[1:]))\n")
    out = _python(HIDE_OMP + HIDE_TBB + cli, "run", "--preset", "two_level", "--N", "100",
                  "--t-end", "0.1")
    assert "thread-safe" in _refused(out)
    assert out.stdout == ""  # refused before the run, not after it


def test_cli_refuses_an_explicit_workqueue_request():
    out = subprocess.run([sys.executable, "-m", "real_ensemble_lab.engine", "run",
                          "--preset", "two_level", "--N", "100", "--t-end", "0.1"],
                         capture_output=True, text=True, timeout=120,
                         env={"NUMBA_THREADING_LAYER": "workqueue", "PATH": "/usr/bin:/bin"})
    assert "NUMBA_THREADING_LAYER=workqueue" in _refused(out)
