"""The served dashboard in headless Chromium, driven like a person (few, real tests)."""

from __future__ import annotations

import re
import time

import pytest

from tests._app_fixtures import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    get_json,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PLOTS = ("hist", "phase", "order", "pop", "dev", "tracked")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's chromium, no sandbox, no background traffic (pytest-playwright hook)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1600, "height": 1000}}


def open_app(page, base):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a failed load names only its error in the console: record the address too
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(base + "/app")
    page.locator(".status b.t").wait_for(timeout=30_000)
    return errors


def shown(page, cls: str) -> float:
    return float(page.locator(f".status b.{cls}").text_content())


def wait_until(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def play(page):
    page.get_by_role("button", name="Play", exact=True).click()
    page.get_by_role("button", name="Pause", exact=True).wait_for()


def test_loads_renders_plays_and_screenshot(page, server):
    errors = open_app(page, server)
    for k in PLOTS:
        page.locator(f".plot-{k} canvas").first.wait_for(timeout=20_000)
    assert shown(page, "t") == 0.0
    # the BokehJS workaround (app/bokeh_fixes.py) is in place
    assert page.evaluate("""() => window.Bokeh.__rel_style_patch === true &&
        window.Bokeh.require("core/dom").InlineStyleSheet.prototype._update
            .toString().includes("textContent !== css") &&
        window.Bokeh.require("models/renderers/glyph_renderer").GlyphRendererView
            .prototype.update_position.toString().includes("__rel_placed")""")
    play(page)
    wait_until(lambda: shown(page, "t") > 1.0)
    time.sleep(2.5)  # a few Rabi half-periods on screen for the screenshot
    page.set_viewport_size({"width": 1600, "height": 1420})  # every plot in one picture
    time.sleep(1.0)
    page.screenshot(path=str(ROOT / "assets" / "screenshot.png"))
    # the workaround places glyph renderers' elements at most once a second, with a trailing
    # update: once paused, every one sits where stock BokehJS would place it
    page.get_by_role("button", name="Pause", exact=True).click()
    time.sleep(1.5)
    n, stale = page.evaluate(JS_STALE_PLACES)
    assert n > 20 and stale == 0
    assert errors == []


JS_STALE_PLACES = """() => {
  const GRV = Bokeh.require("models/renderers/glyph_renderer").GlyphRendererView;
  let n = 0, stale = 0;
  const visit = (v) => {
    if (v instanceof GRV && v.position.el != null) {
      const before = v.position.el.textContent;
      Bokeh.__rel_place.call(v);  // BokehJS's own placement
      n += 1;
      if (v.position.el.textContent !== before) stale += 1;
    }
    for (const c of (v.children_views ? v.children_views() : [])) visit(c);
  };
  for (const root of Object.values(Bokeh.index)) visit(root);
  return [n, stale];
}"""


def test_r_away_from_minus_half_grows_deviation(page, server):
    open_app(page, server)
    play(page)
    wait_until(lambda: shown(page, "t") > 2.0)
    D_quantum = shown(page, "D")
    handle = page.locator(".r-slider .noUi-handle")
    handle.focus()
    for _ in range(10):
        handle.press("PageUp")  # the slider's keyboard: 10 x 0.05, from -1/2 to 0
    wait_until(lambda: shown(page, "r") == 0.0, timeout=10)
    t_change = shown(page, "t")
    seen = []
    wait_until(lambda: seen.append(shown(page, "D")) or shown(page, "t") > t_change + 4.0)
    assert D_quantum < 0.03  # r = -1/2: the 1/sqrt(N) floor at N = 10^5
    assert max(seen) > 0.1 and max(seen) > 5 * D_quantum


def test_non_hermitian_matrix_shows_error_and_simulation_continues(page, server):
    open_app(page, server)
    play(page)
    page.locator(".matrix-mirror input[type=checkbox]").uncheck()
    cell = page.locator('.tabulator-row .tabulator-cell[tabulator-field="1"]').first
    cell.click()
    editor = cell.locator("input")
    editor.fill("5")
    editor.press("Enter")
    alert = page.locator(".matrix-error")
    alert.wait_for(timeout=10_000)
    text = " ".join(alert.locator("*").all_text_contents())  # inside the shadow root
    assert re.search(r"H\[0\]\[1\] = 5 is not the complex conjugate", text)
    t0 = shown(page, "t")
    wait_until(lambda: shown(page, "t") > t0 + 0.5)  # the run carries on
    assert page.locator(".run-error").is_hidden()


def test_sessions_independent_and_closing_stops_thread(browser, server):
    # sessions of earlier tests end within the server's unused-session lifetime (1 s)
    wait_until(lambda: get_json(server + "/runners")["runners"] == 0, timeout=15)
    base_count = 0
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    a, b = ctx_a.new_page(), ctx_b.new_page()
    open_app(a, server)
    open_app(b, server)
    assert get_json(server + "/runners")["runners"] == base_count + 2
    play(a)
    wait_until(lambda: shown(a, "t") > 1.0)
    assert shown(b, "t") == 0.0  # b was never played
    ctx_a.close()  # the session ends; the server destroys it after its unused lifetime
    wait_until(lambda: get_json(server + "/runners")["runners"] == base_count + 1, timeout=15)
    assert shown(b, "t") == 0.0
    ctx_b.close()
    wait_until(lambda: get_json(server + "/runners")["runners"] == base_count, timeout=15)
