"""The day's stretch plan: which stretches were offered and done today, and the next to offer.

The source material asks for stretches spread over the day rather than done at once.
:class:`DayPlan` is one sensor's day (kept in its daily statistics, so it is saved, published
and rolled over at midnight with them); :class:`StretchPlanner` chooses the stretch for each
alert from it: not one done today, then the one offered least today, then the one that fits
the alert best, and never the one offered last when another is left.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from postured.core.events import AlertKind, Stretch
from postured.core.stretches import CatalogueEntry, catalogue, ids

#: Today's alerts a "done" may name by id, newest kept: enough for a day of alerts at the
#: shortest repeat, and the statistics payload that carries them stays a few kilobytes.
MAX_PLAN_ALERTS = 50


@dataclass(slots=True)
class Done:
    """What a "done" marked: the stretch, the alert it answered (if any), and whether it
    was new (marking one alert twice counts once)."""

    stretch: str
    alert_id: str | None
    new: bool


@dataclass(slots=True)
class DayPlan:
    """One day's stretches: offered and done counts per stretch id, and the alerts."""

    offered: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, str] = field(default_factory=dict)  # alert id -> stretch, oldest first
    alerts_done: dict[str, str] = field(default_factory=dict)  # of those, the ones done

    def offer(self, alert_id: str, stretch_id: str) -> None:
        self.offered[stretch_id] = self.offered.get(stretch_id, 0) + 1
        self.alerts[alert_id] = stretch_id
        while len(self.alerts) > MAX_PLAN_ALERTS:
            oldest = next(iter(self.alerts))
            del self.alerts[oldest]
            self.alerts_done.pop(oldest, None)

    def mark_done(self, *, alert_id: str | None = None, stretch_id: str | None = None) -> Done:
        """Mark a stretch done: the newest alert's (neither given), an alert's, or a
        stretch's (which also answers the newest open alert that offered it).

        Raises ValueError saying what is wrong.
        """
        if alert_id is not None and stretch_id is not None:
            raise ValueError("give alert_id or stretch, not both")
        if stretch_id is not None:
            if stretch_id not in ids():
                raise ValueError(f"unknown stretch {stretch_id!r}; known: {', '.join(ids())}")
            open_ = [a for a, s in self.alerts.items() if s == stretch_id]
            open_ = [a for a in open_ if a not in self.alerts_done]
            answered = open_[-1] if open_ else None
            if answered is not None:
                self.alerts_done[answered] = stretch_id
            self.done[stretch_id] = self.done.get(stretch_id, 0) + 1
            return Done(stretch_id, answered, new=True)
        if alert_id is None:
            if not self.alerts:
                raise ValueError("no alert today yet; name the stretch instead")
            alert_id = next(reversed(self.alerts))
        stretch = self.alerts.get(alert_id)
        if stretch is None:
            raise ValueError(
                f"no alert {alert_id!r} today; a done names one of today's alerts "
                "(or the stretch itself)"
            )
        if alert_id in self.alerts_done:
            return Done(stretch, alert_id, new=False)
        self.alerts_done[alert_id] = stretch
        self.done[stretch] = self.done.get(stretch, 0) + 1
        return Done(stretch, alert_id, new=True)

    def copy(self) -> DayPlan:
        return DayPlan(
            dict(self.offered), dict(self.done), dict(self.alerts), dict(self.alerts_done)
        )


class StretchPlanner:
    """Chooses the stretch for each alert from the day's plan.

    ``equipment``: what is at hand (``[alerts] equipment``); a stretch that needs anything
    else is never offered. ``end_of_day``: ``"HH:MM"`` local time from which the stretches
    kept for the end of the day may be offered (empty: at any time).
    """

    def __init__(
        self, equipment: Collection[str] = (), end_of_day: str = "", tz: tzinfo = UTC
    ) -> None:
        self.equipment = frozenset(equipment)
        self.tz = tz
        self.end_of_day: int | None = None
        if end_of_day:
            h, m = end_of_day.split(":")
            self.end_of_day = int(h) * 60 + int(m)
        self.last: str | None = None  # the stretch offered last, on any day

    def available(self, t: float) -> list[CatalogueEntry]:
        """The stretches that may be offered at ``t``: equipment at hand, time of day."""
        late = True
        if self.end_of_day is not None:
            now = datetime.fromtimestamp(t, self.tz)
            late = now.hour * 60 + now.minute >= self.end_of_day
        return [
            e
            for e in catalogue()
            if (not e.equipment or e.equipment in self.equipment) and (late or not e.end_of_day)
        ]

    def choose(self, kind: AlertKind, *, repeat: bool, t: float, plan: DayPlan) -> Stretch:
        """The stretch for an alert of ``kind`` at ``t``. ``repeat``: the condition was
        alerted already in this bout or episode (an alternate, a longer stretch, fits better).
        """
        avail = self.available(t)
        # A stretch done today is left out for the rest of the day, unless all were done.
        pool = [e for e in avail if not plan.done.get(e.stretch.id)] or avail
        if len(pool) > 1:
            pool = [e for e in pool if e.stretch.id != self.last]

        # A stretch kept for the end of the day joins the rotation level with the others,
        # rather than catching up on the offers it could not have had before.
        floor = min((plan.offered.get(e.stretch.id, 0) for e in avail if not e.end_of_day),
                    default=0)  # fmt: skip

        def rank(e: CatalogueEntry) -> tuple[int, int]:
            # The kind's own first (an alternate first on a repeat); then, as everything is
            # connected, any stretch rather than a repeat.
            own = 0 if (e.suggest == "alternate") == repeat else 1
            fit = own if e.kind is kind else 2
            offered = plan.offered.get(e.stretch.id, 0)
            return (max(offered, floor) if e.end_of_day else offered, fit)

        choice = min(pool, key=rank).stretch  # ties: catalogue order
        self.last = choice.id
        return choice
