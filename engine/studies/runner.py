"""Parameter sweeps on Dask distributed: :func:`run_sweep` (``python -m engine sweep``).

A sweep is a grid (or list) of ``simulate`` runs described by a config (:mod:`.config`).
Runs go to a Dask ``LocalCluster`` sized to the machine, or to any scheduler by address
(:mod:`.cluster`). Small runs are batched into one task so the scheduler's overhead stays
small against the work. Results form a Parquet dataset under the output folder
(:mod:`.tables`); rerunning the same command skips what is done.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.params import make_params
from ..core.presets import build
from .cluster import connect, local_cluster
from .config import expand, load_config
from .keys import RunSpec
from .tables import done_keys, prepare_out, run_tables, write_run

#: Wall time one task should take when batches are sized automatically.
TARGET_TASK_S = 0.5
MAX_BATCH = 500


def run_batch(specs: list[dict[str, Any]], out: str | None = None) -> list[dict[str, Any]]:
    """Run a batch of runs (a Dask task); write each as it finishes when ``out`` is given.

    Returns one dict per run: ``key``, ``cost`` (seconds including writing) and either
    ``error`` (one sentence) or, without ``out``, the ``series`` and ``summary`` tables.
    """
    from ..core.simulate import simulate

    hams: dict[str, Any] = {}
    done = []
    for spec in specs:
        start = time.perf_counter()
        item: dict[str, Any] = {"key": spec["key"]}
        try:
            hk = json.dumps([spec["preset"], spec["preset_values"]], sort_keys=True)
            if hk not in hams:
                hams[hk] = build(spec["preset"], **spec["preset_values"])
            res = simulate(hams[hk], make_params(**spec["params"]))
            series, summary = run_tables(spec, res)
            if out is not None:
                write_run(out, spec["key"], series, summary)
            else:
                item.update(series=series, summary=summary)
        except Exception as err:  # reported per run; the sweep goes on
            item["error"] = f"{type(err).__name__}: {err}"
        item["cost"] = time.perf_counter() - start
        done.append(item)
    return done


@dataclass
class SweepOutcome:
    """What a sweep did: counts of runs and timing (``computed`` excludes skipped runs)."""

    out: str
    total: int
    skipped: int
    computed: int
    failed: int
    wall_time: float
    workers: int
    dashboard: str | None
    errors: list[str]
    #: Seconds the workers spent on the computed runs (simulate + writing), summed.
    work_time: float = 0.0

    @property
    def rate(self) -> float:
        """Computed runs per second of wall time."""
        return self.computed / self.wall_time if self.wall_time > 0 else float("nan")


def check_agents_memory(specs: list[RunSpec]) -> None:
    """Refuse agents runs that cannot fit in this machine's memory, before any cluster."""
    from ..core.agents import check_memory

    sizes: dict[str, int] = {}
    for s in specs:
        q = s.params
        if q["mode"] != "agents":
            continue
        hk = json.dumps([s.preset, s.preset_values], sort_keys=True)
        if hk not in sizes:
            sizes[hk] = build(s.preset, **s.preset_values).P
        check_memory(int(q["N"]), sizes[hk], int(q["spectators"]), q["phases"], q["f"],
                     q["gamma"])


