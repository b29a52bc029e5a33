"""The dashboard's views of composite presets and its Bell tests, without a browser."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from real_ensemble_lab.app.bell_tests import BellTests, chsh_verdict, signalling_verdict
from real_ensemble_lab.app.dashboard import EnsembleApp
from real_ensemble_lab.app.plots import JointGridView, MarginalsView
from real_ensemble_lab.engine import InputError, build_preset, make_params
from real_ensemble_lab.engine.core.stepper import Frame
from real_ensemble_lab.engine.tools.chsh import ChshResult, chsh, chsh_seed
from real_ensemble_lab.engine.tools.signalling import signalling, signalling_seed


def frame(n, p, t=0.5) -> Frame:
    n = np.asarray(n)
    p = np.asarray(p, dtype=float)
    N = int(n.sum())
    return Frame(t=t, N=N, n=n, p=p, phi=np.zeros(len(n)), phi_exact=np.zeros(len(n)),
                 tv=float(0.5 * np.abs(n / N - p).sum()), steps=1)


# --- views --------------------------------------------------------------------------------

def test_marginals_of_a_bell_pair_are_one_half_each():
    v = MarginalsView([2, 2])
    # phi+ : n_00 = n_11 (ensemble: 520 / 480), exact 1/2 each
    v.update(frame([520, 0, 0, 480], [0.5, 0.0, 0.0, 0.5]))
    d = v.bars.data
    np.testing.assert_allclose(d["rho"], [0.52, 0.48, 0.52, 0.48], rtol=1e-6)
    np.testing.assert_allclose(d["p"], [0.5, 0.5, 0.5, 0.5], rtol=1e-6)
    # a product state |0>|+>: A sure, B even
    v.update(frame([300, 700, 0, 0], [0.5, 0.5, 0.0, 0.0]))
    np.testing.assert_allclose(v.bars.data["rho"], [1.0, 0.0, 0.3, 0.7], rtol=1e-6)
    np.testing.assert_allclose(v.bars.data["p"], [1.0, 0.0, 0.5, 0.5], rtol=1e-6)


def test_marginals_of_three_parts():
    v = MarginalsView([2, 2, 2])
    n = np.array([10, 20, 30, 40, 50, 60, 70, 80])  # a = 4 a_A + 2 a_B + a_C
    v.update(frame(n, n / n.sum()))
    N = n.sum()
    want = [100 / N, 260 / N, 140 / N, 220 / N, 160 / N, 200 / N]
    np.testing.assert_allclose(v.bars.data["rho"], want, rtol=1e-6)
    np.testing.assert_allclose(v.bars.data["p"], want, rtol=1e-6)
    assert len(v.bars.data["x"]) == 6


def test_joint_grid_cells_are_the_frames_joint_frequencies_and_probabilities():
    v = JointGridView([2, 2])
    n, p = [400, 100, 200, 300], [0.45, 0.05, 0.15, 0.35]
    v.update(frame(n, p))
    d = v.cells.data
    P = 4
    x, y = np.asarray(d["x"]), np.asarray(d["y"])
    # the ensemble's cells (the first P) above the exact ones; column a_B, A = 0 on top
    assert y[:P].min() > y[P:].max()
    for half, want in ((slice(0, P), [0.4, 0.1, 0.2, 0.3]), (slice(P, 2 * P), p)):
        cell = {(int(a_A), int(a_B)): val for a_A, a_B, val in
                zip(y[half].max() - y[half], x[half], np.asarray(d["v"])[half], strict=True)}
        assert cell == {(0, 0): pytest.approx(want[0]), (0, 1): pytest.approx(want[1]),
                        (1, 0): pytest.approx(want[2]), (1, 1): pytest.approx(want[3])}
    assert d["text"][:P] == ["0.400", "0.100", "0.200", "0.300"]
    assert d["text"][P:] == ["0.450", "0.050", "0.150", "0.350"]
    grid_n, grid_p = v.values(frame(n, p))
    np.testing.assert_allclose(grid_n, [[0.4, 0.1], [0.2, 0.3]])
    np.testing.assert_allclose(grid_p, [[0.45, 0.05], [0.15, 0.35]])


def test_joint_grid_of_three_qubits_is_A_against_BC():
    v = JointGridView([2, 2, 2])
    n = np.arange(1, 9) * 10
    v.update(frame(n, n / n.sum()))
    assert (v.rows, v.cols) == (2, 4)
    assert len(v.cells.data["text"]) == 16
    assert v.cells.data["text"][0] == f"{10 / n.sum():.3f}"


def switch(a: EnsembleApp) -> None:
    """The restart a change of preset asks for, run by hand (no thread), then its frame."""
    a.tick()  # sends the restart
    q = a.ctl.runner._commands
    while not q.empty():
        a.ctl.runner.process(*q.get_nowait())
    a.tick()  # the new ensemble's first frame


def test_composite_views_shown_for_two_qubits_hidden_otherwise():
    a = EnsembleApp(preset="two_level")
    a.start(thread=False)
    views = a.plots.views
    try:
        a.tick()
        assert "marg" not in a.plots.views and "joint" not in a.plots.views
        assert "marg" not in a.plots.shown() and not a.bell_box.visible
        a.ctl.preset = "two_qubits"
        switch(a)
        views = a.plots.views
        assert {"marg", "joint"} <= set(views)
        assert {"marg", "joint"} <= a.plots.shown() and a.bell_box.visible
        assert a.plots.panes["marg"].object is views["marg"].fig
        assert a.plots.panes["joint"].object is views["joint"].fig
        f = a.ctl.runner.latest().frame
        np.testing.assert_allclose(views["marg"].bars.data["p"],
                                   np.concatenate([f.p.reshape(2, 2).sum(1),
                                                   f.p.reshape(2, 2).sum(0)]), rtol=1e-6)
        a.ctl.preset = "three_qubits"  # composite, but no CHSH
        switch(a)
        assert "marg" in a.plots.shown() and not a.bell_box.visible
        assert a.plots.views["joint"].cols == 4
        a.ctl.preset = "three_level"
        switch(a)
        assert "marg" not in a.plots.shown() and "marg" not in a.plots.views
    finally:
        a.ctl.runner.stop()


# --- Bell tests ---------------------------------------------------------------------------

def _context(preset="two_qubits", **kw):
    ham = build_preset(preset)
    return lambda: (ham, make_params(mode="population", N=kw.get("N", 500)), preset, {})


def test_chsh_run_fills_the_table_and_the_verdict():
    b = BellTests(_context(), client=None, seeds=2)  # no cluster: the seeds run here
    assert b.table.object is None and b.verdict.object == ""
    seen = []
    b._progress = lambda done, total: seen.append((done, total))
    assert b.start("chsh", thread=False)  # the worker, called directly
    assert not b.running and not b.chsh_button.disabled
    assert seen[-1] == (8, 8)  # four pairs of angles x two seeds
    table = b.table.object
    assert b.table.visible and len(table) == 4 and list(table.columns)[-1] == "E exact"
    assert b.verdict.object.startswith("S = ") and "quantum mechanics: " in b.verdict.object


def test_signalling_run_fills_the_table_and_the_verdict():
    b = BellTests(_context(), client=None, seeds=2)
    b.start("signalling", thread=False)
    assert b.table.visible and "interval (±3 SE)" in list(b.table.object["quantity"])
    assert b.verdict.object.startswith("Largest difference of Alice's marginal")
    assert "quantum mechanics: exactly 0" in b.verdict.object


def test_an_engine_error_shows_one_sentence():
    b = BellTests(_context("three_qubits"), client=None, seeds=2)  # CHSH needs two qubits
    b.start("chsh", thread=False)
    assert b.verdict.object == "**Not run:** CHSH needs two qubits; use the two_qubits preset."
    assert not b.table.visible and not b.running

    def bad():
        raise InputError("N must be at least 1.")

    b = BellTests(bad, client=None)
    assert not b.start("chsh", thread=False)
    assert b.verdict.object == "**Not run:** N must be at least 1."


def test_one_run_at_a_time():
    b = BellTests(_context(), client=None, seeds=2)
    started = []
    b.work = lambda *args: started.append(args)  # a run that has not finished
    assert b.start("chsh")  # a thread that records its arguments and ends
    assert b.running and b.chsh_button.disabled
    assert not b.start("signalling", thread=False)
    b._finished(None, None, "stopped")
    assert not b.running


class FakeClient:
    """Dask's client as the card uses it: submit (concurrent.futures futures) and cancel.

    ``run=False`` leaves the futures pending (a run under way) until cancelled."""

    def __init__(self, run: bool = True):
        self.pool = ThreadPoolExecutor(2) if run else None
        self.submitted: list[tuple] = []
        self.futures: list[Future] = []
        self.cancelled: list[Future] = []
        self.all_submitted = threading.Event()
        self.expected = None

    def submit(self, fn, *args, pure=True):
        assert pure is False  # every seed is a separate task
        f = self.pool.submit(fn, *args) if self.pool else Future()
        self.submitted.append((fn, *args))
        self.futures.append(f)
        if len(self.futures) == self.expected:
            self.all_submitted.set()
        return f

    def cancel(self, futures):
        for f in futures:
            if f.cancel() and self.pool is None:
                f.set_running_or_notify_cancel()  # as an executor does: wakes the waiters
            self.cancelled.append(f)


@pytest.mark.parametrize("kind", ["chsh", "signalling"])
def test_seeds_go_to_the_client_one_task_each_and_aggregate_as_the_engine(kind):
    fake = FakeClient()
    params = make_params(mode="population", N=500)
    b = BellTests(lambda: (build_preset("two_qubits"), params, "two_qubits", {}),
                  client=lambda: fake, seeds=3)
    seen = []
    b._progress = lambda done, total: seen.append((done, total))
    assert b.start(kind, thread=False)
    runs = 4 if kind == "chsh" else 2
    fn = chsh_seed if kind == "chsh" else signalling_seed
    assert [(s[0], s[2]) for s in fake.submitted] == [(fn, 0), (fn, 1), (fn, 2)]
    assert seen == [(runs, 3 * runs), (2 * runs, 3 * runs), (3 * runs, 3 * runs)]
    if kind == "chsh":
        want = chsh_verdict(chsh(build_preset("two_qubits"), params, seeds=3))
    else:
        want = signalling_verdict(signalling("two_qubits", {}, params, seeds=3))
    assert b.verdict.object == want and b.table.visible and not b.note.visible
    assert not b.running and not fake.cancelled
    fake.pool.shutdown()


def test_a_cluster_that_cannot_start_falls_back_to_the_thread_and_says_so():
    def broken():
        raise OSError("no free port")

    b = BellTests(_context(), client=broken, seeds=2)
    seen = []
    b._progress = lambda done, total: seen.append((done, total))
    b.start("chsh", thread=False)
    assert b.note.visible and b.note.object == (
        "The local Dask cluster could not be started (no free port); the runs go in this "
        "process instead.")
    assert seen[-1] == (8, 8) and b.verdict.object.startswith("S = ") and b.table.visible
    b.start("chsh", thread=False)  # the next run tries again
    assert b.note.visible


def test_a_closed_session_cancels_its_tasks_and_reports_nothing():
    fake = FakeClient(run=False)
    fake.expected = 3
    b = BellTests(_context(), client=lambda: fake, seeds=3)
    assert b.start("chsh")  # the worker thread submits, then waits for the tasks
    assert fake.all_submitted.wait(timeout=30)
    # Bokeh accepts it as a session-destroyed callback (it checks the exact signature)
    from bokeh.document import Document

    Document().on_session_destroyed(b._on_session_destroyed)
    b._on_session_destroyed(None)
    b._thread.join(timeout=30)
    assert not b._thread.is_alive()
    assert fake.cancelled == fake.futures and all(f.cancelled() for f in fake.futures)
    assert b.verdict.object == "" and not b.table.visible
    assert not b.start("signalling", thread=False)  # nothing more for a closed session


def test_a_real_local_cluster_runs_the_seeds():
    """Through distributed itself (in-process cluster, tiny N): the tasks run on it and
    the table and verdict are the engine's."""
    from distributed import Client, LocalCluster, get_task_stream

    params = make_params(mode="population", N=200)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        b = BellTests(lambda: (build_preset("two_qubits"), params, "two_qubits", {}),
                      client=lambda: client, seeds=2)
        with get_task_stream(client) as ts:
            b.start("chsh", thread=False)
            b.start("signalling", thread=False)
        names = sorted(t["key"].split("-")[0] for t in ts.data)
    assert names == ["chsh_seed", "chsh_seed", "signalling_seed", "signalling_seed"]
    assert b.verdict.object == signalling_verdict(signalling("two_qubits", {}, params,
                                                             seeds=2))
    assert not b.note.visible and b.progress.value == 4 and not b.running


def test_verdicts():
    res = ChshResult(S=2.8291, S_err=0.0012, S_qm=2.8284, rows=[])
    assert chsh_verdict(res) == ("S = 2.829 ± 0.001 (quantum mechanics: 2.828; Bell's "
                                 "inequality |S| ≤ 2 is violated).")
    assert "|S| ≤ 2 holds at this N" in chsh_verdict(ChshResult(1.5, 0.01, 1.5, []))
    assert "holds" in chsh_verdict(ChshResult(2.02, 0.01, 2.0, []))  # within 3 errors
    out = {"max_delta": 0.0009, "ci": [-0.0018, 0.0036], "t": 2.0, "N": 10**6, "r": -0.5,
           "seeds": 8, "qm_max_delta": 1e-16}
    assert signalling_verdict(out).endswith("quantum mechanics: exactly 0): no signal "
                                            "detected at this N.")
    assert "a signal" in signalling_verdict({**out, "ci": [0.0003, 0.0015]})
    assert "the qubits interact" in signalling_verdict({**out, "qm_max_delta": 0.1})
    few = signalling_verdict({**out, "seeds": 2, "ci": [0.0003, 0.0004]})
    assert "too few seeds" in few and "a signal" not in few
