"""Refresh the teacher's guide's pictures, ``docs/classroom_projector.png`` and
``docs/classroom_phone.png`` (``.venv/bin/python docs/screenshot_classroom.py``).

Serves the app on a free local port; a projector page (headless Chromium, 1280 x 900)
opens a room for the two-level preset with 1 spectator per value; eleven phones join
(390 x 844, one in a browser, ten as plain HTTP clients); the room runs for a few seconds.
The PNGs are reduced to a 64-colour palette to stay small.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests._app_fixtures import CHROMIUM, CHROMIUM_ARGS, free_port, panel_argv, serve  # noqa: E402

NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jo"]


def small(path: Path) -> None:
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)


def main() -> None:
    port = free_port()
    with serve(panel_argv(port), port) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/app")
        expect(page.locator(".rel-status .rel-time")).to_be_visible(timeout=90_000)
        page.get_by_text("Classroom", exact=True).click()
        box = page.locator(".room-spectators input")
        box.fill("1")
        box.press("Enter")
        page.locator(".room-open button").click()
        code = page.locator(".room-code")
        expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}$"), timeout=60_000)
        code = code.text_content()
        for name in NAMES:
            req = urllib.request.Request(f"{base}/room/{code}/join", method="POST",
                                         data=json.dumps({"nickname": name}).encode())
            urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - local server
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.goto(f"{base}/join?room={code}")
        phone.locator("#nick").fill("Sam")
        phone.locator("#join").click()
        expect(phone.locator("#you")).to_have_text("Sam")
        pace = page.locator(".room-pace input")
        pace.fill("0.5")
        pace.press("Enter")
        page.locator(".room-play button").click()
        expect(page.locator(".room-recent li").nth(4)).to_be_visible(timeout=60_000)
        expect(phone.locator("#feed li").nth(2)).to_be_visible(timeout=60_000)
        page.locator(".room-play button").click()
        expect(page.locator(".room-play button")).to_have_text("Start")
        page.locator(".rel-classroom").scroll_into_view_if_needed()
        page.mouse.move(5, 400)
        shots = {"projector": (page, page.locator(".rel-classroom")), "phone": (phone, None)}
        for name, (pg, where) in shots.items():
            path = ROOT / "docs" / f"classroom_{name}.png"
            (where or pg).screenshot(path=str(path))
            small(path)
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")
        browser.close()


if __name__ == "__main__":
    main()
