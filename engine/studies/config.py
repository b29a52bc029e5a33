"""The sweep config (a YAML file, format in docs/studies.md): read it, check every run
against the one parameter spec (engine/core/params.py) and the preset specs
(assets/presets.yaml), and expand it into runs, all before any work starts."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.params import make_params, param_names
from .keys import RunSpec, canonical, run_key

#: Top-level keys of a sweep config.
CONFIG_KEYS = ("title", "description", "preset", "preset_params", "grid", "seeds", "runs",
               "t_end", "dt_out", "batch")
#: Keys of one entry of ``runs:``.
RUN_KEYS = ("preset", "preset_params")
#: Largest sweep config file read, and the most runs one sweep may have.
CONFIG_MAX_BYTES = 1 * 2**20
MAX_RUNS = 100_000


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
    from ..core.presets import check_preset_values

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

    from ..core._files import read_text

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
    from ..core.presets import build, check_preset_values, preset_names
    from ..core.simulate import output_times

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
                    build(preset, **values)
                    hams.add(hk)
                for gcombo in itertools.product(*gv):
                    sp = make_params(**{**sim, **dict(zip(gk, gcombo, strict=True))})
                    params = canonical(sp)
                    key = run_key(preset, values, params)
                    if key not in seen:
                        seen[key] = RunSpec(key, preset, values, params)
    specs = list(seen.values())
    for t_end, dt_out in sorted({(s.params["t_end"], s.params["dt_out"]) for s in specs}):
        output_times(t_end, dt_out)
    return specs
