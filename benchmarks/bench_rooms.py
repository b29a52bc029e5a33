"""Load of a classroom room: 100 lightweight student clients in one room on 127.0.0.1.

The server is a separate process serving only the rooms' routes (``app.rooms.handlers``,
with this process's registry and ticker, as under ``panel serve``) plus two bench-only
routes (start the room, read its tick log). The clients (tornado AsyncHTTPClient in one
asyncio loop, not browsers) join, then long-poll their cards exactly as the phone page
does. Measured: the server's CPU (% of one core) and resident memory, and for every copy
event that reaches a card, the delay from the event to the card receiving it:

- *paced delay*: from the wall time at which the paced simulation passed the event's
  time t (tick start + (t - t_start) / pace) to the client's receipt;
- *commit delay*: from the end of the tick that made the event to the client's receipt.

Run: ``.venv/bin/python benchmarks/bench_rooms.py`` (``--students 100 --seconds 30``);
``--write`` puts the table into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


# -- the server process ------------------------------------------------------------------
def serve(port: int, virtual: int, pace: float, preset: str) -> None:
    from tornado import web
    from tornado.ioloop import IOLoop

    from real_ensemble_lab.app.rooms import handlers
    from real_ensemble_lab.app.rooms.registry import rooms
    from real_ensemble_lab.engine import build_preset, make_params

    room = rooms().create(build_preset(preset), make_params(mode="agents", spectators=1),
                          virtual=virtual, pace=pace)
    log: list[tuple[float, float, float, float]] = []
    tick = room.tick

    def logged_tick(now=None):
        wb, tb = time.time(), room.ens.t
        moved = tick(now)
        if moved:
            log.append((wb, tb, time.time(), room.ens.t))
        return moved

    room.tick = logged_tick

    class Start(web.RequestHandler):
        def post(self):
            room.start()
            self.finish("ok")

    class Ticks(web.RequestHandler):
        def get(self):
            self.finish(json.dumps(log))

    app = web.Application([*handlers.ROUTES, (r"/bench/start", Start),
                           (r"/bench/ticks", Ticks)])
    app.listen(port, address="127.0.0.1")
    print(room.code, flush=True)
    IOLoop.current().start()


# -- the clients -------------------------------------------------------------------------
async def student(base: str, code: str, k: int, run: dict, got: list) -> None:
    """Join, then long-poll like the phone page; record (t, receipt) of each new copy."""
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient()
    r = await http.fetch(f"{base}/room/{code}/join", method="POST",
                         body=json.dumps({"nickname": f"s{k}"}))
    cookie = r.headers["Set-Cookie"].split(";")[0]
    card = json.loads(r.body)
    seen = {(f["t"], f["text"]) for f in card["feed"]}
    version = card["version"]
    run["joined"] += 1
    while time.time() < run["stop"]:
        r = await http.fetch(f"{base}/room/{code}/state?since={version}",
                             headers={"Cookie": cookie}, request_timeout=60)
        now = time.time()
        card = json.loads(r.body)
        version = card["version"]
        for f in card["feed"]:
            key = (f["t"], f["text"])
            if key not in seen:
                seen.add(key)
                if "copied" in f["text"]:
                    got.append((f["t"], now))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--virtual", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--pace", type=float, default=0.2)
    ap.add_argument("--preset", default="two_level")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve(a.serve, a.virtual, a.pace, a.preset)

    import psutil
    from tornado.httpclient import HTTPClient

    sys.path.insert(0, str(ROOT / "tests"))
    from _app_fixtures import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REAL_ENSEMBLE_LAB_ROOM_SIZE": "1000"}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--virtual",
                             str(a.virtual), "--pace", str(a.pace), "--preset", a.preset],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        code = proc.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        server = psutil.Process(proc.pid)
        rss0 = server.memory_info().rss

        from tornado.httpclient import AsyncHTTPClient

        AsyncHTTPClient.configure(None, max_clients=a.students + 10)
        run, got = {"joined": 0, "stop": float("inf")}, []

        async def join_all():
            tasks = [asyncio.create_task(student(base, code, k, run, got))
                     for k in range(a.students)]
            while run["joined"] < a.students:
                await asyncio.sleep(0.05)
            return tasks

        loop = asyncio.new_event_loop()
        tasks = loop.run_until_complete(join_all())
        rss_joined = server.memory_info().rss
        HTTPClient().fetch(f"{base}/bench/start", method="POST", body="")
        cpu0, w0 = sum(server.cpu_times()[:2]), time.time()
        run["stop"] = w0 + a.seconds
        loop.run_until_complete(asyncio.gather(*tasks))
        cpu1, w1 = sum(server.cpu_times()[:2]), time.time()
        rss1 = server.memory_info().rss
        ticks = np.array(json.loads(HTTPClient().fetch(f"{base}/bench/ticks").body))
    finally:
        proc.terminate()
        proc.wait(10)
    report(a, got, ticks, 100 * (cpu1 - cpu0) / (w1 - w0), rss0, rss_joined, rss1)


def report(a, got, ticks, cpu, rss0, rss_joined, rss1) -> None:
    paced, commit = [], []
    for t, recv in got:
        k = np.searchsorted(ticks[:, 3], t - 0.005)  # the tick whose end passed t
        if k >= len(ticks):
            continue
        wb, _, wa, ta = ticks[k]
        # the tick at wb advanced the room to ta: the paced clock passed t (ta - t)/pace
        # before wb
        paced.append(recv - (wb - max(ta - t, 0.0) / a.pace))
        commit.append(recv - wa)
    paced, commit = np.array(paced), np.array(commit)

    def stats(x):
        return (f"median {np.median(x) * 1e3:.0f} ms, 95th percentile "
                f"{np.percentile(x, 95) * 1e3:.0f} ms, max {x.max() * 1e3:.0f} ms")

    mib = 2**20
    cmd = (f".venv/bin/python benchmarks/bench_rooms.py --students {a.students} --seconds "
           f"{a.seconds:g} --pace {a.pace:g} --preset {a.preset} --write")
    within = 100 * np.mean(paced <= 1.0)
    body = f"""Command: `{cmd}` ({time.strftime('%Y-%m-%d')}, x86_64, 2 cores shared with
other work: load average {os.getloadavg()[0]:.1f} at the end). One room, {a.students}
student clients (tornado AsyncHTTPClient long polls, one asyncio process; not browsers),
{a.virtual} virtual systems, 1 spectator per value, preset {a.preset}, pace {a.pace:g} time
units per second, {a.seconds:g} s of running. The server process serves only the rooms'
routes (the same handlers and ticker as under `panel serve`).

| What | Target | Measured |
|---|---|---|
| Copy event (paced wall time) to the card | every card within 1 s | {stats(paced)}; \
{within:.1f} % within 1 s ({len(paced)} events received) |
| End of the tick that made it to the card | - | {stats(commit)} |
| Server CPU while running | - | {cpu:.0f} % of one core |
| Server memory (RSS) | - | {rss0 / mib:.0f} MiB empty room, {rss_joined / mib:.0f} MiB \
with the students joined, {rss1 / mib:.0f} MiB at the end |
| Ticks | - | {len(ticks)} in {a.seconds:g} s (period 0.1 s) |

The paced delay runs from the moment the room's paced clock passed the event's time; it
includes up to one tick period (about 0.1 s plus the tick's own time), because a tick
computes the events of the wall time since the previous one. The commit delay runs from
the end of that tick (the server's notification) to the client."""
    print(body)
    if a.write:
        from _results import write_section

        write_section("Classroom rooms", body)


if __name__ == "__main__":
    main()
