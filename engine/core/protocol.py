"""Protocols: a run's Hamiltonian as a sequence of segments, e.g. a free evolution, then a
measurement pulse.

Segment k holds H_k from t_k to t_k + T_k (t_0 = 0, t_{k+1} = t_k + T_k). A segment without
a matrix holds the run's own Hamiltonian. After the last segment its H stays on. Every engine
mode runs a protocol through the live change of H (``Stepper.update(H=...)``), landing on each
boundary exactly; the exact reference continues from the exact state at the boundary under
the new H, so it is the piecewise exact evolution.

JSON: ``{"segments": [{"duration": 2.0}, {"duration": 1.0, "H": [[[re, im], ...], ...],
"label": "pulse"}]}``, entries as in the custom-Hamiltonian format (engine/core/hamiltonian.py;
a plain number for a real entry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .hamiltonian import Hamiltonian, _entry, validate

#: Most segments a protocol may have.
MAX_SEGMENTS = 1000
#: Pauli sigma_y, the generator of the measurement pulses.
_SY = np.array([[0, -1j], [1j, 0]])


@dataclass(frozen=True, eq=False)
class Segment:
    """H (Hermitian, validated; None for the run's own Hamiltonian) for ``duration``."""

    duration: float
    H: np.ndarray | None = None
    label: str = ""


class Protocol:
    """A validated, non-empty sequence of at most :data:`MAX_SEGMENTS` segments.

    Parameters
    ----------
    segments : sequence of Segment or dict
        Each ``Segment(duration, H, label)`` or ``{"duration": T, "H": matrix, "label": s}``
        (``H`` optional; a matrix as numbers or as [re, im] pairs).
    """

    def __init__(self, segments: Any):
        if not isinstance(segments, list | tuple):
            raise InputError("A protocol must be a list of segments.")
        if not segments:
            raise InputError("A protocol needs at least one segment.")
        if len(segments) > MAX_SEGMENTS:
            raise InputError(f"A protocol has {len(segments)} segments, but at most "
                             f"{MAX_SEGMENTS} are allowed.")
        self.segments = tuple(_segment(s, k) for k, s in enumerate(segments))

    @property
    def starts(self) -> np.ndarray:
        """t_k, the start time of each segment (t_0 = 0)."""
        T = np.array([s.duration for s in self.segments])
        return np.concatenate(([0.0], np.cumsum(T)[:-1]))

    @property
    def duration(self) -> float:
        """Total duration (the end of the last segment)."""
        return float(sum(s.duration for s in self.segments))

    def matrices(self, ham: Hamiltonian) -> list[np.ndarray]:
        """Each segment's H for a run of ``ham`` (its own H where a segment gives none)."""
        out = []
        for k, s in enumerate(self.segments):
            if s.H is not None and s.H.shape[0] != ham.P:
                raise InputError(f"Protocol segment {k} has a {s.H.shape[0]} x {s.H.shape[0]} "
                                 f"Hamiltonian, but the run has {ham.P} beable values.")
            out.append(ham.H if s.H is None else s.H)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with each segment's times (``t_start``, ``t_stop``)."""
        segs = []
        for t0, s in zip(self.starts, self.segments, strict=True):
            d: dict[str, Any] = {"duration": s.duration, "t_start": float(t0),
                                 "t_stop": float(t0 + s.duration)}
            if s.H is not None:
                d["H"] = [[[float(z.real), float(z.imag)] for z in row] for row in s.H]
            if s.label:
                d["label"] = s.label
            segs.append(d)
        return {"segments": segs}

    @classmethod
    def from_dict(cls, data: Any) -> Protocol:
        """Build from ``{"segments": [...]}`` (or a bare list of segments)."""
        if isinstance(data, dict):
            unknown = set(data) - {"segments", "name", "description"}
            if unknown:
                raise InputError(f"The protocol has an unknown key {sorted(unknown)[0]!r}.")
            if "segments" not in data:
                raise InputError("The protocol has no 'segments' entry.")
            data = data["segments"]
        return cls(data)

    @classmethod
    def from_json(cls, path: str | Path) -> Protocol:
        """Load a protocol from a JSON file."""
        from ._files import read_json
        from .hamiltonian import FILE_MAX_BYTES

        return cls.from_dict(read_json(path, "protocol file", FILE_MAX_BYTES))


def _segment(s: Any, k: int) -> Segment:
    """One validated segment (InputError naming segment k)."""
    if isinstance(s, Segment):
        s = {"duration": s.duration, "H": s.H, "label": s.label}
    if not isinstance(s, dict):
        raise InputError(f"Protocol segment {k} must be an object with a duration.")
    unknown = set(s) - {"duration", "H", "label", "t_start", "t_stop"}
    if unknown:
        raise InputError(f"Protocol segment {k} has an unknown key {sorted(unknown)[0]!r}.")
    T = s.get("duration")
    if isinstance(T, bool) or not isinstance(T, int | float) or not math.isfinite(T) or T <= 0:
        raise InputError(f"Protocol segment {k} needs a positive finite duration, not {T!r}.")
    H = s.get("H")
    if H is not None:
        if isinstance(H, list):
            if not H or not all(isinstance(r, list) for r in H):
                raise InputError(f"Protocol segment {k}: H must be a list of rows.")
            H = [[_entry(v, f"H[{i}][{j}]") if not isinstance(v, complex) else v
                  for j, v in enumerate(row)] for i, row in enumerate(H)]
            if len({len(r) for r in H}) != 1:
                raise InputError(f"Protocol segment {k}: the rows of H differ in length.")
        try:
            H = np.asarray(H, dtype=complex)
            P = H.shape[0] if H.ndim == 2 else 0
            H, _ = validate(H, np.ones(max(P, 1)))
        except InputError as err:
            raise InputError(f"Protocol segment {k}: {err}") from None
        H.setflags(write=False)
    label = s.get("label", "")
    if not isinstance(label, str):
        raise InputError(f"Protocol segment {k}: the label must be a string.")
    return Segment(float(T), H, label)


def pulse_hamiltonian(theta_A: float, theta_B: float, T: float) -> np.ndarray:
    """H_A x 1 + 1 x H_B with H = -(theta / 2T) sigma_y: turns each axis theta onto z in T."""
    one = np.eye(2)
    return -(np.kron(theta_A * _SY, one) + np.kron(one, theta_B * _SY)) / (2 * T)


def measurement_segment(theta_A: float, theta_B: float, T: float = 1.0) -> Segment:
    """The CHSH measurement pulse (engine/tools/chsh.py) as a segment: H = -(theta/2T) sigma_y on
    each qubit for a time T, turning Alice's axis theta_A and Bob's theta_B onto z."""
    if not (T > 0 and math.isfinite(T)):
        raise InputError(f"The pulse duration must be a positive number, not {T}.")
    return Segment(float(T), pulse_hamiltonian(theta_A, theta_B, T),
                   f"pulse a={theta_A:.4g} b={theta_B:.4g}")
