"""Signalling: ``python -m engine signalling --preset two_qubits ...`` (paper §VI).

Two ensembles start from the same state with the same seed (common random numbers): one
with Bob idle (his local Hamiltonian switched off), one with Bob's local Hamiltonian as the
preset sets it. Alice's marginal n_A0 / N is followed in both. Quantum mechanics forbids a
difference without an interaction; the ensemble reproduces that at r = -1/2 only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.composite import marginals, parts_of
from ..core.errors import InputError
from ..core.exact import ExactEvolution
from ..core.hamiltonian import Hamiltonian
from ..core.params import SimParams, make_params, params_dict
from ..core.protocol import Protocol, Segment, measurement_segment

#: Bob's local parameters, switched off in the idle run.
BOB_IDLE = {"detuning_B": 0.0, "coupling_B": 0.0, "delta_B": 0.0}
#: Half-width of the reported interval in standard errors over seeds.
CI_SE = 3.0


@dataclass
class SignallingPlan:
    """What every pair of runs needs (picklable: pairs may go to Dask workers).

    ``hams`` are Bob idle and Bob driven, from one initial state."""

    hams: list[Hamiltonian]
    parts: list[int]
    seeds: int
    seed0: int
    base: dict[str, Any]
    t_free: float = 0.0  # end of the free evolution (Alice's pulse follows it, if any)
    protocol: Protocol | None = None  # free evolution, then Alice's measurement pulse
    alice_angle: float | None = None


def signalling_plan(preset: str, values: dict[str, Any], params: SimParams,
                    seeds: int = 8, bob: tuple[dict, dict] | None = None,
                    alice_angle: float | None = None, pulse: float = 1.0) -> SignallingPlan:
    """Check the inputs of :func:`signalling` and build its two Hamiltonians (no run).

    ``bob`` gives Bob's own parameters (keys ending in ``_B``) in the two arms; by default
    he is idle in the first and as ``values`` set him in the second. ``alice_angle`` adds
    Alice's measurement along the axis at that angle in the x-z plane (two qubits): after
    the free evolution a pulse of duration ``pulse`` turns it onto her beable basis."""
    from ..core.presets import build

    if seeds < 2:
        raise InputError("--seeds must be at least 2 to estimate the error.")
    arms = (BOB_IDLE, {}) if bob is None else tuple(bob)
    for arm in arms:
        for key in arm:
            if not key.endswith("_B"):
                raise InputError(f"Bob's operation may set only his own parameters (…_B), "
                                 f"not {key!r}.")
    parts = parts_of(build(preset, **values))
    if not parts or len(parts) < 2:
        raise InputError(f"Preset {preset!r} is not a composite system with parts A and B.")
    built = [build(preset, **{**values, **arm}) for arm in arms]
    psi0 = built[0].with_admixture(params.admixture).psi0  # one initial state for both
    hams = [Hamiltonian.from_matrix(h.H, psi0, labels=h.labels, name=h.name, extra=h.extra)
            for h in built]
    base = {**params_dict(params), "admixture": 0.0}
    protocol = None
    if alice_angle is not None:
        if parts != [2, 2]:
            raise InputError("Alice's measurement pulse is defined for two qubits only.")
        steps = pulse / params.dt_out
        if not math.isfinite(steps) or steps < 1 or abs(steps - round(steps)) > 1e-9:
            raise InputError(f"Alice's measurement pulse must last a whole number of output "
                             f"steps (dt_out = {params.dt_out:g}), not {pulse:g}.")
        protocol = Protocol([Segment(params.t_end, None, "free"),
                             measurement_segment(float(alice_angle), 0.0, pulse)])
        base["t_end"] = params.t_end + pulse
    return SignallingPlan(hams=hams, parts=list(parts), seeds=seeds, seed0=params.seed,
                          base=base, t_free=float(params.t_end), protocol=protocol,
                          alice_angle=alice_angle)


def signalling_run(plan: SignallingPlan, i: int, j: int) -> np.ndarray:
    """Alice's marginal n_A0 / N over time in run ``j`` (0: Bob idle, 1: driven) of seed
    ``plan.seed0 + i`` (her measurement pulse, if any, at the end)."""
    from ..core.simulate import simulate

    run = simulate(plan.hams[j], make_params(**{**plan.base, "seed": plan.seed0 + i}),
                   protocol=plan.protocol)
    return marginals(run.n, plan.parts)[0][:, 0] / plan.base["N"]


def _exact_alice(plan: SignallingPlan, ham: Hamiltonian, t: np.ndarray) -> np.ndarray:
    """Alice's exact marginal |psi|^2 summed over Bob at the times t, through her pulse."""
    exact = ExactEvolution.of(ham)
    p = exact.prob(np.minimum(t, plan.t_free))
    if plan.protocol is not None:
        pulse = plan.protocol.segments[1]
        after = t > plan.t_free + 1e-12
        p[after] = ExactEvolution(pulse.H, exact.psi(plan.t_free)).prob(
            t[after] - plan.t_free)
    return marginals(p, plan.parts)[0][:, 0]


