"""A sweep's Parquet dataset: the tables of one run, written atomically, and the folder::

    DIR/series/run-<key>.parquet    one row per output time (parameters, t, tv, n, p)
    DIR/summary/run-<key>.parquet   one row per run (max/final tv, tv*sqrt(N), absorption)
    DIR/sweep.json                  the config and the keys of its runs

``<key>`` is the run's stable key (:mod:`.keys`). Each file is written atomically (the
project's one writer, engine/core/_files.py) and the summary last, so a run counts as done
exactly when its summary file exists: an interrupted sweep loses nothing finished.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..core._files import atomic
from .keys import RunSpec

#: Prefix of the summary/series columns that hold preset parameters.
PP = "pp_"


def run_tables(spec: RunSpec | dict[str, Any], res) -> tuple[Any, Any]:
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


def done_keys(out: str | Path) -> set[str]:
    """Keys of the runs finished under ``out`` (their summary file exists)."""
    d = Path(out) / "summary"
    if not d.is_dir():
        return set()
    return {p.name[4:-8] for p in d.glob("run-*.parquet")}


def prepare_out(out: Path, config: dict[str, Any], specs: list[RunSpec]) -> None:
    """The dataset's folders, without the temporary files of an interrupted sweep, and its
    manifest ``sweep.json`` (the config, the package version and the keys of its runs)."""
    for sub in ("series", "summary"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for tmp in (out / sub).glob(".run-*.tmp"):  # left by an interrupted sweep
            tmp.unlink(missing_ok=True)
    from ..core.simulate import __version__

    for tmp in out.glob(".sweep.json.*tmp"):
        tmp.unlink(missing_ok=True)
    manifest = {"config": config, "version": __version__, "runs": [s.key for s in specs]}
    with atomic(out / "sweep.json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1, default=str))
