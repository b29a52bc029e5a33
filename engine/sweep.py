"""Parameter sweeps on Dask distributed: ``python -m engine sweep CONFIG.yaml``.

A sweep is a grid (or list) of ``simulate`` runs described by a YAML file (the format is
documented in docs/studies.md). Every run is checked against the one parameter spec
(engine/params.py) and the preset specs (assets/presets.yaml) before any work starts.

Runs go to a Dask ``LocalCluster`` sized to the machine, or to any scheduler by address.
Small runs are batched into one task so the scheduler's overhead stays small against the
work. Results form a Parquet dataset under the output folder::

    DIR/series/run-<key>.parquet    one row per output time (parameters, t, tv, n, p)
    DIR/summary/run-<key>.parquet   one row per run (max/final tv, tv*sqrt(N), absorption)
    DIR/sweep.json                  the config and the keys of its runs

``<key>`` is a stable hash of the run's full parameters (preset, preset values and every
simulation parameter). Each file is written atomically (temporary file + rename) and the
summary last, so a run counts as done exactly when its summary file exists: an interrupted
sweep loses nothing finished, and rerunning the same command skips what is done.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic
from .errors import InputError
from .params import SimParams, make_params, param_names, params_dict

#: Top-level keys of a sweep config.
CONFIG_KEYS = ("title", "description", "preset", "preset_params", "grid", "seeds", "runs",
               "t_end", "dt_out", "batch")
#: Keys of one entry of ``runs:``.
RUN_KEYS = ("preset", "preset_params")
#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT_S = 4.0
#: Wall time one task should take when batches are sized automatically.
TARGET_TASK_S = 0.5
MAX_BATCH = 500
#: Largest sweep config file read, and the most runs one sweep may have.
CONFIG_MAX_BYTES = 1 * 2**20
MAX_RUNS = 100_000
#: Prefix of the summary/series columns that hold preset parameters.
PP = "pp_"


# --- config ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything needed to reproduce it, and its key."""

    key: str
    preset: str
    preset_values: dict[str, Any]
    params: dict[str, Any]


def _canonical(params: SimParams) -> dict[str, Any]:
    """Parameter values with numbers normalised (1 and 1.0 hash alike for a float parameter)."""
    import param as _param

    out = {}
    for k, v in params_dict(params).items():
        p = SimParams.param[k]
        if isinstance(p, _param.Integer):
            v = int(v)
        elif isinstance(p, _param.Number):
            v = float(v)
        out[k] = v
    return out


