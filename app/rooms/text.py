"""Names and sentences of a room: nicknames made safe, copies told as who copied whom."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple

import numpy as np

#: Longest nickname (characters after cleaning).
NICK_MAX = 20


def clean_nickname(raw: Any) -> str:
    """A nickname safe to store: text only, no control or format characters, spaces
    collapsed, at most NICK_MAX characters ('' when nothing is left). Escaping for HTML
    happens where it is shown (the student page sets textContent only)."""
    if not isinstance(raw, str):
        return ""
    spaced = "".join(" " if ch.isspace() else ch for ch in raw[: 4 * NICK_MAX])
    kept = "".join(ch for ch in spaced
                   if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    return re.sub(r"\s+", " ", kept).strip()[:NICK_MAX].strip()


def noun(k: int, one: str, many: str | None = None) -> str:
    """``one`` for a count of exactly 1, else ``many`` (``one + "s"`` by default)."""
    return one if k == 1 else (many if many is not None else one + "s")


def plural(k: int, one: str, many: str | None = None) -> str:
    """The count and its noun: ``plural(1, "student")`` is '1 student', ``plural(0,
    "student")`` '0 students'."""
    return f"{k} {noun(k, one, many)}"


class Copy(NamedTuple):
    """System ``copier`` took the beable and phase of ``source`` at time ``t``."""

    t: float
    copier: Any  # a Participant, a Ghost, None (virtual) or "spectator"
    source: Any
    a_old: int
    a_new: int


def copy_lines(rows: np.ndarray, owners: list, N: int) -> list[Copy]:
    """The engine's copy events (rows t, I, a_old, a_new, J, phi_J) with owners named."""
    out = []
    for t, i, a_old, a_new, j, _ in rows:
        j = int(j)
        source = owners[j] if 0 <= j < N else "spectator"
        out.append(Copy(float(t), owners[int(i)], source, int(a_old), int(a_new)))
    return out


def describe(owner: Any) -> str:
    """'Sam's system', "Sam's ghost", 'a virtual system' or 'a spectator'."""
    if owner is None:
        return "a virtual system"
    if owner == "spectator":
        return "a spectator"
    label = owner.label
    return f"{label}'s system" if hasattr(owner, "token") else label


def short(owner: Any) -> str:
    """For the projector's list: 'Sam', "Sam's ghost", 'virtual', 'spectator'."""
    if owner is None:
        return "virtual"
    if owner == "spectator":
        return "spectator"
    return owner.label
