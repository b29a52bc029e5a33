"""The stateful stepper shared by every engine mode, and the frame it publishes.

A stepper owns one ensemble: ``advance(t)`` moves it forward, ``frame()`` reads it.
Subclasses implement ``_advance_kernel`` and the per-mode state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError
from .exact import ExactEvolution
from .hamiltonian import Hamiltonian
from .params import SimParams, make_params, params_dict
from .step_error import StepErrorEstimate

#: Steps handed to a kernel per call; bounds the time between checks of a wall budget.
CHUNK_STEPS = 4096
#: Smallest step: guarantees progress when rates diverge at a node.
DT_MIN = 1e-10


def apportion(N: int, p: np.ndarray) -> np.ndarray:
    """Integer counts summing to N closest to N*p (largest remainder)."""
    p = np.asarray(p, dtype=float)
    p = p / p.sum()
    exact = N * p
    n = np.floor(exact).astype(np.int64)
    short = int(N - n.sum())
    if short > 0:
        order = np.argsort(-(exact - n), kind="stable")
        n[order[:short]] += 1
    return n


def total_variation(n: np.ndarray, N: int, p: np.ndarray) -> np.ndarray:
    """D = 1/2 sum_a |n_a/N - p_a| (last axis)."""
    return 0.5 * np.abs(np.asarray(n) / N - p).sum(axis=-1)


@dataclass(frozen=True)
class Systems:
    """What the agents engine knows beyond the counts: each class's order parameters, a
    sample of individual systems and the tracked ones (typed, for the dashboard)."""

    polar: np.ndarray  # |<e^{i phi}>_a| per class (nan where empty)
    nematic: np.ndarray  # |<e^{2i phi}>_a| per class
    sample_a: np.ndarray  # beable values of a fixed sample of systems
    sample_phi: np.ndarray  # their phases
    tracked_a: np.ndarray  # beable values of the tracked systems
    tracked_phi: np.ndarray  # their phases

    @classmethod
    def of(cls, extra: dict[str, Any]) -> Systems | None:
        keys = ("polar", "nematic", "sample_a", "sample_phi", "tracked_a", "tracked_phi")
        if not all(k in extra for k in keys):
            return None
        return cls(*(np.asarray(extra[k]) for k in keys))


@dataclass
class Frame:
    """What a stepper shows at one instant (all arrays indexed by beable value a)."""

    t: float
    N: int
    n: np.ndarray  # ensemble counts, spectators excluded
    p: np.ndarray  # exact |psi_a(t)|^2
    phi: np.ndarray  # class phases phi_a (circular mean for agents)
    phi_exact: np.ndarray  # exact phases -arg psi_a(t)
    tv: float
    steps: int
    extra: dict[str, Any] = field(default_factory=dict)
    step_error: float = 0.0  # estimated time-stepping error of D so far (step_error.py)
    reanchor_t: float | None = None  # when the reference re-anchored (None: it has not)
    parts: tuple[int, ...] | None = None  # dimensions of a composite system's parts
    systems: Systems | None = None  # individual systems (agents engine only)

    def marginals(self) -> dict[str, np.ndarray] | None:
        """Each part's marginal counts and exact probabilities, keyed like the command
        line's columns (``nA``, ``pA``, ``nB``, ...); None for a system that is not
        composite (engine/core/composite.py)."""
        if not self.parts:
            return None
        from .composite import PART_NAMES, marginals

        n, p = marginals(self.n, list(self.parts)), marginals(self.p, list(self.parts))
        out: dict[str, np.ndarray] = {}
        for k, name in enumerate(PART_NAMES[: len(self.parts)]):
            out[f"n{name}"], out[f"p{name}"] = n[k], p[k]
        return out


class Stepper:
    """Base class: validation, exact reference, time bookkeeping, frames.

    Parameters
    ----------
    ham : Hamiltonian
        The Hamiltonian and initial state (the admixture is applied here).
    params : SimParams, optional
        Simulation parameters; keyword arguments build them when omitted.
    """

    mode = ""
    #: Allow individual phases to lag ``t`` by up to half a step between calls of
    #: ``advance`` (agents mode; saves a pass per call when frames are drawn often).
    lazy_phases = False

    def __init__(self, ham: Hamiltonian, params: SimParams | None = None, **kw: Any):
        if not isinstance(ham, Hamiltonian):
            raise InputError("The first argument must be a Hamiltonian.")
        if params is None:
            params = make_params(**{"mode": self.mode, **kw})
        elif kw:
            params = make_params(**{**params_dict(params), **kw})
        if params.mode != self.mode:
            raise InputError(f"A {type(self).__name__} needs mode {self.mode!r}, "
                             f"not {params.mode!r}.")
        self.params = params
        self.ham = ham.with_admixture(params.admixture)
        self.exact = ExactEvolution.of(self.ham)
        self.N = int(params.N)
        self.seed = int(params.seed)
        self.rng = np.random.default_rng(self.seed)
        self.t = 0.0
        self.steps = 0
        self.chunk_wall = 0.0  # wall seconds of the last chunk of steps (advance)
        self.reanchor_t: float | None = None  # time of the re-anchoring (reanchor)
        self.reanchor_psi: np.ndarray | None = None  # the state the reference restarted from
        self._init_state()
        self.step_errors = StepErrorEstimate(self)

    # -- to implement --------------------------------------------------------------
    def _init_state(self) -> None:
        raise NotImplementedError

    def _advance_kernel(self, t_stop: float, max_steps: int) -> int:
        """Advance towards t_stop by at most max_steps steps; return steps taken."""
        raise NotImplementedError

    @property
    def n(self) -> np.ndarray:
        """Counts n_a of the N copying systems (spectators excluded)."""
        raise NotImplementedError

    @property
    def phi(self) -> np.ndarray:
        """Class phases phi_a."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def advance(self, t_target: float, wall_budget: float | None = None) -> float:
        """Advance to ``t_target``; return the time.

        With a ``wall_budget`` (seconds) it also stops when the next chunk of steps would
        likely overrun the budget (the last chunk's duration is the estimate, kept in
        ``chunk_wall``), after at least one chunk."""
        if not np.isfinite(t_target):
            raise InputError(f"The target time must be finite, not {t_target!r}.")
        start = time.perf_counter()
        chunk = self.chunk_steps(wall_budget)
        while self.t < t_target:
            stop = t_target
            if self._awaits_anchor() and self.t < self.params.reanchor_at < t_target:
                stop = self.params.reanchor_at  # land on the chosen time exactly
            t0 = time.perf_counter()
            self.steps += self._advance_kernel(float(stop), chunk)
            now = time.perf_counter()
            self.chunk_wall = now - t0
            self._maybe_reanchor()
            if wall_budget is not None and now - start + self.chunk_wall > wall_budget:
                break
        return self.t

    # -- the reference after phases align (PHYSICS.md §4) ----------------------------------
    def polar_order(self) -> np.ndarray:
        """|<e^{i phi}>_a| per class (NaN for an empty class); 1 where phases are locked."""
        return np.where(self.n + int(self.params.spectators) > 0, 1.0, np.nan)

    def _awaits_anchor(self) -> bool:
        return self.params.reference == "own" and self.reanchor_t is None

    def _maybe_reanchor(self) -> None:
        """Re-anchor once every occupied class is ordered (reference 'own')."""
        if not self._awaits_anchor() or self.t < self.params.reanchor_at:
            return
        order = self.polar_order()
        occupied = ~np.isnan(order)
        if (order[occupied] >= self.params.align_threshold).all():
            self.reanchor()

    def own_state(self) -> np.ndarray:
        """The state the ensemble stands for: psi_a = sqrt(n_a/N) e^{-i phibar_a}, phibar_a
        the class's circular mean phase (spectators included); 0 for an empty class."""
        n = self.n.astype(float)
        psi = np.sqrt(n / n.sum()) * np.exp(-1j * np.asarray(self.phi, dtype=float))
        psi[n == 0] = 0.0
        return psi

    def reanchor(self) -> np.ndarray:
        """From now on compare with the exact evolution of the ensemble's own state.

        Phases that start misaligned align to values of their own, so |e^{-iHt} psi0|^2 is
        then the wrong comparison (PHYSICS.md §4). Returns the new initial state."""
        psi = self.own_state()
        self.exact = _Shifted(ExactEvolution(self.ham.H, psi), self.t)
        self.reanchor_t, self.reanchor_psi = self.t, psi
        return psi

    def step_error(self) -> float:
        """Estimated time-stepping error of D(t) so far (see engine/core/step_error.py)."""
        return self.step_errors.advance(self.t)

    def chunk_steps(self, wall_budget: float | None) -> int:
        """Steps per kernel call between checks of the wall budget."""
        return CHUNK_STEPS

    def update(self, **live: Any) -> None:
        """Change parameters that apply live (``SimParams.LIVE``) or the matrix H (same P)."""
        H = live.pop("H", None)
        bad = [k for k in live if k not in SimParams.LIVE]
        if bad:
            raise InputError(f"Parameter {bad[0]} cannot change during a run; restart instead.")
        self.step_errors.advance(self.t)  # up to now under the old settings
        if live:
            self.params = make_params(**{**params_dict(self.params), **live})
        if H is not None:
            ham = self.ham.with_matrix(H)
            if ham.P != self.ham.P:
                raise InputError("A new H must keep the size of the running one.")
            # Quantum reference: continue from the current exact state under the new H.
            psi_now = self.exact.psi(self.t)
            self.ham = ham
            self.exact = _Shifted(ExactEvolution(ham.H, psi_now), self.t)
        self._on_update()
        # the noise-free companions continue under the new settings from the ensemble now
        self.step_errors.restart(self.t, self.n, self.phi)

    def _on_update(self) -> None:
        pass

    def exact_psi(self, t: float | None = None) -> np.ndarray:
        return self.exact.psi(self.t if t is None else t)

    def frame(self) -> Frame:
        """A snapshot of the ensemble and the exact reference now."""
        psi = self.exact_psi()
        p = np.abs(psi) ** 2
        n = self.n.copy()
        extra = self._extra()
        return Frame(t=self.t, N=self.N, n=n, p=p, phi=self.phi.copy(),
                     phi_exact=-np.angle(psi), tv=float(total_variation(n, self.N, p)),
                     steps=self.steps, extra=extra, step_error=self.step_error(),
                     systems=Systems.of(extra),
                     reanchor_t=self.reanchor_t,
                     parts=tuple(self.ham.extra["parts"]) if self.ham.extra.get("parts")
                     else None)

    def _extra(self) -> dict[str, Any]:
        return {}

    def record(self) -> dict[str, Any]:
        """Per-output-time extras a mode wants in a Result (e.g. tracked systems)."""
        return {}


class _Shifted:
    """Exact evolution restarted at time t0 (after a live change of H)."""

    def __init__(self, ev: ExactEvolution, t0: float):
        self.ev, self.t0 = ev, t0
        self.lam, self.V, self.c = ev.lam, ev.V, ev.c * np.exp(1j * ev.lam * t0)

    def psi(self, t):
        return self.ev.psi(np.asarray(t, dtype=float) - self.t0)

    def prob(self, t):
        return np.abs(self.psi(t)) ** 2
