"""Analysis of sweep results (engine side, no UI): drift, absorption, the Bell baseline.

Reads the Parquet dataset written by a sweep (:mod:`engine.studies.tables`: ``DIR/summary``,
``DIR/series``)
into pandas DataFrames and answers the paper's §VI questions quantitatively:

- :func:`drift_fit`: growth of the error, ``tv·√N ∝ t^alpha`` (PHYSICS.md §3 "Drift":
  roughly alpha = 1/2 for the real ensemble, alpha = 0 for Bell's process), with the
  error of alpha from a bootstrap over seeds.
- :func:`absorption_probability`: fraction of runs absorbed into an empty class, with
  Wilson binomial confidence intervals (PHYSICS.md §3 "Nodes are absorbing").
- :func:`compare_with_bell`: the real ensemble's error against the Bell/Vink baseline at
  the same parameters (PHYSICS.md §6).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.params import param_names

#: Per-run metrics of the summary table.
METRICS = ("max_tv", "final_tv", "max_tv_sqrtN", "final_tv_sqrtN", "wall_time",
           "absorption_time", "t_max_tv")


def _read_dir(d: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(d.glob("run-*.parquet"))
    if not files:
        return pd.DataFrame()
    tables = []
    for f in files:
        t = pq.read_table(f)
        if columns is not None:
            t = t.select([c for c in columns if c in t.column_names])
        tables.append(t)
    # Presets differ in their pp_* columns: missing ones become nulls.
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def _check_dir(path: str | Path) -> Path:
    path = Path(path)
    if not (path / "summary").is_dir():
        raise InputError(f"{str(path)!r} is not a sweep results folder (no summary/ inside).")
    return path


def load_summary(path: str | Path) -> pd.DataFrame:
    """One row per finished run (``DIR/summary``), with its parameters and metrics."""
    return _read_dir(_check_dir(path) / "summary")


def load_series(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run and output time (``DIR/series``); ``columns`` restricts what is read."""
    return _read_dir(_check_dir(path) / "series", columns)


def varying(df: pd.DataFrame, exclude: Sequence[str] = ("seed",)) -> list[str]:
    """Parameter columns (simulation and ``pp_*``) that take more than one value in ``df``."""
    names = list(param_names()) + ["preset"] + [c for c in df.columns if c.startswith("pp_")]
    return [c for c in names if c in df.columns and c not in exclude
            and df[c].nunique(dropna=False) > 1]


def _groups(df: pd.DataFrame, by: Sequence[str] | None) -> list[str]:
    if by is None:
        by = varying(df)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise InputError(f"Unknown column {missing[0]!r} to group by.")
    return list(by)


# --- drift ------------------------------------------------------------------------------

