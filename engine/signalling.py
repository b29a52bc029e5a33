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

from .composite import marginals, parts_of
from .errors import InputError
from .exact import ExactEvolution
from .hamiltonian import Hamiltonian
from .params import SimParams, make_params, params_dict

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


def signalling_plan(preset: str, values: dict[str, Any], params: SimParams,
                    seeds: int = 8) -> SignallingPlan:
    """Check the inputs of :func:`signalling` and build its two Hamiltonians (no run)."""
    from .presets import build

    if seeds < 2:
        raise InputError("--seeds must be at least 2 to estimate the error.")
    driven = build(preset, **values)
    if not parts_of(driven) or len(parts_of(driven)) < 2:
        raise InputError(f"Preset {preset!r} is not a composite system with parts A and B.")
    idle = build(preset, **{**values, **BOB_IDLE})
    psi0 = idle.with_admixture(params.admixture).psi0  # one initial state for both
    hams = [Hamiltonian.from_matrix(h.H, psi0, labels=h.labels, name=h.name, extra=h.extra)
            for h in (idle, driven)]
    return SignallingPlan(hams=hams, parts=list(parts_of(driven)), seeds=seeds,
                          seed0=params.seed, base={**params_dict(params), "admixture": 0.0})


def signalling_run(plan: SignallingPlan, i: int, j: int) -> np.ndarray:
    """Alice's marginal n_A0 / N over time in run ``j`` (0: Bob idle, 1: driven) of seed
    ``plan.seed0 + i``."""
    from .simulate import simulate

    run = simulate(plan.hams[j], make_params(**{**plan.base, "seed": plan.seed0 + i}))
    return marginals(run.n, plan.parts)[0][:, 0] / plan.base["N"]


def signalling_seed(plan: SignallingPlan, i: int) -> np.ndarray:
    """One pair's difference of Alice's marginal (driven minus idle) over time, seed i."""
    xA = [signalling_run(plan, i, j) for j in range(2)]
    return xA[1] - xA[0]


def signalling_from_seeds(plan: SignallingPlan, deltas) -> dict[str, Any]:
    """:func:`signalling`'s result from each seed's difference series (in order of seed)."""
    from .simulate import output_times

    seeds = plan.seeds
    delta = np.array(deltas)
    mean, se = delta.mean(axis=0), delta.std(axis=0, ddof=1) / math.sqrt(seeds)
    k = int(np.argmax(np.abs(mean)))
    params = plan.base
    t = output_times(params["t_end"], params["dt_out"])
    pA = [marginals(ExactEvolution.of(h).prob(t), plan.parts)[0][:, 0] for h in plan.hams]
    return {"max_delta": float(mean[k]),
            "ci": [float(mean[k] - CI_SE * se[k]), float(mean[k] + CI_SE * se[k])],
            "t": float(t[k]), "N": int(params["N"]), "r": float(params["r"]), "seeds": seeds,
            "qm_max_delta": float(np.abs(pA[1] - pA[0]).max())}


def signalling(preset: str, values: dict[str, Any], params: SimParams, seeds: int = 8,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
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
    plan = signalling_plan(preset, values, params, seeds)
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
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    add_param_options(sp, ["mode", "N", "r", "spectators", "admixture", "seed", "t_end",
                           "dt_out", "phase_tol", "jump_tol"])
    sp.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    from .cli import collect_params, parse_sets

    out = signalling(ns.preset, parse_sets(ns.set), make_params(**collect_params(ns)),
                     ns.seeds)
    if ns.json:
        print(json.dumps({k: out[k] for k in ("max_delta", "ci", "N", "r", "seeds",
                                              "qm_max_delta")}))
        return 0
    lo, hi = out["ci"]
    print(f"Alice's n_A0/N, Bob driven minus Bob idle: largest mean difference "
          f"{out['max_delta']:+.2e} at t = {out['t']:g}, interval [{lo:+.2e}, {hi:+.2e}] "
          f"(+-{CI_SE:g} standard errors, {out['seeds']} seeds, N = {out['N']}, "
          f"r = {out['r']:g}); quantum: {out['qm_max_delta']:.1e}")
    return 0
