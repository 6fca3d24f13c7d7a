"""The pure mapping from the core's events to history rows."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from postured.core.events import (
    Alert,
    AlertKind,
    BreakTaken,
    Calibrated,
    DailyStats,
    DayRolledOver,
    Posture,
    PostureChanged,
    RemountSuspected,
    SittingEnded,
    SittingStarted,
    Snoozed,
)
from postured.core.history import (
    AlertOutcomeRow,
    AlertRow,
    BoutRow,
    BreakRow,
    CalibrationRow,
    DayRow,
    HistoryMapper,
    PostureSpanRow,
    RemountRow,
)
from postured.core.stretches import stretch

DAY = 86400.0


def _posture(t: float, p: Posture, prev: Posture) -> PostureChanged:
    return PostureChanged(t=t, posture=p, previous=prev, angle_deg=0.0)


def _alert(t: float, i: str) -> Alert:
    return Alert(
        t=t,
        id=i,
        kind=AlertKind.FORWARD_HEAD,
        message="m",
        stretch=stretch("chest_opener"),
        duration_s=60.0,
        angle_deg=24.5,
    )


def test_each_event_kind_becomes_its_row() -> None:
    m = HistoryMapper("desk")
    stats = DailyStats(day="1970-01-01", sitting_minutes=5.0)
    rows = m.rows(
        [
            Calibrated(t=10.0, source="auto", gravity=(1.0, 0.0, 0.0), forward_source="held"),
            SittingStarted(t=20.0, start=12.0),
            _alert(100.0, "a1"),
            Snoozed(t=110.0, until=1000.0),
            SittingEnded(t=3000.0, duration_s=2900.0, start=12.0),
            BreakTaken(t=3300.0, duration_s=300.0),
            RemountSuspected(t=4000.0, angle_deg=40.0),
            DayRolledOver(t=DAY, stats=stats),
        ]
    )
    assert rows == [
        CalibrationRow("desk", "1970-01-01", 10.0, "auto", "held"),
        AlertRow("desk", "1970-01-01", "a1", 100.0, "forward_head", "chest_opener", 1, 60.0, 24.5),
        AlertOutcomeRow("desk", "a1", 110.0, "snoozed"),
        BoutRow("desk", "1970-01-01", 12.0, 2912.0),
        BreakRow("desk", "1970-01-01", 3300.0, 300.0),
        RemountRow("desk", "1970-01-01", 4000.0, 40.0),
        DayRow("desk", stats, complete=True),
    ]
    assert m.done("a1", 120.0) == [AlertOutcomeRow("desk", "a1", 120.0, "done")]


def test_a_snooze_before_any_alert_answers_nothing() -> None:
    assert HistoryMapper("desk").rows([Snoozed(t=5.0, until=900.0)]) == []


def test_posture_spans_join_up_and_are_cut_at_midnight() -> None:
    m = HistoryMapper("desk")
    rows = m.rows(
        [
            _posture(DAY - 600, Posture.UPRIGHT, Posture.UNKNOWN),
            _posture(DAY - 100, Posture.FORWARD, Posture.UPRIGHT),
            DayRolledOver(t=DAY, stats=DailyStats(day="1970-01-01")),
            _posture(DAY + 50, Posture.UPRIGHT, Posture.FORWARD),
        ]
    )
    spans = [r for r in rows if isinstance(r, PostureSpanRow)]
    assert spans == [
        PostureSpanRow("desk", "1970-01-01", DAY - 600, DAY - 100, "upright"),
        PostureSpanRow("desk", "1970-01-01", DAY - 100, DAY, "forward"),
        PostureSpanRow("desk", "1970-01-02", DAY, DAY + 50, "forward"),
    ]
    assert m.finish(DAY + 80) == [
        PostureSpanRow("desk", "1970-01-02", DAY + 50, DAY + 80, "upright")
    ]
    assert m.finish(DAY + 90) == []


def test_rows_fall_on_the_local_day_of_the_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    t = DAY - 1800  # 23:30 UTC is 00:30 the next day in Berlin (winter)
    assert HistoryMapper("d", UTC).rows([BreakTaken(t=t, duration_s=1.0)])[0] == BreakRow(
        "d", "1970-01-01", t, 1.0
    )
    assert HistoryMapper("d", berlin).rows([BreakTaken(t=t, duration_s=1.0)])[0] == BreakRow(
        "d", "1970-01-02", t, 1.0
    )


def test_the_running_day_is_a_partial_row() -> None:
    stats = DailyStats(day="2026-12-03", breaks=2)
    assert HistoryMapper("desk").today(stats) == [DayRow("desk", stats, complete=False)]