def signalling_seed(plan: SignallingPlan, i: int) -> np.ndarray:
    """One pair's difference of Alice's marginal (driven minus idle) over time, seed i."""
    xA = [signalling_run(plan, i, j) for j in range(2)]
    return xA[1] - xA[0]


def signalling_from_seeds(plan: SignallingPlan, deltas) -> dict[str, Any]:
    """:func:`signalling`'s result from each seed's difference series (in order of seed)."""
    from ..core.simulate import output_times

    seeds = plan.seeds
    delta = np.array(deltas)
    mean, se = delta.mean(axis=0), delta.std(axis=0, ddof=1) / math.sqrt(seeds)
    params = plan.base
    t = output_times(params["t_end"], params["dt_out"])
    free = t <= plan.t_free + 1e-9  # the largest difference is taken over the free part
    k = int(np.argmax(np.where(free, np.abs(mean), -1.0)))
    pA = [_exact_alice(plan, h, t) for h in plan.hams]
    out = {"max_delta": float(mean[k]),
           "ci": [float(mean[k] - CI_SE * se[k]), float(mean[k] + CI_SE * se[k])],
           "t": float(t[k]), "N": int(params["N"]), "r": float(params["r"]), "seeds": seeds,
           "qm_max_delta": float(np.abs(pA[1] - pA[0])[free].max())}
    if plan.protocol is not None:  # Alice's outcome after her pulse, at the last time
        out["measured"] = {"angle": plan.alice_angle, "delta": float(mean[-1]),
                           "ci": [float(mean[-1] - CI_SE * se[-1]),
                                  float(mean[-1] + CI_SE * se[-1])],
                           "qm_delta": float(pA[1][-1] - pA[0][-1])}
    return out


def signalling(preset: str, values: dict[str, Any], params: SimParams, seeds: int = 8,
               progress: Callable[[int, int], None] | None = None,
               bob: tuple[dict, dict] | None = None, alice_angle: float | None = None,
               pulse: float = 1.0) -> dict[str, Any]:
    """Largest difference of Alice's marginal between Bob idle and Bob driven.

    Parameters
    ----------
    preset : str
        A composite preset with parts A and B (two_qubits, three_qubits).
    values : dict
        Preset parameters; Bob's local ones drive him in the second run.
    params : SimParams
        Ensemble parameters (t_end, dt_out, N, r, ...); seeds params.seed, +1, ...
    seeds : int
        Pairs of runs (at least 2).
    progress : callable, optional
        Called as ``progress(done, total)`` after each of the ``2 * seeds`` runs.
    bob : (dict, dict), optional
        Bob's own parameters (``..._B``) in the two arms (default: idle, then as ``values``).
    alice_angle : float, optional
        Alice measures along this axis in the x-z plane after the free evolution, by a
        pulse of duration ``pulse`` (two qubits); the result then has ``measured``: the
        difference of her outcome frequency with its interval and the exact one.

    Returns
    -------
    dict
        ``max_delta`` (mean over seeds of n_A0/N driven minus idle, at the time where its
        size is largest), ``ci`` (max_delta +- 3 standard errors over seeds), ``t``,
        ``N``, ``r``, ``seeds`` and ``qm_max_delta`` (the exact largest difference).

    The work splits into :func:`signalling_plan`, :func:`signalling_seed` per seed
    (independent: they may run anywhere, e.g. on Dask workers) and
    :func:`signalling_from_seeds`.
    """
    plan = signalling_plan(preset, values, params, seeds, bob, alice_angle, pulse)
    delta = []
    for i in range(seeds):
        xA = []
        for j in range(2):
            xA.append(signalling_run(plan, i, j))
            if progress is not None:
                progress(2 * i + j + 1, 2 * seeds)
        delta.append(xA[1] - xA[0])
    return signalling_from_seeds(plan, delta)


