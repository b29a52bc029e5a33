"""The page gates of a server's worker processes (``panel serve --num-procs k``), shared.

While a visitor's page is built, :class:`app.hosting.PageGate` makes its process's engines
wait. With two worker processes on two cores the other process's students played on at
full rate meanwhile, and a fresh page under load took 3.6-4.5 s against 2.2-2.8 s in one
process (bench_load, 2026-12-04). So each worker writes until when its own gate is closed
into its slot of a small file that all workers of the server map, and a worker's engines
also wait while a sibling's gate is closed. Each gate still keeps its own budget of
closure, and a runner still waits at most ``wait_max`` seconds in a row.

Times are ``time.monotonic()``, which on Linux is one clock for every process of the
machine. A slot's time is believed only up to ``horizon`` seconds ahead (a gate's longest
hold): a file left from an earlier server, whose times belong to an earlier boot, holds
nobody. The file lies in ``/dev/shm`` (else the temporary directory), is named after the
server's main process and is removed when a worker exits normally (a file left by a
killed server is 512 bytes, and its times hold nobody past the horizon).
"""

from __future__ import annotations

import atexit
import logging
import mmap
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: Worker processes one file has room for (a process beyond that shares nothing).
SLOTS = 64


class SiblingGates:
    """Slot ``slot`` of ``path``: this worker's gate; the others: its siblings'."""

    def __init__(self, path: str | os.PathLike, slot: int, horizon: float = 5.0,
                 slots: int = SLOTS):
        if not 0 <= slot < slots:
            raise ValueError(f"slot {slot} is outside the file's {slots} slots")
        self.path, self.slot, self.horizon = Path(path), int(slot), float(horizon)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < slots * 8:
                os.ftruncate(fd, slots * 8)  # zeros: every gate open
            self._map = mmap.mmap(fd, slots * 8)
        finally:
            os.close(fd)
        self._until = memoryview(self._map).cast("d")
        self._until[self.slot] = 0.0
        self._mine = 0.0

    def publish(self, until: float) -> None:
        """This worker's gate is closed until ``until`` (0 or past: open)."""
        if until != self._mine:
            self._mine = until
            self._until[self.slot] = until

    def closed(self, now: float) -> bool:
        """Is a sibling's gate closed now?"""
        ahead = now + self.horizon
        for k, until in enumerate(self._until):
            if now < until <= ahead and k != self.slot:
                return True
        return False

    def close(self) -> None:
        self._until.release()
        self._map.close()

    @classmethod
    def for_this_process(cls, horizon: float) -> SiblingGates | None:
        """The shared gates of this server when this process is one of its forked workers
        (``--num-procs``); None for a single process or when no file can be made."""
        try:
            from tornado.process import task_id
        except ImportError:  # pragma: no cover - Tornado comes with Bokeh
            return None
        slot = task_id()
        if slot is None or slot >= SLOTS:
            return None
        folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
            else tempfile.gettempdir()
        path = Path(folder) / f"real-ensemble-lab-gates-{os.getppid()}"
        try:
            gates = cls(path, slot, horizon)
        except OSError as e:
            log.warning("worker %s: no shared page gate (%s); a page built in another "
                        "worker process does not hold this one's engines", slot, e)
            return None
        atexit.register(_remove, path)
        return gates


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass  # a sibling removed it first
