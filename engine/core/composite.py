"""Composite systems: the beable of parts A, B, ... is the tuple (a_A, a_B, ...), index
a = (a_A d_B + a_B) d_C + ... (Kronecker order, A most significant), and each part's
marginal is a sum over the other parts' values.

The part dimensions travel with the Hamiltonian as ``ham.extra["parts"]`` (engine/core/presets.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError

#: Names of the parts, in Kronecker order.
PART_NAMES = "ABCDEFGH"


def parts_of(ham: Any) -> list[int] | None:
    """Dimensions of the parts of ``ham`` (None for a system that is not composite)."""
    parts = ham.extra.get("parts") if ham is not None else None
    return list(parts) if parts else None


def marginals(x: np.ndarray, parts: list[int]) -> list[np.ndarray]:
    """Per-part marginals of joint counts or probabilities over the last axis.

    Parameters
    ----------
    x : array (..., P)
        Joint counts n_a or probabilities p_a, P = prod(parts).
    parts : list of int
        Dimension of each part, A first.

    Returns
    -------
    list of arrays (..., d_k)
        The marginal of part k: x summed over the values of every other part.
    """
    x = np.asarray(x)
    if int(np.prod(parts)) != x.shape[-1]:
        raise InputError(f"Parts of dimensions {parts} make {int(np.prod(parts))} joint "
                         f"values, but there are {x.shape[-1]}.")
    lead = x.ndim - 1
    joint = x.reshape(*x.shape[:-1], *parts)
    out = []
    for k in range(len(parts)):
        others = tuple(lead + j for j in range(len(parts)) if j != k)
        out.append(joint.sum(axis=others))
    return out


def marginal_columns(n: np.ndarray, p: np.ndarray, parts: list[int]) -> dict[str, np.ndarray]:
    """Columns ``nA_0, nA_1, ..., pA_0, ...`` then B, C, ... for an output table."""
    cols: dict[str, np.ndarray] = {}
    for name, nk, pk in zip(PART_NAMES, marginals(n, parts), marginals(p, parts), strict=False):
        for v in range(nk.shape[-1]):
            cols[f"n{name}_{v}"] = nk[..., v]
        for v in range(pk.shape[-1]):
            cols[f"p{name}_{v}"] = pk[..., v]
    return cols
