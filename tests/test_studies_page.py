"""The Studies page without a server (issue 18): its tables, boxes, links, sweeps and the
life of its shared Dask client."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from real_ensemble_lab.app import studies_cluster as cluster
from real_ensemble_lab.app.studies_links import LINK_PARAMS, link_gaps, live_link
from real_ensemble_lab.engine.core.params import SimParams
from real_ensemble_lab.engine.studies.datadir import ENV
from tests._studies_data import TINY, make_results, results  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def data(tmp_path, monkeypatch, results):  # noqa: F811 - the fixture
    d = tmp_path / "data"
    make_results(d / "studies" / "tiny", copy_from=results)
    monkeypatch.setenv(ENV, str(d))
    for k in (cluster.HOSTED_ENV, cluster.SCHEDULER_ENV, cluster.MAX_SWEEPS_ENV):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(cluster, "_SLOTS", {})
    monkeypatch.setattr(cluster, "_USERS", set())
    yield d
    cluster.close_shared_client()


@pytest.fixture
def view(data):
    from real_ensemble_lab.app.studies import StudiesView

    return StudiesView()


# --- tables and boxes ----------------------------------------------------------------------

def test_one_seed_fit_says_why_it_has_no_error_bar(view):
    table = view._tables.object
    assert "nan" not in table
    assert table.count("no error bar: 1 seed; the bootstrap over seeds needs at least 2") == 4


def test_the_heatmap_boxes_show_the_axes_drawn(view):
    heat = view._heat.object
    assert [d.name for d in heat.kdims] == ["N", "mode"]
    assert (view.x, view.y) == ("N", "mode")
    assert (view._x_select.value, view._y_select.value) == ("N", "mode")
    view._x_select.value = "mode"  # and the other way round
    assert view.x == "mode" and view._heat.object.kdims[0].name == "mode"


def test_every_run_links_to_the_dashboard_with_its_settings(view):
    from panel.util import parse_query

    runs = view._runs.value
    assert len(runs) == 4 and view._runs.visible
    for (_, row), link in zip(view.summary.sort_values(["mode", "N", "seed"]).iterrows(),
                              runs["live"], strict=True):
        assert link == live_link(row)
        q = parse_query(link)
        assert q["preset"] == "two_level" and q["pv"] == json.loads(row["preset_values"])
        assert q["pv"]["theta"] == 0.9
        for k in LINK_PARAMS:
            assert q[k] == row[k], k
        assert link_gaps(row) == []
    # a heatmap cell: the runs under it
    view._cell_links(x="1000", y="bell")
    row = view.summary.query("N == 1000 and mode == 'bell'").iloc[0]
    assert f"[seed 7 ↗]({live_link(row)})" in view._cell.object


def test_a_point_of_a_drift_curve_links_to_the_runs_of_that_curve(view):
    from real_ensemble_lab.app.studies_plots import drift_curves, drift_pick

    assert view._curve.object == "Click a point of a curve for links to its runs."
    by, curves = drift_curves(view.series)
    assert by == ["mode", "N"] and len(curves) == 4
    # the highest point of the curve mode = population, N = 1000 (t = 1.5), clicked a
    # little off: that curve, at that time
    vals, g = next(c for c in curves if c[0] == {"mode": "population", "N": 1000})
    top = g.loc[g["mean"].idxmax()]
    assert drift_pick(view.series, top["t"] + 0.02, top["mean"] - 0.01) == (top["t"], [vals])
    view._curve_links(x=top["t"] + 0.02, y=top["mean"] - 0.01)
    row = view.summary.query("mode == 'population' and N == 1000").iloc[0]
    assert view._curve.object == (f"**population, N=1000 (point at t = 1.5)**: open a run "
                                  f"live: [seed 7 ↗]({live_link(row)})")
    # t = 0: two curves start from the same counts (one seed, same N): both are offered
    t0, both = drift_pick(view.series, 0.0, float(g["mean"].iloc[0]))
    assert t0 == 0.0 and {"mode": "bell", "N": 1000} in both and vals in both
    # far from every curve: nothing, and the page says so
    assert drift_pick(view.series, 1.0, 10 * view.series["tv_sqrtN"].max())[1] == []
    view._curve_links(x=1.0, y=100.0)
    assert view._curve.object.startswith("No curve there")


def test_the_link_carries_what_the_dashboard_reads():
    from real_ensemble_lab.app.url import read_link

    every = {k: SimParams.param[k].default for k in LINK_PARAMS}
    assert read_link(live_link({"preset": "two_level", **every})).sim.keys() == set(every)
    row = {"preset": "ring", "preset_values": {"b": 2}, "N": np.int64(10**12),
           "r": np.float64(-0.25), "mode": "agents", "seed": np.int64(3), "phase_tol": 0.001}
    assert live_link(row, base="/app") == ("/app?preset=ring&pv=%7B%22b%22:2%7D&mode=agents"
                                           "&N=1000000000000&r=-0.25&seed=3")
    assert link_gaps(row) == ["phase_tol = 0.001"]


# --- sweeps from the page ---------------------------------------------------------------------

def test_hosted_turns_sweeps_off(data, monkeypatch):
    monkeypatch.setenv(cluster.HOSTED_ENV, "1")
    from real_ensemble_lab.app.studies import StudiesView

    view = StudiesView()
    assert view._run_button.disabled and "Sweeps from the page are off" in view.status.object
    view._start_sweep()
    assert not view.running and "hosted server" in view.status.object
    assert "4 runs" in view.message.object  # loading still works


def test_at_most_max_sweeps_at_once_and_the_next_is_told(data, monkeypatch):
    monkeypatch.setenv(cluster.MAX_SWEEPS_ENV, "2")
    assert cluster.try_start_sweep() is None and cluster.try_start_sweep() is None
    assert cluster.try_start_sweep() == ("2 sweeps are already running on this server (at "
                                         "most 2 at once); try again when one has finished.")
    cluster.end_sweep()
    assert cluster.try_start_sweep() is None
    cluster.end_sweep(), cluster.end_sweep()
    monkeypatch.setattr(cluster, "_SLOTS", {})
    monkeypatch.setenv(cluster.MAX_SWEEPS_ENV, "lots")
    assert cluster.try_start_sweep() == ("REAL_ENSEMBLE_LAB_MAX_SWEEPS must be a whole number "
                                         "from 1 to 64, not 'lots'.")


@pytest.fixture
def scheduler(monkeypatch):
    """An in-process Dask cluster, reached by address as docker compose's scheduler is."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as lc:
        monkeypatch.setenv(cluster.SCHEDULER_ENV, lc.scheduler_address)
        yield lc


