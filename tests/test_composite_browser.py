"""The composite views and the Bell tests card in a served page (headless Chromium): a real
click runs CHSH on the page's local Dask cluster and shows the verdict (unit tests cannot
see that Bokeh accepts the card's session callbacks)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    browser_context_args,
    browser_type_launch_args,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_lesson8_runs_chsh_from_the_page(page, server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/app?lesson=entanglement")
    expect(page.locator(".rel-lesson")).to_contain_text("Lesson 8:", timeout=60_000)
    expect(page.get_by_text("Bell tests: CHSH and signalling")).to_be_visible(timeout=30_000)
    button = page.get_by_role("button", name="Run CHSH")
    button.scroll_into_view_if_needed()
    button.click()
    verdict = page.get_by_text("Bell's inequality |S| ≤ 2 is violated", exact=False)
    expect(verdict).to_be_visible(timeout=180_000)
    assert "quantum mechanics: 2.614" in verdict.text_content()
    assert errors == []
