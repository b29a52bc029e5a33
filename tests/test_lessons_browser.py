"""Every lesson through the dashboard's picker: it opens paused at t = 0 with its banner,
highlights its controls and runs on Play (one real browser test)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from real_ensemble_lab.engine.tools import lessons
from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    browser_context_args,
    browser_type_launch_args,
    open_app,
    pause,
    play,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_every_lesson_opens_paused_renders_and_runs(page, server):
    errors = open_app(page, server)
    select = page.locator(".lesson-select select")
    for name in lessons.lesson_names():
        lesson = lessons.get(name)
        select.select_option(label=f"{lesson.number}. {lesson.title}")
        expect(page.locator(".rel-lesson")).to_contain_text(f"Lesson {lesson.number}:")
        expect(page.locator(".rel-press")).to_be_visible(timeout=60_000)  # paused, t = 0
        expect(page.locator(".rel-time")).to_have_text("0.00")
        expect(page.locator(".lesson-highlight").first).to_be_attached()
        expect(page.locator(".rel-plot-hist canvas").first).to_be_visible()
        play(page)
        expect(page.locator(".rel-time")).not_to_have_text("0.00")  # it runs
        pause(page)
        if name == "classical_limit":
            expect(page.locator(".rel-plot-classical canvas").first).to_be_visible()
    assert errors == []


def test_a_link_opens_a_lesson_in_presentation_mode_with_rendered_maths(page, server):
    errors = open_app(page, server, "?lesson=nodes&present=true")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 4:")
    expect(page.locator(".present-toggle button")).to_have_class(re.compile("bk-active"))
    # the lesson banner sits above the plots; the sidebar is closed
    assert page.locator(".rel-lesson").bounding_box()["y"] < \
        page.locator(".rel-plot-hist").bounding_box()["y"]
    expect(page.locator("#sidebar")).to_have_class(re.compile("hidden"))
    page.locator(".rel-lesson-more button").click()
    text = page.locator(".rel-lesson-text")
    expect(text).to_be_visible()
    expect(text.locator("math").first).to_be_attached()  # maths typeset (MathML)
    screenshot(page, "lesson4-link-presentation")
    assert errors == []


def test_a_lesson_in_presentation_mode_fits_a_phone(browser, server):
    """At 390 px the status bar's figures stay inside its fixed height (presentation mode's
    large type is for a projector's width) and the lesson line takes the banner's width,
    its button under it. Before: the figures ran under the banner, and the line was a
    column of one or two words beside the button."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    errors = open_app(page, server, "?lesson=nodes&present=true")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 4")
    status = page.locator(".rel-status").first
    # the figures' own box (inside the pane's shadow root) ends inside the pane
    inner = status.evaluate("""(host) => { const r = host.shadowRoot || host;
        let bottom = 0;
        for (const el of r.querySelectorAll('.stat')) {
          bottom = Math.max(bottom, el.getBoundingClientRect().bottom) }
        return [bottom, host.getBoundingClientRect().bottom] }""")
    assert inner[0] <= inner[1] + 1, inner
    banner = page.locator(".rel-lesson").bounding_box()
    assert status.bounding_box()["y"] + status.bounding_box()["height"] <= banner["y"] + 1
    line = page.locator(".rel-lesson-line").bounding_box()
    assert line["width"] > 0.7 * banner["width"], (line, banner)
    more = page.locator(".rel-lesson-more").bounding_box()
    assert more["y"] >= line["y"] + line["height"] - 1  # the button under the line
    screenshot(page, "lesson4-presentation-390")
    assert errors == []
    ctx.close()