def test_a_page_sweep_goes_to_the_scheduler_and_writes_in_the_data_folder(view, data, scheduler,
                                                                          tmp_path, monkeypatch):
    import yaml

    import real_ensemble_lab.app.studies as studies

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "tiny2.yaml").write_text(yaml.safe_dump({**TINY, "seeds": 3}))
    monkeypatch.setattr(studies, "STUDIES", tmp_path / "cfg")
    view.study, view.seeds = "tiny2", 1
    blocker = cluster.try_start_sweep()  # the one slot is taken: the page is told
    assert blocker is None
    view._start_sweep()
    assert not view.running and view.status.object.startswith("A sweep is already running")
    cluster.end_sweep()

    view._start_sweep()
    assert view.running
    deadline = threading.Event()
    for _ in range(600):
        if not view.running:
            break
        deadline.wait(0.1)
    assert not view.running, view.status.object
    assert view.status.object.startswith("Done: 4 runs computed"), view.status.object
    assert view.status.object.endswith("→ `studies/tiny2-page-1seeds`")
    assert (data / "studies" / "tiny2-page-1seeds" / "summary").is_dir()
    # the list is refreshed and the new folder is shown
    assert view._dir_select.options == ["", "studies/tiny", "studies/tiny2-page-1seeds"]
    assert view._dir_select.value == view.directory == "studies/tiny2-page-1seeds"
    assert "4 runs in `studies/tiny2-page-1seeds`" in view.message.object
    client = cluster.shared_client()
    assert client.scheduler.address == scheduler.scheduler_address  # no local cluster
    assert cluster.try_start_sweep() is None  # the slot was given back
    cluster.end_sweep()


def test_an_unreachable_scheduler_is_one_sentence(data, monkeypatch):
    from real_ensemble_lab.engine.core.errors import InputError
    from real_ensemble_lab.engine.studies import cluster as sweep_cluster
    from tests._app_fixtures import free_port

    monkeypatch.setattr(sweep_cluster, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setenv(cluster.SCHEDULER_ENV, f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(InputError, match=r"^Cannot reach the Dask scheduler at tcp://127\.0\.0"
                       r"\.1:\d+ within 0\.5 s\.$"):
        cluster.shared_client()


# --- the client's life ------------------------------------------------------------------------

class FakeDoc:
    """A session's document: its id and its session-destroyed callbacks."""

    def __init__(self, sid: str):
        self.session_context = SimpleNamespace(id=sid)
        self.callbacks = []

    def on_session_destroyed(self, cb) -> None:
        self.callbacks.append(cb)

    def destroy(self) -> None:
        for cb in self.callbacks:
            cb(self.session_context)


def test_the_client_closes_when_the_last_session_using_it_is_gone(data, scheduler):
    from bokeh.document import Document

    Document().on_session_destroyed(cluster._session_destroyed)  # Bokeh takes its signature
    a, b = FakeDoc("a"), FakeDoc("b")
    assert cluster.hold(a) and cluster.hold(b) and cluster.hold(a)
    assert cluster.users() == 2 and len(a.callbacks) == 1  # counted once per session
    assert not cluster.hold(None)  # no session here (a script): nothing counted
    client = cluster.shared_client()
    a.destroy()
    assert cluster.users() == 1 and cluster.shared_client_running()
    b.destroy()
    assert cluster.users() == 0
    for t in [t for t in threading.enumerate() if t.name == "studies-cluster-close"]:
        t.join(30)
    assert not cluster.shared_client_running() and client.status == "closed"
    assert cluster.shared_client() is not client  # a later session starts a new one
