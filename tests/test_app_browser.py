"""The served dashboard in headless Chromium, driven like a person (few, real tests).

Waits are Playwright's auto-waiting ``expect`` on the page's stable hooks: the status bar
(``rel-status``, with ``rel-time``, ``rel-N``, ``rel-mode``, ``rel-r``, ``rel-D``), each plot
(``rel-plot-<name>``), the notices (``rel-notice``) and the lesson banner (``rel-lesson``).
Screenshots go to ``test-results/`` (``make screenshot`` refreshes the README's)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from real_ensemble_lab.engine.tools import lessons
from tests._app_fixtures import CHROMIUM, CHROMIUM_ARGS, ROOT, get_json

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PLOTS = ("hist", "phase", "pop", "dev")
SHOTS = ROOT / "test-results"
#: A time of at least 1.00 on the status bar (a regular expression on its text).
AT_LEAST_1 = re.compile(r"^[1-9]\d*\.\d\d$")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's chromium, no sandbox, no background traffic (pytest-playwright hook)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1600, "height": 1000}}


def open_app(page, base, query: str = ""):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a failed load names only its error in the console: record the address too
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(base + "/app" + query)
    expect(page.locator(".rel-status .rel-time")).to_be_visible(timeout=60_000)
    # the controls come once the page has loaded (attached: a narrow page hides them)
    expect(page.locator(".rel-card-ensemble")).to_be_attached(timeout=60_000)
    return errors


def time_shown(page) -> float:
    return float(page.locator(".rel-status .rel-time").text_content())


def play(page):
    page.locator(".rel-play button").click()
    expect(page.locator(".rel-play button")).to_have_text("Pause")


def pause(page):
    page.locator(".rel-play button").click()
    expect(page.locator(".rel-play button")).to_have_text("Play")


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_loads_renders_plays_and_the_workaround_is_in_place(page, server):
    errors = open_app(page, server)
    for k in PLOTS:
        expect(page.locator(f".rel-plot-{k} canvas").first).to_be_visible(timeout=20_000)
    expect(page.locator(".rel-time")).to_have_text("0.00")
    expect(page.locator(".rel-press")).to_be_visible()  # paused at t = 0 until Play
    assert page.evaluate("""() => window.Bokeh.__rel_style_patch === true &&
        window.Bokeh.require("core/dom").InlineStyleSheet.prototype._update
            .toString().includes("textContent !== css")""")
    play(page)
    expect(page.locator(".rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    expect(page.locator(".rel-press")).to_be_hidden()
    # the page acknowledges the frames it paints (app/parts/pacer.py): with no answer the
    # session would send one frame per ACK_TIMEOUT_S only
    expect(page.locator(".rel-pacer")).to_have_attribute("data-drawn", re.compile(r"^[1-9]\d+$"))
    screenshot(page, "dashboard-1600x1000")
    pause(page)
    assert errors == []


def test_the_status_bar_writes_new_figures_into_the_nodes_it_has(page, server):
    """app/patches.py, 4: status HTML of the same structure is written into the nodes
    already there (a new element per figure per frame cost the page style and layout work);
    HTML of another structure replaces them. Either way the bar shows exactly the HTML."""
    errors = open_app(page, server)
    play(page)
    expect(page.locator(".rel-status .rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    pause(page)  # (paused, the server sends no new text meanwhile)
    replaced, kept = page.evaluate("""() => {
      const view = [...window.Bokeh.index.all_views()].find(
        (v) => v.model.css_classes?.includes("rel-status"))
      const box = view.container
      const old = box.querySelector(".rel-time")
      const one = '<div class="stat"><span>time</span><b class="rel-time" data-frame="7">' +
                  '1.25</b></div>'
      view.set_html(one)  // another structure than the full bar's: replaced
      const b = box.querySelector(".rel-time")
      const replaced = b !== old && box.innerHTML === one
      const two = one.replace("1.25", "2.50").replace('"7"', '"8"')
      view.set_html(two)  // the same structure: written into the nodes
      return [replaced, box.querySelector(".rel-time") === b && box.innerHTML === two]
    }""")
    assert (replaced, kept) == (True, True)
    assert errors == []


def test_updates_from_the_server_are_shown_one_per_displayed_frame(page, server):
    """app/patches.py, 5: an update that arrives before the previous one was painted waits
    for the next frame (BokehJS would apply both before one paint: the first never seen);
    more than three waiting go through at once, in order. Driven through the patched
    ClientSession method on a stand-in session that records when each update is applied."""
    errors = open_app(page, server)
    got = page.evaluate("""async () => {
      const handle = window.Bokeh.require("client/session").ClientSession.prototype._handle_patch
      let frame = 0, counting = true
      const count = () => { frame += 1; if (counting) requestAnimationFrame(count) }
      requestAnimationFrame(count)
      const log = []
      const session = {document: {apply_json_patch: (content) => log.push([content, frame])}}
      const until = (test) => new Promise((done) => {
        const look = () => test() ? done() : setTimeout(look, 5)
        look()
      })
      const t0 = performance.now()
      handle.call(session, {content: 1})
      handle.call(session, {content: 2})
      const at_once = log.map((e) => e[0])
      await until(() => log.length == 2)
      const later = log[1][1] > log[0][1] || performance.now() - t0 >= 100
      await until(() => session.__rel_shown)
      for (const k of [3, 4, 5, 6, 7]) { handle.call(session, {content: k}) }
      const burst = log.map((e) => e[0])
      counting = false
      return {at_once, later, burst}
    }""")
    assert got == {"at_once": [1], "later": True, "burst": [1, 2, 3, 4, 5, 6, 7]}
    assert errors == []


def test_space_toggles_play_anywhere_outside_text_fields(page, server):
    open_app(page, server)
    page.locator(".rel-status").click()  # focus on the page, not on a field
    page.keyboard.press("Space")
    expect(page.locator(".rel-play button")).to_have_text("Pause")
    expect(page.locator(".rel-time")).not_to_have_text("0.00")
    page.keyboard.press("Space")
    expect(page.locator(".rel-play button")).to_have_text("Play")


def test_presentation_at_1280x720_shows_the_three_plots_without_scrolling(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    open_app(page, server, "?lesson=nodes&present=true")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 4")
    expect(page.locator("#sidebar")).to_have_class(re.compile("hidden"))
    for k in ("hist", "phase", "dev"):
        canvas = page.locator(f".rel-plot-{k} canvas").first
        expect(canvas).to_be_visible(timeout=20_000)
        box = canvas.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720, (k, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, (k, box)
    screenshot(page, "presentation-1280x720")
    ctx.close()


def test_a_lesson_link_opens_paused_at_t0_and_stays_there(page, server):
    open_app(page, server, "?lesson=nodes")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 4")
    expect(page.locator(".rel-press")).to_be_visible(timeout=30_000)
    expect(page.locator(".rel-time")).to_have_text("0.00")
    page.wait_for_timeout(1500)  # a lesson that auto-played would have moved by now
    expect(page.locator(".rel-time")).to_have_text("0.00")
    expect(page.locator(".rel-play button")).to_have_text("Play")


def test_the_exact_curve_has_no_segment_longer_than_the_output_spacing(page, server):
    """The plots over time come from the recorded history: even when the page pulls
    frames irregularly, consecutive points of |psi_0(t)|^2 are one output spacing apart."""
    open_app(page, server, "?lesson=nodes&speed=3")
    expect(page.locator(".rel-press")).to_be_visible(timeout=30_000)
    play(page)
    expect(page.locator(".rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    pause(page)
    gaps = page.evaluate("""() => {
      for (const doc of Bokeh.documents) for (const m of doc._all_models.values()) {
        const d = m.data;
        if (d == null || typeof d !== 'object') continue;
        const get = (k) => d instanceof Map ? d.get(k) : d[k];
        const t = get('t'), p0 = get('p0');
        if (t == null || p0 == null || t.length < 2) continue;
        const ts = Array.from(t);
        const gap = ts.slice(1).map((x, i) => x - ts[i]);
        return [ts.length, Math.max(...gap), Math.min(...gap)];
      }
      return null;
    }""")
    assert gaps is not None
    n, longest, shortest = gaps
    dt = lessons.get("nodes").params.get("dt_out", 0.1)
    assert n > 10 and longest == pytest.approx(dt, rel=1e-3)
    assert shortest > 0.99 * dt


#: The agents engine with phases: the phase circle, its order plot and the tracked systems.
AGENTS = "?mode=agents&N=100000&phases=dynamic"


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_phase_order_plot_has_a_card_of_its_own(browser, server, size):
    """The order bars sat under the phase circle, 190 px tall: six tick labels in 55 px,
    and a middle column twice as tall as the histogram and deviation cards beside it
    (blank under them). Now the top row's cards are about as tall as each other, and the
    order plot, as tall as the plots over time, shares their row."""
    w, h = size
    ctx = browser.new_context(viewport={"width": w, "height": h})
    page = ctx.new_page()
    errors = open_app(page, server, AGENTS)
    for k in ("hist", "phase", "dev", "pop", "order"):
        expect(page.locator(f".rel-plot-{k} canvas").first).to_be_visible(timeout=30_000)
    top = {k: page.locator(f".rel-box-{k}").bounding_box() for k in ("hist", "phase", "dev")}
    heights = [b["height"] for b in top.values()]
    assert max(heights) - min(heights) < 80, top
    order = page.locator(".rel-box-order").bounding_box()
    pop = page.locator(".rel-box-pop").bounding_box()
    assert page.locator(".rel-plot-order canvas").first.bounding_box()["height"] >= 280
    assert order["y"] >= max(b["y"] + b["height"] for b in top.values()) - 1
    if w >= 1280:  # wide enough: beside the populations, not under them
        assert abs(order["y"] - pop["y"]) < 2 and abs(order["height"] - pop["height"]) < 80
    screenshot(page, f"agents-{w}x{h}")
    assert errors == []
    ctx.close()


def test_the_play_tooltip_goes_away_on_a_click(browser, server):
    """Panel hides a button's tooltip only when the pointer leaves it: after a click on
    Play it stayed over Step and Reset."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    open_app(page, server)
    tip = page.get_by_text("Start or pause the simulation")
    page.locator(".rel-play button").hover()
    expect(tip).to_be_visible()  # a hover still explains the button
    play(page)
    expect(tip).to_be_hidden()
    page.mouse.move(640, 600)  # away and back: it explains again
    page.locator(".rel-play button").hover()
    expect(tip).to_be_visible()
    pause(page)
    expect(tip).to_be_hidden()
    ctx.close()