def register(sub: Any) -> None:
    """Add the ``signalling`` sub-command to ``python -m engine``."""
    from .cli import add_param_options

    sp = sub.add_parser("signalling", help="does Bob's local Hamiltonian change Alice's "
                        "marginal?", description=__doc__.split("\n\n")[1].replace("\n", " "))
    sp.add_argument("--preset", default="two_qubits", help="composite preset (default: "
                    "two_qubits)")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                    help="preset parameter (repeatable)")
    sp.add_argument("--seeds", type=int, default=8, help="pairs of runs (default 8)")
    sp.add_argument("--bob-first", action="append", metavar="KEY=VALUE", default=None,
                    help="Bob's parameters (…_B) in the first arm (default: idle, "
                    "coupling_B=0, detuning_B=0)")
    sp.add_argument("--bob-second", action="append", metavar="KEY=VALUE", default=None,
                    help="Bob's parameters (…_B) in the second arm (default: the preset's)")
    sp.add_argument("--alice-angle", type=float, default=None, metavar="THETA",
                    help="Alice measures along the axis at THETA in the x-z plane after "
                    "t-end, by a pulse (two qubits; default: her beable basis, no pulse)")
    sp.add_argument("--pulse", type=float, default=1.0, help="duration of Alice's pulse "
                    "(a multiple of dt-out; default 1)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    add_param_options(sp, ["mode", "N", "r", "spectators", "admixture", "seed", "t_end",
                           "dt_out", "phase_tol", "jump_tol"])
    sp.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    from .cli import collect_params, parse_sets

    bob = None
    if ns.bob_first is not None or ns.bob_second is not None:
        bob = (parse_sets(ns.bob_first) if ns.bob_first is not None else BOB_IDLE,
               parse_sets(ns.bob_second or []))
    out = signalling(ns.preset, parse_sets(ns.set), make_params(**collect_params(ns)),
                     ns.seeds, bob=bob, alice_angle=ns.alice_angle, pulse=ns.pulse)
    if ns.json:
        print(json.dumps({k: out[k] for k in ("max_delta", "ci", "N", "r", "seeds",
                                              "qm_max_delta", "measured") if k in out}))
        return 0
    lo, hi = out["ci"]
    print(f"Alice's n_A0/N, Bob driven minus Bob idle: largest mean difference "
          f"{out['max_delta']:+.2e} at t = {out['t']:g}, interval [{lo:+.2e}, {hi:+.2e}] "
          f"(+-{CI_SE:g} standard errors, {out['seeds']} seeds, N = {out['N']}, "
          f"r = {out['r']:g}); quantum: {out['qm_max_delta']:.1e}")
    if "measured" in out:
        m = out["measured"]
        print(f"After Alice's measurement along {m['angle']:g}: difference {m['delta']:+.2e}, "
              f"interval [{m['ci'][0]:+.2e}, {m['ci'][1]:+.2e}]; quantum: "
              f"{m['qm_delta']:.1e}")
    return 0
