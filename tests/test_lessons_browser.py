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
