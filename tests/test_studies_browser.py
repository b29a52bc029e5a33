"""From a study to a live run, in a served app and headless Chromium (issue 18): the Studies
page lists a results folder of its data folder, a run's link opens the dashboard with that
run's preset, parameters and seed, and the live run starts from the stored run's counts."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import numpy as np
import pytest
from panel.util import parse_query
from playwright.sync_api import expect

from real_ensemble_lab.app.studies_links import live_link
from real_ensemble_lab.engine import build_preset, make_params, make_stepper, simulate
from real_ensemble_lab.engine.studies.analysis import load_series, load_summary
from real_ensemble_lab.engine.studies.datadir import ENV
from tests._app_fixtures import free_port, open_tab, panel_argv, serve
from tests._studies_data import make_results, results  # noqa: F401 - a fixture
from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    browser_context_args,
    browser_type_launch_args,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def served(tmp_path_factory, results):  # noqa: F811 - the fixture
    """The app served with its data folder holding the tiny study (stops by itself)."""
    data = tmp_path_factory.mktemp("data")
    make_results(data / "studies" / "tiny", copy_from=results)
    port = free_port()
    with serve(panel_argv(port), port, env={ENV: str(data)}) as base:
        yield base, data / "studies" / "tiny"


#: The screen position of a data point of the drift plot (from its Bokeh view's scales).
DRIFT_POINT = """([t, y]) => {
  const v = [...Bokeh.index.all_views()].find((v) => v.model.title?.text === "error·√N against t")
  if (v == null) { return null }
  const box = v.canvas_view.el.getBoundingClientRect()
  return {x: box.left + v.frame.x_scale.compute(t), y: box.top + v.frame.y_scale.compute(y)}
}"""


def click_drift_point(page, t: float, y: float) -> None:
    """Click the drift plot a few pixels off its data point (t, y)."""
    expect(page.locator(".studies-curve-links")).to_contain_text("Click a point of a curve")
    page.wait_for_function(f"() => ({DRIFT_POINT})([0, 0]) != null")
    at = page.evaluate(DRIFT_POINT, [t, y])
    page.mouse.click(at["x"] + 3, at["y"] - 3)


def test_a_run_of_a_study_opens_live_with_its_settings(page, served):
    base, folder = served
    summary = load_summary(folder)
    row = summary.query("mode == 'population' and N == 1000").iloc[0]
    pv = json.loads(row["preset_values"])

    # The Studies page lists the folder and links each run.
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/app")
    open_tab(page, "Studies")
    expect(page.locator(".studies-message")).to_contain_text("4 runs in studies/tiny",
                                                             timeout=30_000)
    expect(page.locator(".studies-runs a")).to_have_count(4, timeout=30_000)
    link = page.locator(f'.studies-runs a[href="{live_link(row)}"]')
    expect(link).to_have_text("open live ↗")
    expect(page.locator(".studies-message")).to_be_visible()
    # the same run from its drift curve: a click near the curve's highest point
    top = load_series(folder).query(f"key == '{row['key']}'")
    top = top.loc[top["tv_sqrtN"].idxmax()]  # one seed: the curve is this run's tv·√N
    click_drift_point(page, float(top["t"]), float(top["tv_sqrtN"]))
    curve = page.locator(".studies-curve-links")
    expect(curve).to_contain_text(f"population, N=1000 (point at t = {top['t']:g})")
    expect(curve.locator("a")).to_have_count(1)
    expect(curve.locator("a")).to_have_attribute("href", live_link(row))
    expect(curve.locator("a")).to_have_text("seed 7 ↗")
    assert errors == []

    # A person clicks it: the dashboard opens in a new tab with the run's settings.
    with page.context.expect_page() as opened:
        link.click()
    live = opened.value
    expect(live.locator(".rel-status .rel-time")).to_be_visible(timeout=60_000)
    assert urlsplit(live.url).path == "/app"
    expect(live.locator(".rel-mode")).to_have_text("population")
    expect(live.locator(".rel-N")).to_have_text("1 000")
    expect(live.locator(".rel-r")).to_have_text("-0.50")
    expect(live.get_by_label("Seed", exact=True)).to_have_value("7")
    expect(live.get_by_label("Preset", exact=True)).to_have_value("Two-level system")
    # the preset's own value from the study, not its default 1.2
    expect(live.locator(".rel-pv-theta input").first).to_have_value(re.compile(r"^0\.90?$"))
    query = parse_query(live.evaluate("() => window.location.search"))
    assert query["seed"] == 7 and query["pv"]["theta"] == 0.9 and query["N"] == 1000

    # ... and starts from the stored run: D at t = 0 is the stored tv at t = 0.
    series = load_series(folder).query(f"key == '{row['key']}'").sort_values("t")
    expect(live.locator(".rel-time")).to_have_text("0.00")
    expect(live.locator(".rel-D")).to_have_text(f"{series['tv'].iloc[0]:.4f}")

    # The engine with the same seed: the stored counts at t = 0 and the first output time.
    ham = build_preset(row["preset"], **pv)
    params = {k: row[k] for k in ("mode", "N", "r", "seed", "t_end", "dt_out")}
    fresh = simulate(ham, **{k: v.item() if hasattr(v, "item") else v
                             for k, v in params.items()})
    stored = np.stack(series["n"].to_numpy())
    np.testing.assert_array_equal(stored[:2], fresh.n[:2])
    assert series["t"].iloc[1] == 0.5 and (stored[0] != stored[1]).any()
    # the dashboard's stepper starts from those very counts
    st = make_stepper(ham, make_params(**{k: fresh.params[k] for k in ("mode", "N", "r",
                                                                       "seed")}))
    np.testing.assert_array_equal(st.n, stored[0])
