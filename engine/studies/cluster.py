"""Dask clients for sweeps: a LocalCluster sized to the machine, or a scheduler by address
reached within a deadline (one sentence when it cannot be)."""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import InputError

#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT_S = 4.0


def connect(scheduler: str, timeout: float | None = None):
    """A Dask client of the scheduler at ``scheduler`` within ``timeout`` seconds (default
    ``CONNECT_TIMEOUT_S``), or one :class:`InputError` sentence.

    ``Client(timeout=...)`` bounds the TCP connection but not distributed's handshake: a
    socket that accepts and never answers would hang for ever. The connection runs in a
    thread with a hard deadline instead; a client that arrives after it is closed.
    """
    import threading

    from distributed import Client

    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def attempt() -> None:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except BaseException as err:  # reported by the caller
            box["error"] = err
            return
        with lock:
            box["client"] = client
            late = box.get("late", False)
        if late:
            client.close()

    thread = threading.Thread(target=attempt, name="sweep-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if "client" not in box and "error" not in box:
            box["late"] = True
    if "client" in box and not box.get("late"):
        return box["client"]
    err = box.get("error")
    if isinstance(err, ValueError | TypeError):
        raise InputError(f"The scheduler address {scheduler!r} is not valid ({err}).") from None
    raise InputError(f"Cannot reach the Dask scheduler at {scheduler} within "
                     f"{timeout:g} s.") from None


def default_workers() -> int:
    """Local workers sized to the machine: one per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def local_cluster(workers: int | None = None):
    """A LocalCluster of single-threaded worker processes (use it as a context manager)."""
    import logging

    from distributed import LocalCluster

    return LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                        processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
