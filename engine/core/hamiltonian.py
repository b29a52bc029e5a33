"""A Hermitian P x P Hamiltonian with its initial state, split as in PHYSICS.md §1.

``H_aa = E_a`` and, for a != b, ``H_ab = R_ab exp(i delta_ab)`` with
``R_ab = R_ba >= 0`` and ``delta_ba = -delta_ab``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

P_MIN, P_MAX = 2, 4096
#: Largest custom-Hamiltonian file read (a dense P = 1000 complex matrix is about 50 MiB).
FILE_MAX_BYTES = 64 * 2**20
#: Largest |H_ab| and |psi0_a| accepted: beyond it the time step (about phase_tol / |E|)
#: is too short to run and squares of entries near the float limit overflow.
ENTRY_MAX = 1e6
#: Hermiticity: |H_ab - conj(H_ba)| <= HERMITIAN_ATOL + HERMITIAN_RTOL * max(|H_ab|, |H_ba|),
#: pair by pair, so that a large entry elsewhere in H cannot hide a non-Hermitian pair. The
#: absolute floor absorbs round-off on entries that should be zero (e.g. H = U D U^dagger),
#: which a purely relative test of a zero entry would refuse.
HERMITIAN_RTOL = 1e-9
HERMITIAN_ATOL = 1e-9
_LIMIT_TEXT = "entries must be finite with |H_ab| ≤ 10⁶"


def _num(x: float) -> str:
    """6 significant digits; exponents without '+' or leading zeros (1e308, 2.5e-07 -> 2.5e-7)."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], f"{x:.6g}")


def _fmt(z: complex) -> str:
    z = complex(z)
    if z.imag == 0:
        return _num(z.real)
    sign = "-" if z.imag < 0 else "+"
    return f"{_num(z.real)}{sign}{_num(abs(z.imag))}i"


def check_entries(values: np.ndarray, name: str, limit_text: str) -> None:
    """Refuse the first non-finite entry or entry with modulus above :data:`ENTRY_MAX`.

    ``values`` is a complex array (1-d for psi0, 2-d for H); the sentence names the entry as
    ``name[a]`` or ``name[a][b]`` and ends with ``limit_text``.

    Raises
    ------
    InputError
        "H[0][0] = 1e308 is too large: entries must be finite with |H_ab| ≤ 10⁶."
    """
    finite = np.isfinite(values)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~finite | (np.abs(np.where(finite, values, 0)) > ENTRY_MAX)
    if not bad.any():
        return
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = name + "".join(f"[{i}]" for i in idx)
    z = complex(values[idx])
    if not finite[idx]:
        raise InputError(f"{where} is not a finite number: {limit_text}.")
    raise InputError(f"{where} = {_fmt(z)} is too large: {limit_text}.")


def check_hermitian(H: np.ndarray) -> None:
    """Refuse a matrix with a pair ``H_ab != conj(H_ba)`` beyond the tolerance (see
    :data:`HERMITIAN_RTOL`, :data:`HERMITIAN_ATOL`); names the worst pair (PHYSICS.md §1)."""
    mag = np.abs(H)
    excess = np.abs(H - H.conj().T) - (HERMITIAN_ATOL + HERMITIAN_RTOL * np.maximum(mag, mag.T))
    if excess.max() <= 0:
        return
    a, b = np.unravel_index(np.argmax(excess), excess.shape)
    if a == b:
        raise InputError(
            f"H[{a}][{a}] = {_fmt(H[a, a])} must be real: the matrix is not Hermitian."
        )
    a, b = min(a, b), max(a, b)
    raise InputError(
        f"H[{a}][{b}] = {_fmt(H[a, b])} is not the complex conjugate of "
        f"H[{b}][{a}] = {_fmt(H[b, a])}: the matrix is not Hermitian."
    )


