"""Local-time questions the core asks: quiet hours and midnight, for a given time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo


def local_day(t: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(t, tz).date().isoformat()


def next_midnight(t: float, tz: tzinfo) -> float:
    day = datetime.fromtimestamp(t, tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


class QuietHours:
    """A daily local time range such as ``22:00-07:00`` (it may wrap past midnight)."""

    def __init__(self, spec: str, tz: tzinfo) -> None:
        self.tz = tz
        self.range: tuple[int, int] | None = None
        if spec:
            a, b = spec.split("-")
            self.range = (_minutes(a), _minutes(b))

    def end_if_quiet(self, t: float) -> float | None:
        """When the quiet spell holding ``t`` ends, or None if ``t`` is not quiet."""
        if self.range is None or self.range[0] == self.range[1]:
            return None
        start, end = self.range
        now = datetime.fromtimestamp(t, self.tz)
        m = now.hour * 60 + now.minute + now.second / 60
        quiet = start <= m < end if start < end else (m >= start or m < end)
        if not quiet:
            return None
        day = now.date() if m < end else now.date() + timedelta(days=1)
        stop = datetime.combine(day, time(end // 60, end % 60), tzinfo=self.tz)
        return stop.timestamp()


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)
