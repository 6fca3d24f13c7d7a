"""A house of daemons on one real Mosquitto, on the page in Debian's headless Chromium: every
sensor of every daemon, grouped by daemon, folded to one line each when there are many, and
one daemon's SIGKILL greys its group only. ``postured status`` lists the same house."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect, sync_playwright

from tests.dashboard.live import threaded
from tests.dashboard.rooms import house, room_config, sensor_id
from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, config_for
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]
ROOMS, EACH = 2, 25  # fifty sensors

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt install chromium)", allow_module_level=True
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def status_json(tmp_path: Path, port: int) -> dict[str, object]:
    cfg = room_config(tmp_path / "cli.toml", port=port, room="cli", sensors=0, state_dir=tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "postured", "-c", str(cfg), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode in (0, 3), out.stderr
    snap: dict[str, object] = json.loads(out.stdout)
    return snap


def test_fifty_sensors_of_two_daemons_grouped_and_one_killed(
    tmp_path: Path, mosquitto: Mosquitto, browser: Browser
) -> None:
    dash = dataclasses.replace(config_for(mosquitto), sensors=())
    with house(tmp_path, mosquitto, ROOMS, EACH) as procs, threaded(dash) as url:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        problems: list[str] = []

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                problems.append(msg.text)

        page.on("console", on_console)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url)
        groups = page.locator("section.daemon:not([hidden])")
        expect(groups).to_have_count(ROOMS, timeout=60_000)
        for room in procs:
            group = page.locator(f'section.daemon[data-daemon="{room}"]')
            expect(group.locator("section.sensor")).to_have_count(EACH, timeout=60_000)
            expect(group.locator('[data-f="state"]')).to_have_text("Online")
            expect(group.locator('[data-f="count"]')).to_have_text(f"{EACH} sensors")
            ids = group.locator("section.sensor").evaluate_all(
                "els => els.map(e => e.dataset.sensor)"
            )
            assert ids == [sensor_id(room, i) for i in range(EACH)]  # in id order
        # Fifty: every card folded to its header and one summary line.
        assert page.locator("section.sensor.compact").count() == ROOMS * EACH
        expect(page.locator("#summary")).to_contain_text(f"{ROOMS * EACH} sensors on 2 daemons")
        first = page.locator(f'section.sensor[data-sensor="{sensor_id("kitchen", 0)}"]')
        expect(first.locator('[data-f="summary"]')).not_to_have_text("", timeout=30_000)
        expect(first.locator(".grid")).to_be_hidden()
        first.locator('[data-f="toggle"]').click()
        expect(first.locator(".grid")).to_be_visible()
        expect(first.locator('[data-f="posture"]')).not_to_have_text("Waiting for data")
        expect(first.locator('[data-f="toggle"]')).to_have_attribute("aria-expanded", "true")
        page.screenshot(path=str(tmp_path / "house.png"), full_page=True)

        snap = status_json(tmp_path, mosquitto.port)
        daemons = {d["id"]: (d["online"], len(d["sensors"])) for d in snap["daemons"]}  # type: ignore[attr-defined]
        assert daemons == {"kitchen": (True, EACH), "office": (True, EACH)}

        procs["office"].signal(signal.SIGKILL)  # no goodbye: the broker sends its last will
        office = page.locator('section.daemon[data-daemon="office"]')
        expect(office.locator('[data-f="state"]')).to_have_text("Offline", timeout=60_000)
        expect(office.locator("section.sensor.unavailable")).to_have_count(EACH)
        expect(office.locator('[data-f="summary"]').first).to_have_text("Daemon offline")
        kitchen = page.locator('section.daemon[data-daemon="kitchen"]')
        expect(kitchen.locator('[data-f="state"]')).to_have_text("Online")
        assert kitchen.locator("section.sensor.unavailable").count() == 0
        expect(page.locator("#daemon-offline")).to_be_hidden()  # one room is still live
        snap = status_json(tmp_path, mosquitto.port)
        daemons = {d["id"]: d["online"] for d in snap["daemons"]}  # type: ignore[attr-defined]
        assert daemons == {"kitchen": True, "office": False}
        ctx.close()
    assert problems == []
