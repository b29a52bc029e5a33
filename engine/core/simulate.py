"""``simulate(...) -> Result``: a whole run sampled at output times, for scripts and sweeps."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic as _atomic
from ._files import check_out_file
from .composite import marginal_columns, parts_of
from .errors import InputError
from .hamiltonian import Hamiltonian
from .params import SimParams, make_params, params_dict
from .protocol import Protocol
from .stepper import Stepper, total_variation

try:
    from importlib.metadata import version as _pkg_version

    __version__ = _pkg_version("real-ensemble-lab")
except Exception:  # pragma: no cover - not installed
    __version__ = "0+unknown"


#: What ``step_error`` in the metadata means, for the reader of a sidecar file.
STEP_ERROR_METHOD = (
    "largest total-variation error of the time stepping alone: the run's integrator without "
    "noise (N -> infinity) at the run's tolerances against a quarter of them, times 16/15 "
    "(second order); compare with statistical_floor = 1/sqrt(N)")


#: Suffixes of the files ``Result.write`` can write.
OUT_SUFFIXES = (".csv", ".parquet")


def run_meta(ham: Hamiltonian, params: SimParams | dict[str, Any], preset: str | None = None,
             preset_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The part of a run's metadata that reproduces it: parameters, seed, preset, H, psi0,
    version. The sidecar ``.meta.json`` (:meth:`Result.meta`) and the dashboard's exports
    (engine/tools/export.py) both start from it.

    Parameters
    ----------
    ham : Hamiltonian
        The Hamiltonian as given to the stepper: psi0 *before* the admixture, which the
        stepper applies from ``params["admixture"]``.
    params : SimParams or dict
        The run's parameters (the seed is one of them).
    preset, preset_values : optional
        The preset the matrix came from; default: the ones ``ham`` was built with.
    """
    values = params if isinstance(params, dict) else params_dict(params)
    return {
        "params": dict(values),
        "seed": int(values["seed"]),
        "preset": preset if preset is not None else ham.extra.get("preset"),
        "preset_values": dict(preset_values) if preset_values is not None
        else ham.extra.get("values"),
        "hamiltonian": ham.to_dict(),
        "version": __version__,
    }


def output_times(t_end: float, dt_out: float) -> np.ndarray:
    """t = 0, dt_out, ..., up to t_end (t_end included when it is a multiple of dt_out)."""
    if t_end > 0 and dt_out > t_end:
        raise InputError(f"dt_out = {dt_out:g} is larger than t_end = {t_end:g}, which would "
                         f"give one output row; choose dt_out <= t_end.")
    K = int(math.floor(t_end / dt_out + 1e-9))
    if K > 10_000_000:
        raise InputError(f"t_end / dt_out = {K} output rows is too many; raise dt_out.")
    return np.arange(K + 1) * dt_out


def stepper_class(mode: str) -> type[Stepper]:
    from .population import BellStepper, PopulationStepper

    classes: dict[str, type[Stepper]] = {"population": PopulationStepper, "bell": BellStepper}
    if mode == "agents":
        from .agents import AgentStepper

        classes["agents"] = AgentStepper
    return classes[mode]


def make_stepper(ham: Hamiltonian, params: SimParams | None = None, **kw: Any) -> Stepper:
    """The stepper for ``params.mode`` (population, agents or bell)."""
    params = params if params is not None else make_params(**kw)
    return stepper_class(params.mode)(ham, params)


