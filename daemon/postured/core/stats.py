"""Daily statistics, accumulated as time passes and rolled over at local midnight."""

from __future__ import annotations

from dataclasses import dataclass, field

from postured.core.events import DailyStats
from postured.core.plan import DayPlan


@dataclass(slots=True)
class StatsAccumulator:
    day: str
    minutes_by_posture: dict[str, float] = field(default_factory=dict)
    sitting_minutes: float = 0.0
    longest_bout_minutes: float = 0.0
    breaks: int = 0
    alerts: int = 0
    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    snoozes: int = 0
    plan: DayPlan = field(default_factory=DayPlan)

    @staticmethod
    def restore(stats: DailyStats) -> StatsAccumulator:
        return StatsAccumulator(
            day=stats.day,
            minutes_by_posture=dict(stats.minutes_by_posture),
            sitting_minutes=stats.sitting_minutes,
            longest_bout_minutes=stats.longest_bout_minutes,
            breaks=stats.breaks,
            alerts=stats.alerts,
            alerts_by_kind=dict(stats.alerts_by_kind),
            snoozes=stats.snoozes,
            plan=DayPlan(
                dict(stats.offered_by_stretch),
                dict(stats.done_by_stretch),
                dict(stats.alert_stretches),
                dict(stats.alerts_done),
            ),
        )

    def add_posture(self, posture: str, seconds: float) -> None:
        self.minutes_by_posture[posture] = self.minutes_by_posture.get(posture, 0.0) + seconds / 60

    def add_alert(self, kind: str) -> None:
        self.alerts += 1
        self.alerts_by_kind[kind] = self.alerts_by_kind.get(kind, 0) + 1

    def bout(self, minutes: float) -> None:
        self.longest_bout_minutes = max(self.longest_bout_minutes, minutes)

    def snapshot(self) -> DailyStats:
        return DailyStats(
            day=self.day,
            minutes_by_posture={k: round(v, 3) for k, v in self.minutes_by_posture.items()},
            sitting_minutes=round(self.sitting_minutes, 3),
            longest_bout_minutes=round(self.longest_bout_minutes, 3),
            breaks=self.breaks,
            alerts=self.alerts,
            alerts_by_kind=dict(self.alerts_by_kind),
            snoozes=self.snoozes,
            offered_by_stretch=dict(self.plan.offered),
            done_by_stretch=dict(self.plan.done),
            alert_stretches=dict(self.plan.alerts),
            alerts_done=dict(self.plan.alerts_done),
        )
