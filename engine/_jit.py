"""One place for numba options: every kernel is compiled through :func:`jit`."""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def jit(fn=None, *, parallel: bool = False):
    """Compile ``fn`` with the project's numba options (cached, GIL released)."""

    def wrap(f):
        return numba.njit(parallel=parallel, **_OPTIONS)(f)

    return wrap if fn is None else wrap(fn)
