"""Self-explaining, accessible, on any screen (issue 18), in a served app and headless
Chromium: an axe-core audit (no "serious" or "critical" violation) of the main page with
every card open, of a lesson in presentation mode and of the Studies page; the keyboard
(tab order, a visible focus ring, Play and Pause by Enter and Space with the focus kept,
the page's tabs before what they hold); one h1; and a phone (390 x 844). Screenshots go to
``test-results/``."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from real_ensemble_lab.engine.studies.datadir import ENV
from tests._app_fixtures import free_port, open_tab, panel_argv, serve
from tests._studies_data import make_results, results  # noqa: F401 - a fixture
from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    SHOTS,
    browser_context_args,
    browser_type_launch_args,
    open_app,
    screenshot,
)
from tests.test_studies_browser import click_drift_point

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

#: Impacts that fail the audit.
SERIOUS = {"serious", "critical"}
#: Findings accepted, each as (rule, in the element's HTML, in axe's summary, why). Only
#: what comes from inside a library and cannot be fixed from this project without
#: rebuilding that library's markup. None today: Tabulator's pagination buttons sat inside
#: its role=grid (aria-required-children), so the Studies runs table scrolls instead.
ACCEPTED: list[tuple[str, str, str, str]] = []
#: Rules of a lesser impact that fail the audit too: one h1, and no level skipped below it.
ALSO = {"page-has-heading-one", "heading-order"}
#: The deep focus: the focused element inside the shadow roots, its accessible name as far
#: as the test needs it, whether it sits in the sidebar, and its outline.
FOCUSED = r"""() => {
  let e = document.activeElement
  while (e != null && e.shadowRoot != null && e.shadowRoot.activeElement != null) {
    e = e.shadowRoot.activeElement
  }
  if (e == null || e === document.body) { return null }
  let host = e, in_sidebar = false
  while (host != null) {
    if (host.closest?.("#sidebar")) { in_sidebar = true; break }
    host = host.getRootNode().host
  }
  const text = (node) => {  // the text a screen reader reads, shadow roots included
    if (node.nodeType === Node.TEXT_NODE) { return node.textContent }
    if (node.nodeType !== Node.ELEMENT_NODE || ["STYLE", "SCRIPT"].includes(node.tagName)) {
      return ""
    }
    const kids = node.shadowRoot != null ? node.shadowRoot.childNodes : node.childNodes
    return [...kids].map(text).join(" ")
  }
  const label = e.labels?.[0]?.textContent
  const name = (e.getAttribute("aria-label") || label || text(e)).replace(/\s+/g, " ").trim()
  const style = getComputedStyle(e)
  return {name, in_sidebar, outline: `${style.outlineStyle} ${style.outlineWidth}`}
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, results):  # noqa: F811 - the fixture
    """The app served with a data folder holding the tiny study (for the Studies page)."""
    data = tmp_path_factory.mktemp("data")
    make_results(data / "studies" / "tiny", copy_from=results)
    port = free_port()
    with serve(panel_argv(port), port, env={ENV: str(data)}) as base:
        yield base


