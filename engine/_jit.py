"""One place for numba options: every kernel is compiled through :func:`jit`."""

from __future__ import annotations

import types

import numba

_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


#: Fast-math flags that keep NaN and infinity semantics (no 'nnan', 'ninf').
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def jit(fn=None, *, parallel: bool = False, fastmath: bool = False):
    """Compile ``fn`` with the project's numba options (cached, GIL released)."""

    def wrap(f):
        return numba.njit(parallel=parallel, fastmath=FASTMATH if fastmath else False,
                          **_OPTIONS)(f)

    return wrap if fn is None else wrap(fn)


def jit_pair(fn=None, *, fastmath: bool = False):
    """Compile ``fn`` twice, serial and parallel (prange runs as range when serial).

    Small ensembles use the serial one: a parallel region's thread hand-off costs more
    than it saves there, and much more on a loaded machine. Kernels built this way use
    a fixed block structure, so both give identical results.
    """

    def wrap(f):
        # A separate function object with its own name: numba's on-disk cache is keyed
        # by the qualified name, so sharing one would load the serial build for both.
        g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_parallel",
                               f.__defaults__, f.__closure__)
        g.__qualname__ = f.__qualname__ + "_parallel"
        return jit(f, parallel=False, fastmath=fastmath), jit(g, parallel=True,
                                                                 fastmath=fastmath)

    return wrap if fn is None else wrap(fn)
