"""Widgets built from the one spec: ``engine.SimParams`` with ``engine.core.params.CONTROLS``
for the simulation, the preset data for each preset's own parameters.

Every widget gets its label with the unit, its tooltip from the parameter's doc, its range
from the spec (a slider spans the soft range; typed values may go to the hard bounds), and
is bound both ways to its parameter. Restart parameters on sliders apply when the slider is
released (``value_throttled``); live ones while it moves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import panel as pn
import param

from real_ensemble_lab.engine import SimParams, preset_info
from real_ensemble_lab.engine.core.params import CONTROLS, N_MAX, quantize

from . import patches

MODE_LABELS = {
    "agents": "Agents: every system has its own phase",
    "population": "Population: counts and class phases",
    "bell": "Bell baseline: guided by the exact ψ",
}
REFERENCE_LABELS = {
    "exact from ψ₀": "initial",
    "the ensemble's own state once aligned": "own",
}
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_N(N: int) -> str:
    """1 000, 2×10⁵, 10⁷: the way the page writes N."""
    if N < 10**5:
        return f"{N:,}".replace(",", " ")
    k = int(math.floor(math.log10(N)))
    m = N / 10**k
    sup = str(k).translate(_SUP)
    return f"10{sup}" if abs(m - 1) < 1e-9 else f"{m:.3g}×10{sup}"


def n_options(mode: str) -> dict[str, int]:
    """N on a log scale: 10, 20, 50, 100, ... up to the mode's limit."""
    out: dict[str, int] = {}
    for k in range(1, 16):
        for m in (1, 2, 5):
            n = m * 10**k
            if n > N_MAX[mode]:
                return out
            out[fmt_N(n)] = n
    return out


def nearest_option(N: int, options: dict[str, int]) -> int:
    vals = np.array(list(options.values()), dtype=float)
    return int(vals[np.argmin(np.abs(np.log10(vals) - math.log10(max(N, 1))))])


def label_of(name: str) -> str:
    c = CONTROLS[name]
    return f"{c.label} ({c.unit})" if c.unit else c.label


def sim_widget(sim: SimParams, name: str) -> pn.widgets.Widget:
    """The one widget of SimParams parameter ``name``, bound both ways to ``sim``."""
    p, c = SimParams.param[name], CONTROLS[name]
    W = pn.widgets
    kw: dict[str, Any] = dict(label=label_of(name), description=p.doc,
                              sizing_mode="stretch_width", css_classes=[f"rel-w-{name}"])
    value = getattr(sim, name)
    if name == "mode":
        cls, args = W.Select, dict(options={MODE_LABELS[m]: m for m in p.objects})
    elif name == "reference":
        cls, args = W.Select, dict(options=REFERENCE_LABELS)
    elif isinstance(p, param.Selector):
        cls, args = W.Select, dict(options=list(p.objects))
    elif name == "N":
        opts = n_options(sim.mode)
        cls, args = W.DiscreteSlider, dict(options=opts)
        value = nearest_option(value, opts)
    elif isinstance(p, param.Number):
        lo, hi = p.bounds
        integer = isinstance(p, param.Integer)
        step = c.step or (1 if integer else 0.01)
        if c.soft is not None:
            cls = W.EditableIntSlider if integer else W.EditableFloatSlider
            args = dict(start=c.soft[0], end=c.soft[1], fixed_start=lo, fixed_end=hi,
                        step=step)
        else:
            cls = W.IntInput if integer else W.FloatInput
            args = dict(start=lo, end=hi, step=step)
    else:  # pragma: no cover - every parameter is one of the above
        raise TypeError(f"No widget for parameter {name}.")
    # sliders take no description: with_help puts the tooltip beside them
    w = cls(value=value, **args, **{k: v for k, v in kw.items() if k in cls.param})
    if name == "N":
        sim.param.watch(lambda e: _n_for_mode(w, sim), "mode")
    _bind(w, sim, name)
    return w


def _n_for_mode(w: pn.widgets.DiscreteSlider, sim: SimParams) -> None:
    opts = n_options(sim.mode)
    value = nearest_option(min(sim.N, N_MAX[sim.mode]), opts)
    w.param.update(options=opts, value=value)
    if sim.N != value:
        sim.N = value


def _bind(w: pn.widgets.Widget, sim: SimParams, name: str) -> None:
    live = name in SimParams.LIVE
    event = "value" if live or "value_throttled" not in w.param else "value_throttled"

    # Both ways compare values rounded to the step: a slider sends -0.45000000000000007,
    # the spec keeps -0.45, and comparing the raw values sent each back to the other until
    # Python's recursion limit (seconds per key press, 2026-12-02).
    def to_sim(e):
        if e.new is None:
            return
        new = quantize(name, e.new)
        if getattr(sim, name) != new:
            setattr(sim, name, new)

    def to_widget(e):
        new = e.new
        if name == "N":
            new = nearest_option(new, w.options)
        if w.value != new:
            w.value = new

    if live:  # handled as they come (Panel merges what arrives meanwhile; the controller
        patches.undebounced(w)  # sends the latest once per tick)
    w.param.watch(to_sim, event)
    sim.param.watch(to_widget, name)


def preset_widget(preset: str, key: str, value: Any, on_change) -> pn.widgets.Widget:
    """The widget of one preset parameter, from the preset data (label, unit, tooltip)."""
    spec = preset_info(preset)["params"][key]
    unit = spec.get("unit")
    kw: dict[str, Any] = dict(label=f"{key} ({unit})" if unit else key,
                              description=spec.get("doc"), sizing_mode="stretch_width",
                              css_classes=[f"rel-pv-{key}"])
    if "objects" in spec:
        w = pn.widgets.Select(options=list(spec["objects"]), value=value, **kw)
    elif spec.get("integer"):
        lo, hi = spec["bounds"]
        kw.pop("description")
        w = pn.widgets.EditableIntSlider(start=int(lo), end=int(min(hi, 256)),
                                         fixed_start=int(lo), fixed_end=int(hi),
                                         value=int(value), **kw)
    else:
        lo, hi = spec["bounds"]
        step = 10 ** math.floor(math.log10((hi - lo) / 200))
        kw.pop("description")
        w = pn.widgets.EditableFloatSlider(start=lo, end=hi, fixed_start=lo, fixed_end=hi,
                                           step=step, value=float(value), **kw)
    event = "value_throttled" if "value_throttled" in w.param else "value"
    w.param.watch(lambda e: on_change(key, e.new) if e.new is not None else None, event)
    return w


def with_help(w: pn.widgets.Widget, doc: str | None) -> pn.viewable.Viewable:
    """The widget with its tooltip: its own where it takes one, else an (i) icon beside."""
    if "description" in w.param or not doc:
        return w
    return pn.Row(w, pn.widgets.TooltipIcon(value=doc, margin=(28, 4, 0, 0)),
                  sizing_mode="stretch_width")


def help_of(name: str) -> str:
    return SimParams.param[name].doc
