"""Preset Hamiltonians: the data lives in ``assets/presets.yaml``, the builders here.

The same file feeds the command line (``real-ensemble-lab presets``) and the dashboard. It is
package data, read through importlib.resources (``real_ensemble_lab.assets``), so an
installed distribution finds it as a checkout does.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import InputError
from .hamiltonian import Hamiltonian

#: The data folder: the package real_ensemble_lab.assets, or $REAL_ENSEMBLE_ASSETS when set.
ASSETS: Traversable = (Path(os.environ["REAL_ENSEMBLE_ASSETS"])
                       if os.environ.get("REAL_ENSEMBLE_ASSETS")
                       else files("real_ensemble_lab.assets"))


#: Keys a preset parameter's spec may hold; ``default``, ``unit`` and ``doc`` are required.
SPEC_KEYS = {"default", "bounds", "objects", "integer", "unit", "doc"}


@functools.cache
def _load() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ASSETS / "presets.yaml").read_text(encoding="utf-8"))["presets"]
    for name, info in data.items():
        for key, spec in info["params"].items():
            _check_spec(name, key, spec)
    return data


def _check_spec(name: str, key: str, spec: Any) -> None:
    """One parameter's spec in presets.yaml: default, bounds or objects, a unit ("" for a
    pure number or a choice) and a one-sentence doc."""
    where = f"Preset {name!r} parameter {key!r}"
    if not isinstance(spec, dict):
        raise InputError(f"{where} must be a mapping.")
    extra = set(spec) - SPEC_KEYS
    if extra:
        raise InputError(f"{where} has an unknown key {sorted(extra)[0]!r}.")
    for field in ("default", "unit", "doc"):
        if field not in spec:
            raise InputError(f"{where} has no {field!r}.")
    if not isinstance(spec["unit"], str):
        raise InputError(f"{where} needs a unit as text ('' for a pure number).")
    doc = spec["doc"]
    if not isinstance(doc, str) or not doc.strip().endswith("."):
        raise InputError(f"{where} needs a doc sentence ending with a full stop.")
    if ("bounds" in spec) == ("objects" in spec):
        raise InputError(f"{where} needs either bounds or objects.")


def preset_names() -> list[str]:
    """Names of the presets, in file order."""
    return list(_load())


def preset_info(name: str) -> dict[str, Any]:
    """The preset's data: title, description, builder and parameter specs.

    ``preset_info(name)["params"][key]`` holds ``default``, ``bounds`` (and ``integer``)
    or ``objects``, ``unit`` (e.g. ``"energy (ħ = 1)"``, ``"sites"``, ``""`` for a pure
    number or a choice) and ``doc`` (one plain-text sentence). The description is Markdown
    with LaTeX between ``$...$``.
    """
    data = _load()
    if name not in data:
        raise InputError(f"Unknown preset {name!r}; choose one of {', '.join(data)}.")
    return data[name]


def preset_units(name: str) -> dict[str, str]:
    """Unit of each of the preset's parameters ("" for a pure number or a choice)."""
    return {k: spec["unit"] for k, spec in preset_info(name)["params"].items()}


def preset_defaults(name: str) -> dict[str, Any]:
    """Default values of the preset's own parameters."""
    return {k: spec["default"] for k, spec in preset_info(name)["params"].items()}


