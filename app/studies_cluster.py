"""The Studies page's Dask client, shared by every session, and the limits on its sweeps.

- ``REAL_ENSEMBLE_LAB_SCHEDULER`` (e.g. ``tcp://scheduler:8786`` under docker compose): the
  page connects to that scheduler, within the engine's deadline (engine/studies/cluster.py
  ``CONNECT_TIMEOUT_S``), instead of starting a local cluster.
- ``REAL_ENSEMBLE_LAB_HOSTED=1``: no sweeps from the page, only loading results.
- ``REAL_ENSEMBLE_LAB_MAX_SWEEPS`` (default 1): sweeps running from the page at once, over
  all sessions; one more is refused with a sentence, not queued.

The cluster lives while a session uses it: each session that takes the client (or opens
the Studies page) is counted until Bokeh destroys it, and the cluster closes when the
count falls to zero (and at exit). Tasks still running then keep it a little longer.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from real_ensemble_lab.engine.core.errors import InputError

SCHEDULER_ENV = "REAL_ENSEMBLE_LAB_SCHEDULER"
HOSTED_ENV = "REAL_ENSEMBLE_LAB_HOSTED"
MAX_SWEEPS_ENV = "REAL_ENSEMBLE_LAB_MAX_SWEEPS"
#: Seconds between checks, once no session is left, for tasks still on the cluster.
IDLE_RECHECK_S = 5.0

_CLUSTER: dict[str, Any] = {}
_LOCK = threading.Lock()
#: Held while a client starts (seconds), so that the count of users stays quick to change.
_START = threading.Lock()
#: Ids of the sessions using the shared client.
_USERS: set[str] = set()
_ATEXIT: list[bool] = []
_SLOTS: dict[str, Any] = {}


def hosted() -> bool:
    """Whether the page runs hosted: sweeps from the page are off."""
    return os.environ.get(HOSTED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def scheduler_address() -> str | None:
    """The scheduler the page's sweeps go to, or None for a local cluster."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def max_sweeps() -> int:
    """Sweeps that may run from the page at once (``REAL_ENSEMBLE_LAB_MAX_SWEEPS``)."""
    text = os.environ.get(MAX_SWEEPS_ENV, "").strip() or "1"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise InputError(f"{MAX_SWEEPS_ENV} must be a whole number from 1 to 64, not {text!r}.")
    return n


def sweep_slots() -> threading.BoundedSemaphore:
    """The module's semaphore of page sweeps, sized by :func:`max_sweeps` on first use."""
    with _LOCK:
        if "sem" not in _SLOTS:
            _SLOTS["n"] = max_sweeps()
            _SLOTS["sem"] = threading.BoundedSemaphore(_SLOTS["n"])
        return _SLOTS["sem"]


def try_start_sweep() -> str | None:
    """Take a sweep slot: None when taken (give it back with :func:`end_sweep`), else the
    sentence that says why no sweep can start now."""
    if hosted():
        return ("Sweeps from the page are off on this hosted server; load existing results, "
                "or run sweeps with python -m engine sweep on your own machine.")
    try:
        slots = sweep_slots()
    except InputError as err:
        return str(err)
    if not slots.acquire(blocking=False):
        n = _SLOTS["n"]
        return (f"{'A sweep is' if n == 1 else f'{n} sweeps are'} already running on this "
                f"server (at most {n} at once); try again when {'it has' if n == 1 else 'one has'}"
                f" finished.")
    return None


def end_sweep() -> None:
    """Give back the slot taken by :func:`try_start_sweep`."""
    sweep_slots().release()


# --- the shared client ---------------------------------------------------------------------

def _current_session() -> Any:
    """The document of the session being served on this thread, or None.

    Only on the server's main thread (its event loop): Bokeh's current document is one global
    while callbacks run, so a worker thread could see another session's."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import panel as pn

        doc = pn.state.curdoc
    except Exception:
        return None
    return doc if getattr(doc, "session_context", None) is not None else None


def hold(doc: Any = None) -> bool:
    """Count the session of ``doc`` (default: the current one) as a user of the client
    until it is destroyed; False when there is no session (a script, a test)."""
    doc = doc if doc is not None else _current_session()
    ctx = getattr(doc, "session_context", None)
    if ctx is None:
        return False
    with _LOCK:
        if ctx.id in _USERS:
            return True
        _USERS.add(ctx.id)
    doc.on_session_destroyed(_session_destroyed)
    return True


def _session_destroyed(session_context: Any) -> None:
    release(session_context.id)


def release(session_id: str) -> None:
    """The session ``session_id`` is done with the client: close it if it was the last."""
    with _LOCK:
        _USERS.discard(session_id)
        last = not _USERS and "client" in _CLUSTER
    if last:  # closing takes a second or two: not on the server's event loop
        threading.Thread(target=_close_when_idle, name="studies-cluster-close",
                         daemon=True).start()


def users() -> int:
    """Sessions counted as users of the shared client."""
    with _LOCK:
        return len(_USERS)


def _busy(client: Any) -> bool:
    try:
        return bool(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))
    except Exception:  # a scheduler that cannot answer is not worth keeping
        return False


def _close_when_idle() -> None:
    while True:
        with _LOCK:
            client = _CLUSTER.get("client")
            if _USERS or client is None:
                return
        if not _busy(client):
            break
        threading.Event().wait(IDLE_RECHECK_S)  # tasks of a closed session still running
    with _LOCK:
        if _USERS or _CLUSTER.get("client") is not client:
            return
    close_shared_client()


def shared_client(workers: int = 2) -> Any:
    """The Dask client of the page's sweeps: the scheduler of ``REAL_ENSEMBLE_LAB_SCHEDULER``,
    else a LocalCluster of ``workers`` processes started on first use.

    The session being served (if any) is counted as a user; an unreachable scheduler is one
    :class:`InputError` sentence after the engine's connection deadline."""
    hold()
    with _START:
        with _LOCK:
            if "client" in _CLUSTER:
                return _CLUSTER["client"]
        address = scheduler_address()
        if address is not None:
            from real_ensemble_lab.engine.studies.cluster import connect

            started = {"client": connect(address)}
        else:
            from distributed import Client

            from real_ensemble_lab.engine.studies.cluster import local_cluster

            cluster = local_cluster(workers)
            started = {"cluster": cluster, "client": Client(cluster, set_as_default=False)}
        with _LOCK:
            _CLUSTER.update(started)
            if not _ATEXIT:
                atexit.register(close_shared_client)
                _ATEXIT.append(True)
        return started["client"]


def shared_client_running() -> bool:
    """Whether the shared client is open."""
    with _LOCK:
        return "client" in _CLUSTER


def remote() -> bool:
    """Whether the page's sweeps go to a scheduler by address (its workers may not see the
    data folder: results come back and are written here)."""
    return scheduler_address() is not None


def close_shared_client() -> None:
    """Close the shared client (and its local cluster)."""
    with _LOCK:
        client = _CLUSTER.pop("client", None)
        cluster = _CLUSTER.pop("cluster", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()