def error_curves(series: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, standard error and count over seeds of ``tv·√N`` at each output time per group."""
    by = _groups(series, by)
    g = series.groupby([*by, "t"], sort=True, dropna=False)["tv_sqrtN"]
    out = g.agg(mean="mean", std="std", runs="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["runs"])
    return out


def _slope(logt: np.ndarray, logy: np.ndarray) -> tuple[float, float]:
    A = np.vstack([logt, np.ones_like(logt)]).T
    (alpha, c), *_ = np.linalg.lstsq(A, logy, rcond=None)
    return float(alpha), float(c)


def drift_fit(series: pd.DataFrame, by: Sequence[str] | None = None, t_min: float = 1.0,
              n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Fit ``mean over seeds of tv·√N = A t^alpha`` for ``t >= t_min`` in each group.

    PHYSICS.md §3: the real ensemble's error grows roughly like √(t/N) (alpha ≈ 1/2, and
    tv·√N curves for different N collapse), Bell's stays flat (alpha ≈ 0).

    Parameters
    ----------
    series : DataFrame
        From :func:`load_series` (needs ``key``, ``seed``, ``t``, ``tv_sqrtN``).
    by : list of str, optional
        Group columns (default: every parameter that varies, except the seed).
    t_min : float
        Earliest time used (the initial counts are apportioned, not sampled).
    n_boot : int
        Bootstrap resamples over seeds for the error of alpha.

    Returns
    -------
    DataFrame
        One row per group: ``alpha``, ``alpha_err`` (bootstrap standard deviation),
        ``A``, ``runs`` (seeds), ``t_min``, ``t_max``.
    """
    by = _groups(series, by)
    rng = np.random.default_rng(seed)
    rows = []
    for gkey, g in series[series["t"] >= t_min].groupby(by, sort=True, dropna=False):
        wide = g.pivot_table(index="key", columns="t", values="tv_sqrtN")
        Y = wide.to_numpy(dtype=float)  # (runs, times)
        t = wide.columns.to_numpy(dtype=float)
        ok = t > 0
        Y, t = Y[:, ok], t[ok]
        row = dict(zip(by, gkey if isinstance(gkey, tuple) else (gkey,), strict=True))
        row.update(runs=len(Y), t_min=float(t.min()) if len(t) else np.nan,
                   t_max=float(t.max()) if len(t) else np.nan)
        mean = np.nanmean(Y, axis=0) if len(Y) else np.array([])
        if len(t) < 2 or not np.all(mean > 0):
            row.update(alpha=np.nan, alpha_err=np.nan, A=np.nan)
            rows.append(row)
            continue
        alpha, c = _slope(np.log(t), np.log(mean))
        boots = []
        for _ in range(n_boot if len(Y) > 1 else 0):
            m = np.nanmean(Y[rng.integers(0, len(Y), len(Y))], axis=0)
            if np.all(m > 0):
                boots.append(_slope(np.log(t), np.log(m))[0])
        row.update(alpha=alpha, alpha_err=float(np.std(boots, ddof=1)) if len(boots) > 1
                   else np.nan, A=math.exp(c))
        rows.append(row)
    return pd.DataFrame(rows)


# --- absorption -------------------------------------------------------------------------

def wilson_interval(k: np.ndarray | int, n: np.ndarray | int, z: float = 1.96):
    """Wilson score interval for a binomial proportion k/n (95 % for z = 1.96)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def absorption_probability(summary: pd.DataFrame, by: Sequence[str] | None = None,
                           z: float = 1.96) -> pd.DataFrame:
    """Probability that a run falls into an empty class, per group, with Wilson intervals.

    Returns one row per group: ``runs``, ``absorbed``, ``prob``, ``lo``, ``hi`` and the
    median ``absorption_time`` of the absorbed runs.
    """
    by = _groups(summary, by)
    g = summary.groupby(by, sort=True, dropna=False)
    out = g.agg(runs=("absorbed", "size"), absorbed=("absorbed", "sum"),
                median_time=("absorption_time", "median")).reset_index()
    out["absorbed"] = out["absorbed"].astype(int)
    out["prob"] = out["absorbed"] / out["runs"]
    out["lo"], out["hi"] = wilson_interval(out["absorbed"].to_numpy(), out["runs"].to_numpy(), z)
    return out


# --- the Bell baseline ------------------------------------------------------------------

def compare_with_bell(summary: pd.DataFrame, metric: str = "max_tv_sqrtN",
                      by: Sequence[str] | None = None) -> pd.DataFrame:
    """The real ensemble's ``metric`` against Bell's at the same parameters.

    Bell runs (``mode == 'bell'``) are matched to the other modes' runs on ``by`` (default:
    every varying parameter except mode, seed and the parameters Bell ignores: r, f, gamma).
    Returns one row per group and mode: mean and standard error of ``metric`` for the mode
    and for Bell, and their ratio.
    """
    if "mode" not in summary.columns or not (summary["mode"] == "bell").any():
        raise InputError("The results hold no Bell runs (mode bell) to compare with.")
    if metric not in summary.columns:
        raise InputError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    ignored = ("seed", "mode", "r", "f", "gamma", "phases", "potential", "normalisation",
               "init_phases", "phase_noise")
    by = list(by) if by is not None else varying(summary, exclude=ignored)
    stats = (summary.groupby([*by, "mode"], sort=True, dropna=False)[metric]
             .agg(mean="mean", std="std", runs="count").reset_index())
    stats["sem"] = stats["std"] / np.sqrt(stats["runs"])
    bell = stats[stats["mode"] == "bell"].drop(columns=["mode", "std"])
    bell = bell.rename(columns={"mean": "bell_mean", "sem": "bell_sem", "runs": "bell_runs"})
    other = stats[stats["mode"] != "bell"].drop(columns=["std"])
    out = other.merge(bell, on=by, how="left") if by else other.merge(bell, how="cross")
    out["ratio"] = out["mean"] / out["bell_mean"]
    return out


def deviation_grid(summary: pd.DataFrame, x: str, y: str, metric: str = "max_tv_sqrtN",
                   where: dict | None = None) -> pd.DataFrame:
    """Mean of ``metric`` over everything but ``x`` and ``y`` (the heatmap of a study)."""
    for c in (x, y, metric):
        if c not in summary.columns:
            raise InputError(f"Unknown column {c!r} in the results.")
    df = summary
    for k, v in (where or {}).items():
        df = df[df[k] == v]
    return df.groupby([x, y], sort=True, dropna=False)[metric].mean().reset_index()


def preset_values(summary: pd.DataFrame) -> list[dict]:
    """The distinct preset parameter sets in the results (decoded from JSON)."""
    return [json.loads(s) for s in sorted(summary["preset_values"].unique())]


# --- paired runs (signalling) -------------------------------------------------------------

def paired_difference(series: pd.DataFrame, base: dict, other: dict,
                      by: Sequence[str] | None = None, part: int = 0, value: int = 0,
                      z: float = 3.0) -> pd.DataFrame:
    """Signalling from a sweep of paired runs: part ``part``'s marginal n/N of ``value``,
    ``other`` arm minus ``base`` arm, the statistic of engine/tools/signalling.py.

    A study expresses the pairs with ``runs:`` (one entry per arm, e.g. Bob idle with
    ``preset_params: {coupling_B: 0}`` and Bob driven with ``{}``) crossed with a shared
    ``grid`` and ``seeds``, so both arms of a pair have the same seed and parameters.

    Parameters
    ----------
    series : DataFrame
        :func:`load_series` of a composite preset (columns ``n``, ``N``, ``t``, ``seed``).
    base, other : dict
        Column values that select each arm's rows, e.g. ``{"pp_coupling_B": 0.0}``.
    by : list of str, optional
        Groups (default: every varying parameter except seed and the arms' columns).
    part, value : int
        The part (0 = A) and the value of its marginal that is compared.
    z : float
        Half-width of the interval in standard errors over the pairs.

    Returns
    -------
    DataFrame
        One row per group: ``max_delta`` (the mean difference where its size is largest over
        t), ``lo``, ``hi``, ``t`` and ``pairs``.
    """
    from ..core.composite import marginals
    from ..core.presets import build

    arms = []
    for sel in (base, other):
        mask = np.ones(len(series), bool)
        for k, v in sel.items():
            if k not in series.columns:
                raise InputError(f"Unknown column {k!r} to select an arm by.")
            mask &= (series[k] == v).to_numpy()
        if not mask.any():
            raise InputError(f"No runs match the arm {sel}.")
        arms.append(series[mask])
    skip = {"seed", *base, *other, "preset_values"}
    by = list(by) if by is not None else varying(series, exclude=tuple(skip))
    row = arms[0].iloc[0]
    parts = build(row["preset"], **json.loads(row["preset_values"])).extra.get("parts")
    if not parts:
        raise InputError(f"Preset {row['preset']!r} is not a composite system.")
    x = []
    for df in arms:
        m = marginals(np.stack(df["n"].to_numpy()), list(parts))[part][:, value]
        x.append(df[[*by, "seed", "t"]].assign(x=m / df["N"].to_numpy()))
    keys = [*by, "seed", "t"]
    pair = x[0].merge(x[1], on=keys, suffixes=("_base", "_other"), how="outer")
    if pair[["x_base", "x_other"]].isna().any().any():
        raise InputError("Some runs have no partner in the other arm (same seed and "
                         "parameters); check the study's runs and grid.")
    pair["d"] = pair["x_other"] - pair["x_base"]
    stats = (pair.groupby([*by, "t"], sort=True, dropna=False)["d"]
             .agg(mean="mean", std="std", pairs="count").reset_index())
    stats["sem"] = stats["std"] / np.sqrt(stats["pairs"])
    rows = []
    for key, g in (stats.groupby(by, sort=True, dropna=False) if by else [((), stats)]):
        k = int(np.argmax(np.abs(g["mean"].to_numpy())))
        r = g.iloc[k]
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "max_delta": float(r["mean"]), "lo": float(r["mean"] - z * r["sem"]),
                     "hi": float(r["mean"] + z * r["sem"]), "t": float(r["t"]),
                     "pairs": int(r["pairs"])})
    return pd.DataFrame(rows)
