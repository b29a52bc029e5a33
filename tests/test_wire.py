"""app/wire.py: a frame's message is the one Bokeh would build, and its bytes on the wire
are the ones Tornado would write, in one write instead of three."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Scatter
from bokeh.plotting import figure
from bokeh.protocol import Protocol
from bokeh.protocol.messages.patch_doc import patch_doc
from tornado.websocket import WebSocketProtocol13, _WebSocketParams

from real_ensemble_lab.app import wire


def _run(coro):
    """Run on a loop of its own, in a thread (an earlier test may leave this thread's loop
    running: Playwright's sync API does)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def installed():
    assert wire.lazy_references() and wire.one_write_per_message()


def _changed_document():
    """A document known to the page, then changed: a text, columns (one a NumPy array: a
    binary buffer), a stream, and a new glyph renderer (new models, sent in full)."""
    doc = Document()
    div = Div(text="a")
    source = ColumnDataSource({"x": [0.0, 1.0], "y": [1.0, 2.0]})
    fig = figure(width=200, height=200)
    fig.line("x", "y", source=source)
    doc.add_root(div)
    doc.add_root(fig)
    doc.models.flush_synced()  # the page has it all
    events = []
    doc.on_change(lambda event: events.append(event))
    div.text = "b"
    source.data = {"x": np.arange(300.0), "y": np.arange(300.0) ** 2}
    source.stream({"x": [300.0], "y": [9.0e4]})
    fig.scatter("x", "y", source=source, marker="circle")  # a new renderer and glyph
    return doc, events


def _content(msg):
    """The message's content as sent, its buffers' ids (new for every message) numbered
    in order, and the buffers' bytes."""
    text = msg.content_json
    for k, buffer in enumerate(msg.buffers):
        text = text.replace(f'"{buffer.id}"', f'"buffer-{k}"')
    return text, [bytes(b.to_bytes()) for b in msg.buffers]


def test_a_frames_message_is_the_one_bokeh_builds():
    doc, events = _changed_document()
    new_before = set(doc.models._new_models)
    assert any(isinstance(m, Scatter) for m in new_before)
    bokeh_own = patch_doc.create.__func__.__wrapped__(patch_doc, events)
    new_after = set(doc.models._new_models)
    doc.models._new_models = set(new_before)  # as it was before Bokeh's own ran
    ours = patch_doc.create(events)
    assert _content(ours) == _content(bokeh_own)
    assert set(doc.models._new_models) == new_after  # the new models are synced now
    text = ours.content_json
    assert '"new":"b"' in text and "Scatter" in text  # the new glyph goes in full
    assert text.count('"type":"object","name":"ColumnDataSource"') == 0  # the source by reference


class _Stream:
    def __init__(self):
        self.writes: list[bytes] = []
        self.is_closed = False

    def closed(self):
        return self.is_closed

    def write(self, data):
        from tornado.iostream import StreamClosedError
        if self.is_closed:
            raise StreamClosedError()
        self.writes.append(bytes(data))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def _connection():
    ws = WebSocketProtocol13(SimpleNamespace(), mask_outgoing=False, params=_WebSocketParams())
    ws.stream = _Stream()
    return SimpleNamespace(_socket=SimpleNamespace(ws_connection=ws), protocol=Protocol()), ws


def test_a_message_goes_out_in_one_write_with_tornados_bytes():
    import panel.io.document as pdoc

    async def run():
        doc, events = _changed_document()
        msg = Protocol().create("PATCH-DOC", events)
        assert msg.buffers  # the NumPy column travels as a binary frame
        conn, ws = _connection()
        futures = pdoc.dispatch_tornado.__wrapped__(conn, msg=msg)  # Panel's own
        await asyncio.gather(*futures)
        theirs, counted = ws.stream.writes, (ws._message_bytes_out, ws._wire_bytes_out)
        assert len(theirs) == 3 + 2 * len(msg.buffers)
        conn, ws = _connection()
        futures = pdoc.dispatch_tornado(conn, msg=msg)
        await asyncio.gather(*futures)
        assert len(futures) == 1 and ws.stream.writes == [b"".join(theirs)]
        assert (ws._message_bytes_out, ws._wire_bytes_out) == counted
        # a page that has gone: nothing written, no error
        conn, ws = _connection()
        ws.stream.is_closed = True
        assert pdoc.dispatch_tornado(conn, msg=msg) == []

    _run(run())


def test_a_compressed_connection_is_left_to_tornado():
    import panel.io.document as pdoc

    async def run():
        doc, events = _changed_document()
        msg = Protocol().create("PATCH-DOC", events)
        conn, ws = _connection()
        ws._compressor = SimpleNamespace(compress=lambda data: data)  # stands for zlib
        await asyncio.gather(*pdoc.dispatch_tornado(conn, msg=msg))
        assert len(ws.stream.writes) == 3 + 2 * len(msg.buffers)

    _run(run())


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536])
def test_frame_lengths_follow_rfc6455(n):
    async def run():
        conn, ws = _connection()
        ws._write_frame(True, 0x1, b"x" * n)
        return ws.stream.writes[0]

    assert wire._frame(b"x" * n, 0x1) == _run(run())
