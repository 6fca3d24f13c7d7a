"""Screenshots of a running dashboard: desktop and phone width, light and dark.

    .venv/bin/python -m tests.dashboard.screenshots http://127.0.0.1:8765/ /tmp/shots

Uses Debian's chromium through Playwright, like the browser tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS

SHOTS = (
    ("dashboard", 1280, 1000, "light"),
    ("dashboard-dark", 1280, 1000, "dark"),
    ("dashboard-phone", 390, 844, "light"),
    ("dashboard-phone-dark", 390, 844, "dark"),
)


def main(url: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, width, height, scheme in SHOTS:
            ctx = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme=scheme,  # type: ignore[arg-type]
                reduced_motion="reduce",  # the figure drawn at its angle, not mid-turn
                device_scale_factor=1,
            )
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_selector("section.sensor")
            page.wait_for_timeout(1500)  # let the live stream fill the card
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            ctx.close()
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
