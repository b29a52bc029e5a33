"""Who sits in a room: students (one system each), ghosts, and the room's default pace."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from real_ensemble_lab.engine import Hamiltonian

#: Lines kept in each student's feed.
FEED_LINES = 12


@dataclass(eq=False)
class Participant:
    """A student's phone: one system of the ensemble."""

    token: str
    number: int
    nickname: str
    last_seen: float
    system: int = -1
    feed: deque = field(default_factory=lambda: deque(maxlen=FEED_LINES))
    measured: tuple[float, int] | None = None
    version: int = 0  # grows when this card changes (Room.card_version)

    @property
    def label(self) -> str:
        return self.nickname or f"Student {self.number}"


@dataclass(frozen=True)
class Ghost:
    """The system of a student who left, kept in the ensemble."""

    label: str


def default_pace(ham: Hamiltonian, wall_period: float = 30.0) -> float:
    """Simulated time per wall second such that the slowest oscillation of H (its largest
    eigenvalue gap) takes ``wall_period`` seconds; 0.1 when H has one level."""
    lam = np.linalg.eigvalsh(ham.H)
    gap = float(lam[-1] - lam[0])
    return (2 * math.pi / gap) / wall_period if gap > 1e-12 else 0.1
