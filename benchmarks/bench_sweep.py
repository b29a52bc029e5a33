"""Throughput of a fixed sweep on a Dask LocalCluster against calling simulate in a loop.

    .venv/bin/python benchmarks/bench_sweep.py [--runs 300] [--repeat 3] [--no-write]

Measures (medians over ``--repeat`` repetitions, warm workers, cluster start-up reported
separately):

- ``loop``: ``simulate`` in a plain loop in this process (the baseline);
- ``loop + files``: the same plus building and writing the two Parquet files of each run
  (what a sweep does per run besides simulating);
- ``sweep, 1 worker`` and ``sweep, 2 workers``: ``engine.studies.runner.run_sweep`` on a
  LocalCluster, automatic batching; and once with ``batch=1`` (one task per run) to show
  what batching saves.

Overhead per run = (sweep wall time on 1 worker - loop wall time) / runs. Writes the
``## Sweeps`` section of benchmarks/RESULTS.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client

from real_ensemble_lab.engine import build_preset, make_params, simulate
from real_ensemble_lab.engine.studies.cluster import local_cluster
from real_ensemble_lab.engine.studies.config import expand
from real_ensemble_lab.engine.studies.runner import TARGET_TASK_S as TARGET_S
from real_ensemble_lab.engine.studies.runner import run_sweep
from real_ensemble_lab.engine.studies.tables import run_tables, write_run

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def config(runs: int) -> dict:
    return {"preset": "two_level", "grid": {"mode": "population", "N": 10_000},
            "seeds": runs, "t_end": 20.0, "dt_out": 0.25}


def bench_loop(specs, write: bool) -> float:
    ham = build_preset("two_level")
    with tempfile.TemporaryDirectory() as d:
        if write:
            (Path(d) / "series").mkdir()
            (Path(d) / "summary").mkdir()
        start = time.perf_counter()
        for s in specs:
            res = simulate(ham, make_params(**s.params))
            if write:
                series, summary = run_tables(s, res)
                write_run(d, s.key, series, summary)
        return time.perf_counter() - start


def bench_sweep(cfg: dict, workers: int, repeat: int, batch: int | None = None):
    t0 = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster, set_as_default=False) as client:
        # import the engine everywhere
        client.run(lambda: __import__("real_ensemble_lab.engine.core.simulate"))
        startup = time.perf_counter() - t0
        times, works = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as d:
                res = run_sweep(cfg, Path(d) / "out", client=client, batch=batch,
                                progress=False, log=lambda m: None)
                assert res.computed == res.total and res.failed == 0
                times.append(res.wall_time)
                works.append(res.work_time)
    return startup, times, works


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ns = ap.parse_args()
    load = __import__("os").getloadavg()[0]
    cfg = config(ns.runs)
    specs = expand(cfg)
    n = len(specs)
    bench_loop(specs[:5], write=True)  # warm up numba's cache and pyarrow
    loop = [bench_loop(specs, write=False) for _ in range(ns.repeat)]
    loop_io = [bench_loop(specs, write=True) for _ in range(ns.repeat)]
    rows = [("loop", "-", loop, None, None), ("loop + files", "-", loop_io, None, None)]
    for w in (1, 2):
        startup, times, works = bench_sweep(cfg, w, ns.repeat)
        rows.append((f"sweep, {w} worker{'s' * (w > 1)}", w, times, startup, works))
    startup, times, works = bench_sweep(cfg, 2, 1, batch=1)
    rows.append(("sweep, 2 workers, batch=1", 2, times, startup, works))

    med = {name: statistics.median(ts) for name, _, ts, _, _ in rows}
    # Time the workers were not running runs, per run: scheduling, transfers, idle tail.
    idle = {name: (statistics.median(ts) * w - statistics.median(wk)) / n
            for name, w, ts, _, wk in rows if wk is not None}
    lines = [
        "## Sweeps",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_sweep.py --runs {ns.runs} --repeat "
        f"{ns.repeat}` ({platform.processor() or platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores, shared with other work: load "
        f"average {load:.1f} at the start; {time.strftime('%Y-%m-%d')}).",
        "",
        f"Fixed sweep: {n} runs of the population engine, preset two_level, N = 10^4, "
        "t in [0, 20] every 0.25 (81 output rows per run). Medians of "
        f"{ns.repeat} repetitions on warm workers; cluster start-up listed apart.",
        "",
        "| how | workers | wall time (s) | runs/s | wall per run (ms) | Dask overhead per run "
        "(ms) | cluster start-up (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, w, _ts, startup, _wk in rows:
        m = med[name]
        ov = f"{1e3 * idle[name]:.2f}" if name in idle else "-"
        lines.append(f"| {name} | {w} | {m:.2f} | {n / m:.0f} | {1e3 * m / n:.2f} | {ov} | "
                     f"{'-' if startup is None else f'{startup:.1f}'} |")
    over = (med["sweep, 1 worker"] - med["loop"]) / n
    over_io = (med["sweep, 1 worker"] - med["loop + files"]) / n
    lines += [
        "",
        f"Overhead per run of a 1-worker sweep against the plain loop: {1e3 * over:.2f} ms, "
        f"of which {1e3 * (med['loop + files'] - med['loop']) / n:.2f} ms is building and "
        f"writing the run's two Parquet files (wall time, {1e3 * over_io:.2f} ms per run "
        f"beyond loop + files). 'Dask overhead' is wall time x workers minus the time the "
        f"workers spent inside runs (simulate + files), per run: scheduling, transfers, the "
        f"first small probe tasks and the idle tail; automatic batching aims at about "
        f"{TARGET_S} s of work per task. With one task per run (batch=1) the 2-worker sweep "
        f"takes {med['sweep, 2 workers, batch=1']:.2f} s instead of "
        f"{med['sweep, 2 workers']:.2f} s. The machine's 2 cores were shared with other "
        f"work during the measurement, so single figures vary by tens of percent.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not ns.no_write:
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        pat = re.compile(r"^## Sweeps\n.*?(?=^## |\Z)", re.S | re.M)
        new = pat.sub(lambda _: text + "\n", old) if pat.search(old) else \
            old.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
