"""The single parameter spec for a simulation.

Every simulation parameter is declared once here (name, default, bounds, doc).
The engine validates against it, the command line builds its options from it,
the dashboard builds its widgets from it and sweeps check their grids with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import param

from .errors import InputError

MODES = ("population", "agents", "bell")
POTENTIALS = ("nematic", "polar")
NORMALISATIONS = ("mean-field", "paper")
INIT_PHASES = ("aligned", "random", "noisy")
PHASE_MODES = ("dynamic", "locked")
REFERENCES = ("initial", "own")
#: Largest N per engine mode in the interactive app (its slider and its URL): agents up to
#: 10^7 (one live session's memory and frame rate), population and bell up to 10^15.
N_MAX = {"agents": 10**7, "population": 10**15, "bell": 10**15}


class SimParams(param.Parameterized):
    """Parameters of one ensemble simulation (shared/PHYSICS.md §2-§4)."""

    mode = param.Selector(
        default="population",
        objects=list(MODES),
        doc="Engine: 'population' (counts and class phases, phases aligned), "
        "'agents' (every system with its own phase) or 'bell' (independent systems "
        "guided by the exact wavefunction, PHYSICS.md §6).",
    )
    N = param.Integer(
        default=100_000,
        bounds=(1, 10**15),
        doc="Number of systems in the ensemble (spectators not included).",
    )
    r = param.Number(
        default=-0.5,
        bounds=(-2.0, 2.0),
        doc="Exponent r of the phase law (B); only r = -1/2 reproduces quantum mechanics.",
    )
    spectators = param.Integer(
        default=0,
        bounds=(0, 10**6),
        doc="Spectators per beable value: members that never copy but can be copied "
        "(PHYSICS.md §3), so no class is ever empty.",
    )
    admixture = param.Number(
        default=0.0,
        bounds=(0.0, 1.0),
        doc="Admixture eps of the ground state: psi0 -> normalise(psi0 + eps*psi_ground), "
        "used by the ensemble and the exact reference alike.",
    )
    seed = param.Integer(default=1, bounds=(0, 2**53 - 1),
                         doc="Seed of the random generator (up to 2^53 - 1, exact in a browser).")
    t_end = param.Number(default=6.0, bounds=(0.0, 1e6), doc="Final time of a run.")
    dt_out = param.Number(
        default=0.1, bounds=(1e-6, 1e6), inclusive_bounds=(True, True),
        doc="Spacing of the output times.",
    )
    phase_tol = param.Number(
        default=0.01,
        bounds=(1e-6, 0.5),
        doc="Largest change of any relative phase in one step (radians).",
    )
    jump_tol = param.Number(
        default=0.02,
        bounds=(1e-6, 0.5),
        doc="Largest expected fraction of any class that jumps in one step.",
    )
    # --- agent engine: phase dynamics (PHYSICS.md §4) ---
    phases = param.Selector(
        default="dynamic",
        objects=list(PHASE_MODES),
        doc="'dynamic': every system's phase follows its own law; 'locked': phi_I = phi_a "
        "exactly (the f -> infinity limit).",
    )
    f = param.Number(
        default=0.0,
        bounds=(0.0, 100.0),
        doc="Frequency f of the phase-alignment potential (0 switches alignment off).",
    )
    gamma = param.Number(
        default=0.0,
        bounds=(0.0, 100.0),
        doc="Damping of the alignment momenta (0 in the paper; > 0 makes alignment an attractor).",
    )
    potential = param.Selector(
        default="nematic",
        objects=list(POTENTIALS),
        doc="Alignment potential: 'nematic' sin^2 (the paper's, two minima) or 'polar' 1 - cos.",
    )
    normalisation = param.Selector(
        default="mean-field",
        objects=list(NORMALISATIONS),
        doc="'mean-field' divides the potential by n_a (f is N-independent); 'paper' does not.",
    )
    init_phases = param.Selector(
        default="aligned",
        objects=list(INIT_PHASES),
        doc="Initial phases: aligned with psi0, uniformly random, or aligned plus noise.",
    )
    phase_noise = param.Number(
        default=0.3, bounds=(0.0, 10.0), doc="Width sigma of the Gaussian noise for 'noisy' phases."
    )
    reference = param.Selector(
        default="initial",
        objects=list(REFERENCES),
        doc="Exact reference: 'initial' evolves psi0; 'own' re-anchors once to the ensemble's "
        "own state psi_a = sqrt(n_a/N) e^{-i phibar_a} (phibar_a the circular mean phase of "
        "class a) when every occupied class's polar order reaches align_threshold at or after "
        "reanchor_at, and evolves that exactly (PHYSICS.md §4).",
    )
    align_threshold = param.Number(
        default=0.999, bounds=(0.0, 1.0),
        doc="Polar order |<e^{i phi}>_a| every occupied class must reach before the reference "
        "re-anchors (reference 'own'; 0 re-anchors at reanchor_at whatever the order). 0.999 "
        "is a phase spread of 0.045 rad; at 0.95 (0.32 rad) the comparison starts too early.",
    )
    reanchor_at = param.Number(
        default=0.0, bounds=(0.0, 1e6),
        doc="Earliest time at which the reference may re-anchor (reference 'own').",
    )
    tracked = param.Integer(
        default=5, bounds=(0, 64), doc="Number of tagged systems whose history is recorded."
    )

    # Parameters that may change while a simulation runs (the rest need a new ensemble).
    LIVE = ("r", "f", "gamma", "potential", "normalisation", "phase_tol", "jump_tol",
            "reference", "align_threshold", "reanchor_at")


@dataclass(frozen=True)
class Control:
    """How a parameter is shown and shared: one entry per SimParams parameter.

    ``label`` and ``unit`` name it on the page and in the command line's help; ``soft`` is
    the range a slider spans (the hard bounds stay SimParams' own, typed values may use
    them); ``step`` the slider's step (values from the page are rounded to it); ``group``
    the panel it sits in; ``url`` whether a share link carries it; ``modes`` the engine
    modes in which it has a meaning (empty: all).
    """

    label: str
    group: str
    unit: str = ""
    soft: tuple[float, float] | None = None
    step: float | None = None
    url: bool = True
    modes: tuple[str, ...] = ()

    def applies(self, mode: str) -> bool:
        return not self.modes or mode in self.modes


_AGENTS = ("agents",)
#: The page, share-link and help metadata of every simulation parameter.
CONTROLS: dict[str, Control] = {
    "mode": Control("Engine", "ensemble"),
    "N": Control("Ensemble size N", "ensemble", "systems"),
    "r": Control("Exponent r (quantum: −½)", "ensemble", soft=(-2.0, 2.0), step=0.01),
    "spectators": Control("Spectators per beable", "ensemble", "systems", soft=(0, 1000),
                          step=1),
    "admixture": Control("Admixture ε of the ground state", "ensemble", soft=(0.0, 1.0),
                         step=0.01),
    "seed": Control("Seed", "ensemble", step=1),
    "t_end": Control("Run length (command line)", "advanced", "time (ħ = 1)", url=False),
    "dt_out": Control("Output spacing Δt", "advanced", "time (ħ = 1)", step=0.001),
    "phase_tol": Control("Phase step tolerance", "advanced", "rad", step=1e-4, url=False),
    "jump_tol": Control("Jump step tolerance", "advanced", "fraction of a class", step=1e-4,
                        url=False),
    "phases": Control("Phases", "alignment", modes=_AGENTS),
    "f": Control("Alignment frequency f", "alignment", "1/time", soft=(0.0, 20.0),
                 step=0.1, modes=_AGENTS),
    "gamma": Control("Damping γ", "alignment", "1/time", soft=(0.0, 10.0), step=0.05,
                     modes=_AGENTS),
    "potential": Control("Potential", "alignment", modes=_AGENTS),
    "normalisation": Control("Normalisation", "alignment", modes=_AGENTS),
    "init_phases": Control("Initial phases", "alignment", modes=_AGENTS),
    "phase_noise": Control("Phase noise σ ('noisy' start)", "alignment", "rad",
                           soft=(0.0, 3.0), step=0.05, modes=_AGENTS),
    "reference": Control("Compare with", "alignment", modes=("agents", "population")),
    "align_threshold": Control("Re-anchor when every class's order reaches", "alignment",
                               soft=(0.0, 1.0), step=0.001, modes=("agents", "population")),
    "reanchor_at": Control("Re-anchor no earlier than", "advanced", "time (ħ = 1)",
                           soft=(0.0, 20.0), step=0.1, url=False),
    "tracked": Control("Tracked systems", "alignment", "systems", soft=(0, 8), step=1,
                       modes=_AGENTS),
}


def control(name: str) -> Control:
    return CONTROLS[name]


def quantize(name: str, value: Any) -> Any:
    """A value from a slider rounded to the parameter's step (-0.6000000000000001 -> -0.6),
    so the page, the link and the run all show its shortest form."""
    step = CONTROLS[name].step
    if step is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(SimParams.param[name], param.Integer):
        return int(round(value))
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return round(float(value), decimals)


def bounds_text(name: str) -> str:
    """'from 0 to 100 (1/time)': the hard bounds and unit, for help texts."""
    p, c = SimParams.param[name], CONTROLS[name]
    if getattr(p, "objects", None):
        return "one of " + ", ".join(map(str, p.objects))
    lo, hi = p.bounds
    unit = f" ({c.unit})" if c.unit else ""
    return f"from {lo:g} to {hi:g}{unit}"


def param_names() -> list[str]:
    """Names of all simulation parameters, in declaration order."""
    return [k for k in SimParams.param if k != "name"]


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (e.g. a command-line string) to the type of parameter ``name``."""
    p = SimParams.param[name]
    if isinstance(value, str):
        try:
            if isinstance(p, param.Integer):
                v = float(value)
                if not v.is_integer():
                    raise ValueError
                value = int(v)
            elif isinstance(p, param.Number):
                value = float(value)
        except ValueError:
            raise InputError(f"Parameter {name} must be a number, not {value!r}.") from None
    return value