def run_sweep(
    config: dict[str, Any] | str | Path,
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    batch: int | None = None,
    client: Any = None,
    progress: bool | Callable[[int, int], None] = True,
    log: Callable[[str], None] | None = None,
    shared_fs: bool | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep and write its dataset under ``out``.

    Parameters
    ----------
    config : dict or path
        The sweep config (a mapping, or a YAML file).
    out : path
        Output folder of the Parquet dataset; finished runs found there are skipped.
    scheduler : str, optional
        Address of a Dask scheduler; a LocalCluster with ``workers`` workers without it.
    workers : int, optional
        Local worker processes (default: one per core).
    batch : int, optional
        Runs per task (default: sized so that one task takes about ``TARGET_TASK_S``).
    client : distributed.Client, optional
        An existing client to use (the dashboard's cluster); overrides ``scheduler``.
    progress : bool or callable
        A terminal progress bar, none, or ``progress(done, total)`` called as runs finish.
    log : callable, optional
        Receives one-line messages (default: standard error).
    shared_fs : bool, optional
        Whether the workers see ``out`` and write each run there themselves; otherwise
        the results travel back and are written here. Default: yes for a local cluster
        or a given ``client``, no for a ``scheduler`` by address (remote workers).

    Returns
    -------
    SweepOutcome
        Counts of runs (total, skipped, computed, failed) and the wall time.
    """
    if not isinstance(config, dict):
        config = load_config(config)
    if log is None:
        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)
    if batch is None and config.get("batch") is not None:
        batch = config["batch"]
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int)
                              or not 1 <= batch <= 100_000):
        raise InputError(f"The batch size must be an integer between 1 and 100000, not {batch!r}.")
    if workers is not None and not 1 <= workers <= 1024:
        raise InputError(f"The number of workers must be between 1 and 1024, not {workers}.")
    specs = expand(config)  # every check before any work
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {str(out)!r} exists and is not a folder.")
    if not out.parent.exists():
        raise InputError(f"The parent folder of the output {str(out.parent)!r} does not exist.")

    if client is None and scheduler is None:  # local workers: this machine's memory
        check_agents_memory(specs)

    start = time.perf_counter()
    done = done_keys(out)
    pending = [s for s in specs if s.key not in done]
    skipped = len(specs) - len(pending)
    outcome = SweepOutcome(out=str(out), total=len(specs), skipped=skipped, computed=0,
                           failed=0, wall_time=0.0, workers=0, dashboard=None, errors=[])

    from contextlib import ExitStack

    with ExitStack() as stack:
        remote = client is None and scheduler is not None
        if remote and pending:
            client = stack.enter_context(connect(scheduler))
        if shared_fs is None:
            shared_fs = not remote  # remote workers may not see this folder: write here
        # The folder only now: a failed connection leaves nothing behind.
        out.mkdir(exist_ok=True)
        prepare_out(out, config, specs)
        log(f"sweep: {len(specs)} runs, {skipped} already done, {len(pending)} to compute; "
            f"results in {out}")
        if not pending:
            outcome.wall_time = time.perf_counter() - start
            return outcome
        if client is None:
            from distributed import Client

            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(Client(cluster, set_as_default=False))
        nworkers = max(1, len(client.scheduler_info().get("workers", {})))
        outcome.workers = nworkers
        outcome.dashboard = client.dashboard_link
        log(f"sweep: {nworkers} workers; Dask dashboard: {client.dashboard_link}")
        _execute(client, pending, out, nworkers, batch, shared_fs, progress, outcome)
    outcome.wall_time = time.perf_counter() - start
    return outcome


def _execute(client, pending: list[RunSpec], out: Path, nworkers: int, batch: int | None,
             shared_fs: bool, progress, outcome: SweepOutcome) -> None:
    from distributed import as_completed

    queue = deque(asdict(s) for s in pending)
    costs: list[float] = []
    in_flight = 2 * nworkers
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=outcome.total, initial=outcome.skipped, unit="run", desc="sweep",
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def size() -> int:
        if batch is not None:
            return batch
        if not costs:
            return 1  # probe: the first tasks measure what a run costs
        per_run = float(np.median(costs[-200:]))
        want = max(1, int(TARGET_TASK_S / max(per_run, 1e-6)))
        fair = max(1, math.ceil(len(queue) / in_flight))  # keep every worker busy at the end
        return min(want, fair, MAX_BATCH)

    def submit():
        chunk = [queue.popleft() for _ in range(min(size(), len(queue)))]
        return client.submit(run_batch, chunk, str(out) if shared_fs else None, pure=False)

    try:
        ac = as_completed([submit() for _ in range(in_flight) if queue], loop=client.loop)
        for fut in ac:
            for item in fut.result():
                costs.append(item["cost"])
                outcome.work_time += item["cost"]
                if "error" in item:
                    outcome.failed += 1
                    outcome.errors.append(f"run {item['key']}: {item['error']}")
                    continue
                if not shared_fs:
                    write_run(out, item["key"], item["series"], item["summary"])
                outcome.computed += 1
            n = len(fut.result())
            fut.release()
            if queue:
                ac.add(submit())
            if bar is not None:
                bar.update(n)
            elif callable(progress):
                progress(outcome.skipped + outcome.computed + outcome.failed, outcome.total)
    finally:
        if bar is not None:
            bar.close()
