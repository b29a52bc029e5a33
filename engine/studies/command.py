"""``python -m engine sweep CONFIG.yaml``: run or resume a sweep from the command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from .config import expand, load_config
from .runner import run_sweep
from .tables import done_keys


def cmd_sweep(ns: argparse.Namespace) -> int:
    config_path = Path(ns.config)
    out = Path(ns.out) if ns.out else Path("results") / config_path.stem
    if ns.scheduler is not None and ns.workers is not None:
        raise InputError("--workers applies to the local cluster only, not with --scheduler.")
    config = load_config(config_path)
    if ns.dry_run:
        specs = expand(config)
        print(f"{len(specs)} runs; {len(done_keys(out) & {s.key for s in specs})} already "
              f"done in {out}")
        return 0
    if ns.scheduler is None and not Path(out).parent.exists():
        Path(out).parent.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):  # terminate like Ctrl-C: clusters close, nothing is left
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        res = run_sweep(config, out, scheduler=ns.scheduler, workers=ns.workers,
                        batch=ns.batch, progress=not ns.no_progress)
    finally:
        signal.signal(signal.SIGTERM, old)
    msg = (f"sweep: done: {res.total} runs, {res.skipped} skipped, {res.computed} computed, "
           f"{res.failed} failed in {res.wall_time:.1f} s")
    if res.computed:
        msg += (f" ({res.rate:.1f} runs/s on {res.workers} workers; "
                f"{res.work_time / res.computed * 1e3:.1f} ms of work per run)")
    print(msg, file=sys.stderr)
    for e in res.errors[:5]:
        print(f"sweep: failed {e}", file=sys.stderr)
    if ns.json:
        print(json.dumps({**asdict(res), "rate": res.rate}))
    return 1 if res.failed else 0


def register(subparsers: Any) -> None:
    """Add the ``sweep`` sub-command to ``python -m engine``."""
    sp = subparsers.add_parser("sweep", help="run a parameter sweep on Dask (docs/studies.md)",
                               description="Run a grid of simulations on a Dask cluster and "
                               "write a Parquet dataset; rerunning resumes.")
    sp.add_argument("config", metavar="CONFIG.yaml", help="sweep config (docs/studies.md)")
    sp.add_argument("--scheduler", metavar="ADDRESS",
                    help="address of a running Dask scheduler (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, metavar="INT",
                    help="local worker processes (default: one per core)")
    sp.add_argument("--out", metavar="DIR",
                    help="output folder (default: results/<config name>)")
    sp.add_argument("--batch", type=int, metavar="INT",
                    help="runs per Dask task (default: sized to about 0.5 s per task)")
    sp.add_argument("--dry-run", action="store_true",
                    help="check the config and count the runs, run nothing")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.add_argument("--json", action="store_true",
                    help="print the outcome (counts, timing) as JSON on standard output")
    sp.set_defaults(func=cmd_sweep)
