"""The CHSH and signalling experiments for two qubits, run from the page (engine/chsh.py,
engine/signalling.py) in a thread beside the live simulation, one at a time per session.

The worker (:meth:`BellTests.work`) reports its progress and result through
:meth:`BellTests._on_loop`, which runs them on the document's event loop (or at once
without a server, as in the tests, which call ``work`` directly).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param

from engine import Hamiltonian, InputError, SimParams
from engine.chsh import ChshResult, chsh
from engine.composite import parts_of
from engine.signalling import CI_SE, signalling

#: Below this the exact signalling difference is zero (rounding only).
QM_ZERO = 1e-9


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
    if qm < QM_ZERO:
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


class BellTests(pn.viewable.Viewer):
    """Buttons for the CHSH and signalling experiments, their progress, table and verdict.

    ``context`` gives, at the press of a button, the current Hamiltonian, ensemble
    parameters, preset name and preset values (the dashboard's)."""

    seeds = param.Integer(default=5, bounds=(2, 100), doc="Independent runs (pairs of runs "
                          "for signalling); the errors are over them.")
    running = param.Boolean(default=False, constant=True, doc="Whether a run is under way.")

    def __init__(self, context: Callable[[], tuple[Hamiltonian, SimParams, str, dict]],
                 **params: Any):
        super().__init__(**params)
        self._context = context
        self._doc = None
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

    # -- running (the document's event loop starts, a thread works) ------------------------
    def start(self, kind: str, thread: bool = True) -> bool:
        """Start ``kind`` ('chsh' or 'signalling') unless a run is under way."""
        if self.running:
            return False
        self._doc = pn.state.curdoc
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
        args = (kind, ham, params, preset, values, self.seeds)
        if thread:
            threading.Thread(target=self.work, args=args, daemon=True,
                             name=f"bell-{kind}").start()
        else:
            self.work(*args)
        return True

    def work(self, kind: str, ham: Hamiltonian, params: SimParams, preset: str,
             values: dict, seeds: int) -> None:
        """Run the experiment (in the worker thread); report on the event loop."""
        def progress(done: int, total: int) -> None:
            self._on_loop(self._progress, done, total)

        try:
            if kind == "chsh":
                res = chsh(ham, params, seeds=seeds, progress=progress)
                self._on_loop(self._finished, chsh_table(res), chsh_verdict(res), None)
            else:
                out = signalling(preset, values, params, seeds=seeds, progress=progress)
                self._on_loop(self._finished, signalling_table(out), signalling_verdict(out),
                              None)
        except InputError as err:
            self._on_loop(self._finished, None, None, str(err))
        except Exception as err:  # shown on the page; the thread must not die silently
            self._on_loop(self._finished, None, None, f"The run failed: {err}")

    def _on_loop(self, fn, *args) -> None:
        doc = self._doc
        if doc is not None and getattr(doc, "session_context", None) is not None:
            try:
                doc.add_next_tick_callback(lambda: fn(*args))
            except Exception:  # the page was closed meanwhile: nobody to tell
                pass
        else:
            fn(*args)

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.object = f"running… {done} of {total} runs"

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
            pn.pane.Markdown("### Bell tests: CHSH and signalling", margin=(0, 10),
                             stylesheets=[":host h3 {font-size: 22px;}"]),
            pn.Row(self.chsh_button, self.signal_button, self.seeds_input),
            self.progress, self.status, self.table, self.verdict,
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
