"""The CHSH and signalling experiments for two qubits, run from the page (engine/tools/chsh.py,
engine/tools/signalling.py) on the Studies page's shared local Dask cluster, one task per seed,
one experiment at a time per session.

A thread beside the live simulation (:meth:`BellTests.work`) submits the tasks, follows
them as they complete, aggregates and reports its progress and result through
:meth:`BellTests._on_loop`, which runs them on the document's event loop (or at once
without a server, as in the tests, which call ``work`` directly). When the cluster cannot
be had the thread runs the seeds itself, and the card says so in one sentence. A session
closed mid-run cancels its tasks.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param

from real_ensemble_lab.engine import Hamiltonian, InputError, SimParams
from real_ensemble_lab.engine.core.composite import parts_of
from real_ensemble_lab.engine.tools.chsh import (
    PAIRS,
    ChshResult,
    chsh_from_seeds,
    chsh_plan,
    chsh_seed,
)
from real_ensemble_lab.engine.tools.signalling import (
    CI_SE,
    signalling_from_seeds,
    signalling_plan,
    signalling_seed,
)

#: Below this the exact signalling difference is zero (rounding only).
QM_ZERO = 1e-9
#: Fewest pairs of runs from which the signalling card gives a verdict.
MIN_VERDICT_SEEDS = 5


def chsh_verdict(res: ChshResult) -> str:
    """One sentence: S with its error, the exact S, and what Bell's inequality says."""
    S, err = res.S, res.S_err
    if abs(S) - 3 * err > 2:  # by more than three standard errors
        bell = "Bell's inequality |S| ≤ 2 is violated"
    else:
        bell = "Bell's inequality |S| ≤ 2 holds at this N"
    return f"S = {S:.3f} ± {err:.3f} (quantum mechanics: {res.S_qm:.3f}; {bell})."


def _pi(angle: float) -> str:
    """An angle in units of pi, as the measurement axes are usually given."""
    return f"{angle / math.pi:+.3f} π"


def chsh_table(res: ChshResult) -> pd.DataFrame:
    """One row per pair of angles: E from the ensemble with its error, and exact."""
    return pd.DataFrame({
        "Alice's angle a": [_pi(r["a"]) for r in res.rows],
        "Bob's angle b": [_pi(r["b"]) for r in res.rows],
        "E ensemble": [f"{r['E']:+.4f} ± {r['E_err']:.4f}" for r in res.rows],
        "E exact": [f"{r['E_qm']:+.4f}" for r in res.rows],
    })


def signalling_verdict(out: dict[str, Any]) -> str:
    """One sentence: Alice's largest difference, its interval, the exact one, the verdict."""
    lo, hi = out["ci"]
    qm = out["qm_max_delta"]
    seen = not lo <= 0.0 <= hi
    exact = ("exactly 0" if qm < QM_ZERO else
             f"{qm:.4f}, the qubits interact")
    if out["seeds"] < MIN_VERDICT_SEEDS:
        # the largest of many noisy means over 2-3 pairs can sit where the pairs agree,
        # with an interval of almost no width: no verdict from so few
        verdict = (f"too few seeds for a verdict (use at least {MIN_VERDICT_SEEDS}; the "
                   f"interval's width is itself estimated from them)")
    elif qm < QM_ZERO:
        verdict = ("a signal: Alice's marginal depends on Bob's setting" if seen
                   else "no signal detected at this N")
    else:
        verdict = ("a difference is detected" if seen
                   else "no difference detected at this N")
    return (f"Largest difference of Alice's marginal: {out['max_delta']:+.4f}, interval "
            f"[{lo:+.4f}, {hi:+.4f}] (±{CI_SE:g} standard errors over {out['seeds']} seeds; "
            f"quantum mechanics: {exact}): {verdict}.")


def signalling_table(out: dict[str, Any]) -> pd.DataFrame:
    lo, hi = out["ci"]
    return pd.DataFrame({
        "quantity": ["largest mean difference of n_A0/N", "at time t", "interval (±3 SE)",
                     "exact largest difference", "N, seeds"],
        "value": [f"{out['max_delta']:+.5f}", f"{out['t']:g}", f"[{lo:+.5f}, {hi:+.5f}]",
                  f"{out['qm_max_delta']:.2e}", f"{out['N']}, {out['seeds']}"],
    })


def shared_client() -> Any:
    """The Studies page's Dask client on its local cluster (started on first use)."""
    from .studies import shared_client as client

    return client()


