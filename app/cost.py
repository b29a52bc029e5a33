"""How fast a choice of settings will run on this server, before it is made.

The agents engine's cost per unit of simulated time grows with N (every system steps), and
with N² under the 'paper' normalisation with alignment on (its phase frequencies grow with
the class sizes, so the steps shrink). This module keeps, per kind of run, the measured
throughput of this machine, ``N^k x (time units per wall second)``, from the sessions'
own runs (a rate below the asked speed is the engine's limit) and from a short calibration
at server start, and turns it into one sentence when a choice would crawl.

Population and Bell runs cost little whatever N (they step class counts), so they are not
warned about.
"""

from __future__ import annotations

import math
import threading
import time

from real_ensemble_lab.engine import SimParams, build_preset, make_params, make_stepper

from .runner import Published, lower_priority

#: Warn when the expected speed is below this many time units per wall second ...
SLOW = 0.3
#: ... and below this fraction of the speed asked.
SLOW_FRACTION = 0.5
#: Throughput assumed before anything was measured (N x time units per second; a loaded
#: 2-core machine, 2026-12-02: dynamic phases at N = 10^6 kept ~1 time unit per second).
DEFAULT = {("dynamic", False): 1.0e6, ("locked", False): 2.0e7,
           ("dynamic", True): 1.0e9, ("locked", True): 1.0e9}

_lock = threading.Lock()
_throughput: dict[tuple[str, bool], float] = {}


def kind(params: SimParams) -> tuple[str, bool]:
    """The kind of agents run: phases, and whether its cost grows as N² ('paper' with f)."""
    return params.phases, params.normalisation == "paper" and params.f > 0


def exponent(k: tuple[str, bool]) -> int:
    return 2 if k[1] else 1


def throughput(k: tuple[str, bool]) -> float:
    with _lock:
        return _throughput.get(k, DEFAULT[k])


def expected_rate(params: SimParams, P: int) -> float | None:
    """Expected time units per wall second for these settings (None: not an agents run)."""
    if params.mode != "agents":
        return None
    k = kind(params)
    return throughput(k) / max(params.N + params.spectators * P, 1) ** exponent(k)


def warning(params: SimParams, P: int, speed: float) -> str:
    """One sentence when the run will crawl, else ''."""
    rate = expected_rate(params, P)
    if rate is None or rate >= SLOW or rate >= SLOW_FRACTION * speed:
        return ""
    per_unit = 1.0 / rate
    slower = "; 'mean-field' normalisation is much faster" if kind(params)[1] else ""
    return (f"These settings will run slowly on this server: about {rate:.2g} time units "
            f"per second (one time unit every {_seconds(per_unit)}). A smaller N runs "
            f"faster{slower}.")


def _seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def record(pub: Published, params: SimParams, speed: float) -> None:
    """Fold a session's achieved rate into the throughput of its kind, when the engine (not
    the asked speed) limited it."""
    if pub.mode != "agents" or not pub.playing or pub.rate <= 0 or pub.rate > 0.8 * speed:
        return
    k = kind(params)
    _fold(k, pub.rate * max(pub.frame.N, 1) ** exponent(k))


def _fold(k: tuple[str, bool], value: float) -> None:
    with _lock:
        old = _throughput.get(k)
        _throughput[k] = value if old is None else math.exp(
            0.8 * math.log(old) + 0.2 * math.log(value))


def warm_up(nice: int = 0, measure: bool = True) -> dict[tuple[str, bool], float]:
    """Server start-up, in a thread at niceness ``nice`` (the engines' own, Linux), joined:
    start numba's threading layer (``require_threadsafe_layer``: a
    :class:`~real_ensemble_lab.engine.SetupError` when only an unsafe one exists) and, with
    ``measure``, :func:`calibrate`.

    The layer's worker threads are created when it starts and inherit the niceness of the
    thread that starts it: started from the server's main thread, the parallel engine's
    workers ran at 0, beside the web server and the browsers on the same cores, while each
    session's runner thread ran at the engines' niceness (2026-12-03)."""
    from numba.np.ufunc import parallel

    from real_ensemble_lab.engine import require_threadsafe_layer

    if parallel._is_initialized and not measure:  # every later session: no thread needed
        require_threadsafe_layer()
        return {}
    out: dict[tuple[str, bool], float] = {}
    failed: list[BaseException] = []

    def work() -> None:
        lower_priority(nice)
        try:
            require_threadsafe_layer()
            if measure:
                out.update(calibrate())
        except BaseException as err:  # noqa: BLE001 - raised again in the caller
            failed.append(err)

    t = threading.Thread(target=work, name="engine-warm-up")
    t.start()
    t.join()
    if failed:
        raise failed[0]
    return out


def calibrate(N: int = 20_000, wall: float = 0.3) -> dict[tuple[str, bool], float]:
    """Measure each kind briefly on a small ensemble (server start-up; also compiles or
    loads the kernels, so the first session does not wait for them)."""
    ham = build_preset("two_level")
    runs = {("dynamic", False): {}, ("locked", False): {"phases": "locked"},
            ("dynamic", True): {"normalisation": "paper", "f": 1.0}}
    for k, extra in runs.items():
        params = make_params(mode="agents", N=N, **extra)
        st = make_stepper(ham, params)
        st.advance(0.01)  # compile or load the kernels outside the timing
        t0, w0 = st.t, time.perf_counter()
        st.advance(st.t + 1e3, wall_budget=wall)
        spent = time.perf_counter() - w0
        if st.t > t0 and spent > 0:
            _fold(k, float((st.t - t0) / spent * N ** exponent(k)))
    for mode in ("population", "bell"):
        make_stepper(ham, make_params(mode=mode, N=1000)).advance(0.05)
    with _lock:
        return dict(_throughput)
