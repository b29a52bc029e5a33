"""Load benchmark: a class of S students on one server (issue #17, item 5).

Serves the app (``panel serve app --plugins real_ensemble_lab.app.routes``) on 127.0.0.1; S students
arrive (their sessions open, ``procs`` at a time) and then all press Play. Measures:

1. a fresh page's load time in headless Chromium, alone and under that load (the median of
   FRESH_SAMPLES pages each, from the start of the navigation to the first animation frame
   that shows the status bar's time, by the page's own clock), and how long
   the playing students wait for a frame meanwhile (the server builds the visitor's
   document on the loop that sends the frames);
2. each student's simulated-time rate: the status bar's time, as the server sends it,
   read twice ``--seconds`` apart; against one student playing alone;
3. the server's memory (PSS: pages shared by worker processes counted once) and CPU (share
   of one core) while the S students play;
4. what the (cap + 1)-th visitor sees in Chromium with REAL_ENSEMBLE_LAB_MAX_SESSIONS = S + 1
   (the students and the fresh page fill it), and how long it takes to show;
5. that every runner thread and session place is gone after all close (``GET /runners``
   reaches 0 in every worker process).

Students are light clients speaking Bokeh's WebSocket protocol (:class:`Student`): each is
a real session of the served app (``app/main.py`` runs, a runner thread starts: ``GET
/runners`` counts them); it pulls the document, sends the two events a browser sends (the
page is ready, so the app starts pulling frames; a click on Play) and then receives every
message the server sends, reading the status bar from them without building plots. One
Chromium on this 2-core machine cannot draw 30 dashboards (three playing pages took 1.3
cores, each page 10 s to load, 2026-12-02); the light clients leave the cores to the
server, as a class's own computers would.

The same is done with ``--num-procs 2`` (no full-lab check there: each process has its own
cap). Writes its section (``## Load: a class on one server``) into benchmarks/RESULTS.md.
Run: ``.venv/bin/python benchmarks/bench_load.py --sessions 30`` (at most 5 minutes: each
configuration stops opening sessions when its share of the time runs short, and says how
many it had).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import platform
import re
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, os.path.dirname(__file__))
from _results import write_section  # noqa: E402

from tests._app_fixtures import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    get_json,
    panel_argv,
    serve,
)

#: The whole benchmark's bound by default, seconds (a SIGALRM ends it, servers and browser
#: included); ``--limit`` sets another (a class of 30 needs about 90 s per process just to
#: arrive on this machine).
HARD_LIMIT = 295
#: Seconds a configuration keeps, after opening its students, for the measurements.
AFTER_OPENING = 75
#: Seconds kept after the ramp for the fresh page, the refused visitor and closing.
FRESH_RESERVE = 70
#: Fresh pages timed alone and under load (a page's load varies by a second between runs
#: on this machine): the median is reported, with the range.
FRESH_SAMPLES = 3
#: Groups in which the students press Play.
RAMP_STEPS = 5
#: GET /runners slower than this (seconds) means the server's event loop is saturated.
SATURATED = 5.0
VIEWPORT = {"width": 1000, "height": 700}
COLUMNS = ("worker processes", "students playing", "fresh page alone (s): median (range)",
           "fresh page under load (s): median (range)", "simulated time / s, one student alone",
           "under load: median (range)", "frames / s per student: alone, under load (median)",
           "server CPU (one core = 100 %)",
           "server memory, PSS MiB: idle → under load → closed", "visitor S + 2",
           "runner threads after all close")
HEADER = "| " + " | ".join(COLUMNS) + " |"
#: The status bar's time (app/parts/status.py: ``<b class="rel-time" data-frame=...>``).
T_RE = re.compile(r'class="rel-time"[^>]*>\s*([-+0-9.eE]+)\s*<')


class OutOfTime(Exception):
    pass


class Student:
    """A light client: one session of the served app that plays, then reads the status
    bar's time from the messages the server sends, decoding no document.

    It speaks Bokeh's protocol on a WebSocket, as BokehJS does: it pulls the document (to
    find the Play button's id), sends "the page is ready" (Panel's onload then starts the
    frame pull) and a click on Play, and reads every message. ``bokeh.client`` is not
    used: it builds every model of the document (and needs the app's own classes), and its
    loop recurses once per message, stopping at Python's recursion limit after about a
    thousand (25 s of frames).
    """

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, float]] = []  # (arrival, simulated time)
        self.max_gap = 0.0  # longest wait between two frames since the last reset
        self.frames = 0  # status bar updates received
        self.fps = 0.0
        self.pull_s = float("nan")
        self._reader: asyncio.Future | None = None

    async def connect(self) -> None:
        from bokeh.client.util import websocket_url_for_server_url
        from bokeh.client.websocket import WebSocketClientConnectionWrapper
        from bokeh.protocol.receiver import Receiver
        from bokeh.util.token import generate_jwt_token, generate_session_id
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        t0 = time.monotonic()
        token = generate_jwt_token(generate_session_id())
        ws = await websocket_connect(HTTPRequest(websocket_url_for_server_url(self.url)),
                                     subprotocols=["bokeh", token],
                                     max_message_size=100 * 2**20)
        self._ws, self._conn = ws, WebSocketClientConnectionWrapper(ws)
        self._receiver = Receiver(protocol())
        await self._expect("ACK")
        await protocol().create("PULL-DOC-REQ").send(self._conn)
        reply = await self._expect("PULL-DOC-REPLY")
        self.play_id = _find_play(reply.content["doc"])
        self.pull_s = time.monotonic() - t0

    async def _expect(self, msgtype: str):
        while True:
            fragment = await self._ws.read_message()
            if fragment is None:
                raise ConnectionError(f"the server closed the connection before {msgtype}")
            msg = await self._receiver.consume(fragment)
            if msg is not None and msg.msgtype == msgtype:
                return msg

    async def play(self) -> None:
        from bokeh.document import Document
        from bokeh.document.events import MessageSentEvent
        from bokeh.events import ButtonClick, DocumentReady
        from bokeh.models import Button

        doc = Document()
        stand_in = Button(label="Play")
        doc.add_root(stand_in)
        msg = protocol().create("PATCH-DOC", [
            MessageSentEvent(doc, "bokeh_event", DocumentReady()),
            MessageSentEvent(doc, "bokeh_event", ButtonClick(stand_in))])
        content = msg.content
        content["events"][1]["msg_data"]["values"]["entries"] = [["model", {"id": self.play_id}]]
        msg.content = content  # a reference to the served document's own Play button
        await msg.send(self._conn)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self._ws.read_message()
            if msg is None:
                return
            if isinstance(msg, str) and "rel-time" in msg:
                m = T_RE.search(html.unescape(msg.replace('\\"', '"')))
                if m:
                    now = time.monotonic()
                    if self.samples:
                        self.max_gap = max(self.max_gap, now - self.samples[-1][0])
                    self.samples.append((now, float(m[1])))
                    self.frames += 1
                    del self.samples[:-2]

    def latest(self) -> tuple[float, float] | None:
        return self.samples[-1] if self.samples else None

    def longest_gap(self) -> float:
        """The longest wait for a frame since the last reset, the wait still going on
        included."""
        since = time.monotonic() - self.samples[-1][0] if self.samples else 0.0
        return max(self.max_gap, since)

    async def close(self) -> None:
        self._ws.close(1000, "closed")
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=10)


def protocol():
    from bokeh.protocol import Protocol

    return Protocol()


def _find_play(node) -> str:
    """The id of the document's Button labelled Play (a walk through its JSON)."""
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if str(x.get("name", "")).endswith("Button") and \
                    (x.get("attributes") or {}).get("label") == "Play":
                return x["id"]
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    raise LookupError("no Play button in the document")


#: The light clients' event loop, in a thread of its own (Playwright's synchronous API runs
#: an event loop in the main thread).
_loop = asyncio.new_event_loop()
threading.Thread(target=_loop.run_forever, daemon=True, name="students").start()


def _run(coro, timeout: float = 120.0):
    return asyncio.run_coroutine_threadsafe(coro, _loop).result(timeout)


def new_students(url: str, n: int) -> list[Student]:
    """``n`` students connected at once (each a session of the app, paused)."""
    students = [Student(url) for _ in range(n)]
    _run(_gather(s.connect() for s in students))
    return students


def play_all(students: list[Student]) -> None:
    _run(_gather(s.play() for s in students))


def close_students(students: list[Student]) -> None:
    _run(_gather(s.close() for s in students))


async def _gather(coros) -> None:
    await asyncio.gather(*coros)


def server_procs(port: int) -> list[psutil.Process]:
    """The server's processes: the one started and, with --num-procs, its workers."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "serve" in cmd and str(port) in cmd and p.parent() and \
                str(port) not in " ".join(p.parent().cmdline()):
            return [p, *p.children(recursive=True)]
    raise RuntimeError("server process not found")


def pss_mib(procs: list[psutil.Process]) -> float:
    return sum(p.memory_full_info().pss for p in procs) / 2**20


def runners_by_pid(base: str, workers: int, timeout: float = 60.0) -> dict[int, dict]:
    """The latest ``/runners`` answer of every worker process (each request reaches one)."""
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        info = get_json(base + "/runners", timeout=60)
        seen[info["pid"]] = info
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(seen)} of {workers} worker processes answered")
    return seen


def wait_all_closed(base: str, workers: int, timeout: float = 60.0) -> float:
    """Seconds until every worker reports no runner and no session (polled)."""
    t0 = time.monotonic()
    last: dict[int, dict] = {}
    while True:
        info = get_json(base + "/runners", timeout=60)
        last[info["pid"]] = info
        if len(last) >= workers and all(v["runners"] == 0 and v["sessions"] == 0
                                        for v in last.values()):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"runners left: {last}")
        time.sleep(0.1)


#: The page's own clock (seconds from the start of the navigation): when the server's answer
#: began, when the scripts had run (the document's content loaded) and the first animation
#: frame that shows the status bar's time. Playwright's own wait looks again at growing
#: intervals (up to 0.5 s) and through a busy renderer: it saw the same pages 0.7 s later
#: (2026-12-03), so the page's clock is the load time reported.
JS_SHOWN = """
(() => {
  const walk = (root) => {
    const hit = root.querySelector('.rel-time');  // the status bar's time, only there
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const h = walk(el.shadowRoot); if (h) return h; }
    }
    return null;
  };
  const look = () => {
    const el = walk(document);
    const box = el && el.getBoundingClientRect();
    if (box && box.width > 0 && box.height > 0 && el.textContent.trim()) {
      window.__rel_shown = performance.now() / 1000;
    } else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();
"""
JS_PHASES = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.responseStart / 1000, n.domContentLoadedEventEnd / 1000, window.__rel_shown] }"""


def open_page(browser, url: str, timeout: float = 90.0, phases: list | None = None):
    """A new student (own context): (context, page, seconds until the status bar shows a
    time, by the page's clock). ``phases`` gets (server answered, scripts run, status
    shown, Playwright saw it), in seconds."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.add_init_script(JS_SHOWN)
    page = ctx.new_page()
    t0 = time.monotonic()
    try:
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        expect(page.locator(".rel-status .rel-time")).to_be_visible(
            timeout=max(1.0, timeout - (time.monotonic() - t0)) * 1000)
        seen = time.monotonic() - t0
        answered, scripts, shown = page.evaluate(JS_PHASES)
    except (AssertionError, PlaywrightError):
        ctx.close()
        raise
    took = shown if shown is not None else seen
    if phases is not None:
        phases.append((answered, scripts, took, seen))
    return ctx, page, took


def phase_text(phases: list) -> str:
    """Medians of open_page's phases, as a sentence's end."""
    if not phases:
        return "not measured"
    a, b, c, d = (statistics.median(p[i] for p in phases) for i in range(4))
    return (f"the server answered after {a:.1f} s, the scripts had run at {b:.1f} s, "
            f"the plots and status bar showed at {c:.1f} s (Playwright saw them at "
            f"{d:.1f} s)")


def student_rates(students: list[Student], seconds: float) -> list[float]:
    """Simulated time per wall second of each student over ``seconds`` (status bar times
    and their arrival); NaN for a student whose status bar did not change."""
    first = [(s.latest(), s.frames) for s in students]
    time.sleep(seconds)
    out = []
    for (a, k), s in zip(first, students, strict=True):
        b = s.latest()
        s.fps = (s.frames - k) / seconds
        out.append(float("nan") if a is None or b is None or b[0] == a[0]
                   else (b[1] - a[1]) / (b[0] - a[0]))
    return out


def ping(base: str) -> float:
    """Seconds GET /runners takes (the server's event loop answers it between frames);
    inf when no answer comes within a minute."""
    t0 = time.monotonic()
    try:
        get_json(base + "/runners", timeout=60)
    except OSError:
        return float("inf")
    return time.monotonic() - t0


def quiet_gaps(students: list[Student], seconds: float) -> list[float]:
    """The students' longest wait between two frames over ``seconds`` with no visitor."""
    for s in students:
        s.max_gap = 0.0
    time.sleep(seconds)
    return [s.longest_gap() for s in students]


def wait_frames(students: list[Student], timeout: float = 60.0) -> None:
    """Until every student has received frames for a second (the first session of a
    process waits several seconds for its first frame)."""
    deadline = time.monotonic() + timeout
    while not all(s.latest() for s in students):
        if time.monotonic() > deadline:
            break  # measured as not moving
        time.sleep(0.1)
    time.sleep(1.0)


def run_config(browser, S: int, procs: int, seconds: float, deadline: float) -> dict:
    """One server (``procs`` worker processes) under S playing students."""
    out: dict = {"procs": procs, "S_asked": S}
    port = free_port()
    cap = S + 1
    env = {"REAL_ENSEMBLE_LAB_MAX_SESSIONS": str(cap)}
    argv = panel_argv(port, *(["--num-procs", str(procs)] if procs > 1 else []))
    t_start = time.monotonic()
    with serve(argv, port, env=env, timeout=90) as base:
        out["startup_s"] = time.monotonic() - t_start
        url = base + "/app"
        sprocs = server_procs(port)
        workers = max(1, len(sprocs) - 1) if procs > 1 else 1
        # one student alone (the first also loads the kernels), then a fresh page alone
        warm = new_students(url, 1)[0]
        play_all([warm])
        wait_frames([warm])
        out["rate_alone"] = student_rates([warm], seconds / 2)[0]
        out["fps_alone"] = warm.fps
        out["pull_alone"] = warm.pull_s
        close_students([warm])
        # a fresh page alone: the second one (a student's browser is already running; the
        # first page of a new Chromium took 2-3 s longer, 2026-12-03)
        ctx, _page, _first = open_page(browser, url)
        ctx.close()
        out["loads_alone"], out["phases_alone"] = [], []
        for _ in range(FRESH_SAMPLES):
            ctx, _page, took = open_page(browser, url, phases=out["phases_alone"])
            ctx.close()
            out["loads_alone"].append(took)
        out["load_alone"] = statistics.median(out["loads_alone"])
        wait_all_closed(base, workers)
        out["pss_base"] = pss_mib(sprocs)
        print(f"[{procs} proc] start-up {out['startup_s']:.1f} s; alone: page load "
              f"{out['load_alone']:.1f} s ({phase_text(out['phases_alone'])}), student's "
              f"rate {out['rate_alone']:.2f}", flush=True)

        # the class arrives (``procs`` students at a time), then everyone presses Play
        students: list[Student] = []
        open_until = deadline - AFTER_OPENING
        t_open = time.monotonic()
        while len(students) < S and time.monotonic() < open_until:
            students += new_students(url, min(procs, S - len(students)))
        out["open_s"] = time.monotonic() - t_open
        out["S"] = len(students)
        out["pulls"] = [s.pull_s for s in students]
        print(f"[{procs} proc] {out['S']} students in {out['open_s']:.0f} s (median pull "
              f"{statistics.median(out['pulls']):.1f} s)", flush=True)

        # They press Play a group at a time, each group measured. Every playing session's
        # frames are built and sent on the server's event loop: when it saturates, even
        # GET /runners waits, and the ramp stops there.
        me = psutil.Process()
        group = max(1, -(-len(students) // RAMP_STEPS))  # at most RAMP_STEPS groups
        out["steps"] = []
        playing = 0
        while playing < len(students):
            new_players = students[playing:playing + group]
            play_all(new_players)
            playing += len(new_players)
            wait_frames(new_players, timeout=20)
            for p in (*sprocs, me):
                p.cpu_percent(None)
            rates = student_rates(students[:playing], seconds / 2)
            step = {"playing": playing, "rates": rates,
                    "fps": [x.fps for x in students[:playing]],
                    "cpu_server": sum(p.cpu_percent(None) for p in sprocs),
                    "cpu_clients": me.cpu_percent(None), "ping": ping(base)}
            out["steps"].append(step)
            ok = [r for r in rates if r == r]
            print(f"[{procs} proc] {playing} playing: frames/s per student "
                  f"{statistics.median(step['fps']):.1f}, rate "
                  f"{statistics.median(ok) if ok else float('nan'):.2f} ({len(ok)} moving), "
                  f"GET /runners {step['ping']:.2f} s, server CPU {step['cpu_server']:.0f} %",
                  flush=True)
            if step["ping"] > SATURATED or time.monotonic() > deadline - FRESH_RESERVE:
                break
        last = out["steps"][-1]
        out["rates"], out["fps"] = last["rates"], last["fps"]
        out["cpu_server"], out["cpu_clients"] = last["cpu_server"], last["cpu_clients"]
        out["pss_mib"] = pss_mib(sprocs)
        info = runners_by_pid(base, workers)
        out["runners"] = sum(v["runners"] for v in info.values())
        out["playing"] = sum(v["playing"] for v in info.values())
        print(f"[{procs} proc] runners {out['runners']}, playing {out['playing']}, PSS "
              f"{out['pss_mib']:.0f} MiB", flush=True)

        # a fresh visitor under load, kept open: with the students it fills the server.
        # The students' longest wait between two frames meanwhile (the document is built
        # on the server's event loop, which also sends everyone's frames)
        # (FRESH_SAMPLES of them one after another, the last kept open)
        for s in students:
            s.max_gap = 0.0
        out["loads_under"], out["phases_under"] = [], []
        fresh = None
        for k in range(FRESH_SAMPLES):
            try:
                fresh, _page, took = open_page(
                    browser, url,
                    timeout=max(30.0, min(60.0, deadline - time.monotonic() - 15)),
                    phases=out["phases_under"])
            except (AssertionError, PlaywrightError):  # not in time: the server is saturated
                fresh, took = None, float("inf")
            out["loads_under"].append(took)
            if fresh is None or k == FRESH_SAMPLES - 1 or \
                    time.monotonic() > deadline - FRESH_RESERVE / 2:
                break
            fresh.close()
            if procs == 1:  # its place is given back before the next one comes
                wait_sessions(base, len(students))
        out["load_under"] = statistics.median(out["loads_under"])
        out["gaps"] = [s.longest_gap() for s in students]
        out["gaps_quiet"] = quiet_gaps(students, 3.0)
        if procs == 1 and out["S"] == S and fresh is not None:
            # the (cap + 1)-th visitor: the one-line page, no runner started
            wait_sessions(base, cap)
            ctx = browser.new_context(viewport=VIEWPORT)
            late = ctx.new_page()
            t0 = time.monotonic()
            late.goto(url, wait_until="commit")
            full = late.get_by_text("The lab is full")
            expect(full).to_be_visible(timeout=60_000)
            out["full_s"] = time.monotonic() - t0
            out["full_text"] = full.first.text_content().strip().rstrip("¶").strip()
            out["full_runners"] = get_json(base + "/runners", timeout=60)["runners"]
            ctx.close()
        print(f"[{procs} proc] fresh page under load {out['load_under']:.1f} s "
              f"({phase_text(out['phases_under'])}); students' "
              f"longest frame gap meanwhile: median {statistics.median(out['gaps']):.2f} s "
              f"(max {max(out['gaps']):.2f}), in the 3 s after it "
              f"{statistics.median(out['gaps_quiet']):.2f} s"
              + (f"; full page in {out['full_s']:.1f} s: {out['full_text']!r}"
                 if "full_s" in out else ""), flush=True)

        if fresh is not None:
            fresh.close()
        close_students(students)
        out["closed_s"] = wait_all_closed(base, workers)
        time.sleep(1.0)
        out["pss_after"] = pss_mib(sprocs)
        print(f"[{procs} proc] all closed: runners 0 after {out['closed_s']:.1f} s", flush=True)
    return out


def _cpu(p: psutil.Process) -> float:
    try:
        return p.cpu_percent(None)
    except psutil.NoSuchProcess:
        return 0.0


def wait_sessions(base: str, n: int, timeout: float = 30.0) -> None:
    """Until the server holds ``n`` sessions (closed pages leave theirs for ~1 s)."""
    deadline = time.monotonic() + timeout
    while get_json(base + "/runners", timeout=60)["sessions"] != n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"sessions did not settle at {n}")
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30, help="students S (default 30)")
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="window over which each session's rate is measured")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2],
                    help="worker process counts compared (default 1 2)")
    ap.add_argument("--limit", type=int, default=HARD_LIMIT,
                    help=f"bound on the whole run, seconds (default {HARD_LIMIT})")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--note", default="", help="a paragraph for RESULTS.md (e.g. why S)")
    args = ap.parse_args()
    t0 = time.monotonic()
    limit = max(60, args.limit)
    end = t0 + limit

    def out_of_time(*_):
        raise OutOfTime(f"the benchmark ran past {limit} s")

    # a SIGTERM (e.g. from `timeout`) or the hard bound still runs every cleanup
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(limit)
    results = []
    load1 = os.getloadavg()[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i, k in enumerate(args.procs):
                left = end - time.monotonic()
                deadline = time.monotonic() + left / (len(args.procs) - i)
                results.append(run_config(browser, args.sessions, k, args.seconds, deadline))
        finally:
            signal.alarm(0)
            browser.close()
    wall = time.monotonic() - t0
    print(f"done in {wall:.0f} s", flush=True)
    if not args.no_write:
        write_section("Load: a class on one server", report(results, args, wall, load1))


def _secs(x: float) -> str:
    return "not loaded in time" if x == float("inf") else f"{x:.1f}"


def _span(xs: list[float]) -> str:
    """The median of a few page loads and their range."""
    if len(xs) == 1:
        return _secs(xs[0])
    return f"{_secs(statistics.median(xs))} ({_secs(min(xs))}–{_secs(max(xs))})"


def ramp_table(results: list[dict]) -> str:
    """One row per group of students pressing Play."""
    lines = ["| worker processes | students playing | frames / s per student, median (min) "
             "| simulated time / s, median (min) | GET /runners answered in (s) "
             "| server CPU |", "|---|---|---|---|---|---|"]
    for r in results:
        for st in r["steps"]:
            ok = [x for x in st["rates"] if x == x]
            rate = f"{statistics.median(ok):.2f} ({min(ok):.2f})" if ok else "none moving"
            lines.append(f"| {r['procs']} | {st['playing']} | {statistics.median(st['fps']):.1f} "
                         f"({min(st['fps']):.1f}) | {rate} | {_secs(st['ping'])} "
                         f"| {st['cpu_server']:.0f} % |")
    return "\n".join(lines)


def report(results: list[dict], args, wall: float, load1: float) -> str:
    cpu = f"{psutil.cpu_count()} cores, {platform.processor() or platform.machine()}"
    mem = psutil.virtual_memory().total / 2**30
    cmd = (f"`.venv/bin/python benchmarks/bench_load.py --sessions {args.sessions} "
           f"--seconds {args.seconds:g}" + (f" --limit {args.limit}" if args.limit != HARD_LIMIT
                                             else "") + "`")
    rows = []
    for r in results:
        ok = [x for x in r["rates"] if x == x]
        full = (f"after {r['full_s']:.1f} s: “{r['full_text']}” (runners still "
                f"{r['full_runners']}: none started for it)" if "full_s" in r
                else "not checked (a cap per process)")
        per = (r["pss_mib"] - r["pss_base"]) / max(1, r["S"])
        rows.append(
            f"| {r['procs']} | {r['S']} of {r['S_asked']} (runners {r['runners']}, playing "
            f"{r['playing']}) | {_span(r['loads_alone'])} | {_span(r['loads_under'])} "
            f"| {r['rate_alone']:.2f} | {statistics.median(ok):.2f} "
            f"({min(ok):.2f}–{max(ok):.2f}; {len(ok)} of {len(r['rates'])} moving) "
            f"| {r['fps_alone']:.1f}, {statistics.median(r['fps']):.1f} "
            f"| {r['cpu_server']:.0f} % | {r['pss_base']:.0f} → {r['pss_mib']:.0f} "
            f"({per:.0f} per session) → {r['pss_after']:.0f} after closing "
            f"| {full} | 0 after {r['closed_s']:.1f} s |")
    opened = "; ".join(
        f"{r['procs']} process{'es' if r['procs'] > 1 else ''}: {r['S']} in {r['open_s']:.0f} s "
        f"(median {statistics.median(r['pulls']):.1f} s per student)" for r in results)
    gaps = "; ".join(
        f"{r['procs']} process{'es' if r['procs'] > 1 else ''}: median "
        f"{statistics.median(r['gaps']):.1f} s (longest {max(r['gaps']):.1f} s), against "
        f"{statistics.median(r['gaps_quiet']):.2f} s in the 3 s after it loaded"
        for r in results)
    clients = ", ".join(f"{r['cpu_clients']:.0f} %" for r in results)
    phases = "; ".join(
        f"{r['procs']} process{'es' if r['procs'] > 1 else ''}: alone, "
        f"{phase_text(r.get('phases_alone', []))}; under load, "
        f"{phase_text(r.get('phases_under', []))}" for r in results)
    return f"""Command: {cmd} ({cpu}, {mem:.0f} GiB; load average {load1:.1f} at the start;
{time.strftime('%Y-%m-%d')}; {wall:.0f} s in all). The machine is shared with other work
and noisy: single figures vary by tens of percent between runs; rates are medians over
the students. {args.note}

S students open the dashboard with its defaults; once all are in, each presses Play.
Students are light clients speaking Bokeh's WebSocket protocol: each is a real session of
the served app with its runner thread (counted by `GET /runners`); it pulls the document,
sends what a browser sends (page ready, a click on Play) and reads the status bar from
every message the server sends, without drawing (one Chromium on these cores could not
draw 30 dashboards). The fresh pages and the refused visitor are headless Chromium on the
same machine.
REAL_ENSEMBLE_LAB_MAX_SESSIONS = S + 1: the students and one fresh page fill the server.

{HEADER}
{'|---' * len(COLUMNS)}|
{chr(10).join(rows)}

The students pressed Play a group at a time; each group was measured over
{args.seconds / 2:g} s (the ramp stops when GET /runners takes more than {SATURATED:g} s):

{ramp_table(results)}

A page load runs from the start of the navigation to the first animation frame that shows
the status bar's time (document built, sent and drawn), by the page's own clock;
Playwright's wait for the same element looks again at growing intervals, up to 0.5 s, and
saw it later. Medians: {phases}.
A rate is the change of the status bar's simulated time between two messages
{args.seconds / 2:g} s apart, over their arrival times (the last group's figures in the
first table); the app asks for 1 time unit per second by default. The server's CPU is
its processes' time over that window (runner threads included); on these 2 shared cores
it gets less than the cores it could use. The class arriving: {opened}; each process
builds one document at a time.
While the fresh page loaded, the playing students waited for a frame: {gaps}. The light
clients took {clients} of a core in the benchmark's process. With `--num-procs 2` each
worker process has its own limits (cap and memory budget).
"""


if __name__ == "__main__":
    main()