def audit(page, name: str) -> None:
    """axe-core on the page as it is (open shadow roots included): no serious or critical
    violation. The full result goes to ``test-results/axe-<name>.json``."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    found = axe.Axe().run(page, options={"resultTypes": ["violations"]}).response["violations"]
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1))
    bad = []
    for v in found:
        nodes = [n for n in v["nodes"] if not any(
            rule == v["id"] and where in n["html"] and what in (n.get("failureSummary") or "")
            for rule, where, what, _ in ACCEPTED)]
        if (v["impact"] in SERIOUS or v["id"] in ALSO) and nodes:
            bad.append(f"{v['id']} ({v['impact']}): {v['help']} at "
                       + "; ".join(str(n["target"]) for n in nodes[:5]))
    assert bad == [], "\n".join(bad)


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def one_h1(page) -> None:
    """The page's one top-level heading: the app's name in the header, visible."""
    h1 = page.locator("h1")  # CSS locators look inside (open) shadow roots as well
    expect(h1).to_have_count(1)
    expect(h1).to_have_text("Real Ensemble Lab")
    expect(h1).to_be_visible()
    assert page.locator("#header h1").count() == 1


def open_every_card(page) -> None:
    closed = page.locator('button.card-header[aria-expanded="false"]')
    for _ in range(20):  # a card opened may hold another (the matrix editor)
        if closed.count() == 0:
            return
        button = closed.first.element_handle()
        button.click()
        page.wait_for_function("b => b.getAttribute('aria-expanded') === 'true'", arg=button)
    raise AssertionError("cards still closed")


def test_axe_main_page_with_every_card_open(page, server):
    errors = open_app(page, server)  # 1600 x 1000: the sidebar is open
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    expect(page.locator("#sidebar")).not_to_have_class(re.compile("hidden"))
    open_every_card(page)
    expect(page.locator('button.card-header[aria-expanded="false"]')).to_have_count(0)
    expect(page.locator(".rel-card-matrix .tabulator-row").first).to_be_visible()
    one_h1(page)
    audit(page, "main")
    assert errors == []


def test_axe_lesson_in_presentation_mode(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    open_app(page, server, "?lesson=nodes&present=true")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 4")
    expect(page.locator(".rel-plot-dev canvas").first).to_be_visible(timeout=20_000)
    screenshot(page, "a11y-presentation-1280x720")
    page.locator(".rel-lesson-more button").click()  # the full text, with its maths
    expect(page.locator(".rel-lesson-text math").first).to_be_visible()
    one_h1(page)
    audit(page, "presentation")
    ctx.close()


def test_axe_studies_page(page, server):
    open_app(page, server)
    open_tab(page, "Studies")
    expect(page.locator(".studies-runs a")).to_have_count(4, timeout=30_000)
    # the runs table scrolls: no pagination (its buttons sat inside role=grid)
    expect(page.locator(".studies-runs .tabulator-row")).to_have_count(4)
    expect(page.locator(".studies-runs .tabulator-paginator")).to_have_count(0)
    click_drift_point(page, 0.0, 0.0)  # the curves' links, in the audit too
    expect(page.locator(".studies-curve-links a").first).to_be_visible()
    one_h1(page)
    audit(page, "studies")


def test_keyboard_tab_order_focus_ring_and_play_keeps_the_focus(browser, server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})  # sidebar open
    page = ctx.new_page()
    open_app(page, server, "?lesson=nodes")
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    expect(page.locator(".rel-press")).to_be_visible(timeout=30_000)
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        f = focused(page)
        names.append((f["name"], f["in_sidebar"]) if f else (None, False))
    order = [n for n, _ in names]
    # the header, then the transport, the lesson, and then the controls
    assert order[:7] == ["Show or hide the controls", "Real Ensemble Lab", "Live ensemble",
                         "Play", "Step", "Reset", "Full lesson text"], order
    assert "Studies" not in order  # one stop for the tabs (the arrows move between them)
    first_control = next(i for i, (_, side) in enumerate(names) if side)
    assert first_control > order.index("Full lesson text")
    assert order.index("Lesson") < order.index("Preset"), order
    assert "Speed (time units per second)" in order
    assert any(n and n.startswith("Help: ") for n in order)  # the (i) icons take the focus
    assert None not in order and "" not in order  # nothing focusable without a name

    page.get_by_role("tab", name="Live ensemble").focus()
    page.keyboard.press("Tab")
    f = focused(page)
    assert f["name"] == "Play" and f["outline"] == "solid 3px"  # inside Panel's shadow DOM
    play = page.locator(".rel-play button")
    page.keyboard.press("Enter")
    expect(play).to_have_text("Pause")
    assert focused(page)["name"] == "Pause"  # re-rendered, focus kept
    page.keyboard.press("Space")
    expect(play).to_have_text("Play")
    assert focused(page)["name"] == "Play"
    page.keyboard.press("Enter")
    expect(play).to_have_text("Pause")
    page.keyboard.press("Enter")
    expect(play).to_have_text("Play")
    ctx.close()


def test_the_tabs_come_before_what_they_hold_and_open_by_keyboard(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    open_app(page, server)
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    live, studies = page.get_by_role("tab", name="Live ensemble"), page.get_by_role("tab",
                                                                                   name="Studies")
    expect(live).to_have_attribute("aria-selected", "true")
    expect(studies).to_have_attribute("aria-selected", "false")
    # in the DOM, the headers come before the panels (as on the screen)
    headers = page.locator(".bk-header:has(.bk-headers-wrapper)")
    expect(headers).to_have_count(1)
    assert headers.evaluate("""(header) => {
      const kids = [...header.parentNode.children].filter((e) =>
        !["STYLE", "LINK"].includes(e.tagName))
      return kids.indexOf(header) === 0 && kids.length > 1
    }""")
    page.locator("#header a.title").focus()
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Live ensemble"
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Play"  # then what the tab holds, from the top
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowRight")  # the arrows move between the tabs ...
    f = focused(page)
    assert f["name"] == "Studies" and f["outline"] == "solid 3px"
    # drawn inside the tab: the header clips what lies outside it
    assert studies.evaluate("(e) => getComputedStyle(e).outlineOffset") == "-3px"
    expect(page.locator(".rel-play button")).to_be_visible()  # ... Enter opens one
    page.keyboard.press("Enter")
    expect(studies).to_have_attribute("aria-selected", "true")
    expect(page.locator(".studies-message")).to_contain_text("4 runs", timeout=30_000)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Results"  # the Studies page's first control
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space")
    expect(live).to_have_attribute("aria-selected", "true")
    expect(page.locator(".rel-play button")).to_be_visible()
    ctx.close()


def test_the_live_controls_close_on_the_studies_tab_and_come_back(browser, server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})  # sidebar open
    page = ctx.new_page()
    open_app(page, server)
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    sidebar = page.locator("#sidebar")
    expect(sidebar).not_to_have_class(re.compile("hidden"))
    page.get_by_role("tab", name="Studies").click()
    expect(page.locator(".studies-message")).to_contain_text("4 runs", timeout=30_000)
    expect(sidebar).to_have_class(re.compile("hidden"))
    expect(page.locator("#sidebar-button")).to_have_attribute("aria-expanded", "false")
    page.get_by_role("tab", name="Live ensemble").click()
    expect(sidebar).not_to_have_class(re.compile("hidden"))
    expect(page.locator(".rel-play button")).to_be_visible()
    ctx.close()


def test_a_closed_sidebar_takes_no_focus_at_1280x720(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    open_app(page, server)
    expect(page.locator(".rel-plot-hist canvas").first).to_be_visible(timeout=20_000)
    expect(page.locator("#sidebar")).to_have_class(re.compile("hidden"))
    screenshot(page, "a11y-main-1280x720")
    for _ in range(12):
        page.keyboard.press("Tab")
        f = focused(page)
        assert f is None or not f["in_sidebar"], f
    bar = page.locator("#sidebar-button")  # a real button now: Enter opens the controls
    bar.focus()
    expect(bar).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(page.locator("#sidebar")).not_to_have_class(re.compile("hidden"))
    expect(bar).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".rel-play button")).to_have_text("Play")  # Enter did not play
    ctx.close()


#: A phone: its browser lays a page out at 980 px unless the page asks for the device's
#: width (meta viewport), which a plain narrow window does not show.
PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


def test_phone_390x844(browser, server):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors = open_app(page, server)
    boxes = {}
    for k in ("hist", "phase", "dev"):
        expect(page.locator(f".rel-plot-{k} canvas").first).to_be_visible(timeout=20_000)
        boxes[k] = page.locator(f".rel-box-{k}").bounding_box()
    expect(page.locator("#sidebar")).to_have_class(re.compile("hidden"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    # the plots are stacked, each as wide as the page allows
    assert boxes["phase"]["y"] >= boxes["hist"]["y"] + boxes["hist"]["height"] - 1
    assert boxes["dev"]["y"] >= boxes["phase"]["y"] + boxes["phase"]["height"] - 1
    hist = page.locator(".rel-plot-hist canvas").first.bounding_box()
    assert hist["width"] >= 300 and hist["x"] >= 0 and hist["x"] + hist["width"] <= 390
    # every figure of the status bar inside it, above the plots (a fixed height for wide
    # screens cut off its third row)
    status = page.locator(".rel-status").bounding_box()
    stats = page.locator(".rel-status .stat")
    assert stats.count() >= 7
    for stat in stats.all():
        b = stat.bounding_box()
        assert b["y"] + b["height"] <= status["y"] + status["height"], stat.inner_text()
    assert boxes["hist"]["y"] >= status["y"] + status["height"]
    for name in ("play", "step", "reset"):  # the transport without scrolling
        b = page.locator(f".rel-{name} button").bounding_box()
        assert 0 <= b["y"] and b["y"] + b["height"] <= 844 and b["x"] + b["width"] <= 390
    # no Space bar on a phone: no "(or Space)", no "Space: play / pause"
    press = page.locator(".rel-press-play")
    expect(press).to_be_visible(timeout=30_000)
    expect(press).to_have_text("Press Play to start", use_inner_text=True)
    # a tap on Play leaves no tooltip over Step and Reset
    tip = page.get_by_text("Start or pause the simulation")
    page.locator(".rel-play button").tap()
    expect(page.locator(".rel-play button")).to_have_text("Pause")
    expect(tip).to_be_attached()  # the tap's emulated hover asked for it ...
    expect(tip).to_be_hidden()  # ... a touch screen does not show it
    page.locator(".rel-play button").tap()
    expect(page.locator(".rel-play button")).to_have_text("Play")
    expect(tip).to_be_hidden()
    # the sidebar button's tooltip (left on by a touch) never covers the title
    page.locator("#sidebar-button").hover()
    expect(page.locator('fast-tooltip[anchor="sidebar-button"]')).to_be_hidden()
    page.mouse.move(200, 500)
    screenshot(page, "phone-390x844")
    page.locator("#sidebar-button").click()  # the controls cover the page, no scrolling
    expect(page.locator("#sidebar")).not_to_have_class(re.compile("hidden"))
    expect(page.locator(".lesson-select select")).to_be_in_viewport()
    expect(page.locator(".rel-w-speed")).to_be_visible()
    expect(page.locator(".rel-hint")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(page, "phone-390x844-controls")
    assert errors == []
    ctx.close()


#: How far the page, and the template's main card (which scrolls by itself), reach sideways.
SIDEWAYS = """() => {
  const card = document.querySelector("#main .pn-wrapper")
  return {page: document.documentElement.scrollWidth,
          card: card == null ? 0 : card.scrollWidth - card.clientWidth}
}"""


#: The boxes of what the Studies page's two columns hold (each child of each column).
BOXES = """(page) => {
  const shown = (e) => !["STYLE", "LINK"].includes(e.tagName)
                       && !e.classList.contains("scroll-button")
  const cols = []  // the two columns: the first Columns down the page's tree
  const walk = (e) => {
    for (const k of [...(e.shadowRoot ?? e).children].filter(shown)) {
      if (k.classList.contains("bk-panel-models-layout-Column")) cols.push(k)
      else walk(k)
    }
  }
  walk(page)
  const out = []
  for (const col of cols) {
    for (const e of [...(col.shadowRoot ?? col).children].filter(shown)) {
      const b = e.getBoundingClientRect()
      if (b.width > 0 && b.height > 0) {
        out.push({what: (e.innerText || e.className).slice(0, 40), x: b.x, y: b.y,
                  w: b.width, h: b.height})
      }
    }
  }
  return out
}"""


def overlap(a: dict, b: dict) -> bool:
    """Whether two boxes share more than a pixel each way."""
    return (min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > 1
            and min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > 1)


def test_studies_on_a_phone_390x844(browser, server):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors = open_app(page, server)
    page.get_by_role("tab", name="Studies").click()
    expect(page.locator(".studies-runs a")).to_have_count(4, timeout=30_000)
    expect(page.locator(".studies-curve-links")).to_contain_text("Click a point of a curve")
    # the controls above the plots, the plots as wide as the page allows
    folder = page.locator(".studies-page select").first.bounding_box()  # "Results"
    drift = page.locator(".studies-page canvas").first
    expect(drift).to_be_visible()
    box = drift.bounding_box()
    assert box["y"] > folder["y"] and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert box["width"] >= 300
    sideways = page.evaluate(SIDEWAYS)
    assert sideways["page"] <= 391 and sideways["card"] <= 1, sideways
    # nothing drawn over anything else: the controls, then the plots and their texts (a
    # Row's fixed height drew the message over "Heatmap x" and "Runs" over "Heatmap y")
    boxes = page.locator(".studies-page").first.evaluate(BOXES)
    assert len(boxes) >= 15, boxes  # both columns measured
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlap(a, b), (a, b)
    # the page uses the screen's height: the main card is not a window scrolling inside
    # the upper half of the screen
    card = page.locator("#main .pn-wrapper").bounding_box()
    assert card["y"] + card["height"] >= 844 - 30, card
    runs = page.get_by_text("(each opens live in the dashboard")
    runs.scroll_into_view_if_needed()
    expect(runs).to_be_in_viewport()
    screenshot(page, "phone-390x844-studies")
    assert errors == []
    ctx.close()
