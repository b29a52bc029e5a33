"""Cost and accuracy of the step control: steps, wall time and the largest D per problem.

Run it on this code and, for the baseline, on an older checkout (``--label`` names the
column; ``PYTHONPATH=OLD_CHECKOUT python benchmarks/bench_steps.py --label before --json``
prints figures to merge). The two runs go in one command, so both are measured on the
same machine under the same load:

    python benchmarks/bench_steps.py --baseline OLD_CHECKOUT

Problems: resonant Rabi from |0> with one spectator (exact nodes at t = pi/2, 3 pi/2, ...;
the case the relative-inflow bound is for) and the complex node-free 3-level ladder. Each
is run at N = 10^6 (wall time is the median of 3 seeds) and at N = 10^15 (D is then the
integrator's error alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CASES = [  # (label, preset values, mode kwargs, N)
    ("near-node, population", "rabi", dict(mode="population"), 10**6),
    ("near-node, population", "rabi", dict(mode="population"), 10**15),
    ("near-node, agents locked", "rabi", dict(mode="agents", phases="locked"), 10**6),
    ("near-node, agents dynamic", "rabi", dict(mode="agents"), 10**5),
    ("node-free, population", "ladder", dict(mode="population"), 10**6),
    ("node-free, population", "ladder", dict(mode="population"), 10**15),
    ("node-free, agents locked", "ladder", dict(mode="agents", phases="locked"), 10**6),
    ("node-free, agents dynamic", "ladder", dict(mode="agents"), 10**5),
]


NOTES = """\
'before' is the engine before the audit's fixes (no bound on a class's relative growth,
numba's binomial, locked draws from counts updated within the step, dynamic proposal rates
from the start of the step); 'after' is this checkout. The relative-inflow bound adds steps
only while a small class grows fast, i.e. near nodes, and most at N = 10^15, where the class
leaving a node starts from its one spectator against 10^15 systems and its growth is
resolved over about ln(n_end/n_start)/jump_tol steps; node-free problems take about 3 %
more. 'max D' at N = 10^15 is the integrator's error alone: near nodes it drops by three
orders of magnitude (before, numba's binomial also drew no copy out of a node at that N)."""


def measure() -> list[dict]:
    from real_ensemble_lab.engine import build_preset, simulate

    hams = {"rabi": build_preset("two_level", detuning=0, theta=0, delta=0.3),
            "ladder": build_preset("three_level")}
    out = []
    for label, ham, kw, N in CASES:
        s = 1 if ham == "rabi" else 0
        simulate(hams[ham], N=100, seed=0, spectators=s, t_end=0.5, **kw)  # compile
        walls, steps, tvs = [], [], []
        for seed in range(3):
            t0 = time.perf_counter()
            r = simulate(hams[ham], N=N, seed=seed, spectators=s, t_end=7.0, dt_out=0.05, **kw)
            walls.append(time.perf_counter() - t0)
            steps.append(r.steps)
            tvs.append(r.tv.max())
        out.append({"case": label, "N": N, "steps": int(np.median(steps)),
                    "wall_s": float(np.median(walls)), "max_D": float(np.median(tvs))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", help="an older checkout to measure in the same run")
    ap.add_argument("--json", action="store_true", help="print figures as JSON and stop")
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure()))
        return
    root = Path(__file__).resolve().parent.parent
    after = measure()
    before = None
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--json"],
                              env=env, capture_output=True, text=True, check=True,
                              cwd=args.baseline)
        before = json.loads(proc.stdout)
    rows = ["| case | N | steps before | steps after | ratio | wall before (s) | "
            "wall after (s) | max D before | max D after |", "|---" * 9 + "|"]
    for a, b in zip(after, before or [None] * len(after), strict=True):
        old = ("-", "-", "-", "-") if b is None else (
            str(b["steps"]), f"{a['steps'] / b['steps']:.2f}", f"{b['wall_s']:.3f}",
            f"{b['max_D']:.2e}")
        rows.append(f"| {a['case']} | {a['N']:.0e} | {old[0]} | {a['steps']} | {old[1]} | "
                    f"{old[2]} | {a['wall_s']:.3f} | {old[3]} | {a['max_D']:.2e} |")
    body = ("Command: `.venv/bin/python benchmarks/bench_steps.py --baseline OLD_CHECKOUT` "
            f"({time.strftime('%Y-%m-%d')}, 2 shared cores; medians of 3 seeds; t in [0, 7], "
            "default tolerances phase_tol 0.01, jump_tol 0.02; one spectator near nodes).\n\n"
            + "\n".join(rows) + "\n\n" + NOTES)
    print(body)
    if before is not None:
        sys.path.insert(0, str(root / "benchmarks"))
        from _results import write_section

        write_section("Step control: the relative-inflow bound", body)


if __name__ == "__main__":
    main()
