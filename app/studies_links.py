"""From a study to a live run: the dashboard address of one stored run (no Panel here).

The dashboard reads its settings from the address (``app.url.read_link``): ``preset``,
``pv`` (the preset's values as JSON) and the simulation parameters marked ``url`` in
``engine.core.params.CONTROLS``. :func:`live_link` writes every one of them from a row of a
sweep's summary (engine/studies/tables.py), so the live run starts from the stored run's preset,
parameters and seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from real_ensemble_lab.engine.core.params import CONTROLS, SimParams, param_names

#: Simulation parameters the dashboard takes from its address (``CONTROLS[k].url``).
LINK_PARAMS = tuple(k for k in param_names() if CONTROLS[k].url)
#: Parameters that change the live run but that the address cannot carry: a run whose
#: value differs from the dashboard's default is flagged by :func:`link_gaps`.
NOT_CARRIED = tuple(k for k in param_names() if not CONTROLS[k].url and k != "t_end")


def _value(v: Any) -> Any:
    """A summary cell as a plain Python value (numpy scalars from pandas rows)."""
    return v.item() if hasattr(v, "item") else v


def _text(v: Any) -> str:
    v = _value(v)
    if isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"a parameter value is not finite: {v!r}")
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    return str(v)


def preset_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The run's preset values: the summary's ``preset_values`` JSON, or a mapping."""
    pv = row.get("preset_values", {})
    return json.loads(pv) if isinstance(pv, str) else dict(pv or {})


def live_link(row: Mapping[str, Any], base: str = "") -> str:
    """The dashboard address that opens the run of ``row`` live.

    Parameters
    ----------
    row : mapping
        A row of a sweep summary (or series): ``preset``, ``preset_values`` and the
        simulation parameters as columns.
    base : str
        Address of the dashboard (default: none, so the link keeps the page's own path,
        e.g. ``/app``, and adds the query).

    Returns
    -------
    str
        ``base?preset=..&pv={..}&mode=..&N=..&...&seed=..``, values URL-encoded.
    """
    query: list[tuple[str, str]] = [
        ("preset", str(row["preset"])),
        ("pv", json.dumps(preset_values(row), sort_keys=True, separators=(",", ":"))),
    ]
    query += [(k, _text(row[k])) for k in LINK_PARAMS if k in row]
    return f"{base}?{urlencode(query, quote_via=quote, safe=',:')}"


def link_gaps(row: Mapping[str, Any]) -> list[str]:
    """Parameters of ``row`` that the link cannot carry and that differ from the defaults
    (the live run then differs from the stored one); empty for most studies."""
    out = []
    for k in NOT_CARRIED:
        if k in row and _value(row[k]) != SimParams.param[k].default:
            out.append(f"{k} = {_text(row[k])}")
    return out