#: Bad link values, each with the notice it must produce.
BAD_LINK = {
    'pv={"theta":99,"nope":1}': ("theta=99 from the link is outside", "has no parameter 'nope'"),
    "N=-5": ("N=-5 from the link is outside",),
    "mode=foo": ("mode=foo from the link must be one of",),
    "lesson=nope": ("lesson=nope from the link is not a lesson",),
    "r=100": ("r=100 from the link is outside",),
    "speed=1000": ("speed=1000 from the link is outside",),
}


def test_every_bad_link_value_shows_its_notice_and_the_page_renders(page, server):
    """All of them in one link (one page load, not seven): each gets its own notice."""
    errors = open_app(page, server, "?" + "&".join(BAD_LINK))
    notices = page.locator(".rel-notice")
    for texts in BAD_LINK.values():
        for text in texts:
            expect(notices.filter(has_text=text)).to_have_count(1)
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    assert errors == []


def test_after_a_lesson_switch_only_the_new_run_is_shown(page, server):
    open_app(page, server)
    play(page)
    expect(page.locator(".rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    page.locator(".lesson-select select").select_option(label="5. Phase alignment")
    # at once: the old run greyed (or already replaced), then the new one at t = 0
    expect(page.locator(".rel-mode")).to_have_text("agents", timeout=30_000)
    expect(page.locator(".rel-time")).to_have_text("0.00")
    expect(page.locator(".rel-plots.rel-stale")).to_have_count(0)
    expect(page.locator(".rel-plot-tracked canvas").first).to_be_visible()
    expect(page.locator(".rel-play button")).to_have_text("Play")


def test_fast_input_coalesces_and_the_page_keeps_up(page, server):
    """Two hundred key presses on the N slider (each a new ensemble) within a few seconds:
    the page shows the last value soon after the last press, and never builds them all."""
    open_app(page, server)
    handle = page.locator(".rel-w-N .noUi-handle")
    handle.focus()
    for i in range(200):
        handle.press("ArrowLeft" if i % 2 else "ArrowRight")
    handle.press("ArrowRight")  # ends one step up: 2 x 10^5
    expect(page.locator(".rel-N")).to_have_text("2×10⁵")
    expect(page.locator(".rel-time")).to_have_text("0.00")
    expect(page.locator(".rel-plots.rel-stale")).to_have_count(0)


def test_r_away_from_minus_half_grows_deviation(page, server):
    open_app(page, server, "?speed=2")
    play(page)
    expect(page.locator(".rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    D_quantum = float(page.locator(".rel-D").text_content())
    field = page.locator(".rel-w-r input").first
    field.fill("0")
    field.press("Enter")
    expect(page.locator(".rel-r")).to_have_text("+0.00", timeout=10_000)
    expect(page.locator(".rel-D")).to_have_text(re.compile(r"^0\.[1-9]"), timeout=30_000)
    assert D_quantum < 0.03  # r = -1/2: the 1/sqrt(N) floor at N = 10^5


def test_non_hermitian_matrix_shows_error_and_simulation_continues(page, server):
    open_app(page, server)
    page.locator(".rel-card-matrix").get_by_text("Matrix editor").click()
    play(page)
    page.locator(".matrix-mirror input[type=checkbox]").uncheck()
    cell = page.locator('.tabulator-row .tabulator-cell[tabulator-field="1"]').first
    cell.click()
    editor = cell.locator("input")
    editor.fill("5")
    editor.press("Enter")
    alert = page.locator(".matrix-error")
    expect(alert).to_contain_text(re.compile(r"H\[0\]\[1\] = 5 is not the complex conjugate"))
    t0 = time_shown(page)
    expect(page.locator(".rel-time")).not_to_have_text(f"{t0:.2f}")  # the run carries on
    expect(page.locator(".run-error")).to_be_hidden()


def test_sessions_independent_and_closing_stops_thread(browser, server):
    # sessions of earlier tests end within the server's unused-session lifetime (1 s)
    def runners():
        return get_json(server + "/runners")["runners"]

    _until(runners, 0)
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    a, b = ctx_a.new_page(), ctx_b.new_page()
    open_app(a, server)
    open_app(b, server)
    assert runners() == 2
    play(a)
    expect(a.locator(".rel-time")).to_have_text(AT_LEAST_1, timeout=30_000)
    expect(b.locator(".rel-time")).to_have_text("0.00")  # b was never played
    ctx_a.close()  # the session ends; the server destroys it after its unused lifetime
    _until(runners, 1)
    ctx_b.close()
    _until(runners, 0)


def _until(read, value, timeout: float = 20.0) -> None:
    """Poll a server-side count (no page to wait on): bounded, not a fixed sleep."""
    import time

    deadline = time.monotonic() + timeout
    while read() != value:
        assert time.monotonic() < deadline, f"still {read()} (waiting for {value})"
        time.sleep(0.2)
