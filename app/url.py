"""Share links: the page's settings to and from a query string (no Panel here).

Reading a link never fails: every value is checked against the one spec
(``engine.SimParams``, the preset's own parameters, the lesson list); a value that cannot
be used is replaced (the nearest bound, or the default) and a notice names the parameter
and what was used instead. Writing a link gives every number its shortest exact form and
carries a hand-edited H and psi0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import param

from real_ensemble_lab.engine import InputError, SimParams, preset_info, preset_names
from real_ensemble_lab.engine.core.params import CONTROLS, N_MAX, coerce, param_names
from real_ensemble_lab.engine.tools import lessons as lesson_data

#: The app's own settings (not simulation parameters) and their bounds.
SPEED_BOUNDS = (0.05, 20.0)
DEFAULT_PRESET = "two_level"
APP_KEYS = ("preset", "pv", "speed", "lesson", "present", "H", "psi0")
#: Longest query string read (a 12 x 12 complex matrix fits comfortably).
MAX_QUERY = 20_000


@dataclass
class Link:
    """What a link asks for, already checked: apply it as is."""

    sim: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    preset_values: dict[str, Any] = field(default_factory=dict)
    speed: float | None = None
    lesson: str | None = None
    present: bool | None = None
    H: np.ndarray | None = None
    psi0: np.ndarray | None = None
    notices: list[str] = field(default_factory=list)


def _num(v: float) -> str:
    """Shortest text that reads back as the same float (repr), integers without '.0'."""
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)


def fmt_complex(z: complex) -> str:
    re_, im = float(np.real(z)), float(np.imag(z))
    if im == 0.0:
        return _num(re_)
    if re_ == 0.0:
        return f"{_num(im)}i"
    return f"{_num(re_)}{'+' if im > 0 else '-'}{_num(abs(im))}i"


def matrix_text(H: np.ndarray) -> str:
    """Rows separated by ';', entries by ',' (complex as 0.3-0.2i)."""
    return ";".join(",".join(fmt_complex(z) for z in row) for row in np.atleast_2d(H))


def parse_matrix(text: str, where: str) -> np.ndarray:
    from real_ensemble_lab.app.matrix import parse_complex  # the editor's own cell parser

    rows = [r for r in text.split(";") if r.strip()]
    out = [[parse_complex(c, f"{where}[{i}][{j}]") for j, c in enumerate(r.split(","))]
           for i, r in enumerate(rows)]
    if not out or len({len(r) for r in out}) != 1:
        raise InputError(f"{where} must have rows of equal length.")
    return np.asarray(out, dtype=complex)


def _check_sim(key: str, raw: str, mode: str, notices: list[str]) -> Any:
    """One simulation parameter from a link: its value, or the replacement with a notice."""
    spec = SimParams.param[key]
    default = spec.default
    label = CONTROLS[key].label
    try:
        value = coerce(key, raw)
        if isinstance(spec, param.Selector):
            if value not in spec.objects:
                raise InputError(f"must be one of {', '.join(map(str, spec.objects))}")
            return value
        if isinstance(spec, param.Number) and not math.isfinite(float(value)):
            raise InputError("must be a finite number")
    except InputError as err:
        why = str(err).rstrip(".")
        why = why[why.find("must"):] if "must" in why else why
        notices.append(f"{label}: {key}={raw} from the link {why}, so {_readable(default)} "
                       f"(the default) is used instead.")
        return default
    lo, hi = spec.bounds
    if key == "N":
        hi = N_MAX[mode]
    if value < lo or value > hi:
        used = lo if value < lo else hi
        notices.append(f"{label}: {key}={raw} from the link is outside {_readable(lo)} to "
                       f"{_readable(hi)}{' in the ' + mode + ' mode' if key == 'N' else ''}, "
                       f"so {_readable(used)} is used instead.")
        return used
    return value


def _num_or(v: Any) -> str:
    return _num(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def _readable(v: Any) -> str:
    """A number as a person reads it in a notice: exact, a power of ten from 10^6 up as
    10ⁿ, other large whole numbers with thousands separators."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return str(v)
    if float(v).is_integer() and 1e4 <= abs(v) < 1e16:
        n = int(v)
        k = len(str(abs(n))) - 1
        if abs(n) == 10**k and k >= 6:
            return ("−" if n < 0 else "") + "10" + str(k).translate(_SUPERSCRIPT)
        return f"{n:,}"
    return _num(v)


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def read_link(search: str, mode: str | None = None) -> Link:
    """Parse a query string (``?a=1&b=2`` or ``a=1&b=2``) into checked settings; ``mode``
    is the engine mode in force when the link names none (its N cap applies)."""
    link = Link()
    text = search[1:] if search.startswith("?") else search
    if len(text) > MAX_QUERY:
        link.notices.append(f"The link is {len(text)} characters long, more than the "
                            f"{MAX_QUERY} this lab reads; it was ignored.")
        return link
    raw = dict(parse_qsl(text, keep_blank_values=True))
    names = set(param_names())
    for key in raw:
        if key not in names and key not in APP_KEYS:
            link.notices.append(f"The link's '{key}' is not a setting of this lab; it was "
                                f"ignored.")
    mode = _check_sim("mode", raw["mode"], "population", link.notices) if "mode" in raw \
        else (mode or SimParams.param.mode.default)
    for key in param_names():
        if key in raw and CONTROLS[key].url:
            link.sim[key] = mode if key == "mode" else _check_sim(key, raw[key], mode,
                                                                  link.notices)
    if "lesson" in raw and raw["lesson"]:
        if raw["lesson"] in lesson_data.lesson_names():
            link.lesson = raw["lesson"]
        else:
            link.notices.append(f"Lesson: lesson={raw['lesson']} from the link is not a "
                                f"lesson here, so no lesson is opened.")
    if "preset" in raw:
        if raw["preset"] in preset_names():
            link.preset = raw["preset"]
        else:
            link.notices.append(f"Preset: preset={raw['preset']} from the link is not a "
                                f"preset here, so the default preset is used instead.")
    if "pv" in raw:
        link.preset_values = _read_preset_values(raw["pv"], link.preset, link.notices)
    if "speed" in raw:
        link.speed = _read_speed(raw["speed"], link.notices)
    if "present" in raw:
        link.present = raw["present"].lower() in ("true", "1", "yes", "on")
    for key in ("H", "psi0"):
        if key in raw:
            try:
                m = parse_matrix(raw[key], key)
                setattr(link, key, m if key == "H" else m.ravel())
            except InputError as err:
                link.notices.append(f"{err} The link's {key} was ignored.")
    return link


