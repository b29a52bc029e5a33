"""A sweep run's identity: :class:`RunSpec` and its stable key, a hash of the run's full
parameters (preset, preset values and every simulation parameter). The key names the run's
files and decides, when a sweep is resumed, whether the run is done."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..core.params import SimParams, params_dict


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything needed to reproduce it, and its key."""

    key: str
    preset: str
    preset_values: dict[str, Any]
    params: dict[str, Any]


def canonical(params: SimParams) -> dict[str, Any]:
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
