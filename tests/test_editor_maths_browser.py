"""A served page in headless Chromium: maths typeset in a lesson text, and Tab leaving the
matrix editor (issue #18). The page is tests/_editor_maths_page.py, not the whole app."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests._app_fixtures import CHROMIUM, CHROMIUM_ARGS, VENV_BIN, free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PAGE = "tests/_editor_maths_page.py"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's chromium, no sandbox, no background traffic (pytest-playwright hook)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="module")
def page_url():
    port = free_port()
    argv = [str(VENV_BIN / "panel"), "serve", PAGE, "--address", "127.0.0.1", "--port",
            str(port), "--allow-websocket-origin", f"127.0.0.1:{port}", "--liveness"]
    with serve(argv, port) as base:
        yield base + "/_editor_maths_page"


def open_page(page, url):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    expect(page.locator('.tabulator-cell[tabulator-field="psi0"]').first).to_be_visible(
        timeout=30_000)
    return errors


def test_lesson_maths_is_typeset(page, page_url):
    errors = open_page(page, page_url)
    text = page.locator(".lesson-text")
    expect(text.locator("math").first).to_be_visible(timeout=20_000)
    # |psi_a|^2, n_a/N, the state psi_a = sqrt(n_a/N) e^{-i phi_a}, N, 10^6: all typeset
    assert text.locator("math").count() >= 5
    # laid out by the browser's MathML engine (display "math"), not shown as plain text;
    # the root and its radicand: a square root drawn, not its letters in a row
    assert text.locator("math").first.evaluate("m => getComputedStyle(m).display") in (
        "math", "inline math")
    root = text.locator("msqrt").first
    assert root.evaluate("r => getComputedStyle(r).display") in ("math", "block math")
    shown = text.locator("p").all_inner_texts()
    assert shown and not any("$" in p or "\\psi" in p or "\\sqrt" in p for p in shown), shown
    assert "Schrödinger" in " ".join(shown)
    assert errors == []


def test_tab_leaves_the_matrix_editor(page, page_url):
    """Tabulator's own Tab binding kept focus on the last cell for ever; the browser's Tab
    commits the edit and moves on, cell by cell, then out of the table."""
    errors = open_page(page, page_url)
    last = page.locator('.tabulator-row .tabulator-cell[tabulator-field="psi0"]').last
    last.click()
    editor = last.locator("input")
    editor.fill("0.6")
    editor.press("Tab")
    expect(page.get_by_role("button", name="After")).to_be_focused()
    expect(last).to_have_text("0.6")  # the edit was committed, not dropped
    # from the button before the editor, Tab passes the mirror checkbox, the table and its
    # 6 editable cells (2 x 2 H and psi0), then leaves: 9 presses measured on a quiet
    # machine, 11 in a loaded CI run (a cell's editor may open and take one more press);
    # the old trap never left, however many presses
    page.get_by_role("button", name="Before").focus()
    after = page.get_by_role("button", name="After")
    presses = 0
    while presses < 30 and not after.evaluate("el => el.getRootNode().activeElement === el"):
        page.keyboard.press("Tab")
        presses += 1
    assert presses <= 2 * 6 + 3, presses
    assert errors == []