def _as_completed(client: Any, futures: list) -> Any:
    """Futures as they are done: Dask futures in order of submission (waiting on each with
    ``result()``, which the synchronous shared client serves from its own loop thread;
    enough for a progress bar and free of event-loop arguments), others as
    concurrent.futures completes them."""
    from distributed import Future

    if futures and all(isinstance(f, Future) for f in futures):
        for f in futures:
            f.result()
            yield f
        return
    yield from concurrent.futures.as_completed(futures)


class BellTests(pn.viewable.Viewer):
    """Buttons for the CHSH and signalling experiments, their progress, table and verdict.

    ``context`` gives, at the press of a button, the current Hamiltonian, ensemble
    parameters, preset name and preset values (the dashboard's). ``client`` gives the Dask
    client the seeds are submitted to (by default the Studies page's shared one); None, or
    a client that cannot be had, runs them in the worker thread."""

    seeds = param.Integer(default=5, bounds=(2, 100), doc="Independent runs (pairs of runs "
                          "for signalling); the errors are over them.")
    running = param.Boolean(default=False, constant=True, doc="Whether a run is under way.")

    def __init__(self, context: Callable[[], tuple[Hamiltonian, SimParams, str, dict]],
                 client: Callable[[], Any] | None = shared_client, **params: Any):
        super().__init__(**params)
        self._context = context
        self._client = client
        self._doc = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False  # the session is gone: cancel, report nothing
        self._pending: tuple[Any, list] | None = None  # (client, futures) of the run
        self._watching = False
        self._dask = False  # whether the run's seeds go to the cluster
        self.chsh_button = pn.widgets.Button(label="Run CHSH", color="primary",
                                             css_classes=["run-chsh"])
        self.signal_button = pn.widgets.Button(label="Run signalling test", color="primary",
                                               variant="outline",
                                               css_classes=["run-signalling"])
        self.chsh_button.on_click(lambda e: self.start("chsh"))
        self.signal_button.on_click(lambda e: self.start("signalling"))
        self.seeds_input = pn.widgets.IntInput.from_param(self.param.seeds, label="Seeds",
                                                          width=90)
        self.progress = pn.indicators.Progress(value=0, max=1, visible=False,
                                               sizing_mode="stretch_width", height=14)
        self.status = pn.pane.Markdown("", css_classes=["bell-status"],
                                       styles={"color": "#6b7280"}, margin=(0, 10))
        self.table = pn.pane.DataFrame(None, index=False, visible=False,
                                       stylesheets=[_TABLE_CSS])
        self.verdict = pn.pane.Markdown("", css_classes=["bell-verdict"],
                                        sizing_mode="stretch_width",
                                        stylesheets=[_VERDICT_CSS])
        self.note = pn.pane.Markdown("", css_classes=["bell-note"], visible=False,
                                     styles={"color": "#92400e"}, margin=(0, 10))

    # -- running (the document's event loop starts, a thread works) ------------------------
    def start(self, kind: str, thread: bool = True) -> bool:
        """Start ``kind`` ('chsh' or 'signalling') unless a run is under way."""
        if self.running or self._closed:
            return False
        self._doc = pn.state.curdoc
        if (not self._watching and self._doc is not None
                and getattr(self._doc, "session_context", None) is not None):
            pn.state.on_session_destroyed(self._on_session_destroyed)
            self._watching = True
        try:
            ham, params, preset, values = self._context()
        except InputError as err:
            self._finished(None, None, str(err))
            return False
        with param.edit_constant(self):
            self.running = True
        self.chsh_button.disabled = self.signal_button.disabled = True
        self.progress.value, self.progress.max, self.progress.visible = 0, 1, True
        self.status.object = "Starting…"
        self.note.object, self.note.visible = "", False
        self._dask = False
        args = (kind, ham, params, preset, values, self.seeds)
        if thread:
            self._thread = threading.Thread(target=self.work, args=args, daemon=True,
                                            name=f"bell-{kind}")
            self._thread.start()
        else:
            self.work(*args)
        return True

    def work(self, kind: str, ham: Hamiltonian, params: SimParams, preset: str,
             values: dict, seeds: int) -> None:
        """Run the experiment (in the worker thread): one task per seed on the cluster, or
        here when it cannot be had; aggregate; report on the event loop."""
        try:
            if kind == "chsh":
                plan, runs = chsh_plan(ham, params, seeds=seeds), len(PAIRS)
                seed_fn, aggregate = chsh_seed, chsh_from_seeds
                table, verdict = chsh_table, chsh_verdict
            else:
                plan, runs = signalling_plan(preset, values, params, seeds), 2
                seed_fn, aggregate = signalling_seed, signalling_from_seeds
                table, verdict = signalling_table, signalling_verdict
            client = self._cluster_client()
            per_seed = (self._on_cluster(client, seed_fn, plan, seeds, runs)
                        if client is not None else self._here(seed_fn, plan, seeds, runs))
            if per_seed is None:  # the session was closed meanwhile
                return
            res = aggregate(plan, per_seed)
            self._on_loop(self._finished, table(res), verdict(res), None)
        except InputError as err:
            self._on_loop(self._finished, None, None, str(err))
        except Exception as err:  # shown on the page; the thread must not die silently
            if not self._closed:
                self._on_loop(self._finished, None, None, f"The run failed: {err}")

    def _cluster_client(self) -> Any:
        """The Dask client, or None (then the card says why, in one sentence)."""
        if self._client is None:
            return None
        try:
            return self._client()
        except Exception as err:
            self._on_loop(self._show_note, "The local Dask cluster could not be started "
                          f"({err}); the runs go in this process instead.")
            return None

    def _on_cluster(self, client: Any, seed_fn: Callable, plan: Any, seeds: int,
                    runs: int) -> list | None:
        """Submit one task per seed to ``client``; each seed's result in order of seed, or
        None when the session was closed (its tasks are then cancelled)."""
        self._dask = True
        futures = [client.submit(seed_fn, plan, i, pure=False) for i in range(seeds)]
        with self._lock:
            self._pending = (client, futures)
            closed = self._closed
        try:
            if closed:
                client.cancel(futures)
                return None
            index = {id(f): i for i, f in enumerate(futures)}
            out: list = [None] * seeds
            for done, f in enumerate(_as_completed(client, futures), start=1):
                if self._closed:
                    return None
                out[index[id(f)]] = f.result()
                self._on_loop(self._progress, done * runs, seeds * runs)
            return out
        except Exception:  # a task failed, or was cancelled
            client.cancel(futures)
            if self._closed:
                return None
            raise
        finally:
            with self._lock:
                self._pending = None

    def _here(self, seed_fn: Callable, plan: Any, seeds: int, runs: int) -> list | None:
        """Each seed in this thread, in order (None when the session was closed)."""
        out = []
        for i in range(seeds):
            if self._closed:
                return None
            out.append(seed_fn(plan, i))
            self._on_loop(self._progress, (i + 1) * runs, seeds * runs)
        return out

    def _on_session_destroyed(self, session_context: Any) -> None:
        """The page was closed: cancel the run's tasks; nothing more is reported."""
        with self._lock:
            self._closed = True
            pending = self._pending
        if pending is not None:
            client, futures = pending
            try:
                client.cancel(futures)
            except Exception:  # the cluster may be closing too
                pass

    def _on_loop(self, fn, *args) -> None:
        if self._closed:
            return
        doc = self._doc
        if doc is not None and getattr(doc, "session_context", None) is not None:
            try:
                doc.add_next_tick_callback(lambda: fn(*args))
            except Exception:  # the page was closed meanwhile: nobody to tell
                pass
        else:
            fn(*args)

    def _show_note(self, text: str) -> None:
        self.note.object, self.note.visible = text, True

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        where = " on the local Dask cluster" if self._dask else ""
        self.status.object = f"running{where}… {done} of {total} runs"

    def _finished(self, table: pd.DataFrame | None, verdict: str | None,
                  error: str | None) -> None:
        with param.edit_constant(self):
            self.running = False
        self.chsh_button.disabled = self.signal_button.disabled = False
        self.progress.visible = False
        self.status.object = ""
        if error is not None:
            self.table.visible = False
            self.verdict.object = f"**Not run:** {error}"
            return
        self.table.object = table
        self.table.visible = True
        self.verdict.object = verdict

    @staticmethod
    def applies(ham: Hamiltonian | None) -> bool:
        """Meaningful for two qubits only (CHSH needs parts [2, 2])."""
        return ham is not None and parts_of(ham) == [2, 2]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Bell tests: CHSH and signalling", margin=(0, 10),
                             stylesheets=[":host h2 {font-size: 22px;}"]),
            pn.Row(self.chsh_button, self.signal_button, self.seeds_input),
            self.progress, self.status, self.note, self.table, self.verdict,
            sizing_mode="stretch_width",
        )


_TABLE_CSS = """
table.panel-df {font-size: 17px !important; border-collapse: collapse; width: auto;}
table.panel-df th, table.panel-df td {padding: 5px 18px !important;
    text-align: right !important; font-variant-numeric: tabular-nums;}
table.panel-df th:first-child, table.panel-df td:first-child {text-align: left !important;}
table.panel-df th {color: #374151; border-bottom: 1px solid #d1d5db;}
"""
_VERDICT_CSS = ":host {font-size: 18px; font-weight: 600; color: #1e1b4b;}"
