"""Quiet hours and midnight in a real time zone, daylight saving included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from postured.core.clock import QuietHours, local_day, next_midnight

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_quiet_hours_wrapping_midnight_end_the_next_morning() -> None:
    quiet = QuietHours("22:00-07:00", BERLIN)
    assert quiet.end_if_quiet(at("2026-03-10T23:30")) == at("2026-03-11T07:00")
    assert quiet.end_if_quiet(at("2026-03-11T06:59")) == at("2026-03-11T07:00")
    assert quiet.end_if_quiet(at("2026-03-11T07:00")) is None
    assert quiet.end_if_quiet(at("2026-03-11T12:00")) is None


def test_quiet_hours_within_a_day_and_empty_ones() -> None:
    lunch = QuietHours("12:00-13:30", BERLIN)
    assert lunch.end_if_quiet(at("2026-03-10T12:45")) == at("2026-03-10T13:30")
    assert lunch.end_if_quiet(at("2026-03-10T11:59")) is None
    assert QuietHours("", BERLIN).end_if_quiet(at("2026-03-10T12:45")) is None
    assert QuietHours("08:00-08:00", BERLIN).end_if_quiet(at("2026-03-10T08:00")) is None


def test_midnight_on_the_day_clocks_go_forward_is_23_hours_on() -> None:
    # 2026-03-29: Berlin skips 02:00-03:00, so that day is 23 hours long.
    start = at("2026-03-29T00:00")
    assert next_midnight(start, BERLIN) - start == 23 * 3600
    assert local_day(start, BERLIN) == "2026-03-29"
    assert local_day(next_midnight(start, BERLIN), BERLIN) == "2026-03-30"