def make_params(**values: Any) -> SimParams:
    """Build validated :class:`SimParams`; any problem is one :class:`InputError` sentence."""
    names = set(param_names())
    for k in values:
        if k not in names:
            raise InputError(f"Unknown parameter {k!r}; known parameters are {sorted(names)}.")
    clean = {}
    for k, v in values.items():
        v = coerce(k, v)
        p = SimParams.param[k]
        if isinstance(p, param.Number) and not isinstance(p, param.Integer):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InputError(f"Parameter {k} must be a finite number, not {v!r}.")
        if isinstance(p, param.Integer):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError(f"Parameter {k} must be an integer, not {v!r}.")
        if isinstance(p, param.Selector) and v not in p.objects:
            raise InputError(f"Parameter {k} must be one of {list(p.objects)}, not {v!r}.")
        if isinstance(p, param.Number) and p.bounds is not None:
            lo, hi = p.bounds
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise InputError(f"Parameter {k} = {v} is outside its bounds [{lo}, {hi}].")
        clean[k] = v
    _check_combination({**{k: SimParams.param[k].default for k in names}, **clean})
    return SimParams(**clean)


def _check_combination(v: dict[str, Any]) -> None:
    """Parameters that are valid alone but mean nothing together: one sentence each."""
    if v["mode"] == "bell" and v["spectators"] > 0:
        raise InputError("The Bell baseline takes no spectators: its systems never copy, so no "
                         "class can empty; set spectators to 0 or choose another mode.")
    if v["mode"] == "bell" and v["reference"] == "own":
        raise InputError("The Bell baseline is guided by psi(t) from psi0 and has no phases of "
                         "its own to re-anchor to; use reference 'initial'.")


def params_dict(p: SimParams) -> dict[str, Any]:
    """Plain dict of the parameter values (for metadata and sweeps)."""
    return {k: getattr(p, k) for k in param_names()}