@dataclass
class Result:
    """A finished run: time series, the parameters, the seed and the timing."""

    t: np.ndarray  # (T,)
    n: np.ndarray  # (T, P) ensemble counts, spectators excluded
    p: np.ndarray  # (T, P) exact |psi_a(t)|^2
    phi: np.ndarray  # (T, P) class phases
    tv: np.ndarray  # (T,) 1/2 sum |n_a/N - p_a|
    params: dict[str, Any]
    hamiltonian: Hamiltonian
    seed: int
    wall_time: float
    steps: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    version: str = __version__
    reanchor_t: float | None = None  # when the reference re-anchored (reference 'own')
    reanchor_psi: np.ndarray | None = None  # the state it re-anchored to
    protocol: Protocol | None = None  # the segments H(t) followed (engine/core/protocol.py)
    #: The Hamiltonian given to the stepper (psi0 before the admixture; ``hamiltonian``
    #: holds the one the ensemble started from, admixture applied).
    source_hamiltonian: Hamiltonian | None = None
    _step_error: float | None = field(default=None, repr=False)

    @property
    def step_error(self) -> float:
        """Estimated time-stepping error of ``tv``: its largest value over the output times
        (engine/core/step_error.py). Computed when first asked, by replaying the run's noise-free
        companions from the state at t = 0 (O(P) per step), so runs that never ask, such as
        sweeps, do not pay for it."""
        if self._step_error is None:
            self._step_error = replay_step_error(self)
        return self._step_error

    @property
    def N(self) -> int:
        return int(self.params["N"])

    @property
    def P(self) -> int:
        return self.n.shape[1]

    def columns(self) -> dict[str, np.ndarray]:
        """Output table: t, n_0..n_{P-1}, p_0..p_{P-1}, tv (the command line's columns).

        A composite system (engine/core/composite.py) adds each part's marginal counts and
        probabilities after them: nA_0, nA_1, ..., pA_0, ..., then B, C, ...
        """
        cols: dict[str, np.ndarray] = {"t": self.t}
        for a in range(self.P):
            cols[f"n_{a}"] = self.n[:, a]
        for a in range(self.P):
            cols[f"p_{a}"] = self.p[:, a]
        cols["tv"] = self.tv
        parts = parts_of(self.hamiltonian)
        if parts:
            cols.update(marginal_columns(self.n, self.p, parts))
        return cols

    def meta(self) -> dict[str, Any]:
        """Everything needed to reproduce the run (the sidecar ``.meta.json``)."""
        source = self.source_hamiltonian or self.hamiltonian
        return {
            **run_meta(source, self.params),
            "seed": self.seed,
            "version": self.version,
            "wall_time_s": self.wall_time,
            "steps": self.steps,
            "step_error": self.step_error,
            "step_error_method": STEP_ERROR_METHOD,
            "statistical_floor": 1.0 / math.sqrt(self.N),
            "reference": self.params.get("reference", "initial"),
            "reanchor_t": self.reanchor_t,
            "reanchor_psi": None if self.reanchor_psi is None
            else [[float(z.real), float(z.imag)] for z in self.reanchor_psi],
            "absorption_time": self.absorption_time(),
            "protocol": None if self.protocol is None else self.protocol.to_dict(),
        }

    def absorption_time(self) -> float | None:
        """First output time at which a class that was occupied is empty (or None)."""
        if self.params.get("spectators", 0) > 0:
            return None
        occupied = self.n[0] > 0
        hit = np.nonzero(((self.n == 0) & occupied).any(axis=1))[0]
        return float(self.t[hit[0]]) if len(hit) else None

    # -- writing -------------------------------------------------------------------------
    def write(self, path: str | Path) -> Path:
        """Write CSV or Parquet (by suffix) and ``<path>.meta.json``, atomically."""
        path = check_out_file(path, OUT_SUFFIXES)
        suffix = path.suffix.lower()
        meta_path = path.with_name(path.name + ".meta.json")
        cols = self.columns()
        with _atomic(path) as tmp:
            if suffix == ".csv":
                with open(tmp, "w") as fh:
                    write_csv(cols, fh)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table(cols), tmp)
        with _atomic(meta_path) as tmp:
            Path(tmp).write_text(json.dumps(self.meta(), indent=1))
        return path


def replay_step_error(res: Result) -> float:
    """The step-error estimate of a finished run, from its t = 0 state and parameters."""
    from types import SimpleNamespace

    from .exact import ExactEvolution
    from .params import make_params
    from .step_error import StepErrorEstimate

    ham = res.hamiltonian
    run = SimpleNamespace(params=make_params(**res.params), ham=ham, mode=res.params["mode"],
                          exact=ExactEvolution.of(ham), t=0.0, n=res.n[0], phi=res.phi[0])
    est = StepErrorEstimate(run)
    switches = _switches(res.protocol, ham, ExactEvolution.of(ham))
    for t in res.t:
        # the noise-free companions ride through each segment boundary under the new H
        while switches and switches[0][0] <= t:
            tb, seg_ham, seg_exact = switches.pop(0)
            est.advance(tb)
            run.ham, run.exact = seg_ham, seg_exact
        est.advance(float(t))
    return est.value


