"""Refresh the README's picture, ``assets/screenshot.png`` (``make screenshot``).

Serves the app on a free local port, opens it in headless Chromium at 1600 x 1000, plays
the default experiment for a few seconds and saves the page. The test suite never writes
this file (its screenshots go to ``test-results/``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests._app_fixtures import CHROMIUM, CHROMIUM_ARGS, free_port, panel_argv, serve  # noqa: E402


def main() -> None:
    port = free_port()
    with serve(panel_argv(port), port) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(base + "/app?speed=2")
        expect(page.locator(".rel-press")).to_be_visible(timeout=60_000)
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-time")).to_have_text(re.compile(r"^[4-9]\.\d\d$"),
                                                        timeout=60_000)
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-play button")).to_have_text("Play")
        page.mouse.move(5, 400)  # no tooltip in the picture
        page.screenshot(path=str(ROOT / "assets" / "screenshot.png"))
        browser.close()
    print("wrote assets/screenshot.png")


if __name__ == "__main__":
    main()