def _read_speed(raw: str, notices: list[str]) -> float:
    lo, hi = SPEED_BOUNDS
    try:
        v = float(raw)
        if not math.isfinite(v):
            raise ValueError
    except ValueError:
        notices.append(f"Speed: speed={raw} from the link is not a number, so 1 is used "
                       f"instead.")
        return 1.0
    if not lo <= v <= hi:
        used = min(max(v, lo), hi)
        notices.append(f"Speed: speed={raw} from the link is outside {_num(lo)} to "
                       f"{_num(hi)} time units per second, so {_num(used)} is used instead.")
        return used
    return v


def _read_preset_values(raw: str, preset: str | None, notices: list[str]) -> dict[str, Any]:
    name = preset or DEFAULT_PRESET
    try:
        values = json.loads(raw)
        if not isinstance(values, dict):
            raise ValueError
    except ValueError:
        notices.append(f"Preset values: pv={raw} from the link is not a JSON object such as "
                       '{"omega": 1}; the preset\'s defaults are used instead.')
        return {}
    specs = preset_info(name)["params"]
    out: dict[str, Any] = {}
    for key, v in values.items():
        if key not in specs:
            notices.append(f"Preset values: the preset '{name}' has no parameter '{key}'; "
                           f"it was ignored (its parameters: {', '.join(specs)}).")
            continue
        spec = specs[key]
        if "objects" in spec:
            if v in spec["objects"]:
                out[key] = v
            else:
                notices.append(f"Preset values: {key}={v} is not one of "
                               f"{', '.join(map(str, spec['objects']))}; the default "
                               f"{spec['default']} is used instead.")
            continue
        try:
            x = float(v)
            if not math.isfinite(x):
                raise ValueError
        except (TypeError, ValueError):
            notices.append(f"Preset values: {key}={v} is not a number; the default "
                           f"{spec['default']} is used instead.")
            continue
        lo, hi = spec["bounds"]
        if not lo <= x <= hi:
            used = min(max(x, lo), hi)
            notices.append(f"Preset values: {key}={_num(x)} from the link is outside "
                           f"{_num(lo)} to {_num(hi)}, so {_num(used)} is used instead.")
            x = used
        out[key] = int(round(x)) if spec.get("integer") else x
    return out


def write_link(sim: dict[str, Any], preset: str, preset_values: dict[str, Any],
               speed: float, lesson: str = "", present: bool = False,
               H: np.ndarray | None = None, psi0: np.ndarray | None = None) -> str:
    """The query string (without '?') for these settings: only what differs from the
    defaults, numbers in their shortest exact form."""
    q: dict[str, str] = {}
    if lesson:
        q["lesson"] = lesson
    if preset != DEFAULT_PRESET:
        q["preset"] = preset
    for key, v in sim.items():
        if CONTROLS[key].url and v != SimParams.param[key].default:
            q[key] = _num_or(v)
    if preset_values:
        q["pv"] = json.dumps({k: (float(_num(v)) if isinstance(v, float) else v)
                              for k, v in preset_values.items()}, separators=(",", ":"))
    if speed != 1.0:
        q["speed"] = _num(speed)
    if present:
        q["present"] = "true"
    if H is not None:
        q["H"] = matrix_text(H)
    if psi0 is not None:
        q["psi0"] = matrix_text(np.asarray(psi0)[None, :])
    return urlencode(q, safe=",;:{}[]\"")
