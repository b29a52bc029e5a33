"""The server's heap (app/heap.py): pages' objects frozen, closed sessions' cycles freed."""

from __future__ import annotations

import gc
import weakref

import pytest

from real_ensemble_lab.app import patches
from real_ensemble_lab.app.heap import Heap


class _Cycle:
    def __init__(self):
        self.me = self


@pytest.fixture
def thawed():
    yield
    gc.unfreeze()


def test_a_settled_heap_leaves_its_objects_out_and_a_full_collection_frees_their_cycles(
        thawed):
    now = [100.0]
    heap = Heap(clock=lambda: now[0], period=300.0, after=1)
    session = _Cycle()  # a closed session's document: cycles only a full collection frees
    gone = weakref.ref(session)
    before = gc.get_freeze_count()
    heap.settle()
    assert gc.get_freeze_count() > before  # frozen: the collections that follow skip it
    del session
    gc.collect()  # an ordinary collection does not see frozen objects
    assert gone() is not None
    assert heap.collect() == 10.0  # no session has ended: looked at again in 10 s
    heap.session_ended(None)
    assert heap.collect() is None  # one has (after=1): a full collection
    assert gone() is None
    assert gc.get_freeze_count() > 0  # and the survivors are frozen again


def test_a_full_collection_waits_for_ten_ended_sessions_or_five_minutes():
    calls = []

    class FakeGC:
        def freeze(self):
            calls.append("freeze")

        def unfreeze(self):
            calls.append("unfreeze")

        def collect(self):
            calls.append("collect")
            return 0

    now = [0.0]
    heap = Heap(collector=FakeGC(), clock=lambda: now[0])  # 10 sessions or 300 s
    for _ in range(9):
        heap.session_ended(None)
    now[0] = 295.0
    assert heap.collect() == pytest.approx(5.0)  # nine ended, 5 s of the period left
    assert calls == []
    heap.session_ended(None)
    assert heap.collect() is None  # the tenth
    assert calls == ["unfreeze", "collect", "freeze"]
    heap.session_ended(None)
    now[0] = 400.0
    assert heap.collect() == 10.0  # one ended, 105 s after: looked at again in 10 s
    now[0] = 595.0
    assert heap.collect() is None  # the period is over
    assert calls.count("collect") == 2


def test_panels_collection_after_a_session_goes_through_the_heap(monkeypatch):
    import panel as pn
    import panel.io.document as pdoc

    # Panel's own (or one patched by a page built in this process), restored after
    monkeypatch.setattr(pdoc, "_garbage_collect", lambda: None)
    waits = iter([None, 30.0])

    class FakeHeap:
        collected = 0

        def collect(self):
            self.collected += 1
            return next(waits)

    heap = FakeHeap()
    scheduled = []
    monkeypatch.setattr(pn.state, "schedule_task",
                        lambda name, cb, at=None, **kw: scheduled.append((name, cb, at)))
    assert patches.collect_with(heap)
    collect = pdoc._garbage_collect
    assert collect._rel_patched
    # within Panel's 5 s after the last session ended: no collection, asked again later
    monkeypatch.setattr(pdoc, "_panel_last_cleanup", pdoc.time.monotonic())
    collect()
    assert heap.collected == 0 and scheduled[-1][:2] == ("gc.collect", collect)
    monkeypatch.setattr(pdoc, "_panel_last_cleanup", pdoc.time.monotonic() - 10)
    collect()  # due: collected, nothing scheduled
    assert heap.collected == 1 and len(scheduled) == 1
    collect()  # the heap's period not over: asked again when it is
    assert heap.collected == 2 and len(scheduled) == 2
