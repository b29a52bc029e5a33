"""CHSH from the command line: ``python -m engine chsh --preset two_qubits ...``.

A measurement along the axis at angle theta in the x-z plane (sigma_theta = cos(theta)
sigma_z + sin(theta) sigma_x) is a pulse that turns that axis onto z, then a reading of the
beables: H_pulse = -(theta / 2T) sigma_y on each qubit for a time T, so that
exp(-i H_pulse T) = R_y(-theta). Turning the axis onto -z instead (theta + pi) measures the
same observable with the outcome flipped; of the nine equivalent pulses of each pair of
angles (theta - pi, theta, theta + pi per qubit) the one whose exact path stays farthest from
an empty class is used, because empty classes are absorbing (PHYSICS.md §3).
E(a, b) = (n_00 + n_11 - n_01 - n_10) / N and S = E(a, b) - E(a, b') + E(a', b) + E(a', b').
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.exact import ExactEvolution
from ..core.hamiltonian import Hamiltonian
from ..core.params import SimParams, make_params, params_dict
from ..core.protocol import pulse_hamiltonian

#: The four pairs (Alice's angle index, Bob's angle index) and their sign in S.
PAIRS = (((0, 2), 1), ((0, 3), -1), ((1, 2), 1), ((1, 3), 1))
#: The parity (+1 for 00 and 11, -1 for 01 and 10) of each joint beable value.
PARITY = np.array([1.0, -1.0, -1.0, 1.0])


@dataclass
class ChshResult:
    """S with its standard error over seeds, the exact S, and one row per pair of angles."""

    S: float
    S_err: float
    S_qm: float
    rows: list[dict[str, float]]
    params: dict[str, Any] = field(default_factory=dict)


def optimal_angles(psi: np.ndarray) -> tuple[float, float, float, float]:
    """Angles (a, a', b, b') in the x-z plane that maximise the quantum S for the state psi.

    With T_ij = <sigma_i x sigma_j> (i, j in z, x) and sigma_theta along u = (cos, sin),
    E(a, b) = u_a . T u_b. For orthonormal w1, w2 (T's right singular vectors), b and b' =
    cos(phi) w1 +- sin(phi) w2, a' along T w1 and a along T w2 give S = 2 sqrt(|T w1|^2 +
    |T w2|^2) at tan(phi) = |T w2| / |T w1|: Horodecki's bound in this plane."""
    sz, sx = np.diag([1.0, -1.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    T = np.array([[float(np.real(np.vdot(psi, np.kron(si, sj) @ psi))) for sj in (sz, sx)]
                  for si in (sz, sx)])
    V = np.linalg.svd(T)[2].T
    Tw1, Tw2 = T @ V[:, 0], T @ V[:, 1]
    phi = math.atan2(np.linalg.norm(Tw2), np.linalg.norm(Tw1))

    def angle(u):
        return float(math.atan2(u[1], u[0])) if np.linalg.norm(u) > 1e-12 else 0.0

    a2 = angle(Tw1)
    a = angle(Tw2) if np.linalg.norm(Tw2) > 1e-12 else a2 + math.pi / 2
    b = angle(math.cos(phi) * V[:, 0] + math.sin(phi) * V[:, 1])
    b2 = angle(math.cos(phi) * V[:, 0] - math.sin(phi) * V[:, 1])
    return a, a2, b, b2


def _best_pulse(psi0: np.ndarray, ta: float, tb: float, T: float) -> tuple[np.ndarray, int, float]:
    """Of the nine pulses measuring (ta, tb), the one whose exact path keeps every class
    fullest: its Hamiltonian, the outcome sign and the smallest |psi_a|^2 on the way."""
    s = np.linspace(0.0, T, 201)
    best = None
    for ka in (0, -1, 1):
        for kb in (0, -1, 1):
            H = pulse_hamiltonian(ta + ka * math.pi, tb + kb * math.pi, T)
            low = float(ExactEvolution(H, psi0).prob(s).min())
            if best is None or low > best[2] + 1e-12:
                best = (H, (-1) ** (ka + kb), low)
    return best


@dataclass
class ChshPlan:
    """What every run of a CHSH experiment needs (picklable: runs may go to Dask workers).

    ``pulses[j]`` is pair j's pulsed Hamiltonian and outcome sign; ``exact[j]`` its exact E
    and smallest class on the pulse's path."""

    angles: list[float]
    pulse: float
    seeds: int
    seed0: int
    base: dict[str, Any]
    pulses: list[tuple[Hamiltonian, int]]
    exact: list[tuple[float, float]]


def chsh_plan(ham: Hamiltonian, params: SimParams, angles=None, pulse: float = 1.0,
              seeds: int = 10) -> ChshPlan:
    """Check the inputs of :func:`chsh` and prepare its runs (no ensemble is run here)."""
    if list(ham.extra.get("parts") or []) != [2, 2]:
        raise InputError("CHSH needs two qubits; use the two_qubits preset.")
    if seeds < 2:
        raise InputError("--seeds must be at least 2 to estimate the error of S.")
    if not (pulse > 0 and math.isfinite(pulse)):
        raise InputError(f"The pulse duration must be a positive number, not {pulse}.")
    psi0 = ham.with_admixture(params.admixture).psi0
    angles = [float(x) for x in (optimal_angles(psi0) if angles is None else angles)]
    if len(angles) != 4 or not all(math.isfinite(x) for x in angles):
        raise InputError("--angles needs four finite numbers: a a' b b'.")
    pulses, exact = [], []
    for (ia, ib), _ in PAIRS:
        H, sign, low = _best_pulse(psi0, angles[ia], angles[ib], pulse)
        exact.append((sign * float(PARITY @ ExactEvolution(H, psi0).prob(pulse)), low))
        pulses.append((Hamiltonian.from_matrix(H, psi0, labels=ham.labels, name="chsh-pulse",
                                               extra={"parts": [2, 2]}), sign))
    return ChshPlan(angles=angles, pulse=float(pulse), seeds=seeds, seed0=params.seed,
                    base={**params_dict(params), "admixture": 0.0}, pulses=pulses,
                    exact=exact)


def chsh_run(plan: ChshPlan, j: int, i: int) -> float:
    """E of pair of angles ``j`` measured on the ensemble of seed ``plan.seed0 + i``."""
    from ..core.simulate import make_stepper

    pulsed, sign = plan.pulses[j]
    st = make_stepper(pulsed, make_params(**{**plan.base, "seed": plan.seed0 + i}))
    st.advance(plan.pulse)
    return sign * float(PARITY @ st.n) / st.N


def chsh_seed(plan: ChshPlan, i: int) -> list[float]:
    """The four E values (in the order of :data:`PAIRS`) of seed ``plan.seed0 + i``."""
    return [chsh_run(plan, j, i) for j in range(len(PAIRS))]


def chsh_from_seeds(plan: ChshPlan, E_seeds) -> ChshResult:
    """S, its standard error over seeds, the exact S and the rows, from each seed's four E
    (``E_seeds[i]`` is :func:`chsh_seed`'s list for seed index i, in order of i)."""
    seeds = plan.seeds
    E = np.ascontiguousarray(np.array(E_seeds, dtype=float).reshape(seeds, len(PAIRS)).T)
    rows = []
    S_qm = 0.0
    for j, ((ia, ib), sign_S) in enumerate(PAIRS):
        E_qm, low = plan.exact[j]
        S_qm += sign_S * E_qm
        rows.append({"a": plan.angles[ia], "b": plan.angles[ib], "E": float(E[j].mean()),
                     "E_err": float(E[j].std(ddof=1) / math.sqrt(seeds)), "E_qm": E_qm,
                     "min_p": low})
    S = np.array([s for _, s in PAIRS]) @ E
    return ChshResult(S=float(S.mean()), S_err=float(S.std(ddof=1) / math.sqrt(seeds)),
                      S_qm=S_qm, rows=rows, params=plan.base)


def chsh(ham: Hamiltonian, params: SimParams, angles=None, pulse: float = 1.0,
         seeds: int = 10, progress: Callable[[int, int], None] | None = None) -> ChshResult:
    """CHSH S of the ensemble for two qubits, measured by pulses from ``ham``'s initial state.

    Parameters
    ----------
    ham : Hamiltonian
        A two-qubit Hamiltonian (``extra["parts"] == [2, 2]``); only its initial state is
        used, with ``params.admixture`` of its ground state mixed in.
    params : SimParams
        Ensemble parameters; seeds ``params.seed``, ``params.seed + 1``, ... are used.
    angles : (a, a', b, b'), optional
        Measurement angles in the x-z plane; by default those optimal for the initial
        state (:func:`optimal_angles`).
    pulse : float
        Duration T of the measurement pulse.
    seeds : int
        Independent runs (at least 2) for the standard error of S.
    progress : callable, optional
        Called as ``progress(done, total)`` after each of the ``4 * seeds`` runs.

    Returns
    -------
    ChshResult

    The work splits into :func:`chsh_plan`, :func:`chsh_seed` per seed (independent: they
    may run anywhere, e.g. on Dask workers) and :func:`chsh_from_seeds`.
    """
    plan = chsh_plan(ham, params, angles, pulse, seeds)
    E = [[0.0] * len(PAIRS) for _ in range(seeds)]
    for j in range(len(PAIRS)):
        for i in range(seeds):
            E[i][j] = chsh_run(plan, j, i)
            if progress is not None:
                progress(j * seeds + i + 1, len(PAIRS) * seeds)
    return chsh_from_seeds(plan, E)


def register(sub: Any) -> None:
    """Add the ``chsh`` sub-command to ``python -m engine``."""
    from .cli import add_param_options

    sp = sub.add_parser("chsh", help="CHSH S of a two-qubit ensemble, measured by pulses",
                        description=__doc__.split("\n\n")[1].replace("\n", " "))
    sp.add_argument("--preset", default="two_qubits", help="two-qubit preset (default: "
                    "two_qubits)")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                    help="preset parameter (repeatable)")
    sp.add_argument("--angles", nargs=4, type=float, metavar=("A", "A2", "B", "B2"),
                    default=None, help="measurement angles a a' b b' (default: those "
                    "that maximise the quantum S for the initial state; 0 pi/2 pi/4 3pi/4 "
                    "for phi+)")
    sp.add_argument("--pulse", type=float, default=1.0, help="pulse duration T (default 1)")
    sp.add_argument("--seeds", type=int, default=10, help="independent runs (default 10)")
    sp.add_argument("--json", action="store_true", help='print {"S", "S_err", "S_qm"}')
    add_param_options(sp, ["mode", "N", "r", "spectators", "admixture", "seed", "phase_tol",
                           "jump_tol"])
    sp.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    from .cli import collect_params, load_hamiltonian

    ham = load_hamiltonian(ns.preset, ns.set, None)
    res = chsh(ham, make_params(**collect_params(ns)), ns.angles, ns.pulse, ns.seeds)
    if ns.json:
        print(json.dumps({"S": res.S, "S_err": res.S_err, "S_qm": res.S_qm}))
        return 0
    print(f"{'a':>8} {'b':>8} {'E':>10} {'+-':>8} {'E_qm':>10} {'min p':>8}")
    for r in res.rows:
        print(f"{r['a']:8.4f} {r['b']:8.4f} {r['E']:10.5f} {r['E_err']:8.5f} {r['E_qm']:10.5f} "
              f"{r['min_p']:8.4f}")
    print(f"S = {res.S:.5f} +- {res.S_err:.5f}   (quantum: {res.S_qm:.5f}; N = {res.params['N']}, "
          f"r = {res.params['r']}, {ns.seeds} seeds)")
    if min(r["min_p"] for r in res.rows) * res.params["N"] < 1:
        print("warning: a class is empty on some pulse's exact path; empty classes are "
              "absorbing, so the ensemble cannot follow there (PHYSICS.md §3).")
    return 0