def run_key(preset: str, preset_values: dict[str, Any], params: dict[str, Any]) -> str:
    """Stable hash of a run's full parameters (the file name and the resume key)."""
    blob = json.dumps({"preset": preset, "preset_values": preset_values, "params": params},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _as_list(where: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        if not value:
            raise InputError(f"In {where}: the list of values is empty.")
        return value
    if isinstance(value, dict):
        raise InputError(f"In {where}: expected a value or a list of values, not a mapping.")
    return [value]


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"In {where}: expected a mapping of names to values.")
    return value


def _check_sim(where: str, name: str, value: Any) -> None:
    try:
        make_params(**{name: value})
    except InputError as err:
        raise InputError(f"In {where}: {_lower(err)}") from None


def _check_preset(where: str, preset: str, name: str, value: Any) -> None:
    from .presets import check_preset_values

    try:
        check_preset_values(preset, {name: value})
    except InputError as err:
        raise InputError(f"In {where}: {_lower(err)}") from None


def _lower(err: Exception) -> str:
    s = str(err)
    return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a sweep config file (YAML); any problem is one :class:`InputError` sentence."""
    import yaml

    from ._files import read_text

    path = Path(path)
    if not path.is_file():
        raise InputError(f"The sweep config {str(path)!r} does not exist.")
    text = read_text(path, "sweep config", CONFIG_MAX_BYTES)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"The sweep config {path.name!r} is not valid YAML{where}.") from None
    if not isinstance(data, dict):
        raise InputError(f"The sweep config {path.name!r} must be a mapping of keys to values.")
    return data


def expand(config: dict[str, Any]) -> list[RunSpec]:
    """All runs of a sweep config, validated; raises before any work on the first problem.

    The runs are the product of ``runs`` (explicit list, default one empty run), ``preset``
    (a name or a list), every list in ``preset_params`` and ``grid``, and ``seeds`` (a
    count, meaning seeds 0..K-1, or a list). Scalars are fixed values. Duplicate runs are
    dropped (same key).
    """
    from .presets import check_preset_values, preset_names
    from .simulate import output_times

    if not isinstance(config, dict):
        raise InputError("A sweep config must be a mapping of keys to values.")
    for k in config:
        if k not in CONFIG_KEYS:
            raise InputError(f"Unknown key {k!r} in the sweep config; allowed keys are "
                             f"{', '.join(CONFIG_KEYS)} (simulation parameters go under grid).")
    sims = set(param_names())

    grid = _mapping("grid", config.get("grid"))
    for k in ("t_end", "dt_out"):
        if k in config:
            if k in grid:
                raise InputError(f"Key {k} is given both at the top level and in grid.")
            grid = {**grid, k: config[k]}
    grid_lists: dict[str, list[Any]] = {}
    for k, v in grid.items():
        if k not in sims:
            raise InputError(f"Unknown simulation parameter {k!r} in grid; known parameters "
                             f"are {', '.join(sorted(sims))}.")
        grid_lists[k] = _as_list(f"grid.{k}", v)
        for x in grid_lists[k]:
            _check_sim(f"grid.{k}", k, x)

    if "seeds" in config:
        if "seed" in grid_lists:
            raise InputError("Give seeds either as 'seeds' or as grid.seed, not both.")
        s = config["seeds"]
        if isinstance(s, bool) or not (isinstance(s, int) or isinstance(s, list)):
            raise InputError(f"In seeds: expected a count or a list of seeds, not {s!r}.")
        if isinstance(s, int):
            if not 1 <= s <= 1_000_000:
                raise InputError(f"In seeds: the count must be between 1 and 1000000, not {s}.")
            s = list(range(s))
        for x in _as_list("seeds", s) if isinstance(config["seeds"], list) else ():
            _check_sim("seeds", "seed", x)
        grid_lists["seed"] = s

    runs = config.get("runs")
    if runs is None:
        runs = [{}]
    if not isinstance(runs, list) or not runs:
        raise InputError("In runs: expected a non-empty list of runs.")
    base: list[tuple[list[str] | None, dict[str, Any], dict[str, Any]]] = []
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        run = _mapping(where, run)
        sim = {}
        for k, v in run.items():
            if k in RUN_KEYS:
                continue
            if k not in sims:
                raise InputError(f"Unknown key {k!r} in {where}; a run takes preset, "
                                 f"preset_params and simulation parameters.")
            if k in grid_lists:
                raise InputError(f"Key {k} is set both in {where} and in grid (or seeds).")
            if isinstance(v, list | dict):
                raise InputError(f"In {where}.{k}: a run takes single values, not lists.")
            _check_sim(f"{where}.{k}", k, v)
            sim[k] = v
        presets = None
        if "preset" in run:
            if isinstance(run["preset"], list | dict):
                raise InputError(f"In {where}.preset: a run takes one preset name.")
            presets = [run["preset"]]
        pp = _mapping(f"{where}.preset_params", run.get("preset_params"))
        for k, v in pp.items():
            if isinstance(v, list | dict):
                raise InputError(f"In {where}.preset_params.{k}: a run takes single values.")
        base.append((presets, sim, pp))

    top_presets = config.get("preset")
    top_presets = _as_list("preset", top_presets) if top_presets is not None else None
    known = preset_names()
    for name in top_presets or []:
        if name not in known:
            raise InputError(f"In preset: unknown preset {name!r}; choose one of "
                             f"{', '.join(known)}.")
    top_pp = _mapping("preset_params", config.get("preset_params"))
    top_pp_lists = {k: _as_list(f"preset_params.{k}", v) for k, v in top_pp.items()}

    # Count before building: a grid of 10^8 runs is refused at once, not after minutes.
    n_runs = sum(len(p if p is not None else top_presets or [None]) for p, _, _ in base) \
        * math.prod(len(v) for v in top_pp_lists.values()) \
        * math.prod(len(v) for v in grid_lists.values())
    if n_runs > MAX_RUNS:
        raise InputError(f"The sweep has {n_runs} runs, more than the {MAX_RUNS} allowed; "
                         f"split it into smaller sweeps.")
    seen: dict[str, RunSpec] = {}
    hams: set[str] = set()
    for i, (presets, sim, pp) in enumerate(base):
        if presets is not None and top_presets is not None:
            raise InputError(f"The preset is given both at the top level and in runs[{i}].")
        presets = presets if presets is not None else top_presets
        if presets is None:
            raise InputError("No preset: give 'preset' at the top level or in every run.")
        for preset in presets:
            if preset not in known:
                raise InputError(f"In runs[{i}].preset: unknown preset {preset!r}; choose one "
                                 f"of {', '.join(known)}.")
            for k, vals in top_pp_lists.items():
                if k in pp:
                    raise InputError(f"Preset parameter {k} is set both in runs[{i}] and in "
                                     f"preset_params.")
                for v in vals:
                    _check_preset("preset_params", preset, k, v)
            for k, v in pp.items():
                _check_preset(f"runs[{i}].preset_params", preset, k, v)
            pk, pv = list(top_pp_lists), list(top_pp_lists.values())
            gk, gv = list(grid_lists), list(grid_lists.values())
            for pcombo in itertools.product(*pv):
                values = check_preset_values(preset, {**pp, **dict(zip(pk, pcombo, strict=True))})
                hk = json.dumps([preset, values], sort_keys=True)
                if hk not in hams:  # build each distinct Hamiltonian once: catches bad matrices
                    _build(preset, values)
                    hams.add(hk)
                for gcombo in itertools.product(*gv):
                    sp = make_params(**{**sim, **dict(zip(gk, gcombo, strict=True))})
                    params = _canonical(sp)
                    key = run_key(preset, values, params)
                    if key not in seen:
                        seen[key] = RunSpec(key, preset, values, params)
    specs = list(seen.values())
    for t_end, dt_out in sorted({(s.params["t_end"], s.params["dt_out"]) for s in specs}):
        output_times(t_end, dt_out)
    return specs


def _build(preset: str, values: dict[str, Any]):
    from .presets import build

    return build(preset, **values)


# --- one batch of runs (runs in the Dask workers) ---------------------------------------

def _tables(spec: RunSpec | dict[str, Any], res) -> tuple[Any, Any]:
    """The run's series table (one row per output time) and its one-row summary table."""
    import pyarrow as pa

    spec = spec if isinstance(spec, dict) else asdict(spec)
    params, values = spec["params"], spec["preset_values"]
    N = int(params["N"])
    T = len(res.t)
    tv = np.asarray(res.tv, dtype=float)
    absorb = res.absorption_time()
    ident: dict[str, Any] = {"key": spec["key"], "preset": spec["preset"],
                             "preset_values": json.dumps(values, sort_keys=True)}
    ident.update({PP + k: v for k, v in values.items()})
    ident.update(params)
    P = int(res.n.shape[1])
    series = {k: [v] * T for k, v in ident.items()}
    series.update({
        "t": np.asarray(res.t, dtype=float), "tv": tv, "tv_sqrtN": tv * math.sqrt(N),
        "n": pa.array(list(np.asarray(res.n, dtype=np.int64)), pa.list_(pa.int64())),
        "p": pa.array(list(np.asarray(res.p, dtype=float)), pa.list_(pa.float64())),
    })
    summary = {k: [v] for k, v in ident.items()}
    summary.update({
        "P": [P], "T": [T], "steps": [int(res.steps)], "wall_time": [float(res.wall_time)],
        "max_tv": [float(tv.max())], "final_tv": [float(tv[-1])],
        "max_tv_sqrtN": [float(tv.max() * math.sqrt(N))],
        "final_tv_sqrtN": [float(tv[-1] * math.sqrt(N))],
        "t_max_tv": [float(res.t[int(np.argmax(tv))])],
        "absorbed": [absorb is not None],
        "absorption_time": pa.array([absorb], pa.float64()),
        "empty_final": [int((np.asarray(res.n)[-1] == 0).sum())],
        "version": [res.version],
    })
    return pa.table(series), pa.table(summary)


def _write_table(table, path: Path) -> None:
    import pyarrow.parquet as pq

    with atomic(path) as tmp:
        pq.write_table(table, tmp)


def write_run(out: str | Path, key: str, series, summary) -> None:
    """Write one run's files atomically; the summary last (it marks the run done)."""
    out = Path(out)
    _write_table(series, out / "series" / f"run-{key}.parquet")
    _write_table(summary, out / "summary" / f"run-{key}.parquet")


def run_batch(specs: list[dict[str, Any]], out: str | None = None) -> list[dict[str, Any]]:
    """Run a batch of runs (a Dask task); write each as it finishes when ``out`` is given.

    Returns one dict per run: ``key``, ``cost`` (seconds including writing) and either
    ``error`` (one sentence) or, without ``out``, the ``series`` and ``summary`` tables.
    """
    from .simulate import simulate

    hams: dict[str, Any] = {}
    done = []
    for spec in specs:
        start = time.perf_counter()
        item: dict[str, Any] = {"key": spec["key"]}
        try:
            hk = json.dumps([spec["preset"], spec["preset_values"]], sort_keys=True)
            if hk not in hams:
                hams[hk] = _build(spec["preset"], spec["preset_values"])
            res = simulate(hams[hk], make_params(**spec["params"]))
            series, summary = _tables(spec, res)
            if out is not None:
                write_run(out, spec["key"], series, summary)
            else:
                item.update(series=series, summary=summary)
        except Exception as err:  # reported per run; the sweep goes on
            item["error"] = f"{type(err).__name__}: {err}"
        item["cost"] = time.perf_counter() - start
        done.append(item)
    return done


# --- the sweep --------------------------------------------------------------------------

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


def done_keys(out: str | Path) -> set[str]:
    """Keys of the runs finished under ``out`` (their summary file exists)."""
    d = Path(out) / "summary"
    if not d.is_dir():
        return set()
    return {p.name[4:-8] for p in d.glob("run-*.parquet")}


def _prepare_out(out: Path, config: dict[str, Any], specs: list[RunSpec]) -> None:
    for sub in ("series", "summary"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for tmp in (out / sub).glob(".run-*.tmp"):  # left by an interrupted sweep
            tmp.unlink(missing_ok=True)
    from .simulate import __version__

    for tmp in out.glob(".sweep.json.*tmp"):
        tmp.unlink(missing_ok=True)
    manifest = {"config": config, "version": __version__, "runs": [s.key for s in specs]}
    with atomic(out / "sweep.json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1, default=str))


def connect(scheduler: str, timeout: float | None = None):
    """A Dask client of the scheduler at ``scheduler`` within ``timeout`` seconds (default
    ``CONNECT_TIMEOUT_S``), or one :class:`InputError` sentence."""
    return _connect(scheduler, timeout)


def _connect(scheduler: str, timeout: float | None = None):
    """A client of the scheduler at ``scheduler``, or one sentence after ``timeout`` seconds.

    ``Client(timeout=...)`` bounds the TCP connection but not distributed's handshake: a
    socket that accepts and never answers would hang for ever. The connection runs in a
    thread with a hard deadline instead; a client that arrives after it is closed.
    """
    import threading

    from distributed import Client

    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def connect() -> None:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except BaseException as err:  # reported by the caller
            box["error"] = err
            return
        with lock:
            box["client"] = client
            late = box.get("late", False)
        if late:
            client.close()

    thread = threading.Thread(target=connect, name="sweep-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if "client" not in box and "error" not in box:
            box["late"] = True
    if "client" in box and not box.get("late"):
        return box["client"]
    err = box.get("error")
    if isinstance(err, ValueError | TypeError):
        raise InputError(f"The scheduler address {scheduler!r} is not valid ({err}).") from None
    raise InputError(f"Cannot reach the Dask scheduler at {scheduler} within "
                     f"{timeout:g} s.") from None


def check_agents_memory(specs: list[RunSpec]) -> None:
    """Refuse agents runs that cannot fit in this machine's memory, before any cluster."""
    from .agents import check_memory

    sizes: dict[str, int] = {}
    for s in specs:
        q = s.params
        if q["mode"] != "agents":
            continue
        hk = json.dumps([s.preset, s.preset_values], sort_keys=True)
        if hk not in sizes:
            sizes[hk] = _build(s.preset, s.preset_values).P
        check_memory(int(q["N"]), sizes[hk], int(q["spectators"]), q["phases"], q["f"],
                     q["gamma"])


def default_workers() -> int:
    """Local workers sized to the machine: one per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def local_cluster(workers: int | None = None):
    """A LocalCluster of single-threaded worker processes (use it as a context manager)."""
    import logging

    from distributed import LocalCluster

    return LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                        processes=True, dashboard_address=":0", silence_logs=logging.ERROR)


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
            client = stack.enter_context(_connect(scheduler))
        if shared_fs is None:
            shared_fs = not remote  # remote workers may not see this folder: write here
        # The folder only now: a failed connection leaves nothing behind.
        out.mkdir(exist_ok=True)
        _prepare_out(out, config, specs)
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


# --- command line ---------------------------------------------------------------------

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
