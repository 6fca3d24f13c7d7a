"""The page in Debian's headless Chromium, driven by Playwright, on a real Mosquitto.

One browser and one dashboard per module (a launch costs seconds); each test uses its own
sensor id so the tests do not see each other's retained messages.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from postured.config.loader import Config
from postured.config.mqtt import MqttConfig
from postured.core.events import AlertKind, Posture
from tests.dashboard import samples
from tests.dashboard.conftest import make_config
from tests.dashboard.live import on_loopback, threaded
from tests.support.mosquitto import Mosquitto, Subscriber, free_port, running_broker

pytestmark = [pytest.mark.browser, pytest.mark.broker]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token-0123456789"  # noqa: S105 - a test value, not a secret

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt install chromium)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with running_broker(tmp_path_factory.mktemp("broker")) as b:
        yield b


def config_for(broker: Mosquitto, **dashboard: object) -> Config:
    cfg = make_config(port=free_port(), command_timeout_s=3.0, **dashboard)
    return dataclasses.replace(cfg, mqtt=MqttConfig(port=broker.port))


@pytest.fixture(scope="module")
def url(broker: Mosquitto) -> Iterator[str]:
    with threaded(config_for(broker)) as u:
        yield u


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    """A fresh page on the dashboard; fails the test on any console error."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            problems.append(msg.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.goto(url)
    expect(pg.locator("#conn")).to_have_text("Live")
    yield pg
    ctx.close()
    assert problems == []


def card(page: Page, sensor: str) -> Locator:
    return page.locator(f'section.sensor[data-sensor="{sensor}"]')


def test_live_posture_and_sitting_timer_follow_the_state(page: Page, broker: Mosquitto) -> None:
    t = time.time()
    broker.pub(
        "posture/s1/state",
        samples.state(
            t, forward_deg=27.0, slouching=True, posture=Posture.FORWARD, sitting_minutes=12.0
        ),
        "-r",  # retained: the dashboard may still be subscribing when this is sent
    )
    c = card(page, "s1")
    expect(c.locator('[data-f="posture"]')).to_have_text("Forward head")
    expect(c.locator('[data-f="trunk"]')).to_have_attribute("data-angle", "27")
    expect(c.locator('[data-f="posture-panel"]')).to_have_class("panel posture over")
    expect(c.locator('[data-f="sitting"]')).to_have_text("12 min")
    assert c.locator('[data-f="sit-progress"]').evaluate("p => [Math.round(p.value), p.max]") == [
        12,
        45,
    ]
    expect(c.get_by_role("progressbar", name="Sitting progress: 12 min of 45 min")).to_be_visible()
    expect(c.locator('[data-f="battery"]')).to_have_text("Battery 87%")

    broker.pub("posture/s1/state", samples.state(t + 1, forward_deg=3.5, sitting_minutes=46.0))
    expect(c.locator('[data-f="posture"]')).to_have_text("Upright")
    expect(c.locator('[data-f="trunk"]')).to_have_attribute("data-angle", "3.5")
    expect(c.locator('[data-f="posture-panel"]')).to_have_class("panel posture")
    expect(c.locator('[data-f="sitting"]')).to_have_text("46 min")
    expect(c.locator("section.sitting")).to_have_class("panel sitting over")
    # The trunk really is drawn tilted: its on-screen transform is the rotation.
    assert "matrix" in c.locator('[data-f="trunk"]').evaluate("g => getComputedStyle(g).transform")

    broker.pub("posture/s1/state", b"{this is not json")  # skipped, the page carries on
    expect(page.locator("#counters")).to_have_text("1 malformed messages skipped")
    expect(c.locator('[data-f="posture"]')).to_have_text("Upright")


