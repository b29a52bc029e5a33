"""``python -m engine bench``: system-steps per second of the agent engine (compile time
excluded) and its memory traffic against this machine's copy bandwidth.

The comparison with a plain NumPy implementation of the same step lives in benchmarks/
(benchmarks/numpy_baseline.py, run by benchmarks/bench_agents.py): an installed package has
no baseline to carry."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.presets import build
from ..core.simulate import make_stepper


def memory_bandwidth(nbytes: int = 256 * 2**20, repeat: int = 5) -> float:
    """Bytes per second moved by a NumPy copy (read + write), median of ``repeat``."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / float(np.median(times))


def bytes_per_system_step(P: int, phases: str, momentum: bool,
                          trials_per_system: float = 0.0) -> float:
    """Memory traffic of one step per system.

    Dynamic: the class sort reads the beable twice and writes a 4-byte index; the phase
    pass reads the beable and reads and writes the phase (and the momentum).
    Locked: no pass over the ensemble at all; each rejection trial for a jumper touches
    one 64-byte cache line, so traffic is 64 B x (trials per system per step).
    """
    beable = 1 if P <= 255 else 2
    if phases == "locked":
        return 64.0 * trials_per_system
    return 2 * beable + 4 + beable + 16 + (16 if momentum else 0)


def bench_hamiltonian(P: int):
    """The Hamiltonian every benchmark of the agent engine times: a random P-level H."""
    return build("random", P=P, matrix_seed=0)


def measure(N: int, P: int, phases: str = "locked", steps: int = 50, f: float = 0.0,
            seed: int = 0, repeat: int = 3) -> dict[str, Any]:
    """Median system-steps/s of the numba agent engine, with its memory traffic."""
    if N < 1 or P < 2 or steps < 1:
        raise InputError("bench needs N >= 1, P >= 2 and steps >= 1.")
    ham = bench_hamiltonian(P)
    # One spectator per class: no class is ever absorbed, so every step does real work
    # (an absorbed ensemble would make jumps, and the timing, vanish).
    st = make_stepper(ham, mode="agents", phases=phases, N=N, seed=seed, f=f, tracked=0,
                      spectators=1)
    st._advance_kernel(math.inf, 2)  # compile / warm up
    rates, dts, moved = [], [], []
    for _ in range(repeat):
        t0, tt = time.perf_counter(), st.t
        before = st.A.copy()
        done = 0
        while done < steps:
            done += st._advance_kernel(math.inf, steps - done)
        st.steps += done
        wall = time.perf_counter() - t0
        rates.append(N * done / wall)
        dts.append((st.t - tt) / done)
        moved.append(np.count_nonzero(st.A != before) / st.A.size / done)
    out: dict[str, Any] = {
        "N": N, "P": P, "phases": phases, "f": f, "steps": steps,
        "system_steps_per_s": float(np.median(rates)),
        "dt_mean": float(np.mean(dts)),
        # lower bound on the fraction of systems that changed beable per step
        "changed_fraction_per_step": float(np.median(moved)),
    }
    trials = 0.0
    if phases == "locked":  # expected rejection trials per system per step: sum_b out_b dt
        from ..core._kernels import _out_rates, _population_rates

        n = st.n_all.astype(float)
        T, phidot, outr = np.empty(st._ea.shape[0]), np.empty(P), np.empty(P)
        _population_rates(n, st.phi_a, st._E, st._ea, st._eb, st._eR, st._ed, -0.5, T,
                          phidot)
        _out_rates(T, st._estart, outr)
        trials = float(outr.sum() * out["dt_mean"])
    bps = bytes_per_system_step(P, phases, f > 0, trials)
    bw = memory_bandwidth()
    out["bytes_per_system_step"] = bps
    out["memory_bandwidth_bytes_per_s"] = bw
    out["fraction_of_bandwidth"] = out["system_steps_per_s"] * bps / bw
    return out


def register(sub) -> None:
    p = sub.add_parser("bench", help="time the agent engine (system-steps per second)")
    p.add_argument("--mode", choices=["agents"], default="agents")
    p.add_argument("--N", type=int, default=10**6)
    p.add_argument("--P", type=int, default=2)
    p.add_argument("--phases", choices=["locked", "dynamic"], default="locked")
    p.add_argument("--f", type=float, default=0.0, help="alignment frequency (dynamic)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    res = measure(ns.N, ns.P, ns.phases, ns.steps, ns.f, ns.seed, ns.repeat)
    if ns.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:36s} {v:.4g}" if isinstance(v, float) else f"{k:36s} {v}")
    return 0
