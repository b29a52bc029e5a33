"""Preset Hamiltonians: the data lives in ``assets/presets.yaml``, the builders here.

The same file feeds the command line (``python -m engine presets``) and the dashboard.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import InputError
from .hamiltonian import Hamiltonian

ASSETS = Path(os.environ.get("REAL_ENSEMBLE_ASSETS",
                             Path(__file__).resolve().parent.parent / "assets"))


@functools.cache
def _load() -> dict[str, dict[str, Any]]:
    with open(ASSETS / "presets.yaml") as fh:
        return yaml.safe_load(fh)["presets"]


def preset_names() -> list[str]:
    """Names of the presets, in file order."""
    return list(_load())


def preset_info(name: str) -> dict[str, Any]:
    """The preset's data: title, description, builder and parameter specs."""
    data = _load()
    if name not in data:
        raise InputError(f"Unknown preset {name!r}; choose one of {', '.join(data)}.")
    return data[name]


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


_BUILDERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, dict]]] = {
    "two_level": _two_level,
    "three_level": _three_level,
    "ring": _ring,
    "double_well": _double_well,
    "random": _random,
}