def test_an_alert_shows_its_stretch_card(page: Page, broker: Mosquitto) -> None:
    t = time.time()
    c = card(page, "s2")
    broker.pub("posture/s2/state", samples.state(t), "-r")
    expect(c.locator('[data-f="no-alert"]')).to_be_visible()
    broker.pub("posture/s2/alert", samples.alert(t, "fh-1"), "-q", "1")
    stretch = c.locator('[data-f="stretch"]')
    expect(stretch).to_be_visible()
    expect(stretch).to_have_attribute("data-stretch", "chest_opener")
    expect(c.locator('[data-f="stretch-name"]')).to_have_text("Chest opener")
    expect(c.locator('[data-f="alert-message"]')).to_have_text(
        "Sit tall: bring your head back over your shoulders."
    )
    expect(c.locator('[data-f="stretch-steps"] li')).to_have_count(3)
    expect(c.locator('[data-f="stretch-why"]')).to_have_text(samples.CHEST_OPENER.why)
    expect(c.locator('[data-f="alert-live"]')).to_have_attribute("aria-live", "assertive")

    broker.pub(
        "posture/s2/alert",
        samples.alert(t + 60, "ls-1", AlertKind.LONG_SITTING, samples.CHAIR_90),
        "-q",
        "1",
    )
    expect(c.locator('[data-f="stretch-name"]')).to_have_text("90-degree chair stretch")
    expect(c.locator('[data-f="alert-kind"]')).to_contain_text("Long sitting")
    # Both alerts are on today's timeline and in the events list.
    expect(c.locator(".timeline rect.seg-alert")).to_have_count(2)
    c.get_by_role("button", name="Done").click()
    expect(stretch).to_be_hidden()
    expect(c.locator('[data-f="no-alert"]')).to_have_text("Stretch done. Nice work.")
    page.reload()  # done stays done, and the day's timeline comes back from the server
    expect(card(page, "s2").locator('[data-f="no-alert"]')).to_be_visible()
    expect(card(page, "s2").locator(".timeline rect.seg-alert")).to_have_count(2)


def test_snooze_publishes_the_command_and_shows_the_reply(page: Page, broker: Mosquitto) -> None:
    broker.pub("posture/s3/state", samples.state(time.time()), "-r")
    c = card(page, "s3")
    expect(c).to_be_visible()
    sub = Subscriber.start(broker.port, "posture/s3/cmd/+")
    try:
        c.get_by_role("button", name="Snooze 30").click()
        ((topic, payload),) = sub.wait_for(timeout=5)
        assert topic == "posture/s3/cmd/snooze"
        sent = json.loads(payload)
        assert sent["minutes"] == 30
        now = time.time()
        bare_state = json.loads(samples.state(now, snoozed_until=now + 1800))
        del bare_state["battery"]  # the daemon's reply carries the core's state only
        reply = {
            "ok": True,
            "command": "snooze",
            "request_id": sent["request_id"],
            "state": bare_state,
        }
        broker.pub("posture/s3/cmd/snooze/reply", json.dumps(reply))
        expect(c.locator('[data-f="reply"]')).to_have_text("Alerts snoozed for 30 min")
        expect(c.locator('[data-f="reply"]')).to_have_attribute("data-ok", "true")
        expect(c.locator('[data-f="mode"]')).to_contain_text("Snoozed until")
        expect(c.locator('[data-f="battery"]')).to_have_text("Battery 87%")

        c.get_by_role("button", name="Pause").focus()  # and by keyboard
        page.keyboard.press("Enter")
        ((_, payload),) = sub.wait_for(lambda tp, _: tp.endswith("/pause"), timeout=5)
        refusal = {
            "ok": False,
            "command": "pause",
            "request_id": json.loads(payload)["request_id"],
            "error": "already paused",
        }
        broker.pub("posture/s3/cmd/pause/reply", json.dumps(refusal))
        expect(c.locator('[data-f="reply"]')).to_have_text("pause failed: already paused")
        expect(c.locator('[data-f="reply"]')).to_have_attribute("data-ok", "false")
    finally:
        sub.close()


def test_availability_offline_greys_the_card(page: Page, broker: Mosquitto) -> None:
    t = time.time()
    broker.pub("posture/s4/availability", "online", "-r")
    broker.pub("posture/s4/state", samples.state(t, sitting_minutes=20.0), "-r")
    c = card(page, "s4")
    expect(c.locator('[data-f="sitting"]')).to_have_text("20 min")
    expect(c.locator('[data-f="link"]')).to_have_text("Connected")
    broker.pub("posture/s4/availability", "offline", "-r")
    expect(c).to_have_class("sensor unavailable")
    expect(c.locator('[data-f="unavailable"]')).to_be_visible()
    expect(c.locator('[data-f="posture"]')).to_have_text("Sensor unavailable")
    expect(c.locator('[data-f="sitting"]')).to_have_text("—")  # no stale numbers
    expect(c.locator('[data-f="link"]')).to_have_text("Sensor offline")
    broker.pub("posture/s4/availability", "online", "-r")
    expect(c).to_have_class("sensor")
    expect(c.locator('[data-f="sitting"]')).to_have_text("20 min")


