"""What a phone and the projector are shown: plain dicts read from a room under its lock.

A phone sees only its own system (and, in measure mode, not even its value until it taps
Measure: the value is left out of the answer, not hidden by the page).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .model import Room
from .people import Ghost, Participant
from .text import short


def _value(room: Room, a: int, colours: list[str]) -> dict[str, Any]:
    return {"a": a, "label": room.ham.labels[a], "colour": colours[a]}


def student_state(room: Room, p: Participant | None, colours: list[str]) -> dict[str, Any]:
    """The card of student ``p`` (``p`` None: they are no longer in the room)."""
    with room.lock:
        out: dict[str, Any] = {"room": room.code, "version": room.card_version(p),
                               "t": round(room.ens.t, 2), "running": room.running,
                               "closed": room.closed, "measure_mode": room.measure_mode,
                               "students": len(room.participants), "N": room.ens.N}
        if p is None or room.participants.get(p.token) is not p:
            out["gone"] = True
            return out
        a, phi = room.ens.system(p.system)
        out.update(you=p.label, phi=round(phi, 3),
                   value=None if room.measure_mode else _value(room, a, colours),
                   measured=None if p.measured is None else
                   {"t": round(p.measured[0], 2), **_value(room, p.measured[1], colours)},
                   feed=[{"t": round(t, 2), "text": text} for t, text in reversed(p.feed)])
        return out


def projector_state(room: Room) -> dict[str, Any]:
    """Counts, the exact reference, D(t) and its band, the last copies."""
    with room.lock:
        ens = room.ens
        P = ens.ham.P
        students = np.zeros(P, dtype=np.int64)
        for p in room.participants.values():
            students[ens.A[p.system]] += 1
        n = ens.m.copy()
        N = int(ens.N)
        return {
            "code": room.code, "version": room.version, "t": ens.t, "running": room.running,
            "closed": room.closed, "pace": room.pace, "N": N,
            "students": len(room.participants),
            "ghosts": sum(isinstance(o, Ghost) for o in room.owners),
            "virtual": sum(o is None for o in room.owners), "spectators": int(ens.s),
            "n": n, "student_counts": students, "p": np.abs(ens.exact_psi()) ** 2,
            "D": ens.deviation(), "band": 1 / math.sqrt(N) if N else float("nan"),
            "empty": n + ens.s == 0,
            "recent": [(c.t, short(c.copier), short(c.source), room.ham.labels[c.a_old],
                        room.ham.labels[c.a_new]) for c in reversed(room.recent)],
            "history": list(room.history),
        }
