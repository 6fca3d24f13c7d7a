"""The alert policy: when a long sitting or a slouch is alerted, and how loudly.

:class:`AlertPolicy` keeps what the policy depends on (pause, snooze, holds, the current
slouch and the alerts already sent) and answers three questions for the state machine:
when is the next alert due, may it go out now (or when may it), and what does it say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from postured.core.clock import QuietHours
from postured.core.config import AlertConfig
from postured.core.events import Alert, AlertKind
from postured.core.messages import alert_message
from postured.core.plan import StretchPlanner
from postured.core.stats import StatsAccumulator
from postured.core.timers import Due, Timer

INF = math.inf
ESCALATION_STEPS = 2  # ignored alerts raise the level from 1 at most twice, to 3


@dataclass(slots=True)
class Slouch:
    """The current forward-head episode and what was alerted about slouching."""

    since: float | None = None  # the episode began; None when not slouching
    episode_alert: float | None = None  # the last alert of this episode
    last_alert: float = -INF  # the last forward alert of any episode (the cooldown)
    ignored: int = 0  # alerts in a row whose episode did not end before the next
    onset: float | None = None  # a lean found as the axis is learnt began here

    def begin(self, t: float, hold_s: float) -> None:
        if self.since is None:
            self.since = t - hold_s if self.onset is None else self.onset
            self.episode_alert = None

    def end(self) -> None:
        if self.since is not None and self.episode_alert is not None:
            self.ignored = 0  # the slouch ended after its alert: it was heeded
        self.lost()

    def lost(self) -> None:
        """No evidence (a hole, or not slouching): the episode is over."""
        self.since = None
        self.episode_alert = None


class AlertPolicy:
    """When alerts are due and whether they may go out; builds them."""

    def __init__(self, cfg: AlertConfig, tz: tzinfo, new_id: Callable[[], str]) -> None:
        self.cfg = cfg
        self._quiet = QuietHours(cfg.quiet_hours, tz)
        self._planner = StretchPlanner(cfg.equipment, cfg.end_of_day, tz)
        self._new_id = new_id
        self.paused = False
        self.snoozed_until = -INF
        self.slouch = Slouch()
        self._holds = {Timer.SIT_ALERT: -INF, Timer.FWD_ALERT: -INF}  # suppressed until
        self._bout_alerts = 0
        self._last_sit_alert = -INF

    # --- commands

    def snooze(self, t: float, minutes: float) -> None:
        self.snoozed_until = t + minutes * 60.0

    def resume(self) -> None:
        self.paused = False
        self.snoozed_until = -INF
        self.release()

    def release(self) -> None:
        """Something changed: a suppressed alert is looked at again."""
        self._holds[Timer.SIT_ALERT] = self._holds[Timer.FWD_ALERT] = -INF

    def hold(self, timer: Timer, until: float) -> None:
        self._holds[timer] = until

    # --- when

    def new_bout(self) -> None:
        self._bout_alerts = 0
        self._last_sit_alert = -INF

    def sit_due(self, bout_start: float, excluded: float) -> Due:
        a = self.cfg
        due = bout_start + excluded + a.sitting_limit_min * 60.0
        if self._bout_alerts:
            due = max(due, self._last_sit_alert + a.sitting_repeat_min * 60.0)
        return max(due, self._holds[Timer.SIT_ALERT]), Timer.SIT_ALERT

    def fwd_due(self) -> Due | None:
        s, a = self.slouch, self.cfg
        if s.since is None:
            return None
        base = s.episode_alert if s.episode_alert is not None else s.since
        due = max(base + a.forward_hold_s, s.last_alert + a.forward_cooldown_min * 60.0)
        if s.episode_alert is not None:
            due = max(due, s.episode_alert + a.forward_hold_s)
        return max(due, self._holds[Timer.FWD_ALERT]), Timer.FWD_ALERT

    def suppressed(self, t: float, *, worn: bool, lying: bool, in_gap: bool) -> float | None:
        """None if an alert may go out at ``t``; else the earliest time it may."""
        if self.paused or not worn or lying or in_gap:
            return INF
        if t < self.snoozed_until:
            return self.snoozed_until
        return self._quiet.end_if_quiet(t)

    # --- what

    def sit_alert(self, t: float, seated_s: float, stats: StatsAccumulator) -> Alert:
        n = self._bout_alerts
        alert = self._alert(
            AlertKind.LONG_SITTING, t, seated_s, None, repeat=n > 0, ignored=n, stats=stats
        )
        self._bout_alerts += 1
        self._last_sit_alert = t
        return alert

    def fwd_alert(self, t: float, angle: float | None, stats: StatsAccumulator) -> Alert:
        s = self.slouch
        assert s.since is not None
        repeat = s.episode_alert is not None
        alert = self._alert(
            AlertKind.FORWARD_HEAD,
            t,
            t - s.since,
            angle,
            repeat=repeat,
            ignored=s.ignored,
            stats=stats,
        )
        s.episode_alert = t
        s.last_alert = t
        s.ignored += 1
        return alert

    def _alert(
        self,
        kind: AlertKind,
        t: float,
        duration: float,
        angle: float | None,
        *,
        repeat: bool,
        ignored: int,
        stats: StatsAccumulator,
    ) -> Alert:
        """One alert with the day plan's stretch and its message, counted in today's stats."""
        stretch = self._planner.choose(kind, repeat=repeat, t=t, plan=stats.plan)
        alert_id = self._new_id()
        stats.add_alert(kind.value)
        stats.plan.offer(alert_id, stretch.id)
        return Alert(
            t=t,
            id=alert_id,
            kind=kind,
            message=alert_message(kind, stretch, duration, angle),
            stretch=stretch,
            duration_s=round(duration, 1),
            angle_deg=angle,
            level=1 + min(ignored, ESCALATION_STEPS) if self.cfg.escalate else 1,
        )