def test_a_lan_dashboard_wants_its_token(
    browser: Browser, broker: Mosquitto, tmp_path: Path
) -> None:
    (tmp_path / "dashboard-token").write_text(TOKEN)
    cfg = config_for(broker, host="192.168.7.7", token_file=str(tmp_path / "dashboard-token"))
    with threaded(cfg, on_loopback) as url:
        ctx = browser.new_context()
        pg = ctx.new_page()
        resp = pg.goto(url)
        assert resp is not None
        assert resp.status == 401
        assert "access token" in pg.content()
        pg.goto(url + "?token=" + TOKEN)
        assert "token" not in pg.url  # traded for a cookie
        expect(pg.locator("#conn")).to_have_text("Live")
        broker.pub("posture/s5/state", samples.state(time.time()), "-r")
        expect(card(pg, "s5").locator('[data-f="posture"]')).to_have_text("Upright")
        ctx.close()


def test_dark_mode_and_phone_width(browser: Browser, url: str, broker: Mosquitto) -> None:
    broker.pub("posture/s6/state", samples.state(time.time()), "-r")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    pg = ctx.new_page()
    pg.goto(url)
    c = card(pg, "s6")
    expect(c.locator('[data-f="posture"]')).to_have_text("Upright")
    assert pg.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 20, 24)"
    # One column on a phone: the alert sits under the posture, not beside it.
    posture = c.locator('[data-f="posture-panel"]').bounding_box()
    alert = c.locator("section.alert-panel").bounding_box()
    assert posture is not None
    assert alert is not None
    assert alert["x"] == posture["x"]
    assert alert["y"] > posture["y"]
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out
    ctx.close()


def test_the_day_is_drawn_and_survives_a_reload(page: Page, broker: Mosquitto) -> None:
    t0 = time.time() - 3600
    broker.pub("posture/s7/state", samples.state(t0 + 3000, sitting=False), "-r")
    c = card(page, "s7")
    expect(c.locator('[data-f="posture"]')).to_have_text("Upright")
    for payload in (
        samples.sitting_start(t0),
        samples.posture(t0 + 600, Posture.FORWARD),
        samples.posture(t0 + 900, Posture.UPRIGHT, Posture.FORWARD),
        samples.sitting_end(t0 + 1800, t0),
        samples.break_taken(t0 + 1920, 120.0),
    ):
        broker.pub("posture/s7/events", payload)

    def drawn(shown: Locator) -> None:
        expect(shown.locator(".timeline rect.seg-forward")).to_have_count(1)
        expect(shown.locator(".timeline rect.seg-sitting")).to_have_count(1)
        expect(shown.locator(".timeline rect.seg-break")).to_have_count(1)
        expect(shown.locator('[data-f="events"] li')).to_have_count(6)
        expect(shown.locator('[data-f="events"]')).to_contain_text(
            "Sitting bout ended after 30 min"
        )
        expect(shown.locator('[data-f="events"]')).to_contain_text("Break of 2 min")

    drawn(c)
    page.reload()  # the server's ring buffer brings the day back
    c = card(page, "s7")
    drawn(c)
    width = c.locator(".timeline rect.seg-sitting").evaluate("r => r.width.baseVal.value")
    # Half an hour of a one-hour day is half of the 1000-unit drawing.
    assert 490 < width < 510


# The browser's Notification API, recorded; and a tab that is in the background.
FAKE_NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notes.push([title, options.body, options.tag]); }
  addEventListener() {}
};
Object.defineProperty(document, "hidden", { get: () => true });
"""


def test_a_background_tab_notifies_alerts(browser: Browser, url: str, broker: Mosquitto) -> None:
    broker.pub("posture/s8/state", samples.state(time.time()), "-r")
    ctx = browser.new_context()
    ctx.add_init_script(FAKE_NOTIFICATIONS)
    pg = ctx.new_page()
    pg.goto(url)
    expect(card(pg, "s8").locator('[data-f="posture"]')).to_have_text("Upright")
    broker.pub("posture/s8/alert", samples.alert(time.time(), "n-1"), "-q", "1")
    expect(card(pg, "s8").locator('[data-f="stretch-name"]')).to_have_text("Chest opener")
    notes = pg.evaluate("window.__notes")
    assert notes == [
        [
            "Forward head: Chest opener",
            "Sit tall: bring your head back over your shoulders.",
            "s8-n-1",
        ]
    ]
    ctx.close()
