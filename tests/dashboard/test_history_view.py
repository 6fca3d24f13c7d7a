"""The History view's endpoint and its week-over-week words (pure), on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from postured.adapters.history import SqliteHistory
from postured.core.events import DailyStats
from postured.core.history import DayRow
from postured.dashboard.bus import MemoryBus
from postured.dashboard.history import DayPoint, week_over_week
from postured.dashboard.server import Dashboard
from tests.dashboard.conftest import make_config, serving


def _day(day: str, slouched: float, breaks: int, sitting: float = 100.0) -> DayPoint:
    return {
        "day": day,
        "complete": True,
        "sitting_min": sitting,
        "longest_bout_min": 40.0,
        "slouched_min": slouched,
        "breaks": breaks,
        "alerts": 4,
        "alerts_done": 0,
    }


def test_week_over_week_in_words() -> None:
    last = [_day(f"2026-01-0{i}", 25.0, 2) for i in range(1, 8)]  # 175 min, 14 breaks
    this = [_day(f"2026-01-{i:02d}", 23.0, 3) for i in range(8, 15)]  # 161 min, 21 breaks
    words = week_over_week([*last, *this], "2026-01-14")
    assert words == [
        "8 % less time slouched than last week",
        "about as much time sitting as last week",
        "50 % more breaks than last week",
    ]
    # A day older than the week before is not counted; one week alone is said so.
    assert week_over_week(this, "2026-01-14") == ["no days of the week before to compare with yet"]
    fewer = [_day(f"2026-01-{i:02d}", 25.0, 1) for i in range(8, 15)]
    assert "50 % fewer breaks than last week" in week_over_week([*last, *fewer], "2026-01-14")


@pytest.mark.asyncio
async def test_history_endpoint_reads_the_database(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    history = SqliteHistory(db).open()
    history.write(
        [
            DayRow("desk", DailyStats(day=f"2026-01-{i:02d}", sitting_minutes=10.0 * i), True)
            for i in range(1, 11)
        ]
    )
    history.close()
    bus = MemoryBus()
    async with serving(Dashboard(make_config(), bus, history_db=db), bus) as s:
        resp = await s.client.get("/api/history?days=7")
        assert resp.status == 200
        data = await resp.json()
        (sensor,) = data["sensors"]
        assert sensor["sensor"] == "desk"
        assert [d["day"] for d in sensor["days"]] == [f"2026-01-{i:02d}" for i in range(4, 11)]
        assert [d["sitting_min"] for d in sensor["days"]] == [10.0 * i for i in range(4, 11)]
        # Three days of the week before (the 1st to the 3rd): sitting time compared.
        assert sensor["week"][0].endswith("time sitting than last week")
        bad = await s.client.get("/api/history?days=12")
        assert bad.status == 400
        assert "7, 30, 90" in (await bad.json())["error"]
    missing = Dashboard(make_config(), bus, history_db=tmp_path / "none.sqlite3")
    async with serving(missing, bus) as s:
        resp = await s.client.get("/api/history")
        assert resp.status == 404
        assert "no history at" in (await resp.json())["error"]
