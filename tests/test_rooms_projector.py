"""The teacher's projector view without a server (the room's clock is a fake)."""

from __future__ import annotations

import re

import panel as pn
import pytest

from real_ensemble_lab.app.rooms import registry
from real_ensemble_lab.app.rooms.board import counts_html, recent_html
from real_ensemble_lab.app.rooms.projector import KEY_SHOWN_S, ClassroomView
from real_ensemble_lab.engine import build_preset, make_params


class Clock:
    t = 10.0

    def __call__(self) -> float:
        return self.t


def make_view(**kw):
    clock = Clock()
    rooms = registry.Rooms(max_rooms=1, clock=clock)
    view = ClassroomView(lambda: (build_preset("three_level"), make_params(mode="population")),
                         registry=lambda: rooms, base="http://192.0.2.7:5006")
    view.virtual.value = kw.get("virtual", 0)
    return view, rooms, clock


def test_open_shows_link_qr_and_counts_that_follow_the_room():
    view, rooms, clock = make_view(virtual=20)
    view.open_room()
    room = view.room
    assert room is not None and room.ens.N == 20 and view.live.visible
    link = re.sub(r"<[^>]+>", "", view.link.object)
    assert f"http://192.0.2.7:5006/join?room={room.code}" in link
    # no break inside the URL: two unbreakable parts, a break allowed only before "?"
    assert '">http://192.0.2.7:5006/join</span><wbr><span style="white-space:nowrap">?room=' \
        in view.link.object
    assert view.qr.object.startswith("<svg")
    students = [room.join(f"S{k}") for k in range(12)]
    view.play.clicks += 1  # Start
    assert room.running and view.play.label == "Pause"
    for _ in range(10):
        clock.t += 0.5
        room.tick()
    view.refresh()
    shown = [int(x) for x in re.findall(r'room-count-\d+">(\d+)<', view.counts.object)]
    cards = [int(room.ens.A[p.system]) for p in students]
    assert shown == [cards.count(a) for a in range(3)]
    assert 'room-students">12<' in view.counts.object and "N = <b" in view.counts.object
    assert "copied" in view.recent.object or not room.recent
    assert len(view.dev.source.data["t"]) == 10
    assert view.dev.bands[0].top == pytest.approx(32 ** -0.5)


def test_controls_and_the_server_cap():
    view, rooms, clock = make_view()
    view.open_room()
    room = view.room
    view.pace.value = 0.5
    view.virtual.value = 7
    assert room.pace == 0.5 and room.ens.N == 7
    view.measure.value = True
    assert room.measure_mode
    other = ClassroomView(view._context, registry=lambda: rooms, base="")
    other.open_room()
    assert other.room is None and "holds 1 room," in other.message.object
    view.close.clicks += 1
    assert room.closed and rooms.get(room.code) is None and view.setup.visible


def test_the_pace_is_a_round_number_with_its_meaning():
    view, rooms, clock = make_view()
    view.open_room()
    pace = view.pace.value
    assert pace == view.room.pace == float(f"{pace:.2g}")  # 0.094, not 0.0937...
    assert "time units per second" in view.pace.label
    note = view.pace_note.object
    assert re.search(r"slowest oscillation \([\d.]+ time units\) takes 3\d s", note)
    view.pace.value = 0.5
    assert view.room.pace == 0.5 and re.search(r"takes \d s", view.pace_note.object)


def shown_text(view) -> str:
    """Every pane's text and every widget's label and value in the view."""
    root = view.__panel__()
    panes = [str(p.object) for p in root.select(pn.pane.PaneBase)]
    widgets = [f"{w.name} {getattr(w, 'value', '')}" for w in root.select(pn.widgets.Widget)]
    return " ".join(panes + widgets)


def test_the_teacher_key_is_off_the_projector_until_asked_for():
    view, rooms, clock = make_view()
    view.open_room()
    key = view.room.teacher_key
    assert key not in shown_text(view)
    view.show_key.value = True  # the teacher's click
    assert key in view.key.object and view.show_key.label == "Hide teacher key"
    clock.t += KEY_SHOWN_S - 1
    view.refresh()
    assert key in view.key.object
    clock.t += 1
    view.refresh()  # hidden again after a few seconds
    assert key not in shown_text(view) and not view.show_key.value
    view.show_key.value = True
    view.show_key.value = False  # or by a second click
    assert key not in shown_text(view) and view.show_key.label == "Show teacher key"


def test_a_room_expires_without_its_projector():
    view, rooms, clock = make_view()
    view.open_room()
    clock.t += rooms.expire - 1
    view.refresh()  # the projector is seen
    clock.t += rooms.expire - 1
    assert rooms.sweep() == []
    clock.t += 2
    assert rooms.sweep() == [view.room.code]


def test_a_reloaded_projector_takes_the_room_over_with_its_key():
    view, rooms, clock = make_view(virtual=5)
    view.open_room()
    room = view.room
    room.set_measure_mode(True)
    sam = room.join("Sam")
    room.measure(sam.token)
    again = ClassroomView(view._context, registry=lambda: rooms, base="http://h")
    again.again_code.value, again.again_key.value = room.code.lower(), "WRONG"
    again.again.clicks += 1
    assert again.room is None and "teacher key" in again.message.object
    again.again_key.value = room.teacher_key
    again.again.clicks += 1
    assert again.room is room and again.live.visible
    assert again.virtual.value == 5 and again.measure.value and sam.measured is not None
    assert 'room-students">1<' in again.counts.object


def test_nicknames_and_labels_are_escaped_on_the_projector():
    evil = "<img src=x onerror=alert(1)>"
    out = recent_html({"recent": [(1.0, evil, "Bo", "<b>", "1")]})
    assert "<img" not in out and "&lt;img src=x" in out and "&lt;b&gt;" in out
    state = {"student_counts": [1], "n": [1], "students": 1, "N": 1, "virtual": 0,
             "ghosts": 0, "spectators": 0, "t": 0.0}
    assert "&lt;script&gt;" in counts_html(state, ("<script>",), ["#000"])


def test_counts_say_one_student_and_one_system_in_the_singular():
    state = {"student_counts": [1, 0], "n": [1, 0], "students": 1, "N": 1, "virtual": 0,
             "ghosts": 1, "spectators": 1, "t": 0.0}
    text = re.sub(r"<[^>]+>", "", counts_html(state, ("0", "1"), ["#000", "#111"]))
    assert "Joined: 1 student · N = 1 system (0 virtual, 1 ghost, 1 spectator per value)" \
        in text
    state.update(students=2, N=12, ghosts=0, spectators=2)
    text = re.sub(r"<[^>]+>", "", counts_html(state, ("0", "1"), ["#000", "#111"]))
    assert "2 students · N = 12 systems (0 virtual, 0 ghosts, 2 spectators per value)" in text