def validate(H: Any, psi0: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check ``H`` and ``psi0`` and return them as complex arrays (H symmetrised, psi0 normalised).

    Every entry must be finite with modulus at most :data:`ENTRY_MAX` (:func:`check_entries`)
    and H Hermitian pair by pair (:func:`check_hermitian`).

    Raises
    ------
    InputError
        One sentence naming the entry at fault.
    """
    try:
        H = np.asarray(H, dtype=complex)
    except (TypeError, ValueError):
        raise InputError("H must be a square matrix of numbers.") from None
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise InputError(f"H must be a square matrix, but its shape is {H.shape}.")
    P = H.shape[0]
    if not P_MIN <= P <= P_MAX:
        raise InputError(f"H has size {P}, but it must be between {P_MIN} and {P_MAX}.")
    check_entries(H, "H", _LIMIT_TEXT)
    check_hermitian(H)
    H = 0.5 * (H + H.conj().T)
    try:
        psi0 = np.asarray(psi0, dtype=complex)
    except (TypeError, ValueError):
        raise InputError("psi0 must be a list of numbers.") from None
    if psi0.ndim != 1 or psi0.shape[0] != P:
        raise InputError(f"psi0 has {psi0.size} entries, but H is {P} x {P}.")
    check_entries(psi0, "psi0", "entries must be finite with |psi0_a| ≤ 10⁶")
    norm = float(np.linalg.norm(psi0))
    if norm == 0.0:
        raise InputError("psi0 is zero everywhere, so it cannot be normalised.")
    return H, psi0 / norm


@dataclass(frozen=True, eq=False)
class Hamiltonian:
    """Hermitian matrix ``H`` (P x P) with initial state ``psi0`` (normalised).

    Build one with :meth:`from_matrix`, :func:`engine.core.presets.build` or :meth:`from_json`.
    """

    H: np.ndarray
    psi0: np.ndarray
    labels: tuple[str, ...] = ()
    name: str = "custom"
    description: str = ""
    x: np.ndarray | None = None  # positions of the beable values, for lattices
    extra: dict = field(default_factory=dict)  # e.g. mass, potential for classical overlays

    @classmethod
    def from_matrix(cls, H: Any, psi0: Any, **kw: Any) -> Hamiltonian:
        """Validate and wrap a matrix and an initial state."""
        Hc, psi = validate(H, psi0)
        labels = tuple(kw.pop("labels", None) or (str(a) for a in range(Hc.shape[0])))
        if len(labels) != Hc.shape[0]:
            raise InputError(f"labels has {len(labels)} entries, but H is {Hc.shape[0]} x "
                             f"{Hc.shape[0]}.")
        Hc.setflags(write=False)
        psi.setflags(write=False)
        return cls(H=Hc, psi0=psi, labels=labels, **kw)

    # --- the split of PHYSICS.md §1 -------------------------------------------------
    @property
    def P(self) -> int:
        """Number of beable values."""
        return self.H.shape[0]

    @property
    def E(self) -> np.ndarray:
        """Diagonal energies E_a = H_aa (the paper's omega_a)."""
        return self.H.diagonal().real.copy()

    @property
    def R(self) -> np.ndarray:
        """Coupling magnitudes R_ab = |H_ab| (zero on the diagonal)."""
        R = np.abs(self.H)
        np.fill_diagonal(R, 0.0)
        return R

    @property
    def delta(self) -> np.ndarray:
        """Coupling phases delta_ab = arg H_ab (odd: delta_ba = -delta_ab)."""
        d = np.angle(self.H)
        np.fill_diagonal(d, 0.0)
        return d

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Ordered pairs (a, b), a != b, with R_ab > 0, as arrays ``a, b, R_ab, delta_ab``."""
        R = self.R
        a, b = np.nonzero(R > 0)
        return (a.astype(np.int64), b.astype(np.int64), R[a, b].copy(),
                self.delta[a, b].copy())

    # --- variants ---------------------------------------------------------------------
    def with_matrix(self, H: Any) -> Hamiltonian:
        """Same initial state, new matrix of the same size (validated)."""
        Hc, _ = validate(H, self.psi0)
        Hc.setflags(write=False)
        return replace(self, H=Hc)

    def conj(self) -> Hamiltonian:
        """The complex-conjugate (time-reversed) Hamiltonian, same psi0."""
        return self.with_matrix(self.H.conj())

    def ground_state(self) -> np.ndarray:
        """Lowest eigenvector of H."""
        return np.linalg.eigh(self.H)[1][:, 0]

    def with_admixture(self, eps: float) -> Hamiltonian:
        """psi0 -> normalise(psi0 + eps * psi_ground) (PHYSICS.md §3)."""
        if eps == 0:
            return self
        g = self.ground_state()
        # Fix the ground state's arbitrary global phase so that <g|psi0> is real and
        # positive: the admixture then adds to the ground-state component, never cancels.
        overlap = np.vdot(g, self.psi0)
        if abs(overlap) > 1e-12:
            g = g * overlap / abs(overlap)
        else:
            k = int(np.argmax(np.abs(g)))
            g = g * np.exp(-1j * np.angle(g[k]))
        psi = self.psi0 + eps * g
        norm = np.linalg.norm(psi)
        if norm == 0:
            raise InputError("The admixture cancels psi0 exactly; choose another eps.")
        psi = psi / norm
        psi.setflags(write=False)
        return replace(self, psi0=psi)

    # --- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the custom-Hamiltonian format."""
        return {
            "H": [[[float(z.real), float(z.imag)] for z in row] for row in self.H],
            "psi0": [[float(z.real), float(z.imag)] for z in self.psi0],
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Any, name: str = "custom") -> Hamiltonian:
        """Build from ``{"H": [[[re, im], ...], ...], "psi0": [[re, im], ...], "labels": [...]}``.

        A plain number is accepted for a real entry.
        """
        if not isinstance(data, dict):
            raise InputError("A custom Hamiltonian must be a JSON object with keys H and psi0.")
        for key in ("H", "psi0"):
            if key not in data:
                raise InputError(f"The custom Hamiltonian has no {key!r} entry.")
        unknown = set(data) - {"H", "psi0", "labels", "name", "description"}
        if unknown:
            raise InputError(f"The custom Hamiltonian has an unknown key {sorted(unknown)[0]!r}.")
        rows = data["H"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise InputError("H must be a list of rows.")
        # Sizes first, entries after: a too-large matrix is refused before any parsing.
        if not P_MIN <= len(rows) <= P_MAX:
            raise InputError(f"H has {len(rows)} rows, but it must have between {P_MIN} and "
                             f"{P_MAX}.")
        bad = next((i for i, r in enumerate(rows) if len(r) != len(rows[0])), None)
        if bad is not None:
            raise InputError(f"Row {bad} of H has {len(rows[bad])} entries, but row 0 has "
                             f"{len(rows[0])}.")
        if not isinstance(data["psi0"], list):
            raise InputError("psi0 must be a list of entries.")
        if len(data["psi0"]) > P_MAX:
            raise InputError(f"psi0 has {len(data['psi0'])} entries, more than the {P_MAX} "
                             f"allowed.")
        H = [[_entry(v, f"H[{i}][{j}]") for j, v in enumerate(row)] for i, row in enumerate(rows)]
        psi = [_entry(v, f"psi0[{i}]") for i, v in enumerate(data["psi0"])]
        labels = data.get("labels")
        if labels is not None and (not isinstance(labels, list)
                                   or not all(isinstance(s, str) for s in labels)):
            raise InputError("labels must be a list of strings.")
        return cls.from_matrix(np.array(H, dtype=complex), np.array(psi, dtype=complex),
                               labels=labels, name=data.get("name", name),
                               description=data.get("description", ""))

    @classmethod
    def from_json(cls, path: str | Path) -> Hamiltonian:
        """Load a custom Hamiltonian from a JSON file."""
        from ._files import read_json

        return cls.from_dict(read_json(path, "Hamiltonian file", FILE_MAX_BYTES),
                             name=Path(path).stem)


def _entry(v: Any, where: str) -> complex:
    if isinstance(v, bool):
        raise InputError(f"{where} must be a number or a pair [re, im], not {v!r}.")
    if isinstance(v, int | float):
        z = complex(v)
    elif (isinstance(v, list) and len(v) == 2
          and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)):
        z = complex(v[0], v[1])
    else:
        raise InputError(f"{where} must be a number or a pair [re, im], not {v!r}.")
    if not (math.isfinite(z.real) and math.isfinite(z.imag)):
        raise InputError(f"{where} is not a finite number.")
    return z