def check_preset_values(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Merge ``values`` (strings allowed) into the defaults, checking names, types and bounds."""
    specs = preset_info(name)["params"]
    out = preset_defaults(name)
    for key, raw in values.items():
        if key not in specs:
            raise InputError(f"Preset {name!r} has no parameter {key!r}; its parameters are "
                             f"{', '.join(specs)}.")
        spec = specs[key]
        if "objects" in spec:
            if raw not in spec["objects"]:
                raise InputError(f"Preset parameter {key} must be one of {spec['objects']}, "
                                 f"not {raw!r}.")
            out[key] = raw
            continue
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise InputError(f"Preset parameter {key} must be a number, not {raw!r}.") from None
        if not math.isfinite(v):
            raise InputError(f"Preset parameter {key} must be a finite number, not {raw!r}.")
        if spec.get("integer"):
            if not v.is_integer():
                raise InputError(f"Preset parameter {key} must be an integer, not {raw!r}.")
            v = int(v)
        lo, hi = spec["bounds"]
        if not lo <= v <= hi:
            raise InputError(f"Preset parameter {key} = {raw} is outside its bounds [{lo}, {hi}].")
        out[key] = v
    return out


def build(name: str, **values: Any) -> Hamiltonian:
    """Build preset ``name`` with parameter overrides ``values``."""
    info = preset_info(name)
    v = check_preset_values(name, values)
    H, psi0, extra = _BUILDERS[info["builder"]](**v)
    labels = extra.pop("labels", None)
    x = extra.pop("x", None)
    return Hamiltonian.from_matrix(H, psi0, labels=labels, name=name,
                                   description=" ".join(info["description"].split()),
                                   x=x, extra={**extra, "preset": name, "values": v})


# --- builders -------------------------------------------------------------------------

def _two_level(detuning, coupling, delta, theta, chi):
    H = np.array([[detuning / 2, coupling * np.exp(1j * delta)],
                  [coupling * np.exp(-1j * delta), -detuning / 2]])
    psi0 = np.array([np.cos(theta / 2), np.exp(1j * chi) * np.sin(theta / 2)])
    return H, psi0, {}


def _three_level(variant, E1, E2, g1, delta1, g2, delta2, g3, delta3):
    pairs = {"ladder": [(0, 1), (1, 2)], "lambda": [(0, 2), (1, 2)], "V": [(0, 1), (0, 2)]}
    (a1, b1), (a2, b2) = pairs[variant]
    H = np.diag([0.0, E1, E2]).astype(complex)
    H[a1, b1] = g1 * np.exp(1j * delta1)
    H[a2, b2] = g2 * np.exp(1j * delta2)
    used = {(a1, b1), (a2, b2)}
    a3, b3 = next(p for p in [(0, 1), (0, 2), (1, 2)] if p not in used)
    H[a3, b3] += g3 * np.exp(1j * delta3)
    H = H + np.triu(H, 1).conj().T
    psi0 = np.array([0.62, 0.55 * np.exp(0.4j), 0.56 * np.exp(-1.1j)])
    return H, psi0, {}


def _chain(P, mass, spacing, V, flux, periodic):
    t_hop = 1.0 / (2 * mass * spacing**2)
    H = np.diag(V + 2 * t_hop).astype(complex)
    theta = flux / P
    for a in range(P - 1 + periodic):
        b = (a + 1) % P
        # -t e^{i theta}: the discretised Laplacian (PHYSICS.md §5) with a Peierls phase.
        H[a, b] += -t_hop * np.exp(1j * theta)
        H[b, a] += -t_hop * np.exp(-1j * theta)
    return H


def _positions(P, spacing):
    return (np.arange(P) - P // 2) * spacing


def _gaussian(x, x0, width, k0):
    return np.exp(-((x - x0) ** 2) / (4 * width**2) + 1j * k0 * x)


def _ring(P, mass, spacing, potential, strength, barrier_width, flux, x0, width, k0):
    x = _positions(P, spacing)
    if potential == "free":
        V = np.zeros(P)
    elif potential == "harmonic":
        V = 0.5 * mass * strength**2 * x**2
    elif potential == "linear":
        V = -strength * x
    else:
        V = np.where(np.abs(x) < barrier_width / 2, strength, 0.0)
    H = _chain(P, mass, spacing, V, flux, periodic=True)
    return H, _gaussian(x, x0, width, k0), {
        "x": x, "mass": mass, "V": V, "potential": potential, "strength": strength,
        "labels": [f"{xi:g}" for xi in x],
    }


def _double_well(P, mass, spacing, barrier, well, width):
    x = _positions(P, spacing)
    V = barrier * ((x / well) ** 2 - 1) ** 2
    H = _chain(P, mass, spacing, V, 0.0, periodic=False)
    return H, _gaussian(x, -well, width, 0.0), {
        "x": x, "mass": mass, "V": V, "potential": "double_well",
        "labels": [f"{xi:g}" for xi in x],
    }


def _random(P, matrix_seed, scale):
    rng = np.random.default_rng(matrix_seed)
    A = rng.normal(size=(P, P)) + 1j * rng.normal(size=(P, P))
    H = scale * (A + A.conj().T) / (2 * np.sqrt(P))
    psi0 = rng.normal(size=P) + 1j * rng.normal(size=P)
    return H, psi0, {}


# --- composite systems: qubits A, B (, C); beable index a = 2 a_A + a_B (Kronecker order) ---

PART_NAMES = "ABC"
_SX = np.array([[0, 1], [1, 0]], dtype=complex)
_SY = np.array([[0, -1j], [1j, 0]])
_SZ = np.diag([1.0, -1.0]).astype(complex)
#: Interactions between two qubits; exchange = (XX + YY)/2 swaps |01> and |10>.
_INTERACTIONS = {"ZZ": np.kron(_SZ, _SZ), "exchange": (np.kron(_SX, _SX) + np.kron(_SY, _SY)) / 2}


def qubit_hamiltonian(detuning: float, coupling: float, delta: float) -> np.ndarray:
    """One qubit's local H: detuning/2 sigma_z with <0|H|1> = coupling e^{i delta}."""
    return _two_level(detuning, coupling, delta, 0.0, 0.0)[0]


def embed(op: np.ndarray, k: int, K: int) -> np.ndarray:
    """``op`` acting on qubit ``k`` of ``K`` (qubit 0 = A is the most significant bit)."""
    out = np.eye(1, dtype=complex)
    for j in range(K):
        out = np.kron(out, op if j == k else np.eye(2))
    return out


def _pair_operator(V: np.ndarray, j: int, k: int, K: int) -> np.ndarray:
    """Two-qubit operator ``V`` (4 x 4, order j then k) acting on qubits j < k of K."""
    out = np.zeros((2**K, 2**K), dtype=complex)
    for x in range(2):
        for y in range(2):
            for u in range(2):
                for v in range(2):
                    ket, bra = np.zeros((2, 2)), np.zeros((2, 2))
                    ket[x, u], bra[y, v] = 1, 1
                    c = V[2 * x + y, 2 * u + v]
                    if c:
                        out += c * embed(ket, j, K) @ embed(bra, k, K)
    return out


def _entangled_state(state: str, K: int, angle: float) -> np.ndarray:
    psi = np.zeros(2**K, dtype=complex)
    ones = 2**K - 1
    if state == "product":
        psi[0] = 1
    elif state == "GHZ":
        psi[[0, ones]] = 1
    elif state == "W":
        psi[[1 << k for k in range(K)]] = 1
    elif state == "partial":
        psi[0], psi[ones] = np.cos(angle), np.sin(angle)
    else:  # Bell states: phi = |00> +- |11>, psi = |01> +- |10>
        sign = 1 if state.endswith("+") else -1
        pair = (0, 3) if state.startswith("phi") else (1, 2)
        psi[pair[0]], psi[pair[1]] = 1, sign
    return psi / np.linalg.norm(psi)


def local_rotation(theta: float, chi: float) -> np.ndarray:
    """diag(1, e^{i chi}) R_y(theta): |0> -> cos(theta/2)|0> + e^{i chi} sin(theta/2)|1>."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.diag([1, np.exp(1j * chi)]) @ np.array([[c, -s], [s, c]])


def _qubits(interaction="none", J=0.0, state="product", angle=0.0, **local):
    K = 3 if "detuning_C" in local else 2
    names = PART_NAMES[:K]
    H = sum(embed(qubit_hamiltonian(local[f"detuning_{x}"], local[f"coupling_{x}"],
                                    local[f"delta_{x}"]), k, K) for k, x in enumerate(names))
    if interaction != "none":
        for j in range(K):
            for k in range(j + 1, K):
                H = H + J * _pair_operator(_INTERACTIONS[interaction], j, k, K)
    U = np.eye(1, dtype=complex)
    for x in names:
        U = np.kron(U, local_rotation(local[f"theta_{x}"], local[f"chi_{x}"]))
    psi0 = U @ _entangled_state(state, K, angle)
    labels = [f"|{a:0{K}b}⟩" for a in range(2**K)]
    return H, psi0, {"labels": labels, "parts": [2] * K}


_BUILDERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, dict]]] = {
    "two_level": _two_level,
    "three_level": _three_level,
    "ring": _ring,
    "double_well": _double_well,
    "random": _random,
    "qubits": _qubits,
}
