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


WORKERS_NICE = f"""
import os, sys, threading
import numba

def threads():
    out = {{}}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{{tid}}/stat") as f:
                out[tid] = int(f.read().rsplit(")", 1)[1].split()[16])  # field 19: nice
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return out

before = threads()
from real_ensemble_lab.app.cost import warm_up
from real_ensemble_lab.app.runner import lower_priority
from real_ensemble_lab.engine import build_preset, make_params, make_stepper
from real_ensemble_lab.engine import require_threadsafe_layer

if sys.argv[1] == "warm_up":
    warm_up(10, measure=False)  # the server's start-up
else:
    require_threadsafe_layer()  # what the server did before: from its main thread

def runner():  # a session's runner: niced, then a parallel step
    lower_priority(10)
    make_stepper(build_preset("two_level"),
                 make_params(mode="agents", N={PARALLEL_MIN_N})).advance(0.01)

t = threading.Thread(target=runner)
t.start()
t.join()
new = {{t: n for t, n in threads().items() if t not in before}}
print(numba.threading_layer(), numba.config.NUMBA_NUM_THREADS, sorted(new.values()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
def test_the_parallel_engines_workers_run_at_the_engines_niceness():
    """The server starts numba's threading layer at the engines' niceness: the worker
    threads it creates run there too (Linux threads inherit it), not at the web server's.
    Started from the main thread as before, a worker ran at 0 beside the niced runners
    (the fault this fixes), which the second run shows."""
    def run(how):
        p = subprocess.run([sys.executable, "-c", WORKERS_NICE, how], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        layer, n_threads, nices = p.stdout.split(maxsplit=2)
        return layer, int(n_threads), eval(nices)  # noqa: S307 - our own list of ints

    layer, n_threads, nices = run("warm_up")
    if n_threads < 2:
        pytest.skip("one numba thread here: no worker threads to look at")
    assert layer in ("tbb", "omp") and nices and set(nices) == {10}, nices
    _, _, plain = run("main")
    assert 0 in plain, plain
