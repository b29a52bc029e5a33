"""The projector's text parts as HTML: counts per value and who copied whom (every name
and label escaped; nicknames come from phones)."""

from __future__ import annotations

import html
from typing import Any

from .text import noun, plural


def counts_html(s: dict[str, Any], labels: tuple[str, ...], colours: list[str]) -> str:
    """Joined, N and t, then a table of students and of all systems per value (in the
    histogram's colours); cells ``room-count-<a>`` hold the students' counts."""
    cells = "".join(f'<td class="room-count-{a}">{int(k)}</td>'
                    for a, k in enumerate(s["student_counts"]))
    every = "".join(f"<td>{int(k)}</td>" for k in s["n"])
    heads = "".join(f'<th><span style="color:{c}">&#9679;</span> {html.escape(str(lb))}</th>'
                    for lb, c in zip(labels, colours, strict=True))
    k, N = int(s["students"]), int(s["N"])
    return (f'<p class="room-joined" style="font-size:18px">Joined: <b class="room-students">'
            f'{k}</b> {noun(k, "student")} · N = <b class="room-N">{N}</b> {noun(N, "system")} '
            f'({s["virtual"]} virtual, {plural(s["ghosts"], "ghost")}, '
            f'{plural(s["spectators"], "spectator")} per value) · '
            f't = <b class="room-t">{s["t"]:.2f}</b></p>'
            f'<table class="room-table" style="font-size:18px;text-align:right">'
            f"<tr><th>value a</th>{heads}</tr><tr><th>students</th>{cells}</tr>"
            f"<tr><th>all systems</th>{every}</tr></table>")


def recent_html(s: dict[str, Any]) -> str:
    """The last copies, newest first."""
    items = "".join(f"<li>t = {t:.1f}: {html.escape(w)} copied {html.escape(src)} "
                    f"(a {html.escape(str(a0))} → {html.escape(str(a1))})</li>"
                    for t, w, src, a0, a1 in s["recent"])
    return f"<h3>Who copied whom</h3><ol style='font-size:17px'>{items}</ol>"
