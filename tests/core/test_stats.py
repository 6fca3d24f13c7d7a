"""The day's statistics: what is added shows in the snapshot, and a restore loses nothing."""

from __future__ import annotations

from postured.core.stats import StatsAccumulator


def test_a_snapshot_restores_to_the_same_day() -> None:
    acc = StatsAccumulator("2026-12-03")
    acc.add_posture("upright", 90.0)
    acc.add_posture("upright", 30.0)
    acc.add_posture("forward", 45.0)
    acc.add_alert("forward_head")
    acc.add_alert("forward_head")
    acc.add_alert("long_sitting")
    acc.bout(42.5)
    acc.bout(12.0)
    acc.sitting_minutes = 61.25
    acc.breaks = 3
    acc.snoozes = 1
    snap = acc.snapshot()
    assert snap.minutes_by_posture == {"upright": 2.0, "forward": 0.75}
    assert snap.alerts == 3
    assert snap.alerts_by_kind == {"forward_head": 2, "long_sitting": 1}
    assert snap.longest_bout_minutes == 42.5
    assert StatsAccumulator.restore(snap).snapshot() == snap


def test_the_snapshot_rounds_minutes_and_copies_what_it_holds() -> None:
    acc = StatsAccumulator("2026-12-03")
    acc.add_posture("upright", 1.0)  # 1/60 min
    snap = acc.snapshot()
    assert snap.minutes_by_posture == {"upright": 0.017}
    acc.add_alert("forward_head")
    assert snap.alerts_by_kind == {}
