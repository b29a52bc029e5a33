"""Every lesson through the dashboard's picker: it loads, shows its text, highlights its
controls and runs (issue 6). One real browser test."""

from __future__ import annotations

import time

import pytest

from engine import lessons
from tests._app_fixtures import ROOT
from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    browser_context_args,
    browser_type_launch_args,
    open_app,
    shown,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_every_lesson_opens_renders_and_runs(page, server):
    errors = open_app(page, server)
    select = page.locator(".lesson-select select")
    switch = {}
    for name in lessons.lesson_names():
        lesson = lessons.get(name)
        t_click = time.monotonic()
        select.select_option(label=f"{lesson.number}. {lesson.title}")
        page.locator(".lesson-text").get_by_text(f"Lesson {lesson.number}:").wait_for(
            timeout=60_000)
        switch[lesson.number] = round(time.monotonic() - t_click, 2)
        assert page.locator(".lesson-highlight").count() >= 1
        page.locator(".plot-hist canvas").first.wait_for(timeout=20_000)
        t0 = shown(page, "t")
        wait_until(lambda t0=t0: shown(page, "t") > t0 + 0.3, timeout=60)  # it runs
        if name == "classical_limit":
            page.locator(".plot-classical canvas").first.wait_for(timeout=20_000)
            page.locator(".present-toggle button").click()
            time.sleep(2.0)
            (ROOT / "test-results").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-results" / "lesson6-presentation.png"))
            page.locator(".present-toggle button").click()
    print("seconds from choosing a lesson to its text:", switch)
    assert errors == []


def test_a_link_opens_a_lesson_in_presentation_mode(page, server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/app?lesson=nodes&present=true")
    page.locator(".lesson-text").get_by_text("Lesson 4:").wait_for(timeout=30_000)
    page.locator(".plot-hist canvas").first.wait_for(timeout=20_000)
    assert page.locator(".present-toggle button").get_attribute("aria-pressed") in (
        "true", None)
    # the lesson text sits above the plots; the matrix editor is hidden
    text_y = page.locator(".lesson-text").bounding_box()["y"]
    assert text_y < page.locator(".plot-hist").bounding_box()["y"]
    assert not page.get_by_text("Matrix editor (H and ψ₀)").is_visible()
    time.sleep(1.5)
    (ROOT / "test-results").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-results" / "lesson4-link-presentation.png"))
    assert errors == []