def _switches(protocol: Protocol | None, ham: Hamiltonian, exact) -> list[tuple]:
    """(t_k, Hamiltonian, exact evolution) at each boundary of ``protocol`` after t = 0:
    the piecewise exact evolution of ``ham.psi0`` (``ham`` holds the first segment's H)."""
    from .exact import ExactEvolution
    from .stepper import _Shifted

    if protocol is None:
        return []
    out = []
    for tb, H in zip(protocol.starts[1:], protocol.matrices(ham)[1:], strict=True):
        psi = exact.psi(float(tb))
        ham = ham.with_matrix(H)
        exact = _Shifted(ExactEvolution(ham.H, psi), float(tb))
        out.append((float(tb), ham, exact))
    return out


def write_csv(cols: dict[str, np.ndarray], fh) -> None:
    """Write columns as CSV (integers stay integers; floats at full precision)."""
    names = list(cols)
    fh.write(",".join(names) + "\n")
    arrays = [np.asarray(cols[k]) for k in names]
    fmts = ["%d" if a.dtype.kind in "iu" else "%.17g" for a in arrays]
    for i in range(len(arrays[0])):
        fh.write(",".join(f % a[i] for f, a in zip(fmts, arrays, strict=True)) + "\n")


def simulate(ham: Hamiltonian, params: SimParams | None = None, protocol: Any = None,
             **kw: Any) -> Result:
    """Run one simulation from t = 0 to ``t_end`` and sample it every ``dt_out``.

    Parameters
    ----------
    ham : Hamiltonian
        The Hamiltonian and initial state.
    params : SimParams, optional
        Parameters; keyword arguments (``N=..., seed=..., mode=...``) build or override them.
    protocol : Protocol or dict, optional
        Segments of H(t) (engine/core/protocol.py): the run starts with the first segment's H
        (its ground state is the admixture's) and switches H live at each boundary, landing
        on it exactly; the exact reference is the piecewise exact evolution.

    Returns
    -------
    Result
        Time series with the parameters, seed and wall time.
    """
    if params is None:
        params = make_params(**kw)
    elif kw:
        params = make_params(**{**params_dict(params), **kw})
    times = output_times(params.t_end, params.dt_out)
    if protocol is not None:
        protocol = protocol if isinstance(protocol, Protocol) else Protocol.from_dict(protocol)
        matrices = protocol.matrices(ham)
        ham = ham.with_matrix(matrices[0])
        bounds = list(zip(protocol.starts[1:].tolist(), matrices[1:], strict=True))
    else:
        bounds = []
    start = time.perf_counter()
    st = make_stepper(ham, params)
    source, ham0 = ham, st.ham
    T, P = len(times), st.ham.P
    n = np.empty((T, P), dtype=np.int64)
    phi = np.empty((T, P))
    exact0 = st.exact
    extra: dict[str, list] = {}
    p_live = np.empty((T, P))
    for k, tk in enumerate(times):
        while bounds and bounds[0][0] <= tk:
            tb, H = bounds.pop(0)
            st.advance(tb)
            st.t = tb  # exactly on the boundary (the last step's t + dt may miss by an ulp)
            st.update(H=H)
        st.advance(float(tk))
        n[k] = st.n
        phi[k] = st.phi
        p_live[k] = np.abs(st.exact_psi(float(tk))) ** 2
        for key, val in st.record().items():
            extra.setdefault(key, []).append(val)
    if protocol is not None:
        p = p_live  # the piecewise reference in force at each output time
    else:
        # the reference in force at each output time (reference 'own' re-anchors it once)
        p = np.abs(exact0.psi(times)) ** 2
        if st.reanchor_t is not None:
            after = times >= st.reanchor_t
            p[after] = np.abs(st.exact.psi(times[after])) ** 2
    wall = time.perf_counter() - start
    return Result(t=times, n=n, p=p, phi=phi, tv=total_variation(n, st.N, p),
                  params=params_dict(params), hamiltonian=ham0, seed=st.seed,
                  wall_time=wall, steps=st.steps,
                  extra={k: np.asarray(v) for k, v in extra.items()},
                  reanchor_t=st.reanchor_t, reanchor_psi=st.reanchor_psi, protocol=protocol,
                  source_hamiltonian=source)
