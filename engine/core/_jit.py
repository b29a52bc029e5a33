"""One place for numba options: every kernel is compiled through :func:`jit`.

The threading layer is chosen here too, before any parallel kernel compiles. The dashboard
runs one engine thread per browser session, so two threads may call parallel kernels at
once; numba's fallback layer, workqueue, aborts the whole process when that happens. Only
the thread-safe layers are allowed: TBB (the ``tbb`` wheel, a dependency) or OpenMP
(libgomp, where the system has it). :func:`require_threadsafe_layer` starts the layer and
refuses with one sentence when neither can be had; entry points call it at start-up.
"""

from __future__ import annotations

import ctypes
import os
import sys
import types
from pathlib import Path

import numba

from .errors import SetupError

#: numba's name for "TBB, else OpenMP": never workqueue.
THREADSAFE = "threadsafe"
#: Values of NUMBA_THREADING_LAYER that are thread-safe and therefore kept when set.
_SAFE_CHOICES = ("tbb", "omp", "safe", "threadsafe")
_requested = os.environ.get("NUMBA_THREADING_LAYER", "").strip().lower()
#: An explicit request for a layer that is not thread-safe (refused at start-up).
_UNSAFE_REQUEST = _requested if _requested in ("workqueue", "forksafe") else None
if _requested not in _SAFE_CHOICES:
    _requested = THREADSAFE
# Through the environment, not only numba.config: the compiler reloads its configuration
# from the environment, and Dask's worker processes inherit it.
os.environ["NUMBA_THREADING_LAYER"] = _requested
numba.config.THREADING_LAYER = _requested


def _preload_tbb() -> None:
    """Load the ``tbb`` wheel's libtbb so that numba finds it.

    pip puts libtbb.so.12 under ``<prefix>/lib``, which is not on the loader's search path;
    numba opens it by name only, so without this it silently skips TBB.
    """
    if not sys.platform.startswith("linux"):
        return
    candidates = [Path(sys.prefix) / "lib" / "libtbb.so.12"]
    try:
        from importlib.metadata import PackageNotFoundError, files

        candidates += [f.locate() for f in files("tbb") or () if f.name == "libtbb.so.12"]
    except (ImportError, PackageNotFoundError):
        pass
    for path in candidates:
        if Path(path).is_file():
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


_preload_tbb()


def require_threadsafe_layer() -> str:
    """Start numba's threading layer now and return its name ('tbb' or 'omp').

    Raises
    ------
    SetupError
        One sentence when no thread-safe layer is available (only workqueue), so that a
        server or a command fails at start-up instead of aborting mid-session.
    """
    if _UNSAFE_REQUEST is not None:
        raise SetupError(f"NUMBA_THREADING_LAYER={_UNSAFE_REQUEST} is not thread-safe; unset it "
                         "or set it to tbb or omp.")
    from numba.np.ufunc import parallel

    try:
        parallel._launch_threads()
        layer = numba.threading_layer()
    except ValueError:
        layer = None
    if layer not in ("tbb", "omp"):
        raise SetupError("No thread-safe numba threading layer is available: install the tbb "
                         "package (pip install tbb) or the system's OpenMP library (libgomp1).")
    return layer

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
