"""The dashboard's History view: days from the history database, and how this week compares.

:func:`history_payload` is pure (days in, the JSON the page draws out); :func:`load` reads
the database and is called off the event loop (``asyncio.to_thread``) by the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from postured.adapters.history import DB_NAME, HistoryDay, read_days
from postured.adapters.state import resolve_state_dir
from postured.config.loader import Config

#: The ranges the page offers, in days.
RANGES = (7, 30, 90)
#: A change smaller than this (percent) reads as "about the same": day-to-day noise.
SAME_PCT = 2.0


class DayPoint(TypedDict):
    day: str
    complete: bool
    sitting_min: float
    longest_bout_min: float
    slouched_min: float
    breaks: int
    alerts: int
    alerts_done: int  # alerts followed by their stretch


class SensorHistory(TypedDict):
    sensor: str
    days: list[DayPoint]
    week: list[str]  # week over week, in words


def history_path(config: Config) -> Path:
    """The database the daemon writes (the same rule as the daemon's)."""
    if config.history.db_file:
        return Path(config.history.db_file)
    return resolve_state_dir(config.service.state_dir) / DB_NAME


def point(d: HistoryDay) -> DayPoint:
    s = d.stats
    return {
        "day": s.day,
        "complete": d.complete,
        "sitting_min": round(s.sitting_minutes, 1),
        "longest_bout_min": round(s.longest_bout_minutes, 1),
        "slouched_min": round(d.slouched_minutes, 1),
        "breaks": s.breaks,
        "alerts": s.alerts,
        "alerts_done": len(d.stretches_done),
    }


def _change(now: float, before: float, what: str) -> str | None:
    """``"8 % less time slouched than last week"``; None when neither week had any."""
    if before <= 0:
        if now <= 0:
            return None
        amount = (
            f"{now:.0f} min {what.removeprefix('time ')}"
            if what.startswith("time")
            else (f"{now:.0f} {what}")
        )
        return f"{amount} this week, none the week before"
    pct = (now - before) / before * 100.0
    if abs(pct) < SAME_PCT:
        return f"about as much {what} as last week"
    # Time is an amount ("less"); breaks and stretches are counted ("fewer").
    word = "more" if pct > 0 else "less" if what.startswith("time") else "fewer"
    return f"{abs(pct):.0f} % {word} {what} than last week"


#: What the comparison speaks of, and how to read it off a day.
_COMPARED: tuple[tuple[str, Callable[[DayPoint], float]], ...] = (
    ("time slouched", lambda d: d["slouched_min"]),
    ("time sitting", lambda d: d["sitting_min"]),
    ("breaks", lambda d: d["breaks"]),
    ("stretches done", lambda d: d["alerts_done"]),
)


def week_over_week(days: Sequence[DayPoint], newest: str) -> list[str]:
    """This week (the 7 days ending ``newest``) against the 7 before, in words."""
    end = dt.date.fromisoformat(newest)
    this_start = (end - dt.timedelta(days=6)).isoformat()
    last_start = (end - dt.timedelta(days=13)).isoformat()
    this = [d for d in days if this_start <= d["day"] <= newest]
    last = [d for d in days if last_start <= d["day"] < this_start]
    if not last:
        return ["no days of the week before to compare with yet"]
    out = []
    for what, value in _COMPARED:
        words = _change(sum(map(value, this)), sum(map(value, last)), what)
        if words is not None:
            out.append(words)
    return out


def history_payload(days: Sequence[HistoryDay], n_days: int) -> dict[str, Any]:
    """What ``/api/history?days=N`` answers: per sensor, the last ``n_days`` days as points
    (oldest first) and the week-over-week sentences."""
    by_sensor: dict[str, list[DayPoint]] = {}
    for d in days:
        by_sensor.setdefault(d.sensor, []).append(point(d))
    sensors: list[SensorHistory] = []
    for sensor, points in sorted(by_sensor.items()):
        points.sort(key=lambda p: p["day"])
        newest = points[-1]["day"]
        first = (dt.date.fromisoformat(newest) - dt.timedelta(days=n_days - 1)).isoformat()
        sensors.append(
            {
                "sensor": sensor,
                "days": [p for p in points if p["day"] >= first],
                "week": week_over_week(points, newest),
            }
        )
    return {"days": n_days, "sensors": sensors}


def load(path: Path, n_days: int) -> dict[str, Any]:
    """Read the database (blocking: call it from a thread). HistoryError when it cannot."""
    # Two weeks at least, so the comparison has last week even on the 7-day view.
    days = read_days(path, days=max(n_days, 14))
    return history_payload(days, n_days)
