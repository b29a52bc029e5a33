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


def slowest_period(ham: Hamiltonian) -> float | None:
    """2 pi / (largest eigenvalue gap of H): one period of its slowest oscillation in
    simulated time units (the Rabi period of a two-level H); None when H has one level."""
    lam = np.linalg.eigvalsh(ham.H)
    gap = float(lam[-1] - lam[0])
    return 2 * math.pi / gap if gap > 1e-12 else None


def rounded(x: float, digits: int = 2) -> float:
    """``x`` to ``digits`` significant digits (0.0937 -> 0.094): a value a teacher reads."""
    return float(f"{x:.{digits}g}")


def default_pace(ham: Hamiltonian, wall_period: float = 30.0) -> float:
    """Simulated time per wall second such that the slowest oscillation of H takes about
    ``wall_period`` seconds, to two significant digits; 0.1 when H has one level."""
    period = slowest_period(ham)
    return rounded(period / wall_period) if period is not None else 0.1
