"""The day's stretches and the History view in Debian's headless Chromium, on a real Mosquitto.

The History view reads a real history database: two simulated weeks replayed into it
through the detector, the pure mapping and the SQLite writer (tests/support/week.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from postured.adapters.history import SqliteHistory
from postured.app import cli
from postured.config.loader import HistoryConfig
from postured.core.events import DailyStats
from postured.core.history import AlertOutcomeRow
from tests.dashboard import samples
from tests.dashboard.live import threaded
from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, config_for
from tests.support.mosquitto import Mosquitto, Subscriber, running_broker
from tests.support.week import write_week

pytestmark = [pytest.mark.browser, pytest.mark.broker]

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with running_broker(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DailyStats], set[str]]:
    """Two weeks in a database; every other alert of the second week marked done."""
    db = tmp_path_factory.mktemp("history") / "history.sqlite3"
    daily = write_week(db, n=14)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, t, day FROM alerts WHERE day >= '1970-01-08' ORDER BY t")
    done = [(i, t, day) for k, (i, t, day) in enumerate(rows.fetchall()) if k % 2 == 0]
    conn.close()
    history = SqliteHistory(db).open()
    history.write([AlertOutcomeRow("week", i, t + 60.0, "done") for i, t, _ in done])
    history.close()
    return db, daily, {i for i, _, _ in done}


@pytest.fixture(scope="module")
def url(broker: Mosquitto, weeks: tuple[Path, list[DailyStats], set[str]]) -> Iterator[str]:
    cfg = config_for(broker)
    cfg = dataclasses.replace(cfg, history=HistoryConfig(db_file=str(weeks[0])))
    with threaded(cfg) as u:
        yield u


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser: Browser, url: str, *, scheme: str = "light", width: int = 1200) -> Page:
    ctx = browser.new_context(
        viewport={"width": width, "height": 900},
        color_scheme=scheme,  # type: ignore[arg-type]
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_the_history_view_draws_the_replayed_days(
    browser: Browser,
    url: str,
    weeks: tuple[Path, list[DailyStats], set[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, daily, done_ids = weeks
    # `postured history --days 7` shows the replay's last seven days, figure for figure.
    assert cli.main(["history", "--db", str(db), "--days", "7", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    keys = DailyStats.__dataclass_fields__.keys()
    assert [{k: d[k] for k in keys} for d in shown] == [s.to_dict() for s in daily[-7:]]
    page = _page(browser, url)
    page.goto(url)
    page.get_by_role("button", name="History").click()
    sec = page.locator('section.history-sensor[data-sensor="week"]')
    expect(sec).to_be_visible()
    bars = sec.locator(".c-sitting rect.bar")
    expect(bars).to_have_count(7)  # the last 7 days of the two weeks
    last7 = daily[-7:]
    assert bars.evaluate_all("bs => bs.map(b => b.dataset.day)") == [s.day for s in last7]
    values = bars.evaluate_all("bs => bs.map(b => Number(b.dataset.value))")
    assert values == [round(s.sitting_minutes, 1) for s in last7]
    assert values == [round(d["sitting_minutes"], 1) for d in shown]
    longest = sec.locator(".c-sitting line.marker").evaluate_all(
        "ls => ls.map(l => Number(l.dataset.value))"
    )
    assert longest == [round(s.longest_bout_minutes, 1) for s in last7]
    slouched = sec.locator(".c-slouched rect.bar").evaluate_all(
        "bs => bs.map(b => Number(b.dataset.value))"
    )
    assert slouched == [round(s.minutes_by_posture.get("forward", 0.0), 1) for s in last7]
    breaks = sec.locator(".c-breaks rect.bar").evaluate_all(
        "bs => bs.map(b => Number(b.dataset.value))"
    )
    assert breaks == [s.breaks for s in last7]
    alerts = sec.locator(".c-alerts rect.bar").evaluate_all(
        "bs => bs.map(b => Number(b.dataset.value))"
    )
    assert alerts == [s.alerts for s in last7]
    followed = sec.locator(".c-alerts rect.bar-inner").evaluate_all(
        "bs => bs.map(b => Number(b.dataset.value))"
    )
    assert sum(followed) == len(done_ids)
    assert 0 < sum(followed) < sum(alerts)
    # This week against the last, in words, with the figures of the two weeks.
    first, second = daily[:7], daily[7:]
    slouch = [sum(s.minutes_by_posture.get("forward", 0.0) for s in w) for w in (first, second)]
    pct = (slouch[1] - slouch[0]) / slouch[0] * 100
    word = "more" if pct > 0 else "less"
    expect(sec.locator(".week li").first).to_have_text(
        f"{abs(pct):.0f} % {word} time slouched than last week"
    )
    expect(sec.locator(".week")).to_contain_text("stretches done")  # none the week before
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "history.png"), full_page=True)
    page.get_by_role("button", name="30 days").click()
    expect(sec.locator(".c-sitting rect.bar")).to_have_count(14)  # all there are
    assert sec.locator(".c-sitting svg, svg.c-sitting").count() == 1
    page.get_by_role("button", name="Today").click()
    expect(page.locator("#history")).to_be_hidden()
    expect(page.locator("#sensors")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
    for scheme, width, name in (("dark", 1200, "history-dark"), ("dark", 390, "history-phone")):
        pg = _page(browser, url, scheme=scheme, width=width)
        pg.goto(url)
        pg.get_by_role("button", name="History").click()
        expect(pg.locator(".c-alerts rect.bar")).to_have_count(7)
        # Readable in the dark: the axis labels are light on the dark card.
        fill = pg.locator(".chart .axis").first.evaluate("t => getComputedStyle(t).fill")
        if scheme == "dark":
            assert fill == "rgb(174, 182, 194)"
        # On a phone the charts fit the width: no sideways scrolling.
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        assert pg.errors == []  # type: ignore[attr-defined]
        pg.context.close()


def test_the_days_stretches_tick_and_the_hold_timer_sends_done(
    browser: Browser, url: str, broker: Mosquitto
) -> None:
    page = _page(browser, url)
    page.clock.install()
    page.goto(url)
    t = time.time()
    broker.pub("posture/p1/state", samples.state(t), "-r")
    broker.pub(
        "posture/p1/stats",
        samples.stats(
            offered_by_stretch={"chest_opener": 1, "chair_stretch_90": 1},
            done_by_stretch={"chest_opener": 1},
        ),
        "-r",
    )
    c = page.locator('section.sensor[data-sensor="p1"]')
    items = c.locator(".plan-item")
    expect(items).to_have_count(5)
    chest = c.locator('.plan-item[data-stretch="chest_opener"]')
    expect(chest).to_have_attribute("data-done", "true")
    expect(chest.locator(".tick")).to_have_text("✓")
    hip = c.locator('.plan-item[data-stretch="hip_flexor"]')
    expect(hip).to_have_attribute("data-done", "false")
    expect(c.locator('.plan-item[data-stretch="lat_stretch_roller"]')).to_contain_text(
        "needs a foam roller"
    )
    sub = Subscriber.start(broker.port, "posture/p1/cmd/+")
    try:
        hip.get_by_role("button", name="Start a 30 second hold: Hip flexor stretch").click()
        page.clock.run_for(10_000)
        # The page's clock runs on by itself too: 20 s left, give or take a tick.
        expect(hip.locator("button.hold")).to_have_text(re.compile(r"^(19|20) s$"))
        assert sub.lines() == []  # nothing sent before the hold is over
        page.clock.run_for(20_000)
        ((topic, payload),) = sub.wait_for(timeout=5)
        assert topic == "posture/p1/cmd/done"
        sent = json.loads(payload)
        assert sent["stretch"] == "hip_flexor"
        reply = {"ok": True, "command": "done", "request_id": sent["request_id"]}
        broker.pub("posture/p1/cmd/done/reply", json.dumps(reply))
        expect(hip).to_have_attribute("data-done", "true")
        expect(hip.locator(".hold-status")).to_have_text("Done. Nice work.")
        # The alert card's Done sends the alert's id.
        broker.pub("posture/p1/alert", samples.alert(t, "fh-9"), "-q", "1")
        c.get_by_role("button", name="Done", exact=True).click()
        ((topic, payload),) = sub.wait_for(lambda _, p: "alert_id" in p, timeout=5)
        assert topic == "posture/p1/cmd/done"
        assert json.loads(payload)["alert_id"] == "fh-9"
    finally:
        sub.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "plan.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
