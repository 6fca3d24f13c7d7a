"""What the history database keeps, mapped from the core's events (sans I/O).

:class:`HistoryMapper` turns one sensor's event stream into rows: each day's statistics,
sitting bouts, posture spans, breaks, alerts (with the stretch offered and later whether
it was snoozed or done), calibrations and remounts. It holds only what the mapping needs
(the open posture span and the newest alert); the writer in
:mod:`postured.adapters.history` stores the rows. docs/history.md describes the tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Literal

from postured.core.clock import local_day
from postured.core.events import (
    Alert,
    BreakTaken,
    Calibrated,
    DailyStats,
    DayRolledOver,
    Event,
    Posture,
    PostureChanged,
    RemountSuspected,
    SittingEnded,
    Snoozed,
    StretchDone,
)

Outcome = Literal["snoozed", "done"]


@dataclass(frozen=True, slots=True)
class DayRow:
    """One day's statistics; ``complete`` once the day has rolled over."""

    sensor: str
    stats: DailyStats
    complete: bool


@dataclass(frozen=True, slots=True)
class BoutRow:
    sensor: str
    day: str  # the day the bout began
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class PostureSpanRow:
    sensor: str
    day: str
    start: float
    end: float
    posture: str


@dataclass(frozen=True, slots=True)
class BreakRow:
    sensor: str
    day: str
    t: float  # when the break was confirmed
    duration_s: float


@dataclass(frozen=True, slots=True)
class AlertRow:
    sensor: str
    day: str
    id: str
    t: float
    kind: str
    stretch: str  # the stretch offered
    level: int
    duration_s: float
    angle_deg: float | None


@dataclass(frozen=True, slots=True)
class AlertOutcomeRow:
    """An alert was snoozed or its stretch done (a later outcome replaces an earlier one,
    except that ``done`` is never replaced by ``snoozed``)."""

    sensor: str
    alert_id: str
    t: float
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    sensor: str
    day: str
    t: float
    source: str
    forward_source: str


@dataclass(frozen=True, slots=True)
class RemountRow:
    sensor: str
    day: str
    t: float
    angle_deg: float


Row = (
    DayRow
    | BoutRow
    | PostureSpanRow
    | BreakRow
    | AlertRow
    | AlertOutcomeRow
    | CalibrationRow
    | RemountRow
)


class HistoryMapper:
    """Rows for one sensor's events, in the order the events came.

    ``tz`` must be the detector's. Each row goes to the day whose statistics count it:
    the local day of the first event, then the day after each ``DayRolledOver``. (An
    alert or break that came due before midnight but fired with the first samples after
    it is counted, and so kept, in the day that was still open.)
    """

    def __init__(self, sensor_id: str, tz: tzinfo = UTC) -> None:
        self.sensor = sensor_id
        self.tz = tz
        self._span: tuple[float, Posture] | None = None  # the open posture span
        self._last_alert: str | None = None
        self._open_day: str | None = None  # the day the detector's statistics are on

    def day(self, t: float) -> str:
        return self._open_day if self._open_day is not None else local_day(t, self.tz)

    def rows(self, events: Iterable[Event]) -> list[Row]:
        out: list[Row] = []
        for ev in events:
            self._one(ev, out)
        return out

    def _one(self, ev: Event, out: list[Row]) -> None:
        sid = self.sensor
        if self._open_day is None and not isinstance(ev, DayRolledOver):
            self._open_day = local_day(ev.t, self.tz)
        match ev:
            case PostureChanged():
                self._close_span(ev.t, out)
                self._span = (ev.t, ev.posture)
            case DayRolledOver():
                # Spans are cut at midnight so each one belongs to one day.
                if self._span is not None:
                    posture = self._span[1]
                    self._close_span(ev.t, out)
                    self._span = (ev.t, posture)
                out.append(DayRow(sid, ev.stats, complete=True))
                # The detector opens the next day from just after the midnight.
                self._open_day = local_day(ev.t + 1.0, self.tz)
            case SittingEnded():
                out.append(BoutRow(sid, self.day(ev.start), ev.start, ev.start + ev.duration_s))
            case BreakTaken():
                out.append(BreakRow(sid, self.day(ev.t), ev.t, ev.duration_s))
            case Alert():
                self._last_alert = ev.id
                out.append(
                    AlertRow(
                        sid,
                        self.day(ev.t),
                        ev.id,
                        ev.t,
                        ev.kind.value,
                        ev.stretch.id,
                        ev.level,
                        ev.duration_s,
                        ev.angle_deg,
                    )
                )
            case Snoozed() | StretchDone():
                self._outcome(ev, out)
            case Calibrated():
                out.append(CalibrationRow(sid, self.day(ev.t), ev.t, ev.source, ev.forward_source))
            case RemountSuspected():
                out.append(RemountRow(sid, self.day(ev.t), ev.t, ev.angle_deg))
            case _:
                pass

    def _outcome(self, ev: Snoozed | StretchDone, out: list[Row]) -> None:
        if isinstance(ev, StretchDone):
            # The core says which alert a done answered (none: a stretch done on its own).
            if ev.alert_id is not None:
                out.append(AlertOutcomeRow(self.sensor, ev.alert_id, ev.t, "done"))
        elif self._last_alert is not None:
            # A snooze answers the alert on screen: the newest one.
            out.append(AlertOutcomeRow(self.sensor, self._last_alert, ev.t, "snoozed"))

    def done(self, alert_id: str, t: float) -> list[Row]:
        """The person did the stretch of ``alert_id`` (dashboard, MQTT ``cmd/done``)."""
        return [AlertOutcomeRow(self.sensor, alert_id, t, "done")]

    def today(self, stats: DailyStats) -> list[Row]:
        """The running day's statistics so far (written again as the day goes on)."""
        return [DayRow(self.sensor, stats, complete=False)]

    def finish(self, t: float) -> list[Row]:
        """Close the open posture span at ``t`` (the end of a replay, a clean stop)."""
        out: list[Row] = []
        self._close_span(t, out)
        self._span = None
        return out

    def _close_span(self, t: float, out: list[Row]) -> None:
        if self._span is None:
            return
        start, posture = self._span
        if math.isfinite(t) and t > start:
            out.append(PostureSpanRow(self.sensor, self.day(start), start, t, posture.value))
